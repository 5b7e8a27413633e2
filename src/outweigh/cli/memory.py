"""`outweigh memory list | search | remember | forget | export`: one user's long-term memory."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from outweigh.cli._app import EMBEDDER, app, console

if TYPE_CHECKING:
    from outweigh.engine import Engine
    from outweigh.memory import MemoryItem

memory_app = typer.Typer(
    help="What the assistant remembers about each user, across sessions.", no_args_is_help=True
)
app.add_typer(memory_app, name="memory")

USER = typer.Option(
    None, "--user", "-u", help="Whose memory [default: the OS user name]. Never all users."
)
JSON = typer.Option(False, "--json", help="Print JSON.")


def _engine(embedder: str | None = None) -> Engine:
    """The engine of the state directory; its embedder loads only if a command embeds."""
    from outweigh.engine import Engine

    return Engine(embedder=embedder)


def _user(user: str | None) -> str:
    from outweigh.names import check_user
    from outweigh.settings import default_user

    return check_user(default_user() if user is None else user)


def _table(items: list[MemoryItem], history: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table("id", "fact", "updated", *(["status"] if history else []))
    for m in items:
        status = ["current" if m.current else f"superseded by {m.superseded_by or '-'}"]
        # Escaped: a fact's "[...]" (a masked secret's "[secret]") is text, not rich markup.
        table.add_row(str(m.id), escape(m.text), m.updated[:19], *(status if history else []))
    console.print(table)


@memory_app.command("list")
def list_memories(
    user: str | None = USER,
    all_: bool = typer.Option(False, "--all", help="Superseded facts too (history)."),
    as_json: bool = JSON,
) -> None:
    """The user's current facts (with --all, their history too); empty for an unknown user."""
    with _engine() as engine:
        items = engine.memories(_user(user), include_history=all_)
    if as_json:
        print(json.dumps([m.to_dict() for m in items], ensure_ascii=False, indent=2))
        return
    _table(items, all_)


@memory_app.command("search")
def search_memories(
    query: str,
    user: str | None = USER,
    limit: int = typer.Option(10, "--limit", "-k", help="Results to show."),
    all_: bool = typer.Option(False, "--all", help="Search superseded facts too."),
    as_json: bool = JSON,
    embedder: str | None = EMBEDDER,
) -> None:
    """Hybrid BM25 + dense search over the user's facts (re-embedding those another embedder
    wrote)."""
    with _engine(embedder) as engine:
        items = engine.search_memories(_user(user), query, limit, include_history=all_)
    if as_json:
        print(json.dumps([m.to_dict() for m in items], ensure_ascii=False, indent=2))
        return
    _table(items, all_)


@memory_app.command("remember")
def remember(
    text: str,
    user: str | None = USER,
    session: str | None = typer.Option(None, "--session"),
    embedder: str | None = EMBEDDER,
) -> None:
    """Store a fact as given (like `/remember` in `outweigh chat`)."""
    with _engine(embedder) as engine:
        item = engine.remember(_user(user), text, session).masked()  # a secret is not echoed
    console.print(f"remembered #{item.id}: {item.text}", highlight=False, markup=False)


@memory_app.command("forget")
def forget(
    memory_id: str | None = typer.Argument(None, metavar="[ID]", help="The fact's id."),
    user: str | None = USER,
    all_: bool = typer.Option(False, "--all", help="Every fact and turn of the user."),
) -> None:
    """Delete one fact (ID) or everything of the user (--all): rows, embeddings, FTS entries."""
    from outweigh.errors import InputError, NotFoundError

    if (memory_id is None) == (not all_):
        raise InputError("give exactly one of ID or --all; see `outweigh memory list` for ids")
    who = _user(user)
    with _engine() as engine:
        if all_:
            n = engine.forget_all(who)
            console.print(
                f"forgot {n} facts and every turn of {who}", highlight=False, markup=False
            )
            return
        if not engine.forget(who, str(memory_id)):
            raise NotFoundError(f"{who} has no memory #{memory_id}; see `outweigh memory list`")
    console.print(f"forgot #{memory_id}", highlight=False, markup=False)


@memory_app.command("export")
def export(user: str | None = USER) -> None:
    """Everything stored about the user, as JSON: facts with history, and every turn."""
    with _engine() as engine:
        data = engine.export_memories(_user(user))
    print(json.dumps(data, ensure_ascii=False, indent=2))
