"""Ingest throughput per document kind: outweigh's `read_document` (guard checks, kreuzberg,
locations) against kreuzberg's raw extraction of the same bytes, median of several runs, and
OCR pages per second of a scanned PDF. Files are built from examples/suite-man by
tests/retrieval/documents.py.

`--rival markitdown --rival-python VENV/bin/python` also times markitdown on the same files,
in that interpreter (a separate venv: markitdown is no dependency of outweigh), and scores
both libraries' fidelity: the share of the source's words (3+ letters) in the output, the
share of section headings kept as `#` headings, and whether a sheet or CSV came out as one
Markdown table with a line per row.

    python benchmarks/bench_formats.py [--runs 5] [--rival markitdown --rival-python PY]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.retrieval import documents as build  # noqa: E402

from outweigh.retrieval.extract import MIME_TYPES  # noqa: E402
from outweigh.retrieval.loaders import read_document  # noqa: E402
from outweigh.retrieval.structure import tables  # noqa: E402

RIVAL = """
import json, statistics, sys, time
from markitdown import MarkItDown
md = MarkItDown()
runs, out = int(sys.argv[1]), {}
for path in sys.argv[2:]:
    try:
        text = md.convert(path).text_content  # the first call loads its converters
    except Exception as e:
        out[path] = {"error": " ".join((type(e).__name__ + ": " + str(e)).split())[-90:]}
        continue
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        md.convert(path)
        times.append(time.perf_counter() - t)
    out[path] = {"s": statistics.median(times), "text": text}
print(json.dumps(out))
"""
"""markitdown's side, run in its own interpreter: median seconds and the Markdown per file."""

TABLE_KINDS = (".xlsx", ".csv", ".ods")


def words(text: str) -> set[str]:
    return set(re.findall(r"[^\W\d_]{3,}", re.sub(r"\\(\W)", r"\1", text).lower()))


def fidelity(out: str, source: str, heads: list[str], kind: str, rows: int) -> str:
    """ "words%, headings%, table" of one extraction against the text it came from."""
    want = words(source)
    found = len(want & words(out)) / len(want)
    marked = {line.lstrip("#").strip() for line in out.splitlines() if line.startswith("#")}
    headed = f"{sum(h in marked for h in heads) / len(heads):6.1%}" if heads else "     -"
    if kind in TABLE_KINDS:
        table = "yes" if any(len(t.lines) >= rows + 1 for t in tables(out)) else "no"
    else:
        table = ""
    return f"{found:6.1%} {headed} {table:>5}"


def rival(python: str, files: list[Path], runs: int) -> dict[str, dict]:
    done = subprocess.run(
        [python, "-c", RIVAL, str(runs), *map(str, files)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


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
    parser.add_argument("--rival", choices=["markitdown"], help="also time this library")
    parser.add_argument("--rival-python", default=sys.executable, help="its interpreter")
    args = parser.parse_args()
    runs = args.runs
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
        source = "\n".join(f"{h}\n" + "\n".join(ps) for h, ps in sections)
        heads = [h for h, _ in sections]
        theirs_by = rival(args.rival_python, list(files.values()), runs) if args.rival else {}
        print(
            f"{'kind':6} {'KiB':>6} {'text KiB':>8} {'outweigh ms':>11} {'raw ms':>7} ratio "
            "| kreuzberg words heads table"
            + (f" | {args.rival} ms words heads table" if args.rival else "")
        )
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
            # The .eml holds the table's text column only, no headings.
            src = "\n".join(r[1] for r in rows[1:]) if suffix == ".eml" else source
            kinds_heads = [] if suffix in (".eml", *TABLE_KINDS) else heads
            got = extract_bytes_sync(data, mime, raw).content if mime else text
            line = (
                f"{suffix:6} {len(data) / 1024:6.0f} {len(text) / 1024:8.0f} {ours * 1e3:11.1f} "
                f"{theirs * 1e3:7.1f} {ours / theirs:5.2f} | "
                f"{fidelity(got, src, kinds_heads, suffix, len(rows))}"
            )
            if args.rival:
                r = theirs_by.get(str(path), {"error": "not run"})
                if "error" in r:
                    line += f" | {r['error']}"
                else:
                    score = fidelity(r["text"], src, kinds_heads, suffix, len(rows))
                    line += f" | {r['s'] * 1e3:7.1f} {score}"
            print(line)
        lines = build.wrap(" ".join(ps[0] for _, ps in sections), 60)
        scan = build.scanned_pdf(d / "scan.pdf", [lines[i : i + 40] for i in range(0, 200, 40)])
        t = median_s(lambda: read_document(scan, 50 * 2**20), max(1, runs // 2))
        print(f"OCR (eng+rus, 5 A4 pages at 300 dpi): {5 / t:.2f} pages/s ({t / 5:.2f} s a page)")


if __name__ == "__main__":
    main()
