"""Chunking by tokens with overlap, on the embedder's own tokenizer.

Chunks are at most `chunk_tokens` long so the embedder sees all of each one (all-MiniLM-L6-v2
truncates at 256 word pieces), and consecutive chunks share `overlap` tokens so a fact that
straddles a boundary is whole in at least one chunk.

A chunk that starts among a Markdown table's rows opens with that table's header row and rule,
so a row retrieved alone still says what its columns are: the header is text of the document
(it is quoted from where it stands), and its tokens count against the chunk's size. Such a
chunk starts at a row's beginning wherever the overlap allows, never mid-row. A chunk that
starts inside a fenced block of code opens with that block's fence line, so its lines still
read as code (`structure.in_code`): "# install it" is not a heading, nor `version = "0.1.0"`
the document's own version.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from outweigh.retrieval.structure import block_at, code_blocks
from outweigh.retrieval.tables import Table, tables

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
    head: tuple[int, int] | None = None
    """The (start, end) of the table header that opens `text`, when the chunk starts among a
    table's rows, or of the fence line, when it starts inside a block of code: `text` is then
    `text[head[0]:head[1]] + "\\n" + text[start:end].strip()`, both real text of the
    document."""

    def shifted(self, by: int) -> Chunk:
        """This chunk with every offset moved by `by` (a part's chunk into its document)."""
        head = (self.head[0] + by, self.head[1] + by) if self.head else None
        return Chunk(self.text, self.start + by, self.end + by, head)


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
    grid = tables(text)
    at = [t.lines[0] for t in grid]
    blocks = code_blocks(text)
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
        table = _table_at(grid, at, window[0][0])
        head = _head(text, table, window[0][0], token_spans, chunk_tokens) or _fence(
            text, blocks, window[0][0], token_spans
        )
        size = chunk_tokens - head[2] if head else chunk_tokens
        j = min(size, len(window))
        last = ended and j == len(window)
        if not last:
            j = _soft_end(text, window, 0, j, size)
        start, end = window[0][0], window[j - 1][1]
        body = text[start:end].strip()
        if head and body:
            quoted = text[head[0] : head[1]]
            chunks.append(Chunk(f"{quoted}\n{body}", start, end, (head[0], head[1])))
        else:
            chunks.append(Chunk(body, start, end))
        if last:
            break
        del window[: _next_start(text, grid, at, window, j, overlap)]
    return [c for c in chunks if c.text]


def _table_at(grid: list[Table], at: list[int], pos: int) -> Table | None:
    """The table whose lines `pos` falls in, if any."""
    i = bisect.bisect_right(at, pos) - 1
    return grid[i] if i >= 0 and pos < grid[i].end else None


def _head(
    text: str,
    table: Table | None,
    pos: int,
    token_spans: Callable[[str], list[tuple[int, int]]],
    chunk_tokens: int,
) -> tuple[int, int, int] | None:
    """(start, end, tokens) of the header and rule to repeat for a chunk starting at `pos` in
    `table`; None unless `pos` is among its rows, or for a header over half a chunk (it would
    crowd out the rows it names)."""
    if table is None or pos < table.body:
        return None
    a, b = table.lines[0], table.head_end
    tokens = len(token_spans(text[a:b]))
    return (a, b, tokens) if tokens <= chunk_tokens // 2 else None


def _fence(
    text: str,
    blocks: list[tuple[int, int, int]],
    pos: int,
    token_spans: Callable[[str], list[tuple[int, int]]],
) -> tuple[int, int, int] | None:
    """(start, end, tokens) of the fence line of the block of code `pos` is inside, past the
    fence line; None elsewhere."""
    block = block_at(blocks, pos)
    if block is None or not block[1] < pos < block[2]:
        return None
    a, b, _ = block
    return a, b, len(token_spans(text[a:b]))


def _next_start(
    text: str,
    grid: list[Table],
    at: list[int],
    window: list[tuple[int, int]],
    j: int,
    overlap: int,
) -> int:
    """How many of `window`'s tokens the next chunk drops: `overlap` back from the end, then
    further back to the start of the table line it falls in (the whole header, if in the
    header or rule), so a chunk opens on a whole row; but never past half the chunk, so a
    chunk always moves on by at least half its length."""
    k = max(j - overlap, 1)
    if k >= len(window):
        return k
    table = _table_at(grid, at, window[k][0])
    if table is None:
        return k
    line = text.rfind("\n", 0, window[k][0]) + 1
    if line < table.body:
        line = table.lines[0]
    floor = max((j + 1) // 2, 1)
    while k > floor and window[k - 1][0] >= line:
        k -= 1
    return k


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
