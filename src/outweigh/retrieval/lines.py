"""The lines context selection scores, and their vectors, stored with each chunk at ingest.

Selection (`outweigh.retrieval.select`) scores every line of the pages it reads by cosine
similarity to the question. Embedding those lines when a question came cost about 0.37 s of
a 1.3 s `+rag` answer over changelogs on 2 cores. Ingest now embeds each chunk's lines once
(`pack`, in the batch that embeds the chunks) and stores them beside the chunk as float16
(`chunks.lines`, 768 bytes a line for the bundled embedder), and selection embeds only the
lines it finds no vector for: a line that two chunks split, a chunk stored by an older
outweigh or with `ingest --no-line-vectors`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from outweigh.retrieval.structure import lines_of

if TYPE_CHECKING:
    import numpy as np

    from outweigh.embed import Embedder

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
"""A sentence boundary inside a long line of prose."""

MAX_UNIT_CHARS = 300
"""A line longer than this (an unwrapped paragraph) is split into sentences before scoring."""

DTYPE = "<f2"
"""How line vectors are stored: float16 halves the bytes of float32, and the cosines
selection compares move by less than 0.001."""


def split_long(line: str) -> list[str]:
    """`line` (whitespace folded), split into sentences when it is longer than
    MAX_UNIT_CHARS."""
    if len(line) <= MAX_UNIT_CHARS:
        return [line]
    return [s for s in _SENTENCE.split(line) if s]


def units(text: str) -> list[str]:
    """The lines of a chunk as scored and shown: stripped, runs of spaces folded (a man page's
    indentation and column padding cost tokens and carry nothing), long prose lines split
    into sentences: what selection reads of the chunk (`select._read`), so that a stored
    vector finds its line."""
    return [part for line in lines_of(text) for part in split_long(" ".join(line.text.split()))]


def pack(embedder: Embedder, texts: Sequence[str]) -> list[bytes]:
    """For each chunk text, the vectors of its `units` in order, as `DTYPE` bytes; each
    distinct line is embedded once (`Embedder.embed_lines`, as selection embeds them)."""
    import numpy as np

    per = [units(t) for t in texts]
    distinct = sorted({u for us in per for u in us})
    vecs = embedder.embed_lines(distinct) if distinct else np.zeros((0, embedder.dim))
    row = {u: i for i, u in enumerate(distinct)}
    stored = np.asarray(vecs, dtype=DTYPE)
    return [stored[[row[u] for u in us]].tobytes() for us in per]


def unpack(chunks: Iterable[tuple[str, bytes | None]], dim: int) -> dict[str, np.ndarray]:
    """Line text -> float32 vector, from `(chunk text, stored vectors)` pairs; a chunk with
    none stored, or whose lines no longer match what was stored (another outweigh's way of
    splitting them), gives none."""
    import numpy as np

    out: dict[str, np.ndarray] = {}
    for text, blob in chunks:
        if not blob or not dim:
            continue
        us = units(text)
        vecs = np.frombuffer(blob, dtype=DTYPE)
        if vecs.size != len(us) * dim:
            continue
        out.update(zip(us, vecs.reshape(len(us), dim).astype(np.float32), strict=True))
    return out
