"""A reentrant lock granted in arrival order; stdlib only.

`threading.RLock` lets a thread that releases and at once re-acquires win over every thread
already waiting, so work that takes the engine's lock slice by slice (a 256-input embedding
request, a large upload) could starve a short chat for the whole of it. Here a waiting thread
is handed the lock before the releasing one can take it again.
"""

from __future__ import annotations

import threading
from collections import deque


class FairLock:
    """Reentrant; waiting threads get the lock first come, first served."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._waiting: deque[int] = deque()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return True
            if self._owner is None and not self._waiting:
                self._owner, self._depth = me, 1
                return True
            if not blocking:
                return False
            self._waiting.append(me)
            granted = self._cond.wait_for(
                lambda: self._owner is None and self._waiting[0] == me,
                None if timeout < 0 else timeout,
            )
            if not granted:
                self._waiting.remove(me)
                self._cond.notify_all()  # the next in line may be first now
                return False
            self._waiting.popleft()
            self._owner, self._depth = me, 1
            return True

    def release(self) -> None:
        with self._cond:
            if self._owner != threading.get_ident():
                raise RuntimeError("cannot release a FairLock this thread does not hold")
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()

    def __enter__(self) -> FairLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
