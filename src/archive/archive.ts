import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { ArchiveStore, CheckpointRow } from '../store/archive-store.js';
import { atomicWrite, fsyncDir, isTempName } from '../util/fsx.js';
import { BlobStore } from './blobs.js';
import { openCheckpoint, signCheckpoint, verifierKey, type NoteKey } from './checkpoint.js';
import { decodeEntry, encodeEntry, type EntryKind, type LogEntry } from './entry.js';
import {
  decodeFacts,
  encodeFacts,
  isFactsEntry,
  sha256Hex,
  type DocumentFacts,
  type FactsEntry,
} from './facts.js';
import {
  CompactRange,
  consistencyProof,
  emptyRoot,
  leafHash,
  nodeHash,
  rootOf,
  verifyConsistency,
} from './merkle.js';
import { compareIndex, expectedIndex, rebuildPlan } from './truth.js';

/**
 * The local archive: content-addressed blobs (the evidence), an append-only RFC 9162 Merkle log
 * over one leaf entry per blob, and signed checkpoints (C2SP signed notes, Ed25519) of that log.
 *
 *   <dir>/LAYOUT                              what this folder is
 *   <dir>/objects/sha256/ab/cd/<hex>          blobs, read-only
 *   <dir>/keys/log-ed25519.{key,pub,vkey}     the checkpoint key (created at first start)
 *   <dir>/log/checkpoints/<size>.note         every checkpoint ever signed (never rewritten)
 *   <dir>/log/checkpoint                      the latest
 *
 * SQLite holds the log entries, the checkpoints and the package index; `verify()` checks the
 * files against it and it against the signed checkpoints.
 */
export interface ArchiveOptions {
  dir: string;
  /** The checkpoints' origin line (which log this is). */
  origin: string;
  /** A PKCS#8 PEM Ed25519 key to sign checkpoints with; empty: <dir>/keys/log-ed25519.key, made at first start. */
  keyFile: string;
  fsync: boolean;
  now?: () => Date;
}

export interface AppendBlob {
  kind: EntryKind;
  bytes: Buffer;
  ref: string;
}

export interface Appended {
  idx: number;
  sha256: string;
  size: number;
  kind: EntryKind;
  ref: string;
}

export type FindingCode =
  | 'missing'
  | 'changed'
  | 'truncated'
  | 'appended'
  | 'swapped'
  | 'extra'
  | 'entry-altered'
  | 'reordered'
  | 'object-row-altered'
  | 'item-altered'
  | 'item-missing'
  | 'item-extra'
  | 'keys-altered'
  | 'package-altered'
  | 'package-missing'
  | 'facts-invalid'
  | 'log-rewritten'
  | 'rolled-back'
  | 'checkpoint-invalid'
  | 'checkpoint-missing'
  | 'checkpoint-stale';

export interface Finding {
  code: FindingCode;
  message: string;
  sha256?: string;
  idx?: number;
  file?: string;
  size?: number;
  /** The archived document, the package, the table and the field a finding about the index names. */
  document?: string;
  package?: string;
  table?: string;
  field?: string;
  /** What the log says, and what the table holds. */
  expected?: string;
  found?: string;
}

/** A log entry (`what`: 'log entry' or 'facts entry') whose text, leaf hash or columns disagree. */
function alteredEntry(what: string, idx: number, canonical: boolean, leafMatches: boolean): Finding {
  const why = !canonical
    ? 'it is not a canonical entry'
    : !leafMatches
      ? 'it no longer matches its leaf hash'
      : 'its columns disagree with its text';
  return { code: 'entry-altered', idx, message: `${what} ${idx} was altered: ${why}` };
}

/** Where `verify()` is: called after each step, and every few thousand files while re-hashing. */
export type VerifyProgress = (p: {
  step: 'log' | 'blobs' | 'checkpoints' | 'index';
  done: number;
  total: number;
}) => void;

export interface VerifyReport {
  ok: boolean;
  findings: Finding[];
  objects: number;
  bytes: number;
  logSize: number;
  checkpoints: number;
  latestCheckpoint: number | null;
  /** Facts entries in the log, and items checked only against their file's entry (archived before facts entries). */
  facts: number;
  legacyItems: number;
  ms: number;
}

const LAYOUT = 'fatturad-archive/1 hash=sha256 log=rfc9162 checkpoint=c2sp-signed-note/ed25519\n';

