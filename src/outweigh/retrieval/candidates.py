"""The values of the type a question demands that its passages write: what a reader may choose
among once its own reading was turned down.

A small reader often has the answer in front of it and writes the wrong thing anyway: "The
Author" for "Whose copyright notice appears in the monotonic README?" over "Copyright 2014
Ori Livneh", a LICENSE file's URL for "What is the license of cachetools?" over "Licensed
under the `MIT License`_". Asked to choose among what the passages write of the demanded type
(`structure.demands`), each already through the answer check, it picks the right one far more
often than it writes it (`engine.turn.Prepared.again`).

`candidates(question, passages)` lists them as answers, "value [n]" with `n` the first passage
that writes the value: e-mail addresses, URLs, dates, versions and counts as `structure.VALUES`
finds them (a version with the bound a requirement writes around it: ">=3.11", "3.8+"); a
licence's name where a sentence puts the work under it, a licence text's title or a `License:`
field gives it; a person where a copyright line, a byline or an address gives
one, or a GitHub handle ("by @sashashura"); for "How do I install ...?" a command line that
installs; for "Which option ...?" the options the passages write; for "Which program ...?"
the programs their titles and NAME lines name. A question that demands no type, or whose
type none of its passages write, has none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from outweigh.prompt import Citation
from outweigh.retrieval.structure import (
    COUNT,
    INSTALLS,
    LICENSE_TITLE,
    LICENSED,
    MD_LINK,
    OPTION,
    VALUES,
    demands,
    name_of,
)
from outweigh.text import common, fold

MOST = 12
"""Candidates a reader is offered at most, in passage order: it chooses well among a few."""

_TRIM = " \t.,;:`'\"*_[]()<>"
_COPYRIGHT = re.compile(
    r"^[\W_]*(?:(?:copyright\b|\(c\)|©)[\s:]*)+(?:[\d\s,\-–]*\d{4}\b[\s,]*)?(?P<who>.+)", re.I
)
"""A copyright line, the holder and what follows in `who`: "Copyright (c) 2005-2020, [Ilya
Etingof](mailto:etingof@gmail.com).", "Copyright 2014, 2015 Ori Livneh <ori@wikimedia.org>"."""
_HOLDER_END = re.compile(
    r"\s*(?:<|\(|\[?https?:|\bmailto:|\ball rights reserved|\band (?:the )?contributors?\b|$)",
    re.I,
)
_LICENSE_FIELD = re.compile(r"^\W*licen[cs]e\s*:\s*(?P<name>[^\s].{0,60}?)\s*$", re.I)
_COMMAND = re.compile(
    r"^(?:[$>#]\s+)?(?P<cmd>[a-z][\w.+-]*(?: +[^\s`]+){1,7})\s*$",
)
"""A command line: a program's lower-case name and its words, "pip install charset-normalizer
-U", "rustup component add clippy"; a prompt's "$ " before it is not part of it."""
_NAMED = re.compile(
    r"^\s*(?P<name>[a-z][\w.+-]*)(?:\(\d\w*\)\s*$|(?:,\s*[\w.+-]+)*\s+[-\u2013\u2014]\s+\S)"
)
"""A line that names a program: a manual's title, "chage(1)", or its NAME line, "chage -
изменяет информацию ...", "addr2line - convert addresses ..."."""
_HANDLE = re.compile(r"(?<![\w/.@-])@[A-Za-z\d][\w-]*(?![\w/@-])")
"""A GitHub user's handle, "by @sashashura"; not an npm scope's "@npmcli/arborist", nor the
"@" of an address."""
_INSIDE = re.compile(r"[.\-/]\d")
_BEFORE = re.compile(r"[\w-]$")
_BOUND = re.compile(r"(?:<<|>>|[<>]=?|[=!~]=|\^|~)\s?$")
"""The comparison a requirement writes before a version: ">=" of "Requires-Python: >=3.11"."""
_CODE = re.compile(r"`([^`\n]+)`")
_FENCE = re.compile(r"^\s*(?:```|~~~)")
_PROMPT = re.compile(r"^\s*[$>#]\s")


