"""Hybrid retrieval over the user's documents: loaders, chunking, SQLite + FTS5, faiss, RRF."""

from outweigh.retrieval.hybrid import Hit, HybridSearcher, rrf
from outweigh.retrieval.ingest import IngestReport, ingest
from outweigh.retrieval.store import Collection, DocumentRow, Store

__all__ = [
    "Collection",
    "DocumentRow",
    "Hit",
    "HybridSearcher",
    "IngestReport",
    "Store",
    "ingest",
    "rrf",
]
