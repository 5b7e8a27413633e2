"""The names a question gives with digits in them (a version, an issue number, a date,
`bpo-45495`, `_mm_loadu_si32`), and whether the passages, or the collection, mention them.

Neither retriever reads such a name as one thing. all-MiniLM-L6-v2 puts "When was Rust
1.60.0 released?" as near the notes of 1.70.0 as to those of 1.60.0, and BM25 reads 1.60.0 as
the words 1, 60 and 0, which are on most pages (`store.POSTING_BUDGET` drops them). So
after selection the engine checks the question's names literally (`missing`): a name no kept
passage mentions is looked up by phrase in the whole collection
(`HybridSearcher.mentioning`). The chunks that hold it are read instead. If no document
mentions it at all, the documents do not answer the question, and the answer is
`absent_answer`, uncited, whatever the model would have made of its neighbours' values.

A name matches as a run of the words FTS5 indexes, so `3.12` matches `3.12.0` (a release of
that series), `v2.4.5` matches `2.4.5`, and `1.2.6` does not match `1.2.61`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from outweigh.text import WORD, fold

_TOKEN = re.compile(r"[^\s\"'`“”‘’«»(),;?!]*\d[^\s\"'`“”‘’«»(),;?!]*")
"""A run of text with a digit in it, up to a space, a quote or a sentence mark."""

_QUOTED = re.compile(r"[\"“«][^\"”»]*[\"”»]")
"""A quoted span: a change's or a section's own title, copied from the text, which BM25
already finds as words."""

_EDGE = ".:-/#*[]{}<>"
"""Marks a name may carry at its ends in a question ("#4008", "1.2.6.") that are not part of
it."""


_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th|er|e|re|ème|-?(?:й|я|е|го|му|м|х))", re.IGNORECASE)
"""An ordinal ("3rd", "21st", "2e", "5-й"): a word, not a name."""


def identifiers(question: str) -> list[str]:
    """The names in `question` that hold a digit and are more than a small number: `1.60.0`,
    `v2.4.5`, `#21477`, `2001-07-13`, `08:13`, `x86`, `2024`; not `5` or `10` ("the last 10
    lines" is a count, not a name), and nothing inside quotes. As written, without the marks
    around them, in question order, each once."""
    out: list[str] = []
    for token in _TOKEN.findall(_QUOTED.sub(" ", question)):
        name = token.strip(_EDGE)
        digits = sum(c.isdigit() for c in name)
        if _ORDINAL.fullmatch(name) or name in out:
            continue
        if digits and (len(name) >= 4 or (len(name) == 3 and digits < 3)):
            out.append(name)
    return out


def words(name: str) -> str:
    """`name` as the run of words FTS5 indexes, space-joined, without a `v` before its
    first digit: `v2.4.5` -> "2 4 5", `bpo-45495` -> "bpo 45495"."""
    terms = WORD.findall(fold(name))
    if terms and re.fullmatch(r"v\d+", terms[0]):
        terms[0] = terms[0][1:]
    return " ".join(terms)


def phrases(name: str) -> list[str]:
    """The runs of words that write `name` (FTS5 phrases): its own, with a `v` before a version
    (`v2 4 5`), and, when it has letters, run together (`utf8` for UTF-8, `bpo45495`); a
    quantity also with its unit apart (`4 gb` for 4GB, `64 bit` for 64bit)."""
    run = words(name)
    out = [run]
    if run[:1].isdigit():
        out.append(f"v{run}")
    if re.search(r"[^\W\d_]", run):
        out.append(run.replace(" ", ""))
        if run[:1].isdigit():
            out.append(re.sub(r"^(\d+)(?=[^\W\d_])", r"\1 ", run))
    return list(dict.fromkeys(out))


def mentions(text: str, name: str) -> bool:
    """Whether `text` holds `name` as a run of whole words (see the module docstring)."""
    return spells(text, phrases(name))


def spells(text: str, runs: Iterable[str]) -> bool:
    """Whether `text`'s words hold one of `runs` (space-joined FTS5 terms) in a row."""
    said = f" {' '.join(WORD.findall(fold(text)))} "
    return any(f" {run} " in said for run in runs)


def missing(question: str, passages: Iterable[tuple[str, str]]) -> list[str]:
    """The names of `question` that none of `passages` ((source, text shown)) mentions, in
    its text or in its document's file name."""
    names = identifiers(question)
    if not names:
        return []
    seen = " \n".join(f"{Path(source).name} {text}" for source, text in passages)
    return [n for n in names if not mentions(seen, n)]


MAX_QUOTED_WORDS = 12
"""A quoted span of more words is a sentence the asker wrote, not one copied to be found."""


def missing_quotes(question: str, passages: Iterable[tuple[str, str]]) -> list[str]:
    """The spans `question` quotes ("Where online is “issue #95228”?", "What does sed's exit
    code “4” mean?"), of `MAX_QUOTED_WORDS` words at most, that none of `passages` ((source,
    text shown)) holds as a run of words. Fusion can drop the one chunk that holds such a
    span of a long page: BM25 finds it first, but the page's other chunks come closer in
    meaning. Unlike a name with digits, a span no document holds says nothing: the asker may
    have quoted from memory."""
    spans = [span for span, n in _quoted(question).items() if 0 < n <= MAX_QUOTED_WORDS]
    if not spans:
        return []
    seen = " \n".join(f"{Path(source).name} {text}" for source, text in passages)
    return [s for s in spans if not mentions(seen, s)]


def quotes_held(question: str, texts: Iterable[str]) -> bool:
    """Whether one of `texts` holds a span of two or more words that `question` quotes ("What
    is the link for “build doc”?"): the question is about that text, however far from it
    in meaning its everyday words put it."""
    spans = [span for span, n in _quoted(question).items() if n > 1]
    return any(spells(t, phrases(s)) for s in spans for t in texts)


def _quoted(question: str) -> dict[str, int]:
    """The spans `question` quotes, each once, with how many words each has."""
    spans = (span[1:-1].strip() for span in _QUOTED.findall(question))
    return {span: len(WORD.findall(fold(span))) for span in spans}


def absent_answer(names: list[str]) -> str:
    """The answer to a question that names what no document mentions. It states no fact
    (`eval.metrics.abstains` reads it as "I don't know")."""
    said = ", ".join(names)
    return f"I don't know: the documents do not mention {said}."


def unsaid_answer(names: Iterable[str]) -> str:
    """The answer to a question about what the documents are named for ("GNU Coreutils" over
    `coreutils-*.txt`) that none of their lines bears on. It states no fact."""
    said = ", ".join(sorted(names))
    return f"I don't know: the documents on {said} do not say."
