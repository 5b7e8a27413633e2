"""Hybrid search: BM25 (FTS5) and dense (faiss) rankings fused by reciprocal rank fusion.

BM25 finds exact names, codes and rare words that a small embedder blurs; dense finds
paraphrases that share no words with the query. RRF needs no score calibration between them.

Fusion must never fall below the better retriever. An embedder ranks close to noise in a
language it was not trained on (all-MiniLM-L6-v2 on Russian: recall@5 0.51 against BM25's
0.98), and fusing noise drags BM25 down (0.80). So the dense list gets weight
`UNCOVERED_DENSE_WEIGHT` in the fusion when the query's script is not one of the languages
the embedder declares (`Embedder.languages`, from its model card); docs/retrieval.md has the
measurements behind the choice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from outweigh.embed import Embedder
from outweigh.retrieval.identifiers import phrases
from outweigh.retrieval.location import Location
from outweigh.retrieval.store import Collection, Store, check_embedder
from outweigh.retrieval.vectors import VectorStore, open_vector_store
from outweigh.text import covers

RRF_K = 60
"""RRF constant k=60 (Cormack, Clarke & Buettcher, SIGIR 2009): damps the head of each list."""

UNCOVERED_DENSE_WEIGHT = 0.0
"""RRF weight of the dense list for a query in a language the embedder does not declare.
Measured on examples/suite-ru with all-MiniLM-L6-v2 (`benchmarks/bench_languages.py`):
0.0 keeps BM25's recall@5; any weight above it lets noise displace BM25's answers. With 0.0
the dense list still answers a query BM25 finds nothing for."""

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
    excerpt: str | None = None
    """The lines of the document the prompt shows in place of `text`, when context selection
    cut them out (`outweigh.retrieval.select`); `text` stays the stored chunk."""
    relevance: float | None = None
    """How closely the passage bears on the question, as selection measured it: the highest
    cosine similarity between the question and one of its lines (`Selection.floor`)."""
    location: Location | None = None
    """Where the chunk is in its document; None when unknown."""

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "chunk_id": self.chunk_id,
            "score": round(self.score, 6),
            "text": self.text,
            "bm25_rank": self.bm25_rank,
            "dense_rank": self.dense_rank,
            "location": self.location.to_dict() if self.location else None,
            "where": self.location.label() if self.location else None,
        }


def rrf(
    rankings: Sequence[Sequence[int]],
    k: int = RRF_K,
    weights: Sequence[float] | None = None,
) -> list[tuple[int, float]]:
    """Fuse best-first id lists: score(d) = sum w_i / (k + rank_i(d)) (weights default 1).
    Ties break by id.

    The result does not depend on the order of `rankings` (with their weights).
    """
    parts: dict[int, list[float]] = {}
    for i, ranking in enumerate(rankings):
        w = 1.0 if weights is None else weights[i]
        for rank, doc in enumerate(ranking, start=1):
            parts.setdefault(doc, []).append(w / (k + rank))
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
        if mode != "bm25":
            check_embedder(coll, self.embedder.name, self.embedder.dim)
        bm25 = self.store.bm25(coll, query, n) if mode != "dense" else []
        dense: list[int] = []
        if mode != "bm25" and query.strip():
            dense = [i for i, _ in self.vectors.search(coll, self.embedder.embed(query), n)]
        weights = [1.0, 1.0]
        if bm25 and dense and not covers(self.embedder.languages, query):
            weights[1] = UNCOVERED_DENSE_WEIGHT
        lists = [(r, w) for r, w in zip((bm25, dense), weights, strict=True) if r and w > 0]
        fused = rrf([r for r, _ in lists], weights=[w for _, w in lists])[:k]
        rows = self.store.chunks(i for i, _ in fused)
        b_rank = {c: r for r, c in enumerate(bm25, start=1)}
        d_rank = {c: r for r, c in enumerate(dense, start=1)}
        return [
            Hit(
                cid,
                rows[cid].source,
                rows[cid].text,
                score,
                b_rank.get(cid),
                d_rank.get(cid),
                location=rows[cid].location,
            )
            for cid, score in fused
            if cid in rows
        ]

    def mentioning(
        self, coll: Collection, question: str, names: Sequence[str], n: int
    ) -> tuple[list[Hit], list[str]]:
        """The chunks of `coll` that mention `names` (a question's names with digits,
        `outweigh.retrieval.identifiers`), best first, and those of the names that no
        document of `coll` mentions at all."""
        ids: list[int] = []
        absent: list[str] = []
        for name in names:
            found = self.store.mentioning(coll, phrases(name), question, n)
            if not found:
                absent.append(name)
            ids.extend(i for i in found if i not in ids)
        rows = self.store.chunks(ids)
        return [
            Hit(
                cid,
                rows[cid].source,
                rows[cid].text,
                1 / (RRF_K + rank),
                rank,
                None,
                location=rows[cid].location,
            )
            for rank, cid in enumerate(ids, start=1)
            if cid in rows
        ], absent
