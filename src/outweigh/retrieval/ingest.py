"""Ingestion: files -> text -> token chunks -> embeddings -> SQLite, idempotent by content hash.

Chunks of several files are embedded in one batch (the embedder is fastest on full batches),
then each file is committed in its own transaction: a crash loses at most the files of the
batch in flight, never part of a file, and never a file that was reported as ingested.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from outweigh.embed import Embedder
from outweigh.errors import IngestError, InputError, printable
from outweigh.retrieval.chunking import chunk_text
from outweigh.retrieval.lines import pack
from outweigh.retrieval.loaders import SUFFIXES, read_document
from outweigh.retrieval.location import Document
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
    lines: int = 0
    """Chunks of unchanged files given the line vectors they were stored without (by an
    older outweigh, or with `line_vectors` off)."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(path, one-line reason) for each file that could not be ingested."""


@dataclass
class Pending:
    """One new or changed document, chunked, waiting for its vectors and its transaction."""

    source: str
    sha256: str
    """Of the decoded text."""
    size: int
    """File size in bytes."""
    chunks: list[tuple[str, int, int]]
    """(text, start, end) with character offsets into the decoded text."""
    locations: list[str | None] = field(default_factory=list)
    """Each chunk's `Location` as JSON (None: nothing known), in the order of `chunks`."""


def discover(
    paths: Iterable[Path],
    failed: list[tuple[str, str]] | None = None,
    follow_symlinks: bool = False,
) -> Iterator[Path]:
    """Files to ingest: given files as-is, folders walked for readable suffixes, sorted.

    A walk never leaves the folder it was given: symlinked folders are not entered (a link to
    an ancestor would loop), and a file symlink whose target lies outside the folder is
    skipped with a reason in `failed`, unless `follow_symlinks`; a link to `~/.ssh/id_ed25519`
    named `notes.md` must not serve the key to every client of the collection. A link's type
    is its target's suffix, not its own name's. Hidden files and folders (a leading dot) are
    left out. Every other entry with a readable suffix is yielded, broken or looping links
    and FIFOs included, so that reading it gives its one-line error. A folder that cannot be
    listed goes to `failed` as (path, reason).
    """
    failed = failed if failed is not None else []

    def unlisted(e: OSError) -> None:
        where = printable(str(e.filename))
        failed.append((str(e.filename), f"{where}: cannot list folder ({e.strerror})"))

    for p in paths:
        if not p.is_dir():
            yield p
            continue
        root = os.path.realpath(p)
        found = []
        for folder, dirs, names in os.walk(p, onerror=unlisted):  # followlinks=False
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for n in names:
                path = Path(folder, n)
                link = not n.startswith(".") and path.is_symlink()
                # realpath, not resolve: it does not raise on a loop, which reading reports.
                target = os.path.realpath(path) if link else str(path)
                if n.startswith(".") or Path(target).suffix.lower() not in SUFFIXES:
                    continue
                if link and not follow_symlinks and os.path.commonpath([root, target]) != root:
                    failed.append(
                        (
                            str(path),
                            f"{printable(str(path))}: a symlink to {printable(target)}, outside "
                            f"{printable(str(p))}; skipped (--follow-symlinks reads it)",
                        )
                    )
                    continue
                found.append(path)
        yield from sorted(found)


