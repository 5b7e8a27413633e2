"""Fixtures shared by the retrieval tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from outweigh.retrieval.store import Store
from outweigh.settings import Paths


@pytest.fixture
def store(paths: Paths) -> Iterator[Store]:
    """The retrieval tables of this test's own db."""
    s = Store(paths)
    yield s
    s.close()
