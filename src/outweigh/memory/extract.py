"""Extractors: which parts of a user's message become facts.

`RuleExtractor` (the default) takes explicit requests ("remember that ...", "note: ...",
"don't forget ...", `/remember TEXT`) and first-person statements of fact (`grammar.py`);
`ModelExtractor` lets a capable model propose facts and decide ADD/UPDATE/NOOP behind the same
`Extractor` interface, and drops anything it writes that is not grounded in the user's own
words.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from outweigh.generate.base import Backend, GenerationRequest
from outweigh.memory.content import grounded, near_duplicate
from outweigh.memory.decide import Candidate, Decision, decide, shortlist_of
from outweigh.memory.grammar import clauses, is_first_person_fact
from outweigh.memory.items import Fact
from outweigh.memory.secrets import leaks, secret_values
from outweigh.memory.subjects import subject_of

_EXPLICIT = re.compile(
    r"^\s*(?:(?:please|pls|ok|okay|also|and)[,\s]+)*"
    r"(?:remember|memori[sz]e|note|don'?t forget|do not forget|keep in mind)"
    r"(?:\s+that\b)?\s*[:,-]?\s*(?P<fact>\S.*)$",
    re.IGNORECASE | re.DOTALL,
)


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
        values = secret_values(text)
        for clause in clauses(text):
            if is_first_person_fact(clause) and not leaks(clause, values):
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
        values = secret_values(text)
        facts = [
            Fact(line, subject_of(line), "model")
            for line in parse_lines(reply)
            if grounded(line, text, self.grounding) and not leaks(line, values)
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
