import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLI, readLog, waitFor, waitForEvent, type LogLine } from '../helpers/daemon.js';
import { EX, example } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Health tells the truth, against a real daemon: a drop folder that cannot be written and a data
 * folder below its free-space threshold turn /healthz to 503 with the reason, each logged once when
 * it starts and once when it ends however many looks happen in between; an unreadable file stays
 * with one report; a name too long to keep is rejected once; a PID file naming a live process that
 * is not a fatturad does not block the start.
 *
 * Permissions mean nothing to root, so the daemon runs as an unprivileged user (nobody) when the
 * tests run as root.
 */
vi.setConfig({ testTimeout: 60_000, hookTimeout: 90_000 });
const t = tempDir('fatturad-health-');
const dir = t.dir;
const outbox = path.join(dir, 'outbox');
const varDir = path.join(dir, 'var');
const cfg = path.join(dir, 'fatturad.yaml');
const logFile = path.join(dir, 'daemon.log');
const NOBODY = { uid: 65534, gid: 65534 };
/**
 * As root, the daemon runs as nobody, which needs to reach the project (a clone inside a private
 * folder, such as one made by mktemp -d, is out of its reach): otherwise it runs as root and the
 * cases that need permissions to mean something are skipped, with one line saying so.
 */
const asRoot = process.getuid?.() === 0;
const asNobody =
  asRoot && spawnSync(process.execPath, [CLI, '--version'], { ...NOBODY, stdio: 'ignore' }).status === 0;
const permissionsApply = !asRoot || asNobody;
if (!permissionsApply)
  console.log(
    'health.test: running as root and user nobody cannot read this checkout: the read-only folder and unreadable file cases are skipped',
  );
const ids = asNobody ? NOBODY : {};
let daemon: ChildProcess | null = null;
let exited: Promise<unknown> = Promise.resolve();
let sleeper: ChildProcess | null = null;
let port = 0;

/** The whole configuration (minFreeBytes decides whether the data folder counts as nearly full). */
function writeConfig(minFreeBytes: number): void {
  fs.writeFileSync(
    cfg,
    [
      `dataDir: ${varDir}`,
      'log: { level: debug, format: json }',
      'http: { port: 0 }',
      'validation: { enabled: false }',
      'channel: { type: none }',
      'archive: { enabled: false }',
      'intake:',
      `  folders: [{ path: ${outbox} }]`,
      '  stableMs: 0',
      '  rescanMs: 100',
      `health: { checkMs: 100, minFreeBytes: ${minFreeBytes}, minFreePercent: 0 }`,
    ].join('\n'),
  );
}

const log = (): LogLine[] => readLog(logFile);
const count = (event: string, from = 0) =>
  log()
    .slice(from)
    .filter((l) => l.event === event).length;
async function healthz(): Promise<{ status: number; body: { status: string; reasons?: string[] } }> {
  const r = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: r.status, body: (await r.json()) as { status: string; reasons?: string[] } };
}
/** Waits until `event` was logged `n` more times after `from`: looks that happened, counted. */
async function looks(event: string, from: number, n: number): Promise<void> {
  await waitFor(`${n} × ${event}`, () => count(event, from) >= n);
}
/** The store's health probe, written at each look at the disk and the store. */
function probe(): string | undefined {
  const db = new Database(path.join(varDir, 'fatturad.db'), { readonly: true, fileMustExist: true });
  try {
    return (
      db.prepare(`SELECT value FROM channel_state WHERE key = 'health.probe'`).get() as
        { value: string } | undefined
    )?.value;
  } finally {
    db.close();
  }
}
async function probes(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const before = probe();
    await waitFor('another look at the disk', () => probe() !== before);
  }
}

beforeAll(async () => {
  fs.mkdirSync(outbox, { recursive: true });
  fs.mkdirSync(varDir, { recursive: true });
  // A PID file left behind, naming a live process that is not a fatturad: the start goes on.
  sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
  fs.writeFileSync(path.join(varDir, 'fatturad.pid'), `${sleeper.pid}\n`);
  writeConfig(Number.MAX_SAFE_INTEGER);
  if (asNobody) fs.chownSync(dir, 65534, 65534);
  for (const p of [outbox, varDir, cfg, path.join(varDir, 'fatturad.pid')])
    if (asNobody) fs.chownSync(p, 65534, 65534);
  const fd = fs.openSync(logFile, 'a');
  daemon = spawn(process.execPath, [CLI, 'start', '--config', cfg], {
    stdio: ['ignore', fd, fd],
    cwd: dir,
    env: { ...process.env, HOME: dir },
    ...ids,
  });
  fs.closeSync(fd);
  exited = new Promise((r) => daemon?.once('exit', r));
  const ready = await waitForEvent(logFile, 'daemon.ready', 0, 60_000);
  port = ready.http as number;
});

afterAll(async () => {
  sleeper?.kill('SIGKILL');
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await exited;
  }
  fs.chmodSync(outbox, 0o755);
  t.cleanup();
});

