import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { assertTransition, isState, type DocumentState } from '../lifecycle/states.js';
import { keyIdentity, type InvoiceKey } from '../invoice/keys.js';
import type { Finding } from '../rules/finding.js';
import { MIGRATIONS, type Migration } from './migrations.js';

/** The only module that holds SQL. Every state change is one transaction. */

/** next_attempt_at of a send held with no next attempt (in doubt, or handed over to the transport). */
const HELD_UNTIL = '9999-12-31T00:00:00.000Z';

/**
 * The one shape of a transition's details: an object, its problems (a local rejection's, or SdI's
 * error list in an NS) under `findings`. Stores written before this shape hold a bare array of
 * findings (local rejections) or `{ ..., errors: [...] }` (an NS): both are read as this shape.
 */
export function transitionDetails(details: unknown): unknown {
  if (Array.isArray(details)) return { findings: details.filter(isFindingLike).map(asFinding) };
  if (typeof details !== 'object' || details === null) return details;
  const d = details as Record<string, unknown>;
  if (!('errors' in d) || 'findings' in d || !Array.isArray(d.errors)) return details;
  const { errors, ...rest } = d;
  return { ...rest, findings: (errors as unknown[]).filter(isFindingLike).map(asFinding) };
}

/** The findings in a transition's details, whatever version of fatturad wrote them. */
export function findingsOf(details: unknown): Finding[] {
  const d = transitionDetails(details);
  if (typeof d !== 'object' || d === null) return [];
  const list = (d as { findings?: unknown }).findings;
  return Array.isArray(list) ? list.filter(isFindingLike).map(asFinding) : [];
}

function isFindingLike(v: unknown): v is Partial<Finding> & { code: string } {
  return typeof v === 'object' && v !== null && typeof (v as { code?: unknown }).code === 'string';
}

function asFinding(f: Partial<Finding> & { code: string }): Finding {
  return { ...f, message: f.message ?? '', messageIt: f.messageIt ?? '' };
}

/** A details column that is not JSON (hand-edited, truncated) reads as no details. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

export interface ClaimIntent {
  sourceDir: string;
  originalName: string;
  sourcePath: string;
}

export interface IntakeRow extends ClaimIntent {
  id: number;
  claimedPath: string;
  /** Known once the claimed file was hashed, at the end of the claim. */
  sha256: string | null;
  size: number | null;
  status: 'claiming' | 'done' | 'vanished';
  outcome: 'accepted' | 'duplicate' | 'rejected' | null;
  startedAt: string;
  finishedAt: string | null;
}

export interface NewDocument {
  /** Zip entry name; '' for a plain file. */
  entry: string;
  originalName: string;
  sha256: string;
  size: number;
  state: DocumentState;
  path: string | null;
  duplicateOf?: number | null;
  reason: string;
  findings?: Finding[];
}

export interface ClaimResult {
  intakeId: number;
  sha256: string;
  size: number;
  outcome: 'accepted' | 'duplicate' | 'rejected';
  documents: NewDocument[];
}

export interface DocumentRow {
  id: number;
  intakeId: number;
  entry: string;
  sourceDir: string;
  originalName: string;
  sha256: string;
  size: number;
  receivedAt: string;
  state: DocumentState;
  stateChangedAt: string;
  path: string | null;
  duplicateOf: number | null;
}

export interface TransitionRow {
  id: number;
  documentId: number;
  from: DocumentState | null;
  to: DocumentState;
  at: string;
  reason: string | null;
  details: unknown;
}

export interface LatestError {
  documentId: number;
  originalName: string;
  entry: string;
  at: string;
  reason: string | null;
  findings: Finding[];
}

interface DocumentDb {
  id: number;
  intake_id: number;
  entry: string;
  source_dir: string;
  original_name: string;
  sha256: string;
  size: number;
  received_at: string;
  state: string;
  state_changed_at: string;
  path: string | null;
  duplicate_of: number | null;
}

interface IntakeDb {
  id: number;
  source_dir: string;
  original_name: string;
  source_path: string;
  claimed_path: string;
  sha256: string | null;
  size: number | null;
  status: IntakeRow['status'];
  outcome: IntakeRow['outcome'];
  started_at: string;
  finished_at: string | null;
}

export interface OutboundRow {
  documentId: number;
  channel: string;
  sdiName: string;
  flow: 'pa' | 'b2b';
  attempts: number;
  nextAttemptAt: string;
  inFlightSince: string | null;
  identificativoSdI: string | null;
  sentAt: string | null;
  lastError: string | null;
  /** The channel's reference of the last attempt (PEC: its Message-ID). */
  transportRef: string | null;
}

interface OutboundDb {
  document_id: number;
  channel: string;
  sdi_name: string;
  flow: 'pa' | 'b2b';
  attempts: number;
  next_attempt_at: string;
  in_flight_since: string | null;
  identificativo_sdi: string | null;
  sent_at: string | null;
  last_error: string | null;
  transport_ref: string | null;
}

function outboundFromDb(r: OutboundDb): OutboundRow {
  return {
    documentId: r.document_id,
    channel: r.channel,
    sdiName: r.sdi_name,
    flow: r.flow,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    inFlightSince: r.in_flight_since,
    identificativoSdI: r.identificativo_sdi,
    sentAt: r.sent_at,
    lastError: r.last_error,
    transportRef: r.transport_ref,
  };
}

export interface NewNotification {
  sha256: string;
  kind: string;
  family: string;
  identificativoSdI: string | null;
  nomeFile: string | null;
  fileName: string;
  channel: string;
  path: string;
  signature: string;
  /** The transport envelope it came in (PEC), kept verbatim. */
  envelopePath?: string | null;
}

export interface NotificationRow extends NewNotification {
  id: number;
  receivedAt: string;
  documentId: number | null;
  outcome: string | null;
}

