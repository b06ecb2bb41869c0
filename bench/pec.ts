/**
 * PEC mailbox benchmark (not a test): a mailbox on a real Dovecot holding N certified messages
 * from SdI (an RC each, in a signed PEC envelope with daticert.xml and postacert.eml), about N
 * invoices the store knows as sent. A real daemon process reads the mailbox from scratch; the
 * benchmark prints messages/s from the first IMAP connection to the last invoice `delivered`,
 * and the daemon's peak RSS. Beside it, the floor: the same mailbox only downloaded by a bare
 * imapflow client (no parsing, no store).
 *
 *   npm run bench:pec [-- --messages 5000]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { ImapFlow } from 'imapflow';
import { buildCertifiedEnvelope, buildSdiMessage } from '../src/channels/pec/build.js';
import { buildNotification } from '../src/notifications/build.js';
import { ensureSimPki } from '../src/sim/certs.js';
import { Store } from '../src/store/store.js';
import { startDovecot } from '../test/helpers/dovecot.js';
import { EX, example } from '../test/helpers/spec.js';

const args = process.argv.slice(2);
const N = Number(args[args.indexOf('--messages') + 1] || 0) || 5000;
const root = fileURLToPath(new URL('..', import.meta.url));
const sample = example(EX.b2b);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fatturad-bench-pec-'));
fs.chmodSync(dir, 0o755);
const ME = 'fatture@pec.example.it';
const SDI = 'sdi07@pec.fatturapa.it';

const dovecot = await startDovecot(path.join(dir, 'dovecot'));
const imap = (): ImapFlow =>
  new ImapFlow({
    host: '127.0.0.1',
    port: dovecot.port,
    secure: false,
    auth: { user: dovecot.user, pass: dovecot.pass },
    logger: false,
  });

// The store: N invoices sent, waiting for SdI's answer.
const dataDir = path.join(dir, 'var');
fs.mkdirSync(path.join(dataDir, 'spool'), { recursive: true });
const store = new Store(path.join(dataDir, 'fatturad.db'));
const name = (i: number): string => `IT01234567890_${i.toString(36).toUpperCase().padStart(5, '0')}.xml`;
{
  const invoice = path.join(dataDir, 'spool', 'invoice.xml');
  fs.writeFileSync(invoice, sample);
  const rows = store.beginClaims(
    Array.from({ length: N }, (_, i) => ({ sourceDir: dir, originalName: `f${i}.xml`, sourcePath: invoice })),
    () => invoice,
  );
  const ids = store.finishClaims(
    rows.map((r, i) => ({
      intakeId: r.id,
      sha256: i.toString(16).padStart(64, '0'),
      size: sample.length,
      outcome: 'accepted' as const,
      documents: [
        {
          entry: '',
          originalName: `f${i}.xml`,
          sha256: i.toString(16).padStart(64, '0'),
          size: sample.length,
          state: 'received' as const,
          path: invoice,
          reason: 'bench',
        },
      ],
    })),
  );
  let i = 0;
  for (const [, [doc]] of ids) {
    const d = doc as number;
    store.markValidated(d, [], 'valid');
    store.beginSending(d, { channel: 'pec', sdiName: name(i + 1), flow: 'b2b' });
    store.recordSent(d, String(1_000_000 + i + 1));
    i++;
  }
}
store.close();

// The mailbox: one signed certified RC per invoice.
const pki = await ensureSimPki(path.join(dir, 'pki'));
const provider = {
  domain: 'pcert.sogei.it',
  signer: { certPem: fs.readFileSync(pki.sdi.cert, 'utf8'), keyPem: fs.readFileSync(pki.sdi.key, 'utf8') },
};
const tBuild = Date.now();
const client = imap();
await client.connect();
let bytes = 0;
for (let i = 1; i <= N; i++) {
  const id = String(1_000_000 + i);
  const subject = `Ricevuta di consegna ${id}`;
  const inner = buildSdiMessage({
    from: SDI,
    to: ME,
    subject,
    attachments: [
      {
        fileName: name(i).replace('.xml', '_RC_001.xml'),
        bytes: buildNotification({
          kind: 'RC',
          family: 'b2b',
          identificativoSdI: id,
          nomeFile: name(i),
          destinatario: { codice: 'ABC1234' },
          invoiceBytes: sample,
        }),
      },
    ],
  });
  const raw = await buildCertifiedEnvelope({ inner, mittente: SDI, destinatari: [ME], subject, provider });
  bytes += raw.length;
  await client.append('INBOX', raw);
}
await client.logout();
const fillS = (Date.now() - tBuild) / 1000;

// Floor: download every message, nothing else.
const tFloor = Date.now();
{
  const c = imap();
  await c.connect();
  const lock = await c.getMailboxLock('INBOX');
  let n = 0;
  try {
    for await (const m of c.fetch('1:*', { uid: true, source: true })) if (m.source) n++;
  } finally {
    lock.release();
    await c.logout();
  }
  if (n !== N) throw new Error(`floor fetched ${n} of ${N}`);
}
const floorS = (Date.now() - tFloor) / 1000;

// The daemon.
const cfg = path.join(dir, 'fatturad.yaml');
fs.writeFileSync(
  cfg,
  [
    `dataDir: ${dataDir}`,
    'log: { level: warn, format: json }',
    'http: { port: 0 }',
    `intake: { folders: [{ path: ${dir}/outbox }] }`,
    'channel:',
    '  type: pec',
    '  pec:',
    `    address: ${ME}`,
    '    smtp: { host: 127.0.0.1, port: 1 }',
    `    imap: { host: 127.0.0.1, port: ${dovecot.port}, secure: false, user: ${dovecot.user} }`,
    `passive: { importDir: ${dir}/inbox }`,
  ].join('\n'),
);
const t0 = Date.now();
// BENCH_CPU_PROF=<dir> writes the daemon's CPU profile there.
const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
const child = spawn(
  process.execPath,
  [...prof, path.join(root, 'dist', 'cli.js'), 'start', '--config', cfg],
  {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, FATTURAD_PEC_PASSWORD: dovecot.pass },
  },
);
const db = new Database(path.join(dataDir, 'fatturad.db'), { readonly: true, fileMustExist: true });
const delivered = (): number =>
  (db.prepare(`SELECT count(*) AS n FROM documents WHERE state = 'delivered'`).get() as { n: number }).n;
let first = 0;
let peakKb = 0;
for (;;) {
  await new Promise((r) => setTimeout(r, 100));
  const n = delivered();
  if (n > 0 && !first) first = Date.now();
  try {
    const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
    peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
  } catch {
    // not on Linux
  }
  if (n >= N) break;
  if (Date.now() - t0 > 30 * 60_000) throw new Error(`only ${n} of ${N} after 30 minutes`);
}
const totalS = (Date.now() - t0) / 1000;
const readS = (Date.now() - first) / 1000;
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
db.close();
await dovecot.stop();
fs.rmSync(dir, { recursive: true, force: true });

const mb = bytes / 1048576;
console.log(`PEC mailbox: ${N} certified SdI messages (RC), ${mb.toFixed(1)} MB, on Dovecot over loopback`);
console.log(`  filled by IMAP APPEND in ${fillS.toFixed(1)} s`);
console.log(
  `  fatturad: ${totalS.toFixed(1)} s from start to the last invoice delivered -> ${(N / totalS).toFixed(0)} messages/s ` +
    `(${(N / readS).toFixed(0)}/s from the first); peak RSS ${(peakKb / 1024).toFixed(0)} MB`,
);
console.log(
  `  floor (bare imapflow download, no parsing or store): ${floorS.toFixed(1)} s -> ${(N / floorS).toFixed(0)} messages/s; ` +
    `fatturad at ${((N / totalS / (N / floorS)) * 100).toFixed(0)} % of it`,
);
