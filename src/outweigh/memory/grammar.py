"""The grammar of a statement about oneself: which clauses of a message state a lasting fact.

Rules, not a model: the bundled 135M model cannot be trusted to emit JSON. A clause is a fact
when it is a first-person statement ("my cat is Bublik", "I live in Lisbon", "I prefer short
answers"), never a question, a request or a passing state ("I am wondering", "my head hurts
right now"). The patterns here also read what a statement is about, for its subject key
(`subjects.py`) and for what it changes (`decide.py`).
"""

from __future__ import annotations

import re

from outweigh.memory.content import normalise
from outweigh.text import wordset

_QUESTION_START = re.compile(
    r"^(?:what|which|who|whom|whose|where|when|why|how|do|does|did|is|are|was|were|can|could|"
    r"would|will|should|shall|may|have|has)\b",
    re.IGNORECASE,
)
_LEADING_FILLER = re.compile(
    r"^(?:(?:also|and|so|oh|well|btw|by the way|actually|fyi|just so you know|hi|hello|hey|"
    r"ok|okay|yes|no|anyway|guess what|good news|news)\b[,!.:\s]*)+",
    re.IGNORECASE,
)
_LEADING_TIME = re.compile(
    r"^(?:(?:these days|nowadays|lately|recently|currently|now|as of now|since (?:last )?\w+"
    r"(?: \d{4})?)\b[,\s]*)+",
    re.IGNORECASE,
)
"""A leading "these days", "now", "since May": kept in the fact (it is a cue that something
changed, see `decide.change_cue`), skipped when reading the statement's shape."""
_FIRST_PERSON = r"(?:i|i'm|i’m|i've|i’ve|my|our|we|we're|we’re|we've|we’ve)\b"
_CLAUSE_SPLIT = re.compile(
    rf"\s*(?:,|;)?\s+(?:and|but|and now|but now)\s+(?={_FIRST_PERSON})"
    rf"|\s*[,;]\s+(?={_FIRST_PERSON})",
    re.IGNORECASE,
)
_LEADING_PHRASE = re.compile(rf"^[^,;]{{1,40}},\s*(?={_FIRST_PERSON})", re.IGNORECASE)
"""A short phrase set off by a comma before the statement: "In 2019, I moved to Pskov"."""
SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
"""Where one sentence of a message ends and the next begins."""

