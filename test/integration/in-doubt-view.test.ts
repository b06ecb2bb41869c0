import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureSimPki, type SimPki } from '../../src/sim/certs.js';
import type { SdiSimulator } from '../../src/sim/simulator.js';
import {
  CLI,
  readLog,
  runCli,
  waitFor,
  waitForEvent,
  writeExternalSdicoopConfig,
  type DaemonProcess,
} from '../helpers/daemon.js';
import { freePort } from '../helpers/ports.js';
import { startSdiSimulator } from '../helpers/sdi-sim.js';
import { EX, exampleText } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * A send in doubt, as an office sees it: the real daemon sends an invoice over SDICoop to the SdI
 * simulator, which takes the file and does not answer (scenario slow) nor send its RC within the test; the daemon is killed during
 * the call and started again, so the send is held in doubt, never sent again on its own.
 * `fatturad status` shows it on its own line with the command to run (and --json the same),
 * `fatturad show` says it too; after `fatturad resend`, `show` has who (the OS user, the host)
 * and when in the document's timeline, status no longer lists it, and the daemon sends it again.
 * Every command runs as a new process and must not print a stack trace.
 */
const run = promisify(execFile);
vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });
const FPR12 = exampleText(EX.b2b);
const STACK = /\n\s+at .+[(\s].*:\d+:\d+\)?/;

const t = tempDir('fatturad-in-doubt-view-');
let pki: SimPki;

describe('a send in doubt: status says what to do, resend is recorded', () => {
  let sim: SdiSimulator;
  let daemon: DaemonProcess | null = null;
  let cfg = '';
  let outbox = '';
  let logFile = '';
  let received = 0;

  async function cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    let r: { stdout: string; stderr: string; code: number };
    try {
      r = { ...(await run(process.execPath, [CLI, ...args, '--config', cfg])), code: 0 };
    } catch (err) {
      const e = err as { stdout: string; stderr: string; code: number };
      r = { stdout: e.stdout, stderr: e.stderr, code: e.code };
    }
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stdout).not.toMatch(STACK);
    return r;
  }

  async function start(): Promise<DaemonProcess> {
    const from = readLog(logFile).length;
    const d = runCli(['start', '--config', cfg], logFile);
    await waitForEvent(logFile, 'daemon.ready', from, 90_000);
    return d;
  }

  beforeAll(async () => {
    pki = await ensureSimPki(path.join(t.dir, 'pki'));
    const dir = path.join(t.dir, 'd');
    outbox = path.join(dir, 'outbox');
    fs.mkdirSync(outbox, { recursive: true });
    const daemonPort = await freePort();
    const simPort = await freePort();
    cfg = writeExternalSdicoopConfig(dir, outbox, {
      pki,
      simPort,
      daemonPort,
      archive: false,
      intake: { stableMs: 0 },
      sending: { pollMs: 100, retry: '{ initialMs: 100, maxMs: 400, maxAttempts: 0 }' },
      sdicoop: { timeoutMs: 600000 },
    });
    sim = await startSdiSimulator(
      pki,
      { simPort, daemonPort },
      { options: { slowAnswerMs: 600_000, delayMs: 600_000 }, onReceive: () => received++ },
    );
    logFile = path.join(dir, 'daemon.log');
  });

  afterAll(async () => {
    if (daemon) {
      daemon.child.kill('SIGKILL');
      await daemon.exited;
    }
    await sim?.close();
    t.cleanup();
  });

  it('status and show after an in-doubt send, then resend with who and when', async () => {
    // Nothing in doubt yet: no line.
    daemon = await start();
    const empty = await cli(['status', '--json']);
    expect((JSON.parse(empty.stdout) as { inDoubt: unknown }).inDoubt).toEqual({
      count: 0,
      oldest: null,
      documents: [],
    });

    // SdI takes the file and does not answer; the daemon dies during the call.
    const xml = FPR12.replace(/<Numero>[^<]*<\/Numero>/, '<Numero>DOUBT-1</Numero>').replace(
      '</FatturaElettronicaHeader>',
      '</FatturaElettronicaHeader><!-- fatturad-sim:slow -->',
    );
    fs.writeFileSync(path.join(outbox, '.doubt.tmp'), xml);
    fs.renameSync(path.join(outbox, '.doubt.tmp'), path.join(outbox, 'fattura-dubbia.xml'));
    await waitFor('SdI to have the file', () => received === 1, 90_000);
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    daemon = null;

    // Started again: held in doubt, not sent again on its own.
    const from = readLog(logFile).length;
    daemon = await start();
    const held = await waitForEvent(logFile, 'send.in_doubt', from, 60_000);
    const id = Number(held.documentId);
    daemon.child.kill('SIGTERM');
    await daemon.exited;
    daemon = null;
    expect(received).toBe(1);

    const status = await cli(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/In doubt: 1 send\(s\), the oldest since \d{4}-\d\d-\d\dT/);
    expect(status.stdout).toContain(`#${id} fattura-dubbia.xml as `);
    expect(status.stdout).toContain(`fatturad resend ${id}`);
    const json = JSON.parse((await cli(['status', '--json'])).stdout) as {
      inDoubt: { count: number; oldest: string; documents: { documentId: number; command: string }[] };
    };
    expect(json.inDoubt.count).toBe(1);
    expect(json.inDoubt.oldest).toMatch(/^\d{4}-/);
    expect(json.inDoubt.documents).toMatchObject([{ documentId: id, command: `fatturad resend ${id}` }]);

    const shown = await cli(['show', String(id)]);
    expect(shown.stdout).toContain(
      `in doubt: SdI may or may not have it; check with SdI, then: fatturad resend ${id}`,
    );
    expect((JSON.parse((await cli(['show', String(id), '--json'])).stdout) as unknown[])[0]).toMatchObject({
      inDoubt: { command: `fatturad resend ${id}` },
      actions: [],
    });

    // The operator resends: recorded with who, where and when.
    const resend = await cli(['resend', String(id)]);
    expect(resend.code).toBe(0);
    const user = os.userInfo().username;
    const host = os.hostname();
    expect(resend.stdout).toContain(`resend by ${user} on ${host}`);
    const after = await cli(['show', String(id)]);
    expect(after.stdout).toMatch(
      new RegExp(`\\n  \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z  resend by ${user} on ${host.replace(/\./g, '\\.')}`),
    );
    expect(after.stdout).not.toContain('in doubt: SdI may or may not have it');
    const [doc] = JSON.parse((await cli(['show', String(id), '--json'])).stdout) as {
      actions: { action: string; actor: string; host: string; at: string }[];
      inDoubt?: unknown;
    }[];
    expect(doc?.actions).toMatchObject([{ action: 'resend', actor: user, host }]);
    expect(doc?.actions[0]?.at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(doc?.inDoubt).toBeUndefined();
    const cleared = JSON.parse((await cli(['status', '--json'])).stdout) as { inDoubt: { count: number } };
    expect(cleared.inDoubt.count).toBe(0);
    expect((await cli(['status'])).stdout).not.toContain('In doubt');

    // And the daemon does send it again.
    daemon = await start();
    await waitFor('the resend at SdI', () => received === 2, 90_000);
  });
});
