"""The registry: round trips, and every refusal leaves nothing behind."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.adapters.conftest import SMOL_HUB_ID, leftovers

from outweigh import AskOptions, Engine, InputError, NotFoundError, Paths
from outweigh.adapters import AdapterRegistry, export_adapter, parse_spec
from outweigh.adapters.registry import canonical_spec
from outweigh.testing import EchoBackend


def test_add_list_show_remove_round_trip(paths: Paths, lora_dir: Callable[..., Path]) -> None:
    registry = AdapterRegistry(paths)
    info = registry.add(lora_dir(rank=8, targets=("q_proj", "k_proj")), "style-a")

    assert [i.name for i in registry.list()] == ["style-a"]
    got = registry.get("style-a")
    assert got == info
    assert (got.base_model, got.rank, got.alpha, got.targets) == (
        "smollm2-135m",
        8,
        16.0,
        ["k_proj", "q_proj"],
    )
    assert got.base_model_name_or_path == SMOL_HUB_ID
    assert got.size_bytes == (registry.path("style-a") / "adapter_model.safetensors").stat().st_size
    assert sorted(p.name for p in registry.path("style-a").iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]
    assert json.loads(json.dumps(got.to_dict()))["name"] == "style-a"

    registry.remove("style-a")
    assert registry.list() == []
    assert leftovers(paths) == []
    with pytest.raises(NotFoundError, match="style-a"):
        registry.get("style-a")


def test_registry_survives_reopening(paths: Paths, lora_dir: Callable[..., Path]) -> None:
    AdapterRegistry(paths).add(lora_dir(), "kept")
    assert AdapterRegistry(paths).get("kept").rank == 4


def test_unknown_name_lists_the_registered_ones(
    paths: Paths, lora_dir: Callable[..., Path]
) -> None:
    registry = AdapterRegistry(paths)
    registry.add(lora_dir("a"), "alpha")
    registry.add(lora_dir("b", seed=1), "beta")
    with pytest.raises(NotFoundError, match="registered: alpha, beta"):
        registry.get("gamma")
    with pytest.raises(NotFoundError, match="alpha, beta"):
        registry.remove("gamma")


def test_pickle_weights_are_refused(paths: Paths, tmp_path: Path) -> None:
    src = tmp_path / "pickled"
    src.mkdir()
    (src / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4}))
    (src / "adapter_model.bin").write_bytes(b"\x80\x04 not really a pickle")
    with pytest.raises(InputError, match=r"pickle.*adapter_model\.bin"):
        AdapterRegistry(paths).add(src, "pickled")
    assert leftovers(paths) == []


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", "", "a..b", "/abs", "x\\y", ".hidden"])
def test_path_like_names_are_refused(
    paths: Paths, lora_dir: Callable[..., Path], name: str
) -> None:
    with pytest.raises(InputError, match="adapter name"):
        AdapterRegistry(paths).add(lora_dir(), name)
    assert leftovers(paths) == []
    assert not (paths.root / "evil").exists()


def test_another_base_by_name_is_refused(paths: Paths, lora_dir: Callable[..., Path]) -> None:
    with pytest.raises(InputError, match="trained on 'gpt2'"):
        AdapterRegistry(paths).add(lora_dir(base="gpt2"), "wrong", base="smollm2-135m")
    assert leftovers(paths) == []


def test_another_base_by_shape_is_refused(paths: Paths, lora_dir: Callable[..., Path]) -> None:
    # Claims SmolLM2 but was built for a 512-wide model: the tensor shapes give it away.
    with pytest.raises(InputError, match="trained on another base"):
        AdapterRegistry(paths).add(lora_dir(hidden=512), "wrong")
    assert leftovers(paths) == []


def _edit_config(src: Path, **changes: object) -> Path:
    config = json.loads((src / "adapter_config.json").read_text())
    (src / "adapter_config.json").write_text(json.dumps({**config, **changes}))
    return src


def _poison(src: Path, value: float) -> Path:
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(src / "adapter_model.safetensors"))
    first = sorted(tensors)[0]
    tensors[first][0, 0] = value
    save_file(tensors, str(src / "adapter_model.safetensors"))
    return src


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (lambda d: _edit_config(d, r=64), "rank-4 tensors but adapter_config.json says r=64"),
        (lambda d: _edit_config(d, rank_pattern={"q_proj": 8}), "says r=8"),
        (lambda d: _edit_config(d, target_modules=["k_proj"]), "target_modules (k_proj)"),
        (lambda d: _poison(d, float("nan")), "holds NaN or inf"),
        (lambda d: _poison(d, float("inf")), "holds NaN or inf"),
    ],
)
def test_an_adapter_that_would_fail_every_request_is_refused_at_registration(
    paths: Paths, lora_dir: Callable[..., Path], broken, message: str
) -> None:
    with pytest.raises(InputError) as refused:
        AdapterRegistry(paths).add(broken(lora_dir()), "broken")
    assert message in str(refused.value) and "\n" not in str(refused.value)
    assert leftovers(paths) == [] and AdapterRegistry(paths).names() == []


def test_an_adapter_named_like_a_base_model_is_refused(
    paths: Paths, lora_dir: Callable[..., Path]
) -> None:
    with pytest.raises(InputError, match="is a base model's name"):
        AdapterRegistry(paths).add(lora_dir(), "smollm2-135m")
    assert leftovers(paths) == []


def test_corrupt_safetensors_is_refused(paths: Paths, lora_dir: Callable[..., Path]) -> None:
    src = lora_dir()
    (src / "adapter_model.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(InputError, match="not a safetensors file"):
        AdapterRegistry(paths).add(src, "corrupt")
    assert leftovers(paths) == []


def test_duplicate_name_is_refused_and_keeps_the_first(
    paths: Paths, lora_dir: Callable[..., Path]
) -> None:
    registry = AdapterRegistry(paths)
    first = registry.add(lora_dir("a"), "same")
    with pytest.raises(InputError, match="already exists"):
        registry.add(lora_dir("b", seed=3), "same")
    assert registry.get("same").sha256 == first.sha256
    assert leftovers(paths) == ["same"]


def test_unknown_base_is_refused(paths: Paths, lora_dir: Callable[..., Path]) -> None:
    with pytest.raises(NotFoundError, match="unknown model 'nope'"):
        AdapterRegistry(paths).add(lora_dir(), "x", base="nope")
    assert leftovers(paths) == []


def test_non_lora_config_is_refused(paths: Paths, lora_dir: Callable[..., Path]) -> None:
    src = lora_dir()
    config = json.loads((src / "adapter_config.json").read_text())
    (src / "adapter_config.json").write_text(json.dumps({**config, "modules_to_save": ["lm_head"]}))
    with pytest.raises(InputError, match="LoRA weights only"):
        AdapterRegistry(paths).add(src, "x")
    assert leftovers(paths) == []


@pytest.mark.parametrize(
    ("spec", "parts"),
    [
        ("solo", [("solo", 1.0)]),
        ("a:0.7,b:0.3", [("a", 0.7), ("b", 0.3)]),
        ("b:0.3, a:0.7", [("a", 0.7), ("b", 0.3)]),
        ("a:-0.5,b:1", [("a", -0.5), ("b", 1.0)]),
    ],
)
def test_specs_parse_in_name_order(spec: str, parts: list[tuple[str, float]]) -> None:
    assert parse_spec(spec) == parts


def test_mix_spelling_is_canonical() -> None:
    assert canonical_spec("b:0.30,a:0.7") == canonical_spec("a:0.7,b:0.3") == "a:0.7,b:0.3"


@pytest.mark.parametrize(
    "spec", ["", "a,b", "a:x", "a:0", "a:nan", "a:100", "a:0.5,a:0.5", "../x:1", "a:0.5,"]
)
def test_bad_specs_get_one_line(spec: str) -> None:
    with pytest.raises(InputError) as e:
        parse_spec(spec)
    assert "\n" not in str(e.value)


def test_engine_refuses_an_unknown_adapter_before_generating(paths: Paths) -> None:
    echo = EchoBackend()
    engine = Engine(paths, backend=echo)
    with pytest.raises(NotFoundError, match="unknown adapter 'nope'"):
        engine.ask("hello?", AskOptions(rag=False, adapter="nope"))
    with pytest.raises(NotFoundError, match="unknown adapter 'a'"):
        engine.ask("hello?", AskOptions(rag=False, adapter="b:0.5,a:0.5"))
    assert echo.requests == []


def test_engine_passes_a_registered_adapter_to_the_backend(
    paths: Paths, lora_dir: Callable[..., Path]
) -> None:
    AdapterRegistry(paths).add(lora_dir(), "style")
    echo = EchoBackend()
    answer = Engine(paths, backend=echo).ask("hello?", AskOptions(rag=False, adapter="style"))
    assert answer.adapter == "style"
    assert echo.requests[0].adapter == "style"


def test_vllm_export_writes_what_vllm_loads(
    paths: Paths, lora_dir: Callable[..., Path], tmp_path: Path
) -> None:
    registry = AdapterRegistry(paths)
    registry.add(lora_dir(rank=8, base="/somewhere/SmolLM2-135M-Instruct"), "style")
    out = tmp_path / "for-vllm"
    result = export_adapter("style", out, "vllm", paths)

    assert sorted(p.name for p in out.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == SMOL_HUB_ID
    same = (out / "adapter_model.safetensors").read_bytes()
    assert same == (registry.path("style") / "adapter_model.safetensors").read_bytes()
    assert result.command == (
        f"vllm serve {SMOL_HUB_ID} --enable-lora --lora-modules style={out} "
        "--max-lora-rank 8 --max-loras 1"
    )


def test_export_refuses_a_full_target_and_unknown_runtimes(
    paths: Paths, lora_dir: Callable[..., Path], tmp_path: Path
) -> None:
    AdapterRegistry(paths).add(lora_dir(), "style")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        export_adapter("style", full, "vllm", paths)
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
    with pytest.raises(InputError, match="choose one of: vllm"):
        export_adapter("style", tmp_path / "x", "tgi", paths)
    assert not (tmp_path / "x").exists()
