"""The one door: the CLI, the server and the eval answer, ingest and remember through `Engine`."""

from outweigh.engine.core import Engine
from outweigh.engine.documents import EMBED_SLICE
from outweigh.engine.turn import Answer, AskOptions, CollectionInfo, Prepared
from outweigh.retrieval.store import DocumentRow

__all__ = [
    "EMBED_SLICE",
    "Answer",
    "AskOptions",
    "CollectionInfo",
    "DocumentRow",
    "Engine",
    "Prepared",
]
