"""`outweigh eval --resume FILE`: a run killed with SIGKILL mid-way, run again with the same
file, writes the JSON an uninterrupted run writes, but for wall-clock fields; and the JSON
carries a 95% interval for every config's accuracy.

Real processes, the real SmolLM2 on llama.cpp, the real embedder; three questions, a bare
and a +rag config, so the kill lands between answers of a run that takes seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import CliResult

Cli = Callable[..., CliResult]

WALL_CLOCK = {"seconds", "latency_p50_s", "tokens_per_s", "peak_rss_mb", "peak_vram_mb"}
"""Fields that time or measure the machine, not the answers: they differ between any two
runs, resumed or not."""


def _without_clock(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_clock(v) for k, v in value.items() if k not in WALL_CLOCK}
    if isinstance(value, list):
        return [_without_clock(v) for v in value]
    return value


def _records(journal: Path) -> int:
    text = journal.read_text("utf-8") if journal.exists() else ""
    return sum(1 for line in text.splitlines() if line.startswith('{"record"'))


def test_a_killed_run_resumes_to_the_uninterrupted_json(
    five_suite: Path, tmp_path: Path, home: Path, cli: Cli
) -> None:
    configs = ["-c", "smollm2-135m", "-c", "smollm2-135m+rag"]
    args = ["eval", str(five_suite), *configs, "--limit", "3"]
    journal = tmp_path / "answers.jsonl"
    env = {**os.environ, "OUTWEIGH_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "outweigh", *args, "--resume", str(journal)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while _records(journal) < 2:  # two of the six answers are on disk
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no answer was journaled in 5 minutes"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = _records(journal)
    assert 2 <= kept < 6

    resumed, whole = tmp_path / "resumed.json", tmp_path / "whole.json"
    r = cli(*args, "--resume", str(journal), "--json", str(resumed))
    assert r.code == 0, r.err
    assert _records(journal) == 6  # the rest was answered, the kept ones not again
    r = cli(*args, "--json", str(whole))
    assert r.code == 0, r.err
    a, b = json.loads(resumed.read_text("utf-8")), json.loads(whole.read_text("utf-8"))
    assert _without_clock(a) == _without_clock(b)
    for config, metrics in a["results"].items():
        lo, hi = metrics["accuracy_ci95"]
        assert 0.0 <= lo <= metrics["accuracy"] <= hi <= 1.0, config
    # The killed try's private collection did not outlive the resumed run.
    from outweigh.retrieval.store import Store
    from outweigh.settings import Paths

    store = Store(Paths(home))
    try:
        assert store.collections() == []
    finally:
        store.close()
