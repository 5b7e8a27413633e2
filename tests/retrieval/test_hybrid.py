import json
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from outweigh.retrieval import HybridSearcher, Store, ingest, rrf
from outweigh.testing import FakeEmbedder
from tests.conftest import SUITE

rankings = st.lists(st.lists(st.integers(0, 30), unique=True, max_size=20), max_size=4)


@given(rankings, st.randoms())
def test_rrf_does_not_depend_on_input_order(lists, rnd):
    shuffled = list(lists)
    rnd.shuffle(shuffled)
    assert rrf(lists) == rrf(shuffled)


def test_rrf_rewards_agreement():
    fused = [doc for doc, _ in rrf([[1, 2, 3], [3, 2, 4]])]
    assert set(fused[:2]) == {2, 3}  # the two found by both retrievers
    assert set(fused) == {1, 2, 3, 4}


@pytest.fixture
def searcher(paths, embedder, suite_docs):
    store = Store(paths)
    ingest([suite_docs], store, embedder, "suite")
    yield HybridSearcher(store, embedder)
    store.close()


QUESTIONS = [json.loads(line) for line in (SUITE / "questions.jsonl").read_text().splitlines()]


def test_hybrid_finds_the_gold_document_with_the_real_embedder(searcher):
    found = 0
    for q in QUESTIONS:
        hits = searcher.search(q["question"], "suite", k=3)
        found += any(h.source.endswith(q["source"]) for h in hits)
    assert found == len(QUESTIONS)


def test_bm25_rescues_exact_name_queries_that_dense_misses(paths, embedder, tmp_path):
    """Codes like part numbers carry no meaning an embedder can use; BM25 matches them exactly."""
    d = tmp_path / "parts"
    d.mkdir()
    rnd = random.Random(7)
    codes = [f"ZQ{rnd.randrange(10**6):06d}" for _ in range(40)]
    for i, code in enumerate(codes):
        (d / f"part{i}.txt").write_text(
            f"Replacement valve assembly, catalogue entry {code}. Fits pumps of series "
            f"{i % 5}. Store dry; inspect seals before fitting."
        )
    store = Store(paths)
    ingest([d], store, embedder, "parts")
    s = HybridSearcher(store, embedder)

    def found(mode, code):  # the part is among the top 5, as `ask` (k=5) would use
        return any(code in h.text for h in s.search(f"valve {code}", "parts", k=5, mode=mode))

    dense_missed = [code for code in codes if not found("dense", code)]
    rescued = [code for code in dense_missed if found("hybrid", code)]
    assert len(dense_missed) >= 5, "the dense retriever alone should miss some codes"
    # RRF can still bury a BM25 #1 that dense ranks last; it rescues most, not all.
    assert len(rescued) >= 0.8 * len(dense_missed)
    assert sum(found("hybrid", code) for code in codes) >= 0.95 * len(codes)


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced',
        "NEAR(a b)",
        "text:*",
        "a AND OR NOT",
        "\";'",
        "Robert'); DROP TABLE chunks;--",
        "   ",
        "ЖЖЖ",
        "\x00",
    ],
)
def test_hostile_queries_are_searched_literally(paths, query, tmp_path):
    (tmp_path / "a.txt").write_text("Robert is a name. ЖЖЖ is Cyrillic.")
    store = Store(paths)
    ingest([tmp_path / "a.txt"], store, FakeEmbedder(), "c")
    hits = HybridSearcher(store, FakeEmbedder()).search(query, "c", k=3)
    assert isinstance(hits, list)
    assert store.conn.execute("SELECT count(*) FROM chunks").fetchone()[0] == 1


def test_stale_faiss_index_is_rebuilt_from_the_db(paths, tmp_path):
    emb = FakeEmbedder()
    store = Store(paths)
    (tmp_path / "a.txt").write_text("otters swim")
    ingest([tmp_path / "a.txt"], store, emb, "c")
    s = HybridSearcher(store, emb)
    assert s.search("otters", "c", k=1, mode="dense")
    (tmp_path / "b.txt").write_text("herons fly")
    ingest([tmp_path / "b.txt"], store, emb, "c")
    # A second process (fresh searcher) and a corrupt index file both recover from SQLite.
    (paths.index_dir / "c.faiss").write_bytes(b"garbage")
    hits = HybridSearcher(Store(paths), emb).search("herons fly", "c", k=1, mode="dense")
    assert hits[0].source.endswith("b.txt")


def test_bm25_keeps_the_rarest_words_within_the_posting_budget(paths, tmp_path, monkeypatch):
    import outweigh.retrieval.store as store_module

    store = Store(paths)
    coll = store.ensure_collection("c", "fake-bow", 64)
    vec = np.ones((1, 64), np.float32) / 8
    for i in range(30):
        text = f"common words in note {i}" + (" with the rare Zébulon" if i == 7 else "")
        store.put_document(coll, f"/n{i}.txt", str(i), 1, [(text, 0, len(text))], vec)
    assert len(store.bm25(coll, "common zebulon", 50)) == 30  # under budget: every word
    monkeypatch.setattr(store_module, "POSTING_BUDGET", 10)
    hits = store.bm25(coll, "common ZEBULON", 50)  # "common" (30 chunks) is over the budget
    assert [store.chunks(hits)[h].source for h in hits] == ["/n7.txt"]
    assert store.bm25(coll, "common", 50)  # the rarest word always goes in


def test_fts_terms_fold_like_the_unicode61_tokenizer():
    from outweigh.text import fts_terms

    assert fts_terms("Zébulon's foo_bar, NAÏVE-café 42") == [
        "zebulon",
        "s",
        "foo",
        "bar",
        "naive",
        "cafe",
        "42",
    ]


