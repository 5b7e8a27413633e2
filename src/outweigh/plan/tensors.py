"""Every weight tensor of an `Architecture` with its shape: counts and bytes are sums over a list.

The list mirrors what transformers 5.x builds for each model_type (tests/plan/test_exact.py checks
each family against `AutoModelForCausalLM.from_config` on the meta device). Two liberties, neither
of which changes a count: fused MoE experts (transformers' `gate_up_proj`, shape (E, 2I, H)) are
listed as separate gate and up tensors, as llama.cpp stores them; names drop the leading `model.`.
Standard library only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from outweigh.plan.hf_config import Architecture, VisionTower

# Kinds of tensor, which decide how each weight format stores it (quant.py):
EMBED = "embed"  # token embedding matrix (V, H)
LM_HEAD = "lm_head"  # output projection (V, H), absent when tied
LINEAR = "linear"  # a decoder projection (out, in): attention, dense or shared-expert MLP
EXPERT = "expert"  # routed experts (E, out, in)
ROUTER = "router"  # MoE router (E, H): kept in high precision by every quantizer
NORM = "norm"  # 1-D norm weights
BIAS = "bias"  # 1-D biases
VISION = "vision"  # vision encoder and projector: never quantized with the decoder


@dataclass(frozen=True)
class Tensor:
    """One weight tensor."""

    name: str
    """transformers-style name without `model.`, e.g. `layers.3.self_attn.q_proj.weight`."""
    shape: tuple[int, ...]
    """torch shape: (out, in) for a linear, (E, out, in) for experts, (n,) for norms and biases."""
    kind: str
    """One of EMBED, LM_HEAD, LINEAR, EXPERT, ROUTER, NORM, BIAS, VISION."""
    layer: int = -1
    """Decoder layer index; -1 outside the layer stack."""
    category: str = "OTHER"
    """llama.cpp's tensor category (ATTENTION_V, FFN_DOWN, ...) that its per-tensor rules key on."""
    module: str = ""
    """For LINEAR weights, the module name LoRA targets (`q_proj`); empty otherwise."""

    @property
    def numel(self) -> int:
        """Number of parameters."""
        return math.prod(self.shape)

    @property
    def row(self) -> int:
        """Length of one row (the input width): what block formats must divide."""
        return self.shape[-1]

    @property
    def rows(self) -> int:
        """Number of rows across all matrices (out x experts)."""
        return self.numel // self.row


def _linear(
    name: str, out: int, inp: int, layer: int, category: str, *, bias: bool = False
) -> list[Tensor]:
    module = name.rsplit(".", 1)[-1]
    w = Tensor(f"{name}.weight", (out, inp), LINEAR, layer, category, module)
    return [w, Tensor(f"{name}.bias", (out,), BIAS, layer)] if bias else [w]


def _norm(name: str, width: int, layer: int = -1) -> Tensor:
    return Tensor(f"{name}.weight", (width,), NORM, layer)


