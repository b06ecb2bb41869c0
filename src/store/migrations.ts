/**
 * Versioned schema migrations. `PRAGMA user_version` holds the version applied; each
 * migration runs in its own transaction. Never edit a released migration: add a new one.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'intake ledger, documents, append-only transitions',
    sql: `
      CREATE TABLE intake (
        id            INTEGER PRIMARY KEY,
        source_dir    TEXT NOT NULL,
        original_name TEXT NOT NULL,
        source_path   TEXT NOT NULL,
        claimed_path  TEXT NOT NULL,
        sha256        TEXT,
        size          INTEGER,
        status        TEXT NOT NULL CHECK (status IN ('claiming', 'done', 'vanished')),
        outcome       TEXT CHECK (outcome IN ('accepted', 'duplicate', 'rejected')),
        started_at    TEXT NOT NULL,
        finished_at   TEXT
      );
      CREATE INDEX intake_open ON intake(status) WHERE status <> 'done';

      CREATE TABLE documents (
        id               INTEGER PRIMARY KEY,
        intake_id        INTEGER NOT NULL REFERENCES intake(id),
        entry            TEXT NOT NULL DEFAULT '',
        source_dir       TEXT NOT NULL,
        original_name    TEXT NOT NULL,
        sha256           TEXT NOT NULL,
        size             INTEGER NOT NULL,
        received_at      TEXT NOT NULL,
        state            TEXT NOT NULL,
        state_changed_at TEXT NOT NULL,
        path             TEXT,
        duplicate_of     INTEGER REFERENCES documents(id),
        UNIQUE (intake_id, entry)
      );
      CREATE INDEX documents_sha256 ON documents(sha256);
      CREATE INDEX documents_state ON documents(state);
      CREATE INDEX documents_name ON documents(original_name);

      CREATE TABLE transitions (
        id          INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES documents(id),
        from_state  TEXT,
        to_state    TEXT NOT NULL,
        at          TEXT NOT NULL,
        reason      TEXT,
        details     TEXT
      );
      CREATE INDEX transitions_document ON transitions(document_id, id);
      CREATE TRIGGER transitions_no_update BEFORE UPDATE ON transitions
        BEGIN SELECT RAISE(ABORT, 'transitions are append-only'); END;
      CREATE TRIGGER transitions_no_delete BEFORE DELETE ON transitions
        BEGIN SELECT RAISE(ABORT, 'transitions are append-only'); END;
    `,
  },
  {
    version: 2,
    description: 'invoice keys for the uniqueness check (00404)',
    sql: `
      CREATE TABLE invoice_keys (
        document_id INTEGER NOT NULL REFERENCES documents(id),
        body        INTEGER NOT NULL,
        identity    TEXT NOT NULL,
        cedente     TEXT NOT NULL,
        numero      TEXT NOT NULL,
        data        TEXT NOT NULL,
        tipo        TEXT NOT NULL,
        PRIMARY KEY (document_id, body)
      );
      CREATE INDEX invoice_keys_identity ON invoice_keys(identity);
    `,
  },
];
