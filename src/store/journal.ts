import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tempNameFor } from '../util/fsx.js';
import type { DocumentRow, Store } from './store.js';

/**
 * The send journal: an append-only file beside the store (`<dataDir>/sends.journal`), outside
 * SQLite, that witnesses every send attempt. A record is appended and fsynced BEFORE the channel
 * is called, so whatever happens to the store afterwards (a crash that loses the WAL, a restore
 * from an older backup, a rollback), the next start knows every file that may have reached SdI
 * and holds the ones the store forgot as "in doubt" instead of sending them again.
 *
 * One record per line: `<checksum> <json>\n`, the checksum the first 16 hex digits of the SHA-256
 * of the JSON text. A line without its newline or whose checksum does not match (a write torn by a
 * crash or a power cut) is recognized and ignored; a torn last line is cut off at the next start.
 */

export const JOURNAL_FILE = 'sends.journal';

export interface AttemptRecord {
  t: 'attempt';
  documentId: number;
  sdiName: string;
  sha256: string;
  channel: string;
  flow: 'pa' | 'b2b';
  /** The attempt's number (1 for the first call to the channel). */
  attempt: number;
  at: string;
  node: string;
  pid: number;
  /** Enough to recreate the document when the store no longer has it. */
  originalName: string;
  entry: string;
  sourceDir: string;
  path: string | null;
  size: number;
}

export interface JournalRead {
  records: AttemptRecord[];
  /** Lines in the middle of the file whose checksum does not match (1-based). */
  badLines: number[];
  /** Bytes after the last complete line (a torn write). */
  tornBytes: number;
}

function checksum(json: string): string {
  return crypto.createHash('sha256').update(json).digest('hex').slice(0, 16);
}

export function encodeRecord(r: AttemptRecord): string {
  const json = JSON.stringify(r);
  return `${checksum(json)} ${json}\n`;
}

function decodeLine(line: string): AttemptRecord | null {
  const sp = line.indexOf(' ');
  if (sp !== 16) return null;
  const json = line.slice(17);
  if (checksum(json) !== line.slice(0, 16)) return null;
  try {
    const r = JSON.parse(json) as AttemptRecord;
    return r.t === 'attempt' && typeof r.sdiName === 'string' && typeof r.attempt === 'number' ? r : null;
  } catch {
    return null;
  }
}

export function readJournalFile(file: string): JournalRead {
  if (!fs.existsSync(file)) return { records: [], badLines: [], tornBytes: 0 };
  const text = fs.readFileSync(file, 'utf8');
  const end = text.lastIndexOf('\n') + 1;
  const records: AttemptRecord[] = [];
  const badLines: number[] = [];
  text
    .slice(0, end)
    .split('\n')
    .slice(0, -1)
    .forEach((line, i) => {
      const r = decodeLine(line);
      if (r) records.push(r);
      else badLines.push(i + 1);
    });
  return { records, badLines, tornBytes: Buffer.byteLength(text.slice(end)) };
}

export class SendJournal {
  private fd: number | null = null;
  readonly file: string;
  readonly node = os.hostname();

  constructor(dataDir: string) {
    this.file = path.join(dataDir, JOURNAL_FILE);
  }

  /** Reads the journal and cuts off a torn last line, so that the next record starts a line. */
  open(): JournalRead {
    const read = readJournalFile(this.file);
    const created = !fs.existsSync(this.file);
    this.fd = fs.openSync(this.file, 'a');
    if (read.tornBytes > 0) {
      fs.ftruncateSync(this.fd, fs.fstatSync(this.fd).size - read.tornBytes);
      fs.fsyncSync(this.fd);
    }
    if (created) syncDir(path.dirname(this.file));
    return read;
  }

  /** Appends one attempt and fsyncs it: when this returns, the record survives a power cut. */
  recordAttempt(r: Omit<AttemptRecord, 't' | 'at' | 'node' | 'pid'>): void {
    if (this.fd === null) throw new Error('the send journal is not open');
    const line = encodeRecord({
      t: 'attempt',
      ...r,
      at: new Date().toISOString(),
      node: this.node,
      pid: process.pid,
    });
    const buf = Buffer.from(line);
    let off = 0;
    while (off < buf.length) off += fs.writeSync(this.fd, buf, off);
    fs.fdatasyncSync(this.fd);
  }

