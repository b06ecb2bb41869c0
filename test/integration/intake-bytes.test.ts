import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  readLog,
  runCli,
  waitFor,
  waitForEvent,
  writeDaemonConfig,
  type DaemonProcess,
  type LogLine,
} from '../helpers/daemon.js';
import { EX, example } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * What is validated is what is sent, against a real daemon and the built-in SdI simulator: a file
 * dropped as a hard link whose other name is rewritten after validation, and a file whose writer
 * keeps it open past intake.stableMs and writes more later.
 */
/** A fresh data folder makes the simulator's certificates first: slow on a busy machine. */
const READY_MS = 90_000;
vi.setConfig({ testTimeout: 120_000, hookTimeout: 180_000 });
const t = tempDir('fatturad-intake-bytes-');
const dir = t.dir;
const outbox = path.join(dir, 'outbox');
const erp = path.join(dir, 'erp');
const logFile = path.join(dir, 'daemon.log');
let daemon: DaemonProcess | null = null;
const writers: ChildProcess[] = [];

const sha = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');
/** The B2B example as another invoice (its own number: not a duplicate of the others). */
const invoice = (numero: string) =>
  Buffer.from(
    example(EX.b2b).toString('latin1').replace('<Numero>B-101</Numero>', `<Numero>${numero}</Numero>`),
    'latin1',
  );

function config(sending: boolean): void {
  writeDaemonConfig(dir, outbox, {
    validation: true,
    intake: { stableMs: 300, rescanMs: 500 },
    extra: [
      `sending: { enabled: ${sending}, pollMs: 200 }`,
      'archive: { enabled: false }',
      'simulator: { delayMs: 0 }',
      `passive: { importDir: ${dir}/inbox }`,
    ],
  });
}

/** The first log line after `from` about `file` (by name) among `events`. */
function first(events: string[], file: string, from = 0): Promise<LogLine> {
  return waitFor(`an event about ${file}`, () =>
    readLog(logFile)
      .slice(from)
      .find(
        (l) =>
          events.includes(l.event ?? '') &&
          (l.file === file || (typeof l.file === 'string' && l.file.endsWith(`/${file}`))),
      ),
  );
}

/** Where the store keeps a document's file (read-only look at the daemon's store). */
function spoolPath(documentId: unknown): string {
  const db = new Database(path.join(dir, 'var', 'fatturad.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(`SELECT path FROM documents WHERE id = ?`).get(documentId) as { path: string }).path;
  } finally {
    db.close();
  }
}

function documentEvent(event: string, documentId: unknown): LogLine | undefined {
  return readLog(logFile).find((l) => l.event === event && l.documentId === documentId);
}

beforeAll(async () => {
  fs.mkdirSync(outbox, { recursive: true });
  fs.mkdirSync(erp, { recursive: true });
  config(false);
  daemon = runCli(['start', '--config', path.join(dir, 'fatturad.yaml')], logFile);
  await waitForEvent(logFile, 'daemon.ready', 0, READY_MS);
});

afterAll(async () => {
  for (const w of writers) w.kill('SIGKILL');
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
  }
  t.cleanup();
});