_ADVERBS = (
    r"(?:really|also|usually|always|never|mostly|only|still|often|sometimes|now|currently|"
    r"no longer|recently|just|finally|actually|already|even|generally|mainly|normally|"
    r"don'?t|do not|didn'?t|did not|can'?t|cannot)"
)
_VERB_S = r"(?-i:[a-z]+(?:s|ed))"
"""A lower-case verb in the third person or the past ("teaches", "moved"): "My brother Gleb
teaches" reads Gleb as part of the subject, not as its verb, because names are capitalised."""
_PLURAL_VERBS = (
    r"live|work|love|like|have|go|play|study|teach|attend|speak|own|prefer|visit|come|stay|"
    r"run|drive|eat|drink|keep"
)
MY_X = re.compile(
    r"^(?:my|our)\s+(?P<x>[\w'’, -]{1,40}?)\s+(?:" + _ADVERBS + r"\s+)*"
    r"(?P<verb>is|are|was|were|has|have|had|'s|" + _PLURAL_VERBS + "|" + _VERB_S + r")"
    r"\b\s*(?P<pred>.*)$",
    re.IGNORECASE,
)
""""my X <verb> ...": "my cat is Bublik", "our dog's name was Rex", "my brother Gleb teaches
physics"."""
THE_X = re.compile(
    r"^the\s+(?P<x>[\w'’ -]{1,40}?)\s+(?:is|was|has been|will be|got)\s+(?:now\s+|still\s+)?"
    r"(?:(?:moved|rescheduled|set|scheduled|changed|planned|booked|postponed)\s+)?"
    r"(?:on|at|for|to|in|until)\s+\S",
    re.IGNORECASE,
)
""""the X is on/at ...": "the appointment is on the 21st", "the wedding was moved to June"."""
I_AM = re.compile(r"^(?:i\s+am|we\s+are)\s+(?P<pred>.+)$", re.IGNORECASE)
""""I am ...", "we are ...": a state, an age, a name, where one is from."""
_I_VERB = re.compile(
    r"^(?:i|we)\s+(?:" + _ADVERBS + r"\s+)*"
    r"(?P<verb>was born|were born|grew up|go by|used to|can'?t stand|[a-z]+)\b\s*(?P<pred>.*)$",
    re.IGNORECASE,
)
_PARTICIPLE = re.compile(
    r"^(?:" + _ADVERBS + r"\s+)*(?P<verb>[a-z]+ed|got|been|gone|begun|bought|sold|left|"
    r"become|grown|taken|met|quit|started|switched)\b\s*(?P<pred>.*)$",
    re.IGNORECASE,
)
"""After "I have": "I have just moved to Pskov" is about moving, "I have a dog" about having."""
_TRANSIENT_VERBS = wordset(
    "want need think wonder guess hope wish try see get would will can could should must "
    "might may mean know forget ask say tell find read hear go come make do just feel believe "
    "suppose am was were had got saw went came made did said told found heard knew forgot "
    "thought meant felt tried asked wanted needed wondered hoped wished let bet agree disagree "
    "understand apologize apologise been"
)
"""`I <verb> ...` is a lasting fact ("I pilot the Heron-7", "I keep bees") unless the verb is
one of these: requests, thoughts, the conversation itself, or a one-off past event."""
_PAST_FACTS = wordset(
    "lived worked studied retired married divorced moved changed switched started stopped "
    "quit joined adopted graduated relocated emigrated"
)
"""Past-tense verbs that still describe the user (a change of state that lasts); other `-ed`
verbs narrate one-off events, kept only when they say when (see `_WHEN`)."""
_DATED_EVENTS = wordset("went got came bought began met took had made found saw")
"""Irregular past tenses of one-off events: a fact only with a date ("I went to Japan in 2019")."""
_WHEN = re.compile(
    r"\b(?:(?:19|20)\d{2}|\d+\s+(?:years?|months?|weeks?)\s+ago|last\s+(?:year|month|week|"
    r"spring|summer|autumn|fall|winter)|(?:in|since|during|back in|early|late)\s+(?:"
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"spring|summer|autumn|fall|winter))\b",
    re.IGNORECASE,
)
"""A stated time: what turns "I visited Rome" (a passing remark) into "I visited Rome in 2019"
(a dated fact one may later ask about: "when did I ...?")."""
_HABIT_VERBS = wordset("go do read make get see come")
_HABIT = re.compile(
    r"^\w+ing\b|\b(?:every|each|on (?:\w+days|weekends)|twice|once a|(?:\w+ )?times a|"
    r"daily|weekly|at weekends|in the (?:mornings|evenings))\b",
    re.IGNORECASE,
)
"""A habit: "I go swimming", "I do yoga on Saturdays" last, where "I go to the shop" passes."""
CALL_ME = re.compile(r"^(?:please\s+)?call me\s+(?P<pred>\S.*)$", re.IGNORECASE)
""""call me Sasha": a name."""

_TRANSIENT_AM = re.compile(
    r"^(?:(?:a bit|a little|kind of|sort of|quite|rather|pretty|so|very|really|just)\s+)*"
    r"(?:wondering|curious|trying|looking|asking|going|gonna|about to|not sure|unsure|sorry|"
    r"glad|happy to|here|back|done|confused|thinking|working on|stuck|getting|having|"
    r"just|so|very|really|afraid|ready|writing|reading|using|feeling|tired|bored|fine|ok|okay|"
    r"good|great|well|hungry|busy|late|in a hurry|on my way|planning|hoping|interested in)\b",
    re.IGNORECASE,
)
_TRANSIENT_HAVE = re.compile(
    r"^(?:a question|another question|questions?|an? (?:issue|problem|error|bug|idea)|no idea|"
    r"to\b|got to|been|had|some trouble|a headache|a cold)",
    re.IGNORECASE,
)
_CONVERSATION_NOUNS = wordset(
    "question questions problem issue point guess bad mistake apologies pleasure answer "
    "request task query message code script program output error"
)
"""`my X ...` about the conversation itself ("my question is ...", "my code fails"): not a
fact about the user's life."""
_PASSING = re.compile(
    r"\b(?:today|tonight|right now|at the moment|this (?:morning|afternoon|evening)|for now)\b",
    re.IGNORECASE,
)
"""A state that says it will pass: "my head hurts right now", "I am busy today"."""

MAX_FACT_CHARS = 400
"""A captured automatic fact is one statement; longer sentences are usually pasted text."""


