import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { CLI, readLog, runCli, waitForEvent, type DaemonProcess } from '../helpers/daemon.js';
import { EX, example } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Real daemon processes: every default folder follows dataDir, a second daemon on a folder
 * another one takes files from exits 4, a stale lock is taken over, a missing secret is exit 3
 * and a busy port exit 1, each with one log line and no stack trace.
 */
const run = promisify(execFile);
/** A fresh data folder makes the simulator's certificates first: slow on a busy machine. */
const READY_MS = 90_000;
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });
const t = tempDir('fatturad-locks-');
afterAll(() => t.cleanup());

/** Only the environment: no configuration file, as an admin would try first. */
function envFor(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    FATTURAD_DATA_DIR: dataDir,
    FATTURAD_HTTP__PORT: '0',
    FATTURAD_LOG__FORMAT: 'json',
    FATTURAD_INTAKE__STABLE_MS: '0',
    FATTURAD_SIMULATOR__DELAY_MS: '0',
    FATTURAD_ARCHIVE__ENABLED: 'false',
    ...extra,
  };
}

function start(name: string, env: Record<string, string>): DaemonProcess {
  return runCli(['start'], path.join(t.dir, `${name}.log`), env);
}

async function stop(d: DaemonProcess): Promise<number | null> {
  if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGTERM');
  return (await d.exited).code;
}

/** Runs the CLI to its end, stdout and stderr apart (for commands that exit by themselves). */
async function cli(args: string[], env: Record<string, string>) {
  return run(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    cwd: t.dir,
    timeout: 120_000,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );
}

const events = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { event?: string; level?: string; [k: string]: unknown });

describe('two daemons', () => {
  it('FATTURAD_DATA_DIR alone: two daemons share no folder, each takes only its own files', async () => {
    const a = path.join(t.dir, 'a');
    const b = path.join(t.dir, 'b');
    const da = start('a', envFor(a));
    const db = start('b', envFor(b));
    try {
      const [ra, rb] = await Promise.all([
        waitForEvent(da.logFile, 'daemon.ready', 0, READY_MS),
        waitForEvent(db.logFile, 'daemon.ready', 0, READY_MS),
      ]);
      expect(ra.folders).toEqual([path.join(a, 'outbox')]);
      expect(rb.folders).toEqual([path.join(b, 'outbox')]);
      // Logged just after daemon.ready: waited for, not looked up (the log is written asynchronously).
      const sa = await waitForEvent(da.logFile, 'daemon.simulator', 0, READY_MS);
      expect(sa?.passiveDrop).toBe(path.join(a, 'sim', 'deliver'));
      expect(sa?.inbox).toBe(path.join(a, 'inbox'));
      fs.writeFileSync(path.join(a, 'outbox', 'for-a.xml'), example(EX.b2b));
      await waitForEvent(da.logFile, 'intake.claimed');
      // The lock files in the drop folders are never taken as invoices.
      expect(fs.readdirSync(path.join(a, 'outbox'))).toEqual(['.fatturad.lock']);
      expect(fs.readdirSync(path.join(b, 'outbox'))).toEqual(['.fatturad.lock']);
      expect(
        readLog(db.logFile).filter((l) => /^intake\.(claimed|rejected|duplicate)$/.test(String(l.event))),
      ).toEqual([]);
      const claimed = readLog(da.logFile).filter((l) => l.event === 'intake.claimed');
      expect(claimed.map((l) => l.file ?? l.name)).not.toContain('.fatturad.lock');
    } finally {
      expect(await stop(da)).toBe(0);
      expect(await stop(db)).toBe(0);
    }
    // A clean stop releases every lock.
    for (const d of [a, b]) {
      expect(fs.existsSync(path.join(d, 'fatturad.pid'))).toBe(false);
      expect(fs.existsSync(path.join(d, 'outbox', '.fatturad.lock'))).toBe(false);
    }
  });

  it('a second daemon on another dataDir but the same drop folder exits 4 naming the folder and the PID', async () => {
    const shared = path.join(t.dir, 'erp-out');
    const first = start(
      'first',
      envFor(path.join(t.dir, 'first'), { FATTURAD_INTAKE__FOLDERS: `[{path: ${shared}}]` }),
    );
    try {
      await waitForEvent(first.logFile, 'daemon.ready', 0, READY_MS);
      const second = start(
        'second',
        envFor(path.join(t.dir, 'second'), { FATTURAD_INTAKE__FOLDERS: `[{path: ${shared}}]` }),
      );
      expect((await second.exited).code).toBe(4);
      const line = readLog(second.logFile).find((l) => l.event === 'daemon.already_running');
      expect(line).toMatchObject({ folder: shared, role: 'drop folder', otherPid: first.child.pid });
      expect(line?.msg).toBe(
        `another fatturad (pid ${first.child.pid}) is running on the drop folder ${shared}`,
      );
      // It took nothing and left the first daemon's locks alone.
      expect(readLog(second.logFile).map((l) => l.event)).not.toContain('daemon.ready');
      expect(fs.existsSync(path.join(t.dir, 'second', 'fatturad.pid'))).toBe(false);
      expect(JSON.parse(fs.readFileSync(path.join(shared, '.fatturad.lock'), 'utf8'))).toMatchObject({
        pid: first.child.pid,
      });
      // The import folder belongs to the ERP: no lock file there, and sharing it is no conflict.
      expect(fs.existsSync(path.join(t.dir, 'first', 'inbox', '.fatturad.lock'))).toBe(false);
      const third = start(
        'third',
        envFor(path.join(t.dir, 'third'), {
          FATTURAD_PASSIVE__IMPORT_DIR: path.join(t.dir, 'first', 'inbox'),
        }),
      );
      try {
        await waitForEvent(third.logFile, 'daemon.ready', 0, READY_MS);
        expect(fs.readdirSync(path.join(t.dir, 'first', 'inbox')).filter((f) => f.startsWith('.'))).toEqual(
          [],
        );
      } finally {
        expect(await stop(third)).toBe(0);
      }
    } finally {
      expect(await stop(first)).toBe(0);
    }
  });

  it('the same dataDir: exit 4 (the data folder)', async () => {
    const dir = path.join(t.dir, 'same');
    const first = start('same-1', envFor(dir));
    try {
      await waitForEvent(first.logFile, 'daemon.ready', 0, READY_MS);
      const second = start('same-2', envFor(dir, { FATTURAD_INTAKE__FOLDERS: `[{path: ${dir}/other}]` }));
      expect((await second.exited).code).toBe(4);
      expect(readLog(second.logFile).find((l) => l.event === 'daemon.already_running')).toMatchObject({
        folder: dir,
        role: 'data folder',
      });
    } finally {
      await stop(first);
    }
  });

  it('stale locks of a killed daemon are taken over', async () => {
    const dir = path.join(t.dir, 'stale');
    const first = start('stale-1', envFor(dir));
    await waitForEvent(first.logFile, 'daemon.ready', 0, READY_MS);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(fs.existsSync(path.join(dir, 'outbox', '.fatturad.lock'))).toBe(true);
    // And one of a process long gone, in the format of earlier versions.
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    fs.writeFileSync(path.join(dir, 'fatturad.pid'), `${gone}\n`);
    const second = start('stale-2', envFor(dir));
    try {
      await waitForEvent(second.logFile, 'daemon.ready', 0, READY_MS);
      const lock = JSON.parse(fs.readFileSync(path.join(dir, 'outbox', '.fatturad.lock'), 'utf8')) as {
        pid: number;
      };
      expect(lock.pid).toBe(second.child.pid);
    } finally {
      expect(await stop(second)).toBe(0);
    }
  });
});

