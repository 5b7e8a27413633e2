"""Generation figures, measured side by side in one run.

0. `outweigh ask --no-rag` on llama.cpp (Engine.ask -> LlamaCppBackend, the default where
   llama-cpp-python is installed) vs raw llama-cpp-python on the same GGUF (the file outweigh
   runs: SmolLM2's Q8_0 CPU copy) and on the file as it ships, same rendered prompt, greedy,
   same max_tokens, with the transformers path beside them: tokens/s ratio (target >= 0.9).
   `--only quant`: raw llama-cpp-python on the shipped file and on the CPU copy, prompt
   processing (a 300-token prompt, cache reset) and decode tokens/s.
1. `outweigh ask --no-rag` path (Engine.ask -> LocalBackend) vs raw `transformers.generate`
   on the same rendered prompt, greedy, same max_new_tokens: tokens/s ratio (target >= 0.95).
2. Model load: first load (GGUF dequantize + save) vs cached safetensors load.
3. `--dtype bf16` vs fp32 on CPU: decode tokens/s (same prompt, greedy, interleaved rounds) and
   the weights' bytes in memory.

Run: .venv/bin/python benchmarks/bench_generate.py [--model smollm2-135m] [--rounds 5]
     .venv/bin/python benchmarks/bench_generate.py --only dtype   # part 3 alone
     .venv/bin/python benchmarks/bench_generate.py --only llamacpp   # part 0 alone
     .venv/bin/python benchmarks/bench_generate.py --only omp [--busy 2]   # OpenMP wait policy, raw
     .venv/bin/python benchmarks/bench_generate.py --only quant   # shipped file vs CPU copy
     .venv/bin/python benchmarks/bench_generate.py --only build --other /tmp/native/site
         # the portable build against another build of llama-cpp-python (e.g. -march=native)
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
from outweigh.generate.base import GenerationRequest
from outweigh.generate.local import LocalBackend
from outweigh.models import LoadOptions, load
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


def bench_llamacpp(model: str, rounds: int, max_tokens: int) -> None:
    """outweigh on llama.cpp, raw llama-cpp-python and outweigh on transformers, interleaved."""
    from outweigh.generate.choose import open_local
    from outweigh.generate.llamacpp import LlamaCppBackend
    from outweigh.generate.native import cpu_threads
    from outweigh.generate.quantize import cpu_gguf
    from outweigh.models.catalog import resolve
    from outweigh.models.loader import gguf_file

    paths = Paths()
    with tempfile.TemporaryDirectory() as tmp:
        ours = open_local(model, paths, LoadOptions(backend="llamacpp"))
        assert isinstance(ours, LlamaCppBackend)
        tf = open_local(model, paths, LoadOptions(backend="transformers"))
        engines = {
            "outweigh ask --no-rag, llama.cpp": Engine(Paths(Path(tmp) / "a"), backend=ours),
            "outweigh ask --no-rag, transformers": Engine(Paths(Path(tmp) / "b"), backend=tf),
        }
        opts = AskOptions(rag=False, max_tokens=max_tokens)
        prepared = engines["outweigh ask --no-rag, llama.cpp"].prepare(
            [{"role": "user", "content": PROMPT}], opts
        )
        prompt = ours.render(prepared.request.messages)
        # Same process, so the same llama.cpp build and OpenMP policy as outweigh's; run the
        # script with OMP_WAIT_POLICY=ACTIVE to see llama.cpp's spinning default for both.
        from llama_cpp import Llama

        # The strongest raw setup: every core (llama-cpp-python's default is half of them).
        raws = {
            name: Llama(str(file), n_ctx=2048, n_threads=cpu_threads(), verbose=False)
            for name, file in (
                ("raw llama-cpp-python", cpu_gguf(resolve(model), paths)),
                ("raw llama-cpp-python, file as shipped", gguf_file(model, paths)),
            )
        }

        def run_raw(raw: Llama) -> float:
            t0 = time.perf_counter()
            out = raw.create_completion(prompt, max_tokens=max_tokens, temperature=0.0)
            return out["usage"]["completion_tokens"] / (time.perf_counter() - t0)

        def run_engine(engine: Engine) -> float:
            t0 = time.perf_counter()
            ans = engine.ask(PROMPT, opts)
            return ans.usage["completion_tokens"] / (time.perf_counter() - t0)

        runs = {name: (lambda r=r: run_raw(r)) for name, r in raws.items()} | {
            name: (lambda e=e: run_engine(e)) for name, e in engines.items()
        }
        speeds: dict[str, list[float]] = {name: [] for name in runs}
        for fn in runs.values():
            fn()  # warm-up
        for _ in range(rounds):  # interleaved, so machine noise hits each alike
            for name, fn in runs.items():
                speeds[name].append(fn())
    med = {name: statistics.median(v) for name, v in speeds.items()}
    raw_speed = med["raw llama-cpp-python"]
    print(f"llama.cpp: {model}, greedy, {max_tokens} new tokens")
    print(f"  median of {rounds} interleaved rounds, {cpu_threads()} threads")
    for name, v in med.items():
        print(f"  {name:<38} {v:7.1f} tok/s   ratio to raw {v / raw_speed:5.2f}")
    print("  target: outweigh on llama.cpp >= 0.9x raw")


def bench_quant(model: str, rounds: int, max_tokens: int) -> None:
    """Raw llama-cpp-python on the file as it ships and on outweigh's CPU copy
    (`cpu_gguf`): prompt processing and decode, interleaved rounds, medians."""
    from llama_cpp import Llama

    from outweigh.generate.native import cpu_threads
    from outweigh.generate.quantize import cpu_gguf
    from outweigh.models.catalog import resolve
    from outweigh.models.loader import gguf_file

    entry, paths = resolve(model), Paths()
    files = {"as shipped": gguf_file(model, paths), "CPU copy": cpu_gguf(entry, paths)}
    llms = {
        name: Llama(str(f), n_ctx=2048, n_threads=cpu_threads(), verbose=False)
        for name, f in files.items()
    }
    pp: dict[str, list[float]] = {name: [] for name in llms}
    tg: dict[str, list[float]] = {name: [] for name in llms}
    for r in range(rounds + 1):  # the first round warms up
        for name, llm in llms.items():
            tokens = llm.tokenize(f"round {r}: {PROMPT} ".encode() * 20)[:300]
            llm.reset()
            t0 = time.perf_counter()
            llm.eval(tokens)
            prompt_rate = len(tokens) / (time.perf_counter() - t0)
            chat = [{"role": "user", "content": PROMPT}]
            t0 = time.perf_counter()
            out = llm.create_chat_completion(chat, max_tokens=max_tokens, temperature=0.0)
            decode_rate = out["usage"]["completion_tokens"] / (time.perf_counter() - t0)
            if r:
                pp[name].append(prompt_rate)
                tg[name].append(decode_rate)
    print(f"llama.cpp file types: {model}, {cpu_threads()} threads, median of {rounds}")
    base = {k: statistics.median(v) for k, v in pp.items()}["as shipped"]
    base_tg = statistics.median(tg["as shipped"])
    for name, f in files.items():
        p, t = statistics.median(pp[name]), statistics.median(tg[name])
        print(
            f"  {name:<11} {f.name:<48} prompt {p:6.0f} tok/s ({p / base:4.2f}x)  "
            f"decode {t:6.1f} tok/s ({t / base_tg:4.2f}x)"
        )


OMP_CHILD = """
import statistics, sys, time
from llama_cpp import Llama
from outweigh.generate.native import cpu_threads
from outweigh.generate.quantize import cpu_gguf
from outweigh.models.catalog import resolve
from outweigh.settings import Paths
llm = Llama(str(cpu_gguf(resolve(sys.argv[1]), Paths())), n_ctx=2048, n_threads=cpu_threads(),
            verbose=False)
