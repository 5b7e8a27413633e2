"""Reader questions about a document's notices: who holds its copyright and which licence it
is under, asked of any text that states them (a README's last section, a LICENSE or COPYING
file, a source header, a Debian-style copyright file).

These are the two facts people most often ask of a software project's documents, and the
typed-value miner (`outweigh.adapters.mining.prose_facts`) cannot ask them well: a licence
name is not a typed value, and a copyright holder's line has no topic but the word
"Copyright". Each question names the document's subject only, as a user would.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from outweigh.retrieval.structure import LICENSE_TITLE, LICENSED, MD_LINK

_SUFFIXES = (".gz", ".md", ".txt", ".rst", ".html", ".htm", ".pdf")
_KIND_WORD = re.compile(
    r"[-_. ](?:readme|licen[cs]e|copying|copyright|authors|notice|changelog|news|history)"
    r"(?:[-_. ]part\d+)?$",
    re.I,
)
"""A file name's last word that says what sort of document it is, not what it is about."""


def subject_of(source: str, project: bool = False) -> str:
    """A document's name as a question names it: `frobnicate_changelog.md` -> `frobnicate
    changelog`. With `project`, the name of what the document is about:
    `cachetools-license.txt` -> `cachetools`, `pyenv-README-part2.md` -> `pyenv`, and
    `zstd/COPYING` -> `zstd`, its folder's name ("" where there is no folder)."""
    path = Path(source)
    stem = path.name
    for suffix in _SUFFIXES:
        stem = stem.removesuffix(suffix)
    if project:
        if _KIND_WORD.fullmatch(f"-{stem}"):
            return path.parent.name
        return _KIND_WORD.sub("", stem)
    return " ".join(w for w in re.split(r"[_\s]+|(?<=[a-z])-(?=[a-z])", stem) if w)


_COPYRIGHT = re.compile(
    r"^[ \t#*/;\"'-]*(?:Copyright|\(c\)|©)(?:[ \t]*(?:\(c\)|©))?[ \t:]+"
    r"(?:(?P<years>\d{4}(?:[ \t]*[-–,][ \t]*(?:\d{2,4}|present))*),?[ \t]+)?"
    r"(?:by[ \t]+)?(?P<holder>[^\n<(\[{]+?)"
    r"[ \t]*(?:<[^>\n]*>|\([^)\n]*\))?[ \t]*"
    r"(?:[.,;]?[ \t]*All rights reserved\.?)?[.,;]?[ \t]*$",
    re.I | re.M,
)
"""A copyright line: "Copyright (c) 2014-2024 Thomas Kemmer.", "(C) 2010 Ana Lima
<ana@example.org>", "Copyright 2019 The Rust Project Contributors. All rights reserved."."""

_NOT_A_HOLDER = re.compile(
    r"\b(?:notices?|holders?|owners?|statement|year|name of|permission|license[ds]?|licence)\b"
    r"|\b(?:the above|this|these|its|their|and/or)\b",
    re.I,
)
"""Words of a licence's own text about copyright ("The above copyright notice", "copyright
holders and contributors", "Copyright (C) <year> <name of author>"): no holder there."""

MAX_HOLDER_WORDS = 8

_TITLE_VERSION = re.compile(r"^\s*(?P<version>Version\s+\d[\d.]*)\b", re.I)
"""The line under a title that says which version ("Version 2.0, January 2004")."""

_MARKUP = re.compile(r"[`*_\[\]\"']+")

COPYRIGHT_QUESTIONS = (
    "Who holds the copyright of {subject}?",
    "Whose copyright notice appears in {subject}?",
    "Who is the copyright holder of {subject}?",
    "{subject}: who owns the copyright?",
)
LICENSE_QUESTIONS = (
    "What is the license of {subject}?",
    "Under what license is {subject} distributed?",
    "Which license does {subject} use?",
    "{subject}: what license is it released under?",
)


class Notice(NamedTuple):
    """One question a document's notice answers."""

    question: str
    answer: str
    evidence: str
    """The text a passage must hold to state it: the answer, or the title line it came from."""
    kind: str


def holders(text: str) -> list[str]:
    """The copyright holders a text names, in order, without years, e-mail addresses or
    "All rights reserved"; none from a licence's own words about copyright."""
    found: list[str] = []
    for m in _COPYRIGHT.finditer(MD_LINK.sub(r"\g<text>", text)):
        holder = " ".join(m["holder"].split()).strip(" .,;:")
        words = holder.split()
        if (
            not words
            or len(words) > MAX_HOLDER_WORDS
            or not holder[0].isupper()
            or _NOT_A_HOLDER.search(holder)
            or "@" in holder
            or "://" in holder
        ):
            continue
        if holder not in found:
            found.append(holder)
    return found


def licenses(text: str) -> list[tuple[str, str]]:
    """The licences a text puts its work under, as (name, the text that states it): a
    sentence ("Licensed under the MIT License"), or a licence's title line, with the version
    line under it ("Apache License" / "Version 2.0, January 2004")."""
    found: list[tuple[str, str]] = []
    for m in LICENSED.finditer(text):
        name = " ".join(_MARKUP.sub("", m["name"]).split()).strip(" .,;:")
        if len(name) >= 3 and not name.lower().startswith(("this ", "these ", "same ", "its ")):
            found.append((name, name))
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if (m := LICENSE_TITLE.match(line)) is None or (i and lines[i - 1].strip()):
            continue  # a title stands alone, after a blank line or at the top
        title = " ".join(m["name"].split())
        below = next((ln for ln in lines[i + 1 : i + 3] if ln.strip()), "")
        v = _TITLE_VERSION.match(below)
        found.append((f"{title}, {v['version']}" if v else title, title))
    unique: dict[str, tuple[str, str]] = {}
    for name, evidence in found:
        unique.setdefault(name.lower(), (name, evidence))
    return list(unique.values())


def notice_facts(subject: str, text: str, rng: random.Random) -> Iterator[Notice]:
    """The copyright and licence questions one chunk answers about `subject` (none without
    one), each asked only
    where the chunk names one holder, or one licence: a file that bundles three licences
    answers "which licence?" with none of them."""
    if not subject:
        return
    names = holders(text)
    if len(names) == 1:
        question = rng.choice(COPYRIGHT_QUESTIONS).format(subject=subject)
        yield Notice(question, names[0], names[0], "copyright")
    named = licenses(text)
    if len(named) == 1:
        question = rng.choice(LICENSE_QUESTIONS).format(subject=subject)
        yield Notice(question, named[0][0], named[0][1], "license")
