"""A question's names with digits: found in the question, matched in passages and file
names, looked up in the collection, and answered "I don't know" when no document has them."""

import shutil

import pytest

from outweigh import AskOptions, Engine
from outweigh.retrieval import HybridSearcher, Store, ingest
from outweigh.retrieval.identifiers import (
    absent_answer,
    identifiers,
    mentions,
    missing,
    missing_quotes,
    quotes_held,
    unsaid_answer,
)
from outweigh.retrieval.select import NONE, Selection
from outweigh.testing import EchoBackend
from tests.conftest import SUITE

INFO = SUITE.parent / "suite-info" / "docs"


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("When was Rust 1.60.0 released?", ["1.60.0"]),
        ("Who wrote the patch for bpo-45495 in IDLE 3.11.0?", ["bpo-45495", "3.11.0"]),
        ("Which change was committed 2001-07-13 08:13?", ["2001-07-13", "08:13"]),
        ("What did pyenv v2.4.5 add for Issue #4008?", ["v2.4.5", "4008"]),
        (
            "Since when is `core::arch::x86::_mm_loadu_si32` stable?",
            ["core::arch::x86::_mm_loadu_si32"],
        ),
        ("Is there an x86 build of IDLE 0.3?", ["x86", "0.3"]),
        # Counts, small numbers and ordinals are not names; quoted titles are the
        # document's own words.
        ("How do I show the last 10 lines, or 512 of them?", []),
        ("What changed in the 3rd and the 21st release?", []),
        ("What is 2 + 2?", []),
        ("Who contributed “Add CPython 3.6.6” to pyenv?", []),
    ],
)
def test_the_names_a_question_gives(question, names):
    assert identifiers(question) == names


@pytest.mark.parametrize(
    ("text", "name", "held"),
    [
        ("## Release v2.4.5\n* fixes", "2.4.5", True),
        ("## Release 2.4.5", "v2.4.5", True),
        ("What's New in Python 3.12.0", "3.12", True),  # a release of that series
        ("pyenv 1.2.61 adds", "1.2.6", False),
        ("pyenv 11.2.6 adds", "1.2.6", False),
        ("bpo45495: fix", "bpo-45495", True),
        ("Encoded as utf8", "UTF-8", True),
        ("Issue #4008 fixed", "#4008", True),
        ("Issue #40081 fixed", "4008", False),
        ("files over 4 GB", "4GB", True),
        ("a 64 bit build", "64bit", True),
    ],
)
def test_a_name_matches_whole_words_in_a_row(text, name, held):
    assert mentions(text, name) is held


def test_a_file_name_counts_as_mentioning():
    passages = [("docs/rust-1.77.2.md", "Released 2024-04-09")]
    assert missing("When was Rust 1.77.2 released?", passages) == []
    assert missing("When was Rust 1.60.0 released?", passages) == ["1.60.0"]


def _notes(root, versions, name=lambda v: f"news-{v}.txt"):
    """Release notes of the same shape, one file each: only the version tells them apart."""
    root.mkdir()
    for i, v in enumerate(versions):
        (root / name(v)).write_text(
            f"What's New in Foo {v}\nReleased on 2018-{1 + i % 12:02d}-{10 + i:02d}\n\n"
            f"- Issue #{30100 + i}: the colorizer now colours f-string prefixes.\n"
            f"- Issue #{30200 + i}: the shell window keeps its size. Patch by A. Writer.\n"
        )
    return root


VERSIONS = [f"3.{minor}.{patch}" for minor in (5, 6, 7) for patch in range(1, 10)]


def test_the_collection_is_searched_for_a_name_by_phrase(paths, embedder, tmp_path):
    # The folder's name is not the documents': 4.0.1 in it is in no file name.
    docs = _notes(tmp_path / "foo-4.0.1", VERSIONS, name=lambda v: f"part-{VERSIONS.index(v)}.txt")
    (docs / "foo-3.8.1.txt").write_text("Foo is an editor.\n")
    (docs / "later.txt").write_text("What's New in Foo 3.6.61\nReleased on 2019-01-01\n")
    store = Store(paths)
    ingest([docs], store, embedder, "notes")
    coll = store.collection("notes")
    found, absent = HybridSearcher(store, embedder).mentioning(
        coll, "When was Foo 3.6.6 released?", ["3.6.6", "3.8.1", "4.0.1"], 5
    )
    sources = [h.source.rsplit("/", 1)[-1] for h in found]
    assert sources[0] == "part-14.txt"  # 3.6.6, in the text only
    assert "foo-3.8.1.txt" in sources  # 3.8.1, in the file name only
    assert "later.txt" not in sources  # 3.6.61 is not 3.6.6
    assert absent == ["4.0.1"]
    store.close()


