import fs from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PecChannel } from '../../src/channels/pec/pec.js';
import { QuotaWatcher } from '../../src/channels/pec/quota.js';
import { checkPec } from '../../src/check/pec.js';
import { loadConfig } from '../../src/config/load.js';
import type { Logger } from '../../src/log.js';
import { waitFor } from '../helpers/daemon.js';
import { dovecotAvailable, startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The PEC mailbox quota against a real Dovecot with its quota plugin (Debian's dovecot-core has
 * it: `quota` and `imap_quota`, Maildir++ quota of 100 KB here): `pec.quota_low` once when the
 * mailbox crosses the threshold, however many looks see it there, `pec.quota_ok` once when it is
 * back under; a server without QUOTA is said once and not asked again; `check pec` shows the quota.
 */

const QUOTA_CONF = [
  'mail_plugins = $mail_plugins quota',
  'protocol imap {\n  mail_plugins = $mail_plugins imap_quota\n}',
  'plugin {\n  quota = maildir:User quota\n  quota_rule = *:storage=100K\n}',
];

interface LogLine {
  level: number;
  event?: string;
  [key: string]: unknown;
}

function capture(): { log: Logger; events: (name: string) => LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, events: (name) => lines.filter((l) => l.event === name) };
}

const t = tempDir('fatturad-pec-quota-');
let dovecot: Dovecot | null = null;
let watcher: QuotaWatcher | null = null;

afterEach(async () => {
  await watcher?.stop();
  watcher = null;
  await dovecot?.stop({ immediate: true });
  dovecot = null;
});
afterAll(() => t.cleanup());

async function withClient<T>(d: Dovecot, fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: d.port,
    secure: false,
    auth: { user: d.user, pass: d.pass },
    logger: false,
  });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.logout();
  }
}

/** A message of about `kb` KB, appended to INBOX. */
async function fill(d: Dovecot, kb: number, id: string): Promise<void> {
  const body = `${'x'.repeat(76)}\r\n`.repeat(Math.ceil((kb * 1024) / 78));
  await withClient(d, async (c) => {
    await c.append(
      'INBOX',
      `From: sdi01@pec.fatturapa.it\r\nTo: me@pec.example.it\r\nSubject: ${id}\r\nMessage-ID: <${id}@test>\r\n\r\n${body}`,
    );
  });
}

async function emptyInbox(d: Dovecot): Promise<void> {
  await withClient(d, async (c) => {
    const lock = await c.getMailboxLock('INBOX');
    try {
      await c.messageDelete('1:*');
    } finally {
      lock.release();
    }
  });
}

function newWatcher(d: Dovecot, log: Logger, checkMs: number): QuotaWatcher {
  return new QuotaWatcher({
    host: '127.0.0.1',
    port: d.port,
    secure: false,
    user: d.user,
    pass: d.pass,
    mailbox: 'INBOX',
    checkMs,
    warnPercent: 50,
    log,
  });
}

let n = 0;
async function start(quota: boolean): Promise<Dovecot> {
  fs.chmodSync(t.dir, 0o755);
  n++;
  dovecot = await startDovecot(path.join(t.dir, `d${n}`), quota ? { extraConf: QUOTA_CONF } : {});
  return dovecot;
}