def clauses(text: str) -> list[str]:
    """Sentences, further split at ",", ";", "and", "but" before a new first-person subject.

    A split is undone when the part before it is not itself about the user ("In 2019, I moved
    to Pskov" stays whole, so the date stays with the move). A part that starts with "it",
    "he", "she" or "they" never starts a clause: "I changed my phone number; it now ends in
    8823" is one statement.
    """
    out: list[str] = []
    for sentence in SENTENCE_SPLIT.split(text.strip()):
        cuts = [(m.start(), m.end()) for m in _CLAUSE_SPLIT.finditer(sentence)]
        starts = [0] + [e for _, e in cuts]
        ends = [s for s, _ in cuts] + [len(sentence)]
        pieces: list[tuple[int, int]] = []
        for a, b in zip(starts, ends, strict=True):
            previous = core(sentence[pieces[-1][0] : pieces[-1][1]]) if pieces else ""
            if pieces and not re.match(_FIRST_PERSON, previous, re.I):
                pieces[-1] = (pieces[-1][0], b)
            else:
                pieces.append((a, b))
        for a, b in pieces:
            clause = _LEADING_FILLER.sub("", sentence[a:b].strip()).strip()
            if clause:
                out.append(clause)
    return out


def core(clause: str) -> str:
    """The clause as the patterns read it: filler and a leading time phrase dropped, one
    apostrophe, contractions spelled out ("I've" -> "I have")."""
    s = _LEADING_FILLER.sub("", clause.strip()).strip()
    s = _LEADING_TIME.sub("", s).strip().replace("’", "'")
    s = _LEADING_PHRASE.sub("", s)
    s = re.sub(r"\s+(?:these days|nowadays|currently)\b", "", s, flags=re.I)
    s = re.sub(r"\b(i|we)'ve\b", r"\1 have", s, flags=re.I)
    s = re.sub(r"\bi'm\b", "I am", s, flags=re.I)
    s = re.sub(r"\bwe're\b", "we are", s, flags=re.I)
    return re.sub(r"\b(my|our) (\w[\w -]*?)'s\b(?= name)", r"\1 \2's", s, flags=re.I)


def i_verb(s: str) -> tuple[str, str] | None:
    """(verb, predicate) of "I/we <verb> ...", looking through "have" to a participle."""
    m = _I_VERB.match(s)
    if m is None:
        return None
    verb, pred = m.group("verb").lower(), m.group("pred")
    if verb in ("have", "has") and (p := _PARTICIPLE.match(pred)):
        return p.group("verb").lower(), p.group("pred")
    return verb, pred


def is_first_person_fact(clause: str) -> bool:
    """Whether `clause` states a lasting fact about the user or their world.

    "I ...", "we ...", "my/our X ..." and "the X is on/at ..." statements; never questions,
    requests, passing states ("I am wondering", "my head hurts right now") or one-off past
    events without a date ("I visited Rome").
    """
    if len(clause.split()) < 2 or len(clause) > MAX_FACT_CHARS:
        return False
    if clause.rstrip().endswith("?") or _QUESTION_START.match(clause):
        return False
    s = core(clause)
    hedge = r"^(?:if|when|whenever|once|maybe|perhaps|suppose|please|let's|let us)\b"
    if re.match(hedge, clause, re.I) or re.match(hedge, s, re.I):
        return False
    if CALL_ME.match(s):
        return True
    if m := MY_X.match(s):
        head = normalise(m.group("x")).split()
        if not head or head[-1] in _CONVERSATION_NOUNS or _PASSING.search(s):
            return False
        return bool(m.group("pred").strip()) or m.group("verb").lower() not in ("is", "are")
    if THE_X.match(s):
        return not _PASSING.search(s)
    if m := I_AM.match(s):
        return not _TRANSIENT_AM.match(m.group("pred")) and not _PASSING.search(s)
    if parts := i_verb(s):
        verb, pred = parts
        if verb == "used to":
            return bool(pred.strip())
        dated = _WHEN.search(pred) is not None
        habit = verb in _HABIT_VERBS and _HABIT.search(pred) is not None
        if verb in _TRANSIENT_VERBS and not (verb in _DATED_EVENTS and dated) and not habit:
            return False
        if verb.endswith("ed") and verb not in _PAST_FACTS and not dated:
            return False
        if verb == "have" and _TRANSIENT_HAVE.match(pred):
            return False
        return bool(pred.strip()) and not _PASSING.search(s)
    return False
