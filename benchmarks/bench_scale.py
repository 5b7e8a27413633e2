"""Retrieval at 10k, 100k and 1M chunks: ingest cost, search latency, and the dense index choice.

The text is real English: paragraphs of the docstrings installed in this virtualenv, cycled to
reach the size (each chunk gets a unique serial so none is an exact duplicate). The vectors
are real all-MiniLM-L6-v2 embeddings of `--base` of those paragraphs, each copied with a
little Gaussian noise (cosine about 0.85 to its original), because embedding a million chunks
with the real model on 2 CPU cores would take hours; the real model's per-chunk cost is
measured on the base set and reported beside the store's own cost.

Measured, per size:
- ingest: store writes (SQLite + FTS5, the real `Store.put_document`, 50 chunks per document)
  and the vector index build (`FaissStore.sync` from the db), per chunk;
- search p50/p95 over `--queries` real-text queries: BM25, dense (the default faiss index:
  exact below `IVF_MIN` chunks, IVF from it), and hybrid
  (both, fused, chunk rows read), the query embedding excluded (measured once, separately).

With `--ann`, at the largest size: exact flat vs HNSW vs IVF, recall@10 against exact search,
latency and build time, so the default can be picked from the data.

Run: .venv/bin/python benchmarks/bench_scale.py [--sizes 10000 100000 1000000] [--ann]
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from outweigh.embed import Embedder, SentenceTransformerEmbedder
from outweigh.retrieval.hybrid import HybridSearcher
from outweigh.retrieval.store import Store
from outweigh.retrieval.vectors.faiss import IVF_MIN, FaissStore
from outweigh.settings import Paths

PER_DOC = 50


def paragraphs(limit: int) -> list[str]:
    """Docstring paragraphs of 200-1200 characters from the installed packages, in a fixed
    order."""
    site = Path(np.__file__).resolve().parents[1]
    out: list[str] = []
    for path in sorted(site.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef):
                doc = ast.get_docstring(node) or ""
                for para in doc.split("\n\n"):
                    para = " ".join(para.split())
                    if 200 <= len(para) <= 1200 and para.count(" ") > 30:
                        out.append(para)
        if len(out) >= limit:
            break
    return out[:limit]


class Lookup(Embedder):
    """Returns precomputed query vectors, so search timings exclude the model."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, vectors: dict[str, np.ndarray], dim: int) -> None:
        self.vectors, self.dim = vectors, dim

    def embed_batch(self, texts):
        return np.stack([self.vectors[t] for t in texts])


def pct(xs: list[float], p: int) -> float:
    return statistics.quantiles(xs, n=100)[p - 1] * 1000


def timed(fn: Callable[[], object], reps: list[float]) -> None:
    t0 = time.perf_counter()
    fn()
    reps.append(time.perf_counter() - t0)


def synth_vectors(base: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(base), n)
    noise = rng.standard_normal((n, base.shape[1]), dtype=np.float32) * 0.03
    vecs = base[picks] + noise
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs.astype(np.float32)


def fill(store: Store, texts: list[str], base: np.ndarray, n: int, name: str) -> float:
    """Write n chunks through the real store; seconds taken."""
    coll = store.ensure_collection("bench", name, base.shape[1])
    t0 = time.perf_counter()
    for d in range(0, n, PER_DOC):
        m = min(PER_DOC, n - d)
        chunks = [(f"{texts[(d + j) % len(texts)]} serial{d + j}", 0, 0) for j in range(m)]
        store.put_document(
            coll, f"/synthetic/{d // PER_DOC}.txt", str(d), 0, chunks, synth_vectors(base, m, d)
        )
    return time.perf_counter() - t0


def bench_size(
    n: int, texts: list[str], base: np.ndarray, queries: dict[str, np.ndarray], tmp: Path
) -> tuple[Store, np.ndarray]:
    store = Store(Paths(tmp / f"n{n}"))
    t_write = fill(store, texts, base, n, "all-MiniLM-L6-v2")
    coll = store.collection("bench")
    vectors = FaissStore(store)
    t0 = time.perf_counter()
    vectors.sync(coll)
    t_index = time.perf_counter() - t0
    db_mb = sum(f.stat().st_size for f in store.paths.root.glob("outweigh.db*")) / 2**20
    searcher = HybridSearcher(store, Lookup(queries, base.shape[1]), vectors)
    bm25, dense, hybrid = [], [], []
    for q, vec in queries.items():
        timed(lambda q=q: store.bm25(coll, q, 50), bm25)
        timed(lambda vec=vec: vectors.search(coll, vec, 50), dense)
        timed(lambda q=q: searcher.search_in(coll, q, 5), hybrid)
    print(f"\n== {n:,} chunks (db {db_mb:,.0f} MiB)")
    print(
        f"  ingest: store write {t_write / n * 1e6:7.1f} us/chunk   index build (sync from db) "
        f"{t_index / n * 1e6:6.1f} us/chunk   ({t_write:.1f} s + {t_index:.1f} s)"
    )
    kind = "IVF" if n >= IVF_MIN else "flat"
    for label, xs in (("bm25", bm25), (f"dense ({kind})", dense), ("hybrid", hybrid)):
        print(f"  {label:<13} p50 {pct(xs, 50):7.1f} ms   p95 {pct(xs, 95):7.1f} ms")
    sys.stdout.flush()
    _, vecs = store.embeddings(coll)
    return store, vecs


