import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import type * as Pkijs from 'pkijs';
import { legacyAlgorithms, reexportCommand, unreadableAlgorithms } from '../channels/soap/tls.js';
import { loadPkijs } from '../util/pkijs.js';
import type { CertificateInfo, Weakness } from './model.js';

/**
 * Reads the certificates out of the files fatturad's credentials live in: PEM (bundles, keys,
 * PKCS#7), DER certificates, PKCS#12 (modern, and the legacy RC2/3DES encodings that Node's TLS
 * refuses), and Java keystores (JKS, JCEKS, as the Entratel environment and old SDICoop setups
 * use). The format is recognised from the content, never from the file name. Keystore
 * certificates are read without the password (they are stored unencrypted); PKCS#12 certificates
 * need it. Every reader is bounded: truncated files, absurd counts and lengths past the end give
 * a `problem`, never an exception or a hang.
 */

export type FileFormat = 'pem' | 'der' | 'pkcs12' | 'pkcs12-legacy' | 'jks' | 'jceks' | 'unknown';

export interface ReadResult {
  /** Recognised by content (magic bytes, ASN.1 shape), never by file name. */
  format: FileFormat;
  /** Every certificate found, the one matching a private key first where that is known. */
  certificates: CertificateInfo[];
  /** Private keys the file holds (keystore key entries, PKCS#12 key bags, PEM keys). */
  privateKeys: number;
  /** Why the file could not be read, or read only in part. */
  problem?: string;
  /** What to do about it, e.g. the command that re-exports a legacy PKCS#12. */
  hint?: string;
}

export interface ReadOptions {
  /** The PKCS#12 password (JKS/JCEKS certificates need none; given, it checks the keystore digest). */
  password?: string;
  /** Name of the environment variable the password came from, for messages and commands. */
  passwordEnv?: string;
  /** The instant "not yet valid" is judged at (default: now). */
  now?: Date;
}

export interface KeystoreEntry {
  alias: string;
  /** 'key' = private key with its chain, 'cert' = trusted certificate, 'secret' = JCEKS secret key. */
  type: 'key' | 'cert' | 'secret';
  /** When the entry was created (Java timestamp). */
  date: Date;
  /** DER, leaf first for a key entry. */
  certificates: Buffer[];
}

export interface Keystore {
  format: 'jks' | 'jceks';
  version: number;
  entries: KeystoreEntry[];
  /** Set when the keystore could be read only in part (entries holds what was read). */
  problem?: string;
}

/** Files larger than this are no certificate or keystore. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;
/** Key-derivation iteration counts above this are refused (a crafted file could make them endless). */
const MAX_ITERATIONS = 1_000_000;
const DAY_MS = 86_400_000;
/** Unparsable certificates listed one by one in a problem; the rest are counted. */
const MAX_LISTED = 3;
/** Certificates read from one file at most (a Java cacerts holds about 150). */
const MAX_CERTIFICATES = 10_000;

// ------------------------------------------------------------------------------------------------
// A minimal BER reader: enough to recognise files and to take certificates out of them with their
// exact bytes. Definite and indefinite lengths, low tag numbers, depth-limited.

interface Tlv {
  tag: number;
  start: number;
  /** First byte of the value. */
  body: number;
  /** End of the value (before the end-of-contents octets of an indefinite length). */
  bodyEnd: number;
  /** End of the whole element. */
  end: number;
}

const MAX_DEPTH = 40;

function readTlv(buf: Buffer, off: number, limit: number, depth = 0): Tlv | null {
  if (depth > MAX_DEPTH || off < 0 || off + 2 > limit) return null;
  const tag = buf[off] ?? 0;
  if ((tag & 0x1f) === 0x1f) return null;
  let p = off + 1;
  const first = buf[p++] ?? 0;
  if (first === 0x80) {
    if ((tag & 0x20) === 0) return null;
    let q = p;
    for (;;) {
      if (q + 2 > limit) return null;
      if (buf[q] === 0 && buf[q + 1] === 0) return { tag, start: off, body: p, bodyEnd: q, end: q + 2 };
      const child = readTlv(buf, q, limit, depth + 1);
      if (!child) return null;
      q = child.end;
    }
  }
  let len = first;
  if (first > 0x80) {
    const n = first & 0x7f;
    if (n > 4 || p + n > limit) return null;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[p++] ?? 0);
  }
  if (p + len > limit) return null;
  return { tag, start: off, body: p, bodyEnd: p + len, end: p + len };
}

function childrenOf(buf: Buffer, t: Tlv): Tlv[] | null {
  const out: Tlv[] = [];
  for (let p = t.body; p < t.bodyEnd;) {
    const c = readTlv(buf, p, t.bodyEnd);
    if (!c) return null;
    out.push(c);
    p = c.end;
  }
  return out;
}

