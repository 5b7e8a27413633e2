"""Memory benchmark: does recall find the right fact, and does the answer then hold it?

Run: `.venv/bin/python benchmarks/bench_memory.py [--answers]`

1. Recall@1 and @5 of the right fact, for BM25 alone, dense alone and hybrid (RRF), among a
   user's 10 facts plus 30 distractor facts, on all-MiniLM-L6-v2. Side by side, one run.
2. The cost of recall per question, next to the cost of generating the answer.
3. With `--answers`: how often SmolLM2-135M's answer contains the fact, with memory and
   without (the bare model cannot know; the ratio is what memory buys).
4. With `--suite DIR` (e.g. examples/suite-memory): the memory path alone, per category,
   before any answer is generated: the statements are captured, and each question counts
   as right when the facts the prompt would get hold a gold answer and no forbidden (stale or
   foreign) text, or, for an abstention, when the engine would answer "I don't know".
   `--extractor model --model NAME` captures and decides with that model instead of the rules.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("OUTWEIGH_MODELS_DIR", str(ROOT / ".cache" / "models"))

from outweigh.testing import MEMORY_FACTS as FACTS  # noqa: E402  (after the environment)

DISTRACTORS = [
    "I like hiking in the mountains.",
    "My brother lives in Oslo.",
    "I play the cello.",
    "I prefer short answers.",
    "My dog is a beagle.",
    "I speak Portuguese and German.",
    "I keep bees on the roof.",
    "My wife is a nurse.",
    "I drink green tea in the morning.",
    "I studied physics in Porto.",
    "My favourite film is Solaris.",
    "I own a sailing boat.",
    "I grew up near the sea.",
    "My son plays football.",
    "I use vim for editing.",
    "I don't eat meat.",
    "My neighbour has three goats.",
    "I collect old maps.",
    "My office is on the fifth floor.",
    "I run every Sunday.",
    "My mother was a teacher.",
    "I like jazz from the fifties.",
    "My password manager is KeePass.",
    "I read before bed.",
    "My garden has two lemon trees.",
    "I was born in winter.",
    "My laptop is a ThinkPad.",
    "I support Benfica.",
    "My grandfather built boats.",
    "I bake bread on Saturdays.",
]


def recall_table(embedder) -> None:  # type: ignore[no-untyped-def]
    from outweigh.memory import MemoryStore
    from outweigh.memory.recall import hybrid
    from outweigh.settings import Paths

    with tempfile.TemporaryDirectory() as tmp:
        store = MemoryStore(Paths(Path(tmp)), embedder=embedder)
        for text in [f for f, _, _ in FACTS] + DISTRACTORS:
            store.remember("ada", text)
        print(f"Recall of the right fact among {len(FACTS) + len(DISTRACTORS)} facts of one user")
        print(f"{'mode':8} {'@1':>6} {'@5':>6} {'median ms/query':>16}")
        embedder.embed("warm up")
        for mode in ("bm25", "dense", "hybrid"):
            at1 = at5 = 0
            times = []
            for fact, question, _ in FACTS:
                t0 = time.perf_counter()
                with store._lock:
                    got = [m.text for m in hybrid(store, "ada", question, 5, 0.3, True, mode)]
                times.append(time.perf_counter() - t0)
                at1 += got[:1] == [fact]
                at5 += fact in got
            # Median: the machine is shared, and one descheduled query would skew a mean.
            ms = statistics.median(times) * 1000
            print(f"{mode:8} {at1 / len(FACTS):6.0%} {at5 / len(FACTS):6.0%} {ms:16.1f}")
        store.close()


def answer_table(embedder) -> None:  # type: ignore[no-untyped-def]
    from outweigh.engine import AskOptions, Engine
    from outweigh.settings import Paths

    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Paths(Path(tmp)), embedder=embedder)
        engine.backend()
        for fact, _, _ in FACTS:
            engine.memory.capture("ada", "monday", fact)
        print("\nSmolLM2-135M answers holding the fact (max_tokens=24, greedy)")
        for label, memory in (("no memory", False), ("memory", True)):
            hits, t0, recall_s = 0, time.perf_counter(), 0.0
            for _, question, gold in FACTS:
                t1 = time.perf_counter()
                if memory:
                    engine.memory.recall("ada", question)
                recall_s += time.perf_counter() - t1
                answer = engine.chat(
                    [{"role": "user", "content": question}],
                    AskOptions(
                        user="ada", session="friday", rag=False, max_tokens=24, memory=memory
                    ),
                )
                hits += gold.lower() in answer.answer.lower()
            total = time.perf_counter() - t0
            print(
                f"{label:10} {hits}/{len(FACTS)}   {total / len(FACTS):.2f} s/question "
                f"(recall {recall_s * 1000 / len(FACTS):.0f} ms of it)"
            )
        engine.close()


def suite_table(embedder, suite_dir: str, extractor: str, model: str) -> None:  # type: ignore[no-untyped-def]
    from outweigh.eval.metrics import accuracy
    from outweigh.eval.suite import CATEGORIES, load_suite
    from outweigh.memory import MemoryStore, ModelExtractor
    from outweigh.memory.recall import prompt_line
    from outweigh.settings import Paths

    suite = load_suite(suite_dir)
    ext = None
    if extractor == "model":
        from outweigh.engine import Engine

        ext = ModelExtractor(Engine(model=model, embedder=embedder).backend())
    with tempfile.TemporaryDirectory() as tmp:
        store = MemoryStore(Paths(Path(tmp)), embedder=embedder, extractor=ext)
        t0 = time.perf_counter()
        for step in suite.memory:
            if not step.is_ask:
                store.capture(step.user, step.session, step.text)
        capture_s = (time.perf_counter() - t0) / max(1, sum(not s.is_ask for s in suite.memory))
        right: dict[str, list[bool]] = {c: [] for c in CATEGORIES}
        for step in suite.memory:
            if not step.is_ask:
                continue
            recalled = store.recall(step.user, step.text)
            abstains = store.unanswerable(step.user, step.text, recalled)
            facts = " ".join(prompt_line(m) for m in recalled)
            leak = any(accuracy(facts, [f]) for f in step.forbidden)
            if step.abstain:
                ok = abstains
            else:
                ok = not abstains and accuracy(facts, step.answers) and not leak
            right[step.category or "facts"].append(ok)
        store.close()
    label = "rules" if extractor == "rules" else f"model extractor ({model})"
    print(f"\nMemory path on {suite.name}, {label}: prompt holds the answer / engine abstains")
    for c, oks in right.items():
        if oks:
            print(f"{c:14} {sum(oks):3}/{len(oks):<3} {sum(oks) / len(oks):.2f}")
    print(f"capture: {capture_s * 1000:.0f} ms per statement")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", action="store_true", help="Also generate (minutes on CPU).")
    parser.add_argument("--suite", help="A memory suite folder: the memory path per category.")
    parser.add_argument("--extractor", choices=("rules", "model"), default="rules")
    parser.add_argument("--model", default="smollm2-135m", help="Model for --extractor model.")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from outweigh.embed import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    if args.suite:
        suite_table(embedder, args.suite, args.extractor, args.model)
        return
    recall_table(embedder)
    if args.answers:
        answer_table(embedder)


if __name__ == "__main__":
    main()
