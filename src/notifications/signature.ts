import crypto from 'node:crypto';
import { DOMParser, type Document, type Element, type Node } from '@xmldom/xmldom';
import { C14nCanonicalization, ExclusiveCanonicalization } from 'xml-crypto';

/**
 * Best-effort check of the enveloped XML signature (XAdES-BES) SdI puts on its notifications:
 * the reference to the whole document (URI="", the signature removed by its XPath Filter 2.0 or
 * enveloped-signature transform) and the SignatureValue over SignedInfo with the certificate in
 * KeyInfo. Not checked: the XAdES SignedProperties reference and the certificate's chain to
 * SdI's CA. The result is recorded with the notification; a failed check never drops it.
 *
 * Call it only on bytes the project's own XML reader accepted (no DTD): xmldom then never sees
 * a DOCTYPE.
 */
export type SignatureCheck =
  | { status: 'absent' }
  | { status: 'valid'; signer: string }
  | { status: 'invalid'; reason: string }
  | { status: 'unchecked'; reason: string };

const DS = 'http://www.w3.org/2000/09/xmldsig#';
const FILTER2 = 'http://www.w3.org/2002/06/xmldsig-filter2';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const C14N = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const DIGESTS: Record<string, string> = {
  'http://www.w3.org/2001/04/xmlenc#sha256': 'sha256',
  'http://www.w3.org/2001/04/xmlenc#sha512': 'sha512',
  'http://www.w3.org/2000/09/xmldsig#sha1': 'sha1',
};
const SIGNATURES: Record<string, string> = {
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256': 'sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': 'sha512',
  'http://www.w3.org/2000/09/xmldsig#rsa-sha1': 'sha1',
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256': 'sha256',
};

/** One line for the store and the logs. */
export function describeSignature(c: SignatureCheck): string {
  switch (c.status) {
    case 'absent':
      return 'absent';
    case 'valid':
      return `valid (${c.signer})`;
    default:
      return `${c.status}: ${c.reason}`;
  }
}

const children = (el: Element, ns: string, name: string): Element[] => {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === name)
      out.push(n as Element);
  }
  return out;
};

function canonicalize(node: Node, algorithm: string | null): string | null {
  if (algorithm === C14N) return String(new C14nCanonicalization().process(node, {}));
  if (algorithm === EXC_C14N) return String(new ExclusiveCanonicalization().process(node, {}));
  return null;
}

/** The canonical form of a whole document (c14n 1.0): processing instructions around the root, then the root. */
function canonicalDocument(doc: Document): string {
  const parts: string[] = [];
  let afterRoot = false;
  for (let n = doc.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 7) {
      const pi = n as unknown as { target: string; data: string };
      // xmldom keeps the XML declaration as a processing instruction; c14n leaves it out.
      if (pi.target === 'xml') continue;
      const text = `<?${pi.target}${pi.data ? ` ${pi.data}` : ''}?>`;
      parts.push(afterRoot ? `\n${text}` : `${text}\n`);
    } else if (n.nodeType === 1) {
      parts.push(String(new C14nCanonicalization().process(n, {})));
      afterRoot = true;
    }
  }
  return parts.join('');
}

export function checkNotificationSignature(bytes: Buffer): SignatureCheck {
  try {
    const errors: string[] = [];
    const parse = (): Document =>
      new DOMParser({
        onError: (level, msg) => void (level !== 'warning' && errors.push(msg)),
      }).parseFromString(bytes.toString('utf8'), 'text/xml');
    const doc = parse();
    const root = doc.documentElement;
    if (!root || errors.length)
      return { status: 'unchecked', reason: `unreadable: ${errors[0] ?? 'no root'}` };
    const sig = children(root, DS, 'Signature')[0];
    if (!sig) return { status: 'absent' };
    const signedInfo = children(sig, DS, 'SignedInfo')[0];
    const value = children(sig, DS, 'SignatureValue')[0]?.textContent?.replace(/\s+/g, '');
    const certB64 = sig.getElementsByTagNameNS(DS, 'X509Certificate')[0]?.textContent?.replace(/\s+/g, '');
    if (!signedInfo || !value) return { status: 'invalid', reason: 'SignedInfo or SignatureValue missing' };
    if (!certB64) return { status: 'unchecked', reason: 'no X509Certificate in KeyInfo' };

    // The reference to the whole document.
    const ref = children(signedInfo, DS, 'Reference').find((r) => (r.getAttribute('URI') ?? '') === '');
    if (!ref) return { status: 'unchecked', reason: 'no reference to the whole document (URI="")' };
    const transforms = children(children(ref, DS, 'Transforms')[0] ?? ref, DS, 'Transform').map(
      (t) => t.getAttribute('Algorithm') ?? '',
    );
    if (transforms.length !== 1 || (transforms[0] !== FILTER2 && transforms[0] !== ENVELOPED))
      return { status: 'unchecked', reason: `transforms not supported: ${transforms.join(', ') || 'none'}` };
    if (transforms[0] === FILTER2) {
      const xpath = ref.getElementsByTagNameNS(FILTER2, 'XPath')[0];
      const filter = xpath?.getAttribute('Filter');
      if (filter !== 'subtract' || !/^\/descendant::ds:Signature$/.test((xpath?.textContent ?? '').trim()))
        return {
          status: 'unchecked',
          reason: 'an XPath filter other than "subtract /descendant::ds:Signature"',
        };
    }
    const digestAlg = DIGESTS[children(ref, DS, 'DigestMethod')[0]?.getAttribute('Algorithm') ?? ''];
    const digest = children(ref, DS, 'DigestValue')[0]?.textContent?.replace(/\s+/g, '');
    if (!digestAlg || !digest) return { status: 'unchecked', reason: 'digest method not supported' };
    const copy = parse();
    for (const s of Array.from(copy.getElementsByTagNameNS(DS, 'Signature'))) s.parentNode?.removeChild(s);
    const actual = crypto.createHash(digestAlg).update(canonicalDocument(copy), 'utf8').digest('base64');
    if (actual !== digest)
      return { status: 'invalid', reason: 'the document does not match its signed digest' };

    // The signature over SignedInfo.
    const c14nAlg = children(signedInfo, DS, 'CanonicalizationMethod')[0]?.getAttribute('Algorithm') ?? null;
    const signedBytes = canonicalize(signedInfo, c14nAlg);
    const sigAlg =
      SIGNATURES[children(signedInfo, DS, 'SignatureMethod')[0]?.getAttribute('Algorithm') ?? ''];
    if (signedBytes === null || !sigAlg)
      return { status: 'unchecked', reason: 'canonicalization or signature method not supported' };
    const cert = new crypto.X509Certificate(Buffer.from(certB64, 'base64'));
    const ok = crypto.verify(
      sigAlg,
      Buffer.from(signedBytes, 'utf8'),
      cert.publicKey,
      Buffer.from(value, 'base64'),
    );
    if (!ok)
      return {
        status: 'invalid',
        reason: 'the SignatureValue does not verify with the certificate in KeyInfo',
      };
    const cn = /CN=([^\n,]+)/.exec(cert.subject)?.[1] ?? cert.subject;
    return { status: 'valid', signer: cn };
  } catch (err) {
    return { status: 'unchecked', reason: (err as Error).message.slice(0, 200) };
  }
}
