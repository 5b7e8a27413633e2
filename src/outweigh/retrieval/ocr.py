"""OCR of the PDF pages that have no text layer (scans), through kreuzberg's Tesseract with
Debian's `tesseract-ocr` language data, in a child process.

The child gives a hard bound in time (it is killed at `IngestLimits.ocr_seconds`, whatever
Tesseract is doing), keeps Tesseract's memory and its exit-time noise on stderr out of the
caller, and returns {page: text} as JSON. A scan of more pages than `IngestLimits.ocr_pages`
is refused before any OCR starts, in one line that says how to raise the bound: a partial
document would be a silently incomplete one.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from outweigh.errors import IngestError

SECONDS_PER_PAGE = 5
"""Rough OCR cost of one A4 page at 300 dpi in English and Russian on one core (4.6 s
measured under load, docs/benchmarks.md), used only to say how long a refused scan takes."""

INSTALL = "apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-rus"

_CHILD = "import sys; from outweigh.retrieval.ocr import main; main(sys.argv[1], sys.argv[2:])"
"""The child's program (`-m` would warn: the package has imported this module already)."""

MARK = "\ue000{page_num}\ue001"
"""kreuzberg's page marker, here and in `extract`: private-use characters, which no document
text has and Markdown escaping leaves alone."""
_MARKS = re.compile(r"\ue000(\d+)\ue001")


def ocr_pages(path: Path, data: bytes, pages: list[int], languages: str, seconds: int) -> dict:
    """{page: text} for the 1-based `pages` of the PDF `data`, OCR'd in `languages`
    (Tesseract's "eng+rus" form) within `seconds`."""
    cmd = [sys.executable, "-c", _CHILD, languages, *map(str, pages)]
    try:
        done = subprocess.run(cmd, input=data, capture_output=True, timeout=seconds, check=False)
    except subprocess.TimeoutExpired:
        raise IngestError(
            f"{path}: OCR of {len(pages)} scanned pages did not finish in {seconds} s; raise "
            "OUTWEIGH_OCR_SECONDS to ingest it"
        ) from None
    if done.returncode != 0:
        raise IngestError(f"{path}: {_reason(done.stderr.decode('utf-8', 'replace'))}")
    return {int(k): v for k, v in json.loads(done.stdout).items()}


def _reason(stderr: str) -> str:
    """The child's last line of error, as one line saying what to do."""
    lines = [ln for ln in stderr.splitlines() if ln.strip() and "LEAK" not in ln]
    last = " ".join((lines[-1] if lines else "OCR failed").split())[:200]
    if "tessdata" in last.lower() or "language" in last.lower() or "tesseract" in last.lower():
        return f"scanned PDF, and OCR is not set up ({last}); install it: {INSTALL}"
    return f"OCR failed ({last})"


def main(languages: str, pages: list[str]) -> None:
    """The child: OCR the PDF on stdin, write {page: text} of `pages` to stdout as JSON."""
    from kreuzberg import (
        ExtractionConfig,
        OcrConfig,
        PageConfig,
        TesseractConfig,
        extract_bytes_sync,
    )

    config = ExtractionConfig(
        output_format="plain",
        use_cache=False,
        ocr=OcrConfig(
            backend="tesseract",
            language=languages,
            # Its table detection lays out plain lines of a scan as Markdown tables.
            tesseract_config=TesseractConfig(
                language=languages, output_format="text", enable_table_detection=False
            ),
        ),
        force_ocr_pages=[int(p) for p in pages],
        pages=PageConfig(extract_pages=True, insert_page_markers=True, marker_format=MARK),
    )
    result = extract_bytes_sync(sys.stdin.buffer.read(), "application/pdf", config)
    parts = _MARKS.split(result.content)
    wanted = {int(p) for p in pages}
    found = {
        int(n): text for n, text in zip(parts[1::2], parts[2::2], strict=True) if int(n) in wanted
    }
    sys.stdout.write(json.dumps(found, ensure_ascii=False))
