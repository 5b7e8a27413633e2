"""`plan(spec)`: does a model fit, what does each part cost, and how far can context and batch go.

The spec is what the user asked (`PlanSpec`); the answer is a `Plan` with a byte breakdown that
does not depend on the GPU, and one `GpuFit` per GPU (fits, largest context and batch, decode
ceiling). `compare(specs)` plans several models side by side. Standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from outweigh.errors import InputError
from outweigh.plan import catalog, quant, tensors, vram
from outweigh.plan import train as training
from outweigh.plan.catalog import Gpu, Quant, ServingEngine
from outweigh.plan.hf_config import Architecture, ModelRef, load_model

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
            raise InputError(f"`{flag}` must be a count like 4096 or 16k; got {text!r}") from None
    if not math.isfinite(value) or value != int(value):
        raise InputError(f"`{flag}` must be a whole number; got {text!r}")
    if value < 0:
        raise InputError(f"`{flag}` must not be negative; got {text!r}")
    return int(value)


def parse_fraction(text: str | float, flag: str) -> float:
    """A number between 0 and 1, with a one-line error naming `flag` otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"`{flag}` must be a number between 0 and 1; got {text!r}") from None
    if not 0.0 <= value <= 1.0:  # also rejects nan
        raise InputError(f"`{flag}` must be between 0 and 1; got {text!r}")
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
    """Conversation tokens per sequence (`--context`), not counting retrieved chunks."""
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
    """`--train lora|qlora`: plan one training step instead of serving; `context` is then the
    sequence length (`--seq-len`), `lora_rank` and `lora_targets` the adapter trained."""
    grad_checkpointing: bool = True
    """Training with gradient checkpointing (`--no-grad-checkpointing` turns it off)."""

    @property
    def rag_tokens(self) -> int:
        """Tokens the retrieved chunks add to each sequence."""
        return self.rag_chunks * self.chunk_tokens

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
                    f"`{flag}` must be an integer from {low} to {high:,}; got {value!r}"
                )
        if self.context + self.rag_tokens > MAX_CONTEXT:
            raise InputError(
                f"`--context` + `--rag-chunks` x `--chunk-tokens` is "
                f"{self.context + self.rag_tokens:,} tokens, above the limit of {MAX_CONTEXT:,}"
            )
        if self.kv_dtype not in KV_DTYPES:
            raise InputError(
                f"unknown `--kv-dtype` {self.kv_dtype!r}; choose one of: {', '.join(KV_DTYPES)}"
            )
        if self.attention not in ATTENTIONS:
            raise InputError(
                f"unknown `--attention` {self.attention!r}; choose one of: {', '.join(ATTENTIONS)}"
            )
        if not 0.0 <= self.gpu_memory_utilization <= 1.0:  # also rejects nan
            raise InputError(
                "`--gpu-memory-utilization` must be between 0 and 1 (0 = engine default)"
            )
        if self.train:
            if self.train not in training.METHODS:
                raise InputError(
                    f"unknown `--train` {self.train!r}; choose one of: "
                    f"{', '.join(training.METHODS)}"
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
            if self.context < 1:
                raise InputError("`--seq-len` must be at least 1")
        if self.kv_dtype == "fp8" and self.engine != "vllm":
            raise InputError(
                f"`--kv-dtype fp8` needs `--engine vllm` ({self.engine}'s cache has no fp8 dtype)"
            )


@dataclass(frozen=True)
class Breakdown:
    """Bytes by component for one context and batch; none of it depends on the GPU."""

    weights: int
    """Model weights as the engine holds them."""
    lora: int
    """LoRA adapters (PEFT) or LoRA slots (vLLM)."""
    kv_context: int
    """KV cache for the conversation tokens of every sequence."""
    kv_rag: int
    """Extra KV cache the retrieved chunks add."""
    activations: int
    """Peak prefill activations and workspace."""
    overhead: int
    """Engine overhead: CUDA context, allocator slack, CUDA graphs."""

    @property
    def kv(self) -> int:
        """All KV cache."""
        return self.kv_context + self.kv_rag

    @property
    def total(self) -> int:
        """Everything the workload needs."""
        return self.weights + self.lora + self.kv + self.activations + self.overhead


@dataclass(frozen=True)
class GpuFit:
    """How the plan sits on one GPU."""

    gpu: str
    """Catalog name."""
    name: str
    """Marketing name."""
    memory_bytes: int
    """Device memory."""
    reserved_bytes: int
    """Memory the workload may not use: vLLM's (1 - gpu_memory_utilization), or macOS's share."""
    free_bytes: int
    """memory - reserved - total; negative when it does not fit."""
    fits: bool
    """total <= memory - reserved."""
    max_context: int
    """Largest `--context` that fits at this batch and RAG size (0 if none)."""
    max_context_limit: str
    """What bounds max_context: `memory`, or `model` (max_position_embeddings)."""
    max_batch: int
    """Largest batch that fits at this context (0 if none)."""
    decode_tokens_per_s: float
    """Bandwidth-bound decode ceiling for all sequences: batch x bandwidth / bytes read per step."""
    bandwidth_bytes_per_s: float
    """Peak memory bandwidth used for the ceiling."""


@dataclass(frozen=True)
class Plan:
    """The answer for one model: counts, a byte breakdown, and one `GpuFit` per GPU."""

    spec: PlanSpec
    """What was asked."""
    model: str
    """Resolved model name."""
    source: str
    """Where its config came from."""
    architecture: str
    """Decoder model_type."""
    compute_dtype: str
    """Dtype of activations and LoRA weights."""
    kv_dtype: str
    """Dtype of the KV cache."""
    params_total: int
    """All parameters (a tied embedding counted once)."""
    params_active: int
    """Parameters one token reads (MoE: shared parts + top-k experts; no vision tower)."""
    params_embedding: int
    """Embedding and untied lm_head parameters."""
    published_params: int
    """The publisher's figure for catalog models; 0 when unknown."""
    weights_file_bytes: int
    """Weights as stored on disk in `quant`."""
    breakdown: Breakdown
    """Bytes by component at the spec's context and batch."""
    kv_bytes_per_token: int
    """KV bytes per token across all layers, before sliding windows cap it."""
    gpus: tuple[GpuFit, ...]
    """One entry per GPU."""
    notes: tuple[str, ...] = field(default=())
    """Caveats that apply to this plan."""

    @property
    def label(self) -> str:
        """`model:quant`, as --compare takes it."""
        return f"{self.model}:{self.spec.quant}"

    @property
    def total_bytes(self) -> int:
        """Everything the workload needs."""
        return self.breakdown.total

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON-ready keys (documented in docs/planner.md)."""
        b = self.breakdown
        s = self.spec
        return {
            "model": self.model,
            "source": self.source,
            "architecture": self.architecture,
            "quant": s.quant,
            "compute_dtype": self.compute_dtype,
            "kv_dtype": self.kv_dtype,
            "engine": s.engine,
            "attention": s.attention,
            "context": s.context,
            "rag_tokens": s.rag_tokens,
            "batch": s.batch,
            "loras": s.loras,
            "lora_rank": s.lora_rank,
            "lora_targets": list(s.lora_targets),
            "params_total": self.params_total,
            "params_active": self.params_active,
            "params_embedding": self.params_embedding,
            "published_params": self.published_params,
            "weights_bytes": b.weights,
            "weights_file_bytes": self.weights_file_bytes,
            "lora_bytes": b.lora,
            "kv_bytes_per_token": self.kv_bytes_per_token,
            "kv_context_bytes": b.kv_context,
            "kv_rag_bytes": b.kv_rag,
            "kv_bytes": b.kv,
            "activation_bytes": b.activations,
            "overhead_bytes": b.overhead,
            "total_bytes": b.total,
            "gpus": [asdict(g) for g in self.gpus],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class _Workload:
    """Everything resolved once; the searches redo only the context- and batch-dependent parts."""

    spec: PlanSpec
    ref: ModelRef
    quant: Quant
    engine: ServingEngine
    weights: int
    expert_bytes: int
    vision_bytes: int
    act_bytes: int
    kv_bytes: int
    lora_per_adapter: int

    @property
    def arch(self) -> Architecture:
        return self.ref.arch

    def breakdown(self, context: int, batch: int) -> Breakdown:
        a, e, s = self.arch, self.engine, self.spec
        seq = context + s.rag_tokens
        kv_ctx = vram.kv_cache_bytes(a, context, batch, self.kv_bytes, e)
        kv_all = vram.kv_cache_bytes(a, seq, batch, self.kv_bytes, e)
        act = vram.activation_bytes(a, seq, batch, self.act_bytes, s.attention, e)
        overhead = (
            e.context_bytes + e.cuda_graph_bytes + math.ceil(e.allocator_slack * (kv_all + act))
        )
        return Breakdown(
            weights=self.weights,
            lora=s.loras * s.lora_rank * self.lora_per_adapter,
            kv_context=kv_ctx,
            kv_rag=kv_all - kv_ctx,
            activations=act,
            overhead=overhead,
        )


def _largest(fits: Callable[[int], bool], low: int, high: int) -> int:
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


def _decode_rate(w: _Workload, gpu: Gpu, b: Breakdown) -> float:
    """batch x bandwidth / bytes read per decode step (weights touched, adapters in use, all KV)."""
    a, s = w.arch, w.spec
    read = w.weights - w.vision_bytes - w.expert_bytes
    if w.expert_bytes:  # B tokens touch E x (1 - (1 - k/E)^B) experts per layer, routing uniformly
        share = 1 - (1 - a.experts_per_token / a.num_experts) ** s.batch
        read += math.ceil(w.expert_bytes * share)
    if s.loras:
        read += b.lora * min(s.batch, s.loras) // s.loras
    read += b.kv
    return s.batch * gpu.bandwidth_bytes_per_s / read


def _fit(w: _Workload, gpu: Gpu) -> GpuFit:
    s, e = w.spec, w.engine
    share = s.gpu_memory_utilization or e.gpu_memory_utilization
    usable = math.floor(gpu.memory_bytes * min(gpu.usable_fraction, share))
    b = w.breakdown(s.context, s.batch)
    memory_context = _largest(lambda c: w.breakdown(c, s.batch).total <= usable, 0, MAX_CONTEXT)
    model_context = max(0, w.arch.max_position_embeddings - s.rag_tokens)
    return GpuFit(
        gpu=gpu.key,
        name=gpu.name,
        memory_bytes=gpu.memory_bytes,
        reserved_bytes=gpu.memory_bytes - usable,
        free_bytes=usable - b.total,
        fits=b.total <= usable,
        max_context=max(0, min(memory_context, model_context)),
        max_context_limit="model" if model_context < memory_context else "memory",
        max_batch=max(
            0, _largest(lambda n: w.breakdown(s.context, n).total <= usable, 1, MAX_BATCH)
        ),
        decode_tokens_per_s=_decode_rate(w, gpu, b),
        bandwidth_bytes_per_s=gpu.bandwidth_bytes_per_s,
    )


def _gpus(spec: PlanSpec, engine: ServingEngine) -> list[Gpu]:
    if not spec.gpus:
        return [g for g in catalog.gpus().values() if engine.key != "vllm" or g.vendor == "nvidia"]
    chosen = list({g.key: g for g in map(catalog.find_gpu, spec.gpus)}.values())  # no repeats
    for g in chosen:
        if engine.key == "vllm" and g.vendor != "nvidia":
            raise InputError(
                f"vLLM does not run on {g.key} ({g.vendor}); use `--engine transformers`"
            )
    return chosen


def _targets(spec: PlanSpec, a: Architecture) -> tuple[str, ...]:
    valid = tensors.lora_modules(a)
    for t in spec.lora_targets:
        if t != "all-linear" and t not in valid:
            raise InputError(
                f"unknown `--lora-targets` {t!r} for {a.model_type}; "
                f"choose from: all-linear, {', '.join(valid)}"
            )
    return spec.lora_targets or ("all-linear",)


def _notes(w: _Workload, q: Quant, file_bytes: int) -> list[str]:
    a, s = w.arch, w.spec
    out = []
    seq = s.context + s.rag_tokens
    if seq > a.max_position_embeddings:
        out.append(
            f"context + RAG is {seq:,} tokens, above the model's max_position_embeddings "
            f"({a.max_position_embeddings:,})"
        )
    if q.kind == "gguf" and s.engine == "transformers":
        out.append(
            f"transformers dequantizes GGUF on load: the {q.ftype} file holds {file_bytes:,} bytes "
            f"of weights, the GPU holds them in {q.compute_dtype}"
        )
    if s.engine == "llamacpp":
        out.append(
            "llama.cpp allocates the KV cache for the whole padded context at load; its compute "
            "buffer peaks with a 512-token micro-batch over a full cache, without flash "
            "attention; `--attention` does not apply"
        )
    if s.engine == "vllm" and s.attention == "eager":
        out.append(
            "vLLM picks its own attention backend; `--attention` applies to transformers only"
        )
    if a.is_moe and s.loras:
        out.append(
            "LoRA on routed experts is not counted; adapters wrap attention and dense/shared MLPs"
        )
    if a.vision is not None:
        out.append("the vision tower is counted in the weights; image-token activations are not")
    if a.sliding_window:
        out.append(
            f"{a.sliding_layers} of {a.num_layers} layers slide over {a.sliding_window} tokens; "
            "their KV stops growing there"
        )
    return out


def plan(spec: PlanSpec) -> Plan:
    """Plan one model: counts, breakdown, and the fit on each requested GPU."""
    spec.validate()
    engine = catalog.find_engine(spec.engine)
    q = catalog.find_quant(spec.quant)
    gpus = _gpus(spec, engine)
    ref = load_model(spec.model)
    a = ref.arch
    targets = _targets(spec, a)
    act_dtype = vram.FP32 if q.compute_dtype == "fp32" else quant.DTYPE_BYTES[q.compute_dtype]
    kv_name = q.compute_dtype if spec.kv_dtype == "auto" else spec.kv_dtype
    lora_dtype = act_dtype
    if engine.key == "llamacpp":
        if q.kind == "linear":
            raise InputError(
                f"`--engine llamacpp` reads GGUF or float weights, not {q.key}; "
                "pick a GGUF type (q4_k_m, q4_1, q8_0) or bf16/fp16"
            )
        # llama.cpp's KV cache defaults to f16 whatever the weights (llama_context_default_params:
        # type_k = type_v = GGML_TYPE_F16); outweigh writes GGUF adapters in f32 (adapters/gguf.py).
        kv_name = "fp16" if spec.kv_dtype == "auto" else spec.kv_dtype
        lora_dtype = vram.FP32
    file_bytes = quant.weight_bytes(a, q)
    resident = q
    if q.kind == "gguf" and engine.key == "transformers":
        resident = catalog.find_quant(q.compute_dtype)
    lora_targets = ("all-linear",) if engine.key == "vllm" else targets
    w = _Workload(
        spec=spec,
        ref=ref,
        quant=resident,
        engine=engine,
        weights=file_bytes if resident is q else quant.weight_bytes(a, resident),
        expert_bytes=quant.expert_weight_bytes(a, resident),
        vision_bytes=quant.vision_weight_bytes(a, resident),
        act_bytes=act_dtype,
        kv_bytes=quant.DTYPE_BYTES[kv_name],
        lora_per_adapter=vram.lora_params_per_adapter(a, lora_targets) * lora_dtype,
    )
    entry = ref.catalog_entry
    return Plan(
        spec=spec,
        model=ref.name,
        source=ref.source,
        architecture=a.model_type,
        compute_dtype=q.compute_dtype,
        kv_dtype=kv_name,
        params_total=tensors.param_count(a),
        params_active=tensors.active_param_count(a),
        params_embedding=tensors.embedding_param_count(a),
        published_params=entry.published_params if entry else 0,
        weights_file_bytes=file_bytes,
        breakdown=w.breakdown(spec.context, spec.batch),
        kv_bytes_per_token=vram.kv_bytes_per_token(a, w.kv_bytes),
        gpus=tuple(_fit(w, g) for g in gpus),
        notes=tuple(_notes(w, q, file_bytes)),
    )


@dataclass(frozen=True)
class TrainFit:
    """How one training step sits on one GPU."""

    gpu: str
    """Catalog name."""
    name: str
    """Marketing name."""
    memory_bytes: int
    """Device memory."""
    reserved_bytes: int
    """Memory training may not use (macOS's share on Apple GPUs)."""
    free_bytes: int
    """memory - reserved - total; negative when it does not fit."""
    fits: bool
    """total <= memory - reserved."""
    max_seq_len: int
    """Longest sequence that fits at batch 1 (0 if none)."""
    max_seq_len_limit: str
    """What bounds max_seq_len: `memory`, or `model` (max_position_embeddings)."""
    max_batch: int
    """Largest batch that fits at the spec's sequence length (0 if none)."""

    @property
    def max_context(self) -> int:
        """max_seq_len, so `compare` ranks training plans as it ranks serving plans."""
        return self.max_seq_len


@dataclass(frozen=True)
class TrainPlan:
    """The answer to "can I train a LoRA / QLoRA of this model, at this length, on this GPU"."""

    spec: PlanSpec
    """What was asked."""
    model: str
    """Resolved model name."""
    source: str
    """Where its config came from."""
    architecture: str
    """Decoder model_type."""
    weights_dtype: str
    """How the base is held: `bf16` (or the --quant float), or `nf4+fp32` for qlora."""
    compute_dtype: str
    """Dtype of activations and logits before the loss upcasts them."""
    adapter_dtype: str
    """Dtype of the LoRA weights, their gradients and (lora) AdamW's moments: fp32."""
    optimizer: str
    """`torch.optim.AdamW` or `bitsandbytes.optim.PagedAdamW8bit`."""
    params_total: int
    """All base parameters."""
    trainable_params: int
    """LoRA parameters: rank x (in + out) over every targeted linear (PEFT's count)."""
    breakdown: training.TrainBreakdown
    """Bytes by component at the spec's sequence length and batch."""
    gpus: tuple[TrainFit, ...]
    """One entry per GPU."""
    notes: tuple[str, ...] = field(default=())
    """Caveats that apply to this plan."""

    @property
    def label(self) -> str:
        """`model:method`, as a comparison lists it."""
        return f"{self.model}:{self.spec.train}"

    @property
    def total_bytes(self) -> int:
        return self.breakdown.total

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON-ready keys (documented in docs/planner.md)."""
        b, s = self.breakdown, self.spec
        return {
            "model": self.model,
            "source": self.source,
            "architecture": self.architecture,
            "train": s.train,
            "seq_len": s.context,
            "batch": s.batch,
            "lora_rank": s.lora_rank,
            "lora_targets": list(s.lora_targets),
            "grad_checkpointing": s.grad_checkpointing,
            "weights_dtype": self.weights_dtype,
            "compute_dtype": self.compute_dtype,
            "adapter_dtype": self.adapter_dtype,
            "optimizer": self.optimizer,
            "params_total": self.params_total,
            "trainable_params": self.trainable_params,
            "weights_bytes": b.weights,
            "lora_bytes": b.lora,
            "gradient_bytes": b.gradients,
            "optimizer_bytes": b.optimizer,
            "activation_bytes": b.activations,
            "logits_bytes": b.logits,
            "overhead_bytes": b.overhead,
            "total_bytes": b.total,
            "gpus": [asdict(g) for g in self.gpus],
            "notes": list(self.notes),
        }


def train_plan(spec: PlanSpec) -> TrainPlan:
    """Plan one LoRA or QLoRA training step of `spec.batch` rows of `spec.context` tokens."""
    spec.validate()
    if not spec.train:
        raise InputError("train_plan needs `--train lora` or `--train qlora`")
    engine = catalog.find_engine("transformers")
    gpus = _gpus(spec, engine)
    ref = load_model(spec.model)
    a = ref.arch
    targets = _targets(spec, a)
    qlora = spec.train == "qlora"
    compute = "fp16" if spec.quant == "fp16" else "bf16" if qlora else spec.quant
    act = quant.DTYPE_BYTES[compute]
    base = 0 if qlora else quant.weight_bytes(a, catalog.find_quant(spec.quant))

    def at(seq: int, batch: int) -> training.TrainBreakdown:
        return training.breakdown(
            a,
            spec.train,
            seq,
            batch,
            spec.lora_rank,
            targets,
            spec.grad_checkpointing,
            act,
            base,
            engine.context_bytes,
            engine.allocator_slack,
        )

    fits = []
    for gpu in gpus:
        usable = math.floor(gpu.memory_bytes * gpu.usable_fraction)
        total = at(spec.context, spec.batch).total
        memory_seq = _largest(lambda n, cap=usable: at(n, 1).total <= cap, 1, MAX_CONTEXT)
        model_seq = a.max_position_embeddings
        fits.append(
            TrainFit(
                gpu=gpu.key,
                name=gpu.name,
                memory_bytes=gpu.memory_bytes,
                reserved_bytes=gpu.memory_bytes - usable,
                free_bytes=usable - total,
                fits=total <= usable,
                max_seq_len=max(0, min(memory_seq, model_seq)),
                max_seq_len_limit="model" if model_seq < memory_seq else "memory",
                max_batch=max(
                    0,
                    _largest(lambda n, cap=usable: at(spec.context, n).total <= cap, 1, MAX_BATCH),
                ),
            )
        )
    notes = []
    if spec.context > a.max_position_embeddings:
        notes.append(
            f"--seq-len {spec.context:,} is above the model's max_position_embeddings "
            f"({a.max_position_embeddings:,})"
        )
    if qlora:
        notes.append(
            "prepare_model_for_kbit_training casts embeddings, lm_head and norms to fp32; "
            "they are counted so"
        )
    if a.is_moe:
        notes.append("LoRA on routed experts is not counted; adapters wrap dense linears")
    return TrainPlan(
        spec=spec,
        model=ref.name,
        source=ref.source,
        architecture=a.model_type,
        weights_dtype="nf4+fp32" if qlora else spec.quant,
        compute_dtype=compute,
        adapter_dtype="fp32",
        optimizer="bitsandbytes.optim.PagedAdamW8bit" if qlora else "torch.optim.AdamW",
        params_total=tensors.param_count(a),
        trainable_params=sum(training.lora_shapes(a, targets, spec.lora_rank)),
        breakdown=at(spec.context, spec.batch),
        gpus=tuple(fits),
        notes=tuple(notes),
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


@dataclass(frozen=True)
class Comparison:
    """Several plans on the same GPUs, and which fits best on each."""

    plans: tuple[Plan | TrainPlan, ...]
    """One plan per model, in the order given (training plans under `--train`)."""
    best: dict[str, str]
    """Per GPU, the label of the plan that fits with the most room for context ("" if none fits)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the plans and the per-GPU pick."""
        return {"plans": [p.to_dict() for p in self.plans], "best": dict(self.best)}


def compare(specs: Sequence[PlanSpec]) -> Comparison:
    """Plan each spec and pick, per GPU, the one that fits with the largest max_context.

    Ties go to the larger free memory. The pick answers "which of these fits best": a model that
    fits with room for a long context beats one that barely fits.
    """
    if len(specs) < 2:
        raise InputError("`--compare` needs at least two MODEL[:QUANT] arguments")
    plans = tuple(train_plan(s) if s.train else plan(s) for s in specs)
    best = {}
    for gpu in dict.fromkeys(f.gpu for p in plans for f in p.gpus):
        fitting = [
            (f.max_context, f.free_bytes, p.label)
            for p in plans
            for f in p.gpus
            if f.gpu == gpu and f.fits
        ]
        best[gpu] = max(fitting)[2] if fitting else ""
    return Comparison(plans=plans, best=best)
