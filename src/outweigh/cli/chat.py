"""`outweigh chat`: an interactive REPL that streams answers and remembers the user.

Lines starting with `/` are commands for the REPL and never reach the model or the memory
as text; everything else is a turn of the conversation. Errors print one line and the REPL
goes on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from outweigh.cli import _load
from outweigh.cli._app import EMBEDDER, app, console, console_err
from outweigh.errors import InputError, NotFoundError, OutweighError, printable
from outweigh.settings import DEFAULT_COLLECTION, DEFAULT_MODEL

if TYPE_CHECKING:
    from outweigh.engine import AskOptions, Engine
    from outweigh.generate.base import Message

HELP = {
    "/memories": "what I remember about you (current facts)",
    "/forget ID": "delete one remembered fact",
    "/remember TEXT": "remember TEXT as a fact, word for word",
    "/help": "this list",
    "/exit": "leave (Ctrl-D works too)",
}

HISTORY_MESSAGES = 6
"""Earlier messages sent with each turn (3 exchanges): enough to resolve "it" and "that",
short enough to keep CPU prefill fast. Facts from earlier sessions come from memory instead."""


class Repl:
    """One chat session: conversation history in this process, facts in the memory store."""

    def __init__(
        self, engine: Engine, options: AskOptions, out: Console, err: Console | None = None
    ) -> None:
        self.engine = engine
        self.options = options
        self.out = out
        self.err = err or out
        self.history: list[Message] = []

    def run(self, read: Callable[[str], str]) -> None:
        """Read lines until `/exit` or end of input."""
        while True:
            try:
                line = read("[bold cyan]you>[/] ")
            except EOFError:
                self.out.print()
                return
            except KeyboardInterrupt:  # Ctrl-C at the prompt drops the line, as in a shell
                self.out.print()
                continue
            if not self.handle(line):
                return

    def handle(self, line: str) -> bool:
        """Act on one input line; False when the session should end."""
        line = line.strip()
        if not line:
            return True
        try:
            if line.startswith("/"):
                return self.command(line)
            self.say(line)
        except OutweighError as e:
            self.err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
        return True

    def command(self, line: str) -> bool:
        name, _, arg = line.partition(" ")
        name, arg = name.lower(), arg.strip()
        if name in ("/exit", "/quit"):
            return False
        if name == "/help":
            for usage, what in HELP.items():
                self.out.print(f"  [bold]{escape(usage)}[/]  {what}", highlight=False)
            return True
        if name not in ("/memories", "/forget", "/remember"):
            raise InputError(f"unknown command {name[:40]}; try {', '.join(HELP)}")
        user = self.options.user
        if not self.options.memory or user is None:
            raise InputError("memory is off in this chat (--no-memory); nothing is remembered")
        if name == "/memories":
            items = self.engine.memories(user)
            for m in items:
                self.out.print(f"  [dim]#{m.id}[/] {escape(m.text)}", highlight=False)
            if not items:
                self.out.print(f"  [dim]nothing remembered about {escape(user)} yet[/]")
        elif name == "/forget":
            if not arg:
                raise InputError("usage: /forget ID (ids are shown by /memories)")
            if not self.engine.forget(user, arg):
                raise NotFoundError(f"no memory #{arg[:40]} for {user}; see /memories")
            self.out.print(f"  forgot #{escape(arg)}", highlight=False)
        else:
            if not arg:
                raise InputError("usage: /remember TEXT")
            item = self.engine.remember(user, arg, self.options.session).masked()
            self.out.print(f"  remembered [dim]#{item.id}[/] {escape(item.text)}", highlight=False)
        return True

    def say(self, text: str) -> None:
        """Stream the answer to `text`; the engine recalls and remembers around it."""
        messages = [*self.history[-HISTORY_MESSAGES:], {"role": "user", "content": text}]
        remembering = self.options.memory and self.options.user is not None
        before = self._known() if remembering else set()
        prepared, pieces = self.engine.stream(messages, self.options)
        if prepared.memories:
            ids = " ".join(f"#{m.id}" for m in prepared.memories)
            self.out.print(f"[dim]recalled {ids}[/]", highlight=False)
        said: list[str] = []
        try:
            for piece in pieces:
                said.append(piece)
                self.out.print(piece, end="", markup=False, highlight=False, soft_wrap=True)
        except KeyboardInterrupt:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # ends the stream early; the engine still records the turn
            self.out.print(" [dim](interrupted)[/]", end="")
        self.out.print()
        for c in prepared.cited(text, "".join(said)):
            where = printable(c.source + (f", {c.where}" if c.where else ""))
            self.out.print(f"[dim][{c.n}] {escape(where)}[/]", highlight=False)
        if remembering:
            new = sorted(self._known() - before)
            if new:
                self.out.print(f"[dim]remembered {' '.join(f'#{i}' for i in new)}[/]")
        self.history += [
            {"role": "user", "content": text},
            {"role": "assistant", "content": "".join(said)},
        ]

    def _known(self) -> set[int]:
        return {m.id for m in self.engine.memories(self.options.user or "")}


@app.command()
def chat(
    user: str | None = typer.Option(
        None, "--user", "-u", help="Who is chatting [default: the OS user name]."
    ),
    session: str | None = typer.Option(None, "--session", help="Session id [default: a new one]."),
    collection: str | None = typer.Option(
        None, "--collection", "-c", help="Ground answers in this collection [default: none]."
    ),
    adapter: str | None = typer.Option(None, "--adapter", "-a", help="Registered adapter or mix."),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Catalog name, dir or hub id."),
    k: int = typer.Option(5, "-k", help="Chunks to retrieve when --collection is given."),
    max_tokens: int = typer.Option(200, "--max-tokens"),
    no_memory: bool = typer.Option(False, "--no-memory", help="Neither recall nor remember."),
    no_reader: bool = typer.Option(
        False, "--no-reader", help="Read passages and memories with the bare model, no reader."
    ),
    device: str | None = _load.DEVICE,
    dtype: str | None = _load.DTYPE,
    load_in: str | None = _load.LOAD_IN,
    backend: str | None = _load.BACKEND,
    embedder: str | None = EMBEDDER,
) -> None:
    """Talk to the model: streaming answers, history, and memory across sessions."""
    from outweigh.cli._progress import lazy_bar
    from outweigh.engine import AskOptions, Engine
    from outweigh.names import check_user
    from outweigh.settings import default_user

    opts = AskOptions(
        collection=collection or DEFAULT_COLLECTION,
        rag=collection is not None,
        k=k,
        max_tokens=max_tokens,
        adapter=adapter,
        user=check_user(default_user() if user is None else user),
        session=session or datetime.now().strftime("chat-%Y%m%d-%H%M%S"),
        memory=not no_memory,
        reader=not no_reader,
    )
    load = _load.load_options(device, dtype, load_in, backend)
    with Engine(model=model, embedder=embedder, load=load) as engine:
        with lazy_bar("index") as on_sync:  # what can be refused is, before a model loads
            engine.preflight(opts, on_sync=on_sync)
        with console.status(f"loading {model}"):
            engine.backend()
        if sys.stdin.isatty():
            import readline  # noqa: F401  line editing and up-arrow history for input()
        console.print(
            f"[bold]outweigh chat[/] with {escape(model)} as [bold]{escape(opts.user or '')}[/]"
            f"{'' if opts.memory else ' (memory off)'}; /help for commands, /exit to leave",
            highlight=False,
        )
        Repl(engine, opts, console, console_err).run(console.input)
