"""The OpenAI-compatible server: `create_app(engine, settings)` and `serve(settings)`.

Routes: chat completions (serve/chat.py), models, embeddings, collections and their documents,
memories per user, the planner (serve/plan.py), and the web page (serve/ui.py). Every API route
sits behind the API key when one is set, every body behind its size cap, and every failure
answers in OpenAI's error shape (serve/errors.py). The interactive docs load Swagger UI from
the fastapi-offline package, never from a CDN, so they work offline.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
import time
from collections.abc import Callable

from fastapi import FastAPI, File, Path, Query, Request, UploadFile
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from outweigh.engine import DocumentRow, Engine
from outweigh.errors import NotFoundError, echo
from outweigh.retrieval import uploads
from outweigh.serve.chat import router as chat_router
from outweigh.serve.chat import state_of
from outweigh.serve.config import (
    ServerState,
    ServeSettings,
    is_loopback,
    principal_of,
    slots_for,
)
from outweigh.serve.errors import ERROR_RESPONSES, APIError, install_handlers
from outweigh.serve.guard import AuthMiddleware, BodyLimitMiddleware, Gate, OriginMiddleware
from outweigh.serve.metrics import health_of
from outweigh.serve.metrics import router as metrics_router
from outweigh.serve.plan import router as plan_router
from outweigh.serve.schemas import (
    CollectionCard,
    CollectionList,
    CollectionShares,
    Deleted,
    Document,
    DocumentList,
    Embedding,
    EmbeddingList,
    EmbeddingRequest,
    EmbeddingUsage,
    Me,
    Memory,
    MemoryList,
    ModelCard,
    ModelList,
    ShareRequest,
    UploadResult,
)
from outweigh.serve.ui import add_page
from outweigh.settings import DEFAULT_MODEL

log = logging.getLogger("outweigh.serve")

COLLECTION = Path(min_length=1, max_length=64, description="Collection name.")
USER = Query(
    None,
    min_length=1,
    max_length=256,
    description="Whose memories: leave it out for your own; only an admin names another user.",
)


def create_app(engine: Engine, settings: ServeSettings | None = None) -> FastAPI:
    """The FastAPI app serving `engine` under `settings` (defaults: loopback, no key)."""
    from importlib.metadata import version

    settings = settings or ServeSettings()
    settings.validate()
    # FastAPIOffline: FastAPI with /docs and /redoc loading their JS and CSS from the package.
    app = FastAPIOffline(
        title="outweigh",
        version=version("outweigh"),
        summary="OpenAI-compatible chat with retrieval, adapters and memory.",
    )
    app.state.outweigh = ServerState(
        engine=engine,
        settings=settings,
        gate=Gate(slots_for(settings, engine), settings.max_queue, settings.queue_timeout_s),
    )
    app.state.started = int(time.time())
    install_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        body_bytes=settings.max_body_bytes,
        upload_bytes=settings.max_upload_bytes,
        read_timeout_s=settings.read_timeout_s,
    )
    engine.keyed()  # opens the users table now, not in the event loop's first request
    # Added after the body cap, so it runs before it: nothing is read for a caller without a
    # key. Always on: a user added while the server runs makes keys required at once.
    app.add_middleware(
        AuthMiddleware,
        api_key=settings.api_key,
        who=engine.principal,
        keyed=engine.keyed,
        loopback=is_loopback(settings.host),
    )
    app.add_middleware(
        OriginMiddleware,
        bound=settings.host,
        hosts=settings.allowed_hosts,
        origins=settings.cors_origins,
    )
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        # Outermost: an allowed page's preflight (OPTIONS, no key) is answered here, and its
        # responses carry Access-Control-Allow-Origin.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.include_router(chat_router)
    app.include_router(plan_router)
    app.include_router(metrics_router)
    _add_routes(app)
    _add_memory_routes(app)
    add_page(app)
    return app


def _add_routes(app: FastAPI) -> None:
    @app.get("/health", responses=ERROR_RESPONSES)
    async def health(request: Request) -> dict[str, str | int | float]:
        """Liveness: the server answers, its base model, the requests admitted to the engine
        now (`running`) and waiting for a slot (`queued`), the slots, and what the model
        decodes (`decoding`, `tokens_per_s`; `serve/metrics.py`)."""
        return health_of(state_of(request))

    @app.get("/v1/models", response_model=ModelList, responses=ERROR_RESPONSES)
    async def list_models(request: Request) -> ModelList:
        """The base model and every adapter (`parent` = its base): registered ones, and in
        upstream mode the upstream's LoRAs."""
        models = await run_in_threadpool(state_of(request).engine.models)
        created = request.app.state.started
        return ModelList(
            data=[ModelCard(id=name, created=created, parent=p) for name, p in models.items()]
        )

    @app.get("/v1/models/{model_id:path}", response_model=ModelCard, responses=ERROR_RESPONSES)
    async def get_model(model_id: str, request: Request) -> ModelCard:
        models = await run_in_threadpool(state_of(request).engine.models)
        if model_id not in models:
            raise APIError(
                404,
                f"unknown model {echo(model_id)}; choose one of: {', '.join(models)}",
                "model_not_found",
                "model",
            )
        return ModelCard(id=model_id, created=request.app.state.started, parent=models[model_id])

    @app.post("/v1/embeddings", response_model=EmbeddingList, responses=ERROR_RESPONSES)
    async def embeddings(body: EmbeddingRequest, request: Request) -> EmbeddingList:
        """Vectors from the server's embedder (float32, L2-normalised)."""
        state = state_of(request)
        async with state.gate.slot(bulk=True):
            return await run_in_threadpool(_embed, state, body)

    @app.get("/v1/me", response_model=Me, responses=ERROR_RESPONSES)
    async def me(request: Request) -> Me:
        """Who this request's key is: a user (with `admin`), or the operator (`name` null:
        the server's own key, or a loopback server with no users). `keys`: whether the
        server asks for keys."""
        who = principal_of(request)
        state = state_of(request)
        keyed = bool(state.settings.api_key) or await run_in_threadpool(state.engine.keyed)
        return Me(name=who.name, admin=who.admin, operator=who.operator, keys=keyed)

    @app.get("/v1/collections", response_model=CollectionList, responses=ERROR_RESPONSES)
    async def list_collections(request: Request) -> CollectionList:
        """The collections this key may read, with their document and chunk counts, owner
        and shares."""
        rows = await run_in_threadpool(state_of(request).engine.collections, principal_of(request))
        return CollectionList(data=[CollectionCard(**dataclasses.asdict(r)) for r in rows])

    @app.put(
        "/v1/collections/{name}/shares/{user}",
        response_model=CollectionShares,
        responses=ERROR_RESPONSES,
    )
    async def share_collection(
        body: ShareRequest,
        request: Request,
        name: str = COLLECTION,
        user: str = Path(min_length=1, max_length=64, description="The user to share with."),
    ) -> CollectionShares:
        """Share a collection with a user, read-only or with `write`; its owner or an admin."""
        engine = state_of(request).engine
        shared = await run_in_threadpool(
            engine.share, name, user, body.write, principal_of(request)
        )
        return CollectionShares(collection=name, shared=shared)

    @app.delete(
        "/v1/collections/{name}/shares/{user}",
        response_model=CollectionShares,
        responses=ERROR_RESPONSES,
    )
    async def unshare_collection(
        request: Request,
        name: str = COLLECTION,
        user: str = Path(min_length=1, max_length=64, description="The user to unshare."),
    ) -> CollectionShares:
        engine = state_of(request).engine
        shared = await run_in_threadpool(engine.share, name, user, None, principal_of(request))
        return CollectionShares(collection=name, shared=shared)

    @app.post(
        "/v1/collections/{name}/documents",
        response_model=UploadResult,
        status_code=201,
        responses=ERROR_RESPONSES,
    )
    async def upload_document(
        request: Request,
        name: str = COLLECTION,
        file: UploadFile = File(
            description="A document (.txt .md .html .pdf .docx .pptx .xlsx .csv .odt .ods .odp "
            ".epub .rtf .eml .mbox)."
        ),
    ) -> UploadResult:
        """Ingest one document into the collection; a re-upload of the same name replaces it."""
        state = state_of(request)
        if len((await request.form()).getlist("file")) > 1:  # FastAPI would keep the last
            raise APIError(400, "send one file per request", "too_many_files", "file")
        data = await file.read(state.settings.max_upload_bytes + 1)
        if len(data) > state.settings.max_upload_bytes:
            raise APIError(413, "upload is over its cap; send a smaller file", "request_too_large")
        async with state.gate.slot(bulk=True):
            row, unchanged = await run_in_threadpool(
                state.engine.upload,
                name,
                file.filename or "",
                data,
                state.settings.max_upload_bytes,
                principal_of(request),
            )
        return UploadResult(document=_document(state, row), unchanged=unchanged)

    @app.get(
        "/v1/collections/{name}/documents", response_model=DocumentList, responses=ERROR_RESPONSES
    )
    async def list_documents(request: Request, name: str = COLLECTION) -> DocumentList:
        state = state_of(request)
        rows = await run_in_threadpool(state.engine.documents, name, principal_of(request))
        return DocumentList(data=[_document(state, r) for r in rows])

    @app.delete(
        "/v1/collections/{name}/documents/{doc_id}",
        response_model=Deleted,
        responses=ERROR_RESPONSES,
    )
    async def delete_document(
        request: Request,
        name: str = COLLECTION,
        doc_id: int = Path(ge=1, le=2**63 - 1, description="The document's id."),
    ) -> Deleted:
        engine = state_of(request).engine
        await run_in_threadpool(engine.remove_document, name, doc_id, principal_of(request))
        return Deleted(id=str(doc_id), object="document", deleted=True)


