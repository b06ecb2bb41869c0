/**
 * End-to-end benchmark (not a test): 1,000 invoices dropped at once into the outbox of a real
 * daemon on its embedded default (SDICoop over HTTPS with mutual TLS to the built-in SdI
 * simulator on loopback, notifications without delay). Prints invoices/s and the p50 / p99
 * latency from the drop to the RC recorded in the store, and the daemon's peak RSS.
 *
 *   npm run bench:e2e [-- --files 1000]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { EX, exampleText } from '../test/helpers/spec.js';

const args = process.argv.slice(2);
const N = Number(args[args.indexOf('--files') + 1] || 0) || 1000;
const root = fileURLToPath(new URL('..', import.meta.url));
const sample = exampleText(EX.b2b);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fatturad-bench-e2e-'));
const outbox = path.join(dir, 'outbox');
const staging = path.join(dir, 'staging');
fs.mkdirSync(outbox, { recursive: true });
fs.mkdirSync(staging, { recursive: true });

const cfg = path.join(dir, 'fatturad.yaml');
fs.writeFileSync(
  cfg,
  [
    `dataDir: ${dir}/var`,
    'log: { level: warn, format: json }',
    'http: { port: 0 }',
    'intake:',
    `  folders: [{ path: ${outbox} }]`,
    '  stableMs: 0',
    'sending: { pollMs: 1000, concurrency: 8 }',
    'simulator: { scenario: deliver, delayMs: 0 }',
  ].join('\n'),
);
const child = spawn(process.execPath, [path.join(root, 'dist', 'cli.js'), 'start', '--config', cfg], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
await new Promise((r) => setTimeout(r, 2500));

const names: string[] = [];
for (let i = 0; i < N; i++) {
  const name = `fattura-${i}.xml`;
  fs.writeFileSync(
    path.join(staging, name),
    sample.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>B${i + 1}/2026</Numero>`),
  );
  names.push(name);
}
const t0 = Date.now();
for (const n of names) fs.renameSync(path.join(staging, n), path.join(outbox, n));

const db = path.join(dir, 'var', 'fatturad.db');
let delivered: number[] = [];
let hwmKb = 0;
const deadline = Date.now() + 600_000;
while (delivered.length < N && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 200));
  const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
  hwmKb = Math.max(hwmKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
  if (!fs.existsSync(db)) continue;
  const h = new Database(db, { readonly: true });
  delivered = (
    h.prepare(`SELECT at FROM transitions WHERE to_state = 'delivered' ORDER BY at`).all() as { at: string }[]
  ).map((r) => Date.parse(r.at) - t0);
  h.close();
}
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
fs.rmSync(dir, { recursive: true, force: true });

const pct = (p: number): number =>
  delivered[Math.min(delivered.length - 1, Math.ceil((p / 100) * delivered.length) - 1)] ?? NaN;
const last = delivered[delivered.length - 1] ?? NaN;
console.log(
  `end-to-end benchmark: ${N} invoices through SDICoop to the built-in simulator, ${os.cpus().length} CPUs`,
);
console.log(
  `  delivered (RC recorded): ${delivered.length}/${N} in ${last} ms -> ${((delivered.length / last) * 1000).toFixed(1)} invoices/s`,
);
console.log(`  latency from drop to RC: p50 ${pct(50)} ms, p99 ${pct(99)} ms`);
console.log(`  daemon peak RSS: ${(hwmKb / 1024).toFixed(1)} MB`);
