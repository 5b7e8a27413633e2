"""The terms a reference defines, and which one a question describes.

A manual, a `--help` text or an option table is a list of terms, each with what it does: an
option line ("-p, --parents") over its description, a heading that names an option
("pstree(1), параметр -T") over its text, a NAME line ("comm - compare two sorted files line
by line"). "How do I compare two sorted files line by line?", "Which option shows process
group IDs?" and "Какой командой удаляют учётную запись?" describe a term in other words and
ask for its name.

A small reader often answers such a question with the description itself ("Скрывать нити и
показывать только процессы."), with the name of the program rather than its option, or with
a neighbouring term. `described` finds the term whose description shares the most of the
question's words, then the rarer ones among the terms, where one clearly leads; the engine
answers with it where the reader named none, or a term the question describes less well
(`replace_reading`, called by `engine.answering.checked_reading`). A program in an answer
is run with its own option, not another program's (`_owned`).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from outweigh.attribution import MARKER
from outweigh.retrieval.structure import OPTION, demands
from outweigh.text import NEGATIONS, stems, stop_words, words

if TYPE_CHECKING:
    from outweigh.prompt import Citation

_ARG = r"(?:\[?=[^\s,]*\]?|\[[^\s\]]*\])?"
_OPT = rf"--?[^\W_][\w-]*{_ARG}"
_OPTION_LINE = re.compile(rf"^((?:{_OPT}(?:,\s*|\s+(?=-)))*{_OPT})(?=\s|$)\s*(.*)$")
"""A line that opens with options: "-p, --parents", "-n do not output the trailing newline",
"--time-style=STYLE", "--context[=CTX]"; the description, if on the same line, after them."""
_QUOTED = re.compile(r"^[`'‘\"]([^`'‘’\"]+)[`'’\"]$")
"""An option line in quotes, as Texinfo writes one: "'-s --small'", "'-a INPUTFILE'"."""
_NAME_LINE = re.compile(
    r"^((?:[^\W\d_][\w.+-]*(?:\(\w+\))?)(?:,\s*[^\W\d_][\w.+-]*(?:\(\w+\))?){0,3})"
    r"\s+[-\u2013\u2014]\s+(\S.*)$"
)
"""A NAME line: "df - report file system space usage", "chfn - изменяет информацию о
пользователе"; the names, then the description. A name begins with a letter: "1.2.3 - fix
the parser" is a changelog's entry."""
_SECTION = re.compile(r"^[^\W\d_a-zа-яё][^a-zа-яё]*$|\b[A-Z][\w.+-]*\(\d\w*\)$")
"""A heading in capitals ("DESCRIPTION", "OPTIONS") or a manual's header or footer line
("GNU coreutils 9.1 September 2022 MKDIR(1)"): the end of a term's text."""
_HEAD_WORDS = 6
"""Words a heading that names options takes at most: "killall(1), параметр -w, --wait". It
is a passage's first line and ends with an option."""
_LAST = re.compile(_OPT)
"""The option such a heading ends with, and its argument: "-T", "--html[=браузер]",
"--suffix=суффикс"."""
_BODY_LINES = 4
"""Lines of a term's description read past its name line."""

_ASKS_HOW = re.compile(
    r"^\W*how\s+(?:do|can|could|should|would|to|does\s+one)\b|^\W*как\b(?!\w)", re.I
)
"""A question that asks how to do something: in a manual, a command or an option does it."""
_FRAME = stop_words("en", "ru") | NEGATIONS
"""Words that say nothing alone: they weigh nothing in a match."""
_ASKING = (
    "how which what option options flag switch command program utility tool parameter "
    "параметр параметром ключ ключом опция команда командой программа утилита"
)
"""Words that ask for a term, not describe one: their stems weigh nothing in a match."""

LEAD = 1.0
"""How far the best term's match must exceed any other's: about one more word shared."""
SHARED = 2
"""Words of the question the best term's text must share, at least."""


@dataclass(frozen=True)
class Term:
    """One term a passage defines."""

    names: tuple[str, ...]
    """Its options or command names, as written: ("-p", "--parents"), ("comm",)."""
    kind: str
    """"option" or "command"."""
    text: str
    """What it does: its description, and for an option its long names."""
    passage: int
    """The `n` of the passage it is defined in."""
    line: str = ""
    """The line that names it, as written: "update-passwd(8), параметр -S ФАЙЛ, --shadow=ФАЙЛ"."""

    @property
    def label(self) -> str:
        """How an answer names it: "-p, --parents", "comm"."""
        return ", ".join(self.names)