interface NotificationDb {
  id: number;
  sha256: string;
  kind: string;
  family: string;
  identificativo_sdi: string | null;
  nome_file: string | null;
  file_name: string;
  channel: string;
  received_at: string;
  path: string;
  signature: string;
  document_id: number | null;
  outcome: string | null;
  envelope_path: string | null;
}

function notificationFromDb(r: NotificationDb): NotificationRow {
  return {
    id: r.id,
    sha256: r.sha256,
    kind: r.kind,
    family: r.family,
    identificativoSdI: r.identificativo_sdi,
    nomeFile: r.nome_file,
    fileName: r.file_name,
    channel: r.channel,
    receivedAt: r.received_at,
    path: r.path,
    signature: r.signature,
    documentId: r.document_id,
    outcome: r.outcome,
    envelopePath: r.envelope_path,
  };
}

export interface NewPassive {
  identificativoSdI: string;
  nomeFile: string;
  sha256: string;
  channel: string;
  path: string;
  metadataName: string | null;
  metadataPath: string | null;
  valid: boolean;
  warnings: unknown;
  /** The transport envelope it came in (PEC), kept verbatim. */
  envelopePath?: string | null;
  /** A .p7m's unwrapped content: its name and where it is kept (null: not unwrapped). */
  xmlName?: string | null;
  xmlPath?: string | null;
  signature?: ReceivedSignature | null;
  keys?: PassiveKey[];
}

export interface PassiveRow extends NewPassive {
  id: number;
  receivedAt: string;
  deliveredPath: string | null;
  /** When it was written into the import folder. */
  deliveredAt: string | null;
  /** Where its unwrapped .xml (a .p7m's content) was written beside it. */
  xmlDeliveredPath: string | null;
}

/** One body of a received invoice, with its cedente: what `fatturad show` finds it by. */
export interface PassiveKey {
  body: number;
  numero: string;
  data: string;
  tipoDocumento: string;
  cedentePiva: string | null;
  cedenteCf: string | null;
  cedenteName: string | null;
}

/** The check of a received .p7m's signature, as recorded (src/pipeline/received-p7m.ts). */
export interface ReceivedSignature {
  /** valid: verifies (issuer trusted or not checked); invalid: does not verify; unreadable: no content. */
  status: 'valid' | 'invalid' | 'unreadable';
  issuer: 'trusted' | 'untrusted' | 'not-checked';
  signers: { subject: string; issuer: string; signingTime: string | null }[];
  findings: Finding[];
  checkedAt: string;
}

/** A send held with no next attempt until SdI answers or an operator decides (fatturad resend). */
export interface InDoubtSend {
  documentId: number;
  originalName: string;
  entry: string;
  sdiName: string;
  channel: string;
  attempts: number;
  /** Since when it is held (the last state change before migration 8 recorded it). */
  since: string;
  note: string | null;
}

/** What an operator did to a document, with who and when. */
export interface DocumentAction {
  id: number;
  documentId: number;
  action: string;
  at: string;
  actor: string;
  host: string;
  note: string | null;
}

export interface NewTransportReceipt {
  sha256: string;
  channel: string;
  /** The transport's own word, e.g. accettazione, avvenuta-consegna, errore-consegna. */
  type: string;
  outcome: 'accepted' | 'delivered' | 'failed' | 'warning';
  ref: string | null;
  subject: string;
  reason: string | null;
  /** When the transport says it happened (ISO 8601), if it says. */
  at: string | null;
  path: string;
}

export interface TransportReceiptRow extends NewTransportReceipt {
  id: number;
  receivedAt: string;
  documentId: number | null;
  effect: string | null;
}

interface TransportReceiptDb {
  id: number;
  sha256: string;
  channel: string;
  type: string;
  outcome: TransportReceiptRow['outcome'];
  ref: string | null;
  subject: string;
  reason: string | null;
  at: string | null;
  received_at: string;
  path: string;
  document_id: number | null;
  effect: string | null;
}

function receiptFromDb(r: TransportReceiptDb): TransportReceiptRow {
  return {
    id: r.id,
    sha256: r.sha256,
    channel: r.channel,
    type: r.type,
    outcome: r.outcome,
    ref: r.ref,
    subject: r.subject,
    reason: r.reason,
    at: r.at,
    receivedAt: r.received_at,
    path: r.path,
    documentId: r.document_id,
    effect: r.effect,
  };
}

export class StoreError extends Error {
  override name = 'StoreError';
}

function toState(s: string): DocumentState {
  if (!isState(s)) throw new StoreError(`unknown document state in the store: ${s}`);
  return s;
}

function docFromDb(r: DocumentDb): DocumentRow {
  return {
    id: r.id,
    intakeId: r.intake_id,
    entry: r.entry,
    sourceDir: r.source_dir,
    originalName: r.original_name,
    sha256: r.sha256,
    size: r.size,
    receivedAt: r.received_at,
    state: toState(r.state),
    stateChangedAt: r.state_changed_at,
    path: r.path,
    duplicateOf: r.duplicate_of,
  };
}

