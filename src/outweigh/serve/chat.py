"""POST /v1/chat/completions: an OpenAI chat request -> engine options -> answer or SSE stream.

The request is checked against the caps first (no I/O), then waits for a generation slot,
then is prepared by the engine (retrieval, memory, prompt budget) under the engine's lock, and
generated outside it. A stream's slot is held until its last event is sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from outweigh.engine import AskOptions, Engine
from outweigh.engine.turn import Turn
from outweigh.errors import NotFoundError
from outweigh.generate.base import CANCEL, Message
from outweigh.retrieval import uploads
from outweigh.serve.config import ServerState, ServeSettings, principal_of
from outweigh.serve.errors import ERROR_RESPONSES, APIError, stream_error
from outweigh.serve.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Citation,
    Delta,
    Usage,
)
from outweigh.settings import DEFAULT_COLLECTION
from outweigh.users import Principal

router = APIRouter()

MAX_STOP_CHARS = 256
"""Longest stop string; transformers builds a token table per stop string at every call."""


def state_of(request: Request) -> ServerState:
    return request.app.state.outweigh  # type: ignore[no-any-return]


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses={
        **ERROR_RESPONSES,
        200: {"content": {"text/event-stream": {}}, "description": "the answer, or its stream"},
    },
)
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Any:
    """OpenAI chat completions, grounded in a collection, optionally through an adapter."""
    state = state_of(request)
    who = principal_of(request)
    messages = check_request(body, state.settings)
    await state.gate.acquire()
    if not body.stream:
        # A client that goes away cancels the generation it waits for (CANCEL travels into
        # the threadpool with the context); its answer is not remembered.
        cancelled = threading.Event()
        token = CANCEL.set(cancelled)
        watcher = asyncio.create_task(_watch(request, cancelled))
        try:  # one trip to the threadpool: prepare, generate, remember
            return await run_in_threadpool(_complete, state, body, messages, who, cancelled)
        finally:
            watcher.cancel()
            CANCEL.reset(token)
            state.gate.release()
    try:
        turn = await run_in_threadpool(_turn, state, body, messages, who)
    except BaseException:
        state.gate.release()
        raise
    return _GatedStream(_events(_Reply(state, body, turn)), release=state.gate.release)


@dataclasses.dataclass
class _Reply:
    """One request's answer on its way to the client: the engine's `Turn` and the ids the
    OpenAI chunks carry."""

    state: ServerState
    body: ChatCompletionRequest
    turn: Turn
    id: str = dataclasses.field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = dataclasses.field(default_factory=lambda: int(time.time()))


def check_request(body: ChatCompletionRequest, settings: ServeSettings) -> list[Message]:
    """The caps that need no I/O, and the messages as the engine takes them."""
    if len(body.messages) > settings.max_messages:
        raise APIError(
            400,
            f"{len(body.messages)} messages is over the cap of {settings.max_messages}; "
            "send fewer (older turns rarely fit the context anyway)",
            "too_many_messages",
            "messages",
        )
    if body.n > settings.max_n:
        raise APIError(400, f"`n` must be at most {settings.max_n}", "n_too_large", "n")
    for s in _stops(body):
        if len(s) > MAX_STOP_CHARS:
            raise APIError(
                400, f"stop strings are at most {MAX_STOP_CHARS} characters", None, "stop"
            )
    messages: list[Message] = []
    total = 0
    for i, m in enumerate(body.messages):
        if m.content is None and m.role != "assistant":
            raise APIError(400, f"a {m.role} message needs content", None, f"messages.{i}.content")
        text = m.text()
        total += len(text)
        messages.append({"role": "system" if m.role == "developer" else m.role, "content": text})
    if total > settings.max_message_chars:
        raise APIError(
            400,
            f"messages hold {total} characters, over the cap of {settings.max_message_chars}; "
            "send less text (ingest long documents into a collection instead)",
            "messages_too_large",
            "messages",
        )
    return messages


def _turn(
    state: ServerState, body: ChatCompletionRequest, messages: list[Message], who: Principal
) -> Turn:
    """Choose base and adapter, fill AskOptions, and let the engine check the request and
    build the prompt (recalling the user's memories and retrieving from the collection)."""
    engine = state.engine
    try:
        base, adapter = engine.resolve_model(body.model)
    except NotFoundError as e:
        raise APIError(404, f"{e} (see /v1/models)", "model_not_found", "model") from None
    window = engine.window(base)
    requested = body.max_completion_tokens or body.max_tokens
    if requested is not None and requested > window:
        raise APIError(
            400,
            f"max_tokens {requested} is over {base}'s {window}-token context; "
            f"ask for at most {window}",
            "max_tokens_too_large",
            "max_tokens",
        )
    collection = body.collection or DEFAULT_COLLECTION
    options = AskOptions(
        collection=collection,
        rag=body.rag if body.rag is not None else _has_documents(engine, collection, who),
        k=body.k or 5,
        max_tokens=requested or min(state.settings.default_max_tokens, window // 2),
        stop=_stops(body),
        seed=body.seed,
        adapter=adapter,
        principal=who,
    )
    if body.temperature is not None:
        options.temperature = body.temperature
    if body.top_p is not None:
        options.top_p = body.top_p
    _memory_options(engine, options, body, who)
    return engine.turn(messages, options, base)


async def _watch(request: Request, gone: threading.Event) -> None:
    """Set `gone` once the client has disconnected (polled every 0.2 s)."""
    while not gone.is_set():
        if await request.is_disconnected():
            gone.set()
            return
        await asyncio.sleep(0.2)


def _complete(
    state: ServerState,
    body: ChatCompletionRequest,
    messages: list[Message],
    who: Principal,
    gone: threading.Event | None = None,
) -> ChatCompletion | Response:
    reply = _Reply(state, body, _turn(state, body, messages, who))
    turn = reply.turn
    choices, prompt_tokens, completion_tokens = [], 0, 0
    for i in range(body.n):
        if gone is not None and gone.is_set():
            break
        gen = turn.generate(i)
        prompt_tokens = prompt_tokens or gen.prompt_tokens  # one prompt, however many choices
        completion_tokens += gen.completion_tokens
        choices.append(
            Choice(
                index=i,
                message=AssistantMessage(content=gen.text),
                finish_reason="length" if gen.finish_reason == "length" else "stop",
            )
        )
    if gone is not None and gone.is_set():
        return Response(status_code=499)  # no one is there to read it
    return ChatCompletion(
        id=reply.id,
        created=reply.created,
        model=body.model,
        choices=choices,
        usage=Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        ),
        citations=_citations(reply, choices[0].message.content),
    )


async def _events(reply: _Reply) -> AsyncIterator[str]:
    """SSE events: a role delta, content deltas and a finish per choice; citations (and usage,
    when asked) ride on the last chunk before `[DONE]`. The first choice is remembered when
    it ends, with what was said if the client cut it off (`Turn`)."""
    body, turn = reply.body, reply.turn
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    def event(choices: list[ChunkChoice], **extra: Any) -> str:
        chunk = ChatCompletionChunk(
            id=reply.id, created=reply.created, model=body.model, choices=choices, **extra
        )
        data = chunk.model_dump(mode="json", exclude_none=True)
        if chunk.citations is not None:  # whole, nulls included: as the plain answer has them
            data["citations"] = [c.model_dump(mode="json") for c in chunk.citations]
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    try:
        prompt_tokens = completion_tokens = 0
        first = ""
        for i in range(body.n):
            yield event([ChunkChoice(index=i, delta=Delta(role="assistant", content=""))])
            pieces: list[str] = []
            stream = turn.stream(i)
            try:
                async for piece in iterate_in_threadpool(stream):
                    pieces.append(piece)
                    yield event([ChunkChoice(index=i, delta=Delta(content=piece))])
            finally:
                # A client gone (or Stop) cancels this task here: decoding stops at the next
                # token step and the model is free for the next request. Not waited for: this
                # is the event loop; the turn is remembered in the decoding thread.
                stream.close(wait=False)
            text = "".join(pieces)
            first = first if i else text
            gen = await run_in_threadpool(turn.backend.account, turn.nth(i), text)
            completion_tokens += gen.completion_tokens
            prompt_tokens = gen.prompt_tokens
            last = i == body.n - 1 and not include_usage
            yield event(
                [ChunkChoice(index=i, delta=Delta(), finish_reason=gen.finish_reason)],
                citations=_citations(reply, first) if last else None,
            )
        if include_usage:
            usage = Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
            )
            yield event([], usage=usage, citations=_citations(reply, first))
    except Exception as e:  # the 200 is already sent: report in-band, as OpenAI does
        yield f"data: {json.dumps(stream_error(e))}\n\n"
    yield "data: [DONE]\n\n"


