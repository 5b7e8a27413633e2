"""The backend interface: subclasses implement `stream` and `count_tokens`; the rest is derived."""

from __future__ import annotations

import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

CANCEL: ContextVar[threading.Event | None] = ContextVar("outweigh_cancel", default=None)
"""An event a caller sets to cancel a whole-answer `generate` it is waiting on (the server
sets one per request and sets it when the client goes away); the local backends read it at
every token step. Streams are cancelled by closing them (`Stream`)."""

Message = dict[str, str]
"""One chat message: {"role": "system" | "user" | "assistant", "content": str}."""


@dataclass
class GenerationRequest:
    """What to generate, in OpenAI terms."""

    messages: list[Message]
    """The conversation, ending with the turn to answer."""
    max_tokens: int = 256
    """Upper bound on generated tokens."""
    temperature: float = 0.0
    """0 means greedy decoding, which makes runs reproducible."""
    top_p: float = 1.0
    """Nucleus sampling mass; only used when temperature > 0."""
    stop: list[str] = field(default_factory=list)
    """Generation ends before the first of these strings."""
    seed: int | None = None
    """Seeds sampling, so a sampled answer can be reproduced."""
    adapter: str | None = None
    """A registered adapter name, or a weighted mix `a:0.7,b:0.3`; None is the bare base model."""
    first_token_bias: dict[int, float] = field(default_factory=dict)
    """Token id -> added to its logit at the first answer token only. The engine sets how sure
    the reader must be before it says "I don't know" this way (`Engine._build`). Backends
    that cannot see logits (an upstream server) ignore it."""
    choices: tuple[str, ...] = ()
    """Where set, the answer is one of these texts, whole: greedy decoding follows only their
    tokens (a token trie, each text ending with the end token), so the model picks the one it
    ranks first token by token, as vLLM's `guided_choice` does. Only a backend that says it
    `chooses` takes it (`Prepared.again` asks for it no other way)."""


@dataclass
class Generation:
    """A finished answer and its token accounting."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    """"stop" (end of text or a stop string) or "length" (hit max_tokens)."""

    def usage(self) -> dict[str, int]:
        """OpenAI's usage object."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


class Backend(ABC):
    """A model that turns messages into text."""

    name: str = "backend"
    """The model name reported in answers."""
    context_window: int = 2048
    """Tokens the model can attend to, prompt and answer together."""
    parallel: int = 1
    """Answers it decodes at once in this process (llama.cpp's batch slots); a backend that
    queues work elsewhere (an upstream server) says 1 and is sized by `--max-concurrent`."""
    chooses: bool = False
    """Whether it follows `GenerationRequest.choices` (it sees and biases every step's logits)."""

    @abstractmethod
    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """Yield the answer as text pieces, as they are generated."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens in `text` as this model counts them."""

    def count_prompt_tokens(self, messages: list[Message]) -> int:
        """Tokens the prompt for `messages` costs; 4 per message covers role markers."""
        return sum(self.count_tokens(m["content"]) + 4 for m in messages)

    def generate(self, request: GenerationRequest) -> Generation:
        """The whole answer at once, derived from `stream`."""
        return self.account(request, "".join(self.stream(request)))

    def account(self, request: GenerationRequest, text: str) -> Generation:
        """The accounting of `text`, streamed in answer to `request`: a stream carries no
        token ids, so the answer is counted again and ran to the cap if it filled it."""
        completion = self.count_tokens(text)
        return Generation(
            text=text,
            prompt_tokens=self.count_prompt_tokens(request.messages),
            completion_tokens=completion,
            finish_reason="length" if completion >= request.max_tokens else "stop",
        )

    def load_stats(self) -> dict[str, float] | None:
        """What it decodes now and has decoded (`running`, `queued`, `tokens_per_s`, ...),
        for the server's /health and /metrics; None where it keeps no such figures."""
        return None

    def first_token(self, text: str) -> int | None:
        """The id of the token an answer that begins with `text` starts with, for
        `GenerationRequest.first_token_bias`; None where the backend cannot bias logits."""
        return None

    def close(self) -> None:
        """Free what it holds (threads, native memory) now rather than at exit, where a
        native thread still decoding while the interpreter finalizes aborts the process."""
        return None

    def served_adapters(self) -> dict[str, str]:
        """Adapter name -> base model for adapters the backend serves by itself (an upstream
        vLLM's `--lora-modules`); a local backend takes outweigh's registered adapters."""
        return {}


