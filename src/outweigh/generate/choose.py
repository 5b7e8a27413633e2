"""Which backend serves a local model, and opening it: llama.cpp for a catalog GGUF where it is
installed and its probe passes on this machine, else transformers.

A missing llama-cpp-python, or a model llama.cpp's probe found crashing here, is said in one
line and transformers decodes instead; asked for by name (`--backend llamacpp`), llama.cpp is
refused in one line rather than replaced.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING

from outweigh.errors import InputError, ModelLoadError
from outweigh.generate.base import Backend
from outweigh.generate.llamacpp import LlamaCppBackend, model_file
from outweigh.generate.native import Verdict, probe

if TYPE_CHECKING:
    from outweigh.generate.lora import AdapterSource
    from outweigh.models.catalog import ModelEntry
    from outweigh.models.options import LoadOptions
    from outweigh.settings import Paths

log = logging.getLogger("outweigh")

LLAMACPP_EXTRA = "pip install 'outweigh[llamacpp]'"
"""What installs llama-cpp-python (a source build; see the README's install section)."""

_told_fallback = False
"""The missing-llama.cpp line is said once per process, not once per model."""

_told_crash: set[str] = set()
"""Models whose failed probe was said this process."""


def llamacpp_installed() -> bool:
    """Whether `llama_cpp` can be imported, without importing it (it loads a native library)."""
    try:
        return importlib.util.find_spec("llama_cpp") is not None
    except (ImportError, ValueError):  # a stubbed-out module (sys.modules[...] = None)
        return False


def pick_backend(entry: ModelEntry, options: LoadOptions) -> str:
    """ "llamacpp" or "transformers" for `entry` under `options`; one-line errors name the flag.

    auto takes llama.cpp for a catalog GGUF when llama-cpp-python is installed and no
    transformers-only option (`--dtype`, `--load-in`) was asked for; a machine without it says
    so in one line and decodes with transformers.
    """
    global _told_fallback
    if options.backend == "transformers":
        return "transformers"
    if options.backend == "llamacpp":
        if not entry.is_gguf:
            raise InputError(
                f"`--backend llamacpp` runs GGUF models; {entry.name} is not one: "
                "use --backend transformers"
            )
        if options.load_in or options.dtype != "auto":
            raise InputError(
                "`--backend llamacpp` runs the GGUF's own quantization; drop --dtype/--load-in "
                "or use --backend transformers"
            )
        if not llamacpp_installed():
            raise InputError(
                f"`--backend llamacpp` needs llama-cpp-python, which is not installed; run: "
                f"{LLAMACPP_EXTRA}"
            )
        return "llamacpp"
    if not entry.is_gguf or options.load_in or options.dtype != "auto":
        return "transformers"
    if not llamacpp_installed():
        if not _told_fallback:
            _told_fallback = True
            log.warning(
                "llama-cpp-python is not installed, so %s decodes with transformers (about 7x "
                "slower on CPU); for the fast path run: %s",
                entry.name,
                LLAMACPP_EXTRA,
            )
        return "transformers"
    return "llamacpp"


def runs_here(entry: ModelEntry, paths: Paths, options: LoadOptions) -> Verdict:
    """Whether llama.cpp runs `entry` on this machine, probed in a subprocess the first time
    (`outweigh.generate.native.probe`). `OUTWEIGH_LLAMA_PROBE=0` skips the probe."""
    from outweigh.settings import llama_probe

    if not llama_probe():
        return Verdict(True, "", 0.0, 0.0)
    return probe(model_file(entry, paths, options), paths.models_dir)


def open_local(
    name: str,
    paths: Paths,
    options: LoadOptions | None = None,
    adapters: AdapterSource | None = None,
) -> Backend:
    """The local backend for model `name`: llama.cpp or transformers, as `pick_backend` says."""
    from outweigh.models.catalog import resolve
    from outweigh.models.options import LoadOptions

    options = options or LoadOptions.from_env()
    options.validate()
    entry = resolve(name)
    if pick_backend(entry, options) == "llamacpp":
        verdict = runs_here(entry, paths, options)
        if verdict.ok:
            return LlamaCppBackend.load(entry, paths, options, adapters)
        if options.backend == "llamacpp":
            raise ModelLoadError(verdict.line(entry.name, "`--backend llamacpp` cannot serve it"))
        if entry.name not in _told_crash:
            _told_crash.add(entry.name)
            log.warning("%s", verdict.line(entry.name))
    from outweigh.generate.local import LocalBackend
    from outweigh.models.loader import load

    return LocalBackend(load(name, paths, options), adapters)
