import crypto from 'node:crypto';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { decodeXml, parseXmlText } from '../invoice/xml.js';
import { readTrustedList, TSL_NS, type TrustedList } from './tsl.js';

/**
 * Checks a downloaded trusted list before anything in it is believed:
 *
 * 1. the project's own XML reader first: no DTD, no entity, well-formed, bounded depth;
 * 2. one enveloped XMLDSig signature, a direct child of the TrustServiceStatusList, whose
 *    reference to the list (URI "" or "#<the root's Id>") carries the enveloped-signature
 *    transform, with RSA (SHA-256 or stronger) over exclusive or inclusive c14n; every other
 *    reference (the XAdES SignedProperties) must verify too;
 * 3. the key is one of the configured signer certificates, never the one the file carries: the
 *    signature is checked with each configured certificate's public key, and the certificate in
 *    KeyInfo is only reported (same certificate, or another certificate with the same key);
 * 4. the list is read from the canonical bytes the signature covers, not from the file.
 */

const DS = 'http://www.w3.org/2000/09/xmldsig#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const SIGNATURE_METHODS = new Set([
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  'http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1',
]);
const DIGEST_METHODS = new Set([
  'http://www.w3.org/2001/04/xmlenc#sha256',
  'http://www.w3.org/2001/04/xmlenc#sha512',
]);

export interface SignerCert {
  /** Where it came from (a file name), for messages. */
  source: string;
  cert: crypto.X509Certificate;
}

export interface VerifiedList {
  list: TrustedList;
  /** The configured certificate whose key verified the signature. */
  signer: { source: string; subject: string; sha256: string; notAfter: string };
  signerCert: crypto.X509Certificate;
  /** How the certificate in KeyInfo relates to it. */
  keyInfo: 'same-certificate' | 'same-public-key' | 'other' | 'absent';
}

export class TslRefused extends Error {
  override name = 'TslRefused';
  constructor(
    message: string,
    /** A short machine-readable reason for the log. */
    readonly reason:
      | 'unreadable'
      | 'dtd'
      | 'format'
      | 'unsigned'
      | 'signature'
      | 'signer'
      | 'algorithm'
      | 'oversize'
      | 'expired'
      | 'older'
      | 'territory',
  ) {
    super(message);
  }
}

const fingerprint = (der: Buffer): string => crypto.createHash('sha256').update(der).digest('hex');
const spki = (c: crypto.X509Certificate): Buffer => c.publicKey.export({ type: 'spki', format: 'der' });

/** Reads signer certificates from PEM (one or more) or DER bytes. */
export function readSignerCerts(bytes: Buffer, source: string): SignerCert[] {
  const text = bytes.toString('latin1');
  const ders = text.includes('-----BEGIN CERTIFICATE-----')
    ? [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) =>
        Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'),
      )
    : [bytes];
  return ders.map((der) => ({ source, cert: new crypto.X509Certificate(der) }));
}

const children = (el: Element, ns: string, name: string): Element[] => {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling)
    if (n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === name)
      out.push(n as Element);
  return out;
};

