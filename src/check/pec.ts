import fs from 'node:fs';
import { ImapFlow } from 'imapflow';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { describeQuota, readQuota } from '../channels/pec/quota.js';
import type { Config } from '../config/schema.js';
import { CheckReport, dnsStep, errorText, tcpStep, tlsProbe, type CheckStep } from './probe.js';

/**
 * `fatturad check pec`: logs in to the PEC provider's SMTP and IMAP servers with the configured
 * secrets and says what works and what does not, step by step (DNS, TCP, TLS and the server's
 * certificate, STARTTLS, AUTH, IMAP LOGIN, the folders, the quota). It never sends a message:
 * the SMTP session ends after AUTH (no MAIL FROM), the IMAP one only lists and reads the quota.
 */

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** A secret from its file or variable (the same rule as the daemon: the file wins). */
function secret(file: string, env: string): { ok: true; value: string } | { ok: false; problem: string } {
  if (file) {
    try {
      return { ok: true, value: fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '') };
    } catch (err) {
      return { ok: false, problem: `cannot read the password file ${file}: ${errorText(err)}` };
    }
  }
  if (env) {
    const v = process.env[env];
    return v === undefined
      ? { ok: false, problem: `the environment variable ${env} (the password) is not set` }
      : { ok: true, value: v };
  }
  return { ok: false, problem: 'no password source: set passwordEnv or passwordFile' };
}

function readCas(files: string[]): Buffer[] {
  return files.map((f) => fs.readFileSync(f));
}

async function checkSmtp(
  report: CheckReport,
  s: Config['channel']['pec']['smtp'],
  user: string,
  pass: string,
): Promise<void> {
  const service = 'smtp';
  const dns = report.add(await dnsStep(service, s.host));
  if (!dns.ok) return;
  const tcp = report.add(await tcpStep(service, s.host, s.port, s.timeoutMs));
  if (!tcp.ok) return;
  const ca = readCas(s.ca);
  if (s.secure) {
    const t = await tlsProbe({ service, host: s.host, port: s.port, timeoutMs: s.timeoutMs, ca });
    for (const step of t.steps) report.add(step);
    if (!t.steps.every((x) => x.ok)) return;
  }
  const conn = new SMTPConnection({
    host: s.host,
    port: s.port,
    secure: s.secure,
    // Opportunistic: whether the server offers STARTTLS is what is being checked.
    requireTLS: false,
    ignoreTLS: false,
    tls: { ...(ca.length ? { ca } : {}), minVersion: 'TLSv1.2', rejectUnauthorized: true },
    connectionTimeout: s.timeoutMs,
    greetingTimeout: s.timeoutMs,
    socketTimeout: s.timeoutMs,
    logger: false,
  });
  conn.on('error', () => undefined);
  try {
    const connected = await new Promise<Error | null>((resolve) =>
      conn.connect((err) => resolve(err ?? null)),
    );
    if (connected) {
      const code = (connected as { code?: string }).code;
      report.add({
        service,
        step: code === 'ETLS' ? 'starttls' : 'greeting',
        ok: false,
        detail: `the SMTP session could not start: ${errorText(connected)}`,
        hint:
          code === 'ETLS'
            ? 'STARTTLS failed: check the CA (`ca`) or use implicit TLS (secure: true, port 465)'
            : 'the server did not greet as an SMTP server: check the port',
      });
      return;
    }
    report.add({
      service,
      step: 'greeting',
      ok: true,
      detail: 'the server greeted as an SMTP server (EHLO accepted)',
    });
    if (!s.secure) {
      if (conn.secure)
        report.add({
          service,
          step: 'starttls',
          ok: true,
          detail: 'STARTTLS offered and the connection upgraded',
        });
      else
        report.add({
          service,
          step: 'starttls',
          ok: !s.requireTls || isLoopback(s.host),
          ...(isLoopback(s.host) ? { info: true } : {}),
          detail: 'the server does not offer STARTTLS: the password would travel in clear',
          hint: 'use implicit TLS (secure: true, port 465): PEC providers require TLS',
        });
      if (!conn.secure && s.requireTls && !isLoopback(s.host)) return;
    }
    const auth = await new Promise<Error | null>((resolve) =>
      conn.login({ user, pass }, (err) => resolve(err ?? null)),
    );
    if (auth) {
      const response = (auth as { response?: string }).response;
      report.add({
        service,
        step: 'auth',
        ok: false,
        detail: `AUTH refused for ${user}${response ? `: ${response}` : `: ${errorText(auth)}`}`,
        hint: 'check the login (smtp.user, default the PEC address) and the password in the variable or file it names; some providers lock a mailbox after repeated failures',
      });
      return;
    }
    report.add({ service, step: 'auth', ok: true, detail: `AUTH accepted for ${user}; nothing was sent` });
  } finally {
    conn.quit();
    conn.close();
  }
}

