"""Training at scale on the real SmolLM2: bf16 with gradient checkpointing, gradient
accumulation that changes no step, and QLoRA (nf4 base, paged 8-bit AdamW) from training through
a checkpoint and a resume to serving the adapter. Where bitsandbytes is missing, one line says
what to install."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.adapters.conftest import CliResult
from tests.adapters.test_train import SHORT, write

from outweigh import Paths
from outweigh.adapters import AdapterRegistry, TrainConfig, TrainProgress, train_adapter

Cli = Callable[..., CliResult]

SMALL = dict(rank=2, batch_size=2, max_length=64, val_fraction=0.0, lr=1e-2)
"""A few tiny steps: seconds on 2 cores."""


def one_error_line(result: CliResult) -> str:
    assert result.code == 2, (result.out, result.err)
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    return lines[0]


@pytest.mark.slow
def test_cli_trains_in_bf16_with_gradient_checkpointing(
    cli: Cli, paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every decoder layer runs through torch's checkpoint, on bf16 hidden states."""
    import torch
    import torch.utils.checkpoint as tc

    seen: list[torch.dtype] = []
    real = tc.checkpoint

    def spy(function: Any, *args: Any, **kwargs: Any) -> Any:
        seen.extend(a.dtype for a in args if isinstance(a, torch.Tensor) and a.is_floating_point())
        return real(function, *args, **kwargs)

    # transformers imports `checkpoint` by name when it builds the checkpointing function
    monkeypatch.setattr("transformers.modeling_utils.checkpoint", spy)
    data = write(tmp_path / "data.jsonl", SHORT)
    result = cli(
        "adapter", "train", str(data), "--name", "b16", "--rank", "2", "--max-steps", "1",
        "--batch-size", "2", "--max-length", "64", "--device", "cpu", "--dtype", "bf16",
        "--grad-checkpointing",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "b16" in result.out
    layers = 30  # SmolLM2-135M
    assert len(seen) >= layers  # every layer checkpointed
    assert set(seen) == {torch.bfloat16}
    assert AdapterRegistry(paths).get("b16").metrics["steps"] == 1


@pytest.mark.slow
def test_gradient_accumulation_gives_the_one_pass_gradient() -> None:
    """A batch run in two parts, each weighted by its share of the labelled tokens, gives the
    gradient of one pass over the whole batch (rows of different lengths, so the parts pad and
    weigh differently; no dropout, whose masks would differ)."""
    import torch

    from outweigh.adapters.train import _accumulate, _split, _wrap
    from outweigh.generate.local import LocalBackend
    from outweigh.models import LoadOptions, load

    backend = LocalBackend(load("smollm2-135m", options=LoadOptions(device="cpu")))
    config = TrainConfig(rank=2, dropout=0.0, batch_size=4, val_fraction=0.0)
    batch = _split(_rows(), backend, config).train[:4]
    assert len({len(e.input_ids) for e in batch}) > 1
    model = _wrap(backend.loaded.model, config, "smollm2-135m")
    pad = int(backend.tokenizer.pad_token_id)
    grads, losses = [], []
    for parts in (1, 2):
        loss, tokens = _accumulate(model, batch, pad, parts, torch.device("cpu"))
        losses.append(float(loss))
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad})
        model.zero_grad(set_to_none=True)
    assert tokens == sum(len(e.input_ids) for e in batch)  # padding is not counted
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    for name, g in grads[0].items():
        torch.testing.assert_close(g, grads[1][name], rtol=1e-4, atol=1e-7)
    assert any(g.abs().sum() > 0 for g in grads[0].values())


def _rows() -> list[list[dict[str, str]]]:
    """SHORT as message lists, with a long answer so the rows differ in length."""
    rows = [
        [
            {"role": "user", "content": r["prompt"]},
            {"role": "assistant", "content": r["completion"]},
        ]
        for r in SHORT
    ]
    rows[1][1]["content"] += " That is the whole answer, said at some length." * 3
    return rows


