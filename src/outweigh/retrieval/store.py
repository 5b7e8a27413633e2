"""Documents, chunks, embeddings and BM25 in SQLite: the source of truth for retrieval."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np

from outweigh.db import connect, migrate, transaction
from outweigh.errors import InputError, NotFoundError, echo
from outweigh.names import check_name
from outweigh.retrieval.identifiers import spells
from outweigh.retrieval.location import Location, from_json
from outweigh.retrieval.schema import MIGRATIONS
from outweigh.settings import Paths
from outweigh.text import WORD, compounds, fts_terms, stems

BM25_WEIGHTS = (1.0, 1.0)
"""FTS5 `bm25()` column weights (text, stems). A word in the query's own form matches both
columns, another form of it only the stems: an exact match (an identifier, a number, a name,
the very word) thus scores about twice a stem-only one and ranks first."""

BACKFILL_BATCH = 2000
"""Chunks stemmed per transaction while an older db's `stems` column is filled."""

POSTING_BUDGET = 50_000
"""BM25 scores every chunk that holds any query term, so a query's cost grows with its words'
postings (100k chunks of real text, 12-word queries: 87 ms p50 with every word, 27 ms within
this budget; `benchmarks/bench_scale.py --sizes 100000 [--all-words]`). Terms
are therefore used rarest first while their document counts fit this budget (the rarest always
goes in): a common word adds little to BM25 and much to the cost. Collections of a few
thousand chunks fit whole, so their ranking is unchanged."""


@dataclass(frozen=True)
class Collection:
    id: int
    name: str
    embedder: str | None
    dim: int | None
    generation: int
    owner: str | None = None
    """The user whose upload made it; None: the operator's (ingested from the CLI)."""


@dataclass(frozen=True)
class DocumentRow:
    id: int
    collection: str
    source: str
    sha256: str
    bytes: int
    n_chunks: int
    ingested: str
    uploader: str | None = None
    """The user who uploaded it; None: the operator (ingested, or uploaded with its key)."""


@dataclass(frozen=True)
class ChunkRow:
    id: int
    document_id: int
    source: str
    ord: int
    text: str
    location: Location | None = None
    """Where it is in its document; None when unknown (plain text, or stored before)."""


