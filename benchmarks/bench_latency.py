"""Where the time of a +rag answer goes, against the bare model's answer, in one run.

Ingests a suite's docs once, then for each facts question times, in this order: retrieval
(hybrid search), selection (`expand` + `select`: reading the top page, embedding its lines),
the whole `Engine.ask` with retrieval (selection again, prompt, the reader adapter, generate),
and `Engine.ask` without retrieval (the bare model). Prints the median of each stage, the
median prompt and answer tokens, and the ratio of +rag's p50 to bare's (issue #13's target:
at most 2). Greedy, max_tokens 48 as the eval; questions run in suite order, so consecutive
prompts share the system prompt's cached prefix exactly as in `outweigh eval`.

    python benchmarks/bench_latency.py [--suite examples/suite-man] [--limit 60]
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", default=str(ROOT / "examples" / "suite-man"))
    ap.add_argument("--limit", type=int, default=60)
    ap.add_argument("--model", default="smollm2-135m")
    args = ap.parse_args()

    from outweigh import AskOptions, Engine
    from outweigh.eval.suite import load_suite
    from outweigh.retrieval.select import expand, select
    from outweigh.settings import Paths

    suite = load_suite(Path(args.suite))
    questions = suite.questions[: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Paths(Path(tmp)))
        engine.ingest([suite.docs], collection="bench")
        coll = engine.store.collection("bench")
        rag = AskOptions(collection="bench", k=3, max_tokens=48)
        bare = AskOptions(rag=False, max_tokens=48)
        engine.ask(questions[0].question, rag, args.model)  # load, register the reader
        engine.ask(questions[0].question, bare, args.model)
        t: dict[str, list[float]] = {k: [] for k in ("search", "select", "rag", "bare")}
        tokens: dict[str, list[int]] = {k: [] for k in ("prompt", "answer", "bare answer")}
        for q in questions:
            t0 = time.perf_counter()
            hits = engine.searcher.search_in(coll, q.question, 5)
            t1 = time.perf_counter()
            how = rag.selection
            select(q.question, expand(engine.store, q.question, hits, how), engine.embedder, how, 3)
            t2 = time.perf_counter()
            ans = engine.ask(q.question, rag, args.model)
            t3 = time.perf_counter()
            plain = engine.ask(q.question, bare, args.model)
            t4 = time.perf_counter()
            for key, dt in zip(t, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                t[key].append(dt)
            tokens["prompt"].append(ans.usage["prompt_tokens"])
            tokens["answer"].append(ans.usage["completion_tokens"])
            tokens["bare answer"].append(plain.usage["completion_tokens"])
        engine.close()
    med = {k: statistics.median(v) for k, v in t.items()}
    print(f"{args.model}, {len(questions)} questions of {Path(args.suite).name}, medians")
    print(f"  retrieval          {med['search'] * 1000:7.0f} ms")
    print(f"  selection          {med['select'] * 1000:7.0f} ms")
    print(f"  ask, +rag (all)    {med['rag'] * 1000:7.0f} ms   adapter: {ans.adapter}")
    print(f"  ask, bare          {med['bare'] * 1000:7.0f} ms")
    for k, v in tokens.items():
        print(f"  {k + ' tokens':<18} {statistics.median(v):7.0f}")
    print(f"  +rag / bare p50    {med['rag'] / med['bare']:7.2f}   (target <= 2)")


if __name__ == "__main__":
    main()
