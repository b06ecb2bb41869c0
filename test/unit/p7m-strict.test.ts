import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBer, unwrapP7m } from '../../src/invoice/p7m.js';
import { TestPki, type Issued } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * A .p7m is read strictly, as openssl reads it: every length consistent and the whole input
 * consumed, BER indefinite lengths allowed (some Italian CAs' CAdES use them). A file with bytes
 * changed outside the signed content (trailing garbage, an outer length off by one, truncated, an
 * inner length changed) is 00102, never "validly signed"; openssl, an independent reader, refuses
 * the same bytes.
 */
const INVOICE = Buffer.from(
  '<?xml version="1.0"?><p:FatturaElettronica xmlns:p="x">' + 'x'.repeat(300) + '</p:FatturaElettronica>',
);
const tmp = tempDir('fatturad-p7m-strict-');
let pki: TestPki;
let signer: Issued;
let der: Buffer;
let ber: Buffer;
beforeAll(() => {
  pki = new TestPki(path.join(tmp.dir, 'ca'), 'Strict CA');
  signer = pki.issue('Mario Rossi');
  der = pki.sign(INVOICE, signer);
  ber = pki.sign(INVOICE, signer, { stream: true });
});
afterAll(() => tmp.cleanup());

/**
 * openssl's verdict, as an independent reader: `asn1parse -inform DER` reads the whole input as
 * BER (it refuses trailing bytes and inconsistent lengths), `cms -verify -noverify` checks the
 * signature (it reads one object and ignores what follows it, so it alone is not strict).
 */
function openssl(bytes: Buffer): { structure: boolean; signature: boolean } {
  const file = path.join(tmp.dir, `m-${Math.random().toString(36).slice(2)}.p7m`);
  fs.writeFileSync(file, bytes);
  const ok = (args: string[]): boolean =>
    spawnSync('openssl', [...args, '-in', file], { stdio: 'ignore' }).status === 0;
  const r = {
    structure: ok(['asn1parse', '-inform', 'DER']),
    signature: ok(['cms', '-verify', '-noverify', '-inform', 'DER', '-out', '/dev/null']),
  };
  fs.rmSync(file);
  return r;
}
const opensslAccepts = (bytes: Buffer): boolean => {
  const r = openssl(bytes);
  return r.structure && r.signature;
};

/** The header of the outer SEQUENCE: its length bytes (long form), as offset and count. */
function outerLength(buf: Buffer): { at: number; n: number; value: number } {
  expect(buf[0]).toBe(0x30);
  const b = buf[1] as number;
  expect(b & 0x80).toBe(0x80);
  const n = b & 0x7f;
  return { at: 2, n, value: buf.readUIntBE(2, n) };
}

function withOuterLength(buf: Buffer, delta: number): Buffer {
  const out = Buffer.from(buf);
  const { at, n, value } = outerLength(buf);
  out.writeUIntBE(value + delta, at, n);
  return out;
}

/** The OCTET STRING holding the invoice (eContent): its length changed by delta. */
function withInnerLength(buf: Buffer, delta: number): Buffer {
  const at = buf.indexOf(INVOICE);
  expect(at).toBeGreaterThan(4);
  // 04 82 HH LL <invoice>
  expect(buf[at - 4]).toBe(0x04);
  expect(buf[at - 3]).toBe(0x82);
  const out = Buffer.from(buf);
  out.writeUInt16BE(INVOICE.length + delta, at - 2);
  return out;
}

const MUTATIONS: [string, (b: Buffer) => Buffer][] = [
  ['one trailing byte 0x00', (b) => Buffer.concat([b, Buffer.from([0])])],
  ['one trailing byte 0x0a (a newline)', (b) => Buffer.concat([b, Buffer.from('\n')])],
  ['many trailing bytes', (b) => Buffer.concat([b, Buffer.alloc(500, 0x41)])],
  // openssl asn1parse reads a sequence of objects and accepts this one; a .p7m is one object.
  ['a second copy appended', (b) => Buffer.concat([b, b])],
  ['outer length +1', (b) => withOuterLength(b, 1)],
  ['outer length -1', (b) => withOuterLength(b, -1)],
  ['truncated by one byte', (b) => b.subarray(0, b.length - 1)],
  ['truncated by half', (b) => b.subarray(0, b.length >> 1)],
  ['inner (eContent) length +1', (b) => withInnerLength(b, 1)],
  ['inner (eContent) length -1', (b) => withInnerLength(b, -1)],
];

describe('strict DER/BER', () => {
  it('the unaltered files: openssl and fatturad accept them (DER and BER indefinite lengths)', async () => {
    for (const f of [der, ber]) {
      expect(opensslAccepts(f)).toBe(true);
      expect(checkBer(f)).toBeNull();
      const r = await unwrapP7m(f);
      expect(r.ok && r.findings).toEqual([]);
      expect(r.ok && r.content.equals(INVOICE)).toBe(true);
    }
    // BER really has indefinite lengths here.
    expect(ber[1]).toBe(0x80);
  });

  it.each(MUTATIONS)('DER, %s: openssl refuses it, fatturad says 00102', async (name, mutate) => {
    const bad = mutate(der);
    expect(opensslAccepts(bad)).toBe(name === 'a second copy appended');
    const r = await unwrapP7m(bad);
    expect(r.findings.map((f) => f.code)).toContain('00102');
    expect(r.ok && r.findings.length === 0).toBe(false);
  });

  it.each(MUTATIONS.filter(([n]) => !n.startsWith('outer') && !n.startsWith('inner')))(
    'BER (indefinite lengths), %s: openssl refuses it, fatturad says 00102',
    async (name, mutate) => {
      const bad = mutate(ber);
      expect(opensslAccepts(bad)).toBe(name === 'a second copy appended');
      const r = await unwrapP7m(bad);
      expect(r.findings.map((f) => f.code)).toContain('00102');
    },
  );

  it('base64 files (written by some ERPs) are still read; base64 of an altered file is 00102', async () => {
    for (const text of [
      der.toString('base64'),
      `${der.toString('base64')}\n`,
      `${der.toString('base64').replace(/(.{64})/g, '$1\r\n')}\r\n`,
      ber.toString('base64'),
    ]) {
      const r = await unwrapP7m(Buffer.from(text));
      expect(r.ok && r.findings).toEqual([]);
    }
    const bad = Buffer.from(Buffer.concat([der, Buffer.from([0])]).toString('base64'));
    expect((await unwrapP7m(bad)).findings.map((f) => f.code)).toContain('00102');
  });

  it.each([
    ['empty', ''],
    ['a bare tag', '30'],
    ['length beyond the input', '3005020101'],
    ['children overflow the parent', '3003020201ff'],
    ['children short of the parent', '30040201010000'.slice(0, 12)],
    ['indefinite length on a primitive', '0480000000'],
    ['indefinite length never closed', '30800201010201'],
    ['reserved length byte 0xff', '30ff'],
    ['trailing byte', '3003020101' + '00'],
  ])('checkBer: %s is refused', (_name, hex) => {
    expect(checkBer(Buffer.from(hex, 'hex'))).toEqual(expect.any(String));
  });

  it.each([
    ['definite', '3003020101'],
    ['indefinite, closed', '30800201010000'],
    ['nested indefinite', '3080308002010100000000'],
    ['long form length', `3081${'80'}${'0101ff'.repeat(0)}${'04'}7e${'00'.repeat(126)}`],
  ])('checkBer: %s is fine', (_name, hex) => {
    expect(checkBer(Buffer.from(hex, 'hex'))).toBeNull();
  });
});
