"""Fixtures for the eval tests: suites written on the fly, and a small real one."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

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
