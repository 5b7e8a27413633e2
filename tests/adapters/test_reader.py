"""`outweigh adapter train --reader COLLECTION`: reader rows built from a real collection with
the real embedder (the gold passage among retrieved distractors, a short cited answer), a
short real training run, and one-line refusals."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.adapters.conftest import CliResult
from tests.adapters.test_cli import one_error_line

from outweigh import Paths
from outweigh.adapters.reader import DONT_KNOW
from outweigh.engine import Engine

Cli = Callable[..., CliResult]

RECORDS = {
    "alpha": ("1.4.2", "Ana Lindqvist <ana@alpha.example>", "https://alpha.example/"),
    "beta": ("0.9.0", "Bo Okafor <bo@beta.example>", "https://beta.example/docs"),
    "gamma": ("3.1.0", "Chen Wei <chen@gamma.example>", "https://gamma.example/"),
    "delta": ("2.0.1", "Dana Ruiz <dana@delta.example>", "https://delta.example/home"),
}


def write_records(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (version, author, url) in RECORDS.items():
        (folder / f"{name}.txt").write_text(
            f"Name: {name}\nVersion: {version}\nAuthor: {author}\nHome-page: {url}\n"
            f"Summary: the {name} toolkit for parsing logs\n"
        )
    return folder


@pytest.fixture
def records(paths: Paths, embedder, tmp_path: Path) -> Paths:
    engine = Engine(paths, embedder=embedder)
    try:
        engine.ingest([write_records(tmp_path / "records")], collection="records")
    finally:
        engine.close()
    return paths


def test_rows_ask_over_retrieved_passages_and_cite_the_gold(records: Paths, embedder) -> None:
    engine = Engine(records, embedder=embedder)
    try:
        data = engine.reader_data("records", limit=50)
    finally:
        engine.close()
    # Four records, four askable fields each (Name names the subject); of the rows asked
    # without their record, at most 8% of what is kept stays.
    assert data.facts == 16 and 13 <= len(data.rows) <= 16
    assert data.absent <= max(1, 0.08 * len(data.rows))
    cited = 0
    for system, user, answer in data.rows:
        assert system["role"] == "system" and "[1]" in system["content"]
        assert user["content"].startswith("Context:\n[1] (")
        if answer["content"] == DONT_KNOW:
            continue
        n = int(re.search(r"\[(\d)\]$", answer["content"])[1])
        passage = user["content"].split(f"[{n}] (")[1].split("\n\n")[0]
        value = answer["content"].rsplit(" [", 1)[0]
        assert value in passage  # the answer is read from the passage it cites
        cited += 1
    assert cited >= 12
    # Each question names its record, so selection reads that record alone: the rows teach
    # the reader on the context `ask` gives it, not on look-alike records it never sees.
    # (A few rows are asked with the record taken out, and say "I don't know".)
    gold = [(user, answer) for _, user, answer in data.rows if answer["content"] != DONT_KNOW]
    assert not any("[2] (" in user["content"] for user, _ in gold)


def test_train_reader_runs_and_registers(cli: Cli, records: Paths) -> None:
    result = cli(
        "adapter", "train", "--reader", "records", "--name", "rd",
        "--max-steps", "2", "--batch-size", "4", "--rank", "4",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert re.search(r"1[3-6] reader rows from 16 facts in 'records'", " ".join(result.out.split()))
    shown = json.loads(cli("adapter", "show", "rd", "--json").out)
    assert shown["base_model"] == "smollm2-135m"


def test_train_reader_refusals(cli: Cli, records: Paths, tmp_path: Path) -> None:
    assert "unknown collection 'nope'" in one_error_line(
        cli("adapter", "train", "--reader", "nope", "--name", "rd")
    )
    assert "one of them" in one_error_line(cli("adapter", "train", "--name", "rd"))
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "a", "completion": "b"}\n')
    assert "one of them" in one_error_line(
        cli("adapter", "train", str(data), "--reader", "records", "--name", "rd")
    )
    prose = tmp_path / "prose"
    prose.mkdir()
    (prose / "note.txt").write_text("the harbour opens at dawn and closes when the tide turns\n")
    assert cli("ingest", str(prose), "--collection", "prose").code == 0
    assert "nothing to ask about" in one_error_line(
        cli("adapter", "train", "--reader", "prose", "--name", "rd")
    )
    assert "--question-writer goes with --reader" in one_error_line(
        cli("adapter", "train", str(data), "--name", "rd", "--question-writer", "smollm2-135m")
    )
    assert "--upstream goes with --question-writer" in one_error_line(
        cli("adapter", "train", "--reader", "records", "--name", "rd", "--upstream", "http://x")
    )
    assert not (records.adapters_dir / "rd").exists()


def test_built_rows_keep_few_dont_knows_and_no_answer_many_times() -> None:
    """A reader trained on 35% "I don't know" rows said it to half the answerable questions of
    other shapes, and one release named by every man page of a package was a twentieth of
    the rows: the set keeps at most `SAME_ANSWER` of one value and `DONT_KNOW_SHARE` of
    "I don't know", in the order built, and every other row."""
    from outweigh.adapters.reader import DONT_KNOW_SHARE, SAME_ANSWER, trimmed

    def row(answer: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": "q"}, {"role": "assistant", "content": answer}]

    rows = [row(f"2.39.5 [{1 + i % 3}]") for i in range(30)]
    rows += [row(f"value {i} [1]") for i in range(40)] + [row(DONT_KNOW) for _ in range(30)]
    random.Random(1).shuffle(rows)
    kept = trimmed(rows, rng=random.Random(0))
    assert kept == sorted(kept) and kept == trimmed(rows, rng=random.Random(0))
    answers = [rows[i][-1]["content"] for i in kept]
    assert sum(a.startswith("2.39.5") for a in answers) == SAME_ANSWER
    assert {f"value {i} [1]" for i in range(40)} <= set(answers)
    unknown = answers.count(DONT_KNOW)
    assert 0 < unknown <= DONT_KNOW_SHARE * len(answers)
    assert all(rows[i][-1]["content"] != DONT_KNOW for i in trimmed(rows, dont_know=0.0))


def test_manual_pages_give_questions_their_text_answers(
    paths: Paths, embedder, tmp_path: Path
) -> None:
    """Real rendered pages (from examples/suite-man) go through ingest, so the rows are built
    from stored chunks: the page's summary, options, author and release, each cited."""
    docs = Path(__file__).resolve().parents[2] / "examples" / "suite-man" / "docs"
    folder = tmp_path / "man"
    folder.mkdir()
    for page in ("fold", "head", "printenv"):
        (folder / f"{page}.txt").write_text((docs / f"{page}.txt").read_text())
    engine = Engine(paths, embedder=embedder)
    try:
        engine.ingest([folder], collection="man")
        data = engine.reader_data("man", limit=200)
    finally:
        engine.close()
    qa: dict[str, str] = {}
    for _, user, answer in data.rows:
        question = user["content"].rsplit("Question:", 1)[-1].strip()
        if answer["content"] != DONT_KNOW:
            n = int(re.search(r"\[(\d)\]$", answer["content"])[1])
            value = answer["content"].rsplit(" [", 1)[0]
            passage = user["content"].split(f"[{n}] (")[1].split("\n\n[")[0]
            # a command line ("fold --width") is asked for in words the passage has apart
            assert all(w in passage for w in value.split(" and ")[0].split()), (question, value)
        qa[question] = answer["content"]
    about_fold = {q: a for q, a in qa.items() if "fold" in q}
    answers = " | ".join(about_fold.values())
    if any("do" in q and "option" not in q for q in about_fold):
        assert "wrap each input line to fit in specified width" in answers
    releases = [a for q, a in about_fold.items() if "manual page" in q]
    assert releases and all(a.startswith(("9.1 [", DONT_KNOW)) for a in releases)
    assert any("David MacKenzie" in a for q, a in about_fold.items() if "wr" in q or "auth" in q)
    # Options come from the page's option list, never --help or --version.
    options = [a.split(" [")[0] for q, a in qa.items() if "option" in q and a != DONT_KNOW]
    assert options and all(o.split()[-1].startswith("-") for o in options)
    assert not {"--help", "--version"} & set(options)


