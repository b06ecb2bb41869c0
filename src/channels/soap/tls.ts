import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Socket } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';

/**
 * The TLS identity fatturad presents to SdI (and the CAs it trusts), loaded and checked up front
 * so that a bad certificate is reported at start-up in plain words rather than as an OpenSSL
 * error at the first handshake. Error messages name files and environment variables, never a
 * password.
 */

/** Where the identity comes from: PEM `cert` + `key`, or a PKCS#12 `pfx`. */
export interface TlsIdentityConfig {
  cert?: string;
  key?: string;
  pfx?: string;
  /** Name of the environment variable holding the PKCS#12 (or encrypted PEM key) password. */
  passphraseEnv?: string;
}

/** Options ready for `https.request`, `https.createServer` or `tls.createSecureContext`. */
export interface TlsIdentityOptions {
  cert?: Buffer;
  key?: Buffer;
  pfx?: Buffer;
  passphrase?: string;
}

/** The loaded identity with its subject and expiry, or a sentence saying what is wrong. */
export type TlsIdentityResult =
  { ok: true; options: TlsIdentityOptions; subject: string; notAfter: Date } | { ok: false; error: string };

/** Passwords shorter than this are not scrubbed from messages (they would mangle every word). */
const MIN_SCRUB_LENGTH = 3;

function scrub(message: string, secret: string | undefined): string {
  if (!secret || secret.length < MIN_SCRUB_LENGTH) return message;
  return message.split(secret).join('[redacted]');
}

