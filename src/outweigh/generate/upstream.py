"""Generation on any OpenAI-compatible server (vLLM, llama.cpp, Ollama, another outweigh).

outweigh still does retrieval, memory and the prompt; the upstream only turns the finished
messages into text. The adapter name travels as the upstream `model`, which is how
`vllm serve --enable-lora --lora-modules NAME=DIR` picks a LoRA per request
(docs.vllm.ai, "Serving LoRA Adapters"). Requests go out with httpx, streaming (SSE) or not.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

from outweigh.errors import InputError, NotFoundError, OutweighError
from outweigh.generate.base import Backend, Generation, GenerationRequest

DEFAULT_CONTEXT = 8192
"""Context assumed when the upstream does not say (vLLM reports `max_model_len` in
/v1/models; llama.cpp and Ollama do not). The engine caps prompts at 8192 anyway."""

UPSTREAM_TTL_S = 30.0
"""How long the upstream's model list is trusted: adapters loaded into vLLM at runtime show
up within this, without one HTTP call per request."""

log = logging.getLogger("outweigh.upstream")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Answers worth sending again: a timeout, "too many requests", and a server or gateway that
failed or is overloaded now (the set the openai SDK and urllib3's Retry retry on)."""

BACKOFF_BASE_S = 1.0
"""First wait before a retry without Retry-After; it doubles on each later try."""

BACKOFF_MAX_S = 60.0
"""Longest wait between two tries without Retry-After: a minute covers a rate-limit window."""

RETRY_AFTER_MAX_S = 300.0
"""A server's Retry-After is followed up to five minutes; a longer one is cut to this, so a
run never sleeps for hours on one header."""

BYTES_PER_TOKEN = 3
"""Without the upstream's tokenizer, tokens are estimated as UTF-8 bytes / 3. BPE tokenizers
of current models average about 4 bytes per token on English and about 3 on CJK (one 3-byte
character per token), so this over-counts, which keeps prompts inside the window."""


class UpstreamError(OutweighError):
    """The upstream server failed, or could not be reached."""


class UpstreamRefused(UpstreamError):
    """The upstream answered 401 or 403: the key is missing or wrong."""


class UpstreamBusy(UpstreamError):
    """The upstream answered 429: it is full, not broken; retrying later can work."""