export function verifyTrustedList(bytes: Buffer, signers: SignerCert[]): VerifiedList {
  if (signers.length === 0)
    throw new TslRefused('no signer certificate is configured (validation.tsl.signers)', 'signer');
  // 1. The project's reader: it refuses any DOCTYPE, so xmldom below never sees one.
  const decoded = decodeXml(bytes);
  if (!decoded.ok) throw new TslRefused(`not readable XML: ${decoded.error.message}`, 'unreadable');
  const first = parseXmlText(decoded.text, decoded.encoding, { maxDepth: 32 });
  if (!first.ok) {
    const m = first.errors[0]?.message ?? 'not well-formed';
    throw new TslRefused(`not accepted by the XML reader: ${m}`, /DOCTYPE/.test(m) ? 'dtd' : 'unreadable');
  }
  if (first.root.name !== 'TrustServiceStatusList' || first.root.ns !== TSL_NS)
    throw new TslRefused(
      `the root element is {${first.root.ns}}${first.root.name}, not an ETSI TrustServiceStatusList`,
      'format',
    );
  const text = decoded.text;

  // 2. The signature, with xmldom and xml-crypto.
  const errors: string[] = [];
  const doc = new DOMParser({
    onError: (level, msg) => void (level !== 'warning' && errors.push(msg)),
  }).parseFromString(text, 'text/xml');
  const root = doc.documentElement;
  if (!root || errors.length) throw new TslRefused(`unreadable: ${errors[0] ?? 'no root'}`, 'unreadable');
  const sigs = children(root, DS, 'Signature');
  if (sigs.length === 0) throw new TslRefused('the list is not signed', 'unsigned');
  if (sigs.length > 1 || root.getElementsByTagNameNS(DS, 'Signature').length !== 1)
    throw new TslRefused('the list has more than one ds:Signature', 'signature');
  const sigEl = sigs[0] as Element;
  const signedInfo = children(sigEl, DS, 'SignedInfo')[0];
  const method = signedInfo && children(signedInfo, DS, 'SignatureMethod')[0]?.getAttribute('Algorithm');
  if (!method || !SIGNATURE_METHODS.has(method))
    throw new TslRefused(`signature method not accepted: ${method ?? 'none'}`, 'algorithm');
  const refs = signedInfo ? children(signedInfo, DS, 'Reference') : [];
  for (const r of refs) {
    const dm = children(r, DS, 'DigestMethod')[0]?.getAttribute('Algorithm') ?? '';
    if (!DIGEST_METHODS.has(dm))
      throw new TslRefused(`digest method not accepted: ${dm || 'none'}`, 'algorithm');
  }
  const rootId = root.getAttribute('Id') ?? '';
  const keyInfoB64 = sigEl.getElementsByTagNameNS(DS, 'X509Certificate')[0]?.textContent?.replace(/\s+/g, '');

  let lastError = '';
  for (const s of signers) {
    const sx = new SignedXml({
      publicCert: s.cert.toString(),
      getCertFromKeyInfo: () => null,
    });
    let ok = false;
    try {
      sx.loadSignature(sigEl);
      ok = sx.checkSignature(text);
      if (!ok) lastError = 'a reference does not match its digest';
    } catch (err) {
      lastError = (err as Error).message;
      ok = false;
    }
    if (!ok) continue;
    // The reference to the whole list: the only one whose content is read.
    const whole = sx.getReferences().filter((r) => r.uri === '' || (rootId !== '' && r.uri === `#${rootId}`));
    const main = whole[0];
    if (whole.length !== 1 || !main?.signedReference)
      throw new TslRefused(
        'the signature does not cover the whole list (no reference to its root)',
        'signature',
      );
    if (!main.transforms.includes(ENVELOPED))
      throw new TslRefused('the reference to the list lacks the enveloped-signature transform', 'signature');
    const signed = parseXmlText(main.signedReference, 'utf-8', { maxDepth: 32 });
    if (!signed.ok) throw new TslRefused('the signed content cannot be read', 'format');
    let list: TrustedList;
    try {
      list = readTrustedList(signed.root);
    } catch (err) {
      throw new TslRefused((err as Error).message, 'format');
    }
    const der = Buffer.from(s.cert.raw);
    let keyInfo: VerifiedList['keyInfo'] = 'absent';
    if (keyInfoB64) {
      try {
        const k = new crypto.X509Certificate(Buffer.from(keyInfoB64, 'base64'));
        keyInfo = k.raw.equals(der)
          ? 'same-certificate'
          : spki(k).equals(spki(s.cert))
            ? 'same-public-key'
            : 'other';
      } catch {
        keyInfo = 'other';
      }
    }
    return {
      list,
      signer: {
        source: s.source,
        subject: s.cert.subject.replace(/\n/g, ', '),
        sha256: fingerprint(der),
        notAfter: new Date(s.cert.validTo).toISOString(),
      },
      signerCert: s.cert,
      keyInfo,
    };
  }
  let carried = '';
  if (keyInfoB64) {
    try {
      const k = new crypto.X509Certificate(Buffer.from(keyInfoB64, 'base64'));
      carried = ` The list carries the certificate ${k.subject.replace(/\n/g, ', ')} (SHA-256 ${fingerprint(Buffer.from(k.raw))}).`;
    } catch {
      carried = '';
    }
  }
  const digest = /digest|reference/i.test(lastError);
  throw new TslRefused(
    digest
      ? `the list was changed after it was signed (${lastError}).${carried}`
      : `the signature does not verify with any configured signer certificate (validation.tsl.signers).${carried}`,
    digest ? 'signature' : 'signer',
  );
}
