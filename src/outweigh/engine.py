"""Composition: retrieval + prompt budget + backend -> an answer with numbered citations.

The engine owns the state directory's store, the embedder and the loaded models, so the CLI,
the server and the eval share one way of answering.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outweigh.attribution import supporting
from outweigh.embed import Embedder
from outweigh.errors import IngestError, InputError, NotFoundError, printable
from outweigh.generate.base import Backend, GenerationRequest, Message, Stream, detach
from outweigh.locks import FairLock
from outweigh.names import check_text
from outweigh.prompt import MAX_PROMPT_TOKENS, PASSAGE_OVERHEAD_TOKENS, Citation, build_messages
from outweigh.retrieval.hybrid import Hit, HybridSearcher
from outweigh.retrieval.ingest import IngestReport, chunk_upload, ingest, store_chunks
from outweigh.retrieval.select import Selection, expand, select
from outweigh.retrieval.store import DocumentRow, Store
from outweigh.retrieval.vectors import VectorStore, open_vector_store
from outweigh.settings import DEFAULT_COLLECTION, DEFAULT_MODEL, IngestLimits, Paths
from outweigh.settings import embedder as embedder_setting

if TYPE_CHECKING:
    from outweigh.adapters import AdapterRegistry
    from outweigh.adapters.reader import ReaderData
    from outweigh.memory import MemoryItem, MemoryStore
    from outweigh.models.options import LoadOptions


EMBED_SLICE = 16
"""Texts embedded per turn of the engine's lock: about 0.1-0.4 s of the bundled embedder on
2 CPU cores, the longest a short request waits behind a bulk embedding."""


@dataclass
class Answer:
    """A generated answer with its grounding and accounting."""

    answer: str
    citations: list[Citation]
    """The passages the answer rests on (`outweigh.attribution.supporting`); not every
    passage in the prompt."""
    model: str
    usage: dict[str, int]
    finish_reason: str = "stop"
    adapter: str | None = None
    memories: list[MemoryItem] = field(default_factory=list)
    """The user's memories that went into the prompt, best first."""
    context: list[Citation] = field(default_factory=list)
    """Every passage the prompt carried, numbered as the model saw them."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "model": self.model,
            "adapter": self.adapter,
            "usage": self.usage,
        }


@dataclass
class AskOptions:
    """How to answer one question."""

    collection: str = DEFAULT_COLLECTION
    """Which collection to retrieve from."""
    rag: bool = True
    """Retrieve context; off answers from the model's own knowledge."""
    k: int = 5
    """Most chunks in the prompt (fewer go in if selection drops some or the token budget is
    tight)."""
    selection: Selection = field(default_factory=Selection)
    """How retrieved chunks are chosen and cut to the lines matching the question
    (`outweigh.retrieval.select`); `select.NONE` puts the top-k chunks in whole."""
    max_tokens: int = 200
    """Answer length cap, in tokens."""
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    adapter: str | None = None
    """A registered adapter name or weighted mix; None is the bare base model."""
    user: str | None = None
    """Whose long-term memory to recall and update; None uses no memory at all."""
    session: str | None = None
    """The conversation this turn belongs to, recorded with the turn and its facts."""
    memory: bool = True
    """Recall the user's memories into the prompt and capture new facts after the answer;
    off (`--no-memory`) neither reads nor writes memory, even with a user."""

    reader: bool = True
    """Read retrieved passages through the model's reader adapter, or recalled memories
    (with no passages) through its memory reader (`Engine._reader`), when no other adapter
    is asked for; off runs the bare model."""

    def validate(self) -> None:
        if self.k < 1:
            raise InputError("`-k` must be at least 1")
        if self.max_tokens < 1:
            raise InputError("`--max-tokens` must be at least 1")
        if not 0 <= self.temperature <= 2:
            raise InputError("`temperature` must be between 0 and 2")
        if not 0 < self.top_p <= 1:
            raise InputError("`top_p` must be in (0, 1]")
        for s in self.stop:
            check_text(s, "a stop string")


@dataclass
class Prepared:
    """A request ready for the backend, with the passages its prompt carries (`citations`)."""

    request: GenerationRequest
    citations: list[Citation]
    backend: Backend
    memories: list[MemoryItem] = field(default_factory=list)
    """Recalled memories in the prompt, ahead of the citations."""

    def cited(self, question: str, answer: str) -> list[Citation]:
        """The prompt's passages `answer` rests on: what `Answer.citations`, the server and
        the eval report as citations."""
        return supporting(answer, self.citations, question)


