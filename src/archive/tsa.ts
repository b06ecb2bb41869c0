import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type * as Asn1js from 'asn1js';
import type * as Pkijs from 'pkijs';
import { distinguishedName, loadPkijs } from '../util/pkijs.js';
import { checkEssSigningCertificate } from './cades.js';

/**
 * RFC 3161 timestamps for the archive's package indexes and checkpoints: a client that asks a
 * Time-Stamp Authority over HTTP(S) (RFC 3161 section 3.4) and checks every answer before it is
 * kept, and an offline verifier for stored tokens.
 *
 * pkijs verifies the token's signature and message imprint; it does not check the nonce, the TSA
 * certificate's extended key usage, the ESS signing-certificate binding, the certificate's
 * validity at genTime, or trailing bytes: those checks are made here.
 *
 * Time from a TSA that is not on the eIDAS trusted list is evidence, not a qualified "marca
 * temporale".
 */

// pkijs and asn1js are loaded at first use (util/pkijs.ts).
let asn1js: typeof Asn1js;
let pkijs: typeof Pkijs;
async function loadPki(): Promise<void> {
  ({ asn1js, pkijs } = await loadPkijs());
}

export interface TsaOptions {
  /** http:// or https:// address of the TSA. */
  url: string;
  /** Limit for the whole exchange (connect, send, answer). */
  timeoutMs: number;
  /** TSA policy OID to ask for (reqPolicy); the token must then carry it. */
  policy?: string;
  /** CA certificates (PEM) for an https TSA; default: Node's bundled roots. */
  ca?: Buffer[];
  /** Extra HTTP headers, e.g. basic authentication read from an environment variable. Never logged or echoed. */
  headers?: Record<string, string>;
  /** Trust anchors (PEM or DER certificates) the TSA certificate must chain to; unchecked without. */
  trusted?: Buffer[];
}

export interface Timestamp {
  /** DER TimeStampToken (a ContentInfo holding SignedData), as the TSA sent it. */
  token: Buffer;
  /** The whole DER TimeStampResp. */
  response: Buffer;
  genTime: Date;
  /** Serial number of the token, lowercase hexadecimal without leading zeros. */
  serial: string;
  /** TSA policy OID under which the token was issued. */
  policy: string;
  /** The TSA's name from the token (tsa field), when it carries one. */
  tsaName?: string;
}

export type TimestampResult =
  { ok: true; timestamp: Timestamp } | { ok: false; reason: string; retryable: boolean };

export type TimestampVerification =
  { ok: true; genTime: Date; serial: string } | { ok: false; reason: string };

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  sha256: '2.16.840.1.101.3.4.2.1',
  extKeyUsage: '2.5.29.37',
  timeStamping: '1.3.6.1.5.5.7.3.8',
} as const;

/** Message imprint algorithms accepted in a stored token, by OID, as Node calls them. */
const IMPRINT_HASHES: Record<string, string> = {
  [OID.sha256]: 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** Answers larger than this are not a timestamp. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

const STATUS_NAMES = [
  'granted',
  'grantedWithMods',
  'rejection',
  'waiting',
  'revocationWarning',
  'revocationNotification',
];

/** PKIFailureInfo bits (RFC 3161 section 2.4.2). */
const FAILURE_NAMES: Record<number, string> = {
  0: 'badAlg: unrecognized or unsupported algorithm',
  2: 'badRequest: transaction not permitted or supported',
  5: 'badDataFormat: the data submitted has the wrong format',
  14: 'timeNotAvailable: the TSA time source is not available',
  15: 'unacceptedPolicy: the requested TSA policy is not supported',
  16: 'unacceptedExtension: the requested extension is not supported',
  17: 'addInfoNotAvailable: the additional information requested is not available',
  25: 'systemFailure: the request cannot be handled due to system failure',
};
/** Failures on the TSA's side that may clear up by themselves. */
const TRANSIENT_FAILURES = new Set([14, 25]);

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return String(err);
}

function toArrayBuffer(buf: Buffer | Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(buf.length);
  new Uint8Array(out).set(buf);
  return out;
}

