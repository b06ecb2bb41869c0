import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
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
 * Entries of a drop folder that are not regular files, against a real daemon: a FIFO (whose open
 * would block), a socket, a device node (/dev/zero's, when this process may make one), and
 * symbolic links to a file outside the folder, to /dev/zero, to nothing and to themselves. None
 * is opened or followed: each stays in place with one report in rejected/ and one
 * intake.not_a_file event, however many rescans pass; the files around them are taken as usual
 * and /healthz keeps answering.
 */
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });
const t = tempDir('fatturad-intake-special-');
const dir = t.dir;
const outbox = path.join(dir, 'outbox');
const outside = path.join(dir, 'elsewhere');
const logFile = path.join(dir, 'daemon.log');
const rejected = path.join(dir, 'var', 'rejected');
let daemon: DaemonProcess | null = null;
let socket: net.Server | null = null;
let port = 0;

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const invoice = (numero: string) =>
  Buffer.from(
    example(EX.b2b).toString('latin1').replace('<Numero>B-101</Numero>', `<Numero>${numero}</Numero>`),
    'latin1',
  );
const SECRET = invoice('OUTSIDE-1');

/** name in the drop folder -> the kind fatturad must report. */
const specials = new Map<string, string>();

function dropAtomically(name: string, data: Buffer): void {
  const tmp = path.join(outbox, `.${name}.tmp`);
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, path.join(outbox, name));
}

async function healthz(): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${port}/healthz`);
  await r.arrayBuffer();
  return r.status;
}

const events = (event: string, from = 0): LogLine[] =>
  readLog(logFile)
    .slice(from)
    .filter((l) => l.event === event);

beforeAll(async () => {
  fs.mkdirSync(outbox, { recursive: true });
  fs.mkdirSync(outside, { recursive: true });
  fs.writeFileSync(path.join(outside, 'secret.xml'), SECRET);
  execFileSync('mkfifo', [path.join(outbox, 'IT12345670017_PIPE1.xml')]);
  specials.set('IT12345670017_PIPE1.xml', 'FIFO');
  socket = net.createServer();
  await new Promise<void>((resolve) => socket?.listen(path.join(outbox, 'IT12345670017_SOCK1.xml'), resolve));
  specials.set('IT12345670017_SOCK1.xml', 'socket');
  try {
    // /dev/zero's numbers: a read of it never ends. Needs CAP_MKNOD (root outside a container).
    execFileSync('mknod', [path.join(outbox, 'IT12345670017_ZERO1.xml'), 'c', '1', '5'], { stdio: 'ignore' });
    specials.set('IT12345670017_ZERO1.xml', 'character device');
  } catch {
    console.log('mknod not allowed here: the device node case is left out');
  }
  const links: [string, string][] = [
    ['IT12345670017_LNK01.xml', path.join(outside, 'secret.xml')],
    ['IT12345670017_LNK02.xml', '/dev/zero'],
    ['IT12345670017_LNK03.xml', path.join(outside, 'nothing.xml')],
    ['IT12345670017_LNK04.xml', 'IT12345670017_LNK04.xml'],
  ];
  for (const [name, target] of links) {
    fs.symlinkSync(target, path.join(outbox, name));
    specials.set(name, 'symbolic link');
  }
  dropAtomically('IT12345670017_GOOD1.xml', invoice('GOOD-1'));
  writeDaemonConfig(dir, outbox, { intake: { stableMs: 100, rescanMs: 200 } });
  daemon = runCli(['start', '--config', path.join(dir, 'fatturad.yaml')], logFile, {
    FATTURAD_LOG__LEVEL: 'debug',
  });
  port = Number((await waitForEvent(logFile, 'daemon.ready', 0, 90_000)).http);
});

afterAll(async () => {
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill('SIGKILL');
    await daemon.exited;
  }
  await new Promise((r) => (socket ? socket.close(r) : r(undefined)));
  t.cleanup();
});

describe('entries of a drop folder that are not regular files', () => {
  it('are left in place with one report and one event each, never opened or followed; the other files are taken', async () => {
    await waitFor('a report for each', () => events('intake.not_a_file').length >= specials.size);
    // A file dropped afterwards is taken as usual, and the health endpoint answers all along.
    dropAtomically('IT12345670017_GOOD2.xml', invoice('GOOD-2'));
    await waitFor('both good files taken', () => events('intake.claimed').length >= 2);
    let answered = 0;
    for (let i = 0; i < 5; i++) if ((await healthz()) === 200) answered++;
    expect(answered).toBe(5);
    // Several more rescans: the reports are not repeated.
    const from = readLog(logFile).length;
    await waitFor('4 more rescans', () => events('intake.rescanned', from).length >= 4);

    const reported = events('intake.not_a_file');
    expect(reported).toHaveLength(specials.size);
    for (const [name, kind] of specials) {
      const mine = reported.filter((l) => l.file === path.join(outbox, name));
      expect(mine, name).toHaveLength(1);
      expect(mine[0]).toMatchObject({ level: 'warn', kind, folder: outbox });
      // Left where it was, as it was.
      expect(fs.lstatSync(path.join(outbox, name)).isFile(), name).toBe(false);
      const report = JSON.parse(fs.readFileSync(path.join(rejected, `${name}.errors.json`), 'utf8')) as {
        errors: { code: string; message: string; messageIt: string }[];
      };
      expect(report.errors[0]?.code).toBe('NOT-A-FILE');
      expect(report.errors[0]?.message).toContain(`is a ${kind}`);
      expect(report.errors[0]?.messageIt).toMatch(/non un file regolare/);
      expect(fs.existsSync(path.join(rejected, `${name}.errors.txt`))).toBe(true);
    }
    expect(reported.find((l) => l.file === path.join(outbox, 'IT12345670017_LNK01.xml'))?.target).toBe(
      path.join(outside, 'secret.xml'),
    );

    // Only the two regular files were taken; the file outside the folder was not read into it.
    const claimed = events('intake.claimed');
    expect(claimed.map((l) => l.file).sort()).toEqual(['IT12345670017_GOOD1.xml', 'IT12345670017_GOOD2.xml']);
    expect(claimed.map((l) => l.sha256)).not.toContain(sha(SECRET));
    expect(sha(fs.readFileSync(path.join(outside, 'secret.xml')))).toBe(sha(SECRET));
    expect(events('intake.error')).toHaveLength(0);

    // And the daemon stops cleanly: no thread is stuck on one of them.
    daemon?.child.kill('SIGTERM');
    expect(await daemon?.exited).toEqual({ code: 0, signal: null });
  });
});
