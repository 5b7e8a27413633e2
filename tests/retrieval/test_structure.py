"""What a line hangs from, and what a line holds or a question asks: read from the text."""

from __future__ import annotations

import pytest

from outweigh.retrieval.structure import ancestors, asked, holds, lines_of, outline

CHANGELOG = """\
frobnicate (2.4-1) unstable; urgency=medium

  * New upstream release.
  * Drop the old patch.

 -- Ana Lima <ana@example.org>  Tue, 03 Sep 2024 10:00:00 +0200

frobnicate (2.3-2) unstable; urgency=low

  * Fix the build.

 -- Bo Chen <bo@example.org>  Mon, 01 Jan 2024 09:00:00 +0100
"""

MARKDOWN = """\
# Widget

## Install

Run `pip install widget`.

| Platform | Minimum |
|----------|---------|
| Linux    | 5.4     |
| macOS    | 12      |

Known issues:
- The dial sticks in the cold.

Release notes
=============

Nothing yet.
"""


def _parents(text: str) -> dict[str, str | None]:
    lines = lines_of(text)
    parent = outline(lines)
    return {
        line.text: (lines[p].text if p is not None else None)
        for line, p in zip(lines, parent, strict=True)
    }


def test_a_changelog_entry_hangs_its_items_and_sign_off_from_its_heading() -> None:
    got = _parents(CHANGELOG)
    head = "frobnicate (2.4-1) unstable; urgency=medium"
    assert got["* New upstream release."] == head
    assert got["-- Ana Lima <ana@example.org>  Tue, 03 Sep 2024 10:00:00 +0200"] == head
    # The next entry starts over: its sign-off is not the first entry's.
    assert got["-- Bo Chen <bo@example.org>  Mon, 01 Jan 2024 09:00:00 +0100"] == (
        "frobnicate (2.3-2) unstable; urgency=low"
    )


def test_headings_tables_labels_and_underlines() -> None:
    got = _parents(MARKDOWN)
    assert got["## Install"] == "# Widget"
    assert got["Run `pip install widget`."] == "## Install"
    assert got["| Linux    | 5.4     |".strip()] == "| Platform | Minimum |"
    assert got["- The dial sticks in the cold."] == "Known issues:"
    assert got["Nothing yet."] == "Release notes"


def test_ancestors_walk_up_to_the_top() -> None:
    lines = lines_of(MARKDOWN)
    parent = outline(lines)
    row = next(i for i, line in enumerate(lines) if line.text.startswith("| macOS"))
    assert [lines[a].text for a in ancestors(parent, row)] == [
        "| Platform | Minimum |",
        "## Install",
        "# Widget",
    ]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who uploaded version 2.4-1 of frobnicate?", "person"),
        ("When was frobnicate 2.3-2 released?", "date"),
        ("What is the e-mail address of Ana Lima?", "email"),
        ("What is the homepage of widget?", "url"),
        ("Which version of widget added the dial?", "version"),
        ("How many platforms does widget support?", "number"),
        ("What does the frobnicate command do?", None),
    ],
)
def test_the_type_a_question_asks_for(question: str, kind: str | None) -> None:
    assert asked(question) == kind


def test_what_a_line_holds() -> None:
    sign_off = "-- Ana Lima <ana@example.org>  Tue, 03 Sep 2024 10:00:00 +0200"
    assert holds(sign_off, "person") and holds(sign_off, "email") and holds(sign_off, "date")
    assert holds("Written by Mike Haertel and Paul Eggert.", "person")
    assert holds("See https://example.org/widget for more.", "url")
    assert holds("widget 1.4.2 fixes the dial", "version")
    # Two capitalised words are not a person, nor is a bare word before a colon.
    assert not holds("There is NO WARRANTY, to the extent permitted by law.", "person")
    assert not holds("Nothing yet.", "date")