function generalName(name: Pkijs.GeneralName): string | undefined {
  // 4 directoryName; 1 rfc822Name, 2 dNSName, 6 uniformResourceIdentifier (IA5String values).
  if (name.type === 4) return distinguishedName(name.value as Pkijs.RelativeDistinguishedNames);
  if (name.type === 1 || name.type === 2 || name.type === 6) {
    return typeof name.value === 'string' ? name.value : undefined;
  }
  return undefined;
}

/** Hex of an INTEGER's value without leading zeros ("0" for zero); negative values keep their sign. */
function integerHex(int: Asn1js.Integer): string {
  return int.toBigInt().toString(16);
}

function parseCertificates(pems: Buffer[]): Pkijs.Certificate[] {
  const out: Pkijs.Certificate[] = [];
  for (const b of pems) {
    const text = b.toString('latin1');
    const ders = text.includes('-----BEGIN')
      ? [...text.matchAll(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g)].map(
          (m) => Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'),
        )
      : [b];
    for (const der of ders) out.push(pkijs.Certificate.fromBER(new Uint8Array(der)));
  }
  return out;
}

/** One DER/BER element filling `bytes` exactly: trailing bytes are an error (pkijs's fromBER ignores them). */
function parseExact(bytes: Uint8Array, what: string): Asn1js.AsnType {
  const asn = asn1js.fromBER(bytes);
  if (asn.offset === -1) throw new Error(`${what} is not ASN.1 (${asn.result.error || 'unreadable'})`);
  if (asn.offset !== bytes.byteLength) {
    throw new Error(`${what} is followed by ${bytes.byteLength - asn.offset} unexpected bytes`);
  }
  return asn.result;
}

interface Expectations {
  /** The imprint must be SHA-256 of the data (a fresh request); else any supported algorithm. */
  sha256Only: boolean;
  nonce?: bigint;
  policy?: string;
}

type TokenCheck =
  { ok: true; tst: Pkijs.TSTInfo; tsaCert: Pkijs.Certificate } | { ok: false; reason: string };

/**
 * Every check of a TimeStampToken against `data`: structure, imprint, nonce and policy when
 * expected, the TSA's signature, its certificate's EKU (RFC 3161 section 2.3), the ESS binding
 * (section 2.4.1), the certificate's validity at genTime, and the chain when `trusted` is not empty.
 */
