"""The planner's answers: the seed scenario, catalog accuracy, engine rules, and invariants."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outweigh.errors import InputError, NotFoundError
from outweigh.plan import PlanSpec, catalog, compare, parse_config, parse_tokens, plan
from outweigh.plan.hf_config import load_model
from outweigh.plan.quant import weight_bytes
from outweigh.plan.tensors import param_count
from outweigh.plan.vram import activation_bytes, kv_cache_bytes

GIB = 1024**3
SEED = PlanSpec("qwen2.5-32b", gpus=("rtx-pro-6000",), loras=5, lora_rank=16, context=16 * 1024)


def test_seed_scenario_figures() -> None:
    """The issue's figures for Qwen2.5-32B + 5 rank-16 adapters + 16K context on an RTX PRO 6000."""
    p = plan(SEED)
    # bf16 weights: 32.76B params x 2 bytes = 65.5 GB, not the 48-60 GB often quoted
    assert 65.0e9 < p.breakdown.weights < 66.0e9
    assert p.breakdown.weights == p.params_total * 2
    # KV: 2 x 64 layers x 8 KV heads x 128 x 2 bytes = 256 KiB per token; 16K tokens = 4 GiB
    assert p.kv_bytes_per_token == 256 * 1024
    assert p.breakdown.kv_context == 4 * GIB
    # one rank-16 all-linear adapter: 16 x sum(in + out) = 134,217,728 params = 0.27 GB in bf16
    assert p.breakdown.lora / 5 == 268_435_456
    fit = p.gpus[0]
    assert fit.gpu == "rtx-pro-6000" and fit.fits and fit.free_bytes > 10e9
    assert fit.max_context >= 16 * 1024 and fit.max_batch >= 1
    assert 10 < fit.decode_tokens_per_s < 40  # 1792 GB/s over ~71 GB read per step


@pytest.mark.parametrize("name", sorted(catalog.models()))
def test_catalog_counts_within_one_percent_of_published(name: str) -> None:
    entry = catalog.models()[name]
    counted = param_count(parse_config(entry.config))
    assert abs(counted / entry.published_params - 1) < 0.01, entry.published_params_source
    assert entry.published_params_source and entry.hf_id


def test_nested_config_and_library_defaults() -> None:
    """Gemma-3-27B's text_config omits vocab_size, tie_word_embeddings and more."""
    arch = parse_config(catalog.find_model("gemma-3-27b").config)
    assert arch.model_type == "gemma3_text"
    assert arch.vocab_size == 262_208 and arch.tie_word_embeddings
    assert arch.vision is not None and arch.vision.num_layers == 27
    assert arch.layer_types.count("full") == 62 // 6  # five local layers to one global
    assert arch.max_position_embeddings == 131_072


def test_library_defaults_match_transformers() -> None:
    import dataclasses as dc

    pytest.importorskip("transformers")
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    for model_type, defaults in catalog.library_defaults().items():
        fields = {f.name: f for f in dc.fields(CONFIG_MAPPING[model_type])}
        for key, value in defaults.items():
            f = fields[key]
            real = f.default if f.default is not dc.MISSING else f.default_factory()  # type: ignore[misc]
            assert real == value, (model_type, key)


@pytest.mark.parametrize("name", ["smollm2-135m", "gemma3-270m", "Qwen/Qwen2.5-32B-Instruct"])
def test_project_and_hub_names_resolve(name: str) -> None:
    assert load_model(name).catalog_entry is not None


def test_model_folder_and_config_file(tmp_path: Path) -> None:
    import json

    cfg = catalog.find_model("smollm2-135m").config
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    by_dir = plan(PlanSpec(str(tmp_path / "m"), gpus=("rtx-4090",)))
    by_file = plan(PlanSpec(str(tmp_path / "m" / "config.json"), gpus=("rtx-4090",)))
    by_name = plan(PlanSpec("smollm2-135m", gpus=("rtx-4090",)))
    assert by_dir.total_bytes == by_file.total_bytes == by_name.total_bytes
    assert by_dir.model == "m" and by_dir.published_params == 0


