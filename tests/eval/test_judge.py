"""`outweigh eval --judge MODEL[@URL]`: verdicts read strictly, unparsed replies counted apart,
the judge's agreement with `accuracy` over the questions both score, Cohen's kappa checked
against an independent computation, and a real judge (a real `outweigh serve`, or the bundled
SmolLM2 loaded here) grading a real run, journaled by `--resume`.

The bundled models are weak judges, so the end-to-end tests assert the mechanics (fields,
counts, which questions are compared, the same JSON on resume), not the verdicts.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from outweigh.eval.judge import UNPARSED, prompt, scores, verdict
from outweigh.eval.results import Record
from outweigh.eval.stats import agreement
from tests.conftest import CliResult
from tests.eval.conftest import KEY, KEY_ENV, Served, free_port

Cli = Callable[..., CliResult]


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        ("yes", "yes"),
        ("Yes.", "yes"),
        ("  NO", "no"),
        ("**Yes**", "yes"),
        ('"no"', "no"),
        ("Verdict: yes", "yes"),
        ("Answer: No, it does not.", "no"),
        ("The answer is yes", "yes"),
        ("No.\nThe passage says 412 metres.", "no"),
        ("", UNPARSED),
        ("...", UNPARSED),
        ("Maybe", UNPARSED),
        ("I think yes", UNPARSED),
        ("yesterday", UNPARSED),
        ("Nope", UNPARSED),
        ("Correct", UNPARSED),
        ("1", UNPARSED),
    ],
)
def test_a_verdict_is_yes_or_no_only_when_its_first_word_says_so(reply: str, says: str) -> None:
    assert verdict(reply) == says


def test_kappa_on_a_hand_worked_table() -> None:
    # 50 items: both yes 20, only the first 5, only the second 10, both no 15.
    # p_o = 35/50 = 0.7; yes-rates 25/50 and 30/50, so p_e = 0.5*0.6 + 0.5*0.4 = 0.5;
    # kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    first = [True] * 20 + [True] * 5 + [False] * 10 + [False] * 15
    second = [True] * 20 + [False] * 5 + [True] * 10 + [False] * 15
    a = agreement(first, second)
    assert a.items == 50
    assert a.agreement == pytest.approx(0.7)
    assert a.kappa == pytest.approx(0.4)
    assert agreement([], []).kappa is None
    assert agreement([True, True], [True, True]).kappa is None  # chance agreement is 1


def test_kappa_matches_sklearn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    import random

    rng = random.Random(7)
    for n in (3, 12, 40, 200):
        for bias in (0.2, 0.5, 0.9):
            first = [rng.random() < bias for _ in range(n)]
            second = [x if rng.random() < 0.7 else not x for x in first]
            if len(set(first)) == len(set(second)) == 1 and first[0] == second[0]:
                continue  # sklearn returns nan where kappa is undefined
            got = agreement(first, second).kappa
            assert got == pytest.approx(metrics.cohen_kappa_score(first, second)), (n, bias)


def _fact(line: int, correct: bool, judged: dict[str, str], **kw: Any) -> Record:
    return Record(
        config="c",
        part="facts",
        line=line,
        prompt="q?",
        expected=["a"],
        answer="a",
        correct=correct,
        seconds=0.0,
        completion_tokens=1,
        judge=judged,
        **kw,
    )


def test_scores_compare_only_what_both_scored_and_never_count_unparsed_as_yes() -> None:
    records = [
        _fact(1, True, {"correct": "yes", "faithful": "yes"}, cited_text=["a"]),
        _fact(2, False, {"correct": "yes"}),
        _fact(3, False, {"correct": "no", "faithful": "no"}, cited_text=["b"]),
        _fact(4, True, {"correct": UNPARSED, "faithful": UNPARSED}, cited_text=["a"]),
        # unanswerable: accuracy does not score it, so neither is it compared
        _fact(5, False, {"faithful": "yes"}, abstain=True, cited_text=["a"]),
    ]
    values, cis = scores(records, seed=0)
    assert values["judge_accuracy"] == pytest.approx(2 / 3)  # lines 1-3; 4 is unparsed
    assert values["judge_faithfulness"] == pytest.approx(2 / 3)  # lines 1, 3, 5
    assert values["judge_unparsed"] == 2
    assert values["judge_questions"] == 3
    assert values["judge_agreement"] == pytest.approx(2 / 3)  # lines 1 and 3 agree
    assert values["judge_kappa"] == pytest.approx(agreement([1, 1, 0], [1, 0, 0]).kappa)
    assert set(cis) == {"judge_accuracy", "judge_faithfulness"}
    # what the judge is asked: correctness of answerable facts, faithfulness where it cites
    assert prompt("correct", records[4]) is None
    assert prompt("faithful", records[1]) is None
    faithful = prompt("faithful", records[0])
    assert faithful is not None and "[1] a" in faithful[-1]["content"]


def _suite(five_suite: Path, tmp_path: Path) -> Path:
    """Two answerable questions of the bundled suite and one the documents do not answer."""
    root = tmp_path / "judged"
    shutil.copytree(five_suite / "docs", root / "docs")
    rows = (five_suite / "questions.jsonl").read_text("utf-8").splitlines()[:2]
    rows.append(json.dumps({"question": "What is the cooperative's tax number?", "abstain": True}))
    (root / "questions.jsonl").write_text("\n".join(rows) + "\n", "utf-8")
    return root


def _check_judged(data: dict[str, Any], config: str) -> None:
    """The judge's fields are there and follow from the per-question verdicts."""
    from sklearn.metrics import cohen_kappa_score

    res = data["results"][config]
    facts = [q for q in data["per_question"] if q["config"] == config and q["part"] == "facts"]
    assert data["judge"]["trusted_kappa"] == 0.6 and "judge_kappa" in data["judge"]["trust"]
    for q in facts:
        assert set(q["judge"]) == ({"faithful"} if q["cited"] else set()) | (
            set() if q["abstain"] else {"correct"}
        )
        assert set(q["judge"].values()) <= {"yes", "no", UNPARSED}
    verdicts = [v for q in facts for v in q["judge"].values()]
    assert res["judge_unparsed"] == verdicts.count(UNPARSED)
    both = [q for q in facts if not q["abstain"] and q["judge"]["correct"] != UNPARSED]
    assert res["judge_questions"] == len(both)
    if both:
        judged = [q["judge"]["correct"] == "yes" for q in both]
        strings = [q["correct"] for q in both]
        assert res["judge_agreement"] == pytest.approx(
            sum(a == b for a, b in zip(judged, strings, strict=True)) / len(both)
        )
        if len(set(judged)) > 1 or len(set(strings)) > 1:
            assert res["judge_kappa"] == pytest.approx(cohen_kappa_score(judged, strings))
        lo, hi = res["judge_accuracy_ci95"]
        assert 0.0 <= lo <= res["judge_accuracy"] <= hi <= 1.0


