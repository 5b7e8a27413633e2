"""Helpers for the planner tests: tiny configs of every supported family, models built cheaply."""

from __future__ import annotations

from typing import Any

_BASE = {
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "vocab_size": 128,
    "max_position_embeddings": 256,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
}
_MLA = {
    "num_key_value_heads": 4,  # DeepSeek sets it to the head count; MLA repeats K/V by the ratio
    "kv_lora_rank": 32,
    "qk_nope_head_dim": 16,
    "qk_rope_head_dim": 8,
    "v_head_dim": 16,
    "n_routed_experts": 4,
    "n_shared_experts": 1,
    "num_experts_per_tok": 2,
    "moe_intermediate_size": 24,
    "first_k_dense_replace": 1,
}

TINY: dict[str, dict[str, Any]] = {
    "llama": {"model_type": "llama", **_BASE},
    "llama-biases": {"model_type": "llama", **_BASE, "attention_bias": True, "mlp_bias": True},
    "llama-tied": {"model_type": "llama", **_BASE, "tie_word_embeddings": True},
    "mistral-sliding": {"model_type": "mistral", **_BASE, "sliding_window": 8},
    "mixtral": {"model_type": "mixtral", **_BASE, "num_local_experts": 4, "num_experts_per_tok": 2},
    "qwen2": {"model_type": "qwen2", **_BASE},
    "qwen2-sliding": {
        "model_type": "qwen2",
        **_BASE,
        "use_sliding_window": True,
        "sliding_window": 8,
        "max_window_layers": 2,
    },
    "qwen2_moe": {
        "model_type": "qwen2_moe",
        **_BASE,
        "num_experts": 4,
        "num_experts_per_tok": 2,
        "moe_intermediate_size": 32,
        "shared_expert_intermediate_size": 48,
        "decoder_sparse_step": 2,
        "mlp_only_layers": [3],
    },
    "qwen3": {"model_type": "qwen3", **_BASE},
    "qwen3_moe": {
        "model_type": "qwen3_moe",
        **_BASE,
        "num_experts": 4,
        "num_experts_per_tok": 2,
        "moe_intermediate_size": 32,
    },
    "gemma": {"model_type": "gemma", **_BASE},
    "gemma2": {"model_type": "gemma2", **_BASE, "sliding_window": 8},
    "gemma3_text": {
        "model_type": "gemma3_text",
        **_BASE,
        "sliding_window": 8,
        "sliding_window_pattern": 2,
    },
    "phi3": {"model_type": "phi3", **_BASE, "sliding_window": 8},
    "deepseek_v2": {"model_type": "deepseek_v2", **_BASE, **_MLA, "q_lora_rank": None},
    "deepseek_v3": {
        "model_type": "deepseek_v3",
        **_BASE,
        **_MLA,
        "q_lora_rank": 24,
        "n_group": 2,
        "topk_group": 1,
    },
    "gemma3-multimodal": {
        "model_type": "gemma3",
        "text_config": {**_BASE, "sliding_window": 8},
        "vision_config": {
            "hidden_size": 32,
            "intermediate_size": 40,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 56,
            "patch_size": 14,
            "vision_use_head": False,
        },
        "mm_tokens_per_image": 4,
    },
    "gemma3-multimodal-head": {
        "model_type": "gemma3",
        "text_config": {**_BASE, "sliding_window": 8},
        "vision_config": {
            "hidden_size": 32,
            "intermediate_size": 40,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 28,
            "patch_size": 14,
            "vision_use_head": True,
        },
        "mm_tokens_per_image": 4,
    },
}
"""One small config per supported model_type (and variant), for exactness against transformers."""

DENSE = (
    "llama",
    "llama-biases",
    "qwen2",
    "qwen3",
    "gemma2",
    "gemma3_text",
    "phi3",
    "mistral-sliding",
)
"""Families whose every linear PEFT's all-linear wraps the way the planner counts."""


def model_from_config(config: dict[str, Any], dtype: str = "float32", *, meta: bool = False) -> Any:
    """A transformers model for `config`, without paying for random initialisation.

    Built on the meta device, then (unless `meta`) given real zero-filled storage: shapes, dtypes
    and the KV cache layout are those of the real checkpoint; the values do not matter.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = dict(config)
    model_type = cfg.pop("model_type")
    hf_config = AutoConfig.for_model(model_type, **cfg)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(hf_config, dtype=getattr(torch, dtype))
    if meta:
        return model
    model.to_empty(device="cpu")
    with torch.no_grad():
        for t in (*model.parameters(), *model.buffers()):
            t.zero_()
    return model.eval()
