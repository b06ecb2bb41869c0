import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openArchive, type OpenedArchive } from '../../src/archive/open.js';
import type { DepositDocument } from '../../src/archive/packages.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { Store } from '../../src/store/store.js';
import { TestPki, type Issued } from '../helpers/pki.js';
import { EX, exampleText } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';
import { TestTsa } from '../helpers/tsa.js';

/**
 * Preservation packages on a real store and archive: the PdA closing rules, and a PdA whose index
 * is CAdES-signed and RFC 3161-timestamped by a TSA on loopback (openssl checks both), with a TSA
 * that is down at first.
 */
const FPR12 = exampleText(EX.b2b);
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function invoice(n: number, date: string): Buffer {
  return Buffer.from(
    FPR12.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>P-${n}</Numero>`).replace(
      /<Data>[^<]*<\/Data>/,
      `<Data>${date}</Data>`,
    ),
  );
}

function doc(n: number, date: string): DepositDocument {
  return {
    document: `out:${n}`,
    flow: 'active',
    identificativoSdI: String(1000 + n),
    files: [
      {
        source: 'documents',
        sourceId: n,
        kind: 'invoice',
        name: `IT01234567890_${String(n).padStart(5, '0')}.xml`,
        bytes: invoice(n, date),
      },
    ],
    record: { state: 'delivered' },
  };
}

async function setup(
  extra: (c: Config) => void = () => undefined,
): Promise<{ a: OpenedArchive; config: Config; lines: Record<string, unknown>[] }> {
  const t = tempDir('fatturad-packages-');
  const config = loadConfig({ env: { FATTURAD_DATA_DIR: t.dir }, cwd: t.dir });
  config.intake.fsync = false;
  config.archive.holder = {
    name: 'Alpha S.r.l.',
    vat: 'IT01234567890',
    responsabile: 'Mario Rossi',
    responsabileCf: 'RSSMRA80A01H501U',
  };
  extra(config);
  const store = new Store(config.paths.db);
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info' },
    { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  const a = await openArchive(config, store, log);
  cleanups.push(() => {
    store.close();
    t.cleanup();
  });
  return { a, config, lines };
}

const today = (): string => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Rome' }).format(new Date());

describe('PdA closing rules', () => {
  it('nothing to close while under every bound', async () => {
    const { a } = await setup();
    expect(a.preservation.closingReason()).toBeNull();
    await a.preservation.deposit([doc(1, today())]);
    expect(a.preservation.closingReason()).toBeNull();
  });

  it('more than maxFiles files', async () => {
    const { a } = await setup((c) => (c.archive.pda.maxFiles = 3));
    await a.preservation.deposit([doc(1, today()), doc(2, today())]);
    expect(a.preservation.closingReason()).toMatch(/more than 3 files \(4\)/);
  });

  it('a fiscal year whose preservation deadline is near or past', async () => {
    const { a } = await setup();
    await a.preservation.deposit([doc(1, '2024-03-01')]);
    // 2024: return due 2025-10-31, deadline 2026-01-31.
    expect(a.preservation.closingReason(new Date('2025-12-15T12:00:00Z'))).toBeNull();
    expect(a.preservation.closingReason(new Date('2026-01-05T12:00:00Z'))).toMatch(
      /fiscal year 2024 \(2026-01-31\) is 26 days away/,
    );
  });

  it('a configured return due date moves the deadline', async () => {
    const { a } = await setup((c) => (c.archive.fiscal.returnDueDates = { '2024': '2025-12-10' }));
    await a.preservation.deposit([doc(1, '2024-03-01')]);
    expect(a.preservation.closingReason(new Date('2026-01-05T12:00:00Z'))).toBeNull();
    expect(a.preservation.closingReason(new Date('2026-02-20T12:00:00Z'))).toMatch(/2026-03-10/);
  });

  it('the last PdA closed more than maxAgeDays ago', async () => {
    const { a } = await setup((c) => (c.archive.pda.maxAgeDays = 1));
    await a.preservation.deposit([doc(1, today())]);
    expect(a.preservation.closingReason(new Date(Date.now() + 2 * 86_400_000))).toMatch(
      /more than 1 days ago/,
    );
  });

  it('a formal cancellation closes it at once; the next deposit opens a new PdA', async () => {
    const { a } = await setup();
    await a.preservation.deposit([doc(1, today())]);
    const closed = await a.preservation.close('annullamento');
    expect(closed?.state).toBe('closed');
    await a.preservation.deposit([doc(2, today())]);
    const pdas = a.astore.packages('pda');
    expect(pdas.map((p) => p.state)).toEqual(['closed', 'open']);
    expect((await a.archive.verify()).ok).toBe(true);
  });
});

describe('signed and timestamped PdA index', () => {
  let pki: TestPki;
  let signer: Issued;
  let tsa: TestTsa;
  const t = tempDir('fatturad-tsa-pki-');
  beforeAll(async () => {
    pki = new TestPki(path.join(t.dir, 'pki'), 'Archive CA');
    signer = pki.issue('Mario Rossi');
    tsa = await TestTsa.start(path.join(t.dir, 'tsa'), pki);
  });
  afterAll(async () => {
    await tsa.close();
    t.cleanup();
  });

  it('the index is signed (CAdES) and timestamped; openssl verifies both; a TSA down at first is tried again', async () => {
    const { a, lines } = await setup((c) => {
      c.archive.signing = { cert: signer.cert, key: signer.key, pfx: '', passphraseEnv: '' };
      c.archive.tsa = { ...c.archive.tsa, url: tsa.url, timeoutMs: 2000 };
    });
    expect(a.capabilities).toEqual({ signing: true, timestamps: true });
    await a.preservation.deposit([doc(1, today()), doc(2, today())]);
    tsa.mode = 'http-500';
    const pending = await a.preservation.close('test');
    expect(pending?.state).toBe('closing');
    expect(lines.some((l) => l.event === 'archive.timestamp_pending')).toBe(true);
    tsa.mode = 'granted';
    await a.preservation.resume();
    const pda = a.astore.packages('pda')[0];
    expect(pda?.state).toBe('closed');
    const dir = path.dirname(signer.cert);
    const p7m = path.join(dir, 'index.p7m');
    const tsr = path.join(dir, 'index.tsr');
    const content = path.join(dir, 'index.xml');
    fs.writeFileSync(p7m, await a.archive.blobs.get(pda?.signatureSha256 ?? ''));
    fs.writeFileSync(tsr, await a.archive.blobs.get(pda?.timestampSha256 ?? ''));
    const cms = spawnSync(
      'openssl',
      ['cms', '-verify', '-inform', 'DER', '-in', p7m, '-CAfile', pki.ca.cert, '-out', content],
      {
        encoding: 'utf8',
      },
    );
    expect(cms.status, cms.stderr).toBe(0);
    expect(fs.readFileSync(content)).toEqual(await a.archive.blobs.get(pda?.indexSha256 ?? ''));
    const ts = spawnSync(
      'openssl',
      ['ts', '-verify', '-in', tsr, '-data', p7m, '-CAfile', tsa.caCert, '-untrusted', tsa.tsa.cert],
      { encoding: 'utf8' },
    );
    expect(ts.status, ts.stderr + ts.stdout).toBe(0);
    expect(ts.stdout).toMatch(/Verification: OK/);
    expect((await a.archive.verify()).ok).toBe(true);
  });
});
