"""Whether a passage reader's answer holds up against its question and the passages it read.

A small reader asked what its passages do not say rarely says so. It copies the nearest value
of the right look instead: the next entry's author, another manual's version, a pull request
number for a date, the placeholder an option's synopsis gives for its argument. With `[1]`
after it, such an answer would pass for grounded. `holds_up` turns it down, and the engine
answers "I don't know" (`engine.answering.checked_reading`). Each test reads only the texts, and
each leaves an answer alone when it cannot tell:

- `structure.gives`: the answer gives something the question asks for, not its own words
  back, and a value of the type its question words demand;
- `grounded`: that value, an e-mail address, a URL, the digits of a date, a version or a
  count, a person's name outside a link or a command that installs, is written in a passage
  (or its file name), and not made up
  ("http://time-system-measurement.txt" for GNU time's home page); so is any link or address
  an answer gives, whatever the question;
- `dated`: a date is written as a date ("2024-05-01", "May 2024", "06-May-09"), not as the
  pull request number "3168";
- `defaulted`: a default ("What is the default for --max-procs?", "what does `env` default
  to?") is written in a sentence that says "default" ("the default is 1", "(default 8)"),
  not any number of the option's text ("2" from "--cut-dirs=2" in an example) nor the
  section's title;
- `noticed`: a copyright holder ("Who holds the copyright of cachetools?") is written in a
  sentence that says "copyright", and a licence ("Which licence ...?") in one that says
  "licence", not any name or version a README's badges give;
- `placeholder`: the answer is not the name a passage gives an option's argument ("NUMBER"
  for `--metalink-index=NUMBER`);
- `from_named`: where the question names a document by the words of its file name ("GNU
  Coreutils" and `coreutils-introduction.txt`, "libnpmpublish" and
  `libnpmpublish-README.md`; or, for a question that demands a typed value, an everyday word
  that begins a file name of the collection, "ed" and `ed-overview.txt`), the answer is in
  that document, or in one whose text names it too, not in the one beside it;
- `tied`: where a passage has an entry for the number the question names ("- Issue #4008:
  ...", "bpo-45495: ...") or for the words it quotes (“GitHub Workflows security
  hardening”), the answer comes from that entry or the headings over it, not the entry
  beside it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from outweigh.attribution import MARKER, held_share, key_tokens, tokens
from outweigh.retrieval.identifiers import identifiers, mentions
from outweigh.retrieval.structure import (
    INSTALLS,
    MD_HEADING,
    VALUES,
    Line,
    ancestors,
    demands,
    gives,
    is_heading,
    lines_of,
    outline,
    starts_item,
)
from outweigh.retrieval.titles import KIND_NAMES, terms, titles
from outweigh.retrieval.titles import names as names_in_full
from outweigh.text import WORD, common, fold, rare, stop_words, words, wordset

if TYPE_CHECKING:
    from outweigh.prompt import Citation

_VALUE = re.compile(r"[^\s\"'`“”‘’«»(),;?!<>\[\]]*\d[^\s\"'`“”‘’«»(),;?!<>\[\]]*")
"""A run of text with a digit in it: the value of a date, a version or a count as written."""
_EDGE = ".:-/#*{}"

_MONTHS = (
    r"(?i:\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b"
    r"|январ|феврал|март|апрел|ма[йя]|июн|июл|август|сентябр|октябр|ноябр|декабр)"
)
_DATE = re.compile(
    rf"{VALUES['date'].pattern}"
    r"|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b"  # 12.03.2024, 5/1/24
    rf"|\d[-\s./]{{0,3}}{_MONTHS}|{_MONTHS}[-\s./,]{{0,3}}\d"  # 06-May-09, 5 мая, May 5
    r"|\b(?:19|20)\d{6}\b"  # 20240501
)
"""A date as a date is written, beyond `VALUES["date"]`'s: any digits beside a month's name,
day-month-year with dots or slashes, a run of eight digits that starts with a year."""

_ENTRY_LEAD = re.compile(r"^(?:[-*+\u2022]\s+|\(?\d{1,3}[.)]\s+)")
"""A list item's bullet or number."""
_ENTRY_LABEL = re.compile(r"^[^\s:]+(?:\s[^\s:]+)?:\s")
"""An entry that names itself first, in one or two words and a colon: "bpo-45495: ...",
"Issue #4008: ..."."""
_STOP = stop_words("en", "ru")
PREAMBLE = 3
"""Lines under a heading, before its first entry, that go with each entry (`_preamble`)."""


