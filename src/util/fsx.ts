import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/** File-system steps that keep data safe across a crash: temp name, fsync, rename, fsync folder. */

export async function sha256File(file: string): Promise<{ sha256: string; size: number }> {
  const hash = crypto.createHash('sha256');
  let size = 0;
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(256 * 1024);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return { sha256: hash.digest('hex'), size };
}

export function sha256(data: Buffer | string): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export async function fsyncFile(file: string): Promise<void> {
  const fh = await fsp.open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes a rename or a new entry in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function tempNameFor(target: string): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`,
  );
}

export function isTempName(name: string): boolean {
  return /^\..+\.\d+\.[0-9a-f]{8}\.tmp$/.test(name);
}

/** Writes `data` to `target` so that a reader sees the old file or the whole new one, never a part. */
export async function atomicWrite(
  target: string,
  data: Buffer | string,
  opts: { fsync?: boolean; mode?: number } = {},
): Promise<void> {
  const fsync = opts.fsync ?? true;
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const tmp = tempNameFor(target);
  const fh = await fsp.open(tmp, 'wx', opts.mode ?? 0o644);
  try {
    await fh.writeFile(data);
    if (fsync) await fh.sync();
  } catch (err) {
    await fh.close();
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await fsp.rename(tmp, target);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  if (fsync) await fsyncDir(path.dirname(target));
}

export class HashMismatchError extends Error {
  override name = 'HashMismatchError';
}

/**
 * Moves `src` to `dst`. On one file system this is a rename. Across file systems (EXDEV) it copies
 * to a temp name beside `dst`, fsyncs, checks the copy's sha256 against the source's, renames it
 * into place and only then unlinks the source: at every instant the bytes exist whole somewhere.
 * The caller fsyncs the folders (once per batch).
 */
export async function moveFile(
  src: string,
  dst: string,
  opts: { fsync: boolean },
): Promise<'renamed' | 'copied'> {
  try {
    await fsp.rename(src, dst);
    return 'renamed';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
  }
  const tmp = tempNameFor(dst);
  try {
    await fsp.copyFile(src, tmp, fs.constants.COPYFILE_EXCL);
    if (opts.fsync) await fsyncFile(tmp);
    const [a, b] = await Promise.all([sha256File(src), sha256File(tmp)]);
    if (a.sha256 !== b.sha256) {
      throw new HashMismatchError(`copy of ${src} does not match its source (changed while copied?)`);
    }
    await fsp.rename(tmp, dst);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  if (opts.fsync) await fsyncDir(path.dirname(dst));
  await fsp.unlink(src);
  return 'copied';
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Chooses where a file with content `sha256` goes in `dir`, keeping its name when free. A file
 * already there with the same content is reused, so repeating the step after a crash writes no
 * second copy.
 */
export async function chooseOutputName(dir: string, name: string, sha: string, tag: string): Promise<string> {
  const ext = extensionOf(name);
  const stem = name.slice(0, name.length - ext.length);
  const candidates = [name, `${stem}.${tag}${ext}`];
  for (const c of candidates) {
    const p = path.join(dir, c);
    if ((await exists(p)) && (await sha256File(p)).sha256 === sha) return p;
  }
  for (const c of candidates) {
    const p = path.join(dir, c);
    if (!(await exists(p))) return p;
  }
  for (let i = 2; ; i++) {
    const p = path.join(dir, `${stem}.${tag}-${i}${ext}`);
    if (!(await exists(p))) return p;
    if ((await sha256File(p)).sha256 === sha) return p;
  }
}

/** The extension, keeping double extensions such as `.xml.p7m`. */
export function extensionOf(name: string): string {
  const m = /(\.xml\.p7m|\.[^.]+)$/i.exec(name);
  return m ? m[0] : '';
}

/** Copies `src` to `dst` through a temp name, fsynced, so `dst` is whole or absent. */
export async function atomicCopy(src: string, dst: string, opts: { fsync: boolean }): Promise<void> {
  await fsp.mkdir(path.dirname(dst), { recursive: true });
  const tmp = tempNameFor(dst);
  try {
    await fsp.copyFile(src, tmp, fs.constants.COPYFILE_EXCL);
    if (opts.fsync) await fsyncFile(tmp);
    await fsp.rename(tmp, dst);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  if (opts.fsync) await fsyncDir(path.dirname(dst));
}
