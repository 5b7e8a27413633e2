"""Long-term memory: per-user facts that survive across sessions and processes.

`MemoryStore` keeps them in `outweigh.db` (store.py) as `MemoryItem`s (items.py), `capture.py`
decides what in a message is a fact, and `recall.py` finds the ones a question needs. The
engine recalls them into the prompt and captures new ones after each answer.
"""

from outweigh.memory.capture import Extractor, Fact, ModelExtractor, RuleExtractor
from outweigh.memory.items import MemoryItem
from outweigh.memory.store import MemoryLimits, MemoryStore

__all__ = [
    "Extractor",
    "Fact",
    "MemoryItem",
    "MemoryLimits",
    "MemoryStore",
    "ModelExtractor",
    "RuleExtractor",
]
