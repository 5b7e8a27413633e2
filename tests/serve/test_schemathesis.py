"""schemathesis over the server's own OpenAPI document: whatever it sends, never a 5xx.

Generation runs on EchoBackend and embeddings on FakeEmbedder, so the run stays bounded
(MAX_EXAMPLES per route) and fast; the routes, schemas, caps and handlers are the real ones.
Each operation gets its own hypothesis run; a failure names the operation and the case.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from outweigh.engine import Engine
from outweigh.serve import ServeSettings, create_app
from outweigh.settings import Paths
from outweigh.testing import EchoBackend, FakeEmbedder
from tests.serve.conftest import SUITE_DOCS

MAX_EXAMPLES = 40


def test_no_route_answers_5xx(paths: Paths) -> None:
    engine = Engine(paths=paths, backend=EchoBackend("smollm2-135m"), embedder=FakeEmbedder())
    engine.ingest([SUITE_DOCS], "docs")
    # schemathesis' ASGI client sends `Host: testserver`, so the allow-list names it.
    serve_settings = ServeSettings(
        max_upload_bytes=64 * 1024, queue_timeout_s=5, allowed_hosts=("testserver",)
    )
    app = create_app(engine, serve_settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {
        "POST /v1/chat/completions",
        "GET /v1/models",
        "POST /v1/embeddings",
        "POST /v1/collections/{name}/documents",
        "GET /v1/memories",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case) -> None:
            _steer(case)
            case.call_and_validate(checks=[not_a_server_error])

        run()
    engine.close()


def _steer(case) -> None:
    """Point random requests at what exists, so they get past the first 404/400 and reach
    retrieval and generation: the served model, the ingested collection, and a conversation
    that ends with a user turn. Every other field stays as schemathesis drew it."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("messages"), list):
        body["model"] = "smollm2-135m"
        messages = body["messages"]
        if messages and all(isinstance(m, dict) for m in messages):
            for m in messages:
                if m.get("content") is None:
                    m["content"] = "hello"
            messages[-1]["role"] = "user"
    if "name" in (case.path_parameters or {}):
        case.path_parameters["name"] = "docs"
