"""Progress bars, the one place rich's progress is set up: the library reports progress through
plain callbacks (`on_file`, `on_sync`, `progress(task, done, total)`), and these draw them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from outweigh.cli._app import console

if TYPE_CHECKING:
    from rich.progress import Progress


def _progress(
    *fields: str, elapsed: bool = False, transient: bool = True, eta: bool = False
) -> Progress:
    """A bar with its label first, `done/total`, then `fields` (rich format strings), the time
    elapsed and, with `eta`, the time left at the rate so far."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as Bars

    columns: list[Any] = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    columns += [TextColumn(f) for f in fields]
    if elapsed:
        columns.append(TimeElapsedColumn())
    if eta:
        columns += [TextColumn("eta"), TimeRemainingColumn()]
    return Bars(*columns, console=console, transient=transient)


@contextmanager
def lazy_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """Yields `update(done, total)`; the bar is drawn on the first call, never if none comes:
    index syncs are usually instant."""
    bar = _progress()
    task: list[Any] = []

    def update(done: int, total: int) -> None:
        if not task:
            bar.start()
            task.append(bar.add_task(label, total=total))
        bar.update(task[0], completed=done, total=total)

    try:
        yield update
    finally:
        if task:
            bar.stop()


@contextmanager
def bars(elapsed: bool = True, eta: bool = False) -> Iterator[Callable[[str, int, int], None]]:
    """Yields `update(task, done, total)`, drawing one bar per task name (an eval draws one
    per config, and one for ingestion); `eta`: each bar also shows the time it has left."""
    tasks: dict[str, Any] = {}
    with _progress(elapsed=elapsed, transient=False, eta=eta) as progress:

        def update(task: str, done: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = progress.add_task(task, total=total)
            progress.update(tasks[task], completed=done, total=total)

        yield update


@contextmanager
def detail_bar(label: str, transient: bool = True) -> Iterator[Callable[..., None]]:
    """One bar labelled `label`, with a detail column: yields `update(**fields)`, rich's
    `Progress.update` fields (`completed`, `total`, `advance`) plus `detail`, the text beside
    the bar (a file name while ingesting, the loss while training)."""
    with _progress("{task.fields[detail]}", elapsed=not transient, transient=transient) as bar:
        task = bar.add_task(label, total=None, detail="")

        def update(**fields: Any) -> None:
            bar.update(task, **fields)

        yield update
