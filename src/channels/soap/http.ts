import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * HTTPS for SOAP, both ways, with mutual TLS (TLS 1.2 or later): a server that only talks to
 * callers whose certificate chains to the configured CAs, and a client call that presents
 * fatturad's certificate and checks the server's. No SOAP knowledge here: bytes in, bytes out.
 */

export interface TlsServerOptions {
  cert?: Buffer;
  key?: Buffer;
  pfx?: Buffer;
  passphrase?: string;
  /** CAs the callers' certificates must chain to. */
  ca: Buffer[];
}

export interface SoapHttpRequest {
  path: string;
  method: string;
  contentType: string | undefined;
  soapAction: string | undefined;
  body: Buffer;
  /** The caller's certificate subject CN (mutual TLS). */
  peer: string;
  query: string;
}

export interface SoapHttpResponse {
  status: number;
  contentType?: string;
  body?: string | Buffer;
}

export type SoapHttpHandler = (req: SoapHttpRequest) => Promise<SoapHttpResponse>;

/** Bodies over this size are refused with 413 before they are read whole. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export class SoapHttpsServer {
  private readonly server: https.Server;

  constructor(tls: TlsServerOptions, handler: SoapHttpHandler) {
    this.server = https.createServer(
      {
        ...(tls.pfx ? { pfx: tls.pfx, passphrase: tls.passphrase } : { cert: tls.cert, key: tls.key }),
        ca: tls.ca,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
      },
      (req: IncomingMessage, res: ServerResponse) => {
        void (async (): Promise<void> => {
          try {
            const socket = req.socket as TLSSocket;
            const peer = socket.getPeerCertificate();
            const body = req.method === 'POST' ? await readBody(req, MAX_BODY_BYTES) : Buffer.alloc(0);
            if (body === null) {
              res.writeHead(413, { 'content-type': 'text/plain' }).end('request too large');
              req.resume();
              return;
            }
            const url = new URL(req.url ?? '/', 'https://localhost');
            const action = req.headers.soapaction;
            const out = await handler({
              path: url.pathname,
              method: req.method ?? 'GET',
              contentType: req.headers['content-type'],
              soapAction: typeof action === 'string' ? action.replace(/^"|"$/g, '') : undefined,
              body,
              peer: typeof peer.subject?.CN === 'string' ? peer.subject.CN : '',
              query: url.search,
            });
            res.writeHead(out.status, out.contentType ? { 'content-type': out.contentType } : {});
            res.end(out.body ?? '');
          } catch {
            if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
            res.end('internal error');
          }
        })();
      },
    );
    // A slow or silent caller must not hold a connection for ever.
    this.server.requestTimeout = 120_000;
    this.server.headersTimeout = 30_000;
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const a = this.server.address() as AddressInfo;
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

export interface TlsClientOptions {
  cert?: Buffer;
  key?: Buffer;
  pfx?: Buffer;
  passphrase?: string;
  /** CAs the server's certificate must chain to. */
  ca: Buffer[];
  timeoutMs: number;
  /** Connections kept open between calls (see `keepAliveAgent`); none: a new connection per call. */
  agent?: https.Agent;
}

/**
 * An agent that keeps TLS connections open between calls, so that a batch of files does not pay
 * one handshake each. The identity and trust are the agent's own.
 */
export function keepAliveAgent(
  tls: Omit<TlsClientOptions, 'agent' | 'timeoutMs'>,
  maxSockets: number,
): https.Agent {
  return new https.Agent({
    keepAlive: true,
    maxSockets,
    ...(tls.pfx ? { pfx: tls.pfx, passphrase: tls.passphrase } : { cert: tls.cert, key: tls.key }),
    ca: tls.ca,
    minVersion: 'TLSv1.2',
    rejectUnauthorized: true,
  });
}

export interface HttpResult {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

/**
 * A failed call. `inDoubt`: the whole request was written and no answer came within the timeout,
 * so the server may have taken it and calling again could deliver the same file twice. Other
 * failures (refused connection, TLS refusal, reset) are taken as "not received": with TLS 1.3 a
 * server refuses a client certificate only after the client has written its request, so "the
 * request was written" alone does not mean the server got it.
 */
export class SoapCallError extends Error {
  override name = 'SoapCallError';
  constructor(
    message: string,
    readonly inDoubt: boolean,
  ) {
    super(message);
  }
}

/** One POST over HTTPS with mutual TLS. Rejects (SoapCallError) on network errors and on timeout. */
export function postSoap(
  url: string,
  body: string | Buffer,
  headers: Record<string, string>,
  tls: TlsClientOptions,
): Promise<HttpResult> {
  return new Promise((resolve, rejectRaw) => {
    let sent = false;
    let timedOut = false;
    const reject = (err: Error): void => rejectRaw(new SoapCallError(err.message, sent && timedOut));
    const u = new URL(url);
    if (u.protocol !== 'https:') {
      reject(new Error(`only https URLs are allowed for SDICoop: ${url}`));
      return;
    }
    const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const req = https.request(
      u,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(payload.length) },
        ...(tls.pfx ? { pfx: tls.pfx, passphrase: tls.passphrase } : { cert: tls.cert, key: tls.key }),
        ca: tls.ca,
        minVersion: 'TLSv1.2',
        rejectUnauthorized: true,
        agent: tls.agent ?? false,
        timeout: tls.timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY_BYTES) {
            req.destroy(new Error('response too large'));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => {
      timedOut = true;
      req.destroy(new Error(`no answer within ${tls.timeoutMs} ms`));
    });
    req.on('finish', () => {
      sent = true;
    });
    req.on('error', reject);
    req.end(payload);
  });
}
