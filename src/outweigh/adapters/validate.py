"""What makes a directory an adapter outweigh will load: checked before any model sees it.

An adapter is a PEFT LoRA directory, `adapter_config.json` + `adapter_model.safetensors`.
Everything here reads files only (JSON and the safetensors header) plus the base model's
config, so a hostile or mismatched adapter is refused before a tensor is deserialised:

- safetensors only; pickle weights (`.bin`, `.pt`, ...) run code when loaded (the reason
  safetensors exists: huggingface.co/docs/safetensors), so they are refused outright;
- plain LoRA: no bias training, no `modules_to_save`, no DoRA, which neither mixes nor
  serves on vLLM;
- `base_model_name_or_path` names the base it is being registered for;
- every tensor fits a module of that base: `lora_A` is (r, in_features), `lora_B` is
  (out_features, r), as PEFT's LoraLayer lays them out.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from outweigh.errors import InputError
from outweigh.models.catalog import ModelEntry

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
"""Weight files torch would load with pickle."""

MAX_HEADER_BYTES = 100 * 1024 * 1024
"""safetensors' own limit on the JSON header (safetensors/src/tensor.rs, MAX_HEADER_SIZE)."""

_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
                "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}  # fmt: skip
# PEFT saves `base_model.model.<module path>.<lora part>.weight` (peft/utils/save_and_load.py).
_KEY = re.compile(
    r"^base_model\.model\.(?P<module>.+)\.(?P<part>lora_A|lora_B)\.weight$"
    r"|^base_model\.model\.(?P<emodule>.+)\.(?P<epart>lora_embedding_A|lora_embedding_B)$"
)


@dataclass(frozen=True)
class AdapterConfig:
    """The parts of `adapter_config.json` outweigh relies on."""

    rank: int
    """LoRA rank `r`; the largest of `rank_pattern` when that overrides it per module."""
    alpha: float
    """`lora_alpha`; the update is scaled by alpha / r (Hu et al. 2021, sec. 4.1)."""
    targets: list[str]
    """Module names (or one regex) the adapter wraps."""
    base_model_name_or_path: str
    """What PEFT recorded as the base model: a hub id or a path."""
    raw: dict[str, Any]
    """The whole file, for export."""


def check_files(src: Path) -> None:
    """`src` is a directory with a LoRA config and safetensors weights, or a one-line error."""
    if not src.is_dir():
        raise InputError(f"{src} is not a directory; pass a PEFT adapter directory")
    if not (src / WEIGHTS).is_file():
        pickles = sorted(p.name for p in src.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
        if pickles:
            raise InputError(
                f"{src} holds pickle weights ({', '.join(pickles)}), which can run code when "
                f"loaded; outweigh accepts {WEIGHTS} only (re-save with "
                "save_pretrained(safe_serialization=True))"
            )
        raise InputError(f"{src} has no {WEIGHTS}; not a PEFT adapter directory")
    if not (src / CONFIG).is_file():
        raise InputError(f"{src} has no {CONFIG}; not a PEFT adapter directory")


def read_config(src: Path) -> AdapterConfig:
    """Parse and check `adapter_config.json`: a plain LoRA that outweigh can mix and serve."""
    try:
        raw = json.loads((src / CONFIG).read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"{src / CONFIG} is not valid JSON: {e}") from e
    if not isinstance(raw, dict):
        raise InputError(f"{src / CONFIG} must hold a JSON object")
    if raw.get("peft_type") != "LORA":
        raise InputError(f"{src} is a {raw.get('peft_type')!r} adapter; only LORA is supported")
    if raw.get("bias", "none") != "none":
        raise InputError(f"{src} trains biases (bias={raw['bias']!r}); only bias='none' works")
    if raw.get("modules_to_save"):
        raise InputError(
            f"{src} saves whole modules ({', '.join(raw['modules_to_save'])}); outweigh takes "
            "LoRA weights only"
        )
    if raw.get("use_dora"):
        raise InputError(f"{src} is a DoRA adapter; only plain LoRA is supported")
    r, alpha, targets = raw.get("r"), raw.get("lora_alpha"), raw.get("target_modules")
    ranks = [r, *(raw.get("rank_pattern") or {}).values()]
    if not all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in ranks):
        raise InputError(f"{src / CONFIG}: 'r' must be a positive integer, got {r!r}")
    if not isinstance(alpha, int | float) or isinstance(alpha, bool) or alpha <= 0:
        raise InputError(f"{src / CONFIG}: 'lora_alpha' must be positive, got {alpha!r}")
    if isinstance(targets, str):
        targets = [targets]
    if not targets or not all(isinstance(t, str) for t in targets):
        raise InputError(f"{src / CONFIG}: 'target_modules' must name at least one module")
    return AdapterConfig(
        rank=max(ranks),
        alpha=float(alpha),
        targets=sorted(targets),
        base_model_name_or_path=str(raw.get("base_model_name_or_path") or ""),
        raw=raw,
    )


