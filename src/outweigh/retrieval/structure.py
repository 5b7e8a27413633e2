"""The structure of plain text, read from the text itself: what each line is about, and what
sort of value a line holds or a question asks for.

A fact's value and the words that say what it is about are often on different lines: a
changelog entry's sign-off (`-- Jane Doe <jane@example.org>  Mon, 01 Jan 2024`) under the
heading that names the release, a table cell under its header row, an option's description
under the line that names it, a section's sentence under its heading. `outline` gives each
line the line it hangs from (its parent), from signals any text carries, not from a list of
known formats:

- headings: Markdown `#` lines, a line underlined by a run of one punctuation character
  (setext, reStructuredText, Texinfo), a short line in capitals (a manual's NAME,
  OPTIONS), ranked by the order their style first appears, as reStructuredText ranks its
  underlines;
- a lead line: a line at the margin followed by indented lines (a changelog entry's heading
  over its items and sign-off, an option over its description) is their parent, as a line
  ending in a colon is of the fenced block of code right under it ("run this command:");
- a label: a short line that ends in a colon ("Bug fixes:") is the parent of the rest of
  its paragraph;
- a table: the first row of a run of `|`-separated rows is the parent of the others
  (`retrieval.tables` finds each Markdown table, so the chunker can repeat its header in
  every chunk);
- a record: in a paragraph of `Key: value` lines, the first line is the parent of the rest;
  the first whose key's values do not repeat from record to record, where the document
  has several ("Name: attrs", not "Metadata-Version: 2.4").

`kinds` and `asked` give a line's typed values (e-mail, URL, date, version, person, number)
and the type a question asks for ("who" a person), the expected answer type of classic
question answering: the line that holds a value of the asked type under the heading the
question names wins over a line that merely repeats the question's words."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

from outweigh.attribution import MARKER, tokens
from outweigh.text import common, stop_words

MD_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
"""A Markdown ATX heading: its level's hashes and its text, without closing hashes."""
MD_LINK = re.compile(r"\[(?P<text>[^\]\n]+)\]\((?P<url>[^)\n]*)\)")
"""A Markdown link, its text first: "[Ilya Etingof](mailto:etingof@gmail.com)"."""
_UNDERLINE = re.compile(r"^\s*([=\-~^*+#`'\".:_])\1{2,}\s*$")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_FIELD = re.compile(r"^\s*[A-Z][\w.-]{0,30}(?: [\w.-]{1,20}){0,2}?\s*:\s+\S")
_LETTERS = re.compile(r"[^\W\d_]")

MAX_HEADING_WORDS = 12
"""A line longer than this is prose, whatever its case or underline."""


@dataclass(frozen=True)
class Line:
    """One line of a document as `outline` reads it."""

    text: str
    """The line, stripped."""
    indented: bool
    blank_before: bool
    """A blank line separates it from the line before: a new paragraph or item."""
    code: bool = False
    """In a fenced block of code, or its fence (`in_code`): never a heading, and no field or
    value of the text's own ("# install it" is a shell comment, `version = "0.1.0"` an
    example)."""


