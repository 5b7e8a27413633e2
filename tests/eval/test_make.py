"""`outweigh eval SUITE --make-from COLLECTION` and `adapter train --reader C --held-out SUITE`:
a suite made from a real ingested collection (real SQLite, the real bundled embedder), split by
document; every refusal one line with nothing left behind."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from outweigh.adapters.mining import Fact, mine
from outweigh.engine import Engine
from outweigh.eval import MakeOptions, load_suite, make_suite, read_held_out
from outweigh.eval.make import HELD_OUT, _unambiguous
from outweigh.settings import Paths
from tests.adapters.test_cli import one_error_line
from tests.adapters.test_reader import write_records
from tests.conftest import ROOT, CliResult

Cli = Callable[..., CliResult]
MAN = ROOT / "examples" / "suite-man" / "docs"
PAGES = ("fold", "nproc", "printenv", "tac")


@pytest.fixture
def mine_folder(paths: Paths, embedder, tmp_path: Path) -> Path:
    """Collection `mine`: four `Key: value` records under records/ and four man pages under
    man/, ingested from tmp/mine."""
    folder = tmp_path / "mine"
    write_records(folder / "records")
    (folder / "man").mkdir()
    for page in PAGES:
        (folder / "man" / f"{page}.txt").write_text((MAN / f"{page}.txt").read_text())
    with Engine(paths, embedder=embedder) as engine:
        report = engine.ingest([folder], collection="mine")
    assert report.files == 8 and not report.failed
    return folder


def _sources(folder: Path) -> set[str]:
    return {os.path.realpath(p) for p in folder.rglob("*.txt")}


def _questions(suite: Path) -> list[dict]:
    return [json.loads(line) for line in (suite / "questions.jsonl").read_text().splitlines()]


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.endswith(".tmp"))


def test_the_suite_asks_only_about_held_out_documents(
    paths: Paths, embedder, mine_folder: Path, tmp_path: Path
) -> None:
    with Engine(paths, embedder=embedder) as engine:
        made = make_suite(engine, tmp_path / "suite", "mine")
        chunks = list(engine.chunk_texts("mine"))
        held = read_held_out(made.root)
        # `facts` counts every question mined, however few rows are built from them.
        everything = engine.reader_data("mine", limit=1)
        trained = engine.reader_data("mine", limit=1, skip=held)
    suite = load_suite(made.root)  # the eval reads it: every source is a file under docs/
    sources = _sources(mine_folder)
    # Split by document: both sides non-empty, half each, and together the collection.
    assert held < sources and len(held) == 4
    assert (made.held_out, made.training) == (4, 4)
    # Every document is copied, at its path below the folder they share.
    assert set(_files(made.root / "docs")) == {
        Path(s).relative_to(mine_folder).as_posix() for s in sources
    }
    for q in suite.questions:
        original = mine_folder / q.source
        assert os.path.realpath(original) in held, q
        assert (made.root / "docs" / q.source).read_bytes() == original.read_bytes()
    rows = _questions(made.root)
    assert len(rows) == made.questions == len(suite.questions) > 0
    assert all(set(r) == {"question", "answers", "source", "kind"} for r in rows)
    assert len({r["question"] for r in rows}) == len(rows)
    assert made.kinds == {k: sum(r["kind"] == k for r in rows) for k in made.kinds}
    # Each answer is in the document it cites (authors' names one by one; a command line,
    # "tac --before", word by word).
    for r in rows:
        text = " ".join((made.root / "docs" / r["source"]).read_text().split())
        first = re.split(r", | and ", r["answers"][0])[0]
        assert all(w in text for w in first.split()), r
    # Training rows skip exactly the held-out documents' facts: none is asked on both sides.
    rng = random.Random(0)
    on_training_side = sum(len(list(mine(s, t, rng))) for s, t in chunks if s not in held)
    assert trained.facts == on_training_side < everything.facts


def test_the_same_seed_makes_the_same_suite(
    paths: Paths, embedder, mine_folder: Path, tmp_path: Path
) -> None:
    with Engine(paths, embedder=embedder) as engine:
        first = make_suite(engine, tmp_path / "a", "mine", MakeOptions(seed=3))
        again = make_suite(engine, tmp_path / "b", "mine", MakeOptions(seed=3))
        others = [
            make_suite(engine, tmp_path / f"s{seed}", "mine", MakeOptions(seed=seed)).root
            for seed in range(4, 9)
        ]
    assert _files(first.root) == _files(again.root)
    assert first == dataclasses.replace(again, root=first.root)
    split = read_held_out(first.root)
    assert any(read_held_out(other) != split for other in others)  # the seed decides


def test_questions_are_drawn_evenly_across_kinds(
    paths: Paths, embedder, mine_folder: Path, tmp_path: Path
) -> None:
    with Engine(paths, embedder=embedder) as engine:
        whole = make_suite(engine, tmp_path / "whole", "mine", MakeOptions(share=0.75))
        some = make_suite(engine, tmp_path / "some", "mine", MakeOptions(share=0.75, limit=5))
    assert whole.held_out == 6 and len(whole.kinds) >= 3
    kinds = [r["kind"] for r in _questions(some.root)]
    # One of each kind in turn: five questions cover five kinds, or every kind there is.
    assert len(kinds) == 5 and len(set(kinds)) == min(5, len(whole.kinds))


def test_ambiguous_questions_are_dropped() -> None:
    """Two answers to one question, or one answer in two documents: neither has one gold."""
    facts = [
        Fact("What is the version of omega?", "1.0", "/d/a.txt"),
        Fact("What is the version of omega?", "2.0", "/d/b.txt"),
        Fact("Tell me the version of omega.", "1.0", "/d/a.txt"),  # the same, phrased anew
        Fact("Who wrote fold?", "David MacKenzie", "/d/fold.txt", kind="person"),
        Fact("Who wrote fold?", "David MacKenzie", "/e/fold.txt", kind="person"),
        Fact("What is the license of alpha?", "MIT", "/d/alpha.txt"),
        Fact("What is the license of alpha?", "MIT", "/d/alpha.txt"),  # overlapping chunks
        Fact("Tell me the license of alpha.", "MIT", "/d/alpha.txt"),  # the same fact again
        Fact("What is the size of beta?", "...", "/d/beta.txt"),  # nothing a metric can score
    ]
    kept, dropped = _unambiguous(facts)
    assert [f.question for f in kept] == ["Tell me the license of alpha."] and dropped == 2


def test_cli_makes_a_suite_and_reports_missing_documents(
    cli: Cli, mine_folder: Path, tmp_path: Path
) -> None:
    (mine_folder / "man" / "tac.txt").unlink()  # gone since it was ingested
    suite = tmp_path / "made"
    suite.mkdir()  # an empty folder is taken
    r = cli("eval", str(suite), "--make-from", "mine", "--limit", "6", "--seed", "1")
    assert r.code == 0, r.err
    out = " ".join(r.out.split())
    made = load_suite(suite)
    assert f"{len(made.questions)} questions (" in out and len(made.questions) <= 6
    assert "held-out documents of 'mine'" in out and "left to train on" in out
    assert "1 document no longer on disk" in out and "tac.txt" in out
    assert not (suite / "docs" / "man" / "tac.txt").exists()
    assert all("tac" not in line for line in (suite / HELD_OUT).read_text().splitlines())
    assert all(q.source != "man/tac.txt" for q in made.questions)
    commands = [line.strip() for line in r.out.splitlines() if line.startswith("  outweigh ")]
    assert commands == [
        f"outweigh adapter train --reader mine --held-out {suite} --name reader-mine",
        f"outweigh eval {suite} -c smollm2-135m+rag -c smollm2-135m+rag+lora:reader-mine",
    ]
    assert _leftovers(tmp_path) == []


def test_cli_refusals_are_one_line_and_write_nothing(
    cli: Cli, paths: Paths, embedder, mine_folder: Path, tmp_path: Path
) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.md").write_text("mine")
    one = tmp_path / "one"
    one.mkdir()
    (one / "alpha.txt").write_text("Name: alpha\nVersion: 1.0\n")
    with Engine(paths, embedder=embedder) as engine:
        engine.ingest([one], collection="single")
    new = str(tmp_path / "new")
    for args, says in [
        ([str(taken), "--make-from", "mine"], "exists and is not empty"),
        ([new, "--make-from", "nope"], "unknown collection 'nope'"),
        ([new, "--make-from", "single"], "has 1 document(s) on disk"),
        ([str(tmp_path / "no" / "new"), "--make-from", "mine"], "does not exist; create it"),
        ([new, "--make-from", "mine", "--share", "1"], "`--share` must be between 0 and 1"),
        ([new, "--make-from", "mine", "--share", "half"], "`--share` must be a number"),
        ([new, "--make-from", "mine", "--limit", "0"], "`--limit` must be at least 1"),
        ([new, "--make-from", "mine", "--seed", "x"], "`--seed` must be a whole number"),
        ([new, "--make-from", "mine", "-c", "smollm2-135m"], "--config runs a suite"),
        ([new, "-c", "smollm2-135m", "--share", "0.3"], "--share goes with --make-from"),
    ]:
        assert says in one_error_line(cli("eval", *args)), args
    assert _files(taken) == {"notes.md": b"mine"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "mine", "one", "taken"]


def test_held_out_rows_skip_the_suites_documents(
    cli: Cli, mine_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`adapter train --reader mine --held-out SUITE` builds rows about the training side only
    (training itself is another test's: here it only records the rows it was given)."""
    suite = tmp_path / "suite"
    assert cli("eval", str(suite), "--make-from", "mine").code == 0
    given: list[Path] = []

    def train(self, data, name, config=None, progress=None):
        given.append(Path(data))
        return SimpleNamespace(name=name, metrics={"steps": 0, "seconds": 0, "train_loss": 0.0})

    monkeypatch.setattr(Engine, "train_adapter", train)
    args = ("adapter", "train", "--reader", "mine", "--name", "rd")
    r = cli(*args, "--held-out", str(suite))
    assert r.code == 0, r.err
    assert "4 held-out documents skipped" in " ".join(r.out.split())
    rows = [json.loads(line) for line in given[0].read_text().splitlines()]
    asked = [row["messages"][1]["content"].rsplit("Question:", 1)[-1] for row in rows]
    subjects = {Path(s).stem for s in read_held_out(suite)}  # a record's Name is its file's stem
    kept = {Path(s).stem for s in _sources(mine_folder)} - subjects
    assert asked and not any(re.search(rf"\b{s}\b", q) for q in asked for s in subjects)
    assert any(re.search(rf"\b{s}\b", q) for q in asked for s in kept)

    bare = tmp_path / "bare"
    bare.mkdir()
    assert "make the suite with `outweigh eval" in one_error_line(
        cli(*args, "--held-out", str(bare))
    )
    other = tmp_path / "other"
    other.mkdir()
    (other / HELD_OUT).write_text("/elsewhere/x.txt\n")
    assert "none of the documents" in one_error_line(cli(*args, "--held-out", str(other)))
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "a", "completion": "b"}\n')
    assert "--held-out goes with --reader" in one_error_line(
        cli("adapter", "train", str(data), "--name", "rd", "--held-out", str(suite))
    )
    assert len(given) == 1


def test_one_topic_a_document_gives_two_values_is_dropped_however_phrased() -> None:
    """ "the version of bitflags" is 1.2.1 in one chunk of a page and 1.3.5 in another: asked
    either way, it has no one answer. Each chunk's every value is seen (`mine(most=None)`)."""
    chunks = [
        "## Resolver\n\nIt picks bitflags 1.2.1 first.",
        "## Later\n\nThen bitflags 1.3.5 wins.",
    ]
    found = [f for c in chunks for f in mine("resolver.md", c, random.Random(0), most=None)]
    versions = [f for f in found if f.kind == "prose-version"]
    assert sorted(f.answer for f in versions) == ["1.2.1", "1.3.5"]
    assert len({f.about for f in versions}) == 1
    kept, dropped = _unambiguous(found)
    assert not [f for f in kept if f.kind == "prose-version"] and dropped >= 1
