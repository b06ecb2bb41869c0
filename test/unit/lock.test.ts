import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DATA_LOCK, FOLDER_LOCK, FolderLockedError, lockFolder, STALE_AFTER_MS } from '../../src/lock.js';
import { isIgnoredName } from '../../src/watchers/accept.js';
import { tempDir } from '../helpers/tmp.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));
function tmp(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

/** The PID of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid;
}

/** A live process that is not this one (killed after the test). */
function otherProcess(): number {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  cleanups.push(() => child.kill('SIGKILL'));
  return child.pid as number;
}

/** A process's start time as the lock records it (/proc/<pid>/stat, field 22). */
function startTime(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] as string;
}

function lockedBy(fn: () => unknown): FolderLockedError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FolderLockedError) return err;
    throw err;
  }
  throw new Error('expected FolderLockedError');
}

describe('folder locks', () => {
  it('the lock file is a name intake never takes', () => {
    expect(isIgnoredName(FOLDER_LOCK)).toBe(true);
    expect(isIgnoredName(`${FOLDER_LOCK}.123.stale`)).toBe(true);
  });

  it('takes a free folder (made if missing), holds this PID, releases it', () => {
    const dir = path.join(tmp(), 'a', 'b');
    const l = lockFolder(dir, 'drop folder');
    const content = JSON.parse(fs.readFileSync(path.join(dir, FOLDER_LOCK), 'utf8')) as { pid: number };
    expect(content.pid).toBe(process.pid);
    // The same process again (a reload): still its own.
    lockFolder(dir, 'drop folder');
    l.release();
    expect(fs.existsSync(path.join(dir, FOLDER_LOCK))).toBe(false);
  });

  it('refuses a folder held by a live process, naming it and its PID', () => {
    const dir = tmp();
    const pid = otherProcess();
    // What a daemon writes: its PID and its start time (a PID alone naming a process that is not a
    // fatturad is taken over: lock-takeover.test.ts).
    fs.writeFileSync(
      path.join(dir, FOLDER_LOCK),
      JSON.stringify({ pid, host: os.hostname(), startTime: startTime(pid) }),
    );
    const err = lockedBy(() => lockFolder(dir, 'drop folder'));
    expect(err.pid).toBe(pid);
    expect(err.folder).toBe(dir);
    expect(err.message).toBe(`another fatturad (pid ${pid}) is running on the drop folder ${dir}`);
    // Left as it was.
    expect(JSON.parse(fs.readFileSync(path.join(dir, FOLDER_LOCK), 'utf8'))).toMatchObject({ pid });
  });

  it.each([
    ['a dead process (JSON)', () => JSON.stringify({ pid: deadPid(), host: os.hostname() })],
    ['a dead process (plain PID, as earlier versions wrote)', () => `${deadPid()}\n`],
    ['another boot', () => JSON.stringify({ pid: process.pid, host: os.hostname(), bootId: 'x' })],
    [
      'a PID reused by another program (start time differs)',
      () => JSON.stringify({ pid: otherProcess(), host: os.hostname(), startTime: '1' }),
    ],
  ])('takes over a stale lock: %s', (_name, content) => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, DATA_LOCK), content());
    const l = lockFolder(dir, 'data folder', DATA_LOCK);
    expect((JSON.parse(fs.readFileSync(path.join(dir, DATA_LOCK), 'utf8')) as { pid: number }).pid).toBe(
      process.pid,
    );
    l.release();
  });

  it('garbage: refused while fresh (being written), taken over once old', () => {
    const dir = tmp();
    const file = path.join(dir, FOLDER_LOCK);
    fs.writeFileSync(file, '');
    expect(lockedBy(() => lockFolder(dir, 'drop folder')).pid).toBeNull();
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(file, old, old);
    lockFolder(dir, 'drop folder').release();
  });

  it('a lock from another host or container: its heartbeat decides', () => {
    const dir = tmp();
    const file = path.join(dir, FOLDER_LOCK);
    fs.writeFileSync(file, JSON.stringify({ pid: deadPid(), host: 'elsewhere' }));
    const err = lockedBy(() => lockFolder(dir, 'import folder'));
    expect(err.message).toContain('on host elsewhere');
    expect(err.message).toContain(`remove ${file}`);
    // Not touched for longer than STALE_AFTER_MS: its daemon is gone.
    const old = new Date(Date.now() - STALE_AFTER_MS - 1000);
    fs.utimesSync(file, old, old);
    const l = lockFolder(dir, 'import folder');
    // A held lock's heartbeat keeps it fresh.
    fs.utimesSync(file, old, old);
    l.touch();
    expect(Date.now() - fs.statSync(file).mtimeMs).toBeLessThan(STALE_AFTER_MS);
    l.release();
  });

  it('our own PID with another start time (another container with our host name, or an earlier run in it): the heartbeat decides', () => {
    const dir = tmp();
    const file = path.join(dir, FOLDER_LOCK);
    fs.writeFileSync(file, JSON.stringify({ pid: process.pid, host: os.hostname(), startTime: '1' }));
    expect(lockedBy(() => lockFolder(dir, 'drop folder')).pid).toBe(process.pid);
    const old = new Date(Date.now() - STALE_AFTER_MS - 1000);
    fs.utimesSync(file, old, old);
    lockFolder(dir, 'drop folder').release();
  });
});
