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
from collections.abc import Callable, Sequence
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
    "would will should m ve re ll d"
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
    r"ok|okay|yes|no|anyway|guess what|good news|news)\b[,!.:\s]*)+",
    re.IGNORECASE,
)
_LEADING_TIME = re.compile(
    r"^(?:(?:these days|nowadays|lately|recently|currently|now|as of now|since (?:last )?\w+"
    r"(?: \d{4})?)\b[,\s]*)+",
    re.IGNORECASE,
)
"""A leading "these days", "now", "since May": kept in the fact (it is a cue that something
changed, see `change_cue`), skipped when reading the statement's shape."""
_FIRST_PERSON = r"(?:i|i'm|i’m|i've|i’ve|my|our|we|we're|we’re|we've|we’ve)\b"
_CLAUSE_SPLIT = re.compile(
    rf"\s*(?:,|;)?\s+(?:and|but|and now|but now)\s+(?={_FIRST_PERSON})"
    rf"|\s*[,;]\s+(?={_FIRST_PERSON})",
    re.IGNORECASE,
)
_LEADING_PHRASE = re.compile(rf"^[^,;]{{1,40}},\s*(?={_FIRST_PERSON})", re.IGNORECASE)
"""A short phrase set off by a comma before the statement: "In 2019, I moved to Pskov"."""
_FIRST_PERSON_START = re.compile(
    rf"^(?:{_LEADING_FILLER.pattern[1:]})?(?:{_LEADING_TIME.pattern[1:]})?{_FIRST_PERSON}",
    re.IGNORECASE,
)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")

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
# "my cat is Bublik", "our dog's name was Rex", "my brother Gleb teaches physics"
_MY = re.compile(
    r"^(?:my|our)\s+(?P<x>[\w'’, -]{1,40}?)\s+(?:" + _ADVERBS + r"\s+)*"
    r"(?P<verb>is|are|was|were|has|have|had|'s|" + _PLURAL_VERBS + "|" + _VERB_S + r")"
    r"\b\s*(?P<pred>.*)$",
    re.IGNORECASE,
)
# "the appointment is on the 21st", "the wedding was moved to June"
_THE = re.compile(
    r"^the\s+(?P<x>[\w'’ -]{1,40}?)\s+(?:is|was|has been|will be|got)\s+(?:now\s+|still\s+)?"
    r"(?:(?:moved|rescheduled|set|scheduled|changed|planned|booked|postponed)\s+)?"
    r"(?:on|at|for|to|in|until)\s+\S",
    re.IGNORECASE,
)
_I_AM = re.compile(r"^(?:i\s+am|we\s+are)\s+(?P<pred>.+)$", re.IGNORECASE)
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
_TRANSIENT_VERBS = _wordset(
    "want need think wonder guess hope wish try see get would will can could should must "
    "might may mean know forget ask say tell find read hear go come make do just feel believe "
    "suppose am was were had got saw went came made did said told found heard knew forgot "
    "thought meant felt tried asked wanted needed wondered hoped wished let bet agree disagree "
    "understand apologize apologise been"
)
"""`I <verb> ...` is a lasting fact ("I pilot the Heron-7", "I keep bees") unless the verb is
one of these: requests, thoughts, the conversation itself, or a one-off past event."""
_PAST_FACTS = _wordset(
    "lived worked studied retired married divorced moved changed switched started stopped "
    "quit joined adopted graduated relocated emigrated"
)
"""Past-tense verbs that still describe the user (a change of state that lasts); other `-ed`
verbs narrate one-off events, kept only when they say when (see `_WHEN`)."""
_DATED_EVENTS = _wordset("went got came bought began met took had made found saw")
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
_HABIT_VERBS = _wordset("go do read make get see come")
_HABIT = re.compile(
    r"^\w+ing\b|\b(?:every|each|on (?:\w+days|weekends)|twice|once a|(?:\w+ )?times a|"
    r"daily|weekly|at weekends|in the (?:mornings|evenings))\b",
    re.IGNORECASE,
)
"""A habit: "I go swimming", "I do yoga on Saturdays" last, where "I go to the shop" passes."""
_CALL_ME = re.compile(r"^(?:please\s+)?call me\s+(?P<pred>\S.*)$", re.IGNORECASE)

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
_CONVERSATION_NOUNS = _wordset(
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
_AGE = re.compile(r"^(?:\d{1,3})(?:\s*(?:years?|yrs?)(?:\s+old)?)?[.!]?$", re.IGNORECASE)
_NAME_PRED = re.compile(r"^(?:called|named|known as)\b", re.IGNORECASE)
_MULTI_VERBS = _wordset(
    "has have had like likes love loves enjoy enjoys play plays speak speaks collect collects "
    "own owns keep keeps visit visits 's"
)
"""`my X <verb>` that can hold many values at once ("my son plays chess" and "... football")."""

_SECRET = re.compile(
    r"\b(?:pin|pins|pin code|passcode|pass code|password|passwords|passwd|passphrase|"
    r"pass phrase|security (?:question|answer|code)|cvv|cvc|card number|credit card number|"
    r"account number|iban|api key|secret key|private key|access token|auth token|seed phrase|"
    r"recovery phrase|recovery code|mnemonic|social security number|ssn|"
    r"(?:door|gate|alarm|lock|safe|entry|access|garage|locker) (?:code|combination))\b",
    re.IGNORECASE,
)
"""Secrets: PINs, passwords and their hints, codes, keys, card and account numbers. Never
captured automatically, kept only on an explicit "remember" (docs/memory.md, "Secrets")."""
WITHHELD = "[withheld: a secret]"
"""What a stored turn holds instead of a sentence that stated a secret in passing."""

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

    def decide(self, fact: Fact, candidates: Sequence[Candidate]) -> Decision:
        """ADD, UPDATE or NOOP for `fact` among the user's current memories (the rules'
        `decide`; a model extractor may ask its model)."""
        return decide(fact, candidates)


class RuleExtractor(Extractor):
    """Explicit requests and statements about the user's world, by regular expressions."""

    name = "rules"

    def extract(self, text: str) -> list[Fact]:
        explicit = explicit_fact(text)
        if explicit is not None:
            return [explicit]
        facts: list[Fact] = []
        for clause in clauses(text):
            if is_first_person_fact(clause) and not is_secret(clause):
                facts.append(Fact(clause, subject_of(clause), "auto"))
        return _unique(facts)


class ModelExtractor(Extractor):
    """A capable model lists the facts and decides ADD/UPDATE/NOOP; its output stays grounded.

    Explicit requests never depend on the model: they are taken by the rules first. The model
    writes plain lines (not JSON, which small models break); a line whose content words are
    mostly absent from the message is a hallucination and is dropped, and so is a secret. To
    decide, it picks among numbered memories; the stored fact is always the user's own words,
    and a reply that names no valid choice falls back to the rules' decision.
    """

    name = "model"

    PROMPT = (
        "List the facts the user states about themselves or their life in the message below, "
        "one per line starting with '- ', in the user's own words and in the first person. "
        "Write only NONE if there are no such facts.\n\nMessage: {message}"
    )
    DECIDE = (
        "You keep a list of facts about a user.\n{memories}\n\n"
        "The user now says: {fact}\n\n"
        "If this says the same as fact N, answer NOOP N. If it changes fact N (the same thing "
        "with a new value, so fact N is no longer true), answer UPDATE N. If it is about "
        "something else, answer ADD. Answer with one line."
    )

    def __init__(
        self,
        backend: Backend | Callable[[], Backend],
        max_tokens: int = 96,
        grounding: float = 0.6,
    ) -> None:
        self._backend = backend
        self.max_tokens = max_tokens
        """Cap on the model's reply; a message rarely holds more than a few facts."""
        self.grounding = grounding
        """Share of a proposed fact's content words that must occur in the message."""
        self.rules = RuleExtractor()

    @property
    def backend(self) -> Backend:
        """The model, made on first use when a function that makes it was given (the engine
        passes its own, so listing memories loads no model)."""
        if not isinstance(self._backend, Backend):
            self._backend = self._backend()
        return self._backend

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
            if grounded(line, text, self.grounding) and not is_secret(line)
        ]
        # Rules catch what the model missed; a near-identical pair collapses in the store.
        return _unique(facts + self.rules.extract(text))

    def decide(self, fact: Fact, candidates: Sequence[Candidate]) -> Decision:
        shortlist = shortlist_of(fact, candidates)
        if not shortlist:
            return Decision("ADD")
        listing = "\n".join(f"{i}. {c.text}" for i, c in enumerate(shortlist, start=1))
        request = GenerationRequest(
            messages=[
                {
                    "role": "user",
                    "content": self.DECIDE.format(memories=listing, fact=fact.text),
                }
            ],
            max_tokens=8,
        )
        reply = self.backend.generate(request).text
        m = re.search(r"\b(NOOP|UPDATE|ADD)\b(?:\D{0,12}?(\d+))?", reply, re.IGNORECASE)
        if m is None:
            return decide(fact, candidates)
        action = m.group(1).upper()
        if action == "ADD":
            return Decision("ADD", reason="model")
        n = int(m.group(2)) if m.group(2) else 0
        if not 1 <= n <= len(shortlist):
            return decide(fact, candidates)
        return Decision(action, shortlist[n - 1].id, "model")


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
    """Sentences, further split at ",", ";", "and", "but" before a new first-person subject.

    A split is undone when the part before it is not itself about the user ("In 2019, I moved
    to Pskov" stays whole, so the date stays with the move). A part that starts with "it",
    "he", "she" or "they" never starts a clause: "I changed my phone number; it now ends in
    8823" is one statement.
    """
    out: list[str] = []
    for sentence in _SENTENCE_SPLIT.split(text.strip()):
        cuts = [(m.start(), m.end()) for m in _CLAUSE_SPLIT.finditer(sentence)]
        starts = [0] + [e for _, e in cuts]
        ends = [s for s, _ in cuts] + [len(sentence)]
        pieces: list[tuple[int, int]] = []
        for a, b in zip(starts, ends, strict=True):
            previous = _core(sentence[pieces[-1][0] : pieces[-1][1]]) if pieces else ""
            if pieces and not re.match(_FIRST_PERSON, previous, re.I):
                pieces[-1] = (pieces[-1][0], b)
            else:
                pieces.append((a, b))
        for a, b in pieces:
            clause = _LEADING_FILLER.sub("", sentence[a:b].strip()).strip()
            if clause:
                out.append(clause)
    return out


