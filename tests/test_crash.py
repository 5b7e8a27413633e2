"""Crash safety: SIGKILL `outweigh ingest` and a memory writer at random moments, then check.

Each round changes the corpus (new, edited and deleted files, so every run has writes to make),
starts a fresh process, kills it after a random delay, and checks the db at once:

- every document the process reported as ingested is present, whole and current;
- no document is partial, and FTS5 matches the chunks exactly (no orphan rows);
- after a sync the vector index holds exactly the chunk ids (no orphan or missing vectors).

At the end one uninterrupted run must leave `outweigh doctor --dry-run` clean. The embedder is
the deterministic fake: what is under test is the store, not the embedding model.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from outweigh.retrieval.loaders import read_text
from outweigh.retrieval.store import Store
from outweigh.retrieval.vectors.faiss import FaissStore
from outweigh.settings import Paths

ROUNDS = 20
FILES = 500

WORDS = ["ledger", "harbour", "quorum", "tariff", "orchard", "pylon", "cistern", "meadow"]
WORDS += ["lantern", "ferry", "granary", "kiln", "sluice", "turbine", "compost", "weir"]

# The real CLI with the fake embedder swapped in for all-MiniLM (no torch import, fast start).
INGEST = """
import sys
import outweigh.embed
from outweigh.testing import FakeEmbedder
outweigh.embed.SentenceTransformerEmbedder = FakeEmbedder
from outweigh.cli import main
sys.argv = ["outweigh", "ingest", "--verbose", "--prune", sys.argv[1]]
main()
"""

# Writes facts and conversation turns forever; prints each id only after the write returned.
MEMORY = """
import sys
from outweigh.memory import MemoryStore
from outweigh.testing import FakeEmbedder
store = MemoryStore(embedder=FakeEmbedder())
start = int(sys.argv[1])
for i in range(start, start + 100000):
    if i % 2:
        items = [store.remember("kim", f"Locker {i} holds the parcel for order {i * 7919}")]
    else:
        items = store.capture("kim", f"s{i}", f"My badge number is {i}.", reply=f"Noted, {i}.")
    print(i, *[m.id for m in items], flush=True)
"""


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "OUTWEIGH_HOME": str(home), "PYTHONUNBUFFERED": "1"}


def _run_and_kill(
    code: str, arg: str, home: Path, delay: float, after_lines: int = 0
) -> tuple[list[str], bool]:
    """Start `code` and SIGKILL it `delay` s after its `after_lines`-th line of output (or after
    its start when 0); returns (stdout lines, whether it was killed before it finished)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code, arg],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(after_lines)]
    try:
        proc.wait(timeout=delay)
        killed = False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed = True
    lines += proc.stdout.readlines()
    # Unbuffered, `print(i, id)` writes its parts one by one: a kill between them leaves a
    # last line without its ids or newline, which was never acknowledged whole.
    whole = [ln for ln in lines if ln.endswith("\n")]
    return [ln.rstrip("\n") for ln in whole], killed


def _write_file(path: Path, rng: random.Random) -> None:
    words = [rng.choice(WORDS) for _ in range(rng.randint(80, 600))]
    path.write_text(f"{path.stem} " + " ".join(words) + "\n")


def _sha(path: Path) -> str:
    """The hash ingest records: of the text it read, after normalisation."""
    return hashlib.sha256(read_text(path, 2**30).encode()).hexdigest()


def _check_store(paths: Paths) -> sqlite3.Connection:
    conn = sqlite3.connect(paths.db)
    conn.row_factory = sqlite3.Row
    assert [r[0] for r in conn.execute("PRAGMA integrity_check")] == ["ok"]
    partial = conn.execute(
        "SELECT d.source FROM documents d LEFT JOIN chunks c ON c.document_id = d.id "
        "GROUP BY d.id HAVING count(c.id) != d.n_chunks"
    ).fetchall()
    assert partial == []
    stray = conn.execute(
        "SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)"
    ).fetchone()[0]
    assert stray == 0
    # Raises "database disk image is malformed" if FTS5 and chunks differ in any row.
    conn.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")
    return conn


