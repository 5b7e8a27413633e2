"""Words, stems and stop words per language: the one place outweigh cuts text into words.

Words are runs of letters and digits, as FTS5's `unicode61` tokenizer cuts them, so what
Python compares and what the index holds agree. BM25 over exact forms misses a question whose
words are inflected differently from the document's (Russian: мастерская / мастерской /
мастерскую), so retrieval also indexes Snowball stems (PyStemmer, the C Snowball stemmers;
Porter 2001, snowballstem.org).

The stemmer is chosen by each word's script, which is what decides the language cheaply and
reliably for the scripts Snowball covers with one language: Cyrillic -> Russian, Greek ->
Greek, Armenian -> Armenian, Arabic -> Arabic, Tamil -> Tamil, Latin -> English. A word is
stemmed alone, so a Latin product name inside a Russian sentence is left to the English
stemmer, which leaves identifiers and numbers as they are. Latin-script languages other than
English (German, French, ...) get English stems; docs/retrieval.md says so.

Whether a word is everyday language (`common`) is read from wordfreq's frequency lists, in
the language its script is read as (Latin -> English, Cyrillic -> Russian, ...), by the same
cheap rule as the stemmer.

Stop words are defined here once per language; a caller that needs another set (the words a
model uses to talk about its task, memory's filler) builds it from these and named sets of its
own.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import Stemmer

WORD = re.compile(r"[^\W_]+")
"""Runs of letters and digits: the tokens of FTS5's unicode61 tokenizer."""


def words(text: str) -> list[str]:
    """The words of `text`, case-folded, in order."""
    return WORD.findall(unicodedata.normalize("NFC", text.casefold()))


def wordset(text: str) -> frozenset[str]:
    """A set of words written as one space-separated string, for word lists."""
    return frozenset(text.split())


# -- scripts and stems ----------------------------------------------------------------------
SCRIPT_STEMMERS = {
    "CYRILLIC": "russian",
    "LATIN": "english",
    "GREEK": "greek",
    "ARMENIAN": "armenian",
    "ARABIC": "arabic",
    "TAMIL": "tamil",
}
"""Unicode script (the first word of a letter's name) -> Snowball algorithm in PyStemmer."""


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
    out: list[str] = []
    for word in words(text):
        algorithm = SCRIPT_STEMMERS.get(word_script(word))
        stem = _stemmer(algorithm).stemWord(word) if algorithm else word
        out.extend(WORD.findall(fold(stem or word)))
    return out


SCRIPT_WORDLISTS = {
    "LATIN": "en",
    "CYRILLIC": "ru",
    "GREEK": "el",
    "ARABIC": "ar",
    "HEBREW": "he",
    "DEVANAGARI": "hi",
    "BENGALI": "bn",
    "TAMIL": "ta",
}
"""Unicode script -> the language whose word frequencies (`wordfreq`) judge a word of it, as
`SCRIPT_STEMMERS` picks a stemmer: Latin is read as English, so a German question's everyday
words count as uncommon, which is how they counted before any word was judged. Not Hangul:
wordfreq cuts Korean with MeCab, which it does not install."""

COMMON_ZIPF = 4.0
"""Zipf frequency (log10 of uses per billion words) from which a word is everyday language:
4.0 is 10 uses per million words ("color", "day", "times", "language"; "alphabet" is 3.7,
"maintainer" 2.4)."""


@functools.lru_cache(maxsize=65536)
def common(word: str) -> bool:
    """Whether `word` is one general language uses at least `COMMON_ZIPF` (wordfreq's
    frequency lists, in the language its script is read as). A word in a script without a
    list, a number, or a word too rare for wordfreq's small lists is not common."""
    lang = SCRIPT_WORDLISTS.get(word_script(word))
    if lang is None:
        return False
    from wordfreq import zipf_frequency

    return zipf_frequency(word, lang, wordlist="small") >= COMMON_ZIPF


def rare(word: str) -> bool:
    """Whether `word` is neither a number nor a word general language uses (`common`): a
    name ("coreutils", "Písař"), a term of the trade."""
    return not word.isdigit() and not common(word)


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


