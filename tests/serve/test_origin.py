"""A loopback server only answers requests made to it: a page on another site cannot reach it
through the user's browser, by cross-site request or by DNS rebinding."""

from __future__ import annotations

import httpx

from outweigh.serve import ServeSettings

NOTE = {"file": ("note.md", b"# Note\n\nThe gate code is planted.\n")}


def _upload(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{url}/collections/planted/documents", files=NOTE, headers=headers)


def _nothing_planted(url: str) -> None:
    assert httpx.get(f"{url}/collections/planted/documents").status_code == 404


def test_a_page_on_another_site_cannot_plant_a_document(live_factory) -> None:
    live = live_factory()
    for headers in (
        {"origin": "https://evil.example"},
        {"origin": "null"},  # a sandboxed frame or a file:// page
        {"sec-fetch-site": "cross-site"},  # a browser that sent no Origin
        {"origin": "http://127.0.0.1:1", "sec-fetch-site": "same-site"},  # another local port
    ):
        refused = _upload(live.url, headers)
        assert refused.status_code == 403, headers
        error = refused.json()["error"]
        assert error["code"] == "cross_origin" and "--cors-origin" in error["message"]
    _nothing_planted(live.url)


def test_dns_rebinding_is_refused_by_the_host_allow_list(live_factory) -> None:
    live = live_factory()
    rebound = httpx.get(f"{live.url}/models", headers={"host": "evil.example:8000"})
    assert rebound.status_code == 403 and rebound.json()["error"]["code"] == "host_not_allowed"
    assert "--allow-host" in rebound.json()["error"]["message"]
    assert httpx.get(f"{live.url}/models", headers={"host": "localhost"}).status_code == 200


def test_the_servers_own_origin_and_allowed_ones_pass(live_factory) -> None:
    live = live_factory(
        ServeSettings(cors_origins=("http://app.example:3000",), allowed_hosts=("box.lan",))
    )
    own = f"http://127.0.0.1:{live.server.port}"
    assert _upload(live.url, {"origin": own, "sec-fetch-site": "same-origin"}).status_code == 201
    allowed = _upload(live.url, {"origin": "http://app.example:3000"})
    assert allowed.status_code == 201
    assert allowed.headers["access-control-allow-origin"] == "http://app.example:3000"
    preflight = httpx.options(
        f"{live.url}/chat/completions",
        headers={
            "origin": "http://app.example:3000",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert httpx.get(f"{live.url}/models", headers={"host": "box.lan:80"}).status_code == 200
    assert _upload(live.url, {"origin": "http://other.example"}).status_code == 403
