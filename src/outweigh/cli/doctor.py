"""`outweigh doctor`: check the state directory and repair what can be repaired."""

from __future__ import annotations

import json

import typer

from outweigh.cli._app import app, console


@app.command()
def doctor(
    dry_run: bool = typer.Option(False, "--dry-run", help="Check only; change nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check the engine (llama.cpp build, CPU code, what serves each model), the db, the FTS
    and vector indexes, uploaded files against their documents (and what a crashed upload
    left) and leftover files; repair what it can.

    Exits 1 if a problem remains: found under --dry-run, or one it cannot repair.
    """
    from dataclasses import asdict

    from outweigh.cli._progress import lazy_bar
    from outweigh.doctor import diagnose, engine

    findings = engine()
    with lazy_bar("repair") as update:
        findings += diagnose(repair=not dry_run, progress=lambda _w, d, t: update(d, t))
    if as_json:
        print(json.dumps([asdict(f) for f in findings], ensure_ascii=False, indent=2))
    else:
        for f in findings:
            mark = (
                "[green]ok[/]   " if f.ok else "[yellow]fixed[/]" if f.repaired else "[red]bad[/]  "
            )
            console.print(f"{mark} {f.check}: {f.detail}", highlight=False, soft_wrap=True)
    if not all(f.healthy for f in findings):
        raise typer.Exit(1)