def test_rows_are_drawn_evenly_across_kinds_of_fact(paths: Paths, embedder, tmp_path: Path) -> None:
    """Package records hold many more fields than a man page has summaries; a reader trained
    on what falls out of a shuffle answers the rare kinds "I don't know"."""
    docs = Path(__file__).resolve().parents[2] / "examples" / "suite-man" / "docs"
    folder = write_records(tmp_path / "mixed")
    for i in range(12):  # 16 + 36 record fields, against one man page
        (folder / f"extra{i}.txt").write_text(
            f"Name: extra{i}\nVersion: 1.{i}\nAuthor: Al Bo <al{i}@x.example>\n"
        )
    (folder / "fold.txt").write_text((docs / "fold.txt").read_text())
    engine = Engine(paths, embedder=embedder)
    try:
        engine.ingest([folder], collection="mixed")
        data = engine.reader_data("mixed", limit=12, trim=False)
    finally:
        engine.close()
    assert len(data.rows) == 12
    # One of each kind in turn until a kind runs out: the page has one summary, one "which
    # command" question, one release and two options to ask, one of them without naming the
    # program (a shuffle of 60 facts would give the page about one row). The page's typed
    # values (its authors, its URLs, its footer's date) are kinds of their own.
    assert data.kinds == {
        "field": 2, "option": 1, "person": 1, "plain option": 1, "prose-date": 1,
        "prose-person": 1, "prose-url": 1, "release": 1, "summary": 1, "url": 1, "which": 1,
    }  # fmt: skip
    rows = {user["content"].rsplit("Question:", 1)[-1]: a["content"] for _, user, a in data.rows}
    assert sum("fold" in q and "option" in q for q in rows) == 1
    assert [a for q, a in rows.items() if "wrap each input line" in q] == ["fold [1]"]


