"""Loading models by name; a bundled GGUF is dequantized once and cached as safetensors.

transformers reads GGUF through the `gguf` package, which dequantizes every tensor (20-50 s
on CPU). We do that once per model, save the result under `OUTWEIGH_HOME/models/<name>/`
and load from there afterwards (about a second).
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outweigh.errors import ModelLoadError
from outweigh.models.catalog import ModelEntry, resolve
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


def _convert_gguf(entry: ModelEntry, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    work = target.with_name(target.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        gguf = _gguf_path(entry, work)
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


def load(name: str, paths: Paths | None = None) -> LoadedModel:
    """Load a model by catalog name, local dir or hub id, converting a GGUF on first use."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    entry = resolve(name)
    where = pull(name, paths)  # the one slow step keeps its progress bar
    hf_logging.disable_progress_bar()  # loading cached safetensors takes about a second
    hf_logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(where)
        model = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32)
    except Exception as e:
        raise ModelLoadError(f"cannot load model {name}: {e}") from e
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    cfg = getattr(model.config, "text_config", model.config)
    window = int(getattr(cfg, "max_position_embeddings", 2048) or 2048)
    return LoadedModel(entry=entry, model=model, tokenizer=tokenizer, context_window=window)
