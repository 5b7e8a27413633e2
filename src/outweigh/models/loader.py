"""Loading models by name; a bundled GGUF is dequantized once and cached as safetensors.

transformers reads GGUF through the `gguf` package, which dequantizes every tensor (20-50 s
on CPU). We do that once per model, save the result under `OUTWEIGH_HOME/models/<name>/`
and load from there afterwards (about a second).
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outweigh.errors import ModelLoadError
from outweigh.models.catalog import ModelEntry, resolve
from outweigh.models.options import LoadOptions, Resolved
from outweigh.settings import Paths

_COMPLETE = ".outweigh-complete"
"""Written last into a converted dir; a dir without it is a crashed conversion and is redone."""


@dataclass
class LoadedModel:
    """A model ready to generate: weights, tokenizer and what the catalog says of it."""

    entry: ModelEntry
    model: Any
    """A transformers PreTrainedModel in eval mode."""
    tokenizer: Any
    context_window: int
    """max_position_embeddings from the model config."""
    placement: Resolved | None = None
    """Where and in what precision it was loaded; None for a model built by hand."""

    @property
    def device(self) -> Any:
        """Where inputs go: the device of the input embeddings (the first layer under a
        multi-GPU device map)."""
        return self.model.get_input_embeddings().weight.device


def cache_dir(entry: ModelEntry, paths: Paths) -> Path:
    return paths.models_dir / entry.name


def is_converted(name: str, paths: Paths | None = None) -> bool:
    """Whether a catalog GGUF model already has its safetensors cache."""
    entry = resolve(name)
    return not entry.is_gguf or (cache_dir(entry, paths or Paths()) / _COMPLETE).exists()


def pull(name: str, paths: Paths | None = None) -> str:
    """Make `name` loadable offline and return what `from_pretrained` should open.

    For a catalog GGUF this converts it once; a local dir is returned as is; a hub id is
    downloaded into the Hugging Face cache.
    """
    paths = paths or Paths()
    entry = resolve(name)
    if entry.kind == "hf-dir":
        return entry.location
    if entry.kind == "hub":
        try:
            from huggingface_hub import snapshot_download

            return snapshot_download(entry.location)
        except Exception as e:
            raise ModelLoadError(f"cannot download {entry.location} from the hub: {e}") from e
    target = cache_dir(entry, paths)
    if (target / _COMPLETE).exists():
        return str(target)
    _convert_gguf(entry, target)
    return str(target)


def gguf_file(name: str, paths: Paths | None = None) -> Path:
    """The GGUF file of catalog model `name`, as it ships, for llama.cpp: inside its package,
    or, for a model shipped in parts, assembled once beside the converted models."""
    paths = paths or Paths()
    entry = resolve(name)
    if not entry.is_gguf:
        raise ModelLoadError(f"model {entry.name} is not a GGUF; it loads with transformers")
    if entry.kind == "pypi-gguf":
        return _gguf_path(entry, paths.models_dir)
    target = paths.models_dir / entry.file
    if target.is_file():
        return target
    work = paths.models_dir / f".{entry.file}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        # Assembled in a private dir and renamed, so a crash never leaves half a file in place.
        _gguf_path(entry, work).rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _gguf_path(entry: ModelEntry, workdir: Path) -> Path:
    spec = importlib.util.find_spec(entry.location)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"model {entry.name} is not installed; run: {entry.install}")
    if entry.kind == "pypi-gguf":
        path = Path(next(iter(spec.submodule_search_locations))) / entry.file
        if not path.is_file():
            raise ModelLoadError(f"{path} is missing; reinstall with: {entry.install}")
        return path
    # Part packages: the top package concatenates its parts and checks the sha256.
    module = importlib.import_module(entry.location)
    try:
        return Path(module.assemble(workdir / entry.file, overwrite=True))
    except (FileNotFoundError, ValueError, OSError) as e:
        raise ModelLoadError(f"cannot assemble {entry.name}: {e}; run: {entry.install}") from e


@contextmanager
def _one_gguf_read() -> Iterator[None]:
    """transformers reads a GGUF with gguf-py three times to make a tokenizer and a model (the
    config, the tokenizer, the weights), and each read walks the whole vocabulary: 262k
    strings for Gemma 3, about 12 s a read on 2 cores. Within this block a file is read once.
    (transformers imports `gguf.GGUFReader` when it reads; one that imported it earlier would
    read as before.)"""
    import gguf

    plain = gguf.GGUFReader
    readers: dict[str, Any] = {}

    def once(path: Any, mode: str = "r") -> Any:
        key = f"{Path(path).resolve()}:{mode}"
        if key not in readers:
            readers[key] = plain(path, mode)
        return readers[key]

    gguf.GGUFReader = once
    try:
        yield
    finally:
        gguf.GGUFReader = plain


def _convert_gguf(entry: ModelEntry, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    work = target.with_name(target.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        gguf = _gguf_path(entry, work)
        with _one_gguf_read():
            tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(
                gguf.parent, gguf_file=gguf.name, dtype=torch.float32
            )
        # The weights are plain float32 now; the gguf quantizer only blocks saving.
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        out = work / "model"
        model.save_pretrained(out)
        tok.save_pretrained(out)
        (out / _COMPLETE).write_text(entry.name)
        shutil.rmtree(target, ignore_errors=True)
        out.rename(target)
    except ModelLoadError:
        raise
    except Exception as e:
        raise ModelLoadError(f"converting {entry.name} failed: {e}") from e
    finally:
        shutil.rmtree(work, ignore_errors=True)


def load(name: str, paths: Paths | None = None, options: LoadOptions | None = None) -> LoadedModel:
    """Load a model by catalog name, local dir or hub id, converting a GGUF on first use.

    `options` (default: the environment's, else auto) pick the device, dtype and quantization;
    the converted cache is float32 safetensors whatever they are, and casts on load.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    placement = (options or LoadOptions.from_env()).resolve()  # refuses before anything loads
    entry = resolve(name)
    where = pull(name, paths)  # the one slow step keeps its progress bar
    hf_logging.disable_progress_bar()  # loading cached safetensors takes about a second
    hf_logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(where)
        model = AutoModelForCausalLM.from_pretrained(where, **model_kwargs(placement))
    except Exception as e:
        raise ModelLoadError(f"cannot load model {name}: {e}") from e
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    cfg = getattr(model.config, "text_config", model.config)
    window = int(getattr(cfg, "max_position_embeddings", 2048) or 2048)
    return LoadedModel(
        entry=entry, model=model, tokenizer=tokenizer, context_window=window, placement=placement
    )


def model_kwargs(placement: Resolved) -> dict[str, Any]:
    """`from_pretrained` arguments for a placement: dtype, device map, attention, quantization."""
    kw: dict[str, Any] = {
        "dtype": placement.torch_dtype,
        "attn_implementation": placement.attention,
    }
    if placement.device_map is not None:
        kw["device_map"] = placement.device_map
    if placement.load_in is not None:
        kw["quantization_config"] = quantization_config(placement.load_in, placement.torch_dtype)
    return kw


def quantization_config(load_in: str, compute_dtype: Any) -> Any:
    """bitsandbytes settings: 4bit is QLoRA's (Dettmers et al. 2023, arxiv.org/abs/2305.14314):
    nf4 weights, the absmax constants quantized again (double quantization, ~0.37 bit/param
    saved), matmuls in `compute_dtype`; 8bit is LLM.int8()."""
    from transformers import BitsAndBytesConfig

    if load_in == "4bit":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute_dtype,
        )
    return BitsAndBytesConfig(load_in_8bit=True)
