"""`--device`, `--dtype`, `--load-in` and `--backend`: the flags every command that runs a model
shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from outweigh.models.options import LoadOptions

DEVICE = typer.Option(
    None, "--device", help="auto, cpu, cuda or cuda:N [default: $OUTWEIGH_DEVICE, else auto]."
)
DTYPE = typer.Option(
    None, "--dtype", help="auto, bf16, fp16 or fp32 [default: $OUTWEIGH_DTYPE, else auto]."
)
LOAD_IN = typer.Option(
    None, "--load-in", help="4bit or 8bit weights via bitsandbytes [default: $OUTWEIGH_LOAD_IN]."
)

BACKEND = typer.Option(
    None,
    "--backend",
    help="auto, transformers or llamacpp [default: $OUTWEIGH_BACKEND, else auto: llama.cpp for "
    "a bundled GGUF when llama-cpp-python is installed].",
)


def load_options(
    device: str | None,
    dtype: str | None,
    load_in: str | None = None,
    backend: str | None = None,
) -> LoadOptions:
    """The flags over the environment over auto; a bad value is one line naming the flag."""
    from outweigh.models.options import LoadOptions

    return LoadOptions.from_env(device=device, dtype=dtype, load_in=load_in, backend=backend)
