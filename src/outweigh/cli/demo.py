"""`outweigh demo`: the main job end to end, on the bundled models and the example suite.

1. the VRAM plan of the seed's scenario: a 32B model with 5 LoRA adapters, 16K context and
   retrieved chunks on one 96 GB GPU, beside the bare 70B that the augmentation stands in for;
2. ingest of the example documents (an invented cooperative's handbook);
3. training of the example style adapter, or reuse when it is already registered;
4. memory across two sessions, each in a fresh engine;
5. the eval: `smollm2-135m` bare and augmented against the 2x bigger `gemma3-270m`;
6. the table, the headline and where the JSON, chart and report were written.

Everything it writes lives under `OUTWEIGH_HOME`: the `demo` collection, the adapter, the demo
user's memories, and the eval files in `demo/`. A second run reuses the converted models, the
ingested documents and the adapter, so only the eval runs again (under 5 minutes on 2 cores).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from outweigh.cli._app import app, console
from outweigh.errors import InputError, NotFoundError
from outweigh.settings import DEFAULT_MODEL, Paths

if TYPE_CHECKING:
    from outweigh.adapters import TrainProgress
    from outweigh.engine import Engine
    from outweigh.eval import EvalResult, Suite

DEMO_COLLECTION = "demo"
DEMO_USER = "outweigh-demo"
"""The user id of step 4; its memories are reset at the start of each run."""
BIGGER_MODEL = "gemma3-270m"
"""The bundled bare model twice the default's size: the one to outweigh."""


def examples_dir() -> Path:
    """`examples/` of the source checkout this package runs from."""
    return Path(__file__).resolve().parents[3] / "examples"


def default_suite() -> Path:
    """The bundled eval suite, `examples/suite`."""
    return examples_dir() / "suite"


@dataclass(frozen=True)
class DemoOptions:
    """What the demo runs on; the defaults are the bundled examples."""

    suite: Path | None = None
    """Eval suite folder (docs/, questions.jsonl, style.jsonl, memory.jsonl); None: bundled."""
    style_data: Path | None = None
    """Training rows for the style adapter; None: `examples/style/train.jsonl`."""
    adapter: str = "signoff"
    """Name the style adapter is registered under (reused when it already exists)."""
    out: Path | None = None
    """Folder for eval.json, eval.png and eval.md; None: `OUTWEIGH_HOME/demo`."""
    style_prompts: int = 6
    """Style prompts the eval scores per config: enough to tell 0 from 1, and cheap on CPU
    (a bare model rambles to the token cap on every one)."""
    limit: int | None = None
    """Only the first N facts questions, style prompts and memory asks; None: all."""


def run_demo(
    console: Console, options: DemoOptions | None = None, paths: Paths | None = None
) -> EvalResult:
    """Run the six steps and print each; returns the `EvalResult` of step 5."""
    options = options or DemoOptions()
    paths = paths or Paths()
    suite_dir = options.suite or default_suite()
    style_data = options.style_data or examples_dir() / "style" / "train.jsonl"
    out = options.out or paths.root / "demo"
    if out.exists() and not out.is_dir():
        raise InputError(f"`--out` {out} is a file; give a folder for eval.json, .png and .md")
    from outweigh.eval import load_suite

    suite = load_suite(suite_dir)  # a malformed suite fails before anything slow
    if suite.docs is None or not suite.questions:
        raise NotFoundError(f"{suite_dir} has no docs/ and questions.jsonl; pass --suite DIR")
    if not style_data.is_file():
        raise NotFoundError(
            f"style data {style_data} is missing; run the demo from a source checkout"
        )
    started = time.perf_counter()
    with _quiet():
        result = _steps(console, options, suite, style_data, out, paths)
    console.print(f"[bold]demo done in {time.perf_counter() - started:.0f} s[/]")
    return result


def _steps(
    console: Console,
    options: DemoOptions,
    suite: Suite,
    style_data: Path,
    out: Path,
    paths: Paths,
) -> EvalResult:
    with _step(console, 1, "VRAM plan: a 32B with 5 LoRAs, 16K context and RAG on 96 GB"):
        _plan(console)
    _setup(console, options, suite, style_data, paths)
    with _step(console, 5, "Eval: does augmentation outweigh the 2x bigger bare model?"):
        result = _eval(console, options, suite, paths)
    with _step(console, 6, "Results"):
        _results(console, result, out)
    return result


