"""Recall: hybrid search over one user's memories, and fitting them into a prompt.

The same two retrievers as document search (`outweigh.retrieval.hybrid`), fused by the same
RRF, but scoped to one user's facts and with two differences that suit short facts:

- BM25 sees the query without stopwords, or "my" would match every first-person fact;
- dense search is a brute-force matrix product in numpy, not faiss: one user holds tens to
  hundreds of facts, so (n, 384) @ (384,) takes microseconds and there is no index to keep
  in step with deletes. Facts embedded by another embedder are re-embedded on the way.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from outweigh.memory.content import query_words
from outweigh.memory.items import MemoryItem, item_from_row
from outweigh.retrieval.hybrid import rrf

if TYPE_CHECKING:
    from outweigh.embed import Embedder


class MemoryTables(Protocol):
    """What recall needs of a `MemoryStore`: its connection and its embedder. A protocol, so
    recall never imports the store that calls it."""

    conn: sqlite3.Connection

    @property
    def embedder(self) -> Embedder: ...


CANDIDATES = 50
"""Each retriever contributes its top 50 before fusion, as in document search."""

MEMORY_HEADER_TOKENS = 16
"""What the memory heading ("Facts about me:") and its spacing cost in the prompt."""


PAST_MARK = "(in the past, no longer true)"
"""Written before a superseded fact in the prompt, when a question asks about the past."""

_PAST = re.compile(
    r"\b(?:before|previously|used to|formerly|in the past|earlier|originally|at first|"
    r"prior to|former|(?:my|our) (?:old|previous|last|first)|back then|until|use to)\b",
    re.IGNORECASE,
)


def wants_past(query: str) -> bool:
    """Whether a question asks about how things were ("Where did I live before?"): then
    superseded facts may be recalled too, each marked as past (`prompt_line`)."""
    return _PAST.search(query) is not None


def prompt_line(item: MemoryItem) -> str:
    """How a recalled fact reads in the prompt: current ones as said, past ones marked."""
    return item.text if item.current else f"{PAST_MARK} {item.text}"


def hybrid(
    store: MemoryTables,
    user: str,
    query: str,
    limit: int,
    floor: float,
    current: bool,
    mode: str = "hybrid",
) -> list[MemoryItem]:
    """Top `limit` of `user`'s facts for `query`, best first, each with its RRF score.

    `current` keeps superseded facts out. `floor` drops facts that only the dense retriever
    found with a cosine below it. `mode` "bm25" or "dense" runs one retriever alone (for the
    benchmark). The caller holds the store's lock and has checked `user`.
    """
    conn = store.conn
    bm25 = _bm25(store, user, query, "") if mode != "dense" else []
    dense = _dense(store, user, query, "", floor) if mode != "bm25" else []
    fused = rrf([r for r in (bm25, dense) if r])
    if current:
        fused = _to_current(conn, user, fused)
    fused = fused[:limit]
    if not fused:
        return []
    state = " AND m.valid_until IS NULL" if current else ""
    ids = [i for i, _ in fused]
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT m.*, s.uid AS successor FROM memories m LEFT JOIN memories s "
        f"ON s.id = m.superseded_by WHERE m.user = ? AND m.id IN ({marks}){state}",
        (user, *ids),
    ).fetchall()
    by_id = {int(r["id"]): r for r in rows}
    return [item_from_row(by_id[i], score) for i, score in fused if i in by_id]


def _to_current(
    conn: sqlite3.Connection, user: str, fused: list[tuple[int, float]]
) -> list[tuple[int, float]]:
    """Each hit replaced by the current fact that superseded it (following the chain), best
    score kept, each fact once; a hit whose chain ends in a forgotten fact is dropped.

    So "Where do I live?" finds "I have just moved from Tver to Pskov." through the "I live
    in Tver." it replaced, though the two share no word; the old text never comes back."""
    rows = conn.execute(
        "SELECT id, superseded_by, valid_until FROM memories WHERE user = ?", (user,)
    ).fetchall()
    nxt = {int(r["id"]): (r["superseded_by"], r["valid_until"]) for r in rows}
    out: dict[int, float] = {}
    for i, score in fused:
        seen = set()
        while i in nxt and nxt[i][1] is not None and i not in seen:
            seen.add(i)
            i = nxt[i][0] if nxt[i][0] is not None else -1
        if i in nxt and nxt[i][1] is None and i not in out:
            out[i] = score
    return list(out.items())


