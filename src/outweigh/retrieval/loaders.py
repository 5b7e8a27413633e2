"""Turning files into text: .txt, .md, .html and .pdf. Every failure is one-line IngestError."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

from outweigh.errors import IngestError

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")


def read_text(path: Path, max_bytes: int) -> str:
    """The document's text; raises IngestError naming the file and what to do."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise IngestError(
            f"{path}: unsupported file type {suffix or '(none)'}; "
            f"outweigh reads {' '.join(SUFFIXES)}"
        )
    try:
        size = path.stat().st_size
    except OSError as e:
        raise IngestError(f"{path}: cannot read ({e.strerror})") from e
    if size > max_bytes:
        raise IngestError(
            f"{path}: {size / 2**20:.1f} MiB is over the {max_bytes / 2**20:.0f} MiB limit; "
            "raise OUTWEIGH_MAX_FILE_MB to ingest it"
        )
    if size == 0:
        raise IngestError(f"{path}: empty file")
    data = path.read_bytes()
    text = _pdf(path, data) if suffix == ".pdf" else _decode(path, data)
    if suffix in (".html", ".htm"):
        text = html_to_text(text)
    text = _normalise(text)
    if not text.strip():
        raise IngestError(f"{path}: no text found")
    return text


def _decode(path: Path, data: bytes) -> str:
    # A NUL byte never occurs in UTF-8 text; it means a binary file with a text suffix.
    if b"\x00" in data[:8192]:
        raise IngestError(f"{path}: looks binary (NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise IngestError(
            f"{path}: not valid UTF-8 (byte {e.start}); convert it with e.g. iconv -t utf-8"
        ) from e


def _pdf(path: Path, data: bytes) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not data.startswith(b"%PDF"):
        raise IngestError(f"{path}: not a PDF (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise IngestError(f"{path}: encrypted PDF; decrypt it first")
        return "\n\n".join(page.extract_text() or "" for page in reader.pages)
    except IngestError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as e:
        raise IngestError(f"{path}: corrupt PDF ({type(e).__name__}: {e})".split("\n")[0]) from e


class _TextExtractor(HTMLParser):
    """Visible text of an HTML page; script/style/head content dropped."""

    SKIP = frozenset({"script", "style", "head", "noscript", "template", "svg"})
    BLOCK = frozenset(
        {
            "p",
            "div",
            "br",
            "li",
            "tr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "section",
            "article",
            "pre",
            "blockquote",
            "table",
            "ul",
            "ol",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(source: str) -> str:
    parser = _TextExtractor()
    parser.feed(source)
    parser.close()
    return html.unescape("".join(parser.parts))


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t\f\v]+", " ", text)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()
