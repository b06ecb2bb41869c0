import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadPkijs } from '../../src/util/pkijs.js';
import type { Issued, TestPki } from './pki.js';

/**
 * A Time-Stamp Authority on 127.0.0.1 for tests: HTTP POSTs of application/timestamp-query are
 * answered by `openssl ts -reply` with a TSA certificate (critical timeStamping EKU) issued at
 * test time by a `TestPki`. `mode` switches it to the faulty answers a client must refuse; the
 * ones OpenSSL will not make (a request it did not receive, a signer without the EKU) are made by
 * editing a genuine query or response with pkijs.
 */

const run = promisify(execFile);

export type TsaMode =
  /** A genuine timestamp. */
  | 'granted'
  /** OpenSSL's own rejection (PKIStatus rejection, badAlg): the TSA accepts only SHA-512 imprints. */
  | 'rejection'
  /** 200 OK with random bytes. */
  | 'garbage'
  /** A genuine timestamp of other data (same nonce). */
  | 'other-imprint'
  /** A genuine timestamp of the data with another nonce. */
  | 'wrong-nonce'
  /** A genuine response followed by extra bytes. */
  | 'trailing-bytes'
  /** HTTP 500. */
  | 'http-500'
  /** Reads the query and never answers. */
  | 'hang'
  /** Re-signed by a certificate without the timeStamping EKU (ESS attribute fixed to match). */
  | 'no-eku'
  /** Re-signed by a certificate whose timeStamping EKU is not critical (ESS fixed to match). */
  | 'eku-not-critical'
  /** Re-signed by another proper TSA certificate, leaving the ESS attribute naming the first. */
  | 'ess-mismatch';

export const TSA_POLICY = '1.3.6.1.4.1.99999.1.1';
export const TSA_OTHER_POLICY = '1.3.6.1.4.1.99999.1.2';

const ESS_V2 = '1.2.840.113549.1.9.16.2.47';

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  const out = new ArrayBuffer(buf.length);
  new Uint8Array(out).set(buf);
  return out;
}

export class TestTsa {
  mode: TsaMode = 'granted';
  /** Headers of the last request, to check what the client sent. */
  lastHeaders: http.IncomingHttpHeaders = {};
  requests = 0;
  private seq = 0;

  private constructor(
    private readonly server: http.Server,
    readonly dir: string,
    readonly url: string,
    /** The CA certificate (PEM file) that issued the TSA certificate. */
    readonly caCert: string,
    readonly tsa: Issued,
    private readonly config: string,
    private readonly resigners: Record<'no-eku' | 'eku-not-critical' | 'ess-mismatch', Issued>,
  ) {}

  /** Starts the TSA; with `https`, behind TLS with a certificate for 127.0.0.1 issued by `pki`. */
  static async start(dir: string, pki: TestPki, opts: { https?: boolean } = {}): Promise<TestTsa> {
    fs.mkdirSync(dir, { recursive: true });
    const tsa = pki.issueTsa('fatturad Test TSA');
    const resigners = {
      'no-eku': pki.issueTsa('TSA without EKU', { eku: 'none' }),
      'eku-not-critical': pki.issueTsa('TSA with non-critical EKU', { eku: 'non-critical' }),
      'ess-mismatch': pki.issueTsa('Second TSA'),
    };
    fs.writeFileSync(path.join(dir, 'tsaserial'), '01\n');
    const section = (digests: string): string[] => [
      `serial = ${path.join(dir, 'tsaserial')}`,
      'crypto_device = builtin',
      `signer_cert = ${tsa.cert}`,
      `certs = ${pki.ca.cert}`,
      `signer_key = ${tsa.key}`,
      'signer_digest = sha256',
      `default_policy = ${TSA_POLICY}`,
      `other_policies = ${TSA_OTHER_POLICY}`,
      `digests = ${digests}`,
      'accuracy = secs:1, millisecs:500, microsecs:100',
      'clock_precision_digits = 0',
      'ordering = yes',
      'tsa_name = yes',
      'ess_cert_id_alg = sha256',
      'ess_cert_id_chain = no',
    ];
    const config = path.join(dir, 'tsa.cnf');
    fs.writeFileSync(
      config,
      [
        '[tsa]',
        'default_tsa = tsa_granting',
        '[tsa_granting]',
        ...section('sha256, sha384, sha512'),
        '[tsa_rejecting]',
        ...section('sha512'),
        '',
      ].join('\n'),
    );
    let server: http.Server;
    if (opts.https) {
      const tlsId = pki.issueWith('127.0.0.1', {
        ext: [
          'basicConstraints = critical,CA:FALSE',
          'extendedKeyUsage = serverAuth',
          'subjectAltName = IP:127.0.0.1',
        ],
      });
      server = https.createServer({ cert: fs.readFileSync(tlsId.cert), key: fs.readFileSync(tlsId.key) });
    } else {
      server = http.createServer();
    }
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const url = `${opts.https ? 'https' : 'http'}://127.0.0.1:${port}/tsr`;
    const t = new TestTsa(server, dir, url, pki.ca.cert, tsa, config, resigners);
    server.on('request', (req, res) => t.handle(req, res));
    return t;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.requests++;
    this.lastHeaders = req.headers;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const query = Buffer.concat(chunks);
      this.answer(query).then(
        (reply) => {
          if (reply === null) return; // hang
          res.writeHead(reply.status, { 'Content-Type': reply.type, 'Content-Length': reply.body.length });
          res.end(reply.body);
        },
        (err: unknown) => {
          res.writeHead(599, { 'Content-Type': 'text/plain' });
          res.end(`test TSA failure: ${err instanceof Error ? err.message : String(err)}`);
        },
      );
    });
  }

  private async answer(query: Buffer): Promise<{ status: number; type: string; body: Buffer } | null> {
    const reply = (body: Buffer): { status: number; type: string; body: Buffer } => ({
      status: 200,
      type: 'application/timestamp-reply',
      body,
    });
    switch (this.mode) {
      case 'hang':
        return null;
      case 'http-500':
        return { status: 500, type: 'text/plain', body: Buffer.from('internal error') };
      case 'garbage':
        return reply(crypto.randomBytes(200));
      case 'rejection':
        return reply(await this.openssl(query, 'tsa_rejecting'));
      case 'other-imprint':
        return reply(await this.openssl(await editQuery(query, 'imprint'), 'tsa_granting'));
      case 'wrong-nonce':
        return reply(await this.openssl(await editQuery(query, 'nonce'), 'tsa_granting'));
      case 'trailing-bytes':
        return reply(Buffer.concat([await this.openssl(query, 'tsa_granting'), Buffer.from([0, 0, 0, 0])]));
      case 'no-eku':
      case 'eku-not-critical':
      case 'ess-mismatch':
        return reply(
          await resign(
            await this.openssl(query, 'tsa_granting'),
            this.resigners[this.mode],
            this.mode !== 'ess-mismatch',
          ),
        );
      default:
        return reply(await this.openssl(query, 'tsa_granting'));
    }
  }

  /** `openssl ts -reply` for the query, with the given config section. */
  private async openssl(query: Buffer, section: string): Promise<Buffer> {
    const n = ++this.seq;
    const q = path.join(this.dir, `q-${n}.tsq`);
    const r = path.join(this.dir, `r-${n}.tsr`);
    fs.writeFileSync(q, query);
    await run('openssl', [
      'ts',
      '-reply',
      '-config',
      this.config,
      '-section',
      section,
      '-queryfile',
      q,
      '-out',
      r,
    ]);
    return fs.readFileSync(r);
  }
}

