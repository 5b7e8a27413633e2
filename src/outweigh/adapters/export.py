"""Adapters out of outweigh: merged into a full model, or as a directory vLLM serves.

- `merge_adapter` folds W + (alpha/r)·B·A into the base weights (PEFT `merge_and_unload`) and
  saves a plain transformers model: no LoRA code at inference, the base model's speed, one
  adapter per copy of the weights. `outweigh ask --model DIR` loads it like any model dir.
- `export_adapter(..., target="vllm")` writes what `vllm serve --enable-lora --lora-modules
  NAME=DIR` loads: the two PEFT files, with `base_model_name_or_path` set to the base's hub
  id, plus the exact command (the rank rounded up to a `--max-lora-rank` vLLM accepts).

Both write into a hidden sibling of the target and rename it into place when complete.
"""

from __future__ import annotations

import json
import shlex
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from outweigh.adapters.registry import AdapterRegistry
from outweigh.adapters.validate import CONFIG, WEIGHTS, hub_id
from outweigh.errors import InputError
from outweigh.settings import Paths

TARGETS = ("vllm",)
"""Runtimes `export_adapter` writes for."""

VLLM_MAX_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
"""The values vLLM's `--max-lora-rank` accepts (vllm/config/lora.py, LoRAConfig)."""


@dataclass(frozen=True)
class ExportResult:
    """Where an export went and how to use it."""

    path: Path
    """The written directory."""
    command: str
    """The shell command that serves it."""


def merge_adapter(spec: str, out: str | Path, paths: Paths | None = None) -> Path:
    """Write the base model with `spec` (a name or a mix) merged in, as a model directory."""
    from outweigh.generate.lora import AdapterRuntime
    from outweigh.models.loader import load

    paths = paths or Paths()
    registry = AdapterRegistry(paths)
    try:
        parts = registry.resolve(spec)
        bases = {info.base_model for info, _ in parts}
        if len(bases) != 1:
            raise InputError(
                f"`{spec}` mixes adapters of different bases: {', '.join(sorted(bases))}"
            )
        target = _fresh_target(out)
        loaded = load(bases.pop(), paths)  # a private copy: merging rewrites its weights
        runtime = AdapterRuntime.of(loaded.model, loaded.entry.name, registry)
        merged = runtime.merge_and_unload(spec)
        stage = _stage(target)
        try:
            merged.save_pretrained(str(stage), safe_serialization=True)
            loaded.tokenizer.save_pretrained(str(stage))
            stage.rename(target)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        return target
    finally:
        registry.close()


def export_adapter(
    name: str, out: str | Path, target: str = "vllm", paths: Paths | None = None
) -> ExportResult:
    """Write adapter `name` for another runtime (`target`: vllm) into `out`."""
    from outweigh.models.catalog import resolve

    if target not in TARGETS:
        raise InputError(f"unknown export target {target!r}; choose one of: {', '.join(TARGETS)}")
    registry = AdapterRegistry(paths or Paths())
    try:
        info = registry.get(name)
        src = registry.path(name)
    finally:
        registry.close()
    dest = _fresh_target(out)
    base = hub_id(resolve(info.base_model))
    config = json.loads((src / CONFIG).read_text("utf-8"))
    config["base_model_name_or_path"] = base
    stage = _stage(dest)
    try:
        (stage / CONFIG).write_text(json.dumps(config, indent=2) + "\n", "utf-8")
        shutil.copyfile(src / WEIGHTS, stage / WEIGHTS)
        stage.rename(dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return ExportResult(dest, vllm_command(base, {name: dest}, info.rank))


def vllm_command(base: str, adapters: dict[str, Path], rank: int) -> str:
    """`vllm serve BASE --enable-lora --lora-modules NAME=DIR ... --max-lora-rank R`."""
    max_rank = next((r for r in VLLM_MAX_LORA_RANKS if r >= rank), None)
    if max_rank is None:
        raise InputError(
            f"rank {rank} is above vLLM's largest --max-lora-rank, {VLLM_MAX_LORA_RANKS[-1]}"
        )
    modules = " ".join(shlex.quote(f"{n}={p}") for n, p in adapters.items())
    return (
        f"vllm serve {shlex.quote(base)} --enable-lora --lora-modules {modules} "
        f"--max-lora-rank {max_rank} --max-loras {max(1, len(adapters))}"
    )


def _fresh_target(out: str | Path) -> Path:
    target = Path(out).expanduser().resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(f"{target} already exists and is not empty; choose a new --out")
    if target.exists():
        target.rmdir()  # an empty dir is replaced by the finished one in a single rename
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _stage(target: Path) -> Path:
    stage = target.with_name(f".{target.name}.partial-{uuid.uuid4().hex[:8]}")
    stage.mkdir(parents=True)
    return stage