prompt = "<|im_start|>user\\nWrite a story.<|im_end|>\\n<|im_start|>assistant\\n"
rates = []
for _ in range(int(sys.argv[2]) + 1):
    t0 = time.perf_counter()
    out = llm.create_completion(prompt, max_tokens=int(sys.argv[3]), temperature=0.0)
    rates.append(out["usage"]["completion_tokens"] / (time.perf_counter() - t0))
print(statistics.median(rates[1:]))
"""

BUILD_CHILD = """
import statistics, sys, time
import llama_cpp
from outweigh.generate.native import cpu_threads
from outweigh.generate.quantize import cpu_gguf
from outweigh.models.catalog import resolve
from outweigh.settings import Paths
llm = llama_cpp.Llama(str(cpu_gguf(resolve(sys.argv[1]), Paths())), n_ctx=2048,
                      n_threads=cpu_threads(), verbose=False)
prompt = "<|im_start|>user\\nWrite a story.<|im_end|>\\n<|im_start|>assistant\\n"
long = llm.tokenize(b"Write a short story about a lighthouse keeper and a storm. " * 30)[:300]
pp, tg = [], []
for _ in range(int(sys.argv[2]) + 1):
    llm.reset()
    t0 = time.perf_counter()
    llm.eval(long)
    pp.append(len(long) / (time.perf_counter() - t0))
    t0 = time.perf_counter()
    out = llm.create_completion(prompt, max_tokens=int(sys.argv[3]), temperature=0.0)
    tg.append(out["usage"]["completion_tokens"] / (time.perf_counter() - t0))
