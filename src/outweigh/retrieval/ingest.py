"""Ingestion: files -> text -> token chunks -> embeddings -> SQLite, idempotent by content hash.

Chunks of several files are embedded in one batch (the embedder is fastest on full batches),
then each file is committed in its own transaction: a crash loses at most the files of the
batch in flight, never part of a file, and never a file that was reported as ingested.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from outweigh.embed import Embedder
from outweigh.errors import IngestError, InputError
from outweigh.retrieval.chunking import chunk_text
from outweigh.retrieval.loaders import SUFFIXES, read_text
from outweigh.retrieval.store import Collection, Store
from outweigh.settings import IngestLimits

EMBED_BATCH = 256
"""Chunks embedded per call; large enough that per-call overhead is amortised."""


@dataclass
class IngestReport:
    """What one `ingest` call did."""

    files: int = 0
    """Files read and stored (new or changed)."""
    chunks: int = 0
    """Chunks stored for those files."""
    skipped: int = 0
    """Files unchanged since the last ingest."""
    removed: int = 0
    """Documents pruned because their file is gone."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(path, one-line reason) for each file that could not be ingested."""


@dataclass
class _Pending:
    source: str
    sha256: str
    size: int
    chunks: list[tuple[str, int, int]]


def discover(paths: Iterable[Path]) -> Iterator[Path]:
    """Files to ingest: given files as-is, folders walked for readable suffixes, sorted."""
    for p in paths:
        if p.is_dir():
            yield from sorted(
                f
                for f in p.rglob("*")
                if f.is_file()
                and f.suffix.lower() in SUFFIXES
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        else:
            yield p


def ingest(
    paths: Iterable[str | Path],
    store: Store,
    embedder: Embedder,
    collection: str,
    prune: bool = False,
    limits: IngestLimits | None = None,
    chunk_tokens: int = 200,
    overlap: int = 40,
    on_file: Callable[[str, int], None] | None = None,
    on_commit: Callable[[str, int], None] | None = None,
) -> IngestReport:
    """Ingest files and folders into `collection`.

    `on_file(path, total)` drives a progress bar; `on_commit(source, chunks)` is called once a
    document's transaction has committed, so whatever it reports survives a crash.
    """
    limits = limits or IngestLimits()
    roots = [Path(p).expanduser() for p in paths]
    if not roots:
        raise InputError("give at least one file or folder to ingest")
    missing = [str(p) for p in roots if not p.exists()]
    coll = store.ensure_collection(collection, embedder.name, embedder.dim)
    # Under --prune a vanished folder is expected: its documents are removed below.
    report = IngestReport(
        failed=[] if prune else [(m, f"{m}: no such file or directory") for m in missing]
    )
    files = list(discover(p for p in roots if p.exists()))
    seen: set[str] = set()
    pending: list[_Pending] = []
    for path in files:
        source = str(path.resolve())
        seen.add(source)
        try:
            item = _prepare(path, source, coll, store, embedder, limits, chunk_tokens, overlap)
        except IngestError as e:
            report.failed.append((str(path), str(e)))
        else:
            if item is None:
                report.skipped += 1
            else:
                pending.append(item)
                if sum(len(p.chunks) for p in pending) >= EMBED_BATCH:
                    _flush(pending, coll, store, embedder, report, on_commit)
        if on_file:
            on_file(str(path), len(files))
    _flush(pending, coll, store, embedder, report, on_commit)
    if prune:
        report.removed = _prune(store, coll, roots, seen)
    return report


def _prepare(
    path: Path,
    source: str,
    coll: Collection,
    store: Store,
    embedder: Embedder,
    limits: IngestLimits,
    chunk_tokens: int,
    overlap: int,
) -> _Pending | None:
    """Read and chunk one file; None when it is unchanged since the last ingest."""
    text = read_text(path, limits.max_file_bytes)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    existing = store.document(coll, source)
    if existing is not None and existing.sha256 == sha:
        return None
    chunks = chunk_text(text, embedder.token_spans, chunk_tokens, overlap)
    if not chunks:
        raise IngestError(f"{path}: no text found")
    return _Pending(source, sha, path.stat().st_size, [(c.text, c.start, c.end) for c in chunks])


def _flush(
    pending: list[_Pending],
    coll: Collection,
    store: Store,
    embedder: Embedder,
    report: IngestReport,
    on_commit: Callable[[str, int], None] | None,
) -> None:
    if not pending:
        return
    vecs = embedder.embed_batch([t for p in pending for t, _, _ in p.chunks])
    offset = 0
    for p in pending:
        n = len(p.chunks)
        store.put_document(
            coll, p.source, p.sha256, p.size, p.chunks, np.asarray(vecs[offset : offset + n])
        )
        offset += n
        report.files += 1
        report.chunks += n
        if on_commit:
            on_commit(p.source, n)
    pending.clear()


def _prune(store: Store, coll: Collection, roots: list[Path], seen: set[str]) -> int:
    """Remove documents under the given roots whose file no longer exists."""
    prefixes = [str(r.resolve()) for r in roots]
    removed = 0
    for doc in store.documents(coll.name):
        under = any(doc.source == p or doc.source.startswith(p.rstrip("/") + "/") for p in prefixes)
        if under and doc.source not in seen and not Path(doc.source).exists():
            removed += store.remove_document(coll, doc.source)
    return removed
