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
  {
    version: 3,
    description: 'sending to SdI, notifications, received (passive) invoices, name counters',
    sql: `
      -- Per-trasmittente counters for SdI file names (never reused: SdI code 00002).
      CREATE TABLE counters (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      );

      -- One row per document handed to a channel.
      CREATE TABLE outbound (
        document_id        INTEGER PRIMARY KEY REFERENCES documents(id),
        channel            TEXT NOT NULL,
        sdi_name           TEXT NOT NULL UNIQUE,
        flow               TEXT NOT NULL CHECK (flow IN ('pa', 'b2b')),
        attempts           INTEGER NOT NULL DEFAULT 0,
        next_attempt_at    TEXT NOT NULL,
        in_flight_since    TEXT,
        identificativo_sdi TEXT,
        sent_at            TEXT,
        last_error         TEXT
      );
      CREATE INDEX outbound_idsdi ON outbound(identificativo_sdi);
      CREATE INDEX outbound_due ON outbound(next_attempt_at) WHERE identificativo_sdi IS NULL;

      -- Every message SdI sent us, stored verbatim (path), once (sha256).
      CREATE TABLE notifications (
        id                 INTEGER PRIMARY KEY,
        sha256             TEXT NOT NULL UNIQUE,
        kind               TEXT NOT NULL,
        family             TEXT NOT NULL,
        identificativo_sdi TEXT,
        nome_file          TEXT,
        file_name          TEXT NOT NULL,
        channel            TEXT NOT NULL,
        received_at        TEXT NOT NULL,
        path               TEXT NOT NULL,
        signature          TEXT NOT NULL,
        document_id        INTEGER REFERENCES documents(id),
        outcome            TEXT
      );
      CREATE INDEX notifications_idsdi ON notifications(identificativo_sdi);
      CREATE INDEX notifications_nome ON notifications(nome_file);
      CREATE INDEX notifications_document ON notifications(document_id);

      -- Invoices received from SdI (passive cycle).
      CREATE TABLE passive (
        id                 INTEGER PRIMARY KEY,
        identificativo_sdi TEXT NOT NULL,
        nome_file          TEXT NOT NULL,
        sha256             TEXT NOT NULL,
        channel            TEXT NOT NULL,
        received_at        TEXT NOT NULL,
        path               TEXT NOT NULL,
        metadata_name      TEXT,
        metadata_path      TEXT,
        delivered_path     TEXT,
        valid              INTEGER NOT NULL,
        warnings           TEXT,
        UNIQUE (identificativo_sdi, nome_file)
      );
    `,
  },
  {
    version: 4,
    description: 'transport receipts (PEC), channel state, transport references of sends',
    sql: `
      -- The channel's reference of the last attempt (PEC: its Message-ID), to match receipts.
      ALTER TABLE outbound ADD COLUMN transport_ref TEXT;
      CREATE INDEX outbound_transport_ref ON outbound(transport_ref);

      -- What the transport itself says about a send (PEC: accettazione, avvenuta consegna,
      -- non accettazione, mancata consegna...), stored verbatim (path), once (sha256).
      CREATE TABLE transport_receipts (
        id          INTEGER PRIMARY KEY,
        sha256      TEXT NOT NULL UNIQUE,
        channel     TEXT NOT NULL,
        type        TEXT NOT NULL,
        outcome     TEXT NOT NULL CHECK (outcome IN ('accepted', 'delivered', 'failed', 'warning')),
        ref         TEXT,
        subject     TEXT NOT NULL,
        reason      TEXT,
        at          TEXT,
        received_at TEXT NOT NULL,
        path        TEXT NOT NULL,
        document_id INTEGER REFERENCES documents(id),
        effect      TEXT
      );
      CREATE INDEX transport_receipts_document ON transport_receipts(document_id);

      -- A channel's own durable facts: mailbox high-water marks, the SdI address learnt by PEC.
      CREATE TABLE channel_state (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );

      -- The transport envelope a message came in (PEC: the whole certified mail), kept verbatim.
      ALTER TABLE notifications ADD COLUMN envelope_path TEXT;
      ALTER TABLE passive ADD COLUMN envelope_path TEXT;
    `,
  },
  {
    version: 5,
    description: 'preservation archive: objects, the Merkle log, checkpoints, packages, items, search keys',
    sql: `
      -- Content-addressed blobs under <archive>/objects/ (the files are the evidence).
      CREATE TABLE archive_objects (
        sha256           TEXT PRIMARY KEY,
        size             INTEGER NOT NULL,
        created_at       TEXT NOT NULL,
        last_verified_at TEXT,
        last_status      TEXT
      );
      CREATE INDEX archive_objects_verified ON archive_objects(last_verified_at);

      -- The append-only log: one leaf entry per archived blob (RFC 9162 leaf hash).
      CREATE TABLE archive_log (
        idx        INTEGER PRIMARY KEY,
        entry      BLOB NOT NULL,
        leaf_hash  BLOB NOT NULL,
        kind       TEXT NOT NULL,
        sha256     TEXT NOT NULL,
        ref        TEXT NOT NULL,
        at         TEXT NOT NULL
      );
      CREATE INDEX archive_log_sha256 ON archive_log(sha256);
      CREATE TRIGGER archive_log_no_update BEFORE UPDATE ON archive_log
        BEGIN SELECT RAISE(ABORT, 'the archive log is append-only'); END;
      CREATE TRIGGER archive_log_no_delete BEFORE DELETE ON archive_log
        BEGIN SELECT RAISE(ABORT, 'the archive log is append-only'); END;

      -- Every signed checkpoint issued (also kept as files under <archive>/log/checkpoints/).
      CREATE TABLE archive_checkpoints (
        size      INTEGER PRIMARY KEY,
        root      BLOB NOT NULL,
        note      TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        tsr_sha256 TEXT
      );

      -- Preservation packages: PdV (one per archiving batch, with its rapporto di versamento) and
      -- PdA (closed per the rules, with its UNI SInCRO index).
      CREATE TABLE archive_packages (
        id           INTEGER PRIMARY KEY,
        kind         TEXT NOT NULL CHECK (kind IN ('pdv', 'pda')),
        name         TEXT NOT NULL UNIQUE,
        state        TEXT NOT NULL CHECK (state IN ('open', 'closing', 'closed')),
        pda_id       INTEGER REFERENCES archive_packages(id),
        created_at   TEXT NOT NULL,
        closed_at    TEXT,
        reason       TEXT,
        index_sha256 TEXT,
        signature_sha256 TEXT,
        timestamp_sha256 TEXT,
        files        INTEGER NOT NULL DEFAULT 0
      );

      -- What was archived from the pipeline (once per source row), and where it sits in the log.
      CREATE TABLE archive_items (
        id          INTEGER PRIMARY KEY,
        source      TEXT NOT NULL,
        source_id   INTEGER NOT NULL,
        kind        TEXT NOT NULL,
        name        TEXT NOT NULL,
        sha256      TEXT NOT NULL,
        size        INTEGER NOT NULL,
        leaf_idx    INTEGER NOT NULL,
        pdv_id      INTEGER NOT NULL REFERENCES archive_packages(id),
        document    TEXT NOT NULL,
        metadata    TEXT,
        UNIQUE (source, source_id)
      );
      CREATE INDEX archive_items_document ON archive_items(document);
      CREATE INDEX archive_items_pdv ON archive_items(pdv_id);

      -- The fiscal search keys (DMEF 17 June 2014, art. 3) of every archived invoice.
      CREATE TABLE archive_keys (
        item_id            INTEGER NOT NULL REFERENCES archive_items(id),
        document           TEXT NOT NULL,
        role               TEXT NOT NULL,
        denominazione      TEXT,
        nome               TEXT,
        cognome            TEXT,
        codice_fiscale     TEXT,
        partita_iva        TEXT,
        data               TEXT NOT NULL,
        numero             TEXT NOT NULL,
        tipo_documento     TEXT NOT NULL,
        identificativo_sdi TEXT
      );
      CREATE INDEX archive_keys_den ON archive_keys(denominazione COLLATE NOCASE);
      CREATE INDEX archive_keys_cognome ON archive_keys(cognome COLLATE NOCASE);
      CREATE INDEX archive_keys_cf ON archive_keys(codice_fiscale);
      CREATE INDEX archive_keys_piva ON archive_keys(partita_iva);
      CREATE INDEX archive_keys_data ON archive_keys(data);
      CREATE INDEX archive_keys_numero ON archive_keys(numero);
      CREATE INDEX archive_keys_idsdi ON archive_keys(identificativo_sdi);
    `,
  },
  {
    version: 6,
    description: 'alerts: events waiting to be grouped, messages waiting for their targets',
    sql: `
      -- One row per alertable event seen, until it goes into a message (src/alerts/).
      CREATE TABLE alert_items (
        id      INTEGER PRIMARY KEY,
        kind    TEXT NOT NULL,
        at      TEXT NOT NULL,
        item    TEXT NOT NULL
      );
      CREATE INDEX alert_items_kind ON alert_items(kind, id);

      -- Per event kind: when its last message was made, and how many items were not listed.
      CREATE TABLE alert_kinds (
        kind         TEXT PRIMARY KEY,
        last_sent_at INTEGER NOT NULL DEFAULT 0,
        first_at     INTEGER,
        omitted      INTEGER NOT NULL DEFAULT 0
      );

      -- The bounded queue: one row per message and target, deleted once delivered.
      CREATE TABLE alert_queue (
        id          INTEGER PRIMARY KEY,
        message_id  TEXT NOT NULL,
        target      TEXT NOT NULL,
        kind        TEXT NOT NULL,
        body        TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        next_at     INTEGER NOT NULL,
        last_error  TEXT
      );
      CREATE INDEX alert_queue_next ON alert_queue(next_at);
    `,
  },
  {
    version: 7,
    description: 'outcomes folder: which state changes have their file written for the ERP',
    sql: `
      -- One row per state change whose outcome file was written (src/outcomes/).
      CREATE TABLE outcomes (
        transition_id INTEGER PRIMARY KEY REFERENCES transitions(id),
        file          TEXT NOT NULL,
        written_at    TEXT NOT NULL
      );
      -- The last transition looked at (written, or not an outcome); set when the folder is turned on.
      CREATE TABLE outcome_cursor (
        id              INTEGER PRIMARY KEY CHECK (id = 1),
        after_transition INTEGER NOT NULL
      );
    `,
  },
  {
    version: 8,
    description:
      'received invoices in view (search keys, signature, unwrapped copy); sends held in doubt; operator actions',
    sql: `
      -- A received invoice: when it was written to the import folder, its unwrapped .xml (a .p7m's
      -- content, kept and delivered beside it) and the check of its signature (JSON).
      ALTER TABLE passive ADD COLUMN delivered_at TEXT;
      ALTER TABLE passive ADD COLUMN xml_name TEXT;
      ALTER TABLE passive ADD COLUMN xml_path TEXT;
      ALTER TABLE passive ADD COLUMN xml_delivered_path TEXT;
      ALTER TABLE passive ADD COLUMN signature TEXT;
      CREATE INDEX passive_idsdi ON passive(identificativo_sdi);
      CREATE INDEX passive_nome ON passive(nome_file);

      -- What finds a received invoice: each body's number and date, and its cedente.
      CREATE TABLE passive_keys (
        passive_id     INTEGER NOT NULL REFERENCES passive(id),
        body           INTEGER NOT NULL,
        numero         TEXT NOT NULL,
        data           TEXT NOT NULL,
        tipo_documento TEXT NOT NULL,
        cedente_piva   TEXT,
        cedente_cf     TEXT,
        cedente_name   TEXT,
        PRIMARY KEY (passive_id, body)
      );
      CREATE INDEX passive_keys_numero ON passive_keys(numero);
      CREATE INDEX passive_keys_piva ON passive_keys(cedente_piva);
      CREATE INDEX passive_keys_cf ON passive_keys(cedente_cf);

      -- Why a send waits with no next attempt: 'in-doubt' (an operator must decide) or
      -- 'handed-over' (the transport has it; SdI's first answer comes by itself), and since when.
      ALTER TABLE outbound ADD COLUMN held TEXT;
      ALTER TABLE outbound ADD COLUMN held_at TEXT;
      UPDATE outbound SET held = CASE WHEN transport_ref IS NULL THEN 'in-doubt' ELSE 'handed-over' END
        WHERE next_attempt_at = '9999-12-31T00:00:00.000Z' AND identificativo_sdi IS NULL;

      -- What an operator did to a document (fatturad resend): who, from which host, when.
      CREATE TABLE document_actions (
        id          INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES documents(id),
        action      TEXT NOT NULL,
        at          TEXT NOT NULL,
        actor       TEXT NOT NULL,
        host        TEXT NOT NULL,
        note        TEXT
      );
      CREATE INDEX document_actions_document ON document_actions(document_id, id);
      CREATE TRIGGER document_actions_no_update BEFORE UPDATE ON document_actions
        BEGIN SELECT RAISE(ABORT, 'document actions are append-only'); END;
      CREATE TRIGGER document_actions_no_delete BEFORE DELETE ON document_actions
        BEGIN SELECT RAISE(ABORT, 'document actions are append-only'); END;
    `,
  },
];