class UpstreamBackend(Backend):
    """A remote OpenAI-compatible chat endpoint behind the `Backend` interface.

    `base_url` is what the openai SDK calls base_url, e.g. `http://127.0.0.1:8001/v1`.
    `model` is the upstream's base model name; a request's adapter replaces it per call.
    One httpx client (a connection pool, safe to share between threads) serves every call.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 600.0,
        context_window: int | None = None,
        transport: httpx.BaseTransport | None = None,
        retries: int = 0,
    ) -> None:
        """`retries`: how many times a whole-answer request (and the model listing) is sent
        again after a dropped connection, a timeout or a RETRY_STATUSES answer, waiting as
        the answer's Retry-After says, else with exponential backoff. 0 (the server's
        choice: its own client retries, and a 429 goes back to it as a 503) sends once."""
        self.base_url = check_url(base_url)
        self.retries = retries
        self.name = model
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        # connect fails fast; read waits as long as a long answer may take on a busy GPU.
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=10.0),
            transport=transport,
        )
        self._window = context_window
        self._lock = threading.Lock()
        """Guards the lazily probed window and the cached adapter list."""
        self._adapters: tuple[float, dict[str, str]] = (-UPSTREAM_TTL_S, {})

    # -- what the upstream serves ---------------------------------------------------------
    def list_models(self) -> list[dict[str, Any]]:
        """The upstream's /models entries (vLLM adds `parent` for LoRAs, `max_model_len`)."""
        data = self._json(self._call("GET", "/models"))
        models = data.get("data") if isinstance(data, dict) else None
        if not isinstance(models, list):
            raise UpstreamError(f"{self.base_url}/models did not return a model list")
        return [m for m in models if isinstance(m, dict) and isinstance(m.get("id"), str)]

    def served_adapters(self) -> dict[str, str]:
        """LoRA name -> base for what the upstream serves (vLLM lists `--lora-modules` entries
        with a `parent`), re-read every UPSTREAM_TTL_S. A failed listing keeps the last one:
        the base still serves, and generation says why the upstream fails."""
        with self._lock:
            fetched, adapters = self._adapters
            if time.monotonic() - fetched >= UPSTREAM_TTL_S:
                try:
                    listed = self.list_models()
                    adapters = {m["id"]: str(m["parent"]) for m in listed if m.get("parent")}
                except UpstreamError as e:
                    log.warning("cannot list the upstream's models: %s", e)
                self._adapters = (time.monotonic(), adapters)
            return adapters

    @property  # type: ignore[override]  # a lazy probe instead of the base class's constant
    def context_window(self) -> int:
        """The upstream's `max_model_len` for this model, probed once; else DEFAULT_CONTEXT."""
        with self._lock:
            if self._window is None:
                self._window = DEFAULT_CONTEXT
                try:
                    for m in self.list_models():
                        if m["id"] == self.name and isinstance(m.get("max_model_len"), int):
                            self._window = int(m["max_model_len"])
                except UpstreamError:
                    pass  # generation will report the upstream's state in its own error
            return self._window

    def count_tokens(self, text: str) -> int:
        return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)

    # -- generation -----------------------------------------------------------------------
    def payload(self, request: GenerationRequest, stream: bool) -> dict[str, Any]:
        """The /chat/completions body; the adapter, if any, is the upstream `model`."""
        adapter = request.adapter
        if adapter and ("," in adapter or ":" in adapter):
            raise InputError(
                f"adapter mix {adapter!r} runs only on the local backend; an upstream server "
                "takes one adapter name per request"
            )
        body: dict[str, Any] = {
            "model": adapter or self.name,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stream": stream,
        }
        if request.stop:
            body["stop"] = request.stop
        if request.seed is not None:
            body["seed"] = request.seed
        return body

    def generate(self, request: GenerationRequest) -> Generation:
        data = self._json(self._call("POST", "/chat/completions", self.payload(request, False)))
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as e:
            raise UpstreamError(f"{self.base_url} sent a completion without choices") from e
        usage = data.get("usage") or {}
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens")
        completion = completion if isinstance(completion, int) else self.count_tokens(text)
        reason = choice.get("finish_reason")
        return Generation(
            text=text,
            prompt_tokens=prompt
            if isinstance(prompt, int)
            else self.count_prompt_tokens(request.messages),
            completion_tokens=completion,
            finish_reason=reason if reason in ("stop", "length") else "stop",
        )

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        body = self.payload(request, True)
        try:
            with self._client.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    self._raise_for(response)
                for line in response.iter_lines():
                    piece = _sse_piece(line, self.base_url)
                    if piece is None:
                        break
                    if piece:
                        yield piece
        except httpx.HTTPError as e:
            raise UpstreamError(f"upstream {self.base_url} failed mid-answer: {e}") from e

    def close(self) -> None:
        self._client.close()

    # -- HTTP -----------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """One request, sent up to `retries` more times while it fails in a way that may pass."""
        attempt = 0
        while True:
            try:
                response = self._client.request(method, path, json=body)
            except httpx.HTTPError as e:
                if attempt < self.retries:
                    attempt += 1
                    self._wait(None, attempt, type(e).__name__)
                    continue
                raise UpstreamError(
                    f"upstream {self.base_url} is unreachable ({type(e).__name__}); "
                    "is it running, and is the URL its OpenAI base URL (ending in /v1)?"
                ) from e
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                attempt += 1
                self._wait(response, attempt, str(response.status_code))
                continue
            if response.status_code >= 400:
                self._raise_for(response)
            return response

    def _wait(self, response: httpx.Response | None, attempt: int, why: str) -> None:
        delay = retry_after(response) if response is not None else None
        if delay is None:
            # Exponential backoff with "equal jitter" (AWS Architecture Blog, "Exponential
            # Backoff and Jitter", 2015): half the step fixed, half random, so clients that
            # failed together do not all come back at the same instant.
            step = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
            delay = step / 2 + random.uniform(0, step / 2)
        log.warning(
            "upstream %s: %s; try %d of %d in %.1f s",
            self.base_url,
            why,
            attempt + 1,
            self.retries + 1,
            delay,
        )
        time.sleep(delay)

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as e:
            raise UpstreamError(f"upstream {self.base_url} answered with non-JSON") from e

    def _raise_for(self, response: httpx.Response) -> None:
        """Map the upstream's status to ours: its 4xx are the caller's, its 5xx and 401 ours."""
        message = _error_message(response)
        status = response.status_code
        where = f"upstream {self.base_url}"
        if status == 404:
            raise NotFoundError(f"{where}: {message}")
        if status == 429:
            raise UpstreamBusy(f"{where} is busy: {message}")
        if status in (401, 403):
            raise UpstreamRefused(f"{where} refused our key ({status}); set the upstream API key")
        if 400 <= status < 500:
            raise InputError(f"{where} rejected the request: {message}")
        raise UpstreamError(f"{where} failed with {status}: {message}")


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the answer's Retry-After asks to wait (delay-seconds or an HTTP-date, RFC 9110
    section 10.2.3), at most RETRY_AFTER_MAX_S; None when it says nothing usable."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_S)


def first_base_model(url: str, api_key: str | None = None) -> str:
    """The first model the upstream lists that is not a LoRA (vLLM sets `parent` on those)."""
    probe = UpstreamBackend(url, "", api_key)
    try:
        models = probe.list_models()
    finally:
        probe.close()
    bases = [m["id"] for m in models if not m.get("parent")]
    if not bases:
        raise NotFoundError(f"upstream {url} lists no models; pass --model NAME")
    return str(bases[0])


def check_url(url: str) -> str:
    """An http(s) base URL without a trailing slash, or a one-line error."""
    parsed = httpx.URL(url) if url.startswith(("http://", "https://")) else None
    if parsed is None or not parsed.host:
        raise InputError(
            f"--upstream {url!r} is not an http(s) URL; give one like http://127.0.0.1:8001/v1"
        )
    return url.rstrip("/")


def _sse_piece(line: str, where: str) -> str | None:
    """The text of one SSE line: "" for keep-alives and empty deltas, None at `[DONE]`."""
    if not line.startswith("data:"):
        return ""
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    try:
        event = json.loads(data)
    except ValueError as e:
        raise UpstreamError(f"upstream {where} sent a malformed stream event") from e
    if not isinstance(event, dict):
        return ""
    if "error" in event:
        err = event["error"]
        message = err.get("message") if isinstance(err, dict) else err
        raise UpstreamError(f"upstream {where} failed mid-answer: {message}")
    choices = event.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return ""  # e.g. the usage-only chunk that ends an OpenAI stream
    delta = choices[0].get("delta") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""


def _error_message(response: httpx.Response) -> str:
    """The upstream's one-line reason: OpenAI's error.message, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].replace("\n", " ") or response.reason_phrase
    if isinstance(body, dict):
        err = body.get("error", body.get("detail", body))
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"].split("\n")[0]
        if isinstance(err, str):
            return err.split("\n")[0]
    return str(body)[:200]
