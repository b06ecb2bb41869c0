import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { looksLikeP7m, unwrapP7m } from '../../src/invoice/p7m.js';
import { validateFile } from '../../src/rules/validate.js';
import { TestPki, type Issued } from '../helpers/pki.js';
import { EX, example } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * CAdES .p7m as SdI checks it (digest sdi-spec section 2, codes 00100-00107): every fixture is
 * made at test time by `openssl cms` with a throw-away CA.
 */

const FPA12 = example(EX.pa);
const INVOICE = Buffer.from('<?xml version="1.0"?><p:FatturaElettronica/>');

const tmp = tempDir('fatturad-p7m-');
let pki: TestPki;
let otherCa: TestPki;
let signer: Issued;
let expired: Issued;
let notYetValid: Issued;

beforeAll(() => {
  pki = new TestPki(path.join(tmp.dir, 'ca'), 'Test Qualified CA');
  otherCa = new TestPki(path.join(tmp.dir, 'other'), 'Unknown CA');
  signer = pki.issue('Mario Rossi');
  expired = pki.issue('Old Signer', { start: '20200101000000Z', end: '20210101000000Z' });
  notYetValid = pki.issue('Future Signer', { start: '20990101000000Z', end: '20991231000000Z' });
});
afterAll(() => tmp.cleanup());

const codes = (r: { findings: { code: string }[] }): string[] => r.findings.map((f) => f.code);

describe('unwrapping', () => {
  it.each([
    ['DER', { form: 'DER' as const }],
    ['BER with indefinite lengths (openssl -stream)', { form: 'DER' as const, stream: true }],
    ['PEM (base64 with armour)', { form: 'PEM' as const }],
  ])('%s: the invoice comes out byte for byte, the signature verifies', async (_label, opts) => {
    const p7m = pki.sign(INVOICE, signer, opts);
    const r = await unwrapP7m(p7m);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.content.equals(INVOICE)).toBe(true);
    expect(r.findings).toEqual([]);
    expect(r.signers).toHaveLength(1);
    expect(r.signers[0]?.subject).toContain('CN=Mario Rossi');
    expect(r.signers[0]?.signingTime).toBeInstanceOf(Date);
  });

  it('bare base64 without armour and line breaks, and base64 of base64', async () => {
    const der = pki.sign(INVOICE, signer);
    for (const input of [
      Buffer.from(der.toString('base64')),
      Buffer.from(Buffer.from(der.toString('base64')).toString('base64')),
    ]) {
      expect(looksLikeP7m(input)).toBe(true);
      const r = await unwrapP7m(input);
      expect(r.ok && r.content.equals(INVOICE)).toBe(true);
    }
  });

  it('nested signatures (signed twice): both signers are checked, the innermost content comes out', async () => {
    const inner = pki.sign(INVOICE, signer);
    const outer = pki.sign(inner, pki.issue('Second Signer'), { stream: true });
    const r = await unwrapP7m(outer);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.content.equals(INVOICE)).toBe(true);
    expect(r.signers.map((s) => s.subject.match(/CN=([^,]+)/)?.[1])).toEqual([
      'Second Signer',
      'Mario Rossi',
    ]);
  });

  it('signatures nested beyond the bound are refused, not followed', async () => {
    let p = pki.sign(INVOICE, signer);
    for (let i = 0; i < 4; i++) p = pki.sign(p, signer);
    const r = await unwrapP7m(p);
    expect(r.ok).toBe(false);
    expect(r.findings[0]?.message).toMatch(/nested more than 4 times/);
  });
});