def lines_of(text: str) -> list[Line]:
    """The non-blank lines of `text`, each with its indentation and paragraph break."""
    out: list[Line] = []
    gap = False
    raws = text.splitlines()
    for raw, code in zip(raws, in_code(raws), strict=True):
        if not raw.strip():
            gap = bool(out)
            continue
        out.append(Line(raw.strip(), raw[:1].isspace(), gap, code))
        gap = False
    return out


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})([^`]*)$")


def code_blocks(text: str) -> list[tuple[int, int, int]]:
    """Each fenced block of code in `text` (`in_code`): where its opening fence line starts
    and ends, and where the block ends (its closing fence line's end, or the text's)."""
    if "```" not in text and "~~~" not in text:
        return []
    out: list[tuple[int, int, int]] = []
    at, opened = 0, None
    for line, (code, opens) in zip(text.split("\n"), _fences(text.split("\n")), strict=True):
        if opens:
            if opened is not None:
                out.append((*opened, at - 1))
            opened = (at, at + len(line))
        elif not code and opened is not None:
            out.append((*opened, at - 1))
            opened = None
        at += len(line) + 1
    if opened is not None:
        out.append((*opened, len(text)))
    return out


def block_at(blocks: list[tuple[int, int, int]], pos: int) -> tuple[int, int, int] | None:
    """The one of `blocks` (`code_blocks`, in order) that `pos` is in, fences included."""
    i = bisect.bisect_right(blocks, pos, key=lambda b: b[0]) - 1
    return blocks[i] if i >= 0 and pos <= blocks[i][2] else None


def in_code(lines: list[str]) -> list[bool]:
    """For each line, whether it is in a fenced block of code or is one of its fences, as
    CommonMark reads them: from 3+ backticks or tildes (and perhaps a language) to a line of
    as many or more of the same and nothing else; a block left open runs to the text's end."""
    return [code for code, _ in _fences(lines)]


def _fences(lines: list[str]) -> Iterator[tuple[bool, bool]]:
    """For each line, whether it is in a block of code (`in_code`), and whether it opens one."""
    fence = ""
    for line in lines:
        m = _FENCE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = "" if not m.group(2).strip() else fence
            yield True, False
        else:
            fence = m.group(1) if m else ""
            yield bool(m), bool(m)


def _heading_style(lines: list[Line], i: int) -> str | None:
    """How line i is styled as a heading, if it is one: `#2`, `=` (the underline's
    character), `CAPS`; None for any other line."""
    text = lines[i].text
    if lines[i].code or _UNDERLINE.match(text):
        return None
    if m := MD_HEADING.match(text):
        return "#" + str(len(m.group(1)))
    words = len(text.split())
    if words > MAX_HEADING_WORDS:
        return None
    nxt = lines[i + 1].text if i + 1 < len(lines) and not lines[i + 1].blank_before else ""
    if (m := _UNDERLINE.match(nxt)) and len(nxt.strip()) >= 0.6 * len(text):
        return m.group(1)
    letters = _LETTERS.findall(text)
    if (
        not lines[i].indented
        and len(letters) >= 3
        and all(c.isupper() for c in letters)
        and words <= 6
        and not text.endswith((".", ","))
    ):
        return "CAPS"
    return None


def is_heading(lines: list[Line], i: int) -> bool:
    """Whether line i is a heading as `outline` reads one: Markdown, underlined, or capitals."""
    return _heading_style(lines, i) is not None


def outline(lines: list[Line]) -> list[int | None]:
    """For each line, the index of the line it hangs from (see the module's docstring), or
    None for a line at the top of the document."""
    parent: list[int | None] = [None] * len(lines)
    kinds_of = _sorting_keys(lines)
    fields = False  # in a paragraph that began with a field
    ranks: dict[str, int] = {}
    stack: list[tuple[int, int]] = []  # (rank, line) of the open headings
    lead: int | None = None  # the margin line over the current indented block
    label: int | None = None  # the "Label:" line over the rest of its paragraph
    record: int | None = None  # the first line of a paragraph of fields
    table: int | None = None  # the header row of the current table
    intro: int | None = None  # the line ending in a colon just over a block of code
    for i, line in enumerate(lines):
        if line.code and intro is not None:
            parent[i] = intro
            continue
        intro = i if not line.code and line.text.endswith(":") else None
        if _UNDERLINE.match(line.text) and i and not line.blank_before:
            parent[i] = i - 1  # an underline belongs to its heading
            continue
        if line.blank_before:
            label = record = None
            fields = False
            if not line.indented:
                lead = None
        style = _heading_style(lines, i)
        if style is not None:
            rank = ranks.setdefault(style, len(ranks))
            while stack and stack[-1][0] >= rank:
                stack.pop()
            parent[i] = stack[-1][1] if stack else None
            stack.append((rank, i))
            lead = label = record = table = None
            continue
        section = stack[-1][1] if stack else None
        if _TABLE_ROW.match(line.text):
            if table is None or line.blank_before:
                table = i
                parent[i] = section
            else:
                parent[i] = table
            continue
        table = None
        if line.indented and lead is not None:
            parent[i] = lead
        elif label is not None:
            parent[i] = label
        elif record is not None and _FIELD.match(line.text):
            parent[i] = record
        else:
            parent[i] = section
        if not line.indented:
            nxt = lines[i + 1] if i + 1 < len(lines) else None
            if nxt is not None and nxt.indented:
                lead = i
            if len(line.text.split()) <= MAX_HEADING_WORDS and line.text.endswith(":"):
                label = i
            elif _FIELD.match(line.text) and record is None:
                fields = fields or line.blank_before or i == 0
                if fields and _key(line.text) not in kinds_of:
                    record = i
    return parent


def records(lines: list[Line], parent: list[int | None]) -> int:
    """How many records (`Key: value` paragraphs, `outline`'s) `lines` hold: the fields
    other fields hang from."""
    return len(
        {
            p
            for i, p in enumerate(parent)
            if p is not None and _FIELD.match(lines[i].text) and _FIELD.match(lines[p].text)
        }
    )


def _key(text: str) -> str:
    """A `Key: value` line's key, as written: "Name" of "Name: attrs"."""
    return text.split(":", 1)[0].strip()


def _sorting_keys(lines: list[Line]) -> set[str]:
    """The keys of fields whose values repeat from record to record ("Metadata-Version:
    2.1", "Priority: optional"): they say what kind of record it is, not which, so a record
    hangs from its first field of another key ("Name: attrs"). A key written once names."""
    values: dict[str, list[str]] = {}
    for line in lines:
        if _FIELD.match(line.text):
            key, _, value = line.text.partition(":")
            values.setdefault(key.strip(), []).append(value.strip())
    return {k for k, v in values.items() if len(v) > 1 and len(set(v)) < 0.9 * len(v)}


_ITEM = re.compile(r"^(?:[-*+\u2022\u2023\u25e6]\s|\(?\d{1,3}[.)]\s|--?[^\W_]|\|)")
"""How a line that begins an item begins: a bullet, a number, a command-line option, a table
row."""


def starts_item(line: str) -> bool:
    """Whether `line` (stripped) begins something of its own, rather than going on with the line
    above it: a list item, an option, a `Key: value` field, a table row, a Markdown heading. A
    wrapped sentence or a description's next line goes on; a changelog's next entry does not."""
    return bool(_ITEM.match(line) or _FIELD.match(line) or MD_HEADING.match(line))


def ancestors(parent: list[int | None], i: int, depth: int = 3) -> list[int]:
    """The lines `i` hangs from, nearest first, at most `depth`."""
    out: list[int] = []
    j = parent[i]
    while j is not None and len(out) < depth and j not in out:
        out.append(j)
        j = parent[j]
    return out


# -- typed values ----------------------------------------------------------------------------
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_CUE = (
    r"(?i:by|authors?|maintainers?|copyright|\(c\)|written|contact|signed-off-by|thanks to)"
    r"\b[:\s]+(?:[\d, -]+\s)?"
)
"""The words that introduce a person's name: "Written by", "Maintainer:", "Copyright 2024"."""
_LEADING_CUE = re.compile(rf"^\W*(?:{_CUE})?")

VALUES: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "url": re.compile(r"\b(?:https?|ftp)://[^\s<>\")\]]+|\bwww\.[\w-]+\.[^\s<>\")\]]+"),
    "date": re.compile(
        rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{4}}/\d{{2}}/\d{{2}}\b"
        rf"|\b\d{{1,2}}(?:st|nd|rd|th)? {_MONTH},? \d{{4}}\b"
        rf"|\b{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}\b"
        rf"|\b{_MONTH} \d{{4}}\b|\b(?:19|20)\d{{2}}\b"
    ),
    "version": re.compile(r"(?<![\w.])v?\d+\.\d+(?:\.\d+)*(?:[-+~][\w.+~]+)?(?![\w.]*\d{4}\b)"),
    "person": re.compile(
        rf"(?:\b{_CUE}|^\s*--\s+)"
        r"[A-Z][\w'.-]+(?: [A-Z][\w'.-]*\.?)?(?: [A-Z][\w'-]+)"
        r"|[A-Z][\w'.-]+(?: [A-Z][\w'.-]*\.?)?(?: [A-Z][\w'-]+)(?=\s*<[^>\s]+@)"
    ),
    "number": re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?![\w.])"),
}
"""What a line may hold that a question may ask for, by type."""

