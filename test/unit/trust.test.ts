import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unwrapP7m } from '../../src/invoice/p7m.js';
import type { Config } from '../../src/config/schema.js';
import type { Logger } from '../../src/log.js';
import { anchorsOf, freshness, TslAnchors, type KeptList } from '../../src/trust/anchors.js';
import { grantedPeriods, statusName } from '../../src/trust/tsl.js';
import { readSignerCerts, TslRefused, verifyTrustedList, type SignerCert } from '../../src/trust/verify.js';
import { TestPki, type Issued } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';
import { buildTsl, CA_QC, signTsl, type TslService } from '../helpers/tsl.js';

/**
 * The trusted list (ETSI TS 119 612), checked the way `fatturad trust update` checks it: lists
 * built and signed here with a throw-away key; a second key, a byte changed after signing, a DTD,
 * two signatures, HMAC are refused; xmlsec1 (when installed) agrees on what verifies. Then the
 * service history decides 00104 for a .p7m.
 */
const DAY = 86_400_000;
const t = tempDir('fatturad-trust-');
let listSigner: Issued;
let otherSigner: Issued;
let qualified: TestPki;
let withdrawn: TestPki;
let signers: SignerCert[];
let services: TslService[];

function refusal(fn: () => unknown): TslRefused {
  try {
    fn();
  } catch (err) {
    if (err instanceof TslRefused) return err;
    throw err;
  }
  throw new Error('not refused');
}