async function checkToken(
  tokenAsn: Asn1js.AsnType,
  data: Buffer,
  trusted: Pkijs.Certificate[],
  expect: Expectations,
): Promise<TokenCheck> {
  const fail = (reason: string): TokenCheck => ({ ok: false, reason });
  let sd: Pkijs.SignedData;
  let tst: Pkijs.TSTInfo;
  try {
    const ci = new pkijs.ContentInfo({ schema: tokenAsn });
    if (ci.contentType !== OID.signedData)
      return fail(`the token's content type ${ci.contentType} is not SignedData`);
    sd = new pkijs.SignedData({ schema: ci.content });
    if (sd.encapContentInfo.eContentType !== OID.tstInfo) {
      return fail(`the token's content type ${sd.encapContentInfo.eContentType} is not TSTInfo`);
    }
    const ec = sd.encapContentInfo.eContent;
    if (!ec) return fail('the token carries no TSTInfo');
    tst = new pkijs.TSTInfo({ schema: parseExact(new Uint8Array(ec.getValue()), 'the TSTInfo') });
  } catch (err) {
    return fail(`the token cannot be read: ${errorText(err)}`);
  }
  if (sd.signerInfos.length !== 1)
    return fail(`the token has ${sd.signerInfos.length} signers instead of one`);
  if (tst.version !== 1) return fail(`unknown TSTInfo version ${tst.version}`);

  const imprintAlg = tst.messageImprint.hashAlgorithm.algorithmId;
  const hashName = expect.sha256Only
    ? imprintAlg === OID.sha256
      ? 'sha256'
      : undefined
    : IMPRINT_HASHES[imprintAlg];
  if (!hashName) {
    return fail(
      expect.sha256Only
        ? `the token's message imprint uses ${imprintAlg}, not the SHA-256 that was asked for`
        : `the token's message imprint uses an unsupported algorithm ${imprintAlg}`,
    );
  }
  const digest = crypto.createHash(hashName).update(data).digest();
  if (!digest.equals(Buffer.from(tst.messageImprint.hashedMessage.valueBlock.valueHexView))) {
    return fail(
      `the token is for other data: its message imprint is not the ${hashName.toUpperCase()} of the data`,
    );
  }
  if (expect.nonce !== undefined) {
    if (!tst.nonce) return fail('the token carries no nonce although one was sent');
    const got = tst.nonce.toBigInt();
    if (got !== expect.nonce) {
      return fail(
        `the token's nonce ${got.toString(16)} is not the one sent (${expect.nonce.toString(16)}): ` +
          'the answer belongs to another request or is a replay',
      );
    }
  }
  if (expect.policy !== undefined && tst.policy !== expect.policy) {
    return fail(`the token's policy ${tst.policy} is not the one asked for (${expect.policy})`);
  }

  let tsaCert: Pkijs.Certificate | null;
  try {
    const res = await sd.verify({
      signer: 0,
      data: toArrayBuffer(data),
      extendedMode: true,
      checkChain: false,
    });
    if (!res.signatureVerified) return fail("the TSA's signature on the token does not verify");
    tsaCert = res.signerCertificate ?? null;
  } catch (err) {
    // pkijs throws, rather than returning false, for a digest mismatch or a missing certificate.
    return fail(`the token does not verify: ${errorText(err) || 'unknown error'}`);
  }
  if (!tsaCert) return fail('the token does not include the TSA certificate');
  const subject = distinguishedName(tsaCert.subject);

  const eku = tsaCert.extensions?.filter((e) => e.extnID === OID.extKeyUsage) ?? [];
  const purposes = (eku[0]?.parsedValue as Pkijs.ExtKeyUsage | undefined)?.keyPurposes ?? [];
  if (eku.length !== 1 || !purposes.includes(OID.timeStamping)) {
    return fail(
      `the certificate of ${subject} is not a TSA certificate (no extended key usage timeStamping)`,
    );
  }
  if (!eku[0]?.critical) {
    return fail(
      `the certificate of ${subject} has a non-critical extended key usage (RFC 3161 requires it critical)`,
    );
  }
  if (purposes.length !== 1) {
    return fail(
      `the certificate of ${subject} has extended key usages besides timeStamping (RFC 3161 allows only that)`,
    );
  }
  const ess = await checkEssSigningCertificate(sd.signerInfos[0] as Pkijs.SignerInfo, tsaCert);
  if (ess) return fail(`the token: ${ess}`);
  if (tst.genTime < tsaCert.notBefore.value || tst.genTime > tsaCert.notAfter.value) {
    return fail(
      `genTime ${tst.genTime.toISOString()} is outside the validity of the TSA certificate of ${subject} ` +
        `(${tsaCert.notBefore.value.toISOString()} to ${tsaCert.notAfter.value.toISOString()})`,
    );
  }
  if (trusted.length > 0) {
    try {
      // For a TSTInfo pkijs checks the chain at genTime.
      const chain = await sd.verify({
        signer: 0,
        data: toArrayBuffer(data),
        extendedMode: true,
        checkChain: true,
        trustedCerts: trusted,
      });
      if (chain.signerCertificateVerified !== true) throw new Error('the chain does not verify');
    } catch (err) {
      return fail(`the TSA certificate of ${subject} does not chain to a trusted CA (${errorText(err)})`);
    }
  }
  return { ok: true, tst, tsaCert };
}

type HttpAnswer =
  | { ok: true; status: number; statusText: string; contentType: string; body: Buffer }
  | { ok: false; reason: string; retryable: boolean };

