import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { verifySignature, type AlertMessage } from '../../src/alerts/message.js';
import { CLI, readLog, runCli, waitFor, waitForEvent, type DaemonProcess } from '../helpers/daemon.js';
import { TestPki } from '../helpers/pki.js';
import { EX, exampleText } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Alerts against a real SMTP server (smtp-server, with a login) and a local HTTP receiver that
 * checks the HMAC, around the real daemon on the built-in simulator answering NS to every file:
 * a burst of 500 NS gives one message per event kind per interval and loses none; with the
 * receiver refusing connections every invoice still reaches its final state and the alert waits
 * in the store across a restart; `fatturad alerts test` says what worked for each target.
 */
const run = promisify(execFile);
const READY_MS = 90_000;
vi.setConfig({ testTimeout: 240_000, hookTimeout: 180_000 });

const t = tempDir('fatturad-alerts-');
const dir = t.dir;
const outbox = path.join(dir, 'outbox');
const cfg = path.join(dir, 'fatturad.yaml');
const db = path.join(dir, 'var', 'fatturad.db');
const SECRET = 'hmac-key-for-the-test-0123456789';
const SMTP_PASSWORD = 'smtp-password-never-logged';
const env = { ALERT_HMAC: SECRET, ALERT_SMTP_PASSWORD: SMTP_PASSWORD };

interface Received {
  body: string;
  message: AlertMessage;
}
interface Mail {
  subject: string;
  text: string;
  kind: string;
  id: string;
}

/** The HTTP receiver: keeps every POST whose HMAC verifies, counts those that do not. */
class Receiver {
  received: Received[] = [];
  badSignatures = 0;
  private server: http.Server | null = null;
  port = 0;
  async start(port = 0): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const ok = verifySignature(
          SECRET,
          String(req.headers['x-fatturad-timestamp']),
          body,
          String(req.headers['x-fatturad-signature']),
        );
        if (!ok) {
          this.badSignatures++;
          res.writeHead(401).end();
          return;
        }
        this.received.push({ body, message: JSON.parse(body) as AlertMessage });
        res.writeHead(204).end();
      });
    });
    const server = this.server;
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    this.port = (server.address() as AddressInfo).port;
  }
  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
  of(kind: string): AlertMessage[] {
    return this.received.map((r) => r.message).filter((m) => m.kind === kind);
  }
}

const headerText = (v: unknown): string => (typeof v === 'string' ? v : '');
const receiver = new Receiver();
const mails: Mail[] = [];
let authFailures = 0;
const smtp = new SMTPServer({
  secure: false,
  disabledCommands: ['STARTTLS'],
  allowInsecureAuth: true,
  logger: false,
  onAuth(auth, _session, cb) {
    if (auth.username === 'alerts@example.it' && auth.password === SMTP_PASSWORD)
      cb(null, { user: auth.username });
    else {
      authFailures++;
      cb(new Error('Invalid username or password'));
    }
  },
  onData(stream, _session, cb) {
    void simpleParser(stream).then((m) => {
      mails.push({
        subject: m.subject ?? '',
        text: m.text ?? '',
        kind: headerText(m.headers.get('x-fatturad-alert-kind')),
        id: headerText(m.headers.get('x-fatturad-alert-id')),
      });
      cb(null);
    }, cb);
  },
});
let smtpPort = 0;
let daemon: DaemonProcess | null = null;
let logFile = '';
let dropped = 0;

function writeConfig(alerts: string[]): void {
  fs.writeFileSync(
    cfg,
    [
      `dataDir: ${dir}/var`,
      'log: { level: info, format: json }',
      'http: { port: 0 }',
      'intake:',
      `  folders: [{ path: ${outbox} }]`,
      '  stableMs: 0',
      'sending: { pollMs: 200, retry: { initialMs: 200, maxMs: 800, maxAttempts: 0 } }',
      'archive: { enabled: false }',
      'simulator: { scenario: reject, delayMs: 0 }',
      `passive: { importDir: ${dir}/inbox }`,
      'alerts:',
      '  enabled: true',
      ...alerts.map((l) => `  ${l}`),
    ].join('\n'),
  );
}