def holds_up(
    answer: str,
    question: str,
    passages: Sequence[Citation],
    leads: Collection[str] = frozenset(),
) -> bool:
    """Whether the reader's `answer` to `question` holds up against the `passages` it read
    (see the module docstring); "I don't know" is not judged here. `leads` are the first
    words of the collection's file names (`lead`), which a question may name a document by
    even where they are everyday words ("time", "ed")."""
    return (
        gives(answer, question)
        and grounded(answer, question, passages)
        and dated(answer, question)
        and owned(answer, question, passages)
        and defaulted(answer, question, passages)
        and noticed(answer, question, passages)
        and not placeholder(answer, passages)
        and tied(answer, question, passages)
        and from_named(answer, question, passages, leads)
    )


def _seen(passages: Sequence[Citation]) -> str:
    """Everything the reader was shown, and the whole chunks: file names and text, folded."""
    return fold(" \n".join(f"{Path(c.source).name} {c.excerpt or ''} {c.text}" for c in passages))


def grounded(answer: str, question: str, passages: Sequence[Citation]) -> bool:
    """Whether each value of the type `question` demands (`structure.demands`) that `answer`
    gives is written in one of `passages`, or in its file name: an e-mail address or a URL
    whole, each run of text with a digit in it for a date, a version or a count. Whatever
    the question, an e-mail address or a URL the answer gives is written whole: "Where can
    the contributing guide be found?" does not take a link no passage writes. A person
    ("Who ...?") is named outside links and paths, not "python-rsa" of
    "github.com/sybrenstuvel/python-rsa"; a command that installs is written as the answer
    gives it (`_command`), not "npm install which" where no passage writes it."""
    kind = demands(question)
    body = MARKER.sub(" ", answer)
    values = [v.rstrip(".,;:") for k in ("email", "url") for v in VALUES[k].findall(body)]
    if kind in ("date", "version", "number"):
        values += [v.strip(_EDGE) for v in _VALUE.findall(body)]
    seen = _seen(passages)
    for value in map(fold, values):
        if kind == "version" and re.match(r"v\d", value):
            value = value[1:]
        if value and value not in seen:
            return False
    if kind == "person":  # a name, not a word of a link or path: "python-rsa" of a GitHub URL
        text = "\n".join(f"{c.excerpt or ''}\n{c.text}" for c in passages)
        prose = fold(_PATH.sub(" ", VALUES["url"].sub(" ", text)))
        return all(t in prose for t in tokens(fold(body)) if t not in _STOP)
    if kind == "install" and (command := _command(body)):  # "npm install which" unwritten
        return command in " ".join(seen.split())
    return True


_PATH = re.compile(r"\S*/\S*")
"""A run of text with a slash in it: a link or a path, or a link's tail cut off its start."""
_FENCE = re.compile(r"^\s*```[\w+-]*\s*$", re.M)
"""A line that opens or closes a block of code: "```bash"."""
_PROMPT = re.compile(r"^\s*[$#>]\s+")


def _command(answer: str) -> str:
    """The command `answer` gives, as a passage would write it: its first line with a verb
    that installs (`structure.INSTALLS`), without backticks, a shell prompt or a full stop,
    whitespace and case folded; "" where no line has one."""
    for line in _FENCE.sub("", answer).replace("`", " ").splitlines():
        if INSTALLS.search(line):
            return " ".join(fold(_PROMPT.sub("", line)).split()).rstrip(".")
    return ""


