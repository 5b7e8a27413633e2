"""Build three development eval suites of real text in other shapes, and an off-topic set.

The bundled passage reader was tuned on manual pages and `Key: value` package records. These
suites measure whether retrieval and reading carry over to other shapes of real text:

- `suite-log`: changelogs and release notes (entries with a heading, a body and often a
  sign-off): IDLE's ChangeLog, NEWS and HISTORY files from the pyenv Pythons, pyenv's and
  pyenv-virtualenv's CHANGELOG.md, and Rust's release notes from 1.70.0 on.
- `suite-info`: GNU Texinfo manuals as plain text, one document per node.
- `suite-readme`: project READMEs (npm's bundled packages, pyenv and its plugins, the Rust
  tools, the Python libraries vendored by gsutil).
- `offtopic`: general-knowledge questions about none of the documents, asked over an
  unrelated collection to see that a reader still answers them.

    python examples/shapes/make_suites.py examples

Every question is written by an extraction rule specific to its shape, names its subject
(release, manual and node, package) so it can be answered by retrieval over the whole suite,
and is checked here: each gold answer occurs verbatim (whitespace-folded, on word boundaries)
in the gold document, and no other document of the suite gives the same subject and kind a
different answer. Unanswerable questions ask about subjects of the suite for a value the
suite never states, checked by searching every document. The output is deterministic for a
given machine: sources and candidates are sorted and choices use a fixed seed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import shutil
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

SEED = 2024
DOC_LIMIT = 8000
"""Largest document, in characters: longer sources are split at entry or section boundaries."""

PYENV = Path("/root/.pyenv")
PYTHONS = PYENV / "versions"
RUST_DOC = Path("/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc")
RUST_RELEASES = RUST_DOC / "rust/html/releases.md"
INFO = Path("/usr/share/info")
NPM = Path("/usr/lib/node_modules/npm")
GSUTIL = Path("/usr/lib/google-cloud-sdk/platform/gsutil")

RUST_FIRST = (1, 70)
"""Rust releases from this one on make the suite (the whole file is about 900 KB)."""


class SourceMissing(Exception):
    """A source file or directory this script reads is not on the machine."""


def need(path: Path) -> Path:
    if not path.exists():
        raise SourceMissing(f"source {path} is missing; this script reads it to build the suites")
    return path


# -- text helpers ------------------------------------------------------------------------------
def fold(text: str) -> str:
    return " ".join(text.split())


def occurs(answer: str, text: str, folded: bool = False) -> bool:
    """Whether `answer` occurs in `text`, whitespace-folded, not inside a longer word."""
    a, t = fold(answer), text if folded else fold(text)
    return a in t and re.search(rf"(?<!\w){re.escape(a)}(?!\w)", t) is not None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.")


def sentence(text: str, limit: int = 90) -> str:
    """The first sentence of `text`, folded, without its final period; '' if longer than limit."""
    text = fold(text)
    text = re.sub(r"\s*\(?\*[Nn]ote [^)]*?::\)?\.?", "", text)
    m = re.match(r"(.+?(?:[a-z0-9)’'\"`*_]|[A-Z]{2,}))(?<!e\.g)(?<!i\.e)(?<!\bvs)\.(?:\s|$)", text)
    first = m[1] if m else text.rstrip(".")
    return first if len(first) <= limit else ""


def split_long(text: str, limit: int = DOC_LIMIT) -> list[str]:
    """Split one block longer than `limit` at blank lines, then lines, then characters."""
    if len(text) <= limit:
        return [text]
    pieces = re.split(r"(\n\s*\n)", text)
    units: list[str] = []
    for para in ("".join(pieces[i : i + 2]) for i in range(0, len(pieces), 2)):
        if len(para) <= limit:
            units.append(para)
            continue
        for line in para.splitlines(keepends=True):
            units += [line[i : i + limit] for i in range(0, len(line), limit)]
    return _greedy(units, limit)


def _greedy(units: Iterable[str], limit: int) -> list[str]:
    out: list[str] = []
    cur = ""
    for unit in units:
        if cur and len(cur) + len(unit) > limit:
            out.append(cur)
            cur = ""
        cur += unit
    if cur.strip():
        out.append(cur)
    return out


def pack(blocks: Iterable[str], limit: int = DOC_LIMIT) -> list[str]:
    """Group consecutive blocks into chunks of at most `limit` characters; a block longer than
    that is split first."""
    return _greedy((piece for b in blocks for piece in split_long(b, limit)), limit)


def tidy(text: str) -> str:
    lines = [ln.rstrip() for ln in text.strip("\n").splitlines()]
    return "\n".join(lines).strip("\n") + "\n"


# -- suites, facts and checks ------------------------------------------------------------------
@dataclass
class Fact:
    """One answerable question, before selection."""

    kind: str
    subject: str
    """What the question is about; with `kind`, the key that must have a single answer."""
    question: str
    answers: list[str]
    source: str


@dataclass
class Unknown:
    """One unanswerable question: `check(suite)` is true when no document states the value."""

    question: str
    check: Callable[[Suite], bool]
    family: str = ""
    """What kind of value is missing; the pick takes the families in turn."""


@dataclass
class Suite:
    name: str
    docs: dict[str, str] = field(default_factory=dict)
    facts: list[Fact] = field(default_factory=list)
    unknowns: list[Unknown] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    flat: dict[str, str] = field(default_factory=dict)
    """The documents whitespace-folded, for the checks."""

    def doc(self, name: str, text: str) -> str:
        if name in self.docs:
            raise ValueError(f"{self.name}: two documents named {name}")
        self.docs[name] = tidy(text)
        self.flat[name] = fold(self.docs[name])
        return name

    def fact(self, kind: str, subject: str, templates: list[str], answers: list[str], src: str):
        """Add a question phrased by one of `templates` (a seeded choice); keeps the answers
        that occur in the document and survive the scorer's normalisation, and drops the fact
        if none does."""
        text = self.docs[src]
        kept = [
            a for a in dict.fromkeys(fold(a) for a in answers) if has_words(a) and occurs(a, text)
        ]
        if not kept:
            return
        q = self.rng.choice(templates)
        self.facts.append(Fact(kind, subject, q, kept, src))

    def unknown(self, question: str, check: Callable[[Suite], bool], family: str = ""):
        self.unknowns.append(Unknown(question, check, family))

    def containing(self, pattern: str, flags: int = 0) -> list[str]:
        """The documents whose folded text matches `pattern`."""
        rx = re.compile(pattern, flags)
        return [n for n, t in self.flat.items() if rx.search(t)]


def single_valued(facts: list[Fact]) -> list[Fact]:
    """Drop every subject+kind that has two different answers; keep one fact per key, and one
    fact per question text."""
    by_key: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    for f in facts:
        by_key[f.kind, f.subject.casefold()].append(f)
    out = []
    for group in by_key.values():
        values = {frozenset(a.casefold() for a in f.answers) for f in group}
        if len(values) == 1:
            out.append(group[0])
    seen: Counter[str] = Counter(f.question.casefold() for f in out)
    return [f for f in out if seen[f.question.casefold()] == 1]


def choose(suite: Suite, quotas: dict[str, int], unknowns: int) -> list[dict[str, object]]:
    """Pick facts per kind (spread over documents: at most one per document while possible),
    then `unknowns` unanswerable questions, and shuffle them together."""
    rng = random.Random(SEED)
    facts = single_valued(suite.facts)
    for f in facts:  # the extraction already checked this; keep the invariant explicit
        assert all(occurs(a, suite.docs[f.source]) for a in f.answers), f
    used: Counter[str] = Counter()
    picked: list[Fact] = []
    for kind, n in quotas.items():
        pool = sorted((f for f in facts if f.kind == kind), key=lambda f: (f.source, f.question))
        rng.shuffle(pool)
        take: list[Fact] = []
        given: set[frozenset[str]] = set()
        for cap in (1, 2):  # one question per document and answer while possible, then two
            for f in interleave(pool, lambda f: family(f.source), rng):
                again = cap == 1 and frozenset(f.answers) in given
                if len(take) < n and f not in take and used[f.source] < cap and not again:
                    take.append(f)
                    used[f.source] += 1
                    given.add(frozenset(f.answers))
        if len(take) < n:
            raise SystemExit(f"make_suites: {suite.name}: only {len(take)} {kind!r} questions")
        picked += take
    rows: list[dict[str, object]] = [
        {"question": f.question, "answers": f.answers, "source": f.source, "kind": f.kind}
        for f in picked
    ]
    good = [u for u in suite.unknowns if u.check(suite)]
    good = [u for u in good if not any(f.question == u.question for f in facts)]
    dropped = [u.question for u in suite.unknowns if u not in good]
    if dropped:
        print(f"{suite.name}: {len(dropped)} unanswerable candidates dropped by their check")
    good = list({u.question: u for u in good}.values())
    rng.shuffle(good)
    good = interleave(good, lambda u: u.family, rng)
    if len(good) < unknowns:
        raise SystemExit(f"make_suites: {suite.name}: only {len(good)} unanswerable questions")
    rows += [
        {"question": u.question, "abstain": True, "kind": "unanswerable"} for u in good[:unknowns]
    ]
    rng.shuffle(rows)
    return rows


def family(source: str) -> str:
    """The source a document comes from: the first word of its name."""
    return re.split(r"[-.]", source)[0]


def interleave(items: list, key: Callable[[object], str], rng: random.Random) -> list:
    """Round-robin over the groups `key` makes (in a seeded order), each group in its order."""
    groups: dict[str, list] = defaultdict(list)
    for it in items:
        groups[key(it)].append(it)
    names = sorted(groups)
    rng.shuffle(names)
    out = []
    while any(groups.values()):
        for g in names:
            if groups[g]:
                out.append(groups[g].pop(0))
    return out


def write(root: Path, suite: Suite, rows: list[dict[str, object]]) -> None:
    out = root / suite.name
    docs = out / "docs"
    if docs.exists():
        shutil.rmtree(docs)
    docs.mkdir(parents=True)
    for name, text in sorted(suite.docs.items()):
        (docs / name).write_text(text, encoding="utf-8")
    with (out / "questions.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


# == suite-log: changelogs and release notes ===================================================
def idle_files(name: str) -> list[tuple[str, Path]]:
    """(python version, path) of each copy of idlelib/`name`, newest Python first, with copies
    identical to a newer one (whitespace-folded) left out."""
    found = []
    for d in need(PYTHONS).iterdir():
        for p in d.glob(f"lib/python*/idlelib/{name}"):
            found.append((tuple(int(x) for x in d.name.split(".")[:3] if x.isdigit()), p))
    found.sort(reverse=True)
    seen: set[str] = set()
    out = []
    for ver, p in found:
        key = fold(p.read_text("utf-8", "replace"))
        if key not in seen:
            seen.add(key)
            out.append((".".join(map(str, ver)), p))
    return out


_CL_ENTRY = re.compile(
    r"^(?:(?P<iso>\d{4}-\d\d-\d\d) (?P<hm>\d\d:\d\d)  (?P<user>\S+)"
    r"|(?P<ctime>\w{3} (?P<mon>\w{3}) +(?P<day>\d+) [\d:]+ (?P<year>\d{4}))"
    r"  (?P<name>.+?)  <(?P<mail>[^>]+)>)$",
    re.M,
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}


def _entry_date(m: re.Match[str]) -> str:
    if m["iso"]:
        return m["iso"]
    return f"{m['year']}-{_MONTHS[m['mon']]:02d}-{int(m['day']):02d}"


def log_idle_changelog(suite: Suite) -> None:
    """IDLE's ChangeLog (IDLEfork CVS log, then Guido's original), in groups of entries."""
    (_, path), *_ = idle_files("ChangeLog")
    text = path.read_text("utf-8", "replace")
    starts = [m.start() for m in _CL_ENTRY.finditer(text)]
    blocks = [text[a:b] for a, b in zip([0, *starts[1:]], [*starts[1:], len(text)], strict=True)]
    header = re.compile(r"\n(original IDLE ChangeLog:\n=+\n\s*)$")
    for i in range(len(blocks) - 1):  # a section title belongs to the entry after it
        if m := header.search(blocks[i]):
            blocks[i] = blocks[i][: m.start() + 1]
            blocks[i + 1] = m[1] + blocks[i + 1]
    for chunk in pack(blocks):
        dates = [_entry_date(m) for m in _CL_ENTRY.finditer(chunk)]
        name = f"idlelib-changelog-{min(dates)}-to-{max(dates)}.txt"
        n = 2
        while name in suite.docs:
            name = f"idlelib-changelog-{min(dates)}-to-{max(dates)}-{n}.txt"
            n += 1
        suite.doc(name, chunk)


_NEWS_HEAD = re.compile(
    r"^What's New in (?P<what>IDLE|IDLEfork|Python) (?P<label>[^?\s]+(?: Alpha \d)?)", re.M
)


def log_idle_news(suite: Suite) -> None:
    """IDLE's NEWS files, one document per release; a release in several Pythons' copies is
    taken from the newest. HISTORY.txt (the oldest releases) is split at its sections."""
    files = [p for name in ("News3.txt", "NEWS.txt", "NEWS2x.txt") for p in idle_files(name)]
    files.sort(key=lambda vp: tuple(int(x) for x in vp[0].split(".")), reverse=True)
    sections: dict[str, str] = {}
    for _, path in files:
        text = path.read_text("utf-8", "replace")
        heads = list(_NEWS_HEAD.finditer(text))
        for m, nxt in zip(heads, [*heads[1:], None], strict=True):
            label = f"{m['what']} {m['label']}" if m["what"] != "IDLE" else m["label"]
            if label.endswith(".z"):  # the unreleased maintenance section
                continue
            sections.setdefault(label, text[m.start() : nxt.start() if nxt else len(text)])
    for label, body in sorted(sections.items()):
        parts = split_long(body, DOC_LIMIT - 100)
        for i, part in enumerate(parts, 1):
            suffix = f"-part{i}" if len(parts) > 1 else ""
            if i > 1:  # each part keeps the release heading
                part = body.split("\n", 1)[0] + " (continued)\n\n" + part
            suite.doc(f"idlelib-news-{slug(label)}{suffix}.txt", part)
    (_, path), *_ = idle_files("HISTORY.txt")
    text = path.read_text("utf-8", "replace")
    heads = [m.start() for m in re.finditer(r"^\S.*\n[=-]{5,}\n", text, re.M)]
    blocks = [text[a:b] for a, b in zip([0, *heads[1:]], [*heads[1:], len(text)], strict=True)]
    for i, chunk in enumerate(pack(blocks), 1):
        suite.doc(f"idlelib-history-part{i}.txt", chunk)


_PYENV_HEAD = re.compile(
    r"^#{2,4} (?:Release )?(?P<rel>v?\d[\d.]*(?:-\d+(?:\.\d+)?)?)(?: \((?P<date>[^)]+)\))?[ \t]*$",
    re.M,
)


def log_pyenv(suite: Suite) -> None:
    """pyenv's and pyenv-virtualenv's CHANGELOG.md, in groups of releases."""
    for project, path in (
        ("pyenv", PYENV / "CHANGELOG.md"),
        ("pyenv-virtualenv", PYENV / "plugins/pyenv-virtualenv/CHANGELOG.md"),
    ):
        text = need(path).read_text("utf-8")
        starts = [m.start() for m in _PYENV_HEAD.finditer(text)]
        blocks = [
            text[a:b] for a, b in zip([0, *starts[1:]], [*starts[1:], len(text)], strict=True)
        ]
        for chunk in pack(blocks):
            rels = [m["rel"] for m in _PYENV_HEAD.finditer(chunk)]
            suite.doc(f"{project}-changelog-{rels[-1]}-to-{rels[0]}.md", chunk)


_RUST_HEAD = re.compile(
    r"^Version (?P<ver>\d+\.\d+(?:\.\d+)?) \((?P<date>\d{4}-\d\d-\d\d)\)\n=+\n", re.M
)


def log_rust(suite: Suite) -> None:
    """Rust's release notes from RUST_FIRST on, one document per release; a long release is
    split at its sections (Language, Compiler, Libraries, ...), each part under the heading."""
    text = need(RUST_RELEASES).read_text("utf-8")
    heads = list(_RUST_HEAD.finditer(text))
    for m, nxt in zip(heads, [*heads[1:], None], strict=True):
        ver = m["ver"]
        if tuple(int(x) for x in ver.split(".")[:2]) < RUST_FIRST:
            continue
        body = text[m.end() : nxt.start() if nxt else len(text)]
        secs = re.split(r"(?m)^(?=\S.*\n-{3,}\n)", body)
        anchor = re.compile(r"\n(<a id=\"[^\"]+\"></a>\s*)$")
        for i in range(len(secs) - 1):  # a section's anchor belongs to it
            if a := anchor.search(secs[i]):
                secs[i], secs[i + 1] = secs[i][: a.start() + 1], a[1] + secs[i + 1]
        parts = pack([s for s in secs if s.strip()], DOC_LIMIT - len(m[0]))
        section = ""  # the section a part starts in names it
        for i, part in enumerate(parts):
            first = re.match(r"(?:<a id=\"[^\"]+\"></a>\s*)?(\S.*)\n-{3,}\n", part)
            name = f"rust-{ver}.md"
            if i:
                what = slug(first[1]) if first else f"{slug(section) or 'notes'}-continued"
                name = f"rust-{ver}-{what}.md"
                if name in suite.docs:
                    name = name.replace(".md", f"-{i + 1}.md")
            suite.doc(name, m[0] + "\n" + part)
            titles = re.findall(r"^(\S.*)\n-{3,}$", part, re.M)
            section = titles[-1] if titles else section


def q(rng: random.Random, *templates: str) -> list[str]:
    """The templates in a seeded order (Suite.fact picks one): varied phrasing per question."""
    out = list(templates)
    rng.shuffle(out)
    return out


def near_email(suite: Suite, name: str, width: int = 160) -> bool:
    """Whether some document puts an e-mail address within `width` characters of `name`."""
    rx = re.compile(re.escape(name))
    for flat in suite.flat.values():
        for m in rx.finditer(flat):
            if "@" in flat[max(0, m.start() - width) : m.end() + width].replace(" @", ""):
                return True
    return False


def mentions(suite: Suite, text: str) -> list[str]:
    """The documents where `text` occurs (folded, on word boundaries)."""
    return [n for n, t in suite.flat.items() if occurs(text, t, folded=True)]


_ITEM_ID = re.compile(
    r"^-?\s*(?P<id>gh-\d+|bpo-\d+|Issue #\d+|Bug #\d+|Patch #\d+|SF bug #?\d+|SF patch #?\d+)"
    r"\s*:?\s*(?P<desc>.*)$",
    re.S,
)
_NAME = r"[A-Z][\w'-]+(?: [A-Z]\.)?(?: (?:van |von |de )?[A-Z][\w'-]+)+"
_PATCH_BY = re.compile(rf"\b[Pp]atch(?:es)? by (?P<names>{_NAME}(?:(?:, | and ){_NAME})*)")


def news_items(text: str) -> list[str]:
    """The entries of one NEWS section: paragraphs, and `- ` bullets within them, each with its
    line breaks (a name never runs across one) and its indentation removed."""
    body = text.split("\n", 1)[1] if "\n" in text else ""
    out = []
    for para in re.split(r"\n\s*\n", body):
        for b in re.split(r"(?m)^(?=- )", para):
            if b.strip():
                out.append("\n".join(" ".join(ln.split()) for ln in b.strip().splitlines()))
    return out


def log_facts(suite: Suite) -> None:
    rng = suite.rng
    # IDLE NEWS: release dates, and per entry the release, the patch author, the issue number
    for name, text in sorted(suite.docs.items()):
        if not name.startswith("idlelib-news-"):
            continue
        head = _NEWS_HEAD.search(text)
        assert head, name
        label = head["label"] if head["what"] == "IDLE" else f"{head['what']} {head['label']}"
        release = f"IDLE {label}" if head["what"] == "IDLE" else label
        date = re.search(r"^(?:Released on |\*Release date: )(?P<d>\S+?)\*?[ \t]*$", text, re.M)
        if date and not re.search(r"[?xX]", date["d"]):
            suite.fact(
                "date",
                release,
                q(
                    rng,
                    f"When was {release} released?",
                    f"What is the release date of {release}?",
                    f"On which date did {release} come out, according to IDLE's NEWS?",
                ),
                [date["d"]],
                name,
            )
        for item in news_items(text):
            m = _ITEM_ID.match(item)
            if not m or len(mentions(suite, m["id"])) != 1:
                continue
            ident, desc = m["id"], sentence(m["desc"], 80)
            what = f"{ident} ({desc})" if desc else ident
            suite.fact(
                "version",
                ident,
                q(
                    rng,
                    f"Which IDLE release's What's New lists {what}?",
                    f"In which IDLE version's NEWS does {what} appear?",
                    f"Which IDLE release notes mention {what}?",
                ),
                [label, release],
                name,
            )
            if p := _PATCH_BY.search(item):
                names = re.split(r", | and ", p["names"])
                suite.fact(
                    "person",
                    ident,
                    q(
                        rng,
                        f"Who wrote the patch for {ident} in {release}?",
                        f"Whose patch is credited for {ident} in the {release} NEWS?",
                        f"In {release}, who contributed the patch for {ident}?",
                    ),
                    names,
                    name,
                )
            elif " by " not in fold(item) and not re.search(r"\b(?:[Pp]atch|[Cc]ontribut)", item):
                suite.unknown(
                    f"Who wrote the patch for {ident} in {release}?",
                    lambda s, i=ident: all(" by " not in fold(b) for b in _items_with(s, i)),
                    "patch-author",
                )
            num = re.search(r"\d+", ident)[0]
            if desc:
                kind = re.sub(r"[^a-z]+", " ", ident.lower()).strip().replace("gh", "GitHub issue")
                suite.fact(
                    "number",
                    desc,
                    q(
                        rng,
                        f"What is the {kind} number of the {release} change “{desc}”?",
                        f"Which {kind} number does {release}'s NEWS give for “{desc}”?",
                    ),
                    [num, ident],
                    name,
                )
    # IDLE's HISTORY.txt dates its releases in several ways, not always alike
    for name, text in sorted(suite.docs.items()):
        if not name.startswith("idlelib-history"):
            continue
        for rx in (
            r"^What's New in (?P<r>IDLE(?:fork)? [\d.]+)\?\n=+\n\n\*Release date: (?P<d>[^*\n]+)\*",
            r"^(?P<r>IDLE(?:fork)? [\d.]+) - (?P<d>\d{1,2} \w+ \d{4})\n-+$",
            r"^(?P<r>IDLE(?:fork)? [\d.]+) - (?P<d>\w+ \d{4}) - Release Notes\n-+$",
            r"^New in (?P<r>IDLE(?:fork)? [\d.]+) \((?P<d>[\d/]+)\)\n-+$",
        ):
            for m in re.finditer(rx, text, re.M):
                suite.fact(
                    "date",
                    m["r"],
                    q(
                        rng,
                        f"When was {m['r']} released?",
                        f"What is the release date of {m['r']}, according to IDLE's history?",
                    ),
                    [m["d"]],
                    name,
                )
    # IDLE ChangeLog: who made an entry; the e-mail addresses of the signed entries
    emails: dict[str, tuple[str, str]] = {}
    for name, text in sorted(suite.docs.items()):
        if name.startswith("idlelib-changelog-"):
            for m in _CL_ENTRY.finditer(text):
                if m["user"]:
                    stamp = f"{m['iso']} {m['hm']}"
                    files = re.match(r"\s*\*\s*([^,:\s]+)", text[m.end() :])
                    if files:
                        f = files[1]
                        suite.fact(
                            "person",
                            f"{stamp} {f}",
                            q(
                                rng,
                                f"Who made the IDLEfork ChangeLog entry of {stamp} about {f}?",
                                f"Which developer committed the {stamp} change to {f} "
                                "in the IDLEfork ChangeLog?",
                                f"In the IDLEfork ChangeLog, who is the author of the {stamp} "
                                f"entry on {f}?",
                            ),
                            [m["user"]],
                            name,
                        )
        if name.startswith(("idlelib-changelog-", "idlelib-history")):
            for m in re.finditer(rf"({_NAME})\s+<([\w.+-]+@[\w.-]+\.\w+)>", text):
                emails.setdefault(m[1], (m[2], name))
    for person, (mail, src) in sorted(emails.items()):
        where = "IDLE ChangeLog" if "changelog" in src else "IDLE release history"
        suite.fact(
            "email",
            person,
            q(
                rng,
                f"What is the e-mail address of {person} in the {where}?",
                f"Which e-mail address does the {where} give for {person}?",
            ),
            [mail],
            src,
        )
    for person in ("Kurt B. Kaiser", "Terry Jan Reedy", "Tal Einat", "Roger Serwy", "elguavas"):
        suite.unknown(
            f"What is the e-mail address of {person} in the IDLE changelogs?",
            lambda s, p=person: bool(mentions(s, p)) and not near_email(s, p),
            "email",
        )
    log_pyenv_facts(suite)
    log_rust_facts(suite)


def _items_with(suite: Suite, ident: str) -> list[str]:
    return [
        item
        for n, t in suite.docs.items()
        if n.startswith("idlelib-news-")
        for item in news_items(t)
        if occurs(ident, item)
    ]


_BULLET = re.compile(
    r"^(?P<text>.+?) by @(?P<user>[\w-]+(?:\[bot\])?) in "
    r"(?P<url>https://github\.com/[\w-]+/[\w-]+/pull/(?P<num>\d+))$"
)
_OLD_BULLET = re.compile(r"^(?P<text>.+?)\s*\(#(?P<num>\d+)\)$")
_ADDS = re.compile(
    r"^(?:python-build: )?Add(?:ed)? (?:new )?(?P<prod>CPython|PyPy3?|GraalPy|Jython|Anaconda3|"
    r"[Mm]iniconda3|[Mm]iniforge3|Pyston|Stackless|MicroPython|Cinder)[ -]"
    r"(?P<vers>v?\d[\w.+-]*(?:,? (?:and )?v?\d[\w.+-]*)*)"
)


def log_pyenv_facts(suite: Suite) -> None:
    rng = suite.rng
    releases = []  # (project, release, date, bullets, doc)
    for name, text in sorted(suite.docs.items()):
        if not name.startswith("pyenv"):
            continue
        project = "pyenv-virtualenv" if name.startswith("pyenv-virtualenv") else "pyenv"
        heads = list(_PYENV_HEAD.finditer(text))
        for m, nxt in zip(heads, [*heads[1:], None], strict=True):
            body = text[m.end() : nxt.start() if nxt else len(text)]
            bullets = [fold(b) for b in re.findall(r"(?m)^ ?\* (.+(?:\n {2,}\S.*)*)", body)]
            releases.append((project, m["rel"], m["date"], bullets, name, body))
    counts = Counter(b for r in releases for b in r[3])
    for project, rel, date, bullets, doc, body in releases:
        where = f"{project} {rel}"
        if date:
            suite.fact(
                "date",
                where,
                q(rng, f"When was {where} released?", f"What is the release date of {where}?"),
                [date],
                doc,
            )
        elif rel.startswith("v2."):
            suite.unknown(
                f"On what date was {where} released?",
                lambda s, r=rel, d=doc, b=body: (
                    mentions(s, r) == [d] and not re.search(r"\b(?:19|20)\d\d\b", b)
                ),
                "pyenv-date",
            )
        added: dict[str, list[str]] = defaultdict(list)
        for b in bullets:
            if a := _ADDS.match(b):
                added[a["prod"]] += re.split(r",? (?:and )?", a["vers"])
        for prod, vers in added.items():
            suite.fact(
                "item",
                f"{where} {prod}",
                q(
                    rng,
                    f"Which {prod} version(s) did {where} add?",
                    f"What {prod} release was added in {where}?",
                ),
                vers,
                doc,
            )
        for b in bullets:
            if counts[b] != 1 or len(b) > 160:
                continue
            m = _BULLET.match(b) or _OLD_BULLET.match(b)
            if not m:
                if "@" not in b and " by " not in b and len(b) < 90:
                    suite.unknown(
                        f"Who contributed “{b}” to {where}?",
                        lambda s, t=b: all("@" not in ln for ln in _lines_with(s, t)),
                        "pyenv-person",
                    )
                continue
            text = m["text"]
            core = re.sub(r"^(?:python-build|pyenv|pyenv-\w+): ", "", text)
            if len(text) > 90 or len(mentions(suite, core)) != 1:
                continue
            if fold(suite.docs[doc]).count(core) != 1:
                continue
            kinds = ["version", "number"]
            if "user" in m.groupdict() and not m["user"].endswith("[bot]"):
                kinds += ["person", "url"]
            kind = rng.choice(kinds)
            if kind == "version":
                answers = [rel, rel.removeprefix("v")]
                qs = q(
                    rng,
                    f"In which {project} release did “{text}” land?",
                    f"Which {project} release includes the change “{text}”?",
                )
            elif kind == "number":
                answers = [m["num"], "#" + m["num"]]
                qs = q(
                    rng,
                    f"What is the pull request number of “{text}” in {where}?",
                    f"Which PR number does the {project} changelog give for “{text}”?",
                )
            elif kind == "person":
                answers = [m["user"], "@" + m["user"]]
                qs = q(
                    rng,
                    f"Who contributed “{text}” to {where}?",
                    f"Which GitHub user made the {where} change “{text}”?",
                    f"In the {where} changelog, who is credited with “{text}”?",
                )
            else:
                answers = [m["url"]]
                qs = q(
                    rng,
                    f"What is the pull request link for “{text}” in {where}?",
                    f"Which URL does the {where} changelog give for “{text}”?",
                )
            suite.fact(kind, f"{project} {text}", qs, answers, doc)


def _lines_with(suite: Suite, text: str) -> list[str]:
    return [ln for t in suite.docs.values() for ln in t.splitlines() if fold(text) in fold(ln)]


_RUST_LINK = re.compile(
    r"^[-*] \[(?P<text>[^\]]{8,90})\]\((?P<url>https://github\.com/rust-lang/[\w-]+/"
    r"(?:pull|issues)/(?P<num>\d+))/?\)\.?$"
)


def log_rust_facts(suite: Suite) -> None:
    rng = suite.rng
    docs = {n: t for n, t in sorted(suite.docs.items()) if n.startswith("rust-")}
    links = Counter(
        m["text"] for t in docs.values() for ln in t.splitlines() if (m := _RUST_LINK.match(ln))
    )
    for name, text in docs.items():
        head = _RUST_HEAD.match(text)
        ver, date = head["ver"], head["date"]
        if name == f"rust-{ver}.md":
            suite.fact(
                "date",
                f"Rust {ver}",
                q(
                    rng,
                    f"When was Rust {ver} released?",
                    f"What is the release date of Rust {ver}?",
                    f"On which day did Rust {ver} come out?",
                ),
                [date],
                name,
            )
        if ver.count(".") == 2 and not ver.endswith(".0"):
            cves = sorted(set(re.findall(r"CVE-\d{4}-\d+", text)))
            if cves and rng.random() < 0.5:
                suite.fact(
                    "item",
                    f"Rust {ver} CVE",
                    q(rng, f"Which CVE does the Rust {ver} point release address?"),
                    cves,
                    name,
                )
            elif len(cves) == 1 and mentions(suite, cves[0]) == [name]:
                suite.fact(
                    "version",
                    cves[0],
                    q(rng, f"Which Rust release fixed {cves[0]}?"),
                    [ver],
                    name,
                )
        section = ""  # a part that continues a section is not used: it may be the const list
        for ln in text.splitlines():
            if re.fullmatch(r"-{3,}", ln):
                continue
            if re.fullmatch(r"[A-Z][\w -]+", ln):
                section = ln
            if "now stable in const contexts" in ln:
                section = "const"
            api = re.match(r"^- \[`(?P<api>[A-Za-z_]\w*(?:::\w+)+)`\]\(", ln)
            if section == "Stabilized APIs" and api and mentions(suite, api["api"]) == [name]:
                suite.fact(
                    "version",
                    api["api"],
                    q(
                        rng,
                        f"Which Rust release stabilized `{api['api']}`?",
                        f"In which version of Rust did `{api['api']}` become stable?",
                        f"Since which Rust version is `{api['api']}` a stable API?",
                    ),
                    [ver],
                    name,
                )
            link = _RUST_LINK.match(ln)
            if link and links[link["text"]] == 1 and section in ("Language", "Compiler", "Cargo"):
                t = link["text"].rstrip(".")
                suite.unknown(
                    f"Who authored the pull request “{t}” for Rust {ver}?",
                    lambda s, n=name: not re.search(r"\bby @|\b[Aa]uthor", s.docs[n]),
                    "rust-author",
                )
                if rng.random() < 0.5:
                    suite.fact(
                        "url",
                        f"Rust {t}",
                        q(
                            rng,
                            f"What is the link to the pull request “{t}” in the Rust {ver} "
                            "release notes?",
                            f"Which pull request URL do the Rust {ver} notes give for “{t}”?",
                        ),
                        [link["url"]],
                        name,
                    )
                else:
                    suite.fact(
                        "number",
                        f"Rust {t}",
                        q(
                            rng,
                            f"What is the number of the pull request “{t}” listed for Rust {ver}?",
                            f"Which PR number implements “{t}” in Rust {ver}?",
                        ),
                        [link["num"], "#" + link["num"]],
                        name,
                    )
    for ver in ("1.69.0", "1.68.0", "1.96.0", "1.60.0"):
        suite.unknown(
            f"When was Rust {ver} released?",
            lambda s, v=ver: not s.containing(re.escape(v)),
            "rust-date",
        )


def build_log() -> Suite:
    suite = Suite("suite-log")
    log_idle_changelog(suite)
    log_idle_news(suite)
    log_pyenv(suite)
    log_rust(suite)
    log_facts(suite)
    return suite


# == suite-info: GNU Texinfo manuals, one document per node ====================================
INFO_MANUALS = ("grep", "sed", "gzip", "bzip2", "wget", "diffutils", "find", "time", "bc", "ed")
INFO_NODES = 80
_SKIP_NODE = re.compile(r"Index|Copying|License|Concept|Authors? of|History|Bugs in|Limitations")
_Q = r"[‘']"
_UQ = r"[’']"


@dataclass
class Node:
    manual: str
    name: str
    heading: str
    text: str

    @property
    def doc(self) -> str:
        name = slug(self.name)
        return f"{name if name.startswith(self.manual + '-') else self.manual + '-' + name}.txt"


def info_nodes(manual: str) -> list[Node]:
    """The nodes of one manual (all its .info-N.gz parts), without tiny, menu-only, index and
    licence nodes, nor nodes longer than DOC_LIMIT."""
    paths = sorted(need(INFO).glob(f"{manual}.info*.gz"), key=lambda p: (len(p.name), p.name))
    if not paths:
        raise SourceMissing(f"source {INFO}/{manual}.info.gz is missing")
    text = "".join(gzip.decompress(p.read_bytes()).decode("utf-8", "replace") for p in paths)
    out = []
    for raw in text.split("\x1f"):
        raw = raw.strip("\n")
        m = re.match(r"File: [^,]+,\s+Node: ([^,\n]+)", raw)
        if not m or len(raw) > DOC_LIMIT or _SKIP_NODE.search(m[1]):
            continue
        head = re.search(r"^(\S.*)\n([*=\-.])\2{2,}$", raw, re.M)
        if not head:
            continue
        prose = raw[head.end() :]
        prose = re.sub(r"(?ms)^\* Menu:.*?(?=\n\n[^*\s]|\Z)", "", prose)
        prose = re.sub(r"(?m)^\* .*::.*$", "", prose)
        if len(fold(prose)) < 250:
            continue
        out.append(Node(manual, m[1].strip(), head[1].strip(), raw))
    return out


def definitions(text: str) -> list[tuple[list[str], str]]:
    """Texinfo table entries: one or more term lines at the margin (‘-x’, ‘--long=ARG’, ‘q’, a
    bare number), then the description indented below them."""
    out: list[tuple[list[str], str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        terms = []
        while i < len(lines) and (m := re.fullmatch(rf"{_Q}(.+?){_UQ}|(\d+)", lines[i].rstrip())):
            terms.append(m[1] or m[2])
            i += 1
        if not terms:
            i += 1
            continue
        desc = []
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith("     ")):
            desc.append(lines[i])
            i += 1
        if desc and fold("\n".join(desc)):
            out.append((terms, "\n".join(desc).strip()))
    return out


_PROGRAM = {"diffutils": "diff", "find": "find"}
_PROGRAMS = {
    *("diff", "cmp", "diff3", "sdiff", "patch", "find", "xargs", "locate", "updatedb"),
    *("grep", "sed", "gzip", "bzip2", "wget", "time", "bc", "ed"),
}
_MANUAL = {
    "grep": "GNU grep",
    "sed": "GNU sed",
    "gzip": "GNU Gzip",
    "bzip2": "bzip2",
    "wget": "GNU Wget",
    "diffutils": "GNU Diffutils",
    "find": "GNU Findutils",
    "time": "GNU time",
    "bc": "GNU bc",
    "ed": "GNU ed",
    "coreutils": "GNU Coreutils",
}


def node_program(node: Node) -> str | None:
    """The program a node's options belong to, when the node makes it plain."""
    if m := re.search(r"‘([\w.\[-]+)’: ", node.heading):
        return m[1]
    m = re.fullmatch(
        r"(?:Invoking )?(?:the )?(\w+)(?: [Oo]ptions| [Oo]ption [Ss]ummary)?", node.name
    )
    if m and m[1] in _PROGRAMS:
        return m[1]
    if node.manual == "coreutils":
        return None
    if node.manual == "find" and re.search(r"xargs|locate|updatedb|frcode", node.name + node.text):
        return None
    return _PROGRAM.get(node.manual, node.manual)