def plan(
    paths: Iterable[str | Path], prune: bool, follow_symlinks: bool = False
) -> tuple[list[Path], list[Path], IngestReport]:
    """(roots, files to read, a report listing missing roots and skipped links as failures)."""
    roots = [Path(p).expanduser() for p in paths]
    if not roots:
        raise InputError("give at least one file or folder to ingest")
    # lexists: a broken or looping link given by name is read, and gets its own error.
    missing = [str(p) for p in roots if not os.path.lexists(p)]
    # Under --prune a vanished folder is expected: its documents are removed at the end.
    report = IngestReport(
        failed=[] if prune else [(m, f"{printable(m)}: no such file or directory") for m in missing]
    )
    given = (p for p in roots if os.path.lexists(p))
    files = list(discover(given, report.failed, follow_symlinks))
    return roots, files, report


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
    follow_symlinks: bool = False,
    line_vectors: bool = True,
) -> IngestReport:
    """Ingest files and folders into `collection`.

    `on_file(path, total)` drives a progress bar; `on_commit(source, chunks)` is called once a
    document's transaction has committed, so whatever it reports survives a crash.
    `follow_symlinks` reads file links in a folder that point out of it (`discover`).
    `line_vectors` stores each chunk's line vectors (`outweigh.retrieval.lines`): 1.5x to 1.9x
    the time of ingest, and no line embedded when a question reads the chunk; the
    unchanged files' chunks stored without them get them too.
    """
    limits = limits or IngestLimits()
    roots, files, report = plan(paths, prune, follow_symlinks)
    coll = store.ensure_collection(collection, embedder.name, embedder.dim)
    seen: set[str] = set()
    pending: list[Pending] = []
    stale: list[tuple[int, str]] = []  # chunks of unchanged files without line vectors
    for path in files:
        # realpath, not Path.resolve: that raises RuntimeError on a symlink loop (3.11).
        source = os.path.realpath(path)
        seen.add(source)
        try:
            check_source(source)
            item = _read_and_chunk(
                path, source, coll, store, embedder, limits, chunk_tokens, overlap
            )
        except IngestError as e:
            report.failed.append((str(path), str(e)))
        else:
            if item is None:
                report.skipped += 1
                if line_vectors:
                    stale += store.without_lines(coll, source)
                    if len(stale) >= EMBED_BATCH:
                        report.lines += _backfill(stale, store, embedder)
            else:
                pending.append(item)
                if sum(len(p.chunks) for p in pending) >= EMBED_BATCH:
                    _flush(pending, coll, store, embedder, report, on_commit, line_vectors)
        if on_file:
            on_file(str(path), len(files))
    _flush(pending, coll, store, embedder, report, on_commit, line_vectors)
    report.lines += _backfill(stale, store, embedder)
    if prune:
        report.removed = remove_vanished(store, coll, roots, seen)
    return report


def check_source(source: str) -> str:
    """A source path the store can hold: SQLite text must be UTF-8, and a file name with bytes
    that are not (kept by Python as lone surrogates, PEP 383) cannot be."""
    try:
        source.encode("utf-8")
    except UnicodeEncodeError:
        raise IngestError(f"{source}: file name is not valid UTF-8; rename the file") from None
    return source


def _read_and_chunk(
    path: Path,
    source: str,
    coll: Collection,
    store: Store,
    embedder: Embedder,
    limits: IngestLimits,
    chunk_tokens: int,
    overlap: int,
) -> Pending | None:
    """Read and chunk one file; None when it is unchanged since the last ingest."""
    doc = read_document(path, limits.max_file_bytes)
    existing = store.document(coll, source)
    known = existing.sha256 if existing is not None else None
    return chunk_document(
        path, source, doc, path.stat().st_size, known, embedder, chunk_tokens, overlap
    )


def chunk_document(
    path: Path,
    source: str,
    doc: Document | str,
    size: int,
    known_sha256: str | None,
    embedder: Embedder,
    chunk_tokens: int,
    overlap: int,
) -> Pending | None:
    """Hash and chunk one document's text, each chunk located in it; None when the hash is
    `known_sha256` (unchanged).

    The hash is of the decoded text, so a re-encoded but identical file is not re-embedded.
    """
    doc = Document(doc) if isinstance(doc, str) else doc
    sha = hashlib.sha256(doc.text.encode("utf-8")).hexdigest()
    if sha == known_sha256:
        return None
    # Each located part (a page, a slide, a sheet, a mail) is chunked on its own, so that a
    # passage, and so its citation, never straddles two of them.
    bounds = [m[0] for m in doc.marks if m[0] > 0] + [len(doc.text)]
    chunks, start = [], 0
    for end in bounds:
        part = chunk_text(doc.text[start:end], embedder.token_spans, chunk_tokens, overlap)
        chunks += [c.shifted(start) for c in part]
        start = end
    if not chunks:
        raise IngestError(f"{path}: no text found")
    where = doc.locations([(c.start, c.end) for c in chunks])
    return Pending(
        source,
        sha,
        size,
        [(c.text, c.start, c.end) for c in chunks],
        [w.to_json() if w is not None else None for w in where],
    )


