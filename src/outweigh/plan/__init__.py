"""The VRAM planner: what fits on which GPU, and what RAG context and LoRA adapters cost.

Pure arithmetic over HF configs, with the GPU, weight-format, engine and model catalogs kept as data
files in `plan/data/`. Only the standard library is imported, so `outweigh plan` starts at once; the
one exception is `plot.compare_png`, which imports matplotlib when it is called.

    >>> from outweigh.plan import PlanSpec, plan
    >>> p = plan(PlanSpec("qwen2.5-32b", gpus=("rtx-pro-6000",), loras=5, context=16384))
    >>> p.gpus[0].fits
    True
"""

from __future__ import annotations

from outweigh.plan.catalog import gpus, models, quants
from outweigh.plan.hf_config import Architecture, parse_config
from outweigh.plan.planner import Comparison, compare
from outweigh.plan.serving import Breakdown, GpuFit, Plan, plan
from outweigh.plan.spec import PlanSpec, parse_tokens, split_model_quant
from outweigh.plan.training import TrainFit, TrainPlan, train_plan

__all__ = [
    "Architecture",
    "Breakdown",
    "Comparison",
    "GpuFit",
    "Plan",
    "PlanSpec",
    "TrainFit",
    "TrainPlan",
    "compare",
    "gpus",
    "models",
    "parse_config",
    "parse_tokens",
    "plan",
    "quants",
    "split_model_quant",
    "train_plan",
]
