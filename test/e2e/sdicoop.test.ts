import { execFile } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNotification } from '../../src/notifications/build.js';
import { createStandaloneCa, ensureSimPki, type SimPki } from '../../src/sim/certs.js';
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
import { TestPki } from '../helpers/pki.js';
import { freePort } from '../helpers/ports.js';
import { startSdiSimulator } from '../helpers/sdi-sim.js';
import { EX, exampleText } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * End to end over SDICoop: the real daemon process, and the SdI simulator in this process, talking
 * SOAP over HTTPS with mutual TLS on loopback.
 */
const run = promisify(execFile);
const FPR12 = exampleText(EX.b2b);
const FPA12 = exampleText(EX.pa);

const t = tempDir('fatturad-e2e-sdicoop-');
let pki: SimPki;
let signer: TestPki;
let signerCert: { cert: string; key: string };

beforeAll(async () => {
  pki = await ensureSimPki(path.join(t.dir, 'pki'));
  signer = new TestPki(path.join(t.dir, 'sign-ca'), 'Signature CA');
  signerCert = signer.issue('Mario Rossi');
});
afterAll(() => t.cleanup());

let seq = 0;
/** A B2B invoice with its own number; `marker` picks the simulator's scenario for this file. */
function b2b(marker = ''): Buffer {
  seq++;
  return Buffer.from(
    FPR12.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>E2E-${seq}</Numero>`).replace(
      '</FatturaElettronicaHeader>',
      `</FatturaElettronicaHeader>${marker ? `<!-- fatturad-sim:${marker} -->` : ''}`,
    ),
  );
}
/** A PA invoice (FPA12), signed CAdES as SdI requires. */
function pa(marker: string): Buffer {
  seq++;
  const xml = Buffer.from(
    FPA12.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>PA-${seq}</Numero>`).replace(
      '</FatturaElettronicaHeader>',
      `</FatturaElettronicaHeader><!-- fatturad-sim:${marker} -->`,
    ),
  );
  return signer.sign(xml, signerCert);
}

interface Setup {
  dir: string;
  outbox: string;
  inbox: string;
  cfg: string;
  logFile: string;
  daemonPort: number;
  simPort: number;
}

function configure(
  name: string,
  opts: { client?: { cert: string; key: string }; timeoutMs?: number; mtom?: boolean } = {},
): Promise<Setup> {
  return (async () => {
    const dir = path.join(t.dir, name);
    const outbox = path.join(dir, 'outbox');
    const inbox = path.join(dir, 'inbox');
    fs.mkdirSync(outbox, { recursive: true });
    const daemonPort = await freePort();
    const simPort = await freePort();
    const cfg = writeExternalSdicoopConfig(dir, outbox, {
      pki,
      simPort,
      daemonPort,
      client: opts.client,
      importDir: inbox,
      intake: { stableMs: 0 },
      sending: { pollMs: 200, retry: '{ initialMs: 200, maxMs: 800, maxAttempts: 0 }' },
      sdicoop: { timeoutMs: opts.timeoutMs ?? 10000, mtom: opts.mtom ?? false },
    });
    return { dir, outbox, inbox, cfg, logFile: path.join(dir, 'daemon.log'), daemonPort, simPort };
  })();
}

function startSim(s: Setup, delayMs = 0): Promise<SdiSimulator> {
  return startSdiSimulator(pki, s, { options: { slowAnswerMs: 3000, delayMs } });
}

async function startDaemon(s: Setup): Promise<DaemonProcess> {
  const from = readLog(s.logFile).length;
  const d = runCli(['start', '--config', s.cfg], s.logFile);
  await waitForEvent(s.logFile, 'daemon.ready', from);
  return d;
}

async function stop(d: DaemonProcess): Promise<void> {
  d.child.kill('SIGTERM');
  await d.exited;
}

/** Waits for the log line saying `file` reached `event` (invoice.delivered, invoice.rejected...). */
function fate(s: Setup, file: string, event: string, timeoutMs = 30_000) {
  return waitFor(
    `${event} for ${file}`,
    () => readLog(s.logFile).find((l) => l.event === event && l.file === file),
    timeoutMs,
  );
}

async function show(
  s: Setup,
  file: string,
): Promise<{ state: string; sdi: { sdiName: string; identificativoSdI: string } }> {
  const r = await run(process.execPath, [CLI, 'show', '--json', '--config', s.cfg, file]);
  return (
    JSON.parse(r.stdout) as { state: string; sdi: { sdiName: string; identificativoSdI: string } }[]
  )[0] as never;
}

