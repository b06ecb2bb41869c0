import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, readLog, runCli, waitFor, waitForEvent, type DaemonProcess } from '../helpers/daemon.js';
import { TestPki, type Issued } from '../helpers/pki.js';
import { EX, example } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Credentials, end to end: the real daemon and command line on certificates and keystores made
 * at test time with openssl and keytool. Expiring in 20 days: a warning with the days left;
 * expired: an error, and the SDICoop channel is not used (documents wait); a legacy PKCS#12 and a
 * JKS read without a password; an Entratel environment generated three years minus five days ago:
 * a warning with the renewal steps.
 */
const run = promisify(execFile);
const FPR12 = example(EX.b2b);
const t = tempDir('fatturad-credentials-');
let pki: TestPki;
const DAY = 86_400_000;

/** openssl's YYYYMMDDHHMMSSZ. */
const osslDate = (d: Date): string => d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
/** 'YYYY-MM-DD HH:mm' in Europe/Rome. */
function romeLocal(d: Date): string {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Rome',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(d)
      .map((x) => [x.type, x.value]),
  );
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

let soon: Issued;
let expired: Issued;
beforeAll(() => {
  pki = new TestPki(path.join(t.dir, 'pki'), 'Credentials CA');
  soon = pki.issue('Expiring Soon', {
    start: osslDate(new Date(Date.now() - DAY)),
    end: osslDate(new Date(Date.now() + 20 * DAY + 3_600_000)),
  });
  expired = pki.issue('Expired Client', {
    start: osslDate(new Date(Date.now() - 400 * DAY)),
    end: osslDate(new Date(Date.now() - 2 * DAY)),
  });
});
afterAll(() => t.cleanup());

function configure(
  name: string,
  lines: string[],
): { dir: string; outbox: string; cfg: string; logFile: string } {
  const dir = path.join(t.dir, name);
  const outbox = path.join(dir, 'outbox');
  fs.mkdirSync(outbox, { recursive: true });
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
      'sending: { pollMs: 200 }',
      `passive: { importDir: ${dir}/inbox }`,
      ...lines,
    ].join('\n'),
  );
  return { dir, outbox, cfg, logFile: path.join(dir, 'daemon.log') };
}

async function start(s: { cfg: string; logFile: string }): Promise<DaemonProcess> {
  const d = runCli(['start', '--config', s.cfg], s.logFile);
  await waitForEvent(s.logFile, 'daemon.ready');
  return d;
}

async function stop(d: DaemonProcess): Promise<void> {
  d.child.kill('SIGTERM');
  await d.exited;
}

interface Listed {
  id: string;
  kind: string;
  label: string;
  expiresAt: string | null;
  never?: boolean;
  status: { state: string; daysLeft?: number | null; threshold?: number };
  renewal: string[];
}

async function credentials(cfg: string): Promise<{ list: Listed[]; code: number }> {
  const r = await run(process.execPath, [CLI, 'credentials', '--json', '--config', cfg]).then(
    (x) => ({ ...x, code: 0 }),
    (e: { stdout: string; code: number }) => e,
  );
  return { list: JSON.parse(r.stdout) as Listed[], code: r.code };
}

