"""Errors in OpenAI's shape, so every OpenAI client raises its usual exception.

The body is always `{"error": {"message", "type", "param", "code"}}` (platform.openai.com,
"Error codes"); the openai SDK picks its exception class from the status code alone
(400 BadRequestError, 401 AuthenticationError, 404 NotFoundError, 413 APIStatusError,
429 RateLimitError, >=500 InternalServerError). outweigh's own errors map by class.
Nothing reaches the client as a traceback: the catch-all logs it and answers one line.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outweigh.errors import (
    CapacityError,
    ForbiddenError,
    InputError,
    ModelLoadError,
    NotFoundError,
    OutweighError,
    clip,
)

log = logging.getLogger("outweigh.serve")

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    502: "upstream_error",
    503: "server_overloaded",
}


_TYPE_TAG = re.compile(r"str|int|float|bool|list|dict|none|[a-z-]+\[.*\]")
"""How pydantic tags a union member in an error's `loc`: `str`, `list[str]`, ..."""


class ErrorBody(BaseModel):
    """What went wrong, in OpenAI's terms."""

    message: str
    """One line: what is wrong and what to do."""
    type: str
    """invalid_request_error, authentication_error, not_found_error, rate_limit_error, ..."""
    param: str | None = None
    """The request field at fault, dotted (`messages.0.content`), if one is."""
    code: str | None = None
    """A stable machine-readable reason, e.g. `invalid_api_key`, `context_length_exceeded`."""


class ErrorResponse(BaseModel):
    """The body of every non-2xx answer."""

    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": kind}
    for status, kind in [
        (400, "invalid request"),
        (401, "missing or wrong API key"),
        (403, "this key may not do that"),
        (404, "unknown model, collection, document or memory"),
        (413, "request body or upload over its cap"),
        (429, "generation queue full"),
        (503, "waited too long for a generation slot"),
    ]
}
"""Documented on every route, so the OpenAPI document (and schemathesis) know the shape."""


