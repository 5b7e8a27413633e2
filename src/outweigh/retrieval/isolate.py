"""Native parsers out of the caller's process: a crash in one costs one file, not the server.

kreuzberg is Rust over C libraries (and onnxruntime); fed a hostile file, native code can
abort or segfault where Python would raise. Extraction therefore runs in worker processes
(`concurrent.futures.ProcessPoolExecutor`, started by `spawn` so no lock or thread of the
caller is forked into them). A worker that dies breaks the pool: the file it held is refused
in one line, the pool is made again, and the next file is read as usual. A worker is started
once and kept, so a file costs a round trip of its bytes, not an interpreter start.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

WORKERS = 2
"""Files read at once; one slow hostile file does not hold up the next."""

T = TypeVar("T")

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


class WorkerCrashed(RuntimeError):
    """The worker process died while it held the call (a native crash, or it was killed)."""


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            import multiprocessing

            _pool = ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"))
        return _pool


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def run(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a worker process; its exceptions come back as they were raised there,
    and a worker that dies raises WorkerCrashed (the next call gets a fresh pool)."""
    pool = _executor()
    try:
        return pool.submit(fn, *args).result()
    except BrokenProcessPool as e:
        _discard(pool)
        raise WorkerCrashed(str(e) or "the worker process died") from None
