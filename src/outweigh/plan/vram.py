"""What a running model holds besides its weights: KV cache, LoRA adapters and prefill activations.

Each function is arithmetic over an `Architecture` and says which engine behaviour it follows.
Standard library only.
"""

from __future__ import annotations

import math

from outweigh.plan.catalog import ServingEngine
from outweigh.plan.hf_config import Architecture
from outweigh.plan.tensors import LINEAR, weight_tensors

FP32 = 4
"""Bytes of a float32, the dtype of logits and of RMSNorm's internal upcast."""


def kv_bytes_per_token_per_layer(a: Architecture, kv_dtype_bytes: int) -> int:
    """Bytes one token adds to one layer's cache.

    Standard attention caches K and V: 2 x kv_heads x head_dim. MLA caches its compressed latent
    and the shared RoPE key instead, kv_lora_rank + qk_rope_head_dim; transformers 5.x does this
    too (DeepseekV2Attention updates the cache "while the latent KV is still compressed"), as vLLM's
    MLAAttentionSpec does.
    """
    if a.is_mla:
        return (a.kv_lora_rank + a.qk_rope_head_dim) * kv_dtype_bytes
    return 2 * a.num_kv_heads * a.head_dim * kv_dtype_bytes


def kv_bytes_per_token(a: Architecture, kv_dtype_bytes: int) -> int:
    """Bytes one token adds across all layers, before any sliding window caps it.

    2 x layers x kv_heads x head_dim x dtype bytes; e.g. Qwen2.5-32B in bf16: 2 x 64 x 8 x 128 x 2 =
    262144 B = 256 KiB per token.
    """
    return a.num_layers * kv_bytes_per_token_per_layer(a, kv_dtype_bytes)


def cached_tokens(a: Architecture, layer_type: str, seq: int, engine: ServingEngine) -> int:
    """Tokens one sequence of `seq` tokens keeps in one layer's cache under `engine`.

    transformers: DynamicSlidingWindowLayer keeps the last `sliding_window - 1` tokens
    (cache_utils.py), full layers keep all of them.
    vLLM: pages of `block_size` tokens; a sliding layer holds `sliding_window - 1` tokens plus one
    chunked-prefill budget, plus one page because the window need not start on a page boundary
    (vllm/v1/kv_cache_interface.py, SlidingWindowSpec.max_memory_usage_bytes).
    llama.cpp: the context rounded up to `block_size` (256) cells in every layer, allocated at load
    (src/llama-context.cpp pads n_ctx; swa_full is llama.cpp's default, so sliding layers too).
    """
    if seq <= 0:
        return 0
    if engine.key == "llamacpp":
        # Every layer, sliding ones included (swa_full), holds the whole padded context.
        return math.ceil(seq / engine.block_size) * engine.block_size
    if engine.key == "vllm":
        bs = engine.block_size
        if layer_type == "sliding":
            live = min(a.sliding_window - 1 + engine.max_num_batched_tokens, seq)
            return (math.ceil(live / bs) + 1) * bs
        return math.ceil(seq / bs) * bs
    if layer_type == "sliding":
        return min(seq, a.sliding_window - 1)
    return seq


def kv_cache_bytes(
    a: Architecture, seq: int, batch: int, kv_dtype_bytes: int, engine: ServingEngine
) -> int:
    """Bytes of the KV cache for `batch` sequences of `seq` tokens each."""
    per_layer = kv_bytes_per_token_per_layer(a, kv_dtype_bytes)
    full = cached_tokens(a, "full", seq, engine)
    sliding = cached_tokens(a, "sliding", seq, engine) if a.sliding_window else 0
    tokens = sum(sliding if t == "sliding" else full for t in a.layer_types)
    return batch * per_layer * tokens


def lora_params_per_adapter(a: Architecture, targets: tuple[str, ...]) -> int:
    """Parameters of one adapter of rank 1: sum of (in + out) over every targeted linear.

    LoRA adds A (r x in) and B (out x r) beside each targeted weight (Hu et al. 2021), so an adapter
    of rank r has r times this many parameters. Routed experts and routers are not counted (PEFT
    wraps them only through `target_parameters`).
    """
    wanted = set(targets)
    return sum(
        t.shape[0] + t.shape[1]
        for t in weight_tensors(a)
        if t.kind == LINEAR and ("all-linear" in wanted or t.module in wanted)
    )


