"""Fixtures for the adapter tests: hand-built LoRA dirs, one real training run per session.

`write_lora` writes a PEFT directory tensor by tensor (no model load), so registry tests can
make valid, mismatched, corrupt or pickled adapters in milliseconds. `signoff` trains the
example style adapter once, with the default config, on the real SmolLM2.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.conftest import ROOT, CliResult  # noqa: F401  re-exported for the tests

from outweigh.settings import Paths

STYLE = ROOT / "examples" / "style"
SIGNOFF = "— Vellmark Support"
SMOL_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
# SmolLM2-135M: 30 layers, hidden 576, 3 KV heads x 64 = 192 (its config.json).
SMOL_SHAPES = {
    "q_proj": (576, 576),
    "k_proj": (576, 192),
    "v_proj": (576, 192),
    "o_proj": (576, 576),
}


def write_lora(
    path: Path,
    *,
    base: str = SMOL_HUB_ID,
    rank: int = 4,
    targets: tuple[str, ...] = ("q_proj", "v_proj"),
    hidden: int = 576,
    layers: int = 30,
    seed: int = 0,
    scale: float = 0.05,
) -> Path:
    """A PEFT LoRA dir for SmolLM2 (or a deliberately wrong `hidden` size), random A and B."""
    import torch
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    tensors = {}
    for i in range(layers):
        for t in targets:
            d_in, d_out = SMOL_SHAPES[t]
            d_in = hidden if d_in == 576 else d_in
            d_out = hidden if d_out == 576 else d_out
            prefix = f"base_model.model.model.layers.{i}.self_attn.{t}"
            tensors[f"{prefix}.lora_A.weight"] = torch.randn(rank, d_in, generator=g) * scale
            tensors[f"{prefix}.lora_B.weight"] = torch.randn(d_out, rank, generator=g) * scale
    save_file(tensors, str(path / "adapter_model.safetensors"))
    config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base,
        "r": rank,
        "lora_alpha": 2 * rank,
        "lora_dropout": 0.0,
        "target_modules": list(targets),
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
    }
    (path / "adapter_config.json").write_text(json.dumps(config))
    return path


@pytest.fixture
def lora_dir(tmp_path: Path) -> Callable[..., Path]:
    """`lora_dir(name, **write_lora options)` -> a fresh adapter dir outside the registry."""

    def make(name: str = "src", **kw: object) -> Path:
        return write_lora(tmp_path / "loras" / name, **kw)  # type: ignore[arg-type]

    return make


def leftovers(paths: Paths) -> list[str]:
    """Everything under the adapters dir: after a refused add there must be nothing."""
    root = paths.adapters_dir
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


@dataclass
class Trained:
    """The session's trained style adapter and the state dir that registers it."""

    paths: Paths
    info: object
    seconds: float


@pytest.fixture(scope="session")
def signoff(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """The example style adapter, trained once per session with the default TrainConfig."""
    import time

    from outweigh.adapters import TrainConfig, train_adapter

    paths = Paths(tmp_path_factory.mktemp("signoff-home"))
    t0 = time.perf_counter()
    info = train_adapter(STYLE / "train.jsonl", "signoff", TrainConfig(), paths=paths)
    return Trained(paths, info, time.perf_counter() - t0)


@pytest.fixture(scope="session")
def private_smol():
    """A private SmolLM2 copy: these tests inject LoRA layers into it, so not the shared one."""
    from outweigh.models import load

    return load("smollm2-135m")


@pytest.fixture
def backend(private_smol, signoff: Trained, lora_dir: Callable[..., Path]) -> Iterator[object]:
    """A LocalBackend over the private model whose registry holds `signoff` and `noise`.

    `noise` is a random rank-4 LoRA: a second adapter whose output differs from both.
    """
    from outweigh.adapters import AdapterRegistry
    from outweigh.generate.local import LocalBackend

    registry = AdapterRegistry(signoff.paths)
    if "noise" not in registry.names():
        registry.add(lora_dir("noise", seed=7, scale=0.08), "noise")
    yield LocalBackend(private_smol, registry)
    registry.close()
