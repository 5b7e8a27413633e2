"""An adapter's llama.cpp form: a PEFT LoRA written as GGUF by llama.cpp's own converter.

llama.cpp reads LoRA adapters only as GGUF, and the layout (tensor names per architecture, the
`adapter.lora.alpha` key, which factor is transposed) is llama.cpp's to define: its
`convert_lora_to_gguf.py` maps PEFT names through the same model classes that convert base
models (`conversion/`), and writes with its own `gguf-py`. So outweigh runs that script rather
than writing the format itself.

The script is not in the llama-cpp-python wheel, but its source distribution vendors the exact
llama.cpp the wheel was built from. On first use outweigh fetches the sdist of the installed
version through pip (`pip download --no-binary :all: --no-deps`; pip's cache makes it a one-time
download per machine), keeps only the script, `conversion/` and `gguf-py/` (about 1.5 MB) under
`<models dir>/llama.cpp-<version>/`, and runs it in a subprocess. The converter and the runtime
then always come from one llama.cpp revision; PyPI's `gguf` lags llama.cpp's `gguf-py`, which
the script needs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from outweigh.errors import ModelLoadError
from outweigh.settings import Paths

GGUF_FILE = "adapter.gguf"
"""The adapter's GGUF form, beside its PEFT files in the registered directory."""

SCRIPT = "convert_lora_to_gguf.py"
_KEEP = (SCRIPT, "conversion/", "gguf-py/", "LICENSE")
"""What the converter needs from llama.cpp's tree (the script imports `conversion` and puts
`gguf-py` first on its path), and the MIT licence that covers them."""

CONVERT_TIMEOUT_S = 600
"""Seconds one conversion may take; a rank-8 adapter of a 135M model takes about 5 s, most of
it importing torch."""


def llamacpp_version() -> str | None:
    """The installed llama-cpp-python's version, None when it is not installed."""
    try:
        return version("llama-cpp-python")
    except PackageNotFoundError:
        return None


def converter(paths: Paths) -> Path:
    """The directory holding llama.cpp's `convert_lora_to_gguf.py` for the installed
    llama-cpp-python, fetched and unpacked on first use."""
    ver = llamacpp_version()
    if ver is None:
        raise ModelLoadError(
            "writing an adapter's GGUF form needs llama-cpp-python; run: "
            "pip install 'outweigh[llamacpp]'"
        )
    target = paths.models_dir / f"llama.cpp-{ver}"
    if (target / SCRIPT).is_file():
        return target
    paths.models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=paths.models_dir, prefix=".llama.cpp-") as tmp:
        work = Path(tmp)
        got = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", f"llama-cpp-python=={ver}"),
                *("--no-binary", ":all:", "--no-deps", "--quiet", "-d", str(work / "sdist")),
            ],
            capture_output=True,
            text=True,
            timeout=CONVERT_TIMEOUT_S,
        )
        sdists = list((work / "sdist").glob("*.tar.gz"))
        if got.returncode != 0 or not sdists:
            why = (got.stderr.strip().splitlines() or ["no sdist"])[-1]
            raise ModelLoadError(
                f"cannot fetch llama.cpp's LoRA converter (llama-cpp-python {ver} sources): {why}"
            )
        out = work / "llama.cpp"
        with tarfile.open(sdists[0]) as tar:
            for member in tar.getmembers():
                _, _, rel = member.name.partition("/vendor/llama.cpp/")
                if rel and any(rel == k or rel.startswith(k) for k in _KEEP):
                    member.name = rel
                    tar.extract(member, out, filter="data")
        if not (out / SCRIPT).is_file():
            raise ModelLoadError(f"llama-cpp-python {ver}'s sources lack {SCRIPT}")
        shutil.rmtree(target, ignore_errors=True)
        out.rename(target)  # one rename: a crash leaves no half-unpacked converter in place
    return target


def write_gguf(peft_dir: Path, base_dir: str, out: Path, paths: Paths) -> Path:
    """Convert the PEFT adapter in `peft_dir` (trained on the HF model in `base_dir`) to
    `out`, in float32 (a LoRA is a few MB; no precision lost to the conversion)."""
    script = converter(paths) / SCRIPT
    partial = out.with_name(out.name + ".partial")
    env = {k: v for k, v in os.environ.items() if k != "NO_LOCAL_GGUF"}
    cmd = [sys.executable, str(script), "--base", base_dir, "--outtype", "f32"]
    cmd += ["--outfile", str(partial), str(peft_dir)]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=CONVERT_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        partial.unlink(missing_ok=True)
        raise ModelLoadError(f"converting {peft_dir.name} to GGUF took over 10 min") from None
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        raise ModelLoadError(
            f"llama.cpp's converter refused adapter {peft_dir.name}: "
            f"{lines[-1] if lines else 'no output'}"
        )
    partial.rename(out)
    return out
