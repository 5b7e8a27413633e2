"""`outweigh ask`: one grounded answer with numbered citations."""

from __future__ import annotations

import json

import typer
from rich.markup import escape

from outweigh.cli import _load
from outweigh.cli._app import EMBEDDER, app, console
from outweigh.errors import printable
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
    user: str | None = typer.Option(
        None, "--user", "-u", help="Whose memory to use and update [default: the OS user name]."
    ),
    session: str | None = typer.Option(None, "--session", help="Conversation id to record."),
    no_memory: bool = typer.Option(False, "--no-memory", help="Neither recall nor remember."),
    no_reader: bool = typer.Option(
        False, "--no-reader", help="Read passages and memories with the bare model, no reader."
    ),
    adapter: str | None = typer.Option(
        None, "--adapter", "-a", help="Registered LoRA adapter, or a mix like a:0.7,b:0.3."
    ),
    device: str | None = _load.DEVICE,
    dtype: str | None = _load.DTYPE,
    load_in: str | None = _load.LOAD_IN,
    backend: str | None = _load.BACKEND,
    embedder: str | None = EMBEDDER,
) -> None:
    """Retrieve, recall the user's memories, answer within the budget, cite, and remember."""
    from outweigh.cli._progress import lazy_bar
    from outweigh.engine import AskOptions, Engine
    from outweigh.names import check_user
    from outweigh.settings import default_user

    load = _load.load_options(device, dtype, load_in, backend)
    opts = AskOptions(
        collection=collection,
        rag=not no_rag,
        k=k,
        max_tokens=max_tokens,
        user=check_user(default_user() if user is None else user),
        session=session,
        memory=not no_memory,
        reader=not no_reader,
        adapter=adapter,
    )
    with Engine(model=model, embedder=embedder, load=load) as engine:
        with lazy_bar("index") as on_sync:  # what can be refused is, before a model loads
            checked = engine.preflight(opts, question=question, on_sync=on_sync)
        with console.status(f"loading {model}"):
            engine.backend()
        answer = engine.ask(question, opts, checked=checked)
    if as_json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    console.print(answer.answer, highlight=False, markup=False)
    for c in answer.citations:
        where = f", {c.where}" if c.where else ""
        console.print(f"[dim][{c.n}] {escape(printable(c.source + where))}[/]", highlight=False)
    if opts.rag and checked.collection is not None and not answer.context:
        # The relevance floor (retrieval/select.py) found no passage that bears on it.
        console.print(
            f"[dim](nothing in {escape(collection)} bears on this; answered without it)[/]",
            highlight=False,
        )
