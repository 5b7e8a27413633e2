"""The `outweigh` command: a thin shell over the library, one module per command group.

Each module registers its commands on `app` and imports the library lazily inside the command,
so `outweigh --help` and `outweigh plan` never import torch.
"""

from __future__ import annotations

import sqlite3
import sys

from rich.markup import escape

from outweigh.cli._app import app, console_err
from outweigh.errors import OutweighError

# Registration order is the order `--help` lists them.
from outweigh.cli import ask as _ask  # noqa: F401  isort: skip
from outweigh.cli import chat as _chat  # noqa: F401  isort: skip
from outweigh.cli import memory as _memory  # noqa: F401  isort: skip
from outweigh.cli import retrieval as _retrieval  # noqa: F401  isort: skip
from outweigh.cli import models as _models  # noqa: F401  isort: skip
from outweigh.cli import adapter as _adapter  # noqa: F401  isort: skip
from outweigh.cli import plan as _plan  # noqa: F401  isort: skip
from outweigh.cli import demo as _demo  # noqa: F401  isort: skip
from outweigh.cli import eval as _eval  # noqa: F401  isort: skip
from outweigh.cli import serve as _serve  # noqa: F401  isort: skip
from outweigh.cli import doctor as _doctor  # noqa: F401  isort: skip
from outweigh.cli import users as _users  # noqa: F401  isort: skip


def _click_exceptions():
    """The module whose exceptions the app raises: typer 0.2x carries its own copy of click."""
    try:
        from typer._click import exceptions
    except ImportError:
        from click import exceptions
    return exceptions


def main() -> None:
    """Entry point: run the app and turn OutweighError into one red line and exit code 2."""
    try:
        # Outside standalone mode click returns a `typer.Exit` code instead of exiting.
        code = app(standalone_mode=False)
    except OutweighError as e:
        console_err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except sqlite3.DatabaseError as e:  # a damaged or locked db file: say so in one line
        console_err.print(
            f"[bold red]error:[/] database: {escape(str(e))}; run outweigh doctor",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(2)
    except KeyboardInterrupt:
        console_err.print("[yellow]interrupted[/]")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as e:  # click usage errors and aborts carry their own exit codes
        ex = _click_exceptions()
        if isinstance(e, ex.ClickException):  # a typo in a command or option: one line
            hint = f"; run {e.ctx.command_path} --help" if getattr(e, "ctx", None) else ""
            console_err.print(
                f"[bold red]error:[/] {escape(e.format_message().rstrip('.'))}{escape(hint)}",
                highlight=False,
                soft_wrap=True,
            )
            sys.exit(e.exit_code)
        if isinstance(e, ex.Abort):
            sys.exit(1)
        if isinstance(e, ex.Exit):
            sys.exit(e.exit_code)
        raise
    if isinstance(code, int) and code:
        sys.exit(code)
