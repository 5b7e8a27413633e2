"""Check `outweigh plan` against what torch really allocates on a CUDA GPU.

For two small catalog models (SmolLM2-135M: plain GQA; Gemma-3-270M: sliding-window layers), at
two context lengths and two batch sizes, this builds the model from its config in bf16 (random
weights: memory does not depend on the values), prefills a prompt the way generate() does (logits
for the last position only), decodes a few tokens, and prints torch.cuda.max_memory_allocated()
beside the plan's allocator-visible bytes (weights + KV + activations). The plan's total, with its
CUDA-context and allocator margins, is printed beside the device memory in use. Goal: within 10%.

    python benchmarks/gpu_calibrate.py            # about a minute on one GPU
    python benchmarks/gpu_calibrate.py --json     # the same rows as JSON

Without a CUDA GPU it says so and exits 0. Record the table in docs/planner.md.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time

MODELS = ("smollm2-135m", "gemma-3-270m")
"""Catalog models to measure: a plain GQA model and one with sliding-window layers."""
SHAPES = ((1024, 1), (4096, 1), (1024, 8), (4096, 4))
"""(context tokens, batch) pairs: two lengths, two batch sizes, and long x batched."""
DECODE_STEPS = 4
"""Decode steps after the prefill, so the cache is measured in its generation-time layout."""


def measure(name: str, context: int, batch: int) -> dict[str, float | int | str]:
    """Plan one shape, run it on the GPU, and return both sides of the comparison."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from outweigh.plan import PlanSpec, catalog, plan

    spec = PlanSpec(model=name, context=context, batch=batch, quant="bf16", gpus=("h100",))
    p = plan(spec)
    planned_allocated = p.breakdown.weights + p.breakdown.kv + p.breakdown.activations

    cfg = dict(catalog.find_model(name).config)
    model_type = cfg.pop("model_type")
    config = AutoConfig.for_model(model_type, **cfg)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    free_before, total = torch.cuda.mem_get_info()
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.config._attn_implementation = "sdpa"
    model.eval()
    ids = torch.randint(0, config.vocab_size, (batch, context), device="cuda")
    # transformers 5.x calls the forward's cache argument `cache`; 4.x calls it past_key_values
    cache_arg = (
        "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    )
    t0 = time.perf_counter()
    with torch.no_grad():
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        cache = out["cache" if "cache" in out else "past_key_values"]
        token = out.logits[:, -1:].argmax(-1)
        for _ in range(DECODE_STEPS):
            out = model(input_ids=token, use_cache=True, logits_to_keep=1, **{cache_arg: cache})
            token = out.logits[:, -1:].argmax(-1)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    measured = torch.cuda.max_memory_allocated()
    reserved = torch.cuda.max_memory_reserved()
    free_after, _ = torch.cuda.mem_get_info()
    del model, out, cache, ids, token
    torch.cuda.empty_cache()
    return {
        "model": name,
        "context": context,
        "batch": batch,
        "planned_allocated": planned_allocated,
        "max_memory_allocated": measured,
        "ratio": measured / planned_allocated,
        "planned_total": p.total_bytes,
        "max_memory_reserved": reserved,
        "process_used": total - free_after,
        "device_used_before": total - free_before,
        "seconds": round(seconds, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("gpu_calibrate: torch is not installed; nothing measured.")
        return 0
    if not torch.cuda.is_available():
        print("gpu_calibrate: no CUDA GPU here; nothing measured. Run it on a machine with one.")
        return 0
    print(f"gpu_calibrate: {torch.cuda.get_device_name(0)}, torch {torch.__version__}", flush=True)
    rows = [measure(name, c, b) for name in MODELS for c, b in SHAPES]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    mib = 1024 * 1024
    head = ("model", "ctx", "batch", "plan MiB", "allocated MiB", "ratio", "plan total", "used MiB")
    print("{:<14} {:>6} {:>5} {:>10} {:>13} {:>6} {:>10} {:>9}".format(*head))
    for r in rows:
        print(
            f"{r['model']:<14} {r['context']:>6} {r['batch']:>5} "
            f"{r['planned_allocated'] / mib:>10,.0f} {r['max_memory_allocated'] / mib:>13,.0f} "
            f"{r['ratio']:>6.2f} {r['planned_total'] / mib:>10,.0f} "
            f"{r['process_used'] / mib:>9,.0f}"
        )
    worst = max(abs(r["ratio"] - 1) for r in rows)
    print(f"largest deviation of allocated from plan: {worst:.1%} (goal: within 10%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