function oidOf(buf: Buffer, t: Tlv | undefined): string | null {
  if (!t || t.tag !== 0x06 || t.bodyEnd <= t.body) return null;
  const arcs: bigint[] = [];
  let v = 0n;
  for (let i = t.body; i < t.bodyEnd; i++) {
    const b = buf[i] ?? 0;
    v = (v << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0n;
    }
  }
  const [head, ...rest] = arcs;
  if (head === undefined) return null;
  const first = head < 40n ? 0n : head < 80n ? 1n : 2n;
  return [first, head - first * 40n, ...rest].join('.');
}

function smallInteger(buf: Buffer, t: Tlv | undefined): number | null {
  if (!t || t.tag !== 0x02 || t.bodyEnd <= t.body || t.bodyEnd - t.body > 6) return null;
  return buf.readIntBE(t.body, t.bodyEnd - t.body);
}

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  rsassaPss: '1.2.840.113549.1.1.10',
} as const;

type DerShape = 'certificate' | 'pkcs12' | 'pkcs7' | 'other';

/** What a DER/BER blob is, from its first elements. */
function derShape(buf: Buffer): { shape: DerShape; outer?: Tlv } {
  const outer = readTlv(buf, 0, buf.length);
  if (!outer || outer.tag !== 0x30) return { shape: 'other' };
  const kids = childrenOf(buf, outer);
  if (!kids) return { shape: 'other' };
  const [a, b, c] = kids;
  if (a?.tag === 0x02 && smallInteger(buf, a) === 3 && b?.tag === 0x30) {
    const contentType = oidOf(buf, childrenOf(buf, b)?.[0]);
    if (contentType === OID.data || contentType === OID.signedData) return { shape: 'pkcs12', outer };
  }
  if (a?.tag === 0x30 && b?.tag === 0x30 && c?.tag === 0x03) return { shape: 'certificate', outer };
  if (a?.tag === 0x06 && oidOf(buf, a) === OID.signedData) return { shape: 'pkcs7', outer };
  return { shape: 'other', outer };
}

/** The certificates (exact DER) of a PKCS#7/CMS SignedData ContentInfo. */
function pkcs7Certificates(buf: Buffer): Buffer[] | null {
  const outer = readTlv(buf, 0, buf.length);
  if (!outer || outer.tag !== 0x30) return null;
  const [type, explicit] = childrenOf(buf, outer) ?? [];
  if (oidOf(buf, type) !== OID.signedData || explicit?.tag !== 0xa0) return null;
  const signedData = childrenOf(buf, explicit)?.[0];
  if (signedData?.tag !== 0x30) return null;
  const certSet = (childrenOf(buf, signedData) ?? []).find((t) => t.tag === 0xa0);
  if (!certSet) return [];
  return (childrenOf(buf, certSet) ?? [])
    .filter((t) => t.tag === 0x30)
    .map((t) => buf.subarray(t.start, t.end));
}

/**
 * The largest key-derivation iteration count visible in a PKCS#12's unencrypted structure: any
 * SEQUENCE holding an OCTET STRING (the salt) followed by an INTEGER (MacData, PBKDF2 and PKCS#12
 * PBE parameters), looking into OCTET STRINGs that hold DER.
 */
function maxIterations(buf: Buffer, t: Tlv, depth = 0): number {
  if (depth > MAX_DEPTH) return 0;
  let max = 0;
  if (t.tag === 0x30 || t.tag === 0x31 || (t.tag & 0xe0) === 0xa0) {
    const kids = childrenOf(buf, t) ?? [];
    kids.forEach((k, i) => {
      const next = kids[i + 1];
      if (t.tag === 0x30 && k.tag === 0x04 && next?.tag === 0x02) {
        const len = next.bodyEnd - next.body;
        max = Math.max(max, len > 6 ? Number.MAX_SAFE_INTEGER : (smallInteger(buf, next) ?? 0));
      }
      max = Math.max(max, maxIterations(buf, k, depth + 1));
    });
  } else if (t.tag === 0x04 || t.tag === 0x24) {
    if (t.tag === 0x04 && buf[t.body] === 0x30) {
      const inner = readTlv(buf, t.body, t.bodyEnd, depth + 1);
      if (inner && inner.end === t.bodyEnd) max = Math.max(max, maxIterations(buf, inner, depth + 1));
    }
  }
  return max;
}

// ------------------------------------------------------------------------------------------------
// Certificates

const SIGNATURE_ALGORITHMS: Record<string, string> = {
  '1.2.840.113549.1.1.2': 'md2WithRSAEncryption',
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.3.14.3.2.29': 'sha1WithRSASignature',
  '1.2.840.113549.1.1.10': 'rsassaPss',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.113549.1.1.14': 'sha224WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.1': 'ecdsa-with-SHA224',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.2.840.10040.4.3': 'dsaWithSHA1',
  '2.16.840.1.101.3.4.3.1': 'dsa_with_SHA224',
  '2.16.840.1.101.3.4.3.2': 'dsa_with_SHA256',
  '1.3.101.112': 'ED25519',
  '1.3.101.113': 'ED448',
};