class _GatedStream(StreamingResponse):
    """An SSE response that gives its generation slot back however it ends: finished,
    failed, or cut off by the client."""

    def __init__(self, events: AsyncIterator[str], release: Callable[[], None]) -> None:
        super().__init__(
            events,
            media_type="text/event-stream",
            # no-cache and no proxy buffering, so each token reaches the client as it comes.
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def _stops(body: ChatCompletionRequest) -> list[str]:
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    return [s for s in stop if s]


def _has_documents(engine: Engine, collection: str, who: Principal) -> bool:
    """RAG's default: on when the collection exists, `who` may read it, and it holds chunks."""
    try:
        return engine.count_chunks(collection, who) > 0
    except NotFoundError:
        return False


def _memory_options(
    engine: Engine, options: AskOptions, body: ChatCompletionRequest, who: Principal
) -> None:
    """Memory is the key's user's, and on by default when there is one; a user's key may not
    name another `user` (403), an admin's may (logged). With the operator's key (or none),
    `user` names whose memory, and without one memory stays off: the server must never pool
    different clients' memories under one default user."""
    requested = body.user or None
    user = engine.memory_user(who, requested, "chatted") if requested or who.name else None
    wanted = body.memory if body.memory is not None else user is not None
    if wanted and not user:
        raise APIError(400, "`memory` needs `user`: memories are kept per user", None, "user")
    options.memory = wanted
    options.user = user if wanted else None
    options.session = body.session


def _citations(reply: _Reply, answer: str) -> list[Citation]:
    """The passages the first choice's `answer` rests on (`Turn.cited`, as `Answer`'s),
    each source as the server shows it (no absolute paths)."""
    paths, collection = reply.state.engine.paths, reply.turn.options.collection
    return [
        Citation(
            n=c.n,
            source=uploads.shown(paths, collection, c.source),
            chunk_id=c.chunk_id,
            text=c.text,
            excerpt=c.excerpt,
            collection=c.collection,
            origin=c.origin,
            uploader=c.uploader,
            location=c.location,
            where=c.where,
        )
        for c in reply.turn.cited(answer)
    ]
