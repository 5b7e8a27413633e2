"""`outweigh demo`."""

from __future__ import annotations

from pathlib import Path

import typer

from outweigh.cli._app import app, console


@app.command()
def demo(
    suite: Path | None = typer.Option(None, help="Example suite dir (docs/ + questions.jsonl)."),
    questions: int = typer.Option(3, help="How many questions to ask."),
) -> None:
    """Run the main job end to end on the bundled models and example corpus."""
    from outweigh.demo import run_demo

    run_demo(console, suite, questions)
