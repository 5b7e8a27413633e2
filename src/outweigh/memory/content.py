"""Content words: what a statement says, less how it says it, for comparing statements.

A statement said again is stored once (`near_duplicate`), a fact a model proposes must be in
the user's own words (`grounded`), and BM25 over one user's facts drops the words every fact
holds (`query_words`). All three read a statement's content words: its words (`outweigh.text`)
less stop words, first-person words and filler, in one spelling.
"""

from __future__ import annotations

import re

from outweigh.text import ARTICLES, NEGATIONS, singular, stop_words, words, wordset

_TELLS_APART = wordset(
    "he him his himself she her hers herself they them their theirs themselves out own may"
)
"""Stop words that tell one fact from another: whom it is about ("I like him" is not "I like
her"), "out" ("I moved out of Berlin" is not "I moved to Berlin"), the verb "own" and the
month May."""

STOPWORDS = (stop_words() | wordset("on mine us tell know remember please")) - _TELLS_APART
"""Words that say nothing about *which* fact is meant: the stop words of every language
(`outweigh.text`) less `_TELLS_APART`, and the words of telling an assistant about oneself.
Dropped from BM25 queries (otherwise "my" matches every memory) and from the content signature
that finds near-duplicates."""

FILLER = wordset("now actually really also still currently just called named")
"""Words that change the phrasing but not the fact: "my cat is now called Murka" says the same
as "my cat is Murka" about which cat and which name."""
_NOT_CONTENT = (STOPWORDS | FILLER) - NEGATIONS
"""Negations (`outweigh.text`) stay in content signatures, so "I like cats" and "I don't like
cats" never merge."""

_DETERMINERS = ARTICLES | wordset("new current")


def normalise(thing: str) -> str:
    """Lower-case, one spelling per word (favourite/favorite), no determiners."""
    flat = re.sub(r"[^\w' -]", " ", thing.lower().replace("’", "'"))
    kept = [w for w in flat.split() if w not in _DETERMINERS]
    spelling = {"favourite": "favorite", "colour": "color", "neighbour": "neighbor"}
    return " ".join(spelling.get(w, w) for w in kept)


def content_words(text: str) -> frozenset[str]:
    """The words that carry a statement's meaning: no stopwords, no filler, one spelling."""
    spelt = normalise(" ".join(words(text))).split()
    return frozenset(w for w in spelt if w in NEGATIONS or w not in _NOT_CONTENT)


def query_words(text: str) -> list[str]:
    """Distinct words of a query for BM25, stopwords dropped, in order, at most 32."""
    kept = [w for w in words(text) if w not in STOPWORDS]
    return list(dict.fromkeys(kept))[:32]


def content_stems(text: str) -> set[str]:
    """The content words of `text`, plurals and possessives folded (`outweigh.text.singular`)."""
    return {singular(w) for w in content_words(text)}


def near_duplicate(a: str, b: str, cosine: float | None = None) -> bool:
    """Whether two statements say the same thing and should be stored once.

    Same content words ("my cat is Bublik" / "My cat is called Bublik.") always merge. A very
    high embedding cosine also merges, but only if the numbers agree: all-MiniLM-L6-v2 puts
    "I am 34 years old" and "I am 35 years old" at 0.95, and those are different facts.
    """
    ca, cb = content_words(a), content_words(b)
    if ca and ca == cb:
        return True
    if cosine is None or cosine < 0.97:  # paraphrase pairs of MiniLM measured 0.93-0.99
        return False
    digits = re.compile(r"\d+")
    same_numbers = set(digits.findall(a)) == set(digits.findall(b))
    same_negation = (ca & NEGATIONS) == (cb & NEGATIONS)
    return same_numbers and same_negation


def grounded(fact: str, message: str, share: float) -> bool:
    """Whether at least `share` of the fact's content words occur in the message."""
    said = content_words(fact)
    if not said:
        return False
    present = content_words(message)
    return len(said & present) / len(said) >= share
