import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureSimPki, type SimPki } from '../../src/sim/certs.js';
import type { SdiSimulator } from '../../src/sim/simulator.js';
import {
  readLog,
  runCli,
  waitFor,
  waitForEvent,
  writeExternalSdicoopConfig,
  type DaemonProcess,
} from '../helpers/daemon.js';
import { freePort } from '../helpers/ports.js';
import { startSdiSimulator } from '../helpers/sdi-sim.js';
import { EX, exampleText } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Spool files the store forgot, with the real daemon over SDICoop (HTTPS, mutual TLS) to the SdI
 * simulator in this process, which counts every file it receives by content. Files are sent, then
 * more sent, then more only taken and validated; a SIGKILL, the WAL deleted: the store forgets the
 * last two groups and hands their intake ids out again. At the restart, the sends it forgot are
 * held (the send journal), the files it had only taken are taken again from the spool and sent, and
 * a file dropped again under the same name as one of them, which gets the same intake id, replaces
 * nothing: every content reaches SdI exactly once.
 */
vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });
const FPR12 = exampleText(EX.b2b);
const t = tempDir('fatturad-spool-orphans-');
let pki: SimPki;
let sim: SdiSimulator;
/** What SdI received: sha256 of the file -> how many times. */
const received = new Map<string, number>();
const dir = t.dir;
const outbox = path.join(dir, 'outbox');
const cfg = path.join(dir, 'fatturad.yaml');
const db = path.join(dir, 'var', 'fatturad.db');
const claimed = path.join(dir, 'var', 'spool', 'claimed');
const logFile = path.join(dir, 'daemon.log');
let daemonPort = 0;
let simPort = 0;
let daemon: DaemonProcess | null = null;

const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');
const invoice = (numero: string): Buffer =>
  Buffer.from(FPR12.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>${numero}</Numero>`));
const total = (): number => [...received.values()].reduce((a, b) => a + b, 0);

function writeConfig(sending: boolean): void {
  writeExternalSdicoopConfig(dir, outbox, {
    pki,
    simPort,
    daemonPort,
    archive: false,
    intake: { stableMs: 0 },
    sending: { enabled: sending, pollMs: 100, retry: '{ initialMs: 100, maxMs: 400, maxAttempts: 0 }' },
  });
}

async function start(): Promise<DaemonProcess> {
  const from = readLog(logFile).length;
  const d = runCli(['start', '--config', cfg], logFile);
  await waitForEvent(logFile, 'daemon.ready', from, 90_000);
  return d;
}

/** Drops each file by an atomic rename, as an ERP should. */
function drop(files: [string, Buffer][]): void {
  for (const [name, data] of files) {
    const tmp = path.join(outbox, `.${name}.tmp`);
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, path.join(outbox, name));
  }
}

function group(tag: string, n: number): [string, Buffer][] {
  return Array.from({ length: n }, (_, i) => [
    `IT12345670017_${tag}${i + 1}.xml`,
    invoice(`${tag}-${i + 1}`),
  ]);
}

const count = (event: string, from = 0): number =>
  readLog(logFile)
    .slice(from)
    .filter((l) => l.event === event).length;

function query<T>(sql: string, ...args: unknown[]): T[] {
  const conn = new Database(db, { readonly: true });
  try {
    conn.pragma('busy_timeout = 5000');
    return conn.prepare(sql).all(...args) as T[];
  } finally {
    conn.close();
  }
}

beforeAll(async () => {
  fs.mkdirSync(outbox, { recursive: true });
  pki = await ensureSimPki(path.join(dir, 'pki'));
  daemonPort = await freePort();
  simPort = await freePort();
  sim = await startSdiSimulator(
    pki,
    { simPort, daemonPort },
    { onReceive: (_nomeFile, bytes) => received.set(sha(bytes), (received.get(sha(bytes)) ?? 0) + 1) },
  );
});

afterAll(async () => {
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill('SIGKILL');
    await daemon.exited;
  }
  await sim?.close();
  t.cleanup();
});

describe('spool files the store forgot', () => {
  it('the WAL deleted after a SIGKILL: files only taken are taken again and sent once, a name dropped again replaces nothing', async () => {
    writeConfig(true);
    daemon = await start();
    // Sent, then committed to the store's file.
    const sentKept = group('A', 3);
    drop(sentKept);
    await waitFor('A at SdI', () => total() >= 3, 120_000);
    await waitFor(
      'A recorded as sent',
      () =>
        query<{ n: number }>(`SELECT count(*) AS n FROM outbound WHERE identificativo_sdi IS NOT NULL`)[0]
          ?.n === 3,
      60_000,
    );
    const conn = new Database(db);
    conn.pragma('wal_checkpoint(TRUNCATE)');
    conn.close();
    // Sent, only in the WAL.
    const sentLost = group('B', 3);
    drop(sentLost);
    await waitFor('B at SdI', () => total() >= 6, 120_000);
    // Taken and validated, not sent, only in the WAL.
    let from = readLog(logFile).length;
    writeConfig(false);
    daemon.child.kill('SIGHUP');
    await waitForEvent(logFile, 'config.reloaded', from);
    from = readLog(logFile).length;
    const takenLost = group('C', 3);
    drop(takenLost);
    await waitFor('C validated', () => count('validation.passed', from) >= 3, 60_000);
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    expect(total()).toBe(6);
    const orphans = fs.readdirSync(claimed).filter((n) => /_C\d\.xml$/.test(n));
    expect(orphans).toHaveLength(3);
    fs.rmSync(`${db}-wal`);
    fs.rmSync(`${db}-shm`, { force: true });

    // The restart, sending on; then a file under the name of the first orphan, which gets its id.
    writeConfig(true);
    from = readLog(logFile).length;
    daemon = await start();
    const first = orphans.sort()[0] as string;
    const againName = first.replace(/^\d{8}-/, '');
    const again: [string, Buffer] = [againName, invoice('C-9')];
    drop([again]);
    const all = [...sentKept, ...sentLost, ...takenLost, again];
    await waitFor('every content at SdI', () => all.every(([, b]) => received.has(sha(b))), 120_000);
    // Nothing left to send: every document past sending or held.
    await waitFor(
      'settled',
      () =>
        query<{ n: number }>(
          `SELECT (SELECT count(*) FROM documents WHERE state IN ('received', 'validated')) +
                  (SELECT count(*) FROM outbound o JOIN documents d ON d.id = o.document_id
                    WHERE d.state = 'sending' AND o.identificativo_sdi IS NULL
                      AND (o.in_flight_since IS NOT NULL OR o.next_attempt_at < '9999')) AS n`,
        )[0]?.n === 0,
      60_000,
    );

    for (const [name, b] of all) expect(received.get(sha(b)), name).toBe(1);
    expect(total()).toBe(all.length);
    const adopted = readLog(logFile)
      .slice(from)
      .filter((l) => l.event === 'intake.orphan_adopted');
    expect(adopted.map((l) => l.sha256).sort()).toEqual(takenLost.map(([, b]) => sha(b)).sort());
    const behind = readLog(logFile)
      .slice(from)
      .find((l) => l.event === 'store.behind_journal');
    expect(behind?.count).toBe(3);

    // Nothing lost: every content has its document, whose file holds it.
    for (const [name, b] of all) {
      const [doc] = query<{ path: string }>(`SELECT path FROM documents WHERE sha256 = ?`, sha(b));
      expect(doc, name).toBeDefined();
      expect(sha(fs.readFileSync(doc?.path as string)), name).toBe(sha(b));
    }
    daemon.child.kill('SIGTERM');
    await daemon.exited;
  });
});
