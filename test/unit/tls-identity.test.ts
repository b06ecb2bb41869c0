import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCaBundle, loadTlsIdentity, reexportCommand } from '../../src/channels/soap/tls.js';
import { ensureSimPki, issueClientCert, type CertAndKey, type SimPki } from '../../src/sim/certs.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Loading the identity fatturad presents over TLS: PEM, modern and legacy PKCS#12 (made here with
 * the openssl command line), and the failures an operator meets, each with a clear message that
 * never shows the password.
 */

const PASS_ENV = 'FATTURAD_TEST_P12_PASSWORD';
const PASSWORD = 'secret-Pa55word';
const WRONG = 'wrong-horse-battery';

const tmp = tempDir('fatturad-tlsid-');
let pki: SimPki;
let other: CertAndKey;
let modernP12: string;
let legacyP12: string;
let legacyStatus: 'unreadable' | 'readable';
const envWith = (value: string | undefined): NodeJS.ProcessEnv => ({ ...process.env, [PASS_ENV]: value });

function openssl(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
}

function expectError(r: ReturnType<typeof loadTlsIdentity>): string {
  expect(r.ok).toBe(false);
  if (r.ok) throw new Error('unreachable');
  expect(r.error).not.toContain(PASSWORD);
  expect(r.error).not.toContain(WRONG);
  return r.error;
}

beforeAll(async () => {
  pki = await ensureSimPki(path.join(tmp.dir, 'pki'));
  other = await issueClientCert(pki, 'Someone Else', path.join(tmp.dir, 'other'));
  const id = pki.trasmittente;
  modernP12 = path.join(tmp.dir, 'modern.p12');
  openssl(
    ['pkcs12', '-export', '-in', id.cert, '-inkey', id.key, '-certfile', pki.caCert].concat([
      '-out',
      modernP12,
      '-passout',
      `pass:${PASSWORD}`,
    ]),
  );
  // -legacy: certificates under RC2-40, the key under 3DES, SHA-1 MAC (old Windows/Java exports).
  legacyP12 = path.join(tmp.dir, 'old identity.p12');
  openssl(
    ['pkcs12', '-export', '-legacy', '-in', id.cert, '-inkey', id.key, '-certfile', pki.caCert].concat([
      '-out',
      legacyP12,
      '-passout',
      `pass:${PASSWORD}`,
    ]),
  );
  try {
    tls.createSecureContext({ pfx: fs.readFileSync(legacyP12), passphrase: PASSWORD });
    legacyStatus = 'readable';
  } catch {
    legacyStatus = 'unreadable';
  }
});
afterAll(() => tmp.cleanup());

