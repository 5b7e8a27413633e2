"""Names that look like other names: Unicode's confusables and scripts tables (UTS #39),
read through the confusable-homoglyphs package (imported on first use: its tables load in
about 0.1 s)."""

from __future__ import annotations

import functools
import re
import unicodedata

SCRIPT_SETS = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
"""Scripts one word may mix, as UTS #39's "highly restrictive" level allows: Japanese, Chinese
and Korean words mix their scripts (東京タワー), with Latin too; Latin with Cyrillic or Greek
in one word is how a name poses as another."""


def posing_word(name: str) -> str | None:
    """The first word (run of letters) of `name` that mixes scripts outside `SCRIPT_SETS`
    with a letter that looks like a letter of another of its scripts; None if none does."""
    from confusable_homoglyphs import categories, confusables

    for word in re.findall(r"[^\W\d_]+", name):
        scripts = categories.unique_aliases(word) - {"COMMON", "INHERITED"}
        if len(scripts) < 2 or any(scripts <= allowed for allowed in SCRIPT_SETS):
            continue
        if any(confusables.is_confusable(word, preferred_aliases=[s]) for s in scripts):
            return word
    return None


@functools.lru_cache(maxsize=65536)  # a collection's names, compared on each upload
def skeleton(name: str) -> str:
    """How `name` looks: each character replaced by its prototype in Unicode's confusables
    table (UTS #39), in one case. Two names with one skeleton are confusable: `overview.md`
    and `оverview.md` (a Cyrillic о), `rep0rt.md`, `Overview.md`."""
    once = _prototypes(unicodedata.normalize("NFD", name)).casefold()
    return _prototypes(unicodedata.normalize("NFD", once))


def _prototypes(text: str) -> str:
    return "".join(_prototype(ch) for ch in text)


@functools.lru_cache(maxsize=8192)
def _prototype(ch: str) -> str:
    """The prototype `ch` stands for. confusable-homoglyphs keeps each line of the table
    (source -> prototype) as a link both ways: a source links to its prototype alone, a
    prototype to all its sources; a pair linked only to each other is one class either way,
    and the smaller character stands for it."""
    links = _homoglyphs(ch)
    if len(links) != 1:
        return ch  # a prototype (or a character the table does not name)
    other = links[0]
    if len(other) > 1 or len(_homoglyphs(other)) > 1:
        return other  # the table's prototypes may be sequences: m -> rn
    return min(ch, other)


def _homoglyphs(ch: str) -> list[str]:
    from confusable_homoglyphs import confusables

    found = confusables.is_confusable(ch, greedy=True)
    return [h["c"] for h in found[0]["homoglyphs"]] if found else []
