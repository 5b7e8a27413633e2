"""Qdrant as the vector store: one Qdrant collection mirrors one outweigh collection.

Selected by `OUTWEIGH_VECTOR_STORE` (see `open_vector_store`):

- `qdrant://host:port` (`qdrants://` for https) talks to a Qdrant server over REST;
- `qdrant:///abs/path` or `qdrant:relative/path` runs qdrant-client's local mode on disk;
- `qdrant::memory:` runs local mode in memory, for as long as the store object lives.

Query options: `api_key=` (server only; else `$QDRANT_API_KEY`), `prefix=` (default
`outweigh_`, so two state directories can share one server) and `timeout=` seconds.

Only the client differs between server and local mode; the rest is the same code. SQLite stays
the source of truth: a point is a chunk's embedding under the chunk's id (ids are never reused)
with no payload. The collection generation last synced lives in the Qdrant collection's own
metadata (Qdrant >= 1.16), so a new process trusts an index that is already up to date instead
of diffing it; an older server ignores the metadata, and every process diffs once.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from outweigh.errors import InputError, OutweighError
from outweigh.retrieval.store import Collection, Store
from outweigh.retrieval.vectors.base import IndexCheck, Progress, SyncReport, diff_ids
from outweigh.settings import qdrant_api_key

UPSERT_BATCH = 1024
"""Vectors per upsert: 1024 x 384-d is ~4 MB of JSON, well under the server's 32 MB cap on a
request (`service.max_request_size_mb`)."""

SCROLL_PAGE = 10_000
"""Point ids per scroll request while diffing (ids only: no vectors, no payload)."""

DELETE_BATCH = 10_000
"""Orphan ids per delete request."""

TIMEOUT_S = 10
"""Default seconds per request to a server; `?timeout=` changes it."""

GENERATION_KEY = "outweigh_generation"
COLLECTION_KEY = "outweigh_collection_id"
"""Collection metadata: the generation the points match, and the SQLite collection id they
came from (a collection dropped and made again under the same name starts a new id)."""

FORMS = (
    "qdrant://host:port, qdrants://host:port, qdrant:///abs/path, qdrant:rel/path, qdrant::memory:"
)
_PREFIX = re.compile(r"[A-Za-z0-9_.-]{0,64}")
_DOCKER = 'docker run -p 6333:6333 -v "$(pwd)/qdrant_storage:/qdrant/storage:z" qdrant/qdrant'


@dataclass(frozen=True)
class QdrantSpec:
    """A parsed `OUTWEIGH_VECTOR_STORE` value for Qdrant."""

    url: str | None
    """`http(s)://host:port` of a server, or None for local mode."""
    path: str | None
    """Local mode: an absolute directory, or `:memory:`."""
    api_key: str | None = None
    prefix: str = "outweigh_"
    """Prepended to outweigh collection names to name the Qdrant collections."""
    timeout: int = TIMEOUT_S

    @property
    def where(self) -> str:
        """The place in words, without the api key, for error messages."""
        if self.url:
            return self.url
        return "memory" if self.path == ":memory:" else f"local storage {self.path}"


def parse_spec(spec: str) -> QdrantSpec:
    """The server, folder or memory that `spec` names; a one-line error listing `FORMS` if none."""
    parts = urlsplit(spec.strip())
    spec = re.sub(r"api_key=[^&]*", "api_key=***", spec)  # the error messages below show it
    bad = InputError(f"bad vector store {spec!r}; use {FORMS}")
    if parts.scheme not in ("qdrant", "qdrants") or parts.fragment:
        raise bad
    try:
        options = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True))
    except ValueError:
        raise bad from None
    if (parts.query and not options) or set(options) - {"api_key", "prefix", "timeout"}:
        raise InputError(f"bad vector store {spec!r}: options are api_key=, prefix=, timeout=")
    prefix = options.get("prefix", "outweigh_")
    if not _PREFIX.fullmatch(prefix):
        raise InputError(f"bad prefix {prefix!r} in {spec!r}; use letters, digits, '_', '.', '-'")
    try:
        timeout = int(options.get("timeout", TIMEOUT_S))
    except ValueError:
        timeout = 0
    if timeout <= 0:
        raise InputError(f"bad timeout in {spec!r}; give whole seconds, e.g. timeout=10")
    if parts.netloc:  # a server
        try:
            port = parts.port or 6333  # Qdrant's REST port
        except ValueError:
            raise bad from None
        if not parts.hostname or parts.path not in ("", "/") or parts.username:
            raise bad
        scheme = "https" if parts.scheme == "qdrants" else "http"
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        api_key = options.get("api_key") or qdrant_api_key()
        return QdrantSpec(f"{scheme}://{host}:{port}", None, api_key, prefix, timeout)
    if parts.scheme == "qdrants" or "api_key" in options:
        raise InputError(f"bad vector store {spec!r}: https and api_key are for a server only")
    if parts.path == ":memory:":
        return QdrantSpec(None, ":memory:", None, prefix, timeout)
    if not parts.path or parts.path.startswith(":"):
        raise bad
    return QdrantSpec(None, os.path.abspath(os.path.expanduser(parts.path)), None, prefix, timeout)


class _Client:
    """A QdrantClient with the lock its calls go through.

    Local mode is not thread-safe (numpy arrays and a sqlite connection shared by every call),
    so every call holds the lock; a server client needs none, so its lock is a no-op.
    """

    def __init__(self, client: Any, local: bool) -> None:
        self.client = client
        self.lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if local else contextlib.nullcontext()
        )
        self.users = 1
        """Stores holding this client; the last to close it closes it."""


# Local mode takes an exclusive file lock on its folder, and a second client on the same folder
# fails even inside one process, so stores on one folder share one client (each Engine opens
# its own store). Keyed by absolute path; the last `close` closes the client.
_LOCAL: dict[str, _Client] = {}
_LOCAL_LOCK = threading.Lock()


@atexit.register
def _close_local() -> None:
    """Close the local clients no store closed (the CLI's never are) while the interpreter still
    works: qdrant-client's own `__del__` runs too late to unlock the folder and prints a
    traceback instead."""
    with _LOCAL_LOCK:
        for shared in _LOCAL.values():
            shared.client.close()
        _LOCAL.clear()


def _connect(spec: QdrantSpec) -> _Client:
    try:
        from qdrant_client import QdrantClient
    except ImportError:
        raise OutweighError(
            "the Qdrant vector store needs qdrant-client: pip install 'outweigh[qdrant]'"
        ) from None
    if spec.url is not None:
        client = QdrantClient(
            url=spec.url,
            api_key=spec.api_key,
            timeout=spec.timeout,
            # The version check runs in a thread and only warns; an unreachable server gets
            # its one-line error on the first real call instead.
            check_compatibility=False,
        )
        return _Client(client, local=False)
    if spec.path == ":memory:":  # private to its store: nothing to share, nothing on disk
        return _Client(
            QdrantClient(location=":memory:", force_disable_check_same_thread=True), True
        )
    path = spec.path or ""
    with _LOCAL_LOCK:
        shared = _LOCAL.get(path)
        if shared is not None:
            shared.users += 1
            return shared
        try:
            # Calls come from any thread (the server's workers); `_Client.lock` serialises
            # them, which is what sqlite's same-thread check guards against.
            client = QdrantClient(path=path, force_disable_check_same_thread=True)
        except RuntimeError as e:
            if "already accessed" not in str(e):
                raise
            raise OutweighError(
                f"Qdrant local storage {path} is in use by another process; local mode "
                f"serves one process at a time, run a server for more: {_DOCKER}"
            ) from None
        shared = _LOCAL[path] = _Client(client, local=True)
        return shared


def _release(spec: QdrantSpec, handle: _Client) -> None:
    with _LOCAL_LOCK:
        handle.users -= 1
        if handle.users > 0:
            return
        if _LOCAL.get(spec.path or "") is handle:
            del _LOCAL[spec.path or ""]
    with handle.lock:
        handle.client.close()


class QdrantStore:
    """Chunk embeddings mirrored into Qdrant, one collection per outweigh collection.

    Cosine distance, as the embeddings are. Local mode searches by brute force, so its results
    equal faiss's exact search; a server answers from its HNSW graph once a segment grows past
    the optimizer's `indexing_threshold`, trading a little recall for speed.
    """

    def __init__(self, store: Store, spec: str) -> None:
        self.store = store
        self.spec = parse_spec(spec)
        self._handle = _connect(self.spec)
        self._synced: dict[str, tuple[int, int]] = {}
        """Collection name -> (generation, collection id) known to be in Qdrant, as seen by this
        process."""
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        """Let go of the client; a local folder's client closes with its last store."""
        with self._lock:
            if not self._closed:
                self._closed = True
                _release(self.spec, self._handle)

    # -- VectorStore ----------------------------------------------------------------------
    def search(
        self, collection: Collection, query: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
        if limit <= 0:
            return []
        with self._lock:
            current = self._synced.get(collection.name) == (collection.generation, collection.id)
        if not current:
            self.sync(collection)
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        response = self._call(
            "query_points",
            self._name(collection.name),
            query=q.tolist(),
            limit=limit,
            with_payload=False,
            with_vectors=False,
        )
        return [(int(p.id), float(p.score)) for p in response.points]

    def sync(
        self, collection: Collection, progress: Progress | None = None, force: bool = False
    ) -> SyncReport:
        with self._lock:
            generation = self.store.generation(collection)
            name = self._name(collection.name)
            dim = collection.dim or 1
            marker = (generation, collection.id)
            # `outweigh doctor` forces: a tampered index can look current.
            if not force and self._synced.get(collection.name) == marker:
                return SyncReport(0, 0, False)
            info = self._info(name)
            rebuilt = info is None or _size(info) != dim
            if not rebuilt and not force and _marker(info) == marker:
                self._synced[collection.name] = marker  # recorded by an earlier process
                return SyncReport(0, 0, False)
            if rebuilt:
                self._create(name, dim)
            missing, orphans = diff_ids(self.store.chunk_ids(collection), self._point_ids(name))
            for start in range(0, len(orphans), DELETE_BATCH):
                self._delete(name, orphans[start : start + DELETE_BATCH])
            done = 0
            for ids, vecs in self.store.iter_embeddings(collection, missing, UPSERT_BATCH):
                self._upsert(name, ids, vecs)
                done += len(ids)
                if progress:
                    progress(done, len(missing))
            # Recorded last: a crash before this line leaves the old generation, hence a diff.
            self._call(
                "update_collection",
                name,
                metadata={GENERATION_KEY: generation, COLLECTION_KEY: collection.id},
            )
            self._synced[collection.name] = marker
            return SyncReport(len(missing), len(orphans), rebuilt)

    def check(self, collection: Collection) -> IndexCheck:
        db_ids = self.store.chunk_ids(collection)
        name = self._name(collection.name)
        try:
            info = self._info(name)
            if info is None:
                problem = f"no Qdrant collection {name} at {self.spec.where}"
            elif _size(info) != (collection.dim or 1):
                problem = f"Qdrant collection {name} holds {_size(info)}-d vectors"
            else:
                missing, orphans = diff_ids(db_ids, indexed := self._point_ids(name))
                generation, coll_id = _marker(info)
                stale = (
                    coll_id == collection.id
                    and isinstance(generation, int)
                    and generation < self.store.generation(collection)
                )
                counts = (len(db_ids), len(indexed), len(orphans), len(missing))
                return IndexCheck(*counts, None, stale)
        except OutweighError as e:
            problem = str(e)
        return IndexCheck(len(db_ids), 0, 0, len(db_ids), problem)

    def drop(self, collection_name: str) -> None:
        with self._lock:
            self._synced.pop(collection_name, None)
            name = self._name(collection_name)
            if self._call("collection_exists", name):
                self._call("delete_collection", name)

    # -- Qdrant ---------------------------------------------------------------------------
    def _name(self, collection_name: str) -> str:
        return self.spec.prefix + collection_name

    def _info(self, name: str) -> Any | None:
        """The collection's info, or None when it does not exist."""
        if not self._call("collection_exists", name):
            return None
        return self._call("get_collection", name)

    def _create(self, name: str, dim: int) -> None:
        from qdrant_client import models

        if self._call("collection_exists", name):
            self._call("delete_collection", name)
        self._call(
            "create_collection",
            name,
            vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE),
        )

    def _point_ids(self, name: str) -> np.ndarray:
        """Every point id in the collection, sorted, as int64."""
        ids: list[int] = []
        offset = None
        while True:
            points, offset = self._call(
                "scroll",
                name,
                limit=SCROLL_PAGE,
                offset=offset,
                with_payload=False,
                with_vectors=False,
            )
            ids.extend(int(p.id) for p in points)
            if offset is None:
                return np.sort(np.asarray(ids, dtype=np.int64))

    def _upsert(self, name: str, ids: np.ndarray, vecs: np.ndarray) -> None:
        from qdrant_client import models

        batch = models.Batch(ids=[int(i) for i in ids], vectors=vecs.tolist())
        self._call("upsert", name, points=batch, wait=True)

    def _delete(self, name: str, ids: np.ndarray) -> None:
        from qdrant_client import models

        selector = models.PointIdsList(points=[int(i) for i in ids])
        self._call("delete", name, points_selector=selector, wait=True)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """`client.method(...)` under the client's lock, server failures as one line."""
        from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

        try:
            with self._handle.lock:
                return getattr(self._handle.client, method)(*args, **kwargs)
        except ResponseHandlingException as e:
            raise OutweighError(
                f"cannot reach Qdrant at {self.spec.where} ({_one_line(e.source)}); start it "
                f"({_DOCKER}) or change OUTWEIGH_VECTOR_STORE"
            ) from None
        except UnexpectedResponse as e:
            raise OutweighError(
                f"Qdrant at {self.spec.where} answered {e.status_code} to {method}: {_reason(e)}"
            ) from None


def _marker(info: Any) -> tuple[Any, Any]:
    """(generation, SQLite collection id) recorded by the last complete sync, or Nones."""
    meta = info.config.metadata or {}
    return meta.get(GENERATION_KEY), meta.get(COLLECTION_KEY)


def _size(info: Any) -> int:
    """The dimension of a collection's single unnamed dense vector (0 for any other shape)."""
    vectors = info.config.params.vectors
    return int(getattr(vectors, "size", 0) or 0)


def _reason(e: Any) -> str:
    try:
        return _one_line(e.structured()["status"]["error"])
    except (ValueError, KeyError, TypeError):
        return _one_line(e.reason_phrase or e.content[:120])


def _one_line(x: object) -> str:
    text = " ".join(str(x).split())
    return text[:200] or type(x).__name__