/** Quotes a path for a POSIX shell when it needs it. */
function shellQuote(p: string): string {
  return /^[\w@%+=:,./-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}

type ReadResult = { ok: true; data: Buffer } | { ok: false; error: string };

function readFile(file: string, what: string): ReadResult {
  try {
    return { ok: true, data: fs.readFileSync(file) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, error: `${what} ${file} does not exist` };
    if (code === 'EACCES' || code === 'EPERM') {
      return { ok: false, error: `${what} ${file} cannot be read: permission denied for the daemon's user` };
    }
    if (code === 'EISDIR') return { ok: false, error: `${what} ${file} is a folder, not a file` };
    return { ok: false, error: `${what} ${file} cannot be read (${code ?? String(err)})` };
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function describe(cert: crypto.X509Certificate): { subject: string; notAfter: Date } {
  return { subject: cert.subject.split('\n').join(', '), notAfter: new Date(cert.validTo) };
}

// PKCS#12 encryption algorithms OpenSSL 3 only has in its legacy provider (or that old tools use).
// They sit in the file's outer, unencrypted structure, so a byte search finds them without the
// password. Key: DER of the OBJECT IDENTIFIER (tag and length included).
const PKCS12_PBE_PREFIX = Buffer.from('060a2a864886f70d010c01', 'hex');
const PKCS12_PBE_NAMES: Record<number, string> = {
  1: 'RC4-128',
  2: 'RC4-40',
  3: '3DES',
  4: '2-key 3DES',
  5: 'RC2-128',
  6: 'RC2-40',
};
const OTHER_LEGACY_OIDS: [Buffer, string][] = [
  [Buffer.from('06052b0e030207', 'hex'), 'DES'],
  [Buffer.from('06082a864886f70d0302', 'hex'), 'RC2'],
];

/**
 * The legacy encryption algorithms named in a PKCS#12 file, e.g. ['RC2-40', '3DES'], found without
 * the password (also used by the credential monitor's readers).
 */
export function legacyAlgorithms(pfx: Buffer): string[] {
  const found = new Set<string>();
  for (let i = pfx.indexOf(PKCS12_PBE_PREFIX); i >= 0; i = pfx.indexOf(PKCS12_PBE_PREFIX, i + 1)) {
    const name = PKCS12_PBE_NAMES[pfx[i + PKCS12_PBE_PREFIX.length] ?? 0];
    if (name) found.add(name);
  }
  for (const [oid, name] of OTHER_LEGACY_OIDS) if (pfx.includes(oid)) found.add(name);
  return [...found];
}

/** Algorithms among those that Node 20's OpenSSL 3 (no legacy provider) cannot decrypt. */
export function unreadableAlgorithms(names: string[]): string[] {
  return names.filter((n) => n.startsWith('RC2') || n.startsWith('RC4') || n === 'DES');
}

/**
 * The shell commands that turn a legacy PKCS#12 into one OpenSSL 3 reads, keeping the same
 * password (read from `passphraseEnv` when there is one, otherwise asked for).
 */
export function reexportCommand(
  oldFile: string,
  passphraseEnv?: string,
): { command: string; newFile: string } {
  const ext = path.extname(oldFile);
  const base = ext ? oldFile.slice(0, -ext.length) : oldFile;
  const newFile = `${base}-modern.p12`;
  const passin = passphraseEnv ? ` -passin env:${passphraseEnv}` : '';
  const passout = passphraseEnv ? ` -passout env:${passphraseEnv}` : '';
  const command =
    `(umask 077 && openssl pkcs12 -legacy -in ${shellQuote(oldFile)} -nodes${passin} -out tmp.pem` +
    ` && openssl pkcs12 -export -in tmp.pem${passout} -out ${shellQuote(newFile)}); rm -f tmp.pem`;
  return { command, newFile };
}

function legacyError(file: string, algorithms: string[], passphraseEnv: string | undefined): string {
  const { command, newFile } = reexportCommand(file, passphraseEnv);
  const uses = algorithms.length > 0 ? ` (${algorithms.join(' + ')})` : '';
  const password = passphraseEnv
    ? `in a shell where ${passphraseEnv} holds the password (or drop the -passin/-passout options to type it)`
    : 'and type the password when asked';
  return (
    `${file} uses legacy PKCS#12 encryption${uses}, as made by old Windows or Java tools or by ` +
    `"openssl pkcs12 -legacy"; Node.js 20 (OpenSSL 3 without the legacy provider) cannot read it. ` +
    `Re-export it with modern encryption (OpenSSL 3; with OpenSSL 1.1 leave out -legacy), ${password}:\n` +
    `  ${command}\n` +
    `then set the PKCS#12 path to ${newFile}. tmp.pem holds the private key unencrypted: the ` +
    `command deletes it at the end; make sure it is gone if the command is interrupted.`
  );
}

/** The certificate (leaf) inside a loaded context, read through a TLS socket that never connects. */
function contextCertificate(context: tls.SecureContext): crypto.X509Certificate | null {
  const socket = new tls.TLSSocket(null as unknown as Socket, {
    secureContext: context,
    isServer: true,
  });
  try {
    const info = socket.getCertificate();
    const raw = info && 'raw' in info ? info.raw : undefined;
    return raw ? new crypto.X509Certificate(raw) : null;
  } finally {
    socket.destroy();
  }
}

function loadPfx(
  file: string,
  passphraseEnv: string | undefined,
  passphrase: string | undefined,
): TlsIdentityResult {
  const read = readFile(file, 'PKCS#12 file');
  if (!read.ok) return read;
  const pfx = read.data;
  if (pfx.subarray(0, 64).toString('latin1').includes('-----BEGIN')) {
    return {
      ok: false,
      error: `${file} is a PEM file, not PKCS#12: configure it as the certificate (and key) instead`,
    };
  }
  const options: TlsIdentityOptions = passphrase === undefined ? { pfx } : { pfx, passphrase };
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext(options);
  } catch (err) {
    const msg = errorText(err);
    const code = (err as NodeJS.ErrnoException).code;
    const legacy = legacyAlgorithms(pfx);
    if (/mac verify failure/i.test(msg)) {
      const unreadable = unreadableAlgorithms(legacy);
      const note =
        unreadable.length > 0
          ? ` (and, once the password is right, the file's legacy ${unreadable.join(' + ')} encryption will ` +
            `need a re-export: see the next error)`
          : '';
      return {
        ok: false,
        error: passphraseEnv
          ? `the password in $${passphraseEnv} does not open ${file}${note}`
          : `${file} is protected by a password: put it in an environment variable and name that ` +
            `variable in passphraseEnv${note}`,
      };
    }
    if (code === 'ERR_CRYPTO_UNSUPPORTED_OPERATION' || /unsupported/i.test(msg)) {
      return { ok: false, error: legacyError(file, legacy, passphraseEnv) };
    }
    if (/private key/i.test(msg)) {
      return {
        ok: false,
        error: `${file} holds no private key: export the certificate together with its key`,
      };
    }
    if (/certificate/i.test(msg)) {
      return { ok: false, error: `${file} holds no certificate, only a key: export it with its certificate` };
    }
    if (/wrong tag|not enough data|header too long|asn1|too long/i.test(msg)) {
      return { ok: false, error: `${file} is not a PKCS#12 (.p12/.pfx) file (${msg})` };
    }
    return { ok: false, error: scrub(`${file} cannot be used as a TLS identity: ${msg}`, passphrase) };
  }
  const cert = contextCertificate(context);
  if (!cert) return { ok: false, error: `${file} loaded but no certificate could be read from it` };
  return { ok: true, options, ...describe(cert) };
}

function loadPem(
  certFile: string,
  keyFile: string | undefined,
  passphraseEnv: string | undefined,
  passphrase: string | undefined,
): TlsIdentityResult {
  const certRead = readFile(certFile, 'certificate file');
  if (!certRead.ok) return certRead;
  const certText = certRead.data.toString('latin1');
  if (!certText.includes('-----BEGIN CERTIFICATE-----')) {
    if (certRead.data[0] === 0x30) {
      return {
        ok: false,
        error:
          `${certFile} is binary (DER or PKCS#12), not a PEM certificate. If it is a DER certificate, ` +
          `convert it: openssl x509 -inform DER -in ${shellQuote(certFile)} -out ${shellQuote(`${certFile}.pem`)}; ` +
          `if it is a .p12/.pfx, configure it as the PKCS#12 file instead`,
      };
    }
    return { ok: false, error: `${certFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` };
  }
  let cert: crypto.X509Certificate;
  try {
    cert = new crypto.X509Certificate(certRead.data);
  } catch (err) {
    return { ok: false, error: `${certFile}: the first certificate cannot be parsed (${errorText(err)})` };
  }

  // Without a key file the certificate file may hold the key too (a combined PEM).
  const keySource = keyFile ?? certFile;
  const keyRead = keyFile ? readFile(keyFile, 'private key file') : certRead;
  if (!keyRead.ok) return keyRead;
  const keyText = keyRead.data.toString('latin1');
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyText)) {
    if (!keyFile) return { ok: false, error: `no private key configured for ${certFile}` };
    if (keyText.includes('-----BEGIN CERTIFICATE-----')) {
      return {
        ok: false,
        error: `${keyFile} holds a certificate, not a private key (are cert and key swapped?)`,
      };
    }
    return { ok: false, error: `${keyFile} holds no PEM private key (-----BEGIN PRIVATE KEY-----)` };
  }
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(keyText);
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(
      passphrase === undefined ? { key: keyRead.data } : { key: keyRead.data, passphrase },
    );
  } catch (err) {
    if (encrypted && passphrase === undefined) {
      return {
        ok: false,
        error:
          `the private key in ${keySource} is encrypted: put its password in an environment variable ` +
          `and name that variable in passphraseEnv`,
      };
    }
    if (encrypted) {
      return {
        ok: false,
        error: `the password in $${passphraseEnv ?? '?'} does not open the private key in ${keySource}`,
      };
    }
    return {
      ok: false,
      error: scrub(`the private key in ${keySource} cannot be read (${errorText(err)})`, passphrase),
    };
  }
  if (!cert.checkPrivateKey(key)) {
    return {
      ok: false,
      error:
        `the private key in ${keySource} does not belong to the certificate in ${certFile} ` +
        `(${describe(cert).subject}): check that the two files come from the same request`,
    };
  }
  const options: TlsIdentityOptions = { cert: certRead.data, key: keyRead.data };
  if (encrypted && passphrase !== undefined) options.passphrase = passphrase;
  try {
    tls.createSecureContext(options);
  } catch (err) {
    return {
      ok: false,
      error: scrub(
        `${certFile} and ${keySource} cannot be used as a TLS identity: ${errorText(err)}`,
        passphrase,
      ),
    };
  }
  return { ok: true, options, ...describe(cert) };
}

