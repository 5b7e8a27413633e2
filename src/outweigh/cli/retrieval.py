"""`outweigh ingest`, `outweigh docs list | rm`, `outweigh search`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from outweigh.cli._app import EMBEDDER, app, console, console_err
from outweigh.errors import printable
from outweigh.settings import DEFAULT_COLLECTION

docs_app = typer.Typer(help="Ingested documents.", no_args_is_help=True)
app.add_typer(docs_app, name="docs")

COLLECTION = typer.Option(DEFAULT_COLLECTION, "--collection", "-c", help="Collection name.")


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(
        ...,
        help="Files or folders (.txt .md .html .pdf .docx .pptx .xlsx .csv .odt .ods .odp "
        ".epub .rtf .eml .mbox).",
    ),
    collection: str = COLLECTION,
    prune: bool = typer.Option(False, help="Remove documents whose files are gone."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Print each document once it is safely stored."
    ),
    follow_symlinks: bool = typer.Option(
        False,
        "--follow-symlinks",
        help="Read file links in a folder that point out of it (skipped by default).",
    ),
    ray: bool = typer.Option(
        False,
        "--ray",
        help="Parse and embed on Ray actors, one per core of a local Ray instance (or of the "
        "--ray-address cluster); documents are still stored here. Needs the ray extra.",
    ),
    ray_address: str | None = typer.Option(
        None,
        "--ray-address",
        metavar="ADDRESS",
        help="Use this Ray cluster: ray://HOST:10001, HOST:6379 or auto. Implies --ray.",
    ),
    ray_workers: int | None = typer.Option(
        None,
        "--ray-workers",
        min=1,
        help="Ray actors to start, each loading the embedding model (default: one per CPU). "
        "Implies --ray.",
    ),
    line_vectors: bool = typer.Option(
        True,
        help="Store each line's vector for context selection, so an answer embeds none of the "
        "lines it reads (about 0.3 s a question on 2 CPU cores); costs 1.5x to 1.9x the ingest "
        "time and 768 bytes a line (bundled embedder); unchanged files stored without them get "
        "them too. --no-line-vectors for a collection too large to hold them.",
    ),
    embedder: str | None = EMBEDDER,
) -> None:
    """Read, chunk, embed and index documents; unchanged files are skipped."""
    from outweigh.cli._progress import detail_bar
    from outweigh.engine import Engine
    from outweigh.names import check_name

    check_name(collection)  # a bad name costs no embedder load
    with Engine(embedder=embedder) as engine, detail_bar("ingest") as update:

        def on_file(path: str, total: int) -> None:
            name = escape(printable(Path(path).name))  # a file name is not markup
            update(total=total, advance=1, detail=name)

        def on_commit(source: str, chunks: int) -> None:
            # Printed only after COMMIT returned: a listed document survives any crash.
            console.print(
                f"ingested: {printable(source)} ({chunks} chunks)",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            console.file.flush()

        def on_sync(done: int, total: int) -> None:
            update(completed=done, total=total, detail="index")

        # Two options, not `--ray [ADDRESS]`: an optional value would swallow the first path.
        ray_at = ray_address or ("local" if ray or ray_workers else None)
        if ray_at is None:
            with console.status("loading embedder"):
                _ = engine.embedder
        else:
            update(detail="starting Ray workers")
        report = engine.ingest(
            paths,
            collection,
            prune=prune,
            on_file=on_file,
            on_commit=on_commit if verbose else None,
            on_sync=on_sync,
            ray=ray_at,
            ray_workers=ray_workers,
            follow_symlinks=follow_symlinks,
            line_vectors=line_vectors,
        )
    for _path, reason in report.failed:
        # One line per file, however long or odd its name: escaped, and never wrapped.
        line = escape(printable(reason))
        console_err.print(f"[red]failed:[/] {line}", highlight=False, soft_wrap=True)
    console.print(
        f"[bold]{collection}[/]: {report.files} files, {report.chunks} chunks, "
        f"{report.skipped} skipped, {len(report.failed)} failed"
        + (f", {report.removed} removed" if prune else "")
        + (f"; line vectors added to {report.lines} chunks" if report.lines else "")
    )
    if report.failed and not report.files and not report.skipped:
        raise typer.Exit(1)


@docs_app.command("list")
def docs_list(
    collection: str | None = typer.Option(None, "--collection", "-c"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Documents per collection with their chunk counts."""
    from dataclasses import asdict

    from rich.table import Table

    from outweigh.engine import Engine

    with Engine() as engine:
        docs = engine.documents(collection)
    if as_json:
        print(json.dumps([asdict(d) for d in docs], ensure_ascii=False, indent=2))
        return
    table = Table("collection", "chunks", "bytes", "ingested")
    table.add_column("source", overflow="fold")
    for d in docs:
        source = escape(printable(d.source))
        table.add_row(d.collection, str(d.n_chunks), str(d.bytes), d.ingested, source)
    console.print(table)


@docs_app.command("rm")
def docs_rm(
    path: Path = typer.Argument(..., help="The document's path, or its id (docs list --json)."),
    collection: str = COLLECTION,
) -> None:
    """Remove one document (by its path or id) from a collection."""
    from outweigh.engine import Engine

    # A bare number is an id, unless a file of that name is meant.
    ref: int | Path = int(str(path)) if str(path).isdigit() and not path.exists() else path
    with Engine() as engine:
        row = engine.remove_document(collection, ref)
    console.print(f"removed {printable(row.source)}", markup=False, highlight=False)


@app.command()
def search(
    query: str,
    collection: str = COLLECTION,
    k: int = typer.Option(5, "-k", help="Results to show."),
    mode: str = typer.Option("hybrid", help="hybrid, bm25 or dense."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    embedder: str | None = EMBEDDER,
) -> None:
    """Hybrid BM25 + dense search, fused with reciprocal rank fusion."""
    from outweigh.cli._progress import lazy_bar
    from outweigh.engine import Engine

    with Engine(embedder=embedder) as engine:
        if mode != "bm25":
            engine.check_embedder(collection)
            with lazy_bar("index") as on_sync:
                engine.sync_index(collection, on_sync)
        hits = engine.search(query, collection, k, mode)
    if as_json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
        return
    from rich.table import Table

    table = Table("#", "score", "source", "snippet")
    for i, h in enumerate(hits, 1):
        snippet = " ".join(h.text.split())[:160]
        table.add_row(str(i), f"{h.score:.4f}", escape(printable(h.source)), escape(snippet))
    console.print(table)


@app.command()
def reindex(
    collection: str = COLLECTION,
    embedder: str | None = EMBEDDER,
) -> None:
    """Re-embed a collection's stored chunks and their lines, with another embedder or the same
    (a collection stored before line vectors gains them); files are not reread."""
    from outweigh.cli._progress import detail_bar
    from outweigh.engine import Engine

    with Engine(embedder=embedder) as engine:
        engine.documents(collection)  # an unknown collection is refused before the model loads
        with console.status("loading embedder"):
            name = engine.embedder.name
        with detail_bar("reindex") as update:
            n = engine.reindex(collection, lambda done, total: update(completed=done, total=total))
    console.print(f"[bold]{collection}[/]: {n} chunks re-embedded with {escape(name)}")
