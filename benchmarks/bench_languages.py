"""Recall of the gold document per retrieval mode, on the Russian and the English suites.

For each suite the documents are ingested into a fresh state directory through `Engine`, then
every question is searched in each mode (bm25, dense, hybrid); recall@k is the share of
questions whose gold document is among the top k hits' sources. Only `Engine.ingest` and
`Engine.search` are used, so the same script measures an older checkout for the "before"
column: `PYTHONPATH=OLD/src python benchmarks/bench_languages.py`.

`--dense-weights 0,0.1,0.25,0.5,1` also prints hybrid's recall for each weight the dense list
may get on a query in a language the embedder does not declare (`UNCOVERED_DENSE_WEIGHT`).

Run: .venv/bin/python benchmarks/bench_languages.py [--suite examples/suite-ru ...]
     [--embedder DIR_OR_HUB_ID] [--dense-weights 0,0.1,0.25,0.5,1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from outweigh.engine import Engine
from outweigh.settings import Paths

ROOT = Path(__file__).resolve().parents[1]
SUITES = [ROOT / "examples" / "suite-ru", ROOT / "examples" / "suite"]
MODES = ("bm25", "dense", "hybrid")
KS = (1, 5)


def recall(engine: Engine, suite: Path, collection: str) -> dict[str, dict[int, float]]:
    """{mode: {k: recall@k}} over the suite's questions that name a gold source."""
    rows = [json.loads(line) for line in (suite / "questions.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r.get("source")]
    out: dict[str, dict[int, float]] = {}
    for mode in MODES:
        found = dict.fromkeys(KS, 0)
        for row in rows:
            hits = engine.search(row["question"], collection, max(KS), mode)
            names = [Path(h.source).name for h in hits]
            for k in KS:
                found[k] += Path(row["source"]).name in names[:k]
        out[mode] = {k: found[k] / len(rows) for k in KS}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", type=Path, action="append", help="Suite folder (repeatable).")
    ap.add_argument("--embedder", help="Embedder folder or hub id (default: the bundled one).")
    ap.add_argument("--dense-weights", help="Comma-separated weights to sweep, e.g. 0,0.5,1.")
    args = ap.parse_args()
    embedder = None
    if args.embedder:
        from outweigh.embed import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder(args.embedder)
    print("| suite | questions | mode | recall@1 | recall@5 |")
    print("|---|---|---|---|---|")
    for suite in args.suite or SUITES:
        with tempfile.TemporaryDirectory() as tmp:
            engine = Engine(Paths(Path(tmp)), embedder=embedder)
            engine.ingest([suite / "docs"], "bench")
            n = sum(1 for _ in (suite / "questions.jsonl").open())
            for mode, r in recall(engine, suite, "bench").items():
                print(f"| {suite.name} | {n} | {mode} | {r[1]:.2f} | {r[5]:.2f} |")
            for w in args.dense_weights.split(",") if args.dense_weights else []:
                from outweigh.retrieval import hybrid

                hybrid.UNCOVERED_DENSE_WEIGHT = float(w)  # the constant the searcher reads
                r = recall(engine, suite, "bench")["hybrid"]
                print(f"| {suite.name} | {n} | hybrid, dense w={w} | {r[1]:.2f} | {r[5]:.2f} |")
            if args.dense_weights:
                hybrid.UNCOVERED_DENSE_WEIGHT = 0.0
            embedder = engine.embedder  # load once, reuse for the next suite
            engine.close()


if __name__ == "__main__":
    main()
