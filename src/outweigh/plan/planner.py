"""`compare(specs)`: several models planned side by side on the same GPUs, and which fits best
on each; serving plans (`serving.plan`) or, under `--train`, training plans
(`training.train_plan`). Standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from outweigh.errors import InputError
from outweigh.plan.serving import Plan, plan
from outweigh.plan.spec import PlanSpec
from outweigh.plan.training import TrainPlan, train_plan


@dataclass(frozen=True)
class Comparison:
    """Several plans on the same GPUs, and which fits best on each."""

    plans: tuple[Plan | TrainPlan, ...]
    """One plan per model, in the order given (training plans under `--train`)."""
    best: dict[str, str]
    """Per GPU, the label of the plan that fits with the most room for context ("" if none fits)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the plans and the per-GPU pick."""
        return {"plans": [p.to_dict() for p in self.plans], "best": dict(self.best)}


def compare(specs: Sequence[PlanSpec]) -> Comparison:
    """Plan each spec and pick, per GPU, the one that fits with the largest max_context.

    Ties go to the larger free memory. The pick answers "which of these fits best": a model that
    fits with room for a long context beats one that barely fits.
    """
    if len(specs) < 2:
        raise InputError("`--compare` needs at least two MODEL[:QUANT] arguments")
    plans = tuple(train_plan(s) if s.train else plan(s) for s in specs)
    best = {}
    for gpu in dict.fromkeys(f.gpu for p in plans for f in p.gpus):
        fitting = [
            (f.max_context, f.free_bytes, p.label)
            for p in plans
            for f in p.gpus
            if f.gpu == gpu and f.fits
        ]
        best[gpu] = max(fitting)[2] if fitting else ""
    return Comparison(plans=plans, best=best)
