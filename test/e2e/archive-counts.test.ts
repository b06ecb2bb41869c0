import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CLI,
  readLog,
  runCli,
  waitFor,
  waitForEvent,
  writeDaemonConfig,
  type DaemonProcess,
} from '../helpers/daemon.js';
import { EX, exampleText } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * `archive status`, `archive export` and `archive verify-export` count the same archived
 * documents (an invoice with its messages) on the same archive, and say "files" for files; every
 * date option refuses a day that does not exist (exit 2).
 */
const run = promisify(execFile);
/** A fresh data folder makes the simulator's certificates first: slow on a busy machine. */
const READY_MS = 90_000;
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });
const t = tempDir('fatturad-archive-counts-');
const dir = t.dir;
const outbox = path.join(dir, 'outbox');
const cfg = path.join(dir, 'fatturad.yaml');
const logFile = path.join(dir, 'daemon.log');
let daemon: DaemonProcess | null = null;
const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Rome' }).format(new Date());

const cli = (...args: string[]) =>
  run(process.execPath, [CLI, ...args, '--config', cfg]).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

beforeAll(async () => {
  fs.mkdirSync(outbox, { recursive: true });
  writeDaemonConfig(dir, outbox, {
    validation: true,
    intake: { stableMs: 0 },
    extra: [
      'sending: { pollMs: 200 }',
      'simulator: { scenario: deliver, delayMs: 0 }',
      'archive: { pollMs: 200, checkpointEveryMs: 1 }',
    ],
  });
  daemon = runCli(['start', '--config', cfg], logFile);
  await waitForEvent(logFile, 'daemon.ready', 0, READY_MS);
  const xml = exampleText(EX.b2b).replace(/<Data>[^<]*<\/Data>/, `<Data>${today}</Data>`);
  for (let i = 1; i <= 3; i++)
    fs.writeFileSync(
      path.join(outbox, `count-${i}.xml`),
      xml.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>CNT-${i}</Numero>`),
    );
  await waitFor(
    'three documents archived',
    () =>
      readLog(logFile)
        .filter((l) => l.event === 'archive.pdv')
        .reduce((n, l) => n + Number(l.documents), 0) >= 3,
    60_000,
  );
  daemon.child.kill('SIGTERM');
  await daemon.exited;
});

afterAll(async () => {
  if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) {
    daemon.child.kill('SIGKILL');
    await daemon.exited;
  }
  t.cleanup();
});

describe('one count of archived documents', () => {
  it('status, export and verify-export agree: 3 documents, each invoice with its RC', async () => {
    const status = await cli('archive', 'status', '--json');
    expect(status.code).toBe(0);
    const s = JSON.parse(status.stdout) as { documents: number; files: number };
    expect(s.documents).toBe(3);
    // Each invoice and its RC: files, not documents.
    expect(s.files).toBeGreaterThanOrEqual(6);
    const text = await cli('archive', 'status');
    expect(text.stdout).toContain(`3 document(s) (${s.files} archived files)`);

    const zip = path.join(dir, 'pdd.zip');
    const exported = await cli('archive', 'export', '--from', '2000-01-01', '--out', zip);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toContain(`3 document(s) (${s.files} archived files)`);

    const verified = await run(process.execPath, [CLI, 'archive', 'verify-export', '--json', zip]);
    const v = JSON.parse(verified.stdout) as { ok: boolean; documents: number; files: number };
    expect(v).toMatchObject({ ok: true, documents: 3, files: s.files });
    const vt = await run(process.execPath, [CLI, 'archive', 'verify-export', zip]);
    expect(vt.stdout).toContain(`3 document(s) (${s.files} archived files)`);
  });
});

describe('dates that do not exist are refused (exit 2)', () => {
  it.each([
    [
      ['archive', 'search', '--from', '2017-13-45'],
      '--from wants a calendar day YYYY-MM-DD, not "2017-13-45"',
    ],
    [['archive', 'search', '--to', '2017-02-30'], '--to wants a calendar day YYYY-MM-DD, not "2017-02-30"'],
    [['archive', 'search', '--from', '2017-2-3'], '--from wants a calendar day'],
    [['archive', 'search', '--query', 'from=2017-02-29'], '--query from= wants a calendar day'],
    [
      ['archive', 'search', '--from', '2020-02-01', '--to', '2020-01-01'],
      'the dates are the wrong way round',
    ],
    [
      ['archive', 'export', '--to', '2017-13-45', '--out', path.join(dir, 'x.zip')],
      '--to wants a calendar day YYYY-MM-DD, not "2017-13-45"',
    ],
  ])('%j', async (args, message) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });

  it('a real day, even 29 February of a leap year, is taken', async () => {
    const r = await cli('archive', 'search', '--from', '2024-02-29', '--json');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as unknown[]).length).toBe(3);
  });
});
