"""Many users at once: streaming clients against `outweigh serve` and against llama.cpp's own
`llama-server --parallel N` on the same GGUF file, measured side by side in one run.

Both servers run as processes of their own (so the clients' threads take nothing from them),
on the bundled SmolLM2: outweigh's llama.cpp backend (the Q8_0 CPU copy it runs), and
`llama-server` built from the llama.cpp that llama-cpp-python vendors (`scripts/llama_server.py`,
the same portable flags) with `--parallel N`, a KV stream of a whole window per slot (as
outweigh's batcher) and as many threads. Each client streams with httpx, greedy, and reads
the usage that ends the stream; a request that takes over `--stuck-s` counts as stuck.

    python benchmarks/bench_load.py [--clients 8] [--duration 30] [--rounds 3] [--max-tokens 96]
    python benchmarks/bench_load.py --soak 600 --clients 16     # mixed load on outweigh only
    python benchmarks/bench_load.py --src /tmp/old/src         # an older tree's server

A round runs, for `--duration` seconds each: outweigh with 1 client, outweigh with N,
llama-server with N, llama-server with 1. The figures are medians over rounds, and the ratios
(outweigh N / outweigh 1, outweigh N / llama-server N) are medians of each round's ratio.
`--mix mixed` sends, in turn, plain, `+rag` (the example suite's docs), memory (a user per
client) and adapter (a random LoRA registered as `noise`) requests to outweigh; llama-server
gets the plain ones. `--soak` runs one mixed load on outweigh and reports errors by kind,
5xx, stuck requests and the server's RSS before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OUTWEIGH_MODELS_DIR", str(ROOT / ".cache" / "models"))

PLAIN = [
    "Write a long story about a dragon who learns to bake bread.",
    "Explain in detail how a car engine works.",
    "Describe a walk through a busy market in a big city.",
    "Write a letter to a friend about your summer holiday.",
    "Explain how the water cycle works, step by step.",
    "Tell me about the history of the bicycle.",
    "Write a poem about the sea and the wind.",
    "Describe how to plant and care for a vegetable garden.",
]
RAG = [
    "Who is the director of the Vellmark Tidal Robotics Cooperative?",
    "What is the maximum depth the Heron-7 submersible is rated to?",
    "How many days of paid annual leave does a full-time Vellmark member get?",
]
MEMORY = ["My favourite colour is teal.", "I live in Lisbon.", "What do you know about me?"]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- the servers ------------------------------------------------------------------------------
@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    url: str
    model: str
    kinds: tuple[str, ...] = ("plain",)

    def wait_ready(self, timeout_s: float = 300) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"{self.name} did not come up in {timeout_s:g} s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def gguf_path() -> Path:
    """The file outweigh's llama.cpp backend runs the bundled model from on this machine."""
    from outweigh.generate.llamacpp import model_file
    from outweigh.models.catalog import resolve
    from outweigh.models.options import LoadOptions
    from outweigh.settings import Paths

    return model_file(resolve("smollm2-135m"), Paths(), LoadOptions.from_env())


def prepare_home(home: Path, adapter: bool) -> None:
    """The example suite's docs in the `docs` collection and, with `adapter`, a random LoRA
    registered as `noise`."""
    from outweigh.engine import Engine
    from outweigh.settings import Paths

    paths = Paths(home)
    with Engine(paths=paths) as engine:
        engine.ingest([ROOT / "examples" / "suite" / "docs"], "docs")
    if adapter:
        sys.path.insert(0, str(ROOT))
        from tests.adapters.conftest import write_lora

        from outweigh.adapters import AdapterRegistry

        registry = AdapterRegistry(paths)
        if "noise" not in registry.names():
            registry.add(write_lora(home / "noise-src", seed=7, scale=0.08), "noise")
        registry.close()