_MAIL_ADDRESS = (
    r"\b(?:bug[- ]?report(?:ing|s)?|contact)\s+(?:e-?mail\s+)?address"
    r"|\b(?:which|what|the)\s+(?:[\w-]+\s+)?address(?:es)?\b(?=.*\b(?:bug|problem)s?[- ]reports?\b)"
    r"|адрес\w* (?:электронной почты|для (?:сообщений|отчётов) об ошибках)"
)
"""An address for mail in other words: "the bug-report address", "the contact address",
"адрес электронной почты"."""

_ASKED: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(rf"\be-?mail\b|{_MAIL_ADDRESS}", re.I)),
    ("url", re.compile(r"\b(?:url|website|web ?site|home ?page|web page|link|online)\b", re.I)),
    ("date", re.compile(r"\bwhen\b|\b(?:what|which) (?:date|day|year|month)\b|\bdated?\b", re.I)),
    (
        "person",
        re.compile(
            r"^\W*who\b|\bwho(?:m|se)?\b|\b(?:author|maintainer|developer|creator|signed|wrote|"
            r"written by|contributor|owner)s?\b",
            re.I,
        ),
    ),
    ("license", re.compile(r"\blicen[cs]e[ds]?\b|\bлиценз", re.I)),
    ("version", re.compile(r"\b(?:version|release)\b", re.I)),
    ("number", re.compile(r"\bhow (?:many|much|long|big|large)\b|\bwhat (?:number|size)\b", re.I)),
)