describe('PEM certificate and key', () => {
  it('loads, with the subject and expiry of the certificate', () => {
    const r = loadTlsIdentity({ cert: pki.trasmittente.cert, key: pki.trasmittente.key });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.subject).toBe('O=fatturad, CN=fatturad');
    expect(r.notAfter.getTime()).toBe(Date.parse(new crypto.X509Certificate(r.options.cert ?? '').validTo));
    expect(r.options.key?.equals(fs.readFileSync(pki.trasmittente.key))).toBe(true);
    expect(r.options.passphrase).toBeUndefined();
  });

  it('loads a combined PEM (certificate and key in one file)', () => {
    const both = path.join(tmp.dir, 'combined.pem');
    fs.writeFileSync(
      both,
      fs.readFileSync(pki.trasmittente.cert, 'utf8') + fs.readFileSync(pki.trasmittente.key, 'utf8'),
    );
    expect(loadTlsIdentity({ cert: both }).ok).toBe(true);
  });

  it('opens an encrypted key with the password from the environment, and says so when it is wrong', () => {
    const enc = path.join(tmp.dir, 'encrypted.key');
    const pem = crypto
      .createPrivateKey(fs.readFileSync(pki.trasmittente.key))
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSWORD });
    fs.writeFileSync(enc, pem);
    const cfg = { cert: pki.trasmittente.cert, key: enc, passphraseEnv: PASS_ENV };
    const r = loadTlsIdentity(cfg, envWith(PASSWORD));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.options.passphrase).toBe(PASSWORD);
    expect(expectError(loadTlsIdentity(cfg, envWith(WRONG)))).toBe(
      `the password in $${PASS_ENV} does not open the private key in ${enc}`,
    );
    expect(expectError(loadTlsIdentity({ cert: pki.trasmittente.cert, key: enc }))).toMatch(
      /is encrypted.*passphraseEnv/,
    );
  });

  it('refuses a key that does not belong to the certificate', () => {
    const e = expectError(loadTlsIdentity({ cert: pki.trasmittente.cert, key: other.key }));
    expect(e).toBe(
      `the private key in ${other.key} does not belong to the certificate in ${pki.trasmittente.cert} ` +
        '(O=fatturad, CN=fatturad): check that the two files come from the same request',
    );
  });

  it('reports missing files by name', () => {
    const missing = path.join(tmp.dir, 'nope.pem');
    expect(expectError(loadTlsIdentity({ cert: missing, key: pki.trasmittente.key }))).toBe(
      `certificate file ${missing} does not exist`,
    );
    expect(expectError(loadTlsIdentity({ cert: pki.trasmittente.cert, key: missing }))).toBe(
      `private key file ${missing} does not exist`,
    );
  });

  it('recognises swapped files, non-PEM files and incomplete configuration', () => {
    expect(expectError(loadTlsIdentity({ cert: pki.trasmittente.key, key: pki.trasmittente.cert }))).toMatch(
      /holds no PEM certificate/,
    );
    expect(expectError(loadTlsIdentity({ cert: pki.trasmittente.cert, key: pki.caCert }))).toMatch(
      /holds a certificate, not a private key/,
    );
    expect(expectError(loadTlsIdentity({ cert: modernP12, key: pki.trasmittente.key }))).toMatch(
      /is binary .*PKCS#12 file instead/,
    );
    expect(expectError(loadTlsIdentity({ cert: pki.trasmittente.cert }))).toMatch(
      /no private key configured/,
    );
    expect(expectError(loadTlsIdentity({}))).toMatch(/no TLS certificate configured/);
    expect(expectError(loadTlsIdentity({ key: pki.trasmittente.key }))).toMatch(/without its certificate/);
    expect(
      expectError(
        loadTlsIdentity({ pfx: modernP12, cert: pki.trasmittente.cert, key: pki.trasmittente.key }),
      ),
    ).toMatch(/either .* not both/);
  });
});

