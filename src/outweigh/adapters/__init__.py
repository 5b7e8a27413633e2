"""LoRA adapters: a registry of names, training, export and merging.

Switching and mixing adapters per request is generation's job (`outweigh.generate.lora`); a
backend resolves names through the `AdapterRegistry` it is given. Importing this package is
cheap; torch, transformers and peft load only when an adapter is trained, merged or
validated against its base.
"""

from outweigh.adapters.export import ExportResult, export_adapter, merge_adapter
from outweigh.adapters.registry import AdapterInfo, AdapterRegistry, parse_spec
from outweigh.adapters.train import TrainConfig, TrainProgress, train_adapter

__all__ = [
    "AdapterInfo",
    "AdapterRegistry",
    "ExportResult",
    "TrainConfig",
    "TrainProgress",
    "export_adapter",
    "merge_adapter",
    "parse_spec",
    "train_adapter",
]
