"""Documents handed over as bytes (the server's uploads): checked on the side, then placed.

An upload lives at `uploads/<collection>/<name>` under the state directory, so the engine can
ingest it like any file and remove it with its document. It is first written to
`uploads/.incoming/<random>/` and read through the same loader ingest uses: a file that cannot
be read never replaces an earlier upload of the same name, and a staging folder left by a
crash is what `outweigh doctor` cleans up.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from outweigh.errors import IngestError, InputError, echo
from outweigh.retrieval.loaders import read_text
from outweigh.settings import Paths

_FILENAME = re.compile(r"\w[\w .()+,=@-]{0,199}")
"""An uploaded file keeps its own name, if it is a plain one: no separators, no leading dot,
at most 200 characters (under any file system's 255-byte name limit for 1-byte characters;
`check_filename` also counts the bytes)."""

MAX_NAME_BYTES = 255
"""ext4, XFS, APFS and NTFS all cap one path component at 255 bytes."""


def check_filename(filename: str) -> str:
    """The plain file name an upload is stored under, or a one-line InputError."""
    name = Path(filename.replace("\\", "/")).name
    if not _FILENAME.fullmatch(name) or len(name.encode("utf-8", "replace")) > MAX_NAME_BYTES:
        raise InputError(
            f"invalid file name {echo(filename)}; use letters, digits, spaces and "
            "'._-()' with a .txt, .md, .html or .pdf suffix"
        )
    return name


@contextmanager
def staged(paths: Paths, filename: str, data: bytes, max_bytes: int) -> Iterator[tuple[Path, str]]:
    """`data` written under `uploads/.incoming/` and parsed, once: (its path, its text).
    Removed afterwards unless the caller moved it into place."""
    name = check_filename(filename)
    incoming = paths.staging_dir / uuid.uuid4().hex
    incoming.mkdir(parents=True)
    try:
        path = incoming / name
        path.write_bytes(data)
        try:
            text = read_text(path, max_bytes)
        except IngestError as e:
            raise InputError(str(e).replace(str(path), name)) from e
        yield path, text
    finally:
        shutil.rmtree(incoming, ignore_errors=True)


def destination(paths: Paths, collection: str, staged_path: Path) -> Path:
    """Where a checked upload goes: `uploads/<collection>/<name>`, resolved."""
    return (paths.uploads_dir / collection).resolve() / staged_path.name


def place(staged_path: Path, dest: Path) -> None:
    """Move a checked upload into place (an atomic rename over an earlier upload)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staged_path.replace(dest)


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