def tidy(answer: str) -> str:
    """`answer` without the lines that open or close a block of code around it: "npm install
    which", not "```bash\nnpm install which"."""
    return _FENCE.sub("", answer).strip("\n") if "```" in answer else answer


def dated(answer: str, question: str) -> bool:
    """Whether `answer` writes a date where `question` demands one ("When ...?", "On what
    date ...?"); any answer to another question does."""
    return demands(question) != "date" or bool(_DATE.search(MARKER.sub(" ", answer)))


_GENERIC = wordset("version versions release releases ver rev revision edition v")
"""Words between a name and its version that name nothing: "Apache License, Version 2.0"."""


def owned(answer: str, question: str, passages: Sequence[Citation]) -> bool:
    """Whether a version `answer` gives where `question` demands one is, on some line of the
    passages that writes it, the version of what the question asks about, not another
    thing's: the name before it (`_owner`: "Python 2.6.6", "IDLE 2.7.4", "Apache License,
    Version 2.0") is a word of the question, or there is none, or it is no name
    ("documents version 4.9.0"). Where the question asks which version of a platform a thing
    requires, the platform is named on its line (`_required`). "OAuth 2.0" and "the GNU Free
    Documentation License, Version 1.3" are no answer to "Which minimum Python version does
    gcs-oauth2-boto-plugin require?" nor to "Which version of GNU Findutils does its manual
    document?". A value no line writes as such is left to `grounded`."""
    if demands(question) != "version":
        return True
    asked = set(words(question))
    for owners in _owners(answer, passages):
        names = [w for w in owners if w is not None and w[0].isupper()]
        if owners and len(names) == len(owners) and not any(w.casefold() in asked for w in names):
            return False
    return _required(answer, question, passages)


_REQUIRES = re.compile(
    r"\b(?:requires?|required|needs?|supports?|supported|compatible|runs? on|works? with)\b"
    r"|требу|нужн|поддерж",
    re.I,
)
_PLATFORM = re.compile(r"\b([A-ZА-ЯЁ][\w.+-]*[\w+])\s+(?:versions?|верси)")
"""What a version is asked of, named before the word: "Python" of "Which Python version does
requests require?", "Node.js" of "Which minimum Node.js version ...?"."""


def _required(answer: str, question: str, passages: Sequence[Citation]) -> bool:
    """Whether a version `answer` gives, where `question` asks which version of a platform
    something requires or supports, is written on a line that names the platform (or just
    under one), or on one that says it is required with no other name before it: "3.8+" of
    "Requests officially supports Python 3.8+", "3.3" of "It has support for 3.3+"; not a
    package's own "version: '1.0.0'" in an example for "Which minimum Node.js version does
    libnpmfund require?", nor its "Version: 1.3.3" or another package's "Requires-Dist:
    diskcache>=5.6.1" for "Which Python versions does diskcache require?". A value no line
    writes is left to `grounded`."""
    platform = next((m[1] for m in _PLATFORM.finditer(question) if fold(m[1]) not in _STOP), None)
    if platform is None or not _REQUIRES.search(question):
        return True
    name = fold(platform)
    lines = [line for c in passages for t in (c.excerpt, c.text) if t for line in t.splitlines()]
    folded = [fold(line) for line in lines]
    for value in (v.strip(_EDGE) for v in _VALUE.findall(MARKER.sub(" ", answer))):
        written = re.compile(rf"(?<![\w.]){re.escape(value)}(?!\w)", re.I)
        at = [(i, m.start()) for i, line in enumerate(lines) for m in written.finditer(line)]
        if at and not any(
            name in folded[i]
            or (i and name in folded[i - 1])
            or (_REQUIRES.search(lines[i]) and _unnamed(_owner(lines, i, start)))
            for i, start in at
        ):
            return False
    return True