CHOSEN = 1.0e4
"""What a token that continues one of `GenerationRequest.choices` gets added to its logit: the
model's own order among those tokens stays, and no other token is in reach."""


def continuing(choices: Sequence[Sequence[int]], said: Sequence[int]) -> set[int]:
    """The tokens that carry on one of `choices` (token ids, each ending with the end token)
    after the tokens `said` so far."""
    n = len(said)
    return {c[n] for c in choices if len(c) > n and list(c[:n]) == list(said)}


def cut_at_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    """Text before the earliest stop string, and whether one was found."""
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class StopCut:
    """Pieces of text in, the text up to the first stop string out, as it comes. A tail that
    could be the start of a stop string is held back until the next piece shows it is not one."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.hold = max((len(s) for s in self.stops), default=0)
        self.buffer = ""
        self.emitted = 0
        self.stopped = False
        """A stop string was found: nothing more comes out."""

    def feed(self, piece: str) -> str:
        """The text `piece` makes safe to show ("" while it may still begin a stop string)."""
        if self.stopped:
            return ""
        self.buffer += piece
        text, self.stopped = cut_at_stop(self.buffer, self.stops)
        safe = len(text) if self.stopped else len(self.buffer) - self.hold
        if safe <= self.emitted:
            return ""
        out = self.buffer[self.emitted : safe]
        self.emitted = safe
        return out

    def flush(self) -> str:
        """The held-back tail, once the pieces have ended without a stop string."""
        if self.stopped:
            return ""
        out = self.buffer[self.emitted :]
        self.emitted = len(self.buffer)
        return out


def until_stop(pieces: Iterable[str], stops: list[str]) -> Generator[str, None, bool]:
    """The text of `pieces` as it comes, up to the first stop string (`StopCut`). Returns
    whether a stop string ended it (`pieces` may then hold more)."""
    cut = StopCut(stops)
    for piece in pieces:
        out = cut.feed(piece)
        if out:
            yield out
        if cut.stopped:
            return True
    tail = cut.flush()
    if tail:
        yield tail
    return False


Produce = Callable[[Callable[[str], None], threading.Event], None]
"""A producer: `produce(emit, cancelled)` decodes, calls `emit(piece)` for each piece of text,
and returns at its next token step once `cancelled` is set."""


class _Ended:
    """End hooks, run once by the producer's thread; one added after the end runs at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hooks: list[Callable[[str], None]] = []
        self._text: str | None = None

    def add(self, hook: Callable[[str], None]) -> None:
        with self._lock:
            if self._text is None:
                self._hooks.append(hook)
                return
            text = self._text
        hook(text)

    def run(self, text: str) -> None:
        with self._lock:
            self._text, hooks = text, self._hooks
            self._hooks = []
        for hook in hooks:
            hook(text)


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


