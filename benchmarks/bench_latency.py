"""Where the time of a +rag answer goes, against the bare model's answer, in one run.

Ingests a suite's docs, timed with and without line vectors, then times over its facts
questions, with selection's line cache emptied before each timing so that every question is
a first one, in rounds of three passes: the whole `Engine.ask` with retrieval (retrieval,
selection from the line vectors ingest stored, prompt, the reader adapter, generate);
`Engine.ask` without retrieval (the bare model); the whole +rag answer over the collection
ingested without line vectors (selection embeds every line, as before ingest stored them).
Then the stages alone: retrieval (hybrid search) and selection, with and without the stored
vectors. Prints the median of each (of the rounds' medians for the passes), the median
prompt and answer tokens, and the median over rounds of +rag's p50 over bare's (issue #28's
target: at most 2). Greedy, max_tokens 48 as the eval; one pass a configuration in suite
order, so consecutive prompts share the system prompt's cached prefix as in `outweigh eval`.

    python benchmarks/bench_latency.py [--suite examples/suite-man] [--limit 60] [--rounds 3]
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
    ap.add_argument("--rounds", type=int, default=3, help="passes of each configuration")
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
        engine.ingest([suite.docs], collection="plain", line_vectors=False)
        plain_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        engine.ingest([suite.docs], collection="bench")
        ingest_s = time.perf_counter() - t0
        chunks, lines, size = engine.store.conn.execute(
            "SELECT count(*), sum(length(lines)) / ?, sum(length(lines)) FROM chunks "
            "WHERE collection_id = (SELECT id FROM collections WHERE name = 'bench')",
            (engine.embedder.dim * 2,),
        ).fetchone()
        coll = engine.store.collection("bench")
        tokens: dict[str, list[int]] = {}
        adapter = None
        rag = AskOptions(collection="bench", k=3, max_tokens=48)
        bare = AskOptions(rag=False, max_tokens=48)
        engine.ask(questions[0].question, rag, args.model)  # load, register the reader
        engine.ask(questions[0].question, bare, args.model)
        old = AskOptions(collection="plain", k=3, max_tokens=48)
        t: dict[str, list[float]] = {}
        rounds: dict[str, list[float]] = {"rag": [], "bare": [], "rag, embedding": []}

        def timed(key: str, call: Callable[[], Any]) -> Any:
            selection._cache.clear()  # every question a first one: no line embedded before
            start = time.perf_counter()
            out = call()
            t.setdefault(key, []).append(time.perf_counter() - start)
            return out

        for _ in range(args.rounds):
            # One pass a configuration, as `outweigh eval` runs them: consecutive prompts
            # share their system prompt's cached prefix.
            for key, opts in (("rag", rag), ("bare", bare), ("rag, embedding", old)):
                t.pop(key, None)
                answers = [
                    timed(key, partial(engine.ask, q.question, opts, args.model)) for q in questions
                ]
                rounds[key].append(statistics.median(t[key]))
                if key == "rag":
                    tokens["prompt"] = [a.usage["prompt_tokens"] for a in answers]
                    tokens["answer"] = [a.usage["completion_tokens"] for a in answers]
                    adapter = answers[-1].adapter
                elif key == "bare":
                    tokens["bare answer"] = [a.usage["completion_tokens"] for a in answers]
        how = rag.selection
        for q in questions:
            hits = timed("search", partial(engine.searcher.search_in, coll, q.question, 5))
            read = selection.expand(engine.store, q.question, hits, how)
            pick = partial(selection.select, q.question, read, engine.embedder, how, 3)
            timed("select", partial(pick, engine.store))
            timed("select, embedding", pick)
        engine.close()
    med = {k: statistics.median(v) for k, v in t.items()}
    med.update({k: statistics.median(v) for k, v in rounds.items()})
    ratios = [r / b for r, b in zip(rounds["rag"], rounds["bare"], strict=True)]
    olds = [r / b for r, b in zip(rounds["rag, embedding"], rounds["bare"], strict=True)]
    print(f"{args.model}, {len(questions)} questions of {Path(args.suite).name}, medians")
    print(f"  ingest (whole suite)  {ingest_s:7.1f} s   ({plain_s:.1f} s --no-line-vectors)")
    per = f"{lines / chunks:7.1f} lines a chunk, {size / chunks / 1024:.1f} KB"
    print(f"  line vectors          {per}")
    print(f"  retrieval             {med['search'] * 1000:7.0f} ms")
    print(f"  selection             {med['select'] * 1000:7.0f} ms   (stored line vectors)")
    print(f"  selection, embedding  {med['select, embedding'] * 1000:7.0f} ms   (every line now)")
    print(f"  ask, +rag (all)       {med['rag'] * 1000:7.0f} ms   adapter: {adapter}")
    print(f"  ask, +rag, embedding  {med['rag, embedding'] * 1000:7.0f} ms   (no stored vectors)")
    print(f"  ask, bare             {med['bare'] * 1000:7.0f} ms")
    for k, v in tokens.items():
        print(f"  {k + ' tokens':<21} {statistics.median(v):7.0f}")
    each = " ".join(f"{r:.2f}" for r in ratios)
    print(
        f"  +rag / bare p50       {statistics.median(ratios):7.2f}   (target <= 2; rounds: {each})"
    )
    print(f"  same, no stored       {statistics.median(olds):7.2f}")


if __name__ == "__main__":
    main()
