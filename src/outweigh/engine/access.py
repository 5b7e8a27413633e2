"""The engine's users and ownership: keys, who may read or write which collection, and whose
memories a request touches. The rules are `outweigh.users`'; this mixin applies them to the
engine's store, under its lock, and logs every time an admin acts for someone else."""

from __future__ import annotations

import logging

from outweigh.errors import ForbiddenError, NotFoundError
from outweigh.locks import FairLock
from outweigh.names import check_name, check_user
from outweigh.retrieval.store import Collection, Store, unknown_collection
from outweigh.settings import Paths
from outweigh.users import OPERATOR, Principal, UserRow, Users, can_read, can_write, memory_user

audit = logging.getLogger("outweigh.audit")
"""One line per act of an admin on another user's memories or collections."""


class Access:
    """User and ownership methods of `Engine` (a mixin over its paths, store and lock)."""

    lock: FairLock
    paths: Paths
    store: Store
    _users: Users | None = None

    # -- users ------------------------------------------------------------------------------
    @property
    def users(self) -> Users:
        """The state directory's users, on their own db connection (no engine lock): the
        server asks it for every request's key."""
        if self._users is None:
            self._users = Users(self.paths)
        return self._users

    def principal(self, key: str) -> Principal | None:
        """The user holding `key`, or None."""
        return self.users.who(key)

    def keyed(self) -> bool:
        """Whether any user exists, and so every request to the server needs a key."""
        return self.users.any()

    def add_user(self, name: str, admin: bool = False) -> str:
        """Create a user; its key, which is shown only now."""
        return self.users.add(name, admin)

    def rotate_user(self, name: str) -> str:
        return self.users.rotate(name)

    def remove_user(self, name: str) -> None:
        self.users.remove(name)

    def list_users(self) -> list[UserRow]:
        return self.users.list()

    # -- whose memories ---------------------------------------------------------------------
    def memory_user(self, who: Principal, requested: str | None, action: str) -> str | None:
        """Whose memories `who` touches when it names `requested` (`users.memory_user`); an
        admin acting for another user is logged with `action`."""
        if requested is not None:
            requested = check_user(requested)  # "bob " is bob
        user = memory_user(who, requested)
        if who.admin and not who.operator and user is not None and user != who.name:
            audit.warning("admin %r %s for user %r", who.name, action, user)
        elif who.operator and requested is not None and self.users.exists(requested):
            audit.info("operator %s for user %r", action, requested)
        return user

    # -- collections ------------------------------------------------------------------------
    def readable(self, collection: str, who: Principal = OPERATOR) -> Collection:
        """The collection if `who` may read it; otherwise the same NotFoundError as for a
        collection that does not exist."""
        with self.lock:
            coll = self.store.find(collection)
            if coll is None or not can_read(who, coll.owner, self.store.shares(coll)):
                raise NotFoundError(unknown_collection(collection))
            return coll

    def writable(self, collection: str, who: Principal = OPERATOR) -> Collection | None:
        """The collection if `who` may change it; None if it does not exist (an upload then
        makes it, owned by `who`). One it may read but not change: ForbiddenError."""
        with self.lock:
            coll = self.store.find(collection)
            if coll is None:
                return None
            shares = self.store.shares(coll)
            if not can_read(who, coll.owner, shares):
                raise NotFoundError(unknown_collection(collection))
            if not can_write(who, coll.owner, shares):
                raise ForbiddenError(
                    f"collection {collection!r} is read-only for {who}; ask its owner or an "
                    "admin to share it with write (outweigh collections share)"
                )
            if who.admin and not who.operator and coll.owner not in (None, who.name):
                audit.warning(
                    "admin %r wrote to %r's collection %r", who.name, coll.owner, coll.name
                )
            return coll

    def share(
        self, collection: str, user: str, write: bool | None, who: Principal = OPERATOR
    ) -> dict[str, bool]:
        """Share `collection` with `user` (read, or read and write); `write` None unshares.
        Only its owner, an admin or the operator may; the collection's shares after it."""
        check_name(user, "user")
        coll = self.writable(collection, who)
        if coll is None:
            raise NotFoundError(unknown_collection(collection))
        if not who.privileged and coll.owner != who.name:
            raise ForbiddenError(f"only the owner of {collection!r} or an admin may share it")
        if not self.users.exists(user):
            raise NotFoundError(f"no user {user!r}; `outweigh users list` shows them")
        with self.lock:
            self.store.share(coll, user, write)
            return self.store.shares(coll)

    def visible(self, who: Principal = OPERATOR) -> list[Collection]:
        """The collections `who` may read, by name."""
        with self.lock:
            store = self.store
            return [c for c in store.collections() if can_read(who, c.owner, store.shares(c))]
