"""An HF `config.json`, normalised into the few numbers that decide a model's memory.

`Architecture` is what the rest of the planner reads: shapes, which layers slide, MoE and MLA sizes.
`parse_config` builds one from a config dict, filling the keys a config leaves to transformers'
defaults (from `data/defaults.json`) and descending into nested multimodal configs (Gemma-3's
`text_config`). `load_model` resolves what the user typed as MODEL. Standard library only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outweigh.errors import InputError, NotFoundError
from outweigh.plan import catalog

SUPPORTED = (
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen2_moe",
    "qwen3",
    "qwen3_moe",
    "gemma",
    "gemma2",
    "gemma3_text",
    "phi3",
    "deepseek_v2",
    "deepseek_v3",
)
"""Decoder model_types the planner knows the tensors of (tests check each against transformers)."""

# Wrappers whose decoder sits under `text_config`, with the model_type the decoder gets by default.
WRAPPERS = {"gemma3": "gemma3_text"}

# Gemma-3 configs on the Hub still carry `sliding_window_pattern` (default 6: five local layers, one
# global), which Gemma3TextConfig.__post_init__ turns into `layer_types` (configuration_gemma3.py).
GEMMA3_SLIDING_PATTERN = 6

# A config.json is a few KB; anything far larger is not one (and is not read whole into memory).
MAX_CONFIG_BYTES = 4 * 1024 * 1024

# Bounds on config values, far beyond any released model (Llama-3.1-405B: 126 layers, hidden 16384,
# vocab 128256), so that a typo is a one-line error rather than a plan of 10^12 layers.
MAX_LAYERS = 4096
MAX_WIDTH = 1 << 24


@dataclass(frozen=True)
class VisionTower:
    """A SigLIP vision encoder (Gemma-3's): counted in weights, not in activations."""

    hidden_size: int
    """Width of the encoder."""
    intermediate_size: int
    """Width of its MLP."""
    num_layers: int
    """Encoder layers."""
    image_size: int
    """Input resolution in pixels (square)."""
    patch_size: int
    """Patch side in pixels; (image_size / patch_size)^2 position embeddings."""
    num_channels: int
    """Input channels (3)."""
    use_head: bool
    """Whether the attention-pooling head exists (`vision_use_head`)."""
    projector_out: int
    """Text hidden size the multimodal projector maps to."""


@dataclass(frozen=True)
class Architecture:
    """The memory-relevant shape of a decoder-only transformer."""

    model_type: str
    """The decoder's transformers model_type (`qwen2`, `gemma3_text`, ...)."""
    hidden_size: int
    """Residual stream width H."""
    intermediate_size: int
    """Dense MLP width I (also DeepSeek's leading dense layers)."""
    num_layers: int
    """Decoder layers L."""
    num_heads: int
    """Query heads."""
    num_kv_heads: int
    """Key/value heads (GQA); equals num_heads for MHA."""
    head_dim: int
    """Per-head width d."""
    vocab_size: int
    """Rows of the embedding matrix."""
    tie_word_embeddings: bool
    """lm_head shares the embedding matrix (no separate weight)."""
    max_position_embeddings: int
    """Context length the config declares."""
    qkv_bias: bool
    """q/k/v projections have biases (Qwen2 always; others via attention_bias)."""
    o_bias: bool
    """The output projection has a bias."""
    mlp_bias: bool
    """Dense MLP projections have biases (Llama's mlp_bias)."""
    qk_norm: bool
    """Per-head RMSNorm on q and k (Qwen3, Gemma-3): two vectors of head_dim per layer."""
    sandwich_norms: bool
    """Four norms per layer instead of two (Gemma-2/3: pre/post attention and pre/post MLP)."""
    fused_qkv: bool
    """One qkv_proj instead of q/k/v (Phi-3)."""
    fused_gate_up: bool
    """One gate_up_proj instead of gate/up (Phi-3)."""
    layer_types: tuple[str, ...]
    """Per layer, `full` or `sliding`."""
    sliding_window: int
    """Window of the sliding layers in tokens; 0 when no layer slides."""
    num_experts: int = 0
    """Routed experts per MoE layer; 0 for a dense model."""
    experts_per_token: int = 0
    """Experts each token is routed to (top-k)."""
    moe_intermediate_size: int = 0
    """Width of one routed expert's MLP."""
    shared_intermediate_size: int = 0
    """Width of the always-on shared expert MLP (Qwen2-MoE, DeepSeek); 0 if none."""
    shared_expert_gate: bool = False
    """A sigmoid gate (H -> 1) on the shared expert (Qwen2-MoE)."""
    moe_layers: tuple[bool, ...] = ()
    """Per layer, whether its MLP is a MoE block."""
    kv_lora_rank: int = 0
    """MLA: width of the compressed KV latent; 0 when attention is not MLA."""
    q_lora_rank: int = 0
    """MLA: width of the compressed query; 0 for a full q_proj."""
    qk_nope_head_dim: int = 0
    """MLA: per-head query/key width without RoPE."""
    qk_rope_head_dim: int = 0
    """MLA: width of the shared RoPE key (cached beside the latent)."""
    v_head_dim: int = 0
    """MLA: per-head value width."""
    router_fp32: bool = False
    """The MoE router stays float32 in any dtype (DeepSeek's _keep_in_fp32_modules_strict)."""
    vision: VisionTower | None = None
    """The vision encoder of a multimodal checkpoint; None for text-only models."""

    @property
    def is_mla(self) -> bool:
        """Multi-head latent attention (DeepSeek-V2/V3)."""
        return self.kv_lora_rank > 0

    @property
    def is_moe(self) -> bool:
        """Some layers route tokens to experts."""
        return self.num_experts > 0 and any(self.moe_layers)

    @property
    def sliding_layers(self) -> int:
        """How many layers use the sliding window."""
        return sum(t == "sliding" for t in self.layer_types)


def _int(cfg: dict[str, Any], key: str, *, minimum: int = 1, maximum: int = MAX_WIDTH) -> int:
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InputError(
            f"config key `{key}` must be an integer from {minimum} to {maximum:,}; got {value!r}"
        )
    return value


def _opt_int(cfg: dict[str, Any], key: str) -> int:
    """An optional positive size: None or missing means 0 (absent)."""
    if cfg.get(key) is None:
        return 0
    return _int(cfg, key)


def _dict(cfg: dict[str, Any], key: str) -> dict[str, Any]:
    value = cfg.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"config key `{key}` must be a JSON object; got {type(value).__name__}")
    return value


