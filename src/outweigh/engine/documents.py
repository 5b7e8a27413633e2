"""The engine's documents: ingest, upload, search, list and remove, and the embedding work on
them, under the engine's lock."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outweigh.errors import IngestError, InputError, NotFoundError, echo
from outweigh.locks import FairLock
from outweigh.names import check_text
from outweigh.retrieval.hybrid import Hit
from outweigh.retrieval.ingest import IngestReport, chunk_upload, ingest, store_chunks
from outweigh.retrieval.lines import pack
from outweigh.retrieval.store import Collection, DocumentRow, unknown_collection
from outweigh.settings import DEFAULT_COLLECTION, IngestLimits, Paths
from outweigh.settings import embedder as embedder_setting
from outweigh.users import OPERATOR, Principal

if TYPE_CHECKING:
    from outweigh.adapters.mining import Fact
    from outweigh.adapters.reader import ReaderData

from outweigh.engine.turn import CollectionInfo

Names = tuple[frozenset[str], frozenset[str], dict[str, frozenset[str]]]
"""What a collection's file names give (`Documents._names`): their first words (`leads`),
the words most of them share (`kinds`), each document's title less its kind (`titles`)."""

EMBED_SLICE = 16
"""Texts embedded per turn of the engine's lock: about 0.1-0.4 s of the bundled embedder on
2 CPU cores, the longest a short request waits behind a bulk embedding."""

LINES_SLICE = 4
"""Chunks whose lines (about 40) are embedded per turn of the lock: 0.1-0.2 s on 2 cores."""


