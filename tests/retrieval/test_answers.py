"""Whether a reader's answer holds up against its question and the passages it read."""

from __future__ import annotations

from dataclasses import replace

import pytest

from outweigh.prompt import Citation
from outweigh.retrieval.answers import (
    dated,
    defaulted,
    entries,
    from_named,
    grounded,
    holds_up,
    named,
    noticed,
    owned,
    owned_as_asked,
    placeholder,
    tidy,
    tied,
)

NEWS = """\
What's New in IDLE 3.1b1?
=========================
*Release date: 06-May-09*

- Issue #5707: Use of 'filter' in keybindingDialog.py was causing custom key assignment to
  fail. Patch by Amaury Forgeot d'Arc.

- Issue #4008: Fix problems with non-ASCII source files.

- Issue #2665: On Windows, an IDLE installation upgraded from an old version
  would not start if a custom theme was defined.
"""
PYENV = """\
## Release v2.3.7
* Fix the shims path on Windows by @chrisolof in
  https://github.com/pyenv/pyenv/pull/2510
* GitHub Workflows security hardening by @sashashura in
  https://github.com/pyenv/pyenv/pull/2511
"""
QUOTED = "GitHub Workflows security hardening"

RELEASE = """\
Version 1.74.0 (2023-11-16)
==========================

Cargo
-----
- [Stabilize `--keep-going` build flag](https://github.com/rust-lang/cargo/pull/12568/)
- [Add styling to `--help` output](https://github.com/rust-lang/cargo/pull/12578/)
"""

OPTIONS = """\
2.4 Logging and Input File Options
==================================
'--metalink-index=NUMBER'
     Set the Metalink metaurl ordinal NUMBER. From 1 to the total number of metaurls.
     Specify 0 or 'inf' to choose the first good one.
'-o LOGFILE'
     Log all messages to LOGFILE.
"""

README = """\
# fasteners

Cross-platform locks for Python. See https://fasteners.readthedocs.io/ for the docs.

Licensed under MIT, like the rest of the project.
"""


RSA = """The code was mostly written by Sybren A. Stüvel.

Install it with `pip install rsa`. The source is at
https://github.com/sybrenstuvel/python-rsa/ and is licensed under the Apache License.
hub/sybrenstuvel/python-rsa/badge.svg
"""


def passage(text: str, source: str = "notes.txt", excerpt: str | None = None) -> Citation:
    return Citation(1, source, 1, text, 1.0, excerpt)


@pytest.mark.parametrize(
    ("answer", "question", "text", "held"),
    [
        # A URL or an e-mail address is whole in a passage, or made up.
        ("https://fasteners.readthedocs.io/ [1]", "What is the URL of the docs?", README, True),
        ("http://www.fasteners.org/ [1]", "What is the home page URL of fasteners?", README, False),
        # The digits of a date, a version or a count are written somewhere.
        ("2023-11-16 [1]", "When was Rust 1.74.0 released?", RELEASE, True),
        ("2023-12-28 [1]", "When was Rust 1.75.0 released?", RELEASE, False),
        ("v1.74.0 [1]", "Which version added styling to --help?", RELEASE, True),
        ("12 [1]", "How many metaurls are there?", OPTIONS, False),
        # A question that demands no typed value is not judged by type, but a link or an
        # address it gives is written whole.
        ("Cross-platform locks [1]", "What does fasteners provide?", README, True),
        ("https://fasteners.readthedocs.io/. [1]", "Where are the docs found?", README, True),
        ("https://fasteners.org/docs [1]", "Where are the docs found?", README, False),
        ("locks@fasteners.org [1]", "Whom do I ask about fasteners?", README, False),
        # A person is named outside a link: not the repository's name in its URL.
        ("python-rsa [1]", "Who is the author of rsa?", RSA, False),
        ("Sybren A. Stüvel [1]", "Who is the author of rsa?", RSA, True),
        ("Sybren A. Stuvel [1]", "Who wrote rsa?", RSA, True),
        # A command that installs is written in a passage, prompt and backticks aside.
        ("`pip install rsa` [1]", "How do I install rsa?", RSA, True),
        ("```bash\n$ pip  install rsa\n``` [1]", "How do I install rsa?", RSA, True),
        ("npm install rsa [1]", "How do I install rsa?", RSA, False),
        ("pip install rsa -U [1]", "Which command installs rsa?", RSA, False),
    ],
)
def test_a_value_the_question_demands_is_written_in_a_passage(
    answer: str, question: str, text: str, held: bool
) -> None:
    assert grounded(answer, question, [passage(text)]) is held


