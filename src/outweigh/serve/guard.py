"""The server's protection: a Host allow-list and a same-origin rule for browsers, the API key
on every route, body-size caps, and a bounded generation queue. All but the queue are plain
ASGI middleware, so they cover every path, /docs, /openapi.json and unknown routes included,
before FastAPI parses anything.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outweigh.serve.errors import APIError, StartWatch, error_response
from outweigh.users import OPERATOR, Principal

UPLOAD_PATH = re.compile(r"/v1/collections/[^/]+/documents/?")
"""Routes that take a document upload, and so the bigger body cap."""

PAGE_PATH = re.compile(r"/(ui/[A-Za-z0-9._-]+)?")
"""The web page (`/`) and its files (`/ui/NAME`): static, no secrets, so no key is asked for
them; a browser opening a URL cannot send one. The page asks for the key and sends it on
every API call."""

MULTIPART_OVERHEAD = 64 * 1024
"""Room for the multipart boundary and part headers around an upload's bytes."""


class OriginMiddleware:
    """403 for a request another web site's page makes through the user's browser.

    - `Host` must name this server: a loopback name, the bound address, or an allowed host.
      DNS rebinding (evil.example resolving to 127.0.0.1) sends `Host: evil.example`.
    - A browser request from another origin (`Origin` not this server's, or
      `Sec-Fetch-Site: cross-site|same-site`) is refused unless its origin is allowed: a
      multipart upload is a "simple" request a page can send cross-site without a CORS
      preflight, so CORS alone would not stop it (Fetch standard, "CORS-safelisted").
    Clients that are not browsers (the openai SDK, curl) send no `Origin` and pass. With a
    wildcard bind (0.0.0.0, ::) the host names clients use are unknown, and the API key that
    such a bind requires guards the server instead; allowed hosts still narrow it.
    """

    def __init__(
        self,
        app: ASGIApp,
        bound: str,
        hosts: tuple[str, ...] = (),
        origins: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        wildcard = bound in ("0.0.0.0", "::", "")
        self.hosts = None if wildcard and not hosts else {h.lower().strip("[]") for h in hosts}
        if self.hosts is not None:
            self.hosts |= {"localhost", "127.0.0.1", "::1", bound.lower().strip("[]")}
        self.origins = {o.rstrip("/").lower() for o in origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host").decode("latin-1").lower()
        name = _hostname(host)
        if self.hosts is not None and name not in self.hosts:
            response = error_response(
                403,
                f"Host {name[:80]!r} is not this server's; start it with --allow-host NAME "
                "to serve that name",
                "host_not_allowed",
            )
            await response(scope, receive, send)
            return
        origin = _header(scope, b"origin").decode("latin-1").rstrip("/").lower()
        fetch_site = _header(scope, b"sec-fetch-site").decode("latin-1").lower()
        # "null" (a sandboxed frame, a file:// page) is never this server's origin.
        if origin and _hostport(origin) != host and origin not in self.origins:
            await _cross_site(origin, scope, receive, send)
            return
        if not origin and fetch_site in ("cross-site", "same-site"):
            await _cross_site(fetch_site, scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _cross_site(what: str, scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(
        403,
        f"cross-origin request from {what[:80]!r} refused; start the server with "
        "--cors-origin ORIGIN to allow that page",
        "cross_origin",
    )
    await response(scope, receive, send)


def _hostname(host: str) -> str:
    """`[::1]:8000` -> `::1`, `localhost:8000` -> `localhost`."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _hostport(origin: str) -> str:
    """`http://127.0.0.1:8000` -> `127.0.0.1:8000`."""
    return origin.partition("://")[2]


class AuthMiddleware:
    """Who is asking, for every HTTP request: `scope["state"]["principal"]`.

    - `Authorization: Bearer <key>` with the server's own key (`--api-key-env`): the
      operator, who may do anything. The comparison is constant-time.
    - A user's key (`outweigh users add`): that user (`Engine.principal`).
    - No users and no server key, on a loopback bind: the operator, as a loopback server has
      always been. Bound beyond this machine (possible only while users existed), removing
      the last user locks everyone out rather than opening the server.
    - Anything else: 401 in OpenAI's shape.
    The one exception is a GET or HEAD of the web page's static files (`PAGE_PATH`). Users
    are looked up per request, so one added while the server runs needs no restart, and the
    first one added makes keys required from the next request on.
    """

    def __init__(
        self,
        app: ASGIApp,
        api_key: str | None,
        who: Callable[[str], Principal | None],
        keyed: Callable[[], bool],
        loopback: bool = True,
    ) -> None:
        self.app = app
        self._key = api_key.encode() if api_key else None
        self._who = who
        self._keyed = keyed
        self._open = loopback and self._key is None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("method") in ("GET", "HEAD") and PAGE_PATH.fullmatch(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        header = _header(scope, b"authorization")
        scheme, _, token = header.partition(b" ")
        token = token.strip() if scheme.lower() == b"bearer" else b""
        principal: Principal | None = None
        if self._key is not None and token and hmac.compare_digest(token, self._key):
            principal = OPERATOR
        elif token:
            principal = self._who(token.decode("latin-1"))
        if principal is None and self._open and not self._keyed():
            principal = OPERATOR
        if principal is None:
            message = (
                "missing API key; send Authorization: Bearer <key>"
                if not token
                else "wrong API key; use the key `outweigh users add` printed, or the server's"
            )
            response = error_response(
                401, message, "invalid_api_key", headers={"www-authenticate": "Bearer"}
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


class _BodyError(StarletteHTTPException):
    """Raised from `receive`. An HTTPException, because FastAPI re-raises those from body
    parsing (anything else it turns into a 400), and the handlers answer it."""

    code = "bad_body"

    async def respond(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(self.status_code, str(self.detail), self.code)
        await response(scope, receive, send)


class _TooLarge(_BodyError):
    code = "request_too_large"

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(413, f"{what} is over the {_size(limit)} cap; send less")


class _TooSlow(_BodyError):
    code = "request_timeout"

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"the request body stopped arriving for {seconds:g} s; resend it")


class BodyLimitMiddleware:
    """413 for a body over its cap: uploads get `upload_bytes`, everything else `body_bytes`;
    408 for a body that stops arriving for `read_timeout_s`.

    A declared Content-Length over the cap is refused before a byte is read; a chunked body
    is counted as it arrives and cut off at the cap, so memory use stays bounded.
    """

    def __init__(
        self, app: ASGIApp, body_bytes: int, upload_bytes: int, read_timeout_s: float = 30.0
    ) -> None:
        self.app = app
        self.body_bytes = body_bytes
        self.upload_bytes = upload_bytes + MULTIPART_OVERHEAD
        self.read_timeout_s = read_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = bool(UPLOAD_PATH.fullmatch(scope.get("path", "")))
        limit = self.upload_bytes if upload else self.body_bytes
        what = "upload" if upload else "request body"
        cap = limit - (MULTIPART_OVERHEAD if upload else 0)
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > limit:
            await _TooLarge(what, cap).respond(scope, receive, send)
            return
        seen, whole = 0, False

        async def counted() -> Message:
            nonlocal seen, whole
            if whole:  # after the body, `receive` only waits for a disconnect: no deadline
                return await receive()
            try:
                # A client that declares more than it sends must not hold a worker forever.
                async with asyncio.timeout(self.read_timeout_s):
                    message = await receive()
            except TimeoutError:
                raise _TooSlow(self.read_timeout_s) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(what, cap)
                whole = not message.get("more_body", False)
            return message

        watch = StartWatch(send)
        try:
            await self.app(scope, counted, watch)
        except _BodyError as e:
            if not watch.started:
                await e.respond(scope, receive, send)


class Gate:
    """Admission for every request that uses the engine: at most `slots` at once and `queue`
    waiting; the next is refused. The server sizes `slots` to the model's batch slots
    (`config.slots_for`), so every admitted chat decodes in the running batch.

    Chat, embeddings and uploads share the slots, the queue and the 429. Bulk work
    (embeddings, uploads) may hold at most `bulk_slots` of the slots, so however many bulk
    requests arrive, a chat finds a slot. A full queue answers 429 at once, so clients back off
    (the openai SDK retries 429 with backoff); a request that waited `timeout_s` for a slot
    answers 503. Runs on the event loop only, so its counters need no lock.
    """

    def __init__(
        self, slots: int, queue: int, timeout_s: float, bulk_slots: int | None = None
    ) -> None:
        self.slots = slots
        self.queue = queue
        self.timeout_s = timeout_s
        self.bulk_slots = max(1, min(slots - 1, slots // 4)) if bulk_slots is None else bulk_slots
        """Default: a quarter of the slots, at least 1, and one fewer than all where there are
        two or more."""
        self.running = 0
        self.waiting = 0
        self.running_bulk = 0
        self.refused = 0
        """Requests answered 429 or 503 since the start."""
        self._free: asyncio.Semaphore | None = None
        self._bulk: asyncio.Semaphore | None = None

    async def acquire(self, bulk: bool = False) -> None:
        if self._free is None or self._bulk is None:
            self._free = asyncio.Semaphore(self.slots)
            self._bulk = asyncio.Semaphore(self.bulk_slots)
        full = self.running_bulk >= self.bulk_slots if bulk else self.running >= self.slots
        if full and self.waiting >= self.queue:
            self.refused += 1
            raise APIError(
                429,
                f"server busy: {self.running} requests running and {self.waiting} queued; "
                "retry shortly",
                "queue_full",
            )
        self.waiting += 1
        try:
            # asyncio.timeout cancels the acquire itself, so a slot granted at the deadline is
            # handed on, never leaked (wait_for in 3.11 can lose it).
            async with asyncio.timeout(self.timeout_s):
                if bulk:
                    await self._bulk.acquire()
                try:
                    await self._free.acquire()
                except BaseException:
                    if bulk:
                        self._bulk.release()
                    raise
        except TimeoutError as e:
            self.refused += 1
            raise APIError(
                503,
                f"no slot freed within {self.timeout_s:g} s; retry later",
                "queue_timeout",
            ) from e
        finally:
            self.waiting -= 1
        self.running += 1
        self.running_bulk += bulk

    def release(self, bulk: bool = False) -> None:
        self.running -= 1
        if self._free is not None:
            self._free.release()
        if bulk:
            self.running_bulk -= 1
            if self._bulk is not None:
                self._bulk.release()

    @asynccontextmanager
    async def slot(self, bulk: bool = False) -> AsyncIterator[None]:
        await self.acquire(bulk)
        try:
            yield
        finally:
            self.release(bulk)


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return b""


def _size(n: int | Any) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"
