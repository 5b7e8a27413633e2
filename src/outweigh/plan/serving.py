"""`plan(spec)`: serving a model. Does it fit, what does each part cost, and how far can
context and batch go.

The answer is a `Plan` with a byte breakdown that does not depend on the GPU, and one `GpuFit`
per GPU (fits, largest context and batch, decode ceiling). Standard library only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from outweigh.errors import InputError
from outweigh.plan import catalog, quant, tensors, vram
from outweigh.plan.catalog import Gpu, Quant, ServingEngine
from outweigh.plan.hf_config import Architecture, ModelRef, load_model
from outweigh.plan.spec import MAX_BATCH, MAX_CONTEXT, PlanSpec, gpus_for, largest, targets_for


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
    memory_context = largest(lambda c: w.breakdown(c, s.batch).total <= usable, 0, MAX_CONTEXT)
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
            0, largest(lambda n: w.breakdown(s.context, n).total <= usable, 1, MAX_BATCH)
        ),
        decode_tokens_per_s=_decode_rate(w, gpu, b),
        bandwidth_bytes_per_s=gpu.bandwidth_bytes_per_s,
    )


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
    gpus = gpus_for(spec, engine)
    ref = load_model(spec.model)
    a = ref.arch
    targets = targets_for(spec, a)
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