def _core(clause: str) -> str:
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


def _i_verb(s: str) -> tuple[str, str] | None:
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
    s = _core(clause)
    hedge = r"^(?:if|when|whenever|once|maybe|perhaps|suppose|please|let's|let us)\b"
    if re.match(hedge, clause, re.I) or re.match(hedge, s, re.I):
        return False
    if _CALL_ME.match(s):
        return True
    if m := _MY.match(s):
        head = _normalise(m.group("x")).split()
        if not head or head[-1] in _CONVERSATION_NOUNS or _PASSING.search(s):
            return False
        return bool(m.group("pred").strip()) or m.group("verb").lower() not in ("is", "are")
    if _THE.match(s):
        return not _PASSING.search(s)
    if m := _I_AM.match(s):
        return not _TRANSIENT_AM.match(m.group("pred")) and not _PASSING.search(s)
    if parts := _i_verb(s):
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


def is_secret(text: str) -> bool:
    """Whether `text` mentions a secret (a PIN, a password or its hint, a code, a key)."""
    return _SECRET.search(text) is not None


def withhold_secrets(text: str) -> str:
    """`text` with every clause that mentions a secret replaced by `WITHHELD`; for stored turns,
    so a password said in passing is not kept in the conversation log either."""
    if not is_secret(text):
        return text
    out = text
    for sentence in _SENTENCE_SPLIT.split(text.strip()):
        if is_secret(sentence):
            out = out.replace(sentence, WITHHELD)
    return out