class APIError(Exception):
    """An error the server answers with a given status, in OpenAI's shape."""

    def __init__(
        self, status: int, message: str, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return error_response(self.status, self.message, self.code, self.param, headers)


def error_body(
    status: int, message: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    # A message may quote what the client sent; a lone surrogate in it would fail the
    # response's UTF-8 encoding and turn a 4xx into a 500, so it is escaped.
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(
    status: int,
    message: str,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(status, message, code, param), status, headers=headers)


def from_outweigh(e: OutweighError) -> APIError:
    """The status an outweigh error deserves: the caller's fault is 4xx, ours is 5xx."""
    from outweigh.generate.upstream import UpstreamBusy, UpstreamError

    message = str(e).split("\n")[0]
    if isinstance(e, NotFoundError):
        return APIError(404, message, "not_found")
    if isinstance(e, ForbiddenError):
        return APIError(403, message, "forbidden")
    if isinstance(e, InputError):
        return APIError(400, message)
    if isinstance(e, CapacityError):  # a size cap of the library (e.g. a memory message)
        return APIError(400, message, "capacity_exceeded")
    if isinstance(e, UpstreamBusy):
        return APIError(503, message, "upstream_busy")
    if isinstance(e, UpstreamError):
        return APIError(502, message, "upstream_error")
    if isinstance(e, ModelLoadError):
        return APIError(503, message, "model_unavailable")
    return APIError(500, message, "internal_error")


def stream_error(e: BaseException) -> dict[str, Any]:
    """The `data:` event that ends a stream that failed after its 200 was sent."""
    if isinstance(e, APIError):
        return error_body(e.status, e.message, e.code, e.param)
    if isinstance(e, OutweighError):
        err = from_outweigh(e)
        return error_body(err.status, err.message, err.code)
    log.exception("generation failed mid-stream", exc_info=e)
    return error_body(500, "generation failed; see the server log", "internal_error")


BODY_FIELD_HINTS = {
    "file": "send the document as a multipart file part named `file` with a file name",
}
"""What to do when a form field is missing or of the wrong kind. A part with an empty file
name arrives as a plain text field, and FastAPI's own words for that are `Expected
UploadFile, received: <class 'str'>`."""

NOT_AN_OBJECT = "the body must be one JSON object, sent with Content-Type: application/json"


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None, str]:
    """The first problem as `field: reason`, the field as OpenAI's dotted `param` (None for
    the body as a whole), and the error code."""
    # A union field (`stop: str | list[str]`) fails once per member, each tagged with the
    # member's type in `loc`; the tags are dropped, and "wrong type" errors rank last, so
    # `stop: List should have at most 4 items` wins over `stop: Input should be a string`.
    errors = sorted(exc.errors(), key=lambda e: str(e.get("type", "")).endswith("_type"))
    if not errors:
        return "invalid request", None, "invalid_request"
    first = errors[0]
    kind = str(first.get("type", ""))
    if kind == "json_invalid":
        return _json_message(exc.body, first), None, "invalid_json"
    loc = [
        str(p)
        for p in first.get("loc", ())
        if p not in ("body", "query", "path") and not _TYPE_TAG.fullmatch(str(p))
    ]
    if loc and first.get("loc", ())[0] == "body" and loc[0] in BODY_FIELD_HINTS:
        return BODY_FIELD_HINTS[loc[0]], loc[0], "invalid_request"
    reason = str(first.get("msg", "invalid value")).split("\n")[0].removeprefix("Value error, ")
    if not loc and first.get("loc", ()) == ("body",):
        if kind in ("missing", "model_attributes_type", "dict_type", "model_type"):
            return NOT_AN_OBJECT, None, "invalid_request"
        return reason, None, "invalid_request"
    # Field names come from the client (a key of an object it sent): quoted short.
    param = clip(".".join(loc)) if loc else None
    return (f"{param}: {reason}" if param else reason), param, "invalid_request"


def _json_message(body: object, error: dict[str, Any]) -> str:
    """`the body is not valid JSON: <what> at line L, column C`. FastAPI gives the offset."""
    loc = error.get("loc", ())
    pos = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    what = clip(str((error.get("ctx") or {}).get("error", "cannot parse it")))
    if pos is None:
        return f"the body is not valid JSON: {what}; send one JSON object"
    where = f"character {pos}"
    if isinstance(body, str):
        line = body.count("\n", 0, pos) + 1
        column = pos - body.rfind("\n", 0, pos)
        where = f"line {line}, column {column}"
    return f"the body is not valid JSON: {what} at {where}; send one JSON object"


def _unparsed_message(cause: BaseException | None) -> str:
    """Why FastAPI could not read the body at all ("There was an error parsing the body")."""
    if isinstance(cause, UnicodeDecodeError):
        return f"the body is not valid UTF-8 (byte {cause.start}); send UTF-8 JSON"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return (
            "the body holds a number of more than 4,300 digits; send one within the field's range"
        )
    return "the body cannot be parsed; send one JSON object, or a multipart form for an upload"


def install_handlers(app: FastAPI) -> None:
    """Route every failure, expected or not, into the OpenAI error shape. Call before adding
    other middleware, so the catch-all sits innermost."""

    @app.exception_handler(APIError)
    async def _api(_: Request, e: APIError) -> JSONResponse:
        return e.response()

    @app.exception_handler(OutweighError)
    async def _outweigh(_: Request, e: OutweighError) -> JSONResponse:
        err = from_outweigh(e)
        if err.status >= 500:
            log.error("%s", e)
        return err.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        # OpenAI answers malformed requests with 400, not FastAPI's 422.
        message, param, code = _validation_message(e)
        return error_response(400, message, code, param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException) -> JSONResponse:
        message = e.detail if isinstance(e.detail, str) else "request failed"
        if e.status_code == 400 and message == "There was an error parsing the body":
            return error_response(400, _unparsed_message(e.__cause__), "invalid_json")
        if e.status_code == 404 and message == "Not Found":
            message = "no such route; see /docs for the routes this server has"
        code = getattr(e, "code", None)
        return error_response(e.status_code, message, code, headers=getattr(e, "headers", None))

    app.add_middleware(CatchAllMiddleware)


class StartWatch:
    """An ASGI `send` that notes whether the response has started: after its headers are
    sent, an error can no longer be answered with a response of its own."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


class CatchAllMiddleware:
    """A bug answers 500 in OpenAI's shape, logged here with its traceback.

    Starlette's own last-resort handler re-raises after answering, and uvicorn then drops the
    keep-alive connection, which the client's next request finds closed; this one does not.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watch = StartWatch(send)
        try:
            await self.app(scope, receive, watch)
        except Exception as e:
            log.exception("unexpected error", exc_info=e)
            if watch.started:
                raise
            response = error_response(500, "internal error; see the server log", "internal_error")
            await response(scope, receive, send)
