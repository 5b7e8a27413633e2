"""Composition: retrieval + prompt budget + backend -> an answer with numbered citations.

The engine owns the state directory's store, the embedder and the loaded models, so the CLI,
the server and the eval share one way of answering.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from outweigh.embed import Embedder
from outweigh.errors import InputError, NotFoundError, echo
from outweigh.generate.base import Backend, Fixed, GenerationRequest, Message, Stream
from outweigh.locks import FairLock
from outweigh.names import check_text
from outweigh.prompt import MAX_PROMPT_TOKENS, PASSAGE_OVERHEAD_TOKENS, Citation, build_messages
from outweigh.retrieval.answers import holds_up
from outweigh.retrieval.hybrid import Hit, HybridSearcher
from outweigh.retrieval.identifiers import absent_answer, mentions, missing
from outweigh.retrieval.select import checks_relevance, expand, names_them, select
from outweigh.retrieval.store import Collection, Store
from outweigh.retrieval.vectors import VectorStore, open_vector_store
from outweigh.settings import DEFAULT_MODEL, Paths

if TYPE_CHECKING:
    from outweigh.adapters import AdapterRegistry
    from outweigh.memory import MemoryItem, MemoryStore
    from outweigh.models.options import LoadOptions

from outweigh.engine.access import Access
from outweigh.engine.adapters import Adapters
from outweigh.engine.documents import Documents
from outweigh.engine.memories import Memories
from outweigh.engine.turn import Answer, AskOptions, Checked, Prepared, Turn, declines


def checked_reading(
    question: str, passages: Sequence[Citation], leads: frozenset[str], answer: str
) -> str:
    """The passage reader's `answer` to `question`, or its "I don't know" where the answer does
    not hold up against the question and the `passages` it read (`retrieval.answers`): the
    question's own words back, no value of the type it demands, a value no passage writes, a
    placeholder, the next entry's value, or another document's. A small reader copies such
    answers out of a passage that does not hold the answer; said with `[1]`, they would pass
    for grounded. `leads`: the first words of the collection's file names."""
    from outweigh.adapters.reader import DONT_KNOW

    if declines(answer) or holds_up(answer, question, passages, leads):
        return answer
    return DONT_KNOW


