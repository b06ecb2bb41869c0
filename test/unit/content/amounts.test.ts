import { describe, it } from 'vitest';
import { type Case, DBS, expectCase, type Line, one, semplificata } from './helpers.js';

/** Amount checks with a tolerance (sdi-spec 4.2): 00421, 00422, 00423; and 00460 (FSM10 limit). */

// "DatiRiepilogo: Imposta ≠ round_half_up(AliquotaIVA × ImponibileImporto / 100, 2); tolerance ±0.01"
describe('00421: Imposta ≠ round_half_up(AliquotaIVA × ImponibileImporto / 100, 2), tolerance ±0.01', () => {
  const imposta = (aliquota: string, imponibile: string, tax: string) =>
    one({
      lines: [{ aliquota, prezzoUnitario: imponibile, prezzoTotale: imponibile }],
      riepilogo: [{ aliquota, imponibile, imposta: tax }],
    });
  const at = { path: `${DBS}/DatiRiepilogo/Imposta`, at: '<Imposta>' };
  it.each<Case>([
    ['22 % of 100.00 = 22.00 exactly', imposta('22.00', '100.00', '22.00'), null],
    ['22.01: 0.01 above, at the tolerance', imposta('22.00', '100.00', '22.01'), null],
    ['21.99: 0.01 below, at the tolerance', imposta('22.00', '100.00', '21.99'), null],
    ['22.02: 0.02 above, beyond the tolerance', imposta('22.00', '100.00', '22.02'), at],
    ['21.98: 0.02 below, beyond the tolerance', imposta('22.00', '100.00', '21.98'), at],
    // 10 % of 0.45 = 0.045: half up gives 0.05 (half even would give 0.04).
    ['10 % of 0.45 → 0.05 (half up); 0.06 is at the tolerance', imposta('10.00', '0.45', '0.06'), null],
    ['10 % of 0.45 → 0.05 (half up); 0.04 is at the tolerance', imposta('10.00', '0.45', '0.04'), null],
    ['10 % of 0.45 → 0.05 (half up); 0.03 is beyond', imposta('10.00', '0.45', '0.03'), at],
    ['10 % of 0.45 → 0.05 (half up); 0.07 is beyond', imposta('10.00', '0.45', '0.07'), at],
    // 22 % of 12345678.91 = 2716049.3602 → 2716049.36, exact decimals even for large amounts.
    ['large amount, 0.01 off', imposta('22.00', '12345678.91', '2716049.37'), null],
    ['large amount, 0.02 off', imposta('22.00', '12345678.91', '2716049.38'), at],
    ['negative amounts: −22 % of 100.00 = −22.00', imposta('22.00', '-100.00', '-22.00'), null],
    ['negative amounts, 0.02 off', imposta('22.00', '-100.00', '-22.02'), at],
    [
      'rate 0 with Natura: Imposta 0.00',
      one({
        lines: [{ aliquota: '0.00', natura: 'N4' }],
        riepilogo: [{ aliquota: '0.00', natura: 'N4', imposta: '0.00' }],
      }),
      null,
    ],
    [
      'rate 0 with Natura: Imposta 0.02',
      one({
        lines: [{ aliquota: '0.00', natura: 'N4' }],
        riepilogo: [{ aliquota: '0.00', natura: 'N4', imposta: '0.02' }],
      }),
      at,
    ],
    [
      'the second of two blocks is wrong',
      one({
        lines: [{}, { aliquota: '10.00' }],
        riepilogo: [{}, { aliquota: '10.00', imponibile: '100.00', imposta: '10.02' }],
      }),
      { path: `${DBS}/DatiRiepilogo[2]/Imposta`, at: '<Imposta>10.02</Imposta>' },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00421', xml, fails));
});

// "per distinct AliquotaIVA: Σ ImponibileImporto ≠ Σ line PrezzoTotale + Σ cassa ImportoContributoCassa
//  + Σ Arrotondamento; tolerance ±1.00 EUR"
describe('00422: per AliquotaIVA, Σ ImponibileImporto ≠ Σ PrezzoTotale + Σ cassa + Σ Arrotondamento, ±1.00', () => {
  const base = (imponibile: string, extra: { arrotondamento?: string } = {}) =>
    one({ riepilogo: [{ imponibile, imposta: '22.00', ...extra }] });
  const at = { path: `${DBS}/DatiRiepilogo/ImponibileImporto`, at: '<ImponibileImporto>' };
  it.each<Case>([
    ['100.00 = 100.00', base('100.00'), null],
    ['101.00: 1.00 above, at the tolerance', base('101.00'), null],
    ['99.00: 1.00 below, at the tolerance', base('99.00'), null],
    ['101.01: 1.01 above, beyond the tolerance', base('101.01'), at],
    ['98.99: 1.01 below, beyond the tolerance', base('98.99'), at],
    [
      'line 99.99999999, ImponibileImporto 101.00: 1.00000001 off, beyond (exact decimals)',
      one({
        lines: [{ prezzoUnitario: '99.99999999', prezzoTotale: '99.99999999' }],
        riepilogo: [{ imponibile: '101.00', imposta: '22.22' }],
      }),
      at,
    ],
    [
      'three lines of 33.33333333 against 100.00',
      one({
        lines: [1, 2, 3].map(() => ({ prezzoUnitario: '33.33333333', prezzoTotale: '33.33333333' })),
        riepilogo: [{}],
      }),
      null,
    ],
    ['Arrotondamento 1.50 counts: 101.50', base('101.50', { arrotondamento: '1.50' }), null],
    ['Arrotondamento −2.00 counts: 98.00', base('98.00', { arrotondamento: '-2.00' }), null],
    ['Arrotondamento 1.50 but ImponibileImporto 102.51', base('102.51', { arrotondamento: '1.50' }), at],
    ['Arrotondamento −2.00 but ImponibileImporto 100.00', base('100.00', { arrotondamento: '-2.00' }), at],
    [
      'cassa 4.00 at the same rate is in the sum: 104.00',
      one({ cassa: [{ importo: '4.00' }], riepilogo: [{ imponibile: '104.00', imposta: '22.88' }] }),
      null,
    ],
    [
      'cassa 4.00 at the same rate left out: 100.00',
      one({ cassa: [{ importo: '4.00' }], riepilogo: [{ imponibile: '100.00', imposta: '22.00' }] }),
      at,
    ],
    [
      'rate 0.00: two Natura blocks are summed together for the rate',
      one({
        lines: [
          { aliquota: '0.00', natura: 'N2.1', prezzoTotale: '100.00' },
          { aliquota: '0.00', natura: 'N4', prezzoTotale: '50.00', prezzoUnitario: '50.00' },
        ],
        riepilogo: [
          { aliquota: '0.00', natura: 'N2.1', imponibile: '100.00', imposta: '0.00' },
          { aliquota: '0.00', natura: 'N4', imponibile: '50.00', imposta: '0.00' },
        ],
      }),
      null,
    ],
    [
      'rate 0.00: the sum over both Natura blocks is 1.01 off',
      one({
        lines: [
          { aliquota: '0.00', natura: 'N2.1', prezzoTotale: '100.00' },
          { aliquota: '0.00', natura: 'N4', prezzoTotale: '50.00', prezzoUnitario: '50.00' },
        ],
        riepilogo: [
          { aliquota: '0.00', natura: 'N2.1', imponibile: '100.00', imposta: '0.00' },
          { aliquota: '0.00', natura: 'N4', imponibile: '51.01', imposta: '0.00' },
        ],
      }),
      // Reported on the first block of the rate.
      { path: `${DBS}/DatiRiepilogo[1]/ImponibileImporto`, at: '<ImponibileImporto>100.00' },
    ],
    [
      'the second of two rates is off',
      one({
        lines: [{}, { aliquota: '10.00', prezzoTotale: '50.00', prezzoUnitario: '50.00' }],
        riepilogo: [{}, { aliquota: '10.00', imponibile: '51.01', imposta: '5.10' }],
      }),
      { path: `${DBS}/DatiRiepilogo[2]/ImponibileImporto`, at: '<ImponibileImporto>51.01' },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00422', xml, fails));
});

// "line: PrezzoTotale ≠ (PrezzoUnitario ± sconti/maggiorazioni) × Quantita (Quantita absent ⇒ 1).
//  Amount discounts add up; percentage discounts apply in cascade on the running unit price; if both
//  Importo and Percentuale are given only the first is used (sic); tolerance ±0.01"
describe('00423: PrezzoTotale ≠ (PrezzoUnitario ± sconti/maggiorazioni in cascade) × Quantita, ±0.01', () => {
  const line = (l: Line) => one({ lines: [l] });
  const at = { path: `${DBS}/DettaglioLinee/PrezzoTotale`, at: '<PrezzoTotale>' };
  const sc = (percentuale?: string, importo?: string) => ({ tipo: 'SC' as const, percentuale, importo });
  const cascade = [sc('8.50'), sc('5.15'), sc('3.00')];
  const amounts = [sc(undefined, '10.05'), sc(undefined, '5.25'), sc(undefined, '4.70')];
  it.each<Case>([
    ['100.00 × 1.00 = 100.00', one({}), null],
    [
      '33.33 × 3.00 = 99.99',
      line({ prezzoUnitario: '33.33', quantita: '3.00', prezzoTotale: '99.99' }),
      null,
    ],
    [
      '33.33 × 3.00 given as 100.00: 0.01 off, at the tolerance',
      line({ prezzoUnitario: '33.33', quantita: '3.00', prezzoTotale: '100.00' }),
      null,
    ],
    [
      '33.33 × 3.00 given as 99.98: 0.01 off, at the tolerance',
      line({ prezzoUnitario: '33.33', quantita: '3.00', prezzoTotale: '99.98' }),
      null,
    ],
    [
      '33.33 × 3.00 given as 100.01: 0.02 off, beyond',
      line({ prezzoUnitario: '33.33', quantita: '3.00', prezzoTotale: '100.01' }),
      at,
    ],
    [
      '33.33 × 3.00 given as 99.97: 0.02 off, beyond',
      line({ prezzoUnitario: '33.33', quantita: '3.00', prezzoTotale: '99.97' }),
      at,
    ],
    [
      'no Quantita counts as 1: 250.00',
      line({ quantita: null, prezzoUnitario: '250.00', prezzoTotale: '250.00' }),
      null,
    ],
    [
      'no Quantita counts as 1: 250.02 is beyond',
      line({ quantita: null, prezzoUnitario: '250.00', prezzoTotale: '250.02' }),
      at,
    ],
    // Worked example: 500 − (10.05 + 5.25 + 4.70) × 100 = 48000.00.
    [
      'amount discounts add up: 48000.00',
      line({ prezzoUnitario: '500.00', quantita: '100.00', sconti: amounts, prezzoTotale: '48000.00' }),
      null,
    ],
    [
      'amount discounts add up: 48000.01 at the tolerance',
      line({ prezzoUnitario: '500.00', quantita: '100.00', sconti: amounts, prezzoTotale: '48000.01' }),
      null,
    ],
    [
      'amount discounts add up: 48000.02 beyond',
      line({ prezzoUnitario: '500.00', quantita: '100.00', sconti: amounts, prezzoTotale: '48000.02' }),
      at,
    ],
    // Worked example: 500 with 8.50 %, 5.15 %, 3.00 % → 420.9205875 × 100 = 42092.05875.
    [
      'percentages in cascade: 42092.05 accepted',
      line({ prezzoUnitario: '500.00', quantita: '100.00', sconti: cascade, prezzoTotale: '42092.05' }),
      null,
    ],
    [
      'percentages in cascade: 42092.06 accepted',
      line({ prezzoUnitario: '500.00', quantita: '100.00', sconti: cascade, prezzoTotale: '42092.06' }),
      null,
    ],
    [
      'percentages in cascade: 42092.07 (0.01125 off) beyond',
      line({ prezzoUnitario: '500.00', quantita: '100.00', sconti: cascade, prezzoTotale: '42092.07' }),
      at,
    ],
    [
      'percentages in cascade: 42092.04 (0.01875 off) beyond',
      line({ prezzoUnitario: '500.00', quantita: '100.00', sconti: cascade, prezzoTotale: '42092.04' }),
      at,
    ],
    [
      'percentages summed instead of cascaded (41675.00) is wrong',
      line({ prezzoUnitario: '500.00', quantita: '100.00', sconti: cascade, prezzoTotale: '41675.00' }),
      at,
    ],
    [
      'markup MG 10.00 %: 110.00',
      line({ sconti: [{ tipo: 'MG', percentuale: '10.00' }], prezzoTotale: '110.00' }),
      null,
    ],
    [
      'markup MG 5.00 EUR: 105.00',
      line({ sconti: [{ tipo: 'MG', importo: '5.00' }], prezzoTotale: '105.00' }),
      null,
    ],
    [
      'markup MG read as a discount (90.00) is wrong',
      line({ sconti: [{ tipo: 'MG', percentuale: '10.00' }], prezzoTotale: '90.00' }),
      at,
    ],
    [
      'both Percentuale 10.00 and Importo 5.00: only the first (Percentuale) counts, 90.00',
      line({ sconti: [sc('10.00', '5.00')], prezzoTotale: '90.00' }),
      null,
    ],
    [
      'both Percentuale 10.00 and Importo 5.00: 85.00 (both applied) is wrong',
      line({ sconti: [sc('10.00', '5.00')], prezzoTotale: '85.00' }),
      at,
    ],
    [
      'negative unit price (a discount line): −15.00',
      line({ prezzoUnitario: '-15.00', prezzoTotale: '-15.00' }),
      null,
    ],
    [
      'the second line is wrong',
      one({
        lines: [{}, { prezzoTotale: '100.02' }],
        riepilogo: [{ imponibile: '200.02', imposta: '44.00' }],
      }),
      { path: `${DBS}/DettaglioLinee[2]/PrezzoTotale`, at: '<PrezzoTotale>100.02' },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00423', xml, fails));
});

// "FSM10 only: total above the simplified-invoice limit (EUR 400; DPR 633/72 art. 21-bis, DM 10/05/2019)";
// the exceptions for forfettari (RF19) and RF20 are from Allegato A 1.9.1 [S20].
describe('00460: FSM10 total above the simplified-invoice limit of EUR 400', () => {
  const B1 = '/FatturaElettronicaSemplificata/FatturaElettronicaBody[1]';
  it.each<Case>([
    ['122.00', semplificata(), null],
    ['400.00: at the limit', semplificata({ bodies: [[{ importo: '400.00' }]] }), null],
    [
      '400.01: beyond the limit',
      semplificata({ bodies: [[{ importo: '400.01' }]] }),
      { path: B1, at: '<FatturaElettronicaBody>' },
    ],
    [
      '200.00 + 200.00 = 400.00',
      semplificata({ bodies: [[{ importo: '200.00' }, { importo: '200.00' }]] }),
      null,
    ],
    [
      '200.00 + 200.01 = 400.01',
      semplificata({ bodies: [[{ importo: '200.00' }, { importo: '200.01' }]] }),
      { path: B1, at: '<FatturaElettronicaBody>' },
    ],
    [
      'RF19 (forfettario) is exempt: 1000.00',
      semplificata({ regime: 'RF19', bodies: [[{ importo: '1000.00' }]] }),
      null,
    ],
    [
      'the second body of a lotto is beyond the limit',
      semplificata({ bodies: [[{ importo: '400.00' }], [{ importo: '400.01' }]] }),
      {
        path: '/FatturaElettronicaSemplificata/FatturaElettronicaBody[2]',
        at: '<FatturaElettronicaBody>',
        nth: 2,
      },
    ],
    [
      'an ordinary FPR12 invoice of any amount is not checked',
      one({
        lines: [{ prezzoUnitario: '1000.00', prezzoTotale: '1000.00' }],
        riepilogo: [{ imponibile: '1000.00', imposta: '220.00' }],
      }),
      null,
    ],
  ])('%s', (_label, xml, fails) => expectCase('00460', xml, fails));

  // RF20 is not (yet) in the FSM10 schema v1.0.1's RegimeFiscale list, so this fixture is not schema-valid.
  it('RF20 is exempt: 1000.00', () =>
    expectCase('00460', semplificata({ regime: 'RF20', bodies: [[{ importo: '1000.00' }]] }), null, {
      schemaValid: false,
    }));
});
