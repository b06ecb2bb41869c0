import crypto from 'node:crypto';
import type * as Asn1js from 'asn1js';
import type * as Pkijs from 'pkijs';
import { loadPkijs } from '../../util/pkijs.js';
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
  opts: { detached: boolean; signingTime?: Date },
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
  ];
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
    certificates: [cert],
  });
  await sd.sign(key, 0, 'SHA-256');
  const ci = new pkijs.ContentInfo({ contentType: OID.signedData, content: sd.toSchema(true) });
  return Buffer.from(ci.toSchema().toBER(false));
}

function dn(rdn: Pkijs.RelativeDistinguishedNames): string {
  const short: Record<string, string> = {
    '2.5.4.3': 'CN',
    '2.5.4.10': 'O',
    '2.5.4.11': 'OU',
    '2.5.4.6': 'C',
    '2.5.4.5': 'serialNumber',
    '1.2.840.113549.1.9.1': 'emailAddress',
  };
  return rdn.typesAndValues
    .map((tv) => {
      const v = tv.value as { valueBlock?: { value?: unknown } };
      const val = typeof v.valueBlock?.value === 'string' ? v.valueBlock.value : '';
      return `${short[tv.type] ?? tv.type}=${val}`;
    })
    .join(', ');
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
 */
export async function verifyCms(cms: Buffer, detached?: Buffer): Promise<CmsCheck> {
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
      if (i === 0 && res.signerCertificate) signer = dn(res.signerCertificate.subject);
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
