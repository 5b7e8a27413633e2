"""The vector store interface: the `VectorStore` protocol and the types its engines share.

SQLite holds every chunk's embedding. A vector store only mirrors them, so it can always be
checked against the db and repaired from it:

- `sync` makes the index hold exactly the collection's chunks: it adds the missing ids and
  removes the orphans (chunk ids are AUTOINCREMENT, never reused, so an id names one vector
  for ever). A missing or corrupt index is rebuilt from nothing the same way.
- `search` syncs first whenever the collection's generation moved since the last sync; at a
  steady generation it is one index query.
- `check` reports orphans and missing vectors without writing; `outweigh doctor` uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from outweigh.retrieval.store import Collection

Progress = Callable[[int, int], None]
"""`progress(done, total)`: vectors added so far during a sync."""


@dataclass(frozen=True)
class SyncReport:
    """What one `sync` changed."""

    added: int
    removed: int
    rebuilt: bool
    """True when the index was missing or unreadable and was built from the db."""


@dataclass(frozen=True)
class IndexCheck:
    """How an index compares with the db's chunks; `ok` means it needs no repair."""

    chunks: int
    indexed: int
    orphans: int
    """Vectors whose chunk no longer exists."""
    missing: int
    """Chunks without a vector."""
    problem: str | None = None
    """Why the index could not be read at all (missing file, corrupt file, unreachable server)."""
    stale: bool = False
    """The index was last synced at an older generation of the collection: the db changed since
    (documents added or removed), and the next search or `sync` brings it up to date. Its
    orphans and missing vectors are that change, not damage."""

    @property
    def ok(self) -> bool:
        return self.problem is None and self.orphans == 0 and self.missing == 0


class VectorStore(Protocol):
    """A dense index over the chunks of each collection, kept in step with the db."""

    def search(
        self, collection: Collection, query: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
        """(chunk_id, cosine) best-first; syncs first if the collection changed."""
        ...

    def sync(
        self, collection: Collection, progress: Progress | None = None, force: bool = False
    ) -> SyncReport:
        """Make the index hold exactly the collection's chunks. Without `force`, an index whose
        recorded generation is current is trusted as it is; with it, it is diffed anyway."""
        ...

    def check(self, collection: Collection) -> IndexCheck:
        """Compare the index with the db; writes nothing."""
        ...

    def drop(self, collection_name: str) -> None:
        """Forget the collection's index."""
        ...

    def close(self) -> None:
        """Let go of files, clients and locks."""
        ...


def diff_ids(db_ids: np.ndarray, indexed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(missing, orphans): chunk ids without a vector, and vector ids without a chunk."""
    missing = np.setdiff1d(db_ids, indexed, assume_unique=True)
    orphans = np.setdiff1d(indexed, db_ids, assume_unique=True)
    return missing, orphans
