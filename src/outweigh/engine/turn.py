"""What one answer is made of: the options it is asked with, what preflight checked, the request
built for it (`Prepared`), the `Turn` every door answers through, and the `Answer`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from outweigh.attribution import supporting
from outweigh.errors import InputError
from outweigh.generate.base import Backend, Generation, GenerationRequest, Stream, detach, held
from outweigh.names import check_text
from outweigh.prompt import Citation
from outweigh.retrieval.select import Selection
from outweigh.settings import DEFAULT_COLLECTION
from outweigh.users import OPERATOR, Principal

if TYPE_CHECKING:
    from outweigh.memory import MemoryItem
    from outweigh.retrieval.store import Collection


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

    principal: Principal = OPERATOR
    """Who is asking: retrieval reads only a collection it may read (`outweigh.users`)."""

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
    check: Callable[[str], str] | None = None
    """What a generated answer becomes before anyone sees it (the passage reader's that does
    not hold up against its passages becomes "I don't know": `Engine._build`); None leaves it
    as generated. A checked answer streams in one piece, once it is whole."""
    fallback: GenerationRequest | None = None
    """The bare request to answer with where the checked answer is "I don't know" and the
    question names nothing of its passages (`retrieval.bearing.names_them`): the
    passages did not bear on it after all. Its answer cites nothing."""
    uncited: set[str] = field(default_factory=set)
    """The fallback's answers so far: they rest on no passage."""
    offers: Callable[[], list[str]] | None = None
    """The answers the reader chooses among once its reading was turned down: the values of
    the type the question demands that the passages write and the check lets through
    (`engine.answering.offered`); none where there are none."""

    def cited(self, question: str, answer: str) -> list[Citation]:
        """The prompt's passages `answer` rests on: what `Answer.citations`, the server and
        the eval report as citations."""
        if answer in self.uncited:
            return []
        return supporting(answer, self.citations, question)

    def again(
        self, raw: str, answer: str, before: GenerationRequest | None = None
    ) -> GenerationRequest | None:
        """The reader's request once more, where the check turned `raw` down (`answer`, the
        checked text, is "I don't know" and `raw` is not): the reader's next-best reading,
        checked in turn. A small reader that copies the option a question names, or the
        wrong kind of value, often has the right one in front of it.

        Where the passages write values of the type the question demands that the check lets
        through (`offers`) and the backend `chooses`, the second reading chooses among them
        (`GenerationRequest.choices`), and is the last. Else the first token is barred from
        beginning as `raw` did, and a third reading bars the second's too. `before`: the
        request that read `raw`, where it was itself a reading again, whose barred tokens
        stay barred. None where nothing was turned down, where the
        question names nothing of its passages (the bare model answers it instead:
        `fallback`; a second reading would cite a passage for "How many days are in a
        week?"), or where the backend can neither choose nor bias its first token."""
        if self.check is None or self.fallback is not None:
            return None
        if not declines(answer) or declines(raw) or (before is not None and before.choices):
            return None
        offers = self.offers if before is None and self.backend.chooses else None
        if offers is not None and (offered := offers()):
            return replace(self.request, choices=tuple(offered))
        token = self.backend.first_token(raw.lstrip())
        if token is None:
            return None
        bias = {**(before or self.request).first_token_bias, token: -BARRED}
        return replace(self.request, first_token_bias=bias)

    def instead(self, answer: str) -> GenerationRequest | None:
        """The fallback request where the checked `answer` is "I don't know"; else None."""
        if self.fallback is None or not declines(answer):
            return None
        return self.fallback


BARRED = 100.0
"""How far `Prepared.again` lowers the first token of a turned-down answer: out of reach."""
READINGS = 3
"""Most readings of one answer: the first, and each again (`Prepared.again`) while the check
turns them down. Each costs one short generation, only where the one before was turned
down."""


def declines(answer: str) -> bool:
    """Whether the passage reader's `answer` is its "I don't know" (`reader.DONT_KNOW`)."""
    return answer.lstrip().startswith("I don't know")


@dataclass(frozen=True)
class CollectionInfo:
    """One collection as `Engine.collections` lists it."""

    name: str
    documents: int
    """Documents ingested into it."""
    chunks: int
    """Chunks they were split into (what retrieval searches)."""
    owner: str | None = None
    """The user whose upload made it; None: the operator's, readable by every user."""
    shared: dict[str, bool] = field(default_factory=dict)
    """Users it is shared with -> whether they may write."""


@dataclass(frozen=True)
class Checked:
    """What `Engine.preflight` checked, handed on to `Engine.turn` so that nothing is checked
    or resolved twice: the options (the same object), the model name, the question and the
    collection's row."""

    options: AskOptions
    model: str
    question: str | None
    collection: Collection | None = None
    """The collection retrieval searches, resolved once (None with `rag` off)."""


