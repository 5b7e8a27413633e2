"""Any Unicode, lone surrogates included, in any field of any route: a 2xx or a 4xx, never a
5xx. A JSON `"\\ud800"` escape decodes to a lone surrogate, which no tokenizer, embedder or
SQLite accepts; a name can be short in characters and still too long in bytes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.serve.conftest import Live

ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=40)
"""Every code point, surrogates (category Cs) included."""
SURROGATE = "\ud800"

CHAT = {
    "model": "echo",
    "messages": [{"role": "user", "content": "hello"}],
    "stop": ["x"],
    "user": "ann",
    "session": "s1",
    "collection": "docs",
}
EMBED = {"input": ["hello"], "model": "m", "user": "ann"}
PLAN = {"model": "qwen2.5-32b", "quant": "bf16", "gpus": ["h100"], "engine": "vllm"}

FIELDS: list[tuple[str, dict[str, Any], tuple[Any, ...]]] = [
    ("/chat/completions", CHAT, ("model",)),
    ("/chat/completions", CHAT, ("messages", 0, "content")),
    ("/chat/completions", CHAT, ("messages", 0, "role")),
    ("/chat/completions", CHAT, ("messages", 0, "name")),
    ("/chat/completions", CHAT, ("stop", 0)),
    ("/chat/completions", CHAT, ("user",)),
    ("/chat/completions", CHAT, ("session",)),
    ("/chat/completions", CHAT, ("collection",)),
    ("/embeddings", EMBED, ("input", 0)),
    ("/embeddings", EMBED, ("model",)),
    ("/embeddings", EMBED, ("user",)),
    ("/embeddings", EMBED, ("encoding_format",)),
    ("/plan", PLAN, ("model",)),
    ("/plan", PLAN, ("quant",)),
    ("/plan", PLAN, ("gpus", 0)),
    ("/plan", PLAN, ("engine",)),
    ("/plan", {**PLAN, "kv_dtype": "auto"}, ("kv_dtype",)),
]
"""Every string field of every JSON body the server takes, reached from a valid request."""


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    from outweigh.engine import Engine
    from outweigh.settings import Paths
    from outweigh.testing import EchoBackend, FakeEmbedder
    from tests.serve.conftest import SUITE_DOCS, start

    engine = Engine(
        paths=Paths(tmp_path_factory.mktemp("unicode-home")),
        backend=EchoBackend(),
        embedder=FakeEmbedder(),
    )
    engine.ingest([SUITE_DOCS], "docs")
    server, live = start(engine)
    yield live
    server.__exit__()
    engine.close()


def _with(body: dict[str, Any], path: tuple[Any, ...], value: str) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return body


def _post(live: Live, route: str, body: dict[str, Any]) -> httpx.Response:
    # json.dumps escapes a lone surrogate as \\ud800, exactly what a client would send.
    return httpx.post(
        live.url + route,
        content=json.dumps(body),
        headers={"content-type": "application/json"},
        timeout=30,
    )


@pytest.mark.parametrize(("route", "body", "path"), FIELDS, ids=lambda f: str(f))
def test_a_lone_surrogate_in_any_json_field_is_a_one_line_400(live, route, body, path) -> None:
    response = _post(live, route, _with(body, path, f"a{SURROGATE}b"))
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "\n" not in message and ("Unicode" in message or "Input should be" in message)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(field=st.sampled_from(FIELDS), value=ANY_TEXT)
def test_any_text_in_any_json_field_never_answers_5xx(live, field, value) -> None:
    route, body, path = field
    response = _post(live, route, _with(body, path, value))
    assert response.status_code < 500, response.text


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=ANY_TEXT.filter(bool))
def test_any_text_in_names_of_paths_and_queries_never_answers_5xx(live, value) -> None:
    name = quote(value.encode("utf-8", "surrogatepass"), safe="")
    for method, route in [
        ("GET", f"/models/{name}"),
        ("GET", f"/collections/{name}/documents"),
        ("DELETE", f"/collections/{name}/documents/1"),
        ("GET", f"/memories?user={name}"),
        ("DELETE", f"/memories/1?user={name}"),
    ]:
        response = httpx.request(method, live.url + route, timeout=30)
        assert response.status_code < 500, (route, response.text)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=ANY_TEXT.filter(bool))
def test_any_upload_name_never_answers_5xx(live, value) -> None:
    """Any name, as the bytes a client can put in the part's header: UTF-8, with a lone
    surrogate (which UTF-8 cannot encode) sent as the invalid bytes it would be."""
    name = value.encode("utf-8", "surrogatepass")
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="'
        + name.replace(b'"', b"%22").replace(b"\r", b"%0D").replace(b"\n", b"%0A")
        + b'"\r\nContent-Type: text/plain\r\n\r\n# note\n\nplain text\n\r\n--b--\r\n'
    )
    response = httpx.post(
        f"{live.url}/collections/notes/documents",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=b"},
        timeout=30,
    )
    assert response.status_code < 500, response.text


def test_an_upload_name_too_long_in_bytes_is_refused_in_one_line(live) -> None:
    name = "é" * 150 + ".txt"  # 154 characters, 304 bytes: past any file system's 255
    response = httpx.post(
        f"{live.url}/collections/notes/documents", files={"file": (name, b"text")}, timeout=30
    )
    assert response.status_code == 400
    assert "invalid file name" in response.json()["error"]["message"]
