"""Reader questions about copyright holders and licences, mined from any text."""

from __future__ import annotations

import random

import pytest

from outweigh.adapters.mining import mine
from outweigh.adapters.notices import holders, licenses, notice_facts, subject_of


@pytest.mark.parametrize(
    ("line", "holder"),
    [
        ("Copyright (c) 2014-2024 Thomas Kemmer.", "Thomas Kemmer"),
        ("   Copyright (c) 2013 Yamashita, Yuu", "Yamashita, Yuu"),
        ("(C) 2010 Ana Lima <ana@example.org>", "Ana Lima"),
        ("# Copyright 2014 Google Inc. All Rights Reserved.", "Google Inc"),
        (
            "Copyright 2019 The Rust Project Contributors. All rights reserved.",
            "The Rust Project Contributors",
        ),
        ("Copyright © 2001-2024 Example Foundation", "Example Foundation"),
        ("Copyright Isaac Z. Schlueter", "Isaac Z. Schlueter"),
        # A manual page's section title is not part of the line under it.
        (
            "COPYRIGHT\n Copyright 2000-2022 The OpenSSL Project Authors.",
            "The OpenSSL Project Authors",
        ),
        ("Copyright (c) 2005-2017, [Ilya Etingof](mailto:etingof@gmail.com).", "Ilya Etingof"),
    ],
)
def test_a_copyright_line_names_its_holder_without_years_or_address(line, holder) -> None:
    assert holders(line) == [holder]


@pytest.mark.parametrize(
    "line",
    [
        "The above copyright notice and this permission notice shall be included",
        "Copyright (C) <year> <name of author>",
        "THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS",
        "copyright (c) 2008 by the Foo Team, see AUTHORS for more details.",
        "Copyright (c) 2020 https://example.org/",
    ],
)
def test_a_licences_words_about_copyright_name_no_holder(line) -> None:
    assert holders(line) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Licensed under the `MIT License`_.", "MIT License"),
        ('Licensed under the Apache License, Version 2.0 (the "License");', None),
        ("Distributed under the [MIT license](LICENSE).", "MIT license"),
        ("is licensed under GPL-3.0-or-later.", "GPL-3.0-or-later"),
        ('Licensed under the Apache License 2.0 (the "License").', "Apache License 2.0"),
        ("The code is released under the terms of the `ISC license`.", "ISC license"),
        ("\n          Apache License\n     Version 2.0, January 2004\n", None),
        ("The MIT License (MIT)\n\nPermission is hereby granted", "MIT License"),
        ("BSD 3-Clause License\n\nCopyright (c) 2013, Kim Davies", "BSD 3-Clause License"),
    ],
)
def test_a_licence_is_read_from_a_sentence_or_a_title(text, name) -> None:
    got = licenses(text)
    assert len(got) == 1
    assert got[0][0] == (name or "Apache License, Version 2.0")
    # What a passage must hold to state it is text the document really has.
    assert got[0][1] in " ".join(text.replace("`", "").replace("[", "").split())


def test_words_that_name_no_licence_give_none() -> None:
    for text in (
        "you can redistribute it under the same terms as Perl itself.",
        "under the license in LICENSE.txt",
        "This Software is licensed under the terms below.\nPermission is granted",
    ):
        assert licenses(text) == [], text


def test_subject_is_the_project_a_notice_is_about() -> None:
    assert subject_of("docs/cachetools-license.txt", project=True) == "cachetools"
    assert subject_of("pyenv-doctor-README.md", project=True) == "pyenv-doctor"
    assert subject_of("pyenv-README-part2.md", project=True) == "pyenv"
    assert subject_of("src/zstd/COPYING", project=True) == "zstd"
    assert subject_of("LICENSE", project=True) == ""
    assert subject_of("frobnicate_changelog.md") == "frobnicate changelog"


def test_mine_asks_who_holds_the_copyright_and_which_licence() -> None:
    text = (
        "## License\n\n"
        "Copyright (c) 2014-2024 Thomas Kemmer.\n\n"
        "Licensed under the `MIT License`_.\n"
    )
    got = {f.kind: f for f in mine("docs/cachetools-README.md", text, random.Random(0))}
    assert got["copyright"].answer == "Thomas Kemmer"
    assert got["license"].answer == "MIT License"
    for fact in (got["copyright"], got["license"]):
        assert "cachetools" in fact.question and "README" not in fact.question
        assert fact.evidence in text


def test_two_holders_or_two_licences_ask_nothing() -> None:
    text = (
        "Copyright (c) 2001 Ana Lima\nCopyright (c) 2005 Bo Chen\n\n"
        "Licensed under the MIT License or released under the Apache License, Version 2.0.\n"
    )
    assert list(notice_facts("frobnicate", text, random.Random(0))) == []
    # Nor is a notice asked about a document that names no project.
    assert list(notice_facts("", "Copyright 2001 Ana Lima\n", random.Random(0))) == []
