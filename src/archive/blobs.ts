import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir, tempNameFor } from '../util/fsx.js';

/**
 * Content-addressed blobs: `<dir>/sha256/ab/cd/<64 hex>`, written once through a temporary name,
 * fsynced, renamed and made read-only. The name is the SHA-256 of the bytes, so a changed,
 * truncated or swapped file shows when it is hashed again.
 */
export class BlobStore {
  constructor(readonly dir: string) {}

  pathOf(sha256: string): string {
    return path.join(this.dir, 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  /** Stores `bytes`; returns its hash. An existing blob with that name is left as it is. */
  async put(
    bytes: Buffer,
    opts: { fsync: boolean; syncDirs?: Set<string> } = { fsync: true },
  ): Promise<{ sha256: string; size: number }> {
    const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
    const target = this.pathOf(sha256);
    try {
      await fsp.access(target);
      return { sha256, size: bytes.length };
    } catch {
      // not there yet
    }
    const dir = path.dirname(target);
    await fsp.mkdir(dir, { recursive: true });
    const tmp = tempNameFor(target);
    const fh = await fsp.open(tmp, 'wx', 0o444);
    try {
      await fh.writeFile(bytes);
      if (opts.fsync) await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, target);
    // The caller may collect the folders and fsync each once for a whole batch.
    if (opts.fsync && opts.syncDirs) opts.syncDirs.add(dir);
    else if (opts.fsync) await fsyncDir(dir);
    return { sha256, size: bytes.length };
  }

  async get(sha256: string): Promise<Buffer> {
    return fsp.readFile(this.pathOf(sha256));
  }

  /** Hashes the stored file as it is now (streaming: bounded memory). */
  async hash(sha256: string): Promise<{ sha256: string; size: number } | null> {
    const file = this.pathOf(sha256);
    return new Promise((resolve) => {
      const h = crypto.createHash('sha256');
      let size = 0;
      const s = fs.createReadStream(file, { highWaterMark: 1 << 20 });
      s.on('data', (chunk: Buffer | string) => {
        const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        size += b.length;
        h.update(b);
      });
      s.on('error', () => resolve(null));
      s.on('end', () => resolve({ sha256: h.digest('hex'), size }));
    });
  }

  /** Every blob name found on disk (for the "extra file" check), and anything else in the tree. */
  async *list(): AsyncGenerator<{ name: string; file: string; valid: boolean }> {
    const root = path.join(this.dir, 'sha256');
    let level1: string[];
    try {
      level1 = await fsp.readdir(root);
    } catch {
      return;
    }
    for (const a of level1.sort()) {
      const da = path.join(root, a);
      let level2: string[];
      try {
        level2 = await fsp.readdir(da);
      } catch {
        yield { name: a, file: da, valid: false };
        continue;
      }
      for (const b of level2.sort()) {
        const db = path.join(da, b);
        let names: string[];
        try {
          names = await fsp.readdir(db);
        } catch {
          yield { name: b, file: db, valid: false };
          continue;
        }
        for (const n of names.sort()) {
          const valid =
            /^[0-9a-f]{64}$/.test(n) &&
            n.startsWith(a + b) &&
            /^[0-9a-f]{2}$/.test(a) &&
            /^[0-9a-f]{2}$/.test(b);
          yield { name: n, file: path.join(db, n), valid };
        }
      }
    }
  }
}