def _add_memory_routes(app: FastAPI) -> None:
    @app.get("/v1/memories", response_model=MemoryList, responses=ERROR_RESPONSES)
    async def list_memories(
        request: Request,
        user: str | None = USER,
        history: bool = Query(False, description="Superseded facts too, oldest first."),
    ) -> MemoryList:
        """The current memories of this key's user (an admin or the operator names `user`);
        with `history`, the facts they replaced too. An unknown user has none."""
        engine = state_of(request).engine
        who = _memory_user(request, user, "listed the memories")
        items = await run_in_threadpool(engine.memories, who, history)
        return MemoryList(data=[Memory(**m.to_dict()) for m in items])

    @app.delete("/v1/memories/{memory_id}", response_model=Deleted, responses=ERROR_RESPONSES)
    async def forget_memory(
        request: Request,
        memory_id: str = Path(
            pattern=r"^mem_[0-9a-f]{16}$", description="The memory's id (`mem_` + 16 hex)."
        ),
        user: str | None = USER,
    ) -> Deleted:
        """Forget one memory for good, with the facts it replaced and the turns that said
        them; another user's id is a 404."""
        engine = state_of(request).engine
        who = _memory_user(request, user, "forgot a memory")
        done = await run_in_threadpool(engine.forget, who, memory_id)
        if not done:
            raise NotFoundError(f"no memory {echo(memory_id)} of {echo(who)}; see /v1/memories")
        return Deleted(id=memory_id, object="memory", deleted=True)


