"""Updates: whether a new fact is new (ADD), replaces a memory (UPDATE) or repeats one (NOOP).

The rules' decision, by the attribute a fact sets and the words that say something changed;
`extract.ModelExtractor` may ask its model instead, and falls back to these rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from outweigh.memory.content import content_stems, content_words, near_duplicate
from outweigh.memory.grammar import I_AM, MY_X, THE_X, core
from outweigh.memory.items import Fact
from outweigh.text import ARTICLES, NEGATIONS, singular, wordset

_CHANGE = re.compile(
    r"\b(?:now|no longer|not anymore|anymore|any more|these days|nowadays|instead|changed|"
    r"switched|moved|rescheduled|postponed|replaced|renamed|new|updated)\b",
    re.IGNORECASE,
)
"""Words that say a fact replaces an earlier one ("I have just moved to Pskov", "my dentist
moved the appointment", "I don't drink coffee anymore"); see `decide`."""
_CHANGED_OBJECT = re.compile(
    r"\b(?:changed|switched|moved|rescheduled|postponed|replaced|renamed|updated|swapped)\s+"
    r"(?:my|our|the|his|her|their)\s+(?P<obj>[\w'’ -]{1,40}?)(?=\s+(?:to|from|for|with|on|"
    r"at|in|into|and|but|so|because|it)\b|\s*[.;,!]|\s*$)",
    re.IGNORECASE,
)
_NEW_OBJECT = re.compile(r"\b(?:my|our) new\s+(?P<obj>[\w'’ -]{1,40}?)\s+(?:is|are|was)\b", re.I)


@dataclass(frozen=True)
class Candidate:
    """A current memory a new fact may repeat or replace, with its similarity to it."""

    id: int
    text: str
    subject: str | None
    cosine: float | None
    """Embedding cosine to the new fact; None when either has no embedding."""


@dataclass(frozen=True)
class Decision:
    """What to do with a new fact (the mem0 operations, DELETE being an UPDATE to "no longer")."""

    action: str
    """"ADD" (a new memory), "UPDATE" (it replaces `target`, which becomes history) or
    "NOOP" (it repeats `target`, which is re-dated)."""
    target: int | None = None
    """The memory repeated or replaced; None for ADD."""
    reason: str = ""
    """Which rule or "model" decided, for tests and debugging."""


CHANGE_FLOOR = 0.3
"""Least cosine between a statement that says something changed and the memory it replaces:
all-MiniLM-L6-v2 puts "My dentist moved the appointment to the 21st." and "My dentist
appointment is on the 14th." at 0.6, a statement and an unrelated fact of the same user below
0.3 (docs/memory.md)."""


SAME_STATE_COSINE = 0.5
"""Least cosine for two "I am ..." statements with no shared word to be the same state, so
"I'm fully vegan now" replaces "I am a vegetarian" but not "I am allergic to shellfish"."""


def change_cue(text: str) -> bool:
    """Whether a statement says something changed ("now", "no longer", "moved", "instead")."""
    return _CHANGE.search(text) is not None


def changed_thing(text: str) -> tuple[str | None, bool]:
    """What a statement says has changed, and whether the statement names it as the changed
    thing: the object of "changed/moved/replaced my X" or "my new X is" (named), else the X
    of "my X ..." or "the X is ..." (not named), else None (the statement is about the user)."""
    s = core(text)
    for pattern in (_CHANGED_OBJECT, _NEW_OBJECT):
        if m := pattern.search(s):
            return _head(m.group("obj")), True
    if m := MY_X.match(s):
        return _head(m.group("x")), False
    if m := THE_X.match(s):
        passive = re.search(r"\b(?:moved|rescheduled|postponed|changed)\b", s, re.I)
        return _head(m.group("x")), passive is not None
    return None, False


def _x_words(text: str) -> set[str]:
    """The words of the thing a "the X ..." statement is about ("membership renewal")."""
    m = THE_X.match(core(text))
    return {singular(w) for w in content_words(m.group("x"))} if m else set()


def kept_name(old: str, new: str) -> str | None:
    """The "my sister Marta" span of `old` when `new` replaces it without the name: the name
    is still true after "my sister moved to Geneva", so it stays as its own current fact."""
    m = MY_X.match(core(old))
    if m is None:
        return None
    names = [w for w in re.findall(r"[\w'’]+", m.group("x")) if w[:1].isupper()]
    if not names or all(n.lower() in new.lower() for n in names):
        return None
    span = re.search(r"\b(?:my|our)\s+" + re.escape(m.group("x").strip(" ,")), old, re.I)
    return span.group(0) if span else None


_HEAD_SKIPS = ARTICLES | wordset("new old")


def _head(phrase: str) -> str | None:
    """The head noun of "phone number" (number), "brother Gleb" (brother): the last word that
    is not a name or a determiner."""
    words = [
        w for w in re.findall(r"[\w'’]+", phrase) if not w[:1].isupper() or w.lower() == w
    ] or re.findall(r"[\w'’]+", phrase)
    words = [w.lower() for w in words if w.lower() not in _HEAD_SKIPS]
    return singular(words[-1]) if words else None


def _about_me(text: str) -> bool:
    return re.match(r"^(?:i|we)\b", core(text), re.I) is not None


def decide(fact: Fact, candidates: Sequence[Candidate]) -> Decision:
    """ADD, UPDATE or NOOP for a new fact, by the attribute it sets.

    `candidates` are the user's current memories with their cosine to the fact (the store
    passes them all: one user holds tens to hundreds). In order:

    1. NOOP: a near-duplicate is said again.
    2. UPDATE: a memory with the same subject key ("me:residence" for "I live in Tver" and
       for "I have just moved from Tver to Pskov").
    3. UPDATE: the statement says something changed (`change_cue`) and a memory is about the
       same thing: it mentions the changed thing's head noun ("appointment" for "my dentist
       moved the appointment to the 21st"), or, for a statement about the user ("I don't
       drink coffee anymore"), it is also about the user and shares a content word or verb.
       The most similar such memory, above `CHANGE_FLOOR`, is replaced.
    4. ADD.
    """
    for c in candidates:
        if near_duplicate(fact.text, c.text, c.cosine):
            return Decision("NOOP", c.id, "same fact")
    if fact.subject is not None:
        for c in candidates:
            if c.subject == fact.subject:
                return Decision("UPDATE", c.id, "same subject")
    if not change_cue(fact.text):
        return Decision("ADD")
    thing, named = changed_thing(fact.text)
    words = content_stems(fact.text) - _CUE_WORDS - NEGATIONS
    best: Candidate | None = None
    for c in candidates:
        if c.cosine is not None and c.cosine < CHANGE_FLOOR:
            continue
        shared = words & content_stems(c.text)
        if thing is not None:
            # "changed my phone number": that thing; "my daughter ... now": a same thing
            # statement that also shares a word or the slot ("is", "residence").
            same_slot = (
                c.subject is not None
                and fact.subject is not None
                and (c.subject.split(":")[-1] == fact.subject.split(":")[-1])
            )
            mentions = thing in content_stems(c.text) or bool(
                _x_words(fact.text) & content_stems(c.text)
            )
            related = mentions and (named or bool(shared - {thing}) or same_slot)
        elif _about_me(fact.text) and _about_me(c.text):
            same_slot = c.subject is None or c.subject == fact.subject
            both_am = I_AM.match(core(fact.text)) and I_AM.match(core(c.text))
            close = c.cosine is not None and c.cosine >= SAME_STATE_COSINE
            related = same_slot and (bool(shared) or bool(both_am and close))
        else:
            related = False
        if related and (best is None or (c.cosine or 0.0) > (best.cosine or 0.0)):
            best = c
    if best is not None:
        return Decision("UPDATE", best.id, "changed")
    return Decision("ADD")


_CUE_WORDS = {
    singular(w)
    for w in wordset(
        "now longer anymore any more these days nowadays instead changed switched moved "
        "rescheduled replaced renamed new became become since recently updated started stopped"
    )
}
"""Cue words do not count as shared content: "I now drive" and "I now swim" are unrelated."""


def shortlist_of(fact: Fact, candidates: Sequence[Candidate], n: int = 5) -> list[Candidate]:
    """The `n` candidates most like `fact` (cosine at least `CHANGE_FLOOR`, or sharing a
    content word), best first: what a model is shown to decide among."""
    words = content_stems(fact.text)
    close = [
        c
        for c in candidates
        if (c.cosine is not None and c.cosine >= CHANGE_FLOOR) or words & content_stems(c.text)
    ]
    return sorted(close, key=lambda c: -(c.cosine or 0.0))[:n]
