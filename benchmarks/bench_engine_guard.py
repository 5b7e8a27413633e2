"""The engine under clients that go away and under bulk work, on the bundled SmolLM2 through a
real `outweigh serve` (llama.cpp by default), measured side by side in one run.

1. Dropped streams: a 4-token chat on an idle server, and the same chat sent right after a
   client drops a streaming answer of up to 1500 tokens (closes its socket after two events).
   Medians of `--rounds` each, interleaved. Before the fix the second never came back: the
   dropped stream held the model lock and later chats got 503 after the queue timeout.
2. Bulk work: the same chat alone, and while 4 clients each send a /v1/embeddings request of
   256 inputs of 704 characters; median of `--rounds`. Target: answered (or 429) within 2 s.
3. A cancel during a long prompt (llama.cpp): a 1700-token prompt closed 0.5 s in, seconds
   until the model is free, beside the whole answer's time.
4. The probe: seconds a first use of llama.cpp on a model spends probing it in a subprocess,
   and the same check when its verdict is kept.

    .venv/bin/python benchmarks/bench_engine_guard.py [--rounds 5] [--backend llamacpp]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault(
    "OUTWEIGH_MODELS_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "models")
)

import httpx

LONG = "Write the numbers from 1 to 1000, separated by commas."
SHORT = {"max_tokens": 4, "rag": False, "messages": [{"role": "user", "content": "Say hi."}]}


def short_chat(url: str, model: str) -> tuple[float, int]:
    started = time.perf_counter()
    with httpx.Client(timeout=300) as c:
        r = c.post(f"{url}/chat/completions", json={"model": model, **SHORT})
    return time.perf_counter() - started, r.status_code


def drop_stream(url: str, model: str) -> None:
    host, port = url.removeprefix("http://").removesuffix("/v1").split(":")
    body = json.dumps(
        {
            "model": model,
            "stream": True,
            "max_tokens": 1500,
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


def under_bulk(url: str, model: str, embedder: str) -> tuple[float, int]:
    text = "The quick brown fox jumps over the lazy dog near the riverbank. " * 11
    body = {"model": embedder, "input": [text] * 256}
    done: list[int] = []

    def embed() -> None:
        with httpx.Client(timeout=900) as c:
            done.append(c.post(f"{url}/embeddings", json=body).status_code)

    threads = [threading.Thread(target=embed) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # the four requests are admitted and embedding
    took = short_chat(url, model)
    for t in threads:
        t.join()
    assert done == [200] * 4, done
    return took


def long_prompt(backend: object) -> tuple[float, float]:
    """(seconds from start until a stream closed 0.5 s in has freed the model, seconds of the
    whole uncancelled answer) for a 1700-token prompt."""
    from outweigh.generate.base import GenerationRequest

    words = " ".join(f"item{i}" for i in range(450))
    request = GenerationRequest([{"role": "user", "content": f"Sort: {words}"}], max_tokens=8)
    started = time.perf_counter()
    stream = backend.stream(request)  # type: ignore[attr-defined]
    time.sleep(0.5)
    stream.close()
    stream.join()
    freed = time.perf_counter() - started
    started = time.perf_counter()
    backend.generate(request)  # type: ignore[attr-defined]
    return freed, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--backend", default="llamacpp", choices=["llamacpp", "transformers"])
    args = ap.parse_args()

    from outweigh.embed import SentenceTransformerEmbedder
    from outweigh.engine import Engine
    from outweigh.generate import native
    from outweigh.generate.choose import open_local
    from outweigh.generate.llamacpp import model_file
    from outweigh.models.catalog import resolve
    from outweigh.models.options import LoadOptions
    from outweigh.serve import BackgroundServer, ServeSettings, create_app
    from outweigh.settings import Paths

    backend = open_local("smollm2-135m", Paths(), LoadOptions(backend=args.backend))
    embedder = SentenceTransformerEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(paths=Paths(Path(tmp)), backend=backend, embedder=embedder)
        app = create_app(engine, ServeSettings(max_concurrent=4, max_queue=16))
        with BackgroundServer(app) as server:
            url, model = server.url, engine.model
            short_chat(url, model)  # warm-up
            alone, after = [], []
            for _ in range(args.rounds):
                alone.append(short_chat(url, model)[0])
                drop_stream(url, model)
                after.append(short_chat(url, model)[0])
            bulk = [under_bulk(url, model, embedder.name) for _ in range(args.rounds)]
        engine.close()

        prefill = long_prompt(backend) if args.backend == "llamacpp" else None

        verdicts = Path(tmp) / "models"
        verdicts.mkdir()
        path = model_file(resolve("smollm2-135m"), Paths(), LoadOptions())
        t0 = time.perf_counter()
        first = native.probe(path, verdicts)
        probe_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        native.probe(path, verdicts)
        kept_s = time.perf_counter() - t0

    med = statistics.median
    print(f"engine guard: smollm2-135m on {args.backend}, median of {args.rounds} rounds")
    print(f"  4-token chat alone                         {med(alone):6.2f} s")
    print(f"  same chat right after a dropped stream     {med(after):6.2f} s")
    codes = sorted({code for _, code in bulk})
    print(
        f"  same chat under 4 x 256-input embeddings   {med(t for t, _ in bulk):6.2f} s "
        f"(status {codes}; target <= 2 s)"
    )
    if prefill is not None:
        print(
            f"  cancel 0.5 s into a 1700-token prompt: model free after {prefill[0]:.2f} s "
            f"(whole answer {prefill[1]:.2f} s)"
        )
    print(
        f"  probe, first use: {probe_s:.2f} s (ok={first.ok}); verdict kept: {kept_s * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
