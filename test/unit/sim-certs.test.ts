import { execFileSync } from 'node:child_process';
import { X509Certificate as X509 } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createStandaloneCa,
  ensureSimPki,
  issueClientCert,
  type SimPki,
  type StandaloneCa,
} from '../../src/sim/certs.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The simulator's PKI made with pkijs: files and modes, reuse and renewal, and above all that the
 * certificates work for mutual TLS on loopback (and that the wrong ones are refused).
 */

const DAY = 86_400_000;
const tmp = tempDir('fatturad-simpki-');
let pki: SimPki;
let rogue: StandaloneCa;

beforeAll(async () => {
  pki = await ensureSimPki(path.join(tmp.dir, 'pki'));
  rogue = await createStandaloneCa(path.join(tmp.dir, 'rogue'), 'Rogue CA');
});
afterAll(() => tmp.cleanup());

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
}
const mode = (p: string): number => fs.statSync(p).mode & 0o777;
const read = (p: string): Buffer => fs.readFileSync(p);
const openssl = (args: string[]): string =>
  execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString('utf8');
const notAfter = (certFile: string): number => Date.parse(new X509(read(certFile)).validTo);

describe('ensureSimPki: files', () => {
  it('creates the CA, the SdI and the fatturad identities as PEM, keys 0600, folder 0700', () => {
    expect(pki.created).toBe(true);
    expect(mode(pki.dir)).toBe(0o700);
    for (const key of [pki.caKey, pki.sdi.key, pki.trasmittente.key]) {
      expect(mode(key)).toBe(0o600);
      expect(read(key).toString()).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    }
    for (const cert of [pki.caCert, pki.sdi.cert, pki.trasmittente.cert]) {
      expect(read(cert).toString()).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    }
    // No temp files left behind.
    expect(fs.readdirSync(pki.dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('gives the certificates the names, validity and serials asked for', () => {
    const ca = new X509(read(pki.caCert));
    const sdi = new X509(read(pki.sdi.cert));
    const me = new X509(read(pki.trasmittente.cert));
    expect(ca.ca).toBe(true);
    expect(sdi.ca).toBe(false);
    expect(sdi.subject).toContain('CN=SdI simulator');
    expect(me.subject).toContain('CN=fatturad');
    for (const c of [sdi, me]) {
      expect(c.checkIssued(ca)).toBe(true);
      expect(c.verify(ca.publicKey)).toBe(true);
      expect(c.checkHost('localhost')).toBe('localhost');
      expect(c.checkIP('127.0.0.1')).toBe('127.0.0.1');
      expect(c.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
      const from = Date.parse(c.validFrom);
      const to = Date.parse(c.validTo);
      // Starts an hour back (to the second), lasts 825 days from now.
      expect(Date.now() - from).toBeGreaterThan(3_500_000);
      expect(Date.now() - from).toBeLessThan(3_700_000);
      expect(Math.abs(to - (Date.now() + 825 * DAY))).toBeLessThan(120_000);
    }
    const serials = [ca, sdi, me].map((c) => c.serialNumber);
    expect(new Set(serials).size).toBe(3);
    for (const s of serials) expect(parseInt(s.slice(0, 2), 16)).toBeLessThan(0x80);
  });

  it('reuses valid files on the next call', async () => {
    const before = read(pki.trasmittente.cert);
    const again = await ensureSimPki(pki.dir);
    expect(again.created).toBe(false);
    expect(again.trasmittente.cert).toBe(pki.trasmittente.cert);
    expect(read(pki.trasmittente.cert).equals(before)).toBe(true);
  });

  it('regenerates everything when the certificates expire within 7 days', async () => {
    const dir = path.join(tmp.dir, 'near-expiry');
    // Made 820 days ago with the default 825 days of validity: 5 days left.
    const old = await ensureSimPki(dir, { now: new Date(Date.now() - 820 * DAY) });
    expect(old.created).toBe(true);
    const oldCa = read(old.caCert);
    // Still fine as seen from the day it was made...
    expect((await ensureSimPki(dir, { now: new Date(Date.now() - 800 * DAY) })).created).toBe(false);
    // ...but not today.
    const renewed = await ensureSimPki(dir);
    expect(renewed.created).toBe(true);
    expect(read(renewed.caCert).equals(oldCa)).toBe(false);
    expect(notAfter(renewed.sdi.cert)).toBeGreaterThan(Date.now() + 800 * DAY);
    expect((await ensureSimPki(dir)).created).toBe(false);
  });

  it('regenerates when made with a validity shorter than 7 days', async () => {
    const dir = path.join(tmp.dir, 'short');
    const short = await ensureSimPki(dir, { days: 3 });
    expect(short.created).toBe(true);
    expect(notAfter(short.sdi.cert)).toBeLessThan(Date.now() + 4 * DAY);
    expect((await ensureSimPki(dir, { days: 30 })).created).toBe(true);
    expect((await ensureSimPki(dir)).created).toBe(false);
  });

  it('regenerates when a file is missing, damaged or no longer chains to the CA', async () => {
    const dir = path.join(tmp.dir, 'damaged');
    const p = await ensureSimPki(dir);
    fs.rmSync(p.sdi.key);
    expect((await ensureSimPki(dir)).created).toBe(true);
    fs.writeFileSync(p.trasmittente.cert, 'garbage');
    expect((await ensureSimPki(dir)).created).toBe(true);
    // A leaf from another CA in place of fatturad's certificate (with its own key).
    fs.copyFileSync(rogue.client.cert, p.trasmittente.cert);
    fs.copyFileSync(rogue.client.key, p.trasmittente.key);
    expect((await ensureSimPki(dir)).created).toBe(true);
    // The CA's key swapped for another one.
    fs.copyFileSync(rogue.caKey, p.caKey);
    expect((await ensureSimPki(dir)).created).toBe(true);
    expect((await ensureSimPki(dir)).created).toBe(false);
  });

  it('puts a key it reuses back to 0600', async () => {
    const dir = path.join(tmp.dir, 'loose');
    const p = await ensureSimPki(dir);
    fs.chmodSync(p.sdi.key, 0o644);
    expect((await ensureSimPki(dir)).created).toBe(false);
    expect(mode(p.sdi.key)).toBe(0o600);
  });
});

describe('ensureSimPki: openssl agrees', () => {
  it('openssl verify accepts both leaves against ca.pem, for their TLS purposes', () => {
    for (const leaf of [pki.sdi.cert, pki.trasmittente.cert]) {
      expect(openssl(['verify', '-CAfile', pki.caCert, leaf])).toBe(`${leaf}: OK\n`);
      expect(openssl(['verify', '-purpose', 'sslserver', '-CAfile', pki.caCert, leaf])).toContain('OK');
      expect(openssl(['verify', '-purpose', 'sslclient', '-CAfile', pki.caCert, leaf])).toContain('OK');
    }
  });

  it('openssl verify refuses a certificate from another CA', () => {
    expect(() => openssl(['verify', '-CAfile', pki.caCert, rogue.client.cert])).toThrow();
  });

  it('openssl x509 -text shows the extensions on the leaves', () => {
    for (const leaf of [pki.sdi.cert, pki.trasmittente.cert]) {
      const text = openssl(['x509', '-noout', '-text', '-in', leaf]);
      expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
      expect(text).toContain('NIST CURVE: P-256');
      expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
      expect(text).toMatch(
        /X509v3 Extended Key Usage:\s*\n\s+TLS Web Server Authentication, TLS Web Client Authentication/,
      );
      expect(text).toMatch(/X509v3 Subject Alternative Name:\s*\n\s+DNS:localhost, IP Address:127\.0\.0\.1/);
      expect(text).toContain('X509v3 Subject Key Identifier');
      expect(text).toContain('X509v3 Authority Key Identifier');
    }
  });

  it('openssl x509 -text shows a CA with critical basicConstraints and keyCertSign+cRLSign', () => {
    const text = openssl(['x509', '-noout', '-text', '-in', pki.caCert]);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    const ski = /Subject Key Identifier:\s*\n\s+([0-9A-F:]+)/.exec(text)?.[1];
    expect(ski).toBeTruthy();
    const leaf = openssl(['x509', '-noout', '-text', '-in', pki.sdi.cert]);
    expect(/Authority Key Identifier:\s*\n\s+(?:keyid:)?([0-9A-F:]+)/.exec(leaf)?.[1]).toBe(ski);
  });
});

describe('mutual TLS on loopback with the simulator PKI', () => {
  let server: https.Server;
  let port: number;
  const peers: string[] = [];
  const refused: string[] = [];

  beforeAll(async () => {
    server = https.createServer(
      {
        cert: read(pki.sdi.cert),
        key: read(pki.sdi.key),
        ca: [read(pki.caCert)],
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
      },
      (req: IncomingMessage, res: ServerResponse) => {
        const cn = (req.socket as TLSSocket).getPeerCertificate().subject?.CN;
        peers.push(typeof cn === 'string' ? cn : '');
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello ${String(cn)}`);
      },
    );
    server.on('tlsClientError', (err: Error) => refused.push(err.message));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function get(opts: https.RequestOptions): Promise<{ status: number; body: string; serverCn: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port, path: '/', method: 'GET', agent: false, timeout: 10_000, ...opts },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const cn = (res.socket as TLSSocket | null)?.getPeerCertificate?.().subject?.CN;
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString(),
              serverCn: typeof cn === 'string' ? cn : '',
            });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });
  }

  const me = (): https.RequestOptions => ({
    cert: read(pki.trasmittente.cert),
    key: read(pki.trasmittente.key),
    ca: [read(pki.caCert)],
  });

  it('accepts fatturad and the server sees CN=fatturad (server checked as localhost)', async () => {
    const before = peers.length;
    const r = await get({ ...me(), servername: 'localhost' });
    expect(r.status).toBe(200);
    expect(r.body).toBe('hello fatturad');
    expect(r.serverCn).toBe('SdI simulator');
    expect(peers.slice(before)).toEqual(['fatturad']);
  });

  it('verifies the server by its IP address 127.0.0.1 too', async () => {
    // No servername: Node checks the IP SAN against the host.
    const r = await get(me());
    expect(r.status).toBe(200);
    expect(r.serverCn).toBe('SdI simulator');
  });

  it.each(['TLSv1.2', 'TLSv1.3'] as const)('works over %s', async (version) => {
    const r = await get({ ...me(), servername: 'localhost', minVersion: version, maxVersion: version });
    expect(r.status).toBe(200);
  });

  it('accepts another client issued by the same CA', async () => {
    const other = await issueClientCert(pki, 'Second Client', path.join(tmp.dir, 'clients'));
    expect(mode(other.key)).toBe(0o600);
    expect(openssl(['verify', '-purpose', 'sslclient', '-CAfile', pki.caCert, other.cert])).toContain('OK');
    const r = await get({ cert: read(other.cert), key: read(other.key), ca: [read(pki.caCert)] });
    expect(r.body).toBe('hello Second Client');
  });

  it('refuses a client without a certificate', async () => {
    const before = peers.length;
    const refusedBefore = refused.length;
    await expect(get({ ca: [read(pki.caCert)], servername: 'localhost' })).rejects.toThrow(
      /certificate required|socket hang up|ECONNRESET/,
    );
    expect(peers.length).toBe(before);
    await waitFor(() => refused.length > refusedBefore);
    expect(refused.slice(refusedBefore).join('\n')).toMatch(/peer did not return a certificate/i);
  });

  it('refuses a client whose certificate comes from another CA, even with CN=fatturad', async () => {
    const before = peers.length;
    const refusedBefore = refused.length;
    await expect(
      get({ cert: read(rogue.client.cert), key: read(rogue.client.key), ca: [read(pki.caCert)] }),
    ).rejects.toThrow(/unknown ca|socket hang up|ECONNRESET|disconnected/i);
    // Node's server drops the connection once the handshake shows the chain does not verify: the
    // handler never runs and the server reports a TLS client error.
    expect(peers.length).toBe(before);
    await waitFor(() => refused.length > refusedBefore);
    expect(refused.length).toBeGreaterThan(refusedBefore);
  });

  it('the client refuses the server when it trusts another CA', async () => {
    await expect(get({ ...me(), ca: [read(rogue.caCert)], servername: 'localhost' })).rejects.toThrow(
      /certificate/i,
    );
  });

  it('the client refuses the server under a name the certificate does not carry', async () => {
    await expect(get({ ...me(), servername: 'sdi.example.it' })).rejects.toThrow(/altnames|Hostname/i);
  });
});