describe('the bytes sent are the bytes validated', () => {
  it('a hard link whose other name is rewritten after validation: the validated bytes are sent; a spool file damaged after validation is not sent', async () => {
    // Another document, whose file in the spool is damaged between validation and sending.
    const damagedName = 'IT12345670017_DM001.xml';
    fs.writeFileSync(path.join(outbox, damagedName), invoice('DM-1'));
    const damagedDoc = (await first(['intake.claimed'], damagedName)).documentId;
    await waitFor('validated', () => documentEvent('validation.passed', damagedDoc));

    const original = invoice('HL-1');
    const other = path.join(erp, 'export.xml');
    const name = 'IT12345670017_HL001.xml';
    fs.writeFileSync(other, original);
    fs.linkSync(other, path.join(outbox, name));
    const claimed = await first(['intake.claimed'], name);
    expect(claimed.sha256).toBe(sha(original));
    const doc = claimed.documentId;
    await waitFor('validated', () => documentEvent('validation.passed', doc));
    // The ERP rewrites its own name in place (same inode): another amount.
    const changed = Buffer.from(
      original.toString('latin1').replace('<PrezzoTotale>', '<PrezzoTotale>9'),
      'latin1',
    );
    expect(changed.equals(original)).toBe(false);
    fs.writeFileSync(other, changed);
    expect(fs.statSync(other).nlink).toBe(1); // the spool holds a copy of its own, not this inode
    const spooled = spoolPath(damagedDoc);
    fs.writeFileSync(spooled, changed);

    // Sending on: the document goes, with the bytes that were validated.
    const from = readLog(logFile).length;
    config(true);
    daemon?.child.kill('SIGHUP');
    await waitForEvent(logFile, 'config.reloaded', from);
    const outcome = await waitFor('sent or held', () =>
      readLog(logFile).find(
        (l) => (l.event === 'send.accepted' || l.event === 'send.integrity_mismatch') && l.documentId === doc,
      ),
    );
    expect(outcome.event).toBe('send.accepted');
    // The damaged one (taken first, so looked at in the same passes): one alert, never sent.
    await waitFor('the alert', () => documentEvent('send.integrity_mismatch', damagedDoc));
    expect(readLog(logFile).filter((l) => l.event === 'send.integrity_mismatch')).toHaveLength(1);
    expect(documentEvent('send.queued', damagedDoc)).toBeUndefined();
    expect(
      readLog(logFile).filter((l) => l.event === 'sim.received' && l.nomeFile === damagedName),
    ).toHaveLength(0);
    expect(readLog(logFile).filter((l) => l.event === 'intake.private_copy' && l.file === name)).toHaveLength(
      1,
    );
  });

  it('a writer that keeps the file open past stableMs and writes more later: taken only once closed, whole', async () => {
    const whole = invoice('OW-1');
    const name = 'IT12345670017_OW001.xml';
    const file = path.join(outbox, name);
    const half = Math.floor(whole.length / 2);
    // Writes the first half, keeps the file open, writes the rest when told (a line on stdin).
    const writer = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('fs');
         const [file, data] = [process.argv[1], Buffer.from(process.argv[2], 'base64')];
         const fd = fs.openSync(file, 'w');
         fs.writeSync(fd, data.subarray(0, ${half}));
         process.stdout.write('open\\n');
         process.stdin.once('data', () => { fs.writeSync(fd, data.subarray(${half})); fs.closeSync(fd); process.exit(0); });`,
        file,
        whole.toString('base64'),
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    writers.push(writer);
    await new Promise<void>((resolve) => writer.stdout?.once('data', () => resolve()));
    const from = readLog(logFile).length;
    // The watcher looks at it (it is stable after stableMs) and sees its writer: not taken.
    const seen = await first(['intake.open_for_writing', 'intake.claimed', 'intake.rejected'], name, from);
    expect(seen.event).toBe('intake.open_for_writing');
    // Still in the folder, never claimed, while its writer holds it.
    expect(fs.existsSync(file)).toBe(true);
    expect(readLog(logFile).filter((l) => l.event === 'intake.claimed' && l.file === name)).toHaveLength(0);

    const exited = new Promise((r) => writer.once('exit', r));
    writer.stdin?.write('close\n');
    await exited;
    const claimed = await first(['intake.claimed', 'intake.rejected'], name, from);
    expect(claimed.event).toBe('intake.claimed');
    expect(claimed.sha256).toBe(sha(whole));
    const doc = claimed.documentId;
    await waitFor('validated', () => documentEvent('validation.passed', doc));
    expect(
      readLog(logFile).filter((l) => l.event === 'intake.open_for_writing' && l.file === file),
    ).toHaveLength(1);
  });
});
