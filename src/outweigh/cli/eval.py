"""`outweigh eval SUITE --config SPEC ...`: measure configs side by side on a suite."""

from __future__ import annotations

from pathlib import Path

import typer

from outweigh.cli._app import app, console


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
) -> None:
    """Answer the suite with each config on the real models; print a table, write files."""
    from outweigh.eval import EvalOptions, load_suite, parse_specs, run_eval
    from outweigh.eval import report as rep
    from outweigh.eval.runner import rich_progress

    specs = parse_specs(config)
    options = EvalOptions.parse(k=k, max_tokens=max_tokens, seed=seed, limit=limit)
    outs = [rep.check_output(json_out, "--json", ".json"), rep.check_output(plot, "--plot", ".png")]
    md = rep.check_output(report, "--report", ".md")
    loaded = load_suite(suite)
    with rich_progress(console) as progress:
        result = run_eval(loaded, specs, options, progress=progress)
    console.print(rep.table(result))
    if (line := rep.headline(result)) is not None:
        console.print(line, style="bold", highlight=False)
    for path, write in zip(outs, (rep.write_json, rep.write_plot), strict=True):
        if path is not None:
            console.print(f"{path.suffix[1:]}: {write(result, path)}", highlight=False)
    if md is not None:
        console.print(f"report: {rep.write_markdown(result, md, plot)}", highlight=False)
