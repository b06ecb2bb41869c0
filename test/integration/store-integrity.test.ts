import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  cliToEnd,
  readLog,
  runCli,
  waitFor,
  waitForEvent,
  writeDaemonConfig,
  type DaemonProcess,
} from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * A damaged store is never used: the real daemon processes some files, its store is damaged on
 * disk (40 bytes flipped, the header overwritten, a page broken), and the next start exits 5 with
 * store.damaged and the recovery steps; `status` says it in words; `/healthz` says it when the
 * scheduled check finds it while running.
 */
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });
const t = tempDir('fatturad-store-integrity-');
afterAll(() => t.cleanup());

function invoice(i: number): Buffer {
  return Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<p:FatturaElettronica versione="FPR12" xmlns:p="http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2">` +
      `<!-- test invoice ${i} -->${'x'.repeat(500 + i * 37)}</p:FatturaElettronica>\n`,
  );
}

interface Setup {
  dir: string;
  outbox: string;
  cfg: string;
  db: string;
  logFile: string;
}

function setup(name: string, extra: string[] = []): Setup {
  const dir = path.join(t.dir, name);
  const outbox = path.join(dir, 'outbox');
  fs.mkdirSync(outbox, { recursive: true });
  const cfg = writeDaemonConfig(dir, outbox, {
    intake: { stableMs: 0 },
    extra: ['channel: { type: none }', ...extra],
  });
  return {
    dir,
    outbox,
    cfg,
    db: path.join(dir, 'var', 'fatturad.db'),
    logFile: path.join(dir, 'daemon.log'),
  };
}

async function start(s: Setup): Promise<DaemonProcess> {
  const from = readLog(s.logFile).length;
  const d = runCli(['start', '--config', s.cfg], s.logFile);
  await waitForEvent(s.logFile, 'daemon.ready', from);
  return d;
}

/** A daemon that took `n` files. */
async function processed(s: Setup, n: number): Promise<DaemonProcess> {
  const d = await start(s);
  for (let i = 0; i < n; i++) {
    const tmp = path.join(s.outbox, `.f${i}.tmp`);
    fs.writeFileSync(tmp, invoice(i));
    fs.renameSync(tmp, path.join(s.outbox, `IT01234567890_${String(i).padStart(5, '0')}.xml`));
  }
  await waitFor(
    `${n} files claimed`,
    () => readLog(s.logFile).filter((l) => l.event === 'intake.claimed').length >= n,
  );
  return d;
}

function flip(file: string, offset: number, n = 40): void {
  const fd = fs.openSync(file, 'r+');
  const b = Buffer.alloc(n);
  fs.readSync(fd, b, 0, n, offset);
  for (let i = 0; i < n; i++) b[i] = (b[i] ?? 0) ^ 0xff;
  fs.writeSync(fd, b, 0, n, offset);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

/** Folds the WAL into the database file and empties it (the daemon, if running, is idle). */
function checkpoint(db: string): void {
  const conn = new Database(db);
  try {
    conn.pragma('busy_timeout = 10000');
    const [cp] = conn.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    expect(cp?.busy).toBe(0);
  } finally {
    conn.close();
  }
}

/** The offset of a table's root page (its b-tree page header: damage there breaks the table). */
function rootPageOffset(db: string, table: string): number {
  const conn = new Database(db, { readonly: true });
  try {
    const { rootpage } = conn.prepare(`SELECT rootpage FROM sqlite_master WHERE name = ?`).get(table) as {
      rootpage: number;
    };
    const pageSize = conn.pragma('page_size', { simple: true }) as number;
    return (rootpage - 1) * pageSize;
  } finally {
    conn.close();
  }
}

const cli = (args: string[]) => cliToEnd(args, { timeout: 60_000 });

/** Starts a daemon that must refuse: its exit code and the store.damaged line. */
async function refusedStart(s: Setup) {
  const from = readLog(s.logFile).length;
  const d = runCli(['start', '--config', s.cfg], s.logFile);
  // A daemon that starts on the damaged store is stopped at once (and the test fails on its code).
  await waitFor(
    'the daemon to exit or be ready',
    () =>
      d.child.exitCode !== null ||
      d.child.signalCode !== null ||
      readLog(s.logFile)
        .slice(from)
        .some((l) => l.event === 'daemon.ready'),
    60_000,
  );
  if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGTERM');
  const { code } = await d.exited;
  const lines = readLog(s.logFile).slice(from);
  return { code, lines, damaged: lines.find((l) => l.event === 'store.damaged') };
}

const noStackTrace = (text: string): void => expect(text).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);

describe('a damaged store is never used', () => {
  it('40 bytes flipped in the middle of the store of a stopped daemon: start exits 5, status says it in words', async () => {
    const s = setup('flipped');
    const d = await processed(s, 6);
    d.child.kill('SIGTERM');
    expect((await d.exited).code).toBe(0);
    expect(fs.existsSync(`${s.db}-wal`)).toBe(false);
    const sound = await cli(['status', '--config', s.cfg]);
    expect(sound.code).toBe(0);

    flip(s.db, Math.floor(fs.statSync(s.db).size / 2));
    const r = await refusedStart(s);
    expect(r.code).toBe(5);
    expect(r.lines.some((l) => l.event === 'daemon.ready')).toBe(false);
    expect(r.damaged).toMatchObject({ level: 'fatal', file: s.db, kind: 'changed' });
    expect(r.damaged?.msg).toMatch(/changed while fatturad was stopped/);
    expect(r.damaged?.msg).toMatch(/restore fatturad\.db from the latest backup/);
    expect(String(r.damaged?.recoveryIt)).toMatch(/ripristinare fatturad\.db/);
    // Refused for good: a second start refuses too (nothing was opened or resealed).
    expect((await refusedStart(s)).code).toBe(5);

    const status = await cli(['status', '--config', s.cfg]);
    expect(status.code).toBe(5);
    expect(status.stderr).toMatch(/the store is damaged .*changed while fatturad was stopped/);
    expect(status.stderr).toMatch(/To recover: stop fatturad/);
    noStackTrace(status.stderr);
    const json = await cli(['status', '--json', '--config', s.cfg]);
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout)).toMatchObject({ store: { ok: false, damaged: true } });

    const check = await cli(['store', 'check', '--config', s.cfg]);
    expect(check.code).toBe(5);
    expect(check.stdout).toMatch(/CHANGED SINCE THE CLEAN STOP/);
  });

  it('after a crash (no seal): a store whose header is damaged is not a database: exit 5, status in words', async () => {
    const s = setup('header');
    const d = await processed(s, 3);
    d.child.kill('SIGKILL');
    await d.exited;
    // The WAL folded into the file first: otherwise SQLite reads page 1 from the WAL, and the next
    // checkpoint writes it over the damage.
    checkpoint(s.db);
    const fd = fs.openSync(s.db, 'r+');
    fs.writeSync(fd, Buffer.alloc(100, 0x41), 0, 100, 0);
    fs.closeSync(fd);

    const r = await refusedStart(s);
    expect(r.code).toBe(5);
    expect(r.damaged).toMatchObject({ level: 'fatal', kind: 'unreadable' });
    expect(r.damaged?.msg).toMatch(/is not a readable SQLite database/);

    const status = await cli(['status', '--config', s.cfg]);
    expect(status.code).toBe(5);
    expect(status.stderr).toMatch(/the store is damaged/);
    noStackTrace(status.stderr);
  });

  it('after a crash (no seal): a broken page is found by quick_check: exit 5 naming the problem', async () => {
    const s = setup('page');
    const d = await processed(s, 6);
    d.child.kill('SIGKILL');
    await d.exited;
    // The WAL folded into the file (as SQLite's automatic checkpoints do), then a page broken.
    checkpoint(s.db);
    flip(s.db, rootPageOffset(s.db, 'documents'));

    const r = await refusedStart(s);
    expect(r.code).toBe(5);
    expect(r.damaged).toMatchObject({ kind: 'damaged' });
    expect((r.damaged?.problems as string[]).length).toBeGreaterThan(0);
    const check = await cli(['store', 'check', '--json', '--config', s.cfg]);
    expect(check.code).toBe(5);
    expect(JSON.parse(check.stdout)).toMatchObject({ ok: false, check: { ok: false, kind: 'damaged' } });
  });

  it('damaged while running: the scheduled integrity_check finds it and /healthz says so in words', async () => {
    const s = setup('running', ['store: { fullCheckEveryMs: 300 }']);
    const d = await processed(s, 6);
    await waitForEvent(s.logFile, 'store.checked');
    const port = (readLog(s.logFile).find((l) => l.event === 'http.listening')?.port ?? 0) as number;
    const healthz = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      return {
        status: res.status,
        body: (await res.json()) as { checks: Record<string, { ok: boolean; detail?: string }> },
      };
    };
    expect((await healthz()).body.checks.store).toEqual({ ok: true });

    // Every commit folded into the file, so that readers take this page from the file, then broken.
    checkpoint(s.db);
    flip(s.db, rootPageOffset(s.db, 'documents'));

    const damaged = await waitForEvent(s.logFile, 'store.damaged');
    expect(damaged).toMatchObject({ level: 'error', kind: 'damaged' });
    const h = await healthz();
    expect(h.status).toBe(503);
    expect(h.body.checks.store?.ok).toBe(false);
    expect(h.body.checks.store?.detail).toMatch(/^the store is damaged: .+To recover: stop fatturad/);
    d.child.kill('SIGTERM');
    await d.exited;
    // Not sealed at that stop: the next start runs quick_check and refuses.
    expect(fs.existsSync(`${s.db}.seal`)).toBe(false);
    expect((await refusedStart(s)).code).toBe(5);
  });
});
