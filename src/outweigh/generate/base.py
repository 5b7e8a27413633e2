"""The backend interface: subclasses implement `stream` and `count_tokens`; the rest is derived."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field

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

    def served_adapters(self) -> dict[str, str]:
        """Adapter name -> base model for adapters the backend serves by itself (an upstream
        vLLM's `--lora-modules`); a local backend takes outweigh's registered adapters."""
        return {}


def cut_at_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    """Text before the earliest stop string, and whether one was found."""
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def until_stop(pieces: Iterable[str], stops: list[str]) -> Generator[str, None, bool]:
    """The text of `pieces` as it comes, up to the first stop string. A tail that could be the
    start of a stop string is held back until the next piece shows it is not one. Returns
    whether a stop string ended it (`pieces` may then hold more)."""
    hold = max((len(s) for s in stops), default=0)
    emitted, buffer = 0, ""
    for piece in pieces:
        buffer += piece
        text, stopped = cut_at_stop(buffer, stops)
        if stopped:
            if len(text) > emitted:
                yield text[emitted:]
            return True
        safe = len(buffer) - hold
        if safe > emitted:
            yield buffer[emitted:safe]
            emitted = safe
    if len(buffer) > emitted:
        yield buffer[emitted:]
    return False
