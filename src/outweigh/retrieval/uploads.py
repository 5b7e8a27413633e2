"""Documents handed over as bytes (the server's uploads): checked on the side, then placed.

An upload lives at `uploads/<collection>/<name>` under the state directory, so the engine can
ingest it like any file and remove it with its document. It is first written to
`uploads/.incoming/<random>/<collection>/<name>` and read through the same loader ingest uses:
a file that cannot be read never replaces an earlier upload of the same name. A replace swaps
the rows in one transaction, then renames the file into place, so a crash leaves the earlier
document whole or the new one committed with its file still staged; `survey` tells which, and
`outweigh doctor` removes the staging folder or finishes the rename.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import time
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from outweigh.errors import IngestError, InputError, NotFoundError, echo
from outweigh.retrieval.loaders import SUFFIXES, read_document, read_text
from outweigh.retrieval.location import Document
from outweigh.retrieval.lookalike import posing_word, skeleton
from outweigh.settings import IngestLimits, Paths

if TYPE_CHECKING:
    from outweigh.retrieval.store import DocumentRow, Store

_FILENAME = re.compile(r"\w[\w .()+,=@-]{0,199}")
"""An uploaded file keeps its own name, if it is a plain one: no separators, no leading dot,
at most 200 characters (under any file system's 255-byte name limit for 1-byte characters;
`check_filename` also counts the bytes)."""

MAX_NAME_BYTES = 255
"""ext4, XFS, APFS and NTFS all cap one path component at 255 bytes."""


def check_filename(filename: str) -> str:
    """The plain file name an upload is stored under (NFC: a name typed on macOS arrives
    decomposed), or a one-line InputError; a word that mixes scripts with letters that look
    alike (`оverview` with a Cyrillic о) is refused too."""
    name = unicodedata.normalize("NFC", Path(filename.replace("\\", "/")).name)
    if not _FILENAME.fullmatch(name) or len(name.encode("utf-8", "replace")) > MAX_NAME_BYTES:
        raise InputError(
            f"invalid file name {echo(filename)}; use letters, digits, spaces and "
            f"'._-()' with one of the suffixes {' '.join(SUFFIXES)}"
        )
    if (word := posing_word(name)) is not None:
        raise InputError(
            f"file name {echo(name)} mixes look-alike letters of different scripts in "
            f"{echo(word)}; write each word in one script"
        )
    return name


def check_lookalike(paths: Paths, store: Store, collection: str, dest: Path) -> None:
    """Refuse to store an upload at `dest` beside a document of `collection` shown under the
    same name or one that looks like it (`skeleton`); the document at `dest` itself is the one
    an upload of the same name replaces. Without this an uploaded `overview.md` would sit
    beside an ingested one, both cited as "overview.md"."""
    try:
        rows = store.documents(collection)
    except NotFoundError:
        return  # a new collection: nothing to look like
    name, look = dest.name, skeleton(dest.name)
    folder = str((paths.uploads_dir / collection).resolve()) + os.sep
    for row in rows:
        if row.source == str(dest):
            continue
        # `shown`, without resolving the folder per row: 10,000 rows take 20 ms, not 1.3 s.
        upload = row.source.startswith(folder)
        other = row.source[len(folder) :] if upload else os.path.basename(row.source)
        if other == name or skeleton(other) == look:
            same = "the same name" if other == name else f"a name that looks like it, {echo(other)}"
            raise InputError(
                f"collection {echo(collection)} already has document {row.id} under {same}; "
                f"upload {echo(name)} under another name, or remove document {row.id} first"
            )


@contextmanager
def staged(
    paths: Paths, collection: str, filename: str, data: bytes, max_bytes: int
) -> Iterator[tuple[Path, Document]]:
    """`data` written to `uploads/.incoming/<random>/<collection>/<name>` (durably) and parsed,
    once: (its path, its text with its parts' locations). The `<random>` folder is locked
    (flock) while this runs, so `outweigh doctor` tells an upload in progress from one a crash
    stopped; it is removed afterwards, the file too unless `place` moved it."""
    name = check_filename(filename)
    incoming = paths.staging_dir / uuid.uuid4().hex
    incoming.mkdir(parents=True)
    held = os.open(incoming, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        path = incoming / collection / name
        path.parent.mkdir()
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # a replace finished by doctor after a crash needs it whole
        try:
            doc = read_document(path, max_bytes)
        except IngestError as e:
            raise InputError(str(e).replace(str(path), name)) from e
        yield path, doc
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
        os.close(held)


def destination(paths: Paths, collection: str, staged_path: Path) -> Path:
    """Where a checked upload goes: `uploads/<collection>/<name>`, resolved."""
    return (paths.uploads_dir / collection).resolve() / staged_path.name


def place(staged_path: Path, dest: Path) -> None:
    """Move a checked upload into place: an atomic rename over an earlier upload, made
    durable. Called once its rows are committed: until then the earlier file stays."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staged_path.replace(dest)
    folder = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def owned(paths: Paths, collection: str, source: str) -> bool:
    """Whether `source` is a file outweigh itself stored for `collection` (an upload), which
    removing its document may delete; a user's own files are never deleted."""
    return Path(source).parent == (paths.uploads_dir / collection).resolve()


def shown(paths: Paths, collection: str, source: str) -> str:
    """A document's source as the server shows it: an upload's name (relative to its
    collection's folder), else the file's name. Absolute paths say where the server keeps
    files and whose home they are in; the CLI, run by the owner, shows them whole."""
    folder = (paths.uploads_dir / collection).resolve()
    path = Path(source)
    return str(path.relative_to(folder)) if path.is_relative_to(folder) else path.name


# -- what a crash can leave, for `outweigh doctor` ----------------------------------------------
@dataclass
class Survey:
    """Upload files set against the documents that hold them.

    An upload writes its file to a locked staging folder, commits its rows, then renames the
    file into place, so a crash leaves one of: a staging folder no one holds (before the
    commit: the earlier document is whole, the folder is removed), or a document whose file
    still waits in one (after it: the rename is finished). A removal deletes its rows, then
    its file, so it may leave a file no document holds.
    """

    uploads: int = 0
    """Upload documents checked (all but those a running upload is replacing)."""
    unmoved: list[tuple[DocumentRow, Path]] = field(default_factory=list)
    """Documents whose file differs from their rows, each with the staged file that matches
    them: a replace committed and stopped before its rename."""
    differ: list[DocumentRow] = field(default_factory=list)
    """Documents whose file differs from their rows, with no staged file that matches."""
    missing: list[DocumentRow] = field(default_factory=list)
    """Documents whose file is gone, with no staged file that matches."""
    orphans: list[Path] = field(default_factory=list)
    """Files (and folders) under `uploads/<collection>/` that no document holds."""
    abandoned: list[Path] = field(default_factory=list)
    """Staging folders no running upload holds."""
    busy: int = 0
    """Staging folders an upload holds now; left alone, with the documents they name."""

    @property
    def ok(self) -> bool:
        return not (self.unmoved or self.differ or self.missing or self.orphans or self.abandoned)


def survey(paths: Paths, store: Store, stale_s: float) -> Survey:
    """Every upload document's file against its rows (the hash of its text), every file under
    `uploads/` against the documents, and every staging folder: held by a running upload, or
    not. A staging folder no one holds that has no file yet is left for `stale_s` seconds
    (an upload creates it an instant before it takes the lock)."""
    found = Survey()
    staged: dict[tuple[str, str], list[Path]] = {}
    busy_names: set[tuple[str, str]] = set()
    for folder in sorted(paths.staging_dir.glob("*")) if paths.staging_dir.is_dir() else []:
        if not folder.is_dir() or folder.is_symlink():
            if time.time() - _mtime(folder) > stale_s:
                found.abandoned.append(folder)
            continue
        files = [f for f in folder.glob("*/*") if f.is_file()]
        if _held(folder):
            found.busy += 1
            busy_names |= {(f.parent.name, f.name) for f in files}
            continue
        for f in files:
            staged.setdefault((f.parent.name, f.name), []).append(f)
        if files or any(folder.iterdir()) or time.time() - _mtime(folder) > stale_s:
            found.abandoned.append(folder)
    held_files: set[Path] = set()
    for row in store.documents():
        if not owned(paths, row.collection, row.source):
            continue
        file = Path(row.source)
        held_files.add(file)
        key = (row.collection, file.name)
        if key in busy_names:
            continue
        found.uploads += 1
        if text_sha256(file, row.bytes) == row.sha256:
            continue
        copies = staged.get(key, [])
        match = next((f for f in copies if text_sha256(f, row.bytes) == row.sha256), None)
        if match is not None:
            found.unmoved.append((row, match))
        elif file.exists():
            found.differ.append(row)
        else:
            found.missing.append(row)
    for folder in sorted(paths.uploads_dir.glob("*")) if paths.uploads_dir.is_dir() else []:
        if folder == paths.staging_dir or not folder.is_dir():
            continue
        real = folder.resolve()
        found.orphans += [f for f in sorted(folder.iterdir()) if real / f.name not in held_files]
    return found


def text_sha256(path: Path, size: int) -> str | None:
    """The hash a document row keeps of `path`: of its text as ingest reads it; None when it
    cannot be read."""
    # Up to the larger of the row's size and the ingest cap: a file grown past both differs.
    cap = max(size, IngestLimits().max_file_bytes)
    try:
        return hashlib.sha256(read_text(path, cap).encode()).hexdigest()
    except (OSError, IngestError):
        return None


def _held(folder: Path) -> bool:
    """Whether a running upload holds this staging folder's lock."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock this took


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