/** The query with its imprint (SHA-256 of other data) or its nonce (+1) changed. */
async function editQuery(query: Buffer, what: 'imprint' | 'nonce'): Promise<Buffer> {
  const { asn1js, pkijs } = await loadPkijs();
  const req = pkijs.TimeStampReq.fromBER(new Uint8Array(query));
  if (what === 'imprint') {
    const other = crypto.createHash('sha256').update('other data').digest();
    req.messageImprint.hashedMessage = new asn1js.OctetString({ valueHex: toArrayBuffer(other) });
  } else {
    const nonce = req.nonce?.toBigInt() ?? 0n;
    req.nonce = asn1js.Integer.fromBigInt(nonce + 1n);
  }
  return Buffer.from(req.toSchema().toBER(false));
}

/**
 * A granted response re-signed by `signer` (its certificate replacing the TSA's); with `fixEss`
 * the ESS signing-certificate-v2 attribute is made to name the new certificate.
 */
async function resign(response: Buffer, signer: Issued, fixEss: boolean): Promise<Buffer> {
  const { asn1js, pkijs } = await loadPkijs();
  const resp = pkijs.TimeStampResp.fromBER(new Uint8Array(response));
  if (!resp.timeStampToken) throw new Error('no token to re-sign');
  const sd = new pkijs.SignedData({ schema: resp.timeStampToken.content });
  const certDer = new crypto.X509Certificate(fs.readFileSync(signer.cert)).raw;
  const cert = pkijs.Certificate.fromBER(new Uint8Array(certDer));
  sd.certificates = [cert];
  const si = sd.signerInfos[0];
  if (!si?.signedAttrs) throw new Error('no signer to re-sign');
  si.sid = new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber });
  if (fixEss) {
    const hash = crypto.createHash('sha256').update(certDer).digest();
    si.signedAttrs.attributes = si.signedAttrs.attributes.map((a) =>
      a.type === ESS_V2
        ? new pkijs.Attribute({
            type: ESS_V2,
            values: [
              new asn1js.Sequence({
                value: [
                  new asn1js.Sequence({
                    value: [
                      new asn1js.Sequence({
                        value: [new asn1js.OctetString({ valueHex: toArrayBuffer(hash) })],
                      }),
                    ],
                  }),
                ],
              }),
            ],
          })
        : a,
    );
    si.signedAttrs.encodedValue = new ArrayBuffer(0);
  }
  const keyObject = crypto.createPrivateKey(fs.readFileSync(signer.key));
  const key = await crypto.webcrypto.subtle.importKey(
    'pkcs8',
    keyObject.export({ type: 'pkcs8', format: 'der' }),
    { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  await sd.sign(key, 0, 'SHA-256');
  const out = new pkijs.TimeStampResp({
    status: resp.status,
    timeStampToken: new pkijs.ContentInfo({
      contentType: '1.2.840.113549.1.7.2',
      content: sd.toSchema(true),
    }),
  });
  return Buffer.from(out.toSchema().toBER(false));
}
