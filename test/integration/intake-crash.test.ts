import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  prng,
  readLog,
  runCli,
  sleep,
  waitFor,
  writeDaemonConfig,
  type DaemonProcess,
} from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { buildZip } from '../helpers/zip-writer.js';

/**
 * The real daemon as a child process takes 1,000 dropped files while it is SIGKILLed at random
 * moments and restarted; every input must end accounted for exactly once.
 */

type Expect = 'accepted' | 'rejected' | 'duplicate' | 'accepted-or-duplicate';
interface Input {
  name: string;
  kind: 'renamed' | 'slow' | 'inplace' | 'duplicate' | 'garbage' | 'zip' | 'hostile-zip';
  data: Buffer;
  expect: Expect;
  /** For zips: how many documents they hold. */
  docs: number;
  /** For duplicates: the name of the input with the same content. */
  twinOf?: string;
}

const SEED = Number(process.env.TEST_SEED ?? Date.now() % 1_000_000);
const rnd = prng(SEED);
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

function invoice(i: number, extra = ''): Buffer {
  return Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<p:FatturaElettronica versione="FPR12" xmlns:p="http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2">` +
      `<!-- test invoice ${i} ${extra} -->${'x'.repeat(200 + Math.floor(rnd() * 3000))}</p:FatturaElettronica>\n`,
  );
}

function makeInputs(): Input[] {
  const inputs: Input[] = [];
  const add = (i: Omit<Input, 'docs'> & { docs?: number }): void => void inputs.push({ docs: 1, ...i });
  let n = 0;
  const name = (ext = 'xml'): string =>
    `IT01234567890_${(n++).toString(36).padStart(5, '0').toUpperCase()}.${ext}`;
  for (let i = 0; i < 500; i++) add({ name: name(), kind: 'renamed', data: invoice(n), expect: 'accepted' });
  for (let i = 0; i < 40; i++)
    add({
      name: name('xml.p7m'),
      kind: 'renamed',
      data: Buffer.concat([Buffer.from([0x30, 0x80]), invoice(n)]),
      expect: 'accepted',
    });
  for (let i = 0; i < 120; i++)
    add({ name: name(), kind: 'slow', data: invoice(n, 'slow'.repeat(500)), expect: 'accepted' });
  for (let i = 0; i < 60; i++) add({ name: name(), kind: 'inplace', data: invoice(n), expect: 'accepted' });
  // Duplicates: pairs of identical content under two names; which one wins depends on timing.
  for (let i = 0; i < 50; i++) {
    const data = invoice(n, 'twin');
    const a = name();
    const b = name();
    add({ name: a, kind: 'renamed', data, expect: 'accepted-or-duplicate', twinOf: b });
    add({ name: b, kind: 'duplicate', data, expect: 'accepted-or-duplicate', twinOf: a });
  }
  for (let i = 0; i < 40; i++)
    add({ name: name('txt'), kind: 'garbage', data: crypto.randomBytes(200), expect: 'rejected' });
  for (let i = 0; i < 20; i++)
    add({ name: name('pdf'), kind: 'garbage', data: Buffer.from('%PDF-1.4 garbage'), expect: 'rejected' });
  for (let i = 0; i < 10; i++)
    add({ name: name(), kind: 'garbage', data: Buffer.alloc(0), expect: 'rejected' });
  for (let i = 0; i < 3; i++)
    add({ name: name(), kind: 'renamed', data: Buffer.alloc(5 * 1024 * 1024 + 1, 0x20), expect: 'rejected' });
  for (let i = 0; i < 2; i++)
    add({ name: name('zip'), kind: 'garbage', data: crypto.randomBytes(300), expect: 'rejected' });
  for (let i = 0; i < 80; i++) {
    const base = n;
    const entries = [0, 1, 2].map((k) => ({
      name: `${base}-${k}.xml`,
      data: invoice(base * 10 + k, 'zip'),
      method: 'deflate' as const,
    }));
    add({ name: name('zip'), kind: 'zip', data: buildZip(entries), expect: 'accepted', docs: 3 });
  }
  const hostile: { name: string; data: Buffer }[][] = [
    [{ name: '../evil.xml', data: invoice(1, 'h') }],
    [{ name: '/etc/evil.xml', data: invoice(2, 'h') }],
    [
      { name: 'a.xml', data: invoice(3, 'h') },
      { name: 'A.XML', data: invoice(4, 'h') },
    ],
    [{ name: 'inner.zip', data: buildZip([{ name: 'x.xml', data: invoice(5, 'h') }]) }],
    [{ name: 'notes.txt', data: Buffer.from('hello') }],
  ];
  for (let i = 0; i < 25; i++) {
    add({
      name: name('zip'),
      kind: 'hostile-zip',
      data: buildZip(hostile[i % hostile.length] ?? []),
      expect: 'rejected',
    });
  }
  return inputs;
}

async function drop(outbox: string, staging: string, input: Input): Promise<void> {
  const target = path.join(outbox, input.name);
  if (input.kind === 'slow') {
    const fh = await fs.promises.open(target, 'w');
    const parts = 4;
    const step = Math.ceil(input.data.length / parts);
    for (let i = 0; i < parts; i++) {
      await fh.write(input.data.subarray(i * step, (i + 1) * step));
      await sleep(60 + Math.floor(rnd() * 60));
    }
    await fh.close();
  } else if (input.kind === 'inplace' || input.kind === 'garbage') {
    await fs.promises.writeFile(target, input.data);
  } else {
    const tmp = path.join(staging, input.name);
    await fs.promises.writeFile(tmp, input.data);
    await fs.promises.rename(tmp, target);
  }
}

const t = tempDir('fatturad-crash-');
afterAll(() => (process.env.TEST_KEEP_DIRS ? console.log(`kept ${t.dir}`) : t.cleanup()));

describe(`intake under SIGKILL (seed ${SEED})`, () => {
  it('accounts for every one of 1,000 inputs exactly once', { timeout: 240_000 }, async () => {
    const dir = t.dir;
    const outbox = path.join(dir, 'outbox');
    const staging = path.join(dir, 'staging');
    fs.mkdirSync(outbox, { recursive: true });
    fs.mkdirSync(staging, { recursive: true });
    const cfg = writeDaemonConfig(dir, outbox, { intake: { stableMs: 400, rescanMs: 1000, batchSize: 64 } });
    const logFile = path.join(dir, 'daemon.log');
    const inputs = makeInputs();
    expect(inputs).toHaveLength(1000);

    let daemon: DaemonProcess = runCli(['start', '--config', cfg], logFile);
    let kills = 0;
    let dropping = true;
    const killer = (async () => {
      while (dropping || kills < 4) {
        await sleep(300 + Math.floor(rnd() * 1200));
        daemon.child.kill('SIGKILL');
        await daemon.exited;
        kills++;
        await sleep(Math.floor(rnd() * 200));
        daemon = runCli(['start', '--config', cfg], logFile);
      }
    })();

    // Drop everything in a shuffled order, a few at a time, over a few seconds.
    const order = [...inputs].sort(() => rnd() - 0.5);
    const lanes = 12;
    await Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        for (let i = lane; i < order.length; i += lanes) {
          await drop(outbox, staging, order[i] as Input);
          if (rnd() < 0.1) await sleep(20);
        }
      }),
    );
    dropping = false;
    await killer;
    expect(kills).toBeGreaterThanOrEqual(4);
    const lastPid = daemon.child.pid;
    await waitFor('the last daemon to be ready', () =>
      readLog(logFile).some((l) => l.event === 'daemon.ready' && l.pid === lastPid),
    );

    // Let the last daemon drain the folder, then stop it gracefully.
    const dbFile = path.join(dir, 'var', 'fatturad.db');
    await waitFor(
      'the outbox to drain and every claim to close',
      () => {
        if (fs.readdirSync(outbox).filter((n) => !n.startsWith('.')).length > 0 || !fs.existsSync(dbFile))
          return false;
        const db = new Database(dbFile, { readonly: true });
        try {
          const open = db.prepare(`SELECT count(*) AS n FROM intake WHERE status <> 'done'`).get() as {
            n: number;
          };
          const done = db.prepare(`SELECT count(*) AS n FROM intake WHERE status = 'done'`).get() as {
            n: number;
          };
          return open.n === 0 && done.n >= inputs.length;
        } finally {
          db.close();
        }
      },
      120_000,
      250,
    );
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);

    const db = new Database(dbFile, { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const intake = db.prepare(`SELECT * FROM intake`).all() as {
        id: number;
        original_name: string;
        status: string;
        outcome: string;
        sha256: string;
        claimed_path: string;
      }[];
      const docs = db.prepare(`SELECT * FROM documents`).all() as {
        id: number;
        intake_id: number;
        state: string;
        sha256: string;
        path: string;
        entry: string;
      }[];
      // Exactly one ledger row per input, all closed.
      const byName = new Map<string, typeof intake>();
      for (const r of intake) byName.set(r.original_name, [...(byName.get(r.original_name) ?? []), r]);
      for (const input of inputs) {
        const rows = byName.get(input.name) ?? [];
        expect(rows, `${input.name} taken ${rows.length} times`).toHaveLength(1);
        const row = rows[0]!;
        expect(row.status).toBe('done');
        expect(row.sha256).toBe(sha(input.data));
        if (input.expect === 'accepted-or-duplicate')
          expect(['accepted', 'duplicate']).toContain(row.outcome);
        else expect(row.outcome, input.name).toBe(input.expect);
        const mine = docs.filter((d) => d.intake_id === row.id);
        expect(mine).toHaveLength(row.outcome === 'rejected' ? 1 : input.docs);
      }
      expect(intake).toHaveLength(inputs.length);
      // Twins: one accepted, one duplicate.
      for (const input of inputs.filter((i) => i.kind === 'duplicate')) {
        const outcomes = [input.name, input.twinOf!].map((nm) => byName.get(nm)?.[0]?.outcome).sort();
        expect(outcomes).toEqual(['accepted', 'duplicate']);
      }
      // No content is live twice; every live document's bytes are in the spool, intact.
      const live = docs.filter((d) => d.state === 'received');
      expect(new Set(live.map((d) => d.sha256)).size).toBe(live.length);
      for (const d of live) expect(sha(fs.readFileSync(d.path))).toBe(d.sha256);
      // Rejected and duplicate files sit in their folders with their reports.
      for (const d of docs.filter((x) => x.state === 'rejected')) {
        expect(fs.existsSync(d.path)).toBe(true);
        expect(fs.existsSync(`${d.path}.errors.json`)).toBe(true);
        expect(fs.existsSync(`${d.path}.errors.txt`)).toBe(true);
      }
      for (const d of docs.filter((x) => x.state === 'duplicate')) {
        expect(sha(fs.readFileSync(d.path))).toBe(d.sha256);
        expect(fs.existsSync(`${d.path}.duplicate.txt`)).toBe(true);
      }
      const rejectedFiles = fs
        .readdirSync(path.join(dir, 'var', 'rejected'))
        .filter((f) => !/\.errors\.(json|txt)$/.test(f));
      expect(rejectedFiles).toHaveLength(docs.filter((x) => x.state === 'rejected').length);
      const dupFiles = fs
        .readdirSync(path.join(dir, 'var', 'duplicates'))
        .filter((f) => !/\.duplicate\.(json|txt)$/.test(f));
      expect(dupFiles).toHaveLength(docs.filter((x) => x.state === 'duplicate').length);
      // Nothing left behind: the spool holds the accepted inputs only, no temp files.
      const claimed = fs.readdirSync(path.join(dir, 'var', 'spool', 'claimed'));
      const expectedClaimed = intake
        .filter((r) => r.outcome === 'accepted')
        .map((r) => path.basename(r.claimed_path));
      const zipDirs = intake
        .filter((r) => r.outcome === 'accepted' && r.original_name.endsWith('.zip'))
        .map((r) => `${path.basename(r.claimed_path)}.d`);
      expect(claimed.sort()).toEqual([...expectedClaimed, ...zipDirs].sort());
      expect(fs.readdirSync(staging)).toEqual([]);
    } finally {
      db.close();
    }
    const events = new Set(readLog(logFile).map((l) => l.event));
    for (const e of ['daemon.ready', 'intake.claimed', 'intake.rejected', 'intake.duplicate'])
      expect(events).toContain(e);
  });
});
