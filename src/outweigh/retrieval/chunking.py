"""Chunking by tokens with overlap, on the embedder's own tokenizer.

Chunks are at most `chunk_tokens` long so the embedder sees all of each one (all-MiniLM-L6-v2
truncates at 256 word pieces), and consecutive chunks share `overlap` tokens so a fact that
straddles a boundary is whole in at least one chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    text: str
    start: int
    """Character offset of the chunk in the document text."""
    end: int


def chunk_text(
    text: str,
    token_spans: Callable[[str], list[tuple[int, int]]],
    chunk_tokens: int = 200,
    overlap: int = 40,
) -> list[Chunk]:
    """Split `text` into windows of `chunk_tokens` tokens stepping by `chunk_tokens - overlap`.

    A window that would end mid-paragraph is pulled back to the last paragraph or sentence
    break inside its final quarter, so chunks read as whole thoughts.
    """
    if chunk_tokens <= 0:
        raise ValueError("`chunk_tokens` must be positive")
    if not 0 <= overlap < chunk_tokens:
        raise ValueError("`overlap` must be >= 0 and smaller than `chunk_tokens`")
    spans = token_spans(text)
    if not spans:
        return []
    chunks: list[Chunk] = []
    i = 0
    while i < len(spans):
        j = min(i + chunk_tokens, len(spans))
        if j < len(spans):
            j = _soft_end(text, spans, i, j, chunk_tokens)
        start, end = spans[i][0], spans[j - 1][1]
        chunks.append(Chunk(text[start:end].strip(), start, end))
        if j >= len(spans):
            break
        i = max(j - overlap, i + 1)
    return [c for c in chunks if c.text]


def _soft_end(text: str, spans: list[tuple[int, int]], i: int, j: int, size: int) -> int:
    floor = i + (3 * size) // 4
    for breaker in ("\n\n", ". ", "\n"):
        for k in range(j - 1, floor, -1):
            gap = text[spans[k - 1][1] : spans[k][0] + 1]
            if breaker in gap or (
                breaker == ". "
                and text[spans[k - 1][1] - 1 : spans[k - 1][1]] in ".!?"
                and gap.startswith(" ")
            ):
                return k
    return j
