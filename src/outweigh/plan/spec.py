"""What a plan asks: `PlanSpec`, the flags' limits, and the parsing of what users type.

Counts as users write them (`16k`), fractions, `MODEL:QUANT`; the spec's GPUs and LoRA targets
resolved against the catalogs; and the search for the largest flag value that fits, which the
serving and training plans share. Standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from outweigh.errors import InputError, echo
from outweigh.plan import catalog, tensors
from outweigh.plan.catalog import Gpu, ServingEngine
from outweigh.plan.hf_config import Architecture
from outweigh.plan.train import METHODS as TRAIN_METHODS

MAX_CONTEXT = 10_000_000
"""Largest context accepted: 10M tokens, the longest window a released model declares (Llama 4)."""
MAX_BATCH = 100_000
"""Largest batch accepted; far beyond what one GPU serves at once, so a larger one is a typo."""
MAX_LORAS = 1024
"""Most adapters accepted at once (vLLM's `max_loras` is usually single digits)."""
MAX_RANK = 4096
"""Largest LoRA rank accepted (ranks in practice are 4-256)."""
MAX_CHUNKS = 100_000
"""Most retrieved chunks accepted per sequence."""

KV_DTYPES = ("auto", "bf16", "fp16", "fp32", "fp8")
"""`--kv-dtype` choices; `auto` follows the weight format's compute dtype."""
ATTENTIONS = ("eager", "sdpa", "flash")
"""`--attention` choices (transformers' attn_implementation: eager, sdpa, flash_attention_2)."""


def parse_tokens(text: str | int, flag: str) -> int:
    """A count as users write it: `4096`, `16k` (16384), `1.5k` (1536), `1m` (1048576).

    k and m are binary (1024, 1024^2), as context windows are quoted ("128K" = 131072). The result
    must be a whole, non-negative number; range checks are PlanSpec.validate's job.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        value: float = text
    else:
        s = str(text).strip().lower().replace("_", "").replace(",", "")
        scale = {"k": 1024, "m": 1024 * 1024}.get(s[-1:], 1)
        try:
            value = float(s[:-1] if scale > 1 else s) * scale
        except ValueError:
            raise InputError(
                f"`{flag}` must be a count like 4096 or 16k; got {echo(text)}"
            ) from None
    if not math.isfinite(value) or value != int(value):
        raise InputError(f"`{flag}` must be a whole number; got {echo(text)}")
    if value < 0:
        raise InputError(f"`{flag}` must not be negative; got {echo(text)}")
    return int(value)


def parse_fraction(text: str | float, flag: str) -> float:
    """A number between 0 and 1, with a one-line error naming `flag` otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"`{flag}` must be a number between 0 and 1; got {echo(text)}") from None
    if not 0.0 <= value <= 1.0:  # also rejects nan
        raise InputError(f"`{flag}` must be between 0 and 1; got {echo(text)}")
    return value