def terms(text: str, passage: int = 0) -> list[Term]:
    """The terms `text` defines, in order (see the module's docstring)."""
    lines = [line.strip() for line in text.splitlines()]
    first = next((i for i, line in enumerate(lines) if line), None)
    out: list[Term] = []
    for i, line in enumerate(lines):
        if not line:
            continue
        if m := _OPTION_LINE.match(_QUOTED.sub(r"\1", line)):
            names = tuple(OPTION.findall(m.group(1)))
            spelled = " ".join(n.lstrip("-") for n in names if n.startswith("--"))
            body = _body(lines, i, most=1)
            out.append(Term(names, "option", f"{spelled} {m.group(2)} {body}", passage, line))
        elif m := _NAME_LINE.match(line):
            names = tuple(re.sub(r"\(\w+\)$", "", n.strip()) for n in m.group(1).split(","))
            nxt = i + 1
            # The first lines of the section that follows say more of what it does.
            more = _body(lines, nxt, most=2) if nxt < len(lines) and _heading(lines[nxt]) else ""
            out.append(Term(names, "command", f"{m.group(2)} {more}".strip(), passage, line))
        elif i == first and len(line.split()) <= _HEAD_WORDS and _LAST.fullmatch(line.split()[-1]):
            names = tuple(OPTION.findall(line))
            out.append(Term(names, "option", _body(lines, i, blank=True), passage, line))
    return out


def _heading(line: str) -> bool:
    return bool(_SECTION.search(line))


_TITLED = re.compile(r"^([^\W_][\w.+-]*)\(\w+\)")
"""A manual's title at the start of a passage: "pstree(1), параметр -T"."""


@functools.lru_cache(maxsize=256)
def program(text: str) -> str | None:
    """The program a passage documents: the name its NAME line gives, else the lower-case
    title it opens with ("pstree" of "pstree(1), параметр -T"); None where it says neither."""
    named = next((t.names[0] for t in terms(text) if t.kind == "command"), None)
    if named is not None:
        return named
    m = _TITLED.match(text.lstrip())
    return m.group(1) if m and not m.group(1).isupper() else None


def _body(lines: list[str], i: int, blank: bool = False, most: int = _BODY_LINES) -> str:
    """The description under line i: the lines after it up to the next term, heading or
    blank line (past blank lines where `blank`: a heading's text), `most` at most."""
    out: list[str] = []
    for line in lines[i + 1 :]:
        if not line:
            if blank and not out:
                continue
            break
        if _OPTION_LINE.match(line) or _heading(line) or len(out) == most:
            break
        out.append(line)
    return " ".join(out)


def asks_for_term(question: str) -> str | None:
    """The kind of term `question` asks for: "option", "command", or "any" for a question
    that asks how to do something ("How do I ...?", "Как ...?"); None for any other."""
    demand = demands(question)
    if demand in ("option", "command"):
        return demand
    if demand is None and _ASKS_HOW.search(question):
        return "any"
    return None


def described(question: str, passages: Sequence[Citation], kind: str) -> Described | None:
    """How well `question` describes each term of `kind` ("option", "command" or "any") the
    `passages` define, and the one it describes best where that one clearly leads (`LEAD`,
    `SHARED`); None where no term shares a word with it. An option the question names itself
    is not a candidate: "How does --wait work?" does not ask for --wait. The names of the
    programs the passages document are not words that describe: "killall" in "Which option
    of killall ...?" matches every text of killall's manual that names it."""
    # The programs the passages document name where to look, not what is asked for.
    programs = {program(c.excerpt or c.text) for c in passages} - {None}
    asked = _described_by(question) - {s for p in programs for s in stems(str(p))}
    named = {o.casefold() for o in OPTION.findall(question)}
    defined = [t for c in passages for t in terms(c.excerpt or c.text, c.n)]
    found = [
        t
        for t in defined
        if (kind == "any" or t.kind == kind) and not named & {n.casefold() for n in t.names}
    ]
    shared = [_shared(asked, _described_by(t.text)) for t in found]
    if not any(shared):
        return None
    uses = Counter(w for ws in shared for w in ws)
    # Words shared first; among as many, the rarer ones among the terms.
    scores = [len(ws) + sum(1 / uses[w] for w in ws) / len(asked) for ws in shared]
    order = sorted(range(len(found)), key=lambda j: -scores[j])
    top = order[0]
    rival = next(
        (scores[j] for j in order[1:] if set(found[j].names) != set(found[top].names)), 0.0
    )
    leads = len(shared[top]) >= SHARED and scores[top] >= rival + LEAD
    best = (found[top], scores[top]) if leads else None
    return Described(best, list(zip(found, scores, strict=True)), defined)


def _described_by(text: str) -> set[str]:
    """The stems of `text`'s words that can say what a term does (`_FRAME`, `_ASKING`)."""
    return {s for w in words(text) if w not in _FRAME for s in stems(w)} - _asking()


