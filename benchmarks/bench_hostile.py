"""What hostile files cost: a PDF zip bomb refused, and a 10 MB line without whitespace.

1. A ~260 KB PDF whose stream inflates to 256 MiB: time and peak Python allocations to refuse
   it at a 4 MiB and at the default 50 MiB file cap.
2. A 10 MB line of one letter: chunking with the real all-MiniLM-L6-v2 tokenizer, a segment at
   a time (outweigh), against tokenizing the line whole (what chunking did before), side by
   side; then the whole ingest with real embeddings.

Run: .venv/bin/python benchmarks/bench_hostile.py
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the corpus builders live with the tests

from tests.retrieval.pdf import make_pdf, zip_bomb_pdf  # noqa: E402

from outweigh.embed import SentenceTransformerEmbedder  # noqa: E402
from outweigh.errors import IngestError  # noqa: E402
from outweigh.retrieval import Store, ingest  # noqa: E402
from outweigh.retrieval.chunking import chunk_text  # noqa: E402
from outweigh.retrieval.loaders import read_text  # noqa: E402
from outweigh.settings import Paths  # noqa: E402

MB = 1 << 20


def rss_mib() -> float:
    """Peak RSS of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_bomb(tmp: Path) -> None:
    bomb = tmp / "bomb.pdf"
    bomb.write_bytes(zip_bomb_pdf(256))
    warm = tmp / "warm.pdf"
    warm.write_bytes(make_pdf("warm"))
    read_text(warm, MB)  # pypdf imported and warmed
    print(f"PDF zip bomb: {bomb.stat().st_size / 1024:.0f} KB inflating to 256 MiB")
    for cap in (4, 50):
        tracemalloc.start()
        t0 = time.perf_counter()
        try:
            read_text(bomb, cap * MB)
            outcome = "ingested?!"
        except IngestError:
            outcome = "refused"
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / MB
        tracemalloc.stop()
        print(f"  cap {cap:2d} MiB: {outcome} in {seconds:.3f} s, peak allocations {peak:.0f} MiB")


def bench_line(tmp: Path) -> None:
    emb = SentenceTransformerEmbedder()
    text = "x" * (10 * MB)
    print("10 MB line without whitespace, real tokenizer")
    before = rss_mib()
    t0 = time.perf_counter()
    chunks = chunk_text(text, emb.token_spans)
    t_ours = time.perf_counter() - t0
    after = rss_mib()
    print(
        f"  outweigh chunking (segments)  {t_ours:6.1f} s  peak RSS +{after - before:5.0f} MiB"
        f"  {len(chunks):,} chunks"
    )
    t0 = time.perf_counter()
    emb.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    t_whole = time.perf_counter() - t0
    print(
        f"  tokenizing it whole           {t_whole:6.1f} s  peak RSS +{rss_mib() - after:5.0f} MiB"
        f"  (ratio {t_whole / t_ours:.1f}x)"
    )
    path = tmp / "line.txt"
    path.write_text(text)
    t0 = time.perf_counter()
    report = ingest([path], Store(Paths(tmp / "home")), emb, "c")
    print(
        f"  whole ingest, real embeddings {time.perf_counter() - t0:6.1f} s  "
        f"{report.chunks:,} chunks, {len(report.failed)} failed"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bench_bomb(Path(tmp))
        bench_line(Path(tmp))


if __name__ == "__main__":
    main()
