"""Who is asking: the server's users, their keys, and what each may see.

A user is a name and a key. The key is made here, shown once (`outweigh users add` prints it)
and stored only as its SHA-256: a key holds 256 random bits, so there is nothing to guess, and
a stolen database gives no key. `who(key)` turns a request's key into a `Principal`.

The policy lives here too, as plain functions of a principal and a collection's owner and
shares, so the engine checks one rule everywhere (docs/security.md has the table):

- the *operator* (the CLI, the library, the server's `--api-key-env` key, or a loopback
  server with no users) may do anything;
- an *admin* user may do anything, and acting for another user is logged;
- a *user* reads collections ingested by the operator (no owner), its own, and those shared
  with it; writes its own and those shared with it with write (an operator's collection
  too, when the operator shares it so); and reads and writes only its own memories.

Tables (migrations of component "users"): `users` (name, key hash, admin flag, times).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
from dataclasses import dataclass

from outweigh.db import connect, migrate, transaction
from outweigh.errors import ForbiddenError, InputError, NotFoundError
from outweigh.names import check_name
from outweigh.settings import Paths

MIGRATIONS = [
    """
    CREATE TABLE users (
      name TEXT PRIMARY KEY,
      key_sha256 TEXT NOT NULL UNIQUE,   -- hex SHA-256 of the key; the key itself is never kept
      admin INTEGER NOT NULL DEFAULT 0,
      created TEXT NOT NULL DEFAULT (datetime('now')),
      rotated TEXT
    );
    """,
]

KEY_PREFIX = "ow-"
"""Keys start with this, so a key pasted into a chat or a file is recognisable (and the
secret filter of memory finds it)."""


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: a user by name, or the operator (`name` None)."""

    name: str | None
    admin: bool = False

    @property
    def operator(self) -> bool:
        """The CLI, the library, the server's own key, or an open loopback server."""
        return self.name is None

    @property
    def privileged(self) -> bool:
        """May act on everything: the operator or an admin user."""
        return self.operator or self.admin

    def __str__(self) -> str:
        if self.operator:
            return "the operator"
        return f"{'admin ' if self.admin else ''}user {self.name!r}"


OPERATOR = Principal(None, admin=True)
"""The principal of the CLI and the library: whoever can open the state directory."""


@dataclass(frozen=True)
class UserRow:
    name: str
    admin: bool
    created: str
    rotated: str | None


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class Users:
    """The `users` table of `outweigh.db`, on its own connection: the server looks a key up
    on every request, and must not wait behind a long write on the engine's connection."""

    def __init__(self, paths: Paths | None = None) -> None:
        self.paths = paths or Paths()
        self._lock = threading.Lock()
        self.conn: sqlite3.Connection = connect(self.paths.db)
        migrate(self.conn, "users", MIGRATIONS)

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def add(self, name: str, admin: bool = False) -> str:
        """Create user `name`; its new key (shown once: only its hash is kept)."""
        check_name(name, "user")
        key = new_key()
        with self._lock, transaction(self.conn) as c:
            if c.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise InputError(
                    f"user {name!r} exists; `outweigh users rotate {name}` gives it a new key"
                )
            c.execute(
                "INSERT INTO users (name, key_sha256, admin) VALUES (?, ?, ?)",
                (name, key_hash(key), int(admin)),
            )
        return key

    def rotate(self, name: str) -> str:
        """A new key for `name`; the old one stops working at once."""
        key = new_key()
        with self._lock, transaction(self.conn) as c:
            n = c.execute(
                "UPDATE users SET key_sha256 = ?, rotated = datetime('now') WHERE name = ?",
                (key_hash(key), name),
            ).rowcount
        if not n:
            raise NotFoundError(f"no user {name!r}; `outweigh users list` shows them")
        return key

    def remove(self, name: str) -> None:
        """Delete `name` and so its key. Its memories and collections stay, for an admin."""
        with self._lock, transaction(self.conn) as c:
            n = c.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount
        if not n:
            raise NotFoundError(f"no user {name!r}; `outweigh users list` shows them")

    def list(self) -> list[UserRow]:
        with self._lock:
            rows = self.conn.execute("SELECT * FROM users ORDER BY name").fetchall()
        return [UserRow(r["name"], bool(r["admin"]), r["created"], r["rotated"]) for r in rows]

    def any(self) -> bool:
        """Whether any user exists: then every request needs a key."""
        with self._lock:
            return self.conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def exists(self, name: str) -> bool:
        with self._lock:
            return (
                self.conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone()
                is not None
            )

    def who(self, key: str) -> Principal | None:
        """The user holding `key`, or None for no user. The lookup is by the key's hash, so
        its time says nothing about how close a wrong key was."""
        if not key.startswith(KEY_PREFIX):
            return None
        with self._lock:
            row = self.conn.execute(
                "SELECT name, admin FROM users WHERE key_sha256 = ?", (key_hash(key),)
            ).fetchone()
        return Principal(row["name"], bool(row["admin"])) if row else None


# -- the policy ---------------------------------------------------------------------------------
def can_read(who: Principal, owner: str | None, shared: dict[str, bool]) -> bool:
    """Whether `who` may read a collection owned by `owner` (None: the operator's) and
    shared as `shared` (user -> may write)."""
    return who.privileged or owner is None or owner == who.name or str(who.name) in shared


def can_write(who: Principal, owner: str | None, shared: dict[str, bool]) -> bool:
    """Whether `who` may upload to, delete from, or share such a collection."""
    if who.privileged:
        return True
    return (owner is not None and owner == who.name) or shared.get(str(who.name), False)


def memory_user(who: Principal, requested: str | None) -> str | None:
    """Whose memories a request from `who` naming `requested` (the `user` field, maybe
    absent) touches. A user: its own, and naming anyone else is refused. The operator and
    admins: the one named (an admin without a name: its own)."""
    if who.privileged:
        return requested if requested is not None else who.name
    if requested is not None and requested != who.name:
        raise ForbiddenError(
            f"this key is user {who.name!r}'s; it may not act for {requested[:64]!r} "
            "(leave `user` out, or send your own name)"
        )
    return who.name
