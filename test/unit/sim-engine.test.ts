import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNotification } from '../../src/notifications/parse.js';
import { SdiEngine, type Scenario } from '../../src/sim/engine.js';
import { TestPki } from '../helpers/pki.js';
import { EX, example } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/** The simulated SdI's decisions, scenario by scenario, for B2B (FPR12) and PA (FPA12, signed) invoices. */
const FPR12 = example(EX.b2b);
const FPA12 = example(EX.pa);

const tmp = tempDir('fatturad-sim-engine-');
let signedPa: Buffer;
beforeAll(() => {
  const pki = new TestPki(path.join(tmp.dir, 'ca'), 'Sim CA');
  signedPa = pki.sign(FPA12, pki.issue('Mario Rossi'));
});
afterAll(() => tmp.cleanup());

const kinds = (r: Awaited<ReturnType<SdiEngine['receive']>>): string[] =>
  r.ok ? r.messages.map((m) => m.kind) : [r.errore];

describe('SdI simulator engine', () => {
  it.each<[Scenario, string[], string[]]>([
    ['deliver', ['RC'], ['RC']],
    ['mc-rc', ['MC'], ['MC', 'RC']],
    ['mc-at', ['MC'], ['MC', 'AT']],
    ['accept', ['RC'], ['RC', 'NE']],
    ['refuse', ['RC'], ['RC', 'NE']],
    ['expire', ['RC'], ['RC', 'DT']],
    ['reject', ['NS'], ['NS']],
    ['unavailable', ['EI02'], ['EI02']],
  ])('%s: B2B %j, PA %j', async (scenario, b2b, pa) => {
    const e = new SdiEngine({ scenario, firstId: 1000 });
    const r1 = await e.receive('IT01234567890_00001.xml', FPR12);
    expect(kinds(r1)).toEqual(b2b);
    const r2 = await e.receive('IT01234567890_00002.xml.p7m', signedPa);
    expect(kinds(r2)).toEqual(pa);
    for (const r of [r1, r2]) {
      if (!r.ok) continue;
      for (const m of r.messages) {
        const p = parseNotification(m.bytes);
        expect(p.ok).toBe(true);
        if (!p.ok) continue;
        expect(p.notification.kind).toBe(m.kind);
        expect(p.notification.identificativoSdI).toBe(r.identificativoSdI);
        expect(m.fileName).toMatch(new RegExp(`^IT01234567890_0000[12]_${m.kind}_00\\d\\.xml$`));
      }
    }
    if (scenario === 'refuse' && r2.ok) {
      const ne = parseNotification(r2.messages[1]?.bytes ?? Buffer.alloc(0));
      expect(ne.ok && ne.notification.esito).toBe('EC02');
    }
  });

  it('unavailable: EI02 once per file, then taken', async () => {
    const e = new SdiEngine({ scenario: 'unavailable' });
    expect(kinds(await e.receive('IT01234567890_00001.xml', FPR12))).toEqual(['EI02']);
    expect(kinds(await e.receive('IT01234567890_00001.xml', FPR12))).toEqual(['RC']);
    expect(e.calls.get('IT01234567890_00001.xml')).toBe(2);
  });

  it('validates as SdI: an invalid file gets an NS with the error list; an empty one EI01', async () => {
    const e = new SdiEngine({ scenario: 'deliver' });
    const bad = Buffer.from(FPR12.toString('utf8').replace('<Quantita>', '<Quantita>x'));
    const r = await e.receive('IT01234567890_00003.xml', bad);
    expect(kinds(r)).toEqual(['NS']);
    const ns = r.ok ? parseNotification(r.messages[0]?.bytes ?? Buffer.alloc(0)) : null;
    expect(ns?.ok && ns.notification.errors?.[0]?.codice).toBe('00200');
    expect(kinds(await e.receive('IT01234567890_00004.xml', Buffer.alloc(0)))).toEqual(['EI01']);
  });

  it('a file name received twice gets NS 00002', async () => {
    const e = new SdiEngine({ scenario: 'deliver' });
    await e.receive('IT01234567890_00005.xml', FPR12);
    const r = await e.receive('IT01234567890_00005.xml', FPR12);
    const ns = r.ok ? parseNotification(r.messages[0]?.bytes ?? Buffer.alloc(0)) : null;
    expect(ns?.ok && ns.notification.errors?.map((x) => x.codice)).toEqual(['00002']);
  });

  it('a scenario chosen per file by a marker in the invoice, with a forced NS code', async () => {
    const e = new SdiEngine({ scenario: 'deliver' });
    const marked = Buffer.from(
      FPR12.toString('utf8').replace(
        '</DatiGeneraliDocumento>',
        '<Causale>fatturad-sim:reject:00311</Causale></DatiGeneraliDocumento>',
      ),
    );
    const r = await e.receive('IT01234567890_00006.xml', marked);
    const ns = r.ok ? parseNotification(r.messages[0]?.bytes ?? Buffer.alloc(0)) : null;
    expect(ns?.ok && ns.notification.errors?.map((x) => x.codice)).toEqual(['00311']);
  });

  it('passive invoices come with their MT', async () => {
    const e = new SdiEngine({ scenario: 'deliver' });
    const p = await e.passive('IT01234567890_00009.xml', FPR12);
    expect(p.metadataName).toBe('IT01234567890_00009_MT_001.xml');
    const mt = parseNotification(p.metadata);
    expect(mt.ok && mt.notification.kind).toBe('MT');
    expect(mt.ok && mt.notification.codiceDestinatario).toBe('ESEMP01');
  });
});