def _memory_user(request: Request, requested: str | None, action: str) -> str:
    """Whose memories: the key's user; an admin or the operator must name one."""
    user = state_of(request).engine.memory_user(principal_of(request), requested, action)
    if user is None:
        raise APIError(400, "name whose memories with ?user=NAME", None, "user")
    return user


# -- work done in the threadpool ---------------------------------------------------------------
def _embed(state: ServerState, body: EmbeddingRequest) -> EmbeddingList:
    import base64

    texts = [body.input] if isinstance(body.input, str) else body.input
    settings = state.settings
    if len(texts) > settings.max_embedding_inputs:
        raise APIError(
            400,
            f"{len(texts)} inputs is over the cap of {settings.max_embedding_inputs}; batch them",
            "too_many_inputs",
            "input",
        )
    if sum(len(t) for t in texts) > settings.max_message_chars:
        raise APIError(
            400,
            f"inputs are over the cap of {settings.max_message_chars} characters",
            "input_too_large",
            "input",
        )
    embedder = state.engine.embedder
    if body.dimensions is not None and body.dimensions != embedder.dim:
        raise APIError(
            400, f"{embedder.name} makes {embedder.dim}-d vectors only", None, "dimensions"
        )
    vectors, tokens = state.engine.embed(texts)
    data = []
    for i, v in enumerate(vectors):
        if body.encoding_format == "base64":
            value: list[float] | str = base64.b64encode(v.astype("<f4").tobytes()).decode()
        else:
            value = [float(x) for x in v]
        data.append(Embedding(index=i, embedding=value))
    return EmbeddingList(
        data=data,
        model=embedder.name,
        usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens),
    )


