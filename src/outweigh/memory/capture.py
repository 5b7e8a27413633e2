"""Capture: which parts of a user's message become memories, and what each one is about.

The bundled 135M model cannot be trusted to emit JSON, so the default extractor is rules:

- **explicit**: "remember that ...", "note: ...", "don't forget ...", and `/remember TEXT`;
- **automatic**: first-person statements of fact ("my cat is Bublik", "I live in Lisbon",
  "I prefer short answers"), never questions, requests or passing states ("I am wondering").

Each fact gets a *subject key* ("cat:name", "me:residence") when the rules can tell which
single-valued attribute it sets; a later fact with the same key supersedes the earlier one
(the Zep pattern: keep the old fact as history, mark it no longer valid). Facts whose
attribute can hold many values ("I like tea", "I like jazz") get no key and only merge with
near-duplicates.

`ModelExtractor` lets a capable model propose facts behind the same `Extractor` interface;
anything it writes that is not grounded in the user's own words is dropped.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass

from outweigh.generate.base import Backend, GenerationRequest

_WORD = re.compile(r"\w+", re.UNICODE)


def _wordset(words: str) -> frozenset[str]:
    """A set of words written as one space-separated string, for the word lists below."""
    return frozenset(words.split())


STOPWORDS = _wordset(
    "a an the i me my mine our ours we us you your is are was were be been am 's s do does did "
    "what which who whom whose where when why how to of in on at for with about from by and or "
    "that this these those it its there here have has had tell know remember please can could "
    "would will should"
)
"""Words that say nothing about *which* fact is meant. Dropped from BM25 queries (otherwise
"my" matches every memory) and from the content signature that finds near-duplicates."""

FILLER = _wordset("now actually really also still currently just called named")
"""Words that change the phrasing but not the fact: "my cat is now called Murka" says the same
as "my cat is Murka" about which cat and which name."""

NEGATIONS = _wordset("not no never don dont doesn didn isn aren wasn t nothing nobody")
"""Kept in content signatures, so "I like cats" and "I don't like cats" never merge."""
_NOT_CONTENT = (STOPWORDS | FILLER) - NEGATIONS

_EXPLICIT = re.compile(
    r"^\s*(?:(?:please|pls|ok|okay|also|and)[,\s]+)*"
    r"(?:remember|memori[sz]e|note|don'?t forget|do not forget|keep in mind)"
    r"(?:\s+that\b)?\s*[:,-]?\s*(?P<fact>\S.*)$",
    re.IGNORECASE | re.DOTALL,
)
_QUESTION_START = re.compile(
    r"^(?:what|which|who|whom|whose|where|when|why|how|do|does|did|is|are|was|were|can|could|"
    r"would|will|should|shall|may|have|has)\b",
    re.IGNORECASE,
)
_LEADING_FILLER = re.compile(
    r"^(?:(?:also|and|so|oh|well|btw|by the way|actually|fyi|just so you know|hi|hello|hey|"
    r"ok|okay|yes|no)\b[,!.\s]*)+",
    re.IGNORECASE,
)
_CLAUSE_SPLIT = re.compile(r"\s*(?:,|;)?\s+(?:and|but)\s+(?=(?:my|our|i|i'm|i am)\b)", re.I)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!;])\s+|\n+")

# "my cat is Bublik", "our dog's name was Rex", "my sister lives in Oslo"
_MY = re.compile(
    r"^(?:my|our)\s+(?P<x>[\w'’ -]{1,40}?)\s+"
    r"(?P<verb>is|are|was|were|lives|live|works|work)\b\s*(?P<pred>.*)$",
    re.IGNORECASE,
)
_MY_OTHER = re.compile(r"^(?:my|our)\s+[\w'’ -]{1,40}?\s+(?:has|have|had|likes|loves)\b\s+\S", re.I)
_I_AM = re.compile(r"^(?:i\s+am|i'm|i’m)\s+(?P<pred>.+)$", re.IGNORECASE)
_I_VERB = re.compile(
    r"^i\s+(?:(?:really|also|usually|always|never|mostly|only|still|often|sometimes|"
    r"don'?t|do not)\s+)*"
    r"(?P<verb>was born|grew up|go by|can'?t stand|[a-z]+)\b\s*(?P<pred>.*)$",
    re.IGNORECASE,
)
_TRANSIENT_VERBS = _wordset(
    "want need think wonder guess hope wish try see get would will can could should must "
    "might may mean know forget ask say tell find read hear go come make do just feel believe "
    "suppose am was were had got saw went came made did said told found heard knew forgot "
    "thought meant felt tried asked wanted needed wondered hoped wished let bet agree disagree "
    "understand apologize apologise"
)
"""`I <verb> ...` is a lasting fact ("I pilot the Heron-7", "I keep bees") unless the verb is
one of these: requests, thoughts, the conversation itself, or a one-off past event."""
_PAST_FACTS = _wordset("lived worked studied retired married divorced moved")
"""Past-tense verbs that still describe the user; other `-ed` verbs narrate one-off events."""
_CALL_ME = re.compile(r"^(?:please\s+)?call me\s+(?P<pred>\S.*)$", re.IGNORECASE)

_TRANSIENT_AM = re.compile(
    r"^(?:wondering|curious|trying|looking|asking|going|gonna|about to|not sure|unsure|sorry|"
    r"glad|happy to|here|back|done|confused|thinking|working on|stuck|getting|having|"
    r"just|so|very|really|afraid|ready|writing|reading|using|feeling|tired|bored|fine|ok|okay|"
    r"good|great|well)\b",
    re.IGNORECASE,
)
_TRANSIENT_HAVE = re.compile(
    r"^(?:a question|another question|questions?|an? (?:issue|problem|error|bug|idea)|no idea|"
    r"to\b|got to|been|had|some trouble)",
    re.IGNORECASE,
)
_AGE = re.compile(r"^(?:\d{1,3})(?:\s*(?:years?|yrs?)(?:\s+old)?)?[.!]?$", re.IGNORECASE)
_NAME_PRED = re.compile(r"^(?:called|named|known as)\b", re.IGNORECASE)

MAX_FACT_CHARS = 400
"""A captured automatic fact is one statement; longer sentences are usually pasted text."""


@dataclass(frozen=True)
class Fact:
    """One statement worth remembering, before it is stored."""

    text: str
    """The statement in the user's own words (a span of the message, never rewritten)."""
    subject: str | None = None
    """Which single-valued attribute it sets, e.g. "cat:name"; a new fact with the same key
    supersedes the old one. None for facts that can hold many values ("I like jazz")."""
    kind: str = "auto"
    """"explicit" (the user asked to remember it), "auto" (rules) or "model" (an extractor
    model proposed it)."""


