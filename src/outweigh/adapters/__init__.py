"""LoRA adapters: a registry of names, training, per-request switching and mixing, export.

Importing this package is cheap; torch, transformers and peft load only when an adapter is
trained, loaded, merged or validated against its base.
"""

from outweigh.adapters.export import ExportResult, export_adapter, merge_adapter
from outweigh.adapters.registry import AdapterInfo, AdapterRegistry, parse_spec
from outweigh.adapters.runtime import AdapterRuntime, generate_batch
from outweigh.adapters.train import TrainConfig, TrainProgress, train_adapter

__all__ = [
    "AdapterInfo",
    "AdapterRegistry",
    "AdapterRuntime",
    "ExportResult",
    "TrainConfig",
    "TrainProgress",
    "export_adapter",
    "generate_batch",
    "merge_adapter",
    "parse_spec",
    "train_adapter",
]