LICENSED = re.compile(
    r"\b(?i:licen[cs]ed|released|distributed|available|published|provided|covered|offered)"
    r"\s+under\s+(?:the\s+)?(?:terms\s+of\s+(?:the\s+)?)?"
    r"(?P<name>[`*_\[\"']*[A-Z0-9][\w.+-]*(?:[ ,-]+[\w.+-]+){0,6}?[`*_\]\"']*"
    r"\s+[Ll]icen[cs]e[`*_\]\"']*(?:,?\s+(?:[Vv]ersion\s+|v)?\d[\d.]*\b)?|"
    r"[`*_\[\"']*(?:[A-Z][A-Za-z]*-?)+[\d.]*(?:-[\w.]+)*[`*_\]\"']*(?=\s+licen[cs]e\b|[.,;]|$))",
)
"""A sentence that puts a work under a licence, the licence's name in `name`: "Licensed under
the `MIT License`_.", "released under the Apache License, Version 2.0", "distributed under
the BSD license", "is licensed under GPL-3.0-or-later."."""

LICENSE_TITLE = re.compile(
    r"^\s*(?:The\s+)?(?P<name>(?:[A-Z0-9][\w.+-]*\s+){1,5}(?:LICEN[CS]E|Licen[cs]e))"
    r"(?:\s*\([A-Z0-9.-]+\))?\s*$"
)
"""A licence text's own title line: "MIT License", "The MIT License (MIT)", "Apache
License", "GNU GENERAL PUBLIC LICENSE", "BSD 3-Clause License"."""
_LICENSE_FIELD = re.compile(r"^\W*licen[cs]e\s*:\s*\w", re.I)


def name_of(person: str) -> str:
    """The name in a `VALUES["person"]` match, without the words that introduced it."""
    return _LEADING_CUE.sub("", person.strip()).strip()


def asked(question: str) -> str | None:
    """The type of value `question` asks for, the first of `_ASKED` it matches; None when it
    asks for none of them (a summary, a name, an option)."""
    return next((kind for kind, pattern in _ASKED if pattern.search(question)), None)


