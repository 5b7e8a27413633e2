"""`train_plan(spec)`: one LoRA or QLoRA training step. Does it fit, what does each part cost,
and how long a sequence and how large a batch can go.

The answer is a `TrainPlan`: the byte breakdown `train.breakdown` counts, and one `TrainFit` per
GPU. Standard library only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from outweigh.errors import InputError
from outweigh.plan import catalog, quant, tensors, train
from outweigh.plan.hf_config import load_model
from outweigh.plan.spec import MAX_BATCH, MAX_CONTEXT, PlanSpec, gpus_for, largest, targets_for


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
    breakdown: train.TrainBreakdown
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
            "seq_len": s.seq_len,
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
    """Plan one LoRA or QLoRA training step of `spec.batch` rows of `spec.seq_len` tokens."""
    spec.validate()
    if not spec.train:
        raise InputError("train_plan needs `--train lora` or `--train qlora`")
    engine = catalog.find_engine("transformers")
    gpus = gpus_for(spec, engine)
    ref = load_model(spec.model)
    a = ref.arch
    targets = targets_for(spec, a)
    qlora = spec.train == "qlora"
    compute = "fp16" if spec.quant == "fp16" else "bf16" if qlora else spec.quant
    act = quant.DTYPE_BYTES[compute]
    base = 0 if qlora else quant.weight_bytes(a, catalog.find_quant(spec.quant))

    def at(seq: int, batch: int) -> train.TrainBreakdown:
        return train.breakdown(
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
        total = at(spec.seq_len, spec.batch).total
        memory_seq = largest(lambda n, cap=usable: at(n, 1).total <= cap, 1, MAX_CONTEXT)
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
                    largest(lambda n, cap=usable: at(spec.seq_len, n).total <= cap, 1, MAX_BATCH),
                ),
            )
        )
    notes = []
    if spec.seq_len > a.max_position_embeddings:
        notes.append(
            f"--seq-len {spec.seq_len:,} is above the model's max_position_embeddings "
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
        trainable_params=sum(train.lora_shapes(a, targets, spec.lora_rank)),
        breakdown=at(spec.seq_len, spec.batch),
        gpus=tuple(fits),
        notes=tuple(notes),
    )
