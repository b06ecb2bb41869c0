import crypto from 'node:crypto';
import type * as Asn1js from 'asn1js';
import type * as Pkijs from 'pkijs';
import { DN_SHORT_NAMES, distinguishedName, loadPkijs } from '../../util/pkijs.js';
import type { EnvelopeSignature } from './types.js';

/**
 * The S/MIME signature a PEC provider puts on its transport envelopes and receipts (CMS
 * SignedData, RFC 5652 / RFC 8551): made here for the simulator, checked best effort when a
 * message is read.
 *
 * The check is of the signature alone, with the signer certificate carried in the CMS itself: no
 * chain, no trust list (the AgID list of PEC providers is not loaded), no revocation. A `valid`
 * result says the signed bytes are those the holder of that certificate signed, not that the
 * holder is an accredited PEC provider.
 */

// pkijs and asn1js are loaded at first use (util/pkijs.ts).
let asn1js: typeof Asn1js;
let pkijs: typeof Pkijs;
async function loadPki(): Promise<void> {
  ({ asn1js, pkijs } = await loadPkijs());
}

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
} as const;

/** A signing identity: certificate and private key as PEM (PKCS#8, or PKCS#1 / SEC 1 for RSA / EC). */
export interface SmimeSigner {
  certPem: string;
  keyPem: string;
}

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  const out = new ArrayBuffer(buf.length);
  new Uint8Array(out).set(buf);
  return out;
}

function pemBlock(text: string, label: string): Buffer {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(text);
  if (!m?.[1]) throw new Error(`no ${label} PEM block`);
  return Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
}

/** WebCrypto signing key and its algorithm for any PEM private key Node can read (EC P-256/384/521, RSA). */
async function importSigningKey(keyPem: string): Promise<crypto.webcrypto.CryptoKey> {
  const key = crypto.createPrivateKey(keyPem);
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  let algorithm: crypto.webcrypto.EcKeyImportParams | crypto.webcrypto.RsaHashedImportParams;
  if (key.asymmetricKeyType === 'ec') {
    const curves: Record<string, string> = {
      prime256v1: 'P-256',
      secp384r1: 'P-384',
      secp521r1: 'P-521',
    };
    const curve = curves[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (!curve) throw new Error(`unsupported EC curve ${key.asymmetricKeyDetails?.namedCurve ?? '?'}`);
    algorithm = { name: 'ECDSA', namedCurve: curve };
  } else if (key.asymmetricKeyType === 'rsa') {
    algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  } else {
    throw new Error(`unsupported key type ${key.asymmetricKeyType ?? '?'}`);
  }
  return crypto.webcrypto.subtle.importKey('pkcs8', pkcs8, algorithm, false, ['sign']);
}

/**
 * CMS SignedData (DER) over `content` by `signer`: SHA-256, signed attributes contentType (id-data),
 * messageDigest and signingTime, the signer certificate included. `detached` leaves the content out
 * (multipart/signed, smime.p7s); otherwise it is encapsulated (application/pkcs7-mime, smime.p7m).
 */
export async function signCms(
  content: Buffer,
  signer: SmimeSigner,
  opts: {
    detached: boolean;
    signingTime?: Date;
    /** Further signed attributes (e.g. CAdES signing-certificate-v2), after the three above. */
    extraSignedAttrs?: Pkijs.Attribute[];
    /** Further certificates (DER) to carry, e.g. the signer's chain. */
    extraCerts?: Buffer[];
    /**
     * Strict DER: a primitive eContent (pkijs otherwise re-chunks it into a constructed OCTET STRING)
     * and the SET OF signed attributes and certificates in DER order (X.690 11.6).
     */
    der?: boolean;
  },
): Promise<Buffer> {
  await loadPki();
  const cert = pkijs.Certificate.fromBER(new Uint8Array(pemBlock(signer.certPem, 'CERTIFICATE')));
  const key = await importSigningKey(signer.keyPem);
  const digest = crypto.createHash('sha256').update(content).digest();
  const signingTime = opts.signingTime ?? new Date();
  const attributes = [
    new pkijs.Attribute({
      type: OID.contentType,
      values: [new asn1js.ObjectIdentifier({ value: OID.data })],
    }),
    new pkijs.Attribute({
      type: OID.messageDigest,
      values: [new asn1js.OctetString({ valueHex: toArrayBuffer(digest) })],
    }),
    new pkijs.Attribute({
      type: OID.signingTime,
      // RFC 5652 11.3: UTCTime for dates from 1950 to 2049.
      values: [
        signingTime.getUTCFullYear() < 2050
          ? new asn1js.UTCTime({ valueDate: signingTime })
          : new asn1js.GeneralizedTime({ valueDate: signingTime }),
      ],
    }),
    ...(opts.extraSignedAttrs ?? []),
  ];
  const certificates = [
    cert,
    ...(opts.extraCerts ?? []).map((der) => pkijs.Certificate.fromBER(new Uint8Array(der))),
  ];
  if (opts.der) {
    const derOrder = (a: { toSchema(): Asn1js.BaseBlock }, b: { toSchema(): Asn1js.BaseBlock }): number =>
      Buffer.compare(Buffer.from(a.toSchema().toBER(false)), Buffer.from(b.toSchema().toBER(false)));
    attributes.sort(derOrder);
    certificates.sort(derOrder);
  }
  const sd = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({
      eContentType: OID.data,
      ...(opts.detached ? {} : { eContent: new asn1js.OctetString({ valueHex: toArrayBuffer(content) }) }),
    }),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
        signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes }),
      }),
    ],
    certificates,
  });
  if (opts.der && !opts.detached) {
    sd.encapContentInfo.eContent = new asn1js.OctetString({ valueHex: toArrayBuffer(content) });
  }
  await sd.sign(key, 0, 'SHA-256');
  const ci = new pkijs.ContentInfo({ contentType: OID.signedData, content: sd.toSchema(true) });
  return Buffer.from(ci.toSchema().toBER(false));
}

