"""Where outweigh keeps its state, and the defaults every part shares. Standard library only.

Every environment variable outweigh reads is read here, so one file lists them all.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path

from outweigh.errors import InputError

DEFAULT_MODEL = "smollm2-135m"
DEFAULT_COLLECTION = "default"


def home() -> Path:
    """The state directory: `$OUTWEIGH_HOME`, else `~/.local/share/outweigh`."""
    env = os.environ.get("OUTWEIGH_HOME")
    return Path(env).expanduser() if env else Path.home() / ".local" / "share" / "outweigh"


@dataclass(frozen=True)
class Paths:
    """Every file outweigh writes lives under `root`."""

    root: Path = field(default_factory=home)

    @property
    def db(self) -> Path:
        """SQLite, the source of truth: documents, chunks, embeddings, FTS5, memories, adapters."""
        return self.root / "outweigh.db"

    @property
    def index_dir(self) -> Path:
        """faiss indexes, one per collection; always rebuildable from the db."""
        return self.root / "index"

    @property
    def models_dir(self) -> Path:
        """Converted model weights (GGUF dequantized once, saved as safetensors).

        `$OUTWEIGH_MODELS_DIR` moves them elsewhere, e.g. to a bigger disk or a shared cache.
        """
        env = os.environ.get("OUTWEIGH_MODELS_DIR")
        return Path(env).expanduser() if env else self.root / "models"

    @property
    def adapters_dir(self) -> Path:
        """Registered LoRA adapters in PEFT format, one folder per name."""
        return self.root / "adapters"

    @property
    def uploads_dir(self) -> Path:
        """Documents sent to the server, `uploads/<collection>/<name>`; removed with their
        document."""
        return self.root / "uploads"

    @property
    def staging_dir(self) -> Path:
        """Uploads being checked before they are placed; leftovers are crash debris."""
        return self.uploads_dir / ".incoming"


@dataclass(frozen=True)
class IngestLimits:
    """Guards on what `ingest` accepts; the default reads the environment when made."""

    max_file_bytes: int = field(default_factory=lambda: _max_file_mb() * 1024 * 1024)
    """Files above this are refused with a one-line error (`OUTWEIGH_MAX_FILE_MB`, default 50).
    It also caps what a PDF may inflate to and the text it may yield (loaders.py)."""
    ocr_pages: int = field(default_factory=lambda: _env_int("OUTWEIGH_OCR_PAGES", 50))
    """Most pages without a text layer one PDF may have OCR'd (`OUTWEIGH_OCR_PAGES`); a scan
    of more is refused before OCR starts. 50 pages take about 4 min on one core."""
    ocr_seconds: int = field(default_factory=lambda: _env_int("OUTWEIGH_OCR_SECONDS", 600))
    """Most seconds the OCR of one PDF may take (`OUTWEIGH_OCR_SECONDS`); then it is killed."""
    ocr_languages: str = field(
        default_factory=lambda: os.environ.get("OUTWEIGH_OCR_LANGUAGES", "").strip() or "eng+rus"
    )
    """Tesseract languages for OCR (`OUTWEIGH_OCR_LANGUAGES`), Debian's tesseract-ocr-* data."""


def _max_file_mb() -> int:
    raw = os.environ.get("OUTWEIGH_MAX_FILE_MB", "").strip() or "50"
    if not raw.isdigit() or int(raw) < 1:
        raise InputError(f"`OUTWEIGH_MAX_FILE_MB` must be a whole number of MiB >= 1, not {raw!r}")
    return int(raw)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise InputError(f"`{name}` must be an integer, not {raw[:20]!r}") from None


def default_user() -> str:
    """The OS user name, the default `--user`; "default" where the OS has none (containers)."""
    try:
        return getpass.getuser() or "default"
    except (KeyError, OSError):
        return "default"


def max_message_chars() -> int:
    """Longest message memory stores: `$OUTWEIGH_MAX_MESSAGE_CHARS`, default 16000."""
    return _env_int("OUTWEIGH_MAX_MESSAGE_CHARS", 16000)


def memory_tokens() -> int:
    """Prompt tokens recalled memories may use: `$OUTWEIGH_MEMORY_TOKENS`, default 256."""
    return _env_int("OUTWEIGH_MEMORY_TOKENS", 256)


def embedder() -> str | None:
    """The embedder to load: `$OUTWEIGH_EMBEDDER` (a sentence-transformers folder or hub id),
    else None for the bundled all-MiniLM-L6-v2. `--embedder` overrides it."""
    return os.environ.get("OUTWEIGH_EMBEDDER", "").strip() or None


