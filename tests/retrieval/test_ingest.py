import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from outweigh.errors import InputError
from outweigh.retrieval import Store, ingest
from outweigh.settings import IngestLimits
from outweigh.testing import FakeEmbedder


@pytest.fixture
def corpus(tmp_path):
    d = tmp_path / "docs"
    (d / "sub").mkdir(parents=True)
    (d / "a.md").write_text("# Alpha\n\nThe alpha document talks about otters.")
    (d / "b.txt").write_text("Beta text about submarines and docks.")
    (d / "sub" / "c.html").write_text("<p>Gamma page about badges.</p>")
    (d / ".hidden.md").write_text("never ingested")
    (d / "notes.bin").write_bytes(b"\x00\x01")
    return d


def counts(store):
    q = store.conn.execute
    return tuple(
        q(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("documents", "chunks", "chunks_fts")
    )


def test_walks_folders_and_is_idempotent(store, corpus):
    emb = FakeEmbedder()
    r1 = ingest([corpus], store, emb, "c")
    assert (r1.files, r1.skipped, r1.failed) == (3, 0, [])
    before = counts(store)
    r2 = ingest([corpus], store, emb, "c")
    assert (r2.files, r2.chunks, r2.skipped) == (0, 0, 3)
    assert counts(store) == before


def test_changed_file_is_replaced_not_duplicated(store, corpus):
    emb = FakeEmbedder()
    ingest([corpus], store, emb, "c")
    (corpus / "b.txt").write_text("Beta now talks about lighthouses instead.")
    r = ingest([corpus], store, emb, "c")
    assert (r.files, r.skipped) == (1, 2)
    coll = store.collection("c")
    assert store.bm25(coll, "submarines", 5) == []
    hits = store.chunks(store.bm25(coll, "lighthouses", 5))
    assert [h.source for h in hits.values()] == [str((corpus / "b.txt").resolve())]
    assert counts(store)[0] == 3


def test_prune_removes_files_that_are_gone(store, corpus):
    emb = FakeEmbedder()
    ingest([corpus], store, emb, "c")
    (corpus / "a.md").unlink()
    r = ingest([corpus], store, emb, "c", prune=True)
    assert r.removed == 1
    assert sorted(Path(d.source).name for d in store.documents("c")) == ["b.txt", "c.html"]
    assert counts(store)[1] == counts(store)[2]  # no orphaned FTS rows


def test_bad_files_fail_alone_and_the_rest_is_ingested(store, tmp_path):
    d = tmp_path / "mixed"
    d.mkdir()
    (d / "good.md").write_text("Good text.")
    (d / "empty.txt").write_bytes(b"")
    (d / "latin.txt").write_bytes("é".encode("latin-1") * 10)
    (d / "big.txt").write_text("x " * 5000)
    r = ingest(
        [d, tmp_path / "missing.md"],
        store,
        FakeEmbedder(),
        "c",
        limits=IngestLimits(max_file_bytes=4000),
    )
    assert r.files == 1
    reasons = " | ".join(reason for _, reason in r.failed)
    for word in ("empty file", "not valid UTF-8", "limit", "no such file"):
        assert word in reasons
    assert len(r.failed) == 4


def test_a_failed_write_leaves_nothing_half_written(store, corpus, monkeypatch):
    emb = FakeEmbedder()
    ingest([corpus / "a.md"], store, emb, "c")
    before = counts(store)

    def fail(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "conn", _Proxy(store.conn, fail))
    (corpus / "a.md").write_text("Changed alpha.")
    with pytest.raises(sqlite3.OperationalError):
        ingest([corpus / "a.md"], store, emb, "c")
    monkeypatch.undo()
    assert counts(store) == before
    assert store.bm25(store.collection("c"), "otters", 5)  # the old version is intact


class _Proxy:
    """A connection whose executemany fails, as a full disk would mid-transaction."""

    def __init__(self, conn, fail):
        self._conn, self._fail = conn, fail

    def executemany(self, *a, **k):
        return self._fail()

    def __getattr__(self, name):
        return getattr(self._conn, name)


def test_collection_names_and_embedder_mismatch(store, corpus):
    for bad in ("../etc", "a/b", "", "x" * 65, "name with space"):
        with pytest.raises(InputError, match="invalid collection name"):
            ingest([corpus], store, FakeEmbedder(), bad)
    ingest([corpus], store, FakeEmbedder(dim=64), "c")
    with pytest.raises(InputError, match="was embedded with"):
        ingest([corpus], store, FakeEmbedder(dim=32), "c")


def test_kill_9_mid_ingest_loses_nothing_acknowledged(tmp_path, paths):
    """A child ingests files one by one, printing each acknowledged file; we SIGKILL it."""
    d = tmp_path / "many"
    d.mkdir()
    for i in range(400):
        (d / f"f{i:03}.txt").write_text(f"document number {i} " * 20)
    script = textwrap.dedent(f"""
        from outweigh.retrieval import Store, ingest
        from outweigh.settings import Paths
        from outweigh.testing import FakeEmbedder
        from pathlib import Path
        store = Store(Paths(Path({str(paths.root)!r})))
        for f in sorted(Path({str(d)!r}).iterdir()):
            ingest([f], store, FakeEmbedder(), "c")
            print(f.resolve(), flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    acked = []
    for line in proc.stdout:
        acked.append(line.strip())
        if len(acked) == 60:
            proc.kill()
            break
    proc.wait()
    store = Store(paths)
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {doc.source for doc in store.documents("c")}
    assert set(acked) <= stored
    _n_docs, n_chunks, n_fts = counts(store)
    assert n_chunks == n_fts == sum(doc.n_chunks for doc in store.documents("c"))
