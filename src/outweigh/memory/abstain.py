"""Abstention: when a user asks about their own world and no memory answers it, say so.

A small model asked "What car do I drive?" with nothing about a car in its prompt invents one
(SmolLM2-135M named a daughter "Emily"). So the engine does not ask it: for a personal
question ("what/where/when/who ... my/our/I ...") that no recalled memory is about, the answer
is `DONT_KNOW`, given by `generate.base.Fixed` in place of the model, through the same door
(chat, stream, the server) as any answer.

A memory is *about* the question when the embedding cosine between them reaches
`RELEVANT_COSINE`, unless the question names a thing ("my sister", "our dog") that the memory
does not mention while it is about another thing of the same kind ("my brother ...", "our
cat ..."): all-MiniLM-L6-v2 puts "What is my sister's name?" close to "My brother's name is
Gleb", and answering "Gleb" would be an invention.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from outweigh.memory.content import content_stems
from outweigh.text import ARTICLES, singular, wordset

DONT_KNOW = "I don't know: you haven't told me that."
"""The answer to a personal question no memory is about. It states no fact."""

RELEVANT_COSINE = 0.38
"""Least cosine (all-MiniLM-L6-v2) between a personal question and a memory about it. Measured
on 30 pairs (docs/memory.md): a question and the fact that answers it 0.40-0.86 ("What do I do
for a living?" / "I work as a pharmacist." 0.40), a question and another fact of the same user
up to 0.37 ("Do I have a bike?" / "I drive a red Volvo." 0.35). A shared content word counts too
("Where do I live now?" / "I live in Pskov." 0.40)."""

_PERSONAL = re.compile(
    r"^(?:(?:and|so|ok|okay|hey|hi|remind me|tell me|do you (?:know|remember))[,\s]+)*"
    r"(?:(?:what|what's|which|who|who's|whom|whose|where|where's|when|when's|how many|"
    r"how much|how old|how long)\b.*\b(?:my|our|i|we|me)\b"
    r"|(?:do|did|am|was|have|has|does|is|are)\s+(?:i|we|my|our)\b)",
    re.IGNORECASE,
)
_NOT_A_FACT_QUESTION = re.compile(
    r"\b(?:should|could|can|would|might|shall|recommend|suggest|think|wrong|mean|means|"
    r"explain|help|how do|how can|how to|why|best|better|idea|ideas)\b",
    re.IGNORECASE,
)
_THING = re.compile(
    r"\b(?:my|our)\s+(?P<x>[\w'’ -]{1,40}?)(?='s\b|’s\b|\s+(?:is|are|was|were|"
    r"do|does|did|called|named|name|live|lives|work|works|teach|teaches|end|"
    r"ends|have|has|had|on|at|in|for|and|or)\b|[?.!,]|$)",
    re.IGNORECASE,
)
GENERIC = wordset(
    "name favorite favourite number age job work address kind type much many long old "
    "hometown home city town country profession occupation living"
)
"""Attributes, not things: "my name", "my job" are about the user, whoever holds them."""
_NOT_SHARED = wordset("name favorite favourite number kind type much many long old")
"""Words a question and an unrelated memory share without being about the same thing."""


def personal_question(text: str) -> bool:
    """Whether `text` asks for a fact of the user's own world ("Where do I live?", "What is
    our cat called?"), not advice, an explanation or a how-to ("How do I sort a list?")."""
    t = text.strip()
    if len(t) > 160 or len(re.findall(r"[.!?](?:\s|$)", t.rstrip("?!. "))) > 0:
        return False
    return _PERSONAL.match(t) is not None and _NOT_A_FACT_QUESTION.search(t) is None


def asked_things(question: str) -> set[str]:
    """The things a question names ("sister" in "What is my sister's name?", "son" and
    "study" in "What does my son study?"); empty when it asks about the user or one of the
    user's attributes ("my job", "where do I live")."""
    m = _THING.search(question)
    if m is None:
        return set()
    words = [w for w in re.findall(r"[\w'’]+", m.group("x")) if not w[:1].isupper()]
    return {singular(w) for w in words} - GENERIC - ARTICLES - {"new", "old"}


def about(question: str, memory: str, cosine: float) -> bool:
    """Whether `memory` is about what `question` asks (see the module docstring): it mentions
    the thing the question names, if any, and is close (cosine) or shares a content word."""
    stems = content_stems(memory)
    things = asked_things(question)
    if things and not things & stems:
        return False
    shared = (content_stems(question) - _NOT_SHARED) & stems
    return cosine >= RELEVANT_COSINE or bool(shared)


def answerable(
    question: str, memories: Sequence[str], vectors: np.ndarray, query: np.ndarray
) -> bool:
    """Whether any of `memories` (their embeddings in `vectors`, (n, dim)) is about `question`
    (its embedding `query`)."""
    if not memories:
        return False
    sims = vectors @ query
    return any(about(question, m, float(s)) for m, s in zip(memories, sims, strict=True))