@pytest.fixture
def notes(paths, embedder, tmp_path):
    backend = EchoBackend(reply="ok")
    e = Engine(paths, embedder=embedder, backend=backend)
    e.ingest([_notes(tmp_path / "notes", VERSIONS)], "notes")
    yield e, backend
    e.close()


def test_a_release_no_document_mentions_gets_i_dont_know_uncited(notes):
    e, backend = notes
    asked = len(backend.requests)
    answer = e.ask("When was Foo 3.8.2 released?", AskOptions(collection="notes", k=3))
    assert answer.answer == absent_answer(["3.8.2"])
    assert answer.answer == "I don't know: the documents do not mention 3.8.2."
    assert answer.citations == answer.context == []
    assert len(backend.requests) == asked  # the model was not asked


def test_the_passage_that_names_the_release_is_read(notes):
    e, _ = notes
    for v in ("3.6.6", "3.5.2", "3.7.9"):
        answer = e.ask(f"When was Foo {v} released?", AskOptions(collection="notes", k=3))
        assert answer.context[0].source.endswith(f"news-{v}.txt")
        assert f"Foo {v}\nReleased on" in answer.context[0].excerpt


def test_with_the_relevance_checks_off_no_name_is_checked(notes):
    e, backend = notes
    opts = AskOptions(collection="notes", k=3, selection=NONE)
    answer = e.ask("When was Foo 3.8.2 released?", opts)
    assert answer.answer == "ok" and len(answer.context) == 3
    assert "Context:" in backend.requests[-1].messages[-1]["content"]


def test_a_memory_that_names_the_release_still_answers(notes):
    e, backend = notes
    e.memory.remember("ana", "Foo 3.8.2 came out on my birthday, May 4.")
    opts = AskOptions(collection="notes", k=3, user="ana")
    answer = e.ask("When was Foo 3.8.2 released?", opts)
    assert answer.answer == "ok"  # the model was asked, with the memory and no passages
    assert [m.text for m in answer.memories] == ["Foo 3.8.2 came out on my birthday, May 4."]
    assert answer.context == []
    assert "Context:" not in backend.requests[-1].messages[-1]["content"]


def test_a_name_all_over_its_manual_does_not_crowd_out_the_line_that_answers(
    paths, embedder, tmp_path
):
    """bzip2 is on many lines of each of bzip2's Texinfo sections, and the question names the
    options section in full: the name earns those lines nothing, and the option's line is
    read, not another section's."""
    docs = tmp_path / "bzip2"
    docs.mkdir()
    for f in (SUITE.parent / "suite-info" / "docs").glob("bzip2-*.txt"):
        shutil.copy(f, docs)
    e = Engine(paths, embedder=embedder, backend=EchoBackend(reply="ok"))
    e.ingest([docs], "bzip2")
    q = (
        "What command-line option makes bzip2 do this: Reduce memory usage, for compression, "
        "decompression and testing?"
    )
    answer = e.ask(q, AskOptions(collection="bzip2", k=3))
    assert answer.context[0].source.endswith("bzip2-options.txt")
    assert "--small" in answer.context[0].excerpt
    assert len(answer.context) == 1
    e.close()


def test_a_quoted_span_the_passages_lack_is_named_but_never_absent():
    shown = [
        ("docs/lints.md", "See [issue #95228](https://github.com/rust-lang/rust/issues/95228).")
    ]
    assert missing_quotes("Where online is “issue #95228”?", shown) == []
    assert missing_quotes("Where online is “issue #95229”?", shown) == ["issue #95229"]
    assert missing_quotes("What does «lints» say?", shown) == []  # the file name holds it
    long = "What does “" + " ".join(["word"] * 13) + "” mean?"
    assert missing_quotes(long, shown) == []  # a sentence of the asker's, not a title


def test_a_quoted_run_of_words_a_text_holds_ties_the_question_to_it():
    text = "as described in the [build doc](https://example.org/build.md) and the example"
    assert quotes_held("Where online is “build doc”?", [text])
    assert quotes_held('What does "the example" say?', ["x", text])
    assert not quotes_held("Where online is “build docs”?", [text])  # not its words
    assert not quotes_held("Where online is “build”?", [text])  # one word: everyday
    assert not quotes_held("Where online is the build doc?", [text])  # not quoted


