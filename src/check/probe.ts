import dns from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';

/**
 * The steps shared by `fatturad check pec` and `check sdicoop`: name resolution, TCP connect and
 * a TLS handshake, each said in words with what to do when it fails. Nothing here sends data
 * beyond what the protocol's greeting needs.
 */

export interface CheckStep {
  /** smtp, imap, sdicoop, ... */
  service: string;
  /** dns, tcp, tls, starttls, auth, login, folders, quota, client-cert, ... */
  step: string;
  ok: boolean;
  /** What was found, one sentence. Never a password. */
  detail: string;
  /** What to do about it, when it failed. */
  hint?: string;
  /** Informational: neither a success nor a failure counts (e.g. a server without QUOTA). */
  info?: boolean;
}

export class CheckReport {
  readonly steps: CheckStep[] = [];

  add(step: CheckStep): CheckStep {
    this.steps.push(step);
    return step;
  }

  get ok(): boolean {
    return this.steps.length > 0 && this.steps.every((s) => s.ok || s.info);
  }
}

export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

export async function dnsStep(service: string, host: string): Promise<CheckStep> {
  if (net.isIP(host)) return { service, step: 'dns', ok: true, detail: `${host} is an IP address` };
  try {
    const all = await dns.promises.lookup(host, { all: true });
    return {
      service,
      step: 'dns',
      ok: true,
      detail: `${host} resolves to ${all.map((a) => a.address).join(', ')}`,
    };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      service,
      step: 'dns',
      ok: false,
      detail: `${host} does not resolve (${code ?? errorText(err)})`,
      hint:
        code === 'ENOTFOUND'
          ? 'check the host name for typos (docs/channel-pec.md lists the main providers); the name does not exist'
          : "check this machine's DNS resolver (/etc/resolv.conf) and its network",
    };
  }
}

export async function tcpStep(
  service: string,
  host: string,
  port: number,
  timeoutMs: number,
): Promise<CheckStep> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (step: CheckStep): void => {
      socket.destroy();
      resolve(step);
    };
    socket.setTimeout(timeoutMs, () =>
      done({
        service,
        step: 'tcp',
        ok: false,
        detail: `no answer from ${host}:${port} within ${timeoutMs} ms`,
        hint: 'a firewall may drop the connection (outbound to this port must be open), or the port is wrong',
      }),
    );
    socket.once('connect', () =>
      done({ service, step: 'tcp', ok: true, detail: `connected to ${host}:${port}` }),
    );
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done({
        service,
        step: 'tcp',
        ok: false,
        detail: `cannot connect to ${host}:${port}: ${errorText(err)}`,
        hint:
          err.code === 'ECONNREFUSED'
            ? 'nothing listens on that port: check the port (SMTP 465 with secure: true, or 587 with STARTTLS; IMAP 993)'
            : 'check the host, the port and the network route to it',
      }),
    );
  });
}

/** OpenSSL's words for "this is not TLS at all", as Node reports them. */
function notTls(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const msg = errorText(err);
  return (
    /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|UNKNOWN_PROTOCOL|RECORD_LAYER_FAILURE/i.test(code) ||
    /wrong version number|packet length too long|unknown protocol|socket disconnected before secure TLS connection/i.test(
      msg,
    )
  );
}

/** CN (or O) of a certificate's subject or issuer, for a sentence. */
function name(dn: tls.Certificate | undefined): string {
  const v = dn?.CN ?? dn?.O;
  if (v === undefined) return '?';
  return Array.isArray(v) ? v.join(', ') : v;
}

export interface TlsProbeOptions {
  service: string;
  host: string;
  port: number;
  timeoutMs: number;
  ca?: Buffer[];
  /** A client identity to present (SDICoop). */
  identity?: { cert?: Buffer; key?: Buffer; pfx?: Buffer; passphrase?: string };
  /**
   * Also sends one `HEAD <path>` request once connected and reads the status line: with TLS 1.3 a
   * server that refuses the client certificate says so only after the handshake.
   */
  httpPath?: string;
}

export interface TlsProbeResult {
  steps: CheckStep[];
  /** The HTTP status line, when `httpPath` was asked and the server answered. */
  httpStatus?: string;
}

/**
 * A TLS handshake on a fresh connection: whether the server speaks TLS there, its certificate
 * (subject, issuer, expiry, whether it is trusted and matches the host name), and, with a client
 * identity, whether the server took it.
 */