info = llama_cpp.llama_print_system_info().decode().replace(" = 1", "").replace(" |", "")
print(statistics.median(pp[1:]), statistics.median(tg[1:]), info.strip())
"""


def bench_build(model: str, rounds: int, max_tokens: int, other: str) -> None:
    """Raw llama-cpp-python from this venv (the portable build `make install` makes) against
    another build of the same version installed in `other` (`pip install --target`; e.g.
    pip's default `-march=native` build), each in fresh processes, alternating, on the file
    outweigh runs: prompt processing (300 tokens) and decode tok/s."""
    import subprocess
    import sys

    builds = {"portable (make install)": {}, f"other ({other})": {"PYTHONPATH": other}}
    pp: dict[str, list[float]] = {name: [] for name in builds}
    tg: dict[str, list[float]] = {name: [] for name in builds}
    info: dict[str, str] = {}
    for _ in range(3):  # processes, alternating; each takes a median of `rounds`
        for name, extra in builds.items():
            out = subprocess.run(
                [sys.executable, "-c", BUILD_CHILD, model, str(rounds), str(max_tokens)],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, **extra},
            ).stdout.split(maxsplit=2)
            pp[name].append(float(out[0]))
            tg[name].append(float(out[1]))
            info[name] = out[2].strip()
    base = "portable (make install)"
    print(f"llama.cpp builds: {model}, CPU copy, median of 3 processes x {rounds} rounds")
    for name in builds:
        p, t = statistics.median(pp[name]), statistics.median(tg[name])
        p0, t0 = statistics.median(pp[base]), statistics.median(tg[base])
        print(
            f"  {name:<40} prompt {p:6.0f} tok/s ({p / p0:4.2f}x)  "
            f"decode {t:6.1f} tok/s ({t / t0:4.2f}x)  [{info[name]}]"
        )


OMP_POLICIES = {
    "ACTIVE": {"OMP_WAIT_POLICY": "ACTIVE"},
    "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "unset (libgomp's default: spin a while, then sleep)": {},
    "GOMP_SPINCOUNT=1000 (what outweigh sets)": {"GOMP_SPINCOUNT": "1000"},
    "GOMP_SPINCOUNT=100000": {"GOMP_SPINCOUNT": "100000"},
}
"""The child imports llama_cpp before outweigh, so the runtime loads under exactly these."""


def bench_omp(model: str, rounds: int, max_tokens: int, busy: int = 0) -> None:
    """Raw llama-cpp-python under each OpenMP wait policy, each in a fresh process (libgomp
    reads the policy once), on the file outweigh runs; with `busy` spinning processes beside
    it, a shared machine's load."""
    import subprocess
    import sys

    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        print(
            f"OpenMP wait policy, raw llama-cpp-python, {max_tokens} tokens, median of {rounds}, "
            f"{busy} busy processes beside it"
        )
        for name, extra in OMP_POLICIES.items():
            env = {
                k: v
                for k, v in os.environ.items()
                if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
            } | extra
            args = [sys.executable, "-c", OMP_CHILD, model, str(rounds), str(max_tokens)]
            out = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
            print(f"  {name:<52} {float(out.stdout.strip().splitlines()[-1]):7.2f} tok/s")
    finally:
        for h in hogs:
            h.kill()


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


def bench_dtype(model: str, rounds: int, max_tokens: int) -> None:
    """fp32 (the CPU default) against bf16 (`--dtype bf16`), both on CPU."""
    backends = {
        d: LocalBackend(load(model, options=LoadOptions(device="cpu", dtype=d)))
        for d in ("fp32", "bf16")
    }
    request = GenerationRequest(
        messages=[{"role": "user", "content": PROMPT}], max_tokens=max_tokens, temperature=0.0
    )
    speeds: dict[str, list[float]] = {d: [] for d in backends}
    for b in backends.values():
        b.generate(request)  # warm-up
    for _ in range(rounds):  # interleaved, so machine noise hits both alike
        for d, b in backends.items():
            t0 = time.perf_counter()
            gen = b.generate(request)
            speeds[d].append(gen.completion_tokens / (time.perf_counter() - t0))
    print(f"dtype on CPU: {model}, greedy, {max_tokens} new tokens, median of {rounds}")
    for d, b in backends.items():
        weights = sum(p.numel() * p.element_size() for p in b.loaded.model.parameters())
        print(f"  {d}  {statistics.median(speeds[d]):7.1f} tok/s   weights {weights / 1e6:7.1f} MB")
    ratio = statistics.median(speeds["bf16"]) / statistics.median(speeds["fp32"])
    print(f"  bf16 / fp32 speed       {ratio:7.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument(
        "--only",
        choices=("llamacpp", "quant", "omp", "generate", "load", "dtype", "build"),
        help="run one part",
    )
    ap.add_argument(
        "--other", help="(build) a folder holding another llama-cpp-python build to compare"
    )
    ap.add_argument("--busy", type=int, default=0, help="(omp) spinning processes beside it")
    args = ap.parse_args()
    if args.only in (None, "llamacpp"):
        bench_llamacpp(args.model, args.rounds, args.max_tokens)
    if args.only in (None, "quant"):
        bench_quant(args.model, args.rounds, args.max_tokens)
    if args.only in (None, "omp"):
        bench_omp(args.model, args.rounds, args.max_tokens, args.busy)
    if args.only in (None, "generate"):
        bench_generate(args.model, args.rounds, args.max_tokens)
    if args.only in (None, "load"):
        bench_load(args.model)
    if args.only in (None, "dtype"):
        bench_dtype(args.model, args.rounds, args.max_tokens)
    if args.only == "build":
        if not args.other:
            ap.error("--only build needs --other FOLDER (pip install --target FOLDER ...)")
        bench_build(args.model, args.rounds, args.max_tokens, args.other)


if __name__ == "__main__":
    main()
