"""A catalog GGUF requantized for the CPU, with llama.cpp's own quantizer.

Some shipped quant types have no fast CPU kernel in llama.cpp; where the catalog names a
`cpu_type`, the CPU runs a copy in that type, made once and kept beside the converted models.
"""

from __future__ import annotations

import ctypes
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from outweigh.errors import ModelLoadError
from outweigh.generate.native import cpu_threads, llama_cpp_module

if TYPE_CHECKING:
    from outweigh.models.catalog import ModelEntry
    from outweigh.settings import Paths


_CPU_TYPES = {"q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0"}
"""Catalog `cpu_type` -> llama.cpp's file type constant."""


def cpu_gguf(entry: ModelEntry, paths: Paths) -> Path:
    """The GGUF llama.cpp runs `entry` from on a CPU: the file as it ships, or, where the
    catalog names a `cpu_type`, a copy requantized to that type once with llama.cpp's own
    `llama_model_quantize` and kept beside the converted models.

    SmolLM2 ships as Q4_1, which llama.cpp has no fast CPU matrix kernel for: on 2 cores its
    prompt is processed at 260 tok/s, against 484 for the same weights as Q8_0, which also
    decodes 1.23x faster (`benchmarks/bench_generate.py --only quant`). Q8_0 holds the Q4_1
    values to within 1/254 of each 32-weight block's largest magnitude. The copy is named
    after the shipped file's size and mtime, so a reinstalled package gets a new one, and is
    written under a temporary name and renamed."""
    import hashlib

    from outweigh.models.loader import gguf_file

    shipped = gguf_file(entry.name, paths)
    if not entry.cpu_type:
        return shipped
    stat = shipped.stat()
    tag = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:8]
    target = paths.models_dir / f"{Path(entry.file).stem}.{entry.cpu_type}-{tag}.gguf"
    if target.is_file():
        return target
    llama_cpp = llama_cpp_module()

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, _CPU_TYPES[entry.cpu_type])
    params.allow_requantize = True
    params.nthread = cpu_threads()
    work = target.with_name(f".{target.name}.partial")
    fail = (
        f"cannot write {entry.name}'s {entry.cpu_type} copy into {paths.models_dir}; "
        "free space there or point OUTWEIGH_MODELS_DIR at a writable folder"
    )
    quiet = logging.getLogger("llama-cpp-python")  # its log callback prints every tensor
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        rc = llama_cpp.llama_model_quantize(
            str(shipped).encode(), str(work).encode(), ctypes.byref(params)
        )
        if rc != 0:
            raise ModelLoadError(f"{fail} (llama.cpp's quantize returned {rc})")
        os.replace(work, target)
    except OSError as e:
        raise ModelLoadError(f"{fail} ({e.strerror or e})") from e
    finally:
        quiet.setLevel(level)
        if work.parent.is_dir():
            work.unlink(missing_ok=True)
    return target
