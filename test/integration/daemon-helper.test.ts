import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  killTrackedChildren,
  ROOT,
  runCli,
  trackedPids,
  waitFor,
  waitForEvent,
  writeDaemonConfig,
} from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

/** The test helper kills every daemon a test started, even when the test fails. */
const run = promisify(execFile);
const t = tempDir('fatturad-helper-');
afterAll(() => t.cleanup());

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

describe('test/helpers/daemon.ts', () => {
  it('tracks the daemons it starts and kills those left running', async () => {
    const dir = path.join(t.dir, 'tracked');
    const cfg = writeDaemonConfig(dir, path.join(dir, 'outbox'));
    const logFile = path.join(dir, 'daemon.log');
    const d = runCli(['start', '--config', cfg], logFile);
    const pid = d.child.pid as number;
    await waitForEvent(logFile, 'daemon.ready');
    expect(trackedPids()).toContain(pid);
    // What the setup file's afterAll does after a test that failed before stopping its daemon.
    expect(await killTrackedChildren()).toContain(pid);
    expect((await d.exited).signal).toBe('SIGKILL');
    expect(alive(pid)).toBe(false);
    expect(trackedPids()).not.toContain(pid);
  });

  it('a process that exited on its own is no longer tracked', async () => {
    const d = runCli(['--version'], path.join(t.dir, 'version.log'));
    expect((await d.exited).code).toBe(0);
    expect(trackedPids()).not.toContain(d.child.pid);
  });

  it('a test file whose test fails with a daemon running leaves no process behind', async () => {
    const dir = path.join(t.dir, 'failing');
    fs.mkdirSync(dir, { recursive: true });
    const vitest = path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
    const config = path.join(ROOT, 'test', 'helpers', 'selftest', 'vitest.config.ts');
    const r = await run(process.execPath, [vitest, 'run', '--config', config], {
      cwd: ROOT,
      env: { ...process.env, FAILING_DAEMON_DIR: dir, CI: '1' },
    }).then(
      (x) => ({ code: 0, out: x.stdout + x.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
    // It failed, for the intended reason, after its daemon was up.
    expect(r.code, r.out).toBe(1);
    expect(r.out).toContain('failing on purpose');
    const pid = Number(fs.readFileSync(path.join(dir, 'daemon.pid'), 'utf8'));
    expect(pid).toBeGreaterThan(0);
    await waitFor('the daemon of the failed test to be gone', () => !alive(pid), 10_000);
  });
});
