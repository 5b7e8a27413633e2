"""The training planner's countable figures against the libraries that hold them: PEFT's
trainable parameters and adapter dtype, torch AdamW's and bitsandbytes' 8-bit AdamW's state
bytes after a real step, and the nf4 + fp32 storage of the bundled SmolLM2 loaded for QLoRA."""

from __future__ import annotations

from typing import Any

import pytest

from outweigh.plan import PlanSpec, catalog, train_plan
from outweigh.plan.hf_config import parse_config
from outweigh.plan.train import (
    adamw8bit_state_bytes,
    adamw_state_bytes,
    lora_shapes,
    qlora_weight_bytes,
)

from .helpers import model_from_config

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")

SMOL = catalog.find_model("smollm2-135m").config


def test_seed_scenario_trainable_params_are_peft_s_count() -> None:
    """Qwen2.5-32B, rank 16 on every linear: PEFT on the meta device counts 134,217,728."""
    config = catalog.find_model("qwen2.5-32b").config
    model = model_from_config(config, "bfloat16", meta=True)
    lora = peft.get_peft_model(model, peft.LoraConfig(r=16, target_modules="all-linear"))
    real = sum(p.numel() for p in lora.parameters() if p.requires_grad)
    p = train_plan(PlanSpec("qwen2.5-32b", train="qlora", context=4096, gpus=("rtx-pro-6000",)))
    assert p.trainable_params == real == 134_217_728


@pytest.fixture(scope="module")
def smol_lora() -> Any:
    """SmolLM2 (zero weights, bf16) with a rank-16 all-linear LoRA, one gradient in place."""
    model = model_from_config(SMOL, "bfloat16")
    lora = peft.get_peft_model(model, peft.LoraConfig(r=16, target_modules="all-linear"))
    for p in lora.parameters():
        if p.requires_grad:
            p.grad = torch.full_like(p, 1e-3)
    return lora


def _trainable(model: Any) -> list[Any]:
    return [p for p in model.parameters() if p.requires_grad]


def test_lora_weights_are_fp32_over_a_bf16_base(smol_lora: Any) -> None:
    params = _trainable(smol_lora)
    shapes = lora_shapes(parse_config(SMOL), ("all-linear",), 16)
    assert sorted(p.numel() for p in params) == sorted(shapes)
    assert {p.dtype for p in params} == {torch.float32}  # the planner's adapter_dtype


def _state_bytes(opt: Any) -> int:
    """Bytes of every tensor in the optimizer's state, each storage counted once (bitsandbytes
    shares its quantization maps), CPU step counters left out."""
    seen: dict[int, int] = {}
    for state in opt.state.values():
        for key, value in state.items():
            if torch.is_tensor(value) and key != "step":
                seen[value.data_ptr()] = value.nbytes
    return sum(seen.values())


def test_adamw_state_bytes_match_torch(smol_lora: Any) -> None:
    params = _trainable(smol_lora)
    opt = torch.optim.AdamW(params, lr=0.0)
    opt.step()
    assert _state_bytes(opt) == adamw_state_bytes([p.numel() for p in params])


def test_8bit_adamw_state_bytes_match_bitsandbytes(smol_lora: Any) -> None:
    bnb = pytest.importorskip("bitsandbytes")
    params = _trainable(smol_lora)
    # rank 16: A of every module and B of q/o/MLP reach the 4096-element minimum for 8-bit
    # state, B of k/v (192 x 16) does not, so both kinds are counted
    numels = [p.numel() for p in params]
    assert min(numels) < 4096 <= max(numels)
    opt = bnb.optim.AdamW8bit(params, lr=0.0)  # the paged one's layout, without CUDA paging
    opt.step()
    assert _state_bytes(opt) == adamw8bit_state_bytes(numels)


@pytest.mark.slow
def test_qlora_weights_match_the_bundled_model_in_nf4() -> None:
    """The bundled SmolLM2 as QLoRA training holds it: Params4bit linears with their quant state
    (absmax, nested absmax, codes, offset), everything else cast to fp32."""
    pytest.importorskip("bitsandbytes")
    from outweigh.models import LoadOptions, load

    loaded = load("smollm2-135m", options=LoadOptions(device="cpu", load_in="4bit"))
    model = peft.prepare_model_for_kbit_training(loaded.model, use_gradient_checkpointing=False)
    seen: dict[int, int] = {}
    for p in model.parameters():
        seen[p.data_ptr()] = p.nbytes
        qs = getattr(p, "quant_state", None)
        if qs is not None:
            for t in (qs.absmax, qs.code, qs.offset, qs.state2.absmax, qs.state2.code):
                seen[t.data_ptr()] = t.nbytes
    assert sum(seen.values()) == qlora_weight_bytes(parse_config(SMOL))
