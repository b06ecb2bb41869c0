import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir, sha256File, tempNameFor } from '../util/fsx.js';
import { openRegular } from './special.js';

/**
 * The spool of claimed files (`<dataDir>/spool/claimed/`): names that never replace a file, and
 * the files the store no longer knows.
 *
 * A claimed file is named `<id>-<name>` from its intake row's id. A store that went back in time
 * (its WAL lost after a crash, restored from an older backup) hands out ids again, so such a name
 * may already hold a file the store forgot: a claim takes the first free name among `<id>-<name>`,
 * `<id>.2-<name>`, `<id>.3-<name>`... and moves the file there without replacing anything.
 */

const CLAIMED_NAME = /^(\d{8})(?:\.\d+)?-(.+)$/;

/** The intake id a spool name starts with, or null for a name that is not a claimed file's. */
export function intakeIdOf(name: string): number | null {
  const m = CLAIMED_NAME.exec(name);
  return m ? Number(m[1]) : null;
}

/** The name the file had in its drop folder, as far as its spool name keeps it. */
export function originalNameOf(name: string): string {
  return CLAIMED_NAME.exec(name)?.[2] ?? name;
}

const taken = (p: string): boolean => {
  try {
    fs.lstatSync(p);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
};

/**
 * The first free spool name for intake `id` and the (already fitted) `name`: neither it nor its
 * zip entries' folder (`.d`) exists. Synchronous: called inside the claim's transaction.
 */
export function freeClaimedPath(dir: string, id: number, name: string): string {
  const prefix = String(id).padStart(8, '0');
  for (let k = 1; ; k++) {
    const p = path.join(dir, `${prefix}${k === 1 ? '' : `.${k}`}-${name}`);
    if (!taken(p) && !taken(`${p}.d`)) return p;
  }
}

/** The move found a file already at its target: nothing was replaced, the source is where it was. */
export class TargetExistsError extends Error {
  override name = 'TargetExistsError';
  readonly code = 'EEXIST';
}

/** Errors of link(2) on a file system or a file that has no hard links (or may not get one). */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'ENOSYS', 'EACCES']);

/**
 * Moves `src` to `dst` without ever replacing a file at `dst` (TargetExistsError): a new hard link
 * then the old name removed (link(2) fails when the target exists), where rename(2) would replace
 * it. A crash in between leaves both names, which recovery resolves (intake.ts). Where hard links
 * are not available, a rename after checking that `dst` is free (only this process writes in the
 * spool). Across file systems: a copy under a temp name, fsynced and compared with its source,
 * linked into place, then the source removed. The caller fsyncs the folders.
 */
export async function moveNoReplace(
  src: string,
  dst: string,
  opts: { fsync: boolean },
): Promise<'linked' | 'renamed' | 'copied'> {
  try {
    await fsp.link(src, dst);
    await fsp.unlink(src);
    return 'linked';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') throw new TargetExistsError(`${dst} already exists: ${src} not moved`);
    if (NO_LINKS.has(code)) {
      if (taken(dst)) throw new TargetExistsError(`${dst} already exists: ${src} not moved`);
      await fsp.rename(src, dst);
      return 'renamed';
    }
    if (code !== 'EXDEV') throw err;
  }
  await copyAcross(src, dst, opts);
  await fsp.unlink(src);
  return 'copied';
}

async function hashHandle(fh: fsp.FileHandle): Promise<{ sha256: string }> {
  const hash = crypto.createHash('sha256');
  const buf = Buffer.allocUnsafe(256 * 1024);
  for (let pos = 0; ;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return { sha256: hash.digest('hex') };
}

async function copyAcross(src: string, dst: string, opts: { fsync: boolean }): Promise<void> {
  const opened = await openRegular(src);
  if ('special' in opened)
    throw Object.assign(new Error(`${src} is a ${opened.special}, not a regular file`), { code: 'ENOTREG' });
  const tmp = tempNameFor(dst);
  try {
    const hash = crypto.createHash('sha256');
    const out = await fsp.open(tmp, 'wx', 0o644);
    try {
      const buf = Buffer.allocUnsafe(256 * 1024);
      for (;;) {
        const { bytesRead } = await opened.fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
        await out.write(buf, 0, bytesRead);
      }
      if (opts.fsync) await out.sync();
    } finally {
      await out.close();
    }
    const copied = hash.digest('hex');
    // The source read again through the same descriptor: a writer that changed it meanwhile shows.
    const [now, written] = await Promise.all([hashHandle(opened.fh), sha256File(tmp)]);
    if (now.sha256 !== copied || written.sha256 !== copied)
      throw new Error(`copy of ${src} does not match its source (changed while copied?)`);
    try {
      await fsp.link(tmp, dst);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST')
        throw new TargetExistsError(`${dst} already exists: ${src} not moved`);
      throw err;
    }
    if (opts.fsync) await fsyncDir(path.dirname(dst));
  } finally {
    await opened.fh.close();
    await fsp.rm(tmp, { force: true });
  }
}

/**
 * Whether `a` and `b` hold the same file: the same inode (a move that linked and did not unlink
 * yet) or the same bytes (one that copied across file systems).
 */
export async function sameFile(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([fsp.lstat(a), fsp.lstat(b)]);
  if (sa.dev === sb.dev && sa.ino === sb.ino) return true;
  if (!sa.isFile() || !sb.isFile() || sa.size !== sb.size) return false;
  const [ha, hb] = await Promise.all([sha256File(a), sha256File(b)]);
  return ha.sha256 === hb.sha256;
}

/** A free name for `name` in `dir`: itself, or `<name>.2`, `<name>.3`... */
export function freeName(dir: string, name: string): string {
  for (let k = 1; ; k++) {
    const p = path.join(dir, k === 1 ? name : `${name}.${k}`);
    if (!taken(p)) return p;
  }
}