_QV = r"[‘'][^’'\s]{1,24}[’']"
_NUM = (
    r"\d+(?:\.\d+)?%?(?: (?:seconds|times|bytes|lines|columns|characters|minutes|kilobytes"
    r"|megabytes|retries))?(?![\w.]\w)"
)
_DEFAULT = re.compile(
    rf"\b[Tt]he default(?: [a-z]+){{0,3}} (?:is|will be) (?:to (?:\w+ ){{1,2}})?"
    rf"(?P<a>{_QV}|{_NUM}|[a-z]+(?=\.))"
    rf"|\b[Dd]efaults? to (?P<b>{_QV}|{_NUM})"
    rf"|\b[Bb]y default, (?:\w+ ){{1,3}}(?:is|are) (?P<c>{_QV}|{_NUM})"
    rf"|\(default (?:is )?(?P<d>{_QV}|{_NUM})\)"
    rf"|\b[Bb]y default,? [^.]{{0,60}}?\bvalue of (?P<e>{_NUM})"
)
_VALUE_ARG = re.compile(
    r"[= ](?:NUM\w*|N|COUNT|COLUMNS|WIDTH|SIZE|BYTES|LENGTH|LINES|DEPTH"
    r"|LEVEL|STRING|SUFFIX|CHAR|FORMAT|STYLE|WHEN|MODE|LIMIT)\]?$"
)
"""An option argument that has a value a default could be asked of."""
_VERSION_LINE = re.compile(
    r"(?:This (?:manual|file) (?:is for|documents)|pertains to)[^.]{0,60}?"
    r"[Vv]ersion (?P<v>\d+(?:\.\d+)+)"
)