function post(url: URL, body: Buffer, opts: TsaOptions): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (answer: HttpAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const headers: Record<string, string | number> = {
      ...opts.headers,
      'Content-Type': 'application/timestamp-query',
      Accept: 'application/timestamp-reply',
      'Content-Length': body.length,
    };
    const requestOptions: https.RequestOptions = { method: 'POST', headers };
    if (url.protocol === 'https:' && opts.ca) requestOptions.ca = opts.ca;
    const req = (url.protocol === 'https:' ? https : http).request(url, requestOptions, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          done({ ok: false, reason: `the TSA answer exceeds ${MAX_RESPONSE_BYTES} bytes`, retryable: false });
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () =>
        done({
          ok: true,
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          contentType: res.headers['content-type'] ?? '',
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', (err) =>
        done({ ok: false, reason: `the TSA answer broke off: ${errorText(err)}`, retryable: true }),
      );
    });
    const timer = setTimeout(() => {
      done({ ok: false, reason: `no answer from the TSA within ${opts.timeoutMs} ms`, retryable: true });
      req.destroy();
    }, opts.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      const tls = /^(ERR_TLS_CERT|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/.test(
        err.code ?? '',
      );
      done({
        ok: false,
        reason: `the TSA cannot be reached at ${url.origin}: ${err.code ? `${err.code} ` : ''}${err.message}`,
        // A TLS trust failure stays until the configuration changes; other network errors may clear up.
        retryable: !tls,
      });
    });
    req.end(body);
  });
}

/**
 * Asks the TSA at `opts.url` for a timestamp of `data`: a TimeStampReq with the SHA-256 message
 * imprint, a random 64-bit nonce, certReq true and the policy when configured, POSTed as
 * application/timestamp-query. The answer is kept only if the status is granted, the imprint,
 * nonce (and policy) match the request, the token's signature verifies with the embedded TSA
 * certificate, that certificate has the critical id-kp-timeStamping extended key usage (and no
 * other), the ESS signing-certificate binding matches it, it was valid at genTime, it chains to
 * `opts.trusted` when given, and no bytes follow the response or the token. Never throws.
 * Retryable: network errors, timeouts, HTTP 5xx/408/429, TSA status "waiting" and rejections for
 * timeNotAvailable or systemFailure; anything else needs a configuration change or another TSA.
 */
export async function requestTimestamp(data: Buffer, opts: TsaOptions): Promise<TimestampResult> {
  const fail = (reason: string, retryable: boolean): TimestampResult => ({ ok: false, reason, retryable });
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    return fail('the TSA address is not a valid URL', false);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return fail(`the TSA address must be http:// or https://, not ${url.protocol}`, false);
  }
  if (url.username || url.password) {
    return fail('put TSA credentials in a header from an environment variable, not in the address', false);
  }
  let trusted: Pkijs.Certificate[];
  try {
    await loadPki();
    trusted = parseCertificates(opts.trusted ?? []);
  } catch (err) {
    return fail(`the TSA trust anchors cannot be read: ${errorText(err)}`, false);
  }

  const nonceBytes = crypto.randomBytes(8);
  nonceBytes[0] = ((nonceBytes[0] ?? 0) & 0x7f) | 0x01; // positive, minimal, 8 bytes
  const nonce = BigInt(`0x${nonceBytes.toString('hex')}`);
  const digest = crypto.createHash('sha256').update(data).digest();
  const request = new pkijs.TimeStampReq({
    version: 1,
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({
        algorithmId: OID.sha256,
        algorithmParams: new asn1js.Null(),
      }),
      hashedMessage: new asn1js.OctetString({ valueHex: toArrayBuffer(digest) }),
    }),
    ...(opts.policy ? { reqPolicy: opts.policy } : {}),
    nonce: new asn1js.Integer({ valueHex: toArrayBuffer(nonceBytes) }),
    certReq: true,
  });
  const body = Buffer.from(request.toSchema().toBER(false));

  const answer = await post(url, body, opts);
  if (!answer.ok) return answer;
  if (answer.status !== 200) {
    const what = `the TSA answered HTTP ${answer.status}${answer.statusText ? ` ${answer.statusText}` : ''}`;
    if (answer.status >= 500 || answer.status === 408 || answer.status === 429) return fail(what, true);
    if (answer.status === 401 || answer.status === 403)
      return fail(`${what}: check the TSA credentials`, false);
    if (answer.status >= 300 && answer.status < 400)
      return fail(`${what} (redirect): configure the final address`, false);
    return fail(what, false);
  }

  const response = answer.body;
  let resp: Pkijs.TimeStampResp;
  let tokenAsn: Asn1js.AsnType | undefined;
  try {
    const asn = parseExact(new Uint8Array(response), 'the TSA response');
    resp = new pkijs.TimeStampResp({ schema: asn });
    tokenAsn = resp.timeStampToken ? (asn as Asn1js.Sequence).valueBlock.value[1] : undefined;
  } catch (err) {
    const type = answer.contentType ? ` (content type ${answer.contentType.split(';')[0] ?? ''})` : '';
    return fail(`the TSA answer is not a timestamp response${type}: ${errorText(err)}`, false);
  }

  const status = resp.status.status as number;
  if (status !== 0 && status !== 1) {
    const texts = (resp.status.statusStrings ?? []).map((s) => s.valueBlock.value).filter(Boolean);
    const failures: number[] = [];
    const bits = resp.status.failInfo
      ? Buffer.from(resp.status.failInfo.valueBlock.valueHexView)
      : Buffer.alloc(0);
    for (let i = 0; i < bits.length * 8; i++)
      if (((bits[i >> 3] ?? 0) >> (7 - (i & 7))) & 1) failures.push(i);
    const detail = [
      ...failures.map((bit) => FAILURE_NAMES[bit] ?? `failure bit ${bit}`),
      ...texts.map((t) => `"${t}"`),
    ].join('; ');
    const name = STATUS_NAMES[status] ?? `status ${status}`;
    const retryable = status === 3 || failures.some((bit) => TRANSIENT_FAILURES.has(bit));
    return fail(`the TSA did not grant the timestamp: ${name}${detail ? ` (${detail})` : ''}`, retryable);
  }
  if (!tokenAsn) return fail('the TSA granted the request but sent no token', false);

  const checked = await checkToken(tokenAsn, data, trusted, {
    sha256Only: true,
    nonce,
    ...(opts.policy ? { policy: opts.policy } : {}),
  });
  if (!checked.ok) return fail(checked.reason, false);
  const { tst } = checked;
  const tsaName = tst.tsa ? generalName(tst.tsa) : undefined;
  const timestamp: Timestamp = {
    token: Buffer.from(tokenAsn.valueBeforeDecodeView),
    response: Buffer.from(response),
    genTime: tst.genTime,
    serial: integerHex(tst.serialNumber),
    policy: tst.policy,
    ...(tsaName ? { tsaName } : {}),
  };
  return { ok: true, timestamp };
}

