"""What LoRA and QLoRA training hold on the GPU: base weights, adapters, gradients, optimizer
state, activations and logits. Arithmetic over an `Architecture`; standard library only.

The exactly countable parts follow the libraries to the byte (tests/plan/test_exact.py checks
them against PEFT, torch AdamW, bitsandbytes' 8-bit AdamW and Params4bit):
- LoRA weights, gradients and AdamW moments are fp32: PEFT upcasts adapter weights of a 16-bit
  base to fp32 (`autocast_adapter_dtype=True`), and AdamW keeps its moments in the parameter's
  dtype.
- QLoRA stores each decoder linear in nf4 with double quantization (bitsandbytes Params4bit,
  blocksize 64); `prepare_model_for_kbit_training` casts every other 16-bit parameter
  (embeddings, lm_head, norms, biases) to fp32.
- bitsandbytes' 8-bit AdamW keeps two uint8 moments with one fp32 absmax per 256 elements for a
  tensor of 4096 elements or more (`min_8bit_size`), two fp32 moments below that, and two
  256-entry fp32 quantization maps shared by all parameters.

Activations are an estimate from the tensors autograd saves in one decoder layer; the GPU
calibration (benchmarks/gpu_calibrate.py) is what checks it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from outweigh.plan.hf_config import Architecture
from outweigh.plan.tensors import EXPERT, LINEAR, weight_tensors

METHODS = ("lora", "qlora")
"""`--train` choices."""
FP32 = 4
NF4_BLOCK = 64
"""Params4bit's blocksize: one absmax per 64 weights."""
NESTED_BLOCK = 256
"""Double quantization: the uint8 absmax values are quantized again in blocks of 256, each with
an fp32 absmax."""
NF4_EXTRA_BYTES = 16 * FP32 + 256 * FP32 + FP32
"""Per quantized tensor: the 16-value nf4 code, the 256-value code of the nested absmax, and
the fp32 offset subtracted before nesting."""
ADAM8_MIN = 4096
"""bitsandbytes `min_8bit_size`: smaller tensors keep 32-bit optimizer state."""
ADAM8_BLOCK = 256
"""Block size of the 8-bit optimizer's absmax."""
ADAM8_QMAPS = 2 * 256 * FP32
"""Two 256-entry fp32 quantization maps (first and second moment), shared by all parameters."""


def nf4_bytes(numel: int) -> int:
    """Bytes of one Params4bit with double quantization: packed nf4 (two per byte), a uint8
    absmax per 64 weights, an fp32 absmax per 256 of those, and the codes and offset."""
    blocks = math.ceil(numel / NF4_BLOCK)
    return math.ceil(numel / 2) + blocks + math.ceil(blocks / NESTED_BLOCK) * FP32 + NF4_EXTRA_BYTES


def qlora_weight_bytes(a: Architecture) -> int:
    """Base weights under QLoRA: decoder linears in nf4, everything else in fp32 (the cast
    `prepare_model_for_kbit_training` makes). Routed experts are 3-D parameters, not
    nn.Linear, so bitsandbytes leaves them in 16 bits and they are counted at 2 bytes."""
    total = 0
    for t in weight_tensors(a):
        if t.kind == LINEAR:
            total += nf4_bytes(t.numel)
        elif t.kind == EXPERT:
            total += t.numel * 2
        else:
            total += t.numel * FP32
    return total


def lora_shapes(a: Architecture, targets: tuple[str, ...], rank: int) -> list[int]:
    """Element counts of every LoRA tensor: A (rank x in) and B (out x rank) per targeted
    linear, in model order (PEFT's `all-linear` skips the output layer, as here)."""
    wanted = set(targets)
    out = []
    for t in weight_tensors(a):
        if t.kind == LINEAR and ("all-linear" in wanted or t.module in wanted):
            out += [rank * t.row, t.rows * rank]
    return out


def adamw_state_bytes(numels: list[int], dtype_bytes: int = FP32) -> int:
    """torch AdamW: exp_avg and exp_avg_sq in the parameter's dtype (the step counters are CPU
    scalars unless `capturable`)."""
    return sum(2 * n * dtype_bytes for n in numels)


def adamw8bit_state_bytes(numels: list[int]) -> int:
    """bitsandbytes 8-bit AdamW (paged or not: paging moves the bytes, it does not shrink them)."""
    total = 0
    for n in numels:
        if n >= ADAM8_MIN:
            total += 2 * n + 2 * math.ceil(n / ADAM8_BLOCK) * FP32
        else:
            total += 2 * n * FP32
    return total + (ADAM8_QMAPS if any(n >= ADAM8_MIN for n in numels) else 0)


