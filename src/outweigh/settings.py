"""Where outweigh keeps its state, and the defaults every part shares. Standard library only."""

from __future__ import annotations

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


def _max_file_mb() -> int:
    raw = os.environ.get("OUTWEIGH_MAX_FILE_MB", "").strip() or "50"
    if not raw.isdigit() or int(raw) < 1:
        raise InputError(f"`OUTWEIGH_MAX_FILE_MB` must be a whole number of MiB >= 1, not {raw!r}")
    return int(raw)
