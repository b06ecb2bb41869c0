import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseXml } from '../../../src/invoice/xml.js';
import { codeInfo, OWN_CODES, SDI_CODES, sdiCodeTitle } from '../../../src/rules/sdi/catalogue.js';
import { ALL_CHECKS } from '../../../src/rules/sdi/checks/index.js';
import { runChecks } from '../../../src/rules/sdi/engine.js';
import { parseDay } from '../../../src/rules/sdi/days.js';
import { CEDENTE, invoice, one, semplificata } from '../content/helpers.js';

/**
 * Conformance of the checks, the catalogue, the tests and the docs: every code a check declares
 * (and emits) is in the catalogue; every code a check declares has a `describe('<code>:` block
 * in the tests; every code of the catalogue is in docs/troubleshooting.md.
 */

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const read = (f: string): string => fs.readFileSync(path.join(ROOT, f), 'utf8');
const declared = [...new Set(ALL_CHECKS.flatMap((c) => c.codes))].sort();

function testSources(dir: string): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => read(path.join(dir, f)));
}

describe('the catalogue', () => {
  it('has every code a check declares', () => {
    expect(declared.filter((c) => !codeInfo(c))).toEqual([]);
  });

  it('gives every code a title in English and Italian, a source, and well-formed days', () => {
    for (const c of [...SDI_CODES, ...OWN_CODES]) {
      expect(c.titleEn, c.code).toMatch(/^[a-zA-Z0-9]/);
      expect(c.titleIt, c.code).toMatch(/^[a-zA-Z0-9]/);
      expect(c.titleIt, c.code).not.toBe(c.titleEn);
      expect(c.source.length, c.code).toBeGreaterThan(5);
      for (const d of [c.inForce.from, c.inForce.to])
        if (d) expect(parseDay(d), `${c.code} ${d}`).not.toBeNull();
      if (c.inForce.from && c.inForce.to) expect(c.inForce.from <= c.inForce.to).toBe(true);
    }
  });

  it('has one entry per code, SdI codes of five digits', () => {
    const codes = [...SDI_CODES, ...OWN_CODES].map((c) => c.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of SDI_CODES) expect(c.code).toMatch(/^[0-9]{5}$/);
  });

  it('says where the digest gives no date instead of inventing one', () => {
    for (const c of SDI_CODES.filter((x) => !x.inForce.from))
      expect(c.source, c.code).toMatch(/no (start )?date|no dates|date not found|not found/);
  });

  it('still gives the titles of SdI codes for the reports of an NS', () => {
    expect(sdiCodeTitle('00423')).toBe(
      'PrezzoTotale does not match PrezzoUnitario × Quantita with discounts',
    );
    expect(sdiCodeTitle('00426')).toMatch(/PECDestinatario/);
    expect(sdiCodeTitle('99999')).toBeUndefined();
  });

  it('has server-only codes without a check, and checks only for codes reported offline', () => {
    for (const code of declared) expect(codeInfo(code)?.offline, code).not.toBe('server-only');
  });
});

describe('the tests', () => {
  it("have a describe('<code>: block for every code a check declares", () => {
    const text = [...testSources('test/unit')].join('\n');
    expect(declared.filter((c) => !new RegExp(`describe\\(['"\`]${c}:`).test(text))).toEqual([]);
  });
});

describe('the docs', () => {
  it('list every code of the catalogue in docs/troubleshooting.md', () => {
    const doc = read('docs/troubleshooting.md');
    const missing = [...SDI_CODES, ...OWN_CODES]
      .map((c) => c.code)
      .filter((c) => !new RegExp(`(^|[^0-9A-Z-])${c}([^0-9A-Z-]|$)`, 'm').test(doc));
    expect(missing).toEqual([]);
  });
});