def test_a_value_in_a_passages_file_name_is_written_there() -> None:
    cited = [passage("Release notes.", source="frob-changelog-20131023-to-20140705.md")]
    assert grounded("20140705 [1]", "On what date was frob 2.0 released?", cited)


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ("2012-04-09 [1]", True),
        ("06-May-09 [1]", True),
        ("May 5, 2024", True),
        ("12.03.2024 [1]", True),
        ("5 мая 2024 года", True),
        ("20140705 [2]", True),
        ("in 2019", True),
        ("3168 [1]", False),  # a pull request's number, not a date
        ("1.82.0 [1]", False),
    ],
)
def test_a_date_is_written_as_a_date(answer: str, ok: bool) -> None:
    assert dated(answer, "On what date was pyenv v2.5.5 released?") is ok
    assert dated(answer, "Which version added it?")  # no date demanded


XARGS = """\
16.1 Options to 'xargs'
=======================
'--max-procs=MAX-PROCS'
'-P MAX-PROCS'
     Run simultaneously up to MAX-PROCS processes at once; the default
     is 1. If MAX-PROCS is 0, run as many processes as possible.
'--tabsize=COLUMNS'
     Assume that tab stops are set every COLUMNS (default 8) print columns.
"""

CONFIG = """## Options

* `env` Object, defaults to `process.env`. The environment to read settings from.
* `cwd` String, the folder to start the search in. See `npm help config`.
"""


@pytest.mark.parametrize(
    ("answer", "question", "text", "held"),
    [
        ("1 [1]", "What is the default for the --max-procs option of xargs?", XARGS, True),
        ("8", "What is the default for the --tabsize option of sdiff?", XARGS, True),
        ("process.env [1]", "What does `env` default to in the config?", CONFIG, True),
        ("process.env", "What is the default value of the `env` option?", CONFIG, True),
        # Written in the passage, but not where it says what the default is.
        ("0 [1]", "What is the default for the --max-procs option of xargs?", XARGS, False),
        ("`npm help config`", "What is the default value of the `cwd` option?", CONFIG, False),
        ("2 [1]", "What is the default value of the --metalink-index option?", OPTIONS, False),
        (
            "16.1 Options to 'xargs' [1]",
            "What is the default for the --tabsize option?",
            XARGS,
            False,
        ),
        # Not written whole (the reader's own words), or no default asked: not judged here.
        ("It runs one at a time", "What is the default for --max-procs?", XARGS, True),
        ("0 [1]", "Which value of --max-procs runs as many processes as possible?", XARGS, True),
    ],
)
def test_a_default_is_written_where_a_passage_says_default(
    answer: str, question: str, text: str, held: bool
) -> None:
    assert defaulted(answer, question, [passage(text)]) is held


MONOTONIC = """\
monotonic
=========
This module provides a ``monotonic()`` function which returns the
License
-------
Copyright 2014, 2015, 2016, 2017 Ori Livneh <ori@wikimedia.org>
Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
"""
BADGES = """\
ASN.1 modules for Python
[![PyPI](https://img.shields.io/pypi/v/pyasn1-modules.svg)](https://pypi.org/project/pyasn1-modules)
[![GitHub license](https://img.shields.io/badge/license-BSD-blue.svg)](https://example.org/LICENSE.txt)
Supported on Python 3.8 and later.
Copyright (c) 2005-2017, [Ilya Etingof](mailto:etingof@gmail.com).
All rights reserved.
"""
WRAPPED = """\
### License
* Copyright (c) 2019 by Jane
Doe and the widget contributors.
Licensed under the Apache License, Version 2.0.
IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM.
"""