def start_outweigh(home: Path, slots: int, src: Path = ROOT / "src") -> Server:
    port = free_port()
    env = dict(
        os.environ,
        OUTWEIGH_HOME=str(home),
        OUTWEIGH_LLAMA_SLOTS=str(slots),
        PYTHONPATH=str(src),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "outweigh", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Server(
        "outweigh", proc, f"http://127.0.0.1:{port}", "smollm2-135m", ("plain", "rag", "memory")
    )


def start_llama_server(binary: Path, gguf: Path, slots: int, window: int) -> Server:
    from outweigh.generate.native import cpu_threads

    port = free_port()
    threads = str(cpu_threads())
    env = dict(os.environ, LD_LIBRARY_PATH=str(binary.parent))
    command = [str(binary), "-m", str(gguf), "--port", str(port), "--parallel", str(slots)]
    proc = subprocess.Popen(
        [*command, "-c", str(slots * window), "-t", threads, "-tb", threads, "--no-webui"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Server("llama-server", proc, f"http://127.0.0.1:{port}", "smollm2-135m")


# -- the clients ------------------------------------------------------------------------------
@dataclass
class Result:
    requests: int = 0
    tokens: int = 0
    seconds: float = 0.0
    ttft: list[float] = field(default_factory=list)
    per_token: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


def body_for(server: Server, kind: str, client: int, n: int, max_tokens: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": server.model,
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    if kind == "plain":
        body["messages"] = [{"role": "user", "content": PLAIN[(client + n) % len(PLAIN)]}]
        if server.name == "outweigh":
            body["rag"] = False
    elif kind == "rag":
        body["messages"] = [{"role": "user", "content": RAG[(client + n) % len(RAG)]}]
        body |= {"rag": True, "collection": "docs"}
    elif kind == "memory":
        body["messages"] = [{"role": "user", "content": MEMORY[n % len(MEMORY)]}]
        body |= {"rag": False, "user": f"load-{client}", "memory": True}
    elif kind == "adapter":
        body["messages"] = [{"role": "user", "content": PLAIN[(client + n) % len(PLAIN)]}]
        body |= {"model": "noise", "rag": False}
    return body


def one_request(client: Any, url: str, body: dict[str, Any], stuck_s: float, out: Result) -> None:
    import httpx

    started = time.perf_counter()
    first = last = 0.0
    tokens = 0
    try:
        with client.stream("POST", f"{url}/v1/chat/completions", json=body) as r:
            if r.status_code != 200:
                r.read()
                out.errors[f"http {r.status_code}"] += 1
                return
            for line in r.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                if "error" in chunk:
                    out.errors["in-stream error"] += 1
                    return
                for choice in chunk.get("choices") or []:
                    if (choice.get("delta") or {}).get("content"):
                        last = time.perf_counter()
                        first = first or last
                usage = chunk.get("usage")
                if usage:
                    tokens = int(usage.get("completion_tokens") or 0)
    except httpx.TimeoutException:
        out.errors["stuck (no reply within --stuck-s)"] += 1
        return
    except httpx.HTTPError as e:
        out.errors[type(e).__name__] += 1
        return
    if time.perf_counter() - started > stuck_s:
        out.errors["stuck (over --stuck-s)"] += 1
    out.requests += 1
    out.tokens += tokens
    if first:
        out.ttft.append(first - started)
        if tokens > 1:
            out.per_token.append((last - first) / (tokens - 1))


def load(
    server: Server,
    clients: int,
    duration: float,
    max_tokens: int,
    kinds: tuple[str, ...],
    stuck_s: float,
) -> Result:
    """`clients` threads sending requests back to back for `duration` seconds; requests in
    flight at the end finish and count."""
    import httpx

    result = Result()
    lock = threading.Lock()
    deadline = time.perf_counter() + duration

    def worker(i: int) -> None:
        mine = Result()
        n = 0
        with httpx.Client(timeout=httpx.Timeout(stuck_s, connect=10)) as client:
            while time.perf_counter() < deadline:
                kind = kinds[(i + n) % len(kinds)]
                mine.by_kind[kind] += 1
                one_request(
                    client, server.url, body_for(server, kind, i, n, max_tokens), stuck_s, mine
                )
                n += 1
        with lock:
            result.requests += mine.requests
            result.tokens += mine.tokens
            result.ttft += mine.ttft
            result.per_token += mine.per_token
            result.errors += mine.errors
            result.by_kind += mine.by_kind

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - started
    return result


def line(label: str, r: Result) -> str:
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(r.errors.items())) or "none"
    return (
        f"  {label:24s} {r.requests:4d} req  {r.tokens_per_s:7.1f} tok/s  "
        f"TTFT p50 {percentile(r.ttft, 50) * 1000:6.0f} "
        f"p95 {percentile(r.ttft, 95) * 1000:6.0f} ms  "
        f"per token p50 {percentile(r.per_token, 50) * 1000:5.1f} "
        f"p95 {percentile(r.per_token, 95) * 1000:5.1f} ms  errors: {errors}"
    )


def compare(args: argparse.Namespace, home: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import llama_server

    binary = llama_server.build(None, llama_server.this_variant())
    gguf = gguf_path()
    from outweigh.prompt import MAX_PROMPT_TOKENS

    window = MAX_PROMPT_TOKENS
    print(f"GGUF: {gguf}\nllama-server: {binary}\n")
    ow = start_outweigh(home, args.clients, args.src)
    ls = start_llama_server(binary, gguf, args.clients, window)
    try:
        ow.wait_ready()
        ls.wait_ready()
        kinds = ("plain", "rag", "memory", "adapter") if args.mix == "mixed" else ("plain",)
        for s in (ow, ls):  # warm both up
            load(s, 1, 1, 8, ("plain",), args.stuck_s)
        runs: dict[str, list[Result]] = {}
        plan = [(ow, 1), (ow, args.clients), (ls, args.clients), (ls, 1)]
        for r in range(args.rounds):
            print(f"round {r + 1} of {args.rounds} ({args.duration:g} s each):")
            for server, clients in plan:
                use = kinds if server is ow else ("plain",)
                res = load(server, clients, args.duration, args.max_tokens, use, args.stuck_s)
                label = f"{server.name} x{clients}"
                runs.setdefault(label, []).append(res)
                print(line(label, res), flush=True)
        n = args.clients
        ow1, own = runs["outweigh x1"], runs[f"outweigh x{n}"]
        lsn, ls1 = runs[f"llama-server x{n}"], runs["llama-server x1"]

        def med(rs: list[Result]) -> float:
            return statistics.median(x.tokens_per_s for x in rs)

        def ttft95(rs: list[Result]) -> float:
            return statistics.median(percentile(x.ttft, 95) for x in rs) * 1000

        print(f"\nmedians over {args.rounds} rounds, {args.max_tokens} tokens, greedy:")
        for label, rs in runs.items():
            print(f"  {label:24s} {med(rs):7.1f} tok/s   TTFT p95 {ttft95(rs):6.0f} ms")
        scale = statistics.median(
            b.tokens_per_s / a.tokens_per_s for a, b in zip(ow1, own, strict=True)
        )
        anchor = statistics.median(
            a.tokens_per_s / b.tokens_per_s for a, b in zip(own, lsn, strict=True)
        )
        ls_scale = statistics.median(
            b.tokens_per_s / a.tokens_per_s for a, b in zip(ls1, lsn, strict=True)
        )
        print(f"  outweigh x{n} / outweigh x1        {scale:.2f}  (target >= 2.5)")
        print(f"  outweigh x{n} / llama-server x{n}  {anchor:.2f}  (target >= 0.9)")
        print(f"  llama-server x{n} / llama-server x1  {ls_scale:.2f}")
        rss = rss_mib(ow.proc.pid), rss_mib(ls.proc.pid)
        print(f"  RSS: outweigh {rss[0]:.0f} MiB, llama-server {rss[1]:.0f} MiB")
    finally:
        ow.stop()
        ls.stop()


def soak(args: argparse.Namespace, home: Path) -> None:
    import httpx

    ow = start_outweigh(home, int(os.environ.get("OUTWEIGH_LLAMA_SLOTS", "8")))
    try:
        ow.wait_ready()
        kinds = ("plain", "rag", "memory", "adapter")
        load(ow, 4, 5, 8, kinds, args.stuck_s)  # warm up every path
        before = rss_mib(ow.proc.pid)
        print(
            f"mixed load, {args.clients} clients for {args.soak:g} s; RSS before {before:.0f} MiB"
        )
        res = load(ow, args.clients, args.soak, args.max_tokens, kinds, args.stuck_s)
        after = rss_mib(ow.proc.pid)
        health = httpx.get(f"{ow.url}/health", timeout=10).json()
        print(line(f"outweigh x{args.clients} mixed", res))
        print(f"  requests by kind: {dict(res.by_kind)}")
        fivexx = sum(v for k, v in res.errors.items() if k.startswith("http 5"))
        print(f"  5xx: {fivexx}; stuck: {sum(v for k, v in res.errors.items() if 'stuck' in k)}")
        print(f"  after: running {health['running']}, queued {health['queued']} (0, 0: none stuck)")
        print(f"  RSS before {before:.0f} MiB, after {after:.0f} MiB ({after / before - 1:+.1%})")
    finally:
        ow.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=30.0, help="Seconds per measurement.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--mix", choices=("plain", "mixed"), default="plain")
    parser.add_argument("--soak", type=float, default=0.0, help="Seconds of mixed load instead.")
    parser.add_argument("--stuck-s", type=float, default=180.0)
    parser.add_argument(
        "--src",
        type=Path,
        default=ROOT / "src",
        help="Run outweigh's server from this source tree (e.g. an older commit's).",
    )
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-load-"))
    prepare_home(home, adapter=bool(args.soak) or args.mix == "mixed")
    if args.soak:
        soak(args, home)
    else:
        compare(args, home)


if __name__ == "__main__":
    main()
