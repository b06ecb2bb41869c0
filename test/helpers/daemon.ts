import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = path.join(ROOT, 'dist', 'cli.js');

export interface DaemonProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  logFile: string;
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
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, logFile };
}

export interface LogLine {
  event?: string;
  level?: string;
  msg?: string;
  [k: string]: unknown;
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
