"""Questions a text answers, mined from its own lines: the miner behind reader training
(`outweigh.adapters.reader`) and the suites `outweigh eval` builds from a collection
(`outweigh.eval.make`).

Four shapes are read, each phrased several ways:
- `Key: value` lines (package metadata, manifests, config records): "What is the version of
  requests?" -> "2.31.0", the subject being the record's Name/Package field, else the
  document's file name;
- manual pages rendered to text (`man | col -b`): the NAME line's summary, an option's long
  name from its description, the "Written by" authors, the release in the footer, the "Full
  documentation" URL, the subject being the file name;
- copyright and licence lines (`outweigh.adapters.notices`);
- typed values in prose (e-mail addresses, URLs, dates, people, versions) tied to the
  heading or label they sit under;

and, where a capable model is at hand, questions it writes from a passage (`write_questions`),
kept only when the answer is in the passage word for word.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from outweigh.adapters.notices import notice_facts, subject_of

if TYPE_CHECKING:
    from outweigh.retrieval.structure import Line

_FIELD = re.compile(
    r"^\s*(?:[-*+]\s+)?(?P<key>[A-Z][A-Za-z][\w.-]{0,30}(?: [\w.-]{1,20}){0,2}?)"
    r"\s*:\s+(?P<value>\S.{0,150}?)\s*$"
)
"""A `Key: value` line, perhaps a list item ("- Type: boolean"): a capitalised key of at most
three words, a value on the same line."""

SUBJECT_KEYS = ("name", "package", "source", "title", "project")
"""Keys whose value names what a record is about."""

SKIP_KEYS = frozenset(
    {"classifier", "description-content-type", "metadata-version", "wheel"}
    | {"note", "notes", "example", "examples", "warning", "usage", "see also", "default"}
)
"""Keys that repeat within a record or carry no fact worth asking about, or that label prose
rather than a field ("Note: ...")."""

_TEMPLATES = (
    "What is the {key} of {subject}?",
    "What {key} does {subject} have?",
    "{subject}: what is its {key}?",
    "Tell me the {key} of {subject}.",
)
_WHO = ("Who is the {key} of {subject}?", "Who is {subject}'s {key}?")
_BY = ("{subject}: who is it {key}?", "Who is {subject} {key}?")
"""For a key that ends in "by": "Login request: who is it sent by?"."""
_URL = ("What is the {key} of {subject}?", "Where is the {key} of {subject}?")
_LABELLED_URL = re.compile(r"^(?P<label>[A-Za-z][\w .-]{0,30}),\s*(?P<url>(?:https?|ftp)://\S+)$")
"""A `Project-URL: Label, url` value: the label is the real key ("Homepage", "Source")."""
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_URLISH = re.compile(r"^(?:https?|ftp)://\S+$")


@dataclass(frozen=True)
class Fact:
    """One question the collection answers, and the chunk that answers it."""

    question: str
    answer: str
    source: str
    """The document the fact is in."""
    evidence: str = ""
    """Text a passage must hold to be the gold one; the answer itself when empty."""
    kind: str = "field"
    """What sort of fact: rows are drawn evenly across kinds (`build`)."""
    about: str = ""
    """What the question asks of, whatever its phrasing (its document, topic and person):
    two answers to one `about` make both facts ambiguous (`eval.make`); "" for a fact whose
    question says it whole."""


def facts(source: str, text: str, rng: random.Random) -> Iterator[Fact]:
    """Questions about the `Key: value` lines of one chunk. In a record (half its lines
    fields) each field is one of the record's, about the record's Name or Package, else the
    document. Elsewhere, only a run of two or more fields is a block of them ("Type: string",
    "Default: false", "Environment: CARGO_HTTP_DEBUG"), about the heading over it: a lone
    "Note: ..." or "Caution: ..." in prose labels a sentence, not a value. No line of a block
    of code is a field (`structure.in_code`): `version = "0.1.0"` is an example's."""
    from outweigh.retrieval.structure import ancestors, is_heading, lines_of, outline

    lines = lines_of(text)
    if _record(lines):
        matched = (_FIELD.match(line.text) for line in lines if not line.code)
        yield from _fields(source, [m for m in matched if m is not None], "", rng)
        return
    parent = outline(lines)
    i = 0
    while i < len(lines):
        run = []  # the fields from line i on, to a line that is none, a blank or code
        for line in lines[i:]:
            m = None if line.code or (run and line.blank_before) else _FIELD.match(line.text)
            if m is None:
                break
            run.append(m)
        if len(run) >= 2:
            up = [j for j in [i, *ancestors(parent, i, depth=4)] if is_heading(lines, j)]
            yield from _fields(source, run, _CLEAN.sub("", lines[up[0]].text) if up else "", rng)
        i += max(len(run), 1)