SEED_RANGE = (-(2**63), 2**63 - 1)
"""Seeds a request may carry (a signed 64-bit integer, as OpenAI's API takes)."""


class Turn:
    """One answer, the one path every door takes: `Engine.ask`, `chat` and `stream`, the
    server's whole and streamed answers, and the eval.

    The request is built once (`Engine.turn`: preflight, retrieve, recall, fit the budget).
    `generate(i)` answers choice `i` whole, `stream(i)` as a cancellable `Stream`; choice 0
    is remembered once (`finish`): a whole answer when it is generated, a stream when its
    reader is done with it, with what the reader got (all of it, or what it had when it cut
    the stream off: Ctrl-C, Stop, a client gone). A failed generation is not remembered."""

    def __init__(
        self,
        prepared: Prepared,
        options: AskOptions,
        question: str,
        remember: Callable[[str, str, AskOptions], None],
    ) -> None:
        self.prepared = prepared
        self.options = options
        self.question = question
        self._remember = remember
        self._finished = False
        self._lock = threading.Lock()

    @property
    def backend(self) -> Backend:
        return self.prepared.backend

    @property
    def request(self) -> GenerationRequest:
        return self.prepared.request

    @property
    def citations(self) -> list[Citation]:
        """Every passage the prompt carries, numbered as the model sees them."""
        return self.prepared.citations

    def nth(self, choice: int, request: GenerationRequest | None = None) -> GenerationRequest:
        """The request for choice `choice` (of the prompt, or of `request`): the same prompt,
        the seed shifted so that seeded choices differ (wrapping within `SEED_RANGE`)."""
        request = request or self.prepared.request
        if choice == 0 or request.seed is None:
            return request
        low, high = SEED_RANGE
        seed = (request.seed + choice - low) % (high - low + 1) + low
        return replace(request, seed=seed)

    def generate(self, choice: int = 0) -> Generation:
        """Choice `choice`, whole. A caller that may go away sets `generate.base.CANCEL`."""
        gen = self.backend.generate(self.nth(choice))
        if (check := self.prepared.check) is not None:
            text = check(gen.text)
            again: GenerationRequest | None = None
            for _ in range(READINGS - 1):
                if (again := self.prepared.again(gen.text, text, again)) is None:
                    break
                gen = self.backend.generate(self.nth(choice, again))
                text = check(gen.text)
            gen = replace(gen, text=text)
            if (bare := self.prepared.instead(gen.text)) is not None:
                gen = self.backend.generate(self.nth(choice, bare))
                self.prepared.uncited.add(gen.text)
        if choice == 0:
            self.finish(gen.text)
        return gen

    def stream(self, choice: int = 0) -> Stream:
        """Choice `choice` as it is decoded; closing the stream cancels it at the next token."""
        stream = detach(self.backend.stream(self.nth(choice)))
        if self.prepared.check is not None:
            stream = held(stream, self.prepared.check, partial(self._again, choice))
        if choice == 0:
            stream.on_end(self.finish)
        return stream

    def _again(
        self,
        choice: int,
        raw: str,
        answer: str,
        before: GenerationRequest | None = None,
        left: int = READINGS - 1,
    ) -> Stream | None:
        """The reader's next-best reading for choice `choice` where the check turned `raw`
        down (`Prepared.again`; `before`: the request that read `raw`), held and checked in
        turn, `left` times at most; else the fallback's stream."""
        again = self.prepared.again(raw, answer, before) if left > 0 else None
        if again is None:
            return self._bare(choice, raw, answer)
        stream = detach(self.backend.stream(self.nth(choice, again)))
        assert self.prepared.check is not None
        then = partial(self._again, choice, before=again, left=left - 1)
        return held(stream, self.prepared.check, then)

    def _bare(self, choice: int, raw: str, answer: str) -> Stream | None:
        """The fallback's stream for choice `choice` where the checked `answer` calls for it
        (`Prepared.instead`); its whole text is recorded as uncited before it ends."""
        bare = self.prepared.instead(answer)
        if bare is None:
            return None
        stream = detach(self.backend.stream(self.nth(choice, bare)))
        stream.on_end(self.prepared.uncited.add)
        return stream

    def finish(self, answer: str) -> None:
        """Remember the turn (the question and `answer`) when memory is on; once."""
        with self._lock:
            if self._finished:
                return
            self._finished = True
        self._remember(self.question, answer, self.options)

    def cited(self, answer: str) -> list[Citation]:
        """The passages `answer` rests on (`Prepared.cited`)."""
        return self.prepared.cited(self.question, answer)

    def answer(self, gen: Generation) -> Answer:
        """The `Answer` for choice 0's generation `gen`."""
        return Answer(
            answer=gen.text,
            citations=self.cited(gen.text),
            context=self.citations,
            model=self.backend.name,
            usage=gen.usage(),
            finish_reason=gen.finish_reason,
            adapter=self.request.adapter,
            memories=self.prepared.memories,
        )
