"""`outweigh demo`."""

from __future__ import annotations

from pathlib import Path

import typer

from outweigh.cli._app import app, console


@app.command()
def demo(
    suite: Path | None = typer.Option(None, help="Eval suite folder; default: examples/suite."),
    out: Path | None = typer.Option(None, help="Folder for eval.json/png/md; default: HOME/demo."),
    limit: str | None = typer.Option(None, help="Only the first N questions of each part."),
) -> None:
    """Plan, ingest, train an adapter, remember, and eval small+augmented vs bigger bare."""
    from outweigh.demo import DemoOptions, run_demo
    from outweigh.eval import EvalOptions

    n = EvalOptions.parse(limit=limit).limit if limit is not None else None
    run_demo(console, DemoOptions(suite=suite, out=out, limit=n))