class Extractor(ABC):
    """Turns one user message into the facts worth remembering; subclasses implement `extract`."""

    name: str = "extractor"

    @abstractmethod
    def extract(self, text: str) -> list[Fact]:
        """Facts in `text`, in the order they appear; empty when there are none."""


class RuleExtractor(Extractor):
    """Explicit requests and first-person statements, by regular expressions; no model."""

    name = "rules"

    def extract(self, text: str) -> list[Fact]:
        explicit = explicit_fact(text)
        if explicit is not None:
            return [explicit]
        facts: list[Fact] = []
        for clause in clauses(text):
            if is_first_person_fact(clause):
                facts.append(Fact(clause, subject_of(clause), "auto"))
        return _unique(facts)


class ModelExtractor(Extractor):
    """A capable model lists the facts; only those grounded in the user's words are kept.

    Explicit requests never depend on the model: they are taken by the rules first. The model
    writes plain lines (not JSON, which small models break); a line whose content words are
    mostly absent from the message is a hallucination and is dropped.
    """

    name = "model"

    PROMPT = (
        "List the facts the user states about themselves or their life in the message below, "
        "one per line starting with '- ', in the user's own words and in the first person. "
        "Write only NONE if there are no such facts.\n\nMessage: {message}"
    )

    def __init__(self, backend: Backend, max_tokens: int = 96, grounding: float = 0.6) -> None:
        self.backend = backend
        self.max_tokens = max_tokens
        """Cap on the model's reply; a message rarely holds more than a few facts."""
        self.grounding = grounding
        """Share of a proposed fact's content words that must occur in the message."""
        self.rules = RuleExtractor()

    def extract(self, text: str) -> list[Fact]:
        explicit = explicit_fact(text)
        if explicit is not None:
            return [explicit]
        request = GenerationRequest(
            messages=[{"role": "user", "content": self.PROMPT.format(message=text)}],
            max_tokens=self.max_tokens,
        )
        reply = self.backend.generate(request).text
        facts = [
            Fact(line, subject_of(line), "model")
            for line in parse_lines(reply)
            if grounded(line, text, self.grounding)
        ]
        # Rules catch what the model missed; a near-identical pair collapses in the store.
        return _unique(facts + self.rules.extract(text))


# -- the rules ----------------------------------------------------------------------------
def explicit_fact(text: str) -> Fact | None:
    """The fact of "remember that X" / "note: X", or None if the message is not such a request."""
    m = _EXPLICIT.match(text)
    if m is None:
        return None
    fact = m.group("fact").strip()
    # "remember what I said?" or "remember when we met" asks or reminisces; it does not tell.
    if fact.endswith("?") or re.match(r"^(?:what|which|who|where|when|why|how)\b", fact, re.I):
        return None
    return Fact(fact, subject_of(fact), "explicit")


def clauses(text: str) -> list[str]:
    """Sentences, further split at "and"/"but" before a new first-person subject."""
    out: list[str] = []
    for sentence in _SENTENCE_SPLIT.split(text.strip()):
        for clause in _CLAUSE_SPLIT.split(sentence):
            clause = _LEADING_FILLER.sub("", clause.strip()).strip()
            if clause:
                out.append(clause)
    return out


