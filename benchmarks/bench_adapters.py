"""LoRA adapters: what they cost at answer time, and what training costs.

Trains the example style adapter (examples/style/train.jsonl, default TrainConfig) in a child
process, so its peak RSS is its own, then measures in one process, side by side:

- decode tokens/s: bare base, base with adapters loaded but off, unmerged adapter, merged model;
  runs are interleaved (A B C D A B C D ...) and the median taken, so background load hits
  every variant alike; each run generates exactly `--tokens` tokens from the same prompt;
- switching: `set_adapter` + on/off around one call, first load of an adapter, building a mix;
- style adherence on the held-out prompts, base vs adapter.

`--engine llamacpp` measures the same on the llama.cpp backend instead: prefill and decode
tokens/s of the bare base, the unmerged adapter and a two-adapter mix (interleaved, medians;
every variant decodes the same number of tokens, `timed_llamacpp`), and what setting a
request's adapters costs; `--home DIR` reuses a state dir where `signoff` is registered (the
demo's) instead of training.

`--engine llamacpp --sweep` times the base against adapters on each set of target modules
and ranks the same way. Their weights are random (PEFT's
`init_lora_weights=False`): speed does not depend on trained values. llama.cpp adds four graph
nodes per adapted weight per layer (two small matmuls, a scale, an add:
`llm_graph_context::build_lora_mm`), so on a 135M model the cost is the nodes, not the math.

Run: .venv/bin/python benchmarks/bench_adapters.py [--tokens 64] [--repeats 5]
     .venv/bin/python benchmarks/bench_adapters.py --engine llamacpp [--home DIR]
     .venv/bin/python benchmarks/bench_adapters.py --engine llamacpp --sweep
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STYLE = ROOT / "examples" / "style"
SIGNOFF = "— Vellmark Support"
os.environ.setdefault("OUTWEIGH_MODELS_DIR", str(ROOT / ".cache" / "models"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TRAIN_CHILD = """
import json, sys, time
from pathlib import Path
from outweigh.adapters import TrainConfig, train_adapter
from outweigh.settings import Paths
steps = []
t0, c0 = time.perf_counter(), time.process_time()
info = train_adapter(sys.argv[1], "signoff", TrainConfig(), Paths(Path(sys.argv[2])),
                     progress=lambda p: steps.append(p.step))
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                  "steps": len(steps), "metrics": info.metrics}))
"""


def train(home: Path) -> dict[str, float]:
    """Train in a child process; its wall and CPU time, steps and peak RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(
        [sys.executable, "-c", TRAIN_CHILD, str(STYLE / "train.jsonl"), str(home)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = max(peak_kb, before) / 1024
    return result


def decode_rate(model, inputs, tokens: int) -> float:
    """Generated tokens per second for exactly `tokens` greedy tokens."""
    import torch

    with torch.inference_mode():
        t0 = time.perf_counter()
        out = model.generate(
            **inputs,
            max_new_tokens=tokens,
            min_new_tokens=tokens,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=2,
        )
        dt = time.perf_counter() - t0
    assert out.shape[1] - inputs["input_ids"].shape[1] == tokens
    return tokens / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=64, help="tokens generated per run")
    ap.add_argument("--repeats", type=int, default=5, help="interleaved rounds")
    ap.add_argument("--engine", choices=("transformers", "llamacpp"), default="transformers")
    ap.add_argument("--home", type=Path, help="(llamacpp) a state dir with `signoff` registered")
    ap.add_argument("--sweep", action="store_true", help="(llamacpp) random adapters per target")
    args = ap.parse_args()
    if args.engine == "llamacpp" and args.sweep:
        with tempfile.TemporaryDirectory(prefix="bench-adapters-") as tmp:
            sweep_llamacpp(Path(tmp), args.tokens, args.repeats)
        return
    if args.engine == "llamacpp":
        if args.home is not None:
            run_llamacpp(args.home, args.tokens, args.repeats)
            return
        with tempfile.TemporaryDirectory(prefix="bench-adapters-") as tmp:
            run_llamacpp(Path(tmp), args.tokens, args.repeats)
        return
    # The state dir holds a merged 540 MB model; it goes when the run ends.
    with tempfile.TemporaryDirectory(prefix="bench-adapters-") as tmp:
        run(Path(tmp), args.tokens, args.repeats)


def timed_llamacpp(backend, specs: dict[str, str | None], tokens: int, repeats: int) -> None:
    """Prefill and decode tokens/s of each adapter spec on one llama.cpp backend, interleaved
    (the first round warms up), medians, printed with their ratio to the first spec. Each run
    sets the spec's adapters as a request does, evaluates a 200-token prompt (a +rag prompt's
    length), then `tokens` tokens one at a time with no stop, so every spec makes the same
    number of tokens: a trained adapter's shorter answers must not count as slower decoding."""
    from outweigh.generate.batcher import END, Job
    from outweigh.generate.native import cpu_threads

    llm = backend.llm
    text = b"Question: Describe the water cycle in detail. " * 20
    decode: dict[str, list[float]] = {k: [] for k in specs}
    prefill: dict[str, list[float]] = {k: [] for k in specs}
    for r in range(repeats + 1):
        for i, (name, spec) in enumerate(specs.items()):
            # A prompt of its own per run, so no slot's cached prefix serves it.
            prompt = llm.tokenize(f"Run {r} {i}. ".encode() + text)[:200]
            job = Job(prompt, tokens, key=backend._resolve(spec), ignore_eos=True)
            t0 = time.perf_counter()
            backend.batcher.submit(job)  # switches the context's adapters, prefills, samples
            job.out.get()
            t1 = time.perf_counter()
            while job.out.get() is not END:
                pass
            if r:
                prefill[name].append(len(prompt) / (t1 - t0))
                decode[name].append((tokens - 1) / (time.perf_counter() - t1))
    pre = {k: statistics.median(v) for k, v in prefill.items()}
    dec = {k: statistics.median(v) for k, v in decode.items()}
    base = next(iter(specs))
    print(
        f"llama.cpp's batcher, one answer at a time: a 200-token prompt then {tokens} tokens, "
        f"{cpu_threads()} threads, median of {repeats} interleaved rounds:"
    )
    for name in specs:
        print(
            f"  {name:<34} prefill {pre[name]:5.0f} tok/s ({pre[name] / pre[base]:.3f})  "
            f"decode {dec[name]:6.1f} tok/s ({dec[name] / dec[base]:.3f})"
        )


def run_llamacpp(home: Path, tokens: int, repeats: int) -> None:
    """Base, unmerged adapter and a mix on llama.cpp, interleaved; and the switch cost."""
    from outweigh.adapters import AdapterRegistry
    from outweigh.generate.base import GenerationRequest
    from outweigh.generate.choose import open_local
    from outweigh.models import LoadOptions
    from outweigh.settings import Paths

    paths = Paths(home)
    registry = AdapterRegistry(paths)
    if "signoff" not in registry.names():
        print("training the example style adapter (default TrainConfig)...", flush=True)
        t = train(home)
        print(f"train: {t['steps']} steps in {t['wall']:.0f} s wall")
    if "signoff-copy" not in registry.names():
        registry.add(registry.path("signoff"), "signoff-copy")  # a second adapter to mix
    backend = open_local("smollm2-135m", paths, LoadOptions(backend="llamacpp"), registry)
    messages = [{"role": "user", "content": "Question: Describe the water cycle in detail."}]
    t0 = time.perf_counter()
    backend.generate(GenerationRequest(messages, max_tokens=1, adapter="signoff"))
    first_load = time.perf_counter() - t0
    timed_llamacpp(
        backend,
        {
            "base": None,
            "unmerged adapter signoff": "signoff",
            "mix signoff:0.7,signoff-copy:0.3": "signoff:0.7,signoff-copy:0.3",
        },
        tokens,
        repeats,
    )
    n_switch = 200
    specs = [backend._resolve("signoff"), backend._resolve("signoff:0.7,signoff-copy:0.3")]
    assert backend.wait_idle(60)  # the batcher is idle: its context may be switched from here
    t0 = time.perf_counter()
    for i in range(n_switch):
        backend._switch(backend.batcher.ctx, specs[i % 2])
    switch_ms = (time.perf_counter() - t0) / n_switch * 1000
    backend.batcher.active = specs[(n_switch - 1) % 2]
    print(f"\nset a batch's adapters on the context: {switch_ms:.3f} ms")
    print(f"first request with an adapter (loads its GGUF): {first_load * 1000:.0f} ms")
    backend.close()
    registry.close()


SWEEP = {
    "q,v r16": (("q_proj", "v_proj"), 16),
    "q,k,v,o r16": (("q_proj", "k_proj", "v_proj", "o_proj"), 16),
    "q,k,v,o r64": (("q_proj", "k_proj", "v_proj", "o_proj"), 64),
    "all 7 r16": (
        ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
        16,
    ),
}


def sweep_llamacpp(home: Path, tokens: int, repeats: int) -> None:
    """The base against random adapters on each target set and rank, on llama.cpp."""
    import torch
    from peft import LoraConfig, get_peft_model

    from outweigh.adapters import AdapterRegistry
    from outweigh.generate.choose import open_local
    from outweigh.models import LoadOptions, load
    from outweigh.settings import Paths

    paths = Paths(home)
    registry = AdapterRegistry(paths)
    torch.manual_seed(0)
    specs: dict[str, str | None] = {"base": None}
    base = load("smollm2-135m", paths).model
    for name, (targets, rank) in SWEEP.items():
        cfg = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=list(targets),
                         init_lora_weights=False)  # fmt: skip
        peft_dir = home / "peft" / name.replace(",", "").replace(" ", "-")
        wrapped = get_peft_model(base, cfg)
        wrapped.save_pretrained(peft_dir)
        base = wrapped.unload()  # the base again, without this adapter's layers
        registry.add(peft_dir, peft_dir.name, base="smollm2-135m")
        specs[name] = peft_dir.name
    registry.add(registry.path("qv-r16"), "qv-r16-copy")  # a second adapter to mix
    specs["mix of two q,v r16"] = "qv-r16:0.7,qv-r16-copy:0.3"
    backend = open_local("smollm2-135m", paths, LoadOptions(backend="llamacpp"), registry)
    timed_llamacpp(backend, specs, tokens, repeats)
    backend.close()
    registry.close()


