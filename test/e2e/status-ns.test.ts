import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CLI,
  readLog,
  runCli,
  waitForEvent,
  writeDaemonConfig,
  type DaemonProcess,
} from '../helpers/daemon.js';
import { EX, example } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * `fatturad status` and `show` after SdI's NS: the real daemon with the built-in simulator
 * (scenario reject), an NS and a local rejection among the latest errors, then the same store
 * with its rows in the shapes the previous version wrote.
 */
const run = promisify(execFile);
/** A fresh data folder makes the simulator's certificates first: slow on a busy machine. */
const READY_MS = 90_000;
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });
const t = tempDir('fatturad-status-ns-');
const dir = t.dir;
const outbox = path.join(dir, 'outbox');
const logFile = path.join(dir, 'daemon.log');
const cfg = path.join(dir, 'fatturad.yaml');
let daemon: DaemonProcess | null = null;

const cli = (...args: string[]) =>
  run(process.execPath, [CLI, ...args, '--config', cfg]).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

interface StatusJson {
  latestErrors: { originalName: string; findings: { code: string; message: string }[] }[];
}

beforeAll(async () => {
  fs.mkdirSync(outbox, { recursive: true });
  writeDaemonConfig(dir, outbox, {
    validation: true,
    intake: { stableMs: 0 },
    extra: [
      'sending: { pollMs: 200, retry: { initialMs: 200, maxMs: 800, maxAttempts: 0 } }',
      'archive: { enabled: false }',
      'simulator: { scenario: reject, delayMs: 0 }',
      `passive: { importDir: ${dir}/inbox }`,
    ],
  });
  daemon = runCli(['start', '--config', cfg], logFile);
  await waitForEvent(logFile, 'daemon.ready', 0, READY_MS);
  // One file SdI rejects (NS 00200 from the simulator), one fatturad rejects itself.
  fs.writeFileSync(path.join(outbox, 'ns.xml'), example(EX.b2b));
  fs.writeFileSync(path.join(outbox, 'local.xml'), example(EX.invalid));
  await waitForEvent(logFile, 'invoice.rejected');
  await waitForEvent(logFile, 'validation.rejected');
});

afterAll(async () => {
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
  }
  t.cleanup();
});

function checkStatus(text: string, json: StatusJson): void {
  expect(text).toContain('Latest errors:');
  expect(text).toMatch(/ns\.xml[\s\S]*\[00200\]/);
  expect(text).toMatch(/local\.xml[\s\S]*\[00423\]/);
  const byName = Object.fromEntries(
    json.latestErrors.map((e) => [e.originalName, e.findings.map((f) => f.code).sort()]),
  );
  expect(byName).toEqual({ 'ns.xml': ['00200'], 'local.xml': ['00422', '00423'] });
  for (const e of json.latestErrors) for (const f of e.findings) expect(f.message).not.toBe('');
}

describe('status and show after an NS', () => {
  it('status and status --json list the NS and the local rejection alike', async () => {
    const ns = readLog(logFile).find((l) => l.event === 'invoice.rejected');
    expect(ns?.codes).toEqual(['00200']);
    const text = await cli('status');
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    const json = await cli('status', '--json');
    expect(json.code).toBe(0);
    checkStatus(text.stdout, JSON.parse(json.stdout) as StatusJson);
  });

  it('show and show --json give the NS findings in the same shape as a local rejection', async () => {
    const text = await cli('show', 'ns.xml');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('rejected');
    const shown = await cli('show', '--json', 'ns.xml');
    expect(shown.code).toBe(0);
    const [doc] = JSON.parse(shown.stdout) as { timeline: { to: string; details: unknown }[] }[];
    const rejected = doc?.timeline.find((x) => x.to === 'rejected');
    expect(rejected?.details).toMatchObject({ kind: 'NS', findings: [{ code: '00200' }] });
    const [local] = JSON.parse((await cli('show', '--json', 'local.xml')).stdout) as {
      timeline: { to: string; details: unknown }[];
    }[];
    const localDetails = local?.timeline.find((x) => x.to === 'rejected')?.details as {
      findings: { code: string }[];
    };
    expect(localDetails.findings.map((f) => f.code).sort()).toEqual(['00422', '00423']);
  });

  it('a store whose rows the previous version wrote (an NS with errors, a bare array) does not crash status', async () => {
    daemon?.child.kill('SIGTERM');
    await daemon?.exited;
    const db = new Database(path.join(dir, 'var', 'fatturad.db'));
    const rows = db.prepare(`SELECT id, details FROM transitions WHERE to_state = 'rejected'`).all() as {
      id: number;
      details: string;
    }[];
    expect(rows).toHaveLength(2);
    // The table is append-only (a trigger): lift it for the rewrite, as a test may.
    const triggers = db
      .prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'transitions'`)
      .all() as { name: string; sql: string }[];
    for (const tr of triggers) db.exec(`DROP TRIGGER ${tr.name}`);
    const upd = db.prepare(`UPDATE transitions SET details = ? WHERE id = ?`);
    for (const r of rows) {
      const d = JSON.parse(r.details) as { findings: unknown[]; kind?: string };
      const { findings, ...rest } = d;
      upd.run(JSON.stringify(d.kind === 'NS' ? { ...rest, errors: findings } : findings), r.id);
    }
    for (const tr of triggers) db.exec(tr.sql);
    db.close();
    // The previous version wrote no seal at its stop; this one's seal would (rightly) call the edit damage.
    fs.rmSync(path.join(dir, 'var', 'fatturad.db.seal'), { force: true });
    const text = await cli('status');
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    const json = await cli('status', '--json');
    checkStatus(text.stdout, JSON.parse(json.stdout) as StatusJson);
    const shown = await cli('show', '--json', 'ns.xml');
    expect(shown.code).toBe(0);
  });
});
