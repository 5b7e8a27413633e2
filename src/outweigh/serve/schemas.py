"""Pydantic models of the OpenAI routes the server speaks, plus outweigh's own fields.

Field names and shapes follow the OpenAI API reference (Chat Completions, Models,
Embeddings), so the openai SDK, LangChain and Open WebUI parse them unchanged. outweigh's
additions ride beside the standard fields: the request's `rag`, `collection`, `k`, `memory`
and `session` (the SDK's `extra_body`), and the response's `citations`.
Unknown fields of the OpenAI routes are ignored, as OpenAI-compatible servers do, so clients
that send newer parameters still work; outweigh's own routes (`OwnRequestBody`) refuse them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from outweigh.engine.turn import SEED_RANGE
from outweigh.errors import clip

SEED_MIN, SEED_MAX = SEED_RANGE
"""torch.manual_seed takes a 64-bit seed; anything outside would be a 500, so it is a 400."""


class RequestBody(BaseModel):
    """A request body: unknown fields ignored, and every string in it valid Unicode.

    JSON can carry a lone surrogate (`"\\ud800"`), which no tokenizer, embedder or SQLite
    accepts; one check over the raw body refuses it in any field, with its place, as a 400.
    """

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _utf8(cls, data: Any) -> Any:
        _check_utf8(data, "")
        return data


class OwnRequestBody(RequestBody):
    """A body of one of outweigh's own routes (not OpenAI's): an unknown field is refused,
    naming the known ones. No other client sends it newer fields, and a typo (`contxt`) or an
    option this server does not have (`train`) would otherwise be answered with the default."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = [key for key in data if key not in cls.model_fields]
            if unknown:
                raise ValueError(
                    f"unknown field `{clip(unknown[0])}`; known: {', '.join(cls.model_fields)}"
                )
        return data


def _check_utf8(value: Any, where: str) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                f"{clip(where) if where else 'a string'} is not valid Unicode (a lone surrogate); "
                "send UTF-8"
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_utf8(key, where)
            _check_utf8(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_utf8(item, f"{where}.{i}" if where else str(i))


class TextPart(BaseModel):
    """One text part of a multi-part message; images and audio are not accepted."""

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    """One turn of the conversation."""

    role: Literal["system", "developer", "user", "assistant"]
    """`developer` is OpenAI's newer name for `system` and is treated as one."""
    content: str | list[TextPart] | None = None
    """Text, or a list of text parts that are joined; null only for an assistant turn."""
    name: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content)


class StreamOptions(BaseModel):
    include_usage: bool = False
    """Send a last chunk with `usage` (and empty `choices`) before `[DONE]`."""


class ChatCompletionRequest(RequestBody):
    """POST /v1/chat/completions."""

    model: str = Field(max_length=256)
    """The base model's name, or a registered adapter's name (that adapter on its base)."""
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    """Answer length cap; at most the model's context window."""
    max_completion_tokens: int | None = Field(None, ge=1)
    """OpenAI's newer name for `max_tokens`; wins when both are given."""
    temperature: float | None = Field(None, ge=0, le=2, allow_inf_nan=False)
    top_p: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    n: int = Field(1, ge=1)
    """Choices to generate, up to the server's cap."""
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    """Up to 4 stop strings, as OpenAI allows."""
    seed: int | None = Field(None, ge=SEED_MIN, le=SEED_MAX)
    user: str | None = Field(None, max_length=256)
    """The end user; memory is keyed by it."""
    # -- outweigh's own fields ------------------------------------------------------------
    rag: bool | None = None
    """Retrieve context; default on when the collection has documents."""
    collection: str | None = Field(None, max_length=64)
    """Collection to retrieve from (default `default`)."""
    k: int | None = Field(None, ge=1, le=50)
    """Chunks to retrieve (default 5)."""
    memory: bool | None = None
    """Recall and record this user's memories; default on when `user` is given."""
    session: str | None = Field(None, max_length=256)
    """Conversation id for memory, when the memory module is present."""


