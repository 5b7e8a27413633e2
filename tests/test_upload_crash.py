"""Crash safety of uploads: SIGKILL a process mid-upload, then `outweigh doctor`.

A real state directory holds nine documents, one of them the upload `rep.md` (37 bytes). A
second process uploads a 4.4 MB `rep.md` over it through the engine, with an embedder slowed
so the kill lands where the test wants it: while the new text is embedded (before its rows
commit), or between the commit and the file's rename. After the kill, `doctor --dry-run`
must name what the crash left, `doctor` must repair it, and the document must then be whole
as before (the 37-byte text, in file and rows) or as after (the 4.4 MB one), never a mix.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from outweigh.doctor import diagnose
from outweigh.engine import Engine
from outweigh.retrieval.loaders import read_text
from outweigh.settings import Paths
from outweigh.testing import EchoBackend, FakeEmbedder

OLD = b"# Report\n\nThe quarterly figure is 7.\n"  # 37 bytes
WORDS = ["ledger", "harbour", "quorum", "tariff", "orchard", "pylon", "cistern", "meadow"]

# Uploads argv[3] as argv[2] into `docs` of OUTWEIGH_HOME=argv[1], through the engine, with the
# fake embedder slowed: it touches `embedding` at each batch. With argv[4] == "before-rename"
# the rename that follows the commit never comes: `committed` is touched and it sleeps.
UPLOAD = """
import sys, time
from pathlib import Path
from outweigh.engine import Engine
from outweigh.retrieval import uploads
from outweigh.settings import Paths
from outweigh.testing import EchoBackend, FakeEmbedder

home, name, data, stop = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4]

class Slow(FakeEmbedder):
    def embed_batch(self, texts):
        (home / "embedding").touch()
        time.sleep(0.01)
        return super().embed_batch(texts)

if stop == "before-rename":
    def place(staged, dest):
        (home / "committed").touch()
        time.sleep(600)
    uploads.place = place

engine = Engine(paths=Paths(home), backend=EchoBackend(), embedder=Slow())
engine.upload("docs", name, data.read_bytes(), 2**24)
print("uploaded", flush=True)
"""


@pytest.fixture
def new(tmp_path: Path) -> Path:
    """The 4.4 MB `rep.md` that replaces the 37-byte one."""
    rng = random.Random(3)
    lines = (" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(50_500))
    path = tmp_path / "rep-new.md"
    path.write_text("# Report\n\n" + "\n".join(lines) + "\n")
    assert 4_300_000 < path.stat().st_size < 4_500_000
    return path


@pytest.fixture
def state(paths: Paths, tmp_path: Path) -> Paths:
    """Eight ingested documents and the upload `rep.md` in `docs`."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(8):
        (corpus / f"doc{i}.md").write_text(f"Document {i} is about {WORDS[i]}.\n")
    with Engine(paths=paths, backend=EchoBackend(), embedder=FakeEmbedder()) as engine:
        engine.ingest([corpus], "docs")
        engine.upload("docs", "rep.md", OLD)
    return paths


def _kill_when(paths: Paths, name: str, data: Path, stop: str, marker: str) -> None:
    """Run UPLOAD and SIGKILL it as soon as `marker` appears in the state directory."""
    (paths.root / marker).unlink(missing_ok=True)
    proc = _start(paths, name, data, stop)
    deadline = time.monotonic() + 120
    while not (paths.root / marker).exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the upload never reached " + marker
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate()
    assert proc.returncode == -signal.SIGKILL and "uploaded" not in out


def _sha(data: bytes, suffix: str = ".md") -> str:
    """The hash a document row keeps: of the text as ingest reads it."""
    path = Path(os.environ["OUTWEIGH_HOME"]).parent / f"sha-probe{suffix}"
    path.write_bytes(data)
    return hashlib.sha256(read_text(path, 2**30).encode()).hexdigest()


def _rep(paths: Paths) -> tuple[bytes, str, int, str]:
    """(the file's bytes, its row's hash, its row's byte count, the text of its chunks)."""
    with Engine(paths=paths, backend=EchoBackend(), embedder=FakeEmbedder()) as engine:
        [row] = [d for d in engine.documents("docs") if d.source.endswith("/rep.md")]
        text = "".join(t for s, t in engine.chunk_texts("docs") if s == row.source)
        return Path(row.source).read_bytes(), row.sha256, row.bytes, text