def candidates(question: str, passages: Sequence[Citation]) -> list[str]:
    """What `question`'s passages write of the type it demands, as answers "value [n]", each
    value once, in the order the passages give them (see the module)."""
    kind = demands(question)
    if kind is None:
        return []
    seen: set[str] = set()
    out: list[str] = []
    for c in passages:
        for value in values(c.excerpt or c.text, kind):
            key = fold(value)
            if key and key not in seen:
                seen.add(key)
                out.append(f"{value} [{c.n}]")
    return out


def values(text: str, kind: str) -> Iterator[str]:
    """The values of type `kind` (`structure.demands`' types) that `text` writes."""
    if kind == "license":
        yield from _licenses(text)
    elif kind == "person":
        yield from _people(text)
    elif kind == "install":
        yield from _commands(text)
    elif kind == "option":
        for m in OPTION.finditer(text):
            yield m.group().rstrip("-")
    elif kind == "command":
        for line in text.splitlines():
            if m := _NAMED.match(line):
                yield m.group("name")
    elif kind in ("email", "url"):
        for m in VALUES[kind].finditer(text):
            yield m.group().rstrip(".,;:'\"`)*_")
    elif kind == "date":
        bare = VALUES["url"].sub(" ", text)  # a link's "2024/05" is no date
        for m in VALUES["date"].finditer(bare):
            # Nor is the "2024" of "anaconda3-2024.06-1".
            if not _INSIDE.match(bare, m.end()) and not _BEFORE.search(bare, 0, m.start()):
                yield m.group()
    elif kind in ("version", "number"):
        # A link's or a date's digits are neither ("https://img.shields.io/pypi/v/1.2").
        bare = VALUES["url"].sub(" ", text)
        if kind == "number":
            bare = VALUES["version"].sub(" ", VALUES["date"].sub(" ", bare))
        pattern = VALUES["version"] if kind == "version" else COUNT
        for m in pattern.finditer(bare):
            value = m.group().rstrip(".,;:")
            if kind == "version":  # a requirement as written: ">=3.11", "3.8+", "(>= 2.34)"
                bound = _BOUND.search(bare, 0, m.start())
                value = (bound.group() if bound else "") + value
                value += (
                    "+" if bare.startswith("+", m.start() + len(value.lstrip("<>=!~^"))) else ""
                )
            yield value


def _licenses(text: str) -> Iterator[str]:
    for line in text.splitlines():
        for m in LICENSED.finditer(line):
            yield _clean(m.group("name"))
        for pattern in (LICENSE_TITLE, _LICENSE_FIELD):
            if m := pattern.match(line):
                yield _clean(m.group("name"))


def _people(text: str) -> Iterator[str]:
    for line in text.splitlines():
        line = MD_LINK.sub(r"\g<text>", line)
        if m := _COPYRIGHT.match(line):
            holder = _HOLDER_END.split(m.group("who"), maxsplit=1)[0]
            if re.search(r"[^\W\d_]", holder):
                yield _clean(holder)
        for m in VALUES["person"].finditer(line):
            yield _clean(name_of(m.group()))
        yield from _HANDLE.findall(line)


def _commands(text: str) -> Iterator[str]:
    """Command lines that install: in code (inline, a fenced block, after a prompt's "$ "), or
    a line of its own whose program is no everyday word ("pip install x", not the wrapped
    "us install Clippy and its dependencies.")."""
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        pieces = [(p, True) for p in _CODE.findall(line)]
        pieces.append((line.strip(), fenced or bool(_PROMPT.match(line))))
        for piece, code in pieces:
            m = _COMMAND.match(piece.strip())
            if m is None:
                continue
            said = m.group("cmd").split()
            if INSTALLS.search(" ".join(said[1:4])) and (code or not common(said[0])):
                yield m.group("cmd")


def _clean(value: str) -> str:
    """`value` without the quotes, emphasis, brackets and punctuation around it."""
    value = value.strip(_TRIM)
    return value + "." if re.search(r"\b(?:Inc|Ltd|Co|Corp)$", value) else value
