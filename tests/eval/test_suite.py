"""Suite loading: every part, and one clear error, with its line number, per malformed line."""

from __future__ import annotations

from pathlib import Path

import pytest

from outweigh.errors import InputError, NotFoundError
from outweigh.eval.suite import load_suite
from tests.conftest import SUITE
from tests.eval.conftest import MakeSuite

DOCS = {"hr/policies.md": "Visitors wear amber badges.", "safety.txt": "Dial 4471."}
Q = {"question": "What colour are visitor badges?", "answers": ["amber"], "source": "policies.md"}


def test_the_bundled_suite_loads() -> None:
    suite = load_suite(SUITE)
    assert len(suite.questions) >= 12
    assert all(q.source for q in suite.questions)
    assert suite.memory and suite.memory_asks >= 1
    assert suite.docs == SUITE / "docs"


@pytest.mark.parametrize("name", ["suite-log", "suite-info", "suite-readme"])
def test_the_development_suites_load_with_unanswerable_questions(name: str) -> None:
    suite = load_suite(SUITE.parent / name)
    answerable = [q for q in suite.questions if not q.abstain]
    unanswerable = [q for q in suite.questions if q.abstain]
    assert len(answerable) >= 40 and len(unanswerable) >= 12
    assert all(q.source and q.answers and q.kind for q in answerable)
    assert len({q.kind for q in answerable}) >= 5
    assert all(not q.answers and q.source is None for q in unanswerable)


def test_questions_over_another_folder_of_documents(tmp_path: Path) -> None:
    offtopic = SUITE.parent / "offtopic"
    with pytest.raises(InputError, match="needs a docs/ folder beside it"):
        load_suite(offtopic)
    suite = load_suite(offtopic, SUITE / "docs")
    assert suite.docs == SUITE / "docs" and len(suite.questions) == 40
    assert all(q.source is None and q.kind == "offtopic" for q in suite.questions)
    with pytest.raises(InputError, match="is not a folder"):
        load_suite(offtopic, tmp_path / "missing")


def test_all_three_parts(make_suite: MakeSuite) -> None:
    root = make_suite(
        questions=[Q, "", {"question": "Extension?", "answers": ["4471", "ext. 4471"]}],
        style=[{"prompt": "Write a note.", "check": {"ends_with": "-- Vellmark"}}],
        memory=[
            {"user": "ana", "session": "1", "say": "My boat is the Brisket Moon."},
            {"user": "ana", "session": "2", "ask": "What is my boat?", "answers": ["Brisket Moon"]},
        ],
        docs=DOCS,
    )
    suite = load_suite(root)
    assert [q.line for q in suite.questions] == [1, 3]  # blank lines skipped, numbering kept
    assert suite.questions[1].answers == ("4471", "ext. 4471")
    assert suite.questions[1].source is None
    assert suite.style[0].check("Done.\n-- Vellmark\n")
    assert not suite.style[0].check("-- Vellmark. Done.")
    assert [s.is_ask for s in suite.memory] == [False, True]