def _record(lines: list[Line]) -> bool:
    """Whether a chunk of these `lines` is a record: half of them `Key: value` lines (not
    in a block of code), and no heading over some of them (a reference's "#### http.debug"
    over "- Type: boolean", "- Environment: ..." is blocks of fields, each its heading's)."""
    from outweigh.retrieval.structure import is_heading

    fields = sum(not line.code and _FIELD.match(line.text) is not None for line in lines)
    if fields < len(lines) / 2:
        return False
    return not any(is_heading(lines, i) for i in range(len(lines)))


def _fields(source: str, run: list[re.Match[str]], head: str, rng: random.Random) -> Iterator[Fact]:
    """Questions about one record's or block's fields, `head` the heading over a block."""
    fields = []
    for m in run:
        key, value = m["key"], m["value"]
        if u := _LABELLED_URL.match(value):
            key, value = u["label"], u["url"]
        fields.append((key, value))
    named = {k.lower(): v for k, v in fields}
    subject = next((named[k] for k in SUBJECT_KEYS if k in named), None)
    subject = subject or head or Path(source).stem
    seen: set[str] = set()
    for key, value in fields:
        lower = key.lower()
        if lower in SUBJECT_KEYS or lower in SKIP_KEYS or lower in seen:
            continue
        seen.add(lower)
        words = key.replace("-", " ").replace("_", " ").lower()
        if _URLISH.match(value):
            templates, kind = _URL, "url"
        elif words.endswith(" by"):  # "Sent by: Cargo"
            templates, kind = _BY, "person"
        elif _EMAIL.search(value) or words.endswith(("author", "maintainer", "owner", "by")):
            templates, kind = _WHO, "person"
        else:
            templates, kind = _TEMPLATES, "field"
        question = rng.choice(templates).format(key=words, subject=subject)
        yield Fact(question, value, source, kind=kind)


# Stored chunks keep a page's lines but fold each run of spaces into one, so these patterns
# read layout from blank lines and line starts, not from groff's indentation.
_MAN_NAME = re.compile(r"^NAME\n\s*[^\n]+?\s+-\s+(?P<what>[^\n]+(?:\n[ \t]*\S[^\n]*)*)", re.M)
_MAN_OPTION = re.compile(
    r"^[ \t]*(?:-\w(?:[ =]?<?\w+>?)?,\s+)*(?P<opt>--?[a-z][a-z0-9-]{2,})(?:\[?[= ]\S+)?[ \t]*\n"
    r"(?P<desc>(?:[ \t]*\S[^\n]*(?:\n|$))+)",
    re.M,
)
"""A paragraph whose first line is only option names (`-a, --all`, `--mode=MODE`, `-hex`)
and whose other lines describe it: groff's layout for man(7) option lists."""
_MAN_WRITTEN = re.compile(r"Written\s+by\s+(?P<names>[^.<]+?)\.(?:\s|$)")
_MAN_FOOTER = re.compile(
    r"^(?P<release>(?P<package>[^\n]*?\D)\s+v?(?P<version>\d+(?:\.\d+)+[\w.+~-]*))"
    r"\s+\S[^\n]*?\s+[\w.+-]+\(\d\w*\)[ \t]*$",
    re.M,
)
"""The footer line: the package and its release, the date, then the page's title(1)."""
_MAN_DOCS = re.compile(r"Full documentation\s+<(?P<url>https?://\S+?)>")
_PERSON = re.compile(r"[A-Z][\w'.-]+(?: [A-Z][\w'.-]+)+")

