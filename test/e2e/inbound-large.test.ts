import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSimPki, type SimPki } from '../../src/sim/certs.js';
import type { SdiSimulator } from '../../src/sim/simulator.js';
import { bigInvoice } from '../helpers/big-invoice.js';
import {
  readLog,
  runCli,
  waitFor,
  waitForEvent,
  writeExternalSdicoopConfig,
  type DaemonProcess,
} from '../helpers/daemon.js';
import { freePort } from '../helpers/ports.js';
import { startSdiSimulator } from '../helpers/sdi-sim.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The real daemon receives, through the SdI simulator (SOAP over HTTPS with mutual TLS), a 5 MB
 * invoice written on one line that declares the `xml` prefix: the kind of file that took the
 * old reader minutes, on the daemon's main thread, while /healthz waited. Now it is read on a
 * worker; /healthz is asked again and again, one request after the other, while the invoice is
 * received, and answers many times before the invoice reaches the import folder (counted, not
 * timed).
 */
const t = tempDir('fatturad-e2e-inbound-large-');
let pki: SimPki;

beforeAll(async () => {
  pki = await ensureSimPki(path.join(t.dir, 'pki'));
});
afterAll(() => t.cleanup());

function healthz(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

describe('a large received invoice does not stall the daemon', () => {
  let daemon: DaemonProcess;
  let sim: SdiSimulator;
  let httpPort = 0;
  let inbox = '';
  let logFile = '';

  beforeAll(async () => {
    const dir = path.join(t.dir, 'd');
    inbox = path.join(dir, 'inbox');
    fs.mkdirSync(path.join(dir, 'outbox'), { recursive: true });
    const daemonPort = await freePort();
    const simPort = await freePort();
    const cfg = writeExternalSdicoopConfig(dir, `${dir}/outbox`, {
      pki,
      simPort,
      daemonPort,
      importDir: inbox,
    });
    sim = await startSdiSimulator(pki, { simPort, daemonPort });
    logFile = path.join(dir, 'daemon.log');
    daemon = runCli(['start', '--config', cfg], logFile);
    const ready = await waitForEvent(logFile, 'daemon.ready');
    httpPort = Number(ready.http);
  });
  afterAll(async () => {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
    await sim.close();
  });

  it('/healthz keeps answering while a 5 MB one-line invoice is received, validated and delivered', async () => {
    const name = 'IT09876543210_00077.xml';
    const bytes = Buffer.from(bigInvoice(5 * 1024 * 1024 - 10_000, { oneLine: true, xmlnsXml: true }));
    expect(bytes.includes(Buffer.from('\n'))).toBe(false);
    const arrived = (): boolean => fs.existsSync(path.join(inbox, name));
    expect((await healthz(httpPort)) > 0).toBe(true);

    const delivering = sim.deliverPassive(name, bytes);
    let answers = 0;
    while (!arrived()) {
      // One request after the other: each answer needs the daemon's event loop.
      const status = await healthz(httpPort);
      expect(status).toBeGreaterThan(0);
      answers++;
      if (answers > 1_000_000) throw new Error('the invoice never arrived');
    }
    await delivering;
    const received = await waitFor('passive.received', () =>
      readLog(logFile).find((l) => l.event === 'passive.received' && l.file === name),
    );
    expect(received.valid).toBe(true);
    expect(fs.readFileSync(path.join(inbox, name)).equals(bytes)).toBe(true);
    // Reading, validating and delivering 5 MB takes the worker hundreds of milliseconds: the
    // health endpoint answered all along (when the main thread parsed, it answered none, for
    // minutes).
    console.log(`/healthz answered ${answers} times while the invoice was received`);
    expect(answers).toBeGreaterThanOrEqual(20);
  });
});