@pytest.mark.parametrize(
    ("answer", "question", "text", "held"),
    [
        (
            "Ori Livneh [1]",
            "Whose copyright notice appears in the monotonic README?",
            MONOTONIC,
            True,
        ),
        (
            "The License [1]",
            "Whose copyright notice appears in the monotonic README?",
            MONOTONIC,
            False,
        ),
        ("Ilya Etingof [1]", "Who holds the copyright for pyasn1-modules?", BADGES, True),
        ("PyPI [1]", "Who holds the copyright for pyasn1-modules?", BADGES, False),
        ("Jane Doe [1]", "Who is the copyright holder of widget?", WRAPPED, True),
        # A licence: a sentence that says "licence", a badge's included.
        ("BSD [1]", "What is the license of pyasn1-modules?", BADGES, True),
        ("Python 3.8 [1]", "Which license is pyasn1-modules released under?", BADGES, False),
        ("Apache 2.0 [1]", "What is the license of widget?", WRAPPED, True),
        # A heading over the copyright line, a licence's words about copyright: no holder.
        ("License [1]", "Who holds the copyright of widget?", WRAPPED, False),
        ("The authors [1]", "Who holds the copyright of widget?", WRAPPED, False),
        ("Ilya [1]", "Who holds the copyright for pyasn1-modules?", MONOTONIC, False),
        # Other questions: not judged here.
        ("PyPI [1]", "Who wrote pyasn1-modules?", BADGES, True),
        ("PyPI [1]", "Where is pyasn1-modules published?", BADGES, True),
    ],
)
def test_a_copyright_holder_or_licence_is_written_where_a_passage_says_so(
    answer: str, question: str, text: str, held: bool
) -> None:
    assert noticed(answer, question, [passage(text)]) is held


@pytest.mark.parametrize(
    ("answer", "text", "is_placeholder"),
    [
        ("NUMBER [1]", OPTIONS, True),  # --metalink-index=NUMBER
        ("LOGFILE", OPTIONS, True),  # -o LOGFILE
        ("MIT [1]", README, False),  # a licence's name, written as a value
        ("NUMBER [1]", README, False),  # no passage writes it as an argument
        ("1 [1]", OPTIONS, False),
    ],
)
def test_an_arguments_placeholder_is_not_a_value(
    answer: str, text: str, is_placeholder: bool
) -> None:
    assert placeholder(answer, [passage(text)]) is is_placeholder


def test_an_entry_is_the_item_a_number_heads_with_its_headings() -> None:
    (entry,) = entries(NEWS, "4008")
    assert entry.splitlines()[0] == "- Issue #4008: Fix problems with non-ASCII source files."
    assert "What's New in IDLE 3.1b1?" in entry  # its heading comes along
    assert "Amaury" not in entry and "#2665" not in entry
    (wrapped,) = entries(NEWS, "5707")
    assert "Patch by Amaury Forgeot d'Arc." in wrapped  # the item's wrapped line
    # A heading that names a version is not an entry: what is under it is about it.
    assert entries(RELEASE, "1.74.0") == []
    # Nor is a field whose value is the name: the record is about something else.
    assert entries("Package: frob\nVersion: 2.4.5\nMaintainer: Ana\n", "2.4.5") == []