describe.skipIf(!dovecotAvailable())('PEC mailbox quota (Dovecot with the quota plugin)', () => {
  it('one pec.quota_low when crossing the threshold, one pec.quota_ok when back, none in between', async () => {
    const d = await start(true);
    const cap = capture();
    const w = newWatcher(d, cap.log, 60_000);
    const empty = await w.check();
    expect(empty).toMatchObject({ root: 'User quota', limitBytes: 100 * 1024 });
    expect(empty!.percent).toBeLessThan(50);
    await fill(d, 70, 'big1');
    for (let i = 0; i < 5; i++) await w.check();
    expect(w.stats.checks).toBe(6);
    expect(cap.events('pec.quota_low')).toHaveLength(1);
    const low = cap.events('pec.quota_low')[0]!;
    expect(low).toMatchObject({ level: 40, limitBytes: 102400, warnPercent: 50, quotaRoot: 'User quota' });
    expect(low.percent as number).toBeGreaterThanOrEqual(60);
    expect(String(low.msg)).toMatch(/refuses SdI's messages/);
    expect(String(low.msg)).toMatch(/La casella PEC è piena/);
    expect(w.isLow).toBe(true);
    await emptyInbox(d);
    for (let i = 0; i < 3; i++) await w.check();
    expect(cap.events('pec.quota_ok')).toHaveLength(1);
    expect(cap.events('pec.quota_low')).toHaveLength(1);
    expect(w.isLow).toBe(false);
    expect(w.stats.failures).toBe(0);
  });

  it('started, it looks at every interval on its own and warns once', async () => {
    const d = await start(true);
    await fill(d, 80, 'big2');
    const cap = capture();
    watcher = newWatcher(d, cap.log, 20);
    watcher.start();
    // Several looks, one warning.
    await waitFor('four looks', () => watcher!.stats.checks >= 4, 20_000);
    expect(cap.events('pec.quota_low')).toHaveLength(1);
    await watcher.stop();
    const checks = watcher.stats.checks;
    await new Promise((r) => setTimeout(r, 100));
    expect(watcher.stats.checks).toBe(checks);
  });

  it("the PEC channel runs the watcher with channel.pec.imap.quota's values, and stops it with itself", async () => {
    const d = await start(true);
    await fill(d, 80, 'big4');
    const cap = capture();
    const state = new Map<string, string>();
    const channel = new PecChannel({
      address: 'testuser@pec.example.it',
      firstSdiAddress: 'sdi01@pec.fatturapa.it',
      fixedSdiAddress: '',
      maxMessageBytes: 30 * 1024 * 1024,
      smtp: {
        host: '127.0.0.1',
        port: 1,
        secure: true,
        requireTls: true,
        user: 'u',
        pass: 'p',
        timeoutMs: 1000,
      },
      imap: {
        host: '127.0.0.1',
        port: d.port,
        secure: false,
        user: d.user,
        pass: d.pass,
        mailbox: 'INBOX',
        flag: '$FatturadProcessed',
        markSeen: false,
        moveTo: '',
        idle: false,
        pollMs: 60_000,
        reconnect: { initialMs: 100, maxMs: 1000 },
      },
      quota: { checkMs: 20, warnPercent: 50 },
      limits: {
        maxMessageBytes: 1024 * 1024,
        maxDepth: 4,
        maxAttachments: 20,
        maxAttachmentBytes: 1024 * 1024,
      },
      state: { get: (k) => state.get(k), set: (k, v) => void state.set(k, v) },
      log: cap.log,
    });
    await channel.start(async () => undefined);
    try {
      await waitFor('pec.quota_low from the channel', () => cap.events('pec.quota_low').length > 0, 20_000);
      await waitFor('more looks', () => (channel.quotaWatcher?.stats.checks ?? 0) >= 3, 20_000);
      expect(cap.events('pec.quota_low')).toHaveLength(1);
      expect(channel.health().detail).toMatch(/quota .* of 0\.1 MB used .*nearly full/);
    } finally {
      await channel.stop();
    }
    expect(channel.quotaWatcher).toBeNull();
  });

  it('a server without QUOTA: pec.quota_unsupported once, then no more looks', async () => {
    const d = await start(false);
    const cap = capture();
    watcher = newWatcher(d, cap.log, 20);
    watcher.start();
    await waitFor('pec.quota_unsupported', () => cap.events('pec.quota_unsupported').length > 0, 20_000);
    await watcher.stop();
    expect(watcher.stats.checks).toBe(1);
    expect(watcher.stats.unsupported).toBe(true);
    expect(cap.events('pec.quota_low')).toHaveLength(0);
  });

  it('check pec shows the quota, and fails on a mailbox past the threshold', async () => {
    const d = await start(true);
    const dir = path.join(t.dir, `cfg${n}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'pw'), d.pass);
    const cfg = path.join(dir, 'fatturad.yaml');
    fs.writeFileSync(
      cfg,
      [
        `dataDir: ${dir}/var`,
        'channel:',
        '  type: pec',
        '  pec:',
        '    simulator: true',
        '    address: testuser@pec.example.it',
        `    smtp: { passwordFile: ${path.join(dir, 'pw')} }`,
        `    imap: { host: 127.0.0.1, port: ${d.port}, secure: false, user: ${d.user}, quota: { checkMs: 0, warnPercent: 50 } }`,
      ].join('\n'),
    );
    const config = loadConfig({ file: cfg, env: {} });
    const before = await checkPec(config);
    expect(before.steps.find((s) => s.step === 'quota')).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/of 0\.1 MB used \(\d+(\.\d)? %\); warned at 50 %/) as string,
    });
    expect(before.ok).toBe(true);
    await fill(d, 70, 'big3');
    const after = await checkPec(config);
    expect(after.steps.find((s) => s.step === 'quota')).toMatchObject({
      ok: false,
      hint: expect.stringMatching(/nearly full/) as string,
    });
    expect(after.ok).toBe(false);
  });
});
