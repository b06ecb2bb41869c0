import { describe, expect, it } from 'vitest';
import { parseXml } from '../../../src/invoice/xml.js';
import { validateFile } from '../../../src/rules/validate.js';
import { FORMAT_VERSIONS, SDI_CODES } from '../../../src/rules/sdi/catalogue.js';
import { ALL_CHECKS, CONTENT_CHECKS } from '../../../src/rules/sdi/checks/index.js';
import { runChecks } from '../../../src/rules/sdi/engine.js';
import { dayAfter, dayBefore, parseDay } from '../../../src/rules/sdi/days.js';
import { CEDENTE, invoice, one, type Invoice } from '../content/helpers.js';

/**
 * Rules with dates: every dated rule at its first day and the day before, and at its last day
 * and the day after where it has one. A rule's days are its code's (catalogue) and, for one
 * version of a rule that changed, the check's own.
 */

const codesOn = (xml: string, day: string): string[] => {
  const p = parseXml(Buffer.from(xml));
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  const r = runChecks(p.root, { asOf: parseDay(day) ?? undefined }, CONTENT_CHECKS);
  return [...r.errors, ...r.warnings].map((f) => f.code);
};

const FR = { paese: 'FR', codice: '12345678901' };
const DE = { paese: 'DE', codice: '123456789' };
const td = (tipo: string, extra: Invoice = {}): string => invoice({ ...extra, bodies: [{ tipo }] });
const zero = (natura: string) =>
  one({
    lines: [{ aliquota: '0.00', natura }],
    riepilogo: [{ aliquota: '0.00', natura, imposta: '0.00' }],
  });

/** code → cases: [what, fixture, [day, expected present]...]. */
const DATED: Record<string, [label: string, xml: string, days: [day: string, present: boolean][]][]> = {
  '00443': [
    [
      'a 10 % line without its DatiRiepilogo (from 2020-10-01)',
      one({ lines: [{}, { aliquota: '10.00' }], riepilogo: [{}] }),
      [
        ['2020-09-30', false],
        ['2020-10-01', true],
      ],
    ],
  ],
  '00444': [
    [
      'an N4 line with only an N2.2 DatiRiepilogo (from 2020-10-01)',
      one({
        lines: [{ aliquota: '0.00', natura: 'N4' }],
        riepilogo: [{ aliquota: '0.00', natura: 'N2.2', imposta: '0.00' }],
      }),
      [
        ['2020-09-30', false],
        ['2020-10-01', true],
      ],
    ],
  ],
  '00445': [
    [
      'generic N2 (from 2021-01-01)',
      zero('N2'),
      [
        ['2020-12-31', false],
        ['2021-01-01', true],
      ],
    ],
  ],
  '00471': [
    [
      'TD01 with cedente = cessionario: v1.7 only (2020-10-01 to 2025-01-30)',
      invoice({ cessionario: CEDENTE }),
      [
        ['2020-09-30', false],
        ['2020-10-01', true],
        ['2025-01-30', true],
        ['2025-01-31', false],
      ],
    ],
    [
      'TD16 with cedente = cessionario: both versions',
      td('TD16', { cessionario: CEDENTE }),
      [
        ['2020-09-30', false],
        ['2020-10-01', true],
        ['2025-01-30', true],
        ['2025-01-31', true],
      ],
    ],
    [
      'TD29 with cedente = cessionario: v2.0 (from 2025-01-31)',
      td('TD29', { cessionario: CEDENTE }),
      [
        ['2025-01-30', false],
        ['2025-01-31', true],
      ],
    ],
  ],
  '00472': [
    [
      'TD27 with cedente ≠ cessionario: v1.7 only (to 2025-01-30)',
      td('TD27'),
      [
        ['2020-09-30', false],
        ['2020-10-01', true],
        ['2025-01-30', true],
        ['2025-01-31', false],
      ],
    ],
    [
      'TD21 with cedente ≠ cessionario: both versions',
      td('TD21'),
      [
        ['2025-01-30', true],
        ['2025-01-31', true],
      ],
    ],
  ],
  '00473': [
    [
      'TD17 with an Italian cedente (from 2020-10-01)',
      td('TD17'),
      [
        ['2020-09-30', false],
        ['2020-10-01', true],
      ],
    ],
    [
      'TD29 with a French cedente: v2.0 (from 2025-01-31)',
      td('TD29', { cedente: FR }),
      [
        ['2025-01-30', false],
        ['2025-01-31', true],
      ],
    ],
  ],
  '00474': [
    [
      'TD21 with a zero-rate line (from 2020-10-01)',
      invoice({
        cessionario: CEDENTE,
        bodies: [
          {
            tipo: 'TD21',
            lines: [{ aliquota: '0.00', natura: 'N4' }],
            riepilogo: [{ aliquota: '0.00', natura: 'N4', imposta: '0.00' }],
          },
        ],
      }),
      [
        ['2020-09-30', false],
        ['2020-10-01', true],
      ],
    ],
  ],
  '00475': [
    [
      'TD16 without the cessionario IdFiscaleIVA (from 2022-10-01)',
      td('TD16', { cessionario: null, cessionarioCF: 'RSSMRA85T10A562S' }),
      [
        ['2022-09-30', false],
        ['2022-10-01', true],
      ],
    ],
  ],
  '00476': [
    [
      'cedente FR, cessionario DE (from 2022-10-01)',
      invoice({ cedente: FR, cessionario: DE }),
      [
        ['2022-09-30', false],
        ['2022-10-01', true],
      ],
    ],
  ],
  '00200': [
    [
      'TipoDocumento TD29 (format 1.2.3, from 2025-04-01)',
      td('TD29', { cedente: { paese: 'IT', codice: '01234567890' } }),
      [
        ['2025-03-31', true],
        ['2025-04-01', false],
      ],
    ],
    [
      'RegimeFiscale RF20 (format 1.2.3, from 2025-04-01)',
      invoice({ regime: 'RF20' }),
      [
        ['2025-03-31', true],
        ['2025-04-01', false],
      ],
    ],
    [
      'TipoDocumento TD28 (format 1.2.2, from 2022-10-01)',
      td('TD28', { cedente: { paese: 'SM', codice: '12345' } }),
      [
        ['2022-09-30', true],
        ['2022-10-01', false],
      ],
    ],
    [
      'TipoDocumento TD24 (format 1.2.1, from 2020-10-01)',
      td('TD24'),
      [
        ['2020-09-30', true],
        ['2020-10-01', false],
      ],
    ],
    [
      'Natura N2.2 (format 1.2.1, from 2020-10-01)',
      zero('N2.2'),
      [
        ['2020-09-30', true],
        ['2020-10-01', false],
      ],
    ],
  ],
};

