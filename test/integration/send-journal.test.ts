import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureSimPki, type SimPki } from '../../src/sim/certs.js';
import type { SdiSimulator } from '../../src/sim/simulator.js';
import {
  cliToEnd,
  readLog,
  runCli,
  waitFor,
  waitForEvent,
  type DaemonProcess,
  type LogLine,
  writeExternalSdicoopConfig,
} from '../helpers/daemon.js';
import { freePort } from '../helpers/ports.js';
import { startSdiSimulator } from '../helpers/sdi-sim.js';
import { EX, exampleText } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The send journal against a store that went back in time, with the real daemon over SDICoop
 * (HTTPS, mutual TLS) to the SdI simulator in this process, which counts every file it receives
 * by content: a WAL deleted after a SIGKILL in the middle of sending, and a store restored from a
 * backup taken before the sends, both end with zero second sends, and the documents the store
 * lost named in a store.behind_journal alert.
 */
vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });
const FPR12 = exampleText(EX.b2b);
const t = tempDir('fatturad-send-journal-');
let pki: SimPki;
beforeAll(async () => {
  pki = await ensureSimPki(path.join(t.dir, 'pki'));
});
afterAll(() => t.cleanup());

const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');
let seq = 0;
function invoice(): Buffer {
  seq++;
  return Buffer.from(FPR12.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>J-${seq}</Numero>`));
}

interface Setup {
  dir: string;
  outbox: string;
  cfg: string;
  db: string;
  logFile: string;
  sim: SdiSimulator;
  /** What SdI received: sha256 of the file -> how many times. */
  received: Map<string, number>;
}

async function setup(name: string): Promise<Setup> {
  const dir = path.join(t.dir, name);
  const outbox = path.join(dir, 'outbox');
  fs.mkdirSync(outbox, { recursive: true });
  const daemonPort = await freePort();
  const simPort = await freePort();
  const cfg = writeExternalSdicoopConfig(dir, outbox, {
    pki,
    simPort,
    daemonPort,
    archive: false,
    intake: { stableMs: 0 },
    sending: { pollMs: 100, concurrency: 2, retry: '{ initialMs: 100, maxMs: 400, maxAttempts: 0 }' },
  });
  const received = new Map<string, number>();
  const sim = await startSdiSimulator(
    pki,
    { simPort, daemonPort },
    { onReceive: (_nomeFile, bytes) => received.set(sha(bytes), (received.get(sha(bytes)) ?? 0) + 1) },
  );
  return {
    dir,
    outbox,
    cfg,
    db: path.join(dir, 'var', 'fatturad.db'),
    logFile: path.join(dir, 'daemon.log'),
    sim,
    received,
  };
}

async function start(s: Setup, env: Record<string, string> = {}): Promise<DaemonProcess> {
  const from = readLog(s.logFile).length;
  const d = runCli(['start', '--config', s.cfg], s.logFile, env);
  await waitForEvent(s.logFile, 'daemon.ready', from, 90_000);
  return d;
}

function drop(s: Setup, n: number): Buffer[] {
  const files: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const data = invoice();
    const tmp = path.join(s.outbox, `.j${seq}.tmp`);
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, path.join(s.outbox, `fattura-${seq}.xml`));
    files.push(data);
  }
  return files;
}

const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

/** Nothing left to do: every file taken, nothing waiting for validation or for a send that is due. */
function settled(s: Setup): boolean {
  if (fs.readdirSync(s.outbox).some((f) => !f.startsWith('.'))) return false;
  const db = new Database(s.db, { readonly: true });
  try {
    db.pragma('busy_timeout = 5000');
    const waiting = db
      .prepare(
        `SELECT (SELECT count(*) FROM documents WHERE state IN ('received', 'validated')) +
                (SELECT count(*) FROM outbound o JOIN documents d ON d.id = o.document_id
                  WHERE d.state = 'sending' AND o.identificativo_sdi IS NULL
                    AND (o.in_flight_since IS NOT NULL OR o.next_attempt_at < '9999')) AS n`,
      )
      .get() as { n: number };
    return waiting.n === 0;
  } finally {
    db.close();
  }
}

const cli = (args: string[]) => cliToEnd(args, { timeout: 60_000 });

function secondSends(s: Setup): string[] {
  return [...s.received.entries()].filter(([, n]) => n > 1).map(([h, n]) => `${h.slice(0, 12)}… ×${n}`);
}

function alert(s: Setup, from: number): LogLine | undefined {
  return readLog(s.logFile)
    .slice(from)
    .find((l) => l.event === 'store.behind_journal');
}

type Held = { documentId: number; sha256: string; sdiName: string; missing: string };

describe('a store that went back in time never sends twice', () => {
  it('the WAL deleted after a SIGKILL in the middle of sending: zero second sends, the rolled-back documents named', async () => {
    const s = await setup('wal-lost');
    try {
      let d = await start(s);
      drop(s, 50);
      await waitFor('10 files at SdI', () => total(s.received) >= 10, 120_000);
      // SQLite's automatic checkpoint, here by hand: what was committed so far reaches the file.
      const conn = new Database(s.db);
      conn.pragma('wal_checkpoint(PASSIVE)');
      conn.close();
      await waitFor('30 files at SdI', () => total(s.received) >= 30, 120_000);
      d.child.kill('SIGKILL');
      await d.exited;
      const before = new Map(s.received);
      expect(fs.existsSync(`${s.db}-wal`)).toBe(true);
      fs.rmSync(`${s.db}-wal`);
      fs.rmSync(`${s.db}-shm`, { force: true });

      const from = readLog(s.logFile).length;
      d = await start(s);
      await waitFor('the daemon to settle', () => settled(s), 120_000);
      d.child.kill('SIGTERM');
      await d.exited;

      expect(secondSends(s)).toEqual([]);
      const held = (alert(s, from)?.documents ?? []) as Held[];
      expect(held.length).toBeGreaterThan(0);
      // Every file SdI had received that the store had lost is named, and held in sending.
      const db = new Database(s.db, { readonly: true });
      try {
        const knownSent = new Set(
          (
            db
              .prepare(
                `SELECT d.sha256 FROM documents d JOIN outbound o ON o.document_id = d.id
                  WHERE o.identificativo_sdi IS NOT NULL OR d.state NOT IN ('received', 'validated', 'sending')`,
              )
              .all() as { sha256: string }[]
          ).map((r) => r.sha256),
        );
        const named = new Set(held.map((h) => h.sha256));
        const inDoubt = readLog(s.logFile)
          .slice(from)
          .filter((l) => l.event === 'send.in_doubt')
          .map((l) => l.documentId);
        for (const h of before.keys()) {
          if (knownSent.has(h)) continue; // SdI's answer reached the store after all
          const doc = db.prepare(`SELECT id, state FROM documents WHERE sha256 = ?`).get(h) as
            { id: number; state: string } | undefined;
          expect(doc?.state).toBe('sending');
          expect(named.has(h) || inDoubt.includes(doc?.id)).toBe(true);
        }
      } finally {
        db.close();
      }
    } finally {
      await s.sim.close();
    }
  });

  it('a store restored from a backup taken before the sends: zero second sends; a resend needs the operator', async () => {
    const s = await setup('old-backup');
    try {
      // The backup: ten invoices taken and validated, nothing sent yet.
      let d = await start(s, { FATTURAD_SENDING__ENABLED: 'false' });
      const first = drop(s, 10);
      await waitFor(
        '10 validated',
        () => readLog(s.logFile).filter((l) => l.event === 'validation.passed').length >= 10,
      );
      d.child.kill('SIGTERM');
      await d.exited;
      fs.copyFileSync(s.db, path.join(s.dir, 'backup.db'));

      // Then they are sent, and five more taken and sent.
      d = await start(s);
      await waitFor('10 files at SdI', () => total(s.received) >= 10, 120_000);
      const more = drop(s, 5);
      await waitFor('15 files at SdI', () => total(s.received) >= 15, 120_000);
      await waitFor('all settled', () => settled(s), 120_000);
      d.child.kill('SIGTERM');
      await d.exited;
      expect(total(s.received)).toBe(15);

      // The restore, as docs/operations.md says: the store's files aside, the backup back, the journal kept.
      for (const f of [s.db, `${s.db}-wal`, `${s.db}-shm`, `${s.db}.seal`]) fs.rmSync(f, { force: true });
      fs.copyFileSync(path.join(s.dir, 'backup.db'), s.db);
      const from = readLog(s.logFile).length;
      d = await start(s);
      await waitFor('the daemon to settle', () => settled(s), 120_000);

      expect(secondSends(s)).toEqual([]);
      expect(total(s.received)).toBe(15);
      const a = alert(s, from);
      expect(a).toMatchObject({ level: 'error', count: 15 });
      const held = a?.documents as Held[];
      expect(new Set(held.map((h) => h.sha256))).toEqual(new Set([...first, ...more].map(sha)));
      expect(held.filter((h) => h.missing === 'send')).toHaveLength(10);
      expect(held.filter((h) => h.missing === 'document')).toHaveLength(5);
      expect(a?.msg).toMatch(/held in doubt, not sent again/);

      // A document the backup never had is back, held; "fatturad resend" is the only way out.
      const recreated = held.find((h) => h.missing === 'document') as Held;
      const shown = await cli(['show', '--json', '--config', s.cfg, String(recreated.documentId)]);
      expect(shown.code).toBe(0);
      const [doc] = JSON.parse(shown.stdout) as {
        state: string;
        sha256: string;
        sdi: { sdiName: string; lastError: string };
        timeline: { reason: string }[];
      }[];
      expect(doc).toMatchObject({
        state: 'sending',
        sha256: recreated.sha256,
        sdi: { sdiName: recreated.sdiName },
      });
      expect(doc?.sdi.lastError).toMatch(/in doubt/);
      expect(doc?.timeline[0]?.reason).toMatch(/recreated from the send journal/);

      const resend = await cli(['resend', '--config', s.cfg, String(recreated.documentId)]);
      expect(resend.code).toBe(0);
      await waitFor('the operator resend at SdI', () => s.received.get(recreated.sha256) === 2, 60_000);
      expect(total(s.received)).toBe(16);
      d.child.kill('SIGTERM');
      await d.exited;
    } finally {
      await s.sim.close();
    }
  });
});