def _document(state: ServerState, row: DocumentRow) -> Document:
    paths = state.engine.paths
    source = uploads.shown(paths, row.collection, row.source)
    origin = "uploaded" if uploads.owned(paths, row.collection, row.source) else "ingested"
    return Document(**{**dataclasses.asdict(row), "source": source, "origin": origin})


# -- running it -------------------------------------------------------------------------------
def build_engine(settings: ServeSettings) -> Engine:
    """The engine `outweigh serve` runs: local transformers, or generation upstream."""
    if settings.upstream:
        return Engine.upstream(
            settings.upstream, settings.model, settings.upstream_api_key, embedder=settings.embedder
        )
    from outweigh.models.options import LoadOptions
    from outweigh.settings import llama_slots

    # Many clients at once: llama.cpp decodes up to $OUTWEIGH_LLAMA_SLOTS answers together.
    load = dataclasses.replace(settings.load or LoadOptions.from_env(), slots=llama_slots())
    return Engine(model=settings.model or DEFAULT_MODEL, embedder=settings.embedder, load=load)


def ready(
    settings: ServeSettings,
    engine: Engine | None = None,
    on_sync: Callable[[int, int], None] | None = None,
) -> Engine:
    """Check the bind, load the model and sync every vector index: what can fail or take long
    happens before the server listens, not in its first requests.

    `on_sync(done, total)` reports vectors added while a stale or missing index is rebuilt.
    """
    settings.validate()
    engine = engine or build_engine(settings)
    settings.check_bind(engine.keyed())
    engine.backend()  # load (or reach) the model now, so a bad one fails here, not per request
    if settings.embedder is not None:
        _ = engine.embedder  # a bad --embedder fails here, before the server listens
    engine.sync_all(on_sync)
    return engine


def serve(settings: ServeSettings, engine: Engine | None = None) -> None:
    """`ready`, then run until interrupted."""
    import uvicorn

    engine = ready(settings, engine)
    uvicorn.run(create_app(engine, settings), host=settings.host, port=settings.port)


class BackgroundServer:
    """The app on a free loopback port, served by uvicorn in a daemon thread; `with` stops it.

    For tests, benchmarks and notebooks that want a real HTTP server next to their own code.
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        # proto=IPPROTO_TCP, so asyncio sets TCP_NODELAY on accepted connections (it checks
        # the proto); with proto 0, Nagle + delayed ACK add ~40 ms to every response.
        self._socket = socket.socket(
            socket.AF_INET6 if ":" in host else socket.AF_INET,
            socket.SOCK_STREAM,
            socket.IPPROTO_TCP,
        )
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = host, int(self._socket.getsockname()[1])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_keep_alive=30)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL for the openai SDK, e.g. http://127.0.0.1:53211/v1."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the background server did not start; see its log")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
