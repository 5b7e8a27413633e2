"""Word forms, language-aware fusion and a chosen embedder, through the real store and models.

The Russian text is from the man pages in examples/suite-ru (real translations); the second
embedder is the bundled MiniLM cut to 2 layers (`minilm_2l` in tests/conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from outweigh.db import connect, migrate
from outweigh.embed import EMBEDDER_NAME, SentenceTransformerEmbedder
from outweigh.engine import Engine
from outweigh.errors import InputError
from outweigh.retrieval.hybrid import HybridSearcher
from outweigh.retrieval.store import MIGRATIONS, Store
from outweigh.testing import FakeEmbedder
from outweigh.text import covers, dominant_script, fts_terms, stems

RU = [
    "Игнорировать регистр символов в именах процессов.",
    "Завершить процессы, принадлежащие указанному пользователю.",
    "Не использовать своп-файл. Восстановление при сбое в работе будет невозможно.",
    "Открыть N окон, разделённых по горизонтали.",
    "Код ошибки E1234 означает, что база данных занята.",
    "Ошибки записи, ошибкой чтения и ошибок разбора журнал не хранит.",
    "Ошибка в мастерской: ошибку нашли в мастерскую смену.",
]


def _store(paths, texts, embedder=None):
    embedder = embedder or FakeEmbedder()
    store = Store(paths)
    coll = store.ensure_collection("c", embedder.name, embedder.dim)
    for i, text in enumerate(texts):
        vec = embedder.embed_batch([text])
        store.put_document(coll, f"/d{i}.txt", str(i), 1, [(text, 0, len(text))], vec)
    return store, coll


def _sources(store, ids):
    rows = store.chunks(ids)
    return [rows[i].source for i in ids]


def test_stems_join_the_word_forms_of_a_language_and_keep_codes():
    assert len(set(stems("мастерская мастерской мастерскую"))) == 1
    assert len(set(stems("process processes processing"))) == 1
    assert stems("E1234 42") == ["e1234", "42"]
    assert stems("ёлка") == stems("елка")  # folded as FTS5 folds, so index and query agree


def test_query_terms_fold_as_fts5_indexes_cyrillic_and_latin(paths):
    text = "Ремонт в мастерской, ёлка и Zébulon"
    store, _ = _store(paths, [text])
    vocab = {r[0] for r in store.conn.execute("SELECT term FROM chunks_vocab")}
    assert set(fts_terms(text)) <= vocab  # й and ё kept, é folded: as unicode61 does
    assert set(stems(text)) <= vocab


def test_bm25_finds_another_word_form(paths):
    store, coll = _store(paths, RU)
    # Exact forms are all absent: "имени процесса" vs "именах процессов", "пользователя" vs
    # "пользователю".
    assert _sources(store, store.bm25(coll, "регистр в имени процесса", 1)) == ["/d0.txt"]
    assert _sources(store, store.bm25(coll, "процессы пользователя", 1)) == ["/d1.txt"]


def test_an_exact_identifier_or_form_ranks_first(paths):
    store, coll = _store(paths, RU)
    # Two documents hold forms of "ошибка"; only one holds the code, and it wins.
    assert _sources(store, store.bm25(coll, "ошибка E1234", 1)) == ["/d4.txt"]
    # The very form beats other forms of the same word.
    store2, coll2 = _store(
        paths, ["смена в мастерскую", "ремонт в мастерской", "мастерская открыта"]
    )
    assert _sources(store2, store2.bm25(coll2, "мастерской", 3))[0] == "/d1.txt"


def test_an_older_db_is_migrated_and_its_chunks_stemmed(paths):
    conn = connect(paths.db)
    migrate(conn, "retrieval", MIGRATIONS[:3])  # before the stems column
    conn.execute("INSERT INTO collections (name, embedder, dim) VALUES ('c', 'fake-bow', 4)")
    conn.execute("INSERT INTO documents VALUES (1, 1, '/old.txt', 'h', 1, 1, datetime('now'))")
    blob = np.ones(4, np.float32).tobytes()
    conn.execute(
        "INSERT INTO chunks (document_id, collection_id, ord, text, start, end, embedding) "
        "VALUES (1, 1, 0, ?, 0, 1, ?)",
        (RU[0], blob),
    )
    conn.close()
    store = Store(paths)
    coll = store.collection("c")
    assert store.bm25(coll, "имени процесса", 5) == [1]
    assert store.conn.execute("SELECT count(*) FROM chunks WHERE stems IS NULL").fetchone()[0] == 0
    store.conn.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")


def test_language_coverage_is_judged_by_script():
    en = frozenset({"en"})
    assert dominant_script("Как удалить пароль user1?") == "CYRILLIC"
    assert not covers(en, "Как удалить пароль пользователя?")
    assert covers(en, "How do I remove a password?")
    assert covers(en, "E1234 42")  # no letters to judge: trusted
    assert covers(frozenset({"multilingual", "ru"}), "Как удалить пароль?")
    assert covers(frozenset({"ru", "en"}), "Как удалить пароль?")
    assert covers(None, "Как удалить пароль?")  # an undeclared model is trusted


def test_the_bundled_embedder_declares_english(embedder):
    assert embedder.languages == frozenset({"en"})


def test_hybrid_never_ranks_below_bm25_in_a_language_the_embedder_lacks(paths, embedder):
    store, coll = _store(paths, RU, embedder)
    searcher = HybridSearcher(store, embedder)
    for query in ["регистр в имени процесса", "окна по горизонтали", "восстановление после сбоя"]:
        hybrid = [h.chunk_id for h in searcher.search_in(coll, query, 3)]
        assert hybrid == store.bm25(coll, query, 3)
    # With nothing for BM25 to match, the dense list still answers.
    assert searcher.search_in(coll, "щщщ", 3)


def test_a_chosen_embedder_works_end_to_end_and_a_mismatch_is_refused(paths, minilm_2l):
    other = str(minilm_2l)
    docs = paths.root / "docs"
    docs.mkdir(parents=True)
    (docs / "a.txt").write_text("The Heron-7 submersible is rated to 412 metres.")
    (docs / "b.txt").write_text("Annual leave is 27 days for full-time members.")
    engine = Engine(paths, embedder=other)
    engine.ingest([docs], "c")
    assert engine.store.collection("c").embedder == str(minilm_2l.resolve())
    assert engine.search("how deep can the submersible go", "c", 1, "dense")[0].source.endswith(
        "a.txt"
    )
    engine.close()

    bundled = Engine(paths)
    with pytest.raises(InputError) as e:
        bundled.search("submersible depth", "c", 1)
    assert "\n" not in str(e.value)
    assert f"outweigh reindex --collection c --embedder {EMBEDDER_NAME}" in str(e.value)
    assert bundled.search("submersible", "c", 1, "bm25")  # BM25 needs no vectors
    assert bundled.reindex("c") == 2
    assert bundled.store.collection("c").embedder == EMBEDDER_NAME
    assert bundled.search("annual leave days", "c", 1)[0].source.endswith("b.txt")
    bundled.close()


def test_an_embedder_that_cannot_load_is_one_line(tmp_path):
    with pytest.raises(InputError) as e:
        SentenceTransformerEmbedder(str(tmp_path / "missing"))
    assert "\n" not in str(e.value) and "--embedder" in str(e.value)


def test_the_setting_chooses_the_embedder(monkeypatch, minilm_2l):
    monkeypatch.setenv("OUTWEIGH_EMBEDDER", str(minilm_2l))
    emb = SentenceTransformerEmbedder()
    assert emb.name == str(minilm_2l.resolve())
    assert emb.languages == frozenset({"en"})  # the saved model card came along