/**
 * Offline check of a stored timestamp against `data`: `token` is a TimeStampToken or a whole
 * TimeStampResp (whose status must be granted). Same checks as `requestTimestamp` except nonce
 * and policy (not known any more); the imprint may be SHA-256, -384 or -512. With `trusted` CA
 * certificates (PEM or DER) the TSA certificate must chain to one of them at genTime; without, only
 * the token's own consistency is proven. Never throws.
 */
export async function verifyTimestamp(
  token: Buffer,
  data: Buffer,
  trusted: Buffer[] = [],
): Promise<TimestampVerification> {
  const fail = (reason: string): TimestampVerification => ({ ok: false, reason });
  let anchors: Pkijs.Certificate[];
  let tokenAsn: Asn1js.AsnType;
  try {
    await loadPki();
    anchors = parseCertificates(trusted);
  } catch (err) {
    return fail(`the trusted certificates cannot be read: ${errorText(err)}`);
  }
  try {
    const asn = parseExact(new Uint8Array(token), 'the timestamp');
    // A TimeStampResp opens with PKIStatusInfo (a SEQUENCE), a ContentInfo with its OID.
    const elements = asn instanceof asn1js.Sequence ? asn.valueBlock.value : [];
    if (elements[0] instanceof asn1js.Sequence) {
      const resp = new pkijs.TimeStampResp({ schema: asn });
      const status = resp.status.status as number;
      if (status !== 0 && status !== 1) return fail(`the stored response is not granted (status ${status})`);
      const inner = elements[1];
      if (!inner) return fail('the stored response carries no token');
      tokenAsn = inner;
    } else {
      tokenAsn = asn;
    }
  } catch (err) {
    return fail(`the timestamp cannot be read: ${errorText(err)}`);
  }
  const checked = await checkToken(tokenAsn, data, anchors, { sha256Only: false });
  if (!checked.ok) return checked;
  return { ok: true, genTime: checked.tst.genTime, serial: integerHex(checked.tst.serialNumber) };
}
