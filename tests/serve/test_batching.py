"""The server over llama.cpp's batcher, on the real engine (the bundled SmolLM2): its gate is
sized to the batch slots, clients streaming at once get the answers they get alone, /health
and /metrics report what the model decodes, and past the slots and the queue comes a 429."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from outweigh.engine import Engine
from outweigh.serve import ServeSettings
from outweigh.settings import Paths
from outweigh.testing import FakeEmbedder
from tests.serve.conftest import Live, start

pytestmark = pytest.mark.slow

QUESTIONS = ["Say hi.", "What is the capital of France?", "Name a colour.", "What is 2+2?"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, smol_llama: Any) -> Iterator[Live]:
    paths = Paths(tmp_path_factory.mktemp("batching"))
    engine = Engine(paths=paths, backend=smol_llama, embedder=FakeEmbedder())
    server, live = start(engine, ServeSettings(max_queue=2))
    yield live
    server.__exit__()
    engine.close()


def streamed(live: Live, question: str, max_tokens: int = 24) -> str:
    stream = live.client.chat.completions.create(
        model=live.engine.model,
        messages=[{"role": "user", "content": question}],
        max_tokens=max_tokens,
        stream=True,
        extra_body={"rag": False},
    )
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def test_the_gate_has_a_slot_per_batch_slot(live: Live, smol_llama: Any) -> None:
    assert live.app.state.outweigh.gate.slots == max(4, smol_llama.parallel)


def test_streams_at_once_answer_as_alone_and_are_counted(live: Live) -> None:
    alone = [streamed(live, q) for q in QUESTIONS]
    together: list[str] = [""] * len(QUESTIONS)

    def run(i: int) -> None:
        together[i] = streamed(live, QUESTIONS[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(QUESTIONS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert together == alone
    root = live.url.removesuffix("/v1")
    health = httpx.get(f"{root}/health").json()
    assert health["status"] == "ok" and health["running"] == 0 and health["queued"] == 0
    assert health["slots"] >= 4 and health["decoding"] == 0
    assert health["tokens_per_s"] > 0  # tokens were sampled in the last 10 s
    text = httpx.get(f"{root}/metrics").text
    assert "# TYPE outweigh_generated_tokens_total counter" in text
    values = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert float(values["outweigh_generated_tokens_total"]) >= 8 * len(QUESTIONS)
    assert float(values["outweigh_requests_running"]) == 0
    assert float(values["outweigh_prompt_tokens_reused_total"]) > 0


def test_past_the_slots_and_the_queue_comes_a_429(live: Live, smol_llama: Any) -> None:
    """Every slot holds a long stream and the queue is full: the next request is refused at
    once; once the streams are closed, every slot is free and the server answers."""
    gate = live.app.state.outweigh.gate
    body = {
        "model": live.engine.model,
        "messages": [{"role": "user", "content": "Write the numbers from 1 to 1000."}],
        "max_tokens": 1500,
        "stream": True,
        "extra_body": {"rag": False},
    }
    streams = [live.client.chat.completions.create(**body) for _ in range(gate.slots)]
    for s in streams:
        next(iter(s))
    waiting: list[Any] = []

    def queued() -> None:
        try:
            waiting.append(streamed(live, "Say hi.", 4))
        except openai.APIStatusError as e:
            waiting.append(e.status_code)

    queue = [threading.Thread(target=queued) for _ in range(gate.queue)]
    for t in queue:
        t.start()
    deadline = time.monotonic() + 20
    while gate.waiting < gate.queue and time.monotonic() < deadline:
        time.sleep(0.02)
    refused = gate.refused
    with pytest.raises(openai.RateLimitError, match="server busy"):
        live.client.chat.completions.create(
            model=live.engine.model, messages=[{"role": "user", "content": "hi"}], max_tokens=2
        )
    assert gate.refused == refused + 1
    for s in streams:
        s.close()
    for t in queue:
        t.join(timeout=60)
    assert len(waiting) == gate.queue and all(isinstance(w, str) and w for w in waiting)
    assert smol_llama.wait_idle(5)
    assert streamed(live, "Say hi.", 4)
