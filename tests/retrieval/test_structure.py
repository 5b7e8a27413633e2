"""What a line hangs from, and what a line holds or a question asks: read from the text."""

from __future__ import annotations

import pytest

from outweigh.retrieval.structure import (
    ancestors,
    asked,
    demands,
    gives,
    holds,
    lines_of,
    outline,
    records,
    starts_item,
)

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


def test_a_block_of_code_hangs_from_the_line_that_introduces_it() -> None:
    got = _parents(
        "## Install\n\nOnce rustup is installed, run the following command:\n\n"
        "```terminal\nrustup component add clippy\n```\n\nThen run it.\n\n"
        "```sh\ncargo clippy\n```"
    )
    intro = "Once rustup is installed, run the following command:"
    assert got["rustup component add clippy"] == got["```terminal"] == intro
    # The block ends what the colon introduced: the next paragraph, and a block after a
    # line with no colon, hang from the heading.
    assert got["Then run it."] == got["cargo clippy"] == "## Install"


def test_a_record_hangs_from_the_field_that_names_it() -> None:
    many = "\n\n".join(
        f"Metadata-Version: 2.{n % 2}\nName: {name}\nVersion: 1.{n}\nAuthor: A. {name.title()}"
        for n, name in enumerate(["attrs", "click", "rich", "typer"])
    )
    got = _parents(many)
    # "Metadata-Version" repeats its values from record to record: it says what kind of
    # record it is, and "Name" says which.
    assert got["Version: 1.1"] == got["Author: A. Click"] == "Name: click"
    assert got["Metadata-Version: 2.1"] is None
    lines = lines_of(many)
    assert records(lines, outline(lines)) == 4
    # One record alone hangs from its first field, as before.
    one = _parents("Metadata-Version: 2.1\nName: click\nVersion: 8.5.1")
    assert one["Version: 8.5.1"] == one["Name: click"] == "Metadata-Version: 2.1"


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
        ("Under what license is widget distributed?", "license"),
        ("What does the frobnicate command do?", None),
    ],
)
def test_the_type_a_question_asks_for(question: str, kind: str | None) -> None:
    assert asked(question) == kind


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        # An e-mail address asked for in other words than "e-mail address".
        ("How can Tim Bunce be reached by e-mail, according to DBI?", "email"),
        ("DBI: what is Tim Bunce's e-mail?", "email"),
        ("What e-mail does the README give for security reports?", "email"),
        ("What is the bug-report address of GNU sed, according to its manual?", "email"),
        ("Which address should bug reports for GNU ed be sent to?", "email"),
        ("What is the contact address of the maintainers?", "email"),
        ("Какой e-mail у автора DBI?", "email"),
        ("Какой адрес электронной почты у автора?", "email"),
        # E-mail as the kind of a thing, or what a program does, is no address asked for.
        ("What does the email module do?", None),
        ("Which e-mail client does mutt replace?", None),
        ("How do I send e-mail with mail?", None),
        ("How do I send a patch by e-mail?", None),
        ("Which program sends e-mail?", "command"),
        ("Which bug report does 2.3 address?", None),
        # A version asked as "the version of".
        ("IO-Zlib: what is the version of Perl?", "version"),
        ("What is the release date of widget 2.0?", "date"),
    ],
)
def test_the_type_a_question_demands(question: str, kind: str | None) -> None:
    assert demands(question) == kind


def test_what_a_line_holds() -> None:
    sign_off = "-- Ana Lima <ana@example.org>  Tue, 03 Sep 2024 10:00:00 +0200"
    assert holds(sign_off, "person") and holds(sign_off, "email") and holds(sign_off, "date")
    assert holds("Written by Mike Haertel and Paul Eggert.", "person")
    assert holds("See https://example.org/widget for more.", "url")
    assert holds("widget 1.4.2 fixes the dial", "version")
    # Two capitalised words are not a person, nor is a bare word before a colon.
    assert not holds("There is NO WARRANTY, to the extent permitted by law.", "person")
    assert not holds("Nothing yet.", "date")
    # A licence: a sentence that puts the work under one, a title line, a field.
    assert holds('Licensed under the Apache License, Version 2.0 (the "License");', "license")
    assert holds("`widget` is available under the MIT license. See LICENSE.", "license")
    assert holds("  GNU GENERAL PUBLIC LICENSE", "license")
    assert holds("License: BSD-3-Clause", "license")
    assert not holds("you may not use this file except in compliance with the License.", "license")


