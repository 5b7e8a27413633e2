"""What a training run starts from and what it leaves on disk between steps.

- `start_from` / `load_start`: `--from ADAPTER` begins a run at an existing LoRA's weights
  (a registered name or a PEFT folder) instead of LoRA's fresh initialisation, so an adapter
  goes on learning from new rows.
- `save_checkpoint` / `restore` / `drop_checkpoint`: every few steps, and on Ctrl-C, the LoRA
  weights and the optimizer's moments go to `adapters/.checkpoints/NAME/` as safetensors
  (no pickle), written to a fresh folder and swapped in, so a killed run resumes where it
  stopped and an unreadable checkpoint costs a fresh start, never a crash.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outweigh.adapters.registry import AdapterRegistry
from outweigh.errors import InputError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Start:
    """The adapter a run starts from (`TrainConfig.start_from`)."""

    weights: Path
    rank: int
    alpha: float
    targets: tuple[str, ...]


def start_from(spec: str, registry: AdapterRegistry, entry: Any) -> Start:
    """The adapter `spec` names (a registered name, else a PEFT folder), checked as `adapter
    add` checks one and against the base to train on; a one-line error for anything else."""
    from outweigh.adapters.validate import WEIGHTS, base_matches, check_files, read_config

    folder = Path(spec).expanduser()
    if not (folder / "adapter_config.json").is_file():
        if spec not in registry.names():
            raise InputError(
                f"--from {spec!r}: not a registered adapter nor a PEFT folder with "
                "adapter_config.json; see outweigh adapter list"
            )
        folder = registry.path(spec)
    try:
        cfg = read_config(folder)
    except InputError as e:
        raise InputError(f"--from {spec!r}: unreadable adapter_config.json ({e})") from None
    if cfg.raw.get("rank_pattern") or cfg.raw.get("alpha_pattern"):
        raise InputError(
            f"--from {spec!r} gives some modules their own rank or alpha (rank_pattern, "
            "alpha_pattern); outweigh trains one rank for all: start fresh with --rank"
        )
    try:
        check_files(folder)
    except InputError as e:
        raise InputError(f"--from {spec!r}: {e}") from None
    recorded = cfg.base_model_name_or_path
    if recorded and not base_matches(entry, recorded):
        raise InputError(
            f"--from {spec!r} was trained on {recorded}, not on {entry.name}; "
            f"pass --base for that model or start fresh"
        )
    return Start(folder / WEIGHTS, cfg.rank, cfg.alpha, tuple(cfg.targets))


def load_start(model: Any, weights: Path) -> None:
    """Put the starting adapter's LoRA weights into the freshly wrapped model's "default"."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    result = set_peft_model_state_dict(model, load_file(str(weights)), adapter_name="default")
    missing = [k for k in result.missing_keys if "lora_" in k]
    if missing:
        raise InputError(
            f"--from: the adapter lacks {len(missing)} of the LoRA weights, e.g. {missing[0]}"
        )


def save_checkpoint(ckpt: Path, fingerprint: str, step: int, model: Any, opt: Any) -> None:
    """Write LoRA weights and AdamW moments to a fresh dir, then swap it in."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    tmp = ckpt.with_name(ckpt.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = get_peft_model_state_dict(model, save_embedding_layers=False)
    weights = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    save_file(weights, str(tmp / "adapter.safetensors"))
    # Every tensor of each parameter's state, nested dicts flattened to dotted keys: torch
    # AdamW's `i.exp_avg` and `i.exp_avg_sq`, or bitsandbytes' 8-bit state1/state2 with their
    # absmax and quantization maps (which its state_dict nests one level down).
    moments: dict[str, torch.Tensor] = {}
    steps: dict[str, float] = {}

    def flatten(prefix: str, state: dict[str, Any]) -> None:
        for key, value in state.items():
            if isinstance(value, dict):
                flatten(f"{prefix}.{key}", value)
            elif hasattr(value, "contiguous"):
                # cloned: bitsandbytes shares one quantization map between parameters
                moments[f"{prefix}.{key}"] = value.detach().cpu().clone()

    for i, state in opt.state_dict()["state"].items():
        steps[str(i)] = float(state["step"])
        flatten(str(i), {k: v for k, v in state.items() if k != "step"})
    save_file(moments, str(tmp / "optimizer.safetensors"))
    (tmp / "state.json").write_text(
        json.dumps({"fingerprint": fingerprint, "step": step, "adam_steps": steps})
    )
    old = ckpt.with_name(ckpt.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if ckpt.exists():
        ckpt.rename(old)
    tmp.rename(ckpt)
    shutil.rmtree(old, ignore_errors=True)


def drop_checkpoint(ckpt: Path) -> None:
    shutil.rmtree(ckpt, ignore_errors=True)
    with contextlib.suppress(OSError):  # not empty: another run's checkpoint is in there
        ckpt.parent.rmdir()


def restore(ckpt: Path, fingerprint: str, model: Any, opt: Any) -> int:
    """Load a matching checkpoint into `model` and `opt`; the step to resume at, else 0."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    if not (ckpt / "state.json").is_file():
        old = ckpt.with_name(ckpt.name + ".old")  # killed between the two renames
        if not (old / "state.json").is_file():
            return 0
        ckpt = old
    try:
        state = json.loads((ckpt / "state.json").read_text())
        if state.get("fingerprint") != fingerprint:
            return 0
        set_peft_model_state_dict(model, load_file(str(ckpt / "adapter.safetensors")))
        moments = load_file(str(ckpt / "optimizer.safetensors"))
        sd = opt.state_dict()
        # torch AdamW keeps `step` as a tensor, bitsandbytes as an int
        as_step = torch.tensor if isinstance(opt, torch.optim.AdamW) else int
        restored: dict[int, dict[str, Any]] = {
            int(i): {"step": as_step(n)} for i, n in state["adam_steps"].items()
        }
        for key, value in moments.items():
            i, *outer, name = key.split(".")
            node = restored[int(i)]
            for part in outer:
                node = node.setdefault(part, {})
            node[name] = value
        sd["state"] = restored
        opt.load_state_dict(sd)
        return int(state["step"])
    except (OSError, ValueError, KeyError, RuntimeError):
        return 0  # an unreadable checkpoint costs a fresh start, never a crash
