import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/daemon.js';
import { bigInvoice } from '../helpers/big-invoice.js';
import { EX, example } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * `fatturad validate` reads what it is given with a size bound: at most intake.maxFileBytes + 1
 * bytes of a device or a FIFO, nothing of a regular file larger than the limit. Before, it read
 * /dev/zero until the process had grown to 5 GB.
 */
const run = promisify(execFile);
const t = tempDir('fatturad-cli-bounded-');
afterAll(() => t.cleanup());

const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** Peak resident memory of the process, in MB (null without /usr/bin/time). */
  rssMb: number | null;
}

async function validate(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  const env = { ...process.env, FATTURAD_DATA_DIR: path.join(t.dir, 'data'), ...extraEnv };
  const [cmd, argv] = TIME
    ? [TIME, ['-f', 'peak-rss-kb %M', process.execPath, CLI, 'validate', ...args]]
    : [process.execPath, [CLI, 'validate', ...args]];
  let r: { code: number; stdout: string; stderr: string };
  try {
    const ok = await run(cmd, argv, { cwd: t.dir, env, maxBuffer: 16 * 1024 * 1024 });
    r = { code: 0, stdout: ok.stdout, stderr: ok.stderr };
  } catch (err) {
    r = err as { code: number; stdout: string; stderr: string };
  }
  const kb = /peak-rss-kb (\d+)/.exec(r.stderr);
  return { ...r, rssMb: kb ? Number(kb[1]) / 1024 : null };
}

describe('fatturad validate reads with a size bound', () => {
  it('/dev/zero: refused with 00003 once past the limit, in bounded memory', async () => {
    const r = await validate(['/dev/zero']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('INVALID /dev/zero');
    expect(r.stdout).toContain('error   00003');
    expect(r.stdout).toMatch(
      /EN: The input is not a regular file \(a device or a pipe\) and gave more than the limit of 5\.00 MB/,
    );
    expect(r.stdout).toMatch(/IT: L'input non è un file regolare/);
    // The limit is 5 MB: the process never holds much more than that (it grew to 5 GB before).
    if (r.rssMb !== null) expect(r.rssMb).toBeLessThan(250);
  });

  it('a FIFO: an invoice written into it is validated; an endless writer is cut off at the limit', async () => {
    const fifo = path.join(t.dir, 'IT12345670017_00001.xml');
    await run('mkfifo', [fifo]);
    // A writer that writes one invoice and closes.
    const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', path.join(t.dir, 'in.xml'), fifo]);
    fs.writeFileSync(path.join(t.dir, 'in.xml'), example(EX.b2b));
    try {
      const r = await validate([fifo]);
      expect(r.stdout).toContain(`VALID   ${fifo}`);
      expect(r.code).toBe(0);
    } finally {
      writer.kill();
    }
    // A writer that never stops: the reader stops at the limit and closes (the writer then gets
    // SIGPIPE).
    const endless = spawn('sh', ['-c', 'yes "<a>" > "$1"', 'sh', fifo]);
    const ended = new Promise((resolve) => endless.once('exit', resolve));
    try {
      const r = await validate([fifo]);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('error   00003');
      expect(r.stdout).toContain('not a regular file');
      if (r.rssMb !== null) expect(r.rssMb).toBeLessThan(250);
      await ended;
    } finally {
      endless.kill();
    }
  });

  it('a large file is checked on a worker within the per-file budget: 00200 "too complex" past it', async () => {
    const file = path.join(t.dir, 'IT12345670017_00003.xml');
    fs.writeFileSync(file, bigInvoice(5 * 1024 * 1024 - 10_000, { oneLine: true, xmlnsXml: true }));
    const ok = await validate([file]);
    expect(ok.stdout).toContain(`VALID   ${file}`);
    expect(ok.code).toBe(0);
    // A 5 MB invoice needs well over 50 ms of parsing alone.
    const r = await validate([file], { FATTURAD_VALIDATION__BUDGET__TIME_MS: '50' });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('error   00200');
    expect(r.stdout).toMatch(/EN: The file is too complex to check: its check took more than 0\.05 s/);
    expect(r.stdout).toMatch(/IT: Il file è troppo complesso da verificare/);
  });
});
