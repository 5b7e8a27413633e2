"""The table, the JSON, the PNG chart and the markdown report, from a hand-made result."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from outweigh.cli.eval import table
from outweigh.errors import InputError
from outweigh.eval.metrics import METRICS
from outweigh.eval.report import (
    check_output,
    fmt,
    headline,
    markdown,
    write_json,
    write_markdown,
    write_plot,
)
from outweigh.eval.results import EvalOptions, EvalResult, Record

METRICS_BY_KEY = {m.key: m for m in METRICS}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL, AUGMENTED, BIG = "smollm2-135m", "smollm2-135m+rag+lora:signoff", "gemma3-270m"


def _facts(config: str, right: list[bool]) -> list[Record]:
    return [
        Record(config=config, part="facts", line=i + 1, prompt=f"q{i}", expected=["amber"],
               answer="amber" if ok else "blue | red", correct=ok, seconds=0.5,
               completion_tokens=4, exact=ok, f1=float(ok), source="policies.md")
        for i, ok in enumerate(right)
    ]  # fmt: skip


@pytest.fixture
def result() -> EvalResult:
    records = (
        _facts(SMALL, [True, False, False, False, False])
        + _facts(AUGMENTED, [False, True, True, True, True])
        + _facts(BIG, [True, False, False, False, False])
    )
    cost = {"latency_p50_s": 0.5, "tokens_per_s": 8.0, "peak_rss_mb": 900.0, "peak_vram_mb": None}
    rag = {"citation_accuracy": 0.8, "retrieval_recall_at_k": 1.0}
    none = {"citation_accuracy": None, "retrieval_recall_at_k": None}
    base = {"style_adherence": None, "memory_recall": None, **cost}
    return EvalResult(
        suite="demo",
        configs=[SMALL, AUGMENTED, BIG],
        results={
            SMALL: {"accuracy": 0.2, "exact_match": 0.2, "f1": 0.2, **none, **base},
            AUGMENTED: {"accuracy": 0.8, "exact_match": 0.8, "f1": 0.8, **rag, **base},
            BIG: {"accuracy": 0.2, "exact_match": 0.2, "f1": 0.2, **none, **base},
        },
        records=records,
        options=EvalOptions(),
        params={SMALL: 134_515_008, AUGMENTED: 134_515_008, BIG: 268_098_176},
        seconds=12.0,
    )


def test_headline_on_a_tiny_suite_says_indistinguishable(result: EvalResult) -> None:
    """0.80 against 0.20 on 5 questions: 4 won, 1 lost is what a fair coin gives often."""
    assert headline(result) == (
        f"{AUGMENTED} (135M) and its strongest rival {BIG} (268M) are indistinguishable on "
        "5 questions: accuracy 0.80 vs 0.20 (McNemar p=0.38)"
    )
    assert result.to_dict()["comparison"]["verdict"] == "indistinguishable"


def test_headline_says_outweighs_once_the_paired_test_agrees(result: EvalResult) -> None:
    """The same pattern over 12 questions: 11 won, 1 lost is no longer chance."""
    result.records = (
        _facts(SMALL, [True] + [False] * 11)
        + _facts(AUGMENTED, [False] + [True] * 11)
        + _facts(BIG, [True] + [False] * 11)
    )
    result.results[AUGMENTED]["accuracy"] = 11 / 12
    result.results[BIG]["accuracy"] = 1 / 12
    result.intervals = {AUGMENTED: {"accuracy": (0.75, 1.0)}, BIG: {"accuracy": (0.0, 0.25)}}
    assert headline(result) == (
        f"{AUGMENTED} (135M) outweighs its strongest rival {BIG} (268M) on accuracy: "
        "0.92 [0.75, 1.00] vs 0.08 [0.00, 0.25] (McNemar p=0.0063, 12 questions)"
    )
    assert result.to_dict()["comparison"] == {
        "small": AUGMENTED,
        "rival": BIG,
        "verdict": "outweighs",
        "questions": 12,
        "only_small_right": 11,
        "only_rival_right": 1,
        "mcnemar_p": 0.0063,
        "significant": True,
    }


def test_headline_meets_the_bigger_model_with_retrieval_and_says_so(result: EvalResult) -> None:
    """The rival is the best config on a bigger model, augmented ones included; the sizes
    show the non-embedding count, where Gemma-3-270M is no bigger than SmolLM2-135M."""
    big_rag = "gemma3-270m+rag"
    result.configs.append(big_rag)
    # 12 questions: the augmented small one right on 4, the bigger one with retrieval on all.
    result.records += _facts(AUGMENTED, [False] * 12)[5:] + _facts(big_rag, [True] * 12)
    result.results[AUGMENTED]["accuracy"] = 4 / 12
    result.results[big_rag] = {**result.results[BIG], "accuracy": 1.0}
    result.results[AUGMENTED]["concise_accuracy"] = 0.4
    result.results[big_rag]["concise_accuracy"] = 0.7
    result.params[big_rag] = 268_098_176
    result.non_embedding_params = {c: 106_200_000 for c in (SMALL, AUGMENTED)}
    result.non_embedding_params |= {BIG: 100_200_000, big_rag: 100_200_000}
    assert headline(result) == (
        f"{AUGMENTED} (135M, 106M non-embedding) does not outweigh its strongest rival "
        f"{big_rag} (268M, 100M non-embedding) on accuracy: 0.33 vs 1.00 "
        "(McNemar p=0.0078, 12 questions) (concise_accuracy 0.40 vs 0.70)"
    )
    text = markdown(result)
    assert "| params | 135M | 135M | 268M | 268M |" in text
    assert "| non-embedding params | 106M | 106M | 100M | 100M |" in text


def test_no_headline_without_both_sides(result: EvalResult) -> None:
    result.configs = [SMALL, BIG]
    assert headline(result) is None


def test_plot_is_a_valid_png(result: EvalResult, tmp_path: Path) -> None:
    from matplotlib.image import imread

    path = write_plot(result, tmp_path / "chart.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
    height, width, _ = imread(path).shape
    assert width > 400 and height > 300


def test_table_shows_applicable_metrics_only(result: EvalResult) -> None:
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(table(result))
    text = console.export_text()
    assert "accuracy" in text and "retrieval_recall_at_k" in text
    assert "style_adherence" not in text and "peak_vram_mb" not in text
    assert "params" in text and "268M" in text
    assert fmt(METRICS_BY_KEY["cited_per_answer"], 1.25) == "1.25"


def test_markdown_report(result: EvalResult, tmp_path: Path) -> None:
    (tmp_path / "charts").mkdir()
    plot = write_plot(result, tmp_path / "charts" / "eval.png")
    text = write_markdown(result, tmp_path / "eval.md", plot).read_text("utf-8")
    assert f"| metric | `{SMALL}` | `{AUGMENTED}` | `{BIG}` |" in text
    assert "| accuracy | 0.20 | **0.80** | 0.20 |" in text
    assert "| latency_p50_s | 0.50 | 0.50 | 0.50 |" in text  # a tie is not a win
    assert "![demo](charts/eval.png)" in text
    assert "## Worst misses" in text and "blue \\| red" in text  # pipes escaped in cells
    assert "## Where retrieval hurt" in text


def test_retrieval_hurt_is_reported(result: EvalResult) -> None:
    hurt = result.retrieval_hurt()
    assert [(h.without, h.with_rag, h.right.line) for h in hurt] == [(SMALL, AUGMENTED, 1)]
    assert "`smollm2-135m`: amber" in markdown(result)
    assert result.to_dict()["retrieval_hurt"][0]["question"] == "q0"


def test_json_round_trips(result: EvalResult, tmp_path: Path) -> None:
    doc = json.loads(write_json(result, tmp_path / "r.json").read_text("utf-8"))
    assert doc["results"][AUGMENTED]["accuracy"] == 0.8
    assert doc["results"][SMALL]["citation_accuracy"] is None
    assert len(doc["per_question"]) == 15


def test_output_paths_are_checked_before_a_run(tmp_path: Path) -> None:
    assert check_output(None, "--json", ".json") is None
    assert check_output(tmp_path / "a.json", "--json", ".json") == tmp_path / "a.json"
    with pytest.raises(InputError, match=r"`--plot` must end in \.png"):
        check_output(tmp_path / "a.jpg", "--plot", ".png")
    with pytest.raises(InputError, match="does not exist"):
        check_output(tmp_path / "no" / "a.md", "--report", ".md")
    (tmp_path / "d.json").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        check_output(tmp_path / "d.json", "--json", ".json")


def test_a_failed_write_leaves_nothing(
    result: EvalResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.json"
    target.write_text("old")

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        write_json(result, target)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
