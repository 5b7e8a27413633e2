"""Upstream mode: one outweigh server generating through a second one over real HTTP.

The outer server retrieves, builds the prompt and picks the adapter; the inner one (an
EchoBackend named like the bundled model) records exactly what reached it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import openai
import pytest

from outweigh.engine import Engine
from outweigh.errors import InputError, NotFoundError
from outweigh.generate.base import GenerationRequest
from outweigh.generate.upstream import (
    UpstreamBackend,
    UpstreamBusy,
    UpstreamError,
    first_base_model,
)
from outweigh.prompt import SYSTEM_RAG
from outweigh.serve import BackgroundServer, ServeSettings, build_engine, create_app
from outweigh.settings import Paths
from outweigh.testing import EchoBackend, FakeEmbedder
from tests.serve.conftest import SUITE_DOCS, register_adapter

QUESTION = "Who is the director of the Vellmark Tidal Robotics Cooperative?"


@pytest.fixture
def inner(paths: Paths):
    """The upstream: an outweigh server whose backend records every request."""
    backend = EchoBackend("smollm2-135m")
    engine = Engine(paths=paths, backend=backend, embedder=FakeEmbedder())
    with BackgroundServer(create_app(engine)) as server:
        yield server, backend
    engine.close()


def test_the_built_prompt_and_the_adapter_name_reach_the_upstream(
    paths: Paths, inner, tmp_path
) -> None:
    server, seen = inner
    register_adapter(paths, "style")  # known to the upstream only, as vLLM's --lora-modules
    assert build_engine(ServeSettings(upstream=server.url)).model == "smollm2-135m"
    assert first_base_model(server.url) == "smollm2-135m"  # asked the upstream's /models
    outer = Engine(
        paths=Paths(tmp_path / "outer"),  # its own state: no adapters registered here
        model="smollm2-135m",
        embedder=FakeEmbedder(),  # the real MiniLM is not the point here
        backend_factory=lambda name: UpstreamBackend(server.url, name),
    )
    outer.ingest([SUITE_DOCS], "docs")
    with BackgroundServer(create_app(outer)) as front:
        client = openai.OpenAI(base_url=front.url, api_key="x", max_retries=0, timeout=60)
        cards = {m.id: m.model_extra["parent"] for m in client.models.list()}
        assert cards == {"smollm2-135m": None, "style": "smollm2-135m"}  # from the upstream
        reply = client.chat.completions.create(
            model="style",
            messages=[{"role": "user", "content": QUESTION}],
            max_tokens=200,
            seed=3,
            stop=["zzz"],
            extra_body={"collection": "docs", "k": 2},
        )
        request = seen.requests[-1]
        assert request.adapter == "style"  # the adapter name was the upstream `model`
        assert (request.max_tokens, request.seed, request.stop) == (200, 3, ["zzz"])
        assert request.messages[0] == {"role": "system", "content": SYSTEM_RAG}
        cites = reply.model_extra["citations"]
        assert 1 <= len(cites) <= 2  # context selection may keep one passage of the k=2
        for c in cites:  # the outer server's retrieved context is inside the upstream prompt
            assert f"[{c['n']}] ({c['source']})" in request.messages[-1]["content"]
        # ... and the upstream's answer (the echo of that prompt) came back: the inner
        # outweigh took the outer's finished prompt as it was, not wrapped in a second
        # "Question: ".
        assert reply.choices[0].message.content.startswith("Context:\n[1]")

        streamed = client.chat.completions.create(
            model="smollm2-135m",
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
            extra_body={"collection": "docs", "k": 2},
        )
        chunks = list(streamed)
        assert seen.requests[-1].adapter is None
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text.startswith("Context:\n[1]")
        assert [c["chunk_id"] for c in chunks[-1].model_extra["citations"]] == [
            c["chunk_id"] for c in cites
        ]
    outer.close()


def test_upstream_errors_map_to_the_clients_terms(paths: Paths, inner) -> None:
    server, _ = inner
    backend = UpstreamBackend(server.url, "smollm2-135m")
    ask = GenerationRequest(messages=[{"role": "user", "content": "hi"}], max_tokens=8)
    assert backend.generate(ask).text == "Question: hi"
    assert "".join(backend.stream(ask)) == "Question: hi"
    ghost = GenerationRequest(ask.messages, max_tokens=8, adapter="ghost")
    with pytest.raises(NotFoundError, match="unknown model 'ghost'"):
        backend.generate(ghost)
    with pytest.raises(NotFoundError, match="unknown model 'ghost'"):
        list(backend.stream(ghost))
    with pytest.raises(InputError, match="runs only on the local backend"):
        backend.generate(GenerationRequest(ask.messages, adapter="a:0.5,b:0.5"))
    with pytest.raises(InputError, match="rejected the request"):
        backend.generate(GenerationRequest(ask.messages, max_tokens=10**6))

    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = UpstreamBackend(f"http://127.0.0.1:{port}/v1", "m")
    with pytest.raises(UpstreamError, match="unreachable"):
        dead.generate(ask)
    assert dead.context_window == 8192  # the probe failed: the documented default
    outer = Engine(paths=paths, backend=dead, embedder=FakeEmbedder())
    with BackgroundServer(create_app(outer)) as front:
        client = openai.OpenAI(base_url=front.url, api_key="x", max_retries=0)
        with pytest.raises(openai.APIStatusError) as e:
            client.chat.completions.create(model="m", messages=ask.messages)
        assert e.value.status_code == 502 and "unreachable" in e.value.message
    with pytest.raises(InputError, match="not an http"):
        UpstreamBackend("127.0.0.1:8001", "m")


class _Flaky(BaseHTTPRequestHandler):
    """Answers each chat request with the next of `script` (status, Retry-After or None)."""

    script: ClassVar[list[tuple[int, str | None]]] = []
    seen: ClassVar[list[float]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.seen.append(time.monotonic())
        status, after = self.script.pop(0) if self.script else (200, None)
        body = {"error": {"message": "slow down"}}
        if status == 200:
            body = {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        if after is not None:
            self.send_header("retry-after", after)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[type[_Flaky]]:
    """A stub OpenAI endpoint that fails as scripted: the test is about our client's retries,
    not about a server's answers."""
    handler = type("Handler", (_Flaky,), {"script": [], "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/v1"  # type: ignore[attr-defined]
    yield handler
    server.shutdown()
    server.server_close()


def test_busy_and_failing_answers_are_retried_as_retry_after_says(flaky) -> None:
    ask = GenerationRequest(messages=[{"role": "user", "content": "hi"}], max_tokens=8)
    flaky.script[:] = [(429, "1"), (503, "0"), (200, None)]
    backend = UpstreamBackend(flaky.url, "m", retries=2)
    assert backend.generate(ask).text == "ok"
    t = flaky.seen
    assert len(t) == 3
    assert t[1] - t[0] >= 1.0  # Retry-After: 1 was waited out
    assert t[2] - t[1] < 0.9  # Retry-After: 0 was not replaced by a backoff step

    flaky.script[:] = [(429, "0"), (500, "0"), (502, "0")]
    with pytest.raises(UpstreamError, match="failed with 502"):
        UpstreamBackend(flaky.url, "m", retries=2).generate(ask)  # three tries, then up
    flaky.script[:] = [(429, "0")]
    with pytest.raises(UpstreamBusy):  # the server's own client: sent once
        UpstreamBackend(flaky.url, "m").generate(ask)
    flaky.script[:] = [(400, "0")]
    with pytest.raises(InputError, match="rejected"):  # the caller's fault: never retried
        UpstreamBackend(flaky.url, "m", retries=2).generate(ask)
    assert not flaky.script