/** The eContent bytes, joining the pieces of a constructed (BER) OCTET STRING. */
function eContentBytes(sd: Pkijs.SignedData): Buffer | null {
  const ec = sd.encapContentInfo.eContent;
  if (!ec) return null;
  if (ec.idBlock.isConstructed) {
    const parts = (ec.valueBlock as unknown as { value: Asn1js.OctetString[] }).value;
    return Buffer.concat(parts.map((p) => Buffer.from(p.valueBlock.valueHexView)));
  }
  return Buffer.from(ec.valueBlock.valueHexView);
}

export interface CmsCheck {
  signature: EnvelopeSignature;
  /** The encapsulated content (opaque signing), or null when the CMS is detached or unreadable. */
  content: Buffer | null;
}

const invalid = (reason: string, content: Buffer | null = null): CmsCheck => ({
  signature: { status: 'invalid', reason },
  content,
});

/**
 * Checks a CMS SignedData (DER): over `detached` when given (multipart/signed), else over its own
 * encapsulated content, which is returned either way so that a message with a wrong signature can
 * still be read. Every signer must verify. Never throws.
 *
 * The usual case, a signature that verifies with RSA PKCS#1 v1.5 or ECDSA, is decided by
 * verifyCmsNative (node:crypto, a key per certificate kept); anything it cannot confirm (a bad
 * signature, another algorithm, an unusual encoding) goes through pkijs, which gives the verdict
 * and its reason as before.
 */
export async function verifyCms(cms: Buffer, detached?: Buffer): Promise<CmsCheck> {
  const native = verifyCmsNative(cms, detached);
  if (native) return native;
  return verifyCmsPkijs(cms, detached);
}