def is_first_person_fact(clause: str) -> bool:
    """Whether `clause` states a lasting fact about the user (not a question or a passing state)."""
    if len(clause.split()) < 2 or len(clause) > MAX_FACT_CHARS:
        return False
    if clause.rstrip().endswith("?") or _QUESTION_START.match(clause):
        return False
    if re.match(r"^(?:if|when|maybe|perhaps|suppose)\b", clause, re.I):
        return False
    if _MY.match(clause) or _MY_OTHER.match(clause) or _CALL_ME.match(clause):
        return True
    if m := _I_AM.match(clause):
        return not _TRANSIENT_AM.match(m.group("pred"))
    if m := _I_VERB.match(clause):
        verb, pred = m.group("verb").lower(), m.group("pred")
        if verb in _TRANSIENT_VERBS or (verb.endswith("ed") and verb not in _PAST_FACTS):
            return False
        if verb == "have" and _TRANSIENT_HAVE.match(pred):
            return False
        return bool(pred.strip())
    return False


def subject_of(statement: str) -> str | None:
    """The single-valued attribute a statement sets ("cat:name"), or None.

    Only copular statements about one thing ("my X is Y"), names, ages, where one lives and
    works get a key: those are the facts a newer statement replaces rather than adds to.
    """
    s = _LEADING_FILLER.sub("", statement.strip()).strip().rstrip(".!")
    if _CALL_ME.match(s):
        return "me:name"
    if m := _MY.match(s):
        thing = _normalise(m.group("x"))
        verb, pred = m.group("verb").lower(), m.group("pred").strip()
        if verb in ("lives", "live"):
            return f"{thing}:residence"
        if verb in ("works", "work"):
            return f"{thing}:work"
        pred = re.sub(r"^(?:now|still|actually|currently)\s+", "", pred, flags=re.I)
        for suffix in ("'s name", "’s name", " name"):
            if thing.endswith(suffix):
                return f"{thing[: -len(suffix)].strip() or 'me'}:name"
        if thing == "name":
            return "me:name"
        if thing == "age" or _AGE.match(pred):
            return f"{'me' if thing == 'age' else thing}:age"
        if _NAME_PRED.match(pred) or pred[:1].isupper():
            return f"{thing}:name"
        return f"{thing}:is"
    if m := _I_AM.match(s):
        pred = m.group("pred").strip()
        if _AGE.match(pred):
            return "me:age"
        if _NAME_PRED.match(pred):
            return "me:name"
        if re.match(r"^(?:from|originally from)\b", pred, re.I):
            return "me:from"
        if re.match(r"^(?:based|living|located) in\b", pred, re.I):
            return "me:residence"
        return None
    if m := _I_VERB.match(s):
        verb, pred = m.group("verb").lower(), m.group("pred")
        if verb in ("live", "moved"):  # "I lived in X" is the past, not where one lives
            return "me:residence"
        if verb == "work":
            if re.match(r"^as\b", pred, re.I):
                return "me:job"
            if re.match(r"^(?:at|for)\b", pred, re.I):
                return "me:employer"
        if verb == "go by":
            return "me:name"
    return None


def _normalise(thing: str) -> str:
    """Lower-case, one spelling per word (favourite/favorite), no determiners."""
    words = [w for w in thing.lower().replace("’", "'").split() if w not in ("the", "a", "an")]
    spelling = {"favourite": "favorite", "colour": "color", "neighbour": "neighbor"}
    return " ".join(spelling.get(w, w) for w in words)


# -- similarity of statements -------------------------------------------------------------
def content_words(text: str) -> frozenset[str]:
    """The words that carry a statement's meaning: no stopwords, no filler, one spelling."""
    words = _normalise(" ".join(_WORD.findall(text.lower()))).split()
    return frozenset(w for w in words if w in NEGATIONS or w not in _NOT_CONTENT)


def query_words(text: str) -> list[str]:
    """Distinct words of a query for BM25, stopwords dropped, in order, at most 32."""
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
    return list(dict.fromkeys(words))[:32]


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
    words = content_words(fact)
    if not words:
        return False
    present = content_words(message)
    return len(words & present) / len(words) >= share


def parse_lines(reply: str) -> list[str]:
    """Bullet lines of a model reply ("- x", "* x", "1. x"), stripped; NONE gives nothing."""
    out = []
    for line in reply.splitlines():
        m = re.match(r"^\s*(?:[-*•]|\d+[.)])\s+(?P<t>\S.*)$", line)
        if m and m.group("t").strip().upper() != "NONE":
            out.append(m.group("t").strip())
    return out


def _unique(facts: list[Fact]) -> list[Fact]:
    """Drop facts that are near-duplicates of an earlier one in the same message."""
    out: list[Fact] = []
    for f in facts:
        if not any(near_duplicate(f.text, g.text) for g in out):
            out.append(f)
    return out
