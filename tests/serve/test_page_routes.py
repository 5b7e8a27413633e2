"""The routes behind the web page, over real HTTP: collections, the planner as JSON, the page's
own files (served without the key, with a strict CSP) and the offline API docs."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest

from outweigh.plan import PlanSpec, plan
from outweigh.serve import ServeSettings
from outweigh.serve.ui import STATIC
from tests.serve.conftest import KEY, Live


def _root(live: Live) -> str:
    return live.url.removesuffix("/v1")


def test_collections_lists_every_collection_with_its_counts(echo_live: Live) -> None:
    got = httpx.get(f"{echo_live.url}/collections").json()["data"]
    docs = echo_live.engine.documents("docs")
    assert got == [
        {
            "name": "docs",
            "documents": len(docs),
            "chunks": echo_live.engine.count_chunks("docs"),
            "owner": None,  # ingested by the operator: every user reads it
            "shared": {},
        }
    ]
    assert got[0]["chunks"] == sum(d.n_chunks for d in docs)


def test_collections_of_an_empty_store_is_an_empty_list(live_factory) -> None:
    live = live_factory()
    assert httpx.get(f"{live.url}/collections").json() == {"object": "list", "data": []}


def test_plan_route_answers_what_the_planner_answers(echo_live: Live) -> None:
    body = {"model": "qwen2.5-32b", "gpus": ["rtx-4090", "h200"], "loras": 5, "rag_chunks": 8}
    got = httpx.post(f"{echo_live.url}/plan", json=body).json()
    want = plan(PlanSpec("qwen2.5-32b", gpus=("rtx-4090", "h200"), loras=5, rag_chunks=8))
    segments = got.pop("segments")
    assert got == httpx.Response(200, json=want.to_dict()).json()  # same JSON, float for float
    assert [g["fits"] for g in got["gpus"]] == [False, True]
    # The chart's segments add up to the plan's total, in the CLI plot's order and colours.
    assert sum(s["bytes"] for s in segments) == want.total_bytes
    assert [s["label"] for s in segments][:2] == ["weights", "LoRA"]
    options = httpx.get(f"{echo_live.url}/plan").json()
    assert "qwen2.5-32b" in options["models"] and "rtx-4090" in [g["id"] for g in options["gpus"]]
    assert options["fields"][0] == "model" and "rag_chunks" in options["fields"]


@pytest.mark.parametrize(
    "body, message",
    [
        ({"model": "/etc/hostname"}, "unknown model '/etc/hostname'; GET /v1/plan lists"),
        ({"model": "qwen2.5-32b", "gpus": ["gpu-9000"]}, "unknown GPU 'gpu-9000'"),
        ({"model": "qwen2.5-32b", "quant": "int3"}, "unknown quantization 'int3'"),
        ({"model": "qwen2.5-32b", "context": 10**9}, "`--context` must be an integer"),
        ({"model": "qwen2.5-32b", "lora_rank": 0}, "lora_rank: Input should be greater"),
        ({"model": "qwen2.5-32b", "batch": "many"}, "batch: Input should be a valid integer"),
        ({}, "model: Field required"),
        (
            {"model": "qwen2.5-32b", "train": "lora"},
            "unknown field `train`; known: model, quant, gpus, context, batch, loras, ",
        ),
        ({"model": "qwen2.5-32b", "contxt": 8192}, "unknown field `contxt`; known: model, "),
    ],
)
def test_a_bad_plan_request_is_a_400_with_one_line(echo_live: Live, body, message) -> None:
    r = httpx.post(f"{echo_live.url}/plan", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["message"].startswith(message)


def test_the_page_needs_no_key_and_the_api_still_does(live_factory) -> None:
    live = live_factory(ServeSettings(api_key=KEY))
    root = _root(live)
    page = httpx.get(root + "/")
    assert page.status_code == 200 and "<title>outweigh</title>" in page.text
    for name in ("app.js", "markdown.js", "charts.js", "app.css"):
        r = httpx.get(f"{root}/ui/{name}")
        assert r.status_code == 200, name
        assert KEY not in r.text
    assert httpx.head(root + "/ui/app.js").status_code == 200
    assert httpx.get(f"{live.url}/collections").status_code == 401
    assert httpx.get(f"{root}/ui/missing.js").status_code == 404


def test_the_page_is_served_with_a_strict_content_security_policy(echo_live: Live) -> None:
    root = _root(echo_live)
    for path in ("/", "/ui/app.js"):
        csp = httpx.get(root + path).headers["content-security-policy"]
        assert "script-src 'self'" in csp and "connect-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    # Every file the page loads is its own: no other host is named anywhere in it.
    for f in STATIC.iterdir():
        urls = re.findall(r"(?:src|href)=\"([^\"]+)\"", f.read_text(encoding="utf-8"))
        assert all(u.startswith(("/", "#", "data:")) for u in urls), (f.name, urls)


def test_the_docs_are_served_with_a_csp_and_no_framing(echo_live: Live) -> None:
    root = _root(echo_live)
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        r = httpx.get(root + path)
        assert r.status_code == 200
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        csp = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
        assert csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'none'"
        assert csp["connect-src"] == "'self'" and csp["base-uri"] == "'none'"
        # Scripts: this server's files, and the page's own inline start-up script by its hash.
        inline = re.findall(r"<script>(.*?)</script>", r.text, re.S)
        hashes = [
            "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
            for s in inline
        ]
        assert csp["script-src"].split() == ["'self'", *hashes]
        assert "unsafe-eval" not in r.headers["content-security-policy"]
    assert "unsafe-inline" not in httpx.get(root + "/docs").headers["content-security-policy"]
    asset = httpx.get(root + "/static-offline-docs/swagger-ui-bundle.js")
    assert asset.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(root + "/").headers["x-frame-options"] == "DENY"


def test_docs_load_their_assets_from_this_server(echo_live: Live) -> None:
    root = _root(echo_live)
    for page in ("/docs", "/redoc"):
        html = httpx.get(root + page).text
        assets = re.findall(r"(?:src|href)=['\"]([^'\"]+)['\"]", html)
        assert assets and all(a.startswith("/") for a in assets), assets
        for a in assets:
            assert httpx.get(root + a).status_code == 200, a
