"""Server cost, measured side by side in one run on the bundled SmolLM2-135M.

1. Overhead: the same greedy request (same prompt, same tokens) through a direct library call
   (`Engine.chat`) and through `outweigh serve` with the openai SDK over loopback HTTP,
   interleaved so machine load hits both alike. Target: server / direct <= 1.05.
2. Load: 1, 4 and 16 concurrent SDK clients, a bounded number of requests in all; requests
   per second and p50/p95 latency, and a check that every answer is the greedy reference
   answer (the server stays correct under load).

    .venv/bin/python benchmarks/bench_server.py [--runs 10] [--requests 16] [--max-tokens 32]
    .venv/bin/python benchmarks/bench_server.py --fixed-only   # the server's own cost only
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault(
    "OUTWEIGH_MODELS_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "models")
)

QUESTION = "Explain in two sentences why the tide rises and falls."


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


def load_level(
    client: Any, body: dict[str, Any], reference: str, clients: int, per_client: int
) -> tuple[list[float], int, float]:
    """(latencies in s, answers equal to `reference`, wall time in s) for `clients` threads
    each sending `per_client` requests back to back."""
    latencies: list[float] = []
    right = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal right
        for _ in range(per_client):
            t = time.perf_counter()
            r = client.chat.completions.create(**body)
            took = time.perf_counter() - t
            with lock:
                latencies.append(took)
                right += r.choices[0].message.content == reference

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return latencies, right, time.perf_counter() - start


def fixed_cost(runs: int) -> tuple[float, float]:
    """Median ms per request, direct vs server, with EchoBackend: no model, so what is left
    is the server's own cost (HTTP, JSON, pydantic, threadpool hops)."""
    import openai

    from outweigh.engine import AskOptions, Engine
    from outweigh.serve import BackgroundServer, create_app
    from outweigh.settings import Paths
    from outweigh.testing import EchoBackend, FakeEmbedder

    engine = Engine(
        paths=Paths(Path(tempfile.mkdtemp(prefix="bench-echo-"))),
        backend=EchoBackend(),
        embedder=FakeEmbedder(),
    )
    messages = [{"role": "user", "content": QUESTION}]
    direct, served = [], []
    with BackgroundServer(create_app(engine)) as server:
        client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
        for _ in range(runs):
            t = time.perf_counter()
            engine.chat(messages, AskOptions(rag=False, max_tokens=32))
            direct.append(time.perf_counter() - t)
            t = time.perf_counter()
            client.chat.completions.create(model="echo", messages=messages, max_tokens=32)
            served.append(time.perf_counter() - t)
    engine.close()
    return statistics.median(direct) * 1000, statistics.median(served) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="Interleaved pairs for overhead.")
    parser.add_argument("--requests", type=int, default=16, help="Requests per load level.")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument(
        "--fixed-only",
        action="store_true",
        help="Measure only the server's own cost (EchoBackend, no model): seconds, not minutes.",
    )
    parser.add_argument("--fixed-runs", type=int, default=200, help="Requests for the fixed cost.")
    args = parser.parse_args()

    echo_direct, echo_served = fixed_cost(args.fixed_runs)
    print(f"fixed cost per request, EchoBackend (no model), median of {args.fixed_runs}:")
    print(
        f"  direct {echo_direct:.2f} ms, server {echo_served:.2f} ms, "
        f"server's own cost {echo_served - echo_direct:.2f} ms\n"
    )
    if args.fixed_only:
        return

    import openai

    from outweigh.engine import AskOptions, Engine
    from outweigh.generate.local import LocalBackend
    from outweigh.models import load
    from outweigh.serve import BackgroundServer, ServeSettings, create_app
    from outweigh.settings import Paths
    from outweigh.testing import FakeEmbedder

    home = Paths(Path(tempfile.mkdtemp(prefix="bench-server-")))
    engine = Engine(paths=home, backend=LocalBackend(load("smollm2-135m")), embedder=FakeEmbedder())
    messages = [{"role": "user", "content": QUESTION}]
    options = AskOptions(rag=False, max_tokens=args.max_tokens)
    body = {
        "model": engine.model,
        "messages": messages,
        "max_tokens": args.max_tokens,
        "extra_body": {"rag": False},
    }
    settings = ServeSettings(max_concurrent=4, max_queue=16, queue_timeout_s=600)
    with BackgroundServer(create_app(engine, settings)) as server:
        client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0, timeout=600)
        reference = engine.chat(messages, options).answer  # also warms the model up
        client.chat.completions.create(**body)

        # -- 1. overhead ----------------------------------------------------------------
        direct, served = [], []
        for _ in range(args.runs):
            t = time.perf_counter()
            a = engine.chat(messages, options)
            direct.append(time.perf_counter() - t)
            t = time.perf_counter()
            b = client.chat.completions.create(**body)
            served.append(time.perf_counter() - t)
            assert a.answer == b.choices[0].message.content == reference, "answers differ"
            assert a.usage["completion_tokens"] == b.usage.completion_tokens
        d, s = statistics.median(direct), statistics.median(served)
        print(f"overhead, {args.runs} interleaved pairs, {args.max_tokens} tokens, greedy:")
        print(f"  direct Engine.chat   median {d * 1000:8.1f} ms")
        print(f"  server via SDK       median {s * 1000:8.1f} ms")
        pairs = statistics.median(b / a for a, b in zip(direct, served, strict=True))
        print(f"  server / direct      {s / d:.3f}  (target <= 1.05)")
        print(
            f"  median of per-pair ratios {pairs:.3f}; server's own cost / direct "
            f"{(echo_served - echo_direct) / 1000 / d:.4f}"
        )

        # -- 2. load --------------------------------------------------------------------
        print(f"\nload, {args.requests} requests per level, {args.max_tokens} tokens each:")
        print("  clients  req/s   p50 ms   p95 ms  correct")
        for clients in (1, 4, 16):
            per_client = max(1, args.requests // clients)
            latencies, right, wall = load_level(client, body, reference, clients, per_client)
            n = len(latencies)
            print(
                f"  {clients:7d}  {n / wall:5.2f}  {percentile(latencies, 50) * 1000:7.0f}  "
                f"{percentile(latencies, 95) * 1000:7.0f}  {right}/{n}"
            )
    engine.close()


if __name__ == "__main__":
    main()
