"""Hybrid search: BM25 (FTS5) and dense (faiss) rankings fused by reciprocal rank fusion.

BM25 finds exact names, codes and rare words that a small embedder blurs; dense finds
paraphrases that share no words with the query. RRF needs no score calibration between them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from outweigh.embed import Embedder
from outweigh.retrieval.store import Collection, Store
from outweigh.retrieval.vectors import VectorStore, open_vector_store

RRF_K = 60
"""RRF constant k=60 (Cormack, Clarke & Buettcher, SIGIR 2009): damps the head of each list."""

CANDIDATES = 50
"""Each retriever contributes its top max(4k, 50) before fusion."""


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk."""

    chunk_id: int
    source: str
    text: str
    score: float
    """Fused RRF score (higher is better); in [0, 2/(k+1)]."""
    bm25_rank: int | None
    """1-based rank in the BM25 list, None if BM25 did not return it."""
    dense_rank: int | None

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "chunk_id": self.chunk_id,
            "score": round(self.score, 6),
            "text": self.text,
            "bm25_rank": self.bm25_rank,
            "dense_rank": self.dense_rank,
        }


def rrf(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse best-first id lists: score(d) = sum 1 / (k + rank(d)). Ties break by id.

    The result does not depend on the order of `rankings`.
    """
    parts: dict[int, list[float]] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            parts.setdefault(doc, []).append(1.0 / (k + rank))
    # fsum is exactly rounded, so the sum cannot depend on the order of the lists.
    scores = {doc: math.fsum(p) for doc, p in parts.items()}
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


class HybridSearcher:
    """BM25 + dense over one store, fused with RRF."""

    def __init__(
        self, store: Store, embedder: Embedder, vectors: VectorStore | None = None
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.vectors = vectors or open_vector_store(store)

    def search(self, query: str, collection: str, k: int = 5, mode: str = "hybrid") -> list[Hit]:
        """Top-k chunks for `query`; `mode` is "hybrid", "bm25" or "dense"."""
        if k <= 0:
            raise ValueError("`-k` must be at least 1")
        if mode not in ("hybrid", "bm25", "dense"):
            raise ValueError("`--mode` must be one of hybrid, bm25, dense")
        coll = self.store.collection(collection)
        return self.search_in(coll, query, k, mode)

    def search_in(self, coll: Collection, query: str, k: int, mode: str = "hybrid") -> list[Hit]:
        n = max(4 * k, CANDIDATES)
        bm25 = self.store.bm25(coll, query, n) if mode != "dense" else []
        dense: list[int] = []
        if mode != "bm25" and query.strip():
            dense = [i for i, _ in self.vectors.search(coll, self.embedder.embed(query), n)]
        fused = rrf([r for r in (bm25, dense) if r])[:k]
        rows = self.store.chunks(i for i, _ in fused)
        b_rank = {c: r for r, c in enumerate(bm25, start=1)}
        d_rank = {c: r for r, c in enumerate(dense, start=1)}
        return [
            Hit(cid, rows[cid].source, rows[cid].text, score, b_rank.get(cid), d_rank.get(cid))
            for cid, score in fused
            if cid in rows
        ]
