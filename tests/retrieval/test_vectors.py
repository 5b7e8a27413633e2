"""The faiss store past `IVF_MIN`: an IVF index that syncs, checks and searches like flat."""

from __future__ import annotations

import numpy as np

import outweigh.retrieval.vectors.faiss as vectors_module
from outweigh.retrieval.store import Store
from outweigh.retrieval.vectors.faiss import FaissStore


def _fill(store: Store, docs: int, per_doc: int = 100, dim: int = 32) -> None:
    coll = store.ensure_collection("c", "synthetic", dim)
    rng = np.random.default_rng(0)
    for d in range(docs):
        v = rng.standard_normal((per_doc, dim)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        store.put_document(coll, f"/d{d}", str(d), 1, [(f"t{d}", 0, 1)] * per_doc, v)


def test_a_large_collection_gets_an_ivf_index_that_stays_in_sync(paths, monkeypatch):
    import faiss

    monkeypatch.setattr(vectors_module, "IVF_MIN", 2000)
    store = Store(paths)
    _fill(store, 15)  # 1500 chunks: still flat
    vectors = FaissStore(store)
    vectors.sync(store.collection("c"))
    assert isinstance(vectors._read(store.collection("c"))[0], faiss.IndexIDMap2)
    _fill(store, 40)  # 15 documents replaced, 25 added: 4000 chunks
    report = vectors.sync(store.collection("c"))
    assert report.rebuilt  # outgrew flat
    index = FaissStore(store)._read(store.collection("c"))[0]  # a new process reads it back
    assert isinstance(index, faiss.IndexIVFFlat) and index.nprobe == vectors_module.NPROBE
    store.remove_document(store.collection("c"), "/d3")
    report = vectors.sync(store.collection("c"))
    assert (report.added, report.removed, report.rebuilt) == (0, 100, False)
    check = FaissStore(store).check(store.collection("c"))
    assert check.ok and check.indexed == 3900
    ids, vecs = store.embeddings(store.collection("c"))
    top = [FaissStore(store).search(store.collection("c"), vecs[i], 1)[0][0] for i in range(50)]
    assert np.mean(np.array(top) == ids[:50]) >= 0.9  # each vector finds itself


def test_searching_and_training_leave_torch_its_threads(paths, monkeypatch):
    # faiss and torch share the OpenMP runtime: a faiss call that set the thread's count
    # to 1 and left it ran every later embedding in that thread on one core.
    import torch

    monkeypatch.setattr(vectors_module, "IVF_MIN", 1000)
    store = Store(paths)
    _fill(store, 15)  # 1500 chunks: an IVF index, trained with every core
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        vectors = FaissStore(store)
        _, vecs = store.embeddings(store.collection("c"))
        assert vectors.search(store.collection("c"), vecs[0], 3)  # trains, adds, searches
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
