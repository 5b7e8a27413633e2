"""Documents handed over as bytes (the server's uploads): checked on the side, then placed.

An upload lives at `uploads/<collection>/<name>` under the state directory, so the engine can
ingest it like any file and remove it with its document. It is first written to
`uploads/.incoming/<random>/` and read through the same loader ingest uses: a file that cannot
be read never replaces an earlier upload of the same name, and a staging folder left by a
crash is what `outweigh doctor` cleans up.
"""

from __future__ import annotations

import functools
import re
import shutil
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from outweigh.errors import IngestError, InputError, NotFoundError, echo
from outweigh.retrieval.loaders import read_text
from outweigh.settings import Paths

if TYPE_CHECKING:
    from outweigh.retrieval.store import Store

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
            "'._-()' with a .txt, .md, .html or .pdf suffix"
        )
    if (word := _posing_word(name)) is not None:
        raise InputError(
            f"file name {echo(name)} mixes look-alike letters of different scripts in "
            f"{echo(word)}; write each word in one script"
        )
    return name


SCRIPT_SETS = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
"""Scripts one word may mix, as UTS #39's "highly restrictive" level allows: Japanese, Chinese
and Korean words mix their scripts (東京タワー), with Latin too; Latin with Cyrillic or Greek
in one word is how a name poses as another."""


def _posing_word(name: str) -> str | None:
    """The first word (run of letters) of `name` that mixes scripts outside `SCRIPT_SETS`
    with a letter that looks like a letter of another of its scripts; None if none does."""
    from confusable_homoglyphs import categories, confusables

    for word in re.findall(r"[^\W\d_]+", name):
        scripts = categories.unique_aliases(word) - {"COMMON", "INHERITED"}
        if len(scripts) < 2 or any(scripts <= allowed for allowed in SCRIPT_SETS):
            continue
        if any(confusables.is_confusable(word, preferred_aliases=[s]) for s in scripts):
            return word
    return None


def skeleton(name: str) -> str:
    """How `name` looks: each character replaced by its prototype in Unicode's confusables
    table (UTS #39), in one case. Two names with one skeleton are confusable: `overview.md`
    and `оverview.md` (a Cyrillic о), `rep0rt.md`, `Overview.md`."""
    once = _prototypes(unicodedata.normalize("NFD", name)).casefold()
    return _prototypes(unicodedata.normalize("NFD", once))


def _prototypes(text: str) -> str:
    return "".join(_prototype(ch) for ch in text)


@functools.lru_cache(maxsize=8192)
def _prototype(ch: str) -> str:
    """The prototype `ch` stands for. confusable-homoglyphs keeps each line of the table
    (source -> prototype) as a link both ways: a source links to its prototype alone, a
    prototype to all its sources; a pair linked only to each other is one class either way,
    and the smaller character stands for it."""
    links = _homoglyphs(ch)
    if len(links) != 1:
        return ch  # a prototype (or a character the table does not name)
    other = links[0]
    if len(other) > 1 or len(_homoglyphs(other)) > 1:
        return other  # the table's prototypes may be sequences: m -> rn
    return min(ch, other)


def _homoglyphs(ch: str) -> list[str]:
    from confusable_homoglyphs import confusables

    found = confusables.is_confusable(ch, greedy=True)
    return [h["c"] for h in found[0]["homoglyphs"]] if found else []


def check_lookalike(paths: Paths, store: Store, collection: str, dest: Path) -> None:
    """Refuse to store an upload at `dest` beside a document of `collection` shown under the
    same name or one that looks like it (`skeleton`); the document at `dest` itself is the one
    an upload of the same name replaces. Without this an uploaded `overview.md` would sit
    beside an ingested one, both cited as "overview.md"."""
    try:
        rows = store.documents(collection)
    except NotFoundError:
        return  # a new collection: nothing to look like
    name = dest.name
    look = skeleton(name)
    for row in rows:
        if row.source == str(dest):
            continue
        other = shown(paths, collection, row.source)
        if other == name or skeleton(other) == look:
            same = "the same name" if other == name else f"a name that looks like it, {echo(other)}"
            raise InputError(
                f"collection {echo(collection)} already has document {row.id} under {same}; "
                f"upload {echo(name)} under another name, or remove document {row.id} first"
            )


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