def _attention(a: Architecture, i: int) -> list[Tensor]:
    p = f"layers.{i}.self_attn"
    h, d, kv, hid = a.num_heads, a.head_dim, a.num_kv_heads, a.hidden_size
    if a.is_mla:  # DeepseekV2Attention / DeepseekV3Attention
        qk = a.qk_nope_head_dim + a.qk_rope_head_dim
        out: list[Tensor] = []
        if a.q_lora_rank:
            out += _linear(f"{p}.q_a_proj", a.q_lora_rank, hid, i, "OTHER", bias=a.o_bias)
            out.append(_norm(f"{p}.q_a_layernorm", a.q_lora_rank, i))
            out += _linear(f"{p}.q_b_proj", h * qk, a.q_lora_rank, i, "OTHER")
        else:
            out += _linear(f"{p}.q_proj", h * qk, hid, i, "ATTENTION_Q")
        kv_a = a.kv_lora_rank + a.qk_rope_head_dim
        out += _linear(f"{p}.kv_a_proj_with_mqa", kv_a, hid, i, "OTHER", bias=a.o_bias)
        out.append(_norm(f"{p}.kv_a_layernorm", a.kv_lora_rank, i))
        kv_b = h * (a.qk_nope_head_dim + a.v_head_dim)
        out += _linear(f"{p}.kv_b_proj", kv_b, a.kv_lora_rank, i, "ATTENTION_KV_B")
        out += _linear(f"{p}.o_proj", hid, h * a.v_head_dim, i, "ATTENTION_OUTPUT", bias=a.o_bias)
        return out
    if a.fused_qkv:  # Phi3Attention: one qkv_proj, no biases
        out = _linear(f"{p}.qkv_proj", (h + 2 * kv) * d, hid, i, "ATTENTION_QKV")
    else:
        out = _linear(f"{p}.q_proj", h * d, hid, i, "ATTENTION_Q", bias=a.qkv_bias)
        out += _linear(f"{p}.k_proj", kv * d, hid, i, "ATTENTION_K", bias=a.qkv_bias)
        out += _linear(f"{p}.v_proj", kv * d, hid, i, "ATTENTION_V", bias=a.qkv_bias)
    out += _linear(f"{p}.o_proj", hid, h * d, i, "ATTENTION_OUTPUT", bias=a.o_bias)
    if a.qk_norm:  # RMSNorm over head_dim, shared by all heads (Qwen3, Gemma-3)
        out += [_norm(f"{p}.q_norm", d, i), _norm(f"{p}.k_norm", d, i)]
    return out


def _gated_mlp(p: str, width: int, a: Architecture, i: int, bias: bool = False) -> list[Tensor]:
    hid = a.hidden_size
    if a.fused_gate_up:  # Phi3MLP; llama.cpp stores the fused matrix as ffn_up
        out = _linear(f"{p}.gate_up_proj", 2 * width, hid, i, "FFN_UP")
    else:
        out = _linear(f"{p}.gate_proj", width, hid, i, "FFN_GATE", bias=bias)
        out += _linear(f"{p}.up_proj", width, hid, i, "FFN_UP", bias=bias)
    return out + _linear(f"{p}.down_proj", hid, width, i, "FFN_DOWN", bias=bias)


def _mlp(a: Architecture, i: int) -> list[Tensor]:
    p = f"layers.{i}.mlp"
    if not (a.moe_layers and a.moe_layers[i]):
        return _gated_mlp(p, a.intermediate_size, a, i, bias=a.mlp_bias)
    e, w, hid = a.num_experts, a.moe_intermediate_size, a.hidden_size
    out = [
        Tensor(f"{p}.gate.weight", (e, hid), ROUTER, i),
        Tensor(f"{p}.experts.gate_proj", (e, w, hid), EXPERT, i, "FFN_GATE"),
        Tensor(f"{p}.experts.up_proj", (e, w, hid), EXPERT, i, "FFN_UP"),
        Tensor(f"{p}.experts.down_proj", (e, hid, w), EXPERT, i, "FFN_DOWN"),
    ]
    if a.shared_intermediate_size:
        name = "shared_expert" if a.shared_expert_gate else "shared_experts"
        out += _gated_mlp(f"{p}.{name}", a.shared_intermediate_size, a, i)
    if a.shared_expert_gate:  # Qwen2MoeSparseMoeBlock: nn.Linear(H, 1, bias=False)
        out += _linear(f"{p}.shared_expert_gate", 1, hid, i, "FFN_GATE")
    return out