const hasXmlsec = ((): boolean => {
  try {
    execFileSync('xmlsec1', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

beforeAll(() => {
  const s = new TestPki(path.join(t.dir, 'agid'), 'Test TSL Signer');
  listSigner = s.ca;
  otherSigner = new TestPki(path.join(t.dir, 'mallory'), 'Mallory TSL Signer').ca;
  qualified = new TestPki(path.join(t.dir, 'qca'), 'Test Qualified CA');
  withdrawn = new TestPki(path.join(t.dir, 'wca'), 'Withdrawn CA');
  signers = readSignerCerts(fs.readFileSync(listSigner.cert), listSigner.cert);
  const now = Date.now();
  services = [
    {
      tsp: 'Test TSP S.p.A.',
      name: 'Test Qualified CA',
      cert: qualified.ca.cert,
      status: 'granted',
      since: new Date('2016-07-01T00:00:00Z'),
      history: [{ status: 'accredited', since: new Date('2012-03-01T00:00:00Z') }],
    },
    {
      tsp: 'Gone S.r.l.',
      name: 'Withdrawn CA',
      cert: withdrawn.ca.cert,
      status: 'withdrawn',
      since: new Date(now - 30 * DAY),
      history: [{ status: 'granted', since: new Date(now - 3 * 365 * DAY) }],
    },
  ];
});
afterAll(() => t.cleanup());

const list = (o: Partial<Parameters<typeof buildTsl>[0]> = {}): string =>
  buildTsl({
    seq: 42,
    issued: new Date(Date.now() - DAY),
    nextUpdate: new Date(Date.now() + 180 * DAY),
    services,
    ...o,
  });

describe('reading and verifying a trusted list', () => {
  it('a list signed by the configured key: its CA/QC services with their history', () => {
    for (const id of [undefined, 'TSL-IT']) {
      const signed = signTsl(list(id ? { id } : {}), listSigner);
      const v = verifyTrustedList(Buffer.from(signed), signers);
      expect(v.keyInfo).toBe('same-certificate');
      expect(v.list.sequenceNumber).toBe(42);
      expect(v.list.territory).toBe('IT');
      expect(v.list.cas.map((c) => [c.service, c.status])).toEqual([
        ['Test Qualified CA', 'granted'],
        ['Withdrawn CA', 'withdrawn'],
      ]);
      const q = v.list.cas[0];
      // accredited (before eIDAS) then granted: one period, still open.
      expect(q?.grantedDuring).toEqual([{ from: Date.parse('2012-03-01T00:00:00Z'), to: null }]);
      expect(q?.history.map((h) => h.status)).toEqual(['accredited', 'granted']);
      const w = v.list.cas[1];
      expect(w?.grantedDuring).toHaveLength(1);
      expect(w?.grantedDuring[0]?.to).toBe(Date.parse(w?.since ?? ''));
    }
  });

  it('XAdES-BES as AgID signs it: the SignedProperties reference must verify too', () => {
    const signed = signTsl(list({ id: 'TSL-IT' }), listSigner, { xades: true });
    expect(signed).toContain('#xades-signed');
    expect(verifyTrustedList(Buffer.from(signed), signers).list.sequenceNumber).toBe(42);
    const altered = signed.replace(/<xades:SigningTime>[^<]*/, '<xades:SigningTime>2000-01-01T00:00:00Z');
    expect(refusal(() => verifyTrustedList(Buffer.from(altered), signers)).reason).toBe('signature');
  });

  it('signed by another key: refused, naming the certificate the list carries', () => {
    const signed = signTsl(list(), otherSigner);
    const r = refusal(() => verifyTrustedList(Buffer.from(signed), signers));
    expect(r.reason).toBe('signer');
    expect(r.message).toContain('Mallory TSL Signer');
  });

  it('a configured certificate with the same key but another certificate in KeyInfo verifies (same public key)', () => {
    // A renewed certificate for the same key: made with openssl x509 from the signer's key.
    const renewed = path.join(t.dir, 'renewed.crt');
    execFileSync('openssl', [
      'req',
      '-x509',
      '-new',
      '-key',
      listSigner.key,
      '-out',
      renewed,
      '-days',
      '30',
      '-subj',
      '/CN=Test TSL Signer renewed',
    ]);
    const signed = signTsl(list(), { key: listSigner.key, cert: renewed });
    expect(verifyTrustedList(Buffer.from(signed), signers).keyInfo).toBe('same-public-key');
  });

  it('a byte changed after signing (a withdrawn CA made granted): refused', () => {
    const signed = signTsl(list(), listSigner);
    const tampered = signed.replace('Svcstatus/withdrawn', 'Svcstatus/granted_');
    expect(tampered).not.toBe(signed);
    const r = refusal(() => verifyTrustedList(Buffer.from(tampered.replace('granted_', 'granted')), signers));
    expect(r.reason).toBe('signature');
    // One character of a certificate.
    const cert = signed.indexOf('<tsl:X509Certificate>') + 40;
    const flipped = signed.slice(0, cert) + (signed[cert] === 'A' ? 'B' : 'A') + signed.slice(cert + 1);
    expect(refusal(() => verifyTrustedList(Buffer.from(flipped), signers)).reason).toBe('signature');
  });

  it('a DTD or an entity: refused by the XML reader before any signature code sees it', () => {
    const withDtd = signTsl(list(), listSigner).replace(
      '?>',
      '?><!DOCTYPE tsl:TrustServiceStatusList [<!ENTITY x "granted">]>',
    );
    expect(refusal(() => verifyTrustedList(Buffer.from(withDtd), signers)).reason).toBe('dtd');
    const external = signTsl(list(), listSigner).replace('?>', '?><!DOCTYPE r SYSTEM "file:///etc/passwd">');
    expect(refusal(() => verifyTrustedList(Buffer.from(external), signers)).reason).toBe('dtd');
  });

  it('unsigned, two signatures, HMAC or SHA-1: refused', () => {
    expect(refusal(() => verifyTrustedList(Buffer.from(list()), signers)).reason).toBe('unsigned');
    const signed = signTsl(list(), listSigner);
    const sig = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(signed)?.[0] ?? '';
    const twice = signed.replace(sig, sig + sig);
    expect(refusal(() => verifyTrustedList(Buffer.from(twice), signers)).reason).toBe('signature');
    const hmac = signed.replace(
      'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
      'http://www.w3.org/2000/09/xmldsig#hmac-sha1',
    );
    expect(refusal(() => verifyTrustedList(Buffer.from(hmac), signers)).reason).toBe('algorithm');
    const sha1 = signTsl(list(), listSigner, {
      signatureAlgorithm: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
    });
    expect(refusal(() => verifyTrustedList(Buffer.from(sha1), signers)).reason).toBe('algorithm');
  });

  it('not a trusted list, or no signer configured: refused', () => {
    const other = signTsl(list(), listSigner).replace(/TrustServiceStatusList/g, 'Something');
    expect(refusal(() => verifyTrustedList(Buffer.from(other), signers)).reason).toBe('format');
    expect(refusal(() => verifyTrustedList(Buffer.from(signTsl(list(), listSigner)), [])).reason).toBe(
      'signer',
    );
  });

  it.skipIf(!hasXmlsec)(
    'xmlsec1 agrees: the list verifies with the signer certificate, the tampered one does not',
    () => {
      const good = path.join(t.dir, 'good.xml');
      const bad = path.join(t.dir, 'bad.xml');
      const signed = signTsl(list(), listSigner);
      fs.writeFileSync(good, signed);
      fs.writeFileSync(bad, signed.replace('Svcstatus/withdrawn', 'Svcstatus/granted'));
      const xmlsec = (file: string): number => {
        try {
          execFileSync(
            'xmlsec1',
            [
              '--verify',
              '--pubkey-cert-pem',
              listSigner.cert,
              '--enabled-reference-uris',
              'empty,same-doc',
              file,
            ],
            { stdio: 'ignore' },
          );
          return 0;
        } catch (err) {
          return (err as { status?: number }).status ?? 1;
        }
      };
      expect(xmlsec(good)).toBe(0);
      expect(xmlsec(bad)).not.toBe(0);
    },
  );
});

describe('statuses and periods', () => {
  it('the EU and the older national status URIs', () => {
    expect(statusName('http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/granted')).toBe('granted');
    expect(statusName('http://uri.etsi.org/TrstSvc/Svcstatus/accredited')).toBe('accredited');
    expect(
      statusName('http://uri.etsi.org/TrstSvc/eSigDir-1999-93-EC-TrustedList/Svcstatus/undersupervision'),
    ).toBe('undersupervision');
    const at = (s: string): string => new Date(s).toISOString();
    expect(
      grantedPeriods([
        { status: 'undersupervision', type: CA_QC, from: at('2010-01-01') },
        { status: 'accredited', type: CA_QC, from: at('2012-01-01') },
        { status: 'accreditationceased', type: CA_QC, from: at('2014-01-01') },
        { status: 'granted', type: CA_QC, from: at('2016-07-01') },
        { status: 'granted', type: 'http://uri.etsi.org/TrstSvc/Svctype/TSA/QTST', from: at('2018-01-01') },
        { status: 'granted', type: CA_QC, from: at('2019-01-01') },
        { status: 'withdrawn', type: CA_QC, from: at('2020-01-01') },
      ]),
    ).toEqual([
      { from: Date.parse('2010-01-01'), to: Date.parse('2014-01-01') },
      { from: Date.parse('2016-07-01'), to: Date.parse('2018-01-01') },
      { from: Date.parse('2019-01-01'), to: Date.parse('2020-01-01') },
    ]);
  });

  it('freshness: fresh before NextUpdate, stale after it, too old past maxStaleDays', () => {
    const kept = { sequenceNumber: 1, nextUpdate: '2026-06-01T00:00:00.000Z' } as KeptList;
    expect(freshness(kept, new Date('2026-05-31T00:00:00Z'), 30).state).toBe('fresh');
    expect(freshness(kept, new Date('2026-06-10T00:00:00Z'), 30).state).toBe('stale');
    expect(freshness(kept, new Date('2026-07-10T00:00:00Z'), 30).state).toBe('too-old');
  });
});

describe('00104 with the service history', () => {
  const INVOICE = Buffer.from('<?xml version="1.0"?><p:FatturaElettronica/>');
  let anchors: ReturnType<typeof anchorsOf>;
  beforeAll(() => {
    const v = verifyTrustedList(Buffer.from(signTsl(list(), listSigner)), signers);
    anchors = anchorsOf({ cas: v.list.cas } as KeptList);
  });
  const codes = (r: Awaited<ReturnType<typeof unwrapP7m>>): string[] => [
    ...r.findings.map((f) => f.code),
    ...r.warnings.map((f) => f.code),
  ];

  it('a signature by a CA granted at the signing time: no 00104, no SIGNATURE-CA-NOT-CHECKED', async () => {
    const p7m = qualified.sign(INVOICE, qualified.issue('Mario Rossi'));
    const r = await unwrapP7m(p7m, { trustAnchors: anchors });
    expect(r.ok && r.issuerCheck).toBe('trusted');
    expect(codes(r)).toEqual([]);
  });

  it('a signature by a CA withdrawn before the signing time: 00104, saying so', async () => {
    const p7m = withdrawn.sign(INVOICE, withdrawn.issue('Luigi Bianchi'));
    const r = await unwrapP7m(p7m, { trustAnchors: anchors });
    expect(codes(r)).toEqual(['00104']);
    expect(r.findings[0]?.message).toMatch(/was not a qualified CA in the trusted list at the signing time/);
  });

  it('a CA not in the list at all: 00104', async () => {
    const stranger = new TestPki(path.join(t.dir, 'stranger'), 'Stranger CA');
    const r = await unwrapP7m(stranger.sign(INVOICE, stranger.issue('X')), { trustAnchors: anchors });
    expect(codes(r)).toEqual(['00104']);
    expect(r.findings[0]?.message).toMatch(/not among the trusted CAs/);
  });

  it('anchors and certificate files together: either one trusts', async () => {
    const stranger = new TestPki(path.join(t.dir, 'stranger2'), 'Configured CA');
    const r = await unwrapP7m(stranger.sign(INVOICE, stranger.issue('Y')), {
      trustAnchors: anchors,
      trustedCAs: [fs.readFileSync(stranger.ca.cert)],
    });
    expect(codes(r)).toEqual([]);
  });
});

describe('the daemon view of the kept list (TslAnchors)', () => {
  it('missing: null, said once; written: loaded; past NextUpdate: stale, then too old and null', () => {
    const dataDir = path.join(t.dir, 'anchors-data');
    const lines: { level: string; event: unknown }[] = [];
    const log = {
      info: (o: { event: unknown }) => lines.push({ level: 'info', event: o.event }),
      warn: (o: { event: unknown }) => lines.push({ level: 'warn', event: o.event }),
      error: (o: { event: unknown }) => lines.push({ level: 'error', event: o.event }),
    } as unknown as Logger;
    const config = {
      dataDir,
      validation: { trustedCAs: ['tsl'], tsl: { maxStaleDays: 10 } },
    } as unknown as Config;
    const a = new TslAnchors(config, log);
    const now = new Date('2026-06-01T00:00:00Z');
    expect(a.current(now)).toBeNull();
    expect(a.current(now)).toBeNull();
    expect(lines).toEqual([{ level: 'error', event: 'trust.list_unusable' }]);
    const v = verifyTrustedList(Buffer.from(signTsl(list(), listSigner)), signers);
    const kept: KeptList = {
      ...v.list,
      nextUpdate: '2026-07-01T00:00:00.000Z',
      format: 'fatturad-tsl/1',
      source: 'test',
      updatedAt: now.toISOString(),
      checkedAt: now.toISOString(),
      xmlFile: 'tsl.xml',
      xmlSha256: '',
      signer: v.signer,
    };
    fs.mkdirSync(path.join(dataDir, 'trust'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'trust', 'tsl.json'), JSON.stringify(kept));
    expect(a.current(now)).toHaveLength(2);
    expect(lines.at(-1)).toEqual({ level: 'info', event: 'trust.list_loaded' });
    expect(a.current(new Date('2026-07-05T00:00:00Z'))).toHaveLength(2);
    expect(lines.at(-1)).toEqual({ level: 'warn', event: 'trust.list_stale' });
    expect(a.current(new Date('2026-07-20T00:00:00Z'))).toBeNull();
    expect(lines.at(-1)).toEqual({ level: 'error', event: 'trust.list_unusable' });
  });
});
