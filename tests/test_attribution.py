"""True citations on the suite's own documents: the supporting passage, never a distractor,
never every passage by default."""

from __future__ import annotations

from dataclasses import replace

import pytest

from outweigh.attribution import MAX_ATTRIBUTED, held_share, supporting
from outweigh.prompt import Citation
from tests.conftest import ROOT, SUITE


def _section(doc: str, heading: str) -> str:
    """One `## heading` section of a suite document: a passage as retrieval returns it."""
    text = (SUITE / "docs" / doc).read_text("utf-8")
    return text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0].strip()


@pytest.fixture
def passages() -> list[Citation]:
    """Three passages for a question about the Heron-7: the gold one first in the text, a
    distractor about the same submersible (it shares the question's words, not the fact),
    and one about something else."""
    heron = _section("equipment.md", "The Heron-7 submersible").split("\n\n")
    return [
        Citation(1, "equipment.md", 11, heron[1], 0.9),  # docking station and charging
        Citation(2, "equipment.md", 10, heron[0], 0.8),  # depth rating: the gold passage
        Citation(3, "policies.md", 20, _section("policies.md", "Leave"), 0.5),
    ]


Q = "What is the maximum depth the Heron-7 submersible is rated to?"


def test_the_passage_holding_the_fact_is_cited_not_the_one_sharing_the_subject(
    passages: list[Citation],
) -> None:
    assert "412" in passages[1].text and "Heron-7" in passages[0].text
    for answer in (
        "The Heron-7 submersible is rated to a maximum depth of 412 metres.",
        "412 metres",
        "It can dive to 412 metres, carrying a sonar mast.",
    ):
        assert [c.n for c in supporting(answer, passages, Q)] == [2], answer


def test_nothing_supported_cites_nothing(passages: list[Citation]) -> None:
    """No fallback to all passages: no marker and no overlap is no citation."""
    for answer in (
        "I don't know.",
        "The context does not say.",
        "It is rated to 950 metres.",  # a wrong fact no passage holds
        "",
    ):
        assert supporting(answer, passages, Q) == [], answer
    assert supporting("412 metres", [], Q) == []
    # A negation alone states nothing, even where a passage says "not" too.
    negative = [Citation(1, "a.md", 1, "Do not dive below 412 metres.", 0.1)]
    for answer in ("I don't know: the context does not say.", "Not stated [1].", "No."):
        assert supporting(answer, negative, Q) == [], answer
    assert [c.n for c in supporting("Not below 412 metres [1].", negative, Q)] == [1]


def test_markers_that_check_out_are_kept_in_order(passages: list[Citation]) -> None:
    answer = "It is rated to 412 metres [2]; members get 27 days of leave [3][2]."
    assert [c.n for c in supporting(answer, passages, Q)] == [2, 3]


def test_a_marker_on_a_passage_that_holds_nothing_of_the_answer_is_dropped(
    passages: list[Citation],
) -> None:
    """A false [n] is not a citation; attribution then finds the passage that holds it."""
    assert [c.n for c in supporting("It is rated to 412 metres [3].", passages, Q)] == [2]
    assert [c.n for c in supporting("It goes to 412 metres [7].", passages, Q)] == [2]


def test_a_long_answer_cites_at_most_two(passages: list[Citation]) -> None:
    """An answer that copies every passage is attributed to the two it draws on most."""
    echo = "\n".join(c.text for c in passages)
    cited = supporting(echo, passages, Q)
    assert 1 <= len(cited) <= MAX_ATTRIBUTED


def test_a_flag_is_a_key_token_not_a_stopword() -> None:
    """In a manual page the answer is often a flag: "-i" must not read as the word "i"."""
    grep = [
        Citation(1, "grep.1", 1, "-v, --invert-match  Invert the sense of matching.", 0.9),
        Citation(2, "grep.1", 2, "-i, --ignore-case  Ignore case distinctions in patterns.", 0.8),
    ]
    question = "Which grep option ignores case distinctions?"
    assert [c.n for c in supporting("Use -i.", grep, question)] == [2]
    assert [c.n for c in supporting("--invert-match", grep, question)] == [1]


