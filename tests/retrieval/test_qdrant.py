"""The Qdrant vector store, in qdrant-client's local mode (on disk and in memory)."""

import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from outweigh.engine import Engine
from outweigh.errors import InputError, OutweighError
from outweigh.retrieval import Store
from outweigh.retrieval.vectors import SyncReport, open_vector_store
from outweigh.retrieval.vectors.faiss import FaissStore
from outweigh.retrieval.vectors.qdrant import QdrantStore
from outweigh.testing import FakeEmbedder

pytest.importorskip("qdrant_client")

EMB = FakeEmbedder(dim=256)
WORDS = [
    "otter",
    "badger",
    "heron",
    "salmon",
    "willow",
    "reed",
    "pebble",
    "current",
    "delta",
    "estuary",
    "marsh",
    "tide",
]


@pytest.fixture
def spec(tmp_path):
    return f"qdrant://{tmp_path}/qdrant"


@pytest.fixture
def qdrant(store, spec):
    q = QdrantStore(store, spec)
    yield q
    q.close()


def put(store, source, n, seed=0):
    """A document of `n` chunks of random river words; returns its chunk ids."""
    rnd = np.random.default_rng(seed)
    texts = [" ".join(rnd.choice(WORDS, 6)) + f" {source}" for _ in range(n)]
    coll = store.ensure_collection("c", EMB.name, EMB.dim)
    store.put_document(
        coll, source, source, 1, [(t, 0, len(t)) for t in texts], EMB.embed_batch(texts)
    )
    return {
        int(i)
        for (i,) in store.conn.execute(
            "SELECT ch.id FROM chunks ch JOIN documents d ON d.id = ch.document_id "
            "WHERE d.source = ?",
            (source,),
        )
    }


def points(q, name="c"):
    return set(q._point_ids(q.spec.prefix + name).tolist())


def test_sync_adds_and_removes_exactly_what_changed(store, qdrant):
    a, b = put(store, "a", 7, 1), put(store, "b", 5, 2)
    r = qdrant.sync(store.collection("c"))
    assert (r.added, r.removed, r.rebuilt) == (12, 0, True)
    assert points(qdrant) == a | b

    store.remove_document(store.collection("c"), "a")
    c = put(store, "c", 4, 3)
    b2 = put(store, "b", 3, 4)  # replaced: new chunk ids, the old ones are orphans
    seen = []
    r = qdrant.sync(store.collection("c"), lambda done, total: seen.append((done, total)))
    assert (r.added, r.removed, r.rebuilt) == (7, 12, False)
    assert points(qdrant) == c | b2 == set(store.chunk_ids(store.collection("c")).tolist())
    assert seen[-1] == (7, 7)
    assert qdrant.check(store.collection("c")).ok


def _ranks(hits):
    """Scores rounded past float32 noise, each with the set of ids that share it."""
    groups: dict[float, set[int]] = {}
    for i, s in hits:
        groups.setdefault(round(s, 5), set()).add(i)
    return groups


def test_search_gives_the_same_results_as_faiss(store):
    for j in range(12):
        put(store, f"doc{j}", 15, seed=j)
    coll = store.collection("c")
    q = QdrantStore(store, "qdrant::memory:")
    f = FaissStore(store)
    rnd = np.random.default_rng(42)
    for _ in range(20):
        query = EMB.embed(" ".join(rnd.choice(WORDS, 3)))
        ours, theirs = q.search(coll, query, 10), f.search(coll, query, 10)
        assert [s for _, s in ours] == pytest.approx([s for _, s in theirs], abs=1e-5)
        # Ties may come in any order, and a tie across the cut-off may pick other members.
        whole = _ranks(q.search(coll, query, 180))
        for score, ids in _ranks(theirs).items():
            assert ids <= whole[score]
        assert _ranks(ours).keys() == _ranks(theirs).keys()
        last = round(theirs[-1][1], 5)
        assert {i for i, s in ours if round(s, 5) > last} == {
            i for i, s in theirs if round(s, 5) > last
        }
    q.close()


