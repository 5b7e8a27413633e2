"""Check `outweigh plan` (serving and `--train`) against what torch really allocates on a GPU.

Models are built from the planner catalog's config.json with uninitialised weights placed
directly on the GPU (memory does not depend on the values), so nothing is downloaded. It measures
torch.cuda.max_memory_allocated() for:

1. prefill + decode: SmolLM2-135M and Gemma-3-270M at a few shapes, and Qwen2.5-32B in bf16
   (65.5 GB) with a 16K-token prompt, the way generate() runs (logits for the last position);
2. decode speed of the 32B at a short context, against the planner's bandwidth ceiling;
3. one LoRA training step of the 32B (rank 16, all-linear, seq 2048, gradient checkpointing),
   through outweigh's own training code (adapters/train.py: _wrap, _accumulate, the optimizer);
4. one QLoRA step of the same (nf4 with double quantization, paged 8-bit AdamW), when
   bitsandbytes is installed;

and prints plan vs measured per component. Goal: totals within 10%. About 5 minutes on an H200
(the 32B needs a GPU with more than ~100 GB; smaller GPUs skip it and say so).

    python benchmarks/gpu_calibrate.py --gpu h200          # the GPU's catalog name
    python benchmarks/gpu_calibrate.py --gpu h200 --json   # rows as JSON
    python benchmarks/gpu_calibrate.py --smoke             # CPU, SmolLM2 only: checks the script

Without a CUDA GPU (and without --smoke) it says so and exits 0. Record the table in
docs/planner.md.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import sys
import time
from collections.abc import Callable
from typing import Any

SMALL = ("smollm2-135m", "gemma-3-270m")
"""Small catalog models: a plain GQA model and one with sliding-window layers."""
SMALL_SHAPES = ((1024, 1), (4096, 1), (1024, 8), (4096, 4))
"""(context tokens, batch) pairs for the small models."""
BIG = "qwen2.5-32b"
"""The seed's model."""
BIG_CONTEXT = 16384
TRAIN_SEQ = 2048
RANK = 16
DECODE_STEPS = 4
"""Decode steps after a prefill, so the cache is measured in its generation-time layout."""
SPEED_CONTEXT, SPEED_STEPS = 512, 32
"""Decode speed: tokens decoded after a short prompt, timed."""
MIB = 1024 * 1024


class Device:
    """CUDA memory counters, or None on CPU (the smoke run)."""

    def __init__(self, name: str) -> None:
        import torch

        self.name = name
        self.cuda = name.startswith("cuda")
        self.torch = torch

    def reset(self) -> None:
        gc.collect()
        if self.cuda:
            self.torch.cuda.empty_cache()
            self.torch.cuda.reset_peak_memory_stats()

    def allocated(self) -> int | None:
        return self.torch.cuda.memory_allocated() if self.cuda else None

    def peak(self) -> int | None:
        return self.torch.cuda.max_memory_allocated() if self.cuda else None

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()