@dataclass(frozen=True)
class CollectionInfo:
    """One collection as `Engine.collections` lists it."""

    name: str
    documents: int
    """Documents ingested into it."""
    chunks: int
    """Chunks they were split into (what retrieval searches)."""


class Engine:
    """The library's front door: ingest, search and answer against one state directory."""

    def __init__(
        self,
        paths: Paths | None = None,
        model: str = DEFAULT_MODEL,
        embedder: Embedder | str | None = None,
        backend: Backend | None = None,
        backend_factory: Callable[[str], Backend] | None = None,
        load: LoadOptions | None = None,
    ) -> None:
        """`embedder`: an Embedder, or a sentence-transformers folder or hub id loaded on first
        use; None takes `$OUTWEIGH_EMBEDDER`, else the bundled all-MiniLM-L6-v2.
        `backend_factory(name)` builds a backend for a model name on first use (e.g. an
        UpstreamBackend for `--upstream`); without it, models load locally with transformers,
        placed by `load` (device, dtype, quantization; default: the environment's, else auto),
        and the embedder runs on the same device."""
        self.paths = paths or Paths()
        self.load = load
        self.model = model
        self._embedder = embedder if isinstance(embedder, Embedder) else None
        self._embedder_spec = embedder if isinstance(embedder, str) else None
        self._factory = backend_factory
        self._backends: dict[str, Backend] = {backend.name: backend} if backend else {}
        if backend is not None:
            self.model = backend.name
        self._store: Store | None = None
        self._searcher: HybridSearcher | None = None
        self._vectors: VectorStore | None = None
        self._memory: MemoryStore | None = None
        self._adapters: AdapterRegistry | None = None
        self.lock = FairLock()
        """Serialises the state the engine shares between threads: one SQLite connection, the
        registry, the embedder and the backends' loading (a write transaction must not
        interleave with another thread's reads; a fast tokenizer refuses concurrent calls).
        Public methods take it; generation runs outside it, so one request's answer never
        waits on another's documents. It is granted in arrival order, and long embedding work
        takes it one slice of `EMBED_SLICE` texts at a time, so a short request waits for at
        most one slice."""

    @classmethod
    def upstream(
        cls,
        url: str,
        model: str | None = None,
        api_key: str | None = None,
        paths: Paths | None = None,
        embedder: Embedder | str | None = None,
    ) -> Engine:
        """An engine whose generation runs on an OpenAI-compatible server (vLLM, llama.cpp,
        Ollama); `model` None takes the upstream's first base model."""
        from outweigh.generate.upstream import UpstreamBackend, check_url, first_base_model

        url = check_url(url)
        name = model or first_base_model(url, api_key)
        return cls(
            paths,
            model=name,
            embedder=embedder,
            backend_factory=lambda n: UpstreamBackend(url, n, api_key),
        )

    # -- lazily built parts ---------------------------------------------------------------
    # Each part is built once, under the lock, so two request threads never open two.
    @property
    def store(self) -> Store:
        with self.lock:
            if self._store is None:
                self._store = Store(self.paths)
            return self._store

    @property
    def embedder(self) -> Embedder:
        if self._embedder is not None:  # no lock once built: memory calls this under its own
            return self._embedder
        with self.lock:
            if self._embedder is None:
                from outweigh.embed import SentenceTransformerEmbedder

                device = "cpu"
                if self._factory is None and (self.load is None or self.load.device != "cpu"):
                    from outweigh.models.options import LoadOptions

                    device = (self.load or LoadOptions.from_env()).resolve().device
                # Only what differs from the defaults is passed: SentenceTransformerEmbedder()
                # stays the call for the bundled model on the CPU.
                chosen: dict[str, Any] = (
                    {"path": self._embedder_spec} if self._embedder_spec else {}
                )
                if device != "cpu":
                    chosen["device"] = device
                self._embedder = SentenceTransformerEmbedder(**chosen)
            return self._embedder

    @property
    def vectors(self) -> VectorStore:
        """The dense index: faiss files, or Qdrant when `$OUTWEIGH_VECTOR_STORE` says so."""
        with self.lock:
            if self._vectors is None:
                self._vectors = open_vector_store(self.store)
            return self._vectors

    @property
    def searcher(self) -> HybridSearcher:
        with self.lock:
            if self._searcher is None:
                self._searcher = HybridSearcher(self.store, self.embedder, self.vectors)
            return self._searcher

    @property
    def memory(self) -> MemoryStore:
        """Long-term memory in the same db, sharing the engine's embedder (loaded only when a
        fact is written or a user with facts asks)."""
        with self.lock:
            if self._memory is None:
                from outweigh.memory import MemoryStore
                from outweigh.settings import memory_extractor

                extractor = None
                if memory_extractor() == "model":
                    from outweigh.memory import ModelExtractor

                    extractor = ModelExtractor(lambda: self.backend())
                self._memory = MemoryStore(
                    self.paths, embedder=lambda: self.embedder, extractor=extractor
                )
            return self._memory

    @property
    def adapters(self) -> AdapterRegistry:
        """Registered LoRA adapters (names -> PEFT dirs) in the same state directory."""
        with self.lock:
            if self._adapters is None:
                from outweigh.adapters import AdapterRegistry

                self._adapters = AdapterRegistry(self.paths)
            return self._adapters

    def backend(self, model: str | None = None) -> Backend:
        """The backend for `model` (default: the engine's), loading it on first use."""
        name = model or self.model
        with self.lock:
            if name not in self._backends and self._factory is not None:
                self._backends[name] = self._factory(name)
            if name not in self._backends:
                from outweigh.generate.choose import open_local

                # llama.cpp for a bundled GGUF where it is installed, else transformers.
                self._backends[name] = open_local(name, self.paths, self.load, self.adapters)
            return self._backends[name]

    def close(self) -> None:
        if self._adapters is not None:
            self._adapters.close()
            self._adapters = None
        if self._memory is not None:
            self._memory.close()
            self._memory = None
        if self._vectors is not None:
            self._vectors.close()
            self._vectors = None
        if self._store is not None:
            self._store.close()
            self._store = None
            self._searcher = None

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
    ) -> IngestReport:
        """Ingest files, then bring the vector index up to date so the next search is fast.

        `on_file(path, total)` after each file is read, `on_commit(source, chunks)` after each
        document is durably stored, `on_sync(done, total)` while vectors join the index.
        `ray`: parse and embed on Ray actors ("local", or a cluster address such as
        "ray://head:10001"); None ingests in this process. `ray_workers`: how many actors
        (default: one per CPU of the Ray cluster). `follow_symlinks`: read file links in a
        folder that point out of it (by default they are skipped with a reason).
        """
        common: dict[str, Any] = {
            "prune": prune,
            "limits": limits,
            "on_file": on_file,
            "on_commit": on_commit,
            "follow_symlinks": follow_symlinks,
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

    def documents(self, collection: str | None = None) -> list[DocumentRow]:
        """Documents of one collection (unknown: NotFoundError), or of all, by source."""
        with self.lock:
            return self.store.documents(collection)

    def collections(self) -> list[CollectionInfo]:
        """Every collection by name, with its document and chunk counts."""
        with self.lock:
            store = self.store
            return [CollectionInfo(c.name, *store.counts(c)) for c in store.collections()]

    def count_chunks(self, collection: str) -> int:
        """Chunks in a collection (unknown: NotFoundError)."""
        with self.lock:
            return self.store.count_chunks(self.store.collection(collection))

    def upload(
        self, collection: str, filename: str, data: bytes, max_bytes: int | None = None
    ) -> tuple[DocumentRow, bool]:
        """Store `data` as `uploads/<collection>/<filename>` and ingest it: (its row, whether
        it was unchanged). A re-upload of the same name replaces the document; a file that
        cannot be read is refused before it replaces anything, and leaves nothing behind."""
        from outweigh.names import check_name
        from outweigh.retrieval import uploads

        check_name(collection)
        limits = IngestLimits() if max_bytes is None else IngestLimits(max_file_bytes=max_bytes)
        # Parsed once, outside the lock (a hostile PDF must not stall other requests); chunked,
        # placed, embedded and stored under it. Chunking fails before the file is placed, so a
        # failed upload never replaces an earlier one.
        # Embedded slice by slice between the two (`_embed_sliced`), so other requests get
        # the lock in between.
        staged = uploads.staged(self.paths, filename, data, limits.max_file_bytes)
        with staged as (path, text):
            with self.lock:
                dest = uploads.destination(self.paths, collection, path)
                try:
                    store, embedder = self.store, self.embedder
                    item = chunk_upload(dest, text, len(data), store, embedder, collection)
                except IngestError as e:
                    raise InputError(str(e).replace(str(dest), dest.name)) from e
            vectors = self._embed_sliced([t for t, _, _ in item.chunks])[0] if item else None
            with self.lock:
                uploads.place(path, dest)
                if item is not None:
                    store_chunks([item], self.store, self.embedder, collection, vectors)
                    self.vectors.sync(self.store.collection(collection))
                row = self.store.document(self.store.collection(collection), str(dest))
        if row is None:  # ingest reported success, so the row is there; guard the type anyway
            raise NotFoundError(f"{dest.name} was not stored; retry the upload")
        return row, item is None

    def remove_document(self, collection: str, document: int | str | Path) -> DocumentRow:
        """Remove one document, named by its id or its source path, with its chunks and
        vectors; a file the engine itself stored (an upload) is deleted too, a user's own
        file never is. Unknown: NotFoundError saying where to look."""
        from outweigh.retrieval import uploads

        with self.lock:
            store = self.store
            coll = store.collection(collection)
            if isinstance(document, int):
                row = next((d for d in store.documents(collection) if d.id == document), None)
            else:
                row = store.document(coll, str(Path(document).expanduser().resolve()))
            if row is None:
                raise NotFoundError(
                    f"collection {collection!r} has no document {printable(str(document))}; "
                    "see outweigh docs list"
                )
            store.remove_document(coll, row.source)
            if uploads.owned(self.paths, collection, row.source):
                Path(row.source).unlink(missing_ok=True)
            return row

    def drop_collection(self, collection: str) -> None:
        """Remove a collection, its documents and its vector index (unknown: NotFoundError,
        after the index is gone)."""
        with self.lock:
            try:
                self.store.drop_collection(collection)
            finally:
                self.vectors.drop(collection)

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
                coll, embedder.embed_batch, embedder.name, embedder.dim, on_progress
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

    def reader_data(
        self,
        collection: str,
        limit: int = 600,
        on_row: Callable[[int, int], None] | None = None,
    ) -> ReaderData:
        """Reader-adapter rows from a collection's own `Key: value` lines, each question asked
        over the passages `ask` would retrieve and select (`outweigh.adapters.reader`).
        Unknown collection: NotFoundError; empty, or nothing to ask: InputError."""
        from outweigh.adapters.reader import build

        with self.lock:
            self.check_embedder(collection)
            self.sync_index(collection)
            coll = self.store.collection(collection)
            return build(self.store, self.searcher, self.embedder, coll, limit=limit, on_row=on_row)

    # -- models ---------------------------------------------------------------------------
    def models(self) -> dict[str, str | None]:
        """Model names a request may use: the base (parent None), each registered adapter
        trained on it and, for an upstream, each LoRA it serves (parent = its base)."""
        with self.lock:
            models: dict[str, str | None] = {self.model: None}
            for info in self.adapters.list():
                # An adapter of another base would load that base beside this one on first
                # use, doubling the memory a server was sized for; it is not offered.
                if info.base_model == self.model or self._factory is not None:
                    models.setdefault(info.name, info.base_model)
            for name, parent in self.backend().served_adapters().items():
                models.setdefault(name, parent)
            return models

    def resolve_model(self, name: str) -> tuple[str, str | None]:
        """(base model, adapter or None) for a requested model name; unknown: NotFoundError,
        an adapter of another base: InputError saying which base serves it."""
        models = self.models()
        if name not in models:
            other = next((a for a in self.adapters.list() if a.name == name), None)
            if other is not None:
                raise InputError(
                    f"adapter {name!r} runs on {other.base_model}, and this engine serves "
                    f"{self.model}; start one with --model {other.base_model} for it"
                )
            raise NotFoundError(f"unknown model {name!r}; choose one of: {', '.join(models)}")
        parent = models[name]
        return (name, None) if parent is None else (parent, name)

    def window(self, model: str | None = None) -> int:
        """Tokens of prompt + answer a request to `model` may use."""
        return min(self.backend(model).context_window, MAX_PROMPT_TOKENS)

    # -- answers --------------------------------------------------------------------------
    def ask(
        self, question: str, options: AskOptions | None = None, model: str | None = None
    ) -> Answer:
        """Answer one question, grounded in `options.collection` unless `rag` is off."""
        return self.chat([{"role": "user", "content": question}], options, model)

    def chat(
        self, messages: list[Message], options: AskOptions | None = None, model: str | None = None
    ) -> Answer:
        """Answer the last user turn of a conversation, then remember what the user said."""
        options = options or AskOptions()
        prepared = self.prepare(messages, options, model)
        gen = prepared.backend.generate(prepared.request)
        self.record(messages[-1]["content"], gen.text, options)
        return Answer(
            answer=gen.text,
            citations=prepared.cited(messages[-1]["content"], gen.text),
            context=prepared.citations,
            model=prepared.backend.name,
            usage=gen.usage(),
            finish_reason=gen.finish_reason,
            adapter=prepared.request.adapter,
            memories=prepared.memories,
        )

    def stream(
        self, messages: list[Message], options: AskOptions | None = None, model: str | None = None
    ) -> tuple[Prepared, Iterator[str]]:
        """The prepared request (with citations) and an iterator over the answer's pieces.

        The turn is remembered when the iterator ends, or with the partial answer if the
        consumer closes it early (Ctrl-C in the REPL); not if generation fails.
        """
        options = options or AskOptions()
        prepared = self.prepare(messages, options, model)
        pieces = detach(prepared.backend.stream(prepared.request))
        if not (options.memory and options.user is not None):
            return prepared, pieces
        return prepared, self._stream_then_capture(pieces, messages[-1]["content"], options)

    def _stream_then_capture(
        self, pieces: Stream, question: str, options: AskOptions
    ) -> Iterator[str]:
        said: list[str] = []
        try:
            for piece in pieces:
                said.append(piece)
                yield piece
        except GeneratorExit:
            self.record(question, "".join(said), options)
            raise
        finally:
            pieces.close()  # frees the model at once, not at garbage collection
        self.record(question, "".join(said), options)

    def record(self, question: str, answer: str, options: AskOptions) -> None:
        """Persist the turn and the facts it states, when memory is on for a user.

        `chat` and `stream` call it; a caller that runs the backend itself (the server) calls it
        after the answer."""
        if options.memory and options.user is not None:
            with self.lock:  # the capture embeds facts with the shared embedder
                self.memory.capture(options.user, options.session, question, reply=answer)

    def preflight(
        self,
        options: AskOptions,
        model: str | None = None,
        question: str | None = None,
        on_sync: Callable[[int, int], None] | None = None,
    ) -> None:
        """Everything that can refuse a request, checked before anything heavy loads: the
        options, the model name, the adapter and the base it was trained on, the collection
        (whose index is synced, `on_sync(done, total)` while it rebuilds), the user's session
        and the question against the memory cap. One line naming the fix, per failure."""
        options.validate()
        if question is not None:
            check_text(question, "the question")
        name = model or self.model
        with self.lock:
            # Backends from a factory (an upstream server: vLLM's --lora-modules) know their
            # own model and adapter names, and refuse unknown ones themselves.
            if self._factory is None and name not in self._backends:
                from outweigh.models.catalog import resolve

                entry = resolve(name)  # unknown model: NotFoundError naming the choices
                if self.load is not None:
                    self.load.resolve()  # a --device this machine lacks: InputError
                if options.adapter is not None:
                    from outweigh.generate.lora import check_base

                    # unknown adapter: NotFoundError listing them; another base: InputError
                    parts = self.adapters.resolve(options.adapter)
                    check_base((info for info, _ in parts), entry.name)
            elif options.adapter is not None and self._factory is None:
                # A backend handed in already: the adapter must exist; the base it was
                # trained on is checked where its weights load (generate/lora.py).
                self.adapters.resolve(options.adapter)
            if options.rag:
                self.check_embedder(options.collection)
                self.sync_index(options.collection, on_sync)
            if options.memory and options.user is not None:
                from outweigh.names import check_session

                check_session(options.session)
                if question is not None:
                    self.memory.check_message(question)
        if question is not None and not question.strip():
            raise InputError("the question is empty")

    def prepare(
        self, messages: list[Message], options: AskOptions, model: str | None = None
    ) -> Prepared:
        """Retrieve, recall, fit the context into the token budget, and build the request.

        The first half of an answer, under the engine's lock; the caller generates with
        `prepared.backend` outside it and then calls `finish` (`chat` and `stream` do both)."""
        if not messages or messages[-1].get("role") != "user":
            raise InputError("the conversation must end with a user message")
        for i, m in enumerate(messages):
            check_text(m["content"], f"message {i}")
        question = messages[-1]["content"]
        with self.lock:
            self.preflight(options, model, question)
            return self._build(messages, question, options, self.backend(model))

    def _build(
        self, messages: list[Message], question: str, options: AskOptions, backend: Backend
    ) -> Prepared:
        recalled = self._recall(question, options)
        hits = self._retrieve(question, options) if options.rag else []
        window = min(backend.context_window, MAX_PROMPT_TOKENS)
        base = build_messages(messages, [], rag=bool(hits))
        budget = window - options.max_tokens - backend.count_prompt_tokens(base)
        if budget < 0:
            raise InputError(
                f"the conversation is {-budget} tokens over {backend.name}'s {window}-token "
                "window; shorten it or lower max_tokens"
            )
        memories: list[MemoryItem] = []
        lines: list[str] = []
        if recalled:
            from outweigh.memory.recall import fit, prompt_line

            # Memories get their own budget, taken first: they are about this user.
            cap = min(self.memory.limits.prompt_tokens, budget)
            memories = fit(recalled, cap, backend.count_tokens)
            lines = [prompt_line(m) for m in memories]
            budget -= backend.count_prompt_tokens(
                build_messages(messages, [], rag=bool(hits), memories=lines)
            ) - backend.count_prompt_tokens(base)
        citations: list[Citation] = []
        for hit in hits:
            cost = backend.count_tokens(hit.excerpt or hit.text) + PASSAGE_OVERHEAD_TOKENS
            if cost > budget:
                break
            budget -= cost
            citations.append(
                Citation(
                    len(citations) + 1, hit.source, hit.chunk_id, hit.text, hit.score, hit.excerpt
                )
            )
        # A question about the user's own world that no memory is about: say so.
        personal = options.memory and options.user is not None and not citations
        if personal and self.memory.unanswerable(str(options.user), question, recalled):
            from outweigh.memory.abstain import DONT_KNOW, Fixed

            backend, memories, lines = Fixed(backend, DONT_KNOW), [], []
        adapter = options.adapter
        if adapter is None and options.reader and (citations or lines):
            from outweigh.adapters.bundled import MEMORY_READER, READER

            adapter = self._reader(backend, READER if citations else MEMORY_READER)
        request = GenerationRequest(
            messages=build_messages(messages, citations, rag=bool(citations), memories=lines),
            max_tokens=options.max_tokens,
            temperature=options.temperature,
            top_p=options.top_p,
            stop=list(options.stop),
            seed=options.seed,
            adapter=adapter,
        )
        return Prepared(request, citations, backend, memories)

    def _reader(self, backend: Backend, name: str) -> str | None:
        """The reader adapter `name` for `backend`'s model, if it has one: the user's own
        adapter of that name on that base, else the one bundled for it, registered on first
        use (`outweigh.adapters.bundled`). None for a backend that takes no outweigh adapters
        (an upstream server) or a model with no such reader."""
        if getattr(backend, "adapters", None) is None:
            return None
        from outweigh.adapters.bundled import bundled

        registry = self.adapters
        if name in registry.names():
            return name if registry.get(name).base_model == backend.name else None
        path = bundled(name, backend.name)
        if path is None:
            return None
        registry.add(path, name, base=backend.name)
        return name

    def _recall(self, question: str, options: AskOptions) -> list[MemoryItem]:
        """The user's memories for this question, best first; none when memory is off."""
        if not options.memory or options.user is None:
            return []
        memory = self.memory
        return memory.recall(options.user, question, limit=memory.limits.recall)

    def _retrieve(self, question: str, options: AskOptions) -> list[Hit]:
        coll = self.store.collection(options.collection)
        how = options.selection
        hits = self.searcher.search_in(coll, question, max(options.k, how.candidates))
        return select(
            question, expand(self.store, question, hits, how), self.embedder, how, options.k
        )
