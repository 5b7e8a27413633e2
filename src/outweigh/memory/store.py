"""Per-user long-term memory in `outweigh.db`: items, turns, BM25, and the writes that keep them.

Tables (migrations of component "memory"):

- `memory_turns`: every conversation turn, per user and session;
- `memories`: one fact each, with its embedding, its source turn, and a
  `superseded_by` / `valid_until` pair: a contradicted fact is kept as history, not destroyed
  (the Zep pattern, Rasmussen et al. 2025, arXiv:2501.13956). A fact is *current* while
  `valid_until` is NULL. `secret` marks one the user asked to remember although it states a
  secret: recalled into their prompts, masked wherever facts are listed;
- `memories_fts`: FTS5 over the facts' text, kept in step by triggers.

Every public method takes a user and refuses an empty one: there is no "all users" path.
Writes run in one `BEGIN IMMEDIATE` transaction each, so a kill -9 leaves either the whole
write or none of it, and an acknowledged item is on disk (WAL).
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from outweigh.db import connect, migrate, transaction
from outweigh.embed import Embedder
from outweigh.errors import CapacityError, InputError
from outweigh.memory.capture import (
    WITHHELD,
    Candidate,
    Decision,
    Extractor,
    Fact,
    RuleExtractor,
    explicit_fact,
    is_secret,
    kept_name,
    leaks,
    secret_values,
    subject_of,
    withhold_secrets,
)
from outweigh.memory.items import MemoryItem, item_from_row
from outweigh.memory.schema import MIGRATIONS
from outweigh.names import check_session, check_text, check_user
from outweigh.settings import Paths, max_message_chars, memory_tokens

_ITEMS = (
    "SELECT m.*, s.uid AS successor FROM memories m LEFT JOIN memories s ON s.id = m.superseded_by"
)
"""Memory rows with the shown id of the fact that replaced each (`MemoryItem.superseded_by`)."""


def new_uid() -> str:
    return "mem_" + secrets.token_hex(8)


@dataclass(frozen=True)
class MemoryLimits:
    """Caps on what memory accepts and how much of the prompt it may take.

    Defaults read the environment when a store is made, so a server or test can change them.
    """

    max_chars: int = field(default_factory=max_message_chars)
    """Longest message memory stores (`OUTWEIGH_MAX_MESSAGE_CHARS`, default 16000, about 4k
    tokens); longer ones are refused with a one-line error instead of being half-stored."""
    prompt_tokens: int = field(default_factory=memory_tokens)
    """Prompt tokens recalled memories may use, ahead of (and apart from) retrieved documents
    (`OUTWEIGH_MEMORY_TOKENS`, default 256: five one-sentence facts with room to spare)."""
    recall: int = 5
    """Memories recalled into a prompt at most."""
    min_similarity: float = 0.3
    """Cosine below which a memory found only by the dense retriever is left out. Calibrated
    on all-MiniLM-L6-v2: a fact and a question about it score 0.40-0.80, unrelated pairs
    0.11-0.34 (measured; see docs/memory.md)."""

    abstain: bool = True
    """Answer "I don't know" to a personal question no recalled memory is about, instead of
    letting the model answer (`memory/abstain.py`); off lets the model answer anyway."""

    def __post_init__(self) -> None:
        if self.max_chars < 1:
            raise InputError("`OUTWEIGH_MAX_MESSAGE_CHARS` must be at least 1")
        if self.prompt_tokens < 0:
            raise InputError("`OUTWEIGH_MEMORY_TOKENS` must be 0 or more")
        if self.recall < 1:
            raise InputError("`recall` must be at least 1")


_UID = re.compile(r"mem_[0-9a-f]{16}")


def check_id(memory_id: object) -> int | str:
    """A memory id as shown (`mem_` and 16 hex digits), or the internal row id the user
    typed ("12", "#12", 12) -> 12; anything else is refused."""
    if isinstance(memory_id, str) and _UID.fullmatch(memory_id.strip()):
        return memory_id.strip()
    if isinstance(memory_id, int) and not isinstance(memory_id, bool):
        value = memory_id
    elif (
        isinstance(memory_id, str)
        and memory_id.strip().lstrip("#").isascii()
        and (memory_id.strip().lstrip("#").isdigit())
    ):
        value = int(memory_id.strip().lstrip("#")[:19])
    else:
        value = 0
    if not 0 < value < 2**63:
        raise InputError(
            f"malformed memory id {str(memory_id)[:40]!r}; ids look like mem_0123456789abcdef, "
            "see `outweigh memory list`"
        )
    return value


class MemoryStore:
    """The memory tables of `outweigh.db`, always read and written one user at a time."""

    def __init__(
        self,
        paths: Paths | None = None,
        embedder: Embedder | Callable[[], Embedder] | None = None,
        extractor: Extractor | None = None,
        limits: MemoryLimits | None = None,
    ) -> None:
        self.paths = paths or Paths()
        # One connection shared by threads (the server): a lock keeps each transaction whole.
        self._lock = threading.RLock()
        self._embedder = embedder
        self.extractor = extractor or RuleExtractor()
        """Finds facts in messages; `ModelExtractor(backend)` lets a capable model help."""
        self.limits = limits or MemoryLimits()
        self.conn = connect(self.paths.db)
        # Forgotten text must not linger in freed pages of the file (sqlite.org/pragma.html).
        self.conn.execute("PRAGMA secure_delete=ON")
        migrate(self.conn, "memory", MIGRATIONS)

    @property
    def embedder(self) -> Embedder:
        """The embedder: `$OUTWEIGH_EMBEDDER` or all-MiniLM-L6-v2 unless one (or a function that
        makes one) was given; made on first use, so listing and forgetting never load a model."""
        with self._lock:
            if self._embedder is None:
                from outweigh.embed import SentenceTransformerEmbedder

                self._embedder = SentenceTransformerEmbedder()
            elif not isinstance(self._embedder, Embedder):
                self._embedder = self._embedder()
            return self._embedder

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    # -- writes -----------------------------------------------------------------------------
    def check_message(self, text: object) -> str:
        """A message memory will accept: non-empty and within `limits.max_chars`."""
        if not isinstance(text, str) or not text.strip():
            raise InputError("the message is empty; say something to remember")
        if len(text) > self.limits.max_chars:
            raise CapacityError(
                f"the message is {len(text)} characters, over the memory cap of "
                f"{self.limits.max_chars}; shorten it or raise OUTWEIGH_MAX_MESSAGE_CHARS"
            )
        return check_text(text, "the message")

    def remember(self, user: str, text: str, session: str | None = None) -> MemoryItem:
        """Store `text` as a fact, verbatim ("remember that" in front is dropped)."""
        user, session = check_user(user), check_session(session)
        text = self.check_message(text).strip()
        fact = explicit_fact(text) or Fact(text, subject_of(text), "explicit")
        return self._write(user, session, [Fact(fact.text, fact.subject, "explicit")], [])[0]

    def capture(
        self, user: str, session: str | None, text: str, reply: str | None = None
    ) -> list[MemoryItem]:
        """Persist a user turn (and the assistant's `reply`), and store the facts it states.

        Returns the items written, merged or updated, in message order; empty when it stated
        none. A secret's value is withheld from the stored turn, and the reply with it; it
        becomes a fact only on an explicit "remember ...", marked secret (docs/memory.md,
        "Secrets").
        """
        user, session = check_user(user), check_session(session)
        text = self.check_message(text)
        values = secret_values(text)
        known = self._secret_values(user)  # remembered secrets, said again or said back
        facts = [
            f
            for f in self.extractor.extract(text)
            if f.kind == "explicit" or not leaks(f.text, values + known)
        ]
        text = withhold_secrets(text, known)
        if values:
            # The reply may repeat the secret in words the check cannot see ("Noted: 4821").
            reply = WITHHELD if reply is not None else None
        elif reply is not None:
            reply = withhold_secrets(reply, known)
        turns = [("user", text)] + ([("assistant", reply)] if reply is not None else [])
        return self._write(user, session, facts, turns)

    def _secret_values(self, user: str) -> list[str]:
        """The values of the secrets `user` asked to remember."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT text FROM memories WHERE user = ? AND secret = 1", (user,)
            ).fetchall()
        return [v for r in rows for v in secret_values(r["text"])]

    def _write(
        self,
        user: str,
        session: str | None,
        facts: Sequence[Fact],
        turns: Sequence[tuple[str, str]],
    ) -> list[MemoryItem]:
        """Turns and facts in one transaction: each fact added, repeated (NOOP) or replacing
        an earlier one (UPDATE), as the extractor decides.

        Embedding and deciding (which may run a model) happen before the write lock; the
        transaction re-checks that each target is still current.
        """
        vecs = self.embedder.embed_batch([f.text for f in facts]) if facts else None
        name = self.embedder.name if facts else None
        decisions: list[Decision] = []
        if facts:
            with self._lock:
                rows = self.conn.execute(
                    "SELECT id, text, subject, embedding, embedder FROM memories "
                    "WHERE user = ? AND valid_until IS NULL ORDER BY id",
                    (user,),
                ).fetchall()
            for i, fact in enumerate(facts):
                vec = vecs[i] if vecs is not None else None
                decision = self.extractor.decide(fact, _candidates(rows, vec, name))
                decisions.append(decision)
        ids: list[int] = []
        with self._lock, transaction(self.conn) as c:
            now = _now()
            turn_id: int | None = None
            for role, text in turns:
                cur = c.execute(
                    "INSERT INTO memory_turns (user, session, role, text, reply_to, created) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (user, session, role, text, turn_id if role == "assistant" else None, now),
                )
                if role == "user":
                    turn_id = int(cur.lastrowid or 0)
            for i, fact in enumerate(facts):
                vec = vecs[i] if vecs is not None else None
                ids.append(self._put(c, user, session, fact, decisions[i], vec, name, turn_id, now))
            items = self._items(c, user, ids)
        return [items[i] for i in ids]

    def _put(
        self,
        c: sqlite3.Connection,
        user: str,
        session: str | None,
        fact: Fact,
        decision: Decision,
        vec: np.ndarray | None,
        embedder: str | None,
        turn_id: int | None,
        now: str,
    ) -> int:
        """Apply one decision inside the caller's transaction; the id the fact ended up as."""
        target = None
        if decision.target is not None:
            target = c.execute(
                "SELECT id FROM memories WHERE id = ? AND user = ? AND valid_until IS NULL",
                (decision.target, user),
            ).fetchone()
        if decision.action == "NOOP" and target is not None:
            # Said again: one item, freshly dated, never two.
            c.execute(
                "UPDATE memories SET updated = ?, session = coalesce(?, session) WHERE id = ?",
                (now, session, decision.target),
            )
            return int(decision.target or 0)
        blob = np.ascontiguousarray(vec, dtype=np.float32).tobytes() if vec is not None else None
        cur = c.execute(
            "INSERT INTO memories (user, session, text, subject, kind, embedding, embedder, "
            "created, updated, source_turn, uid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                user,
                session,
                fact.text,
                fact.subject,
                fact.kind,
                blob,
                embedder,
                now,
                now,
                turn_id,
                new_uid(),
            ),
        )
        new_id = int(cur.lastrowid or 0)
        if fact.kind == "explicit" and is_secret(fact.text):
            c.execute("UPDATE memories SET secret = 1 WHERE id = ?", (new_id,))
        # History, not deletion: the replaced fact stays, no longer valid (the Zep pattern).
        supersede = (
            "UPDATE memories SET superseded_by = ?, valid_until = ?, updated = ? "
            "WHERE user = ? AND valid_until IS NULL AND id != ? AND "
        )
        if decision.action == "UPDATE" and target is not None:
            c.execute(supersede + "id = ?", (new_id, now, now, user, new_id, decision.target))
            self._keep_name(c, user, session, int(target["id"]), fact.text, now)
        if fact.subject is not None:
            c.execute(supersede + "subject = ?", (new_id, now, now, user, new_id, fact.subject))
        return new_id

    def _keep_name(
        self, c: sqlite3.Connection, user: str, session: str | None, old: int, new: str, now: str
    ) -> None:
        """After "my sister moved to Geneva" replaced "my sister Marta lives in Lyon", keep
        "my sister Marta" current: the name did not change (`capture.kept_name`)."""
        row = c.execute("SELECT text, kind, source_turn FROM memories WHERE id = ?", (old,))
        r = row.fetchone()
        span = kept_name(r["text"], new) if r is not None else None
        if span is None:
            return
        vec = self.embedder.embed(span)
        c.execute(
            "INSERT INTO memories (user, session, text, subject, kind, embedding, embedder, "
            "created, updated, source_turn, uid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                user,
                session,
                span,
                subject_of(f"{span} is {span.split()[-1]}"),
                r["kind"],
                np.ascontiguousarray(vec, dtype=np.float32).tobytes(),
                self.embedder.name,
                now,
                now,
                r["source_turn"],
                new_uid(),
            ),
        )

    # -- reads ------------------------------------------------------------------------------
    def get(self, user: str, memory_id: int | str) -> MemoryItem | None:
        """One of the user's facts by id; None if it does not exist or is someone else's."""
        user = check_user(user)
        with self._lock:
            mid = self._row_id(self.conn, user, check_id(memory_id))
            found = self._items(self.conn, user, [mid]) if mid is not None else {}
        return found.get(mid) if mid is not None else None

    def turns(self, user: str, session: str | None = None) -> list[dict[str, Any]]:
        """The user's conversation turns, oldest first; one session's if `session` is given."""
        user, session = check_user(user), check_session(session)
        sql, args = "SELECT * FROM memory_turns WHERE user = ?", [user]
        if session is not None:
            sql += " AND session = ?"
            args.append(session)
        with self._lock:
            rows = self.conn.execute(sql + " ORDER BY id", args).fetchall()
        # Turns are stored with secrets withheld; older ones are withheld as they are read.
        return [
            {
                k: withhold_secrets(r[k]) if k == "text" else r[k]
                for k in ("id", "session", "role", "text", "reply_to", "created")
            }
            for r in rows
        ]

    def recall(self, user: str, query: str, limit: int = 5) -> list[MemoryItem]:
        """The user's current facts most relevant to `query`, best first, for a prompt.

        Hybrid BM25 + dense, fused by RRF; dense-only matches below `limits.min_similarity`
        are left out, so an unrelated question recalls nothing rather than noise.
        """
        from outweigh.memory.recall import hybrid

        user = check_user(user)
        if not isinstance(query, str) or not query.strip():
            return []
        if limit < 1:
            raise InputError("`limit` must be at least 1")
        from outweigh.memory.recall import wants_past

        with self._lock:
            now_only = not wants_past(query)
            return hybrid(self, user, query, limit, self.limits.min_similarity, current=now_only)

    def unanswerable(self, user: str, question: str, recalled: Sequence[MemoryItem]) -> bool:
        """Whether `question` asks about the user's own world and none of `recalled` (from
        `recall`) is about it: the engine then answers that it does not know
        (`memory/abstain.py`). False when `limits.abstain` is off."""
        from outweigh.memory.abstain import answerable, personal_question

        if not self.limits.abstain or not personal_question(question):
            return False
        from outweigh.memory.recall import versions

        user = check_user(user)
        if not recalled:
            return True
        with self._lock:
            # A fact answers what any of its versions did: "I have just moved to Pskov" is
            # about "where do I live" through the "I live in Tver" it replaced.
            chains = versions(self.conn, user, [m.id for m in recalled])
            texts = [t for m in recalled for t in chains.get(m.id, [m.text])]
            embedder = self.embedder  # the engine's shared one: the lock guards it
            vecs = embedder.embed_batch([question, *texts])
        return not answerable(question, texts, vecs[1:], vecs[0])

    def search(
        self, user: str, query: str, limit: int = 10, include_history: bool = False
    ) -> list[MemoryItem]:
        """Like `recall`, for people: an empty query is an error, history can be included, and
        a secret is masked (`MemoryItem.masked`)."""
        from outweigh.memory.recall import hybrid

        user = check_user(user)
        if not isinstance(query, str) or not query.strip():
            raise InputError("the search query is empty")
        if limit < 1:
            raise InputError("`--limit` must be at least 1")
        with self._lock:
            found = hybrid(
                self, user, query, limit, self.limits.min_similarity, current=not include_history
            )
        return [m.masked() for m in found]

    def export(self, user: str) -> dict[str, Any]:
        """Everything stored about `user`: facts with their history, and every turn."""
        user = check_user(user)
        return {
            "user": user,
            "exported": _now(),
            "memories": [m.to_dict() for m in self.list(user, include_history=True)],
            "turns": self.turns(user),
        }

    # -- deletes ----------------------------------------------------------------------------
    def forget(self, user: str, memory_id: int | str) -> bool:
        """Delete one fact for real, with its history: its row, embedding and FTS entry, the
        older facts it replaced (each version of it), and the turns that stated any of them.

        False if the user has no such fact (someone else's id looks the same as a missing one).
        Forgetting a fact that was itself replaced removes that version and what it replaced,
        and leaves the newer one: forgetting "Murka" does not make "Bublik" true again.
        """
        user = check_user(user)
        with self._lock:
            with transaction(self.conn) as c:
                mid = self._row_id(c, user, check_id(memory_id))
                if mid is None:
                    return False
                rows = c.execute(
                    "WITH RECURSIVE chain(id) AS (SELECT ? UNION SELECT m.id FROM memories m "
                    "JOIN chain ON m.superseded_by = chain.id WHERE m.user = ?) "
                    "SELECT id, source_turn FROM memories WHERE id IN (SELECT id FROM chain)",
                    (mid, user),
                ).fetchall()
                ids = [r["id"] for r in rows]
                turns = [r["source_turn"] for r in rows if r["source_turn"] is not None]
                marks = ",".join("?" * len(ids))
                c.execute(f"DELETE FROM memories WHERE id IN ({marks})", ids)
                if turns:
                    # The turns hold the same words; forgetting a fact forgets where it came from.
                    marks = ",".join("?" * len(turns))
                    c.execute(
                        f"DELETE FROM memory_turns WHERE user = ? AND (id IN ({marks}) "
                        f"OR reply_to IN ({marks}))",
                        (user, *turns, *turns),
                    )
            self._purge()
        return True

    def forget_all(self, user: str) -> int:
        """Delete every fact and turn of `user`; the number of facts deleted."""
        user = check_user(user)
        with self._lock:
            with transaction(self.conn) as c:
                n = c.execute("DELETE FROM memories WHERE user = ?", (user,)).rowcount
                c.execute("DELETE FROM memory_turns WHERE user = ?", (user,))
            self._purge()
        return int(n)

    def _purge(self) -> None:
        """Make deleted text unrecoverable from the file, not just unreachable.

        FTS5 records a delete as a tombstone and keeps the old terms in older segments until
        they merge; 'optimize' merges them all now (sqlite.org/fts5.html#the_optimize_command).
        The checkpoint moves the zeroed pages into the db file and empties the WAL, whose old
        frames still hold the text. It waits at most 2 s for readers (a server mid-answer);
        if they outlast that, the text is unreachable now and overwritten at a later
        checkpoint.
        """
        with transaction(self.conn):
            self.conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")
        self.conn.execute("PRAGMA busy_timeout = 2000")
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self.conn.execute("PRAGMA busy_timeout = 30000")  # as db.connect set it

    # Last in the class: a method named `list` would shadow the builtin in later annotations.
    def list(self, user: str, include_history: bool = False) -> list[MemoryItem]:
        """The user's current facts, oldest first; with `include_history`, superseded ones too.

        An unknown user simply has no memories: the result is empty, not an error. A secret
        the user asked to remember is masked (`MemoryItem.masked`); `recall` gives its text.
        """
        user = check_user(user)
        where = "" if include_history else " AND m.valid_until IS NULL"
        with self._lock:
            rows = self.conn.execute(
                f"{_ITEMS} WHERE m.user = ?{where} ORDER BY m.id", (user,)
            ).fetchall()
        return [item_from_row(r).masked() for r in rows]

    # -- helpers ----------------------------------------------------------------------------
    def _items(self, c: sqlite3.Connection, user: str, ids: Sequence[int]) -> dict[int, MemoryItem]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = c.execute(f"{_ITEMS} WHERE m.user = ? AND m.id IN ({marks})", (user, *ids))
        return {int(r["id"]): item_from_row(r) for r in rows.fetchall()}

    def _row_id(self, c: sqlite3.Connection, user: str, memory_id: int | str) -> int | None:
        """The row id of the user's memory shown as `memory_id` (or with that row id)."""
        column = "uid" if isinstance(memory_id, str) else "id"
        row = c.execute(
            f"SELECT id FROM memories WHERE {column} = ? AND user = ?", (memory_id, user)
        ).fetchone()
        return int(row["id"]) if row else None


def _candidates(
    rows: Sequence[sqlite3.Row], vec: np.ndarray | None, embedder: str | None
) -> list[Candidate]:
    """The user's current memories as decision candidates, each with its cosine to `vec`."""
    out = []
    for row in rows:
        cosine = None
        if vec is not None and row["embedding"] is not None and row["embedder"] == embedder:
            cosine = float(np.frombuffer(row["embedding"], dtype=np.float32) @ vec)
        out.append(Candidate(int(row["id"]), row["text"], row["subject"], cosine))
    return out


def _now() -> str:
    """ISO 8601 UTC with milliseconds, so facts stated in the same second still order."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")
