"""What the server is doing, for people and for Prometheus: `GET /health` (JSON) and
`GET /metrics` (Prometheus' text format, version 0.0.4, written here without a client
library). Both sit behind the same API key as every other route (`AuthMiddleware`).

The gate's figures count requests (admitted, waiting, refused); the model's, where its backend
keeps them (llama.cpp's batcher: `Backend.load_stats`), count answers and tokens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse

from outweigh.serve.errors import ERROR_RESPONSES

if TYPE_CHECKING:
    from outweigh.serve.config import ServerState

router = APIRouter()

_MODEL_METRICS = {
    # load_stats key: (metric name, type, help)
    "running": ("outweigh_decode_running", "gauge", "Answers the model is decoding now."),
    "queued": ("outweigh_decode_queued", "gauge", "Answers waiting for a batch slot."),
    "slots": ("outweigh_decode_slots", "gauge", "Answers the model decodes at once at most."),
    "tokens_per_s": (
        "outweigh_decode_tokens_per_second",
        "gauge",
        "Tokens sampled per second over the last 10 seconds.",
    ),
    "tokens": ("outweigh_generated_tokens_total", "counter", "Tokens sampled."),
    "prompt_tokens": ("outweigh_prompt_tokens_total", "counter", "Prompt tokens evaluated."),
    "reused_prompt_tokens": (
        "outweigh_prompt_tokens_reused_total",
        "counter",
        "Prompt tokens taken from a cached prefix instead of evaluated.",
    ),
    "decode_steps": ("outweigh_decode_steps_total", "counter", "Batched decode calls."),
    "finished": ("outweigh_answers_finished_total", "counter", "Answers decoded to their end."),
    "cancelled": ("outweigh_answers_cancelled_total", "counter", "Answers dropped by a cancel."),
    "adapter_switches": (
        "outweigh_adapter_switches_total",
        "counter",
        "Switches of the adapter set the batch runs.",
    ),
}


def _stats(state: ServerState) -> dict[str, float]:
    backend = state.engine.loaded_backend()
    return (backend.load_stats() if backend is not None else None) or {}


def health_of(state: ServerState) -> dict[str, str | int | float]:
    """/health's body: the gate's requests and, where the backend keeps them, its answers."""
    gate = state.gate
    stats = _stats(state)
    body: dict[str, str | int | float] = {
        "status": "ok",
        "model": state.engine.model,
        "running": gate.running,
        "queued": gate.waiting,
        "slots": gate.slots,
    }
    if stats:
        body["decoding"] = int(stats.get("running", 0))
        body["tokens_per_s"] = float(stats.get("tokens_per_s", 0.0))
    return body


def prometheus(state: ServerState) -> str:
    """The metrics in Prometheus' text exposition format."""
    gate = state.gate
    lines: list[str] = []

    def metric(name: str, kind: str, text: str, value: float, labels: str = "") -> None:
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.append(f"{name}{labels} {value:g}")

    model = state.engine.model.replace("\\", "\\\\").replace('"', '\\"')
    metric("outweigh_up", "gauge", "The server answers.", 1, f'{{model="{model}"}}')
    metric("outweigh_requests_running", "gauge", "Requests admitted to the engine.", gate.running)
    metric("outweigh_requests_queued", "gauge", "Requests waiting for a slot.", gate.waiting)
    metric("outweigh_request_slots", "gauge", "Requests admitted at once at most.", gate.slots)
    metric("outweigh_queue_capacity", "gauge", "Requests that may wait for a slot.", gate.queue)
    metric(
        "outweigh_requests_refused_total",
        "counter",
        "Requests answered 429 (queue full) or 503 (no slot in time).",
        gate.refused,
    )
    for key, value in _stats(state).items():
        if key in _MODEL_METRICS:
            name, kind, text = _MODEL_METRICS[key]
            metric(name, kind, text, value)
    return "\n".join(lines) + "\n"


@router.get("/metrics", response_class=PlainTextResponse, responses=ERROR_RESPONSES)
async def metrics(request: Request) -> PlainTextResponse:
    """Prometheus metrics: requests (running, queued, refused) and, for a local llama.cpp
    model, answers and tokens (decoding, tokens per second, prompt tokens reused)."""
    return PlainTextResponse(
        prometheus(request.app.state.outweigh), media_type="text/plain; version=0.0.4"
    )