describe('the standalone simulator', () => {
  it('its folders follow FATTURAD_DATA_DIR, and a second one on the same deliver folder exits 4', async () => {
    const dir = path.join(t.dir, 'standalone');
    const free = async (): Promise<number> => {
      const s = net.createServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      const p = (s.address() as net.AddressInfo).port;
      await new Promise((r) => s.close(r));
      return p;
    };
    const first = runCli(['sim', '--port', String(await free())], path.join(t.dir, 'sim-1.log'), {
      FATTURAD_DATA_DIR: dir,
    });
    try {
      const ready = await waitForEvent(first.logFile, 'sim.ready', 0, READY_MS);
      expect(String(ready.ca).startsWith(path.join(dir, 'sim', 'pki'))).toBe(true);
      expect(fs.existsSync(path.join(dir, 'sim', 'deliver', '.fatturad.lock'))).toBe(true);
      const second = runCli(['sim', '--port', String(await free())], path.join(t.dir, 'sim-2.log'), {
        FATTURAD_DATA_DIR: dir,
      });
      expect((await second.exited).code).toBe(4);
      expect(readLog(second.logFile).find((l) => l.event === 'daemon.already_running')).toMatchObject({
        folder: path.join(dir, 'sim', 'deliver'),
        otherPid: first.child.pid,
      });
    } finally {
      expect(await stop(first)).toBe(0);
    }
    expect(fs.existsSync(path.join(dir, 'sim', 'deliver', '.fatturad.lock'))).toBe(false);
  });
});