def _unnamed(owner: str | None) -> bool:
    """Whether the word before a version names nothing: none, or a stop word ("for")."""
    return owner is None or fold(owner) in _STOP


def owned_as_asked(answer: str, question: str, passages: Sequence[Citation]) -> bool:
    """Whether a line of the passages writes the version `answer` gives after a word of
    `question`: "CPython 3.15.0a3" for "Which CPython version did pyenv v2.6.17 add?", where
    the next release's heading "v2.6.30" has no such word (`engine.answering.offered` offers
    such values first)."""
    asked = set(words(question))
    return any(
        any(w is not None and w.casefold() in asked for w in owners)
        for owners in _owners(answer, passages)
    )


def _owners(answer: str, passages: Sequence[Citation]) -> Iterator[list[str | None]]:
    """For each version-like value of `answer`, the word before it (`_owner`) on each line of
    `passages` that writes it."""
    lines = [line for c in passages for t in (c.excerpt, c.text) if t for line in t.splitlines()]
    for value in (v.strip(_EDGE) for v in _VALUE.findall(MARKER.sub(" ", answer))):
        written = re.compile(rf"(?<![\w.])v?{re.escape(_V_NAME.sub('', value))}(?!\w)", re.I)
        yield [
            _owner(lines, i, m.start())
            for i, line in enumerate(lines)
            for m in written.finditer(line)
        ]


def _owner(lines: list[str], i: int, start: int) -> str | None:
    """The word a version at `start` of `lines[i]` follows, past "version", "release" and
    punctuation ("Python 2.6.6", "Apache License, Version 2.0"); None where none does (a
    heading's "## 1.2.6"). Where only such words come before it on its line and the line
    before ends with a comma, the sentence wrapped: "... License,\nVersion 1.3"."""
    said = WORD.findall(lines[i][:start])
    named = [w for w in said if w.casefold() not in _GENERIC]
    if said and not named and i > 0 and lines[i - 1].rstrip().endswith(","):
        named = [w for w in WORD.findall(lines[i - 1]) if w.casefold() not in _GENERIC]
    return named[-1] if named else None


_ASKS_DEFAULT = re.compile(r"\bdefaults?\b(?:\s+value)?\s+(?:of|for|to)\b", re.I)
_SENTENCE_END = re.compile(r"[.!?;](?=\s|$)")


def _joins(line: str, following: str) -> bool:
    """Whether a sentence runs on from `line` into `following`: `line` ends in a word or a
    comma, not in a full stop, a colon, a link's bracket (a badge), an address's ">" or an
    underline, and neither is a heading, nor does `following` begin an item of its own
    (`structure.starts_item`: "* Copyright ..." under "### License")."""
    end = line.rstrip()[-1:]
    return (
        (end.isalnum() or end == ",")
        and not MD_HEADING.match(line.strip())
        and not starts_item(following.strip())
    )


def defaulted(answer: str, question: str, passages: Sequence[Citation]) -> bool:
    """Whether `answer` is written in a sentence of one of `passages` that says "default"
    (`says_default`), where `question` asks for a default; any answer to another question
    is. An answer that is not written whole anywhere (a sentence of the reader's own) is left
    to the other tests."""
    if not _ASKS_DEFAULT.search(question):
        return True
    value = " ".join(fold(MARKER.sub(" ", answer)).split()).strip(" .,;:`'\"‘’“”")
    seen = _seen(passages)
    if not value or value not in " ".join(seen.split()):
        return True
    return any(value in sentence for sentence in says_default(seen))