_MAN_SUMMARY = (
    "What does the {cmd} command do, in one line?",
    "What is {cmd} for?",
    "In one line, what does {cmd} do?",
)
_MAN_OPTIONS = (
    "Which option of {cmd} does this: {desc}?",
    "What {cmd} option is described as: {desc}?",
    '{cmd}: which option means "{desc}"?',
)
_MAN_WHICH = (
    "Which command can I use to {what}?",
    "How do I {what}?",
    "What program would I run to {what}?",
)
"""Plain questions a page answers with its own name: the NAME line asked the other way."""
_PLAIN_OPTIONS = (
    "How do I {desc}?",
    "Which option will {desc}?",
    "What option is there to {desc}?",
)
"""Option questions that do not name the program, as people ask them; "How do I ...?" is
answered with the program and the option, as a command line, "Which option ...?" with the
option it asks for."""
_NOT_A_VERB = frozenset(
    str.split(
        "a an the this that these those if when with without for by in on at of to as same "
        "like equivalent default only also each every all any no not synonym how do does what "
        "which whether"
    )
)
"""First words of what is not something to do: "the stream editor", "same as -a"."""
_MAN_AUTHORS = ("Who wrote the {cmd} program?", "Who are the authors of {cmd}?", "Who wrote {cmd}?")
_MAN_RELEASES = (
    "Which version of {package} does the {cmd} manual page document?",
    "The {cmd} manual page is from which release of {package}?",
)
_MAN_URLS = (
    "Where is the full documentation for {cmd} online?",
    "What URL documents {cmd} in full?",
)

MAN_OPTIONS_PER_CHUNK = 2
"""Option questions asked per chunk at most, so long option lists do not swamp the rows."""


def _to_do(text: str) -> bool:
    """Whether `text` reads as something to do ("remove empty directories", "Print the byte
    counts"), so "How do I ...?" asks it: one clause, led by a word that may be a verb."""
    first = text.split(maxsplit=1)[0] if text.strip() else ""
    plain = not re.search(r"\.\s|\(", text)  # one clause, no "CRL. Executes ...", no xyz(1)
    return plain and first.isalpha() and first[1:].islower() and first.lower() not in _NOT_A_VERB


def _imperative(text: str) -> str:
    """`text` as an instruction: its first word in lower case and without a third-person
    ending ("Compares two files" -> "compare two files", "copies" -> "copy")."""
    first, _, rest = text.partition(" ")
    word = first.lower()
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "shes", "ches", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return f"{word} {rest}".strip()


def man_facts(source: str, text: str, rng: random.Random) -> Iterator[Fact]:
    """Questions about one chunk of a manual page rendered to text (`man -l PAGE | col -b`)."""
    cmd = Path(source).stem
    if m := _MAN_NAME.search(text):
        what = " ".join(m["what"].split()).rstrip(".")
        if 3 <= len(what.split()) <= 12:
            yield Fact(rng.choice(_MAN_SUMMARY).format(cmd=cmd), what, source, kind="summary")
            if _to_do(what):
                question = rng.choice(_MAN_WHICH).format(what=_imperative(what))
                yield Fact(question, cmd, source, what, kind="which")
    if m := _MAN_WRITTEN.search(text):
        parts = re.split(r",\s*(?:and\s+)?|\s+and\s+", " ".join(m["names"].split()))
        names = [p.strip() for p in parts if _PERSON.fullmatch(p.strip())]
        if names:
            answer = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            question = rng.choice(_MAN_AUTHORS).format(cmd=cmd)
            yield Fact(question, answer, source, names[0], kind="person")
    if m := _MAN_DOCS.search(text):
        yield Fact(rng.choice(_MAN_URLS).format(cmd=cmd), m["url"], source, kind="url")
    for m in _MAN_FOOTER.finditer(text):
        if re.search(r"[<>/:]", m["package"]):
            continue  # the page's last sentence run into its footer, not a package's name
        question = rng.choice(_MAN_RELEASES).format(cmd=cmd, package=m["package"].strip())
        yield Fact(question, m["version"], source, m["release"], kind="release")
    options = []
    for m in _MAN_OPTION.finditer(text):
        first = " ".join(m["desc"].split())
        desc = re.split(r"(?<=[a-z)])[.;:]\s", first + " ")[0].strip().rstrip(".:;")
        if m["opt"] in ("--help", "--version", "-help") or not 3 <= len(desc.split()) <= 14:
            continue
        if _to_do(desc) and rng.random() < 0.5:
            question = rng.choice(_PLAIN_OPTIONS).format(desc=_imperative(desc))
            # Asked how to do it, people answer with the command line: "sort --reverse";
            # asked which option, with the option.
            answer = f"{cmd} {m['opt']}" if question.startswith("How") else m["opt"]
            options.append(Fact(question, answer, source, desc, kind="plain option"))
        else:
            question = rng.choice(_MAN_OPTIONS).format(cmd=cmd, desc=desc)
            options.append(Fact(question, m["opt"], source, kind="option"))
    rng.shuffle(options)
    yield from options[:MAN_OPTIONS_PER_CHUNK]


