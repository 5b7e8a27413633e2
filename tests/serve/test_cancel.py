"""A cancelled answer frees the model at once, on the real engines: llama.cpp and transformers
over the bundled SmolLM2, through a real server and real clients that go away mid-answer, and
for a Python caller that closes or drops the iterator. Work that is not a chat (embeddings,
uploads) is admitted through the same gate and cannot starve a chat."""

from __future__ import annotations

import gc
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from outweigh.engine import Engine
from outweigh.generate.base import GenerationRequest, detach, held
from outweigh.serve import ServeSettings
from outweigh.settings import Paths
from outweigh.testing import FakeEmbedder
from tests.serve.conftest import Live, start

pytestmark = pytest.mark.slow

LONG = "Write the numbers from 1 to 1000, separated by commas."
"""An answer that runs to any max_tokens on SmolLM2."""
MAX = 1500
"""Tokens a cancelled answer would run to: 15 s or more on either backend here, so a model
that is free within a second was freed by the cancel, not by the answer's end."""


def long_request(max_tokens: int = MAX) -> GenerationRequest:
    return GenerationRequest([{"role": "user", "content": LONG}], max_tokens=max_tokens)


def model_is_free(backend: Any, within_s: float) -> bool:
    """Whether the backend runs no answer within `within_s`: llama.cpp's batcher has no
    answer running or queued, transformers' model lock can be taken."""
    if hasattr(backend, "wait_idle"):
        return bool(backend.wait_idle(within_s))
    if not backend._lock.acquire(timeout=within_s):
        return False
    backend._lock.release()
    return True


@pytest.fixture(scope="module", params=["llamacpp", "transformers"])
def engine_backend(request: pytest.FixtureRequest) -> Any:
    name = "smol_llama" if request.param == "llamacpp" else "smol_backend"
    return request.getfixturevalue(name)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, engine_backend: Any) -> Iterator[Live]:
    paths = Paths(tmp_path_factory.mktemp("cancel"))
    engine = Engine(paths=paths, backend=engine_backend, embedder=FakeEmbedder())
    server, live = start(engine)
    yield live
    server.__exit__()
    engine.close()


def short_chat(live: Live) -> float:
    """Seconds for a 4-token answer, asked as a new client would."""
    started = time.perf_counter()
    done = live.client.chat.completions.create(
        model=live.engine.model,
        messages=[{"role": "user", "content": "Say hi."}],
        max_tokens=4,
        extra_body={"rag": False},
    )
    assert done.choices[0].message.content
    return time.perf_counter() - started


def test_a_closed_or_dropped_stream_frees_the_model(engine_backend: Any) -> None:
    stream = engine_backend.stream(long_request())
    next(stream)
    assert not model_is_free(engine_backend, 0.05)  # decoding ahead of the reader
    stream.close()
    assert stream.join(timeout=1.5)
    # llama.cpp's batcher drops a closed answer at its next step (a token, or one prompt
    # chunk), not the instant its reader leaves: free within a second of a 15 s answer.
    assert model_is_free(engine_backend, 1.0)

    dropped = engine_backend.stream(long_request())
    next(dropped)
    del dropped  # the caller just lets go of it
    gc.collect()
    assert model_is_free(engine_backend, 1.5)


def test_a_held_answer_closed_before_it_shows_frees_the_model(engine_backend: Any) -> None:
    # An answer judged before it is shown (the passage reader's) is read whole out of sight:
    # closing it then cancels the decoding under it at its next token, not at its end.
    stream = held(detach(engine_backend.stream(long_request())), str.upper)
    time.sleep(0.5)
    assert not model_is_free(engine_backend, 0.05)
    stream.close()
    assert stream.join(timeout=1.5)
    assert model_is_free(engine_backend, 1.0)
    whole = held(detach(engine_backend.stream(long_request(8))), str.upper)
    assert len(list(whole)) == 1  # one piece, once judged


def test_an_answer_asked_for_instead_closed_frees_the_model(engine_backend: Any) -> None:
    # Where the judged answer is turned down for another one (the bare model's, for a question
    # its passages did not bear on), that one streams; closing it cancels it at its next token.
    def instead(raw: str, text: str) -> Any:
        return detach(engine_backend.stream(long_request()))

    stream = held(detach(engine_backend.stream(long_request(4))), str.upper, instead)
    first = next(stream)  # a piece of the answer asked for instead, not the judged one whole
    assert first and not model_is_free(engine_backend, 0.05)
    stream.close()
    assert stream.join(timeout=1.5)
    assert model_is_free(engine_backend, 1.0)
    kept = held(detach(engine_backend.stream(long_request(4))), str.upper, lambda raw, text: None)
    assert len(list(kept)) == 1  # nothing asked for instead: the judged answer, whole


def disconnect_raw(live: Live) -> None:
    """A client that sends a streaming request, reads two events and closes its socket."""
    host, port = live.url.removeprefix("http://").removesuffix("/v1").split(":")
    body = json.dumps(
        {
            "model": live.engine.model,
            "stream": True,
            "max_tokens": MAX,
            "rag": False,
            "messages": [{"role": "user", "content": LONG}],
        }
    ).encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: %s:%s\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (host.encode(), port.encode(), len(body), body)
        )
        seen = b""
        while seen.count(b"data:") < 3:
            seen += sock.recv(4096)