def build(name: str, dev: Device, dtype: str = "bfloat16") -> Any:
    """The catalog model `name` on `dev`: built on the meta device, then given uninitialised
    storage there (random-init kernels for 32B parameters would cost minutes, and memory does
    not depend on the values). Weights get small random values, 1-D ones (norms) ones, buffers
    (rotary frequencies) zeros, so forward passes stay finite."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from outweigh.plan import catalog

    cfg = dict(catalog.find_model(name).config)
    config = AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    model.to_empty(device=dev.name)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02) if p.dim() > 1 else p.fill_(1.0)
        for b in model.buffers():
            b.zero_()
    model.config._attn_implementation = "sdpa"
    return model.eval()


def _cache_arg(model: Any) -> str:
    # transformers 5.x calls the forward's cache argument `cache`; 4.x calls it past_key_values
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def generate(model: Any, dev: Device, batch: int, context: int, steps: int) -> float:
    """Prefill `context` tokens and decode `steps` more; seconds spent decoding."""
    import torch

    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (batch, context), device=dev.name)
    with torch.no_grad():
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        cache = out["cache" if "cache" in out else "past_key_values"]
        token = out.logits[:, -1:].argmax(-1)
        dev.sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            kw = {_cache_arg(model): cache}
            out = model(input_ids=token, use_cache=True, logits_to_keep=1, **kw)
            token = out.logits[:, -1:].argmax(-1)
        dev.sync()
    return time.perf_counter() - t0


def serve_row(name: str, dev: Device, gpu: str, context: int, batch: int) -> dict[str, Any]:
    from outweigh.plan import PlanSpec, plan

    p = plan(PlanSpec(model=name, context=context, batch=batch, gpus=(gpu,)))
    b = p.breakdown
    dev.reset()
    model = build(name, dev)
    weights = dev.allocated()
    generate(model, dev, batch, context, DECODE_STEPS)
    peak = dev.peak()
    del model
    return {
        "kind": "serve",
        "model": name,
        "shape": f"{batch}x{context}",
        "plan": {"weights": b.weights, "kv+activations": b.kv + b.activations},
        "measured": {
            "weights": weights,
            "kv+activations": None if peak is None else peak - (weights or 0),
        },
        "plan_allocated": b.weights + b.kv + b.activations,
        "measured_allocated": peak,
    }


def speed_row(name: str, dev: Device, gpu: str) -> dict[str, Any]:
    from outweigh.plan import PlanSpec, plan

    p = plan(PlanSpec(model=name, context=SPEED_CONTEXT, batch=1, gpus=(gpu,)))
    dev.reset()
    model = build(name, dev)
    generate(model, dev, 1, SPEED_CONTEXT, 2)  # warm-up: kernels and allocator
    seconds = generate(model, dev, 1, SPEED_CONTEXT, SPEED_STEPS)
    del model
    return {
        "kind": "decode",
        "model": name,
        "shape": f"1x{SPEED_CONTEXT}",
        "plan_tokens_per_s": round(p.gpus[0].decode_tokens_per_s, 1),
        "measured_tokens_per_s": round(SPEED_STEPS / seconds, 1),
    }


def quantize_nf4(model: Any, dev: Device) -> None:
    """Swap every decoder nn.Linear for a bitsandbytes Linear4bit (nf4, double quantization,
    bf16 compute), as from_pretrained(quantization_config=...) does; lm_head stays."""
    import bitsandbytes as bnb
    import torch

    for parent in list(model.model.modules()):
        for child_name, child in list(parent.named_children()):
            if type(child) is not torch.nn.Linear:
                continue
            q = bnb.nn.Linear4bit(
                child.in_features,
                child.out_features,
                bias=child.bias is not None,
                compute_dtype=torch.bfloat16,
                compress_statistics=True,
                quant_type="nf4",
                device="meta",
            )
            q.weight = bnb.nn.Params4bit(
                child.weight.data, requires_grad=False, compress_statistics=True, quant_type="nf4"
            ).to(dev.name)  # .to() quantizes
            if child.bias is not None:
                q.bias = torch.nn.Parameter(child.bias.data, requires_grad=False)
            setattr(parent, child_name, q)
            del child
    model.is_loaded_in_4bit = True
    gc.collect()
    if dev.cuda:
        torch.cuda.empty_cache()


def train_row(name: str, method: str, dev: Device, gpu: str, seq: int) -> dict[str, Any]:
    """One optimizer step through outweigh's training code; plan vs measured by component."""
    import torch

    from outweigh.adapters.data import Example
    from outweigh.adapters.train import TrainConfig, _accumulate, _optimizer, _wrap
    from outweigh.plan import PlanSpec, train_plan

    p = train_plan(PlanSpec(model=name, train=method, context=seq, gpus=(gpu,)))
    b = p.breakdown
    linears = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    config = TrainConfig(rank=RANK, targets=linears, method=method, lr=1e-4)
    dev.reset()
    model = build(name, dev)
    if method == "qlora":
        quantize_nf4(model, dev)
    after_build = dev.allocated()
    model = _wrap(model, config, name, checkpointing=True)
    after_wrap = dev.allocated()
    params = [q for q in model.parameters() if q.requires_grad]
    # the planner's optimizer on CUDA; on the CPU smoke run its unpaged twin
    opt = _optimizer(params, config)
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (seq,)).tolist()
    row = Example(input_ids=ids, labels=ids)  # every position labelled: the planner's bound
    device = torch.device(dev.name)
    model.train()
    loss, _ = _accumulate(model, [row], 0, 1, device)
    after_backward = dev.allocated()
    opt.step()
    after_step = dev.allocated()
    peak = dev.peak()
    del model, opt, params
    m = {
        "weights": after_build,
        "lora": None if after_wrap is None else after_wrap - (after_build or 0),
        "gradients": None if after_backward is None else after_backward - (after_wrap or 0),
        "optimizer": None if after_step is None else after_step - (after_backward or 0),
    }
    planned = b.total - b.overhead
    return {
        "kind": method,
        "model": name,
        "shape": f"1x{seq}",
        "loss": round(float(loss), 3),
        "plan": {
            "weights": b.weights,
            "lora": b.lora,
            "gradients": b.gradients,
            "optimizer": b.optimizer,
            "activations+logits": b.activations + b.logits,
        },
        "measured": {
            **m,
            "activations+logits": None
            if peak is None
            else peak - sum(v or 0 for k, v in m.items() if k != "optimizer"),
        },
        "plan_allocated": planned,
        "measured_allocated": peak,
    }


