"""Bytes per weight tensor in each format: float dtypes, packed int4/int8/fp8 linears, GGUF.

The GGUF path reproduces llama.cpp's per-tensor type choice (`llama_tensor_get_type` in
src/llama-quant.cpp) for the three file types the catalog offers, so the planner's Q4_K_M or Q4_1
size of a model is the size of the tensor data `llama-quantize` writes (tests/plan/test_exact.py
checks both bundled GGUF files to the byte). Standard library only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from outweigh.plan import catalog
from outweigh.plan.catalog import Quant
from outweigh.plan.hf_config import Architecture
from outweigh.plan.tensors import BIAS, EXPERT, LINEAR, NORM, ROUTER, VISION, Tensor, weight_tensors

DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1}
"""Bytes per element of the float dtypes the planner speaks of."""

# llama.cpp tensor_type_fallback: a k-quant whose 256-wide block does not divide a row falls back to
# a 32-wide type; if that does not divide either, the tensor is stored as F16.
GGUF_FALLBACK = {"Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}

# llama.cpp categories that llama_tensor_get_type treats like attn_v (category_is_attn_v).
ATTN_V_LIKE = ("ATTENTION_V", "ATTENTION_QKV", "ATTENTION_KV_B")


@dataclass(frozen=True)
class TensorBytes:
    """One tensor's storage in a format."""

    tensor: Tensor
    """The tensor."""
    dtype: str
    """How it is stored: a float dtype, `int4+g128`-style packed, or a ggml type name."""
    nbytes: int
    """Bytes on disk and in memory."""


def _use_more_bits(i: int, n: int) -> bool:
    """llama.cpp's pick of layers that get the higher-precision type in *_M mixtures.

    The first and last eighth of the layers, and every third one in between (`use_more_bits`).
    """
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _gguf_row_bytes(type_name: str, row: int) -> int:
    t = catalog.gguf_types()[type_name]
    return row // t.block * t.bytes


def _divides(type_name: str, row: int) -> bool:
    return row % catalog.gguf_types()[type_name].block == 0


def gguf_types_for(a: Architecture, q: Quant) -> list[tuple[Tensor, str]]:
    """The ggml type llama-quantize gives each tensor for `q.ftype` (Q4_K_M, Q4_1 or Q8_0)."""
    base = q.base_type
    tensors = weight_tensors(a)
    n_expert = a.num_experts
    # LLM_TYPE_70B: llama.cpp sizes llama and qwen2 models with 80 layers as "70B" and bumps attn_v.
    is_70b = a.model_type in ("llama", "qwen2") and a.num_layers == 80
    n_attn_v = sum(t.category in ATTN_V_LIKE for t in tensors)
    i_attn_v = i_ffn_down = 0
    out = []
    for t in tensors:
        if t.kind == VISION:
            out.append((t, "F16"))  # the vision tower ships in a separate mmproj file, usually F16
            continue
        # tensor_allows_quantization: only 2-D and 3-D weights; norms, biases and routers stay F32
        if t.kind in (NORM, BIAS, ROUTER) or len(t.shape) < 2:
            out.append((t, "F32"))
            continue
        new = base
        cat = t.category
        if cat == "OUTPUT" or (a.tie_word_embeddings and cat == "TOKEN_EMBD"):
            if not _divides(base, t.row):
                new = "Q8_0"
            elif base != "Q8_0":
                new = "Q6_K"
        elif cat in ATTN_V_LIKE:
            if q.ftype == "Q4_K_M" and _use_more_bits(i_attn_v, n_attn_v):
                new = "Q6_K"
            if is_70b and new in ("Q3_K", "Q4_K"):
                new = "Q5_K"
            if n_expert == 8:  # "for the 8-expert model, bumping this to Q8_0 trades just ~128MB"
                new = "Q8_0"
            i_attn_v += 1
        elif cat == "ATTENTION_K" and n_expert == 8:
            new = "Q8_0"
        elif cat == "FFN_DOWN":
            # MoE files name the layer (blk.N.), dense ones count in order; n = layer count
            i_layer = t.layer if n_expert > 1 else i_ffn_down
            if q.ftype == "Q4_K_M" and _use_more_bits(i_layer, a.num_layers):
                new = "Q6_K"
            i_ffn_down += 1
        elif cat == "ATTENTION_OUTPUT" and n_expert == 8 and q.ftype == "Q4_K_M":
            new = "Q5_K"
        if not _divides(new, t.row):
            new = GGUF_FALLBACK.get(new, "F16")
            if not _divides(new, t.row):
                new = "F16"
        out.append((t, new))
    return out


def _packed_bytes(t: Tensor, q: Quant) -> int:
    """A linear (or expert stack) packed at q.bits with its scales, zeros and indices."""
    experts = t.shape[0] if t.kind == EXPERT else 1
    rows, row = t.rows, t.row  # output rows (x experts), input width
    bits = t.numel * q.bits
    if q.group_size:
        bits += math.ceil(row / q.group_size) * rows * (q.scale_bits + q.zero_bits)
    bits += rows * q.row_scale_bits
    bits += experts * (q.tensor_scale_bits + row * q.input_index_bits)
    return math.ceil(bits / 8)


def tensor_bytes(a: Architecture, q: Quant) -> list[TensorBytes]:
    """How `q` stores every weight tensor of `a`."""
    if q.kind == "gguf":
        return [
            TensorBytes(t, ty, t.rows * _gguf_row_bytes(ty, t.row))
            for t, ty in gguf_types_for(a, q)
        ]
    dtype = q.dtype if q.kind == "float" else q.compute_dtype
    label = f"int{q.bits}" + (f"+g{q.group_size}" if q.group_size else "")
    out = []
    for t in weight_tensors(a):
        if t.kind == ROUTER and a.router_fp32:
            out.append(TensorBytes(t, "fp32", t.numel * DTYPE_BYTES["fp32"]))
        elif q.kind == "linear" and t.kind in (LINEAR, EXPERT):
            out.append(TensorBytes(t, label, _packed_bytes(t, q)))
        else:
            out.append(TensorBytes(t, dtype, t.numel * DTYPE_BYTES[dtype]))
    return out


def weight_bytes(a: Architecture, q: Quant) -> int:
    """Total bytes of the model's weights stored as `q`."""
    return sum(tb.nbytes for tb in tensor_bytes(a, q))


def expert_weight_bytes(a: Architecture, q: Quant) -> int:
    """Bytes of the routed experts alone (the part a decode step reads only in part)."""
    return sum(tb.nbytes for tb in tensor_bytes(a, q) if tb.tensor.kind == EXPERT)


def vision_weight_bytes(a: Architecture, q: Quant) -> int:
    """Bytes of the vision tower (not read when decoding text)."""
    return sum(tb.nbytes for tb in tensor_bytes(a, q) if tb.tensor.kind == VISION)