class Stream(Iterator[str]):
    """An answer decoded by a thread of its own, ahead of whoever reads it.

    The model is held only while the producer decodes: a reader that is slow, stalls or goes
    away never holds it longer than the answer's own `max_tokens`. `close()` cancels from any
    thread (an SSE client gone, the page's Stop, Ctrl-C, a caller that drops the iterator, whose
    garbage collection closes it): the producer stops at its next token step and frees the
    model. A producer's error is raised to the reader at that point of the answer.

    `on_end` hooks run once the reader is done with the answer, with the text it read: all of
    it when it read to the end, what it had read when it closed the stream. They run in the
    producer's thread, after the model is free; a reader that reads to the end gets the
    StopIteration after they ran (and their error instead, if one failed)."""

    POLL_S = 0.5
    """How often a blocked reader wakes, so Ctrl-C reaches it on every platform."""

    CLOSE_WAIT_S = 30.0
    """How long `close()` waits for the end hooks (a memory write) by default."""

    def __init__(self, produce: Produce, name: str = "decode") -> None:
        items: queue.SimpleQueue[Any] = queue.SimpleQueue()
        cancelled = threading.Event()
        reader_done = threading.Event()
        hooks_done = threading.Event()
        read: list[str] = []
        failure: list[BaseException] = []
        ended = _Ended()

        # The thread holds these, never this object, so dropping the last reference to the
        # Stream runs __del__, which cancels and lets the thread end.
        def run() -> None:
            try:
                produce(items.put, cancelled)
            except BaseException as e:  # handed to the reader
                items.put(_Failed(e))
                hooks_done.set()
                return
            items.put(_END)
            reader_done.wait()
            try:
                ended.run("".join(read))
            except BaseException as e:
                failure.append(e)
            finally:
                hooks_done.set()

        self._items = items
        self._ended = ended
        self._read = read
        self._failure = failure
        self._reader_done = reader_done
        self._hooks_done = hooks_done
        self.cancelled = cancelled
        self._done = False
        self._thread = threading.Thread(target=run, name=f"outweigh-{name}", daemon=True)
        self._thread.start()

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> str:
        if self._done:
            raise StopIteration
        while True:
            try:
                item = self._items.get(timeout=self.POLL_S)
                break
            except queue.Empty:
                continue
        if item is _END:
            self._done = True
            self._reader_done.set()
            self._hooks_done.wait()
            if self._failure:
                raise self._failure[0]
            raise StopIteration
        if isinstance(item, _Failed):
            self._done = True
            raise item.error
        self._read.append(str(item))
        return str(item)

    def close(self, wait: bool = True) -> None:
        """Cancel: the producer stops at its next token step. Safe from any thread; with
        `wait`, returns once the end hooks have run (up to `CLOSE_WAIT_S`), so pass False
        where blocking is not allowed (an event loop)."""
        self.cancelled.set()
        self._reader_done.set()
        if wait and threading.current_thread() is not self._thread:
            self._hooks_done.wait(self.CLOSE_WAIT_S)

    def on_end(self, callback: Callable[[str], None]) -> None:
        """Call `callback(text)` once the reader is done (read to the end, or closed the
        stream) with the text it read; never if decoding failed."""
        self._ended.add(callback)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the producer's thread has ended (the model is free and the end hooks
        have run); whether it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.cancelled.set()
        self._reader_done.set()


def detach(pieces: Iterator[str]) -> Stream:
    """`pieces` as a Stream: a producer thread iterates it, so it can be cancelled from any
    thread (closing a generator from a thread other than the one running it is an error)."""
    if isinstance(pieces, Stream):
        return pieces

    def produce(emit: Callable[[str], None], cancelled: threading.Event) -> None:
        try:
            for piece in pieces:
                if cancelled.is_set():
                    return
                emit(piece)
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()

    return Stream(produce)


def held(
    stream: Stream,
    check: Callable[[str], str],
    then: Callable[[str, str], Stream | None] | None = None,
) -> Stream:
    """`stream` read whole, then handed on as `check` of its text, in one piece: for an answer
    that must be judged before anyone sees it (`Prepared.check`). `then`, given the text as
    read and as checked, may return another stream to hand on in its place, piece by piece
    (an answer to ask for instead). Closing the returned stream closes the one it is reading
    at its next token, as closing that one would."""

    def produce(emit: Callable[[str], None], cancelled: threading.Event) -> None:
        parts: list[str] = []
        try:
            for piece in stream:
                if cancelled.is_set():
                    return
                parts.append(piece)
        finally:
            stream.close()
        if cancelled.is_set():
            return
        raw = "".join(parts)
        text = check(raw)
        instead = then(raw, text) if then is not None else None
        if instead is None:
            emit(text)
            return
        try:
            for piece in instead:
                if cancelled.is_set():
                    return
                emit(piece)
        finally:
            instead.close()

    return Stream(produce, name="held")


class Fixed(Backend):
    """Answers one fixed text in place of `backend`, whose name and token counts it keeps."""

    def __init__(self, backend: Backend, text: str) -> None:
        self.backend = backend
        self.text = text
        self.name = backend.name
        self.context_window = backend.context_window

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        yield self.text

    def count_tokens(self, text: str) -> int:
        return self.backend.count_tokens(text)