@contextmanager
def _quiet() -> Iterator[None]:
    """Hide transformers' own progress bars and deprecation notices while the demo draws its
    steps; both come back afterwards."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        hf_logging.enable_progress_bar()


def _setup(
    console: Console, options: DemoOptions, suite: Suite, style_data: Path, paths: Paths
) -> None:
    """Steps 2-4. Their engine (and its copy of the model) is gone before the eval measures."""
    from outweigh.engine import Engine  # numpy and the parts load only when the demo runs

    with Engine(paths) as engine:
        with _step(console, 2, "Ingest the example documents"):
            with console.status("loading the embedder and ingesting"):
                report = engine.ingest([suite.docs], DEMO_COLLECTION)
            console.print(
                f"collection [bold]{DEMO_COLLECTION}[/]: {report.files} files ingested, "
                f"{report.skipped} unchanged, {report.chunks} chunks"
            )
        with _step(console, 3, f"Style adapter {options.adapter!r}: train once, then reuse"):
            _adapter(console, engine, options.adapter, style_data)
        with _step(console, 4, "Memory across two sessions"):
            _memory(console, engine, paths, suite)


@contextmanager
def _step(console: Console, n: int, title: str) -> Iterator[None]:
    console.rule(f"[bold]{n}. {title}")
    t0 = time.perf_counter()
    yield
    console.print(f"[dim]step {n}: {time.perf_counter() - t0:.1f} s[/]")


def _gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB"


def _plan(console: Console) -> None:
    """The seed's question: what does augmenting a 32B cost, next to running a 70B bare?"""
    from outweigh.plan import PlanSpec, plan

    gpu = "rtx-pro-6000"
    # 5 retrieved chunks of 512 tokens per sequence: what `outweigh ask -k 5` sends at most.
    augmented = plan(
        PlanSpec(
            "qwen2.5-32b",
            gpus=(gpu,),
            loras=5,
            lora_rank=16,
            context=16384,
            rag_chunks=5,
            chunk_tokens=512,
        )
    )
    bigger = plan(PlanSpec("llama-3.1-70b", gpus=(gpu,), context=16384))
    b, big = augmented.breakdown, bigger.breakdown
    fit, big_fit = augmented.gpus[0], bigger.gpus[0]
    table = Table("", augmented.label + " + 5 LoRA + RAG", bigger.label + " bare")
    table.add_row("weights", _gb(b.weights), _gb(big.weights))
    table.add_row("LoRA (5 x rank 16)", _gb(b.lora), "-")
    table.add_row("KV cache (16K + 5x512 RAG)", _gb(b.kv), _gb(big.kv))
    table.add_row(
        "activations + overhead",
        _gb(b.activations + b.overhead),
        _gb(big.activations + big.overhead),
    )
    table.add_row("[bold]total[/]", f"[bold]{_gb(b.total)}[/]", _gb(big.total))
    verdicts = _fits(fit.fits, fit.free_bytes), _fits(big_fit.fits, big_fit.free_bytes)
    table.add_row(f"fits {fit.name}", *verdicts)
    table.add_row("max context at batch 1", f"{fit.max_context:,}", f"{big_fit.max_context:,}")
    console.print(table)
    console.print(
        "Full breakdown: outweigh plan qwen2.5-32b --gpu rtx-pro-6000 --loras 5 "
        "--lora-rank 16 --context 16k --rag-chunks 5",
        highlight=False,
    )


def _fits(fits: bool, free: int) -> str:
    return f"[green]yes[/], {_gb(free)} free" if fits else f"[red]no[/], {_gb(-free)} short"


def _adapter(console: Console, engine: Engine, name: str, data: Path) -> None:
    from outweigh.adapters import TrainConfig

    try:
        info = engine.adapter_info(name)
        console.print(f"reusing adapter [bold]{name}[/] (trained {info.created})")
        return
    except NotFoundError:
        pass
    from outweigh.cli._progress import detail_bar

    with detail_bar(f"training {name}") as update:

        def report(p: TrainProgress) -> None:
            update(completed=p.step, total=p.total, detail=f"loss {p.loss:.3f}")

        info = engine.train_adapter(data, name, TrainConfig(), progress=report)
    metrics = info.metrics
    console.print(
        f"trained [bold]{name}[/] on {data.name}: {metrics.get('steps', 0):.0f} steps, "
        f"val loss {metrics.get('val_loss', float('nan')):.3f}, "
        f"{metrics.get('seconds', 0):.0f} s"
    )