_KEYED = re.compile(r"([A-Za-z][\w' .-]{1,40}?)\s*[:=]")
_LEAD_WORDS = re.compile(r"[A-Za-z][\w'.-]*")


LABEL_WORDS = 4
"""Words at most of a clause that labels the value after it ("Released on", "Original patch
by"): a longer one is a sentence the value sits in ("it with IDLEs released before")."""


def _label(before: str) -> str:
    """What the words before a value on its line call it: the key of `Homepage: see <url>`,
    else its clause's words, where they are few enough to label it (`LABEL_WORDS`), less
    the stop words at their end ("Released on" -> "Released"; "Revisions" of "Cheryl
    Sabella, respectively. Revisions by"); "" where they are a sentence, or one everyday word
    alone ("See <url> for more")."""
    from outweigh.text import common, stop_words

    keyed = _KEYED.findall(before)
    if keyed:
        return keyed[-1].strip()
    stop = stop_words()
    words = _LEAD_WORDS.findall(_CLAUSE.split(before)[-1])
    if len(words) > LABEL_WORDS:
        return ""
    said = len(words)
    while words and words[-1].lower() in stop:
        words.pop()
    if len(words) == said == 1 and common(words[0].lower()):
        return ""  # "See <url>", "branch"; but "Written" of "Written by", "Released on"
    return " ".join(words)


_INNER_LINK = re.compile(r"\[(?P<text>[^\[\]]{3,200})\]\(\s*<?(?P<url>[^)\s>]+)>?\s*\)")
"""A Markdown link with no bracket in its text, where its address is: the image's link, not
the badge's, in "[![Build status](...svg)](...)". `structure.MD_LINK` reads a link as its
text, the outer one first."""
_CLAUSE = re.compile(r"[.;!?(\[]\s|[,(\[\]]")
"""Where the clause a value is written in begins: after a sentence's end, a comma or a
bracket."""
_TAG_ONLY = re.compile(r"^<[^<>]+>(?:\s*</\w+>)?$")
"""A line of one HTML tag: `<a id="1.78.0-Language"></a>`, an anchor, not a value."""


_NOT_OWNERS = frozenset(
    {"version", "versions", "release", "releases", "v", "rev", "revision"}
    | {"foo", "bar", "baz", "qux", "example", "my"}
)
"""Words a version follows that name no thing, or only an example's placeholder."""


def _owner(before: str) -> str:
    """The name a version on a line is the version of: the word just before it ("Cargo" of
    "Cargo 1.32", "git2" of "uses git2 v0.15"), a name rather than a word of the sentence
    (capitalised, or too rare to be an everyday word, `text.common`); "" where there is none
    ("updated to 1.0.1", "would pick version 4.0.32")."""
    from outweigh.text import common

    before = re.sub(r"(?<=\s)[vV]$", "", before)  # "bitflags v1.2.1"
    m = re.search(r"([A-Za-z][\w.+-]*)[\s:=@\"'`]*$", before)
    if m is None:
        return ""
    word = m.group(1).rstrip(".-")
    if word.lower() in _NOT_OWNERS or len(word) < 2:
        return ""
    if not common(word.lower()):
        return word
    # An everyday word names a thing only where it is capitalised inside a sentence ("the
    # Cargo 1.32 release"), not where a sentence begins with it ("Requires 1.51+").
    opening = not re.split(r":\s", _CLAUSE.split(before[: m.start()])[-1])[-1].strip(" #*-")
    return word if word[0].isupper() and not opening else ""


def _linked(line: str, start: int) -> str | None:
    """The text of the Markdown link whose address holds `start` of `line`, quoted: what the
    address is for; "" where that text is too long to quote, None where the value is not in
    a link's address."""
    for m in _INNER_LINK.finditer(line):
        if m.start("url") <= start < m.end("url"):
            text = " ".join(m["text"].replace("`", "").split())
            return f"“{text}”" if len(text.split()) <= MAX_TOPIC_WORDS else ""
    return None