class Citation(BaseModel):
    """A chunk the prompt carried and the answer rests on, numbered as the model saw it."""

    n: int
    source: str
    chunk_id: int
    text: str
    """The stored chunk, byte for byte."""
    excerpt: str | None = None
    """The document's lines the model was shown, where context selection cut the passage:
    what the answer is checked against, possibly from the document's other chunks."""
    collection: str | None = None
    """The collection the passage came from."""
    origin: Literal["ingested", "uploaded"] | None = None
    """How the document got there: ingested by the operator, or uploaded through the server."""
    uploader: str | None = None
    """The user who uploaded it; null for the operator."""
    location: dict[str, Any] | None = None
    """Where the passage is in its document: `page` (and `last_page`), `slide`, `sheet`,
    `section` (heading path), mail `subject` and `date`; null when unknown."""
    where: str | None = None
    """That location in words, e.g. "p. 12, §3.2 Budget"; null when unknown."""


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class ChatCompletion(BaseModel):
    """A finished answer; `citations` is outweigh's addition."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    citations: list[Citation] = Field(default_factory=list)


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int
    delta: Delta
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed answer; the last one carries `citations`."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    citations: list[Citation] | None = None


class ModelCard(BaseModel):
    """One entry of GET /v1/models; `parent` names an adapter's base, as vLLM does."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "outweigh"
    parent: str | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class EmbeddingRequest(RequestBody):
    """POST /v1/embeddings: text only (token-id inputs are not accepted)."""

    input: str | Annotated[list[str], Field(min_length=1)]
    model: str = Field("", max_length=256)
    """Ignored beyond logging: the server has one embedder, named in the response."""
    encoding_format: Literal["float", "base64"] = "float"
    """base64 is little-endian float32, what the openai SDK asks for by default."""
    dimensions: int | None = Field(None, ge=1)
    """Must equal the embedder's dimension if given; it cannot shorten vectors."""
    user: str | None = None


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage


class CollectionCard(BaseModel):
    """One collection (outweigh.engine.CollectionInfo)."""

    name: str
    documents: int
    chunks: int
    owner: str | None = None
    """The user whose upload made it; null: the operator's, readable by every user."""
    shared: dict[str, bool] = {}
    """Users it is shared with -> whether they may write."""


class CollectionList(BaseModel):
    object: Literal["list"] = "list"
    data: list[CollectionCard]


class Document(BaseModel):
    """An ingested document."""

    id: int
    collection: str
    source: str
    sha256: str
    bytes: int
    n_chunks: int
    ingested: str
    uploader: str | None = None
    """The user who uploaded it; null for the operator (ingested, or uploaded with its key)."""
    origin: Literal["ingested", "uploaded"] = "ingested"


class DocumentList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Document]


class UploadResult(BaseModel):
    """What an upload did: the stored document, or `unchanged` when the same text was there."""

    object: Literal["document"] = "document"
    document: Document
    unchanged: bool


class Deleted(BaseModel):
    id: str
    object: str
    deleted: bool


class Memory(BaseModel):
    """One remembered fact of one user: a `MemoryItem`, as `Engine.memories` lists it."""

    id: str
    """`mem_` and 16 random hex digits: what `DELETE /v1/memories/{id}` takes."""
    user: str
    session: str | None
    text: str
    """The fact in the user's own words (a secret's value masked)."""
    subject: str | None
    """Single-valued attribute key, e.g. `cat:name`; a newer fact on it supersedes this one."""
    kind: str
    """`explicit`, `auto` or `model`: how it was captured."""
    created: str
    updated: str
    superseded_by: str | None
    """The id of the fact that replaced it."""
    valid_until: str | None
    current: bool
    secret: bool = False
    """A secret the user asked to remember: `text` shows `[secret]` in place of its value,
    which only the user's own prompts see."""


class Me(BaseModel):
    """Who the request's key is."""

    object: Literal["user"] = "user"
    name: str | None
    """The user's name; null for the operator (the server's own key, or no keys at all)."""
    admin: bool
    operator: bool
    keys: bool
    """Whether the server asks for keys (users exist, or it was started with a key)."""


class ShareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    write: bool = False
    """Whether the user may upload to and delete from the collection too."""


class CollectionShares(BaseModel):
    object: Literal["collection.shares"] = "collection.shares"
    collection: str
    shared: dict[str, bool]


class MemoryList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Memory]
