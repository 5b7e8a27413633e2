"""`outweigh models list | pull`."""

from __future__ import annotations

import typer

from outweigh.cli._app import app, console

models_app = typer.Typer(help="List and convert the bundled models.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
def list_models() -> None:
    """Catalog models, whether each is converted, and what it is."""
    from rich.table import Table

    from outweigh.models import catalog, is_converted

    table = Table("name", "params", "chat", "converted", "description")
    for name, e in catalog().items():
        table.add_row(
            name,
            f"{e.params / 1e6:.0f}M",
            "yes" if e.chat else "no",
            "yes" if is_converted(name) else "no",
            e.description,
        )
    console.print(table)
    console.print("Also accepted: a local HF model directory, or a hub id like org/name.")


@models_app.command("pull")
def pull(name: str = typer.Argument(..., help="Catalog name, local dir or hub id.")) -> None:
    """Convert a bundled GGUF once to cached safetensors (or fetch a hub model)."""
    import time

    from outweigh.models import is_converted
    from outweigh.models import pull as do_pull

    if is_converted(name):
        console.print(f"{name}: already converted")
    t0 = time.perf_counter()
    with console.status(f"converting {name} (first time only; tens of seconds)"):
        where = do_pull(name)
    console.print(f"{name}: ready at {where} ({time.perf_counter() - t0:.1f} s)")
