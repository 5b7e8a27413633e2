"""Ingestion on a local Ray instance stores exactly what plain `ingest` stores.

Ray starts once for the module (num_cpus=2, about 4 s); each `ingest_ray` call then starts two
actors, about 1.5 s with the fake embedder and 10-20 s when they load the real model.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from outweigh.errors import InputError, OutweighError
from outweigh.retrieval import Store, ingest
from outweigh.settings import IngestLimits
from outweigh.testing import FakeEmbedder

ray = pytest.importorskip("ray")
from outweigh.retrieval.ray_ingest import ingest_ray  # noqa: E402  after the skip

SUITE = Path(__file__).resolve().parents[2] / "examples" / "suite" / "docs"
WORDS = " ".join(p.read_text() for p in sorted(SUITE.glob("*.md"))).split()


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the whole module; `ingest_ray` reuses it and leaves it up."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """28 good files of 1-6 chunks (.md .txt .html), one binary, one over a 20 KB limit."""
    d = tmp_path / "corpus"
    (d / "sub").mkdir(parents=True)
    rnd = np.random.default_rng(0)
    for i in range(28):
        words = rnd.choice(WORDS, size=int(rnd.integers(20, 700)))
        body = f"Document {i} mentions serial {i * 7919}. " + " ".join(words)
        match i % 3:
            case 0:
                (d / f"doc{i:02}.md").write_text(f"# Title {i}\n\n{body}")
            case 1:
                (d / "sub" / f"doc{i:02}.txt").write_text(body)
            case _:
                (d / f"doc{i:02}.html").write_text(f"<html><body><p>{body}</p></body></html>")
    (d / "binary.txt").write_bytes(b"\x00\x01\x02 not text")
    (d / "huge.md").write_text("big " * 8000)  # 32 KB
    return d


def stored(store: Store, collection: str) -> dict[str, list[tuple]]:
    """source -> its chunks as (ord, text, start, end, embedding bytes, line vectors bytes),
    in order."""
    rows = store.conn.execute(
        "SELECT d.source, c.ord, c.text, c.start, c.end, c.embedding, c.lines FROM chunks c "
        "JOIN documents d ON d.id = c.document_id JOIN collections k ON k.id = d.collection_id "
        "WHERE k.name = ? ORDER BY d.source, c.ord",
        (collection,),
    )
    out: dict[str, list[tuple]] = {}
    for source, *chunk in rows:
        out.setdefault(source, []).append(tuple(chunk))
    return out


def docs(store: Store, collection: str) -> list[tuple[str, str, int, int]]:
    return [(d.source, d.sha256, d.bytes, d.n_chunks) for d in store.documents(collection)]


LIMITS = IngestLimits(max_file_bytes=20_000)


def test_same_documents_chunks_failures_and_vectors_as_plain_ingest(local_ray, corpus, paths):
    emb = FakeEmbedder()
    store = Store(paths)
    plain = ingest([corpus], store, emb, "plain", limits=LIMITS)
    seen: list[str] = []
    committed: list[tuple[str, int]] = []
    r = ingest_ray(
        [corpus],
        store,
        "ray",
        embedder=emb,
        limits=LIMITS,
        on_file=lambda path, total: seen.append(path),
        on_commit=lambda source, n: committed.append((source, n)),
    )
    assert plain.files == 28
    assert (r.files, r.chunks, r.skipped) == (plain.files, plain.chunks, 0)
    # Same one-line failures, in the same (file) order: one from the driver, one from a worker.
    assert r.failed == plain.failed
    assert [Path(p).name for p, _ in r.failed] == ["binary.txt", "huge.md"]
    assert all("\n" not in why for _, why in r.failed)
    assert docs(store, "ray") == docs(store, "plain")
    a, b = stored(store, "plain"), stored(store, "ray")
    assert a.keys() == b.keys()
    for source in a:
        assert [c[:4] for c in a[source]] == [c[:4] for c in b[source]]
        assert [c[5] for c in a[source]] == [c[5] for c in b[source]]  # line vectors too
        assert all(c[5] for c in b[source])
    assert sorted(seen) == sorted(str(p) for p in corpus.rglob("*") if p.is_file())
    assert sorted(committed) == sorted((s, len(c)) for s, c in b.items())


def test_unchanged_files_are_skipped_whichever_path_stored_them(local_ray, corpus, paths):
    """Plain `ingest` then `ingest_ray` skips everything: both hash the same decoded text."""
    emb = FakeEmbedder()
    store = Store(paths)
    ingest([corpus], store, emb, "c", limits=LIMITS)
    r = ingest_ray([corpus], store, "c", embedder=emb, limits=LIMITS)
    assert (r.files, r.chunks, r.skipped, len(r.failed)) == (0, 0, 28, 2)
    (corpus / "doc00.md").write_text("# Changed\n\nNow about a lighthouse keeper only.")
    (corpus / "doc03.md").unlink()
    r = ingest_ray([corpus], store, "c", embedder=emb, limits=LIMITS, prune=True, workers=1)
    assert (r.files, r.chunks, r.skipped, r.removed) == (1, 1, 26, 1)
    again = ingest([corpus], store, emb, "c", limits=LIMITS)
    assert (again.files, again.skipped) == (0, 27)


@pytest.mark.slow
def test_cli_ray_stores_what_plain_ingest_stores(local_ray, cli, corpus, embedder, paths):
    """End to end with the real all-MiniLM-L6-v2 on each actor: same chunks, same vectors."""
    (corpus / "huge.md").unlink()  # the CLI has the default 50 MiB limit
    res = cli("ingest", str(corpus), "--ray", "--collection", "r")
    assert res.code == 0, res.err
    assert "r: 28 files" in res.out and "0 skipped, 1 failed" in res.out
    assert res.err.count("failed:") == 1 and "binary.txt" in res.err
    listed = json.loads(cli("docs", "list", "--json", "-c", "r").out)
    assert len(listed) == 28
    store = Store(paths)
    ingest([corpus], store, embedder, "plain")
    assert docs(store, "r") == docs(store, "plain")
    a, b = stored(store, "plain"), stored(store, "r")
    for source in a:
        assert [c[:4] for c in a[source]] == [c[:4] for c in b[source]]
        va = np.stack([np.frombuffer(c[4], np.float32) for c in a[source]])
        vb = np.stack([np.frombuffer(c[4], np.float32) for c in b[source]])
        np.testing.assert_allclose(va, vb, atol=1e-5)


class _Unloadable(FakeEmbedder):
    """Pickles fine here, fails to unpickle on the worker: an actor that cannot start."""

    def __reduce__(self):
        return (os.path.join, (1,))  # TypeError when the worker rebuilds it


def test_a_worker_that_cannot_start_is_one_line(local_ray, corpus, paths):
    with pytest.raises(OutweighError, match="Ray ingest worker died") as e:
        ingest_ray([corpus], Store(paths), "c", embedder=_Unloadable())
    assert "\n" not in str(e.value)


def test_more_workers_than_cpus_is_refused_before_starting_any(local_ray, corpus, paths):
    with pytest.raises(InputError, match="the cluster's 2 CPUs"):
        ingest_ray([corpus], Store(paths), "c", embedder=FakeEmbedder(), workers=3)


def test_missing_ray_says_how_to_install_it(cli, corpus, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    res = cli("ingest", str(corpus), "--ray")
    assert res.code == 2
    assert "pip install 'outweigh[ray]'" in res.err and len(res.err.strip().splitlines()) == 1


def test_unreachable_cluster_fails_fast_in_one_line(corpus):
    # A fresh process: this one may already be connected to the module's local instance.
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "outweigh",
            "ingest",
            str(corpus),
            "--ray-address",
            "ray://127.0.0.1:1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.perf_counter() - t0 < 30  # Ray alone retries for 30 s to minutes
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach Ray at ray://127.0.0.1:1" in lines[0], proc.stderr


def test_cli_does_not_import_ray():
    probe = "import sys, outweigh.cli; print('ray' in sys.modules)"
    assert subprocess.check_output([sys.executable, "-c", probe], text=True).strip() == "False"