@pytest.mark.parametrize(
    ("line", "starts"),
    [
        ("- Issue #14962: Update text coloring in IDLE shell window after changing", True),
        ("* python-build: Add PyPy 7.0.0, 7.1.0", True),
        ("2) Run the installer.", True),
        ("-v, --verbose", True),
        ("--color[=WHEN]", True),
        ("Maintainer: Ana Lima <ana@example.org>", True),
        ("| Linux    | 5.4     |", True),
        ("## Install", True),
        # What goes on with the line above: a wrapped sentence, a description, a sign-off.
        ("options.  Patch by Roger Serwy.", False),
        ("always print headers giving file names", False),
        ("-- Ana Lima <ana@example.org>  Tue, 03 Sep 2024 10:00:00 +0200", False),
        ("3.4.3 is the last release of the 3.4 series.", False),
        ("2024-01-03 was the release date.", False),
    ],
)
def test_what_begins_an_item_of_its_own(line: str, starts: bool) -> None:
    assert starts_item(line) is starts


@pytest.mark.parametrize(
    ("answer", "question", "given"),
    [
        # The question's own rare words back: the subject, not the answer.
        ("--fuzz [1]", "What is the default value of the --fuzz option of patch?", False),
        # An option of everyday words is still a name, and "v1.2" is the version "1.2".
        ("--number-width [1]", "What is the default for the --number-width option of nl?", False),
        ("v20151103 [1]", "What PyPy release was added in pyenv 20151103?", False),
        ("4.0.0 [1]", "What PyPy release was added in pyenv 20151103?", True),
        # ...nor digits the question writes otherwise: the document's name ("Meta_1_2").
        ("1.2 [1]", "CPAN-Meta-History-Meta 1 2: what is the version of perl?", False),
        ("5.005 [1]", "CPAN-Meta-History-Meta 1 2: what is the version of perl?", True),
        ("v1.2 [1]", "Which version of frob 1.2's format does frob 2.0 read?", False),
        ("gsutil [1]", "Which command installs gsutil, according to its README?", False),
        ("['1]", "What is the default for the --directories option of grep?", False),
        # A part of a name the question writes is that name back, not its author.
        ("npmcli [1]", "Who is the author of @npmcli/arborist?", False),
        ("Isaac Z. Schlueter [1]", "Who is the author of @npmcli/arborist?", True),
        # ...but an everyday word of the question may be the answer: the `split` command.
        ("split [1]", "How do I split a file into pieces?", True),
        # ...and a question that offers choices is answered by one of them.
        ("--reverse [1]", "Which option of sort reverses it, --reverse or --unique?", True),
        ("3 [1]", "What is the default value of the --fuzz option of patch?", True),
        # A value of another type than the question demands.
        ("14:51 elguavas [1]", "What is the e-mail address of elguavas?", False),
        ("elguavas@python.net [1]", "What is the e-mail address of elguavas?", True),
        ("rust-lang/rust/pull/113902 [1]", "Who authored the pull request “Fix it”?", False),
        ("Roger Serwy [1]", "In IDLE 2.7.3, who contributed the patch for Issue #4625?", True),
        ("PyParse.py [1]", "Which developer committed the change to AutoExpand.py?", False),
        ("@octocat [1]", "Who made the change?", True),
        ("ed.info [1]", "What is the home page URL of GNU ed?", False),
        ("https://www.gnu.org/software/ed/ [1]", "What is the home page URL of GNU ed?", True),
        ("soon [1]", "When was frobnicate 2.3-2 released?", False),
        ("20150226 [1]", "Which pyenv release includes the change “Add 3.4.3”?", True),
        ("three sides", "How many sides does a triangle have?", True),
        ("1,500 [1]", "How many files does it open at most?", True),
        ("00..53 [1]", "How many days are in a week?", False),
        ("11:11:04 [1]", "How many minutes are in an hour?", False),
        ("Когда угодно [1]", "Когда вышла версия 2.0?", False),
        # A licence is a name, not the URL of a LICENSE file; a minimum version has digits.
        ("https://raw.github.com/tkem/x/master/LICENSE [1]", "What is the license of x?", False),
        ("MIT [1]", "Under what license is node-gyp distributed?", True),
        ("MIT/Apache-2.0 [1]", "Which license is regex released under?", True),
        ("license [1]", "Under what license is node-gyp distributed?", False),
        # A marker alone says nothing, whatever the question.
        ("[1]", "Where can the contributing guide of Clippy be found?", False),
        ("- [1]", "Which PR number implements it?", False),
        # A person is a name: not a stop word alone, not an entry's text under its label.
        ("The [1]", "Who authored the pull request?", False),
        ("python-build: Added pyPy 5.1 [1]", "Who contributed it to pyenv 20150124?", False),
        # ...nor a phrase of everyday words; a name with its article or particle is a name.
        ("General file (de)compression [1]", "Who wrote the gzip program?", False),
        ("the Free Software Foundation [1]", "Who wrote the gzip program?", True),
        ("SymPy development team [1]", "Who is the author of sympy?", True),
        ("Guido van Rossum [1]", "Who wrote the IDLE ChangeLog?", True),
        ("Jean-loup Gailly and Mark Adler [1]", "Who wrote the gzip program?", True),
        ("@JarheadStever [1]", "Who is credited with the Zlib change?", True),
        ("Yamashita, Yuu [1]", "Who holds the copyright for pyenv-doctor?", True),
        ("Jane Doe <jane@example.org> [1]", "Who maintains widget?", True),
        # An install command installs.
        ("pip install charset-normalizer -U [1]", "How do you install charset_normalizer?", True),
        ("rustup component add clippy [1]", "Which command installs Clippy?", True),
        ("`git clone git://github.com/boto/boto.git` [1]", "How do you install boto?", True),
        ("--replace [1]", "How do you install charset_normalizer?", False),
        ("npm view [1]", "Which command installs `which`, according to its README?", False),
        ("cargo clippy -- [1]", "Which command installs Clippy, according to its README?", False),
        ("--mode [1]", "Which option of install does this: set permission mode?", True),
        ("--mode [1]", "Which command-line option of install sets the mode?", True),
        ("npm install x [1]", "What command does the x README give to install it?", True),
        ("pip3 install x [1]", "Как установить x?", True),
        ("The License [1]", "What is the license of x?", False),
        ("Apache License 2.0 [1]", "What is the license of x?", True),
        ("https://img.shields.io/pypi/v/x [2]", "Which minimum Python version does x need?", False),
        (">=3.8 [1]", "Which minimum Python version does x need?", True),
        ("https://img.shields.io/pypi/v/pyasn1 [1]", "Which version of pyasn1 is it?", False),
        ("3.7+ [1]", "Which Python versions does x support?", True),
        # A date is not a version; a release named by its date, or by year and month, is.
        ("2013-04-06 [1]", "In which IDLE version's NEWS does Issue #14962 appear?", False),
        ("2024-04-09 [1]", "What is the release date of Rust 1.77.2?", True),
        ("1.77.2 [1]", "What is the release date of Rust 1.77.2?", False),
        ("September 3, 2012 [1]", "Which pyenv release added it?", False),
        ("20150226 [1]", "Which pyenv release includes the change?", True),
        ("2021.11 [1]", "What Anaconda3 release was added in pyenv 2.2.3?", True),
        ("2.7.4 [1]", "In which IDLE version's NEWS does Issue #14962 appear?", True),
        # "Which option" takes an option; "which program" a name, not its description.
        ("-e, --exact [1]", "Какой параметр apropos ищет точные совпадения?", True),
        ("Искать точное совпадение [1]", "Какой параметр apropos ищет точные совпадения?", False),
        ("Sort in reverse order [1]", "Which option of sort reverses the order?", False),
        ("chage [1]", "Какой командой меняют сведения об устаревании паролей?", True),
        ("git log [1]", "Which command shows the history?", True),
        # "Which developer" and "Which GitHub user" take a person, as "who" does.
        ("@Gauravtalreja1 [1]", "Which GitHub user made the change “Fixes #394”?", True),
        ("kbk [1]", "Which developer committed the 2001-07-13 change?", True),
        ("https://github.com/x [1]", "Which developer committed the 2001-07-13 change?", False),
        ("window [1]", "What user interface does it have?", True),
        (
            "изменяет информацию об устаревании пароля пользователя [1]",
            "Какой командой меняют сведения об устаревании паролей?",
            False,
        ),
        # Question words that demand nothing: a date option, a symbolic link, the `who` page.
        (
            "--date-format [1]",
            "Which option of pr does this: use FORMAT for the header date?",
            True,
        ),
        ("ln --symbolic [1]", "How do I create a symbolic link?", True),
        ("https://www.gnu.org/software/coreutils/who [1]", "Where are the docs for who?", True),
    ],
)
def test_what_an_answer_must_give(answer: str, question: str, given: bool) -> None:
    assert gives(answer, question) is given


def test_a_block_of_code_is_neither_headings_nor_the_texts_own_lines() -> None:
    from outweigh.retrieval.structure import code_blocks, in_code

    text = "# Widget\n\n```sh\n# install it\npip install widget\n```\n\n"
    text += "## Usage\n~~~\n```\n~~~\nend"
    lines = text.split("\n")
    assert [line for line, code in zip(lines, in_code(lines), strict=True) if code] == [
        "```sh",
        "# install it",
        "pip install widget",
        "```",
        "~~~",
        "```",  # a fence of another character is the block's text
        "~~~",
    ]
    blocks = [(text[a:b], text[a:end]) for a, b, end in code_blocks(text)]
    assert blocks[0] == ("```sh", "```sh\n# install it\npip install widget\n```")
    assert blocks[1] == ("~~~", "~~~\n```\n~~~")
    # The shell comment heads nothing: the text under "## Usage" hangs from it, and the
    # block's lines from the heading over them.
    got = _parents(text)
    assert got["## Usage"] == "# Widget" and got["pip install widget"] == "# Widget"
    open_block = "an open block\n```\nruns to the end"
    assert code_blocks(open_block) == [(14, 17, len(open_block))]
