"""`outweigh users add | list | rm | rotate` and `outweigh collections share | unshare`: who may
use the server, and which collections they see (docs/security.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from outweigh.cli._app import app, console

if TYPE_CHECKING:
    from outweigh.engine import Engine

users_app = typer.Typer(
    help="The server's users and their keys; once one exists, every request needs a key.",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")
collections_app = typer.Typer(help="Who may read and write each collection.", no_args_is_help=True)
app.add_typer(collections_app, name="collections")


def _engine() -> Engine:
    from outweigh.engine import Engine

    return Engine()


def _key(name: str, key: str, what: str) -> None:
    """The key alone on the last line of stdout, so `| tail -1` captures it."""
    console.print(f"{what} {name}; its key (shown once, keep it secret):", highlight=False)
    print(key)


@users_app.command("add")
def add(
    name: str = typer.Argument(..., help="Letters, digits, '_', '.', '-' (max 64)."),
    admin: bool = typer.Option(False, "--admin", help="May act for every user (logged)."),
) -> None:
    """Create a user and print its new key on the last line."""
    with _engine() as engine:
        key = engine.add_user(name, admin)
    _key(name, key, "added admin" if admin else "added user")


@users_app.command("rotate")
def rotate(name: str = typer.Argument(..., help="The user.")) -> None:
    """Give a user a new key; the old one stops working at once."""
    with _engine() as engine:
        key = engine.rotate_user(name)
    _key(name, key, "new key for")


@users_app.command("rm")
def remove(name: str = typer.Argument(..., help="The user.")) -> None:
    """Delete a user and its key; its memories and collections stay, for an admin."""
    with _engine() as engine:
        engine.remove_user(name)
    console.print(f"removed user {name}", highlight=False)


@users_app.command("list")
def list_users() -> None:
    """Every user: name, admin or not, when made and when its key last changed."""
    from rich.table import Table

    with _engine() as engine:
        rows = engine.list_users()
    if not rows:
        console.print("no users: a loopback server needs no key (outweigh users add NAME)")
        return
    table = Table("user", "role", "created", "key rotated")
    for r in rows:
        table.add_row(r.name, "admin" if r.admin else "user", r.created, r.rotated or "-")
    console.print(table)


@collections_app.command("share")
def share(
    collection: str = typer.Argument(..., help="The collection."),
    user: str = typer.Option(..., "--with", help="The user to share it with."),
    write: bool = typer.Option(False, "--write", help="Let them upload and delete too."),
) -> None:
    """Let a user read (with --write: also change) a collection."""
    with _engine() as engine:
        shared = engine.share(collection, user, write)
    _shares(collection, shared)


@collections_app.command("unshare")
def unshare(
    collection: str = typer.Argument(..., help="The collection."),
    user: str = typer.Option(..., "--with", help="The user to take it from."),
) -> None:
    """Take a collection back from a user."""
    with _engine() as engine:
        shared = engine.share(collection, user, None)
    _shares(collection, shared)


@collections_app.command("list")
def list_collections() -> None:
    """Every collection with its owner and who it is shared with."""
    from rich.table import Table

    with _engine() as engine:
        rows = engine.collections()
    table = Table("collection", "documents", "chunks", "owner", "shared with")
    for c in rows:
        shared = ", ".join(f"{u} ({'write' if w else 'read'})" for u, w in sorted(c.shared.items()))
        table.add_row(c.name, str(c.documents), str(c.chunks), c.owner or "(operator)", shared)
    console.print(table)


def _shares(collection: str, shared: dict[str, bool]) -> None:
    who = ", ".join(f"{u} ({'write' if w else 'read'})" for u, w in sorted(shared.items()))
    console.print(f"{collection} is shared with: {who or 'nobody'}", highlight=False)
