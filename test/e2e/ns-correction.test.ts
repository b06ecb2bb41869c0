import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CLI,
  readLog,
  runCli,
  waitForEvent,
  writeDaemonConfig,
  type DaemonProcess,
} from '../helpers/daemon.js';
import { EX, example } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * After SdI's NS the office must act within five days: the NS report beside the rejected file and
 * `fatturad show` carry the IdentificativoSdI and the five-day rule for the corrected invoice (same
 * number and date), in English and Italian. The real daemon with the built-in simulator
 * (scenario reject).
 */
const run = promisify(execFile);
const READY_MS = 90_000;
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });
const t = tempDir('fatturad-ns-correction-');
const dir = t.dir;
const outbox = path.join(dir, 'outbox');
const logFile = path.join(dir, 'daemon.log');
const cfg = path.join(dir, 'fatturad.yaml');
let daemon: DaemonProcess | null = null;
let idSdI = '';

const cli = (...args: string[]) =>
  run(process.execPath, [CLI, ...args, '--config', cfg]).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

function findFiles(root: string, suffix: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(root, { withFileTypes: true, recursive: true }))
    if (e.isFile() && e.name.endsWith(suffix)) out.push(path.join(e.parentPath, e.name));
  return out;
}

beforeAll(async () => {
  fs.mkdirSync(outbox, { recursive: true });
  writeDaemonConfig(dir, outbox, {
    validation: true,
    intake: { stableMs: 0 },
    extra: [
      'sending: { pollMs: 200, retry: { initialMs: 200, maxMs: 800, maxAttempts: 0 } }',
      'archive: { enabled: false }',
      'simulator: { scenario: reject, delayMs: 0 }',
      `passive: { importDir: ${dir}/inbox }`,
    ],
  });
  daemon = runCli(['start', '--config', cfg], logFile);
  await waitForEvent(logFile, 'daemon.ready', 0, READY_MS);
  fs.writeFileSync(path.join(outbox, 'ns.xml'), example(EX.b2b));
  await waitForEvent(logFile, 'invoice.rejected');
  const id = readLog(logFile).find((l) => l.event === 'invoice.rejected')?.identificativoSdI;
  idSdI = typeof id === 'string' ? id : '';
});

afterAll(async () => {
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
  }
  t.cleanup();
});

describe('the five-day rule after an NS', () => {
  it('the NS report (.errors.txt and .errors.json) carries the IdentificativoSdI and the rule', () => {
    expect(idSdI).toMatch(/^\d+$/);
    const [txt] = findFiles(dir, 'ns.xml.errors.txt');
    expect(txt).toBeDefined();
    const text = fs.readFileSync(txt!, 'utf8');
    expect(text).toContain(`IdentificativoSdI: ${idSdI}`);
    expect(text).toMatch(/Correct by \/ correggere entro: \d{4}-\d{2}-\d{2}/);
    expect(text).toContain('the invoice is deemed not issued');
    expect(text).toMatch(
      /within five days of the NS \(by \d{4}-\d{2}-\d{2}\), preferably with the same number and date/,
    );
    expect(text).toContain('la fattura si considera non emessa');
    expect(text).toMatch(/entro cinque giorni dalla notifica di scarto/);
    const json = JSON.parse(fs.readFileSync(txt!.replace(/\.txt$/, '.json'), 'utf8')) as {
      stage: string;
      ns: { identificativoSdI: string; correctBy: string; en: string; it: string };
    };
    expect(json.stage).toBe('sdi');
    expect(json.ns.identificativoSdI).toBe(idSdI);
    expect(json.ns.correctBy).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('show and show --json carry them too', async () => {
    const text = await cli('show', 'ns.xml');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`IdentificativoSdI ${idSdI}`);
    expect(text.stdout).toMatch(
      /EN: SdI rejected this file \(NS, IdentificativoSdI \d+\): the invoice is deemed not issued/,
    );
    expect(text.stdout).toMatch(/IT: Lo SdI ha scartato questo file/);
    const [doc] = JSON.parse((await cli('show', '--json', 'ns.xml')).stdout) as {
      nsCorrection: { identificativoSdI: string; correctBy: string } | null;
    }[];
    expect(doc?.nsCorrection?.identificativoSdI).toBe(idSdI);
  });
});
