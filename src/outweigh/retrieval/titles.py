"""What a document's file name says it is about: its terms, less the words most file names
of its collection share ("readme", "metadata"), which say what kind of file it is.

A question that writes all of them names the document in full: it is the question's subject
(`retrieval.select`), and the engine reads it even where retrieval missed it
(`named`): "Which version of click is described?" over records whose other pages all
require click.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from outweigh.text import common, stems, stop_words, wordset

_FLAG_LETTERS = wordset("s t d m")
"""Stop words only as the tails of contractions ("it's", "don't", "I'd", "I'm"), and also
command-line flags ("-s", "-t") a question about a manual page may name."""

STOP = (stop_words() - _FLAG_LETTERS) | wordset("on all use used")
"""Words that say nothing about which line answers, dropped from the stems lines and
questions are compared by: the stop words of every language (`outweigh.text`) but
`_FLAG_LETTERS`, "on" and "all" (answers in themselves, so the stop lists keep them, but not
what finds a line), and "use", "used" ("which option is used to")."""

SHARED_TITLE = 3
"""Documents that share a file name's word before it says what kind they are (`kinds`)."""
KIND_NAMES = wordset(
    "readme changelog changes news history copying copyright licence license notice notices "
    "authors contributors install todo faq"
)
"""Words a file name gives for what kind of document it is (`pyenv-doctor-README.md`,
`zstd/COPYING`): they do not say which project's, and "the semver README" is not
pyenv-doctor's."""
NAMED = 3
"""Documents a question names in full that `named` gives at most."""


def terms(text: str) -> set[str]:
    """The stems of `text` that can say which line answers (less `STOP`)."""
    return {s for s in stems(text) if s not in STOP}


_KIND_TERMS = frozenset(terms(" ".join(KIND_NAMES)))


def title(source: str) -> set[str]:
    """The stems of a document's file name, stop words kept (`which-README.md` is `which`'s,
    not a README named by nothing): `csv-tool_2.md` -> {csv, tool, 2}."""
    return set(stems(Path(source).stem.replace("_", " ").replace("-", " ")))


def kinds(sources: Iterable[str]) -> frozenset[str]:
    """The words of file names (`title`) that most of `sources` share, `SHARED_TITLE` at
    least: "metadata" of `fastapi-METADATA.txt` among records, "readme" among READMEs. They
    say what kind of file each is, not what it is about."""
    all_titles = [title(source) for source in sources]
    counts = Counter(t for each in all_titles for t in each)
    return frozenset(t for t, c in counts.items() if c >= SHARED_TITLE and 2 * c > len(all_titles))


def titles(sources: list[str], shared: frozenset[str] = frozenset()) -> list[set[str]]:
    """The terms of each document's file name (`title`) less the words that say what kind it
    is: `KIND_NAMES`, and those most of the collection's file names share (`kinds`:
    `shared`). "Which version of fastapi?" names `fastapi-METADATA.txt` in full, and not
    `fastapi_offline-METADATA.txt`; `which-README.md` is not named by "its README". A title
    of a kind or numbers alone keeps its kind (`_less`). The collection's, not the retrieved
    documents': ten retrieved pages of `fuser.1--*.txt` share "fuser", and it is what they
    are about."""
    kind = shared | _KIND_TERMS
    return [_less(title(source), kind) for source in sources]


def _less(name: set[str], kind: frozenset[str]) -> set[str]:
    """`name` less `kind`; where nothing or only numbers are left, `name` whole: `install.txt`
    is install's manual, and `news-3.6.6.txt` is not named by "3.6.6" alone (a release's
    number is `select._name_credit`'s to weigh)."""
    rest = name - kind
    return name if all(t.isdigit() for t in rest) else rest


def names(q_terms: set[str], name: set[str] | frozenset[str]) -> bool:
    """Whether a question (its terms) names the document of title `name` in full."""
    return bool(name) and name <= q_terms


def widest(named: list[bool], titles: list[set[str]]) -> list[bool]:
    """`named` (each of `titles` named in full by a question), less the titles another named
    one holds: "pyasn1-modules" names `pyasn1-modules-README.md`, not `pyasn1-README.md`."""
    return [
        n and not any(o and t < u for o, u in zip(named, titles, strict=True))
        for n, t in zip(named, titles, strict=True)
    ]


def named(question: str, documents: Mapping[str, frozenset[str]], typed: bool) -> list[str]:
    """The documents (source: title less its kind, as `titles` gives it) that `question`
    names in full (the widest: `widest`), `NAMED` at most, and none where more do. A title
    of everyday words only ("time", "free") names a document only for a question that
    demands a typed value (`typed`): "Which version of time ...?", not "What time is it?"."""
    q_terms = terms(question)
    sources = list(documents)
    all_titles = [set(documents[s]) for s in sources]
    full = widest([names(q_terms, t) for t in all_titles], all_titles)
    found = [
        source
        for source, name, n in zip(sources, all_titles, full, strict=True)
        if n and (typed or not all(map(common, name)))
    ]
    return found if len(found) <= NAMED else []


def names_record(line: str, q_terms: set[str], typed: bool) -> bool:
    """Whether a record's lead field (`structure.outline`: "Name: click", "Package: attrs")
    is named in full by a question (its terms), as `named` names a file: in words not
    everyone uses, or any where the question demands a typed value (`typed`)."""
    key, colon, value = line.partition(":")
    name = terms(value)
    return (
        bool(colon and key.strip() and name)
        and " " not in key.strip()
        and name <= q_terms
        and (typed or not all(map(common, name)))
    )