/**
 * Loads and checks the identity fatturad presents over TLS: PEM `cert` + `key` files, or a PKCS#12
 * `pfx` whose password is in the environment variable named by `passphraseEnv`. Proves the result
 * loads with `tls.createSecureContext` and reports the certificate's subject and expiry (checking
 * the dates is left to the caller). Every failure is a sentence naming the file; the password
 * never appears in it.
 */
export function loadTlsIdentity(
  cfg: TlsIdentityConfig,
  env: NodeJS.ProcessEnv = process.env,
): TlsIdentityResult {
  const { cert, key, pfx, passphraseEnv } = cfg;
  let passphrase: string | undefined;
  if (passphraseEnv) {
    passphrase = env[passphraseEnv];
    if (passphrase === undefined) {
      return {
        ok: false,
        error: `the environment variable ${passphraseEnv} (passphraseEnv) is not set: it must hold the password`,
      };
    }
  }
  const result = ((): TlsIdentityResult => {
    if (pfx && (cert || key)) {
      return { ok: false, error: 'configure either a PKCS#12 file or a PEM certificate and key, not both' };
    }
    if (pfx) return loadPfx(pfx, passphraseEnv, passphrase);
    if (cert) return loadPem(cert, key, passphraseEnv, passphrase);
    if (key) return { ok: false, error: `a private key (${key}) is configured without its certificate` };
    return {
      ok: false,
      error: 'no TLS certificate configured (a PEM certificate and key, or a PKCS#12 file)',
    };
  })();
  return result.ok ? result : { ok: false, error: scrub(result.error, passphrase) };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

/**
 * Reads CA certificates from PEM files (each may hold several; a single DER certificate is
 * accepted too) and returns one PEM buffer per certificate, for the `ca` TLS option. Throws an
 * Error naming the file when one is missing, unreadable or holds no valid certificate.
 */
export function loadCaBundle(paths: string[]): Buffer[] {
  const out: Buffer[] = [];
  for (const file of paths) {
    const read = readFile(file, 'CA file');
    if (!read.ok) throw new Error(read.error);
    const text = read.data.toString('latin1');
    const blocks = text.match(PEM_CERT) ?? [];
    if (blocks.length === 0) {
      if (read.data[0] === 0x30) {
        try {
          out.push(Buffer.from(new crypto.X509Certificate(read.data).toString()));
          continue;
        } catch {
          throw new Error(`CA file ${file} is binary but not a DER certificate`);
        }
      }
      throw new Error(`CA file ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    }
    blocks.forEach((block, i) => {
      try {
        new crypto.X509Certificate(block);
      } catch (err) {
        throw new Error(
          `CA file ${file}: certificate ${i + 1} of ${blocks.length} cannot be parsed (${errorText(err)})`,
        );
      }
      out.push(Buffer.from(`${block}\n`));
    });
  }
  return out;
}