def _memory(console: Console, engine: Engine, paths: Paths, suite: Suite) -> None:
    """The first `ask` of memory.jsonl and the `say` that holds its answer, in two sessions."""
    from outweigh.engine import AskOptions, Engine
    from outweigh.eval.metrics import accuracy

    ask = next((s for s in suite.memory if s.is_ask), None)
    say = next(
        (
            s
            for s in suite.memory
            if ask and not s.is_ask and s.user == ask.user and accuracy(s.text, ask.answers)
        ),
        None,
    )
    if say is None or ask is None:
        console.print("no memory.jsonl `ask` with a `say` that answers it; skipped")
        return
    engine.forget_all(DEMO_USER)  # a repeatable demo: start from an empty memory
    with console.status(f"loading {DEFAULT_MODEL}"):
        backend = engine.backend()
    for session, text in (("session-1", say.text), ("session-2", ask.text)):
        # A fresh engine per session: nothing carries over but what the store holds.
        with Engine(paths, embedder=engine.embedder, backend=backend) as fresh:
            opts = AskOptions(rag=False, max_tokens=32, user=DEMO_USER, session=session)
            answer = fresh.ask(text, opts)
        console.print(f"[bold]{session}[/] user: {text}", highlight=False)
        for item in answer.memories:
            console.print(f"  [dim]recalled: {item.text}[/]", highlight=False)
        console.print(f"  {DEFAULT_MODEL}: {answer.answer}", highlight=False)
    console.print(
        f"The {ask.user!r} user of memory.jsonl is replayed in full by the eval (memory_recall)."
    )


def _eval(console: Console, options: DemoOptions, suite: Suite, paths: Paths) -> EvalResult:
    from outweigh.cli._progress import bars
    from outweigh.eval import EvalOptions, run_eval
    from outweigh.models import is_converted, pull

    configs = [
        DEFAULT_MODEL,
        f"{DEFAULT_MODEL}+rag+lora:{options.adapter}+memory",
        BIGGER_MODEL,
        f"{BIGGER_MODEL}+rag",
    ]
    for model in (DEFAULT_MODEL, BIGGER_MODEL):
        if not is_converted(model, paths):
            with console.status(f"converting {model} once to safetensors (tens of seconds)"):
                pull(model, paths)
    suite = dataclasses.replace(suite, style=suite.style[: options.style_prompts])
    console.print("configs: " + ", ".join(configs), highlight=False)
    with bars() as progress:
        return run_eval(
            suite,
            configs,
            # 32 tokens hold a fact and 48 an answer with its sign-off (the example adapter's
            # answers end with "— Vellmark Support"); the caps bound the bare models' rambling.
            EvalOptions(max_tokens=32, style_max_tokens=48, limit=options.limit),
            paths,
            progress=progress,
        )


def _results(console: Console, result: EvalResult, out: Path) -> None:
    from outweigh.cli.eval import table
    from outweigh.eval import report

    console.print(table(result))
    if (line := report.headline(result)) is not None:
        console.print(line, style="bold", highlight=False)
    for h in result.retrieval_hurt():
        console.print(
            f"[yellow]retrieval hurt[/] {h.with_rag}: {h.right.prompt!r} "
            f"(right without it: {h.right.answer!r})",
            highlight=False,
        )
    out.mkdir(parents=True, exist_ok=True)
    plot = report.write_plot(result, out / "eval.png")
    console.print(f"chart:  {plot}", highlight=False)
    console.print(f"json:   {report.write_json(result, out / 'eval.json')}", highlight=False)
    md = report.write_markdown(result, out / "eval.md", plot)
    console.print(f"report: {md}", highlight=False)


@app.command()
def demo(
    suite: Path | None = typer.Option(None, help="Eval suite folder; default: examples/suite."),
    out: Path | None = typer.Option(None, help="Folder for eval.json/png/md; default: HOME/demo."),
    limit: str | None = typer.Option(None, help="Only the first N questions of each part."),
) -> None:
    """Plan, ingest, train an adapter, remember, and eval small+augmented vs bigger bare."""
    from outweigh.eval import EvalOptions

    n = EvalOptions.parse(limit=limit).limit if limit is not None else None
    run_demo(console, DemoOptions(suite=suite, out=out, limit=n))