@functools.cache
def _asking() -> frozenset[str]:
    return frozenset(stems(_ASKING))


_AFFIX = 4
"""Letters two stems must share to be taken for one word in two forms."""


def _shared(asked: set[str], said: set[str]) -> set[str]:
    """The stems of `asked` that `said` writes, as they are or in another form: one stem the
    other's beginning or end, or the two apart only by their last letters. Snowball leaves
    a Russian verb's aspects apart ("скрыть" / "скрывать", "отсортировать" /
    "сортировать")."""
    return {q for q in asked if q in said or any(_akin(q, w) for w in said)}


def _akin(a: str, b: str) -> bool:
    short, long = sorted((a, b), key=len)
    if len(short) < _AFFIX:
        return False
    if long.startswith(short) or long.endswith(short):
        return True
    common = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(short))
    return common >= len(short) - 1


@dataclass(frozen=True)
class Described:
    """`described`'s finding."""

    best: tuple[Term, float] | None
    """The term the question describes, where one clearly leads, and its match."""
    scores: list[tuple[Term, float]]
    """Each candidate term and its match."""
    defined: list[Term]
    """Every term the passages define, of any kind."""

    def score(self, answer: str) -> float | None:
        """The best match among the terms `answer` names; None where it names none."""
        said = {w.casefold() for w in OPTION.findall(answer)} | {
            w.casefold() for w in re.findall(r"[^\W_][\w.+-]*", answer)
        }
        named = [s for t, s in self.scores if said & {n.casefold() for n in t.names}]
        return max(named, default=None)


def replace_reading(answer: str, question: str, passages: Sequence[Citation]) -> str | None:
    """The term `question` describes (`described`), marked with its passage, where the
    reader's `answer` names only terms the question describes clearly less well, or none
    and the question demands an option or a command. To a question that asks how ("How do I
    ...?"), an answer that names no term is replaced only where it is the term's own
    description, or a part of it, or the program the term is an option of: "pytest" for
    "How do I run the tests?" stays, whatever option of it the passages describe. Else the
    program's own option (`_owned`); else None."""
    kind = asks_for_term(question)
    if kind is None:
        return None
    found = described(question, passages, kind)
    said = found.score(answer) if found is not None and found.best is not None else None
    if found is None or found.best is None or (said is not None and said + LEAD > found.best[1]):
        return _owned(answer, question, passages) if kind == "any" else None
    term, _ = found.best
    passage = next(c for c in passages if c.n == term.passage)
    prog = program(passage.excerpt or passage.text) if term.kind == "option" else None
    if said is None and kind == "any" and not _restates(answer, found.defined, prog):
        return None
    name = f"{prog} {term.label}" if kind == "any" and prog else term.label
    return f"{name} [{term.passage}]"


def _owned(answer: str, question: str, passages: Sequence[Citation]) -> str | None:
    """An answer to a how-question that runs a program the passages document with an option
    its manual does not define ("echo --no-newline", readlink's), given the program's own
    option the question describes where one leads over its other options and its NAME line
    ("echo -n"), else the program alone ("uniq" for "uniq --elide-empty-files", csplit's;
    "rmdir" for "rmdir --remove", as "rmdir - remove empty directories" says it); None
    where each option is the program's, or the answer names no such program."""
    first, *_ = words(MARKER.sub(" ", answer)) or [""]
    options = {o.casefold() for o in OPTION.findall(MARKER.sub(" ", answer))}
    own = [c for c in passages if (program(c.excerpt or c.text) or "").casefold() == first]
    if not options or not own:
        return None
    defined = {n.casefold() for c in own for t in terms(c.excerpt or c.text) for n in t.names}
    if options & defined:
        return None
    found = described(question, own, "any")  # the program itself among its options
    if found is not None and found.best is not None and found.best[0].kind == "option":
        term, _ = found.best
        return f"{first} {term.label} [{term.passage}]"
    return f"{first} [{own[0].n}]"


def _restates(answer: str, defined: list[Term], prog: str | None) -> bool:
    """Whether `answer` says no more than what the `defined` terms' lines and descriptions
    write (a description copied, or a part of one, its last word perhaps cut short), or
    names the program `prog` the term is an option of, or says nothing at all ("нет"): the
    words of what a term is, not an answer of its own."""
    said = [w for w in words(MARKER.sub(" ", answer)) if w not in _FRAME]
    if not said or (prog is not None and said[0] == prog.casefold()):
        return True
    own = {w for t in defined for w in words(f"{t.line} {t.text}")}
    *whole, last = said
    return all(w in own for w in whole) and (last in own or any(w.startswith(last) for w in own))