def info_facts(suite: Suite, nodes: list[Node]) -> None:
    rng = suite.rng
    for node in nodes:
        name, text = node.doc, suite.docs[node.doc]
        manual = _MANUAL[node.manual]
        prog = node_program(node)
        if m := _VERSION_LINE.search(fold(text)):
            suite.fact(
                "version",
                node.manual,
                q(
                    rng,
                    f"Which version of {manual} does its Texinfo manual document?",
                    f"The {manual} info manual is written for which version?",
                ),
                [m["v"]],
                name,
            )
        for addr in sorted(set(re.findall(r"\b(bug-[a-z0-9]+@gnu\.org)\b", text))):
            pkg = addr[4:].split("@")[0]
            suite.fact(
                "email",
                pkg,
                q(
                    rng,
                    f"To which e-mail address should bug reports for GNU {pkg} be sent?",
                    f"What is the bug-report address of GNU {pkg}, according to its manual?",
                ),
                [addr],
                name,
            )
        flat = fold(text)
        for m in re.finditer(r"\bRFC (\d{3,4}) \((https?://[^\s)]+)\)", flat):
            suite.fact(
                "url",
                f"RFC {m[1]}",
                q(
                    rng,
                    f"At which URL does the {manual} manual point readers to RFC {m[1]}?",
                    f"What link does the {manual} manual give for RFC {m[1]}?",
                ),
                [m[2]],
                name,
            )
        for m in re.finditer(r"\bplease visit <(https?://[^\s>]+)>", flat):
            suite.fact(
                "url",
                f"{node.manual} home",
                q(
                    rng,
                    f"Which web page does the {manual} manual recommend for up-to-date "
                    "information?",
                ),
                [m[1]],
                name,
            )
        for m in re.finditer(
            r"\b(?:the |a )((?:[A-Z][\w’'-]*|C|bug|database|and|of|for|logs)"
            r"(?: (?:[A-Z][\w’'-]*|C|bug|database|report|and|of|for|logs|‘\w+’)){1,6}) "
            r"\((https?://[^\s)]+)\)",
            flat,
        ):
            if re.search(r"example|somehost", m[2]) or not re.search(r"[A-Z]", m[1]):
                continue
            suite.fact(
                "url",
                m[1],
                q(
                    rng,
                    f"What URL does the {manual} manual give for the {m[1]}?",
                    f"Where on the web is the {m[1]} that the {manual} manual cites?",
                ),
                [m[2]],
                name,
            )
        m = re.search(r"^[\d.]+ ‘([\w.\[-]+)’: (.+?)\.?$", text, re.M)
        if m and node.name.endswith(" invocation"):
            cmd, what = m[1], m[2]
            if rng.random() < 0.5:
                suite.fact(
                    "summary",
                    f"coreutils {cmd}",
                    q(
                        rng,
                        f"According to the GNU Coreutils manual, what does {cmd} do?",
                        f"How does the Coreutils manual sum up the {cmd} command in one line?",
                    ),
                    [what],
                    name,
                )
            else:
                suite.fact(
                    "command",
                    f"coreutils {what}",
                    q(
                        rng,
                        f"Which Coreutils command does this: {what.lower()}?",
                        f"In GNU Coreutils, which program is described as “{what}”?",
                    ),
                    [cmd],
                    name,
                )
        exit_node = re.search(r"[Ee]xit [Ss]tatus", node.name)
        table = definitions(text)
        option_node = node.manual == "find" or any(
            t.startswith("--") for ts, _ in table for t in ts
        )
        for terms, desc in table:
            first = sentence(desc.split("\n\n")[0], 100)
            if exit_node:
                first = re.split(r"—|;| \(|, for instance", first)[0]
            if exit_node and len(terms) == 1 and terms[0].isdigit() and first and prog:
                suite.fact(
                    "number",
                    f"{prog} exit {first}",
                    q(
                        rng,
                        f"Which exit status does {prog} return for this: {first}?",
                        f"What exit code does {prog} use to mean “{first}”?",
                    ),
                    [terms[0]],
                    name,
                )
                continue
            opts = [t for t in terms if t.startswith("-")]
            if opts and prog and option_node:
                names = [
                    n for o in opts for n in re.findall(r"(?<![\w-])(--?[a-zA-Z0-9][\w-]*)", o)
                ]
                names = [n for n in names if re.fullmatch(r"-[a-zA-Z0-9]|--?[a-z][a-z0-9-]+", n)]
                if not names:
                    continue
                longs = [n for n in names if len(n) > 2]
                if (
                    len(first.split()) < 3
                    or first.endswith(":")
                    or first.startswith(("[", "This option", "Same as"))
                ):
                    continue
                if rng.random() < 0.6:
                    suite.fact(
                        "option",
                        f"{prog} {first}",
                        q(
                            rng,
                            f"Which {prog} option does this: {first}?",
                            f"In the {manual} manual, which option of {prog} is described as "
                            f"“{first}”?",
                            f"What command-line option makes {prog} do this: {first}?",
                        ),
                        longs + [n for n in names if n not in longs],
                        name,
                    )
                opt = longs[0] if longs else names[0]
                d = _DEFAULT.search(fold(desc))
                if d:
                    v = next(g for g in d.groups() if g).strip("‘’'")
                    if re.fullmatch(r"-?\w[\w.-]*(?: \w+)?", v) and v.strip("-") not in opt:
                        answers = [v, v.split()[0]] if v[0].isdigit() else [v]
                        suite.fact(
                            "default",
                            f"{prog} {opt}",
                            q(
                                rng,
                                f"What is the default for the {opt} option of {prog}?",
                                f"What value does {prog}'s {opt} option default to?",
                            ),
                            answers,
                            name,
                        )
                elif _VALUE_ARG.search(terms[-1]) and not re.search(
                    r"instead of|rather than|otherwise", desc
                ):
                    suite.unknown(
                        f"What is the default value of the {opt} option of {prog}?",
                        lambda s, o=opt: not _default_near(s, o),
                        "default",
                    )
            elif node.manual == "sed" and "ommand" in node.name and prog and first:
                cmd = terms[0].split()[0]
                if re.fullmatch(r"[a-zA-Z=]", cmd):
                    suite.fact(
                        "command",
                        f"sed {first}",
                        q(
                            rng,
                            f"Which sed command does this: {first}?",
                            f"In GNU sed, which one-letter command is described as “{first}”?",
                        ),
                        [cmd],
                        name,
                    )
        if exit_node and prog:
            for m in re.finditer(r"\b(\d) if ([a-z][^,.;]{5,60}?)(?=,|\.|;| and \d)", fold(text)):
                suite.fact(
                    "number",
                    f"{prog} exit {m[2]}",
                    q(
                        rng,
                        f"What exit status does {prog} return if {m[2]}?",
                        f"Which exit code does {prog} give when {m[2]}?",
                    ),
                    [m[1]],
                    name,
                )
    for node in nodes:  # bare-variable defaults (bc's scale, ibase, obase)
        flat = fold(suite.docs[node.doc])
        for m in re.finditer(r"\b[Tt]he default value of ([A-Z]{3,}) is (\d+)", flat):
            suite.fact(
                "default",
                f"{node.manual} {m[1]}",
                q(rng, f"In {_MANUAL[node.manual]}, what is the default value of {m[1]}?"),
                [m[2]],
                node.doc,
            )


