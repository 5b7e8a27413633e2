"""Device, dtype and quantization: what `auto` means on this machine, the environment under the
flags, one-line refusals, and `outweigh ask --device cpu --dtype bf16` on the bundled model."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from outweigh import InputError
from outweigh.models import LoadOptions
from tests.conftest import CliResult


def test_auto_on_a_machine_without_cuda_is_the_old_cpu_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    r = LoadOptions().resolve()
    assert (r.device, r.dtype, r.device_map, r.load_in) == ("cpu", "fp32", None, None)
    assert r.attention == "sdpa"
    q = LoadOptions(device="cpu", load_in="4bit").resolve()  # 4 bits compute in bf16
    assert (q.dtype, q.device_map) == ("bf16", {"": "cpu"})


@pytest.mark.parametrize(
    ("gpus", "bf16", "device", "want"),
    [
        (1, True, "auto", ("cuda:0", "bf16", {"": "cuda:0"})),
        (1, False, "auto", ("cuda:0", "fp16", {"": "cuda:0"})),  # e.g. a T4: no bf16
        (4, True, "cuda", ("cuda:0", "bf16", "auto")),  # several GPUs: layers spread
        (4, True, "cuda:2", ("cuda:2", "bf16", {"": "cuda:2"})),
    ],
)
def test_auto_with_gpus(
    monkeypatch: pytest.MonkeyPatch,
    gpus: int,
    bf16: bool,
    device: str,
    want: tuple[str, str, object],
) -> None:
    """What torch reports is stubbed: the rule is what is tested, no GPU is needed."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16)
    r = LoadOptions(device=device).resolve()
    assert (r.device, r.dtype, r.device_map) == want


def test_environment_under_the_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OUTWEIGH_BACKEND", raising=False)  # the suite may run under either
    monkeypatch.setenv("OUTWEIGH_DEVICE", "cpu")
    monkeypatch.setenv("OUTWEIGH_DTYPE", "bf16")
    assert LoadOptions.from_env() == LoadOptions(device="cpu", dtype="bf16")
    assert LoadOptions.from_env(dtype="fp32") == LoadOptions(device="cpu", dtype="fp32")
    monkeypatch.setenv("OUTWEIGH_DTYPE", "half")
    with pytest.raises(InputError, match="unknown `--dtype` 'half'"):
        LoadOptions.from_env()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (LoadOptions(device="gpu"), "unknown `--device` 'gpu'"),
        (LoadOptions(device="cuda:x"), "unknown `--device` 'cuda:x'"),
        (LoadOptions(dtype="int8"), "unknown `--dtype` 'int8'"),
        (LoadOptions(load_in="2bit"), "unknown `--load-in` '2bit'"),
        (LoadOptions(dtype="fp32", load_in="4bit"), "drop `--dtype fp32`"),
        (LoadOptions(device="cuda:3"), "`--device cuda:3`: torch sees"),
    ],
)
def test_bad_options_are_one_line(
    options: LoadOptions, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        options.resolve()


@pytest.mark.slow
def test_ask_on_cpu_in_bf16(cli: Callable[..., CliResult]) -> None:
    """The bundled model in bf16 on CPU answers."""
    r = cli("ask", "--no-rag", "--no-memory", "--device", "cpu", "--dtype", "bf16",
            "--max-tokens", "8", "--json", "What is the capital of France?")  # fmt: skip
    assert r.code == 0, r.err
    assert "Paris" in r.out


@pytest.mark.slow
def test_bf16_load_keeps_every_weight_in_bf16() -> None:
    import torch

    from outweigh.models import load

    loaded = load("smollm2-135m", options=LoadOptions(device="cpu", dtype="bf16"))
    assert {p.dtype for p in loaded.model.parameters()} == {torch.bfloat16}
    assert loaded.placement is not None and loaded.placement.device == "cpu"


def test_device_flag_this_machine_lacks_is_one_line_before_loading(
    cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    r = cli("ask", "--no-rag", "--device", "cuda", "hello")
    assert r.code == 2 and r.err.count("\n") == 1
    assert "`--device cuda`: torch sees no CUDA GPU; use --device cpu" in r.err
