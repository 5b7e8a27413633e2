"""Shipped fakes that implement the real interfaces, for tests that are not about the model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence

import numpy as np

from outweigh.embed import Embedder
from outweigh.generate.base import Backend, GenerationRequest

_WORD = re.compile(r"\w+", re.UNICODE)


class FakeEmbedder(Embedder):
    """Hashes each lower-cased word into one of `dim` buckets: a bag-of-words vector.

    Deterministic and instant; texts sharing words are close, which is enough to test
    vector search and fusion end to end.
    """

    name = "fake-bow"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
                out[i, h % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


class EchoBackend(Backend):
    """Answers with the last user message (or a fixed reply), and records every prompt it saw."""

    def __init__(self, name: str = "echo", reply: str | None = None, context_window: int = 2048):
        self.name = name
        self.reply = reply
        self.context_window = context_window
        self.requests: list[GenerationRequest] = []

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        self.requests.append(request)
        text = self.reply if self.reply is not None else request.messages[-1]["content"]
        words = text.split(" ")[: request.max_tokens]
        for i, word in enumerate(words):
            yield word if i == 0 else " " + word

    def count_tokens(self, text: str) -> int:
        return len(text.split())


MEMORY_FACTS = [
    ("My cat is called Bublik.", "What is my cat called?", "Bublik"),
    ("I live in Lisbon.", "Where do I live?", "Lisbon"),
    ("My favourite colour is teal.", "What is my favourite colour?", "teal"),
    ("I work as a glassblower.", "What is my job?", "glassblower"),
    ("My sister's name is Olga.", "What is my sister's name?", "Olga"),
    ("I drive a red Volvo.", "What car do I drive?", "Volvo"),
    ("My birthday is on March 3.", "When is my birthday?", "March 3"),
    ("I am allergic to peanuts.", "What am I allergic to?", "peanuts"),
    ("My locker number is 318.", "What is my locker number?", "318"),
    ("My daughter is named Ilse.", "What is my daughter's name?", "Ilse"),
]
"""(fact as the user states it, a later question about it, the word the answer must hold): the
memory-recall set shared by the two-process test and benchmarks/bench_memory.py."""
