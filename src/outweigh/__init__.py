"""outweigh: make a smaller local LLM outweigh a bigger one on its user's own work.

Hybrid RAG, LoRA adapters, long-term memory, a VRAM planner and an evaluation, as a library;
the `outweigh` CLI and the OpenAI-compatible server are thin shells over it.

Names are imported on first use (PEP 562), so `import outweigh` and `outweigh plan` stay fast:
heavy dependencies (numpy, torch, transformers, faiss) load only when a model or index is used.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# torch and llama.cpp's CPU build share one OpenMP runtime per process (both load a
# `libgomp.so.1`; the first loaded serves both), and it reads its wait policy once, at load.
# Idle threads that spin 1000 rounds and then sleep decode as fast as libgomp's default on an
# idle machine and do not starve when other work shares the cores: raw llama-cpp-python on 2
# cores, 126 tok/s idle (default 130, PASSIVE 36-42) and 52-57 beside two busy processes
# (PASSIVE 21-70, default 1-37); `benchmarks/bench_generate.py --only omp [--busy 2]`.
# A policy the user sets wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")

_EXPORTS = {
    "AdapterInfo": "outweigh.adapters",
    "AdapterRegistry": "outweigh.adapters",
    "Answer": "outweigh.engine",
    "AskOptions": "outweigh.engine",
    "Breakdown": "outweigh.plan",
    "CapacityError": "outweigh.errors",
    "Citation": "outweigh.prompt",
    "Comparison": "outweigh.plan",
    "Engine": "outweigh.engine",
    "GpuFit": "outweigh.plan",
    "IngestError": "outweigh.errors",
    "InputError": "outweigh.errors",
    "MemoryItem": "outweigh.memory",
    "MemoryStore": "outweigh.memory",
    "ModelLoadError": "outweigh.errors",
    "NotFoundError": "outweigh.errors",
    "OutweighError": "outweigh.errors",
    "Paths": "outweigh.settings",
    "Plan": "outweigh.plan",
    "PlanSpec": "outweigh.plan",
    "TrainConfig": "outweigh.adapters",
    "train_adapter": "outweigh.adapters",
}

__all__ = [
    "AdapterInfo",
    "AdapterRegistry",
    "Answer",
    "AskOptions",
    "Breakdown",
    "CapacityError",
    "Citation",
    "Comparison",
    "Engine",
    "GpuFit",
    "IngestError",
    "InputError",
    "MemoryItem",
    "MemoryStore",
    "ModelLoadError",
    "NotFoundError",
    "OutweighError",
    "Paths",
    "Plan",
    "PlanSpec",
    "TrainConfig",
    "__version__",
    "train_adapter",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'outweigh' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from outweigh.adapters import AdapterInfo, AdapterRegistry, TrainConfig, train_adapter
    from outweigh.engine import Answer, AskOptions, Engine
    from outweigh.errors import (
        CapacityError,
        IngestError,
        InputError,
        ModelLoadError,
        NotFoundError,
        OutweighError,
    )
    from outweigh.memory import MemoryItem, MemoryStore
    from outweigh.plan import Breakdown, Comparison, GpuFit, Plan, PlanSpec
    from outweigh.prompt import Citation
    from outweigh.settings import Paths