class Documents:
    """Document methods of `Engine` (a mixin over its store, embedder, vectors and lock)."""

    lock: FairLock
    paths: Paths
    _leads: dict[int, tuple[int, Names]]
    readable: Callable[..., Collection]
    writable: Callable[..., Collection | None]
    visible: Callable[..., list[Collection]]

    # -- documents ------------------------------------------------------------------------
    def ingest(
        self,
        paths: Sequence[str | Path],
        collection: str = DEFAULT_COLLECTION,
        prune: bool = False,
        limits: IngestLimits | None = None,
        on_file: Any = None,
        on_commit: Any = None,
        on_sync: Any = None,
        ray: str | None = None,
        ray_workers: int | None = None,
        follow_symlinks: bool = False,
        line_vectors: bool = True,
    ) -> IngestReport:
        """Ingest files, then bring the vector index up to date so the next search is fast.

        `on_file(path, total)` after each file is read, `on_commit(source, chunks)` after each
        document is durably stored, `on_sync(done, total)` while vectors join the index.
        `ray`: parse and embed on Ray actors ("local", or a cluster address such as
        "ray://head:10001"); None ingests in this process. `ray_workers`: how many actors
        (default: one per CPU of the Ray cluster). `follow_symlinks`: read file links in a
        folder that point out of it (by default they are skipped with a reason).
        `line_vectors`: store each chunk's line vectors for context selection
        (`outweigh.retrieval.lines`); off for a collection too large to hold them.
        """
        common: dict[str, Any] = {
            "prune": prune,
            "limits": limits,
            "on_file": on_file,
            "on_commit": on_commit,
            "follow_symlinks": follow_symlinks,
            "line_vectors": line_vectors,
        }
        with self.lock:
            if ray is None:
                report = ingest(paths, self.store, self.embedder, collection, **common)
            else:
                from outweigh.retrieval.ray_ingest import ingest_ray

                # The actors load their own embedders; this process loads none unless one was
                # chosen, which the actors then copy.
                chosen = self._embedder_spec is not None or embedder_setting() is not None
                report = ingest_ray(
                    paths,
                    self.store,
                    collection,
                    address=ray,
                    embedder=self.embedder if chosen else self._embedder,
                    workers=ray_workers,
                    **common,
                )
            if report.files or report.removed:
                self.vectors.sync(self.store.collection(collection), on_sync)
            return report

    def search(
        self, query: str, collection: str = DEFAULT_COLLECTION, k: int = 5, mode: str = "hybrid"
    ) -> list[Hit]:
        with self.lock:
            return self.searcher.search(query, collection, k, mode)

    def documents(
        self, collection: str | None = None, who: Principal = OPERATOR
    ) -> list[DocumentRow]:
        """Documents of one collection (unknown, or not `who`'s to read: NotFoundError), or
        of every collection `who` may read, by source."""
        with self.lock:
            if collection is not None:
                self.readable(collection, who)
                return self.store.documents(collection)
            names = {c.name for c in self.visible(who)}
            return [d for d in self.store.documents() if d.collection in names]

    def collections(self, who: Principal = OPERATOR) -> list[CollectionInfo]:
        """The collections `who` may read, by name, with their document and chunk counts,
        owners and shares."""
        with self.lock:
            store = self.store
            return [
                CollectionInfo(c.name, *store.counts(c), c.owner, store.shares(c))
                for c in self.visible(who)
            ]

    def leads(self, collection: Collection) -> frozenset[str]:
        """The first words of `collection`'s file names (`retrieval.answers.lead`), which a
        question may name a document by; read again only when the collection changes."""
        return self._names(collection)[0]

    def kinds(self, collection: Collection) -> frozenset[str]:
        """The words most of `collection`'s file names share ("readme", "metadata": what kind
        of file each is, `retrieval.titles.kinds`); read again only when it changes."""
        return self._names(collection)[1]

    def titles(self, collection: Collection) -> dict[str, frozenset[str]]:
        """Each document of `collection` by source, with the terms of its file name less its
        kind (`retrieval.titles.titles`): what a question names it by."""
        return self._names(collection)[2]

    def _names(self, collection: Collection) -> Names:
        from outweigh.retrieval.answers import lead
        from outweigh.retrieval.titles import kinds, titles

        generation = self.store.generation(collection)
        cached = self._leads.get(collection.id)
        if cached is None or cached[0] != generation:
            sources = [d.source for d in self.store.documents(collection.name)]
            kind = kinds(sources)
            named = titles(sources, kind)
            names = (
                frozenset(map(lead, sources)),
                kind,
                {s: frozenset(t) for s, t in zip(sources, named, strict=True)},
            )
            cached = self._leads[collection.id] = (generation, names)
        return cached[1]

    def chunk_texts(self, collection: str, batch: int = 512) -> Iterator[tuple[str, str]]:
        """(source, text) of every chunk of a collection, in the order they were stored (each
        document's in its own order), `batch` chunks per turn of the lock. Unknown
        collection: NotFoundError, raised by this call rather than the first step."""
        with self.lock:
            ids = self.store.chunk_ids(self.store.collection(collection))
        return self._chunk_texts([int(i) for i in ids], batch)

    def _chunk_texts(self, ids: list[int], batch: int) -> Iterator[tuple[str, str]]:
        for start in range(0, len(ids), batch):
            with self.lock:
                rows = self.store.chunks(ids[start : start + batch])
            # A chunk removed since the ids were read is simply not there.
            yield from ((row.source, row.text) for _, row in sorted(rows.items()))

    def count_chunks(self, collection: str, who: Principal = OPERATOR) -> int:
        """Chunks in a collection (unknown, or not `who`'s to read: NotFoundError)."""
        with self.lock:
            return self.store.count_chunks(self.readable(collection, who))

    def upload(
        self,
        collection: str,
        filename: str,
        data: bytes,
        max_bytes: int | None = None,
        who: Principal = OPERATOR,
    ) -> tuple[DocumentRow, bool]:
        """Store `data` as `uploads/<collection>/<filename>` and ingest it: (its row, whether
        it was unchanged). A re-upload of the same name replaces the document; a file that
        cannot be read is refused before it replaces anything, and leaves nothing behind.
        `who` must be allowed to write to the collection; a new collection is made owned by
        `who` (the operator's, readable by every user, when `who` is the operator).
        The new rows commit in one transaction before the file is renamed into place, so a
        crash leaves the earlier document whole, or the new one with its file still staged
        (`outweigh doctor` finishes the rename); an unchanged text keeps the earlier file."""
        from outweigh.names import check_name
        from outweigh.retrieval import uploads

        check_name(collection)
        self.writable(collection, who)  # refuses before anything is read
        limits = IngestLimits() if max_bytes is None else IngestLimits(max_file_bytes=max_bytes)
        # Parsed once, outside the lock (a hostile PDF must not stall other requests); chunked
        # under it, embedded slice by slice (`_embed_sliced`, so other requests get the lock in
        # between), then stored and placed under it. A failure before the commit replaces
        # nothing.
        staged = uploads.staged(self.paths, collection, filename, data, limits.max_file_bytes)
        with staged as (path, text):
            with self.lock:
                dest = uploads.destination(self.paths, collection, path)
                uploads.check_lookalike(self.paths, self.store, collection, dest)
                try:
                    store, embedder = self.store, self.embedder
                    if self.writable(collection, who) is None:  # checked again: under the lock
                        store.ensure_collection(collection, embedder.name, embedder.dim, who.name)
                    item = chunk_upload(dest, text, len(data), store, embedder, collection)
                except IngestError as e:
                    raise InputError(str(e).replace(str(dest), dest.name)) from e
            texts = [t for t, _, _ in item.chunks] if item else []
            vectors = self._embed_sliced(texts)[0] if item else None
            lines = self._pack_sliced(texts)
            with self.lock:
                coll = self.store.collection(collection)
                if item is not None:  # rows first, then the file: see the docstring
                    store_chunks(
                        [item], self.store, self.embedder, collection, vectors, who.name, lines
                    )
                    uploads.place(path, dest)
                    self.vectors.sync(coll)
                elif not dest.exists():  # same text, but its file was lost: put it back
                    uploads.place(path, dest)
                row = self.store.document(coll, str(dest))
        if row is None:  # ingest reported success, so the row is there; guard the type anyway
            raise NotFoundError(f"{dest.name} was not stored; retry the upload")
        return row, item is None

    def remove_document(
        self, collection: str, document: int | str | Path, who: Principal = OPERATOR
    ) -> DocumentRow:
        """Remove one document, named by its id or its source path, with its chunks and
        vectors; a file the engine itself stored (an upload) is deleted too, a user's own
        file never is. Unknown: NotFoundError saying where to look."""
        from outweigh.retrieval import uploads

        with self.lock:
            store = self.store
            coll = self.writable(collection, who)
            if coll is None:
                raise NotFoundError(unknown_collection(collection))
            if isinstance(document, int):
                row = next((d for d in store.documents(collection) if d.id == document), None)
            else:
                row = store.document(coll, str(Path(document).expanduser().resolve()))
            if row is None:
                raise NotFoundError(
                    f"collection {echo(collection)} has no document {echo(str(document))}; "
                    "see outweigh docs list"
                )
            store.remove_document(coll, row.source)
            if uploads.owned(self.paths, collection, row.source):
                Path(row.source).unlink(missing_ok=True)
            return row

    def drop_collection(self, collection: str) -> None:
        """Remove a collection, its documents, its uploaded files and its vector index
        (unknown: NotFoundError, after the index is gone)."""
        import shutil

        with self.lock:
            try:
                self.store.drop_collection(collection)
            finally:
                self.vectors.drop(collection)
            # Its uploads go with it (only a known, and so well-named, collection gets here).
            shutil.rmtree(self.paths.uploads_dir / collection, ignore_errors=True)

    def sync_index(
        self, collection: str, on_sync: Callable[[int, int], None] | None = None
    ) -> None:
        """Bring a collection's vector index up to date (unknown collection: NotFoundError).
        `on_sync(done, total)` reports vectors added while a stale or missing index rebuilds."""
        with self.lock:
            self.vectors.sync(self.store.collection(collection), on_sync)

    def sync_all(self, on_sync: Callable[[int, int], None] | None = None) -> None:
        """`sync_index` for every collection: what a server does before it listens."""
        with self.lock:
            for coll in self.store.collections():
                self.vectors.sync(coll, on_sync)

    def reindex(
        self, collection: str, on_progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Re-embed every chunk of `collection` with the engine's embedder, from the chunk text
        stored in SQLite, and rebuild its vector index; the number of chunks. The old vectors
        stay until the new ones are committed, all at once. `on_progress(done, total)`."""
        with self.lock:
            coll = self.store.collection(collection)
            embedder = self.embedder
            coll = self.store.reembed(
                coll,
                embedder.embed_batch,
                embedder.name,
                embedder.dim,
                on_progress,
                lines=partial(pack, embedder),
            )
            self.vectors.drop(collection)  # same ids, new vectors: a diff would keep the old
            self.vectors.sync(coll, on_progress)
            return self.store.count_chunks(coll)

    def check_embedder(self, collection: str) -> None:
        """Refuse (InputError naming `outweigh reindex`) a collection built by another
        embedder than the engine's; unknown collection: NotFoundError."""
        from outweigh.retrieval.store import check_embedder

        with self.lock:
            coll = self.store.collection(collection)
            check_embedder(coll, self.embedder.name, self.embedder.dim)

    def embed(self, texts: list[str]) -> tuple[Any, int]:
        """(n, dim) float32 L2-normalised vectors for `texts`, and the tokens they cost."""
        for i, text in enumerate(texts):
            check_text(text, f"input {i}")
        return self._embed_sliced(texts)

    def _embed_sliced(self, texts: list[str]) -> tuple[Any, int]:
        """Vectors and token count, `EMBED_SLICE` texts per turn of the lock."""
        import numpy as np

        embedder = self.embedder
        parts, tokens = [], 0
        for start in range(0, len(texts), EMBED_SLICE):
            part = texts[start : start + EMBED_SLICE]
            with self.lock:
                parts.append(embedder.embed_batch(part))
                tokens += sum(embedder.count_tokens(t) for t in part)
        if not parts:
            return np.zeros((0, embedder.dim), dtype=np.float32), 0
        return np.concatenate(parts), tokens

    def _pack_sliced(self, texts: list[str]) -> list[bytes]:
        """`lines.pack(texts)`, `LINES_SLICE` texts per turn of the lock."""
        out: list[bytes] = []
        for start in range(0, len(texts), LINES_SLICE):
            with self.lock:
                out.extend(pack(self.embedder, texts[start : start + LINES_SLICE]))
        return out

    def reader_data(
        self,
        collection: str,
        limit: int = 600,
        on_row: Callable[[int, int], None] | None = None,
        skip: frozenset[str] = frozenset(),
        writer: str | None = None,
        on_written: Callable[[int, int], None] | None = None,
        trim: bool = True,
    ) -> ReaderData:
        """Reader-adapter rows from a collection's own `Key: value` lines, each question asked
        over the passages `ask` would retrieve and select (`outweigh.adapters.reader`).
        Unknown collection: NotFoundError; empty, or nothing to ask: InputError. `writer`
        names a model (this engine's, local or upstream) that also writes questions from a
        quarter as many of the collection's chunks as there are rows (`reader.write_questions`).
        `trim`: keep few "I don't know" rows and few of one answer (`reader.trimmed`).
        """
        from outweigh.adapters.reader import build

        written = None
        if writer is not None:
            written = self._written(collection, limit // 4, skip, writer, on_written)

        with self.lock:
            self.check_embedder(collection)
            self.sync_index(collection)
            coll = self.store.collection(collection)
            return build(
                self.store,
                self.searcher,
                self.embedder,
                coll,
                limit=limit,
                on_row=on_row,
                skip=skip,
                written=written,
                trim=trim,
            )

    def _written(
        self,
        collection: str,
        n: int,
        skip: frozenset[str],
        writer: str,
        on_chunk: Callable[[int, int], None] | None,
    ) -> list[Fact]:
        """Questions `writer` writes from `n` of the collection's chunks, drawn at random
        (seeded), none from a document in `skip`."""
        import random

        from outweigh.adapters.mining import write_questions
        from outweigh.generate.base import GenerationRequest

        with self.lock:
            coll = self.store.collection(collection)
            ids = [int(i) for i in self.store.chunk_ids(coll)]
        random.Random(0).shuffle(ids)
        chunks: list[tuple[str, str]] = []
        for start in range(0, len(ids), 256):
            with self.lock:
                rows = self.store.chunks(ids[start : start + 256])
            chunks += [(r.source, r.text) for r in rows.values() if r.source not in skip]
            if len(chunks) >= n:
                break
        backend = self.backend(writer)

        def write(prompt: str) -> str:
            request = GenerationRequest([{"role": "user", "content": prompt}], max_tokens=64)
            with self.lock:
                return backend.generate(request).text

        return write_questions(chunks[:n], write, on_chunk)
