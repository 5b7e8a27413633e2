"""`outweigh ask`: one grounded answer with numbered citations."""

from __future__ import annotations

import json

import typer

from outweigh.cli._app import app, console
from outweigh.settings import DEFAULT_COLLECTION, DEFAULT_MODEL


@app.command()
def ask(
    question: str,
    collection: str = typer.Option(DEFAULT_COLLECTION, "--collection", "-c"),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Catalog name, dir or hub id."),
    no_rag: bool = typer.Option(False, "--no-rag", help="Answer without retrieval."),
    k: int = typer.Option(5, "-k", help="Chunks to retrieve."),
    max_tokens: int = typer.Option(200, "--max-tokens"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Retrieve, build a prompt within the model's budget, generate, and cite."""
    from outweigh.engine import AskOptions, Engine

    engine = Engine(model=model)
    opts = AskOptions(collection=collection, rag=not no_rag, k=k, max_tokens=max_tokens)
    if opts.rag:
        engine.store.collection(collection)  # unknown collection: fail before loading a model
    with console.status(f"loading {model}"):
        engine.backend()
    answer = engine.ask(question, opts)
    if as_json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    console.print(answer.answer, highlight=False, markup=False)
    for c in answer.citations:
        console.print(f"[dim][{c.n}] {c.source}[/]", highlight=False)