const emailConfig = (port: number, user = 'alerts@example.it'): string =>
  `email: { host: 127.0.0.1, port: ${port}, secure: false, requireTls: false, user: ${user}, passwordEnv: ALERT_SMTP_PASSWORD, from: fatturad@example.it, to: [amministrazione@example.it] }`;
const webhookConfig = (port: number): string =>
  `webhook: { url: "http://127.0.0.1:${port}/hooks/fatturad?token=abc", secretEnv: ALERT_HMAC, timeoutMs: 2000 }`;

/** Drops `n` distinct invoices (each its own Numero), each by an atomic rename. */
function drop(n: number): void {
  const sample = exampleText(EX.b2b);
  for (let i = 0; i < n; i++) {
    const k = ++dropped;
    const name = `IT12345670017_B${String(k).padStart(4, '0')}.xml`;
    const tmp = path.join(outbox, `${name}.tmp`);
    fs.writeFileSync(tmp, sample.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>AL${k}/2026</Numero>`));
    fs.renameSync(tmp, path.join(outbox, name));
  }
}

function query<T>(sql: string): T[] {
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return d.prepare(sql).all() as T[];
  } finally {
    d.close();
  }
}
const rejected = (): number =>
  query<{ n: number }>("SELECT count(*) AS n FROM documents WHERE state = 'rejected'")[0]?.n ?? 0;
/** The NS events recorded and not yet in a message: kept items plus those only counted. */
function waitingNs(): number {
  const items =
    query<{ n: number }>("SELECT count(*) AS n FROM alert_items WHERE kind = 'invoice.rejected'")[0]?.n ?? 0;
  const omitted =
    query<{ n: number }>("SELECT omitted AS n FROM alert_kinds WHERE kind = 'invoice.rejected'")[0]?.n ?? 0;
  return items + omitted;
}

async function start(name: string): Promise<void> {
  logFile = path.join(dir, name);
  daemon = runCli(['start', '--config', cfg], logFile, env);
  await waitForEvent(logFile, 'daemon.ready', 0, READY_MS);
}
async function stop(): Promise<void> {
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  }
  daemon = null;
}

const cli = (...args: string[]) =>
  run(process.execPath, [CLI, ...args, '--config', cfg], { env: { ...process.env, ...env } }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

beforeAll(async () => {
  fs.mkdirSync(outbox, { recursive: true });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
  smtpPort = (smtp.server.address() as AddressInfo).port;
  await receiver.start();
});

afterAll(async () => {
  await stop().catch(() => undefined);
  await receiver.stop();
  await new Promise<void>((r) => smtp.close(() => r()));
  t.cleanup();
});

describe('alerts', () => {
  it('a burst of 500 NS: one message per event kind per interval, by e-mail and webhook, none lost', async () => {
    const intervalMs = 10_000;
    writeConfig([
      'groupWaitMs: 300',
      `intervalMs: ${intervalMs}`,
      'maxItems: 20',
      emailConfig(smtpPort),
      webhookConfig(receiver.port),
    ]);
    await start('burst.log');
    drop(500);
    await waitFor('500 invoices rejected by SdI (NS)', () => rejected() === 500, 180_000, 200);
    // Every NS ends up in a message: the counts of the messages add up to 500.
    await waitFor(
      'every NS in a delivered message',
      () => {
        const sum = receiver.of('invoice.rejected').reduce((a, m) => a + m.count, 0);
        return sum === 500 && waitingNs() === 0;
      },
      120_000,
      200,
    );
    const msgs = receiver.of('invoice.rejected');
    // One message per interval: each made at least intervalMs after the one before it.
    for (let i = 1; i < msgs.length; i++)
      expect(Date.parse(msgs[i]!.createdAt) - Date.parse(msgs[i - 1]!.createdAt)).toBeGreaterThanOrEqual(
        intervalMs,
      );
    expect(msgs.length).toBeLessThan(500 / 20);
    for (const m of msgs) {
      expect(m.items.length).toBe(Math.min(m.count, 20));
      expect(m.omitted).toBe(m.count - m.items.length);
      expect(m.sdi).toBe('NS');
      expect(m.titleIt).toContain('scartate');
      const it0 = m.items[0]!;
      expect(it0.file).toMatch(/^IT12345670017_B\d{4}\.xml$/);
      expect(it0.identificativoSdI).toBeTruthy();
      expect(it0.codes).toEqual(['00200']);
    }
    expect(receiver.badSignatures).toBe(0);
    // The same messages by e-mail, with the same ids.
    await waitFor(
      'the e-mails',
      () => mails.filter((m) => m.kind === 'invoice.rejected').length === msgs.length,
    );
    const mailIds = mails.filter((m) => m.kind === 'invoice.rejected').map((m) => m.id);
    expect(mailIds.sort()).toEqual(msgs.map((m) => m.id).sort());
    const mail = mails.find((m) => m.kind === 'invoice.rejected')!;
    expect(mail.subject).toContain('SdI rejected invoices (NS');
    expect(mail.text).toContain('entro cinque giorni');
    expect(authFailures).toBe(0);
    // Each message delivered once per target: alerts.sent logged twice per message, none failed.
    const log = readLog(logFile);
    expect(log.filter((l) => l.event === 'alerts.sent' && l.kind === 'invoice.rejected')).toHaveLength(
      msgs.length * 2,
    );
    expect(log.filter((l) => l.event === 'alerts.failed')).toHaveLength(0);
    expect(fs.readFileSync(logFile, 'utf8')).not.toContain(SMTP_PASSWORD);
    expect(fs.readFileSync(logFile, 'utf8')).not.toContain(SECRET);
    expect(fs.readFileSync(logFile, 'utf8')).not.toContain('token=abc');
  });

  it('fatturad alerts test: one test alert per target, and what did not work', async () => {
    const before = receiver.received.length;
    const mailsBefore = mails.length;
    const ok = await cli('alerts', 'test');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^email: sent \(amministrazione@example\.it via 127\.0\.0\.1:\d+\)/m);
    expect(ok.stdout).toMatch(/^webhook: sent \(http:\/\/127\.0\.0\.1:\d+\/hooks\/fatturad\): HTTP 204/m);
    expect(receiver.received.length).toBe(before + 1);
    expect(receiver.received.at(-1)?.message).toMatchObject({ kind: 'alerts.test', test: true });
    await waitFor('the test e-mail', () => mails.length === mailsBefore + 1);
    expect(mails.at(-1)?.kind).toBe('alerts.test');

    // A wrong login and a receiver that is down: each named, exit 1, nothing else delivered.
    const down = new Receiver();
    await down.start();
    const downPort = down.port;
    await down.stop();
    writeConfig([emailConfig(smtpPort, 'someone-else@example.it'), webhookConfig(downPort)]);
    const bad = await cli('alerts', 'test');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^email: FAILED .*: .*535/m);
    expect(bad.stdout).toMatch(/^webhook: FAILED .*ECONNREFUSED/m);
    expect(bad.stdout + bad.stderr).not.toContain(SMTP_PASSWORD);
    expect(receiver.received.length).toBe(before + 1);
    expect(mails.length).toBe(mailsBefore + 1);
  });

  it('receiver down: every invoice reaches its final state; the alert waits in the store across a restart', async () => {
    await stop();
    const later = new Receiver();
    await later.start();
    const port = later.port;
    await later.stop(); // refuses connections until started again on the same port
    writeConfig([
      'groupWaitMs: 0',
      'intervalMs: 1000',
      'retry: { initialMs: 200, maxMs: 400 }',
      webhookConfig(port),
    ]);
    await start('down.log');
    const before = rejected();
    drop(100);
    // The pipeline does not wait for the alerts: all 100 reach their final state meanwhile.
    await waitFor('100 more invoices rejected', () => rejected() === before + 100, 120_000, 200);
    await waitFor(
      'failed attempts',
      () => readLog(logFile).filter((l) => l.event === 'alerts.failed').length >= 3,
    );
    const failed = readLog(logFile).filter((l) => l.event === 'alerts.failed');
    expect(failed[0]).toMatchObject({ target: 'webhook', kind: 'invoice.rejected' });
    expect(String(failed[0]?.error)).toContain('ECONNREFUSED');
    expect(readLog(logFile).filter((l) => l.event === 'alerts.sent')).toHaveLength(0);
    await stop();
    // Stopped: every one of the 100 NS is in the store, queued or waiting for its group.
    const queued = query<{ body: string }>("SELECT body FROM alert_queue WHERE kind = 'invoice.rejected'");
    expect(queued.length).toBeGreaterThan(0);
    const inQueue = queued.reduce((a, r) => a + (JSON.parse(r.body) as AlertMessage).count, 0);
    expect(inQueue + waitingNs()).toBe(100);
    const ids = queued.map((r) => (JSON.parse(r.body) as AlertMessage).id);

    // Started again, the receiver up: the queued messages arrive, with their ids, and the rest.
    await later.start(port);
    await start('restarted.log');
    await waitFor(
      'the 100 NS delivered after the restart',
      () => later.of('invoice.rejected').reduce((a, m) => a + m.count, 0) === 100,
      60_000,
      200,
    );
    const got = later.of('invoice.rejected').map((m) => m.id);
    for (const id of ids) expect(got).toContain(id);
    expect(new Set(got).size).toBe(got.length);
    expect(later.badSignatures).toBe(0);
    await stop();
    await later.stop();
  });

  it("a PA's refusal (NE EC02) carries the PA's reason; an MC on a B2B invoice is its own alert", async () => {
    writeConfig(['groupWaitMs: 0', 'intervalMs: 1000', webhookConfig(receiver.port)]);
    await start('ne-mc.log');
    const pki = new TestPki(path.join(dir, 'sign-ca'), 'Signature CA');
    const signer = pki.issue('Mario Rossi');
    const mark = (xml: string, numero: string, marker: string): string =>
      xml
        .replace(/<Numero>[^<]*<\/Numero>/, `<Numero>${numero}</Numero>`)
        .replace('</FatturaElettronicaHeader>', `</FatturaElettronicaHeader><!-- fatturad-sim:${marker} -->`);
    const pa = pki.sign(Buffer.from(mark(exampleText(EX.pa), 'ALPA-1', 'refuse')), signer);
    fs.writeFileSync(path.join(outbox, 'IT12345670017_PA901.xml.p7m'), pa);
    fs.writeFileSync(
      path.join(outbox, 'IT12345670017_MC901.xml'),
      mark(exampleText(EX.b2b), 'ALMC-1', 'mc-rc'),
    );
    const refused = await waitFor('the refusal alert', () => receiver.of('invoice.refused')[0], 60_000);
    expect(refused.sdi).toBe('NE EC02');
    expect(refused.items[0]).toMatchObject({
      file: 'IT12345670017_PA901.xml.p7m',
      kind: 'NE',
      paReason: 'Fattura rifiutata',
    });
    expect(String(refused.items[0]?.message)).toContain('Fattura rifiutata');
    const available = await waitFor('the MC alert', () => receiver.of('invoice.available')[0], 60_000);
    expect(available).toMatchObject({ sdi: 'MC', count: 1 });
    expect(available.items[0]).toMatchObject({ file: 'IT12345670017_MC901.xml', kind: 'MC' });
    expect(available.action).toContain('tell the buyer');
    await stop();
  });
});
