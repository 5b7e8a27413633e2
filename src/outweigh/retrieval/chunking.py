"""Chunking by tokens with overlap, on the embedder's own tokenizer.

Chunks are at most `chunk_tokens` long so the embedder sees all of each one (all-MiniLM-L6-v2
truncates at 256 word pieces), and consecutive chunks share `overlap` tokens so a fact that
straddles a boundary is whole in at least one chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

SEGMENT_CHARS = 1 << 16
"""Text goes to the tokenizer this many characters at a time, cut at whitespace where there is
some, so memory stays bounded by the segment, not the document: a 10 MB line tokenized whole
grows RSS by 623 MiB, in segments by 16 MiB (benchmarks/bench_hostile.py)."""

MAX_TOKEN_CHARS = 32
"""A token span longer than this is cut into pieces this long. WordPiece turns any word over 100
characters into one [UNK] (BERT's `max_input_chars_per_word`), so a 10 MB line with no
whitespace would otherwise be one token, and one 10 MB chunk; cut, a chunk stays under
`chunk_tokens * MAX_TOKEN_CHARS` characters."""


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
    stream = _spans(text, token_spans)
    # Spans from the current chunk's first token on: a chunk's worth and one more, which
    # says whether this chunk is the last.
    window: list[tuple[int, int]] = []
    chunks: list[Chunk] = []
    ended = False
    while True:
        while not ended and len(window) <= chunk_tokens:
            span = next(stream, None)
            if span is None:
                ended = True
            else:
                window.append(span)
        if not window:
            break
        j = min(chunk_tokens, len(window))
        last = ended and j == len(window)
        if not last:
            j = _soft_end(text, window, 0, j, chunk_tokens)
        start, end = window[0][0], window[j - 1][1]
        chunks.append(Chunk(text[start:end].strip(), start, end))
        if last:
            break
        del window[: max(j - overlap, 1)]
    return [c for c in chunks if c.text]


def _spans(
    text: str, token_spans: Callable[[str], list[tuple[int, int]]]
) -> Iterator[tuple[int, int]]:
    """Every token's (start, end) in `text`, one segment at a time, long spans cut."""
    pos = 0
    while pos < len(text):
        end = min(pos + SEGMENT_CHARS, len(text))
        if end < len(text):
            cut = max(text.rfind(" ", pos, end), text.rfind("\n", pos, end))
            end = cut + 1 if cut > pos else end
        for a, b in token_spans(text[pos:end]):
            a, b = a + pos, b + pos
            while b - a > MAX_TOKEN_CHARS:
                yield a, a + MAX_TOKEN_CHARS
                a += MAX_TOKEN_CHARS
            yield a, b
        pos = end


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
