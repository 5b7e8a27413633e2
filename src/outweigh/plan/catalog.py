"""The planner's catalogs: GPUs, weight formats, engines and model configs, from the data files.

Everything here is data that lives in `plan/data/` (TOML for the hand-kept tables, JSON for the HF
configs); this module only parses it into typed records and looks names up. Standard library only.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from outweigh.errors import NotFoundError, echo

DATA = Path(__file__).parent / "data"
"""Folder of the catalog data files shipped inside the package."""

MIB = 1024 * 1024

T = TypeVar("T")


@dataclass(frozen=True)
class Gpu:
    """One accelerator the planner can fit a model on."""

    key: str
    """Catalog name, what `--gpu` takes (e.g. `rtx-pro-6000`)."""
    name: str
    """Marketing name, for display."""
    memory_bytes: int
    """Total device memory in bytes, as nvidia-smi reports it."""
    bandwidth_bytes_per_s: float
    """Peak memory bandwidth in bytes/s (data sheet)."""
    usable_fraction: float
    """Share of `memory_bytes` one process may use (Metal's working-set cap; 1.0 on CUDA)."""
    vendor: str
    """`nvidia` or `apple`."""
    source: str
    """Where the figures come from."""
    aliases: tuple[str, ...] = ()
    """Other names `--gpu` accepts."""


@dataclass(frozen=True)
class Quant:
    """A weight format and how many bytes it stores per tensor (see `quant.py`)."""

    key: str
    """Catalog name, what `--quant` takes (e.g. `awq`)."""
    kind: str
    """`float` (all tensors at `dtype`), `linear` (packed linears) or `gguf` (llama.cpp mixture)."""
    compute_dtype: str
    """Dtype of activations, LoRA weights and (with `--kv-dtype auto`) the KV cache."""
    description: str
    """One line for `--help` and docs."""
    dtype: str = ""
    """For `float`: the storage dtype."""
    bits: int = 0
    """For `linear`: bits per packed weight."""
    group_size: int = 0
    """For `linear`: input rows sharing one scale/zero; 0 when scales are per row or per tensor."""
    scale_bits: int = 0
    """For `linear`: bits of each per-group scale (per output column)."""
    zero_bits: int = 0
    """For `linear`: bits of each per-group zero point (per output column)."""
    row_scale_bits: int = 0
    """For `linear`: bits of a per-output-row scale (bitsandbytes SCB)."""
    tensor_scale_bits: int = 0
    """For `linear`: bits of one per-tensor scale (fp8)."""
    input_index_bits: int = 0
    """For `linear`: bits per input row of a group index (GPTQ g_idx)."""
    ftype: str = ""
    """For `gguf`: llama.cpp's file type name (`Q4_K_M`)."""
    base_type: str = ""
    """For `gguf`: the ggml type most tensors get before llama.cpp's per-tensor rules."""
    aliases: tuple[str, ...] = ()
    """Other names `--quant` accepts."""


@dataclass(frozen=True)
class GgufType:
    """One ggml block format."""

    name: str
    """ggml type name (`Q4_K`)."""
    block: int
    """Weights per block; a row's length must be a multiple of it."""
    bytes: int
    """Bytes per block."""


@dataclass(frozen=True)
class ServingEngine:
    """Constants for one inference engine (see `data/engines.toml` for their sources)."""

    key: str
    """`transformers`, `vllm` or `llamacpp`."""
    description: str
    """One line for display."""
    context_bytes: int
    """CUDA context and kernels, outside torch's allocator."""
    allocator_slack: float = 0.0
    """Fraction added to KV and activations for caching-allocator fragmentation (transformers)."""
    gpu_memory_utilization: float = 1.0
    """Share of the GPU the engine claims (vLLM)."""
    block_size: int = 1
    """KV page size in tokens (vLLM); the multiple llama.cpp pads its context to."""
    max_num_batched_tokens: int = 0
    """Chunked-prefill budget per forward pass (vLLM), the micro-batch n_ubatch (llama.cpp); 0
    means the whole batch at once."""
    max_num_seqs: int = 0
    """Rows of logits in the profiling run (vLLM) or the compute-buffer reserve (llama.cpp)."""
    cuda_graph_bytes: int = 0
    """CUDA graph memory (vLLM)."""


@dataclass(frozen=True)
class CatalogModel:
    """A model whose HF config ships with the planner."""

    name: str
    """Catalog name (`qwen2.5-32b`)."""
    hf_id: str
    """Hugging Face repository the config comes from."""
    published_params: int
    """Parameter count the publisher states (rounded by them)."""
    published_params_text: str
    """The same as the publisher writes it (`32.5B`)."""
    published_params_source: str
    """Where that figure is stated."""
    config: dict[str, Any] = field(repr=False)
    """The config.json contents."""
    aliases: tuple[str, ...] = ()
    """Other names MODEL accepts, including the project's model catalog names and hub ids."""


def _load_toml(name: str) -> dict[str, Any]:
    with (DATA / name).open("rb") as f:
        return tomllib.load(f)


@cache
def gpus() -> dict[str, Gpu]:
    """All catalog GPUs by name."""
    out = {}
    for key, row in _load_toml("gpus.toml").items():
        out[key] = Gpu(
            key=key,
            name=row["name"],
            memory_bytes=row["memory_mib"] * MIB,
            bandwidth_bytes_per_s=row["bandwidth_gbps"] * 1e9,
            usable_fraction=row.get("usable_fraction", 1.0),
            vendor=row["vendor"],
            source=row["source"],
            aliases=tuple(row.get("aliases", ())),
        )
    return out


@cache
def quants() -> dict[str, Quant]:
    """All weight formats by name."""
    rows = _load_toml("quants.toml")
    rows.pop("gguf_types")
    out = {}
    for key, row in rows.items():
        row = dict(row)
        row["aliases"] = tuple(row.get("aliases", ()))
        out[key] = Quant(key=key, **row)
    return out


@cache
def gguf_types() -> dict[str, GgufType]:
    """ggml block formats by type name."""
    rows = _load_toml("quants.toml")["gguf_types"]
    return {k: GgufType(name=k, block=v["block"], bytes=v["bytes"]) for k, v in rows.items()}


@cache
def engines() -> dict[str, ServingEngine]:
    """Engine constants by name."""
    out = {}
    for key, row in _load_toml("engines.toml").items():
        row = dict(row)
        out[key] = ServingEngine(
            key=key,
            description=row.pop("description"),
            context_bytes=row.pop("context_mib") * MIB,
            cuda_graph_bytes=row.pop("cuda_graph_mib", 0) * MIB,
            **row,
        )
    return out


@cache
def models() -> dict[str, CatalogModel]:
    """All catalog models by name."""
    out = {}
    for path in sorted((DATA / "models").glob("*.json")):
        row = json.loads(path.read_text(encoding="utf-8"))
        row["aliases"] = tuple(row.get("aliases", ()))
        out[row["name"]] = CatalogModel(**row)
    return out


@cache
def library_defaults() -> dict[str, dict[str, Any]]:
    """Per model_type, the values transformers uses for keys a config.json leaves out."""
    data = json.loads((DATA / "defaults.json").read_text(encoding="utf-8"))
    data.pop("_about", None)
    return data


def _lookup(table: dict[str, T], name: str, what: str, flag: str) -> T:
    """Find `name` in `table` by key or alias, case-insensitively, or raise naming the choices."""
    wanted = name.strip().lower()
    for key, item in table.items():
        names = (key, *getattr(item, "aliases", ()))
        if wanted in (n.lower() for n in names):
            return item
    raise NotFoundError(
        f"unknown {what} {echo(name)} for {flag}; choose one of: {', '.join(table)}"
    )


def find_gpu(name: str) -> Gpu:
    """The catalog GPU called `name` (or one of its aliases)."""
    return _lookup(gpus(), name, "GPU", "--gpu")


def find_quant(name: str) -> Quant:
    """The weight format called `name` (or one of its aliases)."""
    return _lookup(quants(), name, "quantization", "--quant")


def find_engine(name: str) -> ServingEngine:
    """The engine called `name`."""
    return _lookup(engines(), name, "engine", "--engine")


def find_model(name: str) -> CatalogModel | None:
    """The catalog model called `name` (or one of its aliases or hub ids), or None."""
    wanted = name.strip().lower()
    for model in models().values():
        if wanted in (n.lower() for n in (model.name, model.hf_id, *model.aliases)):
            return model
    return None
