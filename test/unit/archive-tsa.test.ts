import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadSigningIdentity,
  signCades,
  verifyCades,
  type SigningIdentity,
} from '../../src/archive/cades.js';
import { requestTimestamp, verifyTimestamp, type TsaOptions } from '../../src/archive/tsa.js';
import { TestPki, type Issued } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';
import { TestTsa, TSA_OTHER_POLICY, TSA_POLICY, type TsaMode } from '../helpers/tsa.js';

/**
 * RFC 3161 timestamps and CAdES-BES signatures of package indexes. The TSA is `openssl ts -reply`
 * behind a loopback HTTP server; every certificate is made at test time; OpenSSL is the oracle
 * that checks what we produce.
 */

const tmp = tempDir('fatturad-archive-tsa-');
let pki: TestPki;
let otherCa: TestPki;
let tsa: TestTsa;

const INDEX = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8"?>\n<PIndex xmlns="http://www.uni.com/U3011/sincro-v2/">…</PIndex>\n',
);

function file(name: string, data: Buffer): string {
  const p = path.join(tmp.dir, name);
  fs.writeFileSync(p, data);
  return p;
}

function openssl(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const opts = (extra: Partial<TsaOptions> = {}): TsaOptions => ({ url: tsa.url, timeoutMs: 10_000, ...extra });

beforeAll(async () => {
  pki = new TestPki(path.join(tmp.dir, 'ca'), 'Test TSA Root');
  otherCa = new TestPki(path.join(tmp.dir, 'other'), 'Unrelated CA');
  tsa = await TestTsa.start(path.join(tmp.dir, 'tsa'), pki);
});
afterAll(async () => {
  await tsa.close();
  tmp.cleanup();
});

describe('requestTimestamp against a local openssl TSA', () => {
  it('gets a token that verifies here and with openssl ts -verify', async () => {
    tsa.mode = 'granted';
    const before = Date.now();
    const r = await requestTimestamp(INDEX, opts({ headers: { Authorization: 'Basic c2VjcmV0' } }));
    expect(r).toMatchObject({ ok: true });
    if (!r.ok) return;
    const ts = r.timestamp;
    expect(tsa.lastHeaders['content-type']).toBe('application/timestamp-query');
    expect(tsa.lastHeaders.authorization).toBe('Basic c2VjcmV0');
    expect(ts.policy).toBe(TSA_POLICY);
    expect(ts.serial).toMatch(/^[0-9a-f]+$/);
    expect(ts.tsaName).toContain('CN=fatturad Test TSA');
    // genTime has a one-second precision.
    expect(ts.genTime.getTime()).toBeGreaterThanOrEqual(before - 2000);
    expect(ts.genTime.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    expect(ts.response.includes(ts.token)).toBe(true);

    for (const stored of [ts.token, ts.response]) {
      expect(await verifyTimestamp(stored, INDEX)).toEqual({
        ok: true,
        genTime: ts.genTime,
        serial: ts.serial,
      });
      expect(await verifyTimestamp(stored, INDEX, [fs.readFileSync(pki.ca.cert)])).toMatchObject({
        ok: true,
      });
    }

    const data = file('index.xml', INDEX);
    const tsr = file('resp.tsr', ts.response);
    const tok = file('token.der', ts.token);
    const byResp = openssl([
      'ts',
      '-verify',
      '-in',
      tsr,
      '-data',
      data,
      '-CAfile',
      pki.ca.cert,
      '-untrusted',
      tsa.tsa.cert,
    ]);
    expect(byResp.out).toContain('Verification: OK');
    expect(byResp.status).toBe(0);
    const byToken = openssl([
      'ts',
      '-verify',
      '-token_in',
      '-in',
      tok,
      '-data',
      data,
      '-CAfile',
      pki.ca.cert,
      '-untrusted',
      tsa.tsa.cert,
    ]);
    expect(byToken.out).toContain('Verification: OK');
    expect(byToken.status).toBe(0);
    const text = openssl(['ts', '-reply', '-in', tsr, '-text']).out;
    expect(text).toContain(`Policy OID: ${TSA_POLICY}`);
    expect(text).toMatch(new RegExp(`Serial number: 0x0*${ts.serial}`, 'i'));
  });

  it('asks for a policy, and checks the chain when trust anchors are configured', async () => {
    tsa.mode = 'granted';
    const r = await requestTimestamp(
      INDEX,
      opts({ policy: TSA_OTHER_POLICY, trusted: [fs.readFileSync(pki.ca.cert)] }),
    );
    expect(r.ok && r.timestamp.policy).toBe(TSA_OTHER_POLICY);

    const untrusted = await requestTimestamp(INDEX, opts({ trusted: [fs.readFileSync(otherCa.ca.cert)] }));
    expect(untrusted).toMatchObject({ ok: false, retryable: false });
    if (!untrusted.ok) expect(untrusted.reason).toMatch(/does not chain to a trusted CA/);

    const unknownPolicy = await requestTimestamp(INDEX, opts({ policy: '1.2.3.4.5' }));
    expect(unknownPolicy).toMatchObject({ ok: false, retryable: false });
    if (!unknownPolicy.ok) expect(unknownPolicy.reason).toMatch(/rejection \(unacceptedPolicy/);
  });

  const failures: [TsaMode, RegExp, boolean][] = [
    [
      'rejection',
      /did not grant the timestamp: rejection \(badAlg.*"Message digest algorithm is not supported\."\)/,
      false,
    ],
    ['garbage', /not a timestamp response/, false],
    ['other-imprint', /token is for other data: its message imprint is not the SHA256 of the data/, false],
    ['wrong-nonce', /nonce [0-9a-f]+ is not the one sent \([0-9a-f]+\)/, false],
    ['trailing-bytes', /followed by 4 unexpected bytes/, false],
    ['http-500', /the TSA answered HTTP 500 Internal Server Error/, true],
    ['no-eku', /not a TSA certificate \(no extended key usage timeStamping\)/, false],
    ['eku-not-critical', /non-critical extended key usage/, false],
    ['ess-mismatch', /signing-certificate-v2 hash does not match the signer certificate/, false],
  ];
  it.each(failures)('%s: refused with a clear reason', async (mode, reason, retryable) => {
    tsa.mode = mode;
    const r = await requestTimestamp(INDEX, opts({ headers: { Authorization: 'Basic c2VjcmV0' } }));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toMatch(reason);
    expect(r.retryable).toBe(retryable);
    expect(r.reason).not.toContain('c2VjcmV0');
  });

  it('a TSA that does not answer: timeout, retryable', async () => {
    tsa.mode = 'hang';
    const started = Date.now();
    const r = await requestTimestamp(INDEX, opts({ timeoutMs: 400 }));
    expect(r).toEqual({ ok: false, reason: 'no answer from the TSA within 400 ms', retryable: true });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('https: the TSA server certificate is checked against the configured CAs', async () => {
    const secure = await TestTsa.start(path.join(tmp.dir, 'tsa-https'), pki, { https: true });
    try {
      expect(secure.url).toMatch(/^https:/);
      const r = await requestTimestamp(INDEX, {
        url: secure.url,
        timeoutMs: 10_000,
        ca: [fs.readFileSync(pki.ca.cert)],
      });
      expect(r).toMatchObject({ ok: true });
      if (r.ok) expect(await verifyTimestamp(r.timestamp.token, INDEX)).toMatchObject({ ok: true });

      const unknownCa = await requestTimestamp(INDEX, { url: secure.url, timeoutMs: 10_000 });
      expect(unknownCa).toMatchObject({ ok: false, retryable: false });
      if (!unknownCa.ok) expect(unknownCa.reason).toMatch(/cannot be reached.*certificate/);
    } finally {
      await secure.close();
    }
  });

  it('nothing listening: retryable network error; bad addresses: not retryable', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const refused = await requestTimestamp(INDEX, { url: `http://127.0.0.1:${port}/`, timeoutMs: 2000 });
    expect(refused).toMatchObject({ ok: false, retryable: true });
    if (!refused.ok) expect(refused.reason).toMatch(/cannot be reached.*ECONNREFUSED/);

    expect(await requestTimestamp(INDEX, { url: 'ftp://127.0.0.1/', timeoutMs: 100 })).toMatchObject({
      ok: false,
      retryable: false,
    });
    const withPassword = await requestTimestamp(INDEX, { url: 'http://user:pw@127.0.0.1/', timeoutMs: 100 });
    expect(withPassword).toMatchObject({ ok: false, retryable: false });
    if (!withPassword.ok) expect(withPassword.reason).not.toContain('pw');
  });
});

describe('verifyTimestamp (offline)', () => {
  let token: Buffer;
  let response: Buffer;
  beforeAll(async () => {
    tsa.mode = 'granted';
    const r = await requestTimestamp(INDEX, opts());
    if (!r.ok) throw new Error(r.reason);
    ({ token, response } = r.timestamp);
  });

  it('refuses other data, trailing bytes, a foreign CA, garbage', async () => {
    const other = await verifyTimestamp(token, Buffer.from('another index'));
    expect(other).toMatchObject({ ok: false });
    if (!other.ok) expect(other.reason).toMatch(/other data/);

    const trailing = await verifyTimestamp(Buffer.concat([token, Buffer.from([0])]), INDEX);
    expect(trailing).toMatchObject({ ok: false });
    if (!trailing.ok) expect(trailing.reason).toMatch(/1 unexpected bytes/);

    const foreign = await verifyTimestamp(response, INDEX, [fs.readFileSync(otherCa.ca.cert)]);
    expect(foreign).toMatchObject({ ok: false });
    if (!foreign.ok) expect(foreign.reason).toMatch(/does not chain to a trusted CA/);

    expect(await verifyTimestamp(Buffer.from('not a token'), INDEX)).toMatchObject({ ok: false });
    expect(await verifyTimestamp(Buffer.alloc(0), INDEX)).toMatchObject({ ok: false });
  });

  it('refuses a token whose TSA signature was tampered with', async () => {
    // The signature value is the last OCTET STRING of the token: flip its last byte.
    const bad = Buffer.from(token);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0xff;
    const r = await verifyTimestamp(bad, INDEX);
    expect(r).toMatchObject({ ok: false });
    if (!r.ok) expect(r.reason).toMatch(/signature on the token does not verify/);
  });

  it('refuses a token whose genTime was edited (signed attributes no longer match)', async () => {
    // genTime: a GeneralizedTime (tag 0x18) of 15 characters, YYYYMMDDHHMMSSZ.
    const gen = token.indexOf(Buffer.from([0x18, 0x0f, 0x32, 0x30]));
    expect(gen).toBeGreaterThan(0);
    const bad = Buffer.from(token);
    const at = gen + 2 + 3; // the last digit of the year
    bad[at] = bad[at] === 0x39 ? 0x38 : (bad[at] ?? 0x30) + 1;
    const r = await verifyTimestamp(bad, INDEX);
    expect(r).toMatchObject({ ok: false });
    if (!r.ok) expect(r.reason).toMatch(/does not verify|digest/i);
  });
});

describe('CAdES-BES of a package index', () => {
  let rsa: Issued;
  let ec: Issued;
  const identity = (id: Issued, chain = false): SigningIdentity => ({
    certPem: fs.readFileSync(id.cert, 'utf8'),
    keyPem: fs.readFileSync(id.key, 'utf8'),
    ...(chain ? { chainPem: [fs.readFileSync(pki.ca.cert, 'utf8')] } : {}),
  });
  beforeAll(() => {
    rsa = pki.issue('Responsabile della conservazione');
    ec = pki.issueWith('Sigillo archivio', {
      key: 'ec',
      ext: ['basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature,nonRepudiation'],
    });
  });

  it.each([
    ['RSA 2048', (): Issued => rsa, 'CN=Responsabile della conservazione'],
    ['ECDSA P-256', (): Issued => ec, 'CN=Sigillo archivio'],
  ])('%s: verified here and by openssl cms, with signingCertificateV2, in DER', async (_label, who, cn) => {
    // Now, to the second (UTCTime): the certificates were issued a moment ago.
    const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
    const p7m = await signCades(INDEX, identity(who()), { signingTime });
    expect(await verifyCades(p7m)).toEqual({
      ok: true,
      content: INDEX,
      signer: expect.stringContaining(cn) as string,
      signingTime,
    });
    expect(await verifyCades(p7m, { trusted: [fs.readFileSync(pki.ca.cert)] })).toMatchObject({ ok: true });

    const p7mFile = file(`index-${who() === ec ? 'ec' : 'rsa'}.xml.p7m`, p7m);
    const out = path.join(tmp.dir, `content-${who() === ec ? 'ec' : 'rsa'}.xml`);
    const v = openssl([
      'cms',
      '-verify',
      '-inform',
      'DER',
      '-in',
      p7mFile,
      '-CAfile',
      pki.ca.cert,
      '-out',
      out,
    ]);
    expect(v.out).toContain('Verification successful');
    expect(v.status).toBe(0);
    expect(fs.readFileSync(out).equals(INDEX)).toBe(true);

    const printed = openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', p7mFile]).out;
    expect(printed).toMatch(/id-smime-aa-signingCertificateV2|1\.2\.840\.113549\.1\.9\.16\.2\.47/);
    // DER: OpenSSL's re-encoding of the structure is byte-identical.
    const der = execFileSync('openssl', [
      'cms',
      '-cmsout',
      '-inform',
      'DER',
      '-outform',
      'DER',
      '-in',
      p7mFile,
    ]);
    expect(der.equals(p7m)).toBe(true);
  });

  it('large content stays one primitive OCTET STRING (DER), chain certificates are carried', async () => {
    const big = Buffer.alloc(200_000, 'x');
    const p7m = await signCades(big, identity(rsa, true));
    const p7mFile = file('big.p7m', p7m);
    const der = execFileSync('openssl', [
      'cms',
      '-cmsout',
      '-inform',
      'DER',
      '-outform',
      'DER',
      '-in',
      p7mFile,
    ]);
    expect(der.equals(p7m)).toBe(true);
    const printed = openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', p7mFile]).out;
    expect(printed).toContain('CN=Test TSA Root');
    const r = await verifyCades(p7m);
    expect(r.ok && r.content.equals(big)).toBe(true);
  });

  it('a tampered byte, trailing bytes, a foreign CA: invalid', async () => {
    const p7m = await signCades(INDEX, identity(rsa));
    const at = p7m.indexOf(INDEX);
    expect(at).toBeGreaterThan(0);
    const tampered = Buffer.from(p7m);
    tampered[at + 10] = (tampered[at + 10] ?? 0) ^ 0x01;
    const t = await verifyCades(tampered);
    expect(t).toMatchObject({ ok: false });
    if (!t.ok) expect(t.reason).toMatch(/digest doesn't match/i);
    const tf = file('tampered.p7m', tampered);
    expect(
      openssl(['cms', '-verify', '-inform', 'DER', '-in', tf, '-CAfile', pki.ca.cert, '-out', '/dev/null'])
        .status,
    ).not.toBe(0);

    const trailing = await verifyCades(Buffer.concat([p7m, Buffer.from('\n')]));
    expect(trailing).toMatchObject({ ok: false });
    if (!trailing.ok) expect(trailing.reason).toMatch(/1 bytes follow the signature/);

    const foreign = await verifyCades(p7m, { trusted: [fs.readFileSync(otherCa.ca.cert)] });
    expect(foreign).toMatchObject({ ok: false });
    if (!foreign.ok) expect(foreign.reason).toMatch(/does not chain to a trusted CA/);

    const sigByte = Buffer.from(p7m);
    sigByte[sigByte.length - 1] = (sigByte[sigByte.length - 1] ?? 0) ^ 0xff;
    expect(await verifyCades(sigByte)).toMatchObject({ ok: false, reason: 'the signature does not verify' });
  });

  it('openssl-made signatures: CAdES (ESS v2 with issuerSerial) verifies, plain CMS lacks ESS', async () => {
    const cades = pki.sign(INDEX, rsa);
    expect(await verifyCades(cades)).toMatchObject({ ok: true, content: INDEX });
    const plain = execFileSync(
      'openssl',
      [
        'cms',
        '-sign',
        '-binary',
        '-nodetach',
        '-md',
        'sha256',
        '-signer',
        rsa.cert,
        '-inkey',
        rsa.key,
        '-outform',
        'DER',
      ],
      { input: INDEX },
    );
    const r = await verifyCades(plain);
    expect(r).toMatchObject({ ok: false });
    if (!r.ok) expect(r.reason).toMatch(/no ESS signing-certificate/);
    expect(await verifyCades(pki.sign(INDEX, rsa, { noSigningTime: true }))).toMatchObject({
      ok: false,
      reason: 'no signed attributes (not CAdES)',
    });
    const detached = await verifyCades(pki.sign(INDEX, rsa, { detached: true }));
    expect(detached).toMatchObject({ ok: false });
    if (!detached.ok) expect(detached.reason).toMatch(/detached/);
  });

  it('refuses to sign with a key that is not the certificate’s, or outside its validity', async () => {
    await expect(
      signCades(INDEX, { certPem: identity(rsa).certPem, keyPem: identity(ec).keyPem }),
    ).rejects.toThrow(/does not belong/);
    await expect(
      signCades(INDEX, identity(rsa), { signingTime: new Date('2020-01-01T00:00:00Z') }),
    ).rejects.toThrow(/is not valid at 2020-01-01T00:00:00.000Z/);
  });
});

describe('loadSigningIdentity', () => {
  const PASS_ENV = 'FATTURAD_TEST_SEAL_PASSWORD';
  const PASSWORD = 'Seal-Pass-2026';
  let rsa: Issued;
  beforeAll(() => {
    rsa = pki.issue('Archive seal');
  });

  it('PEM cert + key, with a chain file', async () => {
    const r = await loadSigningIdentity({ cert: rsa.cert, key: rsa.key, chain: [pki.ca.cert] });
    expect(r).toMatchObject({ ok: true, subject: expect.stringContaining('CN=Archive seal') as string });
    if (!r.ok) return;
    expect(r.identity.chainPem).toHaveLength(1);
    expect(r.identity.keyPem).toContain('-----BEGIN PRIVATE KEY-----');
    const v = await verifyCades(await signCades(INDEX, r.identity), {
      trusted: [fs.readFileSync(pki.ca.cert)],
    });
    expect(v).toMatchObject({ ok: true });
  });

  it('an encrypted PEM key, its password from the environment', async () => {
    const enc = path.join(tmp.dir, 'seal-enc.key');
    execFileSync('openssl', ['pkey', '-in', rsa.key, '-aes256', '-passout', `env:${PASS_ENV}`, '-out', enc], {
      env: { ...process.env, [PASS_ENV]: PASSWORD },
    });
    const r = await loadSigningIdentity(
      { cert: rsa.cert, key: enc, passphraseEnv: PASS_ENV },
      { [PASS_ENV]: PASSWORD },
    );
    expect(r).toMatchObject({ ok: true });
    if (r.ok) expect(await verifyCades(await signCades(INDEX, r.identity))).toMatchObject({ ok: true });
  });

  it('PKCS#12 (OpenSSL 3 default encryption), with its CA', async () => {
    const p12 = path.join(tmp.dir, 'seal.p12');
    execFileSync(
      'openssl',
      [
        'pkcs12',
        '-export',
        '-in',
        rsa.cert,
        '-inkey',
        rsa.key,
        '-certfile',
        pki.ca.cert,
        '-passout',
        `env:${PASS_ENV}`,
        '-out',
        p12,
      ],
      { env: { ...process.env, [PASS_ENV]: PASSWORD } },
    );
    const r = await loadSigningIdentity({ pfx: p12, passphraseEnv: PASS_ENV }, { [PASS_ENV]: PASSWORD });
    expect(r).toMatchObject({ ok: true, subject: expect.stringContaining('CN=Archive seal') as string });
    if (!r.ok) return;
    expect(r.identity.certPem).toBe(
      new (await import('node:crypto')).X509Certificate(fs.readFileSync(rsa.cert)).toString(),
    );
    expect(r.identity.chainPem).toHaveLength(1);
    const p7m = await signCades(INDEX, r.identity);
    expect(await verifyCades(p7m, { trusted: [fs.readFileSync(pki.ca.cert)] })).toMatchObject({ ok: true });

    const wrong = await loadSigningIdentity(
      { pfx: p12, passphraseEnv: PASS_ENV },
      { [PASS_ENV]: 'wrong-password' },
    );
    expect(wrong).toMatchObject({ ok: false });
    if (!wrong.ok) {
      expect(wrong.error).toMatch(/does not open/);
      expect(wrong.error).not.toContain('wrong-password');
    }
    const unset = await loadSigningIdentity({ pfx: p12, passphraseEnv: PASS_ENV }, {});
    expect(unset).toMatchObject({ ok: false });
  });

  it('legacy PKCS#12: the re-export command', async () => {
    const p12 = path.join(tmp.dir, 'seal-legacy.p12');
    execFileSync(
      'openssl',
      [
        'pkcs12',
        '-export',
        '-legacy',
        '-in',
        rsa.cert,
        '-inkey',
        rsa.key,
        '-passout',
        `env:${PASS_ENV}`,
        '-out',
        p12,
      ],
      { env: { ...process.env, [PASS_ENV]: PASSWORD } },
    );
    const r = await loadSigningIdentity({ pfx: p12, passphraseEnv: PASS_ENV }, { [PASS_ENV]: PASSWORD });
    expect(r).toMatchObject({ ok: false });
    if (!r.ok) {
      expect(r.error).toMatch(/legacy PKCS#12/);
      expect(r.error).not.toContain(PASSWORD);
    }
  });
});
