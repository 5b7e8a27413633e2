"""Retrieval figures, measured side by side in one run.

1. Ingestion chunks/s: `outweigh` ingest (read, chunk, embed, SQLite + FTS5) vs raw
   sentence-transformers `encode` of the very same chunk texts with the same batch size,
   without line vectors: the corpus repeats the handbook's lines, so it cannot price them
   (`bench_latency.py` times ingest with and without them on real text).
2. Hybrid search latency p50/p95 at 10k and 100k chunks (synthetic text and unit vectors
   written straight into the store; the query is embedded by the real model each time).

Run: .venv/bin/python benchmarks/bench_retrieval.py [--sizes 10000 100000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from outweigh.embed import SentenceTransformerEmbedder
from outweigh.retrieval import HybridSearcher, Store, ingest
from outweigh.settings import Paths

SUITE = Path(__file__).resolve().parents[1] / "examples" / "suite" / "docs"


def make_corpus(root: Path, files: int) -> None:
    texts = [p.read_text() for p in sorted(SUITE.iterdir())]
    rnd = random.Random(0)
    for i in range(files):
        body = "\n\n".join(rnd.sample(texts, 3))
        (root / f"doc{i:04}.md").write_text(f"# Document {i}\n\n{body}\n\nSerial {i * 7919}.")


def bench_ingest(emb: SentenceTransformerEmbedder, files: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "docs").mkdir()
        make_corpus(root / "docs", files)
        store = Store(Paths(root / "home"))
        t0 = time.perf_counter()
        report = ingest([root / "docs"], store, emb, "bench", line_vectors=False)
        t_ours = time.perf_counter() - t0
        texts = [r[0] for r in store.conn.execute("SELECT text FROM chunks ORDER BY id")]
        t0 = time.perf_counter()
        emb.model.encode(texts, batch_size=emb.batch_size, normalize_embeddings=True)
        t_raw = time.perf_counter() - t0
    ours, raw = report.chunks / t_ours, len(texts) / t_raw
    print(f"ingest: {files} files, {report.chunks} chunks")
    print(f"  outweigh ingest      {ours:8.1f} chunks/s")
    print(f"  raw ST encode        {raw:8.1f} chunks/s")
    print(f"  ratio (target >=0.8) {ours / raw:8.2f}")


def bench_search(emb: SentenceTransformerEmbedder, n_chunks: int, queries: int = 200) -> None:
    rnd = random.Random(1)
    vocab = [f"w{i}" for i in range(20000)]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Paths(Path(tmp)))
        coll = store.ensure_collection("bench", emb.name, emb.dim)
        per_doc = 1000
        gen = np.random.default_rng(0)
        for d in range(n_chunks // per_doc):
            chunks = [(" ".join(rnd.choices(vocab, k=120)), 0, 0) for _ in range(per_doc)]
            vecs = gen.standard_normal((per_doc, emb.dim)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            store.put_document(coll, f"/synthetic/{d}.txt", str(d), 0, chunks, vecs)
        searcher = HybridSearcher(store, emb)
        qs = [" ".join(rnd.choices(vocab, k=6)) for _ in range(queries)]
        searcher.search(qs[0], "bench", k=5)  # builds and caches the faiss index
        lat, lat_noembed = [], []
        coll = store.collection("bench")
        for q in qs:
            t0 = time.perf_counter()
            searcher.search(q, "bench", k=5)
            lat.append(time.perf_counter() - t0)
            vec = emb.embed(q)
            t0 = time.perf_counter()
            store.bm25(coll, q, 50)
            searcher.vectors.search(coll, vec, 50)
            lat_noembed.append(time.perf_counter() - t0)

    def pct(xs, p):
        return statistics.quantiles(xs, n=100)[p - 1] * 1000

    print(f"search @ {n_chunks} chunks ({queries} queries, k=5)")
    print(f"  hybrid incl. query embedding  p50 {pct(lat, 50):6.1f} ms  p95 {pct(lat, 95):6.1f} ms")
    print(
        f"  bm25 + faiss only             p50 {pct(lat_noembed, 50):6.1f} ms  "
        f"p95 {pct(lat_noembed, 95):6.1f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=120)
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    args = ap.parse_args()
    emb = SentenceTransformerEmbedder()
    bench_ingest(emb, args.files)
    for n in args.sizes:
        bench_search(emb, n)


if __name__ == "__main__":
    main()