def _layer_types(mt: str, cfg: dict[str, Any], layers: int) -> tuple[tuple[str, ...], int]:
    """Which layers slide, as each config's __post_init__ and cache_utils' inference decide it."""
    window = cfg.get("sliding_window")
    if mt in ("qwen2", "qwen2_moe", "qwen3", "qwen3_moe") and not cfg.get("use_sliding_window"):
        window = None  # Qwen2Config: sliding_window only applies with use_sliding_window
    explicit = cfg.get("layer_types")
    if explicit is not None:
        if not isinstance(explicit, list) or len(explicit) != layers:
            raise InputError(f"config key `layer_types` must list {layers} entries, one per layer")
        names = {"full_attention": "full", "sliding_attention": "sliding"}
        unknown = [t for t in explicit if not isinstance(t, str) or t not in names]
        if unknown:
            raise InputError(
                f"unsupported layer type {unknown[0]!r} in `layer_types`; "
                "the planner knows full_attention and sliding_attention"
            )
        types = tuple(names[t] for t in explicit)
    elif window is None:
        types = ("full",) * layers
    elif mt == "gemma2":  # Gemma2Config: even layers slide, odd layers are global
        types = tuple("sliding" if (i + 1) % 2 else "full" for i in range(layers))
    elif mt == "gemma3_text":
        pattern = _int(
            {"sliding_window_pattern": GEMMA3_SLIDING_PATTERN} | cfg, "sliding_window_pattern"
        )
        types = tuple("sliding" if (i + 1) % pattern else "full" for i in range(layers))
    elif mt in ("qwen2", "qwen2_moe", "qwen3", "qwen3_moe"):
        first = _int({"max_window_layers": layers} | cfg, "max_window_layers", minimum=0)
        types = tuple("sliding" if i >= first else "full" for i in range(layers))
    else:  # no layer_types: DynamicCache treats every layer as sliding (cache_utils.py)
        types = ("sliding",) * layers
    if "sliding" in types:
        if window is None:
            raise InputError("config has sliding layers but no `sliding_window`")
        return types, _int(cfg, "sliding_window")
    return types, 0


