"""The SQLite spine: one connection factory and numbered migrations per component.

Each component (retrieval, memory, adapters, ...) owns its migrations and applies them with
`migrate(conn, component, steps)` when it opens the db. Applied steps are recorded in
`schema_migrations`, so a step runs exactly once and components never step on each other.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from outweigh.errors import OutweighError


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the db in WAL mode with foreign keys on.

    WAL lets readers (search, the server) run while ingestion writes, and keeps every committed
    transaction durable across a kill -9.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.DatabaseError as e:
        raise OutweighError(f"cannot open database {path}: {e}; move it aside and re-ingest") from e
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys=ON")
    # FULL: every COMMIT fsyncs the WAL before it returns. With NORMAL a committed transaction
    # survives a killed process but can be lost to a power cut or OS crash
    # (sqlite.org/pragma.html#pragma_synchronous). outweigh reports a document as ingested or
    # a memory as saved only after COMMIT returns, so that report must survive both.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " component TEXT NOT NULL, version INTEGER NOT NULL,"
        " applied TEXT NOT NULL DEFAULT (datetime('now')),"
        " PRIMARY KEY (component, version))"
    )
    return conn


def migrate(conn: sqlite3.Connection, component: str, steps: Sequence[str]) -> None:
    """Apply `steps[i]` as version i+1 of `component` unless already applied, each atomically."""
    done = {
        r[0]
        for r in conn.execute(
            "SELECT version FROM schema_migrations WHERE component = ?", (component,)
        )
    }
    for version, sql in enumerate(steps, start=1):
        if version in done:
            continue
        with transaction(conn):
            for statement in _split(sql):
                conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO schema_migrations (component, version) VALUES (?, ?)",
                (component, version),
            )


class transaction:
    """`with transaction(conn):` runs the block in BEGIN IMMEDIATE ... COMMIT, or rolls back.

    IMMEDIATE takes the write lock up front, so two writers queue instead of deadlocking.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _split(sql: str) -> list[str]:
    """Split a migration script into statements (triggers keep their inner `;`)."""
    statements, buf = [], ""
    for line in sql.strip().splitlines():
        buf += line + "\n"
        if sqlite3.complete_statement(buf):
            statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements
