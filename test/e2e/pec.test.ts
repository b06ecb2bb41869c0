import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSimPki, type SimPki } from '../../src/sim/certs.js';
import { PecSimulator, type PecFault } from '../../src/sim/pec.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { CLI, readLog, runCli, waitFor, waitForEvent, type DaemonProcess } from '../helpers/daemon.js';
import { hostileMailbox } from '../helpers/pec-hostile.js';
import { EX, exampleText } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * End to end over PEC: the real daemon process sends by SMTP to the PEC simulator (in this
 * process: the sender's PEC provider and SdI), which puts receipts and SdI's answers, in real PEC
 * envelopes, into the daemon's mailbox on a real Dovecot by IMAP APPEND; the daemon reads them
 * with IMAP.
 */
const run = promisify(execFile);
const FPR12 = exampleText(EX.b2b);

const t = tempDir('fatturad-e2e-pec-');
let pki: SimPki;
const quiet = pino({ level: 'silent' });
const ADDRESS = 'fatture@pec.example.it';

beforeAll(async () => {
  // Dovecot reaches the mailboxes under here as an unprivileged user.
  fs.chmodSync(t.dir, 0o755);
  pki = await ensureSimPki(path.join(t.dir, 'pki'));
});
afterAll(() => t.cleanup());

let seq = 0;
function b2b(marker = ''): Buffer {
  seq++;
  return Buffer.from(
    FPR12.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>PEC-${seq}</Numero>`).replace(
      '</FatturaElettronicaHeader>',
      `</FatturaElettronicaHeader>${marker ? `<!-- fatturad-sim:${marker} -->` : ''}`,
    ),
  );
}

interface Setup {
  dir: string;
  outbox: string;
  inbox: string;
  cfg: string;
  logFile: string;
  dovecot: Dovecot;
  sim: PecSimulator;
}

async function setup(
  name: string,
  opts: {
    fault?: (n: number, file: string) => PecFault | null;
    maxAttempts?: number;
    smtpTimeoutMs?: number;
    limits?: string;
    delayMs?: number;
  } = {},
): Promise<Setup> {
  const dir = path.join(t.dir, name);
  const outbox = path.join(dir, 'outbox');
  const inbox = path.join(dir, 'inbox');
  fs.mkdirSync(outbox, { recursive: true });
  fs.chmodSync(dir, 0o755);
  const dovecot = await startDovecot(path.join(dir, 'dovecot'));
  const sim = new PecSimulator({
    tls: { cert: fs.readFileSync(pki.sdi.cert), key: fs.readFileSync(pki.sdi.key) },
    scenario: 'deliver',
    delayMs: opts.delayMs ?? 0,
    sdiMailbox: 'sdi07@pec.fatturapa.it',
    imap: {
      host: '127.0.0.1',
      port: dovecot.port,
      secure: false,
      user: dovecot.user,
      pass: dovecot.pass,
      mailbox: 'INBOX',
    },
    ...(opts.fault ? { fault: opts.fault } : {}),
    log: quiet,
  });
  const { port } = await sim.listen('127.0.0.1', 0);
  const cfg = path.join(dir, 'fatturad.yaml');
  fs.writeFileSync(
    cfg,
    [
      `dataDir: ${dir}/var`,
      'log: { level: info, format: json }',
      'http: { port: 0 }',
      'intake:',
      `  folders: [{ path: ${outbox} }]`,
      '  stableMs: 0',
      'sending:',
      '  pollMs: 200',
      `  retry: { initialMs: 200, maxMs: 800, maxAttempts: ${opts.maxAttempts ?? 0} }`,
      'channel:',
      '  type: pec',
      '  pec:',
      `    address: ${ADDRESS}`,
      '    smtp:',
      '      host: 127.0.0.1',
      `      port: ${port}`,
      '      secure: true',
      `      ca: [${pki.caCert}]`,
      `      timeoutMs: ${opts.smtpTimeoutMs ?? 10000}`,
      '    imap:',
      '      host: 127.0.0.1',
      `      port: ${dovecot.port}`,
      '      secure: false',
      `      user: ${dovecot.user}`,
      '      pollMs: 1000',
      '      reconnect: { initialMs: 100, maxMs: 1000 }',
      ...(opts.limits ? [`    limits: ${opts.limits}`] : []),
      `passive: { importDir: ${inbox} }`,
    ].join('\n'),
  );
  return { dir, outbox, inbox, cfg, logFile: path.join(dir, 'daemon.log'), dovecot, sim };
}

async function startDaemon(s: Setup): Promise<DaemonProcess> {
  const from = readLog(s.logFile).length;
  const d = runCli(['start', '--config', s.cfg], s.logFile, { FATTURAD_PEC_PASSWORD: s.dovecot.pass });
  await waitForEvent(s.logFile, 'daemon.ready', from);
  return d;
}

async function stopDaemon(d: DaemonProcess): Promise<void> {
  d.child.kill('SIGTERM');
  await d.exited;
}

async function teardown(s: Setup, d?: DaemonProcess): Promise<void> {
  if (d && d.child.exitCode === null && d.child.signalCode === null) await stopDaemon(d);
  await s.sim.close();
  await s.dovecot.stop({ immediate: true });
}

function fate(s: Setup, file: string, event: string, timeoutMs = 30_000) {
  return waitFor(
    `${event} for ${file}`,
    () => readLog(s.logFile).find((l) => l.event === event && l.file === file),
    timeoutMs,
  );
}

interface Shown {
  state: string;
  sdi: { sdiName: string; identificativoSdI: string | null; attempts: number; lastError: string | null };
  notifications: { kind: string }[];
  transportReceipts: { type: string; outcome: string; effect: string }[];
}

async function show(s: Setup, file: string): Promise<Shown> {
  const r = await run(process.execPath, [CLI, 'show', '--json', '--config', s.cfg, file]);
  return (JSON.parse(r.stdout) as Shown[])[0] as Shown;
}

/** Every message in the mailbox with its flags. */
async function mailbox(s: Setup): Promise<{ uid: number; flags: string[]; subject: string }[]> {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: s.dovecot.port,
    secure: false,
    auth: { user: s.dovecot.user, pass: s.dovecot.pass },
    logger: false,
  });
  await c.connect();
  const out: { uid: number; flags: string[]; subject: string }[] = [];
  const lock = await c.getMailboxLock('INBOX');
  try {
    for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true }))
      out.push({ uid: m.uid, flags: [...(m.flags ?? [])], subject: m.envelope?.subject ?? '' });
  } catch {
    // an empty mailbox
  } finally {
    lock.release();
    await c.logout();
  }
  return out;
}

describe('PEC end to end', () => {
  let s: Setup;
  let daemon: DaemonProcess;
  beforeAll(async () => {
    s = await setup('main');
    daemon = await startDaemon(s);
  });
  afterAll(async () => teardown(s, daemon));

  it('invoice -> RC: delivered; the provider receipts are recorded; SdI address learnt and used next', async () => {
    fs.writeFileSync(path.join(s.outbox, 'first.xml'), b2b());
    await fate(s, 'first.xml', 'invoice.delivered');
    const d = await show(s, 'first.xml');
    expect(d.state).toBe('delivered');
    expect(d.sdi.identificativoSdI).toMatch(/^\d+$/);
    await waitFor('both receipts', async () => (await show(s, 'first.xml')).transportReceipts.length === 2);
    const receipts = (await show(s, 'first.xml')).transportReceipts;
    expect(receipts.map((r) => r.type).sort()).toEqual(['accettazione', 'avvenuta-consegna']);
    expect(s.sim.sends[0]?.to).toEqual(['sdi01@pec.fatturapa.it']);
    expect(s.sim.sends[0]?.from).toBe(ADDRESS);
    expect(readLog(s.logFile).find((l) => l.event === 'pec.sdi_address_learned')?.address).toBe(
      'sdi07@pec.fatturapa.it',
    );

    fs.writeFileSync(path.join(s.outbox, 'second.xml'), b2b());
    await fate(s, 'second.xml', 'invoice.delivered');
    expect(s.sim.sends[1]?.to).toEqual(['sdi07@pec.fatturapa.it']);
  });

  it('invoice -> NS: rejected, with the report in rejected/', async () => {
    fs.writeFileSync(path.join(s.outbox, 'scarto.xml'), b2b('reject:00311'));
    const line = await fate(s, 'scarto.xml', 'invoice.rejected');
    expect(line.codes).toEqual(['00311']);
    const rejected = path.join(s.dir, 'var', 'rejected');
    const reports = fs
      .readdirSync(rejected)
      .filter((f) => f.startsWith('scarto') && f.endsWith('.errors.txt'));
    expect(reports).toHaveLength(1);
    expect(fs.readFileSync(path.join(rejected, reports[0] as string), 'utf8')).toContain('00311');
  });

  it('B2B MC is final: available in the reserved area', async () => {
    fs.writeFileSync(path.join(s.outbox, 'mc.xml'), b2b('mc-rc'));
    await fate(s, 'mc.xml', 'invoice.available');
    expect((await show(s, 'mc.xml')).state).toBe('available');
  });

  it('a passive invoice arrives with its MT in the import folder', async () => {
    const id = await s.sim.deliverPassive('IT09876543210_AB123.xml', b2b());
    await waitFor('invoice in the inbox', () => fs.existsSync(path.join(s.inbox, 'IT09876543210_AB123.xml')));
    expect(fs.existsSync(path.join(s.inbox, 'IT09876543210_AB123_MT_001.xml'))).toBe(true);
    const line = readLog(s.logFile).find((l) => l.event === 'passive.received');
    expect(line?.identificativoSdI).toBe(id);
  });

  it('processed messages are flagged in the mailbox, none deleted', async () => {
    await s.sim.drained();
    await waitFor('every message flagged', async () =>
      (await mailbox(s)).every((m) => m.flags.includes('$FatturadProcessed')),
    );
    const all = await mailbox(s);
    // first, second, scarto, mc: 2 receipts + 1 SdI message each; the passive invoice: 1.
    expect(all.length).toBe(4 * 3 + 1);
    expect(all.every((m) => m.flags.includes('\\Seen'))).toBe(true);
  });
});

describe('PEC faults', () => {
  it('Dovecot restarted mid-stream: nothing lost, nothing twice', async () => {
    const s = await setup('dovecot-restart');
    const daemon = await startDaemon(s);
    try {
      const names = Array.from({ length: 8 }, (_, i) => `restart-${i}.xml`);
      for (const n of names.slice(0, 4)) fs.writeFileSync(path.join(s.outbox, n), b2b());
      await waitFor('some answers in', () => s.sim.appended.length >= 3);
      await s.dovecot.restart();
      for (const n of names.slice(4)) fs.writeFileSync(path.join(s.outbox, n), b2b());
      for (const n of names) await fate(s, n, 'invoice.delivered', 60_000);
      await s.sim.drained();
      const log = readLog(s.logFile);
      for (const n of names)
        expect(log.filter((l) => l.event === 'invoice.delivered' && l.file === n)).toHaveLength(1);
      expect(log.some((l) => l.event === 'pec.imap_disconnected')).toBe(true);
      // Every file reached SdI once.
      expect([...s.sim.engine.calls.values()].every((c) => c === 1)).toBe(true);
      await waitFor('every message flagged', async () =>
        (await mailbox(s)).every((m) => m.flags.includes('$FatturadProcessed')),
      );
    } finally {
      await teardown(s, daemon);
    }
  });

  it('daemon SIGKILLed while reading: after the restart nothing is lost or counted twice', async () => {
    // The simulator spaces its messages, so the kill falls in the middle of the mailbox.
    const s = await setup('sigkill', { delayMs: 150 });
    let daemon = await startDaemon(s);
    try {
      const names = Array.from({ length: 10 }, (_, i) => `kill-${i}.xml`);
      for (const n of names) fs.writeFileSync(path.join(s.outbox, n), b2b());
      await waitFor(
        'reading under way',
        () => readLog(s.logFile).filter((l) => l.event === 'invoice.delivered').length >= 2,
        30_000,
        5,
      );
      daemon.child.kill('SIGKILL');
      await daemon.exited;
      const before = readLog(s.logFile).filter((l) => l.event === 'invoice.delivered').length;
      expect(before).toBeLessThan(names.length);
      daemon = await startDaemon(s);
      for (const n of names) await fate(s, n, 'invoice.delivered', 60_000);
      await s.sim.drained();
      await waitFor('every message flagged', async () =>
        (await mailbox(s)).every((m) => m.flags.includes('$FatturadProcessed')),
      );
      const log = readLog(s.logFile);
      for (const n of names)
        expect(log.filter((l) => l.event === 'invoice.delivered' && l.file === n)).toHaveLength(1);
      for (const n of names) {
        const d = await show(s, n);
        expect(d.notifications.map((x) => x.kind)).toEqual(['RC']);
        // A file in flight at the kill is held, never sent twice: SdI's answer settled it.
        expect(d.sdi.attempts).toBe(1);
      }
      expect([...s.sim.engine.calls.values()].every((c) => c === 1)).toBe(true);
    } finally {
      await teardown(s, daemon);
    }
  });

  it('UIDVALIDITY change (mailbox restored): read again, nothing counted twice, new answers processed', async () => {
    const s = await setup('uidvalidity');
    let daemon = await startDaemon(s);
    try {
      for (const n of ['uv-1.xml', 'uv-2.xml']) fs.writeFileSync(path.join(s.outbox, n), b2b());
      for (const n of ['uv-1.xml', 'uv-2.xml']) await fate(s, n, 'invoice.delivered');
      await s.sim.drained();
      await waitFor('every message flagged', async () =>
        (await mailbox(s)).every((m) => m.flags.includes('$FatturadProcessed')),
      );
      await stopDaemon(daemon);
      await s.dovecot.resetInboxUids();
      daemon = await startDaemon(s);
      await waitForEvent(s.logFile, 'pec.uidvalidity_changed');
      fs.writeFileSync(path.join(s.outbox, 'uv-3.xml'), b2b());
      await fate(s, 'uv-3.xml', 'invoice.delivered');
      const log = readLog(s.logFile);
      for (const n of ['uv-1.xml', 'uv-2.xml', 'uv-3.xml'])
        expect(log.filter((l) => l.event === 'invoice.delivered' && l.file === n)).toHaveLength(1);
      for (const n of ['uv-1.xml', 'uv-2.xml']) {
        const d = await show(s, n);
        expect(d.notifications).toHaveLength(1);
        expect(d.transportReceipts).toHaveLength(2);
      }
    } finally {
      await teardown(s, daemon);
    }
  });

  it('SMTP refusing: retried, then reported with the reason', async () => {
    const s = await setup('refuse', { fault: () => 'refuse', maxAttempts: 3 });
    const daemon = await startDaemon(s);
    try {
      fs.writeFileSync(path.join(s.outbox, 'refused.xml'), b2b());
      const line = await waitForEvent(s.logFile, 'send.gave_up');
      expect(line.attempts).toBe(3);
      const d = await show(s, 'refused.xml');
      expect(d.state).toBe('failed');
      expect(d.sdi.lastError).toMatch(/554/);
      expect(readLog(s.logFile).filter((l) => l.event === 'send.retry')).toHaveLength(2);
    } finally {
      await teardown(s, daemon);
    }
  });

  it('SMTP timing out: sent again under the same name, delivered once', async () => {
    const s = await setup('timeout', { fault: (n) => (n === 1 ? 'timeout' : null), smtpTimeoutMs: 1500 });
    const daemon = await startDaemon(s);
    try {
      fs.writeFileSync(path.join(s.outbox, 'slow.xml'), b2b());
      await fate(s, 'slow.xml', 'invoice.delivered');
      const d = await show(s, 'slow.xml');
      expect(d.sdi.attempts).toBe(2);
      expect(s.sim.sends.map((x) => x.fileName)).toEqual([d.sdi.sdiName, d.sdi.sdiName]);
    } finally {
      await teardown(s, daemon);
    }
  });

  it('non accettazione and mancata consegna of the PEC layer: sent again, then delivered', async () => {
    const faults: (PecFault | null)[] = ['non-accettazione', 'errore-consegna'];
    const s = await setup('pec-failures', { fault: (n) => faults[n - 1] ?? null });
    const daemon = await startDaemon(s);
    try {
      fs.writeFileSync(path.join(s.outbox, 'bounced.xml'), b2b());
      await fate(s, 'bounced.xml', 'invoice.delivered');
      const d = await show(s, 'bounced.xml');
      expect(d.sdi.attempts).toBe(3);
      expect(d.transportReceipts.filter((r) => r.outcome === 'failed').map((r) => r.type)).toEqual([
        'non-accettazione',
        'errore-consegna',
      ]);
      expect(readLog(s.logFile).filter((l) => l.event === 'transport.failed')).toHaveLength(2);
    } finally {
      await teardown(s, daemon);
    }
  });

  it('hostile mailbox: 500 unrelated or malformed messages beside the real ones', async () => {
    const s = await setup('hostile', {
      limits: '{ maxMessageBytes: 8388608, maxDepth: 4, maxAttachments: 50, maxAttachmentBytes: 4194304 }',
    });
    const junk = await hostileMailbox(500);
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: s.dovecot.port,
      secure: false,
      auth: { user: s.dovecot.user, pass: s.dovecot.pass },
      logger: false,
    });
    await c.connect();
    // Half before the daemon starts, half while it runs and real answers arrive.
    for (const m of junk.slice(0, 250)) await c.append('INBOX', m);
    const daemon = await startDaemon(s);
    try {
      const names = Array.from({ length: 6 }, (_, i) => `real-${i}.xml`);
      for (const n of names) fs.writeFileSync(path.join(s.outbox, n), b2b());
      for (const m of junk.slice(250)) await c.append('INBOX', m);
      for (const n of names) await fate(s, n, 'invoice.delivered', 90_000);
      await s.sim.drained();
      await waitFor(
        'the whole mailbox looked at',
        async () => (await mailbox(s)).filter((m) => m.flags.includes('$FatturadProcessed')).length === 6 * 3,
        90_000,
      );
      expect(daemon.child.exitCode).toBeNull();
      const all = await mailbox(s);
      // The junk is still there, untouched.
      expect(all.filter((m) => m.flags.length === 0)).toHaveLength(500);
      const log = readLog(s.logFile);
      expect(log.filter((l) => l.level === 'fatal')).toHaveLength(0);
      const h = await fetch(
        `http://127.0.0.1:${(log.find((l) => l.event === 'daemon.ready')?.http as number) ?? 0}/healthz`,
      );
      expect(h.status).toBe(200);
    } finally {
      await c.logout();
      await teardown(s, daemon);
    }
  }, 180_000);
});