@pytest.mark.parametrize(
    ("answer", "question", "text", "ok"),
    [
        # The name is the next entry's, not the one the question names.
        ("Amaury Forgeot [1]", "Who wrote the patch for Issue #4008 in IDLE 3.1b1?", NEWS, False),
        ("Amaury Forgeot d'Arc [1]", "Who wrote the patch for Issue #5707?", NEWS, True),
        # From the heading over the entry.
        ("06-May-09 [1]", "When was the fix for Issue #4008 released?", NEWS, True),
        # A version in a heading heads no entry: the list under it is its own.
        (
            "12578 [1]",
            "What is the number of the pull request “Add styling to `--help` output” listed "
            "for Rust 1.74.0?",
            RELEASE,
            True,
        ),
        # A package's name with a digit names no entry.
        ("MIT [1]", "Which license is urllib3 released under?", "- urllib3: MIT\n", True),
        # No passage has an entry for the number: nothing to tie to.
        ("Amaury Forgeot [1]", "Who wrote the patch for Issue #9999?", NEWS, True),
        # An entry the question quotes: its own words, wrapped as they may be.
        ("@chrisolof [1]", f"Who contributed “{QUOTED}”?", PYENV, False),
        ("@sashashura [1]", f"Who contributed “{QUOTED}”?", PYENV, True),
        ("@sashashura [1]", "Who contributed “Fix the shims path on Windows”?", PYENV, False),
        ("2.3.7 [1]", f"Which pyenv release includes “{QUOTED}”?", PYENV, True),
        # A short quote is a word, not an entry: "“-n”" ties to nothing.
        ("@chrisolof [1]", "Who added “-n”?", PYENV, True),
    ],
)
def test_an_answer_comes_from_the_entry_the_question_names(
    answer: str, question: str, text: str, ok: bool
) -> None:
    assert tied(answer, question, [passage(text)]) is ok


DIFFUTILS = "This manual is for GNU Diffutils (version 3.8, 2 January 2021)."
COREUTILS = "This manual is a work in progress: many sections make no attempt to explain."


def test_a_question_names_a_document_by_the_words_of_its_file_name() -> None:
    diff = passage(DIFFUTILS, source="docs/diffutils-top.txt")
    core = replace(passage(COREUTILS, source="docs/coreutils-introduction.txt"), n=2)
    question = "Which version of GNU Coreutils does its Texinfo manual document?"
    assert named(question, [diff, core]) == ([core], {"coreutils"})
    # Diffutils' version is not Coreutils'; Coreutils' own words are.
    assert not from_named("3.8 [1]", question, [diff, core])
    assert from_named("a work in progress [2]", question, [diff, core])
    # Everyday words and numbers name nothing: "time", "1.2".
    ask_time = "Which version 1.2 of GNU time does its manual document?"
    timed = replace(passage("GNU time 1.9", source="time-1.2.txt"), n=2)
    assert named(ask_time, [diff, timed]) == ([], set())
    assert from_named("3.8 [1]", ask_time, [diff, timed])
    # Another document whose text names the asked one answers for it.
    handbook = passage("Acme staff handbook. Leave: ask your lead.", source="acme-handbook.md")
    refunds = replace(passage("Acme refunds within 30 days.", source="refunds.md"), n=2)
    refund = "What is the refund window at Acme?"
    assert named(refund, [handbook, refunds])[0] == [handbook]
    assert from_named("30 days [2]", refund, [handbook, refunds])
    other = replace(refunds, text="Refunds within 30 days.")
    assert not from_named("30 days [2]", refund, [handbook, other])


def test_a_documents_own_value_comes_from_that_document_where_it_is_shown() -> None:
    own = passage("# httplib2\n\nA comprehensive HTTP client library.", source="httplib2-README.md")
    other = replace(
        passage(
            "The httplib2 transport for google-auth.\n\nApache 2.0 - See the LICENSE.",
            source="google-auth-library-python-httplib2-README.txt",
        ),
        n=2,
    )
    asked = "Which license is httplib2 released under, according to its README?"
    # The other README names httplib2 in its text, but its licence is its own.
    assert not from_named("Apache 2.0 [2]", asked, [own, other])
    # Without httplib2's own README among the passages, the text naming it still counts.
    assert from_named("Apache 2.0 [1]", asked, [replace(other, n=1)])
    # A question that demands no such value is still answered from whichever page holds it.
    transport = "Which library gives httplib2 a transport for google-auth?"
    assert from_named("google-auth [2]", transport, [own, other])


