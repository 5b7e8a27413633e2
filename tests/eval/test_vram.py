"""Quality per GB: each config's VRAM from the planner beside its accuracy, for the bundled
models' names, local or on an endpoint; a name the planner does not know gets null and a note.

The figure must be what `outweigh plan` prints for the same model and workload, so it is
checked against the real `outweigh plan --json` command, not against the planner's function.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from outweigh.eval.spec import parse_specs
from outweigh.eval.vram import per_gb
from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def _plan_gb(cli: Cli, *args: str) -> float:
    r = cli("plan", *args, "--json")
    assert r.code == 0, r.err
    return round(json.loads(r.out)["total_bytes"] / 1e9, 3)


def test_each_config_gets_the_planners_vram_and_accuracy_per_gb(cli: Cli) -> None:
    configs = [
        "smollm2-135m",
        "smollm2-135m+rag",
        "smollm2-135m+rag+lora:signoff+memory",
        "gemma3-270m",
        "smollm2-135m@http://gpu:8000/v1+rag",
        "mystery-32b@http://gpu:8000/v1",
    ]
    specs = parse_specs(configs)
    results: dict[str, dict[str, float | None]] = {c: {"accuracy": 0.5} for c in configs}
    results["gemma3-270m"]["accuracy"] = None  # a suite without facts: no quality per GB
    notes = per_gb(specs, results, k=3)
    gb = {c: results[c]["vram_gb"] for c in configs}

    assert gb["smollm2-135m"] == _plan_gb(cli, "smollm2-135m")
    assert gb["smollm2-135m+rag"] == _plan_gb(cli, "smollm2-135m", "--rag-chunks", "3")
    assert gb["smollm2-135m+rag+lora:signoff+memory"] == _plan_gb(
        cli, "smollm2-135m", "--rag-chunks", "3", "--loras", "1"
    )
    assert gb["gemma3-270m"] == _plan_gb(cli, "gemma3-270m")
    # what a config adds only ever adds VRAM; the endpoint's model is planned as the local one
    assert gb["smollm2-135m"] < gb["smollm2-135m+rag"] < gb["smollm2-135m+rag+lora:signoff+memory"]
    assert gb["smollm2-135m@http://gpu:8000/v1+rag"] == gb["smollm2-135m+rag"]
    for c in configs[:3]:
        assert results[c]["accuracy_per_gb"] == pytest.approx(0.5 / gb[c])  # type: ignore[operator]
    assert results["gemma3-270m"]["accuracy_per_gb"] is None

    unknown = "mystery-32b@http://gpu:8000/v1"
    assert gb[unknown] is None and results[unknown]["accuracy_per_gb"] is None
    assert list(notes) == [unknown] and "'mystery-32b'" in notes[unknown]
    assert "outweigh plan" in notes[unknown]