class Engine(Documents, Memories, Adapters, Access):
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
        self._leads: dict[int, tuple[int, frozenset[str]]] = {}
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

    def _build(
        self, messages: list[Message], question: str, checked: Checked, backend: Backend
    ) -> Prepared:
        options = checked.options
        recalled = self._recall(question, options)
        hits, absent = self._retrieve(question, checked) if checked.collection else ([], [])
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
                    len(citations) + 1,
                    hit.source,
                    hit.chunk_id,
                    hit.text,
                    hit.score,
                    hit.excerpt,
                    *self._origin(checked.collection, hit.source),
                    location=hit.location.to_dict() if hit.location else None,
                    where=hit.location.label() if hit.location else None,
                )
            )
        # A question about the user's own world that no memory is about: say so.
        personal = options.memory and options.user is not None and not citations
        if personal and self.memory.unanswerable(str(options.user), question, recalled):
            from outweigh.memory.abstain import DONT_KNOW

            backend, memories, lines = Fixed(backend, DONT_KNOW), [], []
        elif absent and not any(mentions(m, n) for m in lines for n in absent):
            # It names what no document mentions, nor any memory: nothing here answers it.
            backend, memories, lines = Fixed(backend, absent_answer(absent)), [], []
        adapter = options.adapter
        bias: dict[int, float] = {}
        check: Callable[[str], str] | None = None
        if adapter is None and options.reader and (citations or lines):
            from outweigh.adapters.bundled import MEMORY_READER, READER

            adapter = self._reader(backend, READER if citations else MEMORY_READER)
            if adapter == READER and citations:
                bias = self._abstain_bias(backend)
                leads = self.leads(checked.collection) if checked.collection else frozenset()
                check = partial(checked_reading, question, citations, leads)
        request = GenerationRequest(
            messages=build_messages(messages, citations, rag=bool(citations), memories=lines),
            max_tokens=options.max_tokens,
            temperature=options.temperature,
            top_p=options.top_p,
            stop=list(options.stop),
            seed=options.seed,
            adapter=adapter,
            first_token_bias=bias,
        )
        fallback = None
        if check is not None and not names_them(question, hits):
            # Passages passed the gate on meaning alone, but a question that names nothing of
            # them and that the reader cannot answer from them is not about them: answer it
            # bare.
            fallback = replace(
                request,
                messages=build_messages(messages, [], rag=False, memories=lines),
                adapter=None,
                first_token_bias={},
            )
        return Prepared(request, citations, backend, memories, check, fallback)

    def _abstain_bias(self, backend: Backend) -> dict[int, float]:
        """The first-token bias that makes the passage reader say "I don't know" only where it
        is surer of that than of any answer by its margin (`settings.reader_margin`)."""
        from outweigh.adapters.bundled import READER, abstain_margin
        from outweigh.adapters.reader import DONT_KNOW
        from outweigh.settings import reader_margin

        margin = reader_margin()
        if margin is None:
            bundled = self.adapters.get(READER).source == "bundled"
            margin = abstain_margin(READER, backend.name) if bundled else 0.0
        token = backend.first_token(DONT_KNOW) if margin else None
        return {} if token is None else {token: -margin}

    def _origin(self, coll: Collection | None, source: str) -> tuple[str | None, str, str | None]:
        """(collection, "ingested" or "uploaded", uploader) of a retrieved passage's document,
        so a citation says where it came from and who put it there."""
        from outweigh.retrieval import uploads

        assert coll is not None
        row = self.store.document(coll, source)
        origin = "uploaded" if uploads.owned(self.paths, coll.name, source) else "ingested"
        return coll.name, origin, row.uploader if row is not None else None

    def _reader(self, backend: Backend, name: str) -> str | None:
        """The reader adapter `name` for `backend`'s model, if it has one: the user's own
        adapter of that name on that base, else the one bundled for it, registered on first
        use (`outweigh.adapters.bundled`). An upstream server's reader is the LoRA it serves
        under that name on this base (vLLM's `--lora-modules reader=DIR`, or an `outweigh
        serve` with a `reader` registered). None for a model with no such reader."""
        if getattr(backend, "adapters", None) is None:
            served = backend.served_adapters()
            return name if served.get(name) == backend.name else None
        from outweigh.adapters.bundled import EARLIER, bundled
        from outweigh.adapters.registry import sha256_of

        registry = self.adapters
        path = bundled(name, backend.name)
        if name in registry.names():
            info = registry.get(name)
            ours = info.source == "bundled" or info.sha256 in EARLIER.get(name, ())
            if ours and path is not None and name not in self._current:
                # Registered from an earlier release's copy: this release's replaces it.
                if info.sha256 != sha256_of(path / "adapter_model.safetensors"):
                    registry.remove(name)
                    registry.add(path, name, base=backend.name, source="bundled")
                self._current.add(name)
            return name if registry.get(name).base_model == backend.name else None
        if path is None:
            return None
        registry.add(path, name, base=backend.name, source="bundled")
        self._current.add(name)
        return name

    def _recall(self, question: str, options: AskOptions) -> list[MemoryItem]:
        """The user's memories for this question, best first; none when memory is off."""
        if not options.memory or options.user is None:
            return []
        memory = self.memory
        return memory.recall(options.user, question, limit=memory.limits.recall)

    def _retrieve(self, question: str, checked: Checked) -> tuple[list[Hit], list[str]]:
        """The passages for `question`, and the names with digits it gives that no document
        of the collection mentions (`outweigh.retrieval.identifiers`), when it has no
        passages for that reason. A name the selected passages lack is looked up literally,
        and the passages are selected again from the chunks that hold it."""
        coll, options = checked.collection, checked.options
        assert coll is not None
        how = options.selection
        n = max(options.k, how.candidates)
        hits = self.searcher.search_in(coll, question, n)
        kept = select(
            question,
            expand(self.store, question, hits, how),
            self.embedder,
            how,
            options.k,
            self.store,
        )
        if not kept or not checks_relevance(how, self.embedder):
            return kept, []
        lacking = missing(question, ((h.source, h.excerpt or h.text) for h in kept))
        if not lacking:
            return kept, []
        found, absent = self.searcher.mentioning(coll, question, lacking, n)
        if absent:
            return [], absent
        ids = {h.chunk_id for h in found}
        again = found + [h for h in hits if h.chunk_id not in ids]
        chosen = select(
            question,
            expand(self.store, question, again, how),
            self.embedder,
            how,
            options.k,
            self.store,
        )
        return chosen or kept, []