_ASKS_COPYRIGHT = re.compile(r"\bcopyright|авторск\w* прав", re.I)
_COPYRIGHT_LINE = re.compile(r"^[\W_]*(?:copyright\b|\(c\)|©|авторск\w* прав)", re.I)
"""A copyright line: "Copyright (c) 2014 Ori Livneh", "* (C) 2010 Ana Lima"; not a licence's
words about copyright ("THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE")."""
_SAYS_LICENSE = re.compile(r"licen[cs]|лиценз", re.I)
_NOT_NAMING = frozenset({"licence", "license", "licensed", "version", "the", "by"})


def noticed(answer: str, question: str, passages: Sequence[Citation]) -> bool:
    """Whether `answer`'s words are all in a copyright line of one of `passages` (with the
    line it runs on into), where `question` asks who holds a copyright, or all in a sentence
    that says "licence", where it asks which licence (`structure.demands`): "Ori Livneh" of
    "Copyright 2014 Ori Livneh", "Apache 2.0" of "Apache License, Version 2.0", "BSD" of a
    `license-BSD` badge; not "PyPI" of a badge, nor "The authors" of a licence's "THE
    AUTHORS OR COPYRIGHT HOLDERS", nor "Python 3.8" for a licence. Any answer to another
    question is."""
    kind = demands(question)
    holder = kind == "person" and bool(_ASKS_COPYRIGHT.search(question))
    if not holder and kind != "license":
        return True
    text = fold("\n".join(f"{c.excerpt or ''}\n{c.text}" for c in passages))
    places = list(_copyright_lines(text) if holder else saying(text, _SAYS_LICENSE))
    said = {w for w in words(MARKER.sub(" ", answer)) if w not in _NOT_NAMING}
    return bool(said) and any(said <= set(words(place)) for place in places)


def _copyright_lines(text: str) -> Iterator[str]:
    """Each copyright line of `text` (`_COPYRIGHT_LINE`), with the next where it runs on."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if _COPYRIGHT_LINE.match(line.strip()):
            after = lines[i + 1 : i + 2]
            yield " ".join([line, *after]) if after and _joins(line, after[0]) else line


def says_default(text: str) -> Iterator[str]:
    """The sentences of `text` with the word "default" in them, whitespace folded: "the
    default is 1" of "...at once; the default\n     is 1. If MAX-PROCS is 0, ..."
    (`saying`)."""
    return saying(text, _DEFAULT)


_DEFAULT = re.compile("default")


def saying(text: str, cue: re.Pattern[str]) -> Iterator[str]:
    """The sentences of `text` that `cue` finds in, whitespace folded, with the line before
    where it runs on into the cue's line, and up to two after while the sentence goes on
    (`_joins`)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not cue.search(line):
            continue
        before = [lines[i - 1]] if i and _joins(lines[i - 1], line) else []
        after: list[str] = []
        for following in lines[i + 1 : i + 3]:
            if not _joins(after[-1] if after else line, following):
                break
            after.append(following)
        joined = " ".join(" ".join([*before, line, *after]).split())
        yield from (s for s in _SENTENCE_END.split(joined) if cue.search(s))


def placeholder(answer: str, passages: Sequence[Citation]) -> bool:
    """Whether `answer` is only a word in capitals that a passage writes as an option's
    argument (`--prompt=STRING`, `-o FILE`, `<NUMBER>`): the name of a value, not one."""
    word = MARKER.sub(" ", answer).strip().strip(".'\"`‘’“”")
    if not re.fullmatch(r"[A-Z][A-Z0-9_-]{2,}", word):
        return False
    written = re.compile(rf"(?:=|<|\[|(?<![\w-])--?[\w-]+ +){re.escape(word)}\b")
    return any(written.search(c.excerpt or c.text) or written.search(c.text) for c in passages)


def _numbered(name: str) -> bool:
    """Whether `name` is a number more than a word: "4008", "bpo-45495", "2.4.5", not
    "urllib3" or "oauth2client", which name a package, not an entry."""
    digits = sum(c.isdigit() for c in name)
    return digits >= sum(c.isalpha() for c in name)


