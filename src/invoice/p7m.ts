import type * as Asn1js from 'asn1js';
import type * as Pkijs from 'pkijs';
import { loadPkijs } from '../util/pkijs.js';
import { finding, type Finding } from '../rules/finding.js';

/**
 * CAdES `.p7m`: finds the signed invoice inside and checks the signature as SdI does (00100,
 * 00102-00107). Accepts DER or base64 (with or without PEM armour and line breaks), BER
 * indefinite lengths, and signatures nested a few times. The encoding is read strictly (checkBer:
 * lengths consistent, the whole input one element): bytes altered around the signed content are
 * 00102, never a valid signature. Garbage gets a finding, never a throw.
 */

// pkijs and asn1js are loaded at first use (util/pkijs.ts).
let asn1js: typeof Asn1js;
let pkijs: typeof Pkijs;
async function loadPki(): Promise<void> {
  ({ asn1js, pkijs } = await loadPkijs());
}

export interface SignerInfo {
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  signingTime: Date | null;
}

export type P7mResult =
  | {
      ok: true;
      content: Buffer;
      signers: SignerInfo[];
      findings: Finding[];
      warnings: Finding[];
      issuerCheck: 'trusted' | 'untrusted' | 'not-checked';
    }
  | { ok: false; findings: Finding[]; warnings: Finding[] };

const MAX_LAYERS = 4;
const SIGNED_DATA = '1.2.840.113549.1.7.2';
const SIGNING_TIME = '1.2.840.113549.1.9.5';

export function looksLikeP7m(bytes: Buffer): boolean {
  if (bytes.length < 2) return false;
  if (bytes[0] === 0x30 && (bytes[1] as number) >= 0x80) return true;
  const head = bytes.subarray(0, 64).toString('latin1').trimStart();
  // 'MI' opens base64 of a DER SEQUENCE, 'TUl' base64 of that base64.
  return head.startsWith('MI') || head.startsWith('TUl') || head.startsWith('-----BEGIN');
}

/** DER as is; base64 (with or without PEM armour) decoded, twice if need be (files saved from some portals). */
function toDer(bytes: Buffer): Buffer | null {
  let cur = bytes;
  for (let i = 0; i < 3; i++) {
    if (cur[0] === 0x30) return cur;
    const text = cur
      .toString('latin1')
      .replace(/-----(BEGIN|END)[^-]*-----/g, '')
      .replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return null;
    cur = Buffer.from(text, 'base64');
  }
  return null;
}

/**
 * Reads `buf` as one BER element, strictly, as openssl does: every length consistent with its
 * content (the children of a constructed element fill it exactly; an indefinite length only on a
 * constructed element, closed by its end-of-contents), and the whole input consumed. BER
 * indefinite lengths are allowed (CAdES from some Italian CAs uses them); DER is a special case.
 * Null when sound, otherwise what is wrong. Primitive contents (an eContent holding a nested
 * signature) are checked when they are read in turn.
 */