def test_a_document_may_be_named_by_an_everyday_word_that_begins_a_file_name() -> None:
    # "time" and "ed" are everyday words, but in a collection that has `time-invoking.txt`
    # and `ed-problems.txt` they name those manuals: Findutils' version is not ed's.
    find = passage("This manual documents version 4.9.0 of GNU find.", source="find-top.txt")
    ed = replace(passage("Report problems to the maintainers.", source="ed-problems.txt"), n=2)
    leads = frozenset({"find", "ed", "time"})
    ask_ed = "Which version of GNU ed does its Texinfo manual document?"
    assert named(ask_ed, [find, ed], leads) == ([ed], {"ed"})
    assert not from_named("4.9.0 [1]", ask_ed, [find, ed], leads)
    assert from_named("4.9.0 [1]", ask_ed, [find, ed])  # with no names to go by, it holds
    # Named, and not shown at all: the answer must come from a passage that names it.
    ask_time = "Which version of GNU time does its Texinfo manual document?"
    assert not from_named("4.9.0 [1]", ask_time, [find], leads)
    timed = passage("find -newer compares the modification time: 4.9.0", source="find-top.txt")
    assert from_named("4.9.0 [1]", ask_time, [timed], leads)
    # A question that demands no typed value uses the word in its everyday sense.
    df = passage("df - report file system disk space usage", source="df.txt")
    how = "How do I show free space on mounted file systems?"
    assert from_named("df -h [1]", how, [df], frozenset({"df", "free"}))
    assert holds_up("df -h [1]", how, [df], frozenset({"df", "free"}))
    assert not holds_up("4.9.0 [1]", ask_ed, [find, ed], leads)


def test_an_answer_is_the_document_s_that_holds_the_most_of_it() -> None:
    # ed's page holds "gnu.org" of Diffutils' address, but not the address: it is not ed's.
    diff = passage("Send bug reports to bug-diffutils@gnu.org.", source="diffutils-bugs.txt")
    ed = replace(passage("Report problems to bug-ed@gnu.org.", source="ed-problems.txt"), n=2)
    leads = frozenset({"diffutils", "ed"})
    ask = "To which e-mail address should bug reports for GNU ed be sent?"
    assert named(ask, [diff, ed], leads) == ([ed], {"ed"})
    assert not from_named("bug-diffutils@gnu.org [1]", ask, [diff, ed], leads)
    assert not holds_up("bug-diffutils@gnu.org [1]", ask, [diff, ed], leads)
    assert from_named("bug-ed@gnu.org [2]", ask, [diff, ed], leads)
    assert holds_up("bug-ed@gnu.org [2]", ask, [diff, ed], leads)
    # "README" says what kind of document, not whose: the semver README is not pyenv's.
    pyenv = passage("* Copyright (c) 2013 Yamashita, Yuu", source="pyenv-doctor-README.md")
    leads = frozenset({"pyenv", "semver"})
    semver = "Whose copyright notice appears in the semver README?"
    assert named(semver, [pyenv], leads) == ([], {"semver"})
    assert not holds_up("Yamashita, Yuu [1]", semver, [pyenv], leads)
    doctor = "Whose copyright notice appears in the pyenv-doctor README?"
    assert holds_up("Yamashita, Yuu [1]", doctor, [pyenv], leads)
    # Both pages holding the whole answer: the named one's is enough.
    both = replace(ed, text="Report problems to bug-ed@gnu.org, not bug-diffutils@gnu.org.")
    assert from_named("bug-diffutils@gnu.org [1]", ask, [diff, both], leads)


def test_an_answer_loses_the_fence_around_it() -> None:
    assert tidy("```bash\nnpm install which [1]") == "npm install which [1]"
    assert tidy("```\npip install rsa\n```") == "pip install rsa"
    assert tidy("Use `pip install rsa` [1]") == "Use `pip install rsa` [1]"


def test_holds_up_asks_every_test() -> None:
    cited = [passage(OPTIONS, source="wget-logging.txt")]
    question = "What is the default value of the --metalink-index option of wget?"
    assert not holds_up("NUMBER [1]", question, cited)  # a placeholder
    assert not holds_up("--metalink-index [1]", question, cited)  # the question's words back
    assert not holds_up("0 [1]", question, cited)  # written, but not as a default
    defaults = [passage(OPTIONS + XARGS, source="wget-logging.txt")]
    assert holds_up("1 [1]", "What is the default for the --max-procs option?", defaults)
    ask_date = "On what date was wget 1.21 released?"
    assert not holds_up("2021-01-01 [1]", ask_date, cited)  # no passage writes it
    assert not holds_up("1 [1]", ask_date, cited)  # written, but not a date