def read_header(path: Path) -> dict[str, list[int]]:
    """Tensor name -> shape from a safetensors header, after checking the file's layout.

    Format (github.com/huggingface/safetensors): 8-byte little-endian header length, a JSON
    header of {name: {dtype, shape, data_offsets}}, then the raw bytes.
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise InputError(f"{path} is not a safetensors file (too short)")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER_BYTES or 8 + n > size:
            raise InputError(f"{path} is not a safetensors file (bad header length)")
        try:
            header = json.loads(f.read(n))
        except ValueError as e:
            raise InputError(f"{path} is not a safetensors file (header: {e})") from e
    if not isinstance(header, dict):
        raise InputError(f"{path} is not a safetensors file (header is not an object)")
    data = size - 8 - n
    shapes: dict[str, list[int]] = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        try:
            shape = [int(d) for d in t["shape"]]
            start, end = (int(x) for x in t["data_offsets"])
            width = _DTYPE_BYTES[t["dtype"]]
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"{path}: tensor {name!r} has a malformed entry") from e
        count = 1
        for d in shape:
            count *= d
        if not 0 <= start <= end <= data or end - start != count * width:
            raise InputError(f"{path}: tensor {name!r} points outside the file")
        shapes[name] = shape
    if not shapes:
        raise InputError(f"{path} holds no tensors")
    return shapes


# -- the base model ---------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _bases() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(
        files("outweigh.adapters").joinpath("bases.json").read_text("utf-8")
    )
    return data


def hub_id(entry: ModelEntry) -> str:
    """The name other runtimes (vLLM, PEFT) know this base by: its hub id when we know it."""
    if entry.name in _bases():
        return str(_bases()[entry.name]["hub_id"])
    return entry.location or entry.name


def base_matches(entry: ModelEntry, recorded: str) -> bool:
    """Whether PEFT's `base_model_name_or_path` names `entry` (by name, hub id or path).

    Adapters trained elsewhere record a hub id (`org/Name`) or a local path ending in the
    model's folder name, so the last path component is compared, case-insensitively.
    """
    if not recorded:
        return False
    names = {
        entry.name,
        entry.location,
        hub_id(entry),
        *_bases().get(entry.name, {}).get("aliases", []),
    }
    tails = {n.rstrip("/").rsplit("/", 1)[-1].lower() for n in names if n}
    return recorded.rstrip("/").rsplit("/", 1)[-1].lower() in tails


@lru_cache(maxsize=4)
def _module_shapes(base_dir: str) -> dict[str, tuple[str, int, int]]:
    """Module path -> (kind, in, out) for every Linear and Embedding of the base model.

    The model is built on the meta device: shapes without allocating or reading weights.
    Cached per base directory, since a process registers adapters for one or two bases.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = AutoConfig.from_pretrained(base_dir)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg)
    out: dict[str, tuple[str, int, int]] = {}
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Linear):
            out[name] = ("linear", m.in_features, m.out_features)
        elif isinstance(m, torch.nn.Embedding):
            out[name] = ("embedding", m.num_embeddings, m.embedding_dim)
    return out