def memory_extractor() -> str:
    """Who captures and decides memories: `$OUTWEIGH_MEMORY_EXTRACTOR`, "rules" (default) or
    "model" (the answering model lists facts and decides ADD/UPDATE/NOOP; for a capable one)."""
    value = (os.environ.get("OUTWEIGH_MEMORY_EXTRACTOR") or "rules").strip().lower()
    if value not in ("rules", "model"):
        from outweigh.errors import InputError

        raise InputError(f"`OUTWEIGH_MEMORY_EXTRACTOR` must be rules or model; got {value!r}")
    return value


def vector_store() -> str:
    """The vector store spec: `$OUTWEIGH_VECTOR_STORE`, else "faiss"."""
    return os.environ.get("OUTWEIGH_VECTOR_STORE") or "faiss"


def qdrant_api_key() -> str | None:
    """`$QDRANT_API_KEY`, the key for a Qdrant server when the spec gives none; else None."""
    return os.environ.get("QDRANT_API_KEY") or None


def env_secret(var: str) -> str:
    """The value of environment variable `var` (named by a flag or a default), stripped; "" when
    unset. Secrets come from the environment, never from a flag, so they stay out of `ps`."""
    return os.environ.get(var, "").strip()


def offline_hub() -> None:
    """Keep Hugging Face libraries off the network unless the user set `$HF_HUB_OFFLINE`; the
    bundled embedder lives in site-packages and never needs the hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load_env() -> dict[str, str]:
    """How models load, from the environment: `$OUTWEIGH_DEVICE` (auto, cpu, cuda, cuda:N),
    `$OUTWEIGH_DTYPE` (auto, bf16, fp16, fp32), `$OUTWEIGH_LOAD_IN` (4bit, 8bit) and
    `$OUTWEIGH_BACKEND` (auto, transformers, llamacpp); only the ones set, stripped.
    `models.LoadOptions.from_env` checks the values."""
    names = {
        "device": "OUTWEIGH_DEVICE",
        "dtype": "OUTWEIGH_DTYPE",
        "load_in": "OUTWEIGH_LOAD_IN",
        "backend": "OUTWEIGH_BACKEND",
    }
    return {k: v.strip() for k, var in names.items() if (v := os.environ.get(var, "")).strip()}


def llama_cpu() -> str | None:
    """`$OUTWEIGH_LLAMA_CPU`: the llama.cpp CPU variant to load by name (`haswell`, `zen4`, ...)
    instead of the one that scores best on this CPU; None when unset."""
    return os.environ.get("OUTWEIGH_LLAMA_CPU", "").strip() or None


def llama_probe() -> bool:
    """`$OUTWEIGH_LLAMA_PROBE`: 0 skips the subprocess probe before llama.cpp first serves a
    model file on this machine (`outweigh.generate.native.probe`); on by default."""
    return os.environ.get("OUTWEIGH_LLAMA_PROBE", "1").strip().lower() not in ("0", "false", "no")


LLAMA_SLOTS = 8
"""Answers `outweigh serve` decodes together on llama.cpp by default (`$OUTWEIGH_LLAMA_SLOTS`)."""


def llama_slots() -> int:
    """`$OUTWEIGH_LLAMA_SLOTS`: how many answers `outweigh serve` decodes at once on llama.cpp
    (its batch slots, `n_seq_max`, each with a window of KV cache); 8 by default. Not a whole
    number from 1 to 64 is an InputError."""
    raw = os.environ.get("OUTWEIGH_LLAMA_SLOTS", "").strip()
    if not raw:
        return LLAMA_SLOTS
    if not raw.isdigit() or not 1 <= int(raw) <= 64:
        raise InputError(f"OUTWEIGH_LLAMA_SLOTS={raw!r}: give a whole number from 1 to 64")
    return int(raw)


def reader_margin() -> float | None:
    """`$OUTWEIGH_READER_MARGIN`: how much surer than of any answer the passage reader must be
    (in logits, at the first token) before it says "I don't know"; unset: the margin measured
    for the bundled reader (`adapters.bundled.abstain_margin`), 0 for any other. Not a
    number from -20 to 20 is an InputError."""
    raw = os.environ.get("OUTWEIGH_READER_MARGIN", "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not -20 <= value <= 20:
        raise InputError(f"OUTWEIGH_READER_MARGIN={raw!r}: give a number from -20 to 20")
    return value