/** verifyCms by pkijs alone: the reference the native check agrees with, and the verdict when it cannot. */
export async function verifyCmsPkijs(cms: Buffer, detached?: Buffer): Promise<CmsCheck> {
  try {
    await loadPki();
  } catch (err) {
    return invalid(`pkijs cannot be loaded: ${err instanceof Error ? err.message : String(err)}`);
  }
  let sd: Pkijs.SignedData;
  try {
    const asn = asn1js.fromBER(new Uint8Array(cms));
    if (asn.offset === -1) throw new Error(asn.result.error || 'bad ASN.1');
    const ci = new pkijs.ContentInfo({ schema: asn.result });
    if (ci.contentType !== OID.signedData)
      throw new Error(`content type ${ci.contentType} is not SignedData`);
    sd = new pkijs.SignedData({ schema: ci.content });
  } catch (err) {
    return invalid(`the signature cannot be read: ${err instanceof Error ? err.message : String(err)}`);
  }
  let content: Buffer | null;
  try {
    content = eContentBytes(sd);
  } catch {
    content = null;
  }
  if (sd.signerInfos.length === 0) return invalid('the signature has no signer', content);
  if (!content && (!detached || detached.length === 0)) {
    return invalid('detached signature without signed content', null);
  }
  let signer = '';
  for (let i = 0; i < sd.signerInfos.length; i++) {
    try {
      const res = await sd.verify({
        signer: i,
        extendedMode: true,
        // Signature only: the provider's certificate chain is not checked (see the module comment).
        checkChain: false,
        ...(content ? {} : { data: toArrayBuffer(detached as Buffer) }),
      });
      if (!res.signatureVerified) return invalid(`signature of signer ${i + 1} does not verify`, content);
      if (i === 0 && res.signerCertificate) signer = distinguishedName(res.signerCertificate.subject);
    } catch (err) {
      const message =
        typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string'
          ? (err as { message: string }).message
          : String(err);
      return invalid(message || 'the signature does not verify', content);
    }
  }
  return { signature: { status: 'valid', signer }, content };
}

// ---------------------------------------------------------------------------------------------
// The native check: the CMS read with a small BER reader, the signature verified by node:crypto.

/** One BER element: offsets into the buffer it was read from. */
interface Tlv {
  /** 0 universal, 1 application, 2 context-specific, 3 private. */
  cls: number;
  constructed: boolean;
  tag: number;
  /** The identifier octet: where the element starts. */
  start: number;
  contentStart: number;
  /** End of the contents (before the end-of-contents octets of an indefinite length). */
  contentEnd: number;
  /** End of the whole element. */
  end: number;
}

/** Deeper BER than this is not read natively (pkijs decides). */
const MAX_BER_DEPTH = 32;

class BerError extends Error {}

function readTlv(buf: Buffer, pos: number, limit: number, depth = 0): Tlv {
  if (depth > MAX_BER_DEPTH) throw new BerError('too deep');
  let p = pos;
  if (p >= limit) throw new BerError('truncated');
  const id = buf[p++] as number;
  const cls = id >> 6;
  const constructed = (id & 0x20) !== 0;
  let tag = id & 0x1f;
  if (tag === 0x1f) {
    tag = 0;
    for (;;) {
      if (p >= limit) throw new BerError('truncated tag');
      const c = buf[p++] as number;
      tag = tag * 128 + (c & 0x7f);
      if (tag > 0xffffff) throw new BerError('tag too large');
      if ((c & 0x80) === 0) break;
    }
  }
  if (p >= limit) throw new BerError('truncated length');
  const first = buf[p++] as number;
  if (first === 0x80) {
    if (!constructed) throw new BerError('indefinite length on a primitive');
    let q = p;
    for (;;) {
      if (q + 1 < limit && buf[q] === 0 && buf[q + 1] === 0)
        return { cls, constructed, tag, start: pos, contentStart: p, contentEnd: q, end: q + 2 };
      q = readTlv(buf, q, limit, depth + 1).end;
    }
  }
  let length = first;
  if (first > 0x80) {
    const n = first & 0x7f;
    if (n > 4) throw new BerError('length too large');
    length = 0;
    for (let i = 0; i < n; i++) {
      if (p >= limit) throw new BerError('truncated length');
      length = length * 256 + (buf[p++] as number);
    }
  }
  if (p + length > limit) throw new BerError('truncated contents');
  return { cls, constructed, tag, start: pos, contentStart: p, contentEnd: p + length, end: p + length };
}