def holds(line: str, kind: str) -> bool:
    """Whether `line` holds a value of type `kind`; a person is also any line with an
    e-mail address (`Jane Doe <jane@example.org>`), and a licence is a sentence that puts the
    work under one, a licence's title line, or a `License:` field."""
    if kind == "license":
        return any(p.search(line) for p in (LICENSED, LICENSE_TITLE, _LICENSE_FIELD))
    if VALUES[kind].search(line):
        return True
    return kind == "person" and bool(VALUES["email"].search(line))


# -- what an answer must give ----------------------------------------------------------------
_DEMANDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "email",
        re.compile(
            # "e-mail" asked for ("reached by e-mail?", "Ana's e-mail?", "what e-mail does"),
            # not as a thing's kind ("the e-mail module", "an e-mail client"), nor as a way
            # to send ("How do I send a patch by e-mail?").
            r"\b(?:reached|contacted)\s+(?:\w+\s+)?(?:by|via)\s+e-?mail\b"
            r"|(?:\b(?:his|her|their|its|the)|'s)\s+(?:e-?mail|имейл)(?=\s*(?:[?,;!]|$))"
            rf"|\be-?mail address|{_MAIL_ADDRESS}"
            r"|\b(?:what|which|whose) e-?mail\s+(?:does|do|did|is|was|should|can)\b"
            r"|\bкак\w+ (?:у \w+ )?(?:e-?mail|имейл)",
            re.I,
        ),
    ),
    (
        "url",
        re.compile(r"\b(?:url|home ?page|web ?site|web page)\b|\bсайт|домашн\w+ страниц", re.I),
    ),
    (
        "person",
        re.compile(
            r"(?:^|[,;:]\s)\W*(?:who(?:m|se)?|кто)\b"
            r"|\b(?:which|what)\s+(?:[\w-]+\s+)?(?:developer|author|maintainer|contributor"
            r"|committer|person|(?:github|gitlab) user)s?\b",
            re.I,
        ),
    ),
    (
        "date",
        re.compile(
            r"^\W*(?:when|когда)\b|\b(?:what|which) (?:is the (?:[\w-]+ )?)?(?:date|year)\b"
            r"|в каком году",
            re.I,
        ),
    ),
    (
        "version",
        re.compile(
            r"\b(?:what|which) (?:(?:is|are|was|were) the )?"
            r"(?:(?:minimum|maximum|oldest|earliest|latest|newest|lowest|"
            r"highest|first|last|required|supported) )?(?:[\w.+-]+ )?(?:version|release)s?\b"
            r"|\bкак\w+ (?:\w+ )?верси",
            re.I,
        ),
    ),
    ("number", re.compile(r"^\W*(?:how many|сколько)\b|\b(?:what|which) number\b", re.I)),
    (
        "license",
        re.compile(r"\b(?:what|which)(?: is the)? licen[cs]es?\b|\bкак\w+ лицензи", re.I),
    ),
    (
        "install",
        re.compile(
            r"\bhow (?:do|can|should|would|to) (?:(?:i|you|we|one) )?install\b"
            r"|\bcommands?(?![-\w])[^?]*\binstall|\binstalls\b|\bкак установить|\bкоманд\w* устан",
            re.I,
        ),
    ),
    (
        "option",
        re.compile(
            r"\b(?:which|what)\s+(?:[\w.+-]+\s+){0,2}(?:option|flag|switch)s?\b"
            r"|\bкак\w*\s+(?:[\w.+-]+\s+)?(?:параметр|ключ|опци|флаг)",
            re.I,
        ),
    ),
    (
        "command",
        re.compile(
            r"\b(?:which|what)\s+(?:[\w.+-]+\s+)?(?:command|program|utility|tool)s?\b"
            r"|\bкак\w*\s+(?:[\w.+-]+\s+)?(?:команд|программ|утилит)",
            re.I,
        ),
    ),
)
"""The type a question's own question words demand: stricter than `_ASKED`, which only lifts
a line, because an answer without it is dropped. "Which option ...?" and "Какой параметр
...?" demand an option ("-e", "--exact"), "Which program ...?" and "Какая команда ...?" a
command's name, not the description a man page gives it; "Which developer ...?" and "Which
GitHub user ...?" a person, as "Who ...?" does. "Which option of pr sets the header date"
demands no date, nor "How do I create a symbolic link" a URL, nor "Where is the
documentation for who" a person."""