def test_any_text_gives_questions_about_its_typed_values() -> None:
    import random

    from outweigh.adapters.mining import mine

    text = (
        "frobnicate (2.4-1) unstable; urgency=medium\n\n"
        "  * New upstream release.\n\n"
        " -- Ana Lima <ana@example.org>  Tue, 03 Sep 2024 10:00:00 +0200\n\n"
        "## Links\n\n"
        "Homepage: see https://frobnicate.example/ for the manual.\n"
        "![build](https://ci.example/badge.svg)\n"
    )
    got = list(mine("docs/frobnicate_changelog.md", text, random.Random(0)))
    by_kind = {f.kind: f for f in got}
    # Each value is asked with what its line is about, and is in its chunk's text.
    assert {"prose-person", "prose-url"} <= set(by_kind) or {"prose-email", "prose-url"} <= set(
        by_kind
    )
    for fact in (f for f in got if f.kind.startswith("prose-")):
        assert fact.answer in text and fact.answer not in fact.question
        assert "frobnicate changelog" in fact.question
    assert by_kind["prose-url"].answer == "https://frobnicate.example/"
    assert "Homepage" in by_kind["prose-url"].question
    # A badge is not a fact anyone asks for.
    assert all("badge.svg" not in f.answer for f in got)
    who = by_kind.get("prose-person") or by_kind["prose-email"]
    assert who.answer in ("Ana Lima", "ana@example.org")