def fts_terms(text: str) -> list[str]:
    """The terms FTS5 (`unicode61 remove_diacritics 2`) indexes for `text`, in order."""
    return WORD.findall(fold(text))


_COMPOUND = re.compile(r"[^\W_]+(?:[-.:/_][^\W_]+)+")
"""A name the tokenizer splits: `git-merge-tree`, `os.path`, `std::vector`, `2.38.1`."""


def compounds(text: str) -> list[str]:
    """The split names in `text` as FTS5 phrases (`git merge tree`): matched as a phrase, a
    program's own name outranks pages that only use its common parts (git, merge, tree)."""
    found = (" ".join(fts_terms(c)) for c in _COMPOUND.findall(fold(text)))
    return list(dict.fromkeys(found))[:8]


def singular(word: str) -> str:
    """An English word with its plural and possessive folded ("appointments", "cat's" ->
    "appointment", "cat"): a lighter stem than Snowball's, for comparing the nouns of short
    statements, where "named" must not become "name" nor "favorite" "favorit"."""
    w = word.lower().replace("’", "'").removesuffix("'s").removesuffix("'")
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    return w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w


# -- languages by script --------------------------------------------------------------------
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


# -- stop words -----------------------------------------------------------------------------
_ENGLISH = """i me my myself we our ours ourselves you your yours yourself yourselves he him his
himself she her hers herself it its itself they them their theirs themselves what which who whom
whose this that these those am is are was were be been being have has had having do does did
doing would should could ought a an the and but if or because as until while of at by for with
about against between into through during to from in out again further then once here there when
where why how any both each other some such own so than too very can will just s t d ll m re ve
don isn aren wasn weren doesn didn hasn haven hadn won wouldn shouldn couldn cannot also may
might must shall"""

_RUSSIAN = """и в во что он на я с со как а то все она так его но да ты к у же вы за бы по только
ее мне было вот от меня еще о из ему теперь когда даже ну вдруг ли если уже или быть был него до
вас нибудь опять уж вам ведь там потом себя ей может они тут где есть надо ней для мы тебя их чем
была сам чтоб без будто чего раз тоже себе под будет ж тогда кто этот того потому этого какой
совсем ним здесь этом почти мой тем чтобы нее сейчас были куда зачем всех можно при наконец об
хоть над тот через эти нас про всего них какая разве эту моя впрочем свою этой перед иногда чуть
том такой им всегда конечно всю между это"""

STOP_WORDS: dict[str, frozenset[str]] = {"en": wordset(_ENGLISH), "ru": wordset(_RUSSIAN)}
"""Function words per language (ISO 639-1), which say nothing about what a text is about.

English: the Snowball stop list (snowballstem.org/algorithms/english/stop.txt), its
contractions split as words are ("don't" -> "don", "t"), with "can", "will", "just", "also",
"may", "might", "must", "shall" and "whose", less the words that can be an answer by
themselves (no, nor, not, on, off, up, down, over, under, above, below, before, after, all,
more, most, few, same, only). Russian: the Snowball stop list
(snowballstem.org/algorithms/russian/stop.txt), less numerals, negations and comparatives."""


def stop_words(*languages: str) -> frozenset[str]:
    """The stop words of `languages` (ISO 639-1 codes); of every language here when none is
    named, for text whose language is not known."""
    return frozenset().union(*(STOP_WORDS[lang] for lang in languages or STOP_WORDS))


ARTICLES = wordset("a an the")
"""English articles (Russian has none): dropped where a phrase is compared, not read."""

NEGATIONS = wordset(
    "not no nor never none nothing nobody cannot dont don doesn didn isn aren wasn weren hasn "
    "haven hadn wouldn shouldn couldn t нет не ни никогда ничего никто"
)
"""Words that turn a statement around ("don't" splits into "don" and "t"): whoever drops stop
words keeps these where "I like cats" and "I don't like cats" must stay apart. "won't"
is caught by its "t": "won" is also a verb."""