describe('dated rules: at the first day, the day before, the last day and the day after', () => {
  for (const [code, cases] of Object.entries(DATED)) {
    describe(code, () => {
      for (const [label, xml, days] of cases) {
        it.each(days)(`${label}: on %s present %s`, (day, present) => {
          expect(codesOn(xml, day).includes(code)).toBe(present);
        });
      }
    });
  }

  it('every dated code with an offline check, and every versioned check, has cases here', () => {
    const checked = new Set(ALL_CHECKS.flatMap((c) => c.codes));
    const dated = SDI_CODES.filter(
      (c) => (c.inForce.from || c.inForce.to) && checked.has(c.code) && c.offline !== 'server-only',
    ).map((c) => c.code);
    const versioned = ALL_CHECKS.filter((c) => c.version).flatMap((c) => c.codes);
    expect([...dated, ...versioned].filter((c) => !(c in DATED))).toEqual([]);
  });

  it('each dated case covers the first day and the day before', () => {
    for (const code of Object.keys(DATED)) {
      const entry = SDI_CODES.find((c) => c.code === code);
      const from = entry?.inForce.from;
      if (!from) continue;
      const days = DATED[code]?.flatMap(([, , d]) => d.map(([x]) => x)) ?? [];
      expect(days, code).toContain(from);
      expect(days, code).toContain(dayBefore(from));
    }
  });

  it('the format versions follow each other without a gap', () => {
    for (let i = 1; i < FORMAT_VERSIONS.length; i++) {
      const prev = FORMAT_VERSIONS[i - 1]?.inForce.to ?? '';
      expect(dayAfter(prev)).toBe(FORMAT_VERSIONS[i]?.inForce.from);
    }
  });
});

describe('00403 with --as-of: the invoice date is compared with the as-of day, not with now', () => {
  it.each([
    ['2025-03-01', '2025-03-01', false],
    ['2025-03-02', '2025-03-01', true],
  ])('dated %s, as of %s → 00403 %s', async (data, asOf, present) => {
    const r = await validateFile('IT01234567890_00001.xml', Buffer.from(one({ data })), {
      now: new Date('2026-12-03T10:00:00Z'),
      asOf: parseDay(asOf) ?? undefined,
      fileName: 'off',
    });
    expect(r.errors.some((f) => f.code === '00403')).toBe(present);
  });
});

describe('00200: a value added by a format version is refused before its first day (XSD 1.2.3 from 2025-04-01)', () => {
  it('a TD29 of today is valid; as of 2025-03-31 it is a format error (00200) naming version 1.2.2', async () => {
    const bytes = Buffer.from(td('TD29', { cedente: { paese: 'IT', codice: '06363391001' } }));
    const today = await validateFile('IT06363391001_00001.xml', bytes, { fileName: 'off' });
    expect(today.errors).toEqual([]);
    const then = await validateFile('IT06363391001_00001.xml', bytes, {
      fileName: 'off',
      asOf: parseDay('2025-03-31') ?? undefined,
    });
    expect(then.valid).toBe(false);
    const f = then.errors.find((e) => e.code === '00200');
    expect(f?.field).toBe('2.1.1.1 TipoDocumento');
    expect(f?.message).toMatch(/version 1\.2\.2/);
    expect(f?.messageIt).toMatch(/versione 1\.2\.2/);
  });
});