class Store:
    """The retrieval tables of `outweigh.db`."""

    def __init__(self, paths: Paths | None = None, conn: sqlite3.Connection | None = None):
        self.paths = paths or Paths()
        self.conn = conn or connect(self.paths.db)
        migrate(self.conn, "retrieval", MIGRATIONS)
        self._backfill_stems()
        self._df: dict[str, int] = {}
        """Document frequencies read so far, valid while `_df_stamp` is current."""
        self._df_stamp = -1

    def close(self) -> None:
        self.conn.close()

    def _backfill_stems(self) -> None:
        """Stem the chunks that have no stems yet (a db from before migration 4, or rows
        written by an older outweigh), in batches; the update trigger re-indexes each."""
        while True:
            rows = self.conn.execute(
                "SELECT id, text FROM chunks WHERE stems IS NULL LIMIT ?", (BACKFILL_BATCH,)
            ).fetchall()
            if not rows:
                return
            with transaction(self.conn) as c:
                c.executemany(
                    "UPDATE chunks SET stems = ? WHERE id = ? AND stems IS NULL",
                    [(" ".join(stems(r["text"])), r["id"]) for r in rows],
                )

    # -- collections ----------------------------------------------------------------------
    def collections(self) -> list[Collection]:
        rows = self.conn.execute("SELECT * FROM collections ORDER BY name").fetchall()
        return [_collection(r) for r in rows]

    def find(self, name: str) -> Collection | None:
        """The collection called `name`, or None."""
        row = self.conn.execute("SELECT * FROM collections WHERE name = ?", (name,)).fetchone()
        return _collection(row) if row else None

    def collection(self, name: str) -> Collection:
        """An existing collection, or a one-line error. It does not list the others: a server
        would show one client's collection names to any other."""
        found = self.find(name)
        if found is None:
            raise NotFoundError(unknown_collection(name))
        return found

    def ensure_collection(
        self, name: str, embedder: str, dim: int, owner: str | None = None
    ) -> Collection:
        """The collection `name`, made (owned by `owner`) if it does not exist."""
        check_name(name)
        self.conn.execute(
            "INSERT OR IGNORE INTO collections (name, embedder, dim, owner) VALUES (?, ?, ?, ?)",
            (name, embedder, dim, owner),
        )
        coll = self.collection(name)
        check_embedder(coll, embedder, dim)
        return coll

    def reembed(
        self,
        collection: Collection,
        embed: Callable[[list[str]], np.ndarray],
        embedder: str,
        dim: int,
        on_progress: Callable[[int, int], None] | None = None,
        batch: int = 256,
        lines: Callable[[list[str]], list[bytes]] | None = None,
    ) -> Collection:
        """Replace every chunk's embedding with `embed(texts)` ((n, dim) float32), and its line
        vectors with `lines(texts)` (None: drops them, as they belong to the old embedder),
        and record `embedder` and `dim` on the collection, in one transaction: a crash or an
        error leaves the old embeddings whole. `on_progress(done, total)` after each batch."""
        ids = self.chunk_ids(collection)
        total = len(ids)
        with transaction(self.conn) as c:
            for start in range(0, total, batch):
                part = [int(i) for i in ids[start : start + batch]]
                rows = c.execute(
                    "SELECT id, text FROM chunks WHERE id IN (SELECT value FROM json_each(?)) "
                    "ORDER BY id",
                    (json.dumps(part),),
                ).fetchall()
                texts = [r["text"] for r in rows]
                vecs = np.ascontiguousarray(embed(texts), dtype=np.float32)
                if vecs.shape != (len(rows), dim):
                    raise ValueError(f"embedder gave {vecs.shape}, expected ({len(rows)}, {dim})")
                line_vecs = lines(texts) if lines is not None else [None] * len(rows)
                c.executemany(
                    "UPDATE chunks SET embedding = ?, lines = ? WHERE id = ?",
                    [(vecs[i].tobytes(), line_vecs[i], r["id"]) for i, r in enumerate(rows)],
                )
                if on_progress is not None:
                    on_progress(min(start + batch, total), total)
            c.execute(
                "UPDATE collections SET embedder = ?, dim = ? WHERE id = ?",
                (embedder, dim, collection.id),
            )
            self._bump(collection.id)
        return self.collection(collection.name)

    def shares(self, collection: Collection) -> dict[str, bool]:
        """Who the collection is shared with: user -> may write."""
        rows = self.conn.execute(
            "SELECT user, write FROM collection_shares WHERE collection_id = ?", (collection.id,)
        )
        return {r["user"]: bool(r["write"]) for r in rows}

    def share(self, collection: Collection, user: str, write: bool | None) -> None:
        """Share with `user` (read-only, or with write); `write` None takes the share away."""
        with transaction(self.conn) as c:
            if write is None:
                c.execute(
                    "DELETE FROM collection_shares WHERE collection_id = ? AND user = ?",
                    (collection.id, user),
                )
            else:
                c.execute(
                    "INSERT INTO collection_shares (collection_id, user, write) VALUES (?, ?, ?) "
                    "ON CONFLICT (collection_id, user) DO UPDATE SET write = excluded.write",
                    (collection.id, user, int(write)),
                )

    def drop_collection(self, name: str) -> None:
        coll = self.collection(name)
        with transaction(self.conn):
            self.conn.execute("DELETE FROM chunks WHERE collection_id = ?", (coll.id,))
            self.conn.execute("DELETE FROM documents WHERE collection_id = ?", (coll.id,))
            self.conn.execute("DELETE FROM collections WHERE id = ?", (coll.id,))

    def count_chunks(self, collection: Collection) -> int:
        return int(
            self.conn.execute(
                "SELECT count(*) FROM chunks WHERE collection_id = ?", (collection.id,)
            ).fetchone()[0]
        )

    def counts(self, collection: Collection) -> tuple[int, int]:
        """(documents, chunks) of a collection."""
        row = self.conn.execute(
            "SELECT (SELECT count(*) FROM documents WHERE collection_id = ?), "
            "(SELECT count(*) FROM chunks WHERE collection_id = ?)",
            (collection.id, collection.id),
        ).fetchone()
        return int(row[0]), int(row[1])

    # -- documents ------------------------------------------------------------------------
    def document(self, collection: Collection, source: str) -> DocumentRow | None:
        row = self.conn.execute(
            "SELECT d.*, c.name AS cname FROM documents d JOIN collections c ON c.id = "
            "d.collection_id WHERE d.collection_id = ? AND d.source = ?",
            (collection.id, source),
        ).fetchone()
        return _doc(row) if row else None

    def documents(self, collection: str | None = None) -> list[DocumentRow]:
        sql = (
            "SELECT d.*, c.name AS cname FROM documents d "
            "JOIN collections c ON c.id = d.collection_id"
        )
        args: tuple[object, ...] = ()
        if collection is not None:
            sql += " WHERE d.collection_id = ?"
            args = (self.collection(collection).id,)
        return [_doc(r) for r in self.conn.execute(sql + " ORDER BY c.name, d.source", args)]

    def put_document(
        self,
        collection: Collection,
        source: str,
        sha256: str,
        size: int,
        chunks: Sequence[tuple[str, int, int]],
        embeddings: np.ndarray,
        uploader: str | None = None,
        locations: Sequence[str | None] = (),
        lines: Sequence[bytes | None] = (),
    ) -> int:
        """Insert or replace one document with its chunks and embeddings, in one transaction;
        `uploader`: the user whose upload it is (None: the operator); `locations`: each
        chunk's `Location` as JSON (none given: unknown); `lines`: each chunk's line vectors
        (`outweigh.retrieval.lines.pack`; none given: selection embeds them when asked)."""
        if len(chunks) != len(embeddings):
            raise ValueError("one embedding per chunk")
        where = list(locations) or [None] * len(chunks)
        if len(where) != len(chunks):
            raise ValueError("one location per chunk")
        line_vecs = list(lines) or [None] * len(chunks)
        if len(line_vecs) != len(chunks):
            raise ValueError("one set of line vectors per chunk")
        vecs = np.ascontiguousarray(embeddings, dtype=np.float32)
        with transaction(self.conn) as c:
            self._delete_document(collection.id, source)
            cur = c.execute(
                "INSERT INTO documents (collection_id, source, sha256, bytes, n_chunks, uploader) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (collection.id, source, sha256, size, len(chunks), uploader),
            )
            doc_id = int(cur.lastrowid or 0)
            c.executemany(
                "INSERT INTO chunks (document_id, collection_id, ord, text, start, end, embedding,"
                " stems, location, lines) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        doc_id,
                        collection.id,
                        i,
                        t,
                        s,
                        e,
                        vecs[i].tobytes(),
                        " ".join(stems(t)),
                        where[i],
                        line_vecs[i],
                    )
                    for i, (t, s, e) in enumerate(chunks)
                ],
            )
            self._bump(collection.id)
        return doc_id

    def remove_document(self, collection: Collection, source: str) -> bool:
        with transaction(self.conn):
            removed = self._delete_document(collection.id, source)
            if removed:
                self._bump(collection.id)
        return removed

    def _delete_document(self, collection_id: int, source: str) -> bool:
        row = self.conn.execute(
            "SELECT id FROM documents WHERE collection_id = ? AND source = ?",
            (collection_id, source),
        ).fetchone()
        if row is None:
            return False
        # Delete chunks explicitly so the FTS delete trigger fires for each row.
        self.conn.execute("DELETE FROM chunks WHERE document_id = ?", (row["id"],))
        self.conn.execute("DELETE FROM documents WHERE id = ?", (row["id"],))
        return True

    def _bump(self, collection_id: int) -> None:
        self.conn.execute(
            "UPDATE collections SET generation = generation + 1 WHERE id = ?", (collection_id,)
        )

    def generation(self, collection: Collection) -> int:
        """The collection's generation now (a `Collection` holds the one it was read at)."""
        row = self.conn.execute(
            "SELECT generation FROM collections WHERE id = ?", (collection.id,)
        ).fetchone()
        return int(row[0]) if row else -1

    # -- chunks ---------------------------------------------------------------------------
    def chunk_ids(self, collection: Collection) -> np.ndarray:
        """Every chunk id of the collection, sorted, as int64."""
        cur = self.conn.execute(
            "SELECT id FROM chunks WHERE collection_id = ? ORDER BY id", (collection.id,)
        )
        return np.fromiter((r[0] for r in cur), dtype=np.int64)

    def iter_embeddings(
        self, collection: Collection, ids: np.ndarray | None = None, batch: int = 8192
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors (n, dim) float32) in batches: all chunks, or those with `ids`."""
        dim = collection.dim or 0
        if ids is None:
            ids = self.chunk_ids(collection)
        for start in range(0, len(ids), batch):
            part = [int(i) for i in ids[start : start + batch]]
            rows = self.conn.execute(
                "SELECT id, embedding FROM chunks WHERE collection_id = ? AND id IN "
                "(SELECT value FROM json_each(?)) ORDER BY id",
                (collection.id, json.dumps(part)),
            ).fetchall()
            got = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            yield got, vecs.reshape(-1, dim)

    def embeddings(self, collection: Collection) -> tuple[np.ndarray, np.ndarray]:
        """(ids (n,) int64, vectors (n, dim) float32) of every chunk in the collection."""
        parts = list(self.iter_embeddings(collection))
        if not parts:
            return np.zeros(0, np.int64), np.zeros((0, collection.dim or 0), np.float32)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        ids = list(ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            f"SELECT ch.id, ch.document_id, ch.ord, ch.text, ch.location, d.source FROM chunks ch "
            f"JOIN documents d ON d.id = ch.document_id WHERE ch.id IN ({marks})",
            ids,
        ).fetchall()
        return {r["id"]: _chunk(r) for r in rows}

    def line_vectors(self, ids: Iterable[int]) -> list[tuple[str, bytes | None]]:
        """(text, stored line vectors or None) of the chunks `ids`."""
        ids = list(ids)
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(f"SELECT text, lines FROM chunks WHERE id IN ({marks})", ids)
        return [(r["text"], r["lines"]) for r in rows]

    def without_lines(self, collection: Collection, source: str) -> list[tuple[int, str]]:
        """(id, text) of the chunks of document `source` stored without line vectors."""
        rows = self.conn.execute(
            "SELECT ch.id, ch.text FROM chunks ch JOIN documents d ON d.id = ch.document_id "
            "WHERE d.collection_id = ? AND d.source = ? AND ch.lines IS NULL ORDER BY ch.id",
            (collection.id, source),
        )
        return [(r["id"], r["text"]) for r in rows]

    def set_lines(self, rows: Sequence[tuple[int, bytes]]) -> None:
        """Store line vectors for chunks (id, `lines.pack` bytes), in one transaction."""
        with transaction(self.conn) as c:
            c.executemany("UPDATE chunks SET lines = ? WHERE id = ?", [(b, i) for i, b in rows])

    def opening_chunks(self, collection: Collection, source: str, limit: int) -> list[ChunkRow]:
        """The first `limit` chunks of the document `source` of `collection`, in order."""
        rows = self.conn.execute(
            "SELECT ch.id, ch.document_id, ch.ord, ch.text, ch.location, d.source FROM chunks ch "
            "JOIN documents d ON d.id = ch.document_id "
            "WHERE d.collection_id = ? AND d.source = ? ORDER BY ch.ord LIMIT ?",
            (collection.id, source, limit),
        ).fetchall()
        return [_chunk(r) for r in rows]

    def document_chunks(
        self, source: str, around: int, limit: int, about: Sequence[str] = ()
    ) -> list[ChunkRow]:
        """Up to `limit` chunks of the document `source` in `around`'s collection: its first
        and last chunk (what the document is, and a page's footer), then those that hold the
        stems `about` (best first by BM25 within the document: the chunk of a long manual
        that lists the contributor a question names), then those nearest chunk `around`
        (context selection reads them)."""
        words = self._within_budget(list(dict.fromkeys(about))) if about else []
        rank = "bm25(chunks_fts, {}, {})".format(*BM25_WEIGHTS)
        hit, args = "SELECT NULL AS id, NULL AS r WHERE 0", [around]
        if words:
            hit = (
                f"SELECT rowid AS id, {rank} AS r FROM chunks_fts WHERE chunks_fts MATCH ? "
                "AND rowid IN (SELECT ch.id FROM chunks ch JOIN me USING (document_id))"
            )
            args.append("{stems} : (" + " OR ".join(f'"{w}"' for w in words) + ")")
        rows = self.conn.execute(
            f"WITH me AS (SELECT id, ord, document_id FROM chunks WHERE id = ?), hit AS ({hit}) "
            "SELECT ch.id, ch.document_id, ch.ord, ch.text, ch.location, d.source FROM chunks ch "
            "JOIN documents d ON d.id = ch.document_id JOIN me ON me.document_id = ch.document_id "
            "LEFT JOIN hit ON hit.id = ch.id ORDER BY ch.ord = 0 OR ch.ord = (SELECT max(ord) "
            "FROM chunks WHERE document_id = me.document_id) DESC, hit.r IS NULL, hit.r, "
            "abs(ch.ord - me.ord), ch.ord LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [_chunk(r) for r in rows]

    def bm25(self, collection: Collection, query: str, limit: int) -> list[int]:
        """Chunk ids best-first by BM25 (FTS5 defaults k1=1.2, b=0.75) over two columns: the
        exact terms and their stems, weighted by `BM25_WEIGHTS`.

        The query is reduced to its words, each quoted and OR-ed, so FTS5 syntax in user text
        (quotes, NEAR, column filters, `*`) is matched literally and can never error. Words
        and stems are kept rarest first within `POSTING_BUDGET`; a hyphenated or dotted name
        is matched as a phrase too (`compounds`).
        """
        exact = list(dict.fromkeys(fts_terms(query)))[:64]
        stemmed = list(dict.fromkeys(stems(query)))[:64]
        keep = set(self._within_budget(list(dict.fromkeys(exact + stemmed))))
        # A phrase reads the postings of each of its words: only phrases of kept words.
        phrases = [p for p in compounds(query) if all(w in keep for w in p.split())]
        exact = [w for w in exact if w in keep] + phrases
        stemmed = [w for w in stemmed if w in keep]
        if not exact and not stemmed:
            return []
        parts = [
            f"{{{column}}} : (" + " OR ".join('"' + w.replace('"', '""') + '"' for w in words) + ")"
            for column, words in (("text", exact), ("stems", stemmed))
            if words
        ]
        match = " OR ".join(parts)
        rank = "bm25(chunks_fts, {}, {})".format(*BM25_WEIGHTS)
        # The FTS index spans every collection. Rank without looking at the chunks table
        # (a row lookup per match costs a third of the query), then keep this collection's:
        # with one collection that is the answer; if others crowd it out, filter in SQL.
        wide = limit * 4
        ranked = [
            int(r[0])
            for r in self.conn.execute(
                f"SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY {rank} LIMIT ?",
                (match, wide),
            )
        ]
        mine = set(self._in_collection(collection, ranked))
        if len(mine) >= limit or len(ranked) < wide:
            return [i for i in ranked if i in mine][:limit]
        rows = self.conn.execute(
            "SELECT f.rowid FROM chunks_fts f JOIN chunks ch ON ch.id = f.rowid "
            f"WHERE chunks_fts MATCH ? AND ch.collection_id = ? ORDER BY {rank} LIMIT ?",
            (match, collection.id, limit),
        ).fetchall()
        return [int(r[0]) for r in rows]

    def mentioning(
        self, collection: Collection, phrases: Sequence[str], query: str, limit: int
    ) -> list[int]:
        """Chunk ids of `collection` whose text holds one of `phrases` (runs of FTS5 terms,
        `identifiers.phrases`), best first by BM25 over them and `query`'s words, then the
        first chunk of each document whose file name holds one: a name looked up literally.
        A phrase of common words ("3 6 6") reads their postings whole, so this runs only for
        a name the passages lacked."""
        need = " OR ".join(f'"{p}"' for p in phrases if WORD.fullmatch(p.replace(" ", "")))
        if not need:
            return []
        rank = "bm25(chunks_fts, {}, {})".format(*BM25_WEIGHTS)
        sql = (
            "SELECT f.rowid FROM chunks_fts f JOIN chunks ch ON ch.id = f.rowid "
            f"WHERE chunks_fts MATCH ? AND ch.collection_id = ? ORDER BY {rank} LIMIT ?"
        )
        rare = self._within_budget(list(dict.fromkeys(fts_terms(query)))[:64])
        found: list[int] = []
        matches = [f"{{text}} : ({need})"]
        if rare:  # the chunks that hold the name and the question's words first
            words = " OR ".join(f'"{w}"' for w in rare)
            matches.insert(0, f"({{text}} : ({need})) AND ({{text}} : ({words}))")
        for match in matches:
            for (cid,) in self.conn.execute(sql, (match, collection.id, limit)):
                if cid not in found:
                    found.append(int(cid))
            if len(found) >= limit:
                break
        like = [f"%{p.replace(' ', '_')}%" for p in phrases]  # `_`: any one separator
        where = " OR ".join(["d.source LIKE ?"] * len(like))
        rows = self.conn.execute(
            "SELECT ch.id, d.source FROM documents d JOIN chunks ch ON ch.document_id = d.id "
            f"AND ch.ord = 0 WHERE d.collection_id = ? AND ({where}) ORDER BY d.id LIMIT ?",
            (collection.id, *like, limit),
        ).fetchall()
        named = [int(r[0]) for r in rows if spells(PurePath(r[1]).name, phrases)]
        return list(dict.fromkeys(found + named))[:limit]

    def _in_collection(self, collection: Collection, ids: list[int]) -> list[int]:
        rows = self.conn.execute(
            "SELECT id FROM chunks WHERE collection_id = ? AND id IN "
            "(SELECT value FROM json_each(?))",
            (collection.id, json.dumps(ids)),
        )
        return [int(r[0]) for r in rows]

    def _within_budget(self, words: list[str]) -> list[str]:
        df = self._doc_freqs(words)
        keep, postings = [], 0
        for w in sorted(words, key=lambda w: df[w]):
            if keep and postings + df[w] > POSTING_BUDGET:
                break
            keep.append(w)
            postings += df[w]
        return keep

    def _doc_freqs(self, words: list[str]) -> dict[str, int]:
        """Chunks holding each word, over all collections. Reading one costs a pass over its
        postings, so they are cached until any collection changes."""
        stamp = self.conn.execute("SELECT coalesce(sum(generation), 0) FROM collections")
        stamp = int(stamp.fetchone()[0])
        if stamp != self._df_stamp:
            self._df, self._df_stamp = {}, stamp
        for w in words:
            if w not in self._df:
                row = self.conn.execute(
                    "SELECT doc FROM chunks_vocab WHERE term = ?", (w,)
                ).fetchone()
                self._df[w] = int(row[0]) if row else 0
        return {w: self._df[w] for w in words}


def check_embedder(collection: Collection, embedder: str, dim: int) -> None:
    """Refuse, in one line naming the fix, to mix vectors of another embedder into a
    collection or to search it with them (their cosines would be meaningless)."""
    if collection.embedder == embedder and collection.dim == dim:
        return
    raise InputError(
        f"collection {collection.name!r} was embedded with {collection.embedder} "
        f"({collection.dim}-d), not {embedder} ({dim}-d); re-embed it with "
        f"`outweigh reindex --collection {collection.name} --embedder {embedder}`, or pass "
        f"--embedder {collection.embedder}"
    )


def unknown_collection(name: str) -> str:
    """The one message for a collection that does not exist, or that the asker may not read:
    the two must look alike, or the answer would tell who has which collection."""
    return (
        f"unknown collection {echo(name)}; ingest documents into it first "
        "(outweigh docs list shows the collections)"
    )


def _collection(r: sqlite3.Row) -> Collection:
    return Collection(r["id"], r["name"], r["embedder"], r["dim"], r["generation"], r["owner"])


def _doc(r: sqlite3.Row) -> DocumentRow:
    return DocumentRow(
        r["id"],
        r["cname"],
        r["source"],
        r["sha256"],
        r["bytes"],
        r["n_chunks"],
        r["ingested"],
        r["uploader"],
    )


def _chunk(r: sqlite3.Row) -> ChunkRow:
    where = from_json(r["location"])
    return ChunkRow(r["id"], r["document_id"], r["source"], r["ord"], r["text"], where)