def _default_near(suite: Suite, opt: str) -> bool:
    """Whether some sentence of the suite names a default next to a word of `opt` (--fuzz:
    "The default fuzz factor is 2")."""
    words = [w for w in opt.strip("-").split("-") if len(w) >= 4] or [opt.strip("-")]
    for flat in suite.flat.values():
        if not any(w.lower() in flat.lower() for w in words):
            continue
        for sent in re.split(r"(?<=[.;])\s+", flat):
            if re.search(r"\bdefault", sent, re.I) and any(
                re.search(rf"\b{re.escape(w)}", sent, re.I) for w in words
            ):
                return True
    return False


def info_unknowns(suite: Suite) -> None:
    """Ask each manual for what the suite's nodes of it never state: a version, a bug-report
    address, an author."""
    for manual, title in _MANUAL.items():
        prog = _PROGRAM.get(manual, manual)

        def docs(s: Suite, m: str = manual) -> list[str]:
            return [fold(t) for n, t in s.docs.items() if n.startswith(f"{m}-")]

        suite.unknown(
            f"Which version of {title} does its Texinfo manual document?",
            lambda s, d=docs: bool(d(s)) and not any(re.search(r"[Vv]ersion \d", t) for t in d(s)),
            "version",
        )
        suite.unknown(
            f"To which e-mail address should bug reports for {title} be sent?",
            lambda s, d=docs: bool(d(s)) and not any("@" in t for t in d(s)),
            "email",
        )
        suite.unknown(
            f"What is the home page URL of {title}, according to its manual?",
            lambda s, d=docs, p=prog: (
                bool(d(s))
                and not any(
                    re.search(rf"home ?page|web ?site|gnu\.org/software/{p}\b", t) for t in d(s)
                )
            ),
            "url",
        )
        suite.unknown(
            f"Who wrote the {prog} program, according to the {title} manual?",
            lambda s, d=docs: (
                bool(d(s))
                and not any(
                    re.search(r"[Ww]ritten by|[Aa]uthor|[Mm]aintain|[Cc]redit", t) for t in d(s)
                )
            ),
            "author",
        )


