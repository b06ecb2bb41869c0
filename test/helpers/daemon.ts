import { execFile, spawn, type ChildProcess, type ExecFileOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { SimPki } from '../../src/sim/certs.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = path.join(ROOT, 'dist', 'cli.js');

export interface DaemonProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  logFile: string;
}

/**
 * Every process runCli started and that has not exited yet, in one set per test process (on
 * globalThis, so that the vitest setup file and the test files share it whatever module instance
 * they loaded). test/helpers/children-setup.ts kills what is left after each test file, pass or
 * fail, and at exit: a failing test never leaves a daemon running.
 */
const LIVE = Symbol.for('fatturad.test.liveChildren');
type Live = Map<number, { child: ChildProcess; exited: Promise<unknown> }>;
function liveChildren(): Live {
  const g = globalThis as { [LIVE]?: Live };
  g[LIVE] ??= new Map();
  return g[LIVE];
}

/** The PIDs of the processes started by runCli that are still running. */
export function trackedPids(): number[] {
  return [...liveChildren().keys()];
}

/** SIGKILLs every process runCli started that is still running, and waits until they are gone. */
export async function killTrackedChildren(): Promise<number[]> {
  const live = [...liveChildren().entries()];
  for (const [, { child }] of live) child.kill('SIGKILL');
  await Promise.all(live.map(([, { exited }]) => exited));
  return live.map(([pid]) => pid);
}

/** The synchronous variant for a process `exit` handler (no waiting possible there). */
export function killTrackedChildrenSync(): void {
  for (const { child } of liveChildren().values()) child.kill('SIGKILL');
}

/** Runs the built CLI (`npm test` builds first) as a child process, its stdout appended to `logFile`. */
export function runCli(args: string[], logFile: string, env: NodeJS.ProcessEnv = {}): DaemonProcess {
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...env },
  });
  fs.closeSync(fd);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      if (child.pid !== undefined) liveChildren().delete(child.pid);
      resolve({ code, signal });
    }),
  );
  if (child.pid !== undefined && child.exitCode === null) liveChildren().set(child.pid, { child, exited });
  return { child, exited, logFile };
}

export interface LogLine {
  event?: string;
  level?: string;
  msg?: string;
  [k: string]: unknown;
}

/** Runs a CLI command that exits by itself, to its end: its exit code, stdout and stderr apart. */
export async function cliToEnd(
  args: string[],
  opts: ExecFileOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [CLI, ...args], { encoding: 'utf8', ...opts }).then(
    (r) => ({ code: 0, stdout: String(r.stdout), stderr: String(r.stderr) }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );
}

export function readLog(logFile: string): LogLine[] {
  if (!fs.existsSync(logFile)) return [];
  return fs
    .readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        return {};
      }
    });
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function waitForEvent(logFile: string, event: string, from = 0, timeoutMs = 30_000): Promise<LogLine> {
  return waitFor(
    `log event ${event}`,
    () =>
      readLog(logFile)
        .slice(from)
        .find((l) => l.event === event),
    timeoutMs,
  );
}

/**
 * Writes `<dir>/fatturad.yaml` for a test daemon: state in `<dir>/var`, JSON logs, a free health
 * port, one drop folder, validation off unless asked for, the given intake settings, and no
 * channel to SdI unless `extra` gives the rest of the configuration.
 */
export function writeDaemonConfig(
  dir: string,
  outbox: string,
  opts: { validation?: boolean; intake?: Record<string, number>; extra?: string[] } = {},
): string {
  fs.mkdirSync(dir, { recursive: true });
  const cfg = path.join(dir, 'fatturad.yaml');
  fs.writeFileSync(
    cfg,
    [
      `dataDir: ${dir}/var`,
      'log: { level: info, format: json }',
      'http: { port: 0 }',
      ...(opts.validation ? [] : ['validation: { enabled: false }']),
      'intake:',
      `  folders: [{ path: ${outbox} }]`,
      ...Object.entries(opts.intake ?? {}).map(([k, v]) => `  ${k}: ${v}`),
      // No channel unless the test gives one: these daemons only take files in.
      ...(opts.extra ?? ['channel: { type: none }']),
    ].join('\n'),
  );
  return cfg;
}

/**
 * Writes `<dir>/fatturad.yaml` for a test daemon that talks SDICoop to a simulator outside it (one
 * the test starts on `simPort`): state in `<dir>/var`, JSON logs, a free health port, one drop
 * folder, the client certificate from the simulator's PKI (or `client`), SdI's calls taken on
 * `daemonPort`, received invoices imported into `importDir` (`<dir>/inbox` unless given).
 * `archive: false` turns the archive off; `intake`, `sending` and `sdicoop` add their settings
 * under those keys; `extra` adds whole top-level lines (validation...).
 */
export function writeExternalSdicoopConfig(
  dir: string,
  outbox: string,
  opts: {
    pki: SimPki;
    simPort: number;
    daemonPort: number;
    client?: { cert: string; key: string };
    importDir?: string;
    archive?: boolean;
    intake?: Record<string, number>;
    sending?: Record<string, string | number | boolean>;
    sdicoop?: Record<string, string | number | boolean>;
    extra?: string[];
  },
): string {
  fs.mkdirSync(dir, { recursive: true });
  const cfg = path.join(dir, 'fatturad.yaml');
  const client = opts.client ?? opts.pki.trasmittente;
  const settings = (indent: string, entries: Record<string, unknown> = {}): string[] =>
    Object.entries(entries).map(([k, v]) => `${indent}${k}: ${String(v)}`);
  fs.writeFileSync(
    cfg,
    [
      `dataDir: ${dir}/var`,
      'log: { level: info, format: json }',
      'http: { port: 0 }',
      ...(opts.archive === false ? ['archive: { enabled: false }'] : []),
      'intake:',
      `  folders: [{ path: ${outbox} }]`,
      ...settings('  ', opts.intake),
      ...(opts.extra ?? []),
      ...(opts.sending ? ['sending:', ...settings('  ', opts.sending)] : []),
      'channel:',
      '  type: sdicoop',
      '  sdicoop:',
      '    simulator: false',
      `    endpoint: https://127.0.0.1:${opts.simPort}/SdIRiceviFile`,
      `    clientCert: ${client.cert}`,
      `    clientKey: ${client.key}`,
      `    sdiCAs: [${opts.pki.caCert}]`,
      `    listen: { host: 127.0.0.1, port: ${opts.daemonPort} }`,
      ...settings('    ', opts.sdicoop),
      `passive: { importDir: ${opts.importDir ?? `${dir}/inbox`} }`,
    ].join('\n'),
  );
  return cfg;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A small deterministic PRNG (mulberry32), so a failing run can be repeated from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
