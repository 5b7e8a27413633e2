"""The reader across shapes of text: one eval per development suite, and the off-topic
questions over an unrelated collection, in one table.

Each suite runs `outweigh eval SUITE -c smollm2-135m+rag -c gemma3-270m+rag -c smollm2-135m
-c gemma3-270m --reader-gap` (the small model's default `+rag`, through its bundled reader,
against the bigger one with the same retrieval and both bare); the off-topic questions
(`examples/offtopic`) are asked over `--offtopic-docs` (suite-readme's documents by default).
Prints one markdown table per metric group, suites as rows, and writes each run's JSON
to `--out`.

    python benchmarks/bench_shapes.py [--limit N] [--suite examples/suite-log ...] [--out DIR]
        [--no-gemma-bare] [--no-offtopic]

`--no-gemma-bare` leaves out bare gemma3-270m (it answers none of these suites' questions:
0.00 in every earlier run) to save a quarter of the time; its column then shows "-".
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITES = ("suite-log", "suite-info", "suite-readme", "suite-man")
CONFIGS = ("smollm2-135m+rag", "gemma3-270m+rag", "smollm2-135m", "gemma3-270m")
SMALL, RIVAL, BARE = CONFIGS[0], CONFIGS[1], CONFIGS[2]


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, action="append", default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--offtopic-docs", type=Path, default=ROOT / "examples/suite-readme/docs")
    parser.add_argument("--out", type=Path, default=Path("shapes"))
    parser.add_argument("--no-gemma-bare", action="store_true")
    parser.add_argument("--no-offtopic", action="store_true")
    args = parser.parse_args()
    configs = [c for c in CONFIGS if not (args.no_gemma_bare and c == "gemma3-270m")]
    suites = args.suite or [ROOT / "examples" / s for s in SUITES]

    from outweigh.eval import EvalOptions, load_suite, run_eval
    from outweigh.eval.report import write_json

    args.out.mkdir(parents=True, exist_ok=True)
    options = EvalOptions(limit=args.limit, reader_gap=True)
    runs = [(s.name, load_suite(s)) for s in suites]
    if not args.no_offtopic:
        runs.append(("offtopic", load_suite(ROOT / "examples/offtopic", args.offtopic_docs)))
    rows = []
    for name, suite in runs:
        start = time.monotonic()
        result = run_eval(suite, configs, options)
        write_json(result, args.out / f"{name}.json")
        r = result.results
        rows.append((name, r, result.by_kind(), time.monotonic() - start))
        print(f"{name}: {time.monotonic() - start:.0f} s", flush=True)
    print(
        "\n| suite | smollm2+rag | gemma3+rag | smollm2 | gemma3 | gold_only | citations "
        "| abstention | false_abstention | cite_rate | +rag p50 / bare |"
    )
    print("|---" * 11 + "|")
    for name, r, _, _ in rows:
        acc = [_cell(r[c]["accuracy"] if c in r else None) for c in CONFIGS]
        s = r[SMALL]
        ratio = s["latency_p50_s"] / r[BARE]["latency_p50_s"]
        print(
            f"| {name} | {' | '.join(acc)} | {_cell(s['gold_only_accuracy'])} "
            f"| {_cell(s['citation_accuracy'])} | {_cell(s['abstention'])} "
            f"| {_cell(s['false_abstention'])} | {_cell(s['cite_rate'])} | {ratio:.2f}x |"
        )
    print("\nBy kind, smollm2-135m+rag / gemma3-270m+rag:\n")
    for name, _, kinds, _ in rows:
        cells = ", ".join(f"{k} {_cell(v[SMALL])} / {_cell(v[RIVAL])}" for k, v in kinds.items())
        print(f"- {name}: {cells}")
    (args.out / "summary.json").write_text(
        json.dumps({name: r for name, r, _, _ in rows}, indent=1), "utf-8"
    )


if __name__ == "__main__":
    main()