_CLEAN = re.compile(r"^[#=*\-+>\s|]+|[:#=*\s|]+$")

PROSE_KINDS = ("email", "url", "date", "person", "version")
"""The typed values `prose_facts` asks about (`outweigh.retrieval.structure.VALUES`)."""

_PROSE: dict[str, tuple[str, ...]] = {
    "date": (
        "When is {topic} dated, in {subject}?",
        "What date does {subject} give for {topic}?",
        "In {subject}, when was {topic}?",
        "{subject}: what is the date of {topic}?",
    ),
    "person": (
        "Who is named for {topic} in {subject}?",
        "In {subject}, who is behind {topic}?",
        "{subject}: which person goes with {topic}?",
        "Who signed {topic} in {subject}?",
    ),
    "email": (
        "What is the e-mail address of {who} in {subject}?",
        "How can {who} be reached by e-mail, according to {subject}?",
        "{subject}: what is {who}'s e-mail?",
    ),
    "url": (
        "What URL does {subject} give for {topic}?",
        "Where online is {topic}, according to {subject}?",
        "In {subject}, what is the link for {topic}?",
    ),
    "version": (
        "Which version does {subject} give for {topic}?",
        "In {subject}, what version goes with {topic}?",
        "{subject}: what is the version of {topic}?",
    ),
}
"""Questions about a typed value, by type: the subject is the document, the topic what the
value's line is about (its heading, lead line or label)."""

_PICTURES = (".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp")
"""Badge and logo URLs: values no one asks for."""
MAX_TOPIC_WORDS = 10
PROSE_PER_CHUNK = 3
"""Typed-value questions asked per chunk at most, for training rows: long lists of links must
not swamp them."""


def prose_facts(
    source: str, text: str, rng: random.Random, most: int | None = PROSE_PER_CHUNK
) -> Iterator[Fact]:
    """Questions about the typed values (e-mail addresses, URLs, dates, people, versions) of
    one chunk of any text, each tied to what its line is about: the heading, lead line or
    label it hangs from (`outweigh.retrieval.structure.outline`), else the words before the
    value on its line. A value also in that topic is not asked (the question would hold its
    own answer)."""
    from outweigh.retrieval.structure import VALUES, ancestors, lines_of, name_of, outline

    lines = lines_of(text)
    parent = outline(lines)
    subject = subject_of(source)
    found: list[Fact] = []
    keys: list[tuple[str, str, str]] = []
    asked: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for i, line in enumerate(lines):
        if line.code or _TAG_ONLY.match(line.text):  # an example's value; `<a id="1.78.0">`
            continue
        for kind in PROSE_KINDS:
            m = VALUES[kind].search(line.text)
            who = ""
            if m is not None and kind == "email":  # whose it is: the name written beside it
                m, who = _owned_email(line.text) or (None, "")
            if m is None:
                continue
            value = m.group(0).strip().rstrip(".,;:)>")
            if kind == "person":
                value = name_of(value)
                if value.isupper():  # a licence's capitals: "OR COPYRIGHT HOLDERS"
                    continue
            if len(value) < 4 or (kind == "date" and value.isdigit()):
                continue
            if kind == "url" and (value.lower().endswith(_PICTURES) or "badge" in value):
                continue
            # The words before the value on its line say most precisely what it is
            # ("Homepage:", "Released on"), or a link's text; else the heading or lead line
            # it hangs from.
            linked = _linked(line.text, m.start())
            if kind == "version":  # a version is a thing's: "Cargo 1.32", "git2 v0.15"
                topic = _owner(line.text[: m.start()])
            else:
                topic = _label(line.text[: m.start()]) if linked is None else linked
            if len(topic) < 3 and kind != "version":
                up = ancestors(parent, i, depth=2)
                topic = next(
                    (_CLEAN.sub("", lines[a].text) for a in up if value not in lines[a].text),
                    "",
                )
            topic = " ".join(topic.split()[:MAX_TOPIC_WORDS])
            if len(topic) < 3 or value in topic or "<" in topic or "://" in topic:
                continue
            keys.append((kind, topic.lower(), who.lower()))
            question = rng.choice(_PROSE[kind]).format(topic=topic, subject=subject, who=who)
            about = f"{subject}\n{topic}\n{who}".lower()
            found.append(Fact(question, value, source, kind=f"prose-{kind}", about=about))
            asked[(kind, topic.lower(), who.lower())].add(value)
            break  # one question per line, of the first type it holds
    # A topic with two values of one type ("Links" over four URLs) asks nothing clear.
    clear = [f for f, key in zip(found, keys, strict=True) if len(asked[key]) == 1]
    rng.shuffle(clear)
    yield from clear[:most]