def test_the_env_var_makes_engine_search_use_qdrant(paths, spec, monkeypatch, tmp_path):
    monkeypatch.setenv("OUTWEIGH_VECTOR_STORE", spec)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "otters.txt").write_text("Otters hold hands while they sleep on the river.")
    (docs / "kiln.txt").write_text("A kiln fires clay pots at twelve hundred degrees.")
    engine = Engine(paths, embedder=FakeEmbedder())
    engine.ingest([docs], collection="c")
    assert isinstance(engine.vectors, QdrantStore)
    assert not (paths.index_dir).exists()  # no faiss files
    hits = engine.search("otters river", "c", k=1, mode="dense")
    assert hits[0].source.endswith("otters.txt")
    # A second store on the same folder in the same process shares the locked client.
    other = open_vector_store(engine.store)
    assert other.check(engine.store.collection("c")).indexed == 2
    other.close()
    engine.close()


def test_stores_on_one_folder_share_one_client_until_the_last_closes(store, spec, tmp_path):
    from qdrant_client import QdrantClient

    put(store, "a", 3)
    coll = store.collection("c")
    one, two = QdrantStore(store, spec), QdrantStore(store, spec)
    assert one.sync(coll).added == 3
    assert two.check(coll).ok
    one.close()
    one.close()  # idempotent: must not release the client twice
    assert len(two.search(coll, EMB.embed("otter"), 5)) == 3
    two.close()
    # Both closed: the folder's file lock is free for anyone.
    QdrantClient(path=str(tmp_path / "qdrant")).close()


def test_concurrent_searches_and_syncs_from_threads(store, spec, paths):
    put(store, "a", 20)
    q = QdrantStore(store, spec)
    writer = Store(paths)
    errors: list[BaseException] = []

    def search():
        own = Store(paths)  # one connection per thread, as the server's workers have
        try:
            for _ in range(15):
                q.search(own.collection("c"), EMB.embed("heron reed"), 5)
        except BaseException as e:
            errors.append(e)
        finally:
            own.close()

    threads = [threading.Thread(target=search) for _ in range(4)]
    for t in threads:
        t.start()
    for j in range(3):
        put(writer, f"new{j}", 5, seed=j)
        q.sync(store.collection("c"))
    for t in threads:
        t.join()
    writer.close()
    assert errors == []
    assert q.check(store.collection("c")).ok
    q.close()


def test_check_finds_tampering_and_sync_repairs_it(store, qdrant, spec):
    from qdrant_client import models

    ids = put(store, "a", 10)
    coll = store.collection("c")
    qdrant.sync(coll)
    client, name = qdrant._handle.client, "outweigh_c"
    client.delete(name, points_selector=models.PointIdsList(points=sorted(ids)[:3]))
    client.upsert(name, points=[models.PointStruct(id=10**9, vector=[1.0] * EMB.dim)])

    check = qdrant.check(coll)
    assert (check.chunks, check.indexed, check.orphans, check.missing) == (10, 8, 1, 3)
    assert not check.ok
    assert qdrant.sync(coll) == SyncReport(0, 0, False)  # the generation looks current
    r = qdrant.sync(coll, force=True)  # what `outweigh doctor` runs
    assert (r.added, r.removed) == (3, 1)
    assert qdrant.check(coll).ok

    client.delete_collection(name)
    check = qdrant.check(coll)
    assert check.problem and "no Qdrant collection outweigh_c" in check.problem
    fresh = QdrantStore(store, spec)  # a new process knows nothing: it finds it gone
    r = fresh.sync(coll)
    assert (r.added, r.removed, r.rebuilt) == (10, 0, True)
    fresh.close()
    assert qdrant.check(coll).ok


def test_a_new_store_trusts_the_recorded_generation(store, spec, monkeypatch):
    put(store, "a", 6)
    first = QdrantStore(store, spec)
    first.sync(store.collection("c"))
    first.close()  # the client closes: the next store reads everything back from disk

    diffs = []
    real = QdrantStore._point_ids
    monkeypatch.setattr(QdrantStore, "_point_ids", lambda self, n: diffs.append(n) or real(self, n))
    second = QdrantStore(store, spec)
    assert second.sync(store.collection("c")) == SyncReport(0, 0, False)
    assert len(second.search(store.collection("c"), EMB.embed("otter"), 3)) == 3
    assert diffs == []  # generation unchanged: no diff, one query

    put(store, "b", 2)
    assert len(second.search(store.collection("c"), EMB.embed("otter"), 10)) == 8
    second.search(store.collection("c"), EMB.embed("otter"), 10)
    assert diffs == ["outweigh_c"]  # one diff for the new generation, then none
    second.close()