  /**
   * Rewrites the journal with only `keep` (temp name, fsync, rename, fsync folder): a crash leaves
   * the old journal or the new one, never a part.
   */
  rewrite(keep: readonly AttemptRecord[]): void {
    const tmp = tempNameFor(this.file);
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, keep.map(encodeRecord).join(''));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
    syncDir(path.dirname(this.file));
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = fs.openSync(this.file, 'a');
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

// ---- the store against its journal ----------------------------------------------------------------

/** A send the journal witnessed and the store does not know (as far as the journal goes). */
export interface BehindJournal {
  /** The document's id in the journal (the store's id may differ once recreated). */
  journalDocumentId: number;
  /** The document's id in the store, once held (null while only compared). */
  documentId: number | null;
  sdiName: string;
  sha256: string;
  originalName: string;
  attempt: number;
  at: string;
  /**
   * attempt: the store has the send but not its last attempt(s); send: the document but not its
   * send; document: not even the document (recreated from the journal); conflict: the store used
   * the SdI file name for other content (held too, for the operator).
   */
  missing: 'attempt' | 'send' | 'document' | 'conflict';
  storeAttempts: number;
}

/** The last attempt of each SdI file name. */
function latestBySdiName(records: readonly AttemptRecord[]): AttemptRecord[] {
  const m = new Map<string, AttemptRecord>();
  for (const r of records) {
    const k = r.sdiName.toLowerCase();
    const prev = m.get(k);
    if (!prev || r.attempt >= prev.attempt) m.set(k, r);
  }
  return [...m.values()];
}

/** The store's document for a journal record that has no send in the store: same content, not sent. */
function documentFor(store: Store, r: AttemptRecord): DocumentRow | undefined {
  const byId = store.getDocument(r.documentId);
  if (byId && byId.sha256 === r.sha256 && byId.entry === r.entry && !store.getOutbound(byId.id)) return byId;
  const bySha = store.findLiveBySha256(r.sha256);
  return bySha && !store.getOutbound(bySha.id) ? bySha : undefined;
}

/** Compares without writing: what the store lacks of what the journal witnessed. */
export function compareWithJournal(store: Store, records: readonly AttemptRecord[]): BehindJournal[] {
  const out: BehindJournal[] = [];
  for (const r of latestBySdiName(records)) {
    const base = {
      journalDocumentId: r.documentId,
      sdiName: r.sdiName,
      sha256: r.sha256,
      originalName: r.originalName,
      attempt: r.attempt,
      at: r.at,
    };
    const o = store.findOutboundBySdiName(r.sdiName);
    if (o) {
      const doc = store.getDocument(o.documentId);
      if (doc && doc.sha256 !== r.sha256 && doc.state === 'sending' && !o.identificativoSdI) {
        out.push({ ...base, documentId: o.documentId, missing: 'conflict', storeAttempts: o.attempts });
        continue;
      }
      // The store knows SdI's answer, or has moved the document on, or has every attempt.
      if (o.identificativoSdI || doc?.state !== 'sending' || o.attempts >= r.attempt) continue;
      out.push({ ...base, documentId: o.documentId, missing: 'attempt', storeAttempts: o.attempts });
      continue;
    }
    const doc = documentFor(store, r);
    if (doc && doc.state !== 'received' && doc.state !== 'validated') {
      // Rejected, duplicate...: the store decided something else about this content; shown, not changed.
      out.push({ ...base, documentId: doc.id, missing: 'conflict', storeAttempts: 0 });
      continue;
    }
    out.push({ ...base, documentId: doc?.id ?? null, missing: doc ? 'send' : 'document', storeAttempts: 0 });
  }
  return out;
}

const IN_DOUBT_NOTE =
  'in doubt: the send journal says this file may have reached SdI, and the store had lost it ' +
  '(rolled back, WAL lost, restored from an older backup); check with SdI before "fatturad resend"';

/**
 * Brings the store up to its journal, in one transaction: every send the journal witnessed and the
 * store lacks is held in doubt (never sent again on its own), its document recreated if the store
 * no longer has it. Returns what was held, with the store's document ids.
 */
export function holdBehindJournal(store: Store, records: readonly AttemptRecord[]): BehindJournal[] {
  const behind = compareWithJournal(store, records);
  if (behind.length === 0) return behind;
  const byName = new Map(latestBySdiName(records).map((r) => [r.sdiName.toLowerCase(), r]));
  return store.transaction(() =>
    behind.map((b) => {
      const r = byName.get(b.sdiName.toLowerCase()) as AttemptRecord;
      let id = b.documentId;
      if (b.missing === 'document') id = recreate(store, r);
      if (id === null) return b;
      if (b.missing === 'document' || b.missing === 'send') {
        const doc = store.getDocument(id);
        if (doc?.state === 'received')
          store.markValidated(id, [], 'validated before the store lost it (send journal)');
        store.beginSending(id, { channel: r.channel, sdiName: r.sdiName, flow: r.flow });
      }
      if (b.missing !== 'conflict') store.raiseAttempts(id, r.attempt);
      store.holdInDoubt(id, IN_DOUBT_NOTE);
      return { ...b, documentId: id };
    }),
  );
}

/** The latest attempt the journal witnessed for each content (sha256). */
export function latestBySha256(records: readonly AttemptRecord[]): Map<string, AttemptRecord> {
  const m = new Map<string, AttemptRecord>();
  for (const r of records) {
    const prev = m.get(r.sha256);
    if (!prev || r.at >= prev.at) m.set(r.sha256, r);
  }
  return m;
}

/**
 * A document just made for a file the journal says may be at SdI already (a spool file the store
 * had forgotten, taken again: src/watchers/intake.ts): held in doubt under the SdI file name the
 * journal names, never sent on its own. Runs inside the caller's transaction. False when the
 * store already uses that name for another document (the caller keeps the file aside instead).
 */
export function holdWitnessed(store: Store, documentId: number, r: AttemptRecord): boolean {
  if (store.findOutboundBySdiName(r.sdiName)) return false;
  if (store.getDocument(documentId)?.state === 'received')
    store.markValidated(documentId, [], 'validated before the store lost it (send journal)');
  store.beginSending(documentId, { channel: r.channel, sdiName: r.sdiName, flow: r.flow });
  store.raiseAttempts(documentId, r.attempt);
  store.holdInDoubt(documentId, IN_DOUBT_NOTE);
  return true;
}

/** A document the store no longer has, made again from its journal record (its file is still claimed). */
function recreate(store: Store, r: AttemptRecord): number {
  const filePath = r.path ?? '';
  const [intake] = store.beginClaims(
    [
      {
        sourceDir: r.sourceDir,
        originalName: r.originalName,
        sourcePath: path.join(r.sourceDir, r.originalName),
      },
    ],
    () => filePath,
  );
  const intakeId = intake?.id ?? 0;
  const ids = store.finishClaims([
    {
      intakeId,
      sha256: r.sha256,
      size: r.size,
      outcome: 'accepted',
      documents: [
        {
          entry: r.entry,
          originalName: r.originalName,
          sha256: r.sha256,
          size: r.size,
          state: 'received',
          path: r.path && fs.existsSync(r.path) ? r.path : null,
          reason: `recreated from the send journal (document ${r.documentId} there, attempt ${r.attempt} at ${r.at}): the store had lost it`,
        },
      ],
    },
  ]);
  return ids.get(intakeId)?.[0] ?? 0;
}

/**
 * The records the journal may drop: the store has durably recorded their outcome (SdI's
 * IdentificativoSdI, or the document moved on from sending) and they are older than `keepDays`
 * (so that a restore from a backup younger than that is still caught). The caller checkpoints the
 * WAL into the database file first, so losing the WAL later cannot undo what made them droppable.
 */
export function droppable(
  store: Store,
  records: readonly AttemptRecord[],
  keepDays: number,
  now = new Date(),
): Set<AttemptRecord> {
  const limit = now.getTime() - keepDays * 86_400_000;
  const out = new Set<AttemptRecord>();
  for (const r of records) {
    if (Date.parse(r.at) > limit) continue;
    const o = store.findOutboundBySdiName(r.sdiName);
    if (!o) continue;
    const doc = store.getDocument(o.documentId);
    if (doc?.sha256 !== r.sha256) continue;
    if (o.identificativoSdI || doc.state !== 'sending') out.add(r);
  }
  return out;
}
