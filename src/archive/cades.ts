import crypto from 'node:crypto';
import fs from 'node:fs';
import type * as Asn1js from 'asn1js';
import type * as Pkijs from 'pkijs';
import { signCms } from '../channels/pec/smime.js';
import { loadTlsIdentity } from '../channels/soap/tls.js';
import { distinguishedName, loadPkijs } from '../util/pkijs.js';

/**
 * CAdES-BES signatures of the archive's own documents (the PIndex of each PdA, checkpoints):
 * attached (enveloping) CMS SignedData in DER, as a `.p7m` an auditor opens with any CAdES tool
 * or with `openssl cms -verify`.
 *
 * The CMS itself is made by the PEC channel's `signCms` (same key handling, same signed
 * attributes) with two CAdES extras: the ESS signing-certificate-v2 attribute binding the
 * signature to the signer's certificate, and strict DER. A software key is not a QSCD: the result
 * is an advanced electronic signature/seal, not a qualified one.
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
  signingTime: '1.2.840.113549.1.9.5',
  signingCertificate: '1.2.840.113549.1.9.16.2.12',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
} as const;

/** Digest algorithms an ESSCertIDv2 may name, by OID, as Node calls them. */
const HASHES: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** A signer: certificate and unencrypted private key as PEM, and the CA certificates above it. */
export interface SigningIdentity {
  certPem: string;
  keyPem: string;
  /** Intermediate (and optionally root) CA certificates, PEM; carried in the signature. */
  chainPem?: string[];
}

export type CadesVerification =
  { ok: true; content: Buffer; signer: string; signingTime?: Date } | { ok: false; reason: string };

const PEM_CERT = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;

/** Every certificate (DER) in a PEM text. */
function pemCertificates(text: string): Buffer[] {
  return [...text.matchAll(PEM_CERT)].map((m) => Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'));
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return String(err);
}

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  const out = new ArrayBuffer(buf.length);
  new Uint8Array(out).set(buf);
  return out;
}

/** The ESS signing-certificate-v2 attribute for `certDer`: one ESSCertIDv2, SHA-256 (the default, so omitted). */
function signingCertificateV2(certDer: Buffer): Pkijs.Attribute {
  const hash = crypto.createHash('sha256').update(certDer).digest();
  const essCertIdV2 = new asn1js.Sequence({
    value: [new asn1js.OctetString({ valueHex: toArrayBuffer(hash) })],
  });
  return new pkijs.Attribute({
    type: OID.signingCertificateV2,
    values: [new asn1js.Sequence({ value: [new asn1js.Sequence({ value: [essCertIdV2] })] })],
  });
}

/**
 * Attached (enveloping, `.p7m`) CAdES-BES over `data`: SignedData in DER with eContent = data,
 * SHA-256, signed attributes contentType, messageDigest, signingTime and ESS
 * signing-certificate-v2 (SHA-256 of the signer certificate); the signer certificate and its
 * chain are included. Throws when the identity is unusable (no certificate, key not matching it,
 * certificate not valid at the signing time, unsupported key type).
 */
export async function signCades(
  data: Buffer,
  id: SigningIdentity,
  opts: { signingTime?: Date } = {},
): Promise<Buffer> {
  await loadPki();
  const [certDer] = pemCertificates(id.certPem);
  if (!certDer) throw new Error('the signing identity has no PEM certificate');
  const x509 = new crypto.X509Certificate(certDer);
  if (!x509.checkPrivateKey(crypto.createPrivateKey(id.keyPem))) {
    throw new Error(
      `the private key does not belong to the signing certificate (${x509.subject.split('\n').join(', ')})`,
    );
  }
  const at = opts.signingTime ?? new Date();
  if (at < new Date(x509.validFrom) || at > new Date(x509.validTo)) {
    throw new Error(
      `the signing certificate (${x509.subject.split('\n').join(', ')}) is not valid at ${at.toISOString()}: ` +
        `valid from ${new Date(x509.validFrom).toISOString()} to ${new Date(x509.validTo).toISOString()}`,
    );
  }
  const signerPem = x509.toString();
  const chain = (id.chainPem ?? []).flatMap(pemCertificates).filter((der) => !der.equals(certDer));
  return signCms(
    data,
    { certPem: signerPem, keyPem: id.keyPem },
    {
      detached: false,
      signingTime: at,
      extraSignedAttrs: [signingCertificateV2(certDer)],
      extraCerts: chain,
      der: true,
    },
  );
}