def _clockless(value: Any) -> Any:
    clock = {"seconds", "latency_p50_s", "tokens_per_s", "peak_rss_mb", "peak_vram_mb"}
    if isinstance(value, dict):
        return {k: _clockless(v) for k, v in value.items() if k not in clock}
    if isinstance(value, list):
        return [_clockless(v) for v in value]
    return value


def test_a_served_judge_grades_a_run_and_resume_replays_its_verdicts(
    served: Served,
    five_suite: Path,
    tmp_path: Path,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("sklearn")
    monkeypatch.setenv(KEY_ENV, KEY)
    suite = _suite(five_suite, tmp_path)
    config = "smollm2-135m+rag"
    journal, first, again = tmp_path / "run.jsonl", tmp_path / "a.json", tmp_path / "b.json"
    args = ["eval", str(suite), "-c", config, "--api-key-env", KEY_ENV, "--resume", str(journal)]
    args += ["--judge", f"smollm2-135m@{served.url}"]
    r = cli(*args, "--json", str(first), "--report", str(tmp_path / "r.md"))
    assert r.code == 0, r.err
    assert "judge_kappa" in r.out and "judge smollm2-135m@" in r.out
    assert "judge_kappa" in (tmp_path / "r.md").read_text("utf-8")
    data = json.loads(first.read_text("utf-8"))
    assert data["judge"]["model"] == f"smollm2-135m@{served.url}"
    _check_judged(data, config)
    asked = sum(len(q["judge"]) for q in data["per_question"])
    lines = journal.read_text("utf-8").splitlines()
    assert sum(line.startswith('{"verdict"') for line in lines) == asked >= 2

    # The rerun takes every answer and verdict from the journal: same JSON, nothing asked.
    r = cli(*args, "--json", str(again))
    assert r.code == 0, r.err
    assert journal.read_text("utf-8").splitlines() == lines
    assert _clockless(json.loads(again.read_text("utf-8"))) == _clockless(data)


def test_a_local_model_judges_through_the_engine(
    five_suite: Path, tmp_path: Path, cli: Cli
) -> None:
    pytest.importorskip("sklearn")
    out = tmp_path / "r.json"
    suite = _suite(five_suite, tmp_path)
    r = cli(
        "eval", str(suite), "-c", "smollm2-135m+rag", "--judge", "smollm2-135m", "--json", str(out)
    )
    assert r.code == 0, r.err
    data = json.loads(out.read_text("utf-8"))
    _check_judged(data, "smollm2-135m+rag")
    # quality per GB rides beside the score, from the planner
    res = data["results"]["smollm2-135m+rag"]
    assert res["vram_gb"] > 0 and data["vram"]["notes"] == {}
    assert res["accuracy_per_gb"] == pytest.approx(res["accuracy"] / res["vram_gb"])
    assert "accuracy_per_gb" in r.out and "vram_gb is planned by outweigh plan" in r.out
    # without --judge the judge's fields are there and empty, and the headline is untouched
    r = cli("eval", str(suite), "-c", "smollm2-135m", "--limit", "1", "--json", str(out))
    assert r.code == 0, r.err
    data = json.loads(out.read_text("utf-8"))
    assert data["judge"] is None and data["results"]["smollm2-135m"]["judge_accuracy"] is None


def test_every_wrong_judge_is_one_line(
    served: Served, five_suite: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OUTWEIGH_UPSTREAM_API_KEY", raising=False)
    nowhere = f"http://127.0.0.1:{free_port()}/v1"
    cases = [
        (["--judge", "smollm2-135m+rag"], "a judge is a bare model"),
        (["--judge", " "], "empty --judge"),
        (["--judge", "smollm2-135m@ftp://x/v1"], "--judge 'smollm2-135m@ftp://x/v1'"),
        (["--judge", "no-such-model"], "no-such-model"),
        (["--judge", f"smollm2-135m@{nowhere}"], f"--judge smollm2-135m@{nowhere}: "),
        (["--judge", f"smollm2-135m@{served.url}"], "wants an API key"),
    ]
    for args, says in cases:
        r = cli("eval", str(five_suite), "-c", "smollm2-135m", *args)
        assert r.code == 2, (args, r.out, r.err)
        assert r.err.startswith("error: ") and says in r.err, (args, r.err)
        assert r.err.count("\n") == 1 and "Traceback" not in r.out + r.err, r.err
