"""Generation backends behind one interface: local (transformers + PEFT) and upstream (HTTP)."""

from outweigh.generate.base import Backend, Generation, GenerationRequest, Message

__all__ = ["Backend", "Generation", "GenerationRequest", "Message"]
