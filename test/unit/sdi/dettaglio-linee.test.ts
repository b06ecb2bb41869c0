import { describe, expect, it } from 'vitest';
import { validateFile } from '../../../src/rules/validate.js';
import { content, DBS, expectCase, NOW, one, structure, type Sconto } from '../content/helpers.js';

/**
 * 00423 where the check list does not settle how SdI reads a line's discounts: a
 * ScontoMaggiorazione with both Percentuale and Importo ("only the first is used": Percentuale;
 * other implementations use Importo), and a negative Importo (with its sign, or as an amount
 * whose sign only repeats Tipo). A file that a plausible reading accepts is not refused: it
 * passes with 00423-AMBIGUOUS naming the reading that matched and the one fatturad could not
 * confirm; only when no reading matches is it 00423. Tolerance 0.01 under every reading.
 */

const at = { path: `${DBS}/DettaglioLinee/PrezzoTotale`, at: '<PrezzoTotale>' };
const line = (sconti: Sconto[], prezzoTotale: string) =>
  one({
    lines: [{ prezzoUnitario: '100.00', quantita: '1.00', sconti, prezzoTotale }],
    riepilogo: [{ imponibile: prezzoTotale, imposta: ((Number(prezzoTotale) * 22) / 100).toFixed(2) }],
  });

// 100.00 with SC 10 % and 5.00 EUR: Percentuale → 90.00, Importo → 95.00.
const both = (total: string) => line([{ tipo: 'SC', percentuale: '10.00', importo: '5.00' }], total);
// 100.00 with SC -5.00: with its sign → 105.00, as an amount → 95.00.
const negative = (total: string) => line([{ tipo: 'SC', importo: '-5.00' }], total);
// 100.00 with MG -5.00: with its sign → 95.00, as an amount → 105.00.
const negativeMarkup = (total: string) => line([{ tipo: 'MG', importo: '-5.00' }], total);

/** [label, xml, expected: 'pass' | 'ambiguous' | 'error'] */
type Row = [label: string, xml: string, expected: 'pass' | 'ambiguous' | 'error'];

const rows: Row[] = [
  // Percentuale and Importo both given
  ['both: 90.00, the Percentuale reading exactly', both('90.00'), 'ambiguous'],
  ['both: 90.01, Percentuale at the tolerance', both('90.01'), 'ambiguous'],
  ['both: 89.99, Percentuale at the tolerance', both('89.99'), 'ambiguous'],
  ['both: 90.02, past the tolerance of every reading', both('90.02'), 'error'],
  ['both: 89.98, past the tolerance of every reading', both('89.98'), 'error'],
  ['both: 95.00, the Importo reading exactly', both('95.00'), 'ambiguous'],
  ['both: 95.01, Importo at the tolerance', both('95.01'), 'ambiguous'],
  ['both: 94.99, Importo at the tolerance', both('94.99'), 'ambiguous'],
  ['both: 95.02, past the tolerance of every reading', both('95.02'), 'error'],
  ['both: 94.98, past the tolerance of every reading', both('94.98'), 'error'],
  ['both: 85.00, the two applied together is no reading', both('85.00'), 'error'],
  [
    'both giving the same price (10 % and 10.00 of 100.00): no ambiguity',
    line([{ tipo: 'SC', percentuale: '10.00', importo: '10.00' }], '90.00'),
    'pass',
  ],
  // a negative Importo
  ['negative: 105.00, with its sign exactly', negative('105.00'), 'ambiguous'],
  ['negative: 105.01, with its sign at the tolerance', negative('105.01'), 'ambiguous'],
  ['negative: 104.99, with its sign at the tolerance', negative('104.99'), 'ambiguous'],
  ['negative: 105.02, past the tolerance of every reading', negative('105.02'), 'error'],
  ['negative: 104.98, past the tolerance of every reading', negative('104.98'), 'error'],
  ['negative: 95.00, as an amount exactly', negative('95.00'), 'ambiguous'],
  ['negative: 95.01, as an amount at the tolerance', negative('95.01'), 'ambiguous'],
  ['negative: 94.99, as an amount at the tolerance', negative('94.99'), 'ambiguous'],
  ['negative: 95.02, past the tolerance of every reading', negative('95.02'), 'error'],
  ['negative: 94.98, past the tolerance of every reading', negative('94.98'), 'error'],
  ['negative: 100.00, the discount ignored, is no reading', negative('100.00'), 'error'],
  ['negative markup MG -5.00: 95.00 with its sign', negativeMarkup('95.00'), 'ambiguous'],
  ['negative markup MG -5.00: 105.00 as an amount', negativeMarkup('105.00'), 'ambiguous'],
  ['negative markup MG -5.00: 105.02 past the tolerance', negativeMarkup('105.02'), 'error'],
  // unambiguous lines keep the plain rule
  ['a positive Importo only: 95.00', line([{ tipo: 'SC', importo: '5.00' }], '95.00'), 'pass'],
  ['a positive Importo only: 95.02 is 00423', line([{ tipo: 'SC', importo: '5.00' }], '95.02'), 'error'],
];

describe('00423-AMBIGUOUS: PrezzoTotale matches only under a reading of the check list fatturad could not confirm', () => {
  it.each(rows)('%s → %s', (_label, xml, expected) => {
    expect(structure(xml), 'schema-valid fixture').toEqual([]);
    expectCase('00423-AMBIGUOUS', xml, expected === 'ambiguous' ? at : null);
    expectCase('00423', xml, expected === 'error' ? at : null);
  });

  it('the warning names the reading that matched and the one it could not confirm', () => {
    const [w] = content(both('90.00')).filter((f) => f.code === '00423-AMBIGUOUS');
    expect(w?.message).toMatch(
      /matches only when reading the Percentuale of a discount that gives both Percentuale and Importo \(expected 90\.00\)/,
    );
    expect(w?.message).toMatch(
      /when reading the Importo of a discount that gives both Percentuale and Importo \(expected 95\.00\), SdI would refuse it/,
    );
    expect(w?.message).toMatch(/could not confirm/);
    expect(w?.messageIt).toMatch(/torna solo leggendo la Percentuale di uno sconto/);
    expect(w?.messageIt).toMatch(/non ha potuto confermarla/);
  });

  it('for a negative Importo, names both readings of the sign', () => {
    const [w] = content(negative('95.00')).filter((f) => f.code === '00423-AMBIGUOUS');
    expect(w?.message).toMatch(/only when reading a negative Importo taken as an amount/);
    expect(w?.message).toMatch(/reading a negative Importo taken with its sign .* \(expected 105\.00\)/);
    expect(w?.messageIt).toMatch(/un Importo negativo preso in valore assoluto/);
  });

  it('the error lists what every reading gives', () => {
    const [e] = content(both('85.00')).filter((f) => f.code === '00423');
    expect(e?.message).toMatch(/under no reading/);
    expect(e?.message).toMatch(/\(expected 90\.00\)/);
    expect(e?.message).toMatch(/\(expected 95\.00\)/);
    expect(e?.messageIt).toMatch(/in nessuna lettura/);
  });

  it('passes validation with the warning; with no matching reading the file is invalid', async () => {
    const ok = await validateFile('x.xml', Buffer.from(negative('95.00')), { now: NOW, fileName: 'off' });
    expect(ok.valid).toBe(true);
    expect(ok.warnings.map((f) => f.code)).toContain('00423-AMBIGUOUS');
    const bad = await validateFile('x.xml', Buffer.from(negative('100.00')), { now: NOW, fileName: 'off' });
    expect(bad.valid).toBe(false);
    expect(bad.errors.map((f) => f.code)).toEqual(['00423']);
  });
});
