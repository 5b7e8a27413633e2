"""Does context selection keep the page a question names, when pages that only mention it
ranked above it? Over every page of `examples/suite-man` whose name another page's SEE ALSO
gives, ask "What does the X command do, in one line?" with up to two such neighbours (their
last 1000 characters, which hold the SEE ALSO line) ranked above X's first 1000 characters,
and count how often X's passage comes first. Real pages, the real embedder.

`--embed` times what selection spends most of its time on: embedding lines. Per page of the
suite, its lines (as selection folds them) through `embed_batch` (float32, the index's path)
and `embed_lines` (bfloat16 autocast where the CPU has it natively), interleaved, the median
of `--rounds` passes over all pages, and the lowest cosine between the two vectors of a line.

Run: .venv/bin/python benchmarks/bench_select.py [--embed [--rounds 3]]   (--embed: ~8 min)
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path

from outweigh.embed import SentenceTransformerEmbedder
from outweigh.retrieval.hybrid import Hit
from outweigh.retrieval.lines import units
from outweigh.retrieval.select import Selection, select

MAN = Path(__file__).resolve().parents[1] / "examples" / "suite-man" / "docs"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embed", action="store_true", help="time embed_batch against embed_lines")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if args.embed:
        embed(args.rounds)
    else:
        named()


def embed(rounds: int) -> None:
    """Seconds for every page's lines, float32 `embed_batch` against `embed_lines`."""
    embedder = SentenceTransformerEmbedder()
    pages = [units(p.read_text()) for p in sorted(MAN.glob("*.txt"))]
    ways = {"embed_batch": embedder.embed_batch, "embed_lines": embedder.embed_lines}
    embedder.embed_lines(pages[0])  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    vectors = {}
    for _ in range(rounds):  # interleaved: load hits both alike
        for name, fn in ways.items():
            t0 = time.perf_counter()
            vectors[name] = [fn(lines) for lines in pages]
            seconds[name].append(time.perf_counter() - t0)
    worst = min(
        float((a * b).sum(1).min())
        for a, b in zip(vectors["embed_batch"], vectors["embed_lines"], strict=True)
    )
    base = statistics.median(seconds["embed_batch"])
    print(
        f"{len(pages)} pages, {sum(map(len, pages))} lines, native bfloat16: {embedder._bf16}, "
        f"median of {rounds}"
    )
    for name, s in seconds.items():
        med = statistics.median(s)
        print(
            f"  {name:<12} {med:6.1f} s  {1000 * med / len(pages):6.1f} ms/page  {base / med:4.2f}x"
        )
    print(f"  lowest cosine of a line's two vectors: {worst:.5f}")


def named() -> None:
    pages = {p.stem: p.read_text() for p in sorted(MAN.glob("*.txt"))}
    embedder = SentenceTransformerEmbedder()
    kept = asked = 0
    for name, text in pages.items():
        mention = re.compile(rf"\b{re.escape(name)}\(1\)")
        neighbours = [o for o, t in pages.items() if o != name and mention.search(t[-1500:])]
        if not neighbours:
            continue
        given = [
            Hit(i, f"/docs/{o}.txt", pages[o][-1000:], 0.03, i + 1, i + 1)
            for i, o in enumerate(neighbours[:2])
        ]
        given.append(Hit(9, f"/docs/{name}.txt", text[:1000], 0.02, 3, 3))
        got = select(
            f"What does the {name} command do, in one line?", given, embedder, Selection(), 3
        )
        asked += 1
        if got[0].source == f"/docs/{name}.txt":
            kept += 1
        else:
            print(f"lost {name}: {[Path(h.source).stem for h in got]}")
    print(f"the named page first: {kept} of {asked}")


if __name__ == "__main__":
    main()
