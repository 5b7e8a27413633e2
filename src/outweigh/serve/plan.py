"""GET and POST /v1/plan: the VRAM planner (`outweigh.plan`) as JSON, for the page's Plan tab.

The planner is stdlib only and takes milliseconds, so these routes never touch the engine, its
lock or the generation queue. Models are catalog names only: `outweigh plan` also reads a
config.json by path, which a server must not do for whoever sends one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from outweigh.errors import NotFoundError, echo
from outweigh.serve.errors import ERROR_RESPONSES, APIError
from outweigh.serve.schemas import OwnRequestBody

if TYPE_CHECKING:
    from outweigh.plan import PlanSpec

router = APIRouter()


class PlanRequest(OwnRequestBody):
    """POST /v1/plan: the flags of `outweigh plan MODEL`, by the same names.

    New planner options (a training mode, say) become new fields here; GET /v1/plan lists
    the fields, so the page shows a control only for what the server knows, and a field it
    does not know is refused rather than planned without.
    """

    model: str = Field(min_length=1, max_length=128)
    """A catalog name (GET /v1/plan lists them)."""
    quant: str = Field("bf16", max_length=32)
    """Weight format: bf16, fp16, fp8, int8, awq, gptq, q4_k_m, ..."""
    gpus: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=64)
    """GPUs to fit on; empty: every catalog GPU."""
    context: int = Field(4096, ge=0)
    """Conversation tokens per sequence."""
    batch: int = Field(1, ge=1)
    """Sequences served at once."""
    loras: int = Field(0, ge=0)
    """LoRA adapters loaded at once."""
    lora_rank: int = Field(16, ge=1)
    """Rank of each adapter."""
    rag_chunks: int = Field(0, ge=0)
    """Retrieved chunks added to each sequence."""
    chunk_tokens: int = Field(512, ge=1)
    """Tokens per retrieved chunk."""
    engine: str = Field("transformers", max_length=32)
    """transformers or vllm."""
    kv_dtype: str = Field("auto", max_length=16)
    """KV cache dtype: auto, bf16, fp16, fp32, fp8."""


@router.get("/v1/plan", responses=ERROR_RESPONSES)
async def plan_options() -> dict[str, Any]:
    """What a plan may name: catalog models, GPUs, weight formats and engines, the request's
    fields, and the chart's segments (bottom to top, as `outweigh plan --plot` stacks them)."""
    return await run_in_threadpool(_options)


@router.post("/v1/plan", responses=ERROR_RESPONSES)
async def make_plan(body: PlanRequest) -> dict[str, Any]:
    """One plan, in `outweigh plan --json`'s keys, plus `segments` for the chart."""
    return await run_in_threadpool(_plan, body)


def _options() -> dict[str, Any]:
    from outweigh.plan import catalog

    return {
        "models": list(catalog.models()),
        "gpus": [{"id": k, "name": g.name} for k, g in catalog.gpus().items()],
        "quants": list(catalog.quants()),
        "engines": list(catalog.engines()),
        "fields": list(PlanRequest.model_fields),
        "segments": [{"label": label, "colour": colour} for label, _, colour in _segments()],
    }


def _plan(body: PlanRequest) -> dict[str, Any]:
    from outweigh.plan import catalog, plan

    entry = catalog.find_model(body.model)
    if entry is None:
        raise APIError(
            400, f"unknown model {echo(body.model)}; GET /v1/plan lists the catalog", None, "model"
        )
    try:
        result = plan(_spec(entry.name, body))
    except NotFoundError as e:  # an unknown GPU or quant is the request's fault: a 400
        raise APIError(400, str(e), None, None) from None
    out = result.to_dict()
    out["segments"] = [
        {"label": label, "colour": colour, "bytes": getattr(result.breakdown, attr)}
        for label, attr, colour in _segments()
    ]
    return out


def _spec(model: str, body: PlanRequest) -> PlanSpec:
    from outweigh.plan import PlanSpec

    return PlanSpec(
        model=model,
        quant=body.quant,
        kv_dtype=body.kv_dtype,
        context=body.context,
        batch=body.batch,
        loras=body.loras,
        lora_rank=body.lora_rank,
        rag_chunks=body.rag_chunks,
        chunk_tokens=body.chunk_tokens,
        engine=body.engine,
        gpus=tuple(body.gpus),
    )


def _segments() -> tuple[tuple[str, str, str], ...]:
    # plot.py imports matplotlib only inside compare_png, so its table costs nothing here.
    from outweigh.plan.plot import SEGMENTS

    return SEGMENTS