def _owned_email(line: str) -> tuple[re.Match[str], str] | None:
    """The first e-mail address on `line` written beside a person's name, with that name:
    "Chris Nehren <apeiron@cpan.org>", not the line's first name for another's address
    ("<kwilliams@cpan.org>, Randy W. Sims <RandyS@...>" is Randy W. Sims's second one)."""
    from outweigh.retrieval.fields import beside
    from outweigh.retrieval.structure import VALUES, name_of

    people = [(p, name_of(p.group(0))) for p in VALUES["person"].finditer(line)]
    for m in VALUES["email"].finditer(line):
        for p, who in people:
            if p.end() <= m.start() and beside(line[p.end() : m.start()]) and "@" not in who:
                return m, who
    return None


def mine(
    source: str, text: str, rng: random.Random, most: int | None = PROSE_PER_CHUNK
) -> Iterator[Fact]:
    """Every question one chunk of `source` answers, of every shape the miner reads: its
    `Key: value` fields, a manual page's parts, its copyright holder and licence, and, unless
    the chunk is a record (`_record`), its typed values: `most` of them at most (None: all of
    them, so that a suite sees every value a document gives one topic and drops the topic
    when there are two)."""
    from outweigh.retrieval.structure import lines_of

    yield from facts(source, text, rng)
    yield from man_facts(source, text, rng)
    for n in notice_facts(subject_of(source, project=True), text, rng):
        yield Fact(n.question, n.answer, source, evidence=n.evidence, kind=n.kind)
    if not _record(lines_of(text)):
        yield from prose_facts(source, text, rng, most)


WRITE_PROMPT = (
    "Read the passage. Write one question that the passage answers, about a specific fact "
    "in it, naming what the fact is about so the question makes sense on its own. Then give "
    "the answer, copied word for word from the passage, in at most eight words.\n\n"
    "Passage:\n{passage}\n\nReply in exactly two lines:\nQ: <question>\nA: <answer>"
)
"""How a capable model is asked to write a question from a passage (RAFT had GPT-4 write its
questions from each document)."""
_QA = re.compile(r"Q:\s*(?P<q>[^\n]+?)\s*\n\s*A:\s*(?P<a>[^\n]+)")
MAX_WRITTEN_WORDS = 8
WRITE_CHARS = 1500
"""Most of a chunk shown to the question writer."""


def written_fact(source: str, text: str, reply: str) -> Fact | None:
    """The question and answer a model wrote from `text`, kept only when the answer is in
    the passage word for word, short, and not in the question: a writer's invention, its
    paraphrase of a value, or a question holding its own answer teaches a reader nothing
    true."""
    m = _QA.search(reply)
    if m is None:
        return None
    question = " ".join(m["q"].split())
    answer = " ".join(m["a"].split()).strip().strip("\"'`").rstrip(".")
    if not question.endswith("?") or not 1 <= len(answer.split()) <= MAX_WRITTEN_WORDS:
        return None
    if answer.lower() not in folded(text).lower() or answer.lower() in question.lower():
        return None
    return Fact(question, answer, source, kind="written")


def write_questions(
    chunks: list[tuple[str, str]],
    write: Callable[[str], str],
    on_chunk: Callable[[int, int], None] | None = None,
) -> list[Fact]:
    """Questions a model writes (`write(prompt) -> reply`) from `(source, text)` chunks, the
    ones `written_fact` keeps."""
    out: list[Fact] = []
    for i, (source, text) in enumerate(chunks, 1):
        reply = write(WRITE_PROMPT.format(passage=text[:WRITE_CHARS]))
        if (fact := written_fact(source, text, reply)) is not None:
            out.append(fact)
        if on_chunk is not None:
            on_chunk(i, len(chunks))
    return out


def folded(text: str) -> str:
    """`text` with each run of whitespace one space: a value may wrap onto a second line."""
    return " ".join(text.split())
