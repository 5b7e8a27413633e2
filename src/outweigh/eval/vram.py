"""Each config's VRAM from the planner (`outweigh.plan`), beside its score: quality per GB.

A config's size is what serving it needs on a GPU, planned the same way for every config so
that two configs compare: `outweigh plan`'s defaults (bf16 weights, transformers, a 4096-token
context, batch 1), plus what the config adds: `+rag` its `-k` retrieved chunks of the
planner's 512 tokens each in the KV cache, `+lora` one adapter of the planner's rank 16 on
every linear layer. `+memory` adds a few remembered lines to the prompt, which the planner
does not model. The same figure comes out of `outweigh plan MODEL [--rag-chunks K]
[--loras 1]`, and it is planned, not measured: what the run itself held is `peak_rss_mb` /
`peak_vram_mb`.

The model is planned when its name resolves in the planner's catalog (`outweigh plan` lists
it; a config's catalog name or alias, a model folder or a config.json), for endpoint configs
too: `qwen2.5-32b@http://gpu:8000/v1` is planned as qwen2.5-32b. Any other name gets no
figure and a note saying why; nothing is guessed from a name.
"""

from __future__ import annotations

from outweigh.errors import OutweighError
from outweigh.eval.spec import ConfigSpec

BASIS = "bf16, transformers, 4096-token context, batch 1 (outweigh plan's defaults)"
"""How every config is planned, for the notes and the docs."""


def planned_gb(spec: ConfigSpec, k: int) -> tuple[float | None, str | None]:
    """(GB = 10^9 bytes the planner gives `spec`, None) or (None, a note saying why not)."""
    from outweigh.plan import PlanSpec, plan

    ask = PlanSpec(spec.model, rag_chunks=k if spec.rag else 0, loras=int(bool(spec.adapter)))
    try:
        planned = plan(ask)
    except OutweighError:
        where = f" (served at {spec.endpoint})" if spec.endpoint else ""
        return None, (
            f"{spec.model!r}{where} is not a model the planner knows, so it has no vram_gb; "
            "name it as `outweigh plan` does (a catalog name, a folder or a config.json) "
            "to get one"
        )
    return round(planned.total_bytes / 1e9, 3), None


def per_gb(
    specs: list[ConfigSpec], results: dict[str, dict[str, float | None]], k: int
) -> dict[str, str]:
    """Set `vram_gb` and `accuracy_per_gb` in each config's results; the notes of configs the
    planner could not size, config -> note."""
    notes: dict[str, str] = {}
    for spec in specs:
        row = results[str(spec)]
        gb, note = planned_gb(spec, k)
        accuracy = row.get("accuracy")
        row["vram_gb"] = gb
        row["accuracy_per_gb"] = None if gb is None or accuracy is None else accuracy / gb
        if note is not None:
            notes[str(spec)] = note
    return notes
