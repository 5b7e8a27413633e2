"""Subject keys: which single-valued attribute a statement sets ("cat:name", "me:residence").

A later fact with the same key supersedes the earlier one (the Zep pattern: keep the old fact
as history, mark it no longer valid). Facts whose attribute can hold many values ("I like
tea", "I like jazz") get no key and only merge with near-duplicates.
"""

from __future__ import annotations

import re

from outweigh.memory.content import normalise
from outweigh.memory.grammar import CALL_ME, I_AM, MY_X, THE_X, core, i_verb
from outweigh.text import wordset

_AGE = re.compile(r"^(?:\d{1,3})(?:\s*(?:years?|yrs?)(?:\s+old)?)?[.!]?$", re.IGNORECASE)
_NAME_PRED = re.compile(r"^(?:called|named|known as)\b", re.IGNORECASE)
_MULTI_VERBS = wordset(
    "has have had like likes love loves enjoy enjoys play plays speak speaks collect collects "
    "own owns keep keeps visit visits 's"
)
"""`my X <verb>` that can hold many values at once ("my son plays chess" and "... football")."""


def subject_of(statement: str) -> str | None:
    """The single-valued attribute a statement sets ("cat:name"), or None.

    Copular statements about one thing ("my X is Y"), what one thing does in the present
    ("my phone number ends in 4410": "phone number:end"), names, ages, where one lives and
    works: those are the facts a newer statement replaces rather than adds to. Verbs that hold
    many values at once ("my son plays chess") and past events get no key.
    """
    s = core(statement).rstrip(".!")
    if CALL_ME.match(s):
        return "me:name"
    if m := MY_X.match(s):
        thing = normalise(m.group("x"))
        verb, pred = m.group("verb").lower(), m.group("pred").strip()
        moved = verb == "moved" and re.match(r"^(?:to|from|in|back|away|abroad|out)\b", pred)
        if verb in ("lives", "live") or moved:
            return f"{thing}:residence"
        if verb in ("works", "work"):
            return f"{thing}:work"
        if verb not in ("is", "are", "was", "were"):
            if verb in _MULTI_VERBS or verb.endswith("ed"):
                return None
            return f"{thing}:{_lemma(verb)}"
        pred = re.sub(r"^(?:now|still|actually|currently|no longer)\s+", "", pred, flags=re.I)
        for suffix in ("'s name", " name"):
            if thing.endswith(suffix):
                return f"{thing[: -len(suffix)].strip() or 'me'}:name"
        if thing == "name":
            return "me:name"
        if thing == "age" or _AGE.match(pred):
            return f"{'me' if thing == 'age' else thing}:age"
        if _NAME_PRED.match(pred) or pred[:1].isupper():
            return f"{thing}:name"
        return f"{thing}:is"
    if m := THE_X.match(s):
        return f"{normalise(m.group('x'))}:is"
    if m := I_AM.match(s):
        pred = m.group("pred").strip()
        if _AGE.match(pred):
            return "me:age"
        if _NAME_PRED.match(pred):
            return "me:name"
        if re.match(r"^(?:from|originally from)\b", pred, re.I):
            return "me:from"
        if re.match(r"^(?:based|living|located|staying) in\b", pred, re.I):
            return "me:residence"
        return None
    if parts := i_verb(s):
        verb, pred = parts
        if verb in ("live", "moved", "relocated") and not re.search(r"\bused to\b", s, re.I):
            # "I lived in X" is the past, not where one lives; "moved to/from" is where one lives
            return (
                "me:residence"
                if verb == "live" or re.match(r"^(?:to|from|here|back)\b", pred, re.I)
                else None
            )
        if verb == "work":
            if re.match(r"^as\b", pred, re.I):
                return "me:job"
            if re.match(r"^(?:at|for)\b", pred, re.I):
                return "me:employer"
        if verb == "go by":
            return "me:name"
    return None


def _lemma(verb: str) -> str:
    """A crude base form for comparing verbs: "teaches" -> "teach", "ends" -> "end"."""
    v = verb.lower()
    for suffix, repl in (("ies", "y"), ("ches", "ch"), ("shes", "sh"), ("sses", "ss"), ("s", "")):
        if v.endswith(suffix) and len(v) > len(suffix) + 1:
            return v[: -len(suffix)] + repl
    return v
