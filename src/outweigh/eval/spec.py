"""The config grammar of `outweigh eval --config`: `MODEL[@URL][+rag][+lora:NAME][+memory]`.

A config is one way of answering: a base model, optionally with retrieval over the suite's
documents, a LoRA adapter, and long-term memory. Examples:

    smollm2-135m                          the bare model, loaded here
    smollm2-135m+rag                      with retrieval
    smollm2-135m+rag+lora:signoff+memory  everything outweigh adds
    gemma3-270m                           the bigger bare model to outweigh
    qwen32b@http://gpu:8000/v1+rag+lora:support
                                          a model an OpenAI-compatible server serves (vLLM,
                                          llama.cpp, Ollama, `outweigh serve`, a hosted API)

With `@URL`, MODEL is the name the server knows the model by, and `lora:NAME` the name it
serves the adapter under (vLLM's `--lora-modules NAME=DIR`; `outweigh serve` lists each
registered adapter as a model); retrieval and memory still run here, only generation goes
there. The URL is the server's OpenAI base URL, the one the openai SDK calls `base_url`; it
runs to the first '+', so a URL holding '+' cannot be written here.

Parsing is pure (no model, db, adapter or network is touched); the runner checks that the
model, the adapter and the endpoint answer before it loads anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from outweigh.errors import InputError
from outweigh.names import check_name

GRAMMAR = "MODEL[@URL][+rag][+lora:NAME][+memory]"
"""Shown in every spec error, so the fix is on the same line as the problem."""

EXAMPLE = "smollm2-135m+rag+lora:signoff"


@dataclass(frozen=True)
class ConfigSpec:
    """One parsed `--config`: what answers the suite."""

    model: str
    """Catalog name, local model directory or hub id (resolved by the runner); with
    `endpoint`, the model name that server takes."""
    rag: bool = False
    """Retrieve from the suite's documents for the facts questions."""
    adapter: str | None = None
    """Registered LoRA adapter name (with `endpoint`: the name the server serves it under);
    None is the bare base model."""
    memory: bool = False
    """Long-term memory on: `say` lines are captured and recalled in later sessions."""
    endpoint: str | None = None
    """OpenAI-compatible base URL that generates (`http://host:port/v1`), without a trailing
    slash; None loads the model here."""

    def __str__(self) -> str:
        """The canonical spelling: parts always in grammar order, so equal configs print alike."""
        parts = [f"{self.model}@{self.endpoint}" if self.endpoint else self.model]
        if self.rag:
            parts.append("rag")
        if self.adapter:
            parts.append(f"lora:{self.adapter}")
        if self.memory:
            parts.append("memory")
        return "+".join(parts)

    @property
    def augmented(self) -> bool:
        """Whether anything is added to the bare model."""
        return self.rag or self.adapter is not None or self.memory

    def with_rag(self, rag: bool) -> ConfigSpec:
        """The same config with retrieval switched on or off."""
        return ConfigSpec(self.model, rag, self.adapter, self.memory, self.endpoint)

    @property
    def runs_on(self) -> tuple[str, str | None]:
        """(model, endpoint): configs sharing it share one loaded model or one connection."""
        return self.model, self.endpoint


def parse_spec(text: str) -> ConfigSpec:
    """Parse one `MODEL[@URL][+rag][+lora:NAME][+memory]`; parts after the model come in any
    order."""
    raw = text.strip()
    if not raw:
        raise InputError(f"empty --config; write {GRAMMAR}, e.g. {EXAMPLE}")
    model, *parts = raw.split("+")
    model, at, url = model.strip().partition("@")
    model = model.strip()
    endpoint = _endpoint(url.strip(), raw) if at else None
    if not model:
        raise InputError(f"--config {raw!r} has no model before '+' or '@'; write {GRAMMAR}")
    if "://" in model:
        raise InputError(
            f"--config {raw!r}: name the model the server serves before its URL, as in "
            "MODEL@http://127.0.0.1:8000/v1"
        )
    if any(c.isspace() for c in model):
        raise InputError(f"--config {raw!r}: the model name has a space; write {GRAMMAR}")
    rag = memory = False
    adapter: str | None = None
    seen: set[str] = set()
    for part in parts:
        part = part.strip()
        key = part.split(":", 1)[0].lower()
        if not part:
            raise InputError(f"--config {raw!r} has an empty part ('++' or a trailing '+')")
        if key in seen:
            raise InputError(f"--config {raw!r} gives '{key}' twice; write {GRAMMAR}")
        seen.add(key)
        if key == "rag" and part.lower() == "rag":
            rag = True
        elif key == "memory" and part.lower() == "memory":
            memory = True
        elif key == "lora":
            name = part.split(":", 1)[1].strip() if ":" in part else ""
            if not name:
                raise InputError(
                    f"--config {raw!r}: 'lora' needs an adapter name, as in +lora:NAME "
                    "(see outweigh adapters list)"
                )
            adapter = check_name(name, "adapter")
        else:
            raise InputError(
                f"unknown part {part!r} in --config {raw!r}; use rag, lora:NAME or memory, "
                f"as in {GRAMMAR}"
            )
    return ConfigSpec(model, rag, adapter, memory, endpoint)


def _endpoint(url: str, raw: str) -> str:
    """An http(s) base URL with a host, without a trailing slash, or a one-line error."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            f"--config {raw!r}: {url!r} after '@' is not an http(s) URL; write the server's "
            "OpenAI base URL, as in MODEL@http://127.0.0.1:8000/v1"
        )
    return url.rstrip("/")


def parse_specs(texts: Iterable[str]) -> list[ConfigSpec]:
    """Parse several `--config`s, in order; none at all, or one given twice, is an error."""
    specs: list[ConfigSpec] = []
    for text in texts:
        spec = parse_spec(text)
        if spec in specs:
            raise InputError(f"--config {spec} is given twice; each config runs once")
        specs.append(spec)
    if not specs:
        raise InputError(
            f"give at least one --config {GRAMMAR}, e.g. --config smollm2-135m --config {EXAMPLE}"
        )
    return specs


def parse_judge(text: str) -> ConfigSpec:
    """Parse `--judge MODEL[@URL]`: a bare model, here or on a server, that grades answers."""
    raw = text.strip()
    if not raw:
        raise InputError("empty --judge; write MODEL or MODEL@URL, e.g. --judge gemma3-270m")
    if "+" in raw:
        raise InputError(
            f"--judge {raw!r}: a judge is a bare model; write MODEL or MODEL@URL, without "
            "+rag, +lora or +memory"
        )
    try:
        return parse_spec(raw)
    except InputError as e:
        raise InputError(
            str(e).replace("--config", "--judge").replace(GRAMMAR, "MODEL[@URL]")
        ) from None
