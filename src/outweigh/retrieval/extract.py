"""Office, OpenDocument, e-book, RTF, CSV and mail files as Markdown, through kreuzberg.

kreuzberg (MIT, a Rust core in one 76 MB wheel with no Python dependencies) was measured
against markitdown, unstructured and docling (docs/benchmarks.md, benchmarks/bench_formats.py):
it reads every format here but .odp and .mbox, keeps headings, lists and tables as Markdown
(which `structure.py` reads), and marks where each slide and sheet starts. The two it lacks are
small: a .odp is zip'd XML read here in a few lines, and an mbox is split by the stdlib's
`mailbox` into mails that kreuzberg reads one by one. kreuzberg never runs a document's macros;
it reads text. Before it sees a file, `guard.check_container` has refused zip bombs, XML
entities, passwords and mails of thousands of parts.
"""

from __future__ import annotations

import mailbox
import os
import re
import tempfile
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

from outweigh.errors import IngestError
from outweigh.retrieval import sheets
from outweigh.retrieval.guard import check_container, check_mail
from outweigh.retrieval.location import Document, Location, normalise
from outweigh.retrieval.ocr import MARK as _MARK
from outweigh.retrieval.tables import tables

MIME_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".epub": "application/epub+zip",
    ".rtf": "application/rtf",
    ".eml": "message/rfc822",
}
"""What kreuzberg reads, by suffix."""

SUFFIXES = (*MIME_TYPES, ".odp", ".mbox")

EXTRACT_SECONDS = 120
"""kreuzberg's own time limit per file: a 300-page .docx extracts in under a second, so a file
that takes this long is hostile in a way no check above caught."""

_MARKS = re.compile(r"\\?\ue000(\d+)\\?\ue001")

_ODF = "urn:oasis:names:tc:opendocument:xmlns:"
_DRAW_PAGE = f"{{{_ODF}drawing:1.0}}page"
_TEXT_LINES = (f"{{{_ODF}text:1.0}}p", f"{{{_ODF}text:1.0}}h")


def extract(path: Path, data: bytes, max_bytes: int) -> Document:
    """The text of `data` (the bytes of `path`) as Markdown, with where each slide, sheet and
    mail starts; one-line IngestError for anything it cannot read."""
    suffix = path.suffix.lower()
    check_container(path, data, max_bytes)
    if suffix == ".mbox":
        return _mbox(path, data)
    if suffix == ".odp":
        return _odp(path, data)
    result = _kreuzberg(path, data, MIME_TYPES[suffix])
    parts = _MARKS.split(result.content)
    # split() gives [text before the first mark, n1, text of n1, n2, ...].
    pieces: list[tuple[Location, str]] = [(Location(), parts[0])]
    for n, piece in zip(parts[1::2], parts[2::2], strict=True):
        # A word processor's "page" is the renderer's guess, not the file's: slides only.
        pieces.append((Location(slide=int(n)) if suffix == ".pptx" else Location(), piece))
    if suffix == ".eml":
        mail = Location(subject=_meta(result, "subject"), date=_meta(result, "created_at"))
        pieces = [(mail, p) for _, p in pieces]
    doc = join(pieces)
    if suffix in (".xlsx", ".ods"):
        doc.marks = _sheets(doc.text, [str(s) for s in _meta(result, "sheet_names") or []])
    if suffix == ".xlsx":
        doc.grids = _grids(doc, sheets.used_ranges(data))
    return doc


def _grids(doc: Document, used: dict[str, tuple[int, int, int, int]]) -> dict[int, tuple[int, int]]:
    """Where each sheet's table starts in its worksheet, by the sheet's mark (`sheets.py`)."""
    grid = tables(doc.text)
    bounds = [m[0] for m in doc.marks[1:]] + [len(doc.text)]
    out = {}
    for (pos, loc), end in zip(doc.marks, bounds, strict=True):
        table = next((t for t in grid if pos <= t.lines[0] < end), None)
        at = sheets.origin(table, doc.text, used.get(loc.sheet or "")) if table else None
        if at is not None:
            out[pos] = at
    return out


def _sheets(text: str, names: list[str]) -> list[tuple[int, Location]]:
    """Where each sheet starts: kreuzberg heads each with `## <name>`, in order."""
    marks, pos = [], 0
    for name in names:
        found = re.search(rf"^## {re.escape(name)}$", text[pos:], re.MULTILINE)
        if found:
            pos += found.start()
            marks.append((pos, Location(sheet=name)))
    return marks


