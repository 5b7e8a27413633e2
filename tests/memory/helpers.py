"""Helpers for the memory tests: run the CLI in-process, and read the raw database."""

from __future__ import annotations

import io
import sqlite3
import sys
from pathlib import Path

import pytest


def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    """`outweigh ARGS` through the real entry point; (exit code, stdout, stderr)."""
    from outweigh.cli import main
    from outweigh.cli._app import console, console_err

    # Piped output wraps at 80 columns; a wide console shows whether a message is one line.
    monkeypatch.setattr(console, "_width", 1000)
    monkeypatch.setattr(console_err, "_width", 1000)
    monkeypatch.setattr(sys, "argv", ["outweigh", *args])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    code = 0
    try:
        main()
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def rows_mentioning(db: Path, needle: str) -> list[tuple[str, str]]:
    """(table, row) for every row of every table, FTS shadow tables included, whose text or
    blob contains `needle` (case-insensitive)."""
    conn = sqlite3.connect(db)
    try:
        tables = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not r[0].endswith("_fts")  # the virtual table itself reads its content table
        ]
        hits = []
        low = needle.lower()
        for t in tables:
            for row in conn.execute(f'SELECT * FROM "{t}"'):
                for v in row:
                    text = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                    if low in text.lower():
                        hits.append((t, repr(row)[:120]))
                        break
        return hits
    finally:
        conn.close()


def fts_terms(db: Path) -> set[str]:
    """Every term the memories FTS index still holds (through an fts5vocab table)."""
    conn = sqlite3.connect(db)
    try:
        conn.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.mem_vocab "
            "USING fts5vocab(main, memories_fts, row)"
        )
        return {r[0] for r in conn.execute("SELECT term FROM temp.mem_vocab")}
    finally:
        conn.close()
