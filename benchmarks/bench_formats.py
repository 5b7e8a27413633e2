"""Ingest throughput per document kind: outweigh's `read_document` (guard checks, kreuzberg,
locations) against kreuzberg's raw extraction of the same bytes, median of several runs, and
OCR pages per second of a scanned PDF. Files are built from examples/suite-man by
tests/retrieval/documents.py.

    python benchmarks/bench_formats.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.retrieval import documents as build  # noqa: E402

from outweigh.retrieval.extract import MIME_TYPES  # noqa: E402
from outweigh.retrieval.loaders import read_document  # noqa: E402


def median_s(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    from kreuzberg import ExtractionConfig, extract_bytes_sync

    pages = sorted((ROOT / "examples" / "suite-man" / "docs").glob("*.txt"))[:30]
    sections = [s for p in pages for s in build.man_sections(p.read_text("utf-8"))]
    rows = [["Section", "Text"], *([h, " ".join(ps)] for h, ps in sections)]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        files = {
            ".docx": build.docx(d / "a.docx", sections),
            ".pptx": build.pptx(d / "a.pptx", sections),
            ".xlsx": build.xlsx(d / "a.xlsx", {"Pages": rows}),
            ".csv": build.csv(d / "a.csv", rows),
            ".odt": build.odt(d / "a.odt", sections),
            ".ods": build.ods(d / "a.ods", {"Pages": rows}),
            ".odp": build.odp(d / "a.odp", sections),
            ".epub": build.epub(d / "a.epub", sections),
            ".rtf": build.rtf(d / "a.rtf", sections),
            ".eml": build.eml(d / "a.eml", "Manual", "\n\n".join(r[1] for r in rows[1:])),
            ".pdf": build.text_pdf(d / "a.pdf", sections),
        }
        raw = ExtractionConfig(output_format="markdown", use_cache=False)
        print(f"{'kind':6} {'KiB':>6} {'text KiB':>8} {'outweigh ms':>11} {'raw ms':>7} ratio")
        for suffix, path in files.items():
            data = path.read_bytes()
            ours = median_s(lambda p=path: read_document(p, 50 * 2**20), runs)
            text = read_document(path, 50 * 2**20).text
            if suffix in MIME_TYPES:
                mime = MIME_TYPES[suffix]
            else:
                mime = "application/pdf" if suffix == ".pdf" else None
            theirs = (
                median_s(lambda b=data, m=mime: extract_bytes_sync(b, m, raw), runs)
                if mime
                else float("nan")
            )
            print(
                f"{suffix:6} {len(data) / 1024:6.0f} {len(text) / 1024:8.0f} {ours * 1e3:11.1f} "
                f"{theirs * 1e3:7.1f} {ours / theirs:5.2f}"
            )
        lines = build.wrap(" ".join(ps[0] for _, ps in sections), 60)
        scan = build.scanned_pdf(d / "scan.pdf", [lines[i : i + 40] for i in range(0, 200, 40)])
        t = median_s(lambda: read_document(scan, 50 * 2**20), max(1, runs // 2))
        print(f"OCR (eng+rus, 5 A4 pages at 300 dpi): {5 / t:.2f} pages/s ({t / 5:.2f} s a page)")


if __name__ == "__main__":
    main()
