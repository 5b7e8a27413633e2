"""Whether passages bear on a question by its words: the lexical half of the gate that
`select` keeps at its relevance floor, and the check that a question names something of its
documents (`names_them`), beyond words everyone uses."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from outweigh.retrieval.hybrid import Hit
from outweigh.retrieval.identifiers import identifiers, phrases, spells
from outweigh.retrieval.titles import names, terms, title
from outweigh.retrieval.titles import titles as titles_of
from outweigh.text import rare, word_script, words


def rare_terms(question: str) -> set[str]:
    """The terms (`titles.terms`) of `question`'s words that general language seldom uses
    (`text.common`), numbers and single letters aside: a name ("Vellmark", "Písař", "grep"),
    a term of the trade."""
    return {t for w in words(question) if len(w) > 1 and rare(w) for t in terms(w)}


def spelled(text: str, runs: list[str]) -> bool:
    """`identifiers.spells`, settled by `in` for a text without any spelling's last word."""
    low = text.lower()
    return any(r.split()[-1] in low for r in runs) and spells(text, runs)


def shares_a_word(question: str, passages: list[Hit]) -> bool:
    """Whether `passages` (their lines or their documents' names) hold a word of `question`
    that is not a number: the word check `select` makes at the floor (`shares_terms`)."""
    return shares_terms(terms(question), passage_terms(passages))


def names_them(question: str, hits: list[Hit], shared: frozenset[str] = frozenset()) -> bool:
    """Whether `question` names something of the documents `hits` come from (their chunks
    as `expand` returns them), beyond words everyone uses: one of them in full (its file
    name), a name with digits they spell (`identifiers`), or a word they hold that general
    language seldom uses (`text.common`): a name ("Vellmark", "grep"), a term of the trade
    ("alphabet", at Zipf 3.7). A question that shares only everyday words with its documents
    ("How many hours are in a day?" over `date`'s manual) is about them only if its meaning
    comes close too (`Embedder.common_floor`). A question in another script than the
    documents is left to the floor, as in `shares_terms`. `shared`: the words most of the
    collection's file names share (`titles.kinds`)."""
    q_terms = terms(question)
    sources = list({h.source: None for h in hits})
    titles = titles_of(sources, shared)
    if any(names(q_terms, t) for t in titles):
        return True
    texts = [h.text for h in hits] + [Path(source).name for source in sources]
    if any(any(spelled(t, phrases(n)) for t in texts) for n in identifiers(question)):
        return True
    seen = set().union(*(terms(h.text) for h in hits), *titles)
    if rare_terms(question) & seen:
        return True
    return _apart(words(question), seen)


def passage_terms(passages: list[Hit]) -> set[str]:
    return set().union(*(terms(h.excerpt or h.text) | title(h.source) for h in passages))


def shares_terms(q_terms: set[str], seen: set[str]) -> bool:
    """Whether `seen` (the terms of passages) holds a word of the question (its terms) that
    is not a number: the lexical half of the gate. A question the collection does not
    answer still names something in it ("who wrote libfoo?" over libfoo's README, which
    names no author); a question about something else shares at most numbers ("What is
    2 + 2?" over a page of version ranges) or none ("What is the capital of France?").
    A question in another script than the passages (a Russian question over English pages,
    read by a multilingual embedder) cannot share words with them, and only the floor
    judges it. A single letter counts only in a question with no longer word: the "s" of
    "What's" is on every page, the "-s" a question about a flag names is not."""
    plain = {t for t in q_terms if not t.isdigit()}
    plain = {t for t in plain if len(t) > 1} or plain
    if plain & seen:
        return True
    return _apart(plain, seen)


def _apart(mine: Iterable[str], seen: set[str]) -> bool:
    """Whether the question's words `mine` cannot be matched word for word with the terms
    `seen`: they are in a script written without spaces, or in none of `seen`'s scripts."""
    scripts = {word_script(w) for w in mine} - {""}
    theirs = {word_script(t) for t in seen} - {""}
    return bool(scripts & UNSPACED) or (bool(scripts) and not scripts & theirs)


UNSPACED = frozenset({"CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR"})
"""Scripts written without spaces between words: a run of them is one "word" to the stemmer,
so a question and the passage that answers it rarely share one, and only the floor judges."""