export function checkBer(buf: Uint8Array): string | null {
  const MAX_DEPTH = 64;
  // One element at `at`, within `end`: its end offset, or throws the problem.
  const element = (at: number, end: number, depth: number): number => {
    if (depth > MAX_DEPTH) throw new Error(`elements nested more than ${MAX_DEPTH} deep`);
    if (at >= end) throw new Error(`an element expected at byte ${at}, the input ends`);
    const tag = buf[at] as number;
    const constructed = (tag & 0x20) !== 0;
    let i = at + 1;
    if ((tag & 0x1f) === 0x1f) {
      // High tag number: base-128 digits, the last without its top bit.
      let n = 0;
      while (i < end && ((buf[i] as number) & 0x80) !== 0 && n < 4) {
        i++;
        n++;
      }
      if (i >= end || n >= 4) throw new Error(`a malformed tag at byte ${at}`);
      i++;
    }
    if (i >= end) throw new Error(`the element at byte ${at} has no length`);
    const first = buf[i++] as number;
    if (first === 0x80) {
      if (!constructed) throw new Error(`an indefinite length on a primitive element at byte ${at}`);
      for (;;) {
        if (i + 2 <= end && buf[i] === 0 && buf[i + 1] === 0) return i + 2;
        if (i >= end) throw new Error(`the indefinite-length element at byte ${at} is never closed`);
        i = element(i, end, depth + 1);
      }
    }
    let len = first;
    if (first & 0x80) {
      const n = first & 0x7f;
      if (n > 4) throw new Error(`a length of ${n} bytes at byte ${at}`);
      if (i + n > end) throw new Error(`the length of the element at byte ${at} is cut short`);
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + (buf[i + k] as number);
      i += n;
    }
    const stop = i + len;
    if (stop > end)
      throw new Error(`the element at byte ${at} declares ${len} bytes, only ${end - i} follow`);
    if (constructed) {
      while (i < stop) i = element(i, stop, depth + 1);
      if (i !== stop) throw new Error(`the contents of the element at byte ${at} overflow its length`);
    }
    return stop;
  };
  try {
    const stop = element(0, buf.length, 0);
    if (stop !== buf.length) return `${buf.length - stop} byte(s) after the end of the signature`;
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

const unreadable = (why: string, whyIt: string): Finding =>
  finding(
    '00102',
    `The signed file cannot be read as a CAdES signature: ${why}.`,
    `Il file firmato non è leggibile come firma CAdES: ${whyIt}.`,
  );

function name(rdn: Pkijs.RelativeDistinguishedNames): string {
  return rdn.typesAndValues
    .map((tv) => {
      const v = tv.value as { valueBlock?: { value?: unknown } };
      const val = typeof v.valueBlock?.value === 'string' ? v.valueBlock.value : '';
      const short: Record<string, string> = {
        '2.5.4.3': 'CN',
        '2.5.4.10': 'O',
        '2.5.4.6': 'C',
        '2.5.4.5': 'serialNumber',
      };
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

function parseCerts(pems: Buffer[]): Pkijs.Certificate[] {
  const out: Pkijs.Certificate[] = [];
  for (const b of pems) {
    const text = b.toString('latin1');
    const blocks = text.includes('-----BEGIN')
      ? [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) =>
          Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'),
        )
      : [b];
    for (const der of blocks) {
      try {
        out.push(pkijs.Certificate.fromBER(der));
      } catch {
        /* not a certificate: ignored */
      }
    }
  }
  return out;
}

/** A CA trusted only in some periods (a trusted list's service history): [from, to) in epoch ms, to null = open. */
export interface TrustAnchor {
  cert: Uint8Array;
  trustedDuring: { from: number; to: number | null }[];
}

/** Parsed anchors by their DER (a trusted list has ~150; parsing them costs ~0.7 ms each, per file). */
const anchorCache = new Map<string, Pkijs.Certificate | null>();
function anchorCert(der: Uint8Array): Pkijs.Certificate | null {
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let cert = anchorCache.get(key);
  if (cert === undefined) {
    cert = parseCerts([Buffer.from(der)])[0] ?? null;
    if (anchorCache.size >= 4096) anchorCache.clear();
    anchorCache.set(key, cert);
  }
  return cert;
}

export async function unwrapP7m(
  bytes: Buffer,
  opts: { trustedCAs?: Buffer[]; trustAnchors?: TrustAnchor[]; now?: Date } = {},
): Promise<P7mResult> {
  await loadPki();
  const now = opts.now ?? new Date();
  const trusted = parseCerts(opts.trustedCAs ?? []);
  const anchors = (opts.trustAnchors ?? []).flatMap((a) => {
    const cert = anchorCert(a.cert);
    return cert ? [{ cert, during: a.trustedDuring }] : [];
  });
  const trustedAt = (t: Date, inPeriod: boolean): Pkijs.Certificate[] =>
    anchors
      .filter(
        (a) =>
          a.during.some((p) => p.from <= t.getTime() && (p.to === null || t.getTime() < p.to)) === inPeriod,
      )
      .map((a) => a.cert);
  const checking = trusted.length + anchors.length > 0;
  const findings: Finding[] = [];
  const warnings: Finding[] = [];
  const signers: SignerInfo[] = [];
  let issuerCheck: 'trusted' | 'untrusted' | 'not-checked' = checking ? 'trusted' : 'not-checked';
  let current = bytes;
  for (let layer = 0; layer < MAX_LAYERS; layer++) {
    const der = toDer(current);
    if (!der)
      return { ok: false, findings: [unreadable('neither DER nor base64', 'né DER né base64')], warnings };
    const malformed = checkBer(der);
    if (malformed)
      return {
        ok: false,
        findings: [
          unreadable(
            `its DER/BER encoding is not sound (${malformed}): the file was altered or cut short`,
            `la sua codifica DER/BER non è integra (${malformed}): il file è stato alterato o troncato`,
          ),
        ],
        warnings,
      };
    let sd: Pkijs.SignedData;
    try {
      const asn = asn1js.fromBER(new Uint8Array(der));
      if (asn.offset === -1) throw new Error(asn.result.error || 'bad ASN.1');
      const ci = new pkijs.ContentInfo({ schema: asn.result });
      if (ci.contentType !== SIGNED_DATA) throw new Error(`content type ${ci.contentType} is not SignedData`);
      sd = new pkijs.SignedData({ schema: ci.content });
    } catch (err) {
      const m = err instanceof Error ? err.message : String(err);
      return { ok: false, findings: [unreadable(m, m)], warnings };
    }
    const content = eContentBytes(sd);
    if (!content) {
      return {
        ok: false,
        findings: [
          unreadable(
            'the signature is detached (the file does not contain the invoice)',
            'la firma è separata (il file non contiene la fattura)',
          ),
        ],
        warnings,
      };
    }
    for (let i = 0; i < sd.signerInfos.length; i++) {
      const si = sd.signerInfos[i] as Pkijs.SignerInfo;
      const st = si.signedAttrs?.attributes.find((a) => a.type === SIGNING_TIME);
      const signingTime = st ? ((st.values[0] as Asn1js.UTCTime).toDate() ?? null) : null;
      let res: Pkijs.SignedDataVerifyResult | null = null;
      try {
        res = await sd.verify({
          signer: i,
          extendedMode: true,
          checkChain: false,
          checkDate: signingTime ?? now,
        });
      } catch (err) {
        const e = err as { message?: string; signerCertificate?: Pkijs.Certificate | null };
        findings.push(
          finding(
            '00102',
            `The signature does not verify: ${e.message ?? String(err)}. The file was altered after signing, or the signature is malformed.`,
            `La firma non è valida: ${e.message ?? String(err)}. Il file è stato modificato dopo la firma, oppure la firma è malformata.`,
          ),
        );
        continue;
      }
      if (!res.signatureVerified) {
        findings.push(
          finding(
            '00102',
            `The signature does not verify (${res.message}).`,
            `La firma non è valida (${res.message}).`,
          ),
        );
      }
      const cert = res.signerCertificate;
      if (!cert) continue;
      const info: SignerInfo = {
        subject: name(cert.subject),
        issuer: name(cert.issuer),
        notBefore: cert.notBefore.value,
        notAfter: cert.notAfter.value,
        signingTime,
      };
      signers.push(info);
      if (!signingTime) {
        findings.push(
          finding(
            '00103',
            `The signature of ${info.subject} has no signing time: SdI requires one (set it in the signing software).`,
            `La firma di ${info.subject} non ha il riferimento temporale: lo SdI lo richiede (impostarlo nel software di firma).`,
          ),
        );
      } else if (signingTime.getTime() > now.getTime()) {
        findings.push(
          finding(
            '00105',
            `The signing time ${signingTime.toISOString()} is in the future (now ${now.toISOString()}): check the signing computer's clock.`,
            `Il riferimento temporale della firma (${signingTime.toISOString()}) è nel futuro (ora ${now.toISOString()}): verificare l'orologio del computer di firma.`,
          ),
        );
      }
      const at = signingTime ?? now;
      if (at > info.notAfter) {
        findings.push(
          finding(
            '00100',
            `The signature certificate of ${info.subject} expired on ${info.notAfter.toISOString()}, before the signing time ${at.toISOString()}.`,
            `Il certificato di firma di ${info.subject} è scaduto il ${info.notAfter.toISOString()}, prima del riferimento temporale ${at.toISOString()}.`,
          ),
        );
      } else if (at < info.notBefore) {
        findings.push(
          finding(
            '00107',
            `The signature certificate of ${info.subject} is valid only from ${info.notBefore.toISOString()}, after the signing time ${at.toISOString()}.`,
            `Il certificato di firma di ${info.subject} è valido solo dal ${info.notBefore.toISOString()}, dopo il riferimento temporale ${at.toISOString()}.`,
          ),
        );
      }
      if (checking) {
        const chainsTo = async (trustedCerts: Pkijs.Certificate[]): Promise<boolean> => {
          if (trustedCerts.length === 0) return false;
          try {
            const chain = await sd.verify({
              signer: i,
              extendedMode: true,
              checkChain: true,
              trustedCerts,
              checkDate: at > info.notAfter || at < info.notBefore ? info.notBefore : at,
            });
            return chain.signerCertificateVerified === true;
          } catch {
            return false;
          }
        };
        if (!(await chainsTo([...trusted, ...trustedAt(at, true)]))) {
          issuerCheck = 'untrusted';
          const lapsed = await chainsTo(trustedAt(at, false));
          findings.push(
            lapsed
              ? finding(
                  '00104',
                  `The CA that issued the signature certificate (${info.issuer}) was not a qualified CA in the trusted list at ${signingTime ? 'the signing time' : 'validation time'} ${at.toISOString()} (its status was not "granted" then).`,
                  `La CA che ha emesso il certificato di firma (${info.issuer}) non era una CA qualificata nell'elenco di fiducia ${signingTime ? 'al riferimento temporale' : 'al momento della verifica'} ${at.toISOString()} (il suo stato non era "granted").`,
                )
              : finding(
                  '00104',
                  `The CA that issued the signature certificate (${info.issuer}) is not among the trusted CAs configured.`,
                  `La CA che ha emesso il certificato di firma (${info.issuer}) non è tra le CA affidabili configurate.`,
                ),
          );
        }
      }
    }
    if (sd.signerInfos.length === 0) findings.push(unreadable('it has no signer', 'non ha alcun firmatario'));
    current = content;
    const inner =
      !looksLikeP7m(content) || content.subarray(0, 64).toString('latin1').trimStart().startsWith('<');
    if (inner) break;
    if (layer === MAX_LAYERS - 1) {
      return {
        ok: false,
        findings: [
          unreadable(
            `signatures are nested more than ${MAX_LAYERS} times`,
            `le firme sono annidate più di ${MAX_LAYERS} volte`,
          ),
        ],
        warnings,
      };
    }
  }
  if (!checking) {
    warnings.push(
      finding(
        'SIGNATURE-CA-NOT-CHECKED',
        'The signature was verified, but not its issuing CA: no trusted CA list is configured (validation.trustedCAs). SdI checks it (00104).',
        "La firma è stata verificata, ma non la CA che l'ha emessa: nessun elenco di CA affidabili configurato (validation.trustedCAs). Lo SdI la verifica (00104).",
      ),
    );
  }
  return { ok: true, content: current, signers, findings, warnings, issuerCheck };
}