function intakeFromDb(r: IntakeDb): IntakeRow {
  return {
    id: r.id,
    sourceDir: r.source_dir,
    originalName: r.original_name,
    sourcePath: r.source_path,
    claimedPath: r.claimed_path,
    sha256: r.sha256,
    size: r.size,
    status: r.status,
    outcome: r.outcome,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

export interface StoreOptions {
  readonly?: boolean;
  now?: () => Date;
}

const statementCaches = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** A prepared statement by its SQL text, compiled once per connection (compiling costs more than running). */
export function prepared(db: Database.Database, text: string): Database.Statement {
  let cache = statementCaches.get(db);
  if (!cache) statementCaches.set(db, (cache = new Map<string, Database.Statement>()));
  let s = cache.get(text);
  if (!s) {
    s = db.prepare(text);
    cache.set(text, s);
  }
  return s;
}

export class Store {
  readonly db: Database.Database;
  private readonly now: () => Date;

  constructor(
    readonly file: string,
    opts: StoreOptions = {},
  ) {
    this.now = opts.now ?? (() => new Date());
    if (opts.readonly) {
      if (!fs.existsSync(file)) throw new StoreError(`no store at ${file} (has the daemon ever run here?)`);
      this.db = new Database(file, { readonly: true, fileMustExist: true });
      this.db.pragma('busy_timeout = 5000');
      return;
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: a committed transaction survives power loss, not only a process crash.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate(MIGRATIONS);
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  migrate(migrations: readonly Migration[]): void {
    const current = this.schemaVersion;
    const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
    if (current > latest) {
      throw new StoreError(
        `the store has schema version ${current}, newer than this fatturad knows (${latest}): upgrade fatturad`,
      );
    }
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (m.version <= current) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.pragma(`user_version = ${m.version}`);
      })();
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Runs `fn` in one transaction (a savepoint inside another): its writes commit together. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * A statement prepared once and kept, for the ones every inbound message runs (compiling a
   * statement costs more than running it).
   */
  private sql(text: string): Database.Statement {
    return prepared(this.db, text);
  }

  integrityCheck(): string {
    return this.db.pragma('integrity_check', { simple: true }) as string;
  }

  private stamp(): string {
    return this.now().toISOString();
  }

  // ---- intake ledger -------------------------------------------------------------------------

  /**
   * Records the intent to claim, before any file moves: one transaction for the batch. The
   * claimed path is derived from the new row's id, so a crash after the move finds the file.
   */
  beginClaims(
    intents: readonly ClaimIntent[],
    claimedPathFor: (id: number, i: ClaimIntent) => string,
  ): IntakeRow[] {
    const insert = this.db.prepare(
      `INSERT INTO intake (source_dir, original_name, source_path, claimed_path, status, started_at)
       VALUES (@sourceDir, @originalName, @sourcePath, '', 'claiming', @at)`,
    );
    const setPath = this.db.prepare(`UPDATE intake SET claimed_path = ? WHERE id = ?`);
    const at = this.stamp();
    return this.db.transaction(() =>
      intents.map((i): IntakeRow => {
        const id = Number(insert.run({ ...i, at }).lastInsertRowid);
        const claimedPath = claimedPathFor(id, i);
        setPath.run(claimedPath, id);
        return {
          ...i,
          id,
          claimedPath,
          sha256: null,
          size: null,
          status: 'claiming',
          outcome: null,
          startedAt: at,
          finishedAt: null,
        };
      }),
    )();
  }

  /** Forgets intents whose file never moved (it is still in the drop folder). */
  abandonClaims(ids: readonly number[]): void {
    const del = this.db.prepare(`DELETE FROM intake WHERE id = ? AND status = 'claiming'`);
    this.db.transaction(() => ids.forEach((id) => del.run(id)))();
  }

  markVanished(id: number): void {
    this.db
      .prepare(`UPDATE intake SET status = 'vanished', finished_at = ? WHERE id = ? AND status = 'claiming'`)
      .run(this.stamp(), id);
  }

  openClaims(): IntakeRow[] {
    return (
      this.db.prepare(`SELECT * FROM intake WHERE status = 'claiming' ORDER BY id`).all() as IntakeDb[]
    ).map(intakeFromDb);
  }

  getIntake(id: number): IntakeRow | undefined {
    const r = this.db.prepare(`SELECT * FROM intake WHERE id = ?`).get(id) as IntakeDb | undefined;
    return r && intakeFromDb(r);
  }

  /** Every path under folder `dir` that the store refers to: claimed files and documents' files. */
  pathsUnder(dir: string): Set<string> {
    const prefix = dir.endsWith(path.sep) ? dir : `${dir}${path.sep}`;
    const rows = this.db
      .prepare(
        `SELECT claimed_path AS p FROM intake WHERE substr(claimed_path, 1, length(@dir)) = @dir
         UNION ALL SELECT path AS p FROM documents WHERE path IS NOT NULL AND substr(path, 1, length(@dir)) = @dir`,
      )
      .all({ dir: prefix }) as { p: string }[];
    return new Set(rows.map((r) => r.p));
  }

  /** Claims finished in one transaction: documents created, first transitions written, ledger closed. */
  finishClaims(results: readonly ClaimResult[]): Map<number, number[]> {
    const getIntake = this.db.prepare(`SELECT * FROM intake WHERE id = ?`);
    const insertDoc = this.db.prepare(
      `INSERT INTO documents (intake_id, entry, source_dir, original_name, sha256, size, received_at,
                              state, state_changed_at, path, duplicate_of)
       VALUES (@intakeId, @entry, @sourceDir, @originalName, @sha256, @size, @at, @state, @at, @path, @duplicateOf)`,
    );
    const close = this.db.prepare(
      `UPDATE intake SET status = 'done', outcome = ?, sha256 = ?, size = ?, finished_at = ?
        WHERE id = ? AND status = 'claiming'`,
    );
    const at = this.stamp();
    const ids = new Map<number, number[]>();
    this.db.transaction(() => {
      for (const r of results) {
        const intake = getIntake.get(r.intakeId) as IntakeDb | undefined;
        if (!intake || intake.status !== 'claiming') {
          throw new StoreError(`intake ${r.intakeId} is not an open claim`);
        }
        const docIds: number[] = [];
        for (const d of r.documents) {
          assertTransition(null, d.state);
          const id = Number(
            insertDoc.run({
              intakeId: r.intakeId,
              entry: d.entry,
              sourceDir: intake.source_dir,
              originalName: d.originalName,
              sha256: d.sha256,
              size: d.size,
              at,
              state: d.state,
              path: d.path,
              duplicateOf: d.duplicateOf ?? null,
            }).lastInsertRowid,
          );
          this.insertTransition(id, null, d.state, at, d.reason, d.findings);
          docIds.push(id);
        }
        close.run(r.outcome, r.sha256, r.size, at, r.intakeId);
        ids.set(r.intakeId, docIds);
      }
    })();
    return ids;
  }

  private insertTransition(
    documentId: number,
    from: DocumentState | null,
    to: DocumentState,
    at: string,
    reason: string | null,
    details: unknown,
  ): void {
    this.sql(
      `INSERT INTO transitions (document_id, from_state, to_state, at, reason, details) VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(
      documentId,
      from,
      to,
      at,
      reason,
      details === undefined ? null : JSON.stringify(transitionDetails(details)),
    );
  }

  // ---- documents -----------------------------------------------------------------------------

  /** Moves a document to a new state through the state machine, with its history, atomically. */
  transition(
    documentId: number,
    to: DocumentState,
    reason: string,
    details?: unknown,
    changes: { path?: string | null } = {},
  ): DocumentRow {
    return this.db.transaction(() => {
      const doc = this.getDocument(documentId);
      if (!doc) throw new StoreError(`no document ${documentId}`);
      assertTransition(doc.state, to);
      const at = this.stamp();
      this.sql(
        `UPDATE documents SET state = ?, state_changed_at = ?, path = coalesce(?, path) WHERE id = ?`,
      ).run(to, at, changes.path ?? null, documentId);
      this.insertTransition(documentId, doc.state, to, at, reason, details);
      return { ...doc, state: to, stateChangedAt: at, path: changes.path ?? doc.path };
    })();
  }

  /** received -> validated, with the invoice keys that later files are compared with (00404). */
  markValidated(
    documentId: number,
    keys: readonly InvoiceKey[],
    reason: string,
    details?: unknown,
  ): DocumentRow {
    const insert = this.db.prepare(
      `INSERT OR REPLACE INTO invoice_keys (document_id, body, identity, cedente, numero, data, tipo)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    return this.db.transaction(() => {
      for (const k of keys)
        insert.run(documentId, k.body, keyIdentity(k), k.cedente, k.numero, k.data, k.tipoDocumento);
      return this.transition(documentId, 'validated', reason, details);
    })();
  }

  /**
   * Invoices already taken (and neither rejected nor duplicate) with the same identity as `keys`:
   * what SdI would call a duplicate (00404). `exceptDocument` is the document being checked.
   */
  findSentKeys(
    keys: readonly InvoiceKey[],
    exceptDocument?: number,
  ): { key: InvoiceKey; documentId: number; name: string }[] {
    const q = this.sql(
      `SELECT k.document_id AS id, d.original_name AS name FROM invoice_keys k JOIN documents d ON d.id = k.document_id
        WHERE k.identity = ? AND d.state NOT IN ('rejected', 'duplicate', 'failed', 'refused') AND d.id <> ? LIMIT 1`,
    );
    return keys.flatMap((key) => {
      const hit = q.get(keyIdentity(key), exceptDocument ?? -1) as { id: number; name: string } | undefined;
      return hit ? [{ key, documentId: hit.id, name: hit.name }] : [];
    });
  }

  documentsOfIntake(intakeId: number): DocumentRow[] {
    return (
      this.db.prepare(`SELECT * FROM documents WHERE intake_id = ? ORDER BY id`).all(intakeId) as DocumentDb[]
    ).map(docFromDb);
  }

  getDocument(id: number): DocumentRow | undefined {
    const r = this.sql(`SELECT * FROM documents WHERE id = ?`).get(id) as DocumentDb | undefined;
    return r && docFromDb(r);
  }

  /** Documents by original name (or zip entry name), newest first. */
  findDocumentsByName(name: string): DocumentRow[] {
    return (
      this.db
        .prepare(`SELECT * FROM documents WHERE original_name = ? OR entry = ? ORDER BY id DESC`)
        .all(name, name) as DocumentDb[]
    ).map(docFromDb);
  }

  /** The live document with this content, if any: rejected and duplicate ones do not count. */
  findLiveBySha256(sha256: string): DocumentRow | undefined {
    const r = this.db
      .prepare(
        `SELECT * FROM documents WHERE sha256 = ? AND state NOT IN ('rejected', 'duplicate') ORDER BY id LIMIT 1`,
      )
      .get(sha256) as DocumentDb | undefined;
    return r && docFromDb(r);
  }

  listDocuments(state?: DocumentState): DocumentRow[] {
    const rows = state
      ? this.db.prepare(`SELECT * FROM documents WHERE state = ? ORDER BY id`).all(state)
      : this.db.prepare(`SELECT * FROM documents ORDER BY id`).all();
    return (rows as DocumentDb[]).map(docFromDb);
  }

  timeline(documentId: number): TransitionRow[] {
    const rows = this.db
      .prepare(`SELECT * FROM transitions WHERE document_id = ? ORDER BY id`)
      .all(documentId) as {
      id: number;
      document_id: number;
      from_state: string | null;
      to_state: string;
      at: string;
      reason: string | null;
      details: string | null;
    }[];
    return rows.map((r) => ({
      id: r.id,
      documentId: r.document_id,
      from: r.from_state === null ? null : toState(r.from_state),
      to: toState(r.to_state),
      at: r.at,
      reason: r.reason,
      details: r.details === null ? null : transitionDetails(parseJson(r.details)),
    }));
  }

  countsByState(): Record<string, number> {
    const rows = this.db.prepare(`SELECT state, count(*) AS n FROM documents GROUP BY state`).all() as {
      state: string;
      n: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  openClaimCount(): number {
    return (
      this.db.prepare(`SELECT count(*) AS n FROM intake WHERE status = 'claiming'`).get() as { n: number }
    ).n;
  }

  latestErrors(limit = 10): LatestError[] {
    const rows = this.db
      .prepare(
        `SELECT d.id, d.original_name, d.entry, t.at, t.reason, t.details
           FROM transitions t JOIN documents d ON d.id = t.document_id
          WHERE t.to_state = 'rejected'
          ORDER BY t.id DESC LIMIT ?`,
      )
      .all(limit) as {
      id: number;
      original_name: string;
      entry: string;
      at: string;
      reason: string | null;
      details: string | null;
    }[];
    return rows.map((r) => ({
      documentId: r.id,
      originalName: r.original_name,
      entry: r.entry,
      at: r.at,
      reason: r.reason,
      findings: r.details ? findingsOf(parseJson(r.details)) : [],
    }));
  }

  // ---- sending --------------------------------------------------------------------------------

  /**
   * The next SdI file name for a trasmittente (`IT01234567890`): `<trasmittente>_<progressivo>`,
   * the progressivo a persisted base-36 counter of five characters, skipping names already used.
   * Runs inside the caller's transaction when there is one.
   */
  nextSdiName(trasmittente: string, extension: string): string {
    const get = this.db.prepare(`SELECT value FROM counters WHERE name = ?`);
    const set = this.db.prepare(
      `INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value`,
    );
    const used = this.db.prepare(`SELECT 1 FROM outbound WHERE lower(sdi_name) = lower(?)`);
    return this.db.transaction(() => {
      const key = `sdi-name:${trasmittente}`;
      let n = ((get.get(key) as { value: number } | undefined)?.value ?? 0) + 1;
      for (;;) {
        if (n >= 36 ** 5) throw new StoreError(`no SdI file names left for ${trasmittente}`);
        const name = `${trasmittente}_${n.toString(36).toUpperCase().padStart(5, '0')}${extension}`;
        if (!used.get(name)) {
          set.run(key, n);
          return name;
        }
        n++;
      }
    })();
  }

  /** Whether an SdI file name was ever used for a document sent (or being sent). */
  sdiNameUsed(name: string): boolean {
    return this.db.prepare(`SELECT 1 FROM outbound WHERE lower(sdi_name) = lower(?)`).get(name) !== undefined;
  }

  /** validated -> sending, with the SdI file name it will travel under: one transaction. */
  beginSending(
    documentId: number,
    o: { channel: string; sdiName: string | ((store: Store) => string); flow: 'pa' | 'b2b' },
  ): OutboundRow {
    return this.db.transaction(() => {
      const sdiName = typeof o.sdiName === 'function' ? o.sdiName(this) : o.sdiName;
      const at = this.stamp();
      this.db
        .prepare(
          `INSERT INTO outbound (document_id, channel, sdi_name, flow, next_attempt_at) VALUES (?, ?, ?, ?, ?)`,
        )
        .run(documentId, o.channel, sdiName, o.flow, at);
      this.transition(documentId, 'sending', `to SdI as ${sdiName} by ${o.channel}`, {
        sdiName,
        flow: o.flow,
      });
      return this.getOutbound(documentId) as OutboundRow;
    })();
  }

  getOutbound(documentId: number): OutboundRow | undefined {
    const r = this.sql(`SELECT * FROM outbound WHERE document_id = ?`).get(documentId) as
      OutboundDb | undefined;
    return r && outboundFromDb(r);
  }

  findOutboundBySdiName(name: string): OutboundRow | undefined {
    const r = this.sql(`SELECT * FROM outbound WHERE lower(sdi_name) = lower(?)`).get(name) as
      OutboundDb | undefined;
    return r && outboundFromDb(r);
  }

  findOutboundByIdSdI(identificativoSdI: string): OutboundRow | undefined {
    const r = this.sql(`SELECT * FROM outbound WHERE identificativo_sdi = ?`).get(identificativoSdI) as
      OutboundDb | undefined;
    return r && outboundFromDb(r);
  }

  /** Documents in `sending` whose next attempt is due and that are not in flight. */
  dueSends(now: Date, limit = 100): OutboundRow[] {
    return (
      this.db
        .prepare(
          `SELECT o.* FROM outbound o JOIN documents d ON d.id = o.document_id
            WHERE d.state = 'sending' AND o.identificativo_sdi IS NULL AND o.in_flight_since IS NULL
              AND o.next_attempt_at <= ? ORDER BY o.next_attempt_at LIMIT ?`,
        )
        .all(now.toISOString(), limit) as OutboundDb[]
    ).map(outboundFromDb);
  }

  /** Sends that were in flight when the daemon stopped: their outcome at SdI is unknown. */
  inFlightSends(): OutboundRow[] {
    return (
      this.db
        .prepare(
          `SELECT o.* FROM outbound o JOIN documents d ON d.id = o.document_id
            WHERE d.state = 'sending' AND o.in_flight_since IS NOT NULL`,
        )
        .all() as OutboundDb[]
    ).map(outboundFromDb);
  }

  /** The attempt is about to start: committed before any byte goes out. */
  markAttempt(documentId: number): OutboundRow {
    this.db
      .prepare(`UPDATE outbound SET attempts = attempts + 1, in_flight_since = ? WHERE document_id = ?`)
      .run(this.stamp(), documentId);
    return this.getOutbound(documentId) as OutboundRow;
  }

  /** A temporary failure: the next attempt at `next`. */
  scheduleRetry(documentId: number, error: string, next: Date): void {
    this.db
      .prepare(
        `UPDATE outbound SET in_flight_since = NULL, last_error = ?, next_attempt_at = ?, held = NULL, held_at = NULL
          WHERE document_id = ?`,
      )
      .run(error, next.toISOString(), documentId);
  }

  /**
   * Leaves an in-doubt send alone until SdI's answer or an operator decides (no automatic resend).
   * `handedOver`: the transport has the file (PEC) and SdI's first answer comes by itself; not a
   * send in doubt for `fatturad status`.
   */
  holdInDoubt(documentId: number, note: string, o: { handedOver?: boolean } = {}): void {
    this.db
      .prepare(
        `UPDATE outbound SET last_error = ?, in_flight_since = NULL, next_attempt_at = '${HELD_UNTIL}',
           held = ?, held_at = ? WHERE document_id = ?`,
      )
      .run(note, o.handedOver ? 'handed-over' : 'in-doubt', this.stamp(), documentId);
  }

  /**
   * Sends held in doubt (not handed over), oldest first. A store the daemon has not migrated yet
   * (a newer command, the daemon not restarted) is read as migration 8 reads it.
   */
  inDoubtSends(): InDoubtSend[] {
    const v8 = this.schemaVersion >= 8;
    const held = v8
      ? `coalesce(o.held, 'in-doubt')`
      : `CASE WHEN o.transport_ref IS NULL THEN 'in-doubt' END`;
    return this.db
      .prepare(
        `SELECT o.document_id AS documentId, d.original_name AS originalName, d.entry, o.sdi_name AS sdiName,
                  o.channel, o.attempts, ${v8 ? 'coalesce(o.held_at, d.state_changed_at)' : 'd.state_changed_at'} AS since,
                  o.last_error AS note
             FROM outbound o JOIN documents d ON d.id = o.document_id
            WHERE d.state = 'sending' AND o.identificativo_sdi IS NULL AND o.next_attempt_at = '${HELD_UNTIL}'
              AND ${held} = 'in-doubt'
            ORDER BY since, o.document_id`,
      )
      .all() as InDoubtSend[];
  }

  /** An operator's resend of a send in doubt: scheduled now and recorded with who and when, in one transaction. */
  resendInDoubt(documentId: number, who: { actor: string; host: string }): DocumentAction {
    return this.transaction(() => {
      this.scheduleRetry(documentId, 'resend asked by an operator', new Date());
      return this.recordAction(documentId, 'resend', who, 'sent again at the next pass of the daemon');
    });
  }

  /** Records what an operator did to a document (append-only). */
  recordAction(
    documentId: number,
    action: string,
    who: { actor: string; host: string },
    note: string | null = null,
  ): DocumentAction {
    const at = this.stamp();
    const info = this.db
      .prepare(
        `INSERT INTO document_actions (document_id, action, at, actor, host, note) VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(documentId, action, at, who.actor, who.host, note);
    return {
      id: Number(info.lastInsertRowid),
      documentId,
      action,
      at,
      actor: who.actor,
      host: who.host,
      note,
    };
  }

  actionsOf(documentId: number): DocumentAction[] {
    return this.db
      .prepare(
        `SELECT id, document_id AS documentId, action, at, actor, host, note
           FROM document_actions WHERE document_id = ? ORDER BY id`,
      )
      .all(documentId) as DocumentAction[];
  }

  /** The send journal witnessed `attempts` attempts (src/store/journal.ts): the store counts at least as many. */
  raiseAttempts(documentId: number, attempts: number): void {
    this.db
      .prepare(`UPDATE outbound SET attempts = max(attempts, ?) WHERE document_id = ?`)
      .run(attempts, documentId);
  }

  /** SdI took the file: sending -> sent with its IdentificativoSdI (or only the id, if an answer came first). */
  recordSent(documentId: number, identificativoSdI: string, details?: unknown): DocumentRow {
    return this.db.transaction(() => {
      const at = this.stamp();
      this.db
        .prepare(
          `UPDATE outbound SET identificativo_sdi = ?, sent_at = ?, in_flight_since = NULL, last_error = NULL
            WHERE document_id = ?`,
        )
        .run(identificativoSdI, at, documentId);
      const doc = this.getDocument(documentId);
      if (!doc) throw new StoreError(`no document ${documentId}`);
      if (doc.state !== 'sending') return doc;
      return this.transition(documentId, 'sent', `IdentificativoSdI ${identificativoSdI}`, {
        identificativoSdI,
        ...(details !== undefined ? { details } : {}),
      });
    })();
  }

  /** SdI refused to take the file, or it can never be sent: sending -> failed. */
  recordFailed(documentId: number, reason: string, details?: unknown): DocumentRow {
    return this.db.transaction(() => {
      this.db
        .prepare(`UPDATE outbound SET in_flight_since = NULL, last_error = ? WHERE document_id = ?`)
        .run(reason, documentId);
      return this.transition(documentId, 'failed', reason, details);
    })();
  }

  // ---- notifications ----------------------------------------------------------------------------

  /** Stores a message once (by sha256); `isNew` is false when it was already there. */
  addNotification(n: NewNotification): { row: NotificationRow; isNew: boolean } {
    const info = this.sql(
      `INSERT OR IGNORE INTO notifications
           (sha256, kind, family, identificativo_sdi, nome_file, file_name, channel, received_at, path, signature,
            envelope_path)
         VALUES (@sha256, @kind, @family, @identificativoSdI, @nomeFile, @fileName, @channel, @at, @path, @signature,
            @envelopePath)`,
    ).run({ ...n, envelopePath: n.envelopePath ?? null, at: this.stamp() });
    const row = this.sql(`SELECT * FROM notifications WHERE sha256 = ?`).get(n.sha256) as NotificationDb;
    return { row: notificationFromDb(row), isNew: info.changes > 0 };
  }

  /**
   * Records what a notification did: links it to its document and, when `to` is given, moves the
   * document in the same transaction.
   */
  applyNotification(
    notificationId: number,
    documentId: number,
    outcome: string,
    to?: { state: DocumentState; reason: string; details?: unknown; path?: string },
  ): void {
    this.db.transaction(() => {
      this.sql(`UPDATE notifications SET document_id = ?, outcome = ? WHERE id = ?`).run(
        documentId,
        outcome,
        notificationId,
      );
      if (to) this.transition(documentId, to.state, to.reason, to.details, to.path ? { path: to.path } : {});
    })();
  }

  /** Records what a notification did without moving any document (kept, unchanged, recorded). */
  applyNotificationOutcome(notificationId: number, outcome: string, documentId?: number): void {
    this.sql(`UPDATE notifications SET outcome = ?, document_id = coalesce(?, document_id) WHERE id = ?`).run(
      outcome,
      documentId ?? null,
      notificationId,
    );
  }

  /** Notifications not yet linked to a document (arrived before the send was recorded, or unknown). */
  unmatchedNotifications(): NotificationRow[] {
    return (
      this.db
        .prepare(`SELECT * FROM notifications WHERE document_id IS NULL ORDER BY id`)
        .all() as NotificationDb[]
    ).map(notificationFromDb);
  }

  notificationsOf(documentId: number): NotificationRow[] {
    return (
      this.db
        .prepare(`SELECT * FROM notifications WHERE document_id = ? ORDER BY id`)
        .all(documentId) as NotificationDb[]
    ).map(notificationFromDb);
  }

  // ---- received invoices (passive cycle) -------------------------------------------------------

  /** Records a received invoice once per (IdentificativoSdI, NomeFile); null if already known. */
  addPassive(p: NewPassive): PassiveRow | null {
    return this.transaction(() => {
      const { keys, ...row } = p;
      const info = this.db
        .prepare(
          `INSERT OR IGNORE INTO passive (identificativo_sdi, nome_file, sha256, channel, received_at, path,
             metadata_name, metadata_path, valid, warnings, envelope_path, xml_name, xml_path, signature)
           VALUES (@identificativoSdI, @nomeFile, @sha256, @channel, @at, @path, @metadataName, @metadataPath, @valid,
             @warnings, @envelopePath, @xmlName, @xmlPath, @signature)`,
        )
        .run({
          ...row,
          at: this.stamp(),
          valid: p.valid ? 1 : 0,
          warnings: JSON.stringify(p.warnings ?? []),
          envelopePath: p.envelopePath ?? null,
          xmlName: p.xmlName ?? null,
          xmlPath: p.xmlPath ?? null,
          signature: p.signature ? JSON.stringify(p.signature) : null,
        });
      if (info.changes === 0) return null;
      const id = Number(info.lastInsertRowid);
      const add = this.db.prepare(
        `INSERT OR IGNORE INTO passive_keys (passive_id, body, numero, data, tipo_documento, cedente_piva, cedente_cf,
           cedente_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const k of keys ?? [])
        add.run(id, k.body, k.numero, k.data, k.tipoDocumento, k.cedentePiva, k.cedenteCf, k.cedenteName);
      return this.getPassive(id) ?? null;
    });
  }

  getPassive(id: number): PassiveRow | undefined {
    const r = this.db.prepare(`SELECT * FROM passive WHERE id = ?`).get(id) as
      | {
          id: number;
          identificativo_sdi: string;
          nome_file: string;
          sha256: string;
          channel: string;
          received_at: string;
          path: string;
          metadata_name: string | null;
          metadata_path: string | null;
          delivered_path: string | null;
          valid: number;
          warnings: string | null;
          envelope_path: string | null;
          delivered_at: string | null;
          xml_name: string | null;
          xml_path: string | null;
          xml_delivered_path: string | null;
          signature: string | null;
        }
      | undefined;
    return (
      r && {
        id: r.id,
        identificativoSdI: r.identificativo_sdi,
        nomeFile: r.nome_file,
        sha256: r.sha256,
        channel: r.channel,
        receivedAt: r.received_at,
        path: r.path,
        metadataName: r.metadata_name,
        metadataPath: r.metadata_path,
        deliveredPath: r.delivered_path,
        valid: r.valid === 1,
        warnings: r.warnings ? (JSON.parse(r.warnings) as unknown) : [],
        envelopePath: r.envelope_path,
        deliveredAt: r.delivered_at,
        xmlName: r.xml_name,
        xmlPath: r.xml_path,
        xmlDeliveredPath: r.xml_delivered_path,
        signature: r.signature ? (parseJson(r.signature) as ReceivedSignature | null) : null,
      }
    );
  }

  /** Received invoices not yet written to the ERP's import folder. */
  undeliveredPassive(): PassiveRow[] {
    const ids = this.db.prepare(`SELECT id FROM passive WHERE delivered_path IS NULL ORDER BY id`).all() as {
      id: number;
    }[];
    return ids.flatMap(({ id }) => {
      const p = this.getPassive(id);
      return p ? [p] : [];
    });
  }

  markPassiveDelivered(id: number, deliveredPath: string, xmlDeliveredPath: string | null = null): void {
    this.db
      .prepare(`UPDATE passive SET delivered_path = ?, xml_delivered_path = ?, delivered_at = ? WHERE id = ?`)
      .run(deliveredPath, xmlDeliveredPath, this.stamp(), id);
  }

  /** Whether an invoice received here has this IdentificativoSdI. */
  isReceivedIdSdI(identificativoSdI: string): boolean {
    const row = this.sql(`SELECT 1 FROM passive WHERE identificativo_sdi = ? LIMIT 1`).get(identificativoSdI);
    return row !== undefined;
  }

  passiveKeysOf(id: number): PassiveKey[] {
    return this.db
      .prepare(
        `SELECT body, numero, data, tipo_documento AS tipoDocumento, cedente_piva AS cedentePiva,
                cedente_cf AS cedenteCf, cedente_name AS cedenteName
           FROM passive_keys WHERE passive_id = ? ORDER BY body`,
      )
      .all(id) as PassiveKey[];
  }

  /**
   * Received invoices a reference names: the file name (as received, or its unwrapped .xml), the
   * IdentificativoSdI, an invoice number, or the cedente (partita IVA with or without its country
   * code, codice fiscale, or a part of its name, any case). Oldest first, at most `limit`.
   */
  findPassive(ref: string, limit = 50): PassiveRow[] {
    const r = ref.trim();
    if (!r) return [];
    const piva = /^[A-Za-z]{2}/.test(r) ? r.toUpperCase() : `IT${r}`;
    const like = `%${r.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const ids = this.db
      .prepare(
        `SELECT id FROM passive WHERE nome_file = @r OR xml_name = @r OR identificativo_sdi = @r
         UNION SELECT passive_id FROM passive_keys
          WHERE numero = @r OR cedente_piva = @piva OR cedente_piva = @upper OR cedente_cf = @upper
             OR (length(@r) >= 3 AND cedente_name LIKE @like ESCAPE '\\')
         ORDER BY 1 LIMIT @limit`,
      )
      .all({ r, piva, upper: r.toUpperCase(), like, limit }) as { id: number }[];
    return ids.flatMap(({ id }) => {
      const p = this.getPassive(id);
      return p ? [p] : [];
    });
  }

  /** SdI's messages about a received invoice (DT, SE...), by its IdentificativoSdI; its MT included. */
  notificationsAboutReceived(identificativoSdI: string): NotificationRow[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM notifications WHERE identificativo_sdi = ? AND document_id IS NULL ORDER BY id`,
        )
        .all(identificativoSdI) as NotificationDb[]
    ).map(notificationFromDb);
  }

  /**
   * Every received invoice, with what `fatturad status` counts it by: where it was written and
   * whether an esito committente (EC) for it is known (an EC, or SdI's SE about one).
   */
  receivedOverview(): {
    id: number;
    deliveredPath: string | null;
    xmlDeliveredPath: string | null;
    ecSent: number;
  }[] {
    return this.db
      .prepare(
        `SELECT p.id, p.delivered_path AS deliveredPath,
                ${this.schemaVersion >= 8 ? 'p.xml_delivered_path' : 'NULL'} AS xmlDeliveredPath,
                e.id IS NOT NULL AS ecSent
           FROM passive p
           LEFT JOIN (SELECT DISTINCT identificativo_sdi AS id FROM notifications WHERE kind IN ('EC', 'SE')) e
             ON e.id = p.identificativo_sdi`,
      )
      .all() as {
      id: number;
      deliveredPath: string | null;
      xmlDeliveredPath: string | null;
      ecSent: number;
    }[];
  }

  countPassive(): number {
    return (this.db.prepare(`SELECT count(*) AS n FROM passive`).get() as { n: number }).n;
  }

  listPassive(limit = 100): PassiveRow[] {
    const ids = this.db.prepare(`SELECT id FROM passive ORDER BY id DESC LIMIT ?`).all(limit) as {
      id: number;
    }[];
    return ids.flatMap(({ id }) => {
      const p = this.getPassive(id);
      return p ? [p] : [];
    });
  }

  // ---- transport references and receipts (PEC) ---------------------------------------------------

  /** The channel's reference of the attempt just made (PEC: the Message-ID it sent). */
  setTransportRef(documentId: number, ref: string): void {
    this.db.prepare(`UPDATE outbound SET transport_ref = ? WHERE document_id = ?`).run(ref, documentId);
  }

  findOutboundByTransportRef(ref: string): OutboundRow | undefined {
    const r = this.sql(`SELECT * FROM outbound WHERE transport_ref = ?`).get(ref) as OutboundDb | undefined;
    return r && outboundFromDb(r);
  }

  /** Stores a transport receipt once (by sha256); `isNew` is false when it was already there. */
  addTransportReceipt(r: NewTransportReceipt): { row: TransportReceiptRow; isNew: boolean } {
    const info = this.sql(
      `INSERT OR IGNORE INTO transport_receipts (sha256, channel, type, outcome, ref, subject, reason, at, received_at, path)
         VALUES (@sha256, @channel, @type, @outcome, @ref, @subject, @reason, @at, @receivedAt, @path)`,
    ).run({ ...r, receivedAt: this.stamp() });
    const row = this.sql(`SELECT * FROM transport_receipts WHERE sha256 = ?`).get(
      r.sha256,
    ) as TransportReceiptDb;
    return { row: receiptFromDb(row), isNew: info.changes > 0 };
  }

  /** Links a receipt to its document and records what it did there. */
  linkTransportReceipt(id: number, documentId: number | null, effect: string): void {
    this.sql(`UPDATE transport_receipts SET document_id = ?, effect = ? WHERE id = ?`).run(
      documentId,
      effect,
      id,
    );
  }

  transportReceiptsOf(documentId: number): TransportReceiptRow[] {
    return (
      this.db
        .prepare(`SELECT * FROM transport_receipts WHERE document_id = ? ORDER BY id`)
        .all(documentId) as TransportReceiptDb[]
    ).map(receiptFromDb);
  }

  // ---- channel state ----------------------------------------------------------------------------

  /** A channel's durable key/value state (mailbox high-water marks, learnt addresses). */
  getChannelState(key: string): string | undefined {
    return (
      this.sql(`SELECT value FROM channel_state WHERE key = ?`).get(key) as { value: string } | undefined
    )?.value;
  }

  /**
   * Sets a key of a channel's durable state, committed when it returns. `lazy`: the commit is not
   * synced to disk on its own (synchronous=NORMAL for this one transaction): it survives a crash of
   * the process at once, and a power failure from the next durable commit of the store on (WAL
   * commits reach the disk in order). For state that only points at data already committed
   * durably, such as a mailbox's high-water mark: losing its last value costs a re-read, not data.
   */
  setChannelState(key: string, value: string, opts: { lazy?: boolean } = {}): void {
    const write = this.sql(
      `INSERT INTO channel_state (key, value, updated_at) VALUES (?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
    );
    // Inside a caller's transaction the write is committed, and synced, with it.
    if (!opts.lazy || this.db.inTransaction) {
      write.run(key, value, this.stamp());
      return;
    }
    this.db.pragma('synchronous = NORMAL');
    try {
      write.run(key, value, this.stamp());
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }
}
