"""Ingestion throughput with Ray vs without, measured side by side in one run.

The same synthetic corpus (default 200 files of about 2 KB) is ingested with the real
all-MiniLM-L6-v2 into a fresh state directory each time:

1. plain `ingest`, the embedder already loaded (torch on all cores);
2. `ingest_ray` on a local Ray instance, with 2 actors x 1 CPU and 1 actor x 2 CPUs.

Ray's figures include starting the actors and loading a model in each (paid on every
`outweigh ingest --ray`), but not `ray.init`, which is printed apart. "start-up" is the time
the same call takes on a one-file corpus; "without it" subtracts that: the rate once the actors
are up. Rounds alternate the contenders and the ratios use each one's best round, so a
change in the load of a shared machine does not decide the result.

Run: .venv/bin/python benchmarks/bench_ray.py [--files 200] [--bytes 2000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from outweigh.embed import SentenceTransformerEmbedder
from outweigh.retrieval import Store, ingest
from outweigh.retrieval.ray_ingest import connect, ingest_ray
from outweigh.settings import Paths

SUITE = Path(__file__).resolve().parents[1] / "examples" / "suite" / "docs"


def make_corpus(root: Path, files: int, size: int) -> None:
    """Files of about `size` bytes: shuffled sentences of the example suite, so no two match."""
    text = " ".join(p.read_text() for p in sorted(SUITE.glob("*.md")))
    sentences = [s.strip() + "." for s in text.replace("\n", " ").split(".") if s.strip()]
    rnd = random.Random(0)
    for i in range(files):
        parts = [f"# Document {i}\n\nSerial {i * 7919}."]
        while sum(len(p) + 1 for p in parts) < size:
            parts.append(rnd.choice(sentences))
        (root / f"doc{i:04}.md").write_text(" ".join(parts))


def run_plain(docs: Path, home: Path, emb: SentenceTransformerEmbedder) -> tuple[int, float]:
    """(chunks stored, seconds)."""
    t0 = time.perf_counter()
    report = ingest([docs], Store(Paths(home)), emb, "bench")
    return report.chunks, time.perf_counter() - t0


def run_ray(docs: Path, home: Path, workers: int, worker_cpus: int) -> tuple[int, float]:
    """(chunks stored, seconds end to end)."""
    t0 = time.perf_counter()
    report = ingest_ray(
        [docs], Store(Paths(home)), "bench", workers=workers, worker_cpus=worker_cpus
    )
    return report.chunks, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--bytes", type=int, default=2000, help="Approximate size of each file.")
    ap.add_argument("--rounds", type=int, default=2, help="Best of this many rounds.")
    args = ap.parse_args()
    import ray

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        docs = root / "docs"
        docs.mkdir()
        make_corpus(docs, args.files, args.bytes)
        one = root / "one"  # a one-file corpus: what an `ingest_ray` call costs before work
        one.mkdir()
        make_corpus(one, 1, 100)
        print(f"corpus: {args.files} files of ~{args.bytes} bytes, {os.cpu_count()} cores")

        t0 = time.perf_counter()
        emb = SentenceTransformerEmbedder()
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        connect()  # a local instance on every core, as `outweigh ingest --ray` starts it
        t_init = time.perf_counter() - t0
        configs = ((2, 1), (1, 2))
        plain: list[float] = []  # seconds per round
        ray_total: dict[tuple[int, int], list[float]] = {c: [] for c in configs}
        ray_start: dict[tuple[int, int], list[float]] = {c: [] for c in configs}
        try:
            # Rounds alternate the contenders, so a change in the machine's load hits each.
            for r in range(args.rounds):
                chunks, t = run_plain(docs, root / f"plain{r}", emb)
                plain.append(t)
                for workers, cpus in configs:
                    _, t_start = run_ray(one, root / f"start{r}-{workers}", workers, cpus)
                    _, total = run_ray(docs, root / f"ray{r}-{workers}", workers, cpus)
                    ray_start[workers, cpus].append(t_start)
                    ray_total[workers, cpus].append(total)
        finally:
            ray.shutdown()

        def rates(times: list[float]) -> str:
            return " ".join(f"{chunks / t:.1f}" for t in times)

        best = chunks / min(plain)
        print(f"{chunks} chunks; chunks/s per round, best first in the ratio")
        print(f"  plain ingest                 {rates(plain)}")
        print(f"  plain, incl. model load      {chunks / (min(plain) + t_load):.1f} (best round)")
        print(f"  ray.init                     {t_init:.1f} s (once per `outweigh ingest --ray`)")
        for workers, cpus in configs:
            total = min(ray_total[workers, cpus])
            start = min(ray_start[workers, cpus])
            steady = chunks / max(total - start, 1e-9)
            print(
                f"  ray {workers} actor(s) x {cpus} CPU      {rates(ray_total[workers, cpus])}: "
                f"ratio {chunks / total / best:.2f}; start-up {start:.1f} s, without it "
                f"{steady:.1f} chunks/s, ratio {steady / best:.2f}"
            )


if __name__ == "__main__":
    main()
