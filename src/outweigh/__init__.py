"""outweigh: make a smaller local LLM outweigh a bigger one on its user's own work.

Hybrid RAG, LoRA adapters, long-term memory, a VRAM planner and an evaluation, as a library;
the `outweigh` CLI and the OpenAI-compatible server are thin shells over it.
Heavy dependencies (torch, transformers, faiss) load only when a model or index is used.
"""

from outweigh.engine import Answer, AskOptions, Citation, Engine
from outweigh.errors import (
    CapacityError,
    IngestError,
    InputError,
    ModelLoadError,
    NotFoundError,
    OutweighError,
)
from outweigh.settings import Paths

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "AskOptions",
    "CapacityError",
    "Citation",
    "Engine",
    "IngestError",
    "InputError",
    "ModelLoadError",
    "NotFoundError",
    "OutweighError",
    "Paths",
    "__version__",
]
