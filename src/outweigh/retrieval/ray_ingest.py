"""Bulk ingestion on Ray: actors parse, chunk and embed; the driver commits.

Same report and semantics as `ingest`: unchanged files are skipped (by the hash of the decoded
text), a bad file is one failure line, and each document is stored in its own transaction on the
driver, which alone holds the SQLite file. The driver reads the bytes and ships them, so the
workers of a remote cluster need no shared filesystem, only `pip install 'outweigh[ray]'` at the
driver's version on every node.

    driver: discover, read bytes ──batch──▶ actor 1: parse, hash, chunk, embed ──┐
                                 ──batch──▶ actor 2: parse, hash, chunk, embed ──┤
    driver: commit each document ◀──── results, in the order they finish ────────┘
"""

from __future__ import annotations

import functools
import logging
import math
import os
import socket
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from outweigh.embed import Embedder
from outweigh.errors import IngestError, InputError, OutweighError
from outweigh.names import check_name
from outweigh.retrieval.ingest import (
    IngestReport,
    Pending,
    check_source,
    chunk_document,
    commit,
    plan,
    remove_vanished,
)
from outweigh.retrieval.lines import pack
from outweigh.retrieval.loaders import parse_document, read_bytes
from outweigh.retrieval.store import Collection, Store
from outweigh.settings import IngestLimits

LOCAL = "local"
"""The address that starts (or reuses) a Ray instance in this process, on this machine's CPUs."""
BATCH_BYTES = 200 * 1024
"""Bytes shipped per batch: about `ingest.EMBED_BATCH` (256) chunks of 200 tokens at ~4 bytes
per token, so each actor embeds full batches."""
BATCHES_PER_WORKER = 4
"""A corpus is cut into at least this many batches per actor, so small corpora still spread
over every actor and the last batches finish close together."""
IN_FLIGHT = 2
"""Batches queued per actor: one running and one waiting, so an actor never idles while the
driver commits."""
CONNECT_TIMEOUT_S = 5.0
"""Give up on an unreachable address after this; Ray itself retries for 30 s to minutes."""


@dataclass
class _File:
    path: str
    """As discovered; names the file in failure lines."""
    source: str
    """Resolved path: the document's key in the store."""
    data: bytes
    known_sha256: str | None
    """The stored document's hash, if any: the worker skips the file when it matches."""


@dataclass
class _Done:
    pending: list[Pending]
    """New or changed documents, in batch order."""
    vectors: np.ndarray
    """(sum of their chunks, dim) float32, in the same order."""
    skipped: int
    failed: list[tuple[str, str]]
    lines: list[bytes] | None
    """Each chunk's line vectors (`outweigh.retrieval.lines.pack`), in the same order; None
    when not stored."""


class _Worker:
    """One Ray actor: builds its embedder once, then parses, chunks and embeds batches."""

    def __init__(
        self,
        make_embedder: Callable[[], Embedder],
        limits: IngestLimits,
        chunk_tokens: int,
        overlap: int,
        line_vectors: bool = True,
    ) -> None:
        self.embedder = make_embedder()
        self.limits = limits
        self.chunk_tokens = chunk_tokens
        self.overlap = overlap
        self.line_vectors = line_vectors

    def describe(self) -> tuple[str, int]:
        return self.embedder.name, self.embedder.dim

    def process(self, batch: list[_File]) -> _Done:
        pending: list[Pending] = []
        failed: list[tuple[str, str]] = []
        for f in batch:
            try:
                text = parse_document(Path(f.path), f.data, self.limits.max_file_bytes)
                item = chunk_document(
                    Path(f.path),
                    f.source,
                    text,
                    len(f.data),
                    f.known_sha256,
                    self.embedder,
                    self.chunk_tokens,
                    self.overlap,
                )
            except IngestError as e:
                failed.append((f.path, str(e)))
            else:
                if item is not None:
                    pending.append(item)
        texts = [t for p in pending for t, _, _ in p.chunks]
        vectors = (
            self.embedder.embed_batch(texts)
            if texts
            else np.zeros((0, self.embedder.dim), np.float32)
        )
        skipped = len(batch) - len(pending) - len(failed)
        lines = pack(self.embedder, texts) if self.line_vectors else None
        return _Done(pending, vectors, skipped, failed, lines)