@pytest.mark.parametrize(
    ("answer", "question", "text", "kept"),
    [
        # Another thing's version: OAuth's, a licence's.
        (
            "2.0 [1]",
            "Which minimum Python version does gcs-oauth2-boto-plugin require?",
            "an auth plugin for the [boto] framework, for use with [OAuth 2.0]",
            False,
        ),
        (
            "2.0 [1]",
            "Which minimum Python version does gcs-oauth2-boto-plugin require?",
            "Licensed under the Apache License, Version 2.0",
            False,
        ),
        (
            "1.3 [1]",
            "Which version of GNU Findutils does its Texinfo manual document?",
            "This manual documents version 4.9.0 of the GNU utilities\n"
            "under the terms of the GNU Free Documentation License,\n"
            "Version 1.3 or any later version",
            False,
        ),
        # The version of what the question names, or of nothing named.
        (
            "4.9.0 [1]",
            "Which version of GNU Findutils does its Texinfo manual document?",
            "This manual documents version 4.9.0 of the GNU utilities",
            True,
        ),
        (
            "2.6.6 [1]",
            "Which Python version is boto developed with?",
            "Boto is developed mainly using Python 2.6.6 and Python 2.7.3",
            True,
        ),
        ("3.3 [1]", "Which Python version does mock need?", "It has support for 3.3+", True),
        (
            "v1.2.12 [1]",
            "Which pyenv release added the Mojave fix?",
            "## Release v1.2.12\n* python-build: Find zlib on Mojave",
            True,
        ),
        ("1.2.12 [1]", "Which pyenv release added the Mojave fix?", "## 1.2.12\n* fix", True),
        (
            "2021.11 [1]",
            "What Anaconda3 release was added in pyenv 2.2.3?",
            "* python-build: Added Anaconda3-2021.11",
            True,
        ),
        # Written once as another's and once as the asked thing's: it may be the latter.
        (
            "2.7.4 [1]",
            "In which IDLE version's NEWS is Issue #14962?",
            "Tk 2.7.4 notes\nWhat's New in IDLE 2.7.4?",
            True,
        ),
        # Not a version question, or a value no line writes: not judged here.
        ("2.0 [1]", "Which protocol does the plugin use?", "OAuth 2.0", True),
        ("3.7+ [1]", "Which Python version does argcomplete need?", "OAuth 9.9", True),
        # A platform's version a thing requires is written with the platform's name, or
        # where a line says it is required; not the thing's own version.
        (
            "1.0.0 [1]",
            "Which minimum Node.js version does fund require?",
            "version: '1.0.0',",
            False,
        ),
        ("1.3.3 [1]", "Which Python versions does contourpy require?", "Version: 1.3.3", False),
        (
            ">=3.11 [1]",
            "Which Python versions does contourpy require?",
            "Requires-Python: >=3.11",
            True,
        ),
        ("14 [1]", "Which Node.js version does fund need?", "Node.js:\n  14 or later", True),
        ("5.6.1 [1]", "Which Python versions does x require?", "Requires-Dist: x>=5.6.1", False),
        ("1.3.3 [1]", "Which version of contourpy is described?", "Version: 1.3.3", True),
    ],
)
def test_a_version_is_of_what_the_question_asks_about(
    answer: str, question: str, text: str, kept: bool
) -> None:
    assert owned(answer, question, [passage(text)]) is kept


def test_a_version_written_after_the_asked_name_is_told_apart() -> None:
    question = "Which CPython version(s) did pyenv v2.6.17 add?"
    text = "## Release v2.6.30\n* Fix shims\n## Release v2.6.17\n* Add CPython 3.15.0a3 by @x"
    assert owned_as_asked("3.15.0a3 [1]", question, [passage(text)])
    assert not owned_as_asked("v2.6.30 [1]", question, [passage(text)])
