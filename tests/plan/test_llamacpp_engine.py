"""`--engine llamacpp`: the KV cache as llama.cpp allocates it, checked against llama.cpp's own
report on the bundled SmolLM2 GGUF, and the engine's other rules."""

from __future__ import annotations

import re
from typing import Any

import pytest

from outweigh.errors import InputError
from outweigh.plan import PlanSpec, plan

MIB = 1024**2


def llama_report(n_ctx: int, capfd: pytest.CaptureFixture[str]) -> tuple[float, float]:
    """(KV cache MiB, compute buffer MiB) that llama.cpp logs when it opens the GGUF."""
    from outweigh.generate.choose import llamacpp_installed
    from outweigh.generate.native import llama_cpp_module
    from outweigh.models.loader import gguf_file

    if not llamacpp_installed():
        pytest.skip("llama-cpp-python is not installed")
    llama_cpp = llama_cpp_module()  # with this CPU's backend variant loaded

    capfd.readouterr()
    llm = llama_cpp.Llama(str(gguf_file("smollm2-135m")), n_ctx=n_ctx, n_threads=1, verbose=True)
    llm.close()
    err = capfd.readouterr().err
    kv = re.search(r"llama_kv_cache: size =\s*([\d.]+) MiB", err)
    compute = re.search(r"CPU compute buffer size =\s*([\d.]+) MiB", err)
    assert kv and compute, err[-2000:]
    return float(kv.group(1)), float(compute.group(1))


@pytest.mark.parametrize("n_ctx", [1000, 4096])
def test_kv_cache_is_what_llama_cpp_allocates(n_ctx: int, capfd: Any) -> None:
    """1000 tokens take 1024 cells (llama.cpp pads to 256), in f16 whatever the weights; the
    compute buffer llama.cpp reserves at load (for an empty cache) is below the planned peak."""
    kv_mib, compute_mib = llama_report(n_ctx, capfd)
    p = plan(PlanSpec("smollm2-135m", quant="q4_1", engine="llamacpp", context=n_ctx))
    assert p.kv_dtype == "fp16"
    assert p.breakdown.kv_context / MIB == pytest.approx(kv_mib, abs=0.01)
    assert compute_mib * MIB <= p.breakdown.activations


def test_gguf_stays_quantized_and_sliding_layers_hold_the_whole_context() -> None:
    """transformers dequantizes a GGUF, llama.cpp keeps it; with llama.cpp's default swa_full,
    Gemma-3's sliding layers cache the whole context, where transformers keeps the window."""
    spec = PlanSpec("gemma3-270m", quant="q4_k_m", context=16 * 1024)
    llama = plan(PlanSpec(**{**spec.__dict__, "engine": "llamacpp"}))
    torch = plan(spec)
    assert llama.breakdown.weights == llama.weights_file_bytes < torch.breakdown.weights
    per_token = llama.kv_bytes_per_token
    assert llama.breakdown.kv_context == per_token * 16 * 1024
    assert torch.breakdown.kv_context < llama.breakdown.kv_context


def test_packed_formats_and_fp8_kv_are_refused() -> None:
    with pytest.raises(InputError, match="`--engine llamacpp` reads GGUF or float weights"):
        plan(PlanSpec("qwen2.5-32b", quant="awq", engine="llamacpp"))
    with pytest.raises(InputError, match="needs `--engine vllm`"):
        plan(PlanSpec("qwen2.5-32b", quant="q4_k_m", engine="llamacpp", kv_dtype="fp8"))
