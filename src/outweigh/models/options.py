"""Where and in what precision a model runs: `LoadOptions` and its resolution on this machine.

One typed value carries `--device`, `--dtype` and `--load-in` from every entry point (ask, chat,
serve, eval, adapter train) to the loader, the embedder and training. `resolve()` turns `auto`
into what this machine has; nothing here imports torch until then.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from dataclasses import dataclass

from outweigh.errors import InputError
from outweigh.settings import load_env

DEVICES = ("auto", "cpu", "cuda", "cuda:N")
"""`--device` choices; cuda:N names one GPU by index."""
DTYPES = ("auto", "bf16", "fp16", "fp32")
"""`--dtype` choices."""
LOAD_IN = ("4bit", "8bit")
"""`--load-in` choices: bitsandbytes nf4 (with double quantization) or LLM.int8()."""
BACKENDS = ("auto", "transformers", "llamacpp")
"""`--backend` choices (outweigh.generate.choose.pick_backend decides what auto is)."""
TORCH_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
"""torch attribute names of the dtypes."""
GPU_EXTRA = "pip install 'outweigh[gpu]'"
"""What installs bitsandbytes (and nothing else) for 4-bit / 8-bit loading and QLoRA."""

_CUDA_N = re.compile(r"cuda:\d{1,3}")

# bitsandbytes (imported by PEFT whenever it is installed) warns on CPU that the optional
# `kernels` package is missing; it only speeds up the CPU 4-bit matmul, and a warning on every
# command is noise in a CLI.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)


def require_bitsandbytes(flag: str) -> None:
    """A one-line InputError naming `flag` and the install command when bitsandbytes is absent;
    checked before any model loads."""
    try:
        missing = importlib.util.find_spec("bitsandbytes") is None
    except (ImportError, ValueError):  # a stubbed-out module (sys.modules[...] = None)
        missing = True
    if missing:
        raise InputError(f"`{flag}` needs bitsandbytes, which is not installed; run: {GPU_EXTRA}")


@dataclass(frozen=True)
class Resolved:
    """LoadOptions made concrete for this machine."""

    device: str
    """"cpu", "cuda:N" (the GPU inputs go to, and the embedder's)."""
    dtype: str
    """bf16, fp16 or fp32: the weights' dtype, or the compute dtype under `load_in`."""
    load_in: str | None
    """4bit, 8bit or None."""
    device_map: str | dict[str, str] | None
    """What `from_pretrained(device_map=...)` gets: None on CPU (a plain load, as before),
    "auto" to spread layers over several GPUs (accelerate), else {"": device}."""
    attention: str
    """attn_implementation: flash_attention_2 on a GPU in 16-bit when flash-attn is installed,
    else sdpa."""

    @property
    def torch_dtype(self) -> object:
        import torch

        return getattr(torch, TORCH_DTYPES[self.dtype])

    @property
    def on_gpu(self) -> bool:
        return self.device.startswith("cuda")


@dataclass(frozen=True)
class LoadOptions:
    """How a model loads: device, precision and quantization."""

    device: str = "auto"
    """`--device` / `$OUTWEIGH_DEVICE`: auto (CUDA when torch sees a GPU, else cpu), cpu, cuda
    (every GPU: device_map="auto" spreads layers over them) or cuda:N (that one GPU)."""
    dtype: str = "auto"
    """`--dtype` / `$OUTWEIGH_DTYPE`: auto (bf16 on a GPU that supports it, fp16 on one that does
    not, bf16 under --load-in, fp32 on CPU), bf16, fp16 or fp32. bf16 on CPU halves RAM."""
    load_in: str | None = None
    """`--load-in` / `$OUTWEIGH_LOAD_IN`: 4bit (nf4, double quantization) or 8bit (LLM.int8())
    weights through bitsandbytes, for inference; None loads them in `dtype`."""
    backend: str = "auto"
    """`--backend` / `$OUTWEIGH_BACKEND`: auto (llamacpp for a bundled GGUF when
    llama-cpp-python is installed and neither --dtype nor --load-in is given, else
    transformers), transformers (PyTorch, the float32 copy of a GGUF) or llamacpp (the GGUF as
    it ships)."""
    slots: int = 1
    """Answers llama.cpp decodes at once in one batch, each with a KV cache of a whole window
    (`generate.batcher`). One for the CLI and the library; `outweigh serve` takes
    `$OUTWEIGH_LLAMA_SLOTS` (8 by default). transformers ignores it."""

    def validate(self) -> None:
        """One-line errors naming the flag."""
        if not 1 <= self.slots <= 64:
            raise InputError(f"`slots` must be from 1 to 64, not {self.slots}")
        if self.device not in ("auto", "cpu", "cuda") and not _CUDA_N.fullmatch(self.device):
            raise InputError(
                f"unknown `--device` {self.device!r}; choose one of: {', '.join(DEVICES)}"
            )
        if self.backend not in BACKENDS:
            raise InputError(
                f"unknown `--backend` {self.backend!r}; choose one of: {', '.join(BACKENDS)}"
            )
        if self.dtype not in DTYPES:
            raise InputError(
                f"unknown `--dtype` {self.dtype!r}; choose one of: {', '.join(DTYPES)}"
            )
        if self.load_in is not None:
            if self.load_in not in LOAD_IN:
                raise InputError(
                    f"unknown `--load-in` {self.load_in!r}; choose one of: {', '.join(LOAD_IN)}"
                )
            if self.dtype == "fp32":
                raise InputError("`--load-in` computes in bf16 or fp16; drop `--dtype fp32`")
            require_bitsandbytes(f"--load-in {self.load_in}")

    @classmethod
    def from_env(cls, **given: str | None) -> LoadOptions:
        """Flags given (not None) over `$OUTWEIGH_DEVICE`, `$OUTWEIGH_DTYPE`, `$OUTWEIGH_LOAD_IN`,
        `$OUTWEIGH_BACKEND` over the defaults; validated."""
        values: dict[str, str | None] = {**load_env(), **{k: v for k, v in given.items() if v}}
        opts = cls(**values)  # type: ignore[arg-type]
        opts.validate()
        return opts

    def resolve(self) -> Resolved:
        """What to load on this machine; InputError when a named GPU is not there."""
        import torch

        self.validate()
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        device = self.device
        if device == "auto":
            device = "cuda" if gpus else "cpu"
        if device.startswith("cuda"):
            index = int(device.partition(":")[2] or 0)
            if index >= gpus:
                seen = f"{gpus} GPU(s)" if gpus else "no CUDA GPU"
                raise InputError(f"`--device {self.device}`: torch sees {seen}; use --device cpu")
        dtype = self.dtype
        if dtype == "auto":
            if device.startswith("cuda"):
                dtype = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
            else:
                dtype = "bf16" if self.load_in else "fp32"
        if device == "cpu":
            device_map: str | dict[str, str] | None = None
            if self.load_in:  # bitsandbytes places quantized weights only through a device map
                device_map = {"": "cpu"}
        elif device == "cuda":
            device_map = "auto" if gpus > 1 else {"": "cuda:0"}
            device = "cuda:0"
        else:
            device_map = {"": device}
        flash = importlib.util.find_spec("flash_attn") is not None
        attention = "flash_attention_2" if flash and device != "cpu" and dtype != "fp32" else "sdpa"
        return Resolved(device, dtype, self.load_in, device_map, attention)
