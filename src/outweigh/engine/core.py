"""Composition: retrieval + prompt budget + backend -> an answer with numbered citations.

The engine owns the state directory's store, the embedder and the loaded models, so the CLI,
the server and the eval share one way of answering.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from outweigh.embed import Embedder
from outweigh.errors import InputError, NotFoundError, echo
from outweigh.generate.base import Backend, Message, Stream
from outweigh.locks import FairLock
from outweigh.names import check_text
from outweigh.prompt import MAX_PROMPT_TOKENS
from outweigh.retrieval.hybrid import HybridSearcher
from outweigh.retrieval.store import Store
from outweigh.retrieval.vectors import VectorStore, open_vector_store
from outweigh.settings import DEFAULT_MODEL, Paths

if TYPE_CHECKING:
    from outweigh.adapters import AdapterRegistry
    from outweigh.memory import MemoryStore
    from outweigh.models.options import LoadOptions

from outweigh.engine.access import Access
from outweigh.engine.adapters import Adapters
from outweigh.engine.answering import Answering
from outweigh.engine.documents import Documents, Names
from outweigh.engine.memories import Memories
from outweigh.engine.turn import Answer, AskOptions, Checked, Prepared, Turn


class Engine(Documents, Memories, Adapters, Access, Answering):
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
        self._current: set[str] = set()
        """Bundled readers checked against this release's copy (`_reader`), once each."""
        self._opened: list[Backend] = []
        """Backends the engine loaded itself, which it closes; a caller's backend, given or
        made by `backend_factory`, is the caller's to close (a test may share one)."""
        if backend is not None:
            self.model = backend.name
        self._store: Store | None = None
        self._searcher: HybridSearcher | None = None
        self._vectors: VectorStore | None = None
        self._memory: MemoryStore | None = None
        self._adapters: AdapterRegistry | None = None
        self._leads: dict[int, tuple[int, Names]] = {}
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
                self._opened.append(self._backends[name])
            return self._backends[name]

    def loaded_backend(self, model: str | None = None) -> Backend | None:
        """The backend for `model` if it is loaded already; never loads one."""
        with self.lock:
            return self._backends.get(model or self.model)

    def close(self) -> None:
        with self.lock:
            opened, self._opened = self._opened, []
            self._backends = {n: b for n, b in self._backends.items() if b not in opened}
        for backend in opened:
            backend.close()
        if self._users is not None:
            self._users.close()
            self._users = None
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

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
                    f"adapter {echo(name)} runs on {other.base_model}, and this engine serves "
                    f"{self.model}; start one with --model {other.base_model} for it"
                )
            raise NotFoundError(f"unknown model {echo(name)}; choose one of: {', '.join(models)}")
        parent = models[name]
        return (name, None) if parent is None else (parent, name)

    def window(self, model: str | None = None) -> int:
        """Tokens of prompt + answer a request to `model` may use."""
        return min(self.backend(model).context_window, MAX_PROMPT_TOKENS)

    # -- answers --------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        options: AskOptions | None = None,
        model: str | None = None,
        checked: Checked | None = None,
    ) -> Answer:
        """Answer one question, grounded in `options.collection` unless `rag` is off."""
        return self.chat([{"role": "user", "content": question}], options, model, checked)

    def chat(
        self,
        messages: list[Message],
        options: AskOptions | None = None,
        model: str | None = None,
        checked: Checked | None = None,
    ) -> Answer:
        """Answer the last user turn of a conversation, then remember what the user said."""
        turn = self.turn(messages, options or AskOptions(), model, checked)
        return turn.answer(turn.generate())

    def stream(
        self,
        messages: list[Message],
        options: AskOptions | None = None,
        model: str | None = None,
        checked: Checked | None = None,
    ) -> tuple[Prepared, Stream]:
        """The prepared request (with citations) and the answer's pieces as they come.

        The turn is remembered when the stream ends, with the partial answer if the reader
        closes it early (Ctrl-C in the REPL); not if generation fails (`Turn`)."""
        turn = self.turn(messages, options or AskOptions(), model, checked)
        return turn.prepared, turn.stream()

    def record(self, question: str, answer: str, options: AskOptions) -> None:
        """Persist the turn and the facts it states, when memory is on for a user (what
        `Turn.finish` calls)."""
        if options.memory and options.user is not None:
            with self.lock:  # the capture embeds facts with the shared embedder
                self.memory.capture(options.user, options.session, question, reply=answer)

    def preflight(
        self,
        options: AskOptions,
        model: str | None = None,
        question: str | None = None,
        on_sync: Callable[[int, int], None] | None = None,
    ) -> Checked:
        """Everything that can refuse a request, checked before anything heavy loads: the
        options, the question, the model name, the adapter and the base it was trained on, the
        collection (whose index is synced, `on_sync(done, total)` while it rebuilds), the
        user's session and the question against the memory cap. One line naming the fix, per
        failure. What it checked goes to `turn` (or `ask`, `chat`, `stream`), which then
        checks none of it again."""
        options.validate()
        if question is not None:
            check_text(question, "the question")
            if not question.strip():
                raise InputError("the question is empty")
        name = model or self.model
        collection = None
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
                from outweigh.retrieval.store import check_embedder

                collection = self.readable(options.collection, options.principal)
                check_embedder(collection, self.embedder.name, self.embedder.dim)
                self.vectors.sync(collection, on_sync)
            if options.memory and options.user is not None:
                from outweigh.names import check_session

                check_session(options.session)
                if question is not None:
                    self.memory.check_message(question)
        return Checked(options, name, question, collection)

    def turn(
        self,
        messages: list[Message],
        options: AskOptions,
        model: str | None = None,
        checked: Checked | None = None,
    ) -> Turn:
        """The one answer path: check the request (unless `checked`, from `preflight` on the
        same options, model and question, says it was), then retrieve, recall, fit the context
        into the token budget and build the request, under the engine's lock. The `Turn`
        generates outside the lock and remembers the turn when choice 0 ends."""
        if not messages or messages[-1].get("role") != "user":
            raise InputError("the conversation must end with a user message")
        for i, m in enumerate(messages[:-1]):
            check_text(m["content"], f"message {i}")
        question = messages[-1]["content"]
        with self.lock:
            name = model or self.model
            fresh = (
                checked is not None
                and checked.options is options
                and checked.model == name
                and checked.question == question
            )
            if not fresh:
                checked = self.preflight(options, model, question)
            assert checked is not None
            prepared = self._build(messages, question, checked, self.backend(model))
        return Turn(prepared, options, question, self.record)

    def prepare(
        self, messages: list[Message], options: AskOptions, model: str | None = None
    ) -> Prepared:
        """The request `turn` builds, for a caller that runs the backend itself."""
        return self.turn(messages, options, model).prepared