const HASH_NAMES: Record<string, string> = {
  '1.3.14.3.2.26': 'SHA-1',
  '2.16.840.1.101.3.4.2.1': 'SHA-256',
  '2.16.840.1.101.3.4.2.2': 'SHA-384',
  '2.16.840.1.101.3.4.2.3': 'SHA-512',
  '2.16.840.1.101.3.4.2.4': 'SHA-224',
};

/** The certificate's signatureAlgorithm, named as OpenSSL prints it (RSASSA-PSS with its hash). */
function signatureAlgorithmOf(der: Buffer): string {
  const outer = readTlv(der, 0, der.length);
  const algo = outer ? childrenOf(der, outer)?.[1] : undefined;
  const parts = algo?.tag === 0x30 ? childrenOf(der, algo) : null;
  const oid = oidOf(der, parts?.[0]);
  if (!oid) return 'unknown';
  if (oid === OID.rsassaPss) {
    // RSASSA-PSS-params: [0] hashAlgorithm, SHA-1 when absent.
    const params = parts?.[1]?.tag === 0x30 ? childrenOf(der, parts[1]) : null;
    const hashField = params?.find((t) => t.tag === 0xa0);
    const hashAlgo = hashField ? childrenOf(der, hashField)?.[0] : undefined;
    const hashOid = hashAlgo?.tag === 0x30 ? oidOf(der, childrenOf(der, hashAlgo)?.[0]) : '1.3.14.3.2.26';
    return `rsassaPss (${(hashOid && HASH_NAMES[hashOid]) ?? hashOid ?? 'unknown hash'})`;
  }
  return SIGNATURE_ALGORITHMS[oid] ?? oid;
}

const CURVE_NAMES: Record<string, string> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
  prime192v1: 'P-192',
  secp224r1: 'P-224',
};

function describeKey(x: crypto.X509Certificate): { key: string; weaknesses: Weakness[] } {
  let pub: crypto.KeyObject;
  try {
    pub = x.publicKey;
  } catch {
    return { key: 'unknown key type', weaknesses: [] };
  }
  const type = pub.asymmetricKeyType;
  const details = pub.asymmetricKeyDetails ?? {};
  switch (type) {
    case 'rsa':
    case 'rsa-pss': {
      const bits = details.modulusLength ?? 0;
      const name = type === 'rsa' ? 'RSA' : 'RSA-PSS';
      return {
        key: `${name} ${bits}`,
        weaknesses:
          bits < 2048
            ? [
                {
                  code: 'weak-rsa-key',
                  message: `${name} key of ${bits} bits: below the 2048 bits required today (Entratel asks 2048 or 4096)`,
                },
              ]
            : [],
      };
    }
    case 'ec': {
      const curve = details.namedCurve;
      if (!curve) return { key: 'EC (explicit parameters)', weaknesses: [] };
      const bits = Number(/(\d{3})/.exec(curve)?.[1] ?? 0);
      return {
        key: `EC ${CURVE_NAMES[curve] ?? curve}`,
        weaknesses:
          bits > 0 && bits < 256
            ? [{ code: 'weak-ec-key', message: `EC key on ${curve} (${bits} bits): below 256 bits` }]
            : [],
      };
    }
    case 'dsa':
      return { key: `DSA ${details.modulusLength ?? '?'}`, weaknesses: [] };
    case 'ed25519':
      return { key: 'Ed25519', weaknesses: [] };
    case 'ed448':
      return { key: 'Ed448', weaknesses: [] };
    default:
      return { key: type ? type.toUpperCase() : 'unknown key type', weaknesses: [] };
  }
}

function isSelfSigned(x: crypto.X509Certificate): boolean {
  if (x.subject !== x.issuer) return false;
  try {
    return x.verify(x.publicKey);
  } catch {
    return false;
  }
}

/** A distinguished name as one line: 'C=IT, O=…, CN=…'. */
function oneLine(name: string): string {
  return name.split('\n').join(', ');
}

/**
 * What a certificate (DER) says: names, serial, dates, key, signature algorithm, SHA-256
 * fingerprint, CA flag and weaknesses. The signature algorithm of a self-signed CA (a trust
 * anchor) is not held against it: nobody verifies that signature. Throws when `der` is not an
 * X.509 certificate.
 */