export class Archive {
  readonly blobs: BlobStore;
  private privateKey!: crypto.KeyObject;
  private publicKey!: crypto.KeyObject;
  private keyName = '';
  /** The checkpoints' origin line. */
  origin = '';
  private readonly now: () => Date;
  /** Appends run one after the other (the log index is their order). */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ArchiveStore,
    readonly opts: ArchiveOptions,
  ) {
    this.blobs = new BlobStore(path.join(opts.dir, 'objects'));
    this.now = opts.now ?? (() => new Date());
  }

  get keyFile(): string {
    return this.opts.keyFile || path.join(this.opts.dir, 'keys', 'log-ed25519.key');
  }

  get publicKeyPem(): string {
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  get verifierKey(): string {
    return verifierKey(this.keyName, this.publicKey);
  }

  get noteKeys(): NoteKey[] {
    return [{ name: this.keyName, publicKey: this.publicKey }];
  }

  /** Creates the layout and the key at first start; removes temporary files a crash left. */
  async open(): Promise<void> {
    const d = this.opts.dir;
    for (const sub of ['objects', 'keys', path.join('log', 'checkpoints'), 'packages'])
      await fsp.mkdir(path.join(d, sub), { recursive: true });
    const layout = path.join(d, 'LAYOUT');
    if (!fs.existsSync(layout)) await atomicWrite(layout, LAYOUT, { fsync: this.opts.fsync });
    // Which archive this is, when the configuration does not say: an id made at first start.
    const idFile = path.join(d, 'INSTALLATION');
    if (!fs.existsSync(idFile))
      await atomicWrite(idFile, `${crypto.randomBytes(8).toString('hex')}\n`, { fsync: this.opts.fsync });
    this.origin = this.opts.origin || `fatturad/${fs.readFileSync(idFile, 'utf8').trim()}`;
    const keyFile = this.keyFile;
    if (!fs.existsSync(keyFile)) {
      if (this.opts.keyFile) throw new Error(`archive.keyFile ${keyFile} does not exist`);
      const { privateKey } = crypto.generateKeyPairSync('ed25519');
      await atomicWrite(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
        fsync: this.opts.fsync,
        mode: 0o600,
      });
    }
    this.privateKey = crypto.createPrivateKey(fs.readFileSync(keyFile));
    if (this.privateKey.asymmetricKeyType !== 'ed25519')
      throw new Error(
        `${keyFile}: the checkpoint key must be Ed25519, not ${this.privateKey.asymmetricKeyType}`,
      );
    this.publicKey = crypto.createPublicKey(this.privateKey);
    this.keyName = this.origin;
    const pub = path.join(d, 'keys', 'log-ed25519.pub');
    const pem = this.publicKeyPem;
    if (!fs.existsSync(pub) || fs.readFileSync(pub, 'utf8') !== pem)
      await atomicWrite(pub, pem, { fsync: this.opts.fsync });
    const vkey = path.join(d, 'keys', 'log-ed25519.vkey');
    if (!fs.existsSync(vkey) || fs.readFileSync(vkey, 'utf8') !== `${this.verifierKey}\n`)
      await atomicWrite(vkey, `${this.verifierKey}\n`, { fsync: this.opts.fsync });
    for await (const b of this.blobs.list()) if (isTempName(b.name)) await fsp.rm(b.file, { force: true });
  }

  /**
   * Stores the blobs (fsynced) and appends one log entry for each, in one SQLite transaction
   * together with whatever `record` writes (package members, search keys): all of it or none.
   */
  append<T>(blobs: readonly AppendBlob[], record: (appended: Appended[]) => T): Promise<T> {
    const run = async (): Promise<T> => {
      // Blobs are written a few at a time, each fsynced, and their folders fsynced once at the
      // end: all of them are durable before the log refers to them.
      const stored: { sha256: string; size: number }[] = new Array<{ sha256: string; size: number }>(
        blobs.length,
      );
      const dirs = new Set<string>();
      let next = 0;
      const writer = async (): Promise<void> => {
        while (next < blobs.length) {
          const i = next++;
          stored[i] = await this.blobs.put((blobs[i] as AppendBlob).bytes, {
            fsync: this.opts.fsync,
            syncDirs: dirs,
          });
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, blobs.length) }, writer));
      for (const d of [...dirs, path.join(this.blobs.dir, 'sha256')])
        if (this.opts.fsync) await fsyncDirIfExists(d);
      return this.store.transaction(() => {
        const at = this.now().toISOString();
        let idx = this.store.logSize();
        const appended: Appended[] = blobs.map((b, i) => {
          const s = stored[i] as { sha256: string; size: number };
          const entry = encodeEntry({
            seq: idx,
            kind: b.kind,
            sha256: s.sha256,
            size: s.size,
            ref: b.ref,
            time: at,
          });
          this.store.addObject(s.sha256, s.size, at);
          this.store.appendLog({
            idx,
            entry,
            leafHash: leafHash(entry),
            kind: b.kind,
            sha256: s.sha256,
            ref: b.ref,
            at,
          });
          return { idx: idx++, sha256: s.sha256, size: s.size, kind: b.kind, ref: b.ref };
        });
        return record(appended);
      });
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /**
   * Appends a facts entry (what the index holds about one document in one PdV) to the log. Only
   * inside the `record` callback of `append()`: in the same transaction as the rows it commits.
   */
  appendFacts(facts: DocumentFacts): number {
    if (!this.store.db.inTransaction) throw new Error('appendFacts() runs inside append()');
    const idx = this.store.logSize();
    const at = this.now().toISOString();
    const entry = encodeFacts({ seq: idx, time: at, facts });
    this.store.appendLog({
      idx,
      entry,
      leafHash: leafHash(entry),
      kind: 'facts',
      sha256: sha256Hex(entry),
      ref: facts.document,
      at,
    });
    return idx;
  }

  get size(): number {
    return this.store.logSize();
  }

  latestCheckpoint(): CheckpointRow | undefined {
    return this.store.latestCheckpoint();
  }

  private noteFile(size: number): string {
    return path.join(this.opts.dir, 'log', 'checkpoints', `${String(size).padStart(12, '0')}.note`);
  }

  /**
   * Signs a checkpoint of the whole log, if it grew since the last one. It is signed only after
   * checking that the log still extends the previous checkpoint (a consistency proof): a log
   * never signs two inconsistent checkpoints.
   */
  async checkpoint(): Promise<CheckpointRow | null> {
    const run = async (): Promise<CheckpointRow | null> => {
      const leaves = this.store.leafHashes();
      const size = leaves.length;
      const last = this.store.latestCheckpoint();
      if (size === 0 || (last && last.size >= size)) return null;
      const root = rootOf(leaves);
      if (last) {
        const proof = consistencyProof(leaves, last.size, size);
        const ok = verifyConsistency(last.size, size, proof, last.root, root);
        if (!ok.ok)
          throw new Error(
            `the archive log does not extend its last checkpoint (size ${last.size}): ${ok.reason}; run "fatturad archive verify"`,
          );
      }
      const note = signCheckpoint({ origin: this.origin, size, root }, this.keyName, this.privateKey);
      await atomicWrite(this.noteFile(size), note, { fsync: this.opts.fsync });
      this.store.addCheckpoint({ size, root, note, at: this.now().toISOString() });
      await atomicWrite(path.join(this.opts.dir, 'log', 'checkpoint'), note, { fsync: this.opts.fsync });
      return this.store.latestCheckpoint() ?? null;
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Keeps an RFC 3161 response about a checkpoint beside its note. */
  async attachCheckpointTimestamp(size: number, tsr: Buffer): Promise<void> {
    const file = this.noteFile(size).replace(/\.note$/, '.tsr');
    await atomicWrite(file, tsr, { fsync: this.opts.fsync });
    this.store.setCheckpointTimestamp(size, crypto.createHash('sha256').update(tsr).digest('hex'));
  }

  /** The inclusion proof of entry `idx` into the checkpoint of `size` (default: the latest). */
  prove(
    idx: number,
    size?: number,
  ): { entry: Buffer; leafHash: Buffer; proof: Buffer[]; checkpoint: CheckpointRow } {
    return this.prover(size)(idx);
  }

  /**
   * Proofs of many entries into one checkpoint: the tree's levels are built once (O(n) hashes and
   * 2n x 32 bytes), then each proof takes O(log n). Bottom-up pairing that carries an unpaired last
   * node up unchanged gives RFC 9162's tree, so a node's audit path is its siblings, level by level.
   */
  prover(
    size?: number,
  ): (idx: number) => { entry: Buffer; leafHash: Buffer; proof: Buffer[]; checkpoint: CheckpointRow } {
    const cp =
      size === undefined
        ? this.store.latestCheckpoint()
        : this.store.checkpoints().find((c) => c.size === size);
    if (!cp) throw new Error(size === undefined ? 'no checkpoint yet' : `no checkpoint of size ${size}`);
    const levels: Buffer[][] = [this.store.leafHashes(cp.size)];
    for (let level = levels[0] as Buffer[]; level.length > 1;) {
      const up: Buffer[] = [];
      for (let i = 0; i < level.length; i += 2) {
        const l = level[i] as Buffer;
        const r = level[i + 1];
        up.push(r ? nodeHash(l, r) : l);
      }
      levels.push(up);
      level = up;
    }
    if (!(levels.at(-1)?.[0] ?? emptyRoot()).equals(cp.root))
      throw new Error(
        `the log no longer hashes to the checkpoint of size ${cp.size}: run "fatturad archive verify"`,
      );
    return (idx) => {
      if (!Number.isInteger(idx) || idx < 0 || idx >= cp.size)
        throw new Error(`entry ${idx} is not in the checkpoint of size ${cp.size}`);
      const row = this.store.getLog(idx);
      if (!row) throw new Error(`no log entry ${idx}`);
      const proof: Buffer[] = [];
      let i = idx;
      for (const level of levels.slice(0, -1)) {
        const sibling = level[i ^ 1];
        if (sibling) proof.push(sibling);
        i >>= 1;
      }
      return { entry: row.entry, leafHash: row.leafHash, proof, checkpoint: cp };
    };
  }

  /** Re-hashes up to `limit` blobs, those verified longest ago first (the rolling verification). */
  async verifySome(limit: number): Promise<{ checked: number; bytes: number; findings: Finding[] }> {
    const findings: Finding[] = [];
    let bytes = 0;
    const due = this.store.objectsDue(limit);
    const known = new Set<string>();
    for (const o of due) {
      const f = await this.checkBlob(o.sha256, o.size, known);
      bytes += o.size;
      if (f) findings.push(f);
      this.store.markVerified(o.sha256, this.now().toISOString(), f ? f.code : 'ok');
    }
    return { checked: due.length, bytes, findings };
  }

  private async checkBlob(sha256: string, size: number, others: Set<string> | null): Promise<Finding | null> {
    const file = this.blobs.pathOf(sha256);
    const h = await this.blobs.hash(sha256);
    if (!h) return { code: 'missing', sha256, file, message: `blob ${sha256} is missing (${file})` };
    if (h.sha256 === sha256 && h.size === size) return null;
    if (h.size < size)
      return {
        code: 'truncated',
        sha256,
        file,
        size: h.size,
        message: `blob ${sha256} is truncated: ${h.size} bytes instead of ${size}`,
      };
    if (h.size > size) {
      const head = await readHead(file, size);
      if (head && crypto.createHash('sha256').update(head).digest('hex') === sha256)
        return {
          code: 'appended',
          sha256,
          file,
          size: h.size,
          message: `blob ${sha256} has ${h.size - size} bytes appended (${h.size} instead of ${size})`,
        };
    }
    const known = others ?? new Set<string>();
    if (known.has(h.sha256) || this.store.getObject(h.sha256))
      return {
        code: 'swapped',
        sha256,
        file,
        message: `blob ${sha256} holds the content of another archived blob, ${h.sha256} (files swapped or copied over)`,
      };
    return {
      code: 'changed',
      sha256,
      file,
      size: h.size,
      message: `blob ${sha256} was changed: its content now hashes to ${h.sha256}`,
    };
  }

  /**
   * Checks everything: every blob re-hashed against its name and its log entry, every entry
   * against its leaf hash and position, the log against every signed checkpoint (signature,
   * root of the prefix, consistency), the checkpoint files on disk against the store, and files
   * in the archive that nothing refers to.
   */
  async verify(opts: { blobs?: boolean; progress?: VerifyProgress } = {}): Promise<VerifyReport> {
    const t0 = Date.now();
    const findings: Finding[] = [];
    const progress = opts.progress ?? (() => undefined);
    const logSize = this.store.logSize();
    const leaves: Buffer[] = [];
    const entries = new Map<string, { size: number; idx: number }>();
    const fileLeaves = new Map<number, LogEntry>();
    const facts: { idx: number; entry: FactsEntry }[] = [];
    // 1. Entries: canonical, in place, hashing to their stored leaf, naming a known object.
    let expectIdx = 0;
    for (const row of this.store.iterateLog()) {
      if (row.idx !== expectIdx)
        findings.push({
          code: 'reordered',
          idx: row.idx,
          message: `log entries ${expectIdx}..${row.idx - 1} are missing from the log`,
        });
      expectIdx = row.idx + 1;
      const lh = leafHash(row.entry);
      leaves.push(row.leafHash);
      if (isFactsEntry(row.entry)) {
        const f = decodeFacts(row.entry);
        if (
          !f ||
          !lh.equals(row.leafHash) ||
          row.kind !== 'facts' ||
          row.sha256 !== sha256Hex(row.entry) ||
          row.ref !== f.facts.document
        ) {
          findings.push(alteredEntry('facts entry', row.idx, Boolean(f), lh.equals(row.leafHash)));
          continue;
        }
        if (f.seq !== row.idx)
          findings.push({
            code: 'reordered',
            idx: row.idx,
            message: `facts entry at position ${row.idx} says it is entry ${f.seq}: the log was reordered`,
          });
        else facts.push({ idx: row.idx, entry: f });
        continue;
      }
      const e = decodeEntry(row.entry);
      if (!e || !lh.equals(row.leafHash) || e.sha256 !== row.sha256 || e.kind !== row.kind) {
        findings.push(alteredEntry('log entry', row.idx, Boolean(e), lh.equals(row.leafHash)));
        continue;
      }
      if (e.seq !== row.idx)
        findings.push({
          code: 'reordered',
          idx: row.idx,
          sha256: e.sha256,
          message: `log entry at position ${row.idx} says it is entry ${e.seq}: the log was reordered`,
        });
      const o = this.store.getObject(e.sha256);
      if (!o || o.size !== e.size)
        findings.push({
          code: 'object-row-altered',
          idx: row.idx,
          sha256: e.sha256,
          message: o
            ? `the object row of ${e.sha256} says ${o.size} bytes, its log entry ${e.size}`
            : `log entry ${row.idx} names ${e.sha256}, which the object index does not know`,
        });
      if (!entries.has(e.sha256)) entries.set(e.sha256, { size: e.size, idx: row.idx });
      if (e.seq === row.idx) fileLeaves.set(row.idx, e);
    }
    progress({ step: 'log', done: logSize, total: logSize });
    // 2. Blobs: each re-hashed (unless only the log is checked).
    let bytes = 0;
    if (opts.blobs !== false) {
      const names = new Set(entries.keys());
      // Two files hashed at a time: the disk and a second core work while one file is hashed.
      const queue = [...entries];
      let at = 0;
      const worker = async (): Promise<void> => {
        while (at < queue.length) {
          const [sha256, { size, idx }] = queue[at++] as [string, { size: number; idx: number }];
          const f = await this.checkBlob(sha256, size, names);
          bytes += size;
          if (f) findings.push({ ...f, idx });
          this.store.markVerified(sha256, this.now().toISOString(), f ? f.code : 'ok');
          if (at % 5000 === 0) progress({ step: 'blobs', done: at, total: queue.length });
        }
      };
      await Promise.all([worker(), worker()]);
      for await (const b of this.blobs.list()) {
        if (isTempName(b.name)) continue;
        if (!b.valid || !entries.has(b.name))
          findings.push({
            code: 'extra',
            file: b.file,
            message: `${b.file} is in the archive but no log entry refers to it`,
          });
      }
    }
    // 3. Checkpoints: signature, prefix root, consistency; files on disk vs store.
    const rows = this.store.checkpoints();
    const bySize = new Map(rows.map((r) => [r.size, r]));
    const onDisk = await this.checkpointFiles();
    const keptNotes = new Map<number, string>();
    for (const [size, file] of onDisk) {
      const note = await fsp.readFile(file, 'utf8');
      keptNotes.set(size, note);
      const opened = openCheckpoint(note, this.noteKeys);
      if (!opened.ok) {
        findings.push({ code: 'checkpoint-invalid', file, message: `${file}: ${opened.reason}` });
        continue;
      }
      if (opened.checkpoint.size !== size)
        findings.push({
          code: 'checkpoint-invalid',
          file,
          message: `${file} holds a checkpoint of size ${opened.checkpoint.size}`,
        });
      const row = bySize.get(size);
      if (!row)
        findings.push({
          code: size > logSize ? 'rolled-back' : 'checkpoint-missing',
          file,
          message:
            size > logSize
              ? `a checkpoint of size ${size} was signed, but the log now has ${logSize} entries: the store was rolled back`
              : `the checkpoint of size ${size} (${file}) is not recorded in the store`,
        });
      else if (row.note !== note)
        findings.push({
          code: 'checkpoint-invalid',
          file,
          message: `${file} differs from the checkpoint recorded in the store`,
        });
    }
    // Every prefix root, in one pass over the leaves: a checkpoint whose root is the root of the
    // log's first `size` entries is consistent with every earlier one that also is.
    const range = new CompactRange();
    let next = 0;
    for (const r of rows) {
      const opened = openCheckpoint(r.note, this.noteKeys);
      if (!opened.ok || opened.checkpoint.size !== r.size || !opened.checkpoint.root.equals(r.root)) {
        findings.push({
          code: 'checkpoint-invalid',
          message: `the stored checkpoint of size ${r.size} ${opened.ok ? 'disagrees with its note' : `does not verify: ${opened.reason}`}`,
        });
        continue;
      }
      if (!onDisk.has(r.size))
        findings.push({
          code: 'checkpoint-missing',
          message: `the checkpoint file of size ${r.size} is missing from log/checkpoints/`,
        });
      if (r.size > leaves.length) {
        findings.push({
          code: 'rolled-back',
          message: `the checkpoint of size ${r.size} is larger than the log (${leaves.length} entries): entries were removed`,
        });
        continue;
      }
      while (next < r.size) range.append(leaves[next++] as Buffer);
      if (!range.root().equals(r.root))
        findings.push({
          code: 'log-rewritten',
          message: `the first ${r.size} log entries no longer hash to the root signed in the checkpoint of size ${r.size}`,
        });
    }
    findings.push(...(await this.checkPublished(rows, keptNotes, leaves)));
    progress({ step: 'checkpoints', done: rows.length, total: rows.length });
    // 4. The index (items, search keys, packages) recomputed from the log and compared.
    const expected = expectedIndex(fileLeaves, facts);
    const index = compareIndex(this.store, fileLeaves, expected);
    findings.push(...expected.findings, ...index.findings);
    progress({
      step: 'index',
      done: expected.items.size + index.legacyItems,
      total: expected.items.size + index.legacyItems,
    });
    const latest = rows.at(-1);
    return {
      ok: findings.length === 0,
      findings,
      objects: entries.size,
      bytes,
      logSize,
      checkpoints: rows.length,
      latestCheckpoint: latest?.size ?? null,
      facts: facts.length,
      legacyItems: index.legacyItems,
      ms: Date.now() - t0,
    };
  }

  /**
   * The latest checkpoint, `log/checkpoint` (the one published and compared with a copy kept
   * elsewhere): it must be there, be readable, verify with the log key, be the largest checkpoint
   * signed (not an older one put back), and be the very note kept in `log/checkpoints/`. Its root
   * is the root of the log's first `size` entries, so it is consistent with every earlier
   * checkpoint whose root is also a prefix root of the log (checked above).
   */
  private async checkPublished(
    rows: readonly CheckpointRow[],
    kept: ReadonlyMap<number, string>,
    leaves: readonly Buffer[],
  ): Promise<Finding[]> {
    const file = path.join(this.opts.dir, 'log', 'checkpoint');
    const largest = Math.max(rows.at(-1)?.size ?? 0, ...kept.keys());
    let bytes: Buffer;
    try {
      bytes = await fsp.readFile(file);
    } catch (err) {
      if (largest === 0) return [];
      const gone = (err as NodeJS.ErrnoException).code === 'ENOENT';
      return [
        {
          code: gone ? 'checkpoint-missing' : 'checkpoint-invalid',
          file,
          message: `the latest checkpoint ${file} is ${gone ? 'missing' : `unreadable (${(err as Error).message})`}; the latest signed is of size ${largest}`,
        },
      ];
    }
    const opened = openCheckpoint(bytes.toString('utf8'), this.noteKeys);
    if (!opened.ok)
      return [
        {
          code: 'checkpoint-invalid',
          file,
          message: `the latest checkpoint ${file} does not verify with the log key: ${opened.reason}`,
        },
      ];
    const { size, root } = opened.checkpoint;
    if (size < largest)
      return [
        {
          code: 'checkpoint-stale',
          file,
          size,
          message: `the latest checkpoint ${file} is of size ${size}, but a checkpoint of size ${largest} was signed: it was replaced by an older one`,
        },
      ];
    const note = kept.get(size) ?? rows.find((r) => r.size === size)?.note;
    if (size > largest || note === undefined) {
      const out: Finding[] = [
        {
          code: 'checkpoint-missing',
          file,
          size,
          message: `the latest checkpoint ${file} (size ${size}) is not kept in log/checkpoints/ nor in the store`,
        },
      ];
      if (size > leaves.length)
        out.push({
          code: 'rolled-back',
          file,
          message: `the latest checkpoint is of size ${size}, but the log has ${leaves.length} entries`,
        });
      else if (!rootOf(leaves.slice(0, size)).equals(root))
        out.push({
          code: 'log-rewritten',
          file,
          message: `the first ${size} log entries no longer hash to the root of the latest checkpoint`,
        });
      return out;
    }
    if (bytes.toString('utf8') !== note)
      return [
        {
          code: 'checkpoint-invalid',
          file,
          message: `the latest checkpoint ${file} differs from the checkpoint of size ${size} kept in log/checkpoints/`,
        },
      ];
    return [];
  }

  /**
   * Rewrites the index (packages, items, search keys, object sizes) from the log, in one SQLite
   * transaction: all of it or nothing. Refused when the log does not hold every file's facts
   * (files archived before facts entries, until the daemon commits them) or when the log itself
   * does not verify (its entries or checkpoints).
   */
  async rebuildIndex(): Promise<{ packages: number; items: number; keys: number; before: Finding[] }> {
    const before = await this.verify({ blobs: false });
    const logProblems = before.findings.filter((f) =>
      ['entry-altered', 'reordered', 'log-rewritten', 'rolled-back', 'facts-invalid'].includes(f.code),
    );
    if (logProblems.length > 0)
      throw new Error(
        `the log itself does not verify (${logProblems.map((f) => f.code).join(', ')}): the index cannot be rebuilt from it; run "fatturad archive verify"`,
      );
    const at = this.now().toISOString();
    // Read and written under the store's write lock: an archiving pass of a daemon running
    // meanwhile waits, and is not lost.
    const plan = this.store.exclusive(() => {
      const fileLeaves = new Map<number, LogEntry>();
      const facts: { idx: number; entry: FactsEntry }[] = [];
      for (const row of this.store.iterateLog()) {
        if (isFactsEntry(row.entry)) {
          const f = decodeFacts(row.entry);
          if (f) facts.push({ idx: row.idx, entry: f });
        } else {
          const e = decodeEntry(row.entry);
          if (e) fileLeaves.set(row.idx, e);
        }
      }
      const p = rebuildPlan(this.store, fileLeaves, expectedIndex(fileLeaves, facts));
      this.store.replaceIndex(p.packages, p.items);
      for (const e of fileLeaves.values()) this.store.fixObject(e.sha256, e.size, at);
      return p;
    });
    return {
      packages: plan.packages.length,
      items: plan.items.length,
      keys: plan.items.reduce((n, i) => n + i.keys.length, 0),
      before: before.findings,
    };
  }

  private async checkpointFiles(): Promise<Map<number, string>> {
    const dir = path.join(this.opts.dir, 'log', 'checkpoints');
    const out = new Map<number, string>();
    for (const n of await fsp.readdir(dir).catch(() => [] as string[])) {
      const m = /^([0-9]{12})\.note$/.exec(n);
      if (m) out.set(Number(m[1]), path.join(dir, n));
    }
    return out;
  }
}

async function fsyncDirIfExists(dir: string): Promise<void> {
  try {
    await fsyncDir(dir);
  } catch {
    // not created (no blob written under it)
  }
}

async function readHead(file: string, n: number): Promise<Buffer | null> {
  try {
    const fh = await fsp.open(file, 'r');
    try {
      const b = Buffer.alloc(n);
      const { bytesRead } = await fh.read(b, 0, n, 0);
      return b.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}
