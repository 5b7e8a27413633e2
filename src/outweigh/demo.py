"""`outweigh demo`: the main job end to end on the bundled models and example corpus."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from outweigh.engine import AskOptions, Engine
from outweigh.errors import NotFoundError

DEMO_COLLECTION = "demo"


def default_suite() -> Path:
    """`examples/suite` of the source checkout this package runs from."""
    return Path(__file__).resolve().parents[2] / "examples" / "suite"


def run_demo(console: Console, suite: Path | None = None, questions: int = 3) -> None:
    """Ingest the example docs, then answer a few questions with and without retrieval."""
    suite = suite or default_suite()
    if not (suite / "docs").is_dir() or not (suite / "questions.jsonl").is_file():
        raise NotFoundError(f"{suite} has no docs/ and questions.jsonl; pass --suite DIR")
    engine = Engine()
    console.rule("[bold]1. Ingest the example documents")
    with console.status("loading the embedder and ingesting"):
        report = engine.ingest([suite / "docs"], DEMO_COLLECTION)
    console.print(
        f"{report.files} files, {report.chunks} chunks, {report.skipped} skipped, "
        f"{len(report.failed)} failed"
    )

    console.rule(f"[bold]2. Ask {engine.model} with and without retrieval")
    with console.status(f"loading {engine.model} (converted once, then cached)"):
        engine.backend()
    rows = [
        json.loads(line)
        for line in (suite / "questions.jsonl").read_text().splitlines()
        if line.strip()
    ][:questions]
    table = Table("question", "gold", "bare model", "with retrieval", show_lines=True)
    for row in rows:
        bare = engine.ask(row["question"], AskOptions(rag=False, max_tokens=48))
        grounded = engine.ask(
            row["question"], AskOptions(collection=DEMO_COLLECTION, k=3, max_tokens=48)
        )
        cites = "\n".join(f"[{c.n}] {Path(c.source).name}" for c in grounded.citations)
        table.add_row(
            row["question"], row["answers"][0], bare.answer, f"{grounded.answer}\n[dim]{cites}[/]"
        )
    console.print(table)
    engine.close()
