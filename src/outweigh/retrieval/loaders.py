"""Turning files into text: .txt, .md, .html and .pdf here, the Office, OpenDocument, e-book,
RTF, CSV and mail formats through `extract`, the scanned pages of a PDF through `ocr`. Each
document comes with where its parts start (`location.Document`). Every failure is one-line
IngestError."""

from __future__ import annotations

import codecs
import errno
import os
import re
import stat
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

from outweigh.errors import IngestError
from outweigh.retrieval import extract, ocr
from outweigh.retrieval.location import Document, Location, normalise
from outweigh.settings import IngestLimits

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", *extract.SUFFIXES)

PAGE_CONTENT_BYTES = 8 * 2**20
"""Most decompressed content one PDF page may have. A page dense with text draws it in about
100 KB of operators; 8 MiB leaves 80x that for drawings, far below what stalls extraction."""


def read_text(path: Path, max_bytes: int) -> str:
    """The document's text; raises IngestError naming the file and what to do."""
    return read_document(path, max_bytes).text


def read_document(path: Path, max_bytes: int) -> Document:
    """The document's text and the location of its parts; IngestError as `read_text`."""
    return parse_document(path, read_bytes(path, max_bytes), max_bytes)


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's raw bytes, after the checks that need no parsing (type, size). A symlink's
    type is its target's: a link named `notes.md` to a key file is not a document."""
    suffix = Path(os.path.realpath(path)).suffix.lower()
    if suffix not in SUFFIXES:
        raise IngestError(
            f"{path}: unsupported file type {suffix or '(none)'}; "
            f"outweigh reads {' '.join(SUFFIXES)}"
        )
    try:
        # O_NONBLOCK: opening a FIFO named like a document must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise IngestError(f"{path}: {_os_reason(e)}") from e
    with open(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise IngestError(f"{path}: not a regular file; give files or folders of documents")
        if info.st_size == 0:
            raise IngestError(f"{path}: empty file")
        # Read one byte past the cap, so a file that grew since fstat is caught too.
        data = f.read(max_bytes + 1) if info.st_size <= max_bytes else b""
    if info.st_size > max_bytes or len(data) > max_bytes:
        size = max(info.st_size, len(data))
        raise IngestError(
            f"{path}: {size / 2**20:.1f} MiB is over the {max_bytes / 2**20:.0f} MiB limit; "
            "raise OUTWEIGH_MAX_FILE_MB to ingest it"
        )
    return data


def _os_reason(e: OSError) -> str:
    """Why a file could not be opened, and what to do about it."""
    if e.errno == errno.ELOOP:
        return "symlink loop; point the link at a real file or remove it"
    if e.errno == errno.ENOENT:
        return "no such file (a broken symlink?); fix the link or remove it"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied; make it readable (chmod a+r) or move it out of the folder"
    return f"cannot read ({e.strerror}); check the file"


def parse_bytes(path: Path, data: bytes, max_bytes: int | None = None) -> str:
    """The text in `data`, the bytes of `path` (`parse_document`'s text)."""
    return parse_document(path, data, max_bytes).text


def parse_document(path: Path, data: bytes, max_bytes: int | None = None) -> Document:
    """The text in `data`, the bytes of `path`, with its parts' locations: `path`'s suffix
    picks the parser and names the file in errors. Split from `read_bytes` so a Ray worker can
    parse bytes the driver read.

    `max_bytes` (default: `IngestLimits`) also bounds what a PDF or a zip may inflate to.
    """
    suffix = path.suffix.lower()
    limits = IngestLimits()
    if max_bytes is None:
        max_bytes = limits.max_file_bytes
    if suffix == ".pdf":
        doc = _pdf(path, data, max_bytes, limits)
    elif suffix in extract.SUFFIXES:
        doc = extract.extract(path, data, max_bytes)
    else:
        text = _decode(path, data)
        if suffix in (".html", ".htm"):
            text = html_to_text(text)
        doc = Document(normalise(text))
    if not doc.text.strip():
        raise IngestError(f"{path}: no text found")
    if len(doc.text) > max_bytes:
        raise IngestError(
            f"{path}: its text is over the {max_bytes / 2**20:.0f} MiB limit; raise "
            "OUTWEIGH_MAX_FILE_MB to ingest it"
        )
    return doc


_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
"""Byte-order marks of the wide encodings; UTF-32 LE first, as it starts with UTF-16 LE's."""


def _decode(path: Path, data: bytes) -> str:
    for bom, name in _WIDE_BOMS:
        if data.startswith(bom):
            try:
                data.decode(name)  # a BOM alone could be the first bytes of anything
            except UnicodeDecodeError:
                break
            raise IngestError(
                f"{path}: {name} text; convert it to UTF-8, e.g. iconv -f {name} -t UTF-8"
            )
    # A NUL byte never occurs in text; it means a binary file with a text suffix. memchr over
    # the whole file is fast, so a binary tail behind a text-looking head is caught too.
    if b"\x00" in data:
        raise IngestError(f"{path}: looks binary (NUL bytes), not text; leave it out")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise IngestError(
            f"{path}: not valid UTF-8 (byte {e.start} is 0x{data[e.start]:02x}); if it is "
            "Latin-1 or Windows-1252, convert it with iconv -f WINDOWS-1252 -t UTF-8"
        ) from e


def _pdf(path: Path, data: bytes, max_bytes: int, limits: IngestLimits) -> Document:
    """A PDF's text page by page, with pypdf's resource limits tied to the size cap; pages
    without a text layer (a scan) are OCR'd (`_scanned`).

    A FlateDecode stream can inflate about 1000x (a 256 KiB file holds 256 MiB of zeros), so no
    stream may inflate, and the text of all pages together may not grow, past `max_bytes`: the
    cap on a plain text file. pypdf's own defaults (75 MB per stream) would let a 50 MiB file
    of bombs cost gigabytes.
    """
    import dataclasses
    import io
    import logging

    from pypdf import Configuration, PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError

    if not data.startswith(b"%PDF"):
        raise IngestError(f"{path}: not a PDF (no %PDF header)")
    # pypdf logs what it repairs ("EOF marker not found"); the one-line error below says it.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    limit = f"the {max_bytes / 2**20:.0f} MiB limit"
    # The caps on decompressed bytes; brotli's arrived after 6.18, so take those this pypdf has.
    caps = {
        "maximum_declared_stream_length",
        "array_based_stream_maximum_output_length",
        "lzw_maximum_output_length",
        "run_length_maximum_output_length",
        "zlib_maximum_output_length",
        "brotli_maximum_output_length",
    }
    bounds = {f.name: max_bytes for f in dataclasses.fields(Configuration) if f.name in caps}
    try:
        with apply_configuration(**bounds):
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                raise IngestError(
                    f"{path}: encrypted PDF; decrypt it first, e.g. qpdf --decrypt in.pdf out.pdf"
                )
            pages, size, inflated = [], 0, 0
            for page in reader.pages:
                # Decompressed content is counted before text extraction, whose cost grows
                # with it: 16 pages of 40 MiB of spaces each passed every per-stream cap and
                # took 12 s to extract; now the first page past PAGE_CONTENT_BYTES is refused.
                contents = page.get_contents()
                streamed = len(contents.get_data()) if contents is not None else 0
                inflated += streamed
                if streamed > PAGE_CONTENT_BYTES or inflated > max_bytes:
                    raise IngestError(
                        f"{path}: a PDF page inflates to {streamed / 2**20:.1f} MiB of content "
                        f"({inflated / 2**20:.1f} MiB so far), past the "
                        f"{PAGE_CONTENT_BYTES / 2**20:.0f} MiB per page or {limit} per file; "
                        "it may be a zip bomb"
                    )
                pages.append(page.extract_text() or "")
                size += len(pages[-1])
                if size > max_bytes:
                    raise IngestError(
                        f"{path}: PDF text is over {limit}; raise OUTWEIGH_MAX_FILE_MB to ingest it"
                    )
    except IngestError:
        raise
    except LimitReachedError as e:
        raise IngestError(
            f"{path}: PDF goes past a safety limit ({e}); it may be a zip bomb; if you trust "
            "it, raise OUTWEIGH_MAX_FILE_MB"
        ) from e
    except Exception as e:  # a parser fed hostile bytes can fail in any way; it is one file
        raise IngestError(f"{path}: corrupt PDF ({type(e).__name__}: {str(e)[:200]})") from e
    _scanned(path, data, pages, limits)
    return extract.join([(Location(page=i), p) for i, p in enumerate(pages, start=1)])


def _scanned(path: Path, data: bytes, pages: list[str], limits: IngestLimits) -> None:
    """Fill in the pages of `pages` that have no text by OCR, within `limits`' bounds."""
    blank = [i for i, p in enumerate(pages, start=1) if not p.strip()]
    if not blank:
        return
    if len(blank) > limits.ocr_pages:
        raise IngestError(
            f"{path}: {len(blank)} scanned pages (no text layer), over the OCR limit of "
            f"{limits.ocr_pages} pages (about {ocr.SECONDS_PER_PAGE} s a page); raise "
            "OUTWEIGH_OCR_PAGES to ingest it"
        )
    for page, text in ocr.ocr_pages(
        path, data, blank, limits.ocr_languages, limits.ocr_seconds
    ).items():
        pages[page - 1] = text


class _TextExtractor(HTMLParser):
    """The visible text of an HTML page, with the structure its tags give written as Markdown
    writes it, which `structure.py`, the chunker and the citations' section paths read: a
    heading as a `#` line of its level, a list item as a `- ` line, preformatted text between
    ``` lines, a table's rows as `| a | b |` under a rule, a link to another site as
    `[its text](its address)`. Outside `<pre>`, whitespace folds as a browser folds it.
    Scripts, styles, the head, navigation menus and buttons are not text of the page."""

    SKIP = frozenset({"script", "style", "head", "noscript", "template", "svg", "nav", "button"})
    BLOCK = frozenset(
        {"p", "div", "br", "section", "article", "blockquote", "ul", "ol", "dl", "dt", "dd"}
        | {"header", "footer", "main", "aside", "figure", "figcaption", "hr", "details"}
    )
    HEADINGS: ClassVar[dict[str, int]] = {f"h{n}": n for n in range(1, 7)}
    ENDS_HEADING = BLOCK | {"table", "pre", "li"}
    """A heading is one line: a block that starts in it ends it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.pre = 0
        self.lists = 0
        self.tables = 0
        self.heading: list[str] | None = None
        """The open heading's text, gathered for its one line."""
        self.cell: list[str] | None = None
        """The open table cell's text, gathered for its row."""
        self.row: list[str] | None = None
        self.rows = 0
        self.link: tuple[list[str], int, str] | None = None
        """Where a link to another site began its text, and its address."""

    def _target(self) -> list[str]:
        if self.cell is not None:
            return self.cell
        return self.heading if self.heading is not None else self.parts

    def _out(self, text: str) -> None:
        self._target().append(text)

    # A page may leave a cell, a row or a heading open (HTML lets `</td>` and `</tr>` go
    # unwritten): the next one, or the end of its table or of the page, closes it.
    def _end_heading(self) -> None:
        if self.heading is not None:
            self.parts.append("\n\n" + _folded(self.heading) + "\n\n")
            self.heading = None

    def _end_cell(self) -> None:
        if self.cell is not None and self.row is not None:
            self.row.append(_folded(self.cell).replace("|", "\\|"))
        self.cell = None

    def _end_row(self) -> None:
        self._end_cell()
        if self.row:
            self._out("\n| " + " | ".join(self.row) + " |")
            if self.rows == 0:  # the first row heads the table
                self._out("\n|" + " --- |" * len(self.row))
            self.rows += 1
        self.row = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
            return
        if self.skipping:
            return
        if self.heading is not None and tag in self.ENDS_HEADING:
            self._end_heading()
        if tag in self.HEADINGS and not self.tables:
            self._end_heading()
            self.heading = ["#" * self.HEADINGS[tag] + " "]
        elif tag == "pre":
            self.pre += 1
            self._out("\n```\n" if self.pre == 1 else "")
        elif tag == "li":
            self._out("\n" + "  " * max(self.lists - 1, 0) + "- ")
        elif tag in ("ul", "ol"):
            self.lists += 1
            self._out("\n")
        elif tag == "table":
            self.tables += 1
            if self.tables == 1:
                self.rows = 0
                self._out("\n")
        elif tag == "tr" and self.tables == 1:
            self._end_row()
            self.row = []
        elif tag in ("td", "th") and self.tables == 1:
            self._end_cell()
            self.row = [] if self.row is None else self.row
            self.cell = []
        elif tag == "a" and (href := dict(attrs).get("href") or "").startswith(("http:", "https:")):
            target = self._target()
            self.link = (target, len(target), href)
        elif tag in self.BLOCK or tag in self.HEADINGS or tag == "tr":
            self._out("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(self.skipping - 1, 0)
        elif self.skipping:
            return
        elif tag in self.HEADINGS and not self.tables:
            self._end_heading()
        elif tag == "pre" and self.pre:
            self.pre -= 1
            self._out("\n```\n" if self.pre == 0 else "")
        elif tag in ("ul", "ol"):
            self.lists = max(self.lists - 1, 0)
            self._out("\n")
        elif tag in ("td", "th") and self.tables == 1:
            self._end_cell()
        elif tag == "tr" and self.tables == 1:
            self._end_row()
        elif tag == "table" and self.tables:
            if self.tables == 1:
                self._end_row()
            self.tables -= 1
            self._out("\n\n" if self.tables == 0 else " ")
        elif tag == "a" and self.link is not None:
            target, start, href = self.link
            said = "".join(target[start:])
            text = said.strip()
            # An icon's link says nothing; a link around blocks is not one line's.
            if text and href not in text and "\n" not in said:
                target[start:] = [f"[{text}]({href})"]
            self.link = None
        elif tag in self.BLOCK or tag in self.HEADINGS:
            self._out("\n")

    def close(self) -> None:
        super().close()
        if self.tables:
            self._end_row()
        self._end_heading()

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if self.pre:
            self._out(data)
            return
        self._out(re.sub(r"\s+", " ", data))


def _folded(parts: list[str]) -> str:
    return " ".join("".join(parts).split())


def html_to_text(source: str) -> str:
    """The text of an HTML page, its structure written as Markdown (`_TextExtractor`)."""
    parser = _TextExtractor()
    parser.feed(source)
    parser.close()
    lines: list[str] = []
    fenced = False
    marker = ""  # a list item's "- " whose text a block inside it put on the next line
    for line in "".join(parser.parts).split("\n"):
        if line.strip() == "```":
            fenced = not fenced
            lines.append("```")
        elif fenced:
            lines.append(line.rstrip())
        elif line.strip() == "-":
            marker = line.rstrip() + " "
        elif line.strip():
            text = line.rstrip() if line.lstrip().startswith("- ") else line.strip()
            lines.append(marker + text if marker and not text.startswith("#") else text)
            marker = ""
        else:
            lines.append("")
            marker = ""
    return "\n".join(lines)
