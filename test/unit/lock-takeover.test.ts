import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DATA_LOCK, FolderLockedError, lockFolder, mayBeFatturad } from '../../src/lock.js';
import { waitFor } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * A PID file that names a live process which is not a fatturad on this folder (a PID reused by
 * another program after a crash, a PID file left by an init script) does not block the start.
 */
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));
function tmp(): string {
  const t = tempDir('fatturad-lock-takeover-');
  cleanups.push(t.cleanup);
  return t.dir;
}
function started(child: ChildProcess): number {
  cleanups.push(() => child.kill('SIGKILL'));
  return child.pid as number;
}
const ours = (file: string) => (JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number }).pid;

describe('a PID file naming a live process that is not a fatturad', () => {
  it.each([
    ['a plain PID (as earlier versions and init scripts write)', (pid: number) => `${pid}\n`],
    ['JSON without a start time', (pid: number) => JSON.stringify({ pid, host: os.hostname() })],
  ])('is taken over: %s', (_name, content) => {
    const dir = tmp();
    const pid = started(spawn('sleep', ['60'], { stdio: 'ignore' }));
    const file = path.join(dir, DATA_LOCK);
    fs.writeFileSync(file, content(pid));
    expect(mayBeFatturad(pid, dir)).toBe(false);
    const l = lockFolder(dir, 'data folder', DATA_LOCK);
    expect(ours(file)).toBe(process.pid);
    l.release();
  });

  it('a live process that holds a file of the data folder open (a daemon and its store) still holds it', async () => {
    const dir = tmp();
    const db = path.join(dir, 'fatturad.db');
    const pid = started(
      spawn(
        process.execPath,
        ['-e', 'require("fs").openSync(process.argv[1], "a"); setTimeout(() => {}, 60000)', db],
        { stdio: 'ignore' },
      ),
    );
    await waitFor('the store open', () => mayBeFatturad(pid, dir), 10_000);
    const file = path.join(dir, DATA_LOCK);
    fs.writeFileSync(file, `${pid}\n`);
    let err: unknown;
    try {
      lockFolder(dir, 'data folder', DATA_LOCK);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FolderLockedError);
    expect((err as FolderLockedError).pid).toBe(pid);
    expect(fs.readFileSync(file, 'utf8')).toBe(`${pid}\n`);
  });

  it('a process whose command line is fatturad still holds it', () => {
    const dir = tmp();
    const bin = path.join(tmp(), 'fatturad');
    fs.writeFileSync(bin, 'setTimeout(() => {}, 60000);\n');
    const pid = started(spawn(process.execPath, [bin], { stdio: 'ignore' }));
    const file = path.join(dir, DATA_LOCK);
    fs.writeFileSync(file, `${pid}\n`);
    expect(mayBeFatturad(pid, dir)).toBe(true);
    expect(() => lockFolder(dir, 'data folder', DATA_LOCK)).toThrow(FolderLockedError);
  });
});
