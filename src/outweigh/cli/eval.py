"""`outweigh eval SUITE --config SPEC ...`: measure configs side by side on a suite."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from outweigh.cli import _load
from outweigh.cli._app import EMBEDDER, app, console

if TYPE_CHECKING:
    from rich.table import Table

    from outweigh.eval import EvalResult


@app.command("eval")
def eval_(
    suite: str = typer.Argument(..., help="Suite folder: docs/ + questions.jsonl, style, memory."),
    config: list[str] = typer.Option(
        [], "--config", "-c", help="MODEL[+rag][+lora:NAME][+memory]; repeat to compare."
    ),
    limit: str | None = typer.Option(None, "--limit", help="Only the first N of each part."),
    json_out: Path | None = typer.Option(None, "--json", help="Write results as JSON here."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a bar chart PNG here."),
    report: Path | None = typer.Option(None, "--report", help="Write a markdown report here."),
    seed: str = typer.Option("0", "--seed", help="Generation seed (decoding is greedy)."),
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
) -> None:
    """Answer the suite with each config on the real models; print a table, write files."""
    from outweigh.cli._progress import bars
    from outweigh.eval import EvalOptions, load_suite, parse_specs, run_eval
    from outweigh.eval import report as rep

    load = _load.load_options(device, dtype, load_in, backend)
    specs = parse_specs(config)
    options = EvalOptions.parse(
        k=k, max_tokens=max_tokens, seed=seed, limit=limit, reader_gap=reader_gap
    )
    outs = [rep.check_output(json_out, "--json", ".json"), rep.check_output(plot, "--plot", ".png")]
    md = rep.check_output(report, "--report", ".md")
    loaded = load_suite(suite)
    with bars() as progress:
        result = run_eval(loaded, specs, options, progress=progress, load=load, embedder=embedder)
    console.print(table(result))
    if (line := rep.headline(result)) is not None:
        console.print(line, style="bold", highlight=False)
    for path, write in zip(outs, (rep.write_json, rep.write_plot), strict=True):
        if path is not None:
            console.print(f"{path.suffix[1:]}: {write(result, path)}", highlight=False)
    if md is not None:
        console.print(f"report: {rep.write_markdown(result, md, plot)}", highlight=False)


def table(result: EvalResult) -> Table:
    """Metrics as rows, configs as columns (spec names wrap better as headers); best in bold."""
    from rich.table import Table

    from outweigh.eval.report import best, fmt, params_rows, shown

    t = Table(title=f"eval of {result.suite}", title_justify="left")
    t.add_column("metric", no_wrap=True)
    for config in result.configs:
        t.add_column(config.replace("+", "\n+"), justify="right")
    for name, cells in params_rows(result):
        t.add_row(name, *cells, style="dim")
    for metric in shown(result):
        winners = best(result, metric)
        cells = []
        for config in result.configs:
            cell = fmt(metric, result.results[config].get(metric.key))
            cells.append(f"[bold green]{cell}[/]" if config in winners else cell)
        t.add_row(metric.key, *cells)
    return t