/** The eContent bytes, joining the pieces of a constructed (BER) OCTET STRING. */
function eContentBytes(sd: Pkijs.SignedData): Buffer | null {
  const ec = sd.encapContentInfo.eContent;
  if (!ec) return null;
  return Buffer.from(ec.getValue());
}

/**
 * Checks the ESS signing-certificate(-v2) attribute of `si` against the certificate that made the
 * signature (RFC 5035: the first ESSCertID names the signing certificate). Returns null when it
 * matches, else the reason. pkijs does not look at this attribute.
 */
export async function checkEssSigningCertificate(
  si: Pkijs.SignerInfo,
  signerCert: Pkijs.Certificate,
): Promise<string | null> {
  await loadPki();
  const attrs = si.signedAttrs?.attributes ?? [];
  const v2 = attrs.filter((a) => a.type === OID.signingCertificateV2);
  const v1 = attrs.filter((a) => a.type === OID.signingCertificate);
  if (v2.length + v1.length === 0) return 'no ESS signing-certificate(-v2) signed attribute';
  if (v2.length + v1.length > 1 || (v2[0] ?? v1[0])?.values.length !== 1) {
    return 'more than one ESS signing-certificate attribute or value';
  }
  try {
    const value = (v2[0] ?? v1[0])?.values[0] as Asn1js.Sequence;
    const certs = value.valueBlock.value[0] as Asn1js.Sequence;
    const first = certs.valueBlock.value[0] as Asn1js.Sequence | undefined;
    if (!first) return 'the ESS signing-certificate attribute lists no certificate';
    const parts = [...first.valueBlock.value];
    let hashName = 'sha1';
    if (v2.length > 0) {
      hashName = 'sha256';
      if (parts[0] instanceof asn1js.Sequence) {
        const alg = new pkijs.AlgorithmIdentifier({ schema: parts.shift() });
        const named = HASHES[alg.algorithmId];
        if (!named) return `ESS signing-certificate-v2 uses an unsupported hash ${alg.algorithmId}`;
        hashName = named;
      }
    }
    const certHash = parts.shift();
    if (!(certHash instanceof asn1js.OctetString)) return 'the ESS certificate hash is not an OCTET STRING';
    const certDer = Buffer.from(signerCert.toSchema(false).toBER(false));
    const expected = crypto.createHash(hashName).update(certDer).digest();
    if (!expected.equals(Buffer.from(certHash.valueBlock.valueHexView))) {
      return `the ESS signing-certificate${v2.length > 0 ? '-v2' : ''} hash does not match the signer certificate`;
    }
    const issuerSerial = parts.shift();
    if (issuerSerial) {
      const seq = issuerSerial as Asn1js.Sequence;
      const names = new pkijs.GeneralNames({ schema: seq.valueBlock.value[0] });
      const serial = seq.valueBlock.value[1] as Asn1js.Integer;
      const directory = names.names.find((n) => n.type === 4)?.value as
        Pkijs.RelativeDistinguishedNames | undefined;
      if (!directory?.isEqual(signerCert.issuer) || !serial.isEqual(signerCert.serialNumber)) {
        return 'the ESS signing-certificate issuerSerial does not name the signer certificate';
      }
    }
    return null;
  } catch (err) {
    return `the ESS signing-certificate attribute cannot be read (${errorText(err)})`;
  }
}

function parseCertificates(pems: Buffer[]): Pkijs.Certificate[] {
  const out: Pkijs.Certificate[] = [];
  for (const b of pems) {
    const text = b.toString('latin1');
    const ders = text.includes('-----BEGIN') ? pemCertificates(text) : [b];
    for (const der of ders) out.push(pkijs.Certificate.fromBER(new Uint8Array(der)));
  }
  return out;
}

