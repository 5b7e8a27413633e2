"""The typer app and the consoles every command module shares."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="outweigh",
    help="Make a smaller local LLM outweigh a bigger one: RAG, LoRA, memory, a VRAM plan, an eval.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
console_err = Console(stderr=True)

EMBEDDER = typer.Option(
    None,
    "--embedder",
    metavar="DIR_OR_HUB_ID",
    help="sentence-transformers model folder or hub id that embeds "
    "(default: $OUTWEIGH_EMBEDDER, else the bundled all-MiniLM-L6-v2).",
)
"""`--embedder`, shared by every command that embeds; None defers to the setting."""
