"""Syncing and searching the same collection in faiss and in Qdrant's local modes, side by side.

10k random unit vectors (384-d) are written through the real store, then each vector store
syncs them from the db and answers 200 queries. Qdrant's local mode is qdrant-client's own
embedded engine (no server); a Qdrant server runs the same `QdrantStore` code.

Run: .venv/bin/python benchmarks/bench_qdrant.py [--chunks 10000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from outweigh.retrieval.store import Store
from outweigh.retrieval.vectors.faiss import FaissStore
from outweigh.retrieval.vectors.qdrant import QdrantStore
from outweigh.settings import Paths


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=10_000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Paths(Path(tmp)))
        coll = store.ensure_collection("bench", "synthetic", 384)
        for d in range(0, args.chunks, 100):
            vecs = rng.standard_normal((100, 384)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            store.put_document(coll, f"/d{d}", str(d), 1, [(f"t{d}", 0, 1)] * 100, vecs)
        coll = store.collection("bench")
        queries = store.embeddings(coll)[1][:200]
        print(f"{args.chunks:,} chunks x 384-d; sync from the db, then 200 queries (top 50)")
        contenders = {
            "faiss (exact)": FaissStore(store),
            "qdrant local, memory": QdrantStore(store, "qdrant::memory:"),
            "qdrant local, on disk": QdrantStore(store, f"qdrant://{tmp}/qdrant"),
        }
        for label, vectors in contenders.items():
            t0 = time.perf_counter()
            vectors.sync(coll)
            sync_s = time.perf_counter() - t0
            lat = []
            for q in queries:
                t0 = time.perf_counter()
                vectors.search(coll, q, 50)
                lat.append(time.perf_counter() - t0)
            p50 = statistics.median(lat) * 1000
            print(f"  {label:<22} sync {sync_s:6.1f} s   search p50 {p50:6.2f} ms")
            vectors.close()


if __name__ == "__main__":
    main()
