"""Evaluation: does augmentation make the small model outweigh the bigger one?

`run_eval(suite, ["smollm2-135m", "smollm2-135m+rag", "gemma3-270m"])` answers a suite
(docs/eval.md) with each config on the real models and returns an `EvalResult`;
`outweigh.eval.report` renders it as a table, JSON, a PNG chart and a markdown report.
`make_suite(engine, "my-suite", "mine")` writes a suite of questions about a collection's
held-out documents (`outweigh.eval.make`).
"""

from outweigh.eval.make import MadeSuite, MakeOptions, held_out_of, make_suite, read_held_out
from outweigh.eval.metrics import METRICS, Metric, accuracy, exact_match, f1, normalize
from outweigh.eval.results import EvalOptions, EvalResult, Record
from outweigh.eval.runner import run_eval
from outweigh.eval.spec import ConfigSpec, parse_spec, parse_specs
from outweigh.eval.suite import FactQuestion, MemoryStep, StyleCase, Suite, load_suite

__all__ = [
    "METRICS",
    "ConfigSpec",
    "EvalOptions",
    "EvalResult",
    "FactQuestion",
    "MadeSuite",
    "MakeOptions",
    "MemoryStep",
    "Metric",
    "Record",
    "StyleCase",
    "Suite",
    "accuracy",
    "exact_match",
    "f1",
    "held_out_of",
    "load_suite",
    "make_suite",
    "normalize",
    "parse_spec",
    "parse_specs",
    "read_held_out",
    "run_eval",
]