def entries(text: str, name: str) -> list[str]:
    """The entries of `text` that `name` heads, each with the headings over it: a list item
    whose first two words mention `name` ("- Issue #4008: Fix ..."), or a line whose label
    does ("bpo-45495: Add ..."; not "Version: 2.4.5", a field whose value is the name), down
    to the next item, blank line or heading. A heading that mentions `name` is not an entry:
    what is under it is about it."""
    return [entry for head, _, entry in _entries(text) if mentions(head, name)]


def quoting(text: str, quote: str) -> list[str]:
    """The entries of `text` (as `entries` reads them) whose own lines write `quote`, whitespace
    and case folded: the change a question quotes ("Who contributed “GitHub Workflows
    security hardening” to pyenv 2.3.7?"), with the headings over it."""
    want = " ".join(fold(quote).split())
    return [entry for _, body, entry in _entries(text) if want in " ".join(fold(body).split())]


def _entries(text: str) -> Iterator[tuple[str, str, str]]:
    """Each entry of `text` (a list item, or a line that names itself first with a label, down
    to the next item, blank line or heading) as (its first two words or its label, its own
    lines, its lines with the headings over it and what they say of all their entries)."""
    lines = lines_of(text)
    parent = outline(lines)
    for i, line in enumerate(lines):
        if is_heading(lines, i):
            continue
        if lead := _ENTRY_LEAD.match(line.text):
            head = " ".join(line.text[lead.end() :].split()[:2])
        elif label := _ENTRY_LABEL.match(line.text):
            head = label.group(0)
        else:
            continue
        end = i + 1
        while end < len(lines) and not (
            lines[end].blank_before or starts_item(lines[end].text) or is_heading(lines, end)
        ):
            end += 1
        kept = [*range(i, end)]
        for above in ancestors(parent, i):
            kept += [above, *_preamble(lines, above, i)]
        body = "\n".join(lines[k].text for k in range(i, end))
        yield head, body, "\n".join(lines[k].text for k in kept)


def _preamble(lines: list[Line], head: int, stop: int) -> list[int]:
    """The paragraph right under line `head`, before the line `stop` and any item, at most
    `PREAMBLE` lines: what a heading says of all its entries ("*Release date: 06-May-09*")."""
    out: list[int] = []
    k = head + 1
    while k < stop and len(out) < PREAMBLE and not starts_item(lines[k].text):
        if out and lines[k].blank_before:
            break
        out.append(k)
        k += 1
    return out


_QUOTE = re.compile(r"[\"“«]([^\"”»]{12,})[\"”»]")
"""A quoted span long enough to be a change's own words: “GitHub Workflows security
hardening”."""


def tied(answer: str, question: str, passages: Sequence[Citation]) -> bool:
    """Whether `answer` comes from the entry `question` names by number (`entries`) or quotes
    (`quoting`), where a passage has one: one of them, with its headings, states the answer
    (`attribution.held_share`). With no such entry, or a question that names none, it holds."""
    names = [n for n in identifiers(question) if _numbered(n)]
    quotes = [q.strip(" .…") for q in _QUOTE.findall(question)]
    if not (names or quotes) or not key_tokens(answer, question):
        return True
    texts = [t for c in passages for t in dict.fromkeys((c.text, c.excerpt or ""))]
    found = [entry for text in texts for name in names for entry in entries(text, name)]
    found += [entry for text in texts for quote in quotes for entry in quoting(text, quote)]
    said = _V_NAME.sub("", answer)  # "2.3.7" is the release headed "v2.3.7"
    return not found or any(
        held_share(_V_NAME.sub("", entry), said, question) == 1 for entry in found
    )


_V_NAME = re.compile(r"\b[vV](?=\d)")


def _asked_words(question: str) -> set[str]:
    """`question`'s own words that may name a document: neither stop words, everyday words
    (`text.common`), words for a kind of document (`KIND_NAMES`) nor numbers."""
    return {
        w
        for w in words(question)
        if w not in _STOP
        and w not in KIND_NAMES
        and not common(w)
        and not any(c.isdigit() for c in w)
    }