INFO_QUOTA = {
    "grep": 8,
    "sed": 8,
    "gzip": 5,
    "bzip2": 6,
    "wget": 9,
    "diffutils": 8,
    "find": 7,
    "time": 5,
    "bc": 5,
    "ed": 4,
    "coreutils": 15,
}
SCARCE = ("version", "email", "url", "default", "number", "summary")


def build_info() -> Suite:
    """Pick INFO_NODES nodes: per manual, first those holding the rarer kinds of fact, then
    those holding any, then the rest (distractors); then extract the facts from the pick."""
    rng = random.Random(SEED)
    nodes = {man: info_nodes(man) for man in INFO_QUOTA}
    scratch = Suite("scratch")
    for ns in nodes.values():
        for n in ns:
            scratch.doc(n.doc, n.text)
    info_facts(scratch, [n for ns in nodes.values() for n in ns])
    facts = single_valued(scratch.facts)
    scarce = {f.source for f in facts if f.kind in SCARCE}
    any_fact = {f.source for f in facts}
    chosen: list[Node] = []
    for man, quota in INFO_QUOTA.items():
        pool = list(nodes[man])
        rng.shuffle(pool)
        pool.sort(key=lambda n: (n.doc not in scarce, n.doc not in any_fact))
        top = [n for n in pool if n.name == "Top"]  # the version statement lives there
        chosen += (top + [n for n in pool if n.name != "Top"])[:quota]
    suite = Suite("suite-info")
    for n in sorted(chosen, key=lambda n: n.doc):
        suite.doc(n.doc, n.text)
    info_facts(suite, chosen)
    info_unknowns(suite)
    return suite


