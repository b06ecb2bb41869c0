import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { tempNameFor } from '../util/fsx.js';

/**
 * The store's seal: at a clean stop, once SQLite has folded the WAL into the database file, the
 * file's SHA-256 is written beside it (`fatturad.db.seal`); the next start compares and removes it
 * before opening the store. SQLite's own checks see the structure of pages and records; the seal
 * sees every byte, so any change while fatturad was stopped (a flipped sector, a file copied over
 * it) is caught, even in a page's unused space or inside a value that still looks valid.
 */

export interface Seal {
  sha256: string;
  size: number;
  /** The file's modification time when sealed: a quick look (`fatturad status`) compares it and the size. */
  mtimeMs: number;
  sealedAt: string;
}

export function sealFile(db: string): string {
  return `${db}.seal`;
}

function hashFile(file: string): { sha256: string; size: number } {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  let size = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      size += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { sha256: hash.digest('hex'), size };
}

/** A WAL with frames: commits not yet in the database file (an empty one, left by a reader, holds none). */
function walHoldsCommits(db: string): boolean {
  try {
    return fs.statSync(`${db}-wal`).size > 0;
  } catch {
    return false;
  }
}

/**
 * Seals the closed store: only when no WAL is left (every commit is in the database file, and no
 * other connection has it open). Written atomically (temp name, fsync, rename, fsync folder).
 */
export function writeSeal(db: string): boolean {
  if (!fs.existsSync(db) || walHoldsCommits(db)) return false;
  const seal: Seal = {
    ...hashFile(db),
    mtimeMs: fs.statSync(db).mtimeMs,
    sealedAt: new Date().toISOString(),
  };
  const target = sealFile(db);
  const tmp = tempNameFor(target);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, `${JSON.stringify(seal)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, target);
  syncDir(path.dirname(target));
  return true;
}

/** A seal, if any, refreshed after a command changed the store on purpose (`fatturad resend`). */
export function resealIfSealed(db: string): void {
  if (fs.existsSync(sealFile(db))) {
    if (!writeSeal(db)) removeSeal(db);
  }
}

export type SealCheck =
  | { state: 'none' }
  | { state: 'ok'; seal: Seal }
  | { state: 'mismatch'; seal: Seal; actual: { sha256: string; size: number } };

/**
 * Compares the database file with its seal. A WAL beside it means the seal is not for this file.
 * `quick`: the same size and modification time are taken as the same file (hashed only otherwise).
 */
export function checkSeal(db: string, opts: { quick?: boolean } = {}): SealCheck {
  const file = sealFile(db);
  if (!fs.existsSync(file) || !fs.existsSync(db)) return { state: 'none' };
  let seal: Seal;
  try {
    seal = JSON.parse(fs.readFileSync(file, 'utf8')) as Seal;
  } catch {
    return { state: 'none' };
  }
  if (typeof seal.sha256 !== 'string') return { state: 'none' };
  if (walHoldsCommits(db)) return { state: 'none' };
  const st = fs.statSync(db);
  if (opts.quick && st.size === seal.size && st.mtimeMs === seal.mtimeMs) return { state: 'ok', seal };
  const actual = hashFile(db);
  return actual.sha256 === seal.sha256 ? { state: 'ok', seal } : { state: 'mismatch', seal, actual };
}

/** Before the store is opened for writing: a seal no longer describes the file once it changes. */
export function removeSeal(db: string): void {
  const file = sealFile(db);
  if (!fs.existsSync(file)) return;
  fs.unlinkSync(file);
  syncDir(path.dirname(file));
}

function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