def lead(source: str) -> str:
    """The first word of a document's file name, what it is most likely named by: `time` for
    `time-invoking-time.txt`, `sort` for `sort.txt`, `pyenv` for `pyenv-virtualenv-README.md`."""
    return next(iter(words(Path(source).stem)), "")


def named(
    question: str, passages: Sequence[Citation], leads: Collection[str] = frozenset()
) -> tuple[list[Citation], set[str]]:
    """The passages whose file names share the most of `question`'s own words (`_asked_words`),
    and those words: the document the question names ("GNU Coreutils":
    `coreutils-introduction.txt`, {"coreutils"}). Else, where a word of the question is the
    first word of a file name in the collection (`leads`), everyday as it may be ("GNU ed"),
    the passages of such documents (none, where none was shown) and those words. Nothing
    when the question names no document."""
    asked = _asked_words(question)
    shared = {c.n: asked & set(words(Path(c.source).stem)) for c in passages}
    most = max(map(len, shared.values()), default=0)
    if most:
        chosen = [c for c in passages if len(shared[c.n]) == most]
        return chosen, set().union(*(shared[c.n] for c in chosen))
    everyday = {w for w in words(question) if w not in _STOP and w in leads}
    return [c for c in passages if lead(c.source) in everyday], everyday


def from_named(
    answer: str,
    question: str,
    passages: Sequence[Citation],
    leads: Collection[str] = frozenset(),
) -> bool:
    """Whether `answer` is said about the document `question` names (`named`): a passage that
    holds the most of the answer's words (`attribution.held_share`) is that document's, or
    its text names it too. Another document's version, author or file name is not its answer; a
    handbook's answer to "What is Acme's refund window?" from `refunds.md`, whose text says
    "Acme", is. A question that names no document, and an answer of the question's words
    alone, hold. A document named by an everyday word (`leads`) counts only for a question
    that demands a typed value (`structure.demands`): "Which version of GNU time ..." is
    about `time`, "How do I show free space ...?" is not about `free`."""
    demanded = demands(question)
    chosen, names = named(question, passages, leads if demanded else ())
    full: list[Citation] = []  # a thing's own value, from its own document where it is shown
    if demanded in OWN_VALUES:
        asked = terms(question)
        sources = titles([c.source for c in passages])
        full = [
            c
            for c, t in zip(passages, sources, strict=True)
            if names_in_full(asked, t) and any(map(rare, t))
        ]
    if not (names or full) or not key_tokens(answer, question):
        return True
    texts = {c.n: f"{c.excerpt or ''}\n{c.text}" for c in passages}
    held = {c.n: held_share(texts[c.n], answer, question) for c in passages}
    # The answer comes from the passages that hold the most of it: "bug-diffutils@gnu.org"
    # is Diffutils' page's, though ed's page holds its "gnu.org" too.
    most = max(held.values(), default=0.0)
    if full:
        return most > 0 and any(held[c.n] == most for c in full)
    return most > 0 and any(
        held[c.n] == most and (c in chosen or names <= set(words(texts[c.n]))) for c in passages
    )


OWN_VALUES = frozenset({"version", "person", "url", "date", "license"})
"""The values a document gives of its own subject (its version, author, home page, date,
licence): asked of a document the question names in full by its file name
(`titles.names`), in a word that is neither everyday nor a number, and that document among
the passages, they are that document's, not those of another that mentions it ("Which
license is httplib2 released under?" is not answered with
google-auth-library-python-httplib2's Apache 2.0). An e-mail address is asked of a person
more often than of a document, and is the person's wherever it is written beside the name
(`fields.mail_reading`): "Ken Williams in CPAN-Meta" is in CPAN::Meta::Spec's page."""