def test_bm25_stays_inside_its_collection_when_another_crowds_the_ranking(paths):
    store = Store(paths)
    vec = np.ones((1, 64), np.float32) / 8
    big = store.ensure_collection("big", "fake-bow", 64)
    small = store.ensure_collection("small", "fake-bow", 64)
    for i in range(40):  # "heron heron" outranks the small collection's single "heron"
        store.put_document(big, f"/b{i}.txt", str(i), 1, [("heron heron", 0, 11)], vec)
    store.put_document(small, "/s.txt", "s", 1, [("a heron among many other words", 0, 9)], vec)
    in_small = store.bm25(small, "heron", 5)
    assert [store.chunks(in_small)[i].source for i in in_small] == ["/s.txt"]
    in_big = store.bm25(big, "heron", 5)
    assert len(in_big) == 5
    assert {store.chunks(in_big)[i].source[:2] for i in in_big} == {"/b"}


def test_bm25_matches_a_hyphenated_name_as_a_phrase(paths):
    store = Store(paths)
    coll = store.ensure_collection("c", "fake-bow", 64)
    vec = np.ones((1, 64), np.float32) / 8
    pages = {
        # Uses git, merge and tree more often, but never as the one name.
        "/git-read-tree.txt": "git read-tree reads a tree; a merge of a tree into git's index "
        "is a three-way merge, and git merges each tree entry",
        "/git-merge-tree.txt": "NAME\ngit-merge-tree - Perform merge without touching index",
    }
    pages |= {f"/note{i}.txt": f"note {i} on herons" for i in range(20)}  # for BM25's idf
    for source, text in pages.items():
        store.put_document(coll, source, source, 1, [(text, 0, len(text))], vec)
    hits = store.bm25(coll, "What is git-merge-tree for?", 5)
    assert store.chunks(hits)[hits[0]].source == "/git-merge-tree.txt"
    # The phrase is quoted like every other word: FTS5 syntax inside it is literal.
    assert store.bm25(coll, 'git-"merge*-tree NEAR', 5)


def test_expand_reads_a_long_documents_first_and_last_chunk(paths):
    from outweigh.retrieval.hybrid import Hit
    from outweigh.retrieval.select import Selection, expand

    store = Store(paths)
    coll = store.ensure_collection("c", "fake-bow", 64)
    texts = [f"part {i} of the book" for i in range(40)]
    vecs = np.ones((40, 64), np.float32) / 8
    store.put_document(coll, "/book.txt", "b", 1, [(t, 0, len(t)) for t in texts], vecs)
    ids = sorted(int(i) for i in store.chunk_ids(coll))
    middle = Hit(ids[20], "/book.txt", texts[20], 0.03, 1, 1)
    read = expand(store, "", [middle], Selection(siblings=5))
    got = {store.chunks([h.chunk_id])[h.chunk_id].text for h in read}
    # The title page and the last page, then the retrieved chunk's neighbours.
    assert got == {texts[0], texts[39], texts[20], texts[19], texts[21]}


def test_expand_reads_the_chunk_of_a_long_document_that_holds_the_name_asked_about(paths):
    from outweigh.retrieval.hybrid import Hit
    from outweigh.retrieval.select import Selection, expand

    store = Store(paths)
    coll = store.ensure_collection("c", "fake-bow", 64)
    texts = [f"part {i} of the widget book, a release note" for i in range(40)]
    texts[33] = "## Contributors\n\n* Petr Písař <ppisar@example.org>"
    texts[35] = "## Contributors\n\n* Ana Lima <ana@example.org>"
    vecs = np.ones((40, 64), np.float32) / 8
    store.put_document(coll, "/widget.md", "w", 1, [(t, 0, len(t)) for t in texts], vecs)
    ids = sorted(int(i) for i in store.chunk_ids(coll))
    first = Hit(ids[0], "/widget.md", texts[0], 0.03, 1, 1)
    ask = "What is the e-mail address of Petr Písař, according to the widget release note?"
    read = expand(store, ask, [first], Selection(siblings=4))
    got = {store.chunks([h.chunk_id])[h.chunk_id].text for h in read}
    # The first and last chunk, the one that holds his name (not one that holds "e-mail"
    # or "release", everyday words, nor "widget", the document's name), then the nearest.
    assert got == {texts[0], texts[39], texts[33], texts[1]}


def test_expand_also_reads_a_retrieved_document_the_question_names(paths):
    from outweigh.retrieval.hybrid import Hit
    from outweigh.retrieval.select import Selection, expand

    store = Store(paths)
    coll = store.ensure_collection("c", "fake-bow", 64)
    for name in ("chmod", "install", "cp"):
        texts = [f"{name} part {i}" for i in range(4)]
        vecs = np.ones((4, 64), np.float32) / 8
        store.put_document(coll, f"/{name}.txt", name, 1, [(t, 0, len(t)) for t in texts], vecs)
    rows = store.chunks([int(i) for i in store.chunk_ids(coll)])
    first = {r.source: Hit(i, r.source, r.text, 0.03, 1, 1) for i, r in sorted(rows.items())}
    given = [first["/chmod.txt"], first["/install.txt"], first["/cp.txt"]]
    ask = "Which option of install does this: set permission mode (as in chmod)?"
    read = expand(store, ask, given, Selection(siblings=5))
    per_doc = {
        s: sum(h.source == s for h in read) for s in ("/chmod.txt", "/install.txt", "/cp.txt")
    }
    # chmod ranked first; install is named too; cp, retrieved but not named, keeps its chunk.
    assert per_doc == {"/chmod.txt": 4, "/install.txt": 4, "/cp.txt": 1}