def lora_bytes(
    a: Architecture,
    adapters: int,
    rank: int,
    targets: tuple[str, ...],
    dtype_bytes: int,
    engine: ServingEngine,
) -> int:
    """Bytes the adapters take on the GPU.

    transformers + PEFT: each loaded adapter, rank x (in + out) per targeted module per layer.
    vLLM: `max_loras` slots of `max_lora_rank`, preallocated for every LoRA-capable linear whatever
    the adapters target (LoRAModelManager wraps all supported modules; create_lora_weights stacks
    (max_loras, rank, in) and (max_loras, out, rank) per module). Here max_loras = adapters and
    max_lora_rank = rank.
    """
    if adapters == 0:
        return 0
    if engine.key == "vllm":
        targets = ("all-linear",)
    return adapters * rank * lora_params_per_adapter(a, targets) * dtype_bytes


def _transient_width(a: Architecture, fused_kernels: bool) -> int:
    """Peak extra activations per token inside one layer, in elements (the residual excluded).

    Attention: q, k, v, their rotated copies, K/V repeated to all heads for GQA, and the output
    (MLA: q, the expanded per-head K and V, and the output). MLP: gate, act(gate) and up live
    together before the product (3 x I); a MoE layer holds its shared expert and one routed expert.
    Eager RMSNorm upcasts to float32 (two fp32 copies = 4 elements of bf16 per hidden unit); vLLM's
    fused kernels do not.
    """
    h, d, kv = a.num_heads, a.head_dim, a.num_kv_heads
    if a.is_mla:
        qk = a.qk_nope_head_dim + a.qk_rope_head_dim
        attn = h * qk * 2 + h * (qk + a.v_head_dim) + a.kv_lora_rank + h * a.v_head_dim
    else:
        attn = 2 * h * d + 4 * kv * d + (2 * h * d if kv < h else 0) + h * d
    widths = [attn]
    if not a.moe_layers or not all(a.moe_layers):  # some layer has a dense MLP
        widths.append(3 * a.intermediate_size)
    if a.is_moe:
        widths.append(3 * (a.shared_intermediate_size + a.moe_intermediate_size) + a.hidden_size)
    if not fused_kernels:
        widths.append(4 * a.hidden_size)
    return max(widths)


def activation_bytes(
    a: Architecture,
    seq: int,
    batch: int,
    act_dtype_bytes: int,
    attention: str,
    engine: ServingEngine,
) -> int:
    """Peak prefill activations and workspace: the largest transient of one layer, plus logits
    (llama.cpp: `llamacpp_compute_bytes`).

    transformers prefills all batch x seq tokens in one forward pass. Eager attention materialises
    the scores (B, heads, T, T) in the compute dtype, adds the mask into a copy and softmaxes in
    fp32 (eager_attention_forward), so (2 x dtype + 4) bytes per score; sdpa and flash-attention
    stream them and keep O(T). generate() computes logits for the last position only, in fp32.
    vLLM's profiling run pushes `max_num_batched_tokens` tokens through flash attention and samples
    `max_num_seqs` rows of fp32 logits; whatever it measures is held back from the KV pool.
    """
    if seq <= 0 or batch <= 0:
        return 0
    if engine.key == "llamacpp":
        return llamacpp_compute_bytes(a, seq, batch, engine)
    vllm = engine.key == "vllm"
    tokens = engine.max_num_batched_tokens if vllm else batch * seq
    residual = 2 * a.hidden_size  # the residual stream and its normed copy
    per_token = (residual + _transient_width(a, fused_kernels=vllm)) * act_dtype_bytes
    scores = 0
    if attention == "eager" and not vllm:
        scores = batch * a.num_heads * seq * seq * (2 * act_dtype_bytes + FP32)
    logit_rows = engine.max_num_seqs if vllm else batch
    return tokens * per_token + scores + logit_rows * a.vocab_size * FP32


def llamacpp_compute_bytes(a: Architecture, seq: int, batch: int, engine: ServingEngine) -> int:
    """llama.cpp's compute buffer: the graph for one micro-batch, reserved once at load.

    ggml computes activations in fp32. The reserve runs n_ubatch tokens (`max_num_batched_tokens`,
    fewer when the whole context is shorter) with as many output rows (`max_num_seqs`) of fp32
    logits (llama_context::sched_reserve). Without flash attention, llama-cpp-python's default,
    each layer's fp32 scores are n_head x n_kv x n_ubatch, n_kv the padded context of all
    sequences (llm_graph_context::build_attn_mha).
    """
    cells = batch * cached_tokens(a, "full", seq, engine)
    tokens = min(engine.max_num_batched_tokens, cells)
    per_token = (2 * a.hidden_size + _transient_width(a, fused_kernels=False)) * FP32
    scores = a.num_heads * cells * tokens * FP32
    logit_rows = min(engine.max_num_seqs, tokens)
    return tokens * per_token + scores + logit_rows * a.vocab_size * FP32
