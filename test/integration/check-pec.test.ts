import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPec } from '../../src/check/pec.js';
import type { CheckReport } from '../../src/check/probe.js';
import { renderCheck } from '../../src/check/render.js';
import { loadConfig } from '../../src/config/load.js';
import { ensureSimPki, type SimPki } from '../../src/sim/certs.js';
import { PecSimulator } from '../../src/sim/pec.js';
import { CLI } from '../helpers/daemon.js';
import { dovecotAvailable, startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * `fatturad check pec` against a real Dovecot (IMAP) and the PEC simulator's SMTP server (implicit
 * TLS, refusing a wrong password with 535 as a provider does): the right password, a wrong one, a
 * wrong port and a TLS that cannot be had each give their own clear answer, and nothing is ever
 * sent (the simulator took no message, the mailbox stays empty).
 */

const t = tempDir('fatturad-check-pec-');
let pki: SimPki;
let dovecot: Dovecot;
let sim: PecSimulator;
let smtpPort: number;
let closedPort: number;

/** Every message file of the user's Maildir (INBOX and the other folders). */
function mailFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...mailFiles(p));
    else if (/\/(new|cur)$/.test(dir)) out.push(p);
  }
  return out;
}

let n = 0;
function configWith(o: {
  pass: string;
  smtpPort?: number;
  imapPort?: number;
  imapSecure?: boolean;
  smtpCa?: boolean;
}): ReturnType<typeof loadConfig> {
  n++;
  const dir = path.join(t.dir, `c${n}`);
  fs.mkdirSync(dir, { recursive: true });
  const passFile = path.join(dir, 'pec-password');
  fs.writeFileSync(passFile, `${o.pass}\n`, { mode: 0o600 });
  const cfg = path.join(dir, 'fatturad.yaml');
  fs.writeFileSync(
    cfg,
    [
      `dataDir: ${dir}/var`,
      'channel:',
      '  type: pec',
      '  pec:',
      '    address: testuser@pec.example.it',
      '    smtp:',
      '      host: 127.0.0.1',
      `      port: ${o.smtpPort ?? smtpPort}`,
      '      secure: true',
      `      user: ${dovecot.user}`,
      `      passwordFile: ${passFile}`,
      `      ca: [${o.smtpCa === false ? '' : pki.caCert}]`,
      '      timeoutMs: 5000',
      '    imap:',
      '      host: 127.0.0.1',
      `      port: ${o.imapPort ?? dovecot.port}`,
      `      secure: ${o.imapSecure ?? false}`,
      '      timeoutMs: 5000',
    ].join('\n'),
  );
  return loadConfig({ file: cfg, env: {} });
}

function step(r: CheckReport, service: string, name: string) {
  return r.steps.find((s) => s.service === service && s.step === name);
}

function nothingSent(): void {
  expect(sim.sends).toHaveLength(0);
  expect(mailFiles(dovecot.maildir)).toHaveLength(0);
}

