"""Fixtures for the eval tests: suites written on the fly, a small real one, and a real
`outweigh serve` in a process of its own for `MODEL@URL` configs."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from outweigh.settings import Paths
from tests.conftest import SUITE

MakeSuite = Callable[..., Path]

FIVE = [
    # Facts the bundled models cannot know (examples/suite is an invented cooperative), chosen
    # among those SmolLM2-135M answers right when the passage is in front of it.
    "What is the maximum depth the Heron-7 submersible is rated to?",
    "What is the name of the Vellmark cooperative's otter mascot?",
    "In which town was the Vellmark Tidal Robotics Cooperative founded?",
    "Who is the director of the Vellmark Tidal Robotics Cooperative?",
    "What colour badge do visitors wear at Vellmark?",
]


def _lines(rows: list[Any]) -> str:
    return "".join(
        (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows
    )


@pytest.fixture
def make_suite(tmp_path: Path) -> MakeSuite:
    """`make_suite(questions=[...], style=[...], memory=[...], docs={name: text})` -> a folder.

    Rows are dicts (written as JSON) or raw strings (written as is, to test bad lines); a part
    left as None is not written.
    """

    def make(
        questions: list[Any] | None = None,
        style: list[Any] | None = None,
        memory: list[Any] | None = None,
        docs: dict[str, str] | None = None,
        name: str = "suite",
    ) -> Path:
        root = tmp_path / name
        root.mkdir()
        if docs is not None:
            for rel, text in docs.items():
                (root / "docs" / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / "docs" / rel).write_text(text, "utf-8")
        for file, rows in (("questions", questions), ("style", style), ("memory", memory)):
            if rows is not None:
                (root / f"{file}.jsonl").write_text(_lines(rows), "utf-8")
        return root

    return make


@pytest.fixture
def five_suite(tmp_path: Path) -> Path:
    """Five questions of the bundled suite, with its documents."""
    root = tmp_path / "five"
    shutil.copytree(SUITE / "docs", root / "docs")
    rows = [json.loads(x) for x in (SUITE / "questions.jsonl").read_text("utf-8").splitlines()]
    picked = [r for q in FIVE for r in rows if r["question"] == q]
    assert len(picked) == len(FIVE), "examples/suite/questions.jsonl lost a question"
    (root / "questions.jsonl").write_text(_lines(picked), "utf-8")
    return root


KEY = "eval-endpoint-key-1234"
"""The key the served endpoint asks for; tests hand it to `outweigh eval` through KEY_ENV."""
KEY_ENV = "OUTWEIGH_TEST_ENDPOINT_KEY"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A real `outweigh serve` in a process of its own: its OpenAI base URL and its home."""

    url: str
    home: Path
    proc: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`python -m outweigh serve` on a free loopback port, with the bundled SmolLM2 (llama.cpp,
    as for a local config), an API key, and the bundled reader registered as the adapter
    model `reader`: the endpoint a user would point `MODEL@URL` at."""
    from outweigh.adapters import AdapterRegistry
    from outweigh.adapters.bundled import READER, bundled

    home = tmp_path_factory.mktemp("served-home")
    reader = bundled(READER, "smollm2-135m")
    assert reader is not None
    registry = AdapterRegistry(Paths(home))
    try:
        registry.add(reader, READER, base="smollm2-135m")
    finally:
        registry.close()
    port = free_port()
    env = {**os.environ, "OUTWEIGH_HOME": str(home), "OUTWEIGH_API_KEY": KEY}
    log = (home / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "outweigh", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"outweigh serve exited: {(home / 'serve.log').read_text()}")
            try:
                r = httpx.get(f"{url}/models", headers={"authorization": f"Bearer {KEY}"})
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"outweigh serve did not start: {(home / 'serve.log').read_text()}")
            time.sleep(0.5)
        yield Served(url, home, proc)
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
