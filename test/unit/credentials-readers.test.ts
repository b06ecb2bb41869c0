import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatInspection, inspectionJson } from '../../src/credentials/inspect.js';
import {
  certificateInfo,
  readCredentialBytes,
  readCredentialFile,
  readKeystore,
  type ReadResult,
} from '../../src/credentials/readers.js';
import { TestPki, type Issued } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Reading credential files as the expiry monitor and `fatturad credentials inspect` do: PEM, DER,
 * PKCS#12 (modern and legacy) and Java keystores, all made here with openssl and keytool, plus a
 * table of damaged files that must give a problem quickly, never an exception or a hang.
 */

const DAY = 86_400_000;
const PASSWORD = 'Pa55-word-p12';
const STOREPASS = 'changeit';

const tmp = tempDir('fatturad-creds-');
let pki: TestPki;
let leaf20: Issued;
let base: Date;

const hasKeytool = spawnSync('keytool', ['-help'], { stdio: 'ignore' }).status === 0;

function openssl(args: string[]): Buffer {
  return execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

function keytool(args: string[]): void {
  execFileSync('keytool', args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

function file(name: string): string {
  return path.join(tmp.dir, name);
}

/** openssl date (YYYYMMDDHHMMSSZ). */
function osslDate(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
}

function derOf(pemFile: string): Buffer {
  return openssl(['x509', '-in', pemFile, '-outform', 'DER']);
}

function sha256(b: Buffer): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

/** A certificate signed by the test CA from a fresh key, with chosen key and digest. */
function signed(name: string, opts: { newkey: string[]; digest: string; days?: number }): Issued {
  const key = file(`${name}.key`);
  const csr = file(`${name}.csr`);
  const cert = file(`${name}.crt`);
  openssl(['req', '-new', ...opts.newkey, '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    pki.ca.cert,
    '-CAkey',
    pki.ca.key,
    '-set_serial',
    `0x${crypto.randomBytes(6).toString('hex')}`,
    '-days',
    String(opts.days ?? 30),
    `-${opts.digest}`,
    '-out',
    cert,
  ]);
  return { cert, key };
}

function p12(name: string, id: Issued, extra: string[] = [], password = PASSWORD): string {
  const out = file(name);
  openssl([
    'pkcs12',
    '-export',
    '-in',
    id.cert,
    '-inkey',
    id.key,
    '-certfile',
    pki.ca.cert,
    '-passout',
    `pass:${password}`,
    '-out',
    out,
    ...extra,
  ]);
  return out;
}

function codes(r: ReadResult, i = 0): string[] {
  return (r.certificates[i]?.weaknesses ?? []).map((w) => w.code);
}

beforeAll(() => {
  pki = new TestPki(path.join(tmp.dir, 'pki'));
  base = new Date(Math.floor(Date.now() / 1000) * 1000);
  leaf20 = pki.issue('Leaf Twenty Days', {
    start: osslDate(new Date(base.getTime() - DAY)),
    end: osslDate(new Date(base.getTime() + 20 * DAY)),
  });
});

afterAll(() => tmp.cleanup());

describe('PEM and DER certificates', () => {
  it('reads a PEM leaf with its exact notAfter', async () => {
    const r = await readCredentialFile(leaf20.cert, { now: base });
    expect(r.format).toBe('pem');
    expect(r.problem).toBeUndefined();
    expect(r.privateKeys).toBe(0);
    expect(r.certificates).toHaveLength(1);
    const c = r.certificates[0]!;
    expect(c.notAfter.toISOString()).toBe(new Date(base.getTime() + 20 * DAY).toISOString());
    expect(c.notBefore.toISOString()).toBe(new Date(base.getTime() - DAY).toISOString());
    expect(c.subject).toContain('CN=Leaf Twenty Days');
    expect(c.issuer).toContain('CN=Test CA');
    expect(c.key).toBe('RSA 2048');
    expect(c.signatureAlgorithm).toBe('sha256WithRSAEncryption');
    expect(c.isCA).toBe(false);
    expect(c.weaknesses).toEqual([]);
    expect(c.fingerprint).toBe(sha256(derOf(leaf20.cert)));
    expect(c.serial).toMatch(/^[0-9a-f]+$/);
  });

  it('reads a DER certificate, whatever the file is called', async () => {
    const der = file('leaf.pem'); // a misleading name: the content decides
    fs.writeFileSync(der, derOf(leaf20.cert));
    const r = await readCredentialFile(der);
    expect(r.format).toBe('der');
    expect(r.certificates.map((c) => c.subject)).toEqual([expect.stringContaining('Leaf Twenty Days')]);
    expect(r.certificates[0]?.fingerprint).toBe(sha256(derOf(leaf20.cert)));
  });

  it('reads every certificate of a PEM bundle and counts its key', async () => {
    const other = pki.issueWith('Second Leaf', { key: 'ec', ext: ['basicConstraints = CA:FALSE'] });
    const bundle = file('bundle.pem');
    fs.writeFileSync(
      bundle,
      [leaf20.cert, leaf20.key, pki.ca.cert, other.cert].map((f) => fs.readFileSync(f, 'utf8')).join('\n'),
    );
    const r = await readCredentialFile(bundle);
    expect(r.format).toBe('pem');
    expect(r.problem).toBeUndefined();
    expect(r.privateKeys).toBe(1);
    expect(r.certificates.map((c) => c.subject)).toEqual([
      expect.stringContaining('Leaf Twenty Days'),
      expect.stringContaining('Test CA'),
      expect.stringContaining('Second Leaf'),
    ]);
    expect(r.certificates.map((c) => c.isCA)).toEqual([false, true, false]);
  });

  it('reads the certificates of a PKCS#7 (.p7b), PEM and DER', async () => {
    const pem = file('chain.p7b.pem');
    openssl(['crl2pkcs7', '-nocrl', '-certfile', leaf20.cert, '-certfile', pki.ca.cert, '-out', pem]);
    const der = file('chain.p7b');
    openssl([
      'crl2pkcs7',
      '-nocrl',
      '-certfile',
      leaf20.cert,
      '-certfile',
      pki.ca.cert,
      '-outform',
      'DER',
      '-out',
      der,
    ]);
    for (const f of [pem, der]) {
      const r = await readCredentialFile(f);
      expect(r.problem).toBeUndefined();
      expect(r.certificates).toHaveLength(2);
      expect(r.certificates.map((c) => c.fingerprint)).toContain(sha256(derOf(leaf20.cert)));
    }
  });

  it('flags an RSA 1024 key', async () => {
    const weak = signed('Weak RSA', { newkey: ['-newkey', 'rsa:1024'], digest: 'sha256' });
    const r = await readCredentialFile(weak.cert);
    expect(r.certificates[0]?.key).toBe('RSA 1024');
    expect(codes(r)).toEqual(['weak-rsa-key']);
  });

  it('flags a SHA-1 signature', async () => {
    const old = signed('SHA1 Signed', { newkey: ['-newkey', 'rsa:2048'], digest: 'sha1' });
    const r = await readCredentialFile(old.cert);
    expect(r.certificates[0]?.signatureAlgorithm).toBe('sha1WithRSAEncryption');
    expect(codes(r)).toEqual(['sha1-signature']);
  });

  it('names an EC P-256 key', async () => {
    const ec = pki.issueWith('EC Leaf', { key: 'ec', ext: ['basicConstraints = CA:FALSE'] });
    const r = await readCredentialFile(ec.cert);
    expect(r.certificates[0]?.key).toBe('EC P-256');
    expect(r.certificates[0]?.weaknesses).toEqual([]);
  });

  it('flags an EC key below 256 bits and an ECDSA-SHA1 signature', async () => {
    const key = file('p192.key');
    const cert = file('p192.crt');
    openssl(['ecparam', '-name', 'prime192v1', '-genkey', '-noout', '-out', key]);
    const conf = file('leaf.cnf');
    fs.writeFileSync(
      conf,
      '[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n[dn]\nCN = Tiny Curve\n[ext]\nbasicConstraints = critical,CA:FALSE\n',
    );
    openssl(['req', '-new', '-x509', '-key', key, '-sha1', '-days', '5', '-config', conf, '-out', cert]);
    const r = await readCredentialFile(cert);
    const c = r.certificates[0]!;
    expect(c.key).toBe('EC P-192');
    expect(c.signatureAlgorithm).toBe('ecdsa-with-SHA1');
    expect(codes(r).sort()).toEqual(['self-signed', 'sha1-signature', 'weak-ec-key']);
  });

  it('does not hold the self-signature of a root CA against it, and flags a certificate not valid yet', async () => {
    const root = certificateInfo(derOf(pki.ca.cert));
    expect(root.isCA).toBe(true);
    expect(root.weaknesses).toEqual([]);
    const future = pki.issue('Future Leaf', {
      start: osslDate(new Date(base.getTime() + 3 * DAY)),
      end: osslDate(new Date(base.getTime() + 400 * DAY)),
    });
    const r = await readCredentialFile(future.cert, { now: base });
    expect(codes(r)).toEqual(['not-yet-valid']);
    expect(formatInspection(future.cert, r, base)).toContain('NOT VALID YET: starts in 3 days');
  });

  it('reports a key-only PEM and a certificate request as holding no certificate', async () => {
    const r = await readCredentialFile(leaf20.key);
    expect(r.format).toBe('pem');
    expect(r.privateKeys).toBe(1);
    expect(r.certificates).toEqual([]);
    expect(r.problem).toMatch(/private key but no certificate/);
    const csr = file('Weak RSA.csr');
    const q = await readCredentialFile(csr);
    expect(q.problem).toMatch(/no certificate \(only CERTIFICATE REQUEST\)/);
  });
});

describe('PKCS#12', () => {
  it('reads a modern PKCS#12 with its password: leaf first, one key', async () => {
    const f = p12('modern.p12', leaf20);
    const r = await readCredentialFile(f, { password: PASSWORD });
    expect(r.format).toBe('pkcs12');
    expect(r.problem).toBeUndefined();
    expect(r.hint).toBeUndefined();
    expect(r.privateKeys).toBe(1);
    expect(r.certificates.map((c) => c.subject)).toEqual([
      expect.stringContaining('Leaf Twenty Days'),
      expect.stringContaining('Test CA'),
    ]);
    expect(r.certificates[0]?.notAfter.getTime()).toBe(base.getTime() + 20 * DAY);
    expect(r.certificates[0]?.fingerprint).toBe(sha256(derOf(leaf20.cert)));
  });

  it('puts the certificate of the key first even when the file lists the CA first', async () => {
    const bundle = file('ca-first.pem');
    fs.writeFileSync(bundle, fs.readFileSync(pki.ca.cert, 'utf8') + fs.readFileSync(leaf20.cert, 'utf8'));
    const out = file('ca-first.p12');
    openssl([
      'pkcs12',
      '-export',
      '-in',
      bundle,
      '-inkey',
      leaf20.key,
      '-passout',
      `pass:${PASSWORD}`,
      '-out',
      out,
    ]);
    const r = await readCredentialFile(out, { password: PASSWORD });
    expect(r.certificates[0]?.subject).toContain('Leaf Twenty Days');
  });

  it('asks for the password, naming --password-env, when none is given', async () => {
    const r = await readCredentialFile(file('modern.p12'));
    expect(r.format).toBe('pkcs12');
    expect(r.certificates).toEqual([]);
    expect(r.problem).toMatch(/--password-env/);
  });

  it('reads a PKCS#12 whose password is empty without being given one', async () => {
    const f = p12('empty-password.p12', leaf20, [], '');
    const r = await readCredentialFile(f);
    expect(r.problem).toBeUndefined();
    expect(r.certificates).toHaveLength(2);
  });

  it('says so when the password is wrong, without showing it', async () => {
    const r = await readCredentialFile(file('modern.p12'), {
      password: 'not-the-one',
      passwordEnv: 'P12_PASS',
    });
    expect(r.certificates).toEqual([]);
    expect(r.problem).toMatch(/wrong password/);
    expect(r.problem).toContain('$P12_PASS');
    expect(r.problem).not.toContain('not-the-one');
  });

  it('reads a legacy (RC2-40 + 3DES) PKCS#12 that Node cannot load, with the re-export hint', async () => {
    const f = p12('legacy.p12', leaf20, ['-legacy']);
    expect(() => tls.createSecureContext({ pfx: fs.readFileSync(f), passphrase: PASSWORD })).toThrow();
    const r = await readCredentialFile(f, { password: PASSWORD, passwordEnv: 'P12_PASS' });
    expect(r.format).toBe('pkcs12-legacy');
    expect(r.problem).toBeUndefined();
    expect(r.privateKeys).toBe(1);
    expect(r.certificates.map((c) => c.fingerprint)).toEqual([
      sha256(derOf(leaf20.cert)),
      sha256(derOf(pki.ca.cert)),
    ]);
    expect(r.hint).toContain('openssl pkcs12 -legacy');
    expect(r.hint).toContain(f);
    expect(r.hint).toContain('RC2-40');
    expect(r.hint).toContain('env:P12_PASS');
  });

  it('reads a legacy PKCS#12 with an EC key', async () => {
    const ec = pki.issueWith('EC Legacy', { key: 'ec', ext: ['basicConstraints = CA:FALSE'] });
    const f = p12('legacy-ec.p12', ec, [
      '-certpbe',
      'PBE-SHA1-RC2-40',
      '-keypbe',
      'PBE-SHA1-3DES',
      '-legacy',
    ]);
    const r = await readCredentialFile(f, { password: PASSWORD });
    expect(r.format).toBe('pkcs12-legacy');
    expect(r.privateKeys).toBe(1);
    expect(r.certificates[0]?.key).toBe('EC P-256');
    expect(r.certificates[0]?.fingerprint).toBe(sha256(derOf(ec.cert)));
  });

  it('gives the hint with the password problem of a legacy PKCS#12', async () => {
    const r = await readCredentialFile(file('legacy.p12'));
    expect(r.format).toBe('pkcs12-legacy');
    expect(r.problem).toMatch(/--password-env/);
    expect(r.hint).toContain('openssl pkcs12 -legacy');
    const wrong = await readCredentialFile(file('legacy.p12'), { password: 'nope-nope' });
    expect(wrong.problem).toMatch(/wrong password/);
  });

  it('recognises a PKCS#12 named .jks as PKCS#12', async () => {
    const f = file('really-a-p12.jks');
    fs.copyFileSync(file('modern.p12'), f);
    const r = await readCredentialFile(f, { password: PASSWORD });
    expect(r.format).toBe('pkcs12');
    expect(r.certificates).toHaveLength(2);
  });
});

describe.skipIf(!hasKeytool)('Java keystores made with keytool', () => {
  const jks = (): string => file('entratel.jks');
  const jceks = (): string => file('entratel.jceks');

  beforeAll(() => {
    for (const [store, type] of [
      [jks(), 'JKS'],
      [jceks(), 'JCEKS'],
    ] as const) {
      const common = ['-storetype', type, '-keystore', store, '-storepass', STOREPASS, '-noprompt'];
      keytool([
        '-genkeypair',
        ...common,
        '-keypass',
        STOREPASS,
        '-alias',
        'firma',
        '-keyalg',
        'RSA',
        '-keysize',
        '2048',
        '-dname',
        'CN=Studio Rossi Firma, O=Studio Rossi, C=IT',
        '-validity',
        '10',
      ]);
      keytool(['-importcert', ...common, '-alias', 'trusted-ca', '-file', pki.ca.cert]);
    }
  });

  function exported(store: string, alias: string): crypto.X509Certificate {
    const pem = execFileSync(
      'keytool',
      ['-exportcert', '-rfc', '-keystore', store, '-storepass', STOREPASS, '-alias', alias],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return new crypto.X509Certificate(pem);
  }

  for (const [name, format] of [
    ['JKS', 'jks'],
    ['JCEKS', 'jceks'],
  ] as const) {
    it(`reads a ${name} without its password: aliases, entry types, notAfter`, async () => {
      const store = format === 'jks' ? jks() : jceks();
      const r = await readCredentialFile(store);
      expect(r.format).toBe(format);
      expect(r.problem).toBeUndefined();
      expect(r.privateKeys).toBe(1);
      expect(r.certificates.map((c) => c.alias).sort()).toEqual(['firma', 'trusted-ca']);
      const firma = r.certificates.find((c) => c.alias === 'firma')!;
      const expected = exported(store, 'firma');
      expect(firma.notAfter.toISOString()).toBe(new Date(expected.validTo).toISOString());
      expect(Math.abs(firma.notAfter.getTime() - (Date.now() + 10 * DAY))).toBeLessThan(10 * 60_000);
      expect(firma.fingerprint).toBe(expected.fingerprint256.replace(/:/g, '').toLowerCase());
      expect(firma.subject).toContain('CN=Studio Rossi Firma');
      expect(firma.weaknesses.map((w) => w.code)).toEqual(['self-signed']);
      const ks = readKeystore(fs.readFileSync(store))!;
      expect(ks.format).toBe(format);
      expect(ks.entries.map((e) => [e.alias, e.type]).sort()).toEqual([
        ['firma', 'key'],
        ['trusted-ca', 'cert'],
      ]);
      expect(ks.entries.every((e) => Math.abs(e.date.getTime() - Date.now()) < DAY)).toBe(true);
    });

    it(`checks the ${name} integrity digest when given the password`, async () => {
      const store = format === 'jks' ? jks() : jceks();
      expect((await readCredentialFile(store, { password: STOREPASS })).problem).toBeUndefined();
      const wrong = await readCredentialFile(store, { password: 'wrong-pass' });
      expect(wrong.problem).toMatch(/wrong password/);
      expect(wrong.certificates).toHaveLength(2);
    });
  }

  it('recognises a keystore by its content when renamed to .dat', async () => {
    const f = file('UTENTEF.dat');
    fs.copyFileSync(jks(), f);
    expect((await readCredentialFile(f)).format).toBe('jks');
    const g = file('UTENTEC.p12');
    fs.copyFileSync(jceks(), g);
    expect((await readCredentialFile(g)).format).toBe('jceks');
  });

  it('flags an old Entratel-style key: RSA 1024 signed with SHA-1', async () => {
    const store = file('old.jceks');
    keytool([
      '-genkeypair',
      '-storetype',
      'JCEKS',
      '-keystore',
      store,
      '-storepass',
      STOREPASS,
      '-keypass',
      STOREPASS,
      '-alias',
      'old',
      '-keyalg',
      'RSA',
      '-keysize',
      '1024',
      '-sigalg',
      'SHA1withRSA',
      '-dname',
      'CN=Old Environment',
      '-validity',
      '10',
      '-noprompt',
    ]);
    const r = await readCredentialFile(store);
    expect(r.certificates[0]?.key).toBe('RSA 1024');
    expect(codes(r).sort()).toEqual(['self-signed', 'sha1-signature', 'weak-rsa-key']);
  });

  it('stops at a JCEKS secret key entry and says so', async () => {
    const store = file('secret.jceks');
    fs.copyFileSync(jceks(), store);
    keytool([
      '-genseckey',
      '-storetype',
      'JCEKS',
      '-keystore',
      store,
      '-storepass',
      STOREPASS,
      '-keypass',
      STOREPASS,
      '-alias',
      'aes-key',
      '-keyalg',
      'AES',
      '-keysize',
      '128',
    ]);
    const r = await readCredentialFile(store);
    expect(r.format).toBe('jceks');
    expect(r.problem).toMatch(/secret key entry "aes-key"/);
    // Java writes entries in hash order: what came before the secret key was read.
    const ks = readKeystore(fs.readFileSync(store))!;
    expect(ks.entries.at(-1)?.type).toBe('secret');
    expect(r.certificates).toHaveLength(ks.entries.length - 1);
  });
});

// ------------------------------------------------------------------------------------------------
// Keystores built byte by byte (no Java needed): the layout, and damaged variants of it.

interface RawEntry {
  tag: number;
  alias: string;
  certs?: Buffer[];
  blob?: Buffer;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function utf(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}

function buildKeystore(magic: number, version: number, entries: RawEntry[], password = STOREPASS): Buffer {
  const cert = (der: Buffer): Buffer =>
    Buffer.concat([version === 2 ? utf('X.509') : Buffer.alloc(0), u32(der.length), der]);
  const parts: Buffer[] = [u32(magic), u32(version), u32(entries.length)];
  for (const e of entries) {
    const stamp = Buffer.alloc(8);
    stamp.writeBigUInt64BE(BigInt(Date.UTC(2023, 10, 30, 14, 11)));
    parts.push(u32(e.tag), utf(e.alias), stamp);
    if (e.tag === 1) {
      const blob = e.blob ?? crypto.randomBytes(64);
      parts.push(u32(blob.length), blob, u32(e.certs?.length ?? 0), ...(e.certs ?? []).map(cert));
    } else if (e.tag === 2) parts.push(cert(e.certs?.[0] ?? Buffer.alloc(0)));
    else parts.push(e.blob ?? Buffer.from('aced0005737200', 'hex'));
  }
  const body = Buffer.concat(parts);
  const digest = crypto
    .createHash('sha1')
    .update(Buffer.from(password, 'utf16le').swap16())
    .update('Mighty Aphrodite')
    .update(body)
    .digest();
  return Buffer.concat([body, digest]);
}

describe('keystore layout', () => {
  let leafDer: Buffer;
  let caDer: Buffer;
  let jks: Buffer;
  beforeAll(() => {
    leafDer = derOf(leaf20.cert);
    caDer = derOf(pki.ca.cert);
    jks = buildKeystore(0xfeedfeed, 2, [
      { tag: 1, alias: 'firma', certs: [leafDer, caDer] },
      { tag: 2, alias: 'càfé' /* non-ASCII alias */, certs: [caDer] },
    ]);
  });

  it('reads key entries with their chain (leaf first) and trusted certificates', async () => {
    const r = await readCredentialBytes(jks, { password: STOREPASS });
    expect(r.format).toBe('jks');
    expect(r.problem).toBeUndefined();
    expect(r.privateKeys).toBe(1);
    expect(r.certificates.map((c) => [c.alias, c.fingerprint])).toEqual([
      ['firma', sha256(leafDer)],
      ['firma', sha256(caDer)],
      ['càfé', sha256(caDer)],
    ]);
    const ks = readKeystore(jks)!;
    expect(ks.version).toBe(2);
    expect(ks.entries[0]?.date.toISOString()).toBe('2023-11-30T14:11:00.000Z');
  });

  it('reads version 1 (no certificate type strings) and JCEKS', async () => {
    const v1 = buildKeystore(0xfeedfeed, 1, [{ tag: 2, alias: 'ca', certs: [caDer] }]);
    expect((await readCredentialBytes(v1, { password: STOREPASS })).certificates).toHaveLength(1);
    const jceks = buildKeystore(0xcececece, 2, [{ tag: 1, alias: 'cifra', certs: [leafDer] }]);
    const r = await readCredentialBytes(jceks);
    expect(r.format).toBe('jceks');
    expect(r.certificates[0]?.alias).toBe('cifra');
  });

  it('stops at a JCEKS secret key, keeping what was read before it', async () => {
    const bytes = buildKeystore(0xcececece, 2, [
      { tag: 2, alias: 'ca', certs: [caDer] },
      { tag: 3, alias: 'aes', blob: crypto.randomBytes(80) },
      { tag: 1, alias: 'cifra', certs: [leafDer] },
    ]);
    const r = await readCredentialBytes(bytes, { password: STOREPASS });
    expect(r.certificates.map((c) => c.alias)).toEqual(['ca']);
    expect(r.problem).toMatch(/secret key entry "aes" \(entry 2 of 3\).*the 1 entry after it were not read/);
    expect(r.problem).not.toMatch(/wrong password/);
  });

  it('rejects a secret key entry in a JKS as damage', async () => {
    const bytes = buildKeystore(0xfeedfeed, 2, [{ tag: 3, alias: 'aes' }]);
    expect((await readCredentialBytes(bytes)).problem).toMatch(/unknown type 3/);
  });
});

describe('damaged and hostile files', () => {
  const quick = async (bytes: Buffer, opts = {}): Promise<ReadResult> => {
    const t = Date.now();
    const r = await readCredentialBytes(bytes, opts);
    expect(Date.now() - t).toBeLessThan(5_000);
    return r;
  };

  it('gives a problem for each, quickly and without throwing', async () => {
    const leafDer = derOf(leaf20.cert);
    const caDer = derOf(pki.ca.cert);
    const good = buildKeystore(0xfeedfeed, 2, [{ tag: 1, alias: 'firma', certs: [leafDer, caDer] }]);
    const withCount = (count: number): Buffer => {
      const b = Buffer.from(good);
      b.writeUInt32BE(count, 8);
      return b;
    };
    // Offsets in `good`: header 12, tag 4, alias 2+5, date 8 → key length at 31.
    const keyLenAt = 12 + 4 + 7 + 8;
    const hugeKeyLen = Buffer.from(good);
    hugeKeyLen.writeUInt32BE(0x7fffffff, keyLenAt);
    const hugeChain = Buffer.from(good);
    hugeChain.writeUInt32BE(0x80000000, keyLenAt + 4 + 64);
    const pemNoEnd = Buffer.from('-----BEGIN CERTIFICATE-----\n'.repeat(40_000));
    const pemBadBody = Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const p12Bytes = fs.readFileSync(file('modern.p12'));
    const table: [string, Buffer, RegExp][] = [
      ['empty', Buffer.alloc(0), /empty/],
      [
        'random bytes',
        Buffer.concat([Buffer.from([0]), crypto.randomBytes(4095)]),
        /not a certificate or keystore/,
      ],
      [
        'random ASN.1-looking bytes',
        Buffer.concat([Buffer.from([0x30, 0x82, 0x10, 0x00]), crypto.randomBytes(4096)]),
        /not a certificate|cannot/,
      ],
      ['JKS magic only', Buffer.from('feedfeed', 'hex'), /truncated/],
      ['JKS count 2^31', withCount(0x80000000), /truncated|damaged/],
      ['JKS count 2^32-1', withCount(0xffffffff), /truncated|damaged/],
      ['JKS key length 2^31-1', hugeKeyLen, /truncated/],
      ['JKS chain length 2^31', hugeChain, /truncated/],
      ['JKS version 7', Buffer.concat([Buffer.from('feedfeed', 'hex'), u32(7), u32(1)]), /version 7/],
      ['PEM BEGIN lines without END', pemNoEnd, /no complete/],
      ['PEM with a broken body', pemBadBody, /cannot be parsed/],
      ['truncated PKCS#12', p12Bytes.subarray(0, 700), /not a certificate|cannot be read|damaged/],
      ['certificate with garbage after it', Buffer.concat([leafDer, Buffer.from('junk')]), /garbage after/],
      ['truncated DER certificate', leafDer.subarray(0, 300), /not a certificate/],
    ];
    for (const [name, bytes, problem] of table) {
      const r = await quick(bytes);
      expect(r.problem, name).toMatch(problem);
    }
  });

  it('cuts a JKS at every byte: always a problem, never a throw', async () => {
    const good = buildKeystore(0xfeedfeed, 2, [
      { tag: 1, alias: 'firma', certs: [derOf(leaf20.cert), derOf(pki.ca.cert)] },
      { tag: 2, alias: 'ca', certs: [derOf(pki.ca.cert)] },
    ]);
    const t = Date.now();
    for (let cut = 4; cut < good.length; cut++) {
      const ks = readKeystore(good.subarray(0, cut));
      expect(ks?.problem, `cut at ${cut}`).toBeDefined();
    }
    for (const cut of [0, 3, 13, 40, 500, good.length - 21, good.length - 1]) {
      const r = await readCredentialBytes(good.subarray(0, cut));
      expect(r.problem, `cut at ${cut}`).toBeDefined();
    }
    expect(Date.now() - t).toBeLessThan(10_000);
  });

  it('cuts a PKCS#12 at several points', async () => {
    const bytes = fs.readFileSync(file('modern.p12'));
    for (const cut of [1, 2, 10, 100, 1000, bytes.length - 1]) {
      const r = await quick(bytes.subarray(0, cut), { password: PASSWORD });
      expect(r.problem, `cut at ${cut}`).toBeDefined();
      expect(r.certificates).toEqual([]);
    }
  });

  it('refuses a PKCS#12 that asks for an absurd number of iterations, before deriving any key', async () => {
    // PFX { 3, ContentInfo(data, [0] OCTET STRING { SEQUENCE {} }), MacData(..., iterations 2^31-1) }
    const tlv = (tag: number, ...body: Buffer[]): Buffer => {
      const b = Buffer.concat(body);
      const len =
        b.length < 128 ? Buffer.from([b.length]) : Buffer.from([0x82, b.length >> 8, b.length & 0xff]);
      return Buffer.concat([Buffer.from([tag]), len, b]);
    };
    const oid = (hex: string): Buffer => tlv(0x06, Buffer.from(hex, 'hex'));
    const pfx = tlv(
      0x30,
      tlv(0x02, Buffer.from([3])),
      tlv(0x30, oid('2a864886f70d010701'), tlv(0xa0, tlv(0x04, tlv(0x30)))),
      tlv(
        0x30,
        tlv(0x30, tlv(0x30, oid('2b0e03021a'), tlv(0x05)), tlv(0x04, Buffer.alloc(20))),
        tlv(0x04, Buffer.alloc(8)),
        tlv(0x02, Buffer.from('7fffffff', 'hex')),
      ),
    );
    const r = await quick(pfx, { password: 'x' });
    expect(r.format).toBe('pkcs12');
    expect(r.problem).toMatch(/2147483647 key-derivation iterations/);
  });

  it('reports missing files and folders', async () => {
    expect((await readCredentialFile(file('nope.p12'))).problem).toMatch(/does not exist/);
    expect((await readCredentialFile(tmp.dir)).problem).toMatch(/folder/);
  });
});

describe('inspection report', () => {
  it('shows subject, dates in UTC and in Italy, days left, key and fingerprint', async () => {
    const r = await readCredentialFile(leaf20.cert, { now: base });
    const text = formatInspection(leaf20.cert, r, base);
    const notAfter = new Date(base.getTime() + 20 * DAY);
    expect(text).toContain(leaf20.cert);
    expect(text).toContain('format: PEM');
    expect(text).toContain('CN=Leaf Twenty Days');
    expect(text).toContain(`valid until: ${notAfter.toISOString()}`);
    expect(text).toMatch(/valid until: .* \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T\)/);
    expect(text).toContain('status:      20 days left');
    expect(text).toContain('key:         RSA 2048');
    expect(text).toContain(r.certificates[0]!.fingerprint);
    expect(text).toContain('CA:          no');
    expect(text).toContain('private keys: 0');
  });

  it('renders Italian local time across daylight saving time', async () => {
    const winter = pki.issue('Winter', { start: '20240101000000Z', end: '20250115103000Z' });
    const summer = pki.issue('Summer', { start: '20240101000000Z', end: '20250715103000Z' });
    const w = formatInspection(winter.cert, await readCredentialFile(winter.cert), base);
    const s = formatInspection(summer.cert, await readCredentialFile(summer.cert), base);
    expect(w).toContain('2025-01-15T10:30:00.000Z (2025-01-15 11:30:00 CET)');
    expect(s).toContain('2025-07-15T10:30:00.000Z (2025-07-15 12:30:00 CEST)');
  });

  it('says EXPIRED for an expired certificate, in text and JSON', async () => {
    const old = pki.issue('Expired Leaf', { start: '20200101000000Z', end: '20210301120000Z' });
    const r = await readCredentialFile(old.cert);
    const now = new Date('2021-03-11T13:00:00Z');
    expect(formatInspection(old.cert, r, now)).toContain('EXPIRED 10 days ago');
    const json = inspectionJson(old.cert, r, now);
    expect(json.certificates[0]).toMatchObject({
      state: 'expired',
      // The same count as the text (credentials/days.ts): 10 days and 1 hour ago.
      daysLeft: -10,
      notAfter: '2021-03-01T12:00:00.000Z',
    });
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it('shows keystore aliases, weaknesses, problems and hints', async () => {
    const legacy = file('legacy.p12');
    const r = await readCredentialFile(legacy);
    const text = formatInspection(legacy, r, base);
    expect(text).toContain('format: PKCS#12, legacy encryption');
    expect(text).toMatch(/problem: .*--password-env/);
    expect(text).toMatch(/hint: .*\n {2}.*openssl pkcs12 -legacy/);
    const weak = buildKeystore(0xfeedfeed, 2, [
      { tag: 2, alias: 'weak-one', certs: [derOf(file('Weak RSA.crt'))] },
    ]);
    const k = await readCredentialBytes(weak);
    const kt = formatInspection('weak.jks', k, base);
    expect(kt).toContain('alias "weak-one"');
    expect(kt).toContain('! weak-rsa-key:');
    expect(inspectionJson('weak.jks', k, base).certificates[0]?.alias).toBe('weak-one');
  });
});
