"""`outweigh doctor` and the vector index's sync: each kind of damage is found, then repaired."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from outweigh.db import connect, migrate
from outweigh.doctor import STALE_S, diagnose
from outweigh.errors import InputError
from outweigh.retrieval.hybrid import HybridSearcher
from outweigh.retrieval.ingest import ingest
from outweigh.retrieval.store import MIGRATIONS, Store
from outweigh.retrieval.vectors import open_vector_store
from outweigh.retrieval.vectors.faiss import FaissStore
from outweigh.testing import FakeEmbedder


@pytest.fixture
def filled(paths, tmp_path) -> Store:
    """A collection of three one-chunk documents, with its index synced."""
    for name, text in [("a", "otters swim"), ("b", "herons fly"), ("c", "moles dig")]:
        (tmp_path / f"{name}.txt").write_text(text)
    store = Store(paths)
    ingest(sorted(tmp_path.glob("*.txt")), store, FakeEmbedder(), "c")
    FaissStore(store).sync(store.collection("c"))
    return store


def _by_check(findings):
    return {f.check: f for f in findings}


def test_a_healthy_state_passes_every_check(filled, paths, cli):
    assert all(f.ok for f in diagnose(paths))
    result = cli("doctor")
    assert result.code == 0
    assert "bad" not in result.out and "fixed" not in result.out
    assert "3 vectors match 3 chunks" in result.out


def test_no_state_yet_is_not_an_error(paths, cli):
    result = cli("doctor")
    assert result.code == 0
    assert "does not exist yet" in result.out
    assert not paths.db.exists()


def test_corrupt_index_is_reported_then_rebuilt(filled, paths, cli):
    (paths.index_dir / "c.faiss").write_bytes(b"\x00garbage" * 10)
    dry = cli("doctor", "--dry-run")
    assert dry.code == 1
    assert "vectors:c" in dry.out and "unreadable index" in dry.out
    assert (paths.index_dir / "c.faiss").read_bytes().startswith(b"\x00garbage")  # untouched
    fixed = cli("doctor")
    assert fixed.code == 0
    assert "rebuilt from the db (3 vectors)" in fixed.out
    assert cli("doctor", "--dry-run").code == 0


def test_orphan_and_missing_vectors_are_synced(filled, paths):
    coll = filled.collection("c")
    faiss_store = FaissStore(filled)
    # A chunk deleted behind the index's back (no generation bump): its vector is an orphan.
    filled.conn.execute("DELETE FROM documents WHERE source LIKE '%a.txt'")
    filled.conn.execute("DELETE FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)")
    check = faiss_store.check(coll)
    assert (check.orphans, check.missing, check.ok) == (1, 0, False)
    found = _by_check(diagnose(paths))["vectors:c"]
    assert found.repaired and "removed 1, added 0" in found.detail
    assert FaissStore(Store(paths)).check(coll).ok


def test_an_index_stale_by_ordinary_deletes_is_no_alarm(filled, paths, cli):
    # A delete through the library bumps the generation; the index catches up on next use.
    filled.remove_document(filled.collection("c"), str((paths.root.parent / "a.txt").resolve()))
    dry = cli("doctor", "--dry-run")
    assert dry.code == 0, dry.out
    assert "stale by the latest change (1 to remove, 0 to add)" in dry.out
    # Damage at the same generation still exits 1: a monitoring job can trust the code.
    filled.conn.execute("DELETE FROM chunks")
    filled.conn.execute("DELETE FROM documents")
    FaissStore(filled).sync(filled.collection("c"))
    (paths.index_dir / "c.faiss").write_bytes(b"\x00garbage")
    assert cli("doctor", "--dry-run").code == 1


def test_fts_out_of_step_is_rebuilt(filled, paths):
    row = filled.conn.execute("SELECT id, text, stems FROM chunks LIMIT 1").fetchone()
    filled.conn.execute(
        "INSERT INTO chunks_fts(chunks_fts, rowid, text, stems) VALUES ('delete', ?, ?, ?)",
        tuple(row),
    )
    assert filled.bm25(filled.collection("c"), row[1], 5) == []
    assert not _by_check(diagnose(paths, repair=False))["chunks_fts"].ok
    assert _by_check(diagnose(paths))["chunks_fts"].repaired
    assert filled.bm25(filled.collection("c"), row[1], 5) == [row[0]]


def test_partial_document_is_removed_so_ingest_restores_it(filled, paths, tmp_path):
    filled.conn.execute("UPDATE documents SET n_chunks = 2 WHERE source LIKE '%b.txt'")
    found = _by_check(diagnose(paths))["documents"]
    assert found.repaired
    assert "b.txt" in found.detail and "ingest again" in found.detail
    assert all(f.healthy for f in diagnose(paths))
    report = ingest([tmp_path / "b.txt"], filled, FakeEmbedder(), "c")
    assert report.files == 1
    assert len(filled.documents("c")) == 3


def test_stale_leftovers_are_removed_fresh_ones_kept(filled, paths):
    old = time.time() - STALE_S - 60
    stale_tmp = paths.index_dir / "c.faiss.tmp"
    stale_stage = paths.adapters_dir / ".staging-style-0badc0de"
    fresh_stage = paths.adapters_dir / ".staging-style-0000beef"
    stale_tmp.write_bytes(b"half")
    stale_stage.mkdir(parents=True)
    (stale_stage / "adapter_model.safetensors").write_bytes(b"half")
    fresh_stage.mkdir()
    for p in (stale_tmp, stale_stage):
        os.utime(p, (old, old))
    found = _by_check(diagnose(paths))["leftovers"]
    assert found.repaired and "removed 2" in found.detail
    assert not stale_tmp.exists() and not stale_stage.exists()
    assert fresh_stage.exists()


def test_killed_uploads_conversions_and_checkpoints_leave_nothing_for_long(
    filled, paths, tmp_path, monkeypatch
):
    monkeypatch.setenv("OUTWEIGH_MODELS_DIR", str(tmp_path / "models"))
    old = time.time() - STALE_S - 60
    debris = [
        paths.staging_dir / "0badc0de",  # an upload being checked when the server died
        paths.models_dir / "smollm2-135m.partial",  # a conversion killed mid-write
        paths.adapters_dir / ".checkpoints" / "style.tmp",  # a checkpoint killed mid-write
    ]
    for d in debris:
        d.mkdir(parents=True)
        (d / "half").write_bytes(b"half")
        os.utime(d, (old, old))
    dry = _by_check(diagnose(paths, repair=False))
    assert not dry["leftovers"].ok and "2 stale temporary files" in dry["leftovers"].detail
    assert "1 uploads that stopped before they were stored" in dry["uploads"].detail
    found = _by_check(diagnose(paths))
    assert found["leftovers"].repaired and "removed 2" in found["leftovers"].detail
    assert found["uploads"].repaired and "deleted 1 stray" in found["uploads"].detail
    assert not any(d.exists() for d in debris)


def test_damaged_db_file_is_one_line_and_repairs_nothing(filled, paths, cli):
    filled.close()
    data = bytearray(paths.db.read_bytes())
    paths.db.with_name("outweigh.db-wal").unlink(missing_ok=True)
    data[4096 : 4096 + 2048] = b"\xff" * 2048  # the second page onwards: tables, not header
    paths.db.write_bytes(bytes(data))
    result = cli("doctor")
    assert result.code in (1, 2)
    assert "Traceback" not in result.out + result.err
    text = (result.out + result.err).strip()
    assert "integrity_check" in text or "cannot open database" in text


def test_search_rebuilds_a_corrupt_index_by_itself(filled, paths):
    (paths.index_dir / "c.faiss").write_bytes(b"garbage")
    hits = HybridSearcher(Store(paths), FakeEmbedder()).search("herons", "c", k=1, mode="dense")
    assert hits[0].source.endswith("b.txt")
    assert FaissStore(Store(paths)).check(Store(paths).collection("c")).ok


def test_index_of_another_dimension_is_rebuilt(filled, paths):
    import faiss

    faiss.write_index(faiss.IndexIDMap2(faiss.IndexFlatIP(8)), str(paths.index_dir / "c.faiss"))
    check = FaissStore(filled).check(filled.collection("c"))
    assert check.problem is not None and "8-d" in check.problem
    assert FaissStore(filled).sync(filled.collection("c")).rebuilt


def test_sync_adds_and_removes_only_what_changed(filled, paths, tmp_path):
    vectors = FaissStore(filled)
    (tmp_path / "d.txt").write_text("voles burrow")
    ingest([tmp_path / "d.txt"], filled, FakeEmbedder(), "c")
    filled.remove_document(filled.collection("c"), str((tmp_path / "a.txt").resolve()))
    report = vectors.sync(filled.collection("c"))
    assert (report.added, report.removed, report.rebuilt) == (1, 1, False)
    assert vectors.sync(filled.collection("c")) == type(report)(0, 0, False)


def test_unknown_vector_store_is_one_line(paths):
    from outweigh.errors import InputError

    with pytest.raises(InputError, match="OUTWEIGH_VECTOR_STORE"):
        open_vector_store(Store(paths), "milvus://x")


def test_chunk_ids_are_never_reused_after_migrating_an_old_db(paths):
    """Migration 2 turns chunk ids AUTOINCREMENT in place, keeping ids and the FTS index."""
    conn = connect(paths.db)
    migrate(conn, "retrieval", MIGRATIONS[:1])  # a db written by outweigh 0.1.0
    conn.execute("INSERT INTO collections (name, embedder, dim) VALUES ('c', 'fake-bow', 4)")
    conn.execute("INSERT INTO documents VALUES (1, 1, 'x', 'h', 1, 2, datetime('now'))")
    blob = np.ones(4, np.float32).tobytes()
    for i, text in [(1, "alpha words"), (2, "beta words")]:
        conn.execute("INSERT INTO chunks VALUES (?, 1, 1, ?, ?, 0, 1, ?)", (i, i - 1, text, blob))
    conn.close()
    store = Store(paths)
    coll = store.collection("c")
    assert store.chunk_ids(coll).tolist() == [1, 2]
    assert store.bm25(coll, "beta", 5) == [2]
    store.conn.execute("DELETE FROM chunks WHERE id = 2")
    store.conn.execute(
        "INSERT INTO chunks (document_id, collection_id, ord, text, start, end, embedding) "
        "VALUES (1, 1, 1, 'gamma', 0, 1, ?)",
        (blob,),
    )
    assert store.chunk_ids(coll).tolist() == [1, 3]  # 2 is gone for good
    store.conn.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")


def test_durable_commits_are_configured(paths):
    conn = connect(paths.db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


# -- uploads -----------------------------------------------------------------------------------
@pytest.fixture
def uploaded(paths):
    """An engine with two uploads in `notes`: a.md and b.md."""
    from outweigh.engine import Engine
    from outweigh.testing import EchoBackend

    engine = Engine(paths=paths, backend=EchoBackend(), embedder=FakeEmbedder())
    engine.upload("notes", "a.md", b"Otters swim in the river.")
    engine.upload("notes", "b.md", b"Herons fly over the marsh.")
    yield engine
    engine.close()


def test_uploads_that_match_their_documents_pass(uploaded, paths):
    found = _by_check(diagnose(paths, repair=False))["uploads"]
    assert found.ok and found.detail == "2 upload files match their documents"


def test_an_edited_upload_is_ingested_again_with_its_collections_embedder(uploaded, paths):
    a = paths.uploads_dir / "notes" / "a.md"
    a.write_bytes(b"Otters swim in the sea now.")  # edited by hand, or an older crash
    dry = _by_check(diagnose(paths, repair=False))["uploads"]
    assert not dry.ok and "1 documents that differ from their file (a.md in notes)" in dry.detail
    asked = []
    fixed = _by_check(diagnose(paths, embedder=lambda n: asked.append(n) or FakeEmbedder()))
    assert fixed["uploads"].repaired and "ingested a.md in notes again" in fixed["uploads"].detail
    assert asked == ["fake-bow"]  # the embedder the collection was built with
    assert all(f.ok for f in diagnose(paths, repair=False))
    [hit] = uploaded.search("sea", "notes", k=1)
    assert "sea now" in hit.text


def test_an_edited_upload_whose_embedder_cannot_load_says_what_to_run(uploaded, paths):
    (paths.uploads_dir / "notes" / "a.md").write_bytes(b"Otters swim in the sea now.")

    def missing(name):
        raise InputError(f"cannot load embedder {name!r}")

    found = _by_check(diagnose(paths, embedder=missing))["uploads"]
    assert not found.healthy
    assert "cannot ingest a.md in notes again (cannot load embedder 'fake-bow')" in found.detail
    assert "run `outweigh ingest " in found.detail and "--collection notes`" in found.detail


def test_an_upload_whose_file_is_gone_is_removed_and_strays_deleted(uploaded, paths):
    (paths.uploads_dir / "notes" / "b.md").unlink()
    stray = paths.uploads_dir / "notes" / "c.md"
    stray.write_bytes(b"no row holds this")
    dropped = paths.uploads_dir / "gone" / "x.md"  # a collection that no longer exists
    dropped.parent.mkdir()
    dropped.write_bytes(b"nor this")
    dry = _by_check(diagnose(paths, repair=False))["uploads"]
    assert "1 documents whose file is gone (b.md in notes)" in dry.detail
    assert "2 files under uploads/ that no document holds" in dry.detail
    fixed = _by_check(diagnose(paths))["uploads"]
    assert fixed.repaired and "removed 1 documents; upload them again" in fixed.detail
    assert not stray.exists() and not dropped.exists()
    assert [Path(d.source).name for d in uploaded.documents("notes")] == ["a.md"]
    assert all(f.ok for f in diagnose(paths, repair=False))


def test_a_running_upload_is_left_alone(uploaded, paths):
    import fcntl

    running = paths.staging_dir / "0badc0de"
    (running / "notes").mkdir(parents=True)
    (running / "notes" / "a.md").write_bytes(b"a new text, being embedded")
    (paths.uploads_dir / "notes" / "a.md").write_bytes(b"Otters swim in the sea now.")
    held = os.open(running, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)  # what `uploads.staged` holds while it runs
    try:
        found = _by_check(diagnose(paths))["uploads"]
        assert (
            found.detail
            == "1 upload files match their documents; 1 uploads running now, left alone"
        )
        assert (running / "notes" / "a.md").exists()
    finally:
        os.close(held)
    dry = _by_check(diagnose(paths, repair=False))["uploads"]
    assert "1 uploads that stopped before they were stored" in dry.detail


def test_dropping_a_collection_deletes_its_uploads(uploaded, paths):
    uploaded.drop_collection("notes")
    assert not (paths.uploads_dir / "notes").exists()
    assert all(f.ok for f in diagnose(paths, repair=False))