describe('PKCS#12', () => {
  it('loads a modern PKCS#12 (OpenSSL 3 default: AES-256, HMAC-SHA256) with the password from the env', () => {
    const r = loadTlsIdentity({ pfx: modernP12, passphraseEnv: PASS_ENV }, envWith(PASSWORD));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.subject).toBe('O=fatturad, CN=fatturad');
    expect(r.options.pfx?.equals(fs.readFileSync(modernP12))).toBe(true);
    expect(r.options.passphrase).toBe(PASSWORD);
    expect(r.notAfter.getTime()).toBeGreaterThan(Date.now() + 800 * 86_400_000);
  });

  it('reads the password from process.env by default', () => {
    process.env[PASS_ENV] = PASSWORD;
    try {
      expect(loadTlsIdentity({ pfx: modernP12, passphraseEnv: PASS_ENV }).ok).toBe(true);
    } finally {
      delete process.env[PASS_ENV];
    }
  });

  it('gives options that work for a mutual TLS handshake', async () => {
    const r = loadTlsIdentity({ pfx: modernP12, passphraseEnv: PASS_ENV }, envWith(PASSWORD));
    if (!r.ok) throw new Error(r.error);
    const server = https.createServer(
      {
        cert: fs.readFileSync(pki.sdi.cert),
        key: fs.readFileSync(pki.sdi.key),
        ca: loadCaBundle([pki.caCert]),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        const cn = (req.socket as tls.TLSSocket).getPeerCertificate().subject?.CN;
        res.end(String(cn));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const body = await new Promise<string>((resolve, reject) => {
        const req = https.request(
          { host: '127.0.0.1', port, agent: false, ca: loadCaBundle([pki.caCert]), ...r.options },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve(Buffer.concat(chunks).toString()));
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(body).toBe('fatturad');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('says which variable holds the wrong password', () => {
    const e = expectError(loadTlsIdentity({ pfx: modernP12, passphraseEnv: PASS_ENV }, envWith(WRONG)));
    expect(e).toBe(`the password in $${PASS_ENV} does not open ${modernP12}`);
  });

  it('says when the variable is not set, or when no variable is configured for a protected file', () => {
    expect(
      expectError(loadTlsIdentity({ pfx: modernP12, passphraseEnv: PASS_ENV }, envWith(undefined))),
    ).toBe(`the environment variable ${PASS_ENV} (passphraseEnv) is not set: it must hold the password`);
    expect(expectError(loadTlsIdentity({ pfx: modernP12 }))).toMatch(
      /protected by a password.*passphraseEnv/,
    );
  });

  it('reports a missing PKCS#12 file by name', () => {
    const missing = path.join(tmp.dir, 'absent.p12');
    expect(expectError(loadTlsIdentity({ pfx: missing, passphraseEnv: PASS_ENV }, envWith(PASSWORD)))).toBe(
      `PKCS#12 file ${missing} does not exist`,
    );
  });

  it('recognises a PEM or garbage file given as PKCS#12', () => {
    expect(
      expectError(
        loadTlsIdentity({ pfx: pki.trasmittente.cert, passphraseEnv: PASS_ENV }, envWith(PASSWORD)),
      ),
    ).toMatch(/is a PEM file, not PKCS#12/);
    const junk = path.join(tmp.dir, 'junk.p12');
    fs.writeFileSync(junk, crypto.randomBytes(300));
    expect(expectError(loadTlsIdentity({ pfx: junk, passphraseEnv: PASS_ENV }, envWith(PASSWORD)))).toMatch(
      /is not a PKCS#12/,
    );
  });

  it('reports a PKCS#12 without its private key', () => {
    const certsOnly = path.join(tmp.dir, 'certs-only.p12');
    openssl(
      ['pkcs12', '-export', '-nokeys', '-in', pki.trasmittente.cert, '-out', certsOnly].concat([
        '-passout',
        `pass:${PASSWORD}`,
      ]),
    );
    expect(
      expectError(loadTlsIdentity({ pfx: certsOnly, passphraseEnv: PASS_ENV }, envWith(PASSWORD))),
    ).toMatch(/holds no private key/);
  });
});

describe('legacy PKCS#12 (RC2-40 / 3DES)', () => {
  it('cannot be loaded by this Node (OpenSSL 3 without the legacy provider)', () => {
    expect(process.versions.openssl).toMatch(/^3\./);
    expect(legacyStatus).toBe('unreadable');
  });

  it('gives the re-export command, which produces a file that loads', () => {
    const r = loadTlsIdentity({ pfx: legacyP12, passphraseEnv: PASS_ENV }, envWith(PASSWORD));
    const e = expectError(r);
    const { command, newFile } = reexportCommand(legacyP12, PASS_ENV);
    expect(e).toContain(`${legacyP12} uses legacy PKCS#12 encryption (RC2-40 + 3DES)`);
    expect(e).toContain(`\n  ${command}\n`);
    expect(e).toContain('tmp.pem holds the private key unencrypted');
    expect(command).toBe(
      `(umask 077 && openssl pkcs12 -legacy -in '${legacyP12}' -nodes -passin env:${PASS_ENV} -out tmp.pem` +
        ` && openssl pkcs12 -export -in tmp.pem -passout env:${PASS_ENV} -out '${newFile}'); rm -f tmp.pem`,
    );

    // Run the command exactly as printed, in a shell where the variable holds the password.
    const work = fs.mkdtempSync(path.join(tmp.dir, 'reexport-'));
    const line = e.split('\n').find((l) => l.startsWith('  (umask 077'));
    expect(line?.trim()).toBe(command);
    execFileSync('sh', ['-c', line ?? ''], { cwd: work, env: envWith(PASSWORD), stdio: 'pipe' });
    expect(fs.existsSync(path.join(work, 'tmp.pem'))).toBe(false);
    expect(newFile).toBe(path.join(tmp.dir, 'old identity-modern.p12'));
    const again = loadTlsIdentity({ pfx: newFile, passphraseEnv: PASS_ENV }, envWith(PASSWORD));
    expect(again.ok).toBe(true);
    if (again.ok) expect(again.subject).toBe('O=fatturad, CN=fatturad');
  });

  it('without a password variable, the command asks for the password instead', () => {
    const { command } = reexportCommand('/etc/fatturad/sdi.pfx');
    expect(command).toBe(
      '(umask 077 && openssl pkcs12 -legacy -in /etc/fatturad/sdi.pfx -nodes -out tmp.pem' +
        ' && openssl pkcs12 -export -in tmp.pem -out /etc/fatturad/sdi-modern.p12); rm -f tmp.pem',
    );
  });

  it('with the wrong password, reports the password first and warns about the re-export', () => {
    const e = expectError(loadTlsIdentity({ pfx: legacyP12, passphraseEnv: PASS_ENV }, envWith(WRONG)));
    expect(e).toMatch(new RegExp(`^the password in \\$${PASS_ENV} does not open .*legacy RC2-40`));
  });

  it('never echoes the password, even when the file name contains it', () => {
    const named = path.join(tmp.dir, `${PASSWORD}.p12`);
    fs.copyFileSync(legacyP12, named);
    const e = expectError(loadTlsIdentity({ pfx: named, passphraseEnv: PASS_ENV }, envWith(PASSWORD)));
    expect(e).toContain('[redacted].p12');
  });
});

describe('loadCaBundle', () => {
  it('returns one PEM per certificate, across files holding several', () => {
    const bundle = path.join(tmp.dir, 'bundle.pem');
    fs.writeFileSync(
      bundle,
      `# SdI CAs\n${fs.readFileSync(pki.caCert, 'utf8')}\n${fs.readFileSync(other.cert, 'utf8')}`,
    );
    const cas = loadCaBundle([bundle, pki.caCert]);
    expect(cas).toHaveLength(3);
    for (const c of cas) expect(new crypto.X509Certificate(c).subject).toMatch(/CN=/);
  });

  it('accepts a DER certificate', () => {
    const der = path.join(tmp.dir, 'ca.der');
    fs.writeFileSync(der, new crypto.X509Certificate(fs.readFileSync(pki.caCert)).raw);
    const [ca] = loadCaBundle([der]);
    expect(ca?.toString()).toContain('-----BEGIN CERTIFICATE-----');
  });

  it('throws clear errors for missing, empty and damaged files', () => {
    const missing = path.join(tmp.dir, 'no-ca.pem');
    expect(() => loadCaBundle([missing])).toThrow(`CA file ${missing} does not exist`);
    expect(() => loadCaBundle([pki.caKey])).toThrow(`CA file ${pki.caKey} holds no PEM certificate`);
    const damaged = path.join(tmp.dir, 'damaged.pem');
    fs.writeFileSync(
      damaged,
      `${fs.readFileSync(pki.caCert, 'utf8')}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`,
    );
    expect(() => loadCaBundle([damaged])).toThrow(`CA file ${damaged}: certificate 2 of 2 cannot be parsed`);
  });
});
