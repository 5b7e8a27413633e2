"""Progress bars that appear only when there is work: index syncs are usually instant."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from outweigh.cli._app import console

if TYPE_CHECKING:
    from outweigh.engine import Engine


@contextmanager
def lazy_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """Yields `update(done, total)`; the bar is drawn on the first call, never if none comes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    )
    task: list[int] = []

    def update(done: int, total: int) -> None:
        if not task:
            bar.start()
            task.append(bar.add_task("", total=total))
        bar.update(task[0], completed=done, total=total)

    try:
        yield update
    finally:
        if task:
            bar.stop()


def sync_index(engine: Engine, collection: str) -> None:
    """Bring the collection's vector index up to date, with a bar if it must be rebuilt."""
    with lazy_bar("index") as update:
        engine.vectors.sync(engine.store.collection(collection), update)