export function certificateInfo(der: Buffer, alias?: string, now: Date = new Date()): CertificateInfo {
  const x = new crypto.X509Certificate(der);
  const notBefore = new Date(x.validFrom);
  const notAfter = new Date(x.validTo);
  const signatureAlgorithm = signatureAlgorithmOf(der);
  const { key, weaknesses } = describeKey(x);
  const isCA = x.ca;
  const selfSigned = isSelfSigned(x);
  const trustAnchor = selfSigned && isCA;
  if (!trustAnchor) {
    if (/sha1|SHA-1\)/i.test(signatureAlgorithm)) {
      weaknesses.push({
        code: 'sha1-signature',
        message: `signed with ${signatureAlgorithm}: SHA-1 signatures are no longer accepted`,
      });
    } else if (/^md[25]/i.test(signatureAlgorithm)) {
      weaknesses.push({
        code: 'md5-signature',
        message: `signed with ${signatureAlgorithm}: ${signatureAlgorithm.slice(0, 3).toUpperCase()} signatures are broken`,
      });
    }
  }
  if (selfSigned && !isCA) {
    weaknesses.push({
      code: 'self-signed',
      message: 'issued by itself, not by a certification authority: nobody vouches for it',
    });
  }
  if (notBefore.getTime() > now.getTime()) {
    weaknesses.push({
      code: 'not-yet-valid',
      message: `not valid before ${notBefore.toISOString()} (${Math.ceil((notBefore.getTime() - now.getTime()) / DAY_MS)} days from now)`,
    });
  }
  return {
    subject: oneLine(x.subject),
    issuer: oneLine(x.issuer),
    serial: x.serialNumber.toLowerCase(),
    notBefore,
    notAfter,
    key,
    signatureAlgorithm,
    fingerprint: crypto.createHash('sha256').update(der).digest('hex'),
    ...(alias !== undefined ? { alias } : {}),
    isCA,
    weaknesses,
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Certificate infos for DER blobs; the ones that do not parse are counted into `bad`. */
function infos(
  ders: { der: Buffer; alias?: string }[],
  now: Date,
): { certificates: CertificateInfo[]; bad: string[] } {
  const certificates: CertificateInfo[] = [];
  const bad: string[] = [];
  let failed = 0;
  ders.slice(0, MAX_CERTIFICATES).forEach(({ der, alias }, i) => {
    const outer = readTlv(der, 0, der.length);
    let error: string | undefined;
    if (outer?.tag !== 0x30 || outer.end !== der.length) error = 'not a DER certificate';
    else {
      try {
        certificates.push(certificateInfo(der, alias, now));
      } catch (err) {
        error = errorText(err);
      }
    }
    if (error !== undefined && ++failed <= MAX_LISTED) {
      bad.push(
        `certificate ${i + 1}${alias !== undefined ? ` ("${alias}")` : ''} cannot be parsed (${error})`,
      );
    }
  });
  if (failed > MAX_LISTED) bad.push(`${failed - MAX_LISTED} more certificates cannot be parsed`);
  if (ders.length > MAX_CERTIFICATES) {
    bad.push(`${ders.length} certificates: only the first ${MAX_CERTIFICATES} were read`);
  }
  return { certificates, bad };
}

function joinProblems(...parts: (string | undefined)[]): string | undefined {
  const list = parts.filter((p): p is string => !!p);
  return list.length > 0 ? list.join('; ') : undefined;
}

function result(
  format: FileFormat,
  certificates: CertificateInfo[],
  privateKeys: number,
  problem?: string,
  hint?: string,
): ReadResult {
  return {
    format,
    certificates,
    privateKeys,
    ...(problem !== undefined ? { problem } : {}),
    ...(hint !== undefined ? { hint } : {}),
  };
}

// ------------------------------------------------------------------------------------------------
// Java keystores (JKS, JCEKS)

const JKS_MAGIC = 0xfeedfeed;
const JCEKS_MAGIC = 0xcececece;

class Cursor {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  left(): number {
    return this.buf.length - this.pos;
  }
  u16(): number | null {
    if (this.left() < 2) return null;
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number | null {
    if (this.left() < 4) return null;
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint | null {
    if (this.left() < 8) return null;
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  bytes(n: number): Buffer | null {
    if (n < 0 || this.left() < n) return null;
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** Java's DataOutput.writeUTF: u16 length + modified UTF-8. */
  utf(): string | null {
    const n = this.u16();
    if (n === null) return null;
    const b = this.bytes(n);
    return b === null ? null : decodeModifiedUtf8(b);
  }
}

/** Java's modified UTF-8 (NUL as C0 80, supplementary characters as surrogate pairs). */
function decodeModifiedUtf8(b: Buffer): string {
  const units: number[] = [];
  for (let i = 0; i < b.length;) {
    const c = b[i] ?? 0;
    if (c < 0x80) {
      units.push(c);
      i += 1;
    } else if ((c & 0xe0) === 0xc0) {
      units.push(((c & 0x1f) << 6) | ((b[i + 1] ?? 0) & 0x3f));
      i += 2;
    } else {
      units.push(((c & 0x0f) << 12) | (((b[i + 1] ?? 0) & 0x3f) << 6) | ((b[i + 2] ?? 0) & 0x3f));
      i += 3;
    }
  }
  let s = '';
  for (let i = 0; i < units.length; i += 4096) s += String.fromCharCode(...units.slice(i, i + 4096));
  return s;
}

/**
 * Reads a JKS (magic FEEDFEED) or JCEKS (CECECECE) keystore without its password: certificates
 * are stored in clear, private keys are skipped. Returns null when the bytes are no keystore. A
 * JCEKS secret-key entry is a Java-serialized object that cannot be skipped reliably: reading
 * stops there, with a `problem` saying so. Truncated or inconsistent files give what was read
 * before the fault plus a `problem`.
 */
export function readKeystore(bytes: Buffer): Keystore | null {
  if (bytes.length < 4) return null;
  const magic = bytes.readUInt32BE(0);
  if (magic !== JKS_MAGIC && magic !== JCEKS_MAGIC) return null;
  const format = magic === JKS_MAGIC ? 'jks' : 'jceks';
  const name = format.toUpperCase();
  const c = new Cursor(bytes);
  c.pos = 4;
  const entries: KeystoreEntry[] = [];
  const version = c.u32();
  const count = c.u32();
  if (version === null || count === null) {
    return {
      format,
      version: version ?? 0,
      entries,
      problem: `the ${name} keystore is truncated (no header)`,
    };
  }
  if (version !== 1 && version !== 2) {
    return { format, version, entries, problem: `unknown ${name} keystore version ${version}` };
  }
  const truncated = (i: number, what: string): Keystore => ({
    format,
    version,
    entries,
    problem:
      `the ${name} keystore is truncated or damaged: entry ${i + 1} of ${count} (${what}) runs past the end of ` +
      `the file; ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} read before it`,
  });
  const readCert = (): Buffer | null => {
    if (version === 2) {
      const type = c.utf();
      if (type === null) return null;
    }
    const len = c.u32();
    return len === null ? null : c.bytes(len);
  };
  for (let i = 0; i < count; i++) {
    const tag = c.u32();
    if (tag === null) return truncated(i, 'tag');
    if (tag !== 1 && tag !== 2 && !(tag === 3 && format === 'jceks')) {
      return {
        format,
        version,
        entries,
        problem: `the ${name} keystore is damaged: entry ${i + 1} of ${count} has the unknown type ${tag}`,
      };
    }
    const alias = c.utf();
    if (alias === null) return truncated(i, 'alias');
    const stamp = c.u64();
    if (stamp === null) return truncated(i, 'date');
    const date = new Date(stamp <= BigInt(8.64e15) ? Number(stamp) : Number.NaN);
    if (tag === 3) {
      entries.push({ alias, type: 'secret', date, certificates: [] });
      const rest = count - i - 1;
      return {
        format,
        version,
        entries,
        problem:
          `reading stopped at the secret key entry "${alias}" (entry ${i + 1} of ${count}): a JCEKS secret key is a ` +
          `Java-serialized object that cannot be skipped without Java` +
          (rest > 0 ? `; the ${rest} entr${rest === 1 ? 'y' : 'ies'} after it were not read` : ''),
      };
    }
    if (tag === 1) {
      const keyLen = c.u32();
      if (keyLen === null || c.bytes(keyLen) === null) return truncated(i, 'private key');
      const chainLen = c.u32();
      if (chainLen === null) return truncated(i, 'chain length');
      const certificates: Buffer[] = [];
      for (let j = 0; j < chainLen; j++) {
        const der = readCert();
        if (der === null) return truncated(i, `certificate ${j + 1} of ${chainLen} in the chain`);
        certificates.push(der);
      }
      entries.push({ alias, type: 'key', date, certificates });
    } else {
      const der = readCert();
      if (der === null) return truncated(i, 'certificate');
      entries.push({ alias, type: 'cert', date, certificates: [der] });
    }
  }
  if (c.left() < 20) {
    return {
      format,
      version,
      entries,
      problem: `the ${name} keystore is truncated: its integrity digest is missing`,
    };
  }
  return { format, version, entries };
}

/** Java's keystore integrity digest: SHA-1(password as UTF-16BE, "Mighty Aphrodite", content). */
function keystoreDigestMatches(bytes: Buffer, password: string): boolean {
  if (bytes.length < 20) return false;
  const pw = Buffer.from(password, 'utf16le').swap16();
  const digest = crypto
    .createHash('sha1')
    .update(pw)
    .update('Mighty Aphrodite', 'utf8')
    .update(bytes.subarray(0, bytes.length - 20))
    .digest();
  return digest.equals(bytes.subarray(bytes.length - 20));
}

function readJavaKeystore(ks: Keystore, bytes: Buffer, opts: ReadOptions, now: Date): ReadResult {
  const ders = ks.entries.flatMap((e) => e.certificates.map((der) => ({ der, alias: e.alias })));
  const { certificates, bad } = infos(ders, now);
  const privateKeys = ks.entries.filter((e) => e.type === 'key').length;
  let passwordProblem: string | undefined;
  // The digest covers the whole file: it can be checked unless the file is cut short.
  const complete = !ks.problem || ks.entries.at(-1)?.type === 'secret';
  if (opts.password !== undefined && complete && !keystoreDigestMatches(bytes, opts.password)) {
    passwordProblem =
      `wrong password (or an altered file): the keystore's integrity digest does not match` +
      `${opts.passwordEnv ? ` the password in $${opts.passwordEnv}` : ''} (the certificates were read anyway: ` +
      `they need no password)`;
  }
  const empty = ks.entries.length === 0 && !ks.problem ? 'the keystore holds no entries' : undefined;
  return result(
    ks.format,
    certificates,
    privateKeys,
    joinProblems(ks.problem, ...bad, passwordProblem, empty),
  );
}

// ------------------------------------------------------------------------------------------------
// PKCS#12

interface Pkcs12Content {
  certs: Buffer[];
  /** Decoded private keys (for ordering), and how many key bags there were. */
  keys: crypto.KeyObject[];
  keyBags: number;
}

class WrongPassword extends Error {}

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

function keyFromPkcs8(der: Buffer): crypto.KeyObject | null {
  try {
    return crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch {
    return null;
  }
}

/** Modern PKCS#12 (PBES2, as OpenSSL 3 and current tools make it) with pkijs. */
async function pkcs12WithPkijs(bytes: Buffer, password: string): Promise<Pkcs12Content> {
  const { pkijs } = await loadPkijs();
  const pw = toArrayBuffer(Buffer.from(password, 'utf8'));
  const pfx = pkijs.PFX.fromBER(new Uint8Array(bytes));
  try {
    await pfx.parseInternalValues({ password: pw, checkIntegrity: pfx.macData !== undefined });
  } catch (err) {
    if (/integrity/i.test(errorText(err))) throw new WrongPassword();
    throw err;
  }
  const safe = pfx.parsedValue?.authenticatedSafe;
  if (!safe) throw new Error('no authenticated safe');
  try {
    await safe.parseInternalValues({ safeContents: safe.safeContents.map(() => ({ password: pw })) });
  } catch (err) {
    // Without a MAC a wrong password shows up as a failed decryption.
    if (/decrypt|operation-specific reason|bad decrypt/i.test(errorText(err))) throw new WrongPassword();
    throw err;
  }
  const out: Pkcs12Content = { certs: [], keys: [], keyBags: 0 };
  // pkijs types the parsed value as `any`: { safeContents: { privacyMode, value: SafeContents }[] }.
  const parsed = safe.parsedValue as { safeContents?: { value: Pkijs.SafeContents }[] } | undefined;
  for (const contents of parsed?.safeContents ?? []) {
    for (const bag of contents.value.safeBags) {
      if (bag.bagId === OID.shroudedKeyBag) {
        out.keyBags++;
        const shrouded = bag.bagValue as Pkijs.PKCS8ShroudedKeyBag;
        try {
          // Typed protected in pkijs 4, yet it is the way to decrypt the bag (as in its PKCS#12 examples).
          await (
            shrouded as unknown as { parseInternalValues(p: { password: ArrayBuffer }): Promise<void> }
          ).parseInternalValues({ password: pw });
          const info = shrouded.parsedValue;
          const key = info ? keyFromPkcs8(Buffer.from(info.toSchema().toBER(false))) : null;
          if (key) out.keys.push(key);
        } catch {
          // Counted; only used to put the leaf first.
        }
      } else if (bag.bagId === OID.keyBag) {
        out.keyBags++;
        const key = keyFromPkcs8(Buffer.from((bag.bagValue as Pkijs.PrivateKeyInfo).toSchema().toBER(false)));
        if (key) out.keys.push(key);
      } else if (bag.bagId === OID.certBag) {
        const certBag = bag.bagValue as Pkijs.CertBag;
        if (certBag.certId === OID.x509Certificate) {
          const value: unknown = certBag.certValue;
          const hex = (value as { valueBlock?: { valueHexView?: Uint8Array } }).valueBlock?.valueHexView;
          if (hex) out.certs.push(Buffer.from(hex));
        }
      }
    }
  }
  return out;
}

/**
 * PKCS#12 with the legacy PBE algorithms (RC2-40, 3DES, RC4) that pkijs and Node 20's OpenSSL do
 * not decrypt, with node-forge (pure JavaScript). Certificates are re-encoded from forge's parse,
 * which for DER input gives back the same bytes.
 */
async function pkcs12WithForge(bytes: Buffer, password: string): Promise<Pkcs12Content> {
  const forge = (await import('node-forge')).default;
  const asn = forge.asn1.fromDer(bytes.toString('binary'), false);
  let p12: ReturnType<typeof forge.pkcs12.pkcs12FromAsn1>;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(asn, false, password);
  } catch (err) {
    if (/invalid password|wrong password|failed to decrypt|mac could not be verified/i.test(errorText(err))) {
      throw new WrongPassword();
    }
    throw err;
  }
  const out: Pkcs12Content = { certs: [], keys: [], keyBags: 0 };
  const toDer = (a: ReturnType<typeof forge.asn1.fromDer>): Buffer =>
    Buffer.from(forge.asn1.toDer(a).getBytes(), 'binary');
  for (const contents of p12.safeContents) {
    for (const bag of contents.safeBags) {
      if (bag.type === forge.pki.oids.certBag) {
        // forge parses RSA certificates only; others come back as raw ASN.1.
        const der = bag.cert ? toDer(forge.pki.certificateToAsn1(bag.cert)) : toDer(bag.asn1);
        out.certs.push(der);
      } else if (bag.type === forge.pki.oids.pkcs8ShroudedKeyBag || bag.type === forge.pki.oids.keyBag) {
        out.keyBags++;
        const pkcs8 = bag.key
          ? toDer(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key)))
          : toDer(bag.asn1);
        const key = keyFromPkcs8(pkcs8);
        if (key) out.keys.push(key);
      }
    }
  }
  return out;
}

/** The certificates matching one of the keys first, the others in file order. */
function leafFirst(certs: Buffer[], keys: crypto.KeyObject[]): Buffer[] {
  if (keys.length === 0) return certs;
  const matches = (der: Buffer): boolean => {
    try {
      const x = new crypto.X509Certificate(der);
      return keys.some((k) => x.checkPrivateKey(k));
    } catch {
      return false;
    }
  };
  const first = certs.filter(matches);
  return [...first, ...certs.filter((c) => !first.includes(c))];
}

function legacyHint(file: string | undefined, algorithms: string[], passwordEnv: string | undefined): string {
  const { command, newFile } = reexportCommand(file ?? 'identity.p12', passwordEnv);
  return (
    `Node.js 20 (OpenSSL 3 without the legacy provider) cannot load this PKCS#12 for TLS or signing ` +
    `(${algorithms.join(' + ')}). Re-export it with modern encryption (with OpenSSL 1.1 leave out -legacy)` +
    `${passwordEnv ? `, in a shell where ${passwordEnv} holds the password` : ', typing the password when asked'}:\n` +
    `  ${command}\n` +
    `then use ${newFile}; tmp.pem holds the private key unencrypted: make sure it is gone.`
  );
}

async function readPkcs12(
  bytes: Buffer,
  opts: ReadOptions & { file?: string },
  now: Date,
): Promise<ReadResult> {
  const legacy = legacyAlgorithms(bytes);
  const unreadable = unreadableAlgorithms(legacy);
  const format: FileFormat = legacy.length > 0 ? 'pkcs12-legacy' : 'pkcs12';
  const hint = unreadable.length > 0 ? legacyHint(opts.file, legacy, opts.passwordEnv) : undefined;
  const outer = readTlv(bytes, 0, bytes.length);
  const iterations = outer ? maxIterations(bytes, outer) : 0;
  if (iterations > MAX_ITERATIONS) {
    return result(
      format,
      [],
      0,
      `the PKCS#12 asks for ${iterations === Number.MAX_SAFE_INTEGER ? 'an absurd number of' : iterations} ` +
        `key-derivation iterations (more than ${MAX_ITERATIONS.toLocaleString('en')}): not read`,
      hint,
    );
  }
  // Without a password try the empty one, which many export tools use.
  const password = opts.password ?? '';
  let content: Pkcs12Content;
  try {
    try {
      content = await pkcs12WithPkijs(bytes, password);
    } catch (err) {
      if (err instanceof WrongPassword) throw err;
      // pkijs decrypts PBES2 only: legacy PBE (and anything else it stumbles on) goes to node-forge.
      content = await pkcs12WithForge(bytes, password);
    }
  } catch (err) {
    if (err instanceof WrongPassword) {
      const problem =
        opts.password === undefined
          ? 'the PKCS#12 is protected by a password: put it in an environment variable and name it with ' +
            '--password-env VAR'
          : `wrong password: the password${opts.passwordEnv ? ` in $${opts.passwordEnv}` : ''} does not open the PKCS#12`;
      return result(format, [], 0, problem, hint);
    }
    return result(
      format,
      [],
      0,
      scrub(`the PKCS#12 cannot be read (${errorText(err)})`, opts.password),
      hint,
    );
  }
  const { certificates, bad } = infos(
    leafFirst(content.certs, content.keys).map((der) => ({ der })),
    now,
  );
  const none = content.certs.length === 0 ? 'the PKCS#12 holds no certificate' : undefined;
  return result(format, certificates, content.keyBags, joinProblems(...bad, none), hint);
}

function scrub(message: string, secret: string | undefined): string {
  return secret && secret.length >= 3 ? message.split(secret).join('[redacted]') : message;
}

// ------------------------------------------------------------------------------------------------
// PEM and DER

interface PemBlock {
  label: string;
  der: Buffer;
}

/** PEM blocks in order; a block without its END line stops the scan (linear on any input). */
function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const begin = /-----BEGIN ([A-Z0-9 ]{1,64})-----/g;
  for (let m = begin.exec(text); m; m = begin.exec(text)) {
    const label = m[1] ?? '';
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, begin.lastIndex);
    if (end < 0) break;
    // Drop RFC 1421 headers (Proc-Type, DEK-Info) of old encrypted keys.
    const body = text
      .slice(begin.lastIndex, end)
      .split(/\r?\n/)
      .filter((line) => !line.includes(':'))
      .join('')
      .replace(/\s+/g, '');
    out.push({ label, der: Buffer.from(body, 'base64') });
    begin.lastIndex = end + endMarker.length;
  }
  return out;
}

/** The first DER element of a blob (an OpenSSL TRUSTED CERTIFICATE is a certificate + aux data). */
function firstElement(der: Buffer): Buffer {
  const t = readTlv(der, 0, der.length);
  return t ? der.subarray(t.start, t.end) : der;
}

function readPem(text: string, now: Date): ReadResult {
  const blocks = pemBlocks(text);
  const ders: { der: Buffer }[] = [];
  let keys = 0;
  const problems: string[] = [];
  const others = new Set<string>();
  for (const { label, der } of blocks) {
    if (label === 'CERTIFICATE' || label === 'X509 CERTIFICATE') ders.push({ der });
    else if (label === 'TRUSTED CERTIFICATE') ders.push({ der: firstElement(der) });
    else if (label === 'PKCS7' || label === 'CMS') {
      const certs = pkcs7Certificates(der);
      if (certs === null) problems.push(`a ${label} block is not a SignedData with certificates`);
      else ders.push(...certs.map((c) => ({ der: c })));
    } else if (/(^| )PRIVATE KEY$/.test(label)) keys++;
    else others.add(label);
  }
  const { certificates, bad } = infos(ders, now);
  problems.push(...bad);
  if (blocks.length === 0) problems.push('the PEM file holds no complete -----BEGIN/END----- block');
  else if (ders.length === 0) {
    problems.push(
      keys > 0
        ? `the PEM file holds ${keys === 1 ? 'a private key' : `${keys} private keys`} but no certificate`
        : `the PEM file holds no certificate (only ${[...others].join(', ')})`,
    );
  }
  return result('pem', certificates, keys, joinProblems(...problems));
}

function readDer(bytes: Buffer, shape: DerShape, outer: Tlv | undefined, now: Date): ReadResult {
  const trailing =
    outer && outer.end < bytes.length
      ? `${bytes.length - outer.end} bytes of garbage after the DER data`
      : undefined;
  const der = outer ? bytes.subarray(0, outer.end) : bytes;
  if (shape === 'pkcs7') {
    const certs = pkcs7Certificates(der) ?? [];
    const { certificates, bad } = infos(
      certs.map((c) => ({ der: c })),
      now,
    );
    const none = certs.length === 0 ? 'the PKCS#7 file holds no certificate' : undefined;
    return result('der', certificates, 0, joinProblems(...bad, none, trailing));
  }
  const { certificates, bad } = infos([{ der }], now);
  return result('der', certificates, 0, joinProblems(...bad, trailing));
}

const NOT_RECOGNISED = 'not a certificate or keystore (PEM, DER, PKCS#12, JKS or JCEKS)';

async function readBytes(
  bytes: Buffer,
  opts: ReadOptions & { file?: string },
  now: Date,
  depth: number,
): Promise<ReadResult> {
  if (bytes.length === 0) return result('unknown', [], 0, 'the file is empty');
  const ks = readKeystore(bytes);
  if (ks) return readJavaKeystore(ks, bytes, opts, now);
  if (bytes[0] === 0x30) {
    const { shape, outer } = derShape(bytes);
    if (shape === 'pkcs12') return readPkcs12(bytes, opts, now);
    if (shape === 'certificate' || shape === 'pkcs7') return readDer(bytes, shape, outer, now);
  }
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN ')) return readPem(text, now);
  // A bare base64 file (a .cer saved from a web page, a PKCS#12 pasted from an e-mail).
  const compact = text.replace(/\s+/g, '');
  if (depth === 0 && compact.length >= 64 && /^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    const decoded = await readBytes(Buffer.from(compact, 'base64'), opts, now, depth + 1);
    if (decoded.format !== 'unknown') return decoded;
  }
  if (bytes[0] === 0x30) {
    return result('unknown', [], 0, `${NOT_RECOGNISED}: binary ASN.1 of another kind, or damaged`);
  }
  return result('unknown', [], 0, NOT_RECOGNISED);
}

/** Reads a credential already in memory (see `readCredentialFile`); `file` only names it in hints. */
export async function readCredentialBytes(
  bytes: Buffer,
  opts: ReadOptions & { file?: string } = {},
): Promise<ReadResult> {
  try {
    return await readBytes(bytes, opts, opts.now ?? new Date(), 0);
  } catch (err) {
    return result('unknown', [], 0, scrub(`the file cannot be read (${errorText(err)})`, opts.password));
  }
}

/**
 * Reads every certificate (and counts the private keys) in a credential file, whatever its format.
 * Never throws: a file that cannot be read, or read only in part, has a `problem` (naming no
 * password) and, where there is something to do about it, a `hint`.
 */
export async function readCredentialFile(file: string, opts: ReadOptions = {}): Promise<ReadResult> {
  let bytes: Buffer;
  try {
    const st = await fs.stat(file);
    if (st.isDirectory()) return result('unknown', [], 0, 'it is a folder, not a file');
    if (st.size > MAX_FILE_BYTES) {
      return result('unknown', [], 0, `${NOT_RECOGNISED}: ${st.size} bytes is too large for one`);
    }
    bytes = await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? 'the file does not exist'
        : code === 'EACCES' || code === 'EPERM'
          ? "the file cannot be read: permission denied for the daemon's user"
          : `the file cannot be read (${code ?? errorText(err)})`;
    return result('unknown', [], 0, problem);
  }
  return readCredentialBytes(bytes, { ...opts, file });
}