export async function tlsProbe(o: TlsProbeOptions): Promise<TlsProbeResult> {
  const { service, host, port } = o;
  return new Promise((resolve) => {
    const steps: CheckStep[] = [];
    let settled = false;
    let handshook = false;
    let response = '';
    const socket = tls.connect({
      host,
      port,
      ...(net.isIP(host) ? {} : { servername: host }),
      ...(o.ca?.length ? { ca: o.ca } : {}),
      ...(o.identity ?? {}),
      // Judged below, so that an untrusted certificate is described rather than only refused.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    });
    const finish = (): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      const status = /^HTTP\/\d(?:\.\d)? \d{3}[^\r\n]*/.exec(response)?.[0];
      resolve({ steps, ...(status ? { httpStatus: status } : {}) });
    };
    socket.setTimeout(o.timeoutMs, () => {
      if (!handshook)
        steps.push({
          service,
          step: 'tls',
          ok: false,
          detail: `no TLS handshake with ${host}:${port} within ${o.timeoutMs} ms`,
          hint: 'the server may expect STARTTLS on this port (secure: false), or implicit TLS on another port',
        });
      else if (o.httpPath && !response)
        steps.push({
          service,
          step: 'client-cert',
          ok: false,
          detail: `no answer to an HTTP request within ${o.timeoutMs} ms`,
        });
      finish();
    });
    socket.once('secureConnect', () => {
      handshook = true;
      const cert = socket.getPeerCertificate();
      const proto = socket.getProtocol() ?? 'TLS';
      const who = cert?.subject
        ? `${name(cert.subject)}, issued by ${name(cert.issuer)}, valid until ${cert.valid_to}`
        : 'no certificate';
      steps.push({ service, step: 'tls', ok: true, detail: `${proto} handshake with ${host}:${port}` });
      const nameError = cert?.subject ? tls.checkServerIdentity(host, cert) : new Error('no certificate');
      if (!socket.authorized || nameError) {
        const why = socket.authorized ? errorText(nameError) : String(socket.authorizationError);
        steps.push({
          service,
          step: 'certificate',
          ok: false,
          detail: `the server's certificate is not trusted: ${why} (${who})`,
          hint: /SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY/.test(why)
            ? "give the CA that issued it (the `ca` key, PEM), or check that you reach the provider's real server"
            : /EXPIRED/.test(why)
              ? "the server's certificate has expired: tell the provider"
              : 'the host name in the configuration must be one the certificate names',
        });
      } else steps.push({ service, step: 'certificate', ok: true, detail: `trusted: ${who}` });
      if (!o.httpPath) {
        finish();
        return;
      }
      socket.write(`HEAD ${o.httpPath} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (d: Buffer) => {
      if (response.length < 4096) response += d.toString('latin1');
    });
    socket.once('end', () => {
      if (handshook && o.httpPath) {
        if (response)
          steps.push({
            service,
            step: 'client-cert',
            ok: true,
            detail: `the server took the client certificate and answered: ${/^[^\r\n]*/.exec(response)?.[0] ?? ''}`,
          });
        else
          steps.push({
            service,
            step: 'client-cert',
            ok: false,
            detail: 'the server closed the connection without an answer after the handshake',
            hint: 'the server probably refused the client certificate: check that it is the one SdI issued',
          });
      }
      finish();
    });
    socket.once('error', (err) => {
      if (!handshook) {
        steps.push({
          service,
          step: 'tls',
          ok: false,
          detail: `TLS handshake with ${host}:${port} failed: ${errorText(err)}`,
          hint: notTls(err)
            ? 'the server does not speak TLS on this port: it may expect STARTTLS (secure: false, port 587 or 143) or implicit TLS on another port (465, 993)'
            : o.identity
              ? 'the server refused the handshake: check the client certificate and that the server is the right one'
              : 'check the port and the TLS mode (secure)',
        });
      } else if (o.httpPath && !response) {
        steps.push({
          service,
          step: 'client-cert',
          ok: false,
          detail: `the server refused the connection after the handshake: ${errorText(err)}`,
          hint: 'the client certificate is not one the server accepts: use the certificate SdI issued at accreditation, with its key, and check it with `fatturad credentials`',
        });
      }
      finish();
    });
  });
}