def test_ingest_survives_sigkill_at_random_moments(tmp_path: Path, home: Path) -> None:
    rng = random.Random(8)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(FILES):
        _write_file(corpus / f"doc{i:04d}.txt", rng)
    paths = Paths(home)
    killed_runs = acked_total = 0
    next_id = FILES
    for _ in range(ROUNDS):
        files = sorted(corpus.iterdir())
        for p in rng.sample(files, 100):
            _write_file(p, rng)  # edited: replaced in one transaction
        for p in rng.sample(files, 5):
            p.unlink()
        for _ in range(5):
            _write_file(corpus / f"doc{next_id:04d}.txt", rng)
            next_id += 1
        # Half the kills land just after a commit was acknowledged, half at any moment
        # (start-up, embedding, a commit, pruning, the index sync).
        if rng.random() < 0.5:
            moment = {"delay": rng.uniform(0, 0.05), "after_lines": rng.randint(1, 90)}
        else:
            moment = {"delay": rng.uniform(0.3, 4.0)}
        lines, killed = _run_and_kill(INGEST, str(corpus), home, **moment)
        killed_runs += killed
        acked = [
            ln.removeprefix("ingested: ").rsplit(" (", 1)[0]
            for ln in lines
            if ln.startswith("ingested: ")
        ]
        acked_total += len(acked)
        conn = _check_store(paths)
        docs = {r["source"]: r for r in conn.execute("SELECT source, sha256 FROM documents")}
        for source in acked:
            assert source in docs, f"{source} was reported ingested but is missing"
            assert docs[source]["sha256"] == _sha(Path(source)), f"{source} is stale"
        conn.close()
        store = Store(paths)
        vectors = FaissStore(store)
        coll = store.collection("default") if store.collections() else None
        if coll is not None:  # the index is a cache: stale after a kill, exact after a sync
            vectors.sync(coll)
            assert vectors.check(coll).ok
        store.close()
    assert killed_runs >= ROUNDS // 2, "most runs should have been killed mid-way"
    assert acked_total > 0

    lines, killed = _run_and_kill(INGEST, str(corpus), home, 600)
    assert not killed
    conn = _check_store(paths)
    docs = {r["source"]: r["sha256"] for r in conn.execute("SELECT source, sha256 FROM documents")}
    assert docs == {str(p.resolve()): _sha(p) for p in corpus.iterdir()}
    conn.close()
    doctor = subprocess.run(
        [sys.executable, "-m", "outweigh", "doctor", "--dry-run"],
        env=_env(home),
        capture_output=True,
        text=True,
    )
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "bad" not in doctor.stdout


def test_memory_writes_survive_sigkill_at_random_moments(home: Path) -> None:
    rng = random.Random(5)
    paths = Paths(home)
    start, acked = 0, {}
    for _ in range(ROUNDS):
        lines, _ = _run_and_kill(MEMORY, str(start), home, rng.uniform(0.3, 2.5))
        for line in lines:
            i, *ids = (int(x) for x in line.split())
            acked[i] = ids
            start = i + 1
        conn = sqlite3.connect(paths.db)
        assert [r[0] for r in conn.execute("PRAGMA integrity_check")] == ["ok"]
        conn.execute("INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)")
        stored = {r[0]: r[1] for r in conn.execute("SELECT id, text FROM memories")}
        turns = {r[0] for r in conn.execute("SELECT session FROM memory_turns")}
        for i, ids in acked.items():
            for mid in ids:
                assert mid in stored, f"write {i}: memory {mid} was acknowledged but is missing"
            if i % 2:
                assert stored[ids[0]].startswith(f"Locker {i} ")
            else:
                assert f"s{i}" in turns, f"write {i}: its conversation turn is missing"
        # A killed transaction leaves nothing: every user turn has its assistant reply.
        orphans = conn.execute(
            "SELECT count(*) FROM memory_turns u WHERE u.role = 'user' AND NOT EXISTS "
            "(SELECT 1 FROM memory_turns a WHERE a.reply_to = u.id)"
        ).fetchone()[0]
        assert orphans == 0
        conn.close()
    assert len(acked) > ROUNDS