describe('signature checks', () => {
  it('00102: content altered after signing', async () => {
    const p7m = pki.sign(Buffer.from('<x>importo 100.00</x>'), signer);
    const at = p7m.indexOf('100.00');
    p7m[at] = '9'.charCodeAt(0);
    const r = await unwrapP7m(p7m);
    expect(codes(r)).toContain('00102');
  });

  it('00103: no signing time (openssl -noattr)', async () => {
    const r = await unwrapP7m(pki.sign(INVOICE, signer, { noSigningTime: true }));
    expect(codes(r)).toEqual(['00103']);
  });

  it('00105: signing time after the moment of the check (the signer clock runs ahead)', async () => {
    const p7m = pki.sign(INVOICE, signer);
    expect(codes(await unwrapP7m(p7m, { now: new Date(Date.now() - 3_600_000) }))).toEqual(['00105']);
    expect(codes(await unwrapP7m(p7m, { now: new Date(Date.now() + 60_000) }))).toEqual([]);
  });

  it('00100: certificate expired before the signing time', async () => {
    const r = await unwrapP7m(pki.sign(INVOICE, expired));
    expect(codes(r)).toEqual(['00100']);
    expect(r.findings[0]?.message).toMatch(/expired on 2021-01-01/);
  });

  it('00107: certificate not yet valid at the signing time', async () => {
    const r = await unwrapP7m(pki.sign(INVOICE, notYetValid));
    expect(codes(r)).toEqual(['00107']);
  });

  it('00104: issuer checked against the configured CA bundle; "not checked" without one', async () => {
    const p7m = pki.sign(INVOICE, signer);
    const none = await unwrapP7m(p7m);
    expect(none.ok && none.issuerCheck).toBe('not-checked');
    expect(none.warnings.map((w) => w.code)).toEqual(['SIGNATURE-CA-NOT-CHECKED']);

    const good = await unwrapP7m(p7m, { trustedCAs: [fs.readFileSync(pki.ca.cert)] });
    expect(good.ok && good.issuerCheck).toBe('trusted');
    expect(codes(good)).toEqual([]);
    expect(good.warnings).toEqual([]);

    const wrong = await unwrapP7m(p7m, { trustedCAs: [fs.readFileSync(otherCa.ca.cert)] });
    expect(codes(wrong)).toEqual(['00104']);
    expect(wrong.findings[0]?.message).toContain('Test Qualified CA');
  });
});

describe('garbage gets a finding, never a throw', () => {
  const cases: [string, () => Buffer][] = [
    [
      'random bytes behind a DER header',
      () => Buffer.concat([Buffer.from([0x30, 0x82, 0x10, 0x00]), Buffer.alloc(64, 7)]),
    ],
    ['truncated signature', () => pki.sign(INVOICE, signer).subarray(0, 200)],
    ['text that is not base64', () => Buffer.from('MI this is not base64 at all!')],
    ['a certificate instead of a signature', () => Buffer.from(fs.readFileSync(signer.cert))],
    ['a detached signature (no invoice inside)', () => pki.sign(INVOICE, signer, { detached: true })],
    ['empty base64', () => Buffer.from('MA==')],
  ];
  it.each(cases)('%s → 00102 with a reason', async (_label, make) => {
    const r = await unwrapP7m(make());
    expect(r.ok).toBe(false);
    expect(codes(r)).toEqual(['00102']);
    expect(r.findings[0]?.message).toMatch(/cannot be read as a CAdES signature: .+/);
  });
});

describe('in the validation pipeline', () => {
  it("a signed FPA12 (the project's example, signed here) is valid; unsigned it is 00102", async () => {
    const signed = await validateFile('IT12345670017_PA001.xml.p7m', pki.sign(FPA12, signer), {
      trustedCAs: [fs.readFileSync(pki.ca.cert)],
    });
    expect(signed.errors).toEqual([]);
    expect(signed.signed).toBe('cades');
    expect(signed.format).toBe('FPA12');

    const unsigned = await validateFile('IT12345670017_PA001.xml', FPA12);
    expect(unsigned.errors.map((e) => e.code)).toEqual(['00102']);
    expect(unsigned.errors[0]?.message).toMatch(/must be signed/);
  });

  it('a broken signature stops the checks that follow, as at SdI', async () => {
    const p7m = pki.sign(FPA12, expired);
    const r = await validateFile('IT12345670017_PA001.xml.p7m', p7m);
    expect(r.errors.map((e) => e.code)).toEqual(['00100']);
    expect(r.root).toBeUndefined();
  });
});