def test_an_address_is_asked_as_the_person_s_written_beside_it() -> None:
    from outweigh.adapters.mining import prose_facts

    text = (
        "AUTHOR\n"
        "Original code by Ken Williams\n"
        "<kwilliams@cpan.org>, Randy W. Sims <RandyS@ThePierianSpring.org>\n"
        "Ported by Matt S Trout (mst) <mst@shadowcat.co.uk> and Ana Lima.\n"
    )
    got = {
        f.answer: f.question
        for f in prose_facts("Module-Metadata.txt", text, random.Random(0), None)
        if f.kind == "prose-email"
    }
    # Not the line's first name for the address before it: each address its own person's,
    # and one written under a name on the line above is not asked.
    assert set(got) == {"RandyS@ThePierianSpring.org", "mst@shadowcat.co.uk"}
    assert "Randy W. Sims" in got["RandyS@ThePierianSpring.org"]
    assert "Matt S Trout" in got["mst@shadowcat.co.uk"]


def test_a_topic_with_two_values_of_one_type_asks_nothing() -> None:
    import random

    from outweigh.adapters.mining import prose_facts

    text = "Links:\nhttps://one.example/\nhttps://two.example/\n"
    assert list(prose_facts("links.md", text, random.Random(0))) == []


def test_a_written_question_is_kept_only_when_its_answer_is_in_the_passage() -> None:
    from outweigh.adapters.mining import written_fact

    text = "alpha 1.4.2 was released on 3 May 2024 by Ana Lindqvist."
    kept = written_fact("a.txt", text, "Q: Who released alpha 1.4.2?\nA: Ana Lindqvist.")
    assert kept is not None and (kept.answer, kept.kind) == ("Ana Lindqvist", "written")
    for reply in (
        "Q: Who released alpha 1.4.2?\nA: Bo Okafor",  # not in the passage
        "Q: When did Ana Lindqvist release it?\nA: in the spring",  # a paraphrase
        "Q: Was alpha released on 3 May 2024?\nA: 3 May 2024",  # the question holds it
        "Who released alpha?",  # no answer line
        "Q: Who released alpha 1.4.2\nA: Ana Lindqvist",  # not a question
    ):
        assert written_fact("a.txt", text, reply) is None, reply


def test_a_model_writes_questions_from_the_collection(records: Paths, embedder) -> None:
    # The real bundled model as the writer, over every chunk: each is asked for a question,
    # and each question kept answers from its own document, word for word.
    calls: list[tuple[int, int]] = []
    with Engine(records, embedder=embedder) as engine:
        written = engine._written(
            "records", 4, frozenset(), "smollm2-135m", lambda i, n: calls.append((i, n))
        )
        data = engine.reader_data("records", limit=8, writer="smollm2-135m", trim=False)
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    for fact in written:
        assert fact.kind == "written" and fact.question.endswith("?")
        assert fact.answer.lower() in " ".join(Path(fact.source).read_text().split()).lower()
    assert len(data.rows) == 8 and data.kinds.get("written", 0) <= len(written) + 2


def test_plain_questions_ask_a_page_for_its_own_name_in_the_imperative() -> None:
    """The NAME line asked the other way ("How do I compare two files?" -> the program), only
    where it reads as something to do; options asked without naming the program."""
    from outweigh.adapters.mining import man_facts

    def which(name: str, what: str) -> list[tuple[str, str]]:
        page = f"NAME\n       {name} - {what}\n"
        facts = man_facts(f"{name}.txt", page, random.Random(0))
        return [(f.question, f.answer) for f in facts if f.kind == "which"]

    [(question, answer)] = which("cg_diff", "compares two Cachegrind output files")
    assert answer == "cg_diff" and question.endswith(" compare two Cachegrind output files?")
    [(question, _)] = which("cpio", "Copies files to and from archives")
    assert question.endswith(" copy files to and from archives?")
    assert which("sed", "the stream editor for filtering text") == []
    assert which("x", "same as the -a option of ls") == []
    assert which("openssl-ca", "sample minimal CA application. Executes openssl-ca(1)") == []
    page = "OPTIONS\n  -s, --squeeze-blank\n     suppress repeated empty output lines\n"
    kinds = {
        f.kind: (f.question, f.answer)
        for seed in range(8)
        for f in man_facts("cat.txt", page, random.Random(seed))
    }
    plain = {
        f.question: f.answer
        for seed in range(8)
        for f in man_facts("cat.txt", page, random.Random(seed))
        if f.kind == "plain option"
    }
    assert any(q.startswith("How") for q in plain) and any(q.startswith("Wh") for q in plain)
    for question, answer in plain.items():
        assert "cat" not in question and "suppress repeated" in question
        # Asked how, the answer is a command line; asked which option, the option.
        assert answer == (
            "cat --squeeze-blank" if question.startswith("How") else "--squeeze-blank"
        )
    assert "cat" in kinds["option"][0] and kinds["option"][1] == "--squeeze-blank"