def test_the_memory_suite_is_built_by_its_script_and_covers_every_category() -> None:
    import importlib.util
    import json

    from outweigh.eval.suite import CATEGORIES

    root = SUITE.parent / "suite-memory"
    spec = importlib.util.spec_from_file_location("make_suite", root / "make_suite.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    on_disk = [json.loads(line) for line in (root / "memory.jsonl").read_text().splitlines()]
    assert script.lines() == on_disk  # memory.jsonl is what the script writes
    suite = load_suite(root)
    asks = [s for s in suite.memory if s.is_ask]
    assert len(asks) >= 60
    assert {s.category for s in asks} == set(CATEGORIES)
    assert all(s.abstain for s in asks if s.category in ("abstention", "isolation"))


def test_any_single_part_is_a_suite(make_suite: MakeSuite) -> None:
    style = load_suite(make_suite(style=[{"prompt": "Hi", "check": {"starts_with": "Ahoy"}}]))
    assert style.questions == () and style.docs is None
    assert style.style[0].check("Ahoy there") and not style.style[0].check("Hello")


def test_limit_keeps_the_lines_said_before_each_ask(make_suite: MakeSuite) -> None:
    memory = [
        {"user": "a", "session": "1", "say": "My cat is Tom."},
        {"user": "a", "session": "2", "ask": "My cat?", "answers": ["Tom"]},
        {"user": "a", "session": "2", "say": "My dog is Rex."},
        {"user": "a", "session": "3", "ask": "My dog?", "answers": ["Rex"]},
    ]
    suite = load_suite(make_suite(questions=[Q, Q, Q], memory=memory, docs=DOCS)).limited(1)
    assert len(suite.questions) == 1
    assert [s.line for s in suite.memory] == [1, 2]


@pytest.mark.parametrize(
    ("file", "rows", "says"),
    [
        ("questions", [Q, "{not json"], "questions.jsonl line 2: not valid JSON"),
        ("questions", [Q, "[1, 2]"], "questions.jsonl line 2: expected a JSON object, got list"),
        ("questions", [{"answers": ["x"]}], "line 1: missing key 'question'"),
        ("questions", [{"question": "q"}], "line 1: missing key 'answers'"),
        ("questions", [{**Q, "answer": "x"}], "line 1: unknown key 'answer'"),
        ("questions", [{"question": "q", "abstain": False}], '"abstain" is true or absent'),
        (
            "questions",
            [{"question": "q", "abstain": True, "answers": ["x"]}],
            "line 1: unknown key 'answers'",
        ),
        ("questions", [{"question": "", "answers": ["x"]}], "'question' must be a non-empty"),
        (
            "questions",
            [{"question": "q", "answers": "amber"}],
            '"answers" must be a non-empty list',
        ),
        ("questions", [{"question": "q", "answers": []}], '"answers" must be a non-empty list'),
        ("questions", [{"question": "q", "answers": ["x", 3]}], "only non-empty strings"),
        ("questions", [{"question": "q", "answers": ["The."]}], "answer 'The.' is empty once"),
        ("questions", [Q, {**Q, "source": "nope.md"}], "line 2: source 'nope.md' is not a file"),
        ("questions", [{**Q, "source": "../x.md"}], "source '../x.md' is not a file"),
        ("questions", [{**Q, "question": "q" * 5000}], "the limit is 4000"),
        ("style", [{"prompt": "p", "check": "ends"}], 'style.jsonl line 1: "check" must be'),
        ("style", [{"prompt": "p", "check": {"contains": "x"}}], "unknown check 'contains'"),
        ("style", [{"prompt": "p", "check": {"regex": "(", "ends_with": "x"}}], '"check" must'),
        ("style", [{"prompt": "p", "check": {"regex": "(unclosed"}}], "does not compile"),
        ("style", [{"prompt": "p", "check": {"ends_with": " "}}], "non-empty string"),
        (
            "memory",
            [{"user": "a", "session": "1"}],
            'memory.jsonl line 1: give exactly one of "say"',
        ),
        (
            "memory",
            [{"user": "a", "session": "1", "say": "x", "ask": "y", "answers": ["z"]}],
            "exactly one of",
        ),
        ("memory", [{"user": "a", "session": "1", "ask": "y"}], 'line 1: an "ask" needs "answers"'),
        (
            "memory",
            [{"user": "a", "session": "1", "ask": "y", "abstain": True, "category": "misc"}],
            "unknown category 'misc'",
        ),
        (
            "memory",
            [{"user": "a", "session": "1", "ask": "y", "abstain": "yes"}],
            '"abstain" must be true or false',
        ),
        (
            "memory",
            [{"user": "a", "session": "1", "ask": "y", "answers": ["z"], "forbidden": []}],
            '"forbidden" must be a non-empty list',
        ),
        ("memory", [{"user": "", "session": "1", "say": "x"}], "'user' must be a non-empty"),
        ("memory", [{"user": "a", "session": "1", "say": "x"}], "has no `ask` line"),
    ],
)
def test_malformed_lines_name_file_and_line(
    make_suite: MakeSuite, file: str, rows: list, says: str
) -> None:
    root = make_suite(**{file: rows}, docs=DOCS)
    with pytest.raises(InputError) as err:
        load_suite(root)
    assert says in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_folders(make_suite: MakeSuite, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        load_suite(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        load_suite(tmp_path / "file.txt")
    with pytest.raises(InputError, match="nothing to evaluate"):
        load_suite(make_suite(name="empty"))
    with pytest.raises(InputError, match="needs a docs/ folder"):
        load_suite(make_suite(questions=[Q], name="nodocs"))
    with pytest.raises(InputError, match="holds no documents"):
        load_suite(make_suite(questions=[Q], docs={"x.bin": "x"}, name="bindocs"))
    with pytest.raises(InputError, match="has no lines"):
        load_suite(make_suite(questions=["", " "], docs=DOCS, name="blank"))


def test_non_utf8_file(make_suite: MakeSuite) -> None:
    root = make_suite(style=[{"prompt": "p", "check": {"ends_with": "x"}}])
    (root / "style.jsonl").write_bytes(b'{"prompt": "caf\xe9", "check": {"ends_with": "x"}}\n')
    with pytest.raises(InputError, match="is not UTF-8"):
        load_suite(root)


def test_a_lone_surrogate_escape_is_a_one_line_error(make_suite: MakeSuite) -> None:
    root = make_suite(style=[{"prompt": "p", "check": {"ends_with": "x"}}])
    (root / "style.jsonl").write_text('{"prompt": "caf\\ud800", "check": {"ends_with": "x"}}\n')
    with pytest.raises(InputError, match=r"style.jsonl line 1: holds a lone surrogate"):
        load_suite(root)
