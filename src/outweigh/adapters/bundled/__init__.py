"""Adapters that ship with outweigh: one memory reader per bundled model that has one.

`memory-reader/<model>/` is a PEFT LoRA trained on `outweigh.adapters.memory_rows` (reading a
"Facts about me:" section and answering from it in one sentence). `make memory-reader`
rebuilds it; docs/memory.md has the figures. The engine registers it under `MEMORY_READER` the
first time a prompt carries memories, so it is listed, switched and exported like any other
adapter; a user's own `memory-reader` (trained or added under that name) takes its place.
"""

from __future__ import annotations

from pathlib import Path

MEMORY_READER = "memory-reader"
"""The registered name the engine uses for a model's memory reader."""

_ROOT = Path(__file__).parent / "memory-reader"


def memory_reader(model: str) -> Path | None:
    """The bundled memory reader's PEFT directory for catalog `model`, or None."""
    path = _ROOT / model
    return path if (path / "adapter_model.safetensors").is_file() else None