def test_converted_model_under_outweigh_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from outweigh.settings import Paths

    monkeypatch.setenv("OUTWEIGH_MODELS_DIR", str(home / "models"))
    folder = Paths().models_dir / "my-finetune"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(catalog.find_model("gemma-3-270m").config))
    assert load_model("my-finetune").arch.sliding_window == 512


def test_sliding_window_kv_stops_growing() -> None:
    """Gemma-3-270M: 15 of 18 layers slide over 512 tokens; past the window KV grows 6x slower."""
    arch = parse_config(catalog.find_model("gemma-3-270m").config)
    engine = catalog.engines()["transformers"]
    per_layer = 2 * 1 * 256 * 2
    assert kv_cache_bytes(arch, 100, 1, 2, engine) == 18 * 100 * per_layer
    assert kv_cache_bytes(arch, 10_000, 1, 2, engine) == (3 * 10_000 + 15 * 511) * per_layer


def test_mla_caches_the_latent() -> None:
    p = plan(PlanSpec("deepseek-v2-lite", gpus=("h100",)))
    assert p.kv_bytes_per_token == 27 * (512 + 64) * 2  # not 27 x 2 x 16 heads x 192 x 2
    assert p.params_active < p.params_total / 5  # 6 of 64 routed experts per token


def test_vllm_rules() -> None:
    base = PlanSpec("qwen2.5-7b", gpus=("h100",), loras=2, lora_rank=8, engine="vllm", context=1000)
    p = plan(base)
    fit = p.gpus[0]
    assert fit.reserved_bytes == fit.memory_bytes - int(fit.memory_bytes * 0.9)
    # pages of 16 tokens: 1000 tokens hold 63 pages = 1008 tokens
    assert p.breakdown.kv_context == 1008 * p.kv_bytes_per_token
    # LoRA slots cover every linear whatever the adapters target
    narrow = plan(dataclasses.replace(base, lora_targets=("q_proj",)))
    assert narrow.breakdown.lora == p.breakdown.lora
    hf = plan(dataclasses.replace(base, engine="transformers", lora_targets=("q_proj",)))
    assert hf.breakdown.lora < p.breakdown.lora
    # chunked prefill: activations do not grow with the prompt
    longer = plan(dataclasses.replace(base, context=30_000))
    assert longer.breakdown.activations == p.breakdown.activations


def test_rag_context_is_its_own_line() -> None:
    p = plan(PlanSpec("qwen2.5-32b", gpus=("rtx-pro-6000",), context=8192, rag_chunks=8))
    assert p.spec.rag_tokens == 4096
    assert p.breakdown.kv_rag == 4096 * p.kv_bytes_per_token
    assert p.breakdown.kv == (8192 + 4096) * p.kv_bytes_per_token


def test_eager_attention_materialises_scores() -> None:
    sdpa = plan(PlanSpec("llama-3.1-8b", gpus=("h100",), context=8192))
    eager = plan(PlanSpec("llama-3.1-8b", gpus=("h100",), context=8192, attention="eager"))
    scores = (
        32 * 8192 * 8192 * (2 + 2 + 4)
    )  # heads x T^2 x (bf16 scores, masked copy, fp32 softmax)
    assert eager.breakdown.activations - sdpa.breakdown.activations == scores


def test_quantized_weights() -> None:
    sizes = {
        q: plan(PlanSpec("llama-3.1-70b", quant=q, gpus=("h100",), engine="vllm")).breakdown.weights
        for q in ("bf16", "fp8", "int8", "awq", "gptq", "q8_0", "q4_k_m")
    }
    assert sizes["bf16"] > sizes["q8_0"] > sizes["fp8"] > sizes["q4_k_m"] > sizes["gptq"]
    assert sizes["gptq"] > sizes["awq"]  # g_idx
    # AWQ keeps embeddings and lm_head in bf16: 2 x 128256 x 8192 x 2 bytes = 4.2 GB of the ~40 GB
    assert 38e9 < sizes["awq"] < 41e9


