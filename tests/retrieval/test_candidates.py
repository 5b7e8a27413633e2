"""What a turned-down reader may choose among: the values of the type a question demands that
its passages write (`retrieval.candidates`), each as an answer with the passage it is in."""

from __future__ import annotations

from outweigh.prompt import Citation
from outweigh.retrieval.candidates import candidates, values


def passages(*texts: str) -> list[Citation]:
    return [Citation(i, f"doc{i}.md", i, text, 1.0) for i, text in enumerate(texts, 1)]


def test_copyright_holders_come_from_copyright_lines() -> None:
    found = candidates(
        "Whose copyright notice appears in the monotonic README?",
        passages(
            "License\n-------\nCopyright 2014, 2015, 2016, 2017 Ori Livneh <ori@wikimedia.org>",
            "### License\n* Copyright (c) 2013 Yamashita, Yuu\nThe above copyright notice",
            "Copyright (c) 2005-2020, [Ilya Etingof](mailto:etingof@gmail.com).\n"
            "All rights reserved.",
            "Copyright (C) 1992-2023 Free Software Foundation, Inc.\n"
            "Written by Jim Meyering and Paul Eggert.",
        ),
    )
    assert found == [
        "Ori Livneh [1]",
        "Yamashita, Yuu [2]",
        "Ilya Etingof [3]",
        "Free Software Foundation, Inc. [4]",
        "Jim Meyering [4]",
    ]


def test_licences_are_the_names_a_sentence_a_title_or_a_field_gives() -> None:
    question = "What is the license of cachetools?"
    assert candidates(
        question,
        passages(
            ".. image:: https://img.shields.io/github/license/tkem/cachetools\n:alt: License\n"
            "Licensed under the `MIT License`_.\n"
            ".. _MIT License: https://raw.github.com/tkem/cachetools/master/LICENSE",
            "licensed under the [Apache License, version 2.0](https://www.apache.org/licenses/)",
            "GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007",
            "License: BSD-3-clause",
        ),
    ) == [
        "MIT License [1]",
        "Apache License, version 2.0 [2]",
        "GNU GENERAL PUBLIC LICENSE [3]",
        "BSD-3-clause [4]",
    ]


def test_install_commands_are_code_or_a_line_of_a_program_not_wrapped_prose() -> None:
    text = (
        "You can install [Rustup](https://rustup.rs/). This will help\n"
        "us install Clippy and its dependencies.\n"
        "```terminal\nrustup component add clippy\n```\n"
        "Then run `make install` or\n$ go get example.org/tool\n"
        "pip install charset-normalizer -U\n"
        "make the docs, then read them\n"
    )
    assert list(values(text, "install")) == [
        "rustup component add clippy",
        "make install",
        "go get example.org/tool",
        "pip install charset-normalizer -U",
    ]


def test_typed_values_leave_out_the_digits_of_links_and_dates() -> None:
    text = (
        "What's New in IDLE 2.7.4?\n*Release date: 2013-04-06*\n"
        "[![PyPI](https://img.shields.io/pypi/v/9.9.9.svg)]\n"
        "- Issue #14962: Update text coloring. See https://bugs.python.org/issue14962\n"
        "7 days; weeks 00..53; at 11:11:04; 1,500 items"
    )
    assert list(values(text, "version")) == ["2.7.4"]
    # A requirement keeps its bound: what is required is not the version alone.
    required = "Requires-Python: >=3.11\nSupports Python 3.8+.\nDepends: libc6 (>= 2.34)"
    assert list(values(required, "version")) == [">=3.11", "3.8+", ">= 2.34"]
    assert list(values(text, "date")) == ["2013-04-06"]
    # A year inside a release name or a link is no date.
    named = "* Add anaconda3-2024.06-1 in https://a.org/2023/05/\nOut in May 2023, then 2022."
    assert list(values(named, "date")) == ["May 2023", "2022"]
    assert list(values(text, "url")) == [
        "https://img.shields.io/pypi/v/9.9.9.svg",
        "https://bugs.python.org/issue14962",
    ]
    # A count: not a range, a time, nor the "14962:" that labels an entry.
    assert list(values(text, "number")) == ["7", "1,500"]


def test_each_value_once_and_none_for_a_question_that_demands_no_type() -> None:
    two = passages("Version 1.2.0 and v1.3", "1.2.0 again, then 1.4")
    assert candidates("Which version added --fuzz?", two) == ["1.2.0 [1]", "v1.3 [1]", "1.4 [2]"]
    assert candidates("What does --fuzz do?", two) == []
    assert candidates("Which version added --fuzz?", passages("no versions here")) == []


def test_options_and_the_programs_a_manual_names() -> None:
    text = (
        "apropos(1), параметр -e, --exact\n\n"
        "Искать точное совпадение; e-mail и --regex=RE тоже.\n"
        "chage - изменяет информацию об устаревании пароля\n"
        "       addr2line - convert addresses into file names\n"
        "See also - the index"
    )
    assert list(values(text, "option")) == ["-e", "--exact", "--regex"]
    assert list(values(text, "command")) == ["chage", "addr2line"]
    assert candidates("Какая программа меняет сведения о паролях?", passages(text)) == [
        "chage [1]",
        "addr2line [1]",
    ]


def test_github_handles_are_people_and_npm_scopes_are_not() -> None:
    text = (
        "* GitHub Workflows security hardening by @sashashura in\n"
        "  https://github.com/pyenv/pyenv/pull/2511\n"
        "@npmcli/arborist, and mail to dev@example.org"
    )
    assert list(values(text, "person")) == ["@sashashura"]