def test_a_collection_made_again_under_the_same_name_is_resynced(store, qdrant):
    put(store, "a", 4)
    store.ensure_collection("other", EMB.name, EMB.dim)
    qdrant.sync(store.collection("c"))
    store.drop_collection("c")  # without dropping the index: the old points stay behind
    new = put(store, "b", 4, seed=5)
    coll = store.collection("c")
    assert coll.generation == 1  # the generation the old points were recorded at
    hits = qdrant.search(coll, EMB.embed("otter"), 10)
    assert {i for i, _ in hits} == new


def test_drop_removes_the_collection(store, qdrant):
    put(store, "a", 2)
    qdrant.sync(store.collection("c"))
    qdrant.drop("c")
    qdrant.drop("c")  # idempotent, as eval's cleanup relies on
    assert qdrant.check(store.collection("c")).problem


@pytest.mark.parametrize(
    "spec",
    [
        "qdrant:",
        "qdrant://",
        "qdrant://host:port",
        "qdrant://host:6333/some/path",
        "qdrant:///data?colour=blue",
        "qdrant:///data?api_key=secret",
        "qdrant://host:6333?timeout=soon",
        "qdrants:///data",
        "qdrantz://host",
    ],
)
def test_bad_specs_give_one_line_errors(store, spec):
    with pytest.raises(InputError) as e:
        open_vector_store(store, spec)
    assert "\n" not in str(e.value)
    assert "qdrant" in str(e.value)
    assert "secret" not in str(e.value)


def test_an_unreachable_server_gives_one_line_naming_it(store):
    put(store, "a", 2)
    coll = store.collection("c")
    q = QdrantStore(store, "qdrant://127.0.0.1:1?timeout=2")
    start = time.monotonic()
    with pytest.raises(OutweighError) as e:
        q.search(coll, EMB.embed("otter"), 3)
    assert time.monotonic() - start < 5
    assert "\n" not in str(e.value)
    assert "cannot reach Qdrant at http://127.0.0.1:1" in str(e.value)
    check = q.check(coll)
    assert check.problem and "http://127.0.0.1:1" in check.problem and not check.ok
    q.close()


def test_without_qdrant_client_the_error_says_what_to_install(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "qdrant_client", None)
    with pytest.raises(OutweighError, match=r"pip install 'outweigh\[qdrant\]'"):
        QdrantStore(store, "qdrant::memory:")


def test_qdrant_client_is_imported_only_when_used():
    code = (
        "import sys, outweigh.engine, outweigh.retrieval.vectors, outweigh.cli; "
        "print('qdrant_client' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_store_left_open_exits_quietly(tmp_path, paths):
    """The CLI never closes its store: the process must still exit without a traceback."""
    code = (
        "import sys; from outweigh.retrieval import Store; "
        "from outweigh.retrieval.vectors.qdrant import QdrantStore; "
        "from outweigh.settings import Paths; from pathlib import Path; "
        "s = Store(Paths(Path(sys.argv[1]))); "
        "s.ensure_collection('c', 'x', 4); "
        "QdrantStore(s, sys.argv[2]).sync(s.collection('c'))"
    )
    args = [sys.executable, "-c", code, str(paths.root), f"qdrant://{tmp_path}/q"]
    out = subprocess.run(args, capture_output=True, text=True)
    assert (out.returncode, out.stderr) == (0, "")


def test_cli_search_end_to_end_with_qdrant(cli, spec, monkeypatch, suite_docs, paths):
    monkeypatch.setenv("OUTWEIGH_VECTOR_STORE", spec)
    assert cli("ingest", str(suite_docs)).code == 0
    r = cli("search", "How do I rotate the API keys?", "--mode", "dense", "--json")
    assert r.code == 0, r.err
    hits = json.loads(r.out)
    assert hits and all(h["dense_rank"] for h in hits)
    assert not paths.index_dir.exists()  # dense search went to Qdrant, not faiss
