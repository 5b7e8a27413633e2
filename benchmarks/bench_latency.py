"""Where the time of a +rag answer goes, against the bare model's answer, in one run.

Ingests a suite's docs once (timed), then times over its facts questions, with selection's
line cache emptied before each timing so that every question is a first one, in passes:
the whole `Engine.ask` with retrieval (retrieval, selection from the line vectors ingest
stored, prompt, the reader adapter, generate); `Engine.ask` without retrieval (the bare
model); the whole +rag answer again with the stored line vectors dropped (selection embeds
every line, as before ingest stored them); and the stages alone: retrieval (hybrid search)
and selection, with and without the stored vectors. Prints the median of each, the median
prompt and answer tokens, and the ratio of +rag's p50 to bare's (issue #28's target: at
most 2). Greedy, max_tokens 48 as the eval; one pass a configuration in suite order, so
consecutive prompts share the system prompt's cached prefix as in `outweigh eval`.

    python benchmarks/bench_latency.py [--suite examples/suite-man] [--limit 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

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
    from outweigh.retrieval import select as selection
    from outweigh.settings import Paths

    suite = load_suite(Path(args.suite))
    questions = suite.questions[: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Paths(Path(tmp)))
        engine.embedder.embed("load")
        t0 = time.perf_counter()
        engine.ingest([suite.docs], collection="bench")
        ingest_s = time.perf_counter() - t0
        coll = engine.store.collection("bench")
        rag = AskOptions(collection="bench", k=3, max_tokens=48)
        bare = AskOptions(rag=False, max_tokens=48)
        engine.ask(questions[0].question, rag, args.model)  # load, register the reader
        engine.ask(questions[0].question, bare, args.model)
        stages = ("rag", "bare", "rag, embedding", "search", "select", "select, embedding")
        t: dict[str, list[float]] = {k: [] for k in stages}
        tokens: dict[str, list[int]] = {}

        def timed(key: str, call: Callable[[], Any]) -> Any:
            selection._cache.clear()  # every question a first one: no line embedded before
            start = time.perf_counter()
            out = call()
            t[key].append(time.perf_counter() - start)
            return out

        # One pass a configuration, as `outweigh eval` runs them: consecutive prompts share
        # their system prompt's cached prefix.
        answers = [
            timed("rag", partial(engine.ask, q.question, rag, args.model)) for q in questions
        ]
        plain = [
            timed("bare", partial(engine.ask, q.question, bare, args.model)) for q in questions
        ]
        how = rag.selection
        for q in questions:
            hits = timed("search", partial(engine.searcher.search_in, coll, q.question, 5))
            read = selection.expand(engine.store, q.question, hits, how)
            pick = partial(selection.select, q.question, read, engine.embedder, how, 3)
            timed("select", partial(pick, engine.store))
            timed("select, embedding", pick)
        with engine.store.conn:  # as a collection ingested before line vectors were stored
            engine.store.conn.execute("UPDATE chunks SET lines = NULL")
        for q in questions:
            timed("rag, embedding", partial(engine.ask, q.question, rag, args.model))
        tokens["prompt"] = [a.usage["prompt_tokens"] for a in answers]
        tokens["answer"] = [a.usage["completion_tokens"] for a in answers]
        tokens["bare answer"] = [a.usage["completion_tokens"] for a in plain]
        adapter = answers[-1].adapter
        engine.close()
    med = {k: statistics.median(v) for k, v in t.items()}
    print(f"{args.model}, {len(questions)} questions of {Path(args.suite).name}, medians")
    print(f"  ingest (whole suite)  {ingest_s:7.1f} s")
    print(f"  retrieval             {med['search'] * 1000:7.0f} ms")
    print(f"  selection             {med['select'] * 1000:7.0f} ms   (stored line vectors)")
    print(f"  selection, embedding  {med['select, embedding'] * 1000:7.0f} ms   (every line now)")
    print(f"  ask, +rag (all)       {med['rag'] * 1000:7.0f} ms   adapter: {adapter}")
    print(f"  ask, +rag, embedding  {med['rag, embedding'] * 1000:7.0f} ms   (no stored vectors)")
    print(f"  ask, bare             {med['bare'] * 1000:7.0f} ms")
    for k, v in tokens.items():
        print(f"  {k + ' tokens':<21} {statistics.median(v):7.0f}")
    print(f"  +rag / bare p50       {med['rag'] / med['bare']:7.2f}   (target <= 2)")
    print(f"  same, no stored       {med['rag, embedding'] / med['bare']:7.2f}")


if __name__ == "__main__":
    main()
