"""The web page at `/`: static files shipped in `serve/static/`, served with a strict CSP;
and the same walls around the API docs (`/docs`, `/redoc`).

The page is plain HTML, CSS and JS modules (no build step) that speak only this server's own
API, same-origin. Its files hold no secrets, so they are served without the API key (a
browser cannot send one when it opens a URL); every API route the page calls still needs it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).with_name("static")
"""The page's files, inside the package (pyproject's package-data ships them)."""

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""Only this server's own files run or load: a script or inline handler that reached the
DOM would not run, and nothing can be fetched from or sent to another host. The page builds
model text with textContent (static/markdown.js); this is the second wall."""

HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",  # frame-ancestors 'none' for browsers that predate CSP 2
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",  # revalidate by ETag, so an upgraded server's page is current
}

DOCS_HEADERS = {
    k: v for k, v in HEADERS.items() if k not in ("content-security-policy", "cache-control")
}
"""The page's headers but its CSP (each docs page has its own) and caching."""

SWAGGER_PATHS = ("/docs", "/docs/oauth2-redirect")
REDOC_PATHS = ("/redoc",)
DOCS_ASSETS = "/static-offline-docs/"
"""Where fastapi-offline serves the docs pages and their scripts (its defaults)."""

DOCS_CSP = (
    "default-src 'none'; script-src 'self'{scripts}; style-src 'self'{styles}; "
    "img-src 'self' data:; connect-src 'self'{workers}; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
"""The docs pages' policy: their scripts and styles from this server only, plus each page's
own inline start-up script by its hash (computed from the page as served, so a new
fastapi-offline needs no edit here). ReDoc also needs inline styles (styled-components
injects them) and a worker from a blob: URL (its search); Swagger UI needs neither. Its
"Try it out" calls this server only (connect-src 'self'). Measured in Chromium: both pages
render every operation with no violation but ReDoc's remote logo, which stays blocked."""

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


class _PageFiles(StaticFiles):
    """StaticFiles with the page's security headers on every answer."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, _adding(send, HEADERS))


def docs_csp(path: str, html: bytes) -> str:
    """The CSP for the docs page at `path` whose body is `html`."""
    hashes = "".join(
        " 'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    redoc = path in REDOC_PATHS
    return DOCS_CSP.format(
        scripts=hashes,
        styles=" 'unsafe-inline'" if redoc else "",
        workers="; worker-src blob:" if redoc else "",
    )


class DocsHeadersMiddleware:
    """The page's security headers on the API docs: a CSP per page (`docs_csp`), no framing,
    no sniffing, no referrer; their script and style files get all but the CSP."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path in SWAGGER_PATHS or path in REDOC_PATHS:
            await self._page(path, scope, receive, send)
        elif path.startswith(DOCS_ASSETS):
            await self.app(scope, receive, _adding(send, DOCS_HEADERS))
        else:
            await self.app(scope, receive, send)

    async def _page(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        """The page is a few KB of HTML: held whole, so its inline scripts can be hashed."""
        start: Message | None = None
        body: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            body.append(message.get("body", b""))
            if message.get("more_body") or start is None:
                return
            html = b"".join(body)
            csp = {"content-security-policy": docs_csp(path, html)}
            await _adding(send, DOCS_HEADERS | csp)(start)
            await send({"type": "http.response.body", "body": html})

        await self.app(scope, receive, hold)


def _adding(send: Send, headers: dict[str, str]) -> Send:
    """`send` with `headers` added to the response."""

    async def with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [
                *message.get("headers", []),
                *((k.encode(), v.encode()) for k, v in headers.items()),
            ]
        await send(message)

    return with_headers


def add_page(app: FastAPI) -> None:
    """Serve `/` (the page) and `/ui/*` (its scripts and styles), and put the same headers
    on the API docs."""
    app.mount("/ui", _PageFiles(directory=STATIC), name="ui")
    app.add_middleware(DocsHeadersMiddleware)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=HEADERS)