def print_rows(rows: list[dict[str, Any]]) -> None:
    def mib(n: int | None) -> str:
        return "n/a" if n is None else f"{n / MIB:,.0f}"

    print(
        f"{'kind':<7} {'model':<14} {'shape':>8} {'component':<20} "
        f"{'plan MiB':>10} {'meas MiB':>10}"
    )
    worst = 0.0
    for r in rows:
        head = f"{r['kind']:<7} {r['model']:<14} {r['shape']:>8}"
        if r["kind"] == "decode":
            print(
                f"{head} {'decode tok/s':<20} {r['plan_tokens_per_s']:>10,.1f} "
                f"{r['measured_tokens_per_s']:>10,.1f}   (plan = bandwidth ceiling)"
            )
            continue
        for key, planned in r["plan"].items():
            print(f"{head} {key:<20} {mib(planned):>10} {mib(r['measured'][key]):>10}")
        measured = r["measured_allocated"]
        ratio = "" if measured is None else f"   ratio {measured / r['plan_allocated']:.2f}"
        print(
            f"{head} {'TOTAL allocated':<20} {mib(r['plan_allocated']):>10} {mib(measured):>10}"
            + ratio
        )
        if measured is not None:
            worst = max(worst, abs(measured / r["plan_allocated"] - 1))
    print(f"largest deviation of allocated from plan: {worst:.1%} (goal: within 10%)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", default="h200", help="the GPU's catalog name, for the plan")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    parser.add_argument(
        "--smoke", action="store_true", help="CPU, SmolLM2 only, tiny shapes: checks the script"
    )
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("gpu_calibrate: torch is not installed; nothing measured.")
        return 0
    if args.smoke:
        torch.set_num_threads(2)
        dev = Device("cpu")
        runs: list[Callable[[], dict[str, Any]]] = [
            lambda: serve_row("smollm2-135m", dev, args.gpu, 256, 1),
            lambda: speed_row("smollm2-135m", dev, args.gpu),
            lambda: train_row("smollm2-135m", "lora", dev, args.gpu, 128),
        ]
        if _has_bitsandbytes():
            runs.append(lambda: train_row("smollm2-135m", "qlora", dev, args.gpu, 128))
    else:
        if not torch.cuda.is_available():
            print(
                "gpu_calibrate: no CUDA GPU here; nothing measured. Run it on a machine with one."
            )
            return 0
        dev = Device("cuda:0")
        total = torch.cuda.get_device_properties(0).total_memory
        print(f"gpu_calibrate: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
        runs = [
            (lambda n=n, c=c, b=b: serve_row(n, dev, args.gpu, c, b))
            for n in SMALL
            for c, b in SMALL_SHAPES
        ]
        if total >= 100 * 1024**3:
            runs += [
                lambda: serve_row(BIG, dev, args.gpu, BIG_CONTEXT, 1),
                lambda: speed_row(BIG, dev, args.gpu),
                lambda: train_row(BIG, "lora", dev, args.gpu, TRAIN_SEQ),
            ]
            if _has_bitsandbytes():
                runs.append(lambda: train_row(BIG, "qlora", dev, args.gpu, TRAIN_SEQ))
            else:
                print("bitsandbytes is not installed: the QLoRA step is skipped")
        else:
            print(f"{total / 1024**3:.0f} GiB: too small for {BIG} in bf16; small models only")
    rows = []
    for run in runs:
        t0 = time.perf_counter()
        rows.append(run())
        rows[-1]["seconds"] = round(time.perf_counter() - t0, 1)
        print(f"  {rows[-1]['kind']} {rows[-1]['model']} {rows[-1]['shape']}: "
              f"{rows[-1]['seconds']} s", file=sys.stderr, flush=True)  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_rows(rows)
    return 0


def _has_bitsandbytes() -> bool:
    import importlib.util

    return importlib.util.find_spec("bitsandbytes") is not None


if __name__ == "__main__":
    sys.exit(main())