# == suite-readme: project READMEs =============================================================
def readme_sources() -> list[tuple[str, Path]]:
    """(package, README path) for npm's bundled packages, pyenv and its plugins, the Rust
    tools and the Python libraries vendored by gsutil; copies with the same text once."""
    out: list[tuple[str, Path]] = [("npm", need(NPM) / "README.md")]
    mods = need(NPM / "node_modules")
    for d in sorted([*mods.glob("*/README.md"), *mods.glob("@*/*/README.md")]):
        out.append((str(d.parent.relative_to(mods)), d))
    out.append(("pyenv", need(PYENV) / "README.md"))
    for d in sorted((PYENV / "plugins").glob("*/README.md")):
        out.append((d.parent.name, d))
    for tool in ("rust", "cargo", "clippy", "rustfmt"):
        out.append((tool, need(RUST_DOC) / tool / "README.md"))
    out.append(("gsutil", need(GSUTIL) / "README.md"))
    for d in sorted(
        [*GSUTIL.glob("third_party/*/README.*"), *GSUTIL.glob("gslib/vendored/*/README.*")]
    ):
        if d.suffix in (".md", ".rst"):
            out.append((d.parent.name, d))
    seen: set[str] = set()
    unique = []
    for pkg, path in out:
        key = fold(need(path).read_text("utf-8", "replace"))
        if key not in seen and len(key) >= 400:
            seen.add(key)
            unique.append((pkg, path))
    return unique


def readme_sections(text: str, rst: bool) -> list[str]:
    """Split a README before its top-level headings (`#`/`##` in Markdown, underlined titles
    in reStructuredText), never inside a fenced code block."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    fence = False
    for i, ln in enumerate(lines):
        if ln.lstrip().startswith("```"):
            fence = not fence
        if fence or i == 0:
            continue
        if not rst and re.match(r"#{1,2} \S", ln):
            starts.append(i)
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if (
            rst
            and ln.strip()
            and re.fullmatch(r"([=\-~])\1{2,}\s*", nxt)
            and not ln.startswith(" ")
        ):
            starts.append(i)
    return ["".join(lines[a:b]) for a, b in zip(starts, [*starts[1:], len(lines)], strict=True)]


def build_readme_docs(suite: Suite) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Add the READMEs; one longer than DOC_LIMIT is split at its top-level headings, each later
    part opening with a line that names the package. Returns package -> its documents, and
    package -> the runtime it runs on (Node.js, Python) where that is plain."""
    parts_of: dict[str, list[str]] = {}
    runtime: dict[str, str] = {}
    for pkg, path in readme_sources():
        if path.is_relative_to(NPM):
            runtime[pkg] = "Node.js"
        elif path.is_relative_to(GSUTIL):
            runtime[pkg] = "Python"
        text = path.read_text("utf-8", "replace")
        rst = path.suffix == ".rst"
        ext = ".txt" if rst else ".md"
        base = f"{slug(pkg.replace('@', '').replace('/', '-'))}-README"
        parts = pack(readme_sections(text, rst), DOC_LIMIT - 60)
        names = []
        for i, part in enumerate(parts, 1):
            if len(parts) == 1:
                name = base + ext
            else:
                name = f"{base}-part{i}{ext}"
                if i > 1:
                    part = f"{'' if rst else '# '}{pkg} README (continued)\n\n" + part
            names.append(suite.doc(name, part))
        parts_of[pkg] = names
    return parts_of, runtime


def has_words(value: str) -> bool:
    """Whether an answer keeps a word once punctuation and English articles are dropped."""
    return bool(set(re.sub(r"[^\w]+", " ", value).lower().split()) - {"a", "an", "the"})