def _lint_listing(root):
    """One long page of lint sections alike in words and meaning, each with its issue link:
    only the quoted issue number tells the section asked about from the others."""
    root.mkdir()
    topics = [
        "unused imports",
        "unsafe blocks without comments",
        "trivial casts",
        "missing docs",
        "unreachable patterns",
        "deprecated paths",
        "elided lifetimes in paths",
        "box pointers",
        "variant size differences",
        "single-use lifetimes",
        "unused qualifications",
        "missing debug implementations",
    ]
    where = [
        "in macros",
        "in tests",
        "in traits",
        "across crates",
        "in loops",
        "in closures",
        "in consts",
        "in impls",
    ]
    verbs = ["detects", "warns about", "reports", "flags", "catches"]
    parts = [
        "# Allowed-by-default Lints\n\nThese lints are all set to the 'allow' level by default.\n"
    ]
    for i, topic in enumerate(f"{a} {b}" for a in topics for b in where):
        name, issue = topic.replace(" ", "_").replace("-", "_"), 90000 + 137 * i
        parts.append(
            f"## {name}\n\nThe `{name}` lint {verbs[i * 7 % 5]} {topic}.\n\n### Example\n\n"
            f"```rust\n#![deny({name})]\nfn main() {{}}\n```\n\nThis lint is allowed by default "
            "because it is still being worked on. See "
            f"[issue #{issue}](https://github.com/rust-lang/rust/issues/{issue}) "
            "for more details, and the lint levels chapter for how to turn it on.\n"
        )
    (root / "lints-listing-allowed-by-default.md").write_text("\n".join(parts))
    levels = "Each lint has a default level, allow, warn or deny; the compiler has a default "
    (root / "lints-levels.md").write_text("# Lint Levels\n\n" + (levels + "warning level. ") * 3)
    return root


def test_the_chunk_that_holds_a_quoted_span_is_read(paths, embedder, tmp_path):
    """The page's 96 sections are alike in words and meaning; only the quoted issue number
    tells the one asked about. Without the literal lookup of the quoted span, another
    section is read."""
    e = Engine(paths, embedder=embedder, backend=EchoBackend(reply="ok"))
    e.ingest([_lint_listing(tmp_path / "lints")], "lints")
    issue = 90000 + 137 * 57
    q = f"Where online is “issue #{issue}”, according to the allowed-by-default lints?"
    answer = e.ask(q, AskOptions(collection="lints", k=3))
    assert f"[issue #{issue}](https://github.com/rust-lang/rust/issues/{issue})" in (
        answer.context[0].excerpt
    )
    e.close()


def test_a_question_on_what_the_documents_are_named_for_that_they_do_not_answer(
    paths, embedder, tmp_path
):
    """Where selection drops every passage (here a floor no line reaches; over the whole
    Texinfo suite, the Coreutils home page question at the bundled embedder's own floor), a
    question that names "coreutils", the first word of the pages' file names and no everyday
    word, is about them: "I don't know", uncited, where the bare model made a URL up. A
    question that names nothing of theirs is still answered bare."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("coreutils-introduction", "coreutils-true-invocation", "bc-variables"):
        (docs / f"{name}.txt").write_text((INFO / f"{name}.txt").read_text())
    backend = EchoBackend(reply="ok")
    opts = AskOptions(collection="docs", k=3, selection=Selection(floor=0.99))
    with Engine(paths, embedder=embedder, backend=backend) as e:
        e.ingest([docs], "docs")
        asked = len(backend.requests)
        home = e.ask("What is the home page URL of GNU Coreutils, according to its manual?", opts)
        assert home.answer == unsaid_answer(["coreutils"])
        assert home.answer == "I don't know: the documents on coreutils do not say."
        assert home.citations == home.context == []
        assert len(backend.requests) == asked  # the model was not asked
        for bare in ("What is the capital of France?", "What does the true command do?"):
            answer = e.ask(bare, opts)  # "true" is an everyday word
            assert (answer.answer, answer.context) == ("ok", [])
        # At the embedder's own floor the page that answers is read.
        true = e.ask("What does the true command of GNU Coreutils do?", AskOptions("docs", k=3))
        assert true.context[0].source.endswith("coreutils-true-invocation.txt")