describe('SDICoop end to end', () => {
  let s: Setup;
  let sim: SdiSimulator;
  let daemon: DaemonProcess;
  beforeAll(async () => {
    s = await configure('main');
    sim = await startSim(s);
    daemon = await startDaemon(s);
  });
  afterAll(async () => {
    await stop(daemon);
    await sim.close();
  });

  it('a valid B2B invoice ends delivered (RC), with its IdentificativoSdI', async () => {
    fs.writeFileSync(path.join(s.outbox, 'fattura-b2b.xml'), b2b());
    await fate(s, 'fattura-b2b.xml', 'invoice.delivered');
    const d = await show(s, 'fattura-b2b.xml');
    expect(d.state).toBe('delivered');
    expect(d.sdi.sdiName).toMatch(/^IT12345670017_[0-9A-Z]{5}\.xml$/);
    expect(d.sdi.identificativoSdI).toMatch(/^\d+$/);
  });

  it('a forced NS ends rejected, with SdI error list in rejected/', async () => {
    fs.writeFileSync(path.join(s.outbox, 'fattura-ns.xml'), b2b('reject:00311'));
    await fate(s, 'fattura-ns.xml', 'invoice.rejected');
    expect((await show(s, 'fattura-ns.xml')).state).toBe('rejected');
    const dir = path.join(s.dir, 'var', 'rejected');
    const report =
      fs.readdirSync(dir).find((f) => f.startsWith('fattura-ns') && f.endsWith('.errors.txt')) ?? '';
    const text = fs.readFileSync(path.join(dir, report), 'utf8');
    expect(text).toMatch(/\[00311\]/);
    expect(text).toMatch(/Stage:\s+sdi/);
  });

  it.each([
    ['accept', 'invoice.accepted', 'accepted'],
    ['refuse', 'invoice.refused', 'refused'],
    ['expire', 'invoice.expired', 'expired'],
    ['mc-at', 'invoice.attested', 'attested'],
  ])('PA scenario %s ends %s', async (marker, event, state) => {
    const name = `fattura-pa-${marker}.xml.p7m`;
    fs.writeFileSync(path.join(s.outbox, name), pa(marker));
    await fate(s, name, event);
    expect((await show(s, name)).state).toBe(state);
  });

  it('B2B MC is final: available in the buyer reserved area', async () => {
    fs.writeFileSync(path.join(s.outbox, 'fattura-mc.xml'), b2b('mc-rc'));
    await fate(s, 'fattura-mc.xml', 'invoice.available');
  });

  it('EI02 (service unavailable) is retried, then the file is taken', async () => {
    fs.writeFileSync(path.join(s.outbox, 'fattura-ei02.xml'), b2b('unavailable'));
    await fate(s, 'fattura-ei02.xml', 'invoice.delivered');
    const retry = readLog(s.logFile).find((l) => l.event === 'send.retry' && l.code === 'EI02');
    expect(retry).toBeTruthy();
    const name = (await show(s, 'fattura-ei02.xml')).sdi.sdiName;
    expect(sim.engine.calls.get(name)).toBe(2);
  });

  it('a passive invoice lands in the import folder with its MT', async () => {
    const id = await sim.deliverPassive('IT09876543210_00042.xml', b2b());
    await waitFor('passive invoice', () => fs.existsSync(path.join(s.inbox, 'IT09876543210_00042.xml')));
    expect(fs.existsSync(path.join(s.inbox, 'IT09876543210_00042_MT_001.xml'))).toBe(true);
    const ev = readLog(s.logFile).find((l) => l.event === 'passive.received');
    expect(ev?.identificativoSdI).toBe(id);
  });

  it('a notification for an unknown file is kept and logged, never dropped', async () => {
    sim.notify({
      kind: 'RC',
      operation: 'RicevutaConsegna',
      identificativoSdI: '999999999',
      fileName: 'IT99999999999_00001_RC_001.xml',
      bytes: buildNotification({
        kind: 'RC',
        family: 'b2b',
        identificativoSdI: '999999999',
        nomeFile: 'IT99999999999_00001.xml',
        destinatario: { codice: 'ABC1234' },
        hash: 'a'.repeat(64),
      }),
    });
    const ev = await waitForEvent(s.logFile, 'notification.unmatched');
    expect(ev.identificativoSdI).toBe('999999999');
    expect(fs.existsSync(String(ev.kept))).toBe(true);
  });

  it('a caller with a certificate from another CA is refused by the daemon', async () => {
    const other = await createStandaloneCa(path.join(t.dir, 'rogue'), 'Rogue CA');
    const attempt = new Promise<number>((resolve, reject) => {
      const req = https.request(
        `https://127.0.0.1:${s.daemonPort}/TrasmissioneFatture`,
        {
          method: 'POST',
          cert: fs.readFileSync(other.client.cert),
          key: fs.readFileSync(other.client.key),
          ca: [fs.readFileSync(pki.caCert)],
          agent: false,
        },
        (res) => resolve(res.statusCode ?? 0),
      );
      req.on('error', reject);
      req.end('<x/>');
    });
    await expect(attempt).rejects.toThrow();
  });
});