describe('credentials', () => {
  it('the embedded default lists the simulator certificates and the archive key with their expiry', async () => {
    const s = configure('default', []);
    await stop(await start(s));
    const { list, code } = await credentials(s.cfg);
    expect(code).toBe(0);
    const byId = Object.fromEntries(list.map((c) => [c.id, c]));
    for (const id of ['sdicoop-client', 'sim-sdi', 'sdicoop-ca']) {
      expect(byId[id]?.status.state, id).toBe('ok');
      expect(Date.parse(byId[id]?.expiresAt ?? '')).toBeGreaterThan(Date.now() + 300 * DAY);
    }
    expect(byId['archive-key']).toMatchObject({
      kind: 'archive-checkpoint-key',
      never: true,
      status: { state: 'ok' },
    });
  });

  it('a certificate expiring in 20 days: a warning with the days left and the renewal steps (daemon and CLI)', async () => {
    const s = configure('soon', [
      'credentials:',
      `  files: [{ kind: qualified-signature-certificate, path: ${soon.cert} }]`,
    ]);
    const d = await start(s);
    try {
      const line = await waitForEvent(s.logFile, 'credentials.expiring');
      expect(line).toMatchObject({
        level: 'warn',
        kind: 'qualified-signature-certificate',
        daysLeft: 20,
        threshold: 30,
      });
      expect((line.renewal as string[]).join(' ')).toMatch(/90 days/);
    } finally {
      await stop(d);
    }
    const { list } = await credentials(s.cfg);
    expect(list.find((c) => c.id === 'file:1')?.status).toMatchObject({
      state: 'expiring',
      daysLeft: 20,
      threshold: 30,
    });
  });

  it('an expired SDICoop client certificate: an error, and the channel is not used; the document waits', async () => {
    const s = configure('expired', [
      'channel:',
      '  type: sdicoop',
      '  sdicoop:',
      '    simulator: false',
      '    endpoint: https://127.0.0.1:9/SdIRiceviFile',
      `    clientCert: ${expired.cert}`,
      `    clientKey: ${expired.key}`,
      `    sdiCAs: [${pki.ca.cert}]`,
    ]);
    const d = await start(s);
    try {
      const line = await waitForEvent(s.logFile, 'credentials.expired');
      expect(line).toMatchObject({
        level: 'error',
        kind: 'sdicoop-client-certificate',
        id: 'sdicoop-client',
      });
      fs.writeFileSync(path.join(s.outbox, 'waiting.xml'), FPR12);
      const blocked = await waitForEvent(s.logFile, 'send.blocked');
      expect(String(blocked.reason)).toMatch(/client certificate .*expired/);
      await new Promise((r) => setTimeout(r, 1000));
      expect(readLog(s.logFile).some((l) => l.event === 'send.retry' || l.event === 'send.queued')).toBe(
        false,
      );
      const status = await run(process.execPath, [CLI, 'status', '--json', '--config', s.cfg]);
      expect(JSON.parse(status.stdout)).toMatchObject({ documents: { validated: 1 } });
      const port = readLog(s.logFile).find((l) => l.event === 'daemon.ready')?.http as number;
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(503);
    } finally {
      await stop(d);
    }
    expect((await credentials(s.cfg)).code).toBe(1);
  });

  it('an Entratel environment generated 3 years minus 5 days ago: a warning with the renewal steps', async () => {
    const generated = new Date(Date.now() - (3 * 365 + 1) * DAY + 5 * DAY);
    // Three calendar years later, in Rome, to the minute: about 5 days from now.
    const s = configure('entratel', [
      'credentials:',
      `  entratel: { generatedAt: '${romeLocal(generated)}' }`,
    ]);
    const { list } = await credentials(s.cfg);
    const e = list.find((c) => c.kind === 'entratel-environment');
    expect(e?.status.state).toBe('expiring');
    expect(e?.status.daysLeft).toBeGreaterThanOrEqual(3);
    expect(e?.status.daysLeft).toBeLessThanOrEqual(5);
    const steps = e?.renewal.join('\n') ?? '';
    for (const text of [
      'Il tuo profilo',
      'Sicurezza e privacy',
      'Ripristina ambiente di sicurezza',
      'Imposta ambiente',
      'PIN di revoca',
    ])
      expect(steps).toContain(text);
    const d = await start(s);
    try {
      const line = await waitForEvent(s.logFile, 'credentials.expiring');
      expect(line.kind).toBe('entratel-environment');
    } finally {
      await stop(d);
    }
  });

  it('inspect: a legacy PKCS#12 is read and the re-export command given; a JKS is read without its password', async () => {
    const dir = path.join(t.dir, 'files');
    fs.mkdirSync(dir, { recursive: true });
    const p12 = path.join(dir, 'legacy.p12');
    await run('openssl', [
      'pkcs12',
      '-export',
      '-legacy',
      '-in',
      soon.cert,
      '-inkey',
      soon.key,
      '-out',
      p12,
      '-passout',
      'pass:secret',
    ]);
    const r = await run(
      process.execPath,
      [CLI, 'credentials', 'inspect', p12, '--password-env', 'P12_PASS'],
      {
        env: { ...process.env, P12_PASS: 'secret' },
      },
    );
    expect(r.stdout).toMatch(/Expiring Soon/);
    expect(r.stdout).toMatch(/openssl pkcs12 -legacy/);
    const jks = path.join(dir, 'store.dat');
    await run('keytool', [
      '-genkeypair',
      '-keystore',
      jks,
      '-storetype',
      'JKS',
      '-storepass',
      'changeit',
      '-keypass',
      'changeit',
      '-alias',
      'firma',
      '-keyalg',
      'RSA',
      '-keysize',
      '2048',
      '-validity',
      '10',
      '-dname',
      'CN=Entratel Firma',
    ]);
    const j = await run(process.execPath, [CLI, 'credentials', 'inspect', '--json', jks]);
    const parsed = JSON.parse(j.stdout) as {
      format: string;
      certificates: { subject: string; notAfter: string }[];
    };
    expect(parsed.format).toBe('jks');
    expect(parsed.certificates[0]?.subject).toMatch(/Entratel Firma/);
    const days = (Date.parse(parsed.certificates[0]?.notAfter ?? '') - Date.now()) / DAY;
    expect(days).toBeGreaterThan(9);
    expect(days).toBeLessThan(11);
  });

  it('check-password: the rules, and the proposal never printed', async () => {
    const ok = await run(
      process.execPath,
      [CLI, 'credentials', 'check-password', '--kind', 'entratel-password', '--from-env', 'PROPOSAL'],
      {
        env: { ...process.env, PROPOSAL: 'Abcdef12' },
      },
    );
    expect(ok.stdout).toMatch(/OK/);
    const bad = await run(
      process.execPath,
      [CLI, 'credentials', 'check-password', '--kind', 'entratel-password', '--from-env', 'PROPOSAL'],
      {
        env: { ...process.env, PROPOSAL: 'perché1' },
      },
    ).catch((e: { stdout: string; code: number }) => e);
    expect((bad as { code: number }).code).toBe(1);
    expect(bad.stdout).toMatch(/NOT OK/);
    expect(bad.stdout).not.toContain('perché1');
    const pin = await run(
      process.execPath,
      [CLI, 'credentials', 'check-password', '--kind', 'pin-revoca', '--from-env', 'PROPOSAL'],
      {
        env: { ...process.env, PROPOSAL: 'A1b2C3d4E5f6G7h' },
      },
    );
    expect(pin.stdout).toMatch(/OK/);
  });
});

void waitFor;