_NUMBER_WORD = re.compile(
    r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|hundred|"
    r"thousand|million|ноль|один|одна|два|две|три|четыре|пять|шесть|семь|восемь|девять|десять)\b",
    re.I,
)
_DIGITS = re.compile(r"\d")
COUNT = re.compile(r"(?<![\w.:/-])\d+(?:[.,]\d+)*(?![\w:/-]|\.\.?\d)")
"""A number that can say how many: "27", "1,500", "2.5"; not a range ("00..53"), a time
("11:11:04") or a part of a name ("x86_64")."""
_PARTS = re.compile(r"[^\w]+")
"""What parts a compound name: "@npmcli/arborist", "python-build", "v2.6.17"."""
_CHOICE = re.compile(r"\b(?:or|или)\b", re.I)
"""A question that offers choices ("--reverse or --sort?"), whose answer is one of its words."""
_STOP = stop_words("en", "ru")
_LETTER = re.compile(r"[^\W\d_]")
_LICENSE_WORDS = re.compile(r"\b(?:the|licen[cs]e[ds]?|лиценз\w*)\b", re.I)
"""Words that name no licence: an answer of only these to "which licence" gives none."""
_MANGLED = re.compile(r"\[[^\w\]]*\d{1,3}[^\w\]]*\]")
"""A passage's marker with a quote or a space in it: "['1]", "[ 2 ]"."""
_WORDY = re.compile(r"[^\W_]")
"""A letter or a digit: an answer without one says nothing."""
_FILE = re.compile(
    r"\b[\w-]+\.(?:py|c|h|cc|cpp|rs|go|rb|pl|sh|el|txt|md|rst|html?|json|ya?ml|toml|cfg|ini)\b"
)
"""A file's name: "PyParse.py" is what a change touched, not who made it."""
_LABELLED = re.compile(r"[^\W\d_][\w.-]*:\s")
"""A changelog entry's "python-build: Added ...": text under a label, not a name."""
INSTALLS = re.compile(
    r"\b(?:install|add|get|clone|build|make|setup|download|fetch|compile)\b|установ", re.I
)
"""The verbs of a command that installs: "pip install x", "rustup component add clippy",
"git clone ...", "go get ...", "make install"."""
OPTION = re.compile(r"(?<![\w-])--?[^\W_][\w-]*")
"""A command-line option: "-e", "--exact", "-1"; not the hyphen of "e-mail"."""
_NAME_WORDS = 3
"""Words a command's name takes at most, past stop words: "chage", "git log"; not "chage -
изменяет информацию об устаревании пароля"."""


def demands(question: str) -> str | None:
    """The type of value `question`'s question words demand (`_DEMANDS`), or None."""
    return next((kind for kind, pattern in _DEMANDS if pattern.search(question)), None)


def _phrase(answer: str) -> bool:
    """Whether `answer` is a phrase of everyday words, not a name: two or more of them in
    lower case, and no capitalised word that is not one ("General file (de)compression" for
    "Who wrote gzip?"; not "SymPy development team", "the Free Software Foundation" or
    "Guido van Rossum")."""
    words = [w for w in _WORD.findall(answer) if w.casefold() not in _STOP]
    if sum(w[0].islower() and common(w.casefold()) for w in words) < 2:
        return False
    return not any(w[0].isupper() and not common(w.casefold()) for w in words)


def _restated(answer: str, question: str) -> bool:
    """Whether `answer` is only digits the question writes, in its order: "1.2" for
    "CPAN-Meta-History-Meta 1 2: what is the version of perl?" names the document asked
    about, not the version asked for."""
    said = _RUN.findall(answer)
    if not said or _LETTER.search(_V_WORD.sub("", answer)):
        return False
    asked = _RUN.findall(question)
    return any(asked[i : i + len(said)] == said for i in range(len(asked)))