def _vision(cfg: dict[str, Any], text_hidden: int) -> VisionTower:
    vc = {**catalog.library_defaults()["siglip_vision_model"], **_dict(cfg, "vision_config")}
    if vc.get("model_type", "siglip_vision_model") != "siglip_vision_model":
        raise InputError(f"unsupported vision tower {vc['model_type']!r}; the planner knows siglip")
    return VisionTower(
        hidden_size=_int(vc, "hidden_size"),
        intermediate_size=_int(vc, "intermediate_size"),
        num_layers=_int(vc, "num_hidden_layers", maximum=MAX_LAYERS),
        image_size=_int(vc, "image_size"),
        patch_size=_int(vc, "patch_size"),
        num_channels=_int(vc, "num_channels"),
        use_head=bool(vc.get("vision_use_head")),
        projector_out=text_hidden,
    )


def parse_config(raw: Any) -> Architecture:
    """Normalise an HF config dict into an `Architecture`; InputError names any problem."""
    if not isinstance(raw, dict):
        raise InputError("config.json must hold a JSON object")
    top_type = raw.get("model_type")
    if not isinstance(top_type, str | None):
        raise InputError(f"config key `model_type` must be a string; got {top_type!r}")
    text, vision_cfg = raw, None
    if top_type in WRAPPERS:
        text = {"model_type": WRAPPERS[top_type], **_dict(raw, "text_config")}
        vision_cfg = raw
        if "tie_word_embeddings" in raw and "tie_word_embeddings" not in text:
            text["tie_word_embeddings"] = raw["tie_word_embeddings"]
    elif top_type not in SUPPORTED and isinstance(raw.get("text_config"), dict):
        text = raw["text_config"]
    mt = text.get("model_type")
    if not isinstance(mt, str):
        raise InputError("config has no `model_type`; is this a transformers config.json?")
    if mt not in SUPPORTED:
        known = ", ".join((*SUPPORTED, *WRAPPERS))
        raise InputError(f"unsupported architecture {mt!r}; the planner knows: {known}")
    cfg = {**catalog.library_defaults()[mt], **text}
    hidden = _int(cfg, "hidden_size")
    heads = _int(cfg, "num_attention_heads")
    layers = _int(cfg, "num_hidden_layers", maximum=MAX_LAYERS)
    kv_heads = _int(cfg, "num_key_value_heads") if cfg.get("num_key_value_heads") else heads
    if cfg.get("head_dim"):
        head_dim = _int(cfg, "head_dim")
    elif hidden % heads == 0:
        head_dim = hidden // heads
    else:
        raise InputError("config needs `head_dim`: hidden_size is not a multiple of the heads")
    if heads % kv_heads:
        raise InputError(f"num_attention_heads ({heads}) is not a multiple of num_key_value_heads")
    types, window = _layer_types(mt, cfg, layers)
    attention_bias = bool(cfg.get("attention_bias", False))
    fields: dict[str, Any] = {
        "model_type": mt,
        "hidden_size": hidden,
        "intermediate_size": _int(cfg, "intermediate_size"),
        "num_layers": layers,
        "num_heads": heads,
        "num_kv_heads": kv_heads,
        "head_dim": head_dim,
        "vocab_size": _int(cfg, "vocab_size"),
        "tie_word_embeddings": bool(cfg.get("tie_word_embeddings", False)),
        "max_position_embeddings": _int(cfg, "max_position_embeddings"),
        # Qwen2 hard-codes q/k/v biases, none on o_proj (modeling_qwen2.py); Qwen2-MoE: qkv_bias.
        "qkv_bias": True if mt == "qwen2" else bool(cfg.get("qkv_bias", attention_bias)),
        "o_bias": attention_bias and mt not in ("qwen2", "qwen2_moe"),
        "mlp_bias": bool(cfg.get("mlp_bias", False)) and mt == "llama",
        "qk_norm": mt in ("qwen3", "qwen3_moe", "gemma3_text"),
        "sandwich_norms": mt in ("gemma2", "gemma3_text"),
        "fused_qkv": mt == "phi3",
        "fused_gate_up": mt == "phi3",
        "layer_types": types,
        "sliding_window": window,
    }
    if mt in ("mistral", "mixtral", "phi3"):  # these hard-code bias=False everywhere
        fields["qkv_bias"] = fields["o_bias"] = False
    if mt == "mixtral":
        fields |= {
            "num_experts": _int(cfg, "num_local_experts"),
            "experts_per_token": _int(cfg, "num_experts_per_tok"),
            "moe_intermediate_size": fields["intermediate_size"],
            "moe_layers": (True,) * layers,
        }
    elif mt in ("qwen2_moe", "qwen3_moe"):
        only_dense = cfg.get("mlp_only_layers") or []
        if not isinstance(only_dense, list) or not all(type(i) is int for i in only_dense):
            raise InputError("config key `mlp_only_layers` must be a list of layer indices")
        step = _int(cfg, "decoder_sparse_step")
        experts = _int(cfg, "num_experts", minimum=0)
        shared = _opt_int(cfg, "shared_expert_intermediate_size") if mt == "qwen2_moe" else 0
        fields |= {
            "num_experts": experts,
            "experts_per_token": _int(cfg, "num_experts_per_tok"),
            "moe_intermediate_size": _int(cfg, "moe_intermediate_size"),
            "shared_intermediate_size": shared,
            "shared_expert_gate": mt == "qwen2_moe",
            # Qwen2MoeDecoderLayer: sparse unless listed in mlp_only_layers or off the sparse step
            "moe_layers": tuple(
                i not in only_dense and experts > 0 and (i + 1) % step == 0 for i in range(layers)
            ),
        }
    elif mt in ("deepseek_v2", "deepseek_v3"):
        moe_width = _int(cfg, "moe_intermediate_size")
        first_dense = _int(cfg, "first_k_dense_replace", minimum=0)
        fields |= {
            "num_experts": _int(cfg, "n_routed_experts"),
            "experts_per_token": _int(cfg, "num_experts_per_tok"),
            "moe_intermediate_size": moe_width,
            "shared_intermediate_size": moe_width * _int(cfg, "n_shared_experts", minimum=0),
            "moe_layers": tuple(i >= first_dense for i in range(layers)),
            "kv_lora_rank": _int(cfg, "kv_lora_rank"),
            "q_lora_rank": _opt_int(cfg, "q_lora_rank"),
            "qk_nope_head_dim": _int(cfg, "qk_nope_head_dim"),
            "qk_rope_head_dim": _int(cfg, "qk_rope_head_dim"),
            "v_head_dim": _int(cfg, "v_head_dim"),
            "qkv_bias": False,
            "o_bias": attention_bias,
            "router_fp32": True,
        }
    if vision_cfg is not None and vision_cfg.get("vision_config") is not None:
        fields["vision"] = _vision(vision_cfg, hidden)
    if fields.get("experts_per_token", 0) > fields.get("num_experts", 0):
        raise InputError("config routes each token to more experts than the model has")
    return Architecture(**fields)


