"""The web page at `/`: static files shipped in `serve/static/`, served with a strict CSP.

The page is plain HTML, CSS and JS modules (no build step) that speak only this server's own
API, same-origin. Its files hold no secrets, so they are served without the API key (a
browser cannot send one when it opens a URL); every API route the page calls still needs it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

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
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",  # revalidate by ETag, so an upgraded server's page is current
}


class _PageFiles(StaticFiles):
    """StaticFiles with the page's security headers on every answer."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    *((k.encode(), v.encode()) for k, v in HEADERS.items()),
                ]
            await send(message)

        await super().__call__(scope, receive, with_headers)


def add_page(app: FastAPI) -> None:
    """Serve `/` (the page) and `/ui/*` (its scripts and styles)."""
    app.mount("/ui", _PageFiles(directory=STATIC), name="ui")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=HEADERS)
