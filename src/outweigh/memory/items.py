"""One remembered fact as the rest of outweigh sees it, how a `memories` row becomes one, and
a `Fact`: a statement before it is stored.

Shared by `store.py` (which writes and lists facts) and `recall.py` (which ranks them), so
neither has to import the other.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field, replace
from typing import Any

from outweigh.memory.secrets import is_secret, mask_secret


@dataclass(frozen=True)
class MemoryItem:
    """One remembered fact of one user."""

    id: int
    """Stable integer id, never reused."""
    user: str
    """Whose fact this is; every read filters on it."""
    session: str | None
    """The session that last stated it."""
    text: str
    """The fact in the user's own words, stored verbatim."""
    created: str
    """ISO 8601 UTC time it was first stated."""
    updated: str
    """ISO 8601 UTC time it was last stated again (merged) or superseded."""
    superseded_by: int | None
    """The id of the fact that replaced it (None if current, or if that fact was forgotten)."""
    valid_until: str | None
    """When it stopped being true; None while current."""
    subject: str | None = None
    """Single-valued attribute key, e.g. "cat:name"; None if the fact can coexist with others."""
    kind: str = "auto"
    """"explicit", "auto" or "model": how it was captured."""
    source_turn: int | None = None
    """The conversation turn it came from (None for `/remember` and `remember()`)."""
    secret: bool = False
    """A secret the user asked to remember ("remember that my door code is 4711"): recalled
    into their prompts like any fact, masked wherever facts are listed (`masked`)."""
    score: float | None = field(default=None, compare=False)
    """Fused RRF score when it came from `recall`/`search`; None otherwise."""
    uid: str | None = None
    """The id it is shown and forgotten by (`mem_` and 16 random hex digits): unlike `id`, it
    says nothing about other users' memories."""
    successor: str | None = None
    """The `uid` of the fact that replaced it, when known."""

    @property
    def current(self) -> bool:
        return self.valid_until is None

    def masked(self) -> MemoryItem:
        """This fact as a listing shows it: a secret's value replaced by "[secret]" ("my door
        code is [secret]"). A fact stored before secrets were marked is checked again, so an
        older secret is masked too. Masking twice changes nothing."""
        if not (self.secret or is_secret(self.text)):
            return self
        return replace(self, text=mask_secret(self.text), secret=True)

    def to_dict(self) -> dict[str, Any]:
        """The fact for JSON (the server, `memory list --json`, `memory export`), masked, with
        its shown id rather than its row id."""
        shown = self.masked()
        return {
            "id": self.uid or str(self.id),
            "user": self.user,
            "session": self.session,
            "text": shown.text,
            "subject": self.subject,
            "kind": self.kind,
            "created": self.created,
            "updated": self.updated,
            "superseded_by": self.successor,
            "valid_until": self.valid_until,
            "current": self.current,
            "secret": shown.secret,
        }


def item_from_row(r: sqlite3.Row, score: float | None = None) -> MemoryItem:
    columns = r.keys()  # a Row's `in` looks at its values, not its column names
    return MemoryItem(
        id=int(r["id"]),
        user=r["user"],
        session=r["session"],
        text=r["text"],
        created=r["created"],
        updated=r["updated"],
        superseded_by=r["superseded_by"],
        valid_until=r["valid_until"],
        subject=r["subject"],
        kind=r["kind"],
        source_turn=r["source_turn"],
        secret=bool(r["secret"]),
        score=score,
        uid=r["uid"] if "uid" in columns else None,
        successor=r["successor"] if "successor" in columns else None,
    )


@dataclass(frozen=True)
class Fact:
    """One statement worth remembering, before it is stored."""

    text: str
    """The statement in the user's own words (a span of the message, never rewritten)."""
    subject: str | None = None
    """Which single-valued attribute it sets, e.g. "cat:name"; a new fact with the same key
    supersedes the old one. None for facts that can hold many values ("I like jazz")."""
    kind: str = "auto"
    """"explicit" (the user asked to remember it), "auto" (rules) or "model" (an extractor
    model proposed it)."""