def test_a_sentence_run_into_a_pages_footer_is_not_its_package() -> None:
    import random

    from outweigh.adapters.mining import man_facts

    text = (
        "COPYRIGHT\n Licensed under the Apache License 2.0. You can obtain a copy at\n"
        " <https://www.openssl.org/source/license.html>.\n\n"
        "3.0.19 2026-01-27 OPENSSL-MAC(1SSL)\n"
    )
    assert [
        f for f in man_facts("openssl-mac.txt", text, random.Random(0)) if f.kind == "release"
    ] == []
    footer = "\nGNU coreutils 9.4 April 2024 SORT(1)\n"
    got = [f for f in man_facts("sort.txt", footer, random.Random(0)) if f.kind == "release"]
    assert [f.answer for f in got] == ["9.4"] and "GNU coreutils" in got[0].question


def test_a_block_of_fields_is_asked_about_its_heading_and_code_is_not_mined() -> None:
    from outweigh.adapters.mining import mine

    text = (
        "## Configuration\n\n"
        "#### http.debug\n\n"
        "- Type: boolean\n- Default: false\n- Environment: CARGO_HTTP_DEBUG\n\n"
        "Caution: Due to the low-level nature of passing flags to the compiler.\n\n"
        '```toml\n[package]\nversion = "0.1.0"\nhomepage = "https://serde.rs"\n```\n\n'
        "- [Avoid incorrect lifetime errors](https://github.com/rust-lang/rust/pull/117011)\n"
    )
    got = list(mine("reference-config.md", text, random.Random(0)))
    fields = {f.answer: f.question for f in got if f.kind == "field"}
    # The block's fields are about the heading over them, not the file.
    assert set(fields) == {"boolean", "CARGO_HTTP_DEBUG"}  # "Default" is a key never asked
    assert all("http.debug" in q for q in fields.values())
    # A lone label over a sentence is not a field; an example's values are not the text's.
    assert all("caution" not in f.question.lower() for f in got)
    assert all(f.answer not in ("0.1.0", "https://serde.rs") for f in got)
    # A link's address is asked by the link's text.
    (link,) = [f for f in got if f.kind == "prose-url"]
    assert "“Avoid incorrect lifetime errors”" in link.question


def test_a_value_is_asked_by_a_label_not_by_the_sentence_it_sits_in() -> None:
    from outweigh.adapters.mining import prose_facts

    text = (
        "# News\n\nReleased on 2020-06-30\n\n"
        "This fixes it with IDLEs released before November 2015.\n\n"
        "See https://example.org/more for more.\n\n"
        "IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE\n"
    )
    got = {f.answer: f.question for f in prose_facts("news.md", text, random.Random(0), None)}
    # A short label names its value; a sentence or a lone "See" does not, so the value is
    # asked by the heading over it, and a licence's capitals name no person.
    assert "Released on" in got["2020-06-30"]
    assert "November 2015" not in got or "IDLEs" not in got["November 2015"]
    assert "https://example.org/more" not in got or "See" not in got["https://example.org/more"]
    assert not [a for a in got if "COPYRIGHT" in a or "HOLDERS" in a]
