"""The retrieval tables of `outweigh.db`, as numbered migrations of component "retrieval"
(`outweigh.db.migrate`): collections, documents, chunks, their FTS5 index, and who owns and
shares a collection. Each step runs once, in its own transaction; never edit an applied one,
add the next."""

from __future__ import annotations

MIGRATIONS = [
    """
    CREATE TABLE collections (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      embedder TEXT,
      dim INTEGER,
      generation INTEGER NOT NULL DEFAULT 0,  -- bumped on every change; faiss files compare it
      created TEXT NOT NULL DEFAULT (datetime('now'))
    );
    CREATE TABLE documents (
      id INTEGER PRIMARY KEY,
      collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
      source TEXT NOT NULL,
      sha256 TEXT NOT NULL,
      bytes INTEGER NOT NULL,
      n_chunks INTEGER NOT NULL,
      ingested TEXT NOT NULL DEFAULT (datetime('now')),
      UNIQUE (collection_id, source)
    );
    CREATE TABLE chunks (
      id INTEGER PRIMARY KEY,
      document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
      collection_id INTEGER NOT NULL,
      ord INTEGER NOT NULL,
      text TEXT NOT NULL,
      start INTEGER NOT NULL,
      end INTEGER NOT NULL,
      embedding BLOB NOT NULL  -- float32, L2-normalised, dim from collections.dim
    );
    CREATE INDEX chunks_by_document ON chunks(document_id);
    CREATE INDEX chunks_by_collection ON chunks(collection_id);
    -- External-content FTS5: the text is stored once, in chunks; triggers keep the index in step.
    CREATE VIRTUAL TABLE chunks_fts USING fts5(
      text, content='chunks', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
      INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
      INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    """,
    # Chunk ids become AUTOINCREMENT: never reused, so a vector store can sync by id alone
    # (a reused id could otherwise name a new chunk while the index holds the old vector).
    """
    CREATE TABLE chunks_v2 (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
      collection_id INTEGER NOT NULL,
      ord INTEGER NOT NULL,
      text TEXT NOT NULL,
      start INTEGER NOT NULL,
      end INTEGER NOT NULL,
      embedding BLOB NOT NULL
    );
    INSERT INTO chunks_v2 SELECT id, document_id, collection_id, ord, text, start, end, embedding
      FROM chunks;
    DROP TRIGGER chunks_ai;
    DROP TRIGGER chunks_ad;
    DROP TABLE chunks;
    ALTER TABLE chunks_v2 RENAME TO chunks;
    CREATE INDEX chunks_by_document ON chunks(document_id);
    CREATE INDEX chunks_by_collection ON chunks(collection_id);
    CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
      INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
      INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    """,
    # Document frequency of each indexed term, read by `Store.bm25` to pick the query terms.
    """
    CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, 'row');
    """,
    # A second FTS5 column holds each chunk's Snowball stems (text.py), so BM25 matches other
    # word forms; the exact column keeps identifiers, numbers and names. `stems` is NULL until
    # computed: `Store` backfills it from the chunk text when it opens (stemming is Python).
    """
    ALTER TABLE chunks ADD COLUMN stems TEXT;
    DROP TABLE chunks_vocab;
    DROP TRIGGER chunks_ai;
    DROP TRIGGER chunks_ad;
    DROP TABLE chunks_fts;
    CREATE VIRTUAL TABLE chunks_fts USING fts5(
      text, stems, content='chunks', content_rowid='id',
      tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
      INSERT INTO chunks_fts(rowid, text, stems) VALUES (new.id, new.text, new.stems);
    END;
    CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
      INSERT INTO chunks_fts(chunks_fts, rowid, text, stems)
        VALUES ('delete', old.id, old.text, old.stems);
    END;
    CREATE TRIGGER chunks_au AFTER UPDATE OF text, stems ON chunks BEGIN
      INSERT INTO chunks_fts(chunks_fts, rowid, text, stems)
        VALUES ('delete', old.id, old.text, old.stems);
      INSERT INTO chunks_fts(rowid, text, stems) VALUES (new.id, new.text, new.stems);
    END;
    INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild');
    CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, 'row');
    """,
    # Who a collection and a document belong to (users.py has the rules): a collection made
    # by a user's upload is that user's (`owner`; NULL: the operator's, readable by every
    # user), shared per user, read-only or with write; a document records who uploaded it
    # (`uploader`; NULL: the operator).
    """
    ALTER TABLE collections ADD COLUMN owner TEXT;
    ALTER TABLE documents ADD COLUMN uploader TEXT;
    CREATE TABLE collection_shares (
      collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
      user TEXT NOT NULL,
      write INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (collection_id, user)
    );
    """,
    # Where each chunk is in its document (location.py): PDF page, slide, sheet, section
    # heading path, mail subject and date, as JSON; NULL for chunks stored before (and for
    # plain text without headings).
    """
    ALTER TABLE chunks ADD COLUMN location TEXT;
    """,
    # Each chunk's line vectors for context selection (lines.py): its lines' vectors under the
    # collection's embedder as float16, in order; NULL until computed (chunks stored before).
    """
    ALTER TABLE chunks ADD COLUMN lines BLOB;
    """,
]
