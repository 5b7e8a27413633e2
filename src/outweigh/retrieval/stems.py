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
        out.extend(_WORD.findall(fold(stem or word)))
    return out


def fold(text: str) -> str:
    """`text` lower-cased with the diacritics of Latin letters removed (é -> e), which is what
    FTS5's `unicode61 remove_diacritics 2` does; other scripts keep theirs, so Russian й and ё
    stay as they are (sqlite.org/fts5.html#unicode61_tokenizer)."""
    out = []
    for ch in unicodedata.normalize("NFC", text.casefold()):
        if script(ch) == "LATIN":
            base = unicodedata.normalize("NFKD", ch)
            out.append("".join(c for c in base if not unicodedata.combining(c)))
        else:
            out.append(ch)
    return "".join(out)


NON_LATIN = {
    "CYRILLIC": ("ru", "uk", "be", "bg", "sr", "mk", "kk", "ky", "mn", "tg", "tt", "ba", "cv"),
    "GREEK": ("el",),
    "ARMENIAN": ("hy",),
    "GEORGIAN": ("ka",),
    "ARABIC": ("ar", "fa", "ur", "ps", "ug", "sd"),
    "HEBREW": ("he", "yi"),
    "DEVANAGARI": ("hi", "mr", "ne", "sa"),
    "BENGALI": ("bn", "as"),
    "TAMIL": ("ta",),
    "TELUGU": ("te",),
    "KANNADA": ("kn",),
    "MALAYALAM": ("ml",),
    "GUJARATI": ("gu",),
    "GURMUKHI": ("pa",),
    "THAI": ("th",),
    "LAO": ("lo",),
    "KHMER": ("km",),
    "MYANMAR": ("my",),
    "ETHIOPIC": ("am", "ti"),
    "SINHALA": ("si",),
    "HANGUL": ("ko",),
    "HIRAGANA": ("ja",),
    "KATAKANA": ("ja",),
    "CJK": ("zh", "ja"),
}
"""Unicode script -> the ISO 639-1 languages written in it; any language not listed here is
taken to be written in Latin script (en, de, fr, es, pl, tr, vi, ...)."""


def scripts_of(languages: frozenset[str]) -> frozenset[str]:
    """The scripts a set of languages is written in (`languages` as a model card names them)."""
    out = {s for s, langs in NON_LATIN.items() if languages & set(langs)}
    if languages - {lang for langs in NON_LATIN.values() for lang in langs}:
        out.add("LATIN")
    return frozenset(out)


def covers(languages: frozenset[str] | None, text: str) -> bool:
    """Whether a model declaring `languages` knows the language `text` is mostly written in,
    judged by script. An undeclared model, a multilingual one, and a text without letters
    (numbers, codes) count as covered."""
    if languages is None or "multilingual" in languages:
        return True
    main = dominant_script(text)
    return not main or main in scripts_of(languages)