def test_max_context_and_batch_are_the_edges() -> None:
    p = plan(PlanSpec("qwen2.5-7b", gpus=("rtx-4090",), context=8192, batch=2))
    fit = p.gpus[0]
    usable = fit.memory_bytes - fit.reserved_bytes
    edge = plan(PlanSpec("qwen2.5-7b", gpus=("rtx-4090",), context=fit.max_context, batch=2))
    beyond = plan(PlanSpec("qwen2.5-7b", gpus=("rtx-4090",), context=fit.max_context + 1, batch=2))
    assert edge.gpus[0].fits and edge.total_bytes <= usable
    assert fit.max_context_limit == "model" or not beyond.gpus[0].fits
    wide = plan(PlanSpec("qwen2.5-7b", gpus=("rtx-4090",), context=8192, batch=fit.max_batch + 1))
    assert not wide.gpus[0].fits


def test_compare_picks_the_fit_with_most_room() -> None:
    specs = [
        PlanSpec("qwen2.5-32b", gpus=("rtx-pro-6000", "rtx-4090"), context=16384),
        PlanSpec("llama-3.1-70b", quant="awq", gpus=("rtx-pro-6000", "rtx-4090"), context=16384),
    ]
    c = compare(specs)
    assert c.best == {"rtx-pro-6000": "llama-3.1-70b:awq", "rtx-4090": ""}
    assert set(c.to_dict()) == {"plans", "best"}


def test_json_keys_are_stable() -> None:
    d = plan(SEED).to_dict()
    for key in (
        "params_total",
        "weights_bytes",
        "lora_bytes",
        "kv_bytes_per_token",
        "kv_bytes",
        "activation_bytes",
        "overhead_bytes",
        "total_bytes",
        "kv_context_bytes",
        "kv_rag_bytes",
    ):
        assert isinstance(d[key], int), key
    assert d["total_bytes"] == sum(
        d[k]
        for k in ("weights_bytes", "lora_bytes", "kv_bytes", "activation_bytes", "overhead_bytes")
    )
    gpu = d["gpus"][0]
    assert isinstance(gpu["fits"], bool) and isinstance(gpu["max_context"], int)
    assert {"free_bytes", "max_batch", "decode_tokens_per_s", "memory_bytes"} <= set(gpu)


@pytest.mark.parametrize(
    ("text", "value"),
    [("4096", 4096), ("16k", 16384), ("16K", 16384), ("1.5k", 1536), ("1m", 2**20)],
)
def test_parse_tokens(text: str, value: int) -> None:
    assert parse_tokens(text, "--context") == value


@pytest.mark.parametrize("text", ["-1", "abc", "1.5", "nan", "inf", "0.3k", ""])
def test_parse_tokens_rejects(text: str) -> None:
    with pytest.raises(InputError, match="--context"):
        parse_tokens(text, "--context")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"context": -1}, "--context"),
        ({"context": 10**12}, "--context"),
        ({"batch": 0}, "--batch"),
        ({"loras": 10**6}, "--loras"),
        ({"lora_rank": 0}, "--lora-rank"),
        ({"kv_dtype": "int3"}, "--kv-dtype"),
        ({"attention": "magic"}, "--attention"),
        ({"kv_dtype": "fp8"}, "--engine vllm"),
        ({"gpu_memory_utilization": 1.5}, "--gpu-memory-utilization"),
        ({"lora_targets": ("qkv_proj",)}, "q_proj"),
        ({"engine": "vllm", "gpus": ("m4-max",)}, "vLLM does not run"),
    ],
)
def test_bad_specs_name_the_flag(change: dict, error: str) -> None:
    with pytest.raises(InputError, match=error):
        plan(dataclasses.replace(SEED, **change))