describe('every check emits only the codes it declares', () => {
  // Invoices that make most checks speak, judged on days before and after the dated rules.
  const FR = { paese: 'FR', codice: '12345678901' };
  const corpus = [
    invoice(),
    invoice({
      cessionario: CEDENTE,
      codiceDestinatario: '0000000',
      pecDestinatario: 'sdi01@pec.fatturapa.it',
    }),
    invoice({ cedente: FR, cessionario: { paese: 'DE', codice: '1' }, codiceDestinatario: 'XXXXXXX' }),
    invoice({ formato: 'FPA12', versione: 'FPR12', codiceDestinatario: 'ABC1234', regime: 'RF20' }),
    invoice({ cessionario: null, cessionarioCF: 'RSSMRA85T10A562X', cedenteCF: 'X' }),
    invoice({
      bodies: [
        { numero: 'ABC', tipo: 'TD29' },
        { numero: 'ABC', tipo: 'TD21' },
      ],
    }),
    invoice({ bodies: [{ tipo: 'TD04', data: '2026-01-01', collegate: ['2026-02-01'] }] }),
    invoice({ bodies: [{ tipo: 'TD16' }, { tipo: 'TD27' }, { tipo: 'TD17' }, { tipo: 'TD28' }] }),
    one({
      data: '2030-01-01',
      ritenuta: false,
      cassa: [
        { aliquota: '0.00', ritenuta: true },
        { aliquota: '0.22', natura: 'N2' },
      ],
      sconti: [{ tipo: 'SC' }],
      lines: [
        { aliquota: '0.00', ritenuta: true, sconti: [{ tipo: 'SC' }] },
        { aliquota: '10.00', natura: 'N6', prezzoTotale: '7.00' },
        { sconti: [{ tipo: 'SC', percentuale: '10.00', importo: '-5.00' }], prezzoTotale: '90.00' },
      ],
      riepilogo: [{ aliquota: '0.00', esigibilita: 'S', natura: 'N6.1', imposta: '3.00' }, { natura: 'N3' }],
    }),
    semplificata({
      bodies: [[{ importo: '500.00' }]],
      codiceDestinatario: '0000000',
      cedenteCF: 'RSSMRA85T10A562X',
    }),
    invoice({
      rappresentante: { id: { paese: 'IT', codice: '06363391002' }, cf: 'RSSMRA85T10A562X' },
      codiceDestinatario: 'XXXXXXX',
      cessionario: null,
    }),
    invoice({ codiceDestinatario: 'abc1234', pecDestinatario: 'beta@pec.example.it' }),
    invoice({ bodies: [{ numero: '1' }, { numero: '1' }] }),
    invoice({
      cessionario: null,
      cessionarioCF: 'RSSMRA85T10A562S',
      bodies: [{ tipo: 'TD16' }],
    }),
    invoice({
      cessionario: CEDENTE,
      bodies: [
        {
          tipo: 'TD21',
          lines: [{ aliquota: '0.00', natura: 'N4' }],
          riepilogo: [{ aliquota: '0.00', imposta: '0.00' }],
        },
      ],
    }),
  ];
  const days = ['2019-01-01', '2020-10-01', '2022-10-01', '2025-01-31', '2025-04-01', '2026-12-03'];

  it.each(ALL_CHECKS.map((c) => [`${c.name} (${c.document})`, c] as const))('%s', (_n, check) => {
    for (const xml of corpus) {
      const p = parseXml(Buffer.from(xml));
      if (!p.ok) throw new Error('fixture');
      for (const day of days) {
        const r = runChecks(p.root, { asOf: parseDay(day) ?? undefined }, [check]);
        for (const f of [...r.errors, ...r.warnings, ...r.info])
          expect(check.codes, f.message).toContain(f.code);
      }
    }
  });

  it('the corpus makes every code of the content and registry checks speak at least once', () => {
    const seen = new Set<string>();
    for (const xml of corpus) {
      const p = parseXml(Buffer.from(xml));
      if (!p.ok) throw new Error('fixture');
      for (const day of days) {
        const r = runChecks(p.root, { asOf: parseDay(day) ?? undefined });
        for (const f of [...r.errors, ...r.warnings, ...r.info]) seen.add(f.code);
      }
    }
    expect(seen.has('CHECK-FAILED')).toBe(false);
    expect(declared.filter((c) => !seen.has(c))).toEqual([]);
  });
});
