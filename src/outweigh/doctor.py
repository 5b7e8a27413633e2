"""`outweigh doctor`: check the state directory against its own invariants and repair what it can.

SQLite is the source of truth; everything else (FTS5 indexes, vector indexes, leftover files)
is derived from it or disposable, so it can be checked against the db and rebuilt:

- the db file passes `PRAGMA integrity_check`; no repair (restore a backup, or
  `sqlite3 outweigh.db .recover`), and no other repair runs on a damaged file;
- each document holds exactly its `n_chunks` chunks, of the collection's dimension; a broken
  one is removed, and ingesting its file again restores it;
- the FTS5 indexes of chunks and memories match their tables; repair: FTS5 `rebuild`;
- each upload's file holds the text its document's rows were made from (the hash of its
  text), every file under `uploads/<collection>/` belongs to a document, and no staging
  folder under `uploads/.incoming/` was left by an upload that died (`uploads.survey`);
  repair: a replace that committed its rows and died before its rename is finished with the
  staged file, a file that differs otherwise is ingested again (with the collection's own
  embedder), a document whose file is gone is removed, and stray files and abandoned staging
  folders are deleted;
- each vector index holds exactly the collection's chunk ids; repair: sync (orphans out,
  missing vectors in, an unreadable index rebuilt);
- no write leftovers (`index/*.tmp`, `adapters/.staging-*`); repair: delete those older than
  `STALE_S`.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from outweigh.db import transaction
from outweigh.errors import printable
from outweigh.retrieval import uploads
from outweigh.retrieval.store import Collection, DocumentRow, Store
from outweigh.retrieval.vectors import VectorStore, open_vector_store
from outweigh.settings import Paths

if TYPE_CHECKING:
    from outweigh.embed import Embedder

STALE_S = 600
"""A leftover file younger than this may belong to a write still running; it is left alone."""

RESTORE = "restore a backup, or run `sqlite3 outweigh.db .recover` into a new file"

FTS_TABLES = (("chunks_fts", "chunks"), ("memories_fts", "memories"))


@dataclass(frozen=True)
class Finding:
    """One check: what it looked at, what it found, and whether it was repaired."""

    check: str
    ok: bool
    detail: str
    repaired: bool = False

    @property
    def healthy(self) -> bool:
        """True when nothing is wrong now: it passed, or its problem was repaired."""
        return self.ok or self.repaired


def engine(paths: Paths | None = None) -> list[Finding]:
    """What generates here: the llama.cpp build (version, the CPU code it loaded and the
    features that code uses) and, for each catalog GGUF, what serves it on this machine, from
    the probe's verdict (`outweigh.generate.native`; probed now if it has not been). A probe
    that failed is a problem: its fix is in the detail."""
    from outweigh.errors import OutweighError
    from outweigh.generate.choose import llamacpp_installed
    from outweigh.settings import llama_slots

    paths = paths or Paths()
    if not llamacpp_installed():
        return [
            Finding(
                "engine",
                True,
                "llama-cpp-python is not installed: transformers serves every model (about 7x "
                "slower on CPU), one request at a time; for llama.cpp (up to "
                f"{llama_slots()} answers at once): pip install 'outweigh[llamacpp]'",
            )
        ]
    from outweigh.generate import native
    from outweigh.generate.llamacpp import model_file
    from outweigh.models.catalog import catalog
    from outweigh.models.options import LoadOptions
    from outweigh.settings import llama_probe

    try:
        module = native.llama_cpp_module()
    except OutweighError as e:
        return [Finding("engine", False, str(e))]
    variant = native.loaded_variant() or "one CPU backend, chosen at build time"
    features = " ".join(native.cpu_features()) or "none reported"
    findings = [
        Finding(
            "engine",
            True,
            f"llama-cpp-python {module.__version__} (build {native.build_id()}); CPU code "
            f"{variant}, using {features}; under `outweigh serve` llama.cpp decodes up to "
            f"{llama_slots()} answers at once in one batch (OUTWEIGH_LLAMA_SLOTS), "
            "transformers one request at a time",
        )
    ]
    options = LoadOptions.from_env()
    for name, entry in catalog().items():
        if not entry.is_gguf:
            continue
        try:
            path = model_file(entry, paths, options)
        except OutweighError as e:
            findings.append(Finding(f"engine {name}", True, f"not available: {e}"))
            continue
        if not llama_probe():
            findings.append(Finding(f"engine {name}", True, "llama.cpp (OUTWEIGH_LLAMA_PROBE=0)"))
            continue
        verdict = native.probe(path, paths.models_dir)
        if verdict.ok:
            detail = f"llama.cpp (probe passed in {verdict.seconds:g} s)"
        else:
            detail = f"transformers: {verdict.line(name)}"
        findings.append(Finding(f"engine {name}", verdict.ok, detail))
    return findings


def diagnose(
    paths: Paths | None = None,
    repair: bool = True,
    vectors: VectorStore | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    embedder: Callable[[str], Embedder] | None = None,
) -> list[Finding]:
    """Run every check of the state directory; with `repair`, fix what can be fixed.
    `progress(what, done, total)`. `embedder(name)` loads the embedder a collection was
    built with, to ingest again an upload whose file differs from its document (default: the
    sentence-transformers model of that name, loaded only then)."""
    paths = paths or Paths()
    if not paths.db.exists():
        return [Finding("database", True, f"{paths.db} does not exist yet; nothing to check")]
    try:
        store = Store(paths)
    except sqlite3.DatabaseError as e:
        return [Finding("database", False, f"cannot read {paths.db}: {e}; {RESTORE}")]
    try:
        findings = [_integrity(store.conn)]
        if not findings[0].ok:
            return findings  # a damaged file: repairs on top of it could make things worse
        findings.append(_documents(store, repair))
        findings += [_fts(store.conn, fts, table, repair) for fts, table in FTS_TABLES]
        findings.append(_uploads(paths, store, repair, embedder or _load_embedder))
        mirror = vectors or open_vector_store(store)
        try:
            findings += [_vectors(mirror, c, repair, progress) for c in store.collections()]
        finally:
            if vectors is None:
                mirror.close()
        findings.append(_leftovers(paths, repair))
        return findings
    finally:
        store.close()


def _integrity(conn: sqlite3.Connection) -> Finding:
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as e:
        rows = [str(e)]
    if rows == ["ok"]:
        return Finding("database", True, "integrity_check ok")
    return Finding(
        "database", False, f"integrity_check: {rows[0]} ({len(rows)} problems); {RESTORE}"
    )


def _documents(store: Store, repair: bool) -> Finding:
    """Partial documents (chunk count off, or embeddings of the wrong size)."""
    bad = store.conn.execute(
        "SELECT d.id, d.source, c.name, c.id AS cid, d.n_chunks, count(ch.id) AS n, "
        "sum(length(ch.embedding) != 4 * c.dim) AS wrong "
        "FROM documents d JOIN collections c ON c.id = d.collection_id "
        "LEFT JOIN chunks ch ON ch.document_id = d.id "
        "GROUP BY d.id HAVING n != d.n_chunks OR wrong > 0"
    ).fetchall()
    strays = store.conn.execute(
        "SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)"
    ).fetchone()[0]
    total = store.conn.execute("SELECT count(*) FROM documents").fetchone()[0]
    if not bad and not strays:
        return Finding("documents", True, f"{total} documents whole")
    detail = f"{len(bad)} partial documents, {strays} chunks without a document"
    if not repair:
        return Finding("documents", False, detail + "; run outweigh doctor to repair")
    with transaction(store.conn) as c:
        touched = {row["cid"] for row in bad} | {
            r[0]
            for r in c.execute(
                "SELECT DISTINCT collection_id FROM chunks "
                "WHERE document_id NOT IN (SELECT id FROM documents)"
            )
        }
        c.execute("DELETE FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)")
        for row in bad:
            c.execute("DELETE FROM chunks WHERE document_id = ?", (row["id"],))
            c.execute("DELETE FROM documents WHERE id = ?", (row["id"],))
        for cid in touched:  # the vector indexes must drop these chunks too
            c.execute("UPDATE collections SET generation = generation + 1 WHERE id = ?", (cid,))
    names = ", ".join(row["source"] for row in bad[:3]) + (" ..." if len(bad) > 3 else "")
    hint = f"; ingest again: {names}" if bad else ""
    return Finding("documents", False, f"{detail}; removed{hint}", repaired=True)


def _uploads(
    paths: Paths, store: Store, repair: bool, embedder: Callable[[str], Embedder]
) -> Finding:
    """Upload files against their documents, and what crashed uploads left (`survey`)."""
    found = uploads.survey(paths, store, STALE_S)
    busy = f"; {found.busy} uploads running now, left alone" if found.busy else ""
    if found.ok:
        return Finding("uploads", True, f"{found.uploads} upload files match their documents{busy}")
    problems = [
        f"{len(rows)} documents {what} ({_names(rows)})"
        for rows, what in (
            ([row for row, _ in found.unmoved], "replaced, with the new file still staged"),
            (found.differ, "that differ from their file"),
            (found.missing, "whose file is gone"),
        )
        if rows
    ]
    if found.orphans:
        problems.append(f"{len(found.orphans)} files under uploads/ that no document holds")
    if found.abandoned:
        problems.append(f"{len(found.abandoned)} uploads that stopped before they were stored")
    detail = "; ".join(problems)
    if not repair:
        return Finding("uploads", False, f"{detail}; run outweigh doctor to repair{busy}")
    done, left = [], []
    for row, copy in found.unmoved:  # committed, then stopped: finish its rename
        uploads.place(copy, Path(row.source))
    if found.unmoved:
        done.append(f"moved {len(found.unmoved)} staged files into place")
    for row in found.differ:
        problem = _ingest_again(store, row, embedder)
        (left if problem else done).append(problem or f"ingested {_names([row])} again")
    for row in found.missing:
        store.remove_document(store.collection(row.collection), row.source)
    if found.missing:
        done.append(f"removed {len(found.missing)} documents; upload them again")
    for path in [*found.orphans, *found.abandoned]:
        _remove(path)
    if found.orphans or found.abandoned:
        done.append(f"deleted {len(found.orphans) + len(found.abandoned)} stray files and folders")
    return Finding("uploads", False, f"{detail}; " + ", ".join(done + left), not left)


def _ingest_again(store: Store, row: DocumentRow, embedder: Callable[[str], Embedder]) -> str:
    """Store an upload's file as it is now, as `outweigh ingest` would; "" when done, else
    what stopped it and the command that does it by hand."""
    from outweigh.errors import OutweighError
    from outweigh.retrieval.ingest import ingest
    from outweigh.settings import IngestLimits

    coll = store.collection(row.collection)
    by_hand = f"run `outweigh ingest {printable(row.source)} --collection {row.collection}`"
    try:
        report = ingest(
            [row.source],
            store,
            embedder(coll.embedder or ""),
            row.collection,
            limits=IngestLimits(max_file_bytes=max(IngestLimits().max_file_bytes, row.bytes)),
        )
    except OutweighError as e:
        return f"cannot ingest {_names([row])} again ({e}); {by_hand}"
    if report.failed:
        return f"cannot ingest {_names([row])} again ({report.failed[0][1]}); {by_hand}"
    return ""


def _load_embedder(name: str) -> Embedder:
    from outweigh.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(name or None)


def _names(rows: list[DocumentRow]) -> str:
    shown = [f"{printable(Path(r.source).name)} in {r.collection}" for r in rows[:3]]
    return ", ".join(shown) + (" ..." if len(rows) > 3 else "")


def _fts(conn: sqlite3.Connection, fts: str, table: str, repair: bool) -> Finding:
    try:
        # rank=1: compare the index with the content table, not only with itself.
        conn.execute(f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)")
        return Finding(fts, True, f"matches {table}")
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return Finding(fts, True, f"no {table} yet")
        problem = str(e)
    except sqlite3.DatabaseError as e:
        problem = str(e)
    if not repair:
        return Finding(fts, False, f"out of step with {table} ({problem}); run outweigh doctor")
    with transaction(conn):
        conn.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
    return Finding(fts, False, f"out of step with {table}; rebuilt", repaired=True)


def _vectors(
    vectors: VectorStore,
    coll: Collection,
    repair: bool,
    progress: Callable[[str, int, int], None] | None,
) -> Finding:
    name = f"vectors:{coll.name}"
    check = vectors.check(coll)
    if check.ok:
        return Finding(name, True, f"{check.indexed} vectors match {check.chunks} chunks")
    detail = check.problem or f"{check.orphans} orphan vectors, {check.missing} missing"
    if check.stale and not repair:
        # Not damage: the db changed after the last sync, and the next use catches up.
        return Finding(
            name,
            True,
            f"stale by the latest change ({check.orphans} to remove, {check.missing} to add); "
            "brought up to date on next use",
        )
    if not repair:
        return Finding(name, False, detail + "; run outweigh doctor to repair")
    report = vectors.sync(
        coll, (lambda done, total: progress(name, done, total)) if progress else None, force=True
    )
    if check.problem is not None:
        fixed = f"rebuilt from the db ({report.added} vectors)"
    else:
        fixed = f"removed {report.removed}, added {report.added}"
    return Finding(name, False, f"{detail}; {fixed}", repaired=vectors.check(coll).ok)


def _leftovers(paths: Paths, repair: bool) -> Finding:
    found = [
        *paths.index_dir.glob("*.tmp"),
        *paths.adapters_dir.glob(".staging-*"),
        *paths.adapters_dir.glob(".checkpoints/*.tmp"),  # a checkpoint killed mid-write
        *paths.models_dir.glob("*.partial"),  # a model conversion killed mid-write
    ]
    now = time.time()
    stale = [p for p in found if now - p.stat().st_mtime > STALE_S]
    if not stale:
        busy = f"; {len(found)} recent ones left for a running write" if found else ""
        return Finding("leftovers", True, "no stale temporary files" + busy)
    if not repair:
        return Finding("leftovers", False, f"{len(stale)} stale temporary files; run doctor")
    for p in stale:
        _remove(p)
    return Finding("leftovers", False, f"removed {len(stale)} stale temporary files", True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