def chunk_upload(
    source: Path,
    text: Document | str,
    size: int,
    store: Store,
    embedder: Embedder,
    collection: str,
    chunk_tokens: int = 200,
    overlap: int = 40,
) -> Pending | None:
    """One already-read document's chunks, to be stored as `source` (an upload, parsed once
    outside any lock); None when its text is unchanged. Raises IngestError before anything is
    written, so a failure replaces nothing."""
    coll = store.ensure_collection(collection, embedder.name, embedder.dim)
    key = check_source(os.path.realpath(source))
    existing = store.document(coll, key)
    known = existing.sha256 if existing is not None else None
    return chunk_document(source, key, text, size, known, embedder, chunk_tokens, overlap)


def store_chunks(
    pending: list[Pending],
    store: Store,
    embedder: Embedder,
    collection: str,
    vectors: np.ndarray | None = None,
    uploader: str | None = None,
    lines: list[bytes] | None = None,
) -> IngestReport:
    """Store documents chunked by `chunk_upload`, one transaction each, with their chunks'
    `vectors` and line vectors (`lines.pack`) in order (each computed here when None), as
    uploaded by `uploader`."""
    report = IngestReport()
    coll = store.ensure_collection(collection, embedder.name, embedder.dim)
    texts = [t for p in pending for t, _, _ in p.chunks]
    if vectors is None and pending:
        vectors = embedder.embed_batch(texts)
    if lines is None:
        lines = pack(embedder, texts)
    if pending and vectors is not None:
        commit(pending, vectors, coll, store, report, None, uploader, lines)
    return report


def _flush(
    pending: list[Pending],
    coll: Collection,
    store: Store,
    embedder: Embedder,
    report: IngestReport,
    on_commit: Callable[[str, int], None] | None,
    line_vectors: bool,
) -> None:
    if not pending:
        return
    texts = [t for p in pending for t, _, _ in p.chunks]
    vecs = embedder.embed_batch(texts)
    lines = pack(embedder, texts) if line_vectors else None
    commit(pending, vecs, coll, store, report, on_commit, None, lines)


def _backfill(stale: list[tuple[int, str]], store: Store, embedder: Embedder) -> int:
    """Store the line vectors of `stale` (chunk id, text) and empty it; how many chunks."""
    if not stale:
        return 0
    blobs = pack(embedder, [text for _, text in stale])
    store.set_lines([(i, b) for (i, _), b in zip(stale, blobs, strict=True)])
    n = len(stale)
    stale.clear()
    return n


def commit(
    pending: list[Pending],
    vecs: np.ndarray,
    coll: Collection,
    store: Store,
    report: IngestReport,
    on_commit: Callable[[str, int], None] | None,
    uploader: str | None = None,
    lines: list[bytes] | None = None,
) -> None:
    """Store each document with its slice of `vecs` (sum of chunks, dim) and of `lines` (each
    chunk's line vectors; None stores none), one transaction each."""
    offset = 0
    for p in pending:
        n = len(p.chunks)
        vectors = np.asarray(vecs[offset : offset + n])
        line_vecs = lines[offset : offset + n] if lines is not None else ()
        store.put_document(
            coll, p.source, p.sha256, p.size, p.chunks, vectors, uploader, p.locations, line_vecs
        )
        offset += n
        report.files += 1
        report.chunks += n
        if on_commit:
            on_commit(p.source, n)
    pending.clear()


def remove_vanished(store: Store, coll: Collection, roots: list[Path], seen: set[str]) -> int:
    """Remove documents under the given roots whose file no longer exists."""
    prefixes = [os.path.realpath(r) for r in roots]
    removed = 0
    for doc in store.documents(coll.name):
        under = any(doc.source == p or doc.source.startswith(p.rstrip("/") + "/") for p in prefixes)
        if under and doc.source not in seen and not Path(doc.source).exists():
            removed += store.remove_document(coll, doc.source)
    return removed