def ingest_ray(
    paths: Iterable[str | Path],
    store: Store,
    collection: str,
    address: str = LOCAL,
    embedder: Embedder | None = None,
    workers: int | None = None,
    worker_cpus: int = 1,
    prune: bool = False,
    limits: IngestLimits | None = None,
    chunk_tokens: int = 200,
    overlap: int = 40,
    on_file: Callable[[str, int], None] | None = None,
    on_commit: Callable[[str, int], None] | None = None,
    follow_symlinks: bool = False,
    line_vectors: bool = True,
) -> IngestReport:
    """`ingest`, with parsing, chunking and embedding spread over Ray actors.

    `address`: "local" starts a Ray instance on this machine's CPUs; "auto", "HOST:6379" or
    "ray://HOST:10001" connect to a cluster. If this process is already connected to Ray, that
    connection is used whatever the address. `embedder` is the template each actor copies
    (None: the default all-MiniLM-L6-v2). `workers` defaults to one actor per `worker_cpus`
    CPUs of the cluster; each actor's torch uses `worker_cpus` threads.
    `on_file(path, total)` is called once a file is done (stored, skipped or failed);
    `on_commit(source, chunks)` once its document's transaction has committed.
    """
    limits = limits or IngestLimits()
    check_name(collection)
    if worker_cpus < 1:
        raise InputError("`worker_cpus` must be at least 1")
    roots, files, report = plan(paths, prune, follow_symlinks)
    ray = _import_ray()
    started = connect(address)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 0))
        n = workers if workers is not None else max(1, cpus // worker_cpus)
        if n < 1 or n * worker_cpus > cpus:
            raise InputError(
                f"`workers` x `worker_cpus` = {n} x {worker_cpus} must be between 1 and the "
                f"cluster's {cpus} CPUs"
            )
        worker = ray.remote(_Worker).options(num_cpus=worker_cpus)
        make = embedder_factory(embedder)
        actors = [
            worker.remote(make, limits, chunk_tokens, overlap, line_vectors) for _ in range(n)
        ]
        try:
            name, dim = _get(ray, actors[0].describe.remote())
            coll = store.ensure_collection(collection, name, dim)
            per_batch = max(1, math.ceil(len(files) / (BATCHES_PER_WORKER * n)))
            batches = _batches(files, per_batch, coll, store, limits, report, on_file)
            _run(ray, actors, batches, len(files), coll, store, report, on_file, on_commit)
        finally:
            for a in actors:
                ray.kill(a)
    finally:
        if started:
            ray.shutdown()
    order = {str(p): i for i, p in enumerate(files)}  # failures in file order, as `ingest` has
    report.failed.sort(key=lambda f: order.get(f[0], -1))
    if prune:
        seen = {os.path.realpath(p) for p in files}
        report.removed = remove_vanished(store, coll, roots, seen)
    return report


def embedder_factory(embedder: Embedder | None) -> Callable[[], Embedder]:
    """How each actor builds its own copy of `embedder` (None: the default model).

    A SentenceTransformerEmbedder is rebuilt from its model path on the worker rather than
    pickled with 90 MB of torch weights; any other embedder is pickled as it is.
    """
    from outweigh.embed import EMBEDDER_NAME, SentenceTransformerEmbedder

    if embedder is None:
        return SentenceTransformerEmbedder
    if isinstance(embedder, SentenceTransformerEmbedder):
        path = None if embedder.name == EMBEDDER_NAME else embedder.name
        return functools.partial(SentenceTransformerEmbedder, path, embedder.batch_size)
    return functools.partial(_same, embedder)


def _same(embedder: Embedder) -> Embedder:
    return embedder


def _batches(
    files: list[Path],
    per_batch: int,
    coll: Collection,
    store: Store,
    limits: IngestLimits,
    report: IngestReport,
    on_file: Callable[[str, int], None] | None,
) -> Iterator[list[_File]]:
    """Read files lazily into batches of `per_batch` files or `BATCH_BYTES`, whichever is
    first; a file refused before parsing (type, size) is reported here and never shipped."""
    batch: list[_File] = []
    size = 0
    for path in files:
        try:
            source = check_source(os.path.realpath(path))  # as `ingest` keys documents
            data = read_bytes(path, limits.max_file_bytes)
        except IngestError as e:
            report.failed.append((str(path), str(e)))
            if on_file:
                on_file(str(path), len(files))
            continue
        existing = store.document(coll, source)
        known = existing.sha256 if existing is not None else None
        batch.append(_File(str(path), source, data, known))
        size += len(data)
        if len(batch) >= per_batch or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _run(
    ray: Any,
    actors: list[Any],
    batches: Iterator[list[_File]],
    total: int,
    coll: Collection,
    store: Store,
    report: IngestReport,
    on_file: Callable[[str, int], None] | None,
    on_commit: Callable[[str, int], None] | None,
) -> None:
    """Keep every actor `IN_FLIGHT` batches deep; commit each result as soon as it is back."""
    free = deque(a for a in actors for _ in range(IN_FLIGHT))
    in_flight: dict[Any, tuple[Any, list[str]]] = {}

    def collect_one() -> None:
        [ref], _ = ray.wait(list(in_flight), num_returns=1)
        actor, names = in_flight.pop(ref)
        done: _Done = _get(ray, ref)
        report.failed.extend(done.failed)
        report.skipped += done.skipped
        commit(done.pending, done.vectors, coll, store, report, on_commit, None, done.lines)
        free.append(actor)
        for name in names:
            if on_file:
                on_file(name, total)

    for batch in batches:
        if not free:
            collect_one()
        actor = free.popleft()
        in_flight[actor.process.remote(batch)] = (actor, [f.path for f in batch])
    while in_flight:
        collect_one()


def _get(ray: Any, ref: Any) -> Any:
    """`ray.get`, with a dead actor (failed to load its embedder, killed, node lost) turned into
    one line. What was committed before stays; running the same ingest again resumes."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayActorError as e:
        cause = str(e.__cause__ or e).strip().splitlines()
        raise OutweighError(
            f"a Ray ingest worker died ({cause[-1] if cause else type(e).__name__}); "
            "documents stored so far are kept, run the same ingest again to resume"
        ) from e


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise OutweighError(
            "--ray needs Ray, which is not installed: pip install 'outweigh[ray]'"
        ) from e
    return ray


def connect(address: str = LOCAL) -> bool:
    """Start or join Ray; True when this call did, so the caller shuts it down afterwards."""
    ray = _import_ray()
    if ray.is_initialized():
        return False
    quiet: dict[str, Any] = {
        "logging_level": logging.ERROR,
        "log_to_driver": False,  # worker warnings would interleave with the progress bar
    }
    if address == LOCAL:
        # address="local": a new instance even if $RAY_ADDRESS names a cluster. The CPUs this
        # process may run on, not the machine's (taskset, containers).
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        ray.init(
            address=LOCAL,
            num_cpus=cpus or 1,
            include_dashboard=False,
            # Ray runs workers at nice 15 so they never starve its daemons; here the actors are
            # the whole job, and at 15 any other busy process on the machine starves them.
            _system_config={"worker_niceness": 0},
            **quiet,
        )
        return True
    _check_reachable(address)
    try:
        ray.init(address=address, **quiet)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()
        raise OutweighError(
            f"cannot connect to Ray at {address}: {first[0] if first else type(e).__name__}"
        ) from e
    return True


def _check_reachable(address: str) -> None:
    """Fail in seconds on a HOST:PORT nothing listens on; "auto" and the like are left to Ray."""
    client = address.startswith("ray://")
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep:
        host, port = target, "10001" if client else ""  # 10001: the Ray Client default port
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise OutweighError(
            f"cannot reach Ray at {address} ({e.strerror or e}); start the cluster with "
            "`ray start --head` or check the address"
        ) from None