@dataclass(frozen=True)
class PlanSpec:
    """What to plan: a model, how it is stored and served, and the workload."""

    model: str
    """Catalog name, path to a config.json, or a model folder."""
    quant: str = "bf16"
    """Weight format (`--quant`): a name from data/quants.toml."""
    kv_dtype: str = "auto"
    """KV cache dtype (`--kv-dtype`); `auto` is the weight format's compute dtype."""
    context: int = 4096
    """Conversation tokens per sequence (`--context`), not counting retrieved chunks; under
    `train`, the tokens per training row (`--seq-len`), read through `seq_len`."""
    batch: int = 1
    """Sequences served at once (`--batch`)."""
    loras: int = 0
    """LoRA adapters loaded at once (`--loras`); vLLM's max_loras."""
    lora_rank: int = 16
    """Rank of each adapter (`--lora-rank`); vLLM's max_lora_rank."""
    lora_targets: tuple[str, ...] = ("all-linear",)
    """Modules each adapter wraps (`--lora-targets`): names, or `all-linear` (PEFT's shorthand)."""
    rag_chunks: int = 0
    """Retrieved chunks added to each sequence (`--rag-chunks`)."""
    chunk_tokens: int = 512
    """Tokens per retrieved chunk (`--chunk-tokens`)."""
    engine: str = "transformers"
    """`transformers`, `vllm` or `llamacpp` (`--engine`)."""
    attention: str = "sdpa"
    """transformers attention implementation (`--attention`): eager, sdpa or flash."""
    gpus: tuple[str, ...] = ()
    """GPUs to fit on (`--gpu`); empty means every catalog GPU the engine runs on."""
    gpu_memory_utilization: float = 0.0
    """vLLM's share of the GPU (`--gpu-memory-utilization`); 0 takes the engine default (0.9)."""
    train: str = ""
    """`--train lora|qlora`: plan one training step instead of serving, of `batch` rows of
    `seq_len` tokens; `lora_rank` and `lora_targets` are then the adapter trained."""
    grad_checkpointing: bool = True
    """Training with gradient checkpointing (`--no-grad-checkpointing` turns it off)."""

    @property
    def rag_tokens(self) -> int:
        """Tokens the retrieved chunks add to each sequence."""
        return self.rag_chunks * self.chunk_tokens

    @property
    def seq_len(self) -> int:
        """Tokens per training row (`--seq-len`). A training step has no conversation and no
        retrieved chunks, so it keeps its length in `context`; training code reads it here."""
        return self.context

    def validate(self) -> None:
        """Raise InputError naming the flag when a value is out of range."""
        checks = [
            ("--context", self.context, 0, MAX_CONTEXT),
            ("--batch", self.batch, 1, MAX_BATCH),
            ("--loras", self.loras, 0, MAX_LORAS),
            ("--lora-rank", self.lora_rank, 1, MAX_RANK),
            ("--rag-chunks", self.rag_chunks, 0, MAX_CHUNKS),
            ("--chunk-tokens", self.chunk_tokens, 1, MAX_CONTEXT),
        ]
        for flag, value, low, high in checks:
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InputError(
                    f"`{flag}` must be an integer from {low} to {high:,}; got {echo(value)}"
                )
        if self.context + self.rag_tokens > MAX_CONTEXT:
            raise InputError(
                f"`--context` + `--rag-chunks` x `--chunk-tokens` is "
                f"{self.context + self.rag_tokens:,} tokens, above the limit of {MAX_CONTEXT:,}"
            )
        if self.kv_dtype not in KV_DTYPES:
            raise InputError(
                f"unknown `--kv-dtype` {echo(self.kv_dtype)}; choose one of: {', '.join(KV_DTYPES)}"
            )
        if self.attention not in ATTENTIONS:
            raise InputError(
                f"unknown `--attention` {echo(self.attention)}; "
                f"choose one of: {', '.join(ATTENTIONS)}"
            )
        if not 0.0 <= self.gpu_memory_utilization <= 1.0:  # also rejects nan
            raise InputError(
                "`--gpu-memory-utilization` must be between 0 and 1 (0 = engine default)"
            )
        if self.train:
            if self.train not in TRAIN_METHODS:
                raise InputError(
                    f"unknown `--train` {echo(self.train)}; "
                    f"choose one of: {', '.join(TRAIN_METHODS)}"
                )
            if self.engine != "transformers":
                raise InputError(
                    f"`--train` plans transformers + PEFT; drop `--engine {self.engine}`"
                )
            if self.quant not in ("bf16", "fp16", "fp32"):
                raise InputError(
                    f"`--train {self.train}` loads the base in bf16, fp16 or fp32 (qlora makes "
                    f"its own nf4); drop `--quant {self.quant}`"
                )
            if self.seq_len < 1:
                raise InputError("`--seq-len` must be at least 1")
        if self.kv_dtype == "fp8" and self.engine != "vllm":
            raise InputError(
                f"`--kv-dtype fp8` needs `--engine vllm` ({self.engine}'s cache has no fp8 dtype)"
            )


def split_model_quant(text: str, default_quant: str) -> tuple[str, str]:
    """`qwen2.5-32b:awq` -> (`qwen2.5-32b`, `awq`); a bare MODEL keeps `default_quant`.

    A MODEL that exists as a path is never split, so paths containing `:` still work.
    """
    from pathlib import Path

    if Path(text).expanduser().exists() or ":" not in text:
        return text, default_quant
    model, _, q = text.rpartition(":")
    catalog.find_quant(q)  # raises naming the choices
    return model, q


def largest(fits: Callable[[int], bool], low: int, high: int) -> int:
    """Largest n in [low, high] with fits(n), for a monotone predicate; low - 1 if none."""
    if not fits(low):
        return low - 1
    step = 1
    while low + step <= high and fits(low + step):
        low, step = low + step, step * 2
    hi = min(low + step, high + 1)  # fits(low) holds, fits(hi) fails or hi is past the range
    while hi - low > 1:
        mid = (low + hi) // 2
        low, hi = (mid, hi) if fits(mid) else (low, mid)
    return low


def gpus_for(spec: PlanSpec, engine: ServingEngine) -> list[Gpu]:
    """The spec's GPUs, each once, or every catalog GPU the engine runs on; vLLM is refused a
    GPU that is not NVIDIA's."""
    if not spec.gpus:
        return [g for g in catalog.gpus().values() if engine.key != "vllm" or g.vendor == "nvidia"]
    chosen = list({g.key: g for g in map(catalog.find_gpu, spec.gpus)}.values())  # no repeats
    for g in chosen:
        if engine.key == "vllm" and g.vendor != "nvidia":
            raise InputError(
                f"vLLM does not run on {g.key} ({g.vendor}); use `--engine transformers`"
            )
    return chosen


def targets_for(spec: PlanSpec, a: Architecture) -> tuple[str, ...]:
    """The spec's `--lora-targets`, each checked against the modules `a` has."""
    valid = tensors.lora_modules(a)
    for t in spec.lora_targets:
        if t != "all-linear" and t not in valid:
            raise InputError(
                f"unknown `--lora-targets` {echo(t)} for {a.model_type}; "
                f"choose from: all-linear, {', '.join(valid)}"
            )
    return spec.lora_targets or ("all-linear",)