def check_against_base(src: Path, config: AdapterConfig, entry: ModelEntry, base_dir: str) -> None:
    """Refuse an adapter whose recorded base or tensor shapes do not fit `entry`."""
    if not base_matches(entry, config.base_model_name_or_path):
        raise InputError(
            f"{src} was trained on {config.base_model_name_or_path or 'an unnamed base'!r}, not "
            f"{entry.name} ({hub_id(entry)}); pass --base with the model it was trained on"
        )
    modules = _module_shapes(base_dir)
    shapes = read_header(src / WEIGHTS)
    ranks: dict[str, dict[str, int]] = {}
    for key, shape in shapes.items():
        m = _KEY.match(key)
        if m is None:
            raise InputError(f"{src}: unexpected tensor {key!r}; only LoRA A/B weights are allowed")
        module, part = (m["module"], m["part"]) if m["module"] else (m["emodule"], m["epart"])
        if module not in modules:
            raise InputError(f"{src}: {entry.name} has no module {module!r}; wrong base model")
        kind, d_in, d_out = modules[module]
        want_kind = "embedding" if part.startswith("lora_embedding") else "linear"
        if kind != want_kind or len(shape) != 2:
            raise InputError(f"{src}: {key} does not fit {entry.name}'s {kind} {module!r}")
        # lora_A: (r, in) and lora_B: (out, r) for Linear; lora_embedding_A: (r, num_embeddings)
        # and lora_embedding_B: (embedding_dim, r) for Embedding (peft/tuners/lora/layer.py).
        is_a = part.endswith("A")
        dim, r = (shape[1], shape[0]) if is_a else (shape[0], shape[1])
        expected = d_in if is_a else d_out
        if dim != expected:
            raise InputError(
                f"{src}: {key} has shape {shape}, but {entry.name}'s {module} needs "
                f"{'in' if is_a else 'out'} size {expected}; trained on another base model"
            )
        ranks.setdefault(module, {})[part[-1]] = r
    for module, rs in ranks.items():
        if set(rs) != {"A", "B"} or rs["A"] != rs["B"]:
            raise InputError(f"{src}: {module} needs lora_A and lora_B of the same rank")
        want = _rank_for(config, module)
        if rs["A"] != want:
            # PEFT builds rank-`want` layers from the config, then fails to load these tensors
            # into them: the adapter would register and break every request.
            raise InputError(
                f"{src}: {module} has rank-{rs['A']} tensors but {CONFIG} says r={want}; "
                "fix 'r' (or 'rank_pattern') to match the weights"
            )
        if not _targeted(config, module):
            raise InputError(
                f"{src}: tensors for {module}, which target_modules "
                f"({', '.join(config.targets)}) does not name; fix target_modules"
            )
    _check_finite(src / WEIGHTS)


def _rank_for(config: AdapterConfig, module: str) -> int:
    """The rank PEFT gives `module`: the first `rank_pattern` key matching its name's end,
    else `r` (peft/tuners/tuners_utils.py, `get_pattern_key`)."""
    for pattern, rank in (config.raw.get("rank_pattern") or {}).items():
        if re.search(rf"(^|\.){pattern}$", module):
            return int(rank)
    return int(config.raw["r"])


def _targeted(config: AdapterConfig, module: str) -> bool:
    """Whether PEFT would wrap `module`: a name list matches the last part of its path (or
    the whole path); a string is a regex over the whole path; `all-linear` takes any Linear."""
    raw = config.raw.get("target_modules")
    if isinstance(raw, str):
        return raw == "all-linear" or re.fullmatch(raw, module) is not None
    return any(module == t or module.endswith("." + t) for t in config.targets)


def _check_finite(weights: Path) -> None:
    """Refuse NaN or inf in any tensor: such an adapter answers with nothing or fails when
    sampling. safetensors reads the bytes without running code (no pickle)."""
    import torch
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as f:
        for key in f.keys():  # noqa: SIM118  safe_open is not a mapping
            if not torch.isfinite(f.get_tensor(key)).all():
                raise InputError(
                    f"{weights.parent}: tensor {key} holds NaN or inf; the training run that "
                    "wrote it diverged, so retrain (a lower learning rate) or re-export it"
                )