/**
 * Checks a CAdES-BES `.p7m` (DER or BER, no base64): a SignedData with encapsulated id-data
 * content and no trailing bytes; for every signer the signature, the signed contentType, the ESS
 * signing-certificate(-v2) binding, and the certificate's validity at the claimed signing time;
 * and, when `trusted` CA certificates are given, the chain to one of them (at the signing time,
 * else now). Revocation is not checked. `signer` is the first signer's subject. Never throws.
 */
export async function verifyCades(
  p7m: Buffer,
  opts: { trusted?: Buffer[] } = {},
): Promise<CadesVerification> {
  const fail = (reason: string): CadesVerification => ({ ok: false, reason });
  try {
    await loadPki();
  } catch (err) {
    return fail(`pkijs cannot be loaded: ${errorText(err)}`);
  }
  let trusted: Pkijs.Certificate[];
  try {
    trusted = parseCertificates(opts.trusted ?? []);
  } catch (err) {
    return fail(`a trusted CA certificate cannot be read: ${errorText(err)}`);
  }
  let sd: Pkijs.SignedData;
  try {
    const asn = asn1js.fromBER(new Uint8Array(p7m));
    if (asn.offset === -1) throw new Error(asn.result.error || 'not ASN.1');
    if (asn.offset !== p7m.length) {
      return fail(`${p7m.length - asn.offset} bytes follow the signature: the file is not a clean .p7m`);
    }
    const ci = new pkijs.ContentInfo({ schema: asn.result });
    if (ci.contentType !== OID.signedData) return fail(`content type ${ci.contentType} is not SignedData`);
    sd = new pkijs.SignedData({ schema: ci.content });
  } catch (err) {
    return fail(`the signature cannot be read: ${errorText(err)}`);
  }
  if (sd.encapContentInfo.eContentType !== OID.data) {
    return fail(`the signed content type is ${sd.encapContentInfo.eContentType}, not id-data`);
  }
  const content = eContentBytes(sd);
  if (!content) return fail('detached signature: the .p7m does not contain the signed content');
  if (sd.signerInfos.length === 0) return fail('the signature has no signer');

  let signer = '';
  let firstSigningTime: Date | undefined;
  for (let i = 0; i < sd.signerInfos.length; i++) {
    const who = sd.signerInfos.length > 1 ? `signer ${i + 1}: ` : '';
    const si = sd.signerInfos[i] as Pkijs.SignerInfo;
    if (!si.signedAttrs) return fail(`${who}no signed attributes (not CAdES)`);
    const ct = si.signedAttrs.attributes.find((a) => a.type === OID.contentType);
    const ctValue = ct?.values[0] as Asn1js.ObjectIdentifier | undefined;
    if (ctValue?.valueBlock.toString() !== OID.data) {
      return fail(`${who}the signed contentType attribute does not match the content (id-data)`);
    }
    const st = si.signedAttrs.attributes.find((a) => a.type === OID.signingTime);
    const signingTime = st ? ((st.values[0] as Asn1js.UTCTime).toDate() ?? undefined) : undefined;
    let res: Pkijs.SignedDataVerifyResult;
    try {
      res = await sd.verify({ signer: i, extendedMode: true, checkChain: false });
    } catch (err) {
      // pkijs throws (rather than returning false) for a digest mismatch or a missing certificate.
      return fail(`${who}${errorText(err) || 'the signature does not verify'}`);
    }
    const cert = res.signerCertificate;
    if (!res.signatureVerified || !cert) return fail(`${who}the signature does not verify`);
    const ess = await checkEssSigningCertificate(si, cert);
    if (ess) return fail(`${who}${ess}`);
    const subject = distinguishedName(cert.subject);
    if (signingTime && (signingTime < cert.notBefore.value || signingTime > cert.notAfter.value)) {
      return fail(
        `${who}the signing time ${signingTime.toISOString()} is outside the validity of the certificate of ` +
          `${subject} (${cert.notBefore.value.toISOString()} to ${cert.notAfter.value.toISOString()})`,
      );
    }
    if (trusted.length > 0) {
      try {
        const chain = await sd.verify({
          signer: i,
          extendedMode: true,
          checkChain: true,
          trustedCerts: trusted,
          checkDate: signingTime ?? new Date(),
        });
        if (chain.signerCertificateVerified !== true) throw new Error('the chain does not verify');
      } catch (err) {
        return fail(`${who}the certificate of ${subject} does not chain to a trusted CA (${errorText(err)})`);
      }
    }
    if (i === 0) {
      signer = subject;
      firstSigningTime = signingTime;
    }
  }
  return firstSigningTime
    ? { ok: true, content, signer, signingTime: firstSigningTime }
    : { ok: true, content, signer };
}