describe('start failures an administrator fixes', () => {
  it('a busy HTTP port: exit 1, one http.listen_failed line with host:port and the hint, no stack trace', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const dir = path.join(t.dir, 'port');
      const r = await cli(['start'], envFor(dir, { FATTURAD_HTTP__PORT: String(port) }));
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('');
      const fatal = events(r.stdout).filter(
        (l) => l.level === 'fatal' || l.level === 'error' || l.event === 'http.listen_failed',
      );
      expect(fatal).toHaveLength(1);
      expect(fatal[0]).toMatchObject({
        event: 'http.listen_failed',
        host: '127.0.0.1',
        port,
        code: 'EADDRINUSE',
      });
      expect(String(fatal[0]?.msg)).toContain(`127.0.0.1:${port}`);
      expect(String(fatal[0]?.msg)).toContain('http.port');
      expect(r.stdout).not.toMatch(/\n\s+at /);
      expect(r.stdout).not.toContain('"stack"');
      // Nothing was sent, and the locks are released.
      expect(events(r.stdout).map((l) => l.event)).not.toContain('daemon.ready');
      expect(fs.existsSync(path.join(dir, 'fatturad.pid'))).toBe(false);
      expect(fs.existsSync(path.join(dir, 'outbox', '.fatturad.lock'))).toBe(false);
    } finally {
      server.close();
    }
  });

  it('fatturad sim on a busy port: exit 1, sim.listen_failed, no stack trace', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const r = await cli(['sim', '--port', String(port), '--pki', path.join(t.dir, 'sim-pki')], {});
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('');
      expect(events(r.stdout).find((l) => l.event === 'sim.listen_failed')).toMatchObject({ port });
      expect(r.stdout).not.toMatch(/\n\s+at /);
    } finally {
      server.close();
    }
  });

  it('a busy SDICoop listen port: exit 1, sdicoop.listen_failed', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const r = await cli(
        ['start'],
        envFor(path.join(t.dir, 'sdiport'), { FATTURAD_CHANNEL__SDICOOP__LISTEN__PORT: String(port) }),
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('');
      expect(events(r.stdout).find((l) => l.event === 'sdicoop.listen_failed')).toMatchObject({ port });
      expect(r.stdout).not.toContain('"stack"');
    } finally {
      server.close();
    }
  });

  it('FATTURAD_PEC_PASSWORD unset: exit 3 (not 1), config.invalid naming the key and the variable', async () => {
    const env = envFor(path.join(t.dir, 'pec'), {
      FATTURAD_CHANNEL__TYPE: 'pec',
      FATTURAD_CHANNEL__PEC__ADDRESS: 'fatture@pec.example.it',
      FATTURAD_CHANNEL__PEC__SMTP__HOST: '127.0.0.1',
      FATTURAD_CHANNEL__PEC__IMAP__HOST: '127.0.0.1',
    });
    const { FATTURAD_PEC_PASSWORD: _unset, ...parent } = process.env;
    const r = await run(process.execPath, [CLI, 'start'], { env: { ...parent, ...env }, cwd: t.dir }).then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(r.code).toBe(3);
    expect(r.stdout).not.toContain('"stack"');
    const line = events(r.stdout).find((l) => l.event === 'config.invalid');
    expect(line?.problems).toEqual([
      expect.stringMatching(/^channel\.pec\.smtp\.passwordEnv = "FATTURAD_PEC_PASSWORD": /),
    ]);
    // A channel setting missing is a configuration error too (exit 3), once the secret is there.
    const r2 = await cli(['start'], {
      ...env,
      FATTURAD_PEC_PASSWORD: 'x',
      FATTURAD_CHANNEL__PEC__ADDRESS: '',
    });
    expect(r2.code).toBe(3);
    expect(events(r2.stdout).find((l) => l.event === 'config.invalid')?.problems).toEqual([
      expect.stringContaining('channel.pec.address'),
    ]);
  });

  it('config check lists each missing secret with its key and variable or file, never a value', async () => {
    const cfg = path.join(t.dir, 'secrets.yaml');
    fs.writeFileSync(
      cfg,
      [
        'channel:',
        '  type: pec',
        '  pec:',
        '    address: fatture@pec.example.it',
        '    smtp: { host: smtp.example.it, passwordEnv: T_PEC_PASSWORD }',
        `    imap: { host: imap.example.it, passwordFile: ${t.dir}/no-such-file }`,
        'archive:',
        '  signing: { pfx: /etc/fatturad/sign.p12, passphraseEnv: T_SIGN }',
        '  tsa: { url: "https://tsa.example/", user: ts, passwordEnv: T_TSA }',
      ].join('\n'),
    );
    const r = await cli(['config', 'check', cfg], { T_SIGN: 'v3ry-s3cret', T_TSA: '' });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toContain('missing secrets');
    expect(lines.slice(1).map((l) => l.trim().split(' = ')[0])).toEqual([
      'channel.pec.smtp.passwordEnv',
      'channel.pec.imap.passwordFile',
    ]);
    expect(r.stderr).toContain('T_PEC_PASSWORD');
    expect(r.stderr).toContain(`${t.dir}/no-such-file`);
    expect(r.stderr).not.toContain('v3ry-s3cret');
    // --skip-secrets checks the file alone (a shell without the service's variables).
    const skipped = await cli(['config', 'check', '--skip-secrets', '--quiet', cfg], {});
    expect(skipped.code).toBe(0);
    // Everything there: OK, and the output holds no secret value.
    fs.writeFileSync(path.join(t.dir, 'no-such-file'), 'imap-s3cret');
    const ok = await cli(['config', 'check', cfg], {
      T_SIGN: 'v3ry-s3cret',
      T_TSA: 'x',
      T_PEC_PASSWORD: 'p3c-s3cret',
    });
    expect(ok.code).toBe(0);
    expect(ok.stdout + ok.stderr).not.toMatch(/v3ry-s3cret|imap-s3cret|p3c-s3cret/);
  });
});
