"""`outweigh eval` through the CLI: one `error:` line and exit 2 per bad input, nothing written;
and the issue's end-to-end check on the real SmolLM2-135M, where retrieval must score higher."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from outweigh.retrieval.store import Store
from outweigh.settings import Paths
from tests.conftest import CliResult
from tests.eval.conftest import MakeSuite

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
Cli = Callable[..., CliResult]


@pytest.fixture
def suite(make_suite: MakeSuite) -> Path:
    q = {"question": "What colour are the badges?", "answers": ["amber"], "source": "p.md"}
    return make_suite(questions=[q], docs={"p.md": "Badges are amber."})


def _bad(suite: Path, tmp_path: Path) -> list[tuple[list[str], str]]:
    s, out = str(suite), str(tmp_path / "out")
    return [
        ([s], "give at least one --config"),
        ([s, "-c", "smollm2-135m+rga"], "unknown part 'rga'"),
        ([s, "-c", "+rag"], "has no model"),
        ([s, "-c", "smollm2-135m", "-c", "smollm2-135m"], "given twice"),
        ([s, "-c", "nope"], "unknown model 'nope'; choose one of: gemma3-270m, smollm2-135m"),
        ([str(tmp_path / "missing"), "-c", "smollm2-135m"], "does not exist"),
        ([s, "-c", "smollm2-135m", "--limit", "0"], "`--limit` must be at least 1"),
        ([s, "-c", "smollm2-135m", "--limit", "many"], "`--limit` must be a whole number"),
        ([s, "-c", "smollm2-135m", "-k", "0"], "`-k` must be at least 1"),
        ([s, "-c", "smollm2-135m", "--max-tokens", "1e3"], "`--max-tokens` must be a whole"),
        ([s, "-c", "smollm2-135m", "--seed", "-1"], "`--seed` must be 0 or more"),
        ([s, "-c", "smollm2-135m", "--plot", f"{out}.jpg"], "`--plot` must end in .png"),
        ([s, "-c", "smollm2-135m", "--json", f"{out}/r.json"], "does not exist; create it"),
        ([s, "-c", "smollm2-135m", "--report", str(tmp_path)], "`--report` must end in .md"),
    ]


def test_every_bad_input_is_one_line_and_exit_2(
    suite: Path, tmp_path: Path, paths: Paths, cli: Cli
) -> None:
    for args, says in _bad(suite, tmp_path):
        r = cli("eval", *args)
        code, out, err = r.code, r.out, r.err
        assert code == 2, (args, out, err)
        assert err.startswith("error: ") and says in err, (args, err)
        assert err.count("\n") == 1, err
        assert "Traceback" not in out + err
    # Nothing half-written: no output file, no leftover private collection.
    assert {p.name for p in tmp_path.iterdir()} <= {"home", "suite"}
    assert not paths.db.exists() or Store(paths).collections() == []


def test_a_malformed_suite_line_is_one_line(make_suite: MakeSuite, cli: Cli) -> None:
    bad = make_suite(style=[{"prompt": "p", "check": {"ends_with": "x"}}, "{oops"], name="bad")
    r = cli("eval", str(bad), "-c", "smollm2-135m")
    code, _, err = r.code, r.out, r.err
    assert code == 2
    assert err.startswith("error: style.jsonl line 2: not valid JSON") and err.count("\n") == 1


def test_an_unknown_adapter_is_one_line(suite: Path, cli: Cli) -> None:
    adapters = pytest.importorskip("outweigh.adapters")
    if not hasattr(adapters, "AdapterRegistry"):
        pytest.skip("adapters (issue #4) are not in this tree yet")
    r = cli("eval", str(suite), "-c", "smollm2-135m+lora:nope")
    code, _, err = r.code, r.out, r.err
    assert code == 2 and "nope" in err and err.count("\n") == 1


@pytest.mark.slow
def test_end_to_end_rag_beats_the_bare_small_model(
    five_suite: Path, tmp_path: Path, paths: Paths, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    args = ["eval", str(five_suite), "-c", "smollm2-135m", "-c", "smollm2-135m+rag"]
    args += ["--max-tokens", "32", "--seed", "0"]
    args += ["--json", str(out / "r.json"), "--plot", str(out / "r.png")]
    args += ["--report", str(out / "r.md")]
    from outweigh.cli._app import console

    monkeypatch.setattr(console, "width", 200)  # the whole table, unwrapped, in captured stdout
    r = cli(*args)
    code, stdout, err = r.code, r.out, r.err
    assert code == 0, err
    doc = json.loads((out / "r.json").read_text("utf-8"))
    bare, rag = doc["results"]["smollm2-135m"], doc["results"]["smollm2-135m+rag"]
    assert rag["accuracy"] > bare["accuracy"]
    assert rag["f1"] >= bare["f1"]
    assert rag["retrieval_recall_at_k"] >= 0.8  # hybrid search finds the gold document
    assert len(doc["per_question"]) == 10
    assert (out / "r.png").read_bytes()[:8] == PNG_MAGIC
    report = (out / "r.md").read_text("utf-8")
    assert "![five](r.png)" in report and "## Where retrieval hurt" in report
    assert "accuracy" in stdout and "retrieval_recall_at_k" in stdout  # the table
    assert "concise_accuracy" in stdout and "non-embedding params" in stdout
    # Counted on the loaded model: SmolLM2's tied 49152 x 576 token table is not "the model".
    assert 0 < doc["non_embedding_params"]["smollm2-135m"] < doc["params"]["smollm2-135m"]
    rows = [q for q in doc["per_question"] if q["config"] == "smollm2-135m+rag"]
    assert all(set(q["cited"]) <= set(q["context"]) and len(q["cited"]) <= 2 for q in rows)
    assert all(q["diagnosis"] == ("right" if q["correct"] else "reading_miss") for q in rows
               if q["source"] in q["context"])  # fmt: skip
    # +rag reads through the bundled reader, and the table says so; bare reads with none.
    assert {q["adapter"] for q in rows if q["part"] == "facts"} == {"reader"}
    assert {q["adapter"] for q in doc["per_question"] if q["config"] == "smollm2-135m"} == {None}
    assert "adapters that answered" in stdout
    assert [c.name for c in Store(paths).collections()] == []  # the private collection is gone


def test_demo_bad_inputs_are_one_line(make_suite: MakeSuite, tmp_path: Path, cli: Cli) -> None:
    file = tmp_path / "taken"
    file.write_text("x")
    style_only = make_suite(style=[{"prompt": "p", "check": {"ends_with": "x"}}], name="s")
    for args, says in [
        (["--limit", "0"], "`--limit` must be at least 1"),
        (["--out", str(file)], "is a file"),
        (["--suite", str(tmp_path / "nope")], "does not exist"),
        (["--suite", str(style_only)], "has no docs/ and questions.jsonl"),
    ]:
        r = cli("demo", *args)
        code, _, err = r.code, r.out, r.err
        assert code == 2 and err.startswith("error: ") and says in err, (args, err)
        assert err.count("\n") == 1