def disconnect_sdk(live: Live) -> None:
    """The openai SDK, streaming, whose caller stops after two chunks and closes it."""
    stream = live.client.chat.completions.create(
        model=live.engine.model,
        messages=[{"role": "user", "content": LONG}],
        max_tokens=MAX,
        stream=True,
        extra_body={"rag": False},
    )
    for i, _ in enumerate(stream):
        if i == 2:
            break
    stream.close()


def disconnect_timeout(live: Live) -> None:
    """curl with a 0.5 s limit for the whole request, which ends it mid-answer."""
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    body = {
        "model": live.engine.model,
        "stream": True,
        "max_tokens": MAX,
        "rag": False,
        "messages": [{"role": "user", "content": LONG}],
    }
    done = subprocess.run(
        [
            curl,
            "-sN",
            "-m",
            "0.5",
            "-H",
            "Content-Type: application/json",
            "-d",
            json.dumps(body),
            f"{live.url}/chat/completions",
        ],
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 28, done  # curl's "operation timed out"
    assert b"data:" in done.stdout


def disconnect_whole(live: Live) -> None:
    """A client of a whole (not streamed) answer that gives up after 0.5 s."""
    body = {
        "model": live.engine.model,
        "max_tokens": MAX,
        "rag": False,
        "messages": [{"role": "user", "content": LONG}],
    }
    with pytest.raises(httpx.TimeoutException), httpx.Client(timeout=0.5) as client:
        client.post(f"{live.url}/chat/completions", json=body)


@pytest.mark.parametrize(
    "disconnect", [disconnect_raw, disconnect_sdk, disconnect_timeout, disconnect_whole]
)
def test_after_a_client_drops_a_stream_the_next_chat_is_answered_at_once(
    live: Live, engine_backend: Any, disconnect: Any
) -> None:
    alone = short_chat(live)
    disconnect(live)
    # The model is freed within a token step or two of the disconnect being seen...
    assert model_is_free(engine_backend, 1.5)
    # ...so the next client waits for nothing but its own answer.
    after = short_chat(live)
    print(f"{disconnect.__name__}: short chat {alone:.2f} s alone, {after:.2f} s after")
    assert after < alone + 1.0


def test_bulk_work_cannot_starve_a_chat(tmp_path: Any, smol_llama: Any, embedder: Any) -> None:
    """Four parallel /v1/embeddings requests of 256 long inputs each: a short chat is answered
    (or refused with 429) in seconds, not after the embeddings."""
    engine = Engine(paths=Paths(tmp_path / "bulk"), backend=smol_llama, embedder=embedder)
    server, live = start(engine, ServeSettings(max_concurrent=4, max_queue=16))
    try:
        # 256 inputs of 704 characters: 180k, under the 200k-character cap of one request.
        text = "The quick brown fox jumps over the lazy dog near the riverbank. " * 11
        body = {"model": embedder.name, "input": [text] * 256}
        results: list[int] = []

        def embed() -> None:
            with httpx.Client(timeout=600) as c:
                results.append(c.post(f"{live.url}/embeddings", json=body).status_code)

        threads = [threading.Thread(target=embed) for _ in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while live.app.state.outweigh.gate.running < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the bulk work is under way
        started = time.perf_counter()
        with httpx.Client(timeout=60) as c:
            r = c.post(
                f"{live.url}/chat/completions",
                json={
                    "model": engine.model,
                    "max_tokens": 4,
                    "rag": False,
                    "messages": [{"role": "user", "content": "Say hi."}],
                },
            )
        waited = time.perf_counter() - started
        print(f"short chat under 4 bulk embedding requests: {waited:.2f} s, {r.status_code}")
        assert r.status_code in (200, 429)
        assert waited < 5
        for t in threads:
            t.join()
        assert sorted(set(results)) == [200]
    finally:
        server.__exit__()
        engine.close()


def test_a_cancel_during_a_long_prompt_lands_within_a_chunk(smol_llama: Any) -> None:
    """A prompt of 1700 tokens takes seconds to prefill on a CPU; closing the stream half a
    second in frees the model within one prefill chunk, not after the whole prompt."""
    from outweigh.generate.batcher import PREFILL_CHUNK

    words = " ".join(f"item{i}" for i in range(450))
    request = GenerationRequest([{"role": "user", "content": f"Sort: {words}"}], max_tokens=8)
    assert len(smol_llama.tokens(smol_llama.render(request.messages))) > 6 * PREFILL_CHUNK
    started = time.perf_counter()
    stream = smol_llama.stream(request)
    time.sleep(0.5)
    stream.close()
    assert stream.join(timeout=10)
    freed = time.perf_counter() - started
    whole = smol_llama.generate(request)  # the same prompt, uncancelled, for scale
    took = time.perf_counter() - started - freed
    print(f"cancelled 0.5 s into a long prompt: model free after {freed:.2f} s; whole {took:.2f} s")
    assert whole.completion_tokens > 0
    assert freed < took / 2
