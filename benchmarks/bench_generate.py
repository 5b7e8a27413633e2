"""Generation figures, measured side by side in one run.

1. `outweigh ask --no-rag` path (Engine.ask -> LocalBackend) vs raw `transformers.generate`
   on the same rendered prompt, greedy, same max_new_tokens: tokens/s ratio (target >= 0.95).
2. Model load: first load (GGUF dequantize + save) vs cached safetensors load.

Run: .venv/bin/python benchmarks/bench_generate.py [--model smollm2-135m] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from outweigh import AskOptions, Engine
from outweigh.generate.local import LocalBackend
from outweigh.models import load
from outweigh.settings import Paths

PROMPT = "Write a short story about a lighthouse keeper and a storm."


def bench_generate(model: str, rounds: int, max_tokens: int) -> None:
    loaded = load(model)
    backend = LocalBackend(loaded)
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Paths(Path(tmp)), backend=backend)
        opts = AskOptions(rag=False, max_tokens=max_tokens)
        prepared = engine.prepare([{"role": "user", "content": PROMPT}], opts)
        enc = loaded.tokenizer(
            backend.render(prepared.request.messages), return_tensors="pt", add_special_tokens=False
        )
        ours, raw = [], []
        engine.ask(PROMPT, opts)  # warm-up
        for _ in range(rounds):  # interleaved, so machine noise hits both alike
            t0 = time.perf_counter()
            ans = engine.ask(PROMPT, opts)
            ours.append(ans.usage["completion_tokens"] / (time.perf_counter() - t0))
            t0 = time.perf_counter()
            with torch.inference_mode():
                out = loaded.model.generate(
                    **enc,
                    max_new_tokens=max_tokens,
                    do_sample=False,
                    pad_token_id=loaded.tokenizer.pad_token_id,
                )
            raw.append((out.shape[1] - enc["input_ids"].shape[1]) / (time.perf_counter() - t0))
    o, r = statistics.median(ours), statistics.median(raw)
    print(f"generate: {model}, greedy, {max_tokens} new tokens, median of {rounds}")
    print(f"  outweigh ask --no-rag   {o:7.1f} tok/s")
    print(f"  raw generate            {r:7.1f} tok/s")
    print(f"  ratio (target >= 0.95)  {o / r:7.2f}")


def bench_load(model: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["OUTWEIGH_MODELS_DIR"] = tmp
        t0 = time.perf_counter()
        load(model)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        load(model)
        cached = time.perf_counter() - t0
    print(f"load: {model}: first (dequantize + cache) {first:6.1f} s, cached {cached:5.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()
    bench_generate(args.model, args.rounds, args.max_tokens)
    bench_load(args.model)


if __name__ == "__main__":
    main()