_INSTALL = re.compile(
    r"(?:^[ \t]*|`|\$ |> )((?:npm (?:install|i)|pip3? install|python3? -m pip install|cargo install"
    r"|rustup component add|brew install|yarn add|git clone)\b[^`\n]*?)\s*(?:`|$)",
    re.M,
)
_LICENSES = (
    r"MIT|ISC|BSD(?:[- ]\d-[Cc]lause)?|Apache License,? [Vv]ersion 2\.0"
    r"|Apache License \(Version 2\.0\)|Apache[- ]2\.0|Apache License|GPL(?:v\d)?|LGPL(?:v\d)?"
    r"|Mozilla Public License 2\.0|MPL[- ]2\.0|PSF"
)
_LICENSE_RX = [
    re.compile(
        rf"(?:[Ll]icen[cs]ed|released|distributed|available) under (?:the terms of )?(?:both )?"
        rf"(?:the |an? )?`?\[?(?P<l>{_LICENSES})(?:[ \]`(]|$)"
    ),
    re.compile(rf"\[?\b(?P<l>{_LICENSES})\]?(?:\([^)]*\))? [Ll]icensed"),
    re.compile(r"both the (?P<l>MIT) license and the (?P<m>Apache License \(Version 2\.0\))"),
    re.compile(rf"^#* ?Licen[cs]e\n(?:[=-]+\n)?\n(?:The )?\[?(?P<l>{_LICENSES})\b", re.M),
]
_PNAME = r"[A-Z][\w'-]+(?: [A-Z]\.)?(?:,? [A-Z][\w'-]+){1,2}"
_PERSON_RX = [
    (
        re.compile(
            r"Copyright (?:\([cC]\) |© )?(?:\d{4}(?:[-–, ]+\d{4})*,? )?\[?"
            r"(?P<n>The [A-Z]\w+ Project Contributors|" + _PNAME + ")"
        ),
        "copyright",
    ),
    (re.compile(r"(?:written|maintained|created) by\s+\*?(?P<n>" + _PNAME + ")"), "author"),
]
_URL_KINDS = {
    "documentation": r"\b(?:docs?|documentation|manual|user guide)\b",
    "changelog": r"change ?log|release notes|\bchanges\b|\bhistory\b",
    "issue tracker": r"\bissues?\b|bug tracker|report (?:a )?bugs?",
    "contributing guide": r"contribut",
    "wiki": r"\bwiki\b",
    "mailing list": r"mailing list",
}
_URL_CHECK = {
    "documentation": r"^(?!.*contribut)",
    "changelog": r"change|history|release|news",
    "issue tracker": r"/issues/?$|bugs|tracker",
    "contributing guide": r"contribut",
}
_RUNTIME = re.compile(
    r"\b(?P<rt>Python|Node(?:\.js)?)\s+(?:version\s+)?(?P<op>>=?\s*|v)?"
    r"(?P<v>\d+(?:\.\d+){0,2}(?:\+| or (?:later|newer|higher|above)| and up)?)(?![\w-])"
)


DISPLAY = {
    "rust": "Rust",
    "cargo": "Cargo",
    "clippy": "Clippy",
    "which": "`which` (the npm package)",
    "six": "`six`",
    "mock": "`mock`",
}
"""Names the questions use where the bare package name would read as an ordinary word."""


def readme_facts(suite: Suite, parts_of: dict[str, list[str]], runtime: dict[str, str]) -> None:
    rng = suite.rng
    for pkg, docs in sorted(parts_of.items()):
        installs: dict[str, set[str]] = defaultdict(set)
        licenses: dict[str, list[str]] = defaultdict(list)
        stem = pkg.split("/")[-1].lower()
        stems = {stem, stem.replace("_", "-"), stem.replace("-", "_"), stem.removeprefix("pyenv-")}
        rt = runtime.get(pkg)
        pkg = DISPLAY.get(pkg, pkg)  # the name the questions use
        for name in docs:
            text = suite.docs[name]
            flat = fold(text)
            for m in _INSTALL.finditer(text):
                cmd = fold(m[1]).rstrip(" .;")
                if any(s in cmd.lower() for s in stems) and len(cmd) <= 90:
                    installs[name].add(cmd)
            for rx in _LICENSE_RX:
                for m in rx.finditer(text if rx.flags & re.M else flat):
                    for g in ("l", "m"):
                        if g in rx.groupindex and m[g]:
                            licenses[name].append(m[g])
            for rx, how in _PERSON_RX:
                for m in rx.finditer(text):
                    who = m["n"].rstrip(".,")
                    if how == "copyright":
                        qs = q(
                            rng,
                            f"Who holds the copyright for {pkg}, according to its README?",
                            f"Whose copyright notice appears in the {pkg} README?",
                        )
                    else:
                        qs = q(
                            rng,
                            f"Who wrote or maintains {pkg}, according to its README?",
                            f"Which person does the {pkg} README name as its author or maintainer?",
                        )
                    suite.fact("person", f"{pkg} {how}", qs, [who], name)
            for m in re.finditer(
                r"^#+ Author\n+(?:.*\n){0,3}?.*?\b(?P<n>[A-Z][a-z]+ [A-Z][a-z]+)\b", text, re.M
            ):
                suite.fact(
                    "person",
                    f"{pkg} author",
                    q(
                        rng,
                        f"Who is the author of {pkg}?",
                        f"Which person does the {pkg} README name as its author or maintainer?",
                    ),
                    [m["n"]],
                    name,
                )
            readme_links(suite, pkg, name, text)
            readme_api(suite, pkg, name, text)
            for sent in re.split(r"(?<=[.!?])\s+|\n\s*\n", text):
                if not re.search(
                    r"requir|support|compatib|\bneeds?\b|minimum|works (?:on|with)", sent
                ):
                    continue
                for m in _RUNTIME.finditer(fold(sent)):
                    rt = "Node.js" if m["rt"].startswith("Node") else m["rt"]
                    suite.fact(
                        "version",
                        f"{pkg} {rt}",
                        q(
                            rng,
                            f"Which {rt} version does {pkg} require or support, according to "
                            "its README?",
                            f"What {rt} version does the {pkg} README say it needs or supports?",
                        ),
                        [m["v"], (m["op"] or "").strip() + m["v"]],
                        name,
                    )
        if len(installs) == 1:
            (name, cmds), *_ = installs.items()
            suite.fact(
                "install",
                pkg,
                q(
                    rng,
                    f"How do you install {pkg}?",
                    f"What command does the {pkg} README give to install it?",
                    f"Which command installs {pkg}, according to its README?",
                ),
                sorted(cmds),
                name,
            )
        if len(licenses) == 1:
            (name, found), *_ = licenses.items()
            family = {re.match(r"[A-Za-z]+", lic)[0] for lic in found}
            suite.fact(
                "license",
                pkg,
                q(
                    rng,
                    f"Which license is {pkg} released under?",
                    f"Under what license is {pkg} distributed, according to its README?",
                    f"What is the license of {pkg}?",
                ),
                list(dict.fromkeys([*found, *sorted(family)])),
                name,
            )
        readme_unknowns(suite, pkg, docs, bool(installs), bool(licenses), rt)


def readme_links(suite: Suite, pkg: str, name: str, text: str) -> None:
    links = re.findall(r"(?<!!)\[([^\]\n]{2,60})\]\((https?://[^)\s]+)\)", text)
    links += re.findall(r"`([^`<\n]{2,60}) <(https?://[^>\s]+)>`_", text)
    links += re.findall(
        r"(?im)^[*-]?\s*((?:documentation|docs|changelog|issues?|bug ?tracker|mailing list|wiki))"
        r"\s*:\s*<?(https?://[^\s>]+?)>?\s*$",
        text,
    )
    for anchor, url in links:
        for kind, rx in _URL_KINDS.items():
            if not re.search(rx, anchor, re.I) or re.search(r"img\.shields|badge", url):
                continue
            if re.search(_URL_CHECK.get(kind, ""), url, re.I):
                suite.fact(
                    "url",
                    f"{pkg} {kind}",
                    q(
                        suite.rng,
                        f"Where can the {kind} of {pkg} be found?",
                        f"What is the URL of the {pkg} {kind}, as linked from its README?",
                    ),
                    [url],
                    name,
                )
                break