def test_russian_text_is_attributed() -> None:
    docs = [
        Citation(1, "a.md", 1, "Склад открыт с девяти утра до шести вечера.", 0.9),
        Citation(2, "b.md", 2, "Пароль от сети склада меняют каждый месяц.", 0.8),
    ]
    question = "Когда открыт склад?"
    assert [c.n for c in supporting("С девяти утра до шести вечера.", docs, question)] == [1]
    assert supporting("Я не знаю.", docs, question) == []


def test_an_inflected_or_cut_off_word_still_matches(passages: list[Citation]) -> None:
    """ "metre" is found in "metres", and a name the token cap cut ("Brenne") in the whole."""
    assert [c.n for c in supporting("412 metre", passages, Q)] == [2]
    assert supporting("41 metres", passages, Q) == []  # a number matches only whole
    assert supporting("4120 metres", passages, Q) == []
    director = [
        Citation(1, "overview.md", 1, "The cooperative's director is Odalys Brenneke.", 0.9),
        passages[2],
    ]
    cut = "The director of the cooperative is Odalys Brenne"
    assert [c.n for c in supporting(cut, director, "Who is the director?")] == [1]


def test_an_embellished_answer_still_rests_on_its_passage() -> None:
    """SmolLM2's answer on examples/suite: "female" is its own, "named" repeats the
    question's "name"; the passage holding "Grumbold" is cited, the distractor is not."""
    history = (SUITE / "docs" / "history.html").read_text("utf-8")
    mascot = next(p for p in history.split("<p>") if "Grumbold" in p)
    docs = [
        Citation(1, "overview.md", 1, _section("overview.md", "Who we are"), 0.9),
        Citation(2, "history.html", 2, mascot, 0.8),
    ]
    question = "What is the name of the Vellmark cooperative's otter mascot?"
    answer = "The Vellmark Tidal Robotics Cooperative's mascot is a female otter named Grumbold."
    assert [c.n for c in supporting(answer, docs, question)] == [2]


def test_an_answer_is_checked_against_the_lines_the_model_read() -> None:
    # Selection showed the tty page's NAME line and footer beside the best line's chunk: the
    # release is in the footer, which lies in another chunk of the page.
    page = (ROOT / "examples" / "suite-man" / "docs" / "tty.txt").read_text("utf-8")
    chunk, footer = page[:600], " ".join(page.strip().splitlines()[-1].split())
    assert "9.1" not in chunk and "9.1" in footer
    shown = Citation(1, "tty.txt", 4, chunk, 0.9, excerpt=f"tty - print the file name\n{footer}")
    q = "Which release of tty does this manual page document?"
    assert supporting("9.1 [1]", [shown], q) == [shown]
    # Unselected, the stored chunk is all it read, and it does not hold the release.
    assert supporting("9.1 [1]", [replace(shown, excerpt=None)], q) == []


@pytest.mark.parametrize(
    ("text", "answer", "share"),
    [
        ("- Issue #5707: ... Patch by Amaury Forgeot d'Arc.", "Amaury Forgeot [1]", 1.0),
        ("- Issue #4008: Fix problems with non-ASCII source files.", "Amaury Forgeot [1]", 0.0),
        ("Thanks to Amaury Arc.", "Amaury Forgeot [1]", 0.5),
        ("See https://github.com/rust-lang/cargo/pull/12578/", "12578", 1.0),  # in a compound
        ("Anything at all.", "I don't know: the context does not say.", 0.0),  # states nothing
    ],
)
def test_the_share_of_an_answers_key_words_a_text_holds(
    text: str, answer: str, share: float
) -> None:
    assert held_share(text, answer, "Who wrote the patch?") == share


def test_a_name_joined_by_a_dot_is_the_answer_not_the_questions_words() -> None:
    # "pacote.extract" is not "pacote" of the question with an ending: it is the answer,
    # and the passage that writes it is cited.
    api = Citation(
        1, "pacote-README.md", 1, "* `pacote.extract(spec, dest)` Extract a tarball.", 0.9
    )
    question = "Which pacote function does this: Extract a tarball?"
    assert supporting("pacote.extract [1]", [api], question) == [api]
    assert supporting("`config.load()` [1]", [api], "Which config function loads it?") == []
