"""`outweigh eval SUITE --config SPEC ...`: measure configs side by side on a suite;
`outweigh eval SUITE --make-from COLLECTION`: write a suite from a collection instead."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from outweigh.cli import _load
from outweigh.cli._app import EMBEDDER, app, console
from outweigh.errors import printable

if TYPE_CHECKING:
    from rich.table import Table

    from outweigh.eval import EvalResult, MadeSuite


@app.command("eval")
def eval_(
    suite: str = typer.Argument(..., help="Suite folder: docs/ + questions.jsonl, style, memory."),
    config: list[str] = typer.Option(
        [],
        "--config",
        "-c",
        help="MODEL[@URL][+rag][+lora:NAME][+memory]; repeat to compare. @URL: the model an "
        "OpenAI-compatible server serves (vLLM, llama.cpp, Ollama, outweigh serve, an API).",
    ),
    api_key_env: list[str] = typer.Option(
        [],
        "--api-key-env",
        metavar="[URL=]VAR",
        help="Env var holding the key of every @URL endpoint, or of URL's; repeatable "
        "[default: $OUTWEIGH_UPSTREAM_API_KEY, if set].",
    ),
    judge: str | None = typer.Option(
        None,
        "--judge",
        metavar="MODEL[@URL]",
        help="Also have this model grade each facts answer: correct, and supported by what it "
        "cites; reported beside its agreement with the string metrics.",
    ),
    resume: Path | None = typer.Option(
        None,
        "--resume",
        metavar="FILE",
        help="Append each scored answer to FILE; run again with it to go on where a killed "
        "run stopped.",
    ),
    timeout: str | None = typer.Option(
        None, "--timeout", help="Seconds to wait for one answer from an @URL endpoint [600]."
    ),
    limit: str | None = typer.Option(
        None, "--limit", help="Only the first N of each part; with --make-from, N questions [200]."
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Write results as JSON here."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a bar chart PNG here."),
    report: Path | None = typer.Option(None, "--report", help="Write a markdown report here."),
    seed: str = typer.Option(
        "0", "--seed", help="Generation seed (decoding is greedy); with --make-from, the split's."
    ),
    k: str = typer.Option("3", "-k", help="Chunks retrieved per question for +rag."),
    max_tokens: str = typer.Option("48", "--max-tokens", help="Answer cap in tokens."),
    reader_gap: bool = typer.Option(
        False, "--reader-gap", help="Also answer with only the gold document, per +rag config."
    ),
    device: str | None = _load.DEVICE,
    dtype: str | None = _load.DTYPE,
    load_in: str | None = _load.LOAD_IN,
    backend: str | None = _load.BACKEND,
    embedder: str | None = EMBEDDER,
    make_from: str | None = typer.Option(
        None,
        "--make-from",
        metavar="COLLECTION",
        help="Instead of running: write SUITE, questions about a held-out share of this "
        "collection's documents; the rest is left to train a reader on.",
    ),
    share: str | None = typer.Option(
        None, "--share", help="With --make-from: share of the documents held out [0.5]."
    ),
    docs: Path | None = typer.Option(
        None, "--docs", help="Ask the questions over this folder instead of the suite's docs/."
    ),
) -> None:
    """Answer the suite with each config on the real models; print a table, write files."""
    from outweigh.cli._progress import bars
    from outweigh.errors import InputError

    if make_from is not None:
        running = {
            "--config": bool(config),
            "--json": json_out is not None,
            "--plot": plot is not None,
            "--report": report is not None,
            "--reader-gap": reader_gap,
            "-k": k != "3",
            "--max-tokens": max_tokens != "48",
            "--docs": docs is not None,
            "--resume": resume is not None,
            "--judge": judge is not None,
        }
        if given := [flag for flag, on in running.items() if on]:
            raise InputError(
                f"{given[0]} runs a suite and --make-from writes one; make the suite first, "
                f"then run it with {given[0]}"
            )
        _make(suite, make_from, share, limit, seed)
        return
    if share is not None:
        raise InputError("--share goes with --make-from COLLECTION: it splits that collection")
    from outweigh.eval import EvalOptions, load_suite, parse_specs, run_eval
    from outweigh.eval import report as rep
    from outweigh.eval.endpoints import Endpoints

    load = _load.load_options(device, dtype, load_in, backend)
    specs = parse_specs(config)
    endpoints = Endpoints.parse(api_key_env, timeout)
    options = EvalOptions.parse(
        k=k, max_tokens=max_tokens, seed=seed, limit=limit, reader_gap=reader_gap, judge=judge
    )
    outs = [rep.check_output(json_out, "--json", ".json"), rep.check_output(plot, "--plot", ".png")]
    md = rep.check_output(report, "--report", ".md")
    loaded = load_suite(suite, docs)
    if resume is not None and (resume.is_dir() or not resume.parent.is_dir()):
        raise InputError(
            f"`--resume` {resume}: give a file in an existing folder for the run's answers"
        )
    with bars(eta=True) as progress:
        result = run_eval(
            loaded,
            specs,
            options,
            progress=progress,
            load=load,
            embedder=embedder,
            endpoints=endpoints,
            resume=resume,
        )
    console.print(table(result))
    if (line := rep.judge_line(result)) is not None:
        console.print(escape(line), highlight=False)
    for line in rep.vram_lines(result):
        console.print(escape(line), style="dim", highlight=False)
    if (line := rep.headline(result)) is not None:
        console.print(line, style="bold", highlight=False)
    for path, write in zip(outs, (rep.write_json, rep.write_plot), strict=True):
        if path is not None:
            console.print(f"{path.suffix[1:]}: {write(result, path)}", highlight=False)
    if md is not None:
        console.print(f"report: {rep.write_markdown(result, md, plot)}", highlight=False)


def _make(suite: str, collection: str, share: str | None, limit: str | None, seed: str) -> None:
    """Write a suite from `collection`, then print what it holds and what to run next."""
    from outweigh.cli._progress import bars
    from outweigh.engine import Engine
    from outweigh.eval import MakeOptions, make_suite

    options = MakeOptions.parse(share, limit, seed)
    with Engine() as engine, bars() as progress:
        made = make_suite(engine, suite, collection, options, progress)
    console.print(summary(made), highlight=False, soft_wrap=True)
    for command in made.next_commands():
        print(f"  {command}")  # plain print: never wrapped, copy-pasteable


def summary(made: MadeSuite) -> str:
    """What a made suite holds, and the lead-in to the commands that use it."""
    kinds = ", ".join(f"{kind} {n}" for kind, n in made.kinds.items())
    lines = [
        f"wrote {printable(str(made.root))}: {_n(made.questions, 'question')} ({kinds}) about "
        f"{_n(made.held_out, 'held-out document')} of {made.collection!r}; "
        f"{_n(made.training, 'document')} left to train on",
    ]
    if made.ambiguous:
        lines.append(
            f"{_n(made.ambiguous, 'question')} dropped: more than one document or answer fit"
        )
    if made.missing:
        shown = ", ".join(printable(s) for s in made.missing[:3])
        more = f" and {len(made.missing) - 3} more" if len(made.missing) > 3 else ""
        lines.append(
            f"{_n(len(made.missing), 'document')} no longer on disk, left out with its "
            f"questions: {shown}{more}"
        )
    lines.append("train a reader on the other side, then measure it against the bundled one:")
    return "\n".join(escape(line) for line in lines)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def table(result: EvalResult) -> Table:
    """Metrics as rows, configs as columns (spec names wrap better as headers); best in bold."""
    from rich.table import Table

    from outweigh.eval.report import best, cell, params_rows, shown

    t = Table(
        title=f"eval of {result.suite}",
        title_justify="left",
        caption="under each rate: its 95% bootstrap interval over the questions",
        caption_justify="left",
    )
    t.add_column("metric", no_wrap=True)
    for config in result.configs:
        t.add_column(escape(config).replace("@", "\n@").replace("+", "\n+"), justify="right")
    for name, cells in params_rows(result):
        t.add_row(name, *cells, style="dim")
    for metric in shown(result):
        winners = best(result, metric)
        cells = []
        for config in result.configs:
            value, interval = cell(result, config, metric)
            value = f"[bold green]{value}[/]" if config in winners else value
            cells.append(f"{value}\n[dim]{interval}[/]" if interval else value)
        t.add_row(metric.key, *cells)
    return t