function childrenOf(buf: Buffer, t: Tlv): Tlv[] {
  if (!t.constructed) throw new BerError('not constructed');
  const out: Tlv[] = [];
  for (let q = t.contentStart; q < t.contentEnd;) {
    const c = readTlv(buf, q, t.contentEnd);
    out.push(c);
    q = c.end;
  }
  return out;
}

const isUniversal = (t: Tlv | undefined, tag: number): t is Tlv => !!t && t.cls === 0 && t.tag === tag;
const isContext = (t: Tlv | undefined, tag: number): t is Tlv => !!t && t.cls === 2 && t.tag === tag;
const bytesOf = (buf: Buffer, t: Tlv): Buffer => buf.subarray(t.contentStart, t.contentEnd);
const SEQUENCE = 0x10;
const SET = 0x11;

/** The value of an OCTET STRING, its pieces joined when it is constructed (BER). */
function octets(buf: Buffer, t: Tlv, depth = 0): Buffer {
  if (t.cls !== 0 || t.tag !== 4) throw new BerError('not an OCTET STRING');
  if (!t.constructed) return bytesOf(buf, t);
  if (depth > MAX_BER_DEPTH) throw new BerError('too deep');
  return Buffer.concat(childrenOf(buf, t).map((c) => octets(buf, c, depth + 1)));
}

function oid(buf: Buffer, t: Tlv): string {
  if (!isUniversal(t, 6) || t.constructed) throw new BerError('not an OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let value = 0;
  for (let i = t.contentStart; i < t.contentEnd; i++) {
    const b = buf[i] as number;
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 256) throw new BerError('OID arc too large');
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const top = value < 40 ? 0 : value < 80 ? 1 : 2;
        arcs.push(top, value - top * 40);
      } else arcs.push(value);
      value = 0;
    }
  }
  return arcs.join('.');
}