describe.skipIf(!dovecotAvailable())('fatturad check pec (Dovecot + the PEC simulator)', () => {
  beforeAll(async () => {
    fs.chmodSync(t.dir, 0o755);
    pki = await ensureSimPki(path.join(t.dir, 'pki'));
    dovecot = await startDovecot(path.join(t.dir, 'dovecot'));
    sim = new PecSimulator({
      tls: { cert: fs.readFileSync(pki.sdi.cert), key: fs.readFileSync(pki.sdi.key) },
      scenario: 'deliver',
      delayMs: 0,
      sdiMailbox: 'sdi07@pec.fatturapa.it',
      imap: {
        host: '127.0.0.1',
        port: dovecot.port,
        secure: false,
        user: dovecot.user,
        pass: dovecot.pass,
        mailbox: 'INBOX',
      },
      smtpAuth: { user: dovecot.user, pass: dovecot.pass },
      log: pino({ level: 'silent' }),
    });
    smtpPort = (await sim.listen('127.0.0.1', 0)).port;
    closedPort = await freePort();
  }, 30_000);

  afterAll(async () => {
    await sim?.close();
    await dovecot?.stop({ immediate: true });
    t.cleanup();
  });

  it('the right password: every step works, exit 0, nothing sent', async () => {
    const r = await checkPec(configWith({ pass: dovecot.pass }));
    expect(r.steps.filter((s) => !s.ok && !s.info)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(step(r, 'smtp', 'tls')?.ok).toBe(true);
    expect(step(r, 'smtp', 'certificate')?.detail).toMatch(/^trusted: /);
    expect(step(r, 'smtp', 'auth')).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/AUTH accepted for testuser/) as string,
    });
    expect(step(r, 'imap', 'login')).toMatchObject({ ok: true });
    // Dovecot without TLS, on loopback: said, not counted as a failure.
    expect(step(r, 'imap', 'starttls')).toMatchObject({ info: true });
    expect(step(r, 'imap', 'folders')?.detail).toMatch(/INBOX is there/);
    // This Dovecot has no quota plugin: said as a note.
    expect(step(r, 'imap', 'quota')).toMatchObject({
      info: true,
      detail: expect.stringMatching(/no IMAP QUOTA/) as string,
    });
    expect(renderCheck('fatturad check pec', r)).toMatch(/Everything works \(smtp: works; imap: works\)/);
    nothingSent();
  });

  it('a wrong password: SMTP AUTH and IMAP LOGIN refused, each said, exit 1, nothing sent', async () => {
    const r = await checkPec(configWith({ pass: 'not-the-password' }));
    expect(r.ok).toBe(false);
    expect(step(r, 'smtp', 'tls')?.ok).toBe(true);
    expect(step(r, 'smtp', 'auth')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/AUTH refused for testuser: 535/) as string,
    });
    expect(step(r, 'imap', 'login')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/IMAP LOGIN refused for testuser/) as string,
    });
    const text = renderCheck('fatturad check pec', r);
    expect(text).toMatch(/smtp: FAILS at auth; imap: FAILS at login/);
    expect(text).not.toContain('not-the-password');
    nothingSent();
  });

  it('a wrong port: the TCP connection refused, with the hint about ports, exit 1', async () => {
    const r = await checkPec(configWith({ pass: dovecot.pass, smtpPort: closedPort, imapPort: closedPort }));
    expect(r.ok).toBe(false);
    expect(step(r, 'smtp', 'dns')?.ok).toBe(true);
    for (const svc of ['smtp', 'imap'])
      expect(step(r, svc, 'tcp')).toMatchObject({
        ok: false,
        detail: expect.stringMatching(/ECONNREFUSED/) as string,
        hint: expect.stringMatching(/nothing listens on that port/) as string,
      });
    expect(step(r, 'smtp', 'auth')).toBeUndefined();
    expect(step(r, 'imap', 'login')).toBeUndefined();
    nothingSent();
  });

  it('the command: exit 0 when everything works, 1 otherwise, with --json', async () => {
    const run = promisify(execFile);
    const cli = (cfg: string) =>
      run(process.execPath, [CLI, 'check', 'pec', '--json', '--config', cfg]).then(
        (r) => ({ code: 0, stdout: r.stdout }),
        (e: { code: number; stdout: string }) => e,
      );
    configWith({ pass: dovecot.pass });
    const good = await cli(path.join(t.dir, `c${n}`, 'fatturad.yaml'));
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ channel: 'pec', ok: true });
    configWith({ pass: 'wrong' });
    const bad = await cli(path.join(t.dir, `c${n}`, 'fatturad.yaml'));
    expect(bad.code).toBe(1);
    const json = JSON.parse(bad.stdout) as { ok: boolean; steps: { step: string; ok: boolean }[] };
    expect(json.ok).toBe(false);
    expect(json.steps.filter((s) => !s.ok).map((s) => s.step)).toEqual(['auth', 'login']);
    nothingSent();
  });

  it('TLS refused: IMAPS on a port without TLS, an SMTP certificate nobody vouches for; exit 1', async () => {
    const r = await checkPec(configWith({ pass: dovecot.pass, imapSecure: true, smtpCa: false }));
    expect(r.ok).toBe(false);
    expect(step(r, 'imap', 'tcp')?.ok).toBe(true);
    expect(step(r, 'imap', 'tls')).toMatchObject({
      ok: false,
      hint: expect.stringMatching(/does not speak TLS on this port/) as string,
    });
    expect(step(r, 'imap', 'login')).toBeUndefined();
    expect(step(r, 'smtp', 'tls')?.ok).toBe(true);
    expect(step(r, 'smtp', 'certificate')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/not trusted: .*issued by fatturad SdI simulator CA/) as string,
    });
    // No password went to a server that could not be trusted.
    expect(step(r, 'smtp', 'auth')).toBeUndefined();
    nothingSent();
  });
});
