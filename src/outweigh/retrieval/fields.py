"""The value of the field a question names, where its passages write that field.

A question may name a field by its key: "What is the library support of armv5te-none-eabi?"
over a page that lists "- Library Support: core and alloc (bare-metal, #![no_std])", "Which
Python versions does defusedxml require?" over a record's "Requires-Python: >=2.7, ...",
"What is the method of Owners: List?" over an API reference whose every endpoint has a
"Method:" line. A small reader copies a piece of the value ("bare-metal"), a value of the
same look from another line ("3.11"), or the subject back ("List"). Such a value is written
once, whole, on the field's line, so it is read from the text:

- a field is a line `Key: value`, a list item's too ("- Tier: 3"), with a key of one to four
  words that begins with a letter;
- a question names it when each word of its key, stemmed, is one of the question's words,
  and the key is not only words every sentence has;
- where several lines have that key (every record has a "Version:", every endpoint a
  "Method:"), the one under the unit the question names wins: the question's other words
  are counted in the line's file name and in the headings or the record's lead field it
  hangs from (`structure.outline`). Only one value may win; two, and nothing is read.

`field_reading` answers with the value where the reader gave a piece of it, another unit's,
a value of another field or the question's words back; it keeps an answer that holds the
value whole, or the one value of the type the question demands (the date of "Note: As of
2025-10-01 ..."), or that the reader read in prose. The engine checks the value as it checks
any reading (`engine.answering.checked_reading`). Context selection lifts the field's line
under the unit the question names (`named_keys`), so the reader sees it.

A link is a field too, its text the key and its address the value: "What URL does the
motor page give for “Motor OS”?" over "[Motor OS](https://github.com/moturus/motor-os) is a
new operating system", where the reader copies the page's other link, "[built using
x.py](https://rustc-dev-guide...)". `link_reading` answers with the address of the link
whose text the question quotes, or else names in its words (`named_link`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from outweigh.attribution import MARKER, contains, tokens
from outweigh.retrieval.structure import (
    MD_LINK,
    VALUES,
    ancestors,
    demands,
    gives,
    lines_of,
    outline,
)
from outweigh.text import NEGATIONS, stems, stop_words

if TYPE_CHECKING:
    from outweigh.prompt import Citation

_KEY_TEXT = r"[^\W\d_][^\W\d_.()/-]*(?:[ -][^\W\d_][^\W\d_]*){0,3}"
_FIELD = re.compile(rf"^(?:[-*+\u2022]\s+)?(?P<key>{_KEY_TEXT})\s*:\s+(?P<value>\S.*)$")
"""A `Key: value` line, or a list item that is one; the key one to four words of letters
("Requires-Python", "Library Support"), not a name with digits ("bpo-45495: ...")."""
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|`[^`]*`|«[^»]*»")
"""A span the question quotes: the title of an entry ("“Docs: update Fish PATH”"), not a
field it names."""
_KEY = re.compile(rf"^{_KEY_TEXT}$")
"""A table column's header that can name a field: as a field's key is written."""
_ROW = re.compile(r"^\|.*\|$")
_RULE = re.compile(r"^\|[ \t:|-]*\|$")
_URLISH = re.compile(r"^(?:https?|ftp|mailto|file)$", re.I)
_FRAME = stop_words("en", "ru") | NEGATIONS
_ASKS_LINK = re.compile(r"\b(?:link|online)\b(?!-)|\bссылк", re.I)
"""A question that asks for an address in words `demands` leaves to others ("What is the
link for ...?", "Where online is ...?"), not "link-time optimization"."""
SHORT = 3
"""A value of at most this many words is the answer whole, with the bound around a version
(">=3.10") or the words around a date; a longer one gives the one value of the demanded
type it holds."""
MAX_VALUE_WORDS = 40
"""A value longer than this is a paragraph that happens to begin with a label, not a field."""


@dataclass(frozen=True)
class Field:
    """One `Key: value` line of a passage, with the words of the unit it belongs to."""

    key: str
    value: str
    passage: int
    unit: frozenset[str]
    """Stems of its file name, of the lines it hangs from and of the run of fields it is one
    of (a record's); of a table cell, its file name and its row's first cell."""


def fields(passage: Citation, asked: set[str] | None = None) -> list[Field]:
    """The `Key: value` lines the reader saw of `passage`, out of code, and the cells of its
    tables' rows, each keyed by its column's header; only those whose key a question names,
    given its `asked_stems`. What a line hangs from is read in the passage's whole chunk,
    where an excerpt's lines lost the blank lines between records."""
    name = _named_by(passage)
    if not passage.excerpt:
        return _fields(passage.text, name, passage.n, asked, lambda line: True)
    shown = {_folded(line) for line in passage.excerpt.splitlines()}
    whole = {_folded(line) for line in passage.text.splitlines()}
    return _fields(passage.text, name, passage.n, asked, shown.__contains__) + _fields(
        passage.excerpt, name, passage.n, asked, lambda line: line not in whole
    )


def _named_by(passage: Citation) -> frozenset[str]:
    """The stems of the words of `passage`'s file name: what its document is about."""
    return frozenset(stems(re.sub(r"[-_.]+", " ", Path(passage.source).stem)))


def _folded(line: str) -> str:
    return " ".join(line.split())


def _fields(
    text: str, name: frozenset[str], n: int, asked: set[str] | None, keep: Callable[[str], bool]
) -> list[Field]:
    """`fields` of `text`, of a passage `n` whose file name's stems are `name`: those on a
    line `keep` takes (whitespace folded)."""
    lines = lines_of(text)
    if not any(_ROW.match(line.text) or _keyed(line.text, asked) for line in lines):
        return []  # no field asked for: the outline is not needed
    parent = outline(lines)
    # Each run of field lines: a record's "Name: defusedxml" says whose its "Home-page:" is,
    # whichever field the outline hangs the record from.
    field = [not line.code and _FIELD.match(line.text) is not None for line in lines]
    run = [0] * len(lines)
    for i in range(1, len(lines)):
        run[i] = run[i - 1] + (lines[i].blank_before or not field[i] or not field[i - 1])
    kin: dict[int, set[str]] = {}
    for i, line in enumerate(lines):
        if field[i]:
            kin.setdefault(run[i], set()).update(stems(line.text))
    out: list[Field] = []
    head: list[str] = []
    for i, line in enumerate(lines):
        if not line.code and _ROW.match(line.text):
            cells = [c.strip() for c in line.text.strip().strip("|").split("|")]
            if _RULE.match(line.text):
                continue
            if len(cells) != len(head) or line.blank_before:
                head = cells  # a header: the first row, or one of another width
                continue
            if not keep(_folded(line.text)):
                continue
            unit = name | frozenset(stems(" ".join(cells[:1])))
            out += [
                Field(key, cell, n, unit)
                for key, cell in zip(head[1:], cells[1:], strict=True)
                if _KEY.match(key) and cell and cell not in "-*" and _names(asked, key)
            ]
            continue
        head = []
        m = _FIELD.match(line.text)
        if line.code or m is None or not _keyed(line.text, asked) or not keep(_folded(line.text)):
            continue
        if set(stems(m["key"])) <= name:
            continue  # the document's own name ("* pyenv: Fix ..."): an entry's subject
        value = MARKER.sub("", m["value"]).strip()
        if not value or len(value.split()) > MAX_VALUE_WORDS:
            continue
        over = " ".join(lines[j].text for j in ancestors(parent, i))
        out.append(Field(m["key"], value, n, name | frozenset(stems(over)) | kin[run[i]]))
    return out


def named_field(question: str, passages: Sequence[Citation]) -> Field | None:
    """The field `question` names whose line the passages write under the unit it names (see
    the module docstring), or None where none does or two values tie. A key that takes more
    of the question's words names its field first: "Requires-Python", not "Version", for
    "Which Python versions does it require?"."""
    asked = asked_stems(question)
    found = []
    for passage in passages:
        for f in fields(passage, asked):
            key = set(stems(f.key)) - _FRAME
            found.append(((len(key), len((asked - key) & f.unit)), f))
    if not found:
        return None
    best = max(score for score, _ in found)
    values = {" ".join(tokens(f.value)): f for score, f in found if score == best}
    if len(values) != 1:
        return None
    (field,) = values.values()
    return field


def field_reading(
    answer: str, question: str, passages: Sequence[Citation], held: bool
) -> str | None:
    """The value of the field `question` names (`named_field`), marked with its passage, in
    place of the reader's `answer` (`held`: whether it held up on its own, `answers.holds_up`)
    where that answer
    - is a piece of the value ("bare-metal" of "core and alloc (bare-metal, #![no_std])"),
      unless the question demands a type of value and the piece gives it (the date in "Note:
      As of 2025-10-01 ..." for "When ...?");
    - did not hold up;
    - is the question's own words back ("List" for "the method of Owners: List");
    - or is written only on fields: of keys that share no word with the question ("3.11" of a
      `Classifier:` line for "Which Python versions does it require?"), or of the named key
      under another unit ("GET" of "Owners: List" for "Owners: Add: what is its method?").
    None where the answer holds the value whole, or is written in prose."""
    field = named_field(question, passages)
    if field is None:
        return None
    kind = demands(question)
    text = field.value
    if kind in VALUES and kind != "person":  # a person's name has no shape of its own
        pieces = {m.group(0) for m in VALUES[kind].finditer(text)}
        if not pieces:
            return None  # the field holds no value of the type the question demands
        if len(pieces) == 1 and len(text.split()) > SHORT:
            text = pieces.pop()
    said, value = tokens(MARKER.sub(" ", answer)), tokens(text)
    if contains(said, value):
        return None
    mark = f"{text} [{field.passage}]"
    if said and contains(value, said):
        return None if kind is not None and gives(answer, question) else mark
    if not held or set(said) <= set(tokens(question)):
        return mark
    asked = asked_stems(question)
    for passage in passages:
        for line in lines_of(passage.excerpt or passage.text):
            if not contains(tokens(line.text), said):
                continue
            m = _FIELD.match(line.text)
            key = frozenset(stems(m["key"])) - _FRAME if m else frozenset()
            if m is None or (key & asked and not key <= asked):
                return None  # said in prose, or under a key that shares the question's words
    return mark


def _keyed(text: str, asked: set[str] | None) -> bool:
    """Whether the line `text` is a field whose key a question names (`_names`)."""
    m = _FIELD.match(text)
    return m is not None and not _URLISH.match(m["key"]) and _names(asked, m["key"])


def _names(asked: set[str] | None, key: str) -> bool:
    """Whether a question (`asked`: its `asked_stems`; None for any) names the field `key`:
    each word of the key is one of its words, and not every word is one every sentence has."""
    if asked is None:
        return True
    words = set(stems(key)) - _FRAME
    return bool(words) and words <= asked


def keyed(line: str, asked: set[str]) -> frozenset[str]:
    """The stems of `line`'s key where it is a field whose key a question names (`asked`:
    its `asked_stems`); empty where it is not."""
    m = _FIELD.match(line)
    return frozenset(stems(m["key"])) - _FRAME if m and _keyed(line, asked) else frozenset()


def named_keys(
    lines: list[str],
    parent: list[int | None],
    terms: list[set[str]],
    rest: set[str],
    asked: set[str],
    named: bool,
) -> set[int]:
    """The indexes of the fields among a document's `lines` (`parent`: `structure.outline`'s)
    whose key a question names (`keyed`; `asked`: its `asked_stems`) with the most of its
    words, under the unit whose lines above them share the most of its other words `rest`
    (`terms`: each line's stems; a key must be of these words too, not of the document's
    name). Where no unit shares any, all such fields where the question names the document
    or its record (`named`), else none. A line of code is given as ""."""
    # A key of the words that name the document is its subject's, not a field asked for:
    # "* pyenv: Fix ..." in pyenv's changelog.
    keys = {j: key for j, line in enumerate(lines) if (key := keyed(line, asked)) and key <= rest}
    most = max(map(len, keys.values()), default=0)  # "Requires-Python" before "Version"
    keys = {j: key for j, key in keys.items() if len(key) == most}
    reach = {
        j: len((rest - key) & set().union(*(terms[a] for a in ancestors(parent, j))))
        for j, key in keys.items()
    }
    top = max(reach.values(), default=0)
    return {j for j, n in reach.items() if n == top and (top or named)}


def asked_stems(question: str) -> set[str]:
    """The stems of `question` that can name a field: its words outside quotes, less those
    every sentence has."""
    return set(stems(_QUOTED.sub(" ", question))) - _FRAME


@dataclass(frozen=True)
class Link:
    """The link a question asks the address of (`named_link`)."""

    url: str
    passage: int
    quoted: bool
    """Whether the question quotes its text whole, not only uses its words."""


def named_link(question: str, passages: Sequence[Citation]) -> Link | None:
    """The link among the lines the reader saw of `passages` (Markdown's `[text](address)`,
    as documents in HTML are read too) whose text `question` quotes whole ("Where online is
    “RFC 2115”?"), or else whose every word, stemmed, is a word of the question, the most
    words first, and not only the words of the passage's file name (a page's own subject).
    None where none is, or two addresses tie. Only whole addresses count: a link to another
    page of the same site ("../install.html") is no answer to "what URL"."""
    quoted = {_folded(q[1:-1]).casefold() for q in _QUOTED.findall(question)}
    words = set(stems(question)) - _FRAME
    exact: dict[str, Link] = {}
    named: dict[int, dict[str, Link]] = {}
    for passage in passages:
        name = _named_by(passage)
        for m in MD_LINK.finditer(passage.excerpt or passage.text):
            url = m["url"].strip()
            if not VALUES["url"].fullmatch(url):
                continue
            text = _folded(m["text"].strip("`*_ "))
            if text.casefold() in quoted:
                exact.setdefault(url.rstrip("/"), Link(url, passage.n, True))
            key = set(stems(text)) - _FRAME
            if key and key <= words and not key <= name:
                named.setdefault(len(key), {}).setdefault(
                    url.rstrip("/"), Link(url, passage.n, False)
                )
    found = exact or (named[max(named)] if named else {})
    if len(found) != 1:
        return None
    (link,) = found.values()
    return link


def link_reading(
    answer: str, question: str, passages: Sequence[Citation], held: bool
) -> str | None:
    """The address of the link `question` asks for (`named_link`; only where it demands a
    URL, or asks for a link and quotes its text), marked with its passage, in place of the
    reader's `answer` (`held`: whether it held up on its own) where that answer does not give
    it: always, where the question quotes the link's text; else where the answer did not hold
    up, gives no address, or gives one written only on lines that share no word of the
    question but the passage's name ("Where can I download frobnicate?" keeps the address
    of "[download page](...)" over that of "[frobnicate](...)")."""
    url = demands(question) == "url"
    if not url and not _ASKS_LINK.search(question):
        return None
    # "link" alone may be a file's ("How do I make a symbolic link with ln?" over a page
    # that links "[ln](...)"): there, only a link whose text the question quotes.
    if (link := named_link(question, passages)) is None or not (url or link.quoted):
        return None
    given = {u.rstrip("/.,;") for u in VALUES["url"].findall(answer)}
    if link.url.rstrip("/") in given:
        return None
    mark = f"{link.url} [{link.passage}]"
    if link.quoted or not held or not given:
        return mark
    words = set(stems(question)) - _FRAME
    for passage in passages:
        name = _named_by(passage)
        for line in (passage.excerpt or passage.text).splitlines():
            said = VALUES["url"].sub(" ", MD_LINK.sub(r"\g<text>", line))
            if any(u in line for u in given) and (words - name) & set(stems(said)):
                return None  # its own line shares the question's words: read as asked
    return mark


_NAME = re.compile(
    r"(?<![\w-])[A-ZÀ-ÖØ-ÞА-ЯЁ][\w'’.-]*"
    r"(?:\s+(?:(?:van|von|de|der|den|da|di|du|le|la|del|dos)\s+)?[A-ZÀ-ÖØ-ÞА-ЯЁ][\w'’.-]*){1,3}"
    r"(?![\w-])"
)
"""A person's name in a question: two to four capitalised words ("Chris Nehren", "Randy W.
Sims's", "Guido van Rossum")."""
_POSSESSIVE = re.compile(r"['’]s?$")
_PARENS = re.compile(r"\([^()\n]{0,40}\)")
_BESIDE = re.compile(r"(?:[\s<\[:,;-]|\b(?:e-?mail|mail|at|address)\b)*", re.I)
"""What may stand between a name and its address: "Chris Nehren <apeiron@cpan.org>",
"Charles Bailey bailey@newman.upenn.edu", "David Golden (xdg) <dagolden@cpan.org>", "Ana
Lima, e-mail: ana@example.org"; not another word, which may be another person's name."""


def beside(gap: str) -> bool:
    """Whether `gap`, the text between a person's name and an e-mail address after it,
    leaves the address that person's (`_BESIDE`)."""
    return bool(_BESIDE.fullmatch(_PARENS.sub(" ", gap)))


def named_address(question: str, passages: Sequence[Citation]) -> tuple[str, int] | None:
    """The e-mail address the lines the reader saw of `passages` write beside the person
    `question` names, and its passage: right after the name, with nothing but punctuation,
    a bracketed nickname or a word for mail between ("Chris Nehren <apeiron@cpan.org>"), or
    right before it as "address (Name)". None where the question names no one, or the name
    has no address beside it, or two addresses (a person with two, or two with one name)."""
    names = [
        re.compile(
            r"(?<![\w-])"
            + r"\s+".join(re.escape(_POSSESSIVE.sub("", w)) for w in m.group().split())
            + r"(?![\w-])",
            re.I,
        )
        for m in _NAME.finditer(question)
    ]
    if not names:
        return None
    found: dict[str, tuple[str, int]] = {}  # by the address in one case
    email = VALUES["email"]
    for passage in passages:
        text = passage.excerpt or passage.text
        for named in names:
            for m in named.finditer(text):
                after = email.search(text, m.end(), m.end() + 60)
                if after and beside(text[m.end() : after.start()]):
                    address = after.group().rstrip(".")
                    found.setdefault(address.casefold(), (address, passage.n))
                before = text[max(0, m.start() - 80) : m.start()]
                if b := re.search(rf"({email.pattern})\s*[(\"]\s*$", before):
                    address = b.group(1).rstrip(".")
                    found.setdefault(address.casefold(), (address, passage.n))
    if len(found) != 1:
        return None
    (value,) = found.values()
    return value


def mail_reading(
    answer: str, question: str, passages: Sequence[Citation], held: bool
) -> str | None:
    """The e-mail address written beside the person `question` names (`named_address`;
    only where it demands an e-mail address), marked with its passage, in place of the
    reader's `answer` where that answer does not give it. A list of people with their
    addresses ("* Chris Nehren <apeiron@cpan.org>" between two others) is where a small
    reader copies the next person's. `held` is not needed: the next person's address is
    written in the passage too, so it holds up."""
    del held
    if demands(question) != "email" or (found := named_address(question, passages)) is None:
        return None
    address, n = found
    if address.casefold() in answer.casefold():
        return None
    return f"{address} [{n}]"