async function checkImap(
  report: CheckReport,
  i: Config['channel']['pec']['imap'],
  user: string,
  pass: string,
): Promise<void> {
  const service = 'imap';
  const dns = report.add(await dnsStep(service, i.host));
  if (!dns.ok) return;
  const tcp = report.add(await tcpStep(service, i.host, i.port, i.timeoutMs));
  if (!tcp.ok) return;
  const ca = readCas(i.ca);
  if (i.secure) {
    const t = await tlsProbe({ service, host: i.host, port: i.port, timeoutMs: i.timeoutMs, ca });
    for (const step of t.steps) report.add(step);
    if (!t.steps.every((x) => x.ok)) return;
  }
  const client = new ImapFlow({
    host: i.host,
    port: i.port,
    secure: i.secure,
    auth: { user, pass },
    logger: false,
    clientInfo: { name: 'fatturad' },
    disableAutoIdle: true,
    tls: { ...(ca.length ? { ca } : {}), rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    socketTimeout: i.timeoutMs,
    connectionTimeout: i.timeoutMs,
    greetingTimeout: i.timeoutMs,
  });
  client.on('error', () => undefined);
  try {
    try {
      await client.connect();
    } catch (err) {
      const e = err as { authenticationFailed?: boolean; responseText?: string; serverResponseCode?: string };
      if (e.authenticationFailed)
        report.add({
          service,
          step: 'login',
          ok: false,
          detail: `IMAP LOGIN refused for ${user}${e.responseText ? `: ${e.responseText}` : ''}`,
          hint: 'check the login (imap.user, default the SMTP one) and the password in the variable or file it names',
        });
      else
        report.add({
          service,
          step: 'login',
          ok: false,
          detail: `the IMAP session could not start: ${errorText(err)}`,
          hint: 'check the port and the TLS mode (secure: true for 993)',
        });
      return;
    }
    if (!i.secure) {
      const loop = isLoopback(i.host);
      report.add(
        client.secureConnection
          ? { service, step: 'starttls', ok: true, detail: 'STARTTLS offered and the connection upgraded' }
          : {
              service,
              step: 'starttls',
              ok: loop,
              ...(loop ? { info: true } : {}),
              detail: `the server does not offer STARTTLS: the password travels in clear${loop ? ' (on loopback)' : ''}`,
              hint: 'use IMAPS (secure: true, port 993): PEC providers require TLS',
            },
      );
    }
    report.add({ service, step: 'login', ok: true, detail: `IMAP LOGIN accepted for ${user}` });
    const list = await client.list();
    const names = list.map((m) => m.path);
    const has = (name: string): boolean =>
      names.some((n) => n === name || (name.toUpperCase() === 'INBOX' && n.toUpperCase() === 'INBOX'));
    report.add({
      service,
      step: 'folders',
      ok: has(i.mailbox),
      detail: `folders: ${names.join(', ') || '(none)'}; ${has(i.mailbox) ? `${i.mailbox} is there` : `${i.mailbox} (imap.mailbox) is not there`}`,
      ...(has(i.mailbox)
        ? {}
        : { hint: "set imap.mailbox to the folder SdI's messages arrive in (usually INBOX)" }),
    });
    if (i.moveTo)
      report.add({
        service,
        step: 'move-to',
        ok: true,
        info: !has(i.moveTo),
        detail: has(i.moveTo)
          ? `${i.moveTo} (imap.moveTo) is there`
          : `${i.moveTo} (imap.moveTo) is not there yet: the daemon creates it`,
      });
    const quota = await readQuota(client, i.mailbox).catch((err: unknown) => {
      report.add({
        service,
        step: 'quota',
        ok: true,
        info: true,
        detail: `the quota could not be read: ${errorText(err)}`,
      });
      return undefined;
    });
    if (quota === null)
      report.add({
        service,
        step: 'quota',
        ok: true,
        info: true,
        detail:
          "the server does not report a quota (no IMAP QUOTA): watch the mailbox's size in the provider's web mail",
      });
    else if (quota) {
      const full = quota.percent >= i.quota.warnPercent;
      report.add({
        service,
        step: 'quota',
        ok: !full,
        detail: `${describeQuota(quota)}; warned at ${i.quota.warnPercent} %`,
        ...(full
          ? {
              hint: "the mailbox is nearly full: a full PEC mailbox refuses SdI's messages; move or delete old mail",
            }
          : {}),
      });
    }
  } finally {
    if (client.usable) await client.logout().catch(() => undefined);
    else client.close();
  }
}

/** Runs every check of the PEC channel; never throws for a network problem (it is a finding). */
export async function checkPec(config: Config): Promise<CheckReport> {
  const report = new CheckReport();
  const c = config.channel.pec;
  const config_ = (step: string, detail: string, hint?: string): CheckStep =>
    report.add({ service: 'config', step, ok: false, detail, ...(hint ? { hint } : {}) });
  if (config.channel.type !== 'pec')
    report.add({
      service: 'config',
      step: 'channel',
      ok: true,
      info: true,
      detail: `channel.type is ${config.channel.type}: checking the channel.pec section anyway`,
    });
  if (!c.address) config_('address', 'channel.pec.address is empty', "set fatturad's PEC address");
  const smtpUser = c.smtp.user || c.address;
  const imapUser = c.imap.user || smtpUser;
  const smtpPass = secret(c.smtp.passwordFile, c.smtp.passwordEnv);
  const imapPass =
    c.imap.passwordFile || c.imap.passwordEnv ? secret(c.imap.passwordFile, c.imap.passwordEnv) : smtpPass;
  if (c.simulator)
    report.add({
      service: 'smtp',
      step: 'simulator',
      ok: true,
      info: true,
      detail:
        'channel.pec.simulator is true: files go to the built-in simulator, not to a provider (SMTP not checked)',
    });
  else if (!c.smtp.host)
    config_('smtp', 'channel.pec.smtp.host is empty', "set the PEC provider's SMTP server");
  else if (!smtpPass.ok) config_('smtp-password', `channel.pec.smtp: ${smtpPass.problem}`);
  else {
    try {
      await checkSmtp(report, c.smtp, smtpUser, smtpPass.value);
    } catch (err) {
      report.add({ service: 'smtp', step: 'check', ok: false, detail: errorText(err) });
    }
  }
  if (!c.imap.host) config_('imap', 'channel.pec.imap.host is empty', "set the PEC mailbox's IMAP server");
  else if (!imapPass.ok) config_('imap-password', `channel.pec.imap: ${imapPass.problem}`);
  else {
    try {
      await checkImap(report, c.imap, imapUser, imapPass.value);
    } catch (err) {
      report.add({ service: 'imap', step: 'check', ok: false, detail: errorText(err) });
    }
  }
  return report;
}