describe('SDICoop faults', () => {
  it('simulator down: retried, then delivered when it is back', async () => {
    const s = await configure('down');
    const daemon = await startDaemon(s);
    try {
      fs.writeFileSync(path.join(s.outbox, 'late.xml'), b2b());
      await waitFor(
        'two failed attempts',
        () => readLog(s.logFile).filter((l) => l.event === 'send.retry').length >= 2,
      );
      const sim = await startSim(s);
      try {
        await fate(s, 'late.xml', 'invoice.delivered');
      } finally {
        await sim.close();
      }
    } finally {
      await stop(daemon);
    }
  });

  it('killed between send and receipt: after restart no second RiceviFile, and the receipt lands', async () => {
    const s = await configure('kill');
    const sim = await startSim(s, 2500);
    let daemon = await startDaemon(s);
    try {
      fs.writeFileSync(path.join(s.outbox, 'killed.xml'), b2b());
      const accepted = await waitForEvent(s.logFile, 'send.accepted');
      daemon.child.kill('SIGKILL');
      await daemon.exited;
      daemon = await startDaemon(s);
      await fate(s, 'killed.xml', 'invoice.delivered');
      expect(sim.engine.calls.get(String(accepted.sdiName))).toBe(1);
    } finally {
      await stop(daemon);
      await sim.close();
    }
  });

  it('no answer after the file left (timeout): retried under the same name; the NS 00002 about the copy changes nothing', async () => {
    const s = await configure('slow', { timeoutMs: 1000 });
    // SdI's answers come late enough for the retry to reach it first.
    const sim = await startSim(s, 2500);
    const daemon = await startDaemon(s);
    try {
      fs.writeFileSync(path.join(s.outbox, 'slow.xml'), b2b('slow'));
      await fate(s, 'slow.xml', 'invoice.delivered');
      const d = await show(s, 'slow.xml');
      await waitFor('the NS 00002 about the second copy', () =>
        readLog(s.logFile).find((l) => l.event === 'notification.no_change' && l.kind === 'NS'),
      );
      expect(sim.engine.calls.get(d.sdi.sdiName)).toBeGreaterThanOrEqual(2);
      expect((await show(s, 'slow.xml')).state).toBe('delivered');
    } finally {
      await stop(daemon);
      await sim.close();
    }
  });

  it('MTOM: the file travels as an XOP attachment and is taken', async () => {
    const s = await configure('mtom', { mtom: true });
    const sim = await startSim(s);
    const daemon = await startDaemon(s);
    try {
      fs.writeFileSync(path.join(s.outbox, 'mtom.xml'), b2b());
      await fate(s, 'mtom.xml', 'invoice.delivered');
    } finally {
      await stop(daemon);
      await sim.close();
    }
  });

  it('a daemon whose client certificate SdI does not trust is refused, and retries', async () => {
    const other = await createStandaloneCa(path.join(t.dir, 'rogue2'), 'Rogue CA 2');
    const s = await configure('wrongcert', { client: other.client });
    const sim = await startSim(s);
    const daemon = await startDaemon(s);
    try {
      fs.writeFileSync(path.join(s.outbox, 'wrongcert.xml'), b2b());
      const ev = await waitForEvent(s.logFile, 'send.retry');
      expect(String(ev.reason)).toMatch(/cannot reach SdI/);
      expect(sim.engine.calls.size).toBe(0);
    } finally {
      await stop(daemon);
      await sim.close();
    }
  });
});
