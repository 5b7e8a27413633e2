"""How many texts one encode call should take on this CPU: milliseconds per text for the
chunks the index embeds (`embed_batch`, many documents' chunks in one call) and for the lines
context selection embeds (one call per document, as `select` makes it), at several batch
sizes, over the real documents of three development suites.

sentence-transformers sorts a call's texts by length and pads each batch to its longest. One
document's lines are a few dozen, mostly short, with a long one or two (an unwrapped
paragraph): in a batch of 64 the long line pads every other line to its length. Sizes are
interleaved within each round, so load on the machine hits them alike; each figure is the
median of `--rounds` rounds. Every vector is compared with the one the largest batch gives
(they should agree to float rounding).

    python benchmarks/bench_embed.py [--rounds 3] [--sizes 4 8 16 32 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("OUTWEIGH_MODELS_DIR", str(ROOT / ".cache" / "models"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
SUITES = ("suite-log", "suite-info", "suite-man")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    ap.add_argument("--texts", type=int, default=400, help="chunks and lines per kind")
    args = ap.parse_args()

    import numpy as np

    from outweigh.embed import SentenceTransformerEmbedder
    from outweigh.retrieval.chunking import chunk_text
    from outweigh.retrieval.lines import units

    embedder = SentenceTransformerEmbedder()
    chunks: list[str] = []
    pages: list[list[str]] = []
    for suite in SUITES:
        for path in sorted((ROOT / "examples" / suite / "docs").iterdir())[:40]:
            text = path.read_text("utf-8", errors="replace")
            chunks.extend(c.text for c in chunk_text(text, embedder.token_spans, 200, 40))
            # A page's lines as selection embeds them: the first ~100 of a document.
            pages.append(units(text)[:100])
    # An even spread over the three suites, the same texts for every size: chunks in one
    # call, lines one call per page.
    kinds = {
        "chunks": [chunks[:: max(1, len(chunks) // args.texts)][: args.texts]],
        "lines": pages[:: max(1, len(pages) // 12)],
    }
    embedder.embed_batch(pages[0][:16])  # warm-up
    ms: dict[tuple[str, int], list[float]] = {}
    vecs: dict[tuple[str, int], np.ndarray] = {}
    for _ in range(args.rounds):
        for kind, calls in kinds.items():
            n = sum(map(len, calls))
            for size in args.sizes:
                embedder.batch_size = size
                t0 = time.perf_counter()
                vecs[kind, size] = np.concatenate([embedder.embed_batch(c) for c in calls])
                ms.setdefault((kind, size), []).append(1000 * (time.perf_counter() - t0) / n)
    largest = max(args.sizes)
    print(f"median of {args.rounds} rounds, ms per text (x: against batch {largest})")
    for kind, calls in kinds.items():
        texts = [t for c in calls for t in c]
        tokens = [embedder.count_tokens(t) for t in texts]
        base = statistics.median(ms[kind, largest])
        print(
            f"{kind}: {len(texts)} texts in {len(calls)} calls, tokens median "
            f"{statistics.median(tokens):.0f}, longest {max(tokens)}"
        )
        for size in args.sizes:
            med = statistics.median(ms[kind, size])
            worst = float((vecs[kind, size] * vecs[kind, largest]).sum(1).min())
            print(f"  batch {size:>3}  {med:7.2f} ms  {base / med:5.2f}x  lowest cos {worst:.6f}")


if __name__ == "__main__":
    main()
