"""A PNG of plans side by side: one stacked bar of memory per model, one line per GPU.

The only module in `plan/` that leaves the standard library: it imports matplotlib (Agg backend,
no display needed) inside `compare_png`, so nothing pays for it unless `--plot` is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from outweigh.errors import InputError
from outweigh.plan.serving import Plan

GB = 1e9
"""Plot unit: decimal gigabytes, as GPU memory is marketed."""

# (label, Breakdown attribute, colour): bottom to top, the order memory is claimed in.
SEGMENTS = (
    ("weights", "weights", "#4c72b0"),
    ("LoRA", "lora", "#dd8452"),
    ("KV conversation", "kv_context", "#55a868"),
    ("KV RAG", "kv_rag", "#8fd19e"),
    ("activations", "activations", "#c44e52"),
    ("overhead", "overhead", "#8172b3"),
)


def compare_png(plans: Sequence[Plan], path: str | Path) -> Path:
    """Draw `plans` as stacked bars against each GPU's usable memory and write a PNG to `path`."""
    out = Path(path).expanduser()
    if out.suffix.lower() != ".png":
        raise InputError(f"`--plot` writes a PNG; give a path ending in .png, not {out.name!r}")
    if not out.parent.is_dir():
        raise InputError(f"`--plot`: folder {str(out.parent)!r} does not exist")
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(plans) + 3), 5.0), dpi=120)
    x = range(len(plans))
    bottom = [0.0] * len(plans)
    for label, attr, colour in SEGMENTS:
        heights = [getattr(p.breakdown, attr) / GB for p in plans]
        ax.bar(x, heights, bottom=bottom, label=label, color=colour, width=0.6)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    gpus = {f.gpu: f for p in plans for f in p.gpus}
    for i, fit in enumerate(gpus.values()):
        usable = (fit.memory_bytes - fit.reserved_bytes) / GB
        ax.axhline(usable, color="black", linestyle=(0, (4, 2 + i)), linewidth=1)
        ax.annotate(
            f"{fit.gpu}: {usable:.0f} GB",
            (len(plans) - 0.5, usable),
            fontsize=8,
            ha="right",
            va="bottom",
        )
    ax.set_xticks(list(x), [p.label for p in plans], rotation=15, ha="right")
    ax.set_ylabel("GB (10^9 bytes)")
    spec = plans[0].spec
    ax.set_title(
        f"context {spec.context:,} + RAG {spec.rag_tokens:,} tokens, batch {spec.batch}, "
        f"{spec.loras} LoRA, {spec.engine}"
    )
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out