/** Where a signing identity comes from: PEM `cert` + `key` (+ `chain`), or a PKCS#12 `pfx`. */
export interface SigningIdentityConfig {
  cert?: string;
  key?: string;
  /** PEM files with the CA certificates above the signer (PEM only; a PKCS#12 carries its own). */
  chain?: string[];
  pfx?: string;
  /** Name of the environment variable holding the PKCS#12 (or encrypted PEM key) password. */
  passphraseEnv?: string;
}

export type SigningIdentityResult =
  { ok: true; identity: SigningIdentity; subject: string; notAfter: Date } | { ok: false; error: string };

/** Removes a password from a message (short ones would mangle every word and are left alone). */
function scrub(message: string, secret: string | undefined): string {
  return secret && secret.length >= 3 ? message.split(secret).join('[redacted]') : message;
}

const PKCS12_KEY_BAG = '1.2.840.113549.1.12.10.1.2';
const PKCS12_PLAIN_KEY_BAG = '1.2.840.113549.1.12.10.1.1';
const PKCS12_CERT_BAG = '1.2.840.113549.1.12.10.1.3';

/** Key and certificates out of a PKCS#12 Node has already opened (so the password is right). */
async function readPkcs12(
  pfxDer: Buffer,
  password: string | undefined,
): Promise<{ keyPem: string; certs: Buffer[] }> {
  const pw = toArrayBuffer(Buffer.from(password ?? '', 'utf8'));
  const pfx = pkijs.PFX.fromBER(new Uint8Array(pfxDer));
  await pfx.parseInternalValues({ password: pw, checkIntegrity: pfx.macData !== undefined });
  const safe = pfx.parsedValue?.authenticatedSafe;
  if (!safe) throw new Error('no authenticated safe');
  await safe.parseInternalValues({ safeContents: safe.safeContents.map(() => ({ password: pw })) });
  let keyPem: string | undefined;
  const certs: Buffer[] = [];
  // pkijs types the parsed value as `any`: { safeContents: { privacyMode, value: SafeContents }[] }.
  const parsed = safe.parsedValue as { safeContents?: { value: Pkijs.SafeContents }[] } | undefined;
  for (const contents of parsed?.safeContents ?? []) {
    for (const bag of contents.value.safeBags) {
      if (bag.bagId === PKCS12_KEY_BAG) {
        const shrouded = bag.bagValue as Pkijs.PKCS8ShroudedKeyBag;
        // Typed protected in pkijs 4, yet it is the only way to decrypt the bag (as in its PKCS#12 examples).
        await (
          shrouded as unknown as { parseInternalValues(p: { password: ArrayBuffer }): Promise<void> }
        ).parseInternalValues({ password: pw });
        const info = shrouded.parsedValue;
        if (!info) throw new Error('the private key cannot be decrypted');
        keyPem ??= crypto
          .createPrivateKey({ key: Buffer.from(info.toSchema().toBER(false)), format: 'der', type: 'pkcs8' })
          .export({ type: 'pkcs8', format: 'pem' })
          .toString();
      } else if (bag.bagId === PKCS12_PLAIN_KEY_BAG) {
        const info = bag.bagValue as Pkijs.PrivateKeyInfo;
        keyPem ??= crypto
          .createPrivateKey({ key: Buffer.from(info.toSchema().toBER(false)), format: 'der', type: 'pkcs8' })
          .export({ type: 'pkcs8', format: 'pem' })
          .toString();
      } else if (bag.bagId === PKCS12_CERT_BAG) {
        const certBag = bag.bagValue as Pkijs.CertBag;
        const cert = certBag.parsedValue as Pkijs.Certificate | undefined;
        if (cert instanceof pkijs.Certificate) certs.push(Buffer.from(cert.toSchema(false).toBER(false)));
      }
    }
  }
  if (!keyPem) throw new Error('it holds no private key');
  return { keyPem, certs };
}