def test_a_replace_killed_while_embedding_leaves_the_old_document_whole(state, new, cli):
    _kill_when(state, "rep.md", new, "run", "embedding")
    staged = list(state.staging_dir.glob("*/docs/rep.md"))
    assert [p.stat().st_size for p in staged] == [new.stat().st_size]  # the crash's leftover

    dry = cli("doctor", "--dry-run")
    assert dry.code == 1
    assert "documents: 9 documents whole" in dry.out
    assert "uploads: 1 uploads that stopped before they were stored" in dry.out
    assert staged[0].exists()  # a dry run changes nothing

    fixed = cli("doctor")
    assert "deleted 1 stray files and folders" in fixed.out, fixed.out
    assert cli("doctor", "--dry-run").code == 0
    assert list(state.staging_dir.iterdir()) == []
    data, sha, size, text = _rep(state)
    assert (data, sha, size) == (OLD, _sha(OLD), len(OLD))  # wholly before
    assert "quarterly figure is 7" in text and "harbour" not in text


def test_a_replace_killed_between_commit_and_rename_is_finished_by_doctor(state, new, cli):
    _kill_when(state, "rep.md", new, "before-rename", "committed")
    # The crash's state: the new rows, the old file, the new file staged.
    data, sha, size, _ = _rep(state)
    assert (data, sha, size) == (OLD, _sha(new.read_bytes()), new.stat().st_size)

    dry = cli("doctor", "--dry-run")
    assert dry.code == 1
    assert "documents: 9 documents whole" in dry.out
    assert (
        "uploads: 1 documents replaced, with the new file still staged (rep.md in docs)" in dry.out
    ), dry.out

    fixed = cli("doctor")
    assert "moved 1 staged files into place" in fixed.out, fixed.out
    assert cli("doctor", "--dry-run").code == 0
    data, sha, size, text = _rep(state)
    assert (data, sha, size) == (new.read_bytes(), _sha(data), len(data))  # wholly after
    assert "quarterly figure is 7" not in text and "harbour" in text


def test_a_new_upload_killed_and_a_stray_file_are_reported_then_removed(state, new, cli):
    _kill_when(state, "fresh.md", new, "run", "embedding")
    stray = state.uploads_dir / "docs" / "stray.md"  # what a crash of an older outweigh left
    stray.write_bytes(OLD)
    dry = cli("doctor", "--dry-run")
    assert dry.code == 1
    assert "1 files under uploads/ that no document holds" in dry.out
    assert "1 uploads that stopped before they were stored" in dry.out
    fixed = cli("doctor")
    assert "deleted 2 stray files and folders" in fixed.out
    assert not stray.exists() and list(state.staging_dir.iterdir()) == []
    assert cli("doctor", "--dry-run").code == 0
    assert _rep(state)[0] == OLD


def test_a_replace_killed_at_random_moments_is_whole_before_or_after(state, tmp_path):
    """Alternate two texts of `rep.md`, kill each upload at a random moment from its first
    embedding to half as long again past its uninterrupted end (one timing, so a margin
    for a slower run), repair, and check the document each time."""
    rng = random.Random(29)
    small, large = tmp_path / "small.md", tmp_path / "large.md"
    small.write_bytes(OLD)
    large.write_text(" ".join(rng.choice(WORDS) for _ in range(60_000)))  # 60 batches
    versions = {_sha(OLD): OLD, _sha(large.read_bytes()): large.read_bytes()}
    took = {large: _upload_seconds(state, large)}  # over the small one, then back
    took[small] = _upload_seconds(state, small)
    seen = set()
    for round_ in range(10):
        data = large if _rep(state)[0] == OLD else small
        (state.root / "embedding").unlink(missing_ok=True)
        proc = _start(state, "rep.md", data, "run")
        while not (state.root / "embedding").exists() and proc.poll() is None:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 1.5 * took[data]))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # Repaired without embedding anything: no crash leaves a file its rows were not made
        # from, other than one staged for them.
        assert all(f.healthy for f in diagnose(state, embedder=_never))
        after = [f for f in diagnose(state, repair=False) if not f.ok]
        assert after == [], (round_, after)
        file, sha, size, text = _rep(state)
        assert sha in versions and file == versions[sha] and size == len(file), round_
        assert ("harbour" in text) == (file != OLD), round_
        seen.add((data, file == data.read_bytes()))
    # Kills landed both before a commit (the old text stayed) and after one.
    assert {replaced for _, replaced in seen} == {False, True}, seen


def _start(paths: Paths, name: str, data: Path, stop: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", UPLOAD, str(paths.root), name, str(data), stop],
        env={**os.environ, "OUTWEIGH_HOME": str(paths.root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _upload_seconds(paths: Paths, data: Path) -> float:
    """Seconds from an upload's first embedding to its end, uninterrupted."""
    (paths.root / "embedding").unlink(missing_ok=True)
    proc = _start(paths, "rep.md", data, "run")
    while not (paths.root / "embedding").exists() and proc.poll() is None:
        time.sleep(0.002)
    begun = time.monotonic()
    out, err = proc.communicate()
    assert "uploaded" in out, err
    return time.monotonic() - begun


def _never(name: str) -> FakeEmbedder:
    raise AssertionError("doctor had to ingest an upload again: its file and rows differed")