@dataclass(frozen=True)
class ModelRef:
    """What MODEL resolved to."""

    name: str
    """Display name: the catalog name, or the config's folder or file name."""
    source: str
    """Where the config came from: `catalog:<hf id>` or a path."""
    arch: Architecture
    """The parsed architecture."""
    catalog_entry: catalog.CatalogModel | None
    """The catalog record (published parameter count), when MODEL named one."""


def read_config_file(path: Path) -> dict[str, Any]:
    """Read and parse a config.json, with one-line errors for the ways that goes wrong."""
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise InputError(f"{path}: {size} bytes is too large for a config.json")
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text, so not a config.json") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: config.json must hold a JSON object")
    return data


def _from_path(path: Path) -> ModelRef:
    file = path / "config.json" if path.is_dir() else path
    if not file.is_file():
        raise InputError(f"{path}: no config.json in this folder")
    raw = read_config_file(file)
    try:
        arch = parse_config(raw)
    except InputError as e:
        raise InputError(f"{file}: {e}") from None
    name = path.name if path.is_dir() else file.parent.name or file.name
    return ModelRef(name=name, source=str(file), arch=arch, catalog_entry=None)


def load_model(ref: str) -> ModelRef:
    """Resolve MODEL: a config.json or model folder, a catalog name, or a converted model.

    Paths win over names. The last resort is a folder under `OUTWEIGH_HOME/models` (the project's
    converted-model cache), so any model the project has loaded can be planned by its name.
    """
    if not ref.strip():
        raise InputError("MODEL is empty; give a catalog name or a path to config.json")
    path = Path(ref).expanduser()
    if path.exists():
        return _from_path(path)
    entry = catalog.find_model(ref)
    if entry is not None:
        return ModelRef(
            name=entry.name,
            source=f"catalog:{entry.hf_id}",
            arch=parse_config(entry.config),
            catalog_entry=entry,
        )
    from outweigh.settings import Paths  # stdlib-only module

    cached = Paths().models_dir / ref
    if "/" not in ref and (cached / "config.json").is_file():
        return _from_path(cached)
    raise NotFoundError(
        f"unknown model {ref!r}; give a path to config.json or a model folder, "
        f"or one of: {', '.join(catalog.models())}"
    )