def subject_of(statement: str) -> str | None:
    """The single-valued attribute a statement sets ("cat:name"), or None.

    Copular statements about one thing ("my X is Y"), what one thing does in the present
    ("my phone number ends in 4410": "phone number:end"), names, ages, where one lives and
    works: those are the facts a newer statement replaces rather than adds to. Verbs that hold
    many values at once ("my son plays chess") and past events get no key.
    """
    s = _core(statement).rstrip(".!")
    if _CALL_ME.match(s):
        return "me:name"
    if m := _MY.match(s):
        thing = _normalise(m.group("x"))
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
    if m := _THE.match(s):
        return f"{_normalise(m.group('x'))}:is"
    if m := _I_AM.match(s):
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
    if parts := _i_verb(s):
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


# -- updates: ADD, UPDATE or NOOP ---------------------------------------------------------
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
    s = _core(text)
    for pattern in (_CHANGED_OBJECT, _NEW_OBJECT):
        if m := pattern.search(s):
            return _head(m.group("obj")), True
    if m := _MY.match(s):
        return _head(m.group("x")), False
    if m := _THE.match(s):
        passive = re.search(r"\b(?:moved|rescheduled|postponed|changed)\b", s, re.I)
        return _head(m.group("x")), passive is not None
    return None, False


def _x_words(text: str) -> set[str]:
    """The words of the thing a "the X ..." statement is about ("membership renewal")."""
    m = _THE.match(_core(text))
    return {_stem(w) for w in content_words(m.group("x"))} if m else set()