describe('health tells the truth', () => {
  it('a stale PID file naming a live unrelated process did not block the start', () => {
    expect(sleeper?.exitCode).toBeNull();
    const lock = JSON.parse(fs.readFileSync(path.join(varDir, 'fatturad.pid'), 'utf8')) as { pid: number };
    expect(lock.pid).toBe(daemon?.pid);
  });

  it('a data folder below health.minFreeBytes: 503 with the reason, one event when it starts and one when it ends', async () => {
    await waitForEvent(logFile, 'health.disk_low');
    const h = await healthz();
    expect(h.status).toBe(503);
    expect(h.body.reasons?.some((r) => r.startsWith('disk: ') && r.includes('nearly full'))).toBe(true);
    await probes(3);
    expect(count('health.disk_low')).toBe(1);

    const from = log().length;
    writeConfig(0);
    daemon?.kill('SIGHUP');
    await waitForEvent(logFile, 'health.disk_ok', from);
    await probes(3);
    expect(count('health.disk_ok')).toBe(1);
    expect(count('health.disk_low')).toBe(1);
    expect((await healthz()).status).toBe(200);
  });

  it.runIf(permissionsApply)(
    'a drop folder that cannot be written: 503 with the reason, one event when it starts and one when it ends',
    async () => {
      expect((await healthz()).status).toBe(200);
      const from = log().length;
      fs.chmodSync(outbox, 0o555);
      const start = await waitForEvent(logFile, 'intake.folder_unavailable', from);
      expect(start).toMatchObject({ folder: outbox, state: 'unwritable' });
      const h = await healthz();
      expect(h.status).toBe(503);
      expect(h.body.reasons?.some((r) => r.startsWith(`folder:${outbox}: cannot write`))).toBe(true);
      // A file dropped meanwhile (the ERP may still write, here as root) cannot be taken: warned once.
      const stuck = path.join(outbox, 'IT12345670017_RO001.xml');
      if (asRoot) {
        fs.writeFileSync(stuck, example(EX.b2b));
        await waitForEvent(logFile, 'intake.claim_failed', from);
      }
      await looks('intake.rescanned', from, count('intake.rescanned', from) + 5);
      expect(count('intake.folder_unavailable', from)).toBe(1);
      expect(count('intake.claim_failed', from)).toBe(asRoot ? 1 : 0);

      const back = log().length;
      fs.chmodSync(outbox, 0o755);
      await waitForEvent(logFile, 'intake.folder_available', back);
      await looks('intake.rescanned', back, count('intake.rescanned', back) + 5);
      expect(count('intake.folder_available', from)).toBe(1);
      expect(count('intake.folder_unavailable', from)).toBe(1);
      if (asRoot) await waitFor('the stuck file taken', () => !fs.existsSync(stuck));
      expect((await healthz()).status).toBe(200);
    },
  );

  it.runIf(permissionsApply)('a file fatturad may not read stays in the folder with one report', async () => {
    const from = log().length;
    const name = 'IT12345670017_UR001.xml';
    const file = path.join(outbox, name);
    fs.writeFileSync(file, example(EX.pa));
    fs.chmodSync(file, 0o000);
    const ev = await waitForEvent(logFile, 'intake.unreadable', from);
    expect(ev).toMatchObject({ file, code: 'EACCES' });
    await looks('intake.rescanned', from, count('intake.rescanned', from) + 5);
    expect(count('intake.unreadable', from)).toBe(1);
    expect(fs.existsSync(file)).toBe(true);
    const report = JSON.parse(
      fs.readFileSync(path.join(varDir, 'rejected', `${name}.errors.json`), 'utf8'),
    ) as {
      errors: { code: string; messageIt: string }[];
      source: { name: string };
    };
    expect(report.source.name).toBe(name);
    expect(report.errors.map((e) => e.code)).toEqual(['UNREADABLE']);
    expect(fs.readFileSync(path.join(varDir, 'rejected', `${name}.errors.txt`), 'utf8')).toContain('IT: ');
    // Readable again: taken.
    fs.chmodSync(file, 0o644);
    await waitFor('taken', () =>
      log()
        .slice(from)
        .find((l) => l.event === 'intake.claimed' && l.file === name),
    );
  });

  it('a name too long to keep is rejected once, with its report under a shortened name', async () => {
    const from = log().length;
    const name = `IT12345670017_${'x'.repeat(250 - 'IT12345670017_'.length - '.xml'.length)}.xml`;
    expect(Buffer.byteLength(name)).toBe(250);
    fs.writeFileSync(path.join(outbox, name), example(EX.lotto));
    const ev = await waitForEvent(logFile, 'intake.rejected', from);
    expect(ev.codes).toEqual(['NAME-TOO-LONG']);
    await looks('intake.rescanned', from, count('intake.rescanned', from) + 5);
    expect(count('intake.rejected', from)).toBe(1);
    expect(count('intake.claim_failed', from)).toBe(0);
    expect(fs.existsSync(path.join(outbox, name))).toBe(false);
    const out = ev.output as string;
    expect(Buffer.byteLength(path.basename(out))).toBeLessThanOrEqual(200);
    const report = JSON.parse(fs.readFileSync(`${out}.errors.json`, 'utf8')) as { source: { name: string } };
    expect(report.source.name).toBe(name);
  });
});