/** node:crypto's names of the digests a CMS names by OID. */
const DIGESTS: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** Signature algorithms checked natively: the key type and the digest ('' = the signer's digest). */
const SIGNATURES: Record<string, { key: 'rsa' | 'ec'; digest: string }> = {
  '1.2.840.113549.1.1.1': { key: 'rsa', digest: '' },
  '1.2.840.113549.1.1.5': { key: 'rsa', digest: 'sha1' },
  '1.2.840.113549.1.1.14': { key: 'rsa', digest: 'sha224' },
  '1.2.840.113549.1.1.11': { key: 'rsa', digest: 'sha256' },
  '1.2.840.113549.1.1.12': { key: 'rsa', digest: 'sha384' },
  '1.2.840.113549.1.1.13': { key: 'rsa', digest: 'sha512' },
  '1.2.840.10045.4.1': { key: 'ec', digest: 'sha1' },
  '1.2.840.10045.4.3.1': { key: 'ec', digest: 'sha224' },
  '1.2.840.10045.4.3.2': { key: 'ec', digest: 'sha256' },
  '1.2.840.10045.4.3.3': { key: 'ec', digest: 'sha384' },
  '1.2.840.10045.4.3.4': { key: 'ec', digest: 'sha512' },
};

/** A directory string's text, decoded as asn1js decodes it (so that distinguishedName() and this agree). */
function directoryString(buf: Buffer, t: Tlv): string {
  if (t.cls !== 0 || t.constructed) return '';
  const b = bytesOf(buf, t);
  switch (t.tag) {
    case 12:
      return b.toString('utf8');
    case 30: {
      let out = '';
      for (let i = 0; i + 1 < b.length; i += 2)
        out += String.fromCharCode(((b[i] as number) << 8) | (b[i + 1] as number));
      return out;
    }
    case 28: {
      let out = '';
      for (let i = 0; i + 3 < b.length; i += 4) out += String.fromCodePoint(b.readUInt32BE(i));
      return out;
    }
    case 18:
    case 19:
    case 20:
    case 21:
    case 22:
    case 25:
    case 26:
    case 27:
    case 29:
      return b.toString('latin1');
    default:
      return '';
  }
}

/** The subject of a certificate as distinguishedName() writes it: every attribute of every RDN, in order. */
function nameText(buf: Buffer, name: Tlv): string {
  const parts: string[] = [];
  for (const rdn of childrenOf(buf, name))
    for (const atv of childrenOf(buf, rdn)) {
      const [type, value] = childrenOf(buf, atv);
      if (!type || !value) throw new BerError('bad AttributeTypeAndValue');
      const t = oid(buf, type);
      parts.push(`${DN_SHORT_NAMES[t] ?? t}=${directoryString(buf, value)}`);
    }
  return parts.join(', ');
}

/** What the native check needs of a certificate, kept per certificate (providers sign with few). */
interface SignerCert {
  issuer: Buffer;
  serial: Buffer;
  /** SHA-1 of the subject public key, for a signer identified by subjectKeyIdentifier. */
  keyId: Buffer;
  key: crypto.KeyObject;
  subject: string;
}

const CERT_CACHE_SIZE = 32;
const certCache = new Map<string, SignerCert>();

function signerCert(buf: Buffer, cert: Tlv): SignerCert {
  const der = buf.subarray(cert.start, cert.end);
  const cacheKey = der.toString('base64');
  const hit = certCache.get(cacheKey);
  if (hit) return hit;
  const [tbs] = childrenOf(buf, cert);
  if (!isUniversal(tbs, SEQUENCE)) throw new BerError('bad certificate');
  const f = childrenOf(buf, tbs);
  const at = isContext(f[0], 0) ? 1 : 0;
  const [serial, , issuer, , subject, spki] = f.slice(at);
  if (!isUniversal(serial, 2) || !isUniversal(issuer, SEQUENCE) || !isUniversal(subject, SEQUENCE))
    throw new BerError('bad certificate');
  if (!isUniversal(spki, SEQUENCE)) throw new BerError('bad certificate');
  const bits = childrenOf(buf, spki)[1];
  if (!isUniversal(bits, 3) || bits.constructed) throw new BerError('bad certificate key');
  const entry: SignerCert = {
    issuer: Buffer.from(buf.subarray(issuer.start, issuer.end)),
    serial: Buffer.from(bytesOf(buf, serial)),
    keyId: crypto
      .createHash('sha1')
      .update(buf.subarray(bits.contentStart + 1, bits.contentEnd))
      .digest(),
    key: crypto.createPublicKey({
      key: Buffer.from(buf.subarray(spki.start, spki.end)),
      format: 'der',
      type: 'spki',
    }),
    subject: nameText(buf, subject),
  };
  if (certCache.size >= CERT_CACHE_SIZE) certCache.clear();
  certCache.set(cacheKey, entry);
  return entry;
}

/** One SignerInfo verified natively: the signer's subject, or null when it does not confirm. */
function verifySigner(buf: Buffer, si: Tlv, certs: Tlv[], content: Buffer): string | null {
  const f = childrenOf(buf, si);
  const [, sid, digestAlg] = f;
  let i = 3;
  const signedAttrs = isContext(f[i], 0) ? f[i++] : undefined;
  const sigAlg = f[i++];
  const signature = f[i];
  if (!sid || !isUniversal(digestAlg, SEQUENCE) || !isUniversal(sigAlg, SEQUENCE) || !signature) return null;
  const digestOid = childrenOf(buf, digestAlg)[0];
  const sigOid = childrenOf(buf, sigAlg)[0];
  if (!digestOid || !sigOid) return null;
  const digest = DIGESTS[oid(buf, digestOid)];
  const algorithm = SIGNATURES[oid(buf, sigOid)];
  if (!digest || !algorithm) return null;

  // The signer's certificate, found as pkijs finds it: by issuer and serial, or by key id.
  let cert: SignerCert | undefined;
  if (sid.cls === 0 && sid.tag === SEQUENCE) {
    const [issuer, serial] = childrenOf(buf, sid);
    if (!issuer || !isUniversal(serial, 2)) return null;
    const issuerDer = buf.subarray(issuer.start, issuer.end);
    const serialBytes = bytesOf(buf, serial);
    for (const c of certs) {
      const candidate = signerCert(buf, c);
      if (candidate.issuer.equals(issuerDer) && candidate.serial.equals(serialBytes)) {
        cert = candidate;
        break;
      }
    }
  } else if (sid.cls === 2 && sid.tag === 0) {
    // subjectKeyIdentifier [0]: primitive when IMPLICIT, as CMS has it.
    const keyId = sid.constructed ? octets(buf, childrenOf(buf, sid)[0] as Tlv) : bytesOf(buf, sid);
    for (const c of certs) {
      const candidate = signerCert(buf, c);
      if (candidate.keyId.equals(keyId)) {
        cert = candidate;
        break;
      }
    }
  }
  if (!cert || cert.key.asymmetricKeyType !== algorithm.key) return null;

  let signed = content;
  if (signedAttrs) {
    // RFC 5652 5.4: the signed attributes must carry the content type and the content's digest.
    let hasContentType = false;
    let messageDigest: Buffer | null = null;
    for (const attr of childrenOf(buf, signedAttrs)) {
      const [type, values] = childrenOf(buf, attr);
      if (!type || !isUniversal(values, SET)) return null;
      const t = oid(buf, type);
      if (t === OID.contentType) hasContentType = true;
      else if (t === OID.messageDigest) {
        const v = childrenOf(buf, values)[0];
        if (!v) return null;
        messageDigest = octets(buf, v);
      }
    }
    if (!hasContentType || !messageDigest) return null;
    if (!crypto.createHash(digest).update(content).digest().equals(messageDigest)) return null;
    // What was signed is the DER of the attributes as a SET OF, i.e. with the SET tag.
    signed = Buffer.from(buf.subarray(signedAttrs.start, signedAttrs.end));
    signed[0] = 0x31;
  }
  const ok = crypto.verify(
    algorithm.digest || digest,
    signed,
    algorithm.key === 'ec' ? { key: cert.key, dsaEncoding: 'der' } : cert.key,
    octets(buf, signature),
  );
  return ok ? cert.subject : null;
}

/**
 * The check of verifyCms without pkijs, for signatures it can confirm: null unless every signer
 * verifies (then pkijs decides, and tells why not). Sync and never throws.
 */
export function verifyCmsNative(cms: Buffer, detached?: Buffer): CmsCheck | null {
  try {
    const ci = readTlv(cms, 0, cms.length);
    if (!isUniversal(ci, SEQUENCE)) return null;
    const [type, explicit] = childrenOf(cms, ci);
    if (!type || oid(cms, type) !== OID.signedData || !isContext(explicit, 0)) return null;
    const sdSeq = childrenOf(cms, explicit)[0];
    if (!isUniversal(sdSeq, SEQUENCE)) return null;
    const f = childrenOf(cms, sdSeq);
    const encap = f[2];
    if (!isUniversal(encap, SEQUENCE)) return null;
    let i = 3;
    const certSet = isContext(f[i], 0) ? f[i++] : undefined;
    if (isContext(f[i], 1)) i++;
    const signerInfos = f[i];
    if (!certSet || !isUniversal(signerInfos, SET)) return null;
    const [, eContentWrap] = childrenOf(cms, encap);
    let content: Buffer | null = null;
    if (eContentWrap) {
      if (!isContext(eContentWrap, 0)) return null;
      const inner = childrenOf(cms, eContentWrap)[0];
      if (!inner) return null;
      content = octets(cms, inner);
    }
    const data = content ?? (detached && detached.length > 0 ? detached : null);
    if (!data) return null;
    const certs = childrenOf(cms, certSet).filter((c) => isUniversal(c, SEQUENCE));
    const infos = childrenOf(cms, signerInfos);
    if (infos.length === 0) return null;
    let signer = '';
    for (const [n, si] of infos.entries()) {
      if (!isUniversal(si, SEQUENCE)) return null;
      const subject = verifySigner(cms, si, certs, data);
      if (subject === null) return null;
      if (n === 0) signer = subject;
    }
    return { signature: { status: 'valid', signer }, content };
  } catch {
    return null;
  }
}