def kept_name(old: str, new: str) -> str | None:
    """The "my sister Marta" span of `old` when `new` replaces it without the name: the name
    is still true after "my sister moved to Geneva", so it stays as its own current fact."""
    m = _MY.match(_core(old))
    if m is None:
        return None
    names = [w for w in re.findall(r"[\w'’]+", m.group("x")) if w[:1].isupper()]
    if not names or all(n.lower() in new.lower() for n in names):
        return None
    span = re.search(r"\b(?:my|our)\s+" + re.escape(m.group("x").strip(" ,")), old, re.I)
    return span.group(0) if span else None


def _head(phrase: str) -> str | None:
    """The head noun of "phone number" (number), "brother Gleb" (brother): the last word that
    is not a name or a determiner."""
    words = [
        w for w in re.findall(r"[\w'’]+", phrase) if not w[:1].isupper() or w.lower() == w
    ] or re.findall(r"[\w'’]+", phrase)
    words = [w.lower() for w in words if w.lower() not in ("the", "a", "an", "new", "old")]
    return _stem(words[-1]) if words else None


def _stem(word: str) -> str:
    """Plural and possessive folded: "appointments", "cat's" -> "appointment", "cat"."""
    w = word.lower().replace("’", "'").removesuffix("'s").removesuffix("'")
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    return w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w


def _stems(text: str) -> set[str]:
    return {_stem(w) for w in content_words(text)}


def _about_me(text: str) -> bool:
    return re.match(r"^(?:i|we)\b", _core(text), re.I) is not None


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
    words = _stems(fact.text) - _CUE_WORDS - NEGATIONS
    best: Candidate | None = None
    for c in candidates:
        if c.cosine is not None and c.cosine < CHANGE_FLOOR:
            continue
        shared = words & _stems(c.text)
        if thing is not None:
            # "changed my phone number": that thing; "my daughter ... now": a same thing
            # statement that also shares a word or the slot ("is", "residence").
            same_slot = (
                c.subject is not None
                and fact.subject is not None
                and (c.subject.split(":")[-1] == fact.subject.split(":")[-1])
            )
            mentions = thing in _stems(c.text) or bool(_x_words(fact.text) & _stems(c.text))
            related = mentions and (named or bool(shared - {thing}) or same_slot)
        elif _about_me(fact.text) and _about_me(c.text):
            same_slot = c.subject is None or c.subject == fact.subject
            both_am = _I_AM.match(_core(fact.text)) and _I_AM.match(_core(c.text))
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
    _stem(w)
    for w in _wordset(
        "now longer anymore any more these days nowadays instead changed switched moved "
        "rescheduled replaced renamed new became become since recently updated started stopped"
    )
}
"""Cue words do not count as shared content: "I now drive" and "I now swim" are unrelated."""


def shortlist_of(fact: Fact, candidates: Sequence[Candidate], n: int = 5) -> list[Candidate]:
    """The `n` candidates most like `fact` (cosine at least `CHANGE_FLOOR`, or sharing a
    content word), best first: what a model is shown to decide among."""
    words = _stems(fact.text)
    close = [
        c
        for c in candidates
        if (c.cosine is not None and c.cosine >= CHANGE_FLOOR) or words & _stems(c.text)
    ]
    return sorted(close, key=lambda c: -(c.cosine or 0.0))[:n]


def _normalise(thing: str) -> str:
    """Lower-case, one spelling per word (favourite/favorite), no determiners."""
    flat = re.sub(r"[^\w' -]", " ", thing.lower().replace("’", "'"))
    words = [w for w in flat.split() if w not in ("the", "a", "an", "new", "current")]
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
