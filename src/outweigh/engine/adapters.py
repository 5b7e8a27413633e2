"""The engine's LoRA adapters: register, list, show and remove them under the engine's lock;
train, merge and export them in its state directory.

Training, merging and exporting run outside the lock: each loads its own copy of the base
model or reads files, and opens its own connection to the registry, so minutes of training
never hold up another request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from outweigh.locks import FairLock
from outweigh.settings import Paths

if TYPE_CHECKING:
    from outweigh.adapters import (
        AdapterInfo,
        AdapterRegistry,
        ExportResult,
        TrainConfig,
        TrainProgress,
    )


class Adapters:
    """Adapter methods of `Engine` (a mixin over its registry, state directory and lock)."""

    lock: FairLock
    paths: Paths
    adapters: AdapterRegistry

    def adapter_list(self) -> list[AdapterInfo]:
        """Registered adapters, by name."""
        with self.lock:
            return self.adapters.list()

    def adapter_info(self, name: str) -> AdapterInfo:
        """A registered adapter; unknown: NotFoundError naming the registered ones."""
        with self.lock:
            return self.adapters.get(name)

    def adapter_path(self, name: str) -> Path:
        """The PEFT directory of a registered adapter (unknown: NotFoundError)."""
        with self.lock:
            return self.adapters.path(name)

    def add_adapter(self, path: str | Path, name: str, base: str | None = None) -> AdapterInfo:
        """Validate a PEFT LoRA directory against its base and register a copy as `name`;
        `base` None takes the catalog model its config names, else the default model."""
        with self.lock:
            return self.adapters.add(path, name, base)

    def remove_adapter(self, name: str) -> None:
        """Unregister `name` and delete its files (unknown: NotFoundError)."""
        with self.lock:
            self.adapters.remove(name)

    def train_adapter(
        self,
        data: str | Path,
        name: str,
        config: TrainConfig | None = None,
        progress: Callable[[TrainProgress], None] | None = None,
    ) -> AdapterInfo:
        """Train a LoRA adapter on the JSONL `data` and register it as `name`; what can be
        refused is, before the model loads. `progress` after each step."""
        from outweigh.adapters import train_adapter

        return train_adapter(data, name, config, self.paths, progress=progress)

    def merge_adapter(self, spec: str, out: str | Path) -> Path:
        """Write the base model with `spec` (a name or a mix `a:0.7,b:0.3`) merged in, as a new
        model directory `out`; the directory."""
        from outweigh.adapters import merge_adapter

        return merge_adapter(spec, out, self.paths)

    def export_adapter(self, name: str, out: str | Path, target: str = "vllm") -> ExportResult:
        """Write adapter `name` for another runtime (`target`: vllm) into the new directory
        `out`, with the command that serves it."""
        from outweigh.adapters import export_adapter

        return export_adapter(name, out, target, self.paths)