def bench_ann(vecs: np.ndarray, qvecs: np.ndarray) -> None:
    import faiss

    n, dim = vecs.shape
    k = 10
    flat = faiss.IndexFlatIP(dim)
    flat.add(vecs)
    t0 = time.perf_counter()
    _, truth = flat.search(qvecs, k)
    flat_ms = (time.perf_counter() - t0) / len(qvecs) * 1000

    def run(index: object, label: str, build_s: float) -> None:
        lat = []
        found = 0
        for i in range(len(qvecs)):
            t0 = time.perf_counter()
            _, ids = index.search(qvecs[i : i + 1], k)
            lat.append(time.perf_counter() - t0)
            found += len(set(ids[0]) & set(truth[i]))
        print(
            f"  {label:<26} recall@10 {found / (k * len(qvecs)):.3f}   "
            f"p50 {pct(lat, 50):6.2f} ms   build {build_s:6.1f} s"
        )
        sys.stdout.flush()

    print(f"\n== dense index at {n:,} x {dim}-d, {len(qvecs)} queries, 1 search thread")
    print(f"  {'flat (exact)':<26} recall@10 1.000   p50 {flat_ms:6.2f} ms (batched mean)")
    run(flat, "flat (exact)", 0.0)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    t0 = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 64
    hnsw.add(vecs)
    t_hnsw = time.perf_counter() - t0
    nlist = int(4 * np.sqrt(n))
    t0 = time.perf_counter()
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = vecs[np.random.default_rng(0).choice(n, min(n, 64 * nlist), replace=False)]
    ivf.train(sample)
    ivf.add(vecs)
    t_ivf = time.perf_counter() - t0
    faiss.omp_set_num_threads(1)
    for ef in (32, 64, 128):
        hnsw.hnsw.efSearch = ef
        run(hnsw, f"HNSW32 efSearch={ef}", t_hnsw)
    for probe in (8, 16, 32, 64):
        ivf.nprobe = probe
        run(ivf, f"IVF{nlist} nprobe={probe}", t_ivf)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--base", type=int, default=5000, help="Paragraphs embedded for real.")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--ann", action="store_true", help="Compare flat, HNSW, IVF at the top.")
    ap.add_argument("--tmp", default=None, help="Scratch folder (needs ~4 GB at 1M).")
    ap.add_argument(
        "--all-words", action="store_true", help="BM25 with every query word (no posting budget)."
    )
    args = ap.parse_args()
    import faiss

    faiss.omp_set_num_threads(1)
    if args.all_words:
        import outweigh.retrieval.store as store_module

        store_module.POSTING_BUDGET = 2**62
    texts = paragraphs(max(args.base, 60_000))
    emb = SentenceTransformerEmbedder()
    rng = random.Random(0)
    t0 = time.perf_counter()
    base = emb.embed_batch(texts[: args.base]).astype(np.float32)
    t_embed = time.perf_counter() - t0
    qtexts = [" ".join(t.split()[:12]) for t in rng.sample(texts, args.queries)]
    t0 = time.perf_counter()
    queries = {q: emb.embed(q) for q in qtexts}
    t_query = (time.perf_counter() - t0) / len(qtexts)
    print(
        f"{len(texts):,} real paragraphs; real embedder: {args.base / t_embed:,.0f} chunks/s "
        f"({t_embed / args.base * 1e6:,.0f} us/chunk), {t_query * 1000:.1f} ms per query"
    )
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        vecs = None
        for n in args.sizes:
            store, vecs = bench_size(n, texts, base, queries, Path(tmp))
            store.close()
        if args.ann and vecs is not None:
            bench_ann(vecs, np.stack(list(queries.values())))


if __name__ == "__main__":
    main()