/**
 * Loads a signing identity from PEM files or a PKCS#12 file whose password is in the environment
 * variable named by `passphraseEnv`. The files are first checked as the SdI TLS identity is
 * (`loadTlsIdentity`: missing files, wrong password, legacy PKCS#12 with the re-export command,
 * key not matching the certificate), then the key is decrypted in memory: `identity.keyPem` is an
 * unencrypted PKCS#8 PEM, to be kept out of logs. Every failure is a sentence naming the file;
 * the password never appears in it. Expiry is reported, not judged.
 */
export async function loadSigningIdentity(
  cfg: SigningIdentityConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SigningIdentityResult> {
  const checked = loadTlsIdentity(
    {
      ...(cfg.cert !== undefined ? { cert: cfg.cert } : {}),
      ...(cfg.key !== undefined ? { key: cfg.key } : {}),
      ...(cfg.pfx !== undefined ? { pfx: cfg.pfx } : {}),
      ...(cfg.passphraseEnv !== undefined ? { passphraseEnv: cfg.passphraseEnv } : {}),
    },
    env,
  );
  if (!checked.ok) return checked;
  const { options, subject, notAfter } = checked;
  const chainPem: string[] = [];
  try {
    let certPem: string;
    let keyPem: string;
    if (options.pfx) {
      if (cfg.chain?.length) {
        return {
          ok: false,
          error: 'a PKCS#12 file carries its own chain: configure chain only with PEM files',
        };
      }
      await loadPki();
      let read: { keyPem: string; certs: Buffer[] };
      try {
        read = await readPkcs12(options.pfx, options.passphrase);
      } catch (err) {
        return {
          ok: false,
          error: scrub(
            `${cfg.pfx ?? 'the PKCS#12 file'} cannot be read for signing: ${errorText(err)}`,
            options.passphrase,
          ),
        };
      }
      keyPem = read.keyPem;
      const key = crypto.createPrivateKey(keyPem);
      const leaf = read.certs.find((der) => new crypto.X509Certificate(der).checkPrivateKey(key));
      if (!leaf)
        return {
          ok: false,
          error: `${cfg.pfx ?? 'the PKCS#12 file'} holds no certificate for its private key`,
        };
      certPem = new crypto.X509Certificate(leaf).toString();
      for (const der of read.certs)
        if (!der.equals(leaf)) chainPem.push(new crypto.X509Certificate(der).toString());
    } else {
      const certs = pemCertificates((options.cert ?? Buffer.alloc(0)).toString('latin1'));
      const [leaf, ...rest] = certs;
      if (!leaf)
        return { ok: false, error: `${cfg.cert ?? 'the certificate file'} holds no PEM certificate` };
      certPem = new crypto.X509Certificate(leaf).toString();
      for (const der of rest) chainPem.push(new crypto.X509Certificate(der).toString());
      const keyObject = crypto.createPrivateKey(
        options.passphrase === undefined
          ? { key: options.key ?? options.cert ?? '' }
          : { key: options.key ?? options.cert ?? '', passphrase: options.passphrase },
      );
      keyPem = keyObject.export({ type: 'pkcs8', format: 'pem' }).toString();
      for (const file of cfg.chain ?? []) {
        let text: string;
        try {
          text = fs.readFileSync(file, 'latin1');
        } catch (err) {
          return {
            ok: false,
            error: `chain file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? errorText(err)})`,
          };
        }
        const ders = pemCertificates(text);
        if (ders.length === 0) return { ok: false, error: `chain file ${file} holds no PEM certificate` };
        for (const der of ders) chainPem.push(new crypto.X509Certificate(der).toString());
      }
    }
    return { ok: true, identity: { certPem, keyPem, chainPem }, subject, notAfter };
  } catch (err) {
    return {
      ok: false,
      error: scrub(`the signing identity cannot be loaded: ${errorText(err)}`, options.passphrase),
    };
  }
}