_RUN = re.compile(r"\d+")
_V_WORD = re.compile(r"\bv(?=\d)")
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_V = re.compile(r"^v(?=\d)")
"""The "v" of "v2.1.0": the same version as "2.1.0"."""


def gives(answer: str, question: str) -> bool:
    """Whether `answer` gives something `question` asks for, as far as its text can tell:

    - more than the question's own words back: an answer whose every word is in the question,
      or a part of a name it writes ("npmcli" for the author of "@npmcli/arborist"),
      and not all of them everyday words (`text.common`), names what was asked about, not
      the answer ("--fuzz" for "the default of --fuzz", "--number-width" for "the default for
      the --number-width option", "v20151103" for "which release was added in 20151103",
      "gsutil" for "which command installs gsutil"; "split" for "how do I split a file"
      stays, as does any answer to a question that offers choices: "--reverse" for
      "--reverse or --sort?");
    - a value of the type the question demands (`demands`): an e-mail address, a URL, digits
      for a date or a version (not a link's: "https://img.shields.io/pypi/v/pyasn1"; nor, for
      a version, a date's: "2013-04-06" for "Which IDLE version's NEWS ..."), a
      number or a number word for "how many" (not a range or a time: "00..53" for "How many
      days are in a week?"), and for "who" or "which licence" a name, not a link or a path
      ("rust-lang/rust/pull/113902", a URL of the LICENSE file), nor "the license", nor for
      "who" a stop word alone ("The"), an entry's "python-build: Added ...", a file's name
      ("PyParse.py") or a phrase of everyday words ("General file (de)compression"); and for
      "How do I install" or "Which command installs" a command that installs ("pip install
      x", "rustup component add clippy"), not an option ("--replace") or another command
      ("npm view"); for "Which option" an option ("--exact"), and for "Which program" a name
      of a few words, not the description a man page gives it.

    An answer that is only its `[n]` markers and punctuation ("- [1]", "['1]") gives nothing.
    `answer` is the reader's, `[n]` markers and all. "I don't know" is not judged here: the
    engine leaves it as it is (`engine.answering.checked_reading`)."""
    answer = _MANGLED.sub(" ", MARKER.sub(" ", answer))
    if not _WORDY.search(answer):  # "[1]", "- [1]", "['1]": a marker and nothing said
        return False
    said = [_V.sub("", t) for t in tokens(answer) if t not in _STOP]
    asked_words = {_V.sub("", t) for t in tokens(question)}
    asked_words |= {p for t in asked_words for p in _PARTS.split(t) if p}  # "@npmcli/arborist"
    everyday = [common(t) and not t.startswith("-") for t in said]  # an option is a name
    echo = said and set(said) <= asked_words and not all(everyday)
    if echo and not _CHOICE.search(question):
        return False
    kind = demands(question)
    if kind in ("email", "url"):
        return bool(VALUES[kind].search(answer))
    if kind == "date":  # the digits of a link are not a date
        return bool(_DIGITS.search(VALUES["url"].sub(" ", answer)))
    if kind == "version":  # nor a version, nor are a date's ("2013-04-06" for "which release")
        if _restated(answer, question):
            return False
        return bool(_DIGITS.search(VALUES["date"].sub(" ", VALUES["url"].sub(" ", answer))))
    if kind == "number":
        return bool(COUNT.search(answer) or _NUMBER_WORD.search(answer))
    if kind == "license":  # "MIT/Apache-2.0" is a name; a LICENSE file's URL is not
        named = _LICENSE_WORDS.sub(" ", answer)  # nor "the license"
        return bool(_LETTER.search(named)) and not VALUES["url"].search(answer)
    if kind == "person":  # a name: not only "The", not a link, nor an entry's "label: text"
        return (
            any(_LETTER.search(t) for t in said)
            and not ("/" in answer or VALUES["url"].search(answer))
            and not _LABELLED.search(answer)
            and not _FILE.search(answer)
            and not _phrase(answer)
        )
    if kind == "install":
        return bool(INSTALLS.search(answer))
    if kind == "option":
        return bool(OPTION.search(answer))
    if kind == "command":
        return len(said) <= _NAME_WORDS
    return True