def saved_bytes_per_token(a: Architecture, act_bytes: int, lora_modules: set[str]) -> int:
    """Bytes one token leaves saved for the backward pass in one decoder layer (no
    checkpointing), with LoRA on `lora_modules` (fp32 adapters, dropout on).

    Autograd saves: each RMSNorm's input upcast to fp32 (4h); for each LoRA-wrapped linear, its
    input cast to fp32 for the adapter plus the dropout mask (5 x in; a frozen base linear saves
    nothing, its input gradient needs only the weight); sdpa/flash attention's q, k, v and
    output plus an fp32 logsumexp per head; the MLP's gate and up outputs and act(gate)
    (3 x I, in the compute dtype). MoE layers hold their shared expert and one routed expert.
    """
    h, d, kv, heads = a.hidden_size, a.head_dim, a.num_kv_heads, a.num_heads
    inter = a.intermediate_size
    if a.is_moe and a.moe_layers and all(a.moe_layers):
        inter = a.shared_intermediate_size + a.moe_intermediate_size
    norms = 2 * h * FP32
    attention = (2 * heads * d + 2 * kv * d) * act_bytes + heads * FP32
    mlp = 3 * inter * act_bytes
    lora = 0
    widths = {"q_proj": h, "k_proj": h, "v_proj": h, "o_proj": heads * d}
    widths.update(gate_proj=h, up_proj=h, down_proj=inter)
    everything = "all-linear" in lora_modules
    for module, width in widths.items():
        if everything or module in lora_modules:
            lora += width * (FP32 + 1)
    return norms + attention + mlp + lora


@dataclass(frozen=True)
class TrainBreakdown:
    """Bytes by component of one training step; none of it depends on the GPU."""

    weights: int
    """Base weights: bf16 for lora; nf4 linears (with absmax and double-quant storage) and
    fp32 embeddings, lm_head and norms for qlora."""
    lora: int
    """LoRA weights, fp32."""
    gradients: int
    """Their gradients, fp32 (the base is frozen: no gradient)."""
    optimizer: int
    """AdamW state: two fp32 moments (lora), or bitsandbytes' paged 8-bit moments (qlora)."""
    activations: int
    """Saved for backward: every layer's saved tensors, or with checkpointing each layer's input
    plus one layer recomputed; plus the largest transient (qlora: one dequantized weight)."""
    logits: int
    """Logits and loss at the sequence length: the compute-dtype logits, their fp32 upcast and
    the fp32 log-softmax the loss keeps for backward."""
    overhead: int
    """CUDA context and allocator slack on the activations."""

    @property
    def total(self) -> int:
        return (
            self.weights
            + self.lora
            + self.gradients
            + self.optimizer
            + self.activations
            + self.logits
            + self.overhead
        )


def breakdown(
    a: Architecture,
    method: str,
    seq: int,
    batch: int,
    rank: int,
    targets: tuple[str, ...],
    checkpointing: bool,
    act_bytes: int,
    base_weight_bytes: int,
    context_bytes: int,
    allocator_slack: float,
) -> TrainBreakdown:
    """One training step of `batch` rows of `seq` tokens. `base_weight_bytes` is the 16-bit
    base for lora (qlora counts its own)."""
    shapes = lora_shapes(a, targets, rank)
    params = sum(shapes)
    tokens = seq * batch
    h = a.hidden_size
    per_layer = saved_bytes_per_token(a, act_bytes, set(targets))
    if checkpointing:
        # each layer keeps its input; backward recomputes one layer at a time, which then
        # holds its saved tensors plus the hidden-state gradient flowing down (2 x h)
        saved = a.num_layers * h * act_bytes + per_layer + 2 * h * act_bytes
    else:
        saved = a.num_layers * per_layer
    activations = tokens * saved
    if method == "qlora":
        # bitsandbytes dequantizes one weight to the compute dtype for each matmul
        activations += max(t.numel for t in weight_tensors(a) if t.kind == LINEAR) * act_bytes
    logits = tokens * a.vocab_size * (act_bytes + 2 * FP32)
    weights = qlora_weight_bytes(a) if method == "qlora" else base_weight_bytes
    optimizer = adamw8bit_state_bytes(shapes) if method == "qlora" else adamw_state_bytes(shapes)
    return TrainBreakdown(
        weights=weights,
        lora=params * FP32,
        gradients=params * FP32,
        optimizer=optimizer,
        activations=activations,
        logits=logits,
        overhead=context_bytes + math.ceil(allocator_slack * (activations + logits)),
    )