@pytest.mark.slow
def test_qlora_trains_on_nf4_checkpoints_resumes_and_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("bitsandbytes")
    import bitsandbytes as bnb
    from safetensors.torch import load_file

    import outweigh.adapters.train as train
    from outweigh.engine import AskOptions, Engine
    from outweigh.models import LoadOptions

    layer_types: list[type] = []
    wrap = train._wrap

    def spy(base: Any, *args: Any, **kwargs: Any) -> Any:
        layer_types.append(type(base.model.layers[0].self_attn.q_proj))
        return wrap(base, *args, **kwargs)

    monkeypatch.setattr(train, "_wrap", spy)
    paths = Paths(tmp_path / "home")
    data = write(tmp_path / "data.jsonl", SHORT)
    # rank 8: LoRA's A (8 x 576) reaches bitsandbytes' 4096-element minimum for 8-bit state
    settings = {**SMALL, "rank": 8}
    config = TrainConfig(method="qlora", max_steps=3, checkpoint_every=1, device="cpu", **settings)  # type: ignore[arg-type]

    def stop_at_2(p: TrainProgress) -> None:
        if p.step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_adapter(data, "q", config, paths, progress=stop_at_2)
    ckpt = paths.adapters_dir / ".checkpoints" / "q"
    moments = load_file(str(ckpt / "optimizer.safetensors"))
    # bitsandbytes' 8-bit AdamW: uint8 moments with block-wise absmax, not fp32 exp_avg
    assert {k.rsplit(".", 1)[1] for k in moments} >= {"state1", "state2", "absmax1", "absmax2"}
    # (parameters under 4096 elements, k/v's B at 192 x 8, keep 32-bit state in bitsandbytes)
    assert "torch.uint8" in {str(v.dtype) for k, v in moments.items() if k.endswith(".state1")}
    assert json.loads((ckpt / "state.json").read_text())["step"] == 2

    seen: list[TrainProgress] = []
    info = train_adapter(data, "q", config, paths, progress=seen.append)
    assert [(p.step, p.resumed_from) for p in seen] == [(3, 2)]
    assert seen[-1].tokens_per_s > 0 and seen[-1].peak_vram_bytes is None  # CPU: no VRAM
    assert layer_types == [bnb.nn.Linear4bit, bnb.nn.Linear4bit]
    assert info.source == "trained" and info.rank == 8

    # served over the 16-bit base, as QLoRA adapters usually are (loading nf4 again costs ~15 s)
    engine = Engine(paths, load=LoadOptions(device="cpu", dtype="bf16"))
    try:
        answer = engine.ask("What is 3 plus 3?", AskOptions(rag=False, max_tokens=6, adapter="q"))
    finally:
        engine.close()
    assert answer.adapter == "q" and answer.answer.strip()
    assert answer.usage["completion_tokens"] >= 1


@pytest.mark.parametrize(
    "args",
    [
        ("adapter", "train", "DATA", "--name", "q", "--method", "qlora"),
        ("ask", "--no-rag", "--load-in", "4bit", "hello"),
    ],
)
def test_missing_bitsandbytes_is_one_line_saying_what_to_install(
    cli: Cli, paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # import bitsandbytes now fails
    data = write(tmp_path / "data.jsonl", SHORT)
    line = one_error_line(cli(*(str(data) if a == "DATA" else a for a in args)))
    assert "bitsandbytes" in line and "pip install 'outweigh[gpu]'" in line
    assert not paths.adapters_dir.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--method", "dora"), "unknown `--method` 'dora'"),
        (("--grad-accum", "3", "--batch-size", "2"), "`--grad-accum` must be from 1"),
        (("--dtype", "int4"), "unknown `--dtype` 'int4'"),
        (("--device", "tpu"), "unknown `--device` 'tpu'"),
    ],
)
def test_bad_scale_settings_are_refused_before_loading(
    cli: Cli, paths: Paths, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    data = write(tmp_path / "data.jsonl", SHORT)
    line = one_error_line(cli("adapter", "train", str(data), "--name", "x", *args))
    assert message in line
    assert not paths.adapters_dir.exists()
