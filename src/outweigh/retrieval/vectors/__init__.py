"""Dense search behind one interface; every index is a cache of the db, synced by chunk id.

`base.py` holds the `VectorStore` protocol and its types, `faiss.py` and `qdrant.py` the two
engines. `open_vector_store` picks one: faiss files under the state directory (the default), or
Qdrant when `OUTWEIGH_VECTOR_STORE` (or `spec`) says `qdrant://host:port` or `qdrant:///path`.
The engines import only `base.py`, never this package, which imports them.
"""

from __future__ import annotations

from outweigh.errors import InputError
from outweigh.retrieval.store import Store
from outweigh.retrieval.vectors.base import IndexCheck, Progress, SyncReport, VectorStore
from outweigh.retrieval.vectors.faiss import FaissStore
from outweigh.settings import vector_store

__all__ = ["IndexCheck", "Progress", "SyncReport", "VectorStore", "open_vector_store"]


def open_vector_store(store: Store, spec: str | None = None) -> VectorStore:
    """The vector store named by `spec`, else by `$OUTWEIGH_VECTOR_STORE`, else faiss."""
    spec = (spec or vector_store()).strip()
    if spec == "faiss":
        return FaissStore(store)
    if spec.startswith(("qdrant:", "qdrants:")):
        from outweigh.retrieval.vectors.qdrant import QdrantStore

        return QdrantStore(store, spec)
    raise InputError(
        f"unknown vector store {spec!r}; set OUTWEIGH_VECTOR_STORE to faiss, "
        "qdrant://host:port or qdrant:///path/to/dir"
    )
