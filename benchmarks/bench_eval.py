"""How many retrieved chunks should `outweigh eval` (and `ask`) put in front of a small model?

Runs the bundled suite's facts questions with SmolLM2-135M bare and with retrieval at
k = 1, 3 and 5, side by side in one process, and prints accuracy, retrieval recall and answer
latency, each as a ratio to the k=3 default. More chunks cost prefill time on CPU; past the
chunk that holds the answer they add only distraction (Liu et al. 2023, "Lost in the Middle").

    python benchmarks/bench_eval.py [--limit N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("OUTWEIGH_MODELS_DIR", str(ROOT / ".cache" / "models"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N questions only")
    args = parser.parse_args()

    import dataclasses

    from outweigh.eval import EvalOptions, load_suite, run_eval
    from outweigh.settings import Paths

    suite = load_suite(ROOT / "examples" / "suite")
    suite = dataclasses.replace(suite, style=(), memory=())  # facts only: this is about k
    rows: dict[str, dict[str, float | None]] = {}
    with tempfile.TemporaryDirectory() as home:
        paths = Paths(Path(home))
        opts = EvalOptions(max_tokens=32, limit=args.limit)
        rows["bare"] = run_eval(suite, ["smollm2-135m"], opts, paths).results["smollm2-135m"]
        for k in (1, 3, 5):
            opts = EvalOptions(k=k, max_tokens=32, limit=args.limit)
            result = run_eval(suite, ["smollm2-135m+rag"], opts, paths)
            rows[f"rag k={k}"] = result.results["smollm2-135m+rag"]
    ref = rows["rag k=3"]
    n = len(suite.limited(args.limit).questions)
    print(f"smollm2-135m on examples/suite, {n} facts questions, greedy, max_tokens=32")
    print(f"{'config':<10} {'accuracy':>9} {'recall@k':>9} {'p50 s':>7} {'p50 / k=3':>10}")
    for name, r in rows.items():
        recall = r["retrieval_recall_at_k"]
        print(
            f"{name:<10} {r['accuracy'] or 0:>9.2f} "
            f"{'-' if recall is None else f'{recall:.2f}':>9} "
            f"{r['latency_p50_s'] or 0:>7.2f} "
            f"{(r['latency_p50_s'] or 0) / (ref['latency_p50_s'] or 1):>10.2f}"
        )


if __name__ == "__main__":
    main()
