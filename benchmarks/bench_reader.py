"""Does the reader use the right passage? Context selection and the reader adapter, side by side.

Ingests a suite's docs once, then answers its facts questions with each variant: the bare
model; +rag with a fixed k and whole chunks (what +rag did before selection); the gap cut
alone; line compression alone; both (`selection`), all read by the bare model; `default`,
what `ask` does: selection read through the model's bundled reader adapter, where it has
one; and, with `--adapter NAME`, the default selection read through that adapter. Per
variant it prints accuracy (a gold answer inside the answer), `gold in ctx` (the gold
document among the passages the model read: what retrieval and selection gave it), `short`
(accuracy AND an answer of at most SHORT_WORDS words), the median answer length in words,
and p50 latency as a ratio to bare. Greedy
decoding; latency is the median of `--repeat` runs of each question.

    python benchmarks/bench_reader.py [--suite examples/suite-man] [--limit 40]
        [--model smollm2-135m] [--adapter reader] [--only default,bare] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("OUTWEIGH_MODELS_DIR", str(ROOT / ".cache" / "models"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHORT_WORDS = 16
"""An answer this long or shorter counts as short: a name, a URL or a version in a sentence."""


def variants(adapter: str | None) -> dict[str, dict[str, object]]:
    from outweigh.retrieval.select import NONE, Selection

    out: dict[str, dict[str, object]] = {
        "bare": {"rag": False},
        "k=3 whole": {"k": 3, "selection": NONE, "reader": False},
        "k=1 whole": {"k": 1, "selection": NONE, "reader": False},
        "gap cut": {"k": 3, "selection": Selection(lines=0), "reader": False},
        "compress": {"k": 3, "selection": Selection(gap=0.0), "reader": False},
        "selection": {"k": 3, "selection": Selection(), "reader": False},
        "default": {"k": 3, "selection": Selection()},
    }
    if adapter:
        out[f"default+{adapter}"] = {"k": 3, "selection": Selection(), "adapter": adapter}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=ROOT / "examples" / "suite-man")
    parser.add_argument("--limit", type=int, default=None, help="first N questions only")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--adapter", default=None, help="a registered reader adapter to add")
    parser.add_argument("--only", default=None, help="comma-separated variant names")
    parser.add_argument("--repeat", type=int, default=1, help="runs per question, for p50")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--show", action="store_true", help="print every wrong answer")
    parser.add_argument("--home", type=Path, default=None, help="keep the ingested docs here")
    args = parser.parse_args()

    from outweigh.engine import AskOptions, Engine
    from outweigh.eval import load_suite
    from outweigh.eval.metrics import accuracy
    from outweigh.settings import Paths, home

    suite = load_suite(args.suite).limited(args.limit)
    chosen = variants(args.adapter)
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}
    with tempfile.TemporaryDirectory() as tmp:
        # Adapters come from the user's registry; the documents go to a throwaway store
        # (or to --home, where a rerun finds them ingested).
        paths = Paths(args.home or Path(tmp))
        engine = Engine(paths, model=args.model)
        if args.adapter:
            from outweigh.adapters import AdapterRegistry

            engine._adapters = AdapterRegistry(Paths(home()))
        assert suite.docs is not None
        engine.ingest([suite.docs], collection="suite")
        rows = {}
        for name, kw in chosen.items():
            opts = AskOptions(
                collection="suite", memory=False, max_tokens=args.max_tokens, seed=0, **kw
            )  # type: ignore[arg-type]
            right = short = in_ctx = 0
            words: list[int] = []
            secs: list[float] = []
            for q in suite.questions:
                times = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    ans = engine.ask(q.question, opts)
                    times.append(time.perf_counter() - t)
                secs.append(statistics.median(times))
                ok = accuracy(ans.answer, q.answers)
                n = len(ans.answer.split())
                right += ok
                short += ok and n <= SHORT_WORDS
                words.append(n)
                in_ctx += any(Path(c.source).name == q.source for c in ans.context)
                if args.show and not ok:
                    got = " ".join(ans.answer.split())[:160]
                    print(f"  [{name}] {q.question} gold={q.answers[0]!r} -> {got!r}")
            rows[name] = (right, in_ctx, short, statistics.median(words), statistics.median(secs))
            print(f"{name}: {right}/{len(suite.questions)}", flush=True)
        engine.close()
    n = len(suite.questions)
    bare = rows.get("bare", (0, 0, 0, 0, 0.0))[4] or None
    print(f"\n{args.model} on {suite.name}, {n} questions, greedy, max_tokens={args.max_tokens}")
    print(
        f"{'variant':<18} {'accuracy':>8} {'gold in ctx':>11} {'short':>6} "
        f"{'words':>5} {'p50 s':>6} {'/ bare':>6}"
    )
    for name, (right, ctx, sh, w, p50) in rows.items():
        ratio = f"{p50 / bare:.2f}" if bare else "-"
        gold = "-" if name == "bare" else f"{ctx / n:.2f}"
        print(
            f"{name:<18} {right / n:>8.2f} {gold:>11} {sh / n:>6.2f} {w:>5.0f} "
            f"{p50:>6.2f} {ratio:>6}"
        )


if __name__ == "__main__":
    main()
