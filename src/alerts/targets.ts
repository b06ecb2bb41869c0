import fs from 'node:fs';
import { createTransport, type Transporter } from 'nodemailer';
import type { Config } from '../config/schema.js';
import { emailOf, sign, type AlertMessage } from './message.js';

/** Where alerts go: an SMTP account (normal or PEC) and/or a webhook. */
export interface AlertTarget {
  readonly name: 'email' | 'webhook';
  /** Where, for the log and `fatturad alerts test` (never a secret). */
  readonly where: string;
  /** Resolves with what the other side answered; rejects with why it failed. */
  send(m: AlertMessage, body: string): Promise<string>;
  close(): void;
}

export class AlertSecretError extends Error {
  override name = 'AlertSecretError';
}

/** A secret from its file (which wins) or its environment variable; never logged. */
function readSecret(what: string, file: string, envName: string): string {
  if (file) {
    try {
      return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new AlertSecretError(
        `${what}: cannot read the file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  }
  const v = envName ? process.env[envName] : undefined;
  if (v === undefined)
    throw new AlertSecretError(
      envName
        ? `${what}: the environment variable ${envName} is not set`
        : `${what}: no source (a variable or a file)`,
    );
  return v;
}

class EmailTarget implements AlertTarget {
  readonly name = 'email';
  readonly where: string;
  private readonly transport: Transporter;
  constructor(private readonly c: Config['alerts']['email']) {
    this.where = `${c.to.join(', ')} via ${c.host}:${c.port}`;
    const pass = c.user ? readSecret('alerts.email password', c.passwordFile, c.passwordEnv) : undefined;
    const ca = c.ca.map((f) => fs.readFileSync(f));
    this.transport = createTransport({
      host: c.host,
      port: c.port,
      secure: c.secure,
      requireTLS: !c.secure && c.requireTls,
      ...(c.user ? { auth: { user: c.user, pass } } : {}),
      ...(ca.length ? { tls: { ca } } : {}),
      connectionTimeout: c.timeoutMs,
      greetingTimeout: c.timeoutMs,
      socketTimeout: c.timeoutMs,
    });
  }

  async send(m: AlertMessage): Promise<string> {
    const { subject, text } = emailOf(m);
    const info = (await this.transport.sendMail({
      from: this.c.from,
      to: this.c.to,
      subject,
      text,
      headers: { 'X-Fatturad-Alert-Id': m.id, 'X-Fatturad-Alert-Kind': m.kind },
    })) as { response?: string };
    return info.response ?? 'accepted';
  }

  close(): void {
    this.transport.close();
  }
}

class WebhookTarget implements AlertTarget {
  readonly name = 'webhook';
  readonly where: string;
  private readonly secret: string;
  constructor(private readonly c: Config['alerts']['webhook']) {
    const u = new URL(c.url);
    // Never the URL's credentials or query (a token may sit there).
    this.where = `${u.protocol}//${u.host}${u.pathname}`;
    this.secret = readSecret('alerts.webhook secret', c.secretFile, c.secretEnv);
  }

  async send(m: AlertMessage, body: string): Promise<string> {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const res = await fetch(this.c.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'fatturad-alerts/1',
        'x-fatturad-alert-id': m.id,
        'x-fatturad-timestamp': timestamp,
        'x-fatturad-signature': sign(this.secret, timestamp, body),
      },
      body,
      signal: AbortSignal.timeout(this.c.timeoutMs),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status < 200 || res.status >= 300) throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
    return `HTTP ${res.status}`;
  }

  close(): void {}
}

/** The configured targets; throws AlertSecretError when a secret cannot be read. */
export function openTargets(c: Config['alerts']): AlertTarget[] {
  const out: AlertTarget[] = [];
  if (c.email.host) out.push(new EmailTarget(c.email));
  if (c.webhook.url) out.push(new WebhookTarget(c.webhook));
  return out;
}

/** A failure in one line, with the cause fetch hides (ECONNREFUSED...). */
export function failureText(err: unknown): string {
  const e = err as Error & {
    cause?: { code?: string; message?: string };
    code?: string;
    responseCode?: number;
  };
  const cause = e.cause?.code ?? e.cause?.message;
  return [e.message, e.code && !e.message.includes(e.code) ? e.code : '', cause ? `(${cause})` : '']
    .filter(Boolean)
    .join(' ');
}