def readme_api(suite: Suite, pkg: str, name: str, text: str) -> None:
    """Functions documented as `- \\`fn(args)\\`: does X` bullets or as API headings, and
    options documented with a default value."""
    rng = suite.rng
    found: list[tuple[str, str, str]] = []
    for m in re.finditer(
        r"^\s*[*-] `(?P<sig>(?:[\w$]+\.)*(?P<fn>[\w$]+)\([^`]*\))`\s*[:-]?\s*"
        r"(?P<desc>[^\n]+(?:\n {2,}(?![*-] )\S[^\n]*)*)",
        text,
        re.M,
    ):
        found.append((m["fn"], m["sig"].split("(")[0], m["desc"]))
    for m in re.finditer(
        r"^#{2,4} [^\n`]*`(?:> )?(?:await )?(?:new )?(?P<sig>(?:[\w$]+\.)*(?P<fn>[\w$]+)\([^`]*\))"
        r"[^`\n]*`[^\n]*\n+(?P<desc>(?:[^#\n`][^\n]*\n)+)",
        text,
        re.M,
    ):
        found.append((m["fn"], m["sig"].split("(")[0], m["desc"]))
    for fn, qual, desc in found:
        first = re.sub(r",? e\.g\.:?$", "", sentence(desc, 110))
        if len(first.split()) < 4 or first.lower().startswith(
            ("see ", "alias", "same as", "the promise", "returns a promise")
        ):
            continue
        suite.fact(
            "function",
            f"{pkg} {first}",
            q(
                rng,
                f"Which {pkg} function does this: {first}?",
                f"What is the name of the function in {pkg} that does this: {first}?",
            ),
            [fn, qual],
            name,
        )
    items = re.split(r"(?m)^(?=\s*[*-] )|\n\s*\n", text)
    for item in items:
        flat = fold(item)
        d = re.search(
            r"^\W*`(?P<opt>[A-Za-z_][\w.]{1,40})`.{0,250}?(?:[Dd]efaults? (?:to|is|value is|:)"
            r"|\(default:?) (?:`(?P<v>[^`]{1,40})`|(?P<w>true|false|null|undefined|empty string"
            r"|\d[\w.]*)(?=[).,;]|$))",
            flat,
        ) or re.search(
            r"[Tt]he default value for the `(?P<opt>[\w.-]+)` option is `(?P<v>[^`]+)`", flat
        )
        value = d and (d["v"] or d.groupdict().get("w") or "")
        if (
            d
            and has_words(value)
            and not re.search(r"[(|]", value)
            and d["opt"] not in ("true", "false", "null")
        ):
            d = {"opt": d["opt"], "v": value}
            suite.fact(
                "default",
                f"{pkg} {d['opt']}",
                q(
                    rng,
                    f"What is the default value of the `{d['opt']}` option in {pkg}?",
                    f"In {pkg}, what does `{d['opt']}` default to?",
                ),
                [d["v"].strip("'\"")],
                name,
            )


def readme_unknowns(
    suite: Suite, pkg: str, docs: list[str], installs: bool, licenses: bool, rt: str | None
) -> None:
    """What a package's README never states: its license, its author, an install command, the
    runtime version it needs."""

    def text(s: Suite) -> str:
        keep = [ln for n in docs for ln in s.docs[n].splitlines() if "shields.io" not in ln]
        return "\n".join(keep)

    if not licenses:
        suite.unknown(
            f"Which license is {pkg} released under, according to its README?",
            lambda s: not re.search(rf"licen[cs]|{_LICENSES}", text(s), re.I),
            "license",
        )
    suite.unknown(
        f"Who is the author of {pkg}, according to its README?",
        lambda s: (
            not re.search(r"copyright|author|written by|maintain|created by|©", text(s), re.I)
        ),
        "person",
    )
    if not installs:
        suite.unknown(
            f"Which command installs {pkg}, according to its README?",
            lambda s: (
                not re.search(
                    r"npm (?:install|i)\b|pip3? install|cargo install|brew install|git clone"
                    r"|yarn add|rustup component|setup\.py install|easy_install",
                    text(s),
                )
            ),
            "install",
        )
    if rt:
        suite.unknown(
            f"Which minimum {rt} version does {pkg} require, according to its README?",
            lambda s: (
                not re.search(r"(?:Python|Node(?:\.js)?|node|npm)\s*(?:>=?|v)?\s*\d", text(s))
            ),
            "version",
        )


def build_readme() -> Suite:
    suite = Suite("suite-readme")
    parts_of, runtime = build_readme_docs(suite)
    readme_facts(suite, parts_of, runtime)
    return suite


# == offtopic: general knowledge, about no document ============================================
OFFTOPIC: list[tuple[str, list[str]]] = [
    ("What is 2 + 2?", ["4", "four"]),
    ("What is 3 + 5?", ["8", "eight"]),
    ("What is 10 - 3?", ["7", "seven"]),
    ("What is 9 + 1?", ["10", "ten"]),
    ("What is 5 times 5?", ["25", "twenty-five", "twenty five"]),
    ("What is 12 divided by 3?", ["4", "four"]),
    ("What is 100 minus 1?", ["99", "ninety-nine", "ninety nine"]),
    ("What is 6 times 7?", ["42", "forty-two", "forty two"]),
    ("What is the capital of France?", ["Paris"]),
    ("What is the capital of Japan?", ["Tokyo"]),
    ("What is the capital of Italy?", ["Rome"]),
    ("What is the capital of Germany?", ["Berlin"]),
    ("What is the capital of Spain?", ["Madrid"]),
    ("How many days are in a week?", ["7", "seven"]),
    ("How many months are in a year?", ["12", "twelve"]),
    ("How many hours are in a day?", ["24", "twenty-four", "twenty four"]),
    ("How many minutes are in an hour?", ["60", "sixty"]),
    ("How many legs does a spider have?", ["8", "eight"]),
    ("How many sides does a triangle have?", ["3", "three"]),
    ("How many wheels does a bicycle have?", ["2", "two"]),
    ("What color is the sky on a clear day?", ["blue"]),
    ("What color is fresh grass?", ["green"]),
    ("What color do you get by mixing blue and yellow?", ["green"]),
    ("What color is snow?", ["white"]),
    ("Which planet is known as the Red Planet?", ["Mars"]),
    ("What is the largest planet in our solar system?", ["Jupiter"]),
    ("Which planet do we live on?", ["Earth"]),
    ("What star is at the center of our solar system?", ["Sun"]),
    ("What is the opposite of hot?", ["cold"]),
    ("What is the opposite of up?", ["down"]),
    ("What is the opposite of day?", ["night"]),
    ("What is the opposite of big?", ["small", "little"]),
    ("What is frozen water called?", ["ice"]),
    ("What do bees make?", ["honey"]),
    ("Which animal is known as the king of the jungle?", ["lion"]),
    ("What is the largest ocean on Earth?", ["Pacific"]),
    ("In which season does snow usually fall?", ["winter"]),
    ("At how many degrees Celsius does water boil at sea level?", ["100", "one hundred"]),
    ("What is the last letter of the English alphabet?", ["Z", "zed", "zee"]),
    ("Which language is mainly spoken in Brazil?", ["Portuguese"]),
]


def write_offtopic(root: Path) -> None:
    out = root / "offtopic"
    out.mkdir(parents=True, exist_ok=True)
    with (out / "questions.jsonl").open("w", encoding="utf-8") as fh:
        for question, answers in OFFTOPIC:
            row = {"question": question, "answers": answers, "kind": "offtopic"}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


# == main ======================================================================================
QUOTAS = {
    "suite-log": {
        "date": 9,
        "person": 9,
        "version": 9,
        "number": 7,
        "url": 6,
        "item": 6,
        "email": 2,
    },
    "suite-info": {
        "option": 10,
        "command": 7,
        "default": 6,
        "number": 5,
        "email": 5,
        "version": 5,
        "url": 4,
        "summary": 4,
    },
    "suite-readme": {
        "install": 8,
        "url": 8,
        "function": 8,
        "license": 7,
        "person": 7,
        "default": 6,
        "version": 4,
    },
}
UNANSWERABLE = 14


def verify(root: Path, name: str) -> Counter[str]:
    """Read a written suite back: every gold answer occurs in its gold document, the counts are
    in range; returns the questions per kind."""
    docs = root / name / "docs"
    kinds: Counter[str] = Counter()
    for n, line in enumerate((root / name / "questions.jsonl").read_text("utf-8").splitlines(), 1):
        row = json.loads(line)
        kinds[row["kind"]] += 1
        if row.get("abstain"):
            assert "answers" not in row and "source" not in row, (name, n)
            continue
        text = (docs / row["source"]).read_text("utf-8")
        for a in row["answers"]:
            if not occurs(a, text):
                raise SystemExit(f"make_suites: {name} line {n}: {a!r} not in {row['source']}")
    answerable = sum(v for k, v in kinds.items() if k != "unanswerable")
    if not (40 <= answerable <= 60 and 12 <= kinds["unanswerable"] <= 15 and len(kinds) >= 6):
        raise SystemExit(f"make_suites: {name}: counts out of range: {dict(kinds)}")
    return kinds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="folder to write the suites into (examples)")
    args = parser.parse_args(argv)
    try:
        for path in (PYTHONS, PYENV, RUST_RELEASES, RUST_DOC, INFO, NPM, GSUTIL):
            need(path)
        suites = [build_log(), build_info(), build_readme()]
    except SourceMissing as e:
        print(f"make_suites: {e}", file=sys.stderr)
        return 2
    total = 0
    for suite in suites:
        rows = choose(suite, QUOTAS[suite.name], UNANSWERABLE)
        write(args.root, suite, rows)
        kinds = verify(args.root, suite.name)
        size = sum(p.stat().st_size for p in (args.root / suite.name).rglob("*") if p.is_file())
        total += size
        print(f"{suite.name}: {len(suite.docs)} documents, {size // 1024} KiB, {dict(kinds)}")
    write_offtopic(args.root)
    print(f"offtopic: {len(OFFTOPIC)} questions; suites total {total // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
