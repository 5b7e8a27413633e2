"""The faiss vector store: one index file per collection under the state directory, the default."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from outweigh.retrieval.store import Collection, Store
from outweigh.retrieval.vectors.base import IndexCheck, Progress, SyncReport, diff_ids

ADD_BATCH = 8192
"""Vectors read from SQLite and added per step of a sync."""


IVF_MIN = 250_000
"""Chunks from which a collection's faiss index is IVF instead of exact (flat). Exact search
scans every vector: 0.055 us per 384-d vector on one core, so 14 ms at 250k and 55 ms at 1M.
IVF at 1M: recall@10 0.974 in 0.85 ms (docs/benchmarks.md#scale)."""

NPROBE = 32
"""IVF lists scanned per query (of about 4 sqrt(n)); 16 gave recall@10 0.953, 64 gave 0.992."""


@contextlib.contextmanager
def omp_threads(n: int) -> Iterator[None]:
    """Run faiss with `n` OpenMP threads, and give the calling thread its count back after.

    `omp_set_num_threads` sets the calling thread's OpenMP count, and torch (sharing the
    OpenMP runtime) reads the same count: set once for faiss and left, it ran every later
    embedding in the thread on one core.
    """
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def ivf_lists(n: int) -> int:
    """IVF list count for n vectors: 4 sqrt(n), the faiss wiki's rule of thumb."""
    return max(1, int(4 * np.sqrt(n)))


class FaissStore:
    """faiss files under `index/`: `<collection>.faiss` plus a `.gen` sidecar.

    The sidecar records the collection generation the file was synced at. A stale generation
    means a diff against the db; a missing or unreadable file means a rebuild. Vectors are
    normalised, so inner product is cosine. Up to `IVF_MIN` chunks the index is exact (recall
    1.0); past it, an IVF index trained on the collection's own vectors, rebuilt when the
    collection has grown so much that its lists are too long (`ivf_lists`).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._loaded: dict[str, tuple[int, Any]] = {}
        self._lock = threading.Lock()

    def search(
        self, collection: Collection, query: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
        index = self._current(collection)
        if index.ntotal == 0:
            return []
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        # One query is a memory-bound scan; OpenMP's fork/join per call costs more than a
        # second core saves (100k x 384-d on 2 cores: 8.5 ms with 1 thread, 17 ms with 2).
        with omp_threads(1):
            scores, ids = index.search(q, min(limit, index.ntotal))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def _current(self, collection: Collection) -> Any:
        with self._lock:
            hit = self._loaded.get(collection.name)
            if hit and hit[0] == collection.generation:
                return hit[1]
        self.sync(collection)
        with self._lock:
            return self._loaded[collection.name][1]

    def sync(
        self, collection: Collection, progress: Progress | None = None, force: bool = False
    ) -> SyncReport:
        with self._lock:
            generation = self.store.generation(collection)
            hit = self._loaded.get(collection.name)
            if hit and hit[0] == generation and not force:
                return SyncReport(0, 0, False)
            if hit and not force:
                index = hit[1]  # an older generation in memory: diff it, no need to reread
            else:
                with self._file_lock(collection, fcntl.LOCK_SH):  # the pair, as written
                    saved = self._saved_generation(collection)
                    index, _ = self._read(collection)
                trusted = not force and saved == generation
                if index is not None and trusted:
                    self._loaded[collection.name] = (generation, index)
                    return SyncReport(0, 0, False)
            db_ids = self.store.chunk_ids(collection)
            if index is not None and self._outgrown(index, len(db_ids)):
                index = None
            rebuilt = index is None
            if index is None:
                index = self._new(collection, db_ids)
            missing, orphans = diff_ids(db_ids, _ids(index))
            if len(orphans):
                index.remove_ids(np.ascontiguousarray(orphans, dtype=np.int64))
            done = 0
            for ids, vecs in self.store.iter_embeddings(collection, missing, ADD_BATCH):
                index.add_with_ids(vecs, ids)
                done += len(ids)
                if progress:
                    progress(done, len(missing))
            self._write(collection, index, generation)
            self._loaded[collection.name] = (generation, index)
            return SyncReport(len(missing), len(orphans), rebuilt)

    def check(self, collection: Collection) -> IndexCheck:
        db_ids = self.store.chunk_ids(collection)
        index, problem = self._read(collection)
        if index is None:
            why = "no index file" if problem == "missing" else f"unreadable index ({problem})"
            return IndexCheck(len(db_ids), 0, 0, len(db_ids), why)
        missing, orphans = diff_ids(db_ids, _ids(index))
        saved = self._saved_generation(collection)
        stale = saved is not None and saved < self.store.generation(collection)
        return IndexCheck(len(db_ids), int(index.ntotal), len(orphans), len(missing), None, stale)

    def drop(self, collection_name: str) -> None:
        with self._lock:
            self._loaded.pop(collection_name, None)
        base = self.store.paths.index_dir / collection_name
        for suffix in (".faiss", ".gen", ".faiss.lock"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(f"{base}{suffix}")

    def close(self) -> None:
        with self._lock:
            self._loaded.clear()

    # -- files ----------------------------------------------------------------------------
    def _files(self, collection: Collection) -> tuple[str, str]:
        base = self.store.paths.index_dir / collection.name
        return f"{base}.faiss", f"{base}.gen"

    def _new(self, collection: Collection, db_ids: np.ndarray) -> Any:
        """An empty index of the right kind for the collection's size (IVF comes trained)."""
        import faiss

        dim = collection.dim or 1
        if len(db_ids) < IVF_MIN:
            return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        nlist = ivf_lists(len(db_ids))
        # k-means wants 30-256 points per list; 64 per list from an even sample of the ids.
        sample_ids = db_ids[:: max(1, len(db_ids) // (64 * nlist))]
        sample = np.concatenate([v for _, v in self.store.iter_embeddings(collection, sample_ids)])
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        with omp_threads(os.cpu_count() or 1):  # training is the one parallel step
            index.train(sample)
        index.nprobe = NPROBE
        return index

    @staticmethod
    def _outgrown(index: Any, n: int) -> bool:
        """A flat index past IVF_MIN, or an IVF one whose lists hold 4x what they were made
        for: rebuild."""
        import faiss

        if isinstance(index, faiss.IndexIDMap2):
            return n >= IVF_MIN
        return ivf_lists(n) > 2 * index.nlist

    def _read(self, collection: Collection) -> tuple[Any | None, str | None]:
        """(index, None), or (None, why): "missing" or the reader's complaint."""
        import faiss

        path, _ = self._files(collection)
        if not os.path.exists(path):
            return None, "missing"
        try:
            # read_index returns the concrete class; a downcast_index() copy of the wrapper
            # would not own the C++ object, which dies with the original.
            index = faiss.read_index(path)
            if not isinstance(index, faiss.IndexIDMap2 | faiss.IndexIVFFlat) or index.d != (
                collection.dim or 1
            ):
                return None, f"wrong kind of index ({type(index).__name__}, {index.d}-d)"
            if isinstance(index, faiss.IndexIVFFlat):
                index.nprobe = NPROBE
            return index, None
        except (RuntimeError, MemoryError, ValueError) as e:
            return None, str(e).strip().splitlines()[-1][:120] if str(e).strip() else "corrupt"

    def _saved_generation(self, collection: Collection) -> int | None:
        try:
            with open(self._files(collection)[1]) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def _write(self, collection: Collection, index: Any, generation: int) -> None:
        import faiss

        path, gen = self._files(collection)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # Write, fsync, rename: a reader never sees a half-written index, and the sidecar is
        # renamed last, so a crash between the two leaves a stale generation, hence a diff.
        # Two processes may sync at once: each writes its own temporary files, and a lock
        # keeps each index and its sidecar a pair (never one's index with the other's number).
        tmp = f".{os.getpid()}.{threading.get_ident()}.tmp"
        faiss.write_index(index, path + tmp)
        _fsync(path + tmp)
        with open(gen + tmp, "w") as f:
            f.write(str(generation))
            f.flush()
            os.fsync(f.fileno())
        with self._file_lock(collection, fcntl.LOCK_EX):
            os.replace(path + tmp, path)
            os.replace(gen + tmp, gen)

    @contextlib.contextmanager
    def _file_lock(self, collection: Collection, how: int) -> Iterator[None]:
        """Between processes: readers share it, a writer renaming the pair holds it alone."""
        path, _ = self._files(collection)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".lock", "a") as lock:
            fcntl.flock(lock, how)
            yield


def _ids(index: Any) -> np.ndarray:
    """The ids an index holds, sorted."""
    import faiss

    if isinstance(index, faiss.IndexIDMap2):
        return np.sort(faiss.vector_to_array(index.id_map).astype(np.int64))
    lists = index.invlists
    parts = [
        faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
        for i in range(index.nlist)
        if lists.list_size(i)
    ]
    return np.sort(np.concatenate(parts).astype(np.int64)) if parts else np.zeros(0, np.int64)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