def _vision(v: VisionTower) -> list[Tensor]:
    """SiglipVisionModel + Gemma3MultiModalProjector, as transformers builds them."""
    h, m = v.hidden_size, v.intermediate_size

    def vec(name: str, n: int) -> Tensor:
        return Tensor(name, (n,), VISION)

    def mat(name: str, *shape: int) -> Tensor:
        return Tensor(name, shape, VISION)

    p = "vision_tower"
    out = [
        mat(
            f"{p}.embeddings.patch_embedding.weight", h, v.num_channels, v.patch_size, v.patch_size
        ),
        vec(f"{p}.embeddings.patch_embedding.bias", h),
        mat(f"{p}.embeddings.position_embedding.weight", (v.image_size // v.patch_size) ** 2, h),
    ]
    for i in range(v.num_layers):
        q = f"{p}.encoder.layers.{i}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            out += [mat(f"{q}.self_attn.{proj}.weight", h, h), vec(f"{q}.self_attn.{proj}.bias", h)]
        out += [mat(f"{q}.mlp.fc1.weight", m, h), vec(f"{q}.mlp.fc1.bias", m)]
        out += [mat(f"{q}.mlp.fc2.weight", h, m), vec(f"{q}.mlp.fc2.bias", h)]
        for ln in ("layer_norm1", "layer_norm2"):
            out += [vec(f"{q}.{ln}.weight", h), vec(f"{q}.{ln}.bias", h)]
    out += [vec(f"{p}.post_layernorm.weight", h), vec(f"{p}.post_layernorm.bias", h)]
    if v.use_head:  # SiglipMultiheadAttentionPoolingHead
        out += [
            mat(f"{p}.head.probe", 1, 1, h),
            mat(f"{p}.head.attention.in_proj_weight", 3 * h, h),
        ]
        out += [vec(f"{p}.head.attention.in_proj_bias", 3 * h)]
        out += [mat(f"{p}.head.attention.out_proj.weight", h, h)]
        out += [vec(f"{p}.head.attention.out_proj.bias", h)]
        out += [vec(f"{p}.head.layernorm.weight", h), vec(f"{p}.head.layernorm.bias", h)]
        out += [mat(f"{p}.head.mlp.fc1.weight", m, h), vec(f"{p}.head.mlp.fc1.bias", m)]
        out += [mat(f"{p}.head.mlp.fc2.weight", h, m), vec(f"{p}.head.mlp.fc2.bias", h)]
    out += [mat("multi_modal_projector.mm_input_projection_weight", h, v.projector_out)]
    out += [vec("multi_modal_projector.mm_soft_emb_norm.weight", h)]
    return out


@cache
def weight_tensors(a: Architecture) -> tuple[Tensor, ...]:
    """All weight tensors of the model, in checkpoint order (embeddings, layers, norm, lm_head)."""
    hid = a.hidden_size
    out = [Tensor("embed_tokens.weight", (a.vocab_size, hid), EMBED, -1, "TOKEN_EMBD")]
    for i in range(a.num_layers):
        out += _attention(a, i)
        out += _mlp(a, i)
        out.append(_norm(f"layers.{i}.input_layernorm", hid, i))
        out.append(_norm(f"layers.{i}.post_attention_layernorm", hid, i))
        if a.sandwich_norms:
            out.append(_norm(f"layers.{i}.pre_feedforward_layernorm", hid, i))
            out.append(_norm(f"layers.{i}.post_feedforward_layernorm", hid, i))
    out.append(_norm("norm", hid))
    if not a.tie_word_embeddings:
        out.append(Tensor("lm_head.weight", (a.vocab_size, hid), LM_HEAD, -1, "OUTPUT"))
    if a.vision is not None:
        out += _vision(a.vision)
    return tuple(out)


def param_count(a: Architecture) -> int:
    """Total parameters, counting a tied embedding once (as `model.parameters()` does)."""
    return sum(t.numel for t in weight_tensors(a))


def active_param_count(a: Architecture) -> int:
    """Parameters one token touches: all but unrouted experts and the vision tower."""
    total = 0
    for t in weight_tensors(a):
        if t.kind == EXPERT:
            total += t.numel * a.experts_per_token // a.num_experts
        elif t.kind != VISION:
            total += t.numel
    return total


def embedding_param_count(a: Architecture) -> int:
    """Parameters in the embedding matrix and (untied) lm_head."""
    return sum(t.numel for t in weight_tensors(a) if t.kind in (EMBED, LM_HEAD))


def lora_modules(a: Architecture) -> tuple[str, ...]:
    """Module names LoRA can target in this architecture, in the order they appear."""
    seen: dict[str, None] = {}
    for t in weight_tensors(a):
        if t.kind == LINEAR:
            seen.setdefault(t.module)
    return tuple(seen)
