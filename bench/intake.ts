/**
 * Intake benchmark (not a test): 20,000 small invoice files dropped at once into the outbox of a
 * real daemon process. Prints files/s, time to drain and the daemon's peak RSS, beside a floor:
 * the same files only renamed from one folder to another, with no bookkeeping.
 *
 *   npm run bench:intake [-- --files 20000 --no-fsync]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const args = process.argv.slice(2);
const N = Number(args[args.indexOf('--files') + 1] || 0) || 20_000;
const fsync = !args.includes('--no-fsync');
const root = fileURLToPath(new URL('..', import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fatturad-bench-intake-'));
const outbox = path.join(dir, 'outbox');
const staging = path.join(dir, 'staging');
fs.mkdirSync(outbox, { recursive: true });
fs.mkdirSync(staging, { recursive: true });

const body = (i: number): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<p:FatturaElettronica versione="FPR12" xmlns:p="http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2"><!-- ${i} -->${'x'.repeat(4000)}</p:FatturaElettronica>\n`;

function makeFiles(into: string): string[] {
  const names: string[] = [];
  for (let i = 0; i < N; i++) {
    const name = `IT01234567890_${i.toString(36).toUpperCase().padStart(5, '0')}.xml`;
    fs.writeFileSync(path.join(into, name), body(i));
    names.push(name);
  }
  return names;
}

// Floor: plain renames of the same number of files.
const floorDir = path.join(dir, 'floor');
fs.mkdirSync(path.join(floorDir, 'a'), { recursive: true });
fs.mkdirSync(path.join(floorDir, 'b'));
const floorNames = makeFiles(path.join(floorDir, 'a'));
let t = performance.now();
for (const n of floorNames) fs.renameSync(path.join(floorDir, 'a', n), path.join(floorDir, 'b', n));
const floorMs = performance.now() - t;
fs.rmSync(floorDir, { recursive: true });

const cfg = path.join(dir, 'fatturad.yaml');
fs.writeFileSync(
  cfg,
  [
    `dataDir: ${dir}/var`,
    'log: { level: warn, format: json }',
    'http: { port: 0 }',
    'validation: { enabled: false }',
    'intake:',
    `  folders: [{ path: ${outbox} }]`,
    `  fsync: ${fsync}`,
  ].join('\n'),
);
const child = spawn(
  process.execPath,
  [
    ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
    path.join(root, 'dist', 'cli.js'),
    'start',
    '--config',
    cfg,
  ],
  {
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
await new Promise((r) => setTimeout(r, 1500));

const names = makeFiles(staging);
await new Promise((r) => setTimeout(r, 50));
t = performance.now();
for (const n of names) fs.renameSync(path.join(staging, n), path.join(outbox, n));
const dropMs = performance.now() - t;

const db = path.join(dir, 'var', 'fatturad.db');
let done = 0;
let firstAt = 0;
while (done < N) {
  await new Promise((r) => setTimeout(r, 100));
  if (!fs.existsSync(db)) continue;
  const h = new Database(db, { readonly: true });
  done = (h.prepare(`SELECT count(*) AS n FROM intake WHERE status = 'done'`).get() as { n: number }).n;
  h.close();
  if (done > 0 && !firstAt) firstAt = performance.now();
}
const drainMs = performance.now() - t;
const claimMs = performance.now() - firstAt;
const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
fs.rmSync(dir, { recursive: true, force: true });

const fmt = (x: number): string => x.toFixed(0);
console.log(`intake benchmark: ${N} files of ~4 KB, fsync ${fsync ? 'on' : 'off'}, ${os.cpus().length} CPUs`);
console.log(`  dropped (renamed into the outbox) in  ${fmt(dropMs)} ms`);
console.log(
  `  drained (all claimed and recorded) in  ${fmt(drainMs)} ms  -> ${fmt((N / drainMs) * 1000)} files/s`,
);
console.log(
  `  claiming, first to last record         ${fmt(claimMs)} ms  -> ${fmt((N / claimMs) * 1000)} files/s`,
);
console.log(`  daemon peak RSS                        ${(hwmKb / 1024).toFixed(1)} MB`);
console.log(
  `  floor: plain renameSync of ${N} files  ${fmt(floorMs)} ms  -> ${fmt((N / floorMs) * 1000)} files/s`,
);