def join(pieces: list[tuple[Location, str]]) -> Document:
    """One document of located pieces, each normalised, blank ones left out."""
    text, marks = "", []
    for loc, piece in pieces:
        piece = normalise(piece)
        if not piece:
            continue
        if text:
            text += "\n\n"
        marks.append((len(text), loc))
        text += piece
    return Document(text, marks)


def _meta(result: Any, key: str) -> Any:
    meta = result.metadata
    value = meta.get(key) if isinstance(meta, dict) else getattr(meta, key, None)
    return value or None


class _Result:
    """What the rest of this module reads of a kreuzberg result (it crosses a process)."""

    def __init__(self, content: str, metadata: dict[str, Any]) -> None:
        self.content = content
        self.metadata = metadata


def _kreuzberg(path: Path, data: bytes, mime: str) -> _Result:
    """kreuzberg's Markdown of `data`, read in a worker process (`isolate`): a native crash
    on a hostile file is that file's one-line error, not the caller's end."""
    from outweigh.retrieval import isolate

    try:
        content, metadata = isolate.run(_read, data, mime)
    except isolate.WorkerCrashed:
        raise IngestError(
            f"{path}: the {path.suffix} reader crashed on this file (a native fault); "
            "it is left out, the rest goes on"
        ) from None
    except Exception as e:  # a parser fed hostile bytes can fail in any way; it is one file
        reason = " ".join(str(e).split())[:200]
        if "password" in reason.lower() or "encrypt" in reason.lower():
            raise IngestError(
                f"{path}: password-protected file; save a copy without a password and ingest that"
            ) from None
        raise IngestError(f"{path}: cannot read this {path.suffix} file ({reason})") from None
    return _Result(content, metadata)


def _read(data: bytes, mime: str) -> tuple[str, dict[str, Any]]:
    """In the worker: kreuzberg's Markdown with page markers, and the metadata read here."""
    from kreuzberg import ExtractionConfig, PageConfig, extract_bytes_sync

    config = ExtractionConfig(
        output_format="markdown",
        use_cache=False,  # its cache is a folder in the working directory
        pages=PageConfig(extract_pages=True, insert_page_markers=True, marker_format=_MARK),
        extraction_timeout_secs=EXTRACT_SECONDS,
    )
    try:
        result = extract_bytes_sync(data, mime, config)
    except Exception as e:  # kreuzberg's own exception types need not unpickle in the caller
        raise RuntimeError(str(e)) from None
    metadata = {k: _meta(result, k) for k in ("subject", "created_at", "sheet_names")}
    if metadata["sheet_names"] is not None:
        metadata["sheet_names"] = [str(n) for n in metadata["sheet_names"]]
    return result.content, metadata


def _mbox(path: Path, data: bytes) -> Document:
    """Each mail of an mbox through kreuzberg, located by its subject and date."""
    # mailbox reads only from a path; the bytes already read are the ones parsed.
    with tempfile.TemporaryDirectory() as tmp:
        box_path = os.path.join(tmp, "box")
        with open(box_path, "wb") as f:
            f.write(data)
        box = mailbox.mbox(box_path, create=False)
        try:
            mails = [box.get_bytes(key) for key in box.iterkeys()]
        finally:
            box.close()
    if not mails or not data.startswith(b"From "):
        raise IngestError(f"{path}: not an mbox (no 'From ' line opens it)")
    pieces = []
    for i, raw in enumerate(mails, start=1):
        check_mail(path, raw, f"mail {i}")
        result = _kreuzberg(path, raw, MIME_TYPES[".eml"])
        loc = Location(subject=_meta(result, "subject"), date=_meta(result, "created_at"))
        pieces.append((loc, _MARKS.sub("", result.content)))
    return join(pieces)


def _odp(path: Path, data: bytes) -> Document:
    """An OpenDocument presentation: the text of each slide (draw:page) of content.xml.
    `check_container` refused any entity declaration, so expat has nothing to expand, and
    ElementTree never fetches an external resource."""
    from xml.etree import ElementTree

    try:
        with zipfile.ZipFile(BytesIO(data)) as z:
            root = ElementTree.fromstring(z.read("content.xml"))
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError) as e:
        raise IngestError(f"{path}: corrupt .odp file ({e})") from e
    pieces = []
    for i, page in enumerate(root.iter(_DRAW_PAGE), start=1):
        lines = ["".join(el.itertext()) for el in page.iter() if el.tag in _TEXT_LINES]
        pieces.append((Location(slide=i), "\n\n".join(lines)))
    return join(pieces)
