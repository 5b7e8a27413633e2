"""Line vectors stored at ingest, with the real embedder and a real SQLite file: selection
reads them instead of embedding the pages' lines per question, and picks exactly what it
picked when it embedded them; a collection without them (stored by an older outweigh) still
selects, and reindex and uploads store them too."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from outweigh.engine import Engine
from outweigh.retrieval import Store, ingest
from outweigh.retrieval import select as selection
from outweigh.retrieval.hybrid import HybridSearcher
from outweigh.retrieval.lines import DTYPE, units, unpack
from outweigh.retrieval.select import Selection, expand, select
from tests.conftest import ROOT

MAN = ROOT / "examples" / "suite-man" / "docs"
PAGES = ("sort", "shuf", "tac", "uniq")
QUESTIONS = (
    "Which option of sort compares according to string numerical value?",
    "Who wrote shuf?",
    "Which option of tac attaches the separator before instead of after?",
    "What does uniq -c do?",
)


@pytest.fixture
def pages(tmp_path):
    d = tmp_path / "man"
    d.mkdir()
    for name in PAGES:
        shutil.copy(MAN / f"{name}.txt", d)
    return d


class Counting:
    """The session's embedder, counting the lines `embed_lines` is given."""

    def __init__(self, embedder) -> None:
        self.inner, self.lines = embedder, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed_lines(self, texts):
        self.lines += len(texts)
        return self.inner.embed_lines(texts)


def picks(question, store, embedder, with_store: bool):
    coll = store.collection("c")
    how = Selection()
    hits = HybridSearcher(store, embedder).search_in(coll, question, how.candidates)
    selection._cache.clear()  # a first question: no line embedded before
    read = expand(store, question, hits, how)
    got = select(question, read, embedder, how, 3, store if with_store else None)
    return [(h.chunk_id, h.excerpt) for h in got]


def test_ingest_stores_every_chunks_line_vectors(store, embedder, pages) -> None:
    ingest([pages], store, embedder, "c")
    rows = store.conn.execute("SELECT text, lines FROM chunks").fetchall()
    assert rows and all(r["lines"] for r in rows)
    for r in rows[:5]:
        stored = np.frombuffer(r["lines"], dtype=DTYPE).reshape(-1, embedder.dim)
        fresh = embedder.embed_lines(units(r["text"]))
        assert stored.shape == fresh.shape  # one vector a line, in order
        cosines = (stored.astype(np.float32) * fresh).sum(axis=1)
        assert cosines.min() > 0.999  # float16 keeps the vector


def test_selection_reads_them_and_picks_what_embedding_picked(store, embedder, pages) -> None:
    ingest([pages], store, embedder, "c")
    counting = Counting(embedder)
    for question in QUESTIONS:
        before = counting.lines
        stored = picks(question, store, counting, with_store=True)
        embedded_with_stored = counting.lines - before
        embedded = picks(question, store, counting, with_store=False)
        assert stored == embedded and stored
        # Every line of the pages read came from the store but the few a chunk boundary cut.
        assert embedded_with_stored <= 2, question


def test_a_collection_stored_without_them_still_selects(store, embedder, pages) -> None:
    ingest([pages], store, embedder, "c")
    want = [picks(q, store, embedder, with_store=True) for q in QUESTIONS]
    with store.conn:
        store.conn.execute("UPDATE chunks SET lines = NULL")  # as an older outweigh left it
    counting = Counting(embedder)
    assert [picks(q, store, counting, with_store=True) for q in QUESTIONS] == want
    assert counting.lines > 100  # embedded now, as before they were stored


def test_vectors_that_no_longer_match_their_lines_are_not_used(embedder) -> None:
    text = "first line\nsecond line"
    two = embedder.embed_lines(units(text)).astype(DTYPE).tobytes()
    assert set(unpack([(text, two)], embedder.dim)) == {"first line", "second line"}
    assert unpack([(text + "\nthird line", two)], embedder.dim) == {}
    assert unpack([(text, None)], embedder.dim) == {}


def test_reindex_and_uploads_store_them(paths, pages) -> None:
    engine = Engine(paths)
    engine.ingest([pages], "c")
    with engine.store.conn:
        engine.store.conn.execute("UPDATE chunks SET lines = NULL")
    assert engine.reindex("c") > 0
    missing = "SELECT count(*) FROM chunks WHERE lines IS NULL"
    assert engine.store.conn.execute(missing).fetchone()[0] == 0
    engine.upload("u", "notes.txt", b"The Heron-7 submersible is rated to 412 metres.\n")
    row = engine.store.conn.execute(
        "SELECT c.lines FROM chunks c JOIN documents d ON d.id = c.document_id "
        "WHERE d.source LIKE '%notes.txt'"
    ).fetchone()
    assert len(row["lines"]) == embedder_bytes(engine)
    engine.close()


def embedder_bytes(engine: Engine) -> int:
    """The bytes of one line's stored vector."""
    return engine.embedder.dim * np.dtype(DTYPE).itemsize


def test_reembed_without_a_line_embedder_drops_the_old_vectors(paths, embedder, pages) -> None:
    store = Store(paths)
    ingest([pages], store, embedder, "c")
    store.reembed(store.collection("c"), embedder.embed_batch, embedder.name, embedder.dim)
    kept = store.conn.execute("SELECT count(*) FROM chunks WHERE lines IS NOT NULL")
    assert kept.fetchone()[0] == 0
    store.close()


def test_cli_ingest_stores_them_unless_told_not_to(cli, paths, pages) -> None:
    assert cli("ingest", str(pages), "-c", "with").code == 0
    assert cli("ingest", str(pages), "-c", "without", "--no-line-vectors").code == 0
    store = Store(paths)
    count = (
        "SELECT count(*), count(c.lines) FROM chunks c JOIN collections k "
        "ON k.id = c.collection_id WHERE k.name = ?"
    )
    chunks, with_lines = store.conn.execute(count, ("with",)).fetchone()
    assert chunks > 0 and with_lines == chunks
    chunks, with_lines = store.conn.execute(count, ("without",)).fetchone()
    assert chunks > 0 and with_lines == 0
    again = cli("ingest", str(pages), "-c", "without")
    assert f"line vectors added to {chunks} chunks" in again.out
    assert store.conn.execute(count, ("without",)).fetchone()[1] == chunks
    store.close()


def test_ingest_gives_unchanged_files_the_line_vectors_they_lack(store, embedder, pages) -> None:
    first = ingest([pages], store, embedder, "c", line_vectors=False)
    count = "SELECT count(*), count(lines) FROM chunks"
    assert store.conn.execute(count).fetchone()[1] == 0
    again = ingest([pages], store, embedder, "c")
    assert (again.files, again.skipped, again.lines) == (0, len(PAGES), first.chunks)
    chunks, with_lines = store.conn.execute(count).fetchone()
    assert chunks == first.chunks == with_lines
    assert ingest([pages], store, embedder, "c").lines == 0  # nothing left to add
    counting = Counting(embedder)
    assert picks(QUESTIONS[0], store, counting, with_store=True)
    assert counting.lines <= 2