def test_unknown_names_list_the_choices() -> None:
    with pytest.raises(NotFoundError, match="rtx-pro-6000"):
        plan(dataclasses.replace(SEED, gpus=("h1000",)))
    with pytest.raises(NotFoundError, match="q4_k_m"):
        plan(dataclasses.replace(SEED, quant="q3"))
    with pytest.raises(NotFoundError, match=r"qwen2\.5-32b"):
        plan(dataclasses.replace(SEED, model="no-such-model"))


MONOTONE_MODELS = ("smollm2-135m", "gemma-3-270m", "deepseek-v2-lite", "mixtral-8x7b")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=st.sampled_from(MONOTONE_MODELS),
    engine=st.sampled_from(("transformers", "vllm")),
    attention=st.sampled_from(("eager", "sdpa", "flash")),
    context=st.integers(0, 200_000),
    batch=st.integers(1, 64),
    loras=st.integers(0, 16),
    rank=st.integers(1, 256),
    rag=st.integers(0, 32),
    field=st.sampled_from(("context", "batch", "loras", "lora_rank", "rag_chunks")),
    step=st.integers(1, 1000),  # keeps every field inside its limit (loras <= 1024)
)
def test_plan_never_goes_down_when_the_workload_grows(
    model: str,
    engine: str,
    attention: str,
    context: int,
    batch: int,
    loras: int,
    rank: int,
    rag: int,
    field: str,
    step: int,
) -> None:
    spec = PlanSpec(
        model,
        engine=engine,
        attention=attention,
        context=context,
        batch=batch,
        loras=loras,
        lora_rank=rank,
        rag_chunks=rag,
        gpus=("h200",),
    )
    bigger = dataclasses.replace(spec, **{field: getattr(spec, field) + step})
    small, large = plan(spec), plan(bigger)
    for part in ("weights", "lora", "kv", "activations", "overhead", "total"):
        assert getattr(large.breakdown, part) >= getattr(small.breakdown, part), part
    # and the room left can only shrink
    assert large.gpus[0].free_bytes <= small.gpus[0].free_bytes


JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.lists(st.integers(-2, 3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(
    model=st.sampled_from(("smollm2-135m", "gemma-3-27b", "deepseek-v2-lite", "qwen2.5-7b")),
    data=st.data(),
)
def test_any_config_value_gives_a_plan_or_an_input_error(model: str, data: st.DataObject) -> None:
    """Replace config values with arbitrary JSON: the planner answers or raises InputError, never
    a traceback."""
    config = dict(catalog.find_model(model).config)
    if "text_config" in config:
        config["text_config"] = dict(config["text_config"])
    for _ in range(data.draw(st.integers(1, 3))):
        target = config
        if (
            config.get("text_config")
            and isinstance(config["text_config"], dict)
            and data.draw(st.booleans())
        ):
            target = config["text_config"]
        key = data.draw(st.sampled_from(sorted(target)))
        target[key] = data.draw(JSON_VALUES)
    try:
        arch = parse_config(config)
    except InputError:
        return
    param_count(arch)
    for engine in catalog.engines().values():
        kv_cache_bytes(arch, 70_000, 2, 2, engine)
        activation_bytes(arch, 70_000, 2, 2, "eager", engine)
    for q in ("q4_k_m", "awq", "bf16"):
        weight_bytes(arch, catalog.find_quant(q))


def test_a_sliding_qwen_with_no_max_window_layers_is_an_input_error() -> None:
    # Found by the property test above: `max_window_layers: null` with sliding on.
    config = dict(catalog.find_model("qwen2.5-7b").config)
    config.update(max_window_layers=None, use_sliding_window=True)
    with pytest.raises(InputError, match="max_window_layers"):
        parse_config(config)
