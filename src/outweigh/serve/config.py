"""What the server runs with: its settings (bind, key, caps) and the state its routes share.

Every cap is a plain number here, so a deployment tunes them in one place and tests can make
them tiny. Defaults fit the bundled CPU model; docs/serving.md says what to raise for vLLM.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from outweigh.errors import InputError
from outweigh.settings import IngestLimits, env_secret

if TYPE_CHECKING:
    from outweigh.engine import Engine
    from outweigh.serve.guard import Gate

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

UPSTREAM_TTL_S = 30.0
"""How long the upstream's model list is trusted: adapters loaded into vLLM at runtime show
up within this, without one HTTP call per request."""

log = logging.getLogger("outweigh.serve")


@dataclass(frozen=True)
class ServeSettings:
    """How `outweigh serve` binds, authenticates and limits requests."""

    host: str = "127.0.0.1"
    """Interface to bind. Loopback by default; any other host needs `api_key`."""
    port: int = 8000
    """TCP port to listen on."""
    model: str | None = None
    """Base model: a catalog name, dir or hub id; with `upstream`, the upstream's model name
    (None asks the upstream for its first base model)."""
    upstream: str | None = None
    """Base URL of an OpenAI-compatible server (e.g. vLLM) that does the generation."""
    upstream_api_key: str | None = field(default=None, repr=False)
    """Bearer key sent to the upstream, if it wants one."""
    api_key: str | None = field(default=None, repr=False)
    """When set, every route (docs and management included) requires `Bearer <api_key>`."""
    max_concurrent: int = 4
    """Generations running at once. The local backend runs one at a time per model anyway;
    raise it for vLLM, which batches concurrent requests on the GPU."""
    max_queue: int = 16
    """Requests waiting for a generation slot; one more is answered 429."""
    queue_timeout_s: float = 120.0
    """A request that waited this long for a slot is answered 503."""
    max_n: int = 4
    """Largest `n` (choices per request); each choice is a full generation."""
    max_messages: int = 256
    """Most messages in one chat request."""
    max_message_chars: int = 200_000
    """Most characters over all messages of one request (or all inputs of an embedding
    request): about 50k tokens, far past any window the engine fills (8192 tokens)."""
    max_body_bytes: int = 4 * 1024 * 1024
    """Largest JSON request body, in bytes; 413 above it."""
    max_upload_bytes: int = field(default_factory=lambda: IngestLimits().max_file_bytes)
    """Largest uploaded document, in bytes (`OUTWEIGH_MAX_FILE_MB`, the ingest cap)."""
    max_embedding_inputs: int = 256
    """Most texts in one /v1/embeddings request (one embedder batch)."""
    default_max_tokens: int = 256
    """Answer length when the request gives no `max_tokens`."""

    def validate(self) -> None:
        """Raise InputError naming the flag when a value is out of range."""
        positive = {
            "--max-concurrent": self.max_concurrent,
            "--max-n": self.max_n,
            "--max-messages": self.max_messages,
            "--max-message-chars": self.max_message_chars,
            "--max-body-bytes": self.max_body_bytes,
            "--max-upload-bytes": self.max_upload_bytes,
            "--max-embedding-inputs": self.max_embedding_inputs,
            "--default-max-tokens": self.default_max_tokens,
        }
        for flag, value in positive.items():
            if value < 1:
                raise InputError(f"`{flag}` must be at least 1")
        if self.max_queue < 0:
            raise InputError("`--queue` must be 0 or more")
        if self.queue_timeout_s <= 0:
            raise InputError("`--queue-timeout` must be more than 0 seconds")
        if not 0 <= self.port <= 65535:
            raise InputError("`--port` must be between 0 and 65535")
        if self.api_key is not None and not self.api_key.strip():
            raise InputError("the API key is empty; put a non-empty key in the variable")

    def check_bind(self) -> None:
        """Refuse to listen beyond this machine without a key: anyone on the network could
        read the documents and memories and spend the GPU."""
        if not is_loopback(self.host) and not self.api_key:
            raise InputError(
                f"refusing to bind {self.host} without an API key; set one with "
                "--api-key-env VAR (the variable holds the key) or bind 127.0.0.1"
            )


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and the usual names for them."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def api_key_from_env(var: str | None, default_var: str) -> str | None:
    """The key held by environment variable `var`, which must then be set; with no `var`,
    `default_var`'s value if it is set, else None (no key).

    Keys are read from the environment, never from a flag, so they stay out of `ps` output
    and shell history.
    """
    value = env_secret(var or default_var)
    if var and not value:
        raise InputError(f"{var} is unset or empty; export the key in it, or drop the flag")
    return value or None


@dataclass
class ServerState:
    """What every route shares: the engine, the caps, the generation gate, the store lock."""

    engine: Engine
    settings: ServeSettings
    gate: Gate
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Serialises the store, the registry and the embedder: one SQLite connection and one
    embedder serve all requests, a write transaction must not interleave with other threads'
    reads, and a fast tokenizer refuses concurrent calls ("Already borrowed").
    Generation runs outside it."""
    _upstream: tuple[float, dict[str, str]] = (-UPSTREAM_TTL_S, {})

    def upstream_adapters(self) -> dict[str, str]:
        """LoRA name -> base for what an upstream serves (vLLM lists `--lora-modules` entries
        with a `parent`), re-read every UPSTREAM_TTL_S; empty for a local backend."""
        from outweigh.generate.upstream import UpstreamBackend, UpstreamError

        backend = self.engine.backend()
        if not isinstance(backend, UpstreamBackend):
            return {}
        fetched, adapters = self._upstream
        if time.monotonic() - fetched >= UPSTREAM_TTL_S:
            try:
                listed = backend.list_models()
                adapters = {m["id"]: str(m["parent"]) for m in listed if m.get("parent")}
            except UpstreamError as e:  # keep serving the base; generation will say why
                log.warning("cannot list the upstream's models: %s", e)
            self._upstream = (time.monotonic(), adapters)
        return adapters


def served_models(state: ServerState) -> dict[str, str | None]:
    """Model names a request may use: the base (parent None), each registered adapter and,
    in upstream mode, each LoRA the upstream serves (parent = its base). Call under
    `state.lock`."""
    models: dict[str, str | None] = {state.engine.model: None}
    for info in state.engine.adapters.list():
        models.setdefault(info.name, info.base_model)
    for name, parent in state.upstream_adapters().items():
        models.setdefault(name, parent)
    return models


def resolve_model(state: ServerState, name: str) -> tuple[str, str | None]:
    """(base model, adapter or None) for a request's `model`; unknown names are a 404."""
    from outweigh.serve.errors import APIError

    models = served_models(state)
    if name not in models:
        raise APIError(
            404,
            f"unknown model {name!r}; choose one of: {', '.join(models)} (see /v1/models)",
            "model_not_found",
            "model",
        )
    parent = models[name]
    return (name, None) if parent is None else (parent, name)
