"""What the server runs with: its settings (bind, key, caps) and the state its routes share.

Every cap is a plain number here, so a deployment tunes them in one place and tests can make
them tiny. Defaults fit the bundled CPU model; docs/serving.md says what to raise for vLLM.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from outweigh.errors import InputError
from outweigh.settings import IngestLimits, env_secret

if TYPE_CHECKING:
    from fastapi import Request

    from outweigh.engine import Engine
    from outweigh.models.options import LoadOptions
    from outweigh.serve.guard import Gate
    from outweigh.users import Principal

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


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
    max_concurrent: int | None = None
    """Requests using the engine at once; None: the local model's batch slots (llama.cpp
    decodes `$OUTWEIGH_LLAMA_SLOTS` answers together, 8 by default), at least 4. Raise it for
    vLLM, which batches concurrent requests on the GPU."""
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
    read_timeout_s: float = 30.0
    """A request body that stops arriving for this long is answered 408 and its connection
    freed: a declared Content-Length that never comes would otherwise hold it forever."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names clients may use beyond loopback and the bound address (`--allow-host`),
    e.g. the machine's name behind a reverse proxy; any other `Host` is a 403 (DNS rebinding)."""
    cors_origins: tuple[str, ...] = ()
    """Web page origins (`--cors-origin http://host:port`) allowed to call the server from a
    browser; other cross-origin browser requests are a 403, uploads included."""
    load: LoadOptions | None = None
    """Device, dtype and quantization of the local model and the embedder (`--device`,
    `--dtype`, `--load-in`); None takes the environment's, else auto."""
    embedder: str | None = None
    """sentence-transformers folder or hub id for retrieval, memory and /v1/embeddings; None
    takes `$OUTWEIGH_EMBEDDER`, else the bundled all-MiniLM-L6-v2."""

    def validate(self) -> None:
        """Raise InputError naming the flag when a value is out of range."""
        positive = {
            "--max-concurrent": 1 if self.max_concurrent is None else self.max_concurrent,
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
        if self.read_timeout_s <= 0:
            raise InputError("`--read-timeout` must be more than 0 seconds")
        if self.queue_timeout_s <= 0:
            raise InputError("`--queue-timeout` must be more than 0 seconds")
        if not 0 <= self.port <= 65535:
            raise InputError("`--port` must be between 0 and 65535")
        if self.api_key is not None and not self.api_key.strip():
            raise InputError("the API key is empty; put a non-empty key in the variable")

    def check_bind(self, users: bool = False) -> None:
        """Refuse to listen beyond this machine without keys: anyone on the network could
        read the documents and memories and spend the GPU. `users`: whether any user (and so
        a key per user) exists."""
        if not is_loopback(self.host) and not self.api_key and not users:
            raise InputError(
                f"refusing to bind {self.host} without keys; add a user with `outweigh users "
                "add NAME`, or set a key with --api-key-env VAR, or bind 127.0.0.1"
            )


def slots_for(settings: ServeSettings, engine: Engine) -> int:
    """The gate's slots: `--max-concurrent`, else the loaded model's batch slots (at least
    4, the old default, so a one-at-a-time model still queues in the engine, not in 429s)."""
    if settings.max_concurrent is not None:
        return settings.max_concurrent
    backend = engine.loaded_backend()
    return max(4, backend.parallel if backend is not None else 1)


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


def principal_of(request: Request) -> Principal:
    """Who sent `request` (set by `AuthMiddleware`); a request it did not see is refused."""
    from outweigh.serve.errors import APIError

    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise APIError(401, "missing API key; send Authorization: Bearer <key>", "invalid_api_key")
    return principal  # type: ignore[no-any-return]


@dataclass
class ServerState:
    """What every route shares: the engine (which locks its own shared state), the caps and
    the generation gate."""

    engine: Engine
    settings: ServeSettings
    gate: Gate
