"""Word forms for BM25: Snowball stems of a text, and the script (hence language) of a text.

BM25 over exact forms misses a question whose words are inflected differently from the
document's (Russian: мастерская / мастерской / мастерскую). Each chunk is therefore indexed
twice by FTS5 (store.py): its exact terms, and the Snowball stems of its words
(PyStemmer, the C Snowball stemmers; Porter 2001, snowballstem.org).

The stemmer is chosen by each word's script, which is what decides the language cheaply and
reliably for the scripts Snowball covers with one language: Cyrillic -> Russian, Greek ->
Greek, Armenian -> Armenian, Arabic -> Arabic, Tamil -> Tamil, Latin -> English. A word is
stemmed alone, so a Latin product name inside a Russian sentence is left to the English
stemmer, which leaves identifiers and numbers as they are. Latin-script languages other than
English (German, French, ...) get English stems; docs/retrieval.md says so.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import Stemmer

SCRIPT_STEMMERS = {
    "CYRILLIC": "russian",
    "LATIN": "english",
    "GREEK": "greek",
    "ARMENIAN": "armenian",
    "ARABIC": "arabic",
    "TAMIL": "tamil",
}
"""Unicode script (the first word of a letter's name) -> Snowball algorithm in PyStemmer."""

_WORD = re.compile(r"[^\W_]+")
"""Runs of letters and digits: the tokens of FTS5's unicode61 tokenizer."""


@functools.cache
def script(ch: str) -> str:
    """The Unicode script of one letter ("CYRILLIC", "LATIN", ...); "" for digits and marks."""
    if not ch.isalpha():
        return ""
    return unicodedata.name(ch, "").split(" ", 1)[0]


def word_script(word: str) -> str:
    """The script of a word's first letter ("" when it has none, e.g. a number)."""
    return next((s for s in map(script, word) if s), "")


def dominant_script(text: str) -> str:
    """The script most letters of `text` are written in; "" for a text with no letters."""
    counts: dict[str, int] = {}
    for ch in text:
        if s := script(ch):
            counts[s] = counts.get(s, 0) + 1
    return max(counts, key=lambda s: counts[s]) if counts else ""


@functools.cache
def _stemmer(algorithm: str) -> Stemmer.Stemmer:
    import Stemmer

    return Stemmer.Stemmer(algorithm)


def stems(text: str) -> list[str]:
    """The stems of `text`'s words, in order, folded as FTS5's `unicode61 remove_diacritics 2`
    folds (so a stem and an indexed term compare equal). Words in scripts Snowball does not
    cover, and numbers, are kept as they are."""
    words = _WORD.findall(unicodedata.normalize("NFC", text.casefold()))
    out: list[str] = []
    for word in words:
        algorithm = SCRIPT_STEMMERS.get(word_script(word))
        stem = _stemmer(algorithm).stemWord(word) if algorithm else word
        out.append(_fold(stem or word))
    return out


def _fold(word: str) -> str:
    """Lower case without diacritics (й -> и, ё -> е), as FTS5 indexes it."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
