"""The engine's memory of its users: list, search, remember, forget and export one user's facts,
under the engine's lock (searching and remembering embed with the engine's shared embedder)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from outweigh.locks import FairLock

if TYPE_CHECKING:
    from outweigh.memory import MemoryItem, MemoryStore


class Memories:
    """Memory methods of `Engine` (a mixin over its memory store and lock). Every one takes a
    user and refuses an empty one: there is no "all users" path."""

    lock: FairLock
    memory: MemoryStore

    def memories(self, user: str, include_history: bool = False) -> list[MemoryItem]:
        """The user's current facts, oldest first; with `include_history`, superseded ones too.
        An unknown user has none."""
        with self.lock:
            return self.memory.list(user, include_history=include_history)

    def search_memories(
        self, user: str, query: str, limit: int = 10, include_history: bool = False
    ) -> list[MemoryItem]:
        """Hybrid BM25 + dense search over the user's facts, best first; an empty query is an
        InputError."""
        with self.lock:
            return self.memory.search(user, query, limit, include_history=include_history)

    def remember(self, user: str, text: str, session: str | None = None) -> MemoryItem:
        """Store `text` as a fact of `user`, word for word."""
        with self.lock:
            return self.memory.remember(user, text, session)

    def forget(self, user: str, memory_id: int | str) -> bool:
        """Delete one fact of `user` for good; False if the user has no such fact (another
        user's id looks the same as a missing one)."""
        with self.lock:
            return self.memory.forget(user, memory_id)

    def forget_all(self, user: str) -> int:
        """Delete every fact and turn of `user`; the number of facts deleted."""
        with self.lock:
            return self.memory.forget_all(user)

    def export_memories(self, user: str) -> dict[str, Any]:
        """Everything stored about `user`: facts with their history, and every turn."""
        with self.lock:
            return self.memory.export(user)
