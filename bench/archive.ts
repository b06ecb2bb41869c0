/**
 * Archive benchmark (not a test).
 * 1. Append: documents of ~5 KB archived in PdV-sized batches (blob written, fsynced, renamed;
 *    one SQLite transaction per batch), then a signed checkpoint: documents/s.
 * 2. Verification: `Archive.verify()` over about 2 GB of blobs (every file re-hashed, the log
 *    recomputed, the checkpoints checked) beside `sha256sum` over the same files in the same run,
 *    both with the files in the page cache after a warm-up read; prints MB/s and the ratio.
 *
 *   npm run bench:archive [-- --documents 20000 --gigabytes 2]
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Archive } from '../src/archive/archive.js';
import { ArchiveStore } from '../src/store/archive-store.js';
import { Store } from '../src/store/store.js';

const args = process.argv.slice(2);
const arg = (name: string, d: number): number => Number(args[args.indexOf(`--${name}`) + 1] || 0) || d;
const DOCS = arg('documents', 20_000);
const GB = arg('gigabytes', 2);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fatturad-bench-archive-'));
const rss = (): number => Math.round(process.memoryUsage().rss / 1048576);
let peak = 0;
const sample = setInterval(() => (peak = Math.max(peak, rss())), 100);

async function open(name: string): Promise<{ archive: Archive; store: Store }> {
  const store = new Store(path.join(dir, `${name}.db`));
  const archive = new Archive(new ArchiveStore(store.db), {
    dir: path.join(dir, name),
    origin: 'bench/archive',
    keyFile: '',
    fsync: true,
  });
  await archive.open();
  return { archive, store };
}

// 1. Append.
{
  const { archive, store } = await open('append');
  const doc = (i: number): Buffer =>
    Buffer.from(
      `<FatturaElettronica n="${i}">${crypto.randomBytes(2400).toString('hex')}</FatturaElettronica>\n`,
    );
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < DOCS; i += 500) {
    const n = Math.min(500, DOCS - i);
    await archive.append(
      Array.from({ length: n }, (_, k) => ({
        kind: 'invoice' as const,
        bytes: doc(i + k),
        ref: `f${i + k}.xml`,
      })),
      () => undefined,
    );
  }
  await archive.checkpoint();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(
    `append: ${DOCS} documents of ~5 KB in ${s.toFixed(1)} s -> ${(DOCS / s).toFixed(0)} documents/s ` +
      `(fsync on, batches of 500, checkpoint included); RSS ${rss()} MB`,
  );
  store.close();
}

// 2. Verification over ~2 GB.
{
  const { archive, store } = await open('verify');
  const size = 8 * 1024 * 1024;
  const files = Math.round((GB * 1024 * 1024 * 1024) / size);
  for (let i = 0; i < files; i += 8) {
    const n = Math.min(8, files - i);
    await archive.append(
      Array.from({ length: n }, (_, k) => ({
        kind: 'invoice' as const,
        bytes: crypto.randomBytes(size),
        ref: `big-${i + k}`,
      })),
      () => undefined,
    );
  }
  await archive.checkpoint();
  const list = path.join(dir, 'files.txt');
  const paths: string[] = [];
  for await (const b of archive.blobs.list()) paths.push(b.file);
  fs.writeFileSync(list, `${paths.join('\n')}\n`);
  const total = paths.reduce((n, p) => n + fs.statSync(p).size, 0);
  // Warm-up: both runs read from the page cache.
  spawnSync('sh', ['-c', `xargs cat < ${list} > /dev/null`]);
  const best = (fn: () => void, runs = 3): number => {
    let b = Infinity;
    for (let i = 0; i < runs; i++) {
      const t = process.hrtime.bigint();
      fn();
      b = Math.min(b, Number(process.hrtime.bigint() - t) / 1e9);
    }
    return b;
  };
  const sumS = best(() => {
    const r = spawnSync('sh', ['-c', `xargs sha256sum < ${list} > /dev/null`]);
    if (r.status !== 0) throw new Error('sha256sum failed');
  });
  let ours = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = process.hrtime.bigint();
    const r = await archive.verify();
    if (!r.ok) throw new Error(`verify found ${r.findings.length} findings`);
    ours = Math.min(ours, Number(process.hrtime.bigint() - t) / 1e9);
  }
  const mb = total / 1048576;
  console.log(
    `verify: ${files} blobs, ${(mb / 1024).toFixed(2)} GB: fatturad archive verify ${ours.toFixed(2)} s -> ${(mb / ours).toFixed(0)} MB/s; ` +
      `sha256sum ${sumS.toFixed(2)} s -> ${(mb / sumS).toFixed(0)} MB/s; ratio ${(sumS / ours).toFixed(2)} (target >= 0.9)`,
  );
  store.close();
}
clearInterval(sample);
console.log(`peak RSS ${peak} MB`);
fs.rmSync(dir, { recursive: true, force: true });