def run(home: Path, tokens: int, repeats: int) -> None:
    import torch

    from outweigh.adapters import AdapterRegistry, merge_adapter
    from outweigh.engine import AskOptions, Engine
    from outweigh.generate.base import GenerationRequest
    from outweigh.generate.local import LocalBackend
    from outweigh.models import load
    from outweigh.settings import Paths

    paths = Paths(home)
    print(f"torch threads: {torch.get_num_threads()}, cpus: {os.cpu_count()}")

    print("training the example style adapter (default TrainConfig)...", flush=True)
    t = train(home)
    steps = t["steps"]
    print(
        f"train: {steps} steps in {t['wall']:.0f} s wall ({steps / t['wall']:.3f} steps/s), "
        f"{t['cpu']:.0f} s CPU, peak RSS {t['peak_rss_mb']:.0f} MB, "
        f"val loss {t['metrics'].get('val_loss')}"
    )

    registry = AdapterRegistry(paths)
    merged_dir = home / "merged"
    merge_adapter("signoff", merged_dir, paths)

    pristine = load("smollm2-135m", paths)
    loaded = load("smollm2-135m", paths)
    merged = load(str(merged_dir), paths)
    backend = LocalBackend(loaded, registry)
    runtime = backend.runtime

    t0 = time.perf_counter()
    runtime.key("signoff")
    first_load = time.perf_counter() - t0
    registry.add(registry.path("signoff"), "signoff-copy")  # a second adapter to switch to
    t0 = time.perf_counter()
    runtime.key("signoff-copy")
    second_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    runtime.key("signoff:0.7,signoff-copy:0.3")
    mix_build = time.perf_counter() - t0
    n_switch = 200
    t0 = time.perf_counter()
    for i in range(n_switch):
        with runtime.switched("signoff" if i % 2 else "signoff-copy"):
            pass
    switch_ms = (time.perf_counter() - t0) / n_switch * 1000
    t0 = time.perf_counter()
    for _ in range(n_switch):
        with runtime.switched("signoff"):
            pass
    same_ms = (time.perf_counter() - t0) / n_switch * 1000

    request = GenerationRequest(
        messages=[
            {"role": "system", "content": "You are a helpful assistant. Answer briefly."},
            {"role": "user", "content": "Question: Describe the water cycle in detail."},
        ]
    )
    inputs = backend._inputs(request)
    variants = {
        "base (never wrapped)": pristine.model,
        "base (adapters loaded, off)": loaded.model,
        "unmerged adapter": backend.model_for(GenerationRequest([], adapter="signoff")),
        "merged": merged.model,
    }
    for m in variants.values():  # warm-up: first calls allocate
        decode_rate(m, inputs, 4)
    rates: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for name, m in variants.items():
            rates[name].append(decode_rate(m, inputs, tokens))
    med = {k: statistics.median(v) for k, v in rates.items()}
    base = med["base (never wrapped)"]

    engine = Engine(paths, backend=backend)
    prompts = [
        json.loads(x)["prompt"] for x in (STYLE / "heldout.jsonl").read_text().splitlines() if x
    ]
    reqs = [
        engine.prepare(
            [{"role": "user", "content": p}], AskOptions(rag=False, max_tokens=48, adapter=a)
        ).request
        for a in ("signoff", None)
        for p in prompts
    ]
    gens = backend.generate_batch(reqs)
    n = len(prompts)
    adherence_adapter = sum(g.text.endswith(SIGNOFF) for g in gens[:n]) / n
    adherence_base = sum(g.text.endswith(SIGNOFF) for g in gens[n:]) / n

    print(f"\ndecode, {tokens} tokens x {repeats} interleaved rounds (median tokens/s):")
    for name, r in med.items():
        print(f"  {name:<30} {r:7.1f} tok/s   ratio to base {r / base:.3f}")
    print(f"\nswitch between two adapters, per request: {switch_ms:.2f} ms")
    print(f"same adapter again, per request (layers on/off only): {same_ms:.2f} ms")
    print(f"first adapter load (wraps the base): {first_load * 1000:.0f} ms")
    print(f"second adapter load: {second_load * 1000:.0f} ms")
    print(f"build a 2-adapter mix: {mix_build * 1000:.0f} ms")
    print(f"\nheld-out style adherence ({n} prompts):")
    print(f"  base {adherence_base:.0%}, adapter {adherence_adapter:.0%}")


if __name__ == "__main__":
    main()