def versions(conn: sqlite3.Connection, user: str, ids: Sequence[int]) -> dict[int, list[str]]:
    """Each fact's text and the texts of the facts it superseded, newest first."""
    out: dict[int, list[str]] = {}
    for i in ids:
        texts, frontier, seen = [], [i], set()
        while frontier:
            j = frontier.pop()
            if j in seen:
                continue
            seen.add(j)
            for r in conn.execute(
                "SELECT id, text FROM memories WHERE user = ? AND (id = ? OR superseded_by = ?)",
                (user, j, j),
            ):
                if int(r["id"]) == j:
                    texts.append(r["text"])
                else:
                    frontier.append(int(r["id"]))
        out[i] = texts
    return out


def _bm25(store: MemoryTables, user: str, query: str, state: str) -> list[int]:
    """Ids best-first by BM25 (FTS5 defaults k1=1.2, b=0.75; one column, weight 1).

    Each query word is quoted, so FTS5 syntax in user text (NEAR, `*`, quotes, column
    filters) is matched literally and never errors or widens the search.
    """
    words = query_words(query)
    if not words:
        return []
    match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
    rows = store.conn.execute(
        "SELECT m.id FROM memories_fts f JOIN memories m ON m.id = f.rowid "
        f"WHERE memories_fts MATCH ? AND m.user = ?{state} ORDER BY bm25(memories_fts) LIMIT ?",
        (match, user, CANDIDATES),
    ).fetchall()
    return [int(r[0]) for r in rows]


def _dense(store: MemoryTables, user: str, query: str, state: str, floor: float) -> list[int]:
    """Ids best-first by cosine to the query, those below `floor` left out."""
    from outweigh.db import transaction

    conn = store.conn
    rows = conn.execute(
        f"SELECT m.id, m.text, m.embedding, m.embedder FROM memories m WHERE m.user = ?{state}",
        (user,),
    ).fetchall()
    if not rows:
        return []
    embedder = store.embedder
    stale = [r for r in rows if r["embedder"] != embedder.name or r["embedding"] is None]
    fresh: dict[int, bytes] = {}
    if stale:
        vecs = embedder.embed_batch([r["text"] for r in stale])
        with transaction(conn):
            for r, v in zip(stale, vecs, strict=True):
                fresh[int(r["id"])] = np.ascontiguousarray(v, dtype=np.float32).tobytes()
                conn.execute(
                    "UPDATE memories SET embedding = ?, embedder = ? WHERE id = ? AND user = ?",
                    (fresh[int(r["id"])], embedder.name, r["id"], user),
                )
    ids = np.array([int(r["id"]) for r in rows], dtype=np.int64)
    blobs = b"".join(fresh.get(int(r["id"]), r["embedding"]) for r in rows)
    mat = np.frombuffer(blobs, dtype=np.float32).reshape(len(rows), -1)  # (n, dim)
    sims = mat @ embedder.embed(query)  # (n,) cosine: both sides are L2-normalised
    order = np.argsort(-sims, kind="stable")[:CANDIDATES]
    return [int(ids[i]) for i in order if sims[i] >= floor]


def fit(
    items: Sequence[MemoryItem], budget: int, count_tokens: Callable[[str], int]
) -> list[MemoryItem]:
    """The best-first prefix of `items` whose prompt lines fit in `budget` tokens."""
    if not items or budget <= MEMORY_HEADER_TOKENS:
        return []
    left, out = budget - MEMORY_HEADER_TOKENS, []
    for item in items:
        cost = count_tokens(item.text) + 4  # "- " bullet and newline
        if cost > left:
            break
        left -= cost
        out.append(item)
    return out
