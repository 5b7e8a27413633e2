"""The memory tables of `outweigh.db`, as numbered migrations of component "memory"
(`outweigh.db.migrate`); `store.py` says what each table holds. Each step runs once, in its
own transaction; never edit an applied one, add the next."""

from __future__ import annotations

MIGRATIONS = [
    """
    CREATE TABLE memory_turns (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      user TEXT NOT NULL,
      session TEXT,
      role TEXT NOT NULL,          -- 'user' or 'assistant'
      text TEXT NOT NULL,
      reply_to INTEGER,            -- an assistant turn points at the user turn it answers
      created TEXT NOT NULL
    );
    CREATE INDEX memory_turns_by_user ON memory_turns(user, session, id);
    -- AUTOINCREMENT: ids are never reused, so a stale `/forget 7` cannot hit a newer fact.
    CREATE TABLE memories (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      user TEXT NOT NULL,
      session TEXT,
      text TEXT NOT NULL,
      subject TEXT,                -- single-valued attribute key, e.g. 'cat:name'; see capture.py
      kind TEXT NOT NULL,          -- 'explicit', 'auto' or 'model'
      embedding BLOB,              -- float32, L2-normalised
      embedder TEXT,               -- which embedder wrote it; another one re-embeds on recall
      created TEXT NOT NULL,
      updated TEXT NOT NULL,
      superseded_by INTEGER REFERENCES memories(id) ON DELETE SET NULL,
      valid_until TEXT,            -- NULL while current
      source_turn INTEGER REFERENCES memory_turns(id) ON DELETE SET NULL
    );
    CREATE INDEX memories_by_user ON memories(user, valid_until, id);
    CREATE VIRTUAL TABLE memories_fts USING fts5(
      text, content='memories', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER memories_ai AFTER INSERT ON memories BEGIN
      INSERT INTO memories_fts(rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER memories_ad AFTER DELETE ON memories BEGIN
      INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    CREATE TRIGGER memories_au AFTER UPDATE OF text ON memories BEGIN
      INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
      INSERT INTO memories_fts(rowid, text) VALUES (new.id, new.text);
    END;
    """,
    """
    -- A secret the user asked to remember: recalled into their prompts, masked in listings.
    ALTER TABLE memories ADD COLUMN secret INTEGER NOT NULL DEFAULT 0;
    """,
    # The id a memory is shown and forgotten by: random, so it says nothing about how many
    # memories anyone has and cannot be guessed (`id` stays the row's internal key).
    """
    ALTER TABLE memories ADD COLUMN uid TEXT;
    UPDATE memories SET uid = 'mem_' || lower(hex(randomblob(8)));
    CREATE UNIQUE INDEX memories_by_uid ON memories(uid);
    """,
]
