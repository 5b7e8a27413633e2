"""Training: bad input is refused before the model loads; an interruption registers nothing
and a rerun resumes to the same weights an uninterrupted run reaches."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from tests.adapters.conftest import leftovers

from outweigh import InputError, NotFoundError, Paths
from outweigh.adapters import AdapterRegistry, TrainConfig, TrainProgress, train_adapter

SHORT = [{"prompt": f"What is {a} plus {a}?", "completion": f"{2 * a}. — V"} for a in range(2, 14)]
"""Twelve tiny rows: enough for a few real optimizer steps in seconds."""

TINY = TrainConfig(rank=2, max_steps=4, batch_size=2, checkpoint_every=2, val_fraction=0.0)


def write(path: Path, lines: list[object]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([{"prompt": "a", "completion": "b"}, "{not json"], r"data\.jsonl:2: not valid JSON"),
        ([], "has no examples"),
        (["", "  "], "has no examples"),
        ([{"text": "hi"}], r":1: expected"),
        ([{"messages": [{"role": "user", "content": "hi"}]}], ":1: no assistant message"),
        ([{"messages": [{"role": "bot", "content": "hi"}]}], ":1: each message needs a role"),
        ([{"prompt": "", "completion": "x"}], ":1: 'prompt' and 'completion'"),
    ],
)
def test_bad_data_is_refused_with_its_line(
    paths: Paths, tmp_path: Path, lines: list[object], message: str
) -> None:
    data = write(tmp_path / "data.jsonl", lines)
    with pytest.raises(InputError, match=message) as e:
        train_adapter(data, "x", TINY, paths)
    assert "\n" not in str(e.value)
    assert AdapterRegistry(paths).list() == []
    assert leftovers(paths) == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (TrainConfig(rank=0), "`--rank` must be at least 1"),
        (TrainConfig(rank=-3), "`--rank` must be at least 1"),
        (TrainConfig(epochs=0), "`--epochs`"),
        (TrainConfig(lr=0), "`--lr`"),
        (TrainConfig(max_steps=0), "`--max-steps`"),
        (TrainConfig(targets=()), "`--targets`"),
        (TrainConfig(targets=("q_proj/../x",)), "`--targets`"),
        (TrainConfig(val_fraction=0.9), "`--val-fraction`"),
    ],
)
def test_bad_settings_are_refused(
    paths: Paths, tmp_path: Path, config: TrainConfig, message: str
) -> None:
    data = write(tmp_path / "data.jsonl", SHORT)
    with pytest.raises(InputError, match=message):
        train_adapter(data, "x", config, paths)
    assert leftovers(paths) == []


def test_unknown_base_and_bad_name_are_refused(paths: Paths, tmp_path: Path) -> None:
    data = write(tmp_path / "data.jsonl", SHORT)
    with pytest.raises(NotFoundError, match="unknown model 'nope'; choose one of"):
        train_adapter(data, "x", TrainConfig(base="nope"), paths)
    with pytest.raises(InputError, match="invalid adapter name"):
        train_adapter(data, "../x", TINY, paths)
    assert leftovers(paths) == []


def test_missing_file_is_refused(paths: Paths, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not a file"):
        train_adapter(tmp_path / "absent.jsonl", "x", TINY, paths)


def test_unknown_target_module_names_the_real_ones(paths: Paths, tmp_path: Path) -> None:
    data = write(tmp_path / "data.jsonl", SHORT)
    with pytest.raises(InputError, match="has no module qkv; its linear layers are .*q_proj"):
        train_adapter(data, "x", TrainConfig(targets=("qkv",), max_steps=1), paths)
    assert AdapterRegistry(paths).list() == []


def _weights(paths: Paths, name: str) -> dict[str, object]:
    from safetensors.torch import load_file

    return load_file(str(AdapterRegistry(paths).path(name) / "adapter_model.safetensors"))


@pytest.mark.slow
def test_interrupted_run_registers_nothing_and_resumes_exactly(tmp_path: Path) -> None:
    import torch

    data = write(tmp_path / "data.jsonl", SHORT)
    straight, broken = Paths(tmp_path / "a"), Paths(tmp_path / "b")
    train_adapter(data, "tiny", TINY, straight)

    def stop_at_3(p: TrainProgress) -> None:
        if p.step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_adapter(data, "tiny", TINY, broken, progress=stop_at_3)
    assert AdapterRegistry(broken).list() == []
    assert leftovers(broken) == [".checkpoints"]

    seen: list[TrainProgress] = []
    info = train_adapter(data, "tiny", TINY, broken, progress=seen.append)
    assert [(p.step, p.resumed_from) for p in seen] == [(4, 3)]
    assert info.source == "trained" and info.rank == 2
    assert leftovers(broken) == ["tiny"]  # the checkpoint is gone once registered
    a, b = _weights(straight, "tiny"), _weights(broken, "tiny")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)


@pytest.mark.slow
def test_a_run_from_an_adapter_starts_at_its_weights(tmp_path: Path) -> None:
    """`--from` loads the starting adapter's LoRA weights and keeps its rank: one step at a
    learning rate too small to move anything leaves the new adapter equal to the old one,
    where a fresh start would begin with B at zero."""
    import torch

    data = write(tmp_path / "data.jsonl", SHORT)
    paths = Paths(tmp_path / "state")
    train_adapter(data, "first", TINY, paths)
    still = replace(TINY, rank=8, max_steps=1, lr=1e-12, start_from="first")
    info = train_adapter(data, "second", still, paths)
    assert info.rank == 2  # the starting adapter's, not the config's 8
    folder = AdapterRegistry(paths).path("first")
    train_adapter(data, "third", replace(still, start_from=str(folder)), paths)
    first = _weights(paths, "first")
    assert any(float(v.abs().max()) > 0 for k, v in first.items() if "lora_B" in k)
    for name in ("second", "third"):
        other = _weights(paths, name)
        assert other.keys() == first.keys()
        for key in first:
            torch.testing.assert_close(other[key], first[key], rtol=0, atol=1e-6)


def test_a_start_that_is_not_a_lora_for_this_base_is_refused(paths: Paths, tmp_path: Path) -> None:
    from tests.adapters.conftest import write_lora

    data = write(tmp_path / "data.jsonl", SHORT)
    with pytest.raises(InputError, match="^--from 'nope': not a registered adapter nor a PEFT"):
        train_adapter(data, "x", replace(TINY, start_from="nope"), paths)
    other = write_lora(tmp_path / "qwen", base="Qwen/Qwen2.5-0.5B-Instruct")
    with pytest.raises(InputError, match="was trained on Qwen/Qwen2.5-0.5B-Instruct, not on"):
        train_adapter(data, "x", replace(TINY, start_from=str(other)), paths)
    mine = write_lora(tmp_path / "patterned")
    config = json.loads((mine / "adapter_config.json").read_text())
    config["rank_pattern"] = {"model.layers.0.self_attn.q_proj": 8}
    (mine / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="gives some modules their own rank or alpha"):
        train_adapter(data, "x", replace(TINY, start_from=str(mine)), paths)
    (other / "adapter_config.json").write_text("{not json")
    with pytest.raises(InputError, match="unreadable adapter_config.json"):
        train_adapter(data, "x", replace(TINY, start_from=str(other)), paths)
    assert AdapterRegistry(paths).list() == []
