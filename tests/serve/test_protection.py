"""API key on every route, loopback by default, and each cap as an OpenAI-shaped 4xx."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from outweigh.errors import InputError
from outweigh.generate.base import GenerationRequest
from outweigh.serve import ServeSettings
from outweigh.serve.config import is_loopback
from outweigh.testing import EchoBackend
from tests.serve.conftest import KEY, BlockingBackend

HI = [{"role": "user", "content": "hello there"}]


def _error(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert {"message", "type", "param", "code"} <= set(body["error"])
    assert "\n" not in body["error"]["message"] and "Traceback" not in body["error"]["message"]
    return body["error"]


# -- API key --------------------------------------------------------------------------------
def test_a_wrong_or_missing_key_raises_authentication_error(live_factory) -> None:
    live = live_factory(ServeSettings(api_key=KEY), api_key=KEY)
    assert live.client.chat.completions.create(model="echo", messages=HI).choices
    wrong = openai.OpenAI(base_url=live.url, api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError, match="wrong API key"):
        wrong.models.list()
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model="echo", messages=HI)
    missing = httpx.post(f"{live.url}/chat/completions", json={"model": "echo", "messages": HI})
    assert missing.status_code == 401
    assert _error(missing)["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
        ("GET", "/redoc"),
        ("GET", "/health"),
        ("GET", "/metrics"),
        ("GET", "/v1/models"),
        ("POST", "/v1/embeddings"),
        ("GET", "/v1/collections/docs/documents"),
        ("POST", "/v1/collections/docs/documents"),
        ("DELETE", "/v1/collections/docs/documents/1"),
        ("GET", "/v1/memories?user=a"),
        ("GET", "/v1/collections"),
        ("GET", "/v1/plan"),
        ("POST", "/v1/plan"),
        ("GET", "/static-offline-docs/swagger-ui.css"),
        ("POST", "/"),
        ("GET", "/ui/..%2Fapp.py"),
        ("GET", "/no/such/route"),
    ],
)
def test_every_route_needs_the_key(live_factory, method: str, path: str) -> None:
    live = live_factory(ServeSettings(api_key=KEY))
    root = live.url.removesuffix("/v1")
    assert httpx.request(method, root + path).status_code == 401
    assert (
        httpx.request(method, root + path, headers={"authorization": "Bearer x"}).status_code == 401
    )
    ok = httpx.request(method, root + path, headers={"authorization": f"Bearer {KEY}"})
    assert ok.status_code != 401


def test_loopback_only_without_a_key() -> None:
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert is_loopback(host)
        ServeSettings(host=host).check_bind()
    for host in ("0.0.0.0", "::", "192.168.1.5", "example.com"):
        assert not is_loopback(host)
        with pytest.raises(InputError, match=f"refusing to bind {host} without keys"):
            ServeSettings(host=host).check_bind()
        ServeSettings(host=host, api_key=KEY).check_bind()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if "API_KEY" not in k}
    return subprocess.run(
        [sys.executable, "-c", "from outweigh.cli import main; main()", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **(env or {})},
    )


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["--host", "0.0.0.0"], None, "refusing to bind 0.0.0.0 without keys"),
        (["--api-key-env", "OW_TEST_UNSET"], None, "OW_TEST_UNSET is unset or empty"),
        (["--api-key-env", "OW_TEST_KEY"], {"OW_TEST_KEY": "  "}, "OW_TEST_KEY is unset"),
        (["--port", "70000"], None, "`--port` must be between 0 and 65535"),
        (["--max-concurrent", "0"], None, "`--max-concurrent` must be at least 1"),
        (["--upstream", "ftp://x"], None, "is not an http(s) URL"),
    ],
)
def test_cli_refuses_bad_setups_with_one_line(args, env, message) -> None:
    done = _cli(*args, env=env)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr


# -- caps -----------------------------------------------------------------------------------
CAPS = ServeSettings(
    max_messages=3,
    max_message_chars=2000,
    max_body_bytes=20_000,
    max_upload_bytes=2000,
    max_n=2,
    max_embedding_inputs=3,
)


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"messages": HI * 4}, "messages"),
        ({"messages": [{"role": "user", "content": "x" * 2001}]}, "messages"),
        ({"messages": HI, "n": 3}, "n"),
        ({"messages": HI, "max_tokens": 5000}, "max_tokens"),
        ({"messages": HI, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"messages": HI, "temperature": 3}, "temperature"),
        ({"messages": HI, "seed": 2**70}, "seed"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, None),
        ({"messages": HI, "extra_body": {"k": 0}}, "k"),
        ({"messages": HI, "extra_body": {"rag": True, "collection": "nope"}}, None),
        ({"messages": HI, "extra_body": {"memory": True}}, "user"),
        ({"messages": HI, "user": "ann\x07"}, None),
        ({"messages": HI, "user": "ann", "extra_body": {"session": "s\x00"}}, None),
        ({"messages": HI, "user": "ann", "extra_body": {"session": "s\x1b[2J"}}, None),
        ({"messages": HI, "user": "ann", "extra_body": {"session": "s\nUser: x"}}, None),
    ],
)
def test_bad_chat_requests_are_4xx_in_openai_shape(live_factory, kwargs, param) -> None:
    live = live_factory(CAPS)
    with pytest.raises(openai.APIStatusError) as e:
        live.client.chat.completions.create(model="echo", **kwargs)
    assert 400 <= e.value.status_code < 500
    assert e.value.body["param"] == param
    assert e.value.body["message"]


def test_an_oversize_body_is_413_before_it_is_read(live_factory) -> None:
    live = live_factory(CAPS)
    big = [{"role": "user", "content": "y" * 30_000}]
    with pytest.raises(openai.APIStatusError) as e:
        live.client.chat.completions.create(model="echo", messages=big)
    assert e.value.status_code == 413
    assert e.value.body["code"] == "request_too_large"

    def chunks():  # no Content-Length: the server counts as it reads
        yield b'{"model": "echo", "messages": [{"role": "user", "content": "'
        for _ in range(40):
            yield b"z" * 1000
        yield b'"}]}'

    streamed = httpx.post(
        f"{live.url}/chat/completions",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert streamed.status_code == 413
    assert _error(streamed)["code"] == "request_too_large"


@pytest.mark.parametrize(
    "body, message, code",
    [
        (
            b'{"model": "echo", "messages": [',
            "the body is not valid JSON: Expecting value at line 1, column 32; send one JSON "
            "object",
            "invalid_json",
        ),
        (
            b'{"model": "echo",\n  "messages": [],,}',
            "the body is not valid JSON: Expecting property name enclosed in double quotes at "
            "line 2, column 18",
            "invalid_json",
        ),
        (b'{"a": 1}\n{"b": 2}', "the body is not valid JSON: Extra data at line 2, column 1", None),
        (b"[1, 2]", "the body must be one JSON object, sent with Content-Type: application/", None),
        (b"", "the body must be one JSON object", None),
        (b"\xff\xfe{", "the body is not valid UTF-8 (byte 2); send UTF-8 JSON", "invalid_json"),
        (
            b'{"model": "echo", "messages": [], "seed": ' + b"9" * 5000 + b"}",
            "the body holds a number of more than 4,300 digits",
            "invalid_json",
        ),
    ],
)
def test_a_body_that_is_not_a_json_object_is_one_clear_line(live_factory, body, message, code):
    live = live_factory()
    for route in ("chat/completions", "embeddings", "plan"):
        r = httpx.post(
            f"{live.url}/{route}", content=body, headers={"content-type": "application/json"}
        )
        assert r.status_code == 400, r.text
        error = _error(r)
        assert error["message"].startswith(message), error
        assert error["param"] is None
        assert code is None or error["code"] == code


def test_an_error_quotes_at_most_80_characters_of_the_request(live_factory) -> None:
    live = live_factory()
    long_model = httpx.get(f"{live.url}/models/" + "m" * 3000)
    assert long_model.status_code == 404
    assert "'" + "m" * 80 + "'... (3,000 characters)" in _error(long_model)["message"]
    huge = httpx.post(f"{live.url}/plan", json={"model": "qwen2.5-32b", "context": 10**4299})
    message = _error(huge)["message"]
    assert huge.status_code == 400 and len(message) < 200
    assert message.startswith("`--context` must be an integer from 0 to 10,000,000; got 1000")
    assert message.endswith("... (4,300 characters)")
    key = "k" * 500
    unknown = _error(httpx.post(f"{live.url}/plan", json={"model": "qwen2.5-32b", key: 1}))
    assert len(unknown["message"]) < 300 and "(500 characters)" in unknown["message"]
    bad_text = httpx.post(
        f"{live.url}/chat/completions",
        content=b'{"model": "echo", "messages": [], "' + b"k" * 500 + b'": "\\ud800"}',
        headers={"content-type": "application/json"},
    )
    assert bad_text.status_code == 400 and len(_error(bad_text)["message"]) < 200


def test_embedding_caps(live_factory) -> None:
    live = live_factory(CAPS)
    with pytest.raises(openai.BadRequestError, match="4 inputs is over the cap of 3"):
        live.client.embeddings.create(model="m", input=["a", "b", "c", "d"])
    with pytest.raises(openai.BadRequestError, match="64-d vectors only"):
        live.client.embeddings.create(model="m", input="a", dimensions=8)


def test_a_full_queue_answers_429_and_a_long_wait_503(live_factory) -> None:
    backend = BlockingBackend()
    live = live_factory(
        ServeSettings(max_concurrent=1, max_queue=1, queue_timeout_s=0.5), backend=backend
    )
    results: list[object] = []

    def ask() -> None:
        try:
            results.append(live.client.chat.completions.create(model="blocking", messages=HI))
        except openai.APIStatusError as e:
            results.append(e.status_code)

    first = threading.Thread(target=ask)
    first.start()
    assert backend.entered.acquire(timeout=10)  # the only slot is taken
    waiting = threading.Thread(target=ask)
    waiting.start()
    gate = live.app.state.outweigh.gate
    deadline = time.monotonic() + 10
    while gate.waiting < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    # The queue holds one: a third request is refused at once.
    with pytest.raises(openai.APIStatusError) as e:
        live.client.chat.completions.create(model="blocking", messages=HI)
    assert e.value.status_code == 429
    assert isinstance(e.value, openai.RateLimitError)
    waiting.join(timeout=10)
    assert results == [503]  # it waited 0.5 s for the slot and gave up
    backend.go.set()
    first.join(timeout=10)
    assert results[-1].choices[0].message.content == "Question: hello there"
    # Slots are given back: the server answers again.
    assert live.client.chat.completions.create(model="blocking", messages=HI).choices
    # ... and streams release theirs too, even when the client stops reading early.
    with live.client.chat.completions.create(model="blocking", messages=HI, stream=True) as s:
        next(iter(s))
    assert live.client.chat.completions.create(model="blocking", messages=HI).choices


class _Failing(EchoBackend):
    """Says one word, then breaks: a model crash after the stream has started."""

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        yield "partial"
        raise RuntimeError("CUDA error: device-side assert\n  at line 7")


def test_a_crash_is_one_line_and_mid_stream_an_error_event(live_factory) -> None:
    live = live_factory(backend=_Failing())
    with pytest.raises(openai.InternalServerError) as e:
        live.client.chat.completions.create(model="echo", messages=HI)
    assert e.value.body["message"] == "internal error; see the server log"
    with pytest.raises(openai.APIError, match="generation failed; see the server log"):
        for _ in live.client.chat.completions.create(model="echo", messages=HI, stream=True):
            pass
    # The slots came back: the server still answers.
    assert [m.id for m in live.client.models.list()] == ["echo"]


def test_a_body_that_never_arrives_is_408_not_a_held_connection(live_factory) -> None:
    import socket

    backend = BlockingBackend()
    live = live_factory(ServeSettings(read_timeout_s=1), backend=backend)
    with socket.create_connection((live.server.host, live.server.port), timeout=20) as s:
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model": '
        )
        reply = b""
        while b"request_timeout" not in reply and (part := s.recv(65536)):
            reply += part  # headers and body may come in separate packets
    assert reply.startswith(b"HTTP/1.1 408") and b"request_timeout" in reply
    # The deadline ends with the body: a stream that outlives it is not cut.
    got: list[str] = []

    def consume() -> None:
        stream = live.client.chat.completions.create(model="blocking", messages=HI, stream=True)
        got.extend(c.choices[0].delta.content or "" for c in stream if c.choices)

    reader = threading.Thread(target=consume)
    reader.start()
    assert backend.entered.acquire(timeout=20)
    time.sleep(1.5)  # past the read timeout, with the response under way
    backend.go.set()
    reader.join(20)
    assert "".join(got)


def test_an_adapter_of_another_base_is_not_served(live_factory, paths) -> None:
    from tests.serve.conftest import register_adapter

    register_adapter(paths, "style")  # trained on smollm2-135m
    live = live_factory(backend=EchoBackend("gemma3-270m"))
    assert [m.id for m in live.client.models.list()] == ["gemma3-270m"]
    with pytest.raises(openai.BadRequestError, match="runs on smollm2-135m.*--model smollm2"):
        live.client.chat.completions.create(model="style", messages=HI)
    assert list(live.engine._backends) == ["gemma3-270m"]  # no second base was loaded
