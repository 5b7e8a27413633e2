"""Adapters that ship with outweigh: readers for the bundled models that need them.

- `memory-reader/<model>/` is a PEFT LoRA trained on `outweigh.adapters.memory_rows`: reading
  a "Facts about me:" section and answering from it in one sentence. `make memory-reader`
  rebuilds it; docs/memory.md has the figures.
- `reader/<model>/` is a PEFT LoRA trained RAFT-style on `outweigh.adapters.reader` rows:
  numbered passages as `outweigh ask` selects them, the gold one among distractors or
  missing, answered with the value and its `[n]`. Its training text is package metadata and
  manual pages that no eval suite uses (`examples/reader/make_corpus.py`); `make reader`
  rebuilds it from scratch and `make reader-tune` trains it on from its weights, which is
  how the shipped copy was made; docs/benchmarks-eval.md has the figures.

The engine registers a reader under its name (`READER`, `MEMORY_READER`) the first time a
prompt needs it, so it is listed, switched and exported like any other adapter; a user's own
adapter of that name on the same base takes its place.
"""

from __future__ import annotations

import functools
from pathlib import Path

READER = "reader"
"""The registered name of a model's passage reader (a prompt with retrieved passages)."""

MEMORY_READER = "memory-reader"
"""The registered name of a model's memory reader (recalled memories, no passages)."""

_ROOT = Path(__file__).parent

EARLIER: dict[str, frozenset[str]] = {
    READER: frozenset(
        {
            "de9b70a368620bd1f1ebd52f22d30ae666a22c170dab46bf6ad279a8317096cc",
            "d50fbc40a74da21181d31e7e5814e7ba6a1652948fdb7377185a31bf5dd2b3a2",
        }
    ),
}
"""SHA-256 of the weights earlier releases bundled under each name. Those releases registered
them with source `added`; a registered adapter with one of these hashes is an old bundled
copy, not the user's, and this release's copy replaces it."""


def bundled(name: str, model: str) -> Path | None:
    """The PEFT directory of bundled adapter `name` for catalog `model`, or None."""
    path = _ROOT / name / model
    return path if (path / "adapter_model.safetensors").is_file() else None


@functools.cache
def abstain_margin(name: str, model: str) -> float:
    """The margin measured for bundled adapter `name` on `model` (`outweigh.json` beside its
    weights, `benchmarks/bench_abstain.py`): how much surer than of any answer it must be,
    in logits at the first token, before it says "I don't know"; 0 where none was set. Read
    once: the file ships with the weights."""
    import json

    path = _ROOT / name / model / "outweigh.json"
    if not path.is_file():
        return 0.0
    return float(json.loads(path.read_text("utf-8")).get("abstain_margin", 0.0))
