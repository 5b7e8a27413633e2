"""Memory fixtures: a store per test, with the fake embedder or the real MiniLM."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from outweigh.memory import MemoryStore
from outweigh.settings import Paths
from outweigh.testing import FakeEmbedder


@pytest.fixture
def mem(paths: Paths) -> Iterator[MemoryStore]:
    """A store whose embedder is the bag-of-words fake: for tests not about recall quality."""
    store = MemoryStore(paths, embedder=FakeEmbedder())
    yield store
    store.close()


@pytest.fixture
def mem_real(paths: Paths, embedder) -> Iterator[MemoryStore]:
    """A store with the real all-MiniLM-L6-v2: for merge, supersession and recall quality."""
    store = MemoryStore(paths, embedder=embedder)
    yield store
    store.close()
