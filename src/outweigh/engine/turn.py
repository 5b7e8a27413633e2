"""What one answer is made of: the options it is asked with, the request built for it, and the
answer it gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from outweigh.attribution import supporting
from outweigh.errors import InputError
from outweigh.generate.base import Backend, GenerationRequest
from outweigh.names import check_text
from outweigh.prompt import Citation
from outweigh.retrieval.select import Selection
from outweigh.settings import DEFAULT_COLLECTION

if TYPE_CHECKING:
    from outweigh.memory import MemoryItem


@dataclass
class Answer:
    """A generated answer with its grounding and accounting."""

    answer: str
    citations: list[Citation]
    """The passages the answer rests on (`outweigh.attribution.supporting`); not every
    passage in the prompt."""
    model: str
    usage: dict[str, int]
    finish_reason: str = "stop"
    adapter: str | None = None
    memories: list[MemoryItem] = field(default_factory=list)
    """The user's memories that went into the prompt, best first."""
    context: list[Citation] = field(default_factory=list)
    """Every passage the prompt carried, numbered as the model saw them."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "model": self.model,
            "adapter": self.adapter,
            "usage": self.usage,
        }


@dataclass
class AskOptions:
    """How to answer one question."""

    collection: str = DEFAULT_COLLECTION
    """Which collection to retrieve from."""
    rag: bool = True
    """Retrieve context; off answers from the model's own knowledge."""
    k: int = 5
    """Most chunks in the prompt (fewer go in if selection drops some or the token budget is
    tight)."""
    selection: Selection = field(default_factory=Selection)
    """How retrieved chunks are chosen and cut to the lines matching the question
    (`outweigh.retrieval.select`); `select.NONE` puts the top-k chunks in whole."""
    max_tokens: int = 200
    """Answer length cap, in tokens."""
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    adapter: str | None = None
    """A registered adapter name or weighted mix; None is the bare base model."""
    user: str | None = None
    """Whose long-term memory to recall and update; None uses no memory at all."""
    session: str | None = None
    """The conversation this turn belongs to, recorded with the turn and its facts."""
    memory: bool = True
    """Recall the user's memories into the prompt and capture new facts after the answer;
    off (`--no-memory`) neither reads nor writes memory, even with a user."""

    reader: bool = True
    """Read retrieved passages through the model's reader adapter, or recalled memories
    (with no passages) through its memory reader (`Engine._reader`), when no other adapter
    is asked for; off runs the bare model."""

    def validate(self) -> None:
        if self.k < 1:
            raise InputError("`-k` must be at least 1")
        if self.max_tokens < 1:
            raise InputError("`--max-tokens` must be at least 1")
        if not 0 <= self.temperature <= 2:
            raise InputError("`temperature` must be between 0 and 2")
        if not 0 < self.top_p <= 1:
            raise InputError("`top_p` must be in (0, 1]")
        for s in self.stop:
            check_text(s, "a stop string")


@dataclass
class Prepared:
    """A request ready for the backend, with the passages its prompt carries (`citations`)."""

    request: GenerationRequest
    citations: list[Citation]
    backend: Backend
    memories: list[MemoryItem] = field(default_factory=list)
    """Recalled memories in the prompt, ahead of the citations."""

    def cited(self, question: str, answer: str) -> list[Citation]:
        """The prompt's passages `answer` rests on: what `Answer.citations`, the server and
        the eval report as citations."""
        return supporting(answer, self.citations, question)


@dataclass(frozen=True)
class CollectionInfo:
    """One collection as `Engine.collections` lists it."""

    name: str
    documents: int
    """Documents ingested into it."""
    chunks: int
    """Chunks they were split into (what retrieval searches)."""
