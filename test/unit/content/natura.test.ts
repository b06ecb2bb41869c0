import { describe, it } from 'vitest';
import { type Case, DBS, DGD, expectCase, one } from './helpers.js';

/**
 * Rate and Natura rules (sdi-spec 4.2): 00400/00401 (lines), 00413/00414 (cassa),
 * 00429/00430 (riepilogo), 00419, 00420, 00424, 00443, 00444, 00445.
 */

const zero = (natura: string) => ({ aliquota: '0.00', natura, imponibile: '100.00', imposta: '0.00' });

// "line (2.2.1): AliquotaIVA = 0.00 ⇒ Natura required (00400)"
describe('00400: line AliquotaIVA = 0.00 ⇒ Natura required', () => {
  it.each<Case>([
    ['22.00 without Natura (minimal invoice)', one({}), null],
    [
      '0.00 with Natura N2.1',
      one({ lines: [{ aliquota: '0.00', natura: 'N2.1' }], riepilogo: [zero('N2.1')] }),
      null,
    ],
    [
      '0.00 without Natura',
      one({ lines: [{ aliquota: '0.00' }], riepilogo: [zero('N2.1')] }),
      { path: `${DBS}/DettaglioLinee/AliquotaIVA`, at: '<AliquotaIVA>0' },
    ],
    [
      '000.00 (a zero written with three digits) without Natura',
      one({ lines: [{ aliquota: '000.00' }], riepilogo: [zero('N2.1')] }),
      { path: `${DBS}/DettaglioLinee/AliquotaIVA`, at: '<AliquotaIVA>0' },
    ],
    [
      'second of two lines, 0.00 without Natura',
      one({
        lines: [{ aliquota: '0.00', natura: 'N2.1' }, { aliquota: '0.00' }],
        riepilogo: [{ ...zero('N2.1'), imponibile: '200.00' }],
      }),
      { path: `${DBS}/DettaglioLinee[2]/AliquotaIVA`, at: '<AliquotaIVA>0', nth: 2 },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00400', xml, fails));
});

// "AliquotaIVA ≠ 0 ⇒ Natura forbidden (00401; exception TD16 per tabellare/.NET)"
describe('00401: line AliquotaIVA ≠ 0 ⇒ Natura forbidden (exception TD16)', () => {
  it.each<Case>([
    ['22.00 without Natura', one({}), null],
    [
      '0.00 with Natura N4',
      one({ lines: [{ aliquota: '0.00', natura: 'N4' }], riepilogo: [zero('N4')] }),
      null,
    ],
    [
      'TD16 (reverse-charge integration): 22.00 with Natura N6.3 is allowed',
      one({
        tipo: 'TD16',
        lines: [{ natura: 'N6.3' }],
        riepilogo: [{ natura: 'N6.3' }],
      }),
      null,
    ],
    [
      '22.00 with Natura N3.2',
      one({ lines: [{ natura: 'N3.2' }], riepilogo: [{}, zero('N3.2')] }),
      { path: `${DBS}/DettaglioLinee/Natura`, at: '<Natura>N3.2</Natura>' },
    ],
    [
      'TD01 with the TD16 pattern (22.00 and N6.3)',
      one({ lines: [{ natura: 'N6.3' }], riepilogo: [{}] }),
      { path: `${DBS}/DettaglioLinee/Natura`, at: '<Natura>N6.3</Natura>' },
    ],
    [
      '4.00 with Natura N1 on the second line',
      one({
        lines: [{}, { aliquota: '4.00', natura: 'N1', prezzoTotale: '100.00' }],
        riepilogo: [{}, { aliquota: '4.00', imponibile: '100.00', imposta: '4.00' }],
      }),
      { path: `${DBS}/DettaglioLinee[2]/Natura`, at: '<Natura>N1</Natura>' },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00401', xml, fails));
});

// "DatiCassaPrevidenziale (2.1.1.7): AliquotaIVA 0 ⇒ Natura required"
describe('00413: cassa AliquotaIVA 0 ⇒ Natura required', () => {
  it.each<Case>([
    [
      'cassa at 22.00 without Natura',
      one({ cassa: [{}], riepilogo: [{ imponibile: '104.00', imposta: '22.88' }] }),
      null,
    ],
    [
      'cassa at 0.00 with Natura N4',
      one({
        cassa: [{ aliquota: '0.00', natura: 'N4' }],
        riepilogo: [{}, { ...zero('N4'), imponibile: '4.00' }],
      }),
      null,
    ],
    [
      'cassa at 0.00 without Natura',
      one({ cassa: [{ aliquota: '0.00' }], riepilogo: [{}, { ...zero('N4'), imponibile: '4.00' }] }),
      { path: `${DGD}/DatiCassaPrevidenziale/AliquotaIVA`, at: '<AliquotaIVA>0' },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00413', xml, fails));
});

// "DatiCassaPrevidenziale (2.1.1.7): … ≠0 ⇒ Natura forbidden"
describe('00414: cassa AliquotaIVA ≠ 0 ⇒ Natura forbidden', () => {
  it.each<Case>([
    [
      'cassa at 22.00 without Natura',
      one({ cassa: [{}], riepilogo: [{ imponibile: '104.00', imposta: '22.88' }] }),
      null,
    ],
    [
      'cassa at 0.00 with Natura N4',
      one({
        cassa: [{ aliquota: '0.00', natura: 'N4' }],
        riepilogo: [{}, { ...zero('N4'), imponibile: '4.00' }],
      }),
      null,
    ],
    [
      'cassa at 22.00 with Natura N4',
      one({ cassa: [{ natura: 'N4' }], riepilogo: [{ imponibile: '104.00', imposta: '22.88' }] }),
      { path: `${DGD}/DatiCassaPrevidenziale/Natura`, at: '<Natura>N4</Natura>' },
    ],
    [
      'second cassa at 10.00 with Natura N1',
      one({
        cassa: [{}, { aliquota: '10.00', natura: 'N1' }],
        riepilogo: [
          { imponibile: '104.00', imposta: '22.88' },
          { aliquota: '10.00', imponibile: '4.00', imposta: '0.40' },
        ],
      }),
      { path: `${DGD}/DatiCassaPrevidenziale[2]/Natura`, at: '<Natura>N1</Natura>' },
    ],
    [
      // The TD16 exception of the digest is for 00401 and 00430 only.
      'TD16 with a cassa at 22.00 and Natura N4',
      one({
        tipo: 'TD16',
        cassa: [{ natura: 'N4' }],
        riepilogo: [{ imponibile: '104.00', imposta: '22.88' }],
      }),
      { path: `${DGD}/DatiCassaPrevidenziale/Natura`, at: '<Natura>N4</Natura>' },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00414', xml, fails));
});

// "DatiRiepilogo: AliquotaIVA 0 ⇒ Natura required"
describe('00429: DatiRiepilogo AliquotaIVA 0 ⇒ Natura required', () => {
  it.each<Case>([
    ['22.00 without Natura', one({}), null],
    [
      '0.00 with Natura N2.2',
      one({ lines: [{ aliquota: '0.00', natura: 'N2.2' }], riepilogo: [zero('N2.2')] }),
      null,
    ],
    [
      '0.00 without Natura',
      one({
        lines: [{ aliquota: '0.00', natura: 'N2.2' }],
        riepilogo: [{ aliquota: '0.00', imponibile: '100.00', imposta: '0.00' }],
      }),
      { path: `${DBS}/DatiRiepilogo/AliquotaIVA`, at: '<AliquotaIVA>0', nth: 2 },
    ],
    [
      'second of two blocks, 0.00 without Natura',
      one({
        lines: [{}, { aliquota: '0.00', natura: 'N2.2' }],
        riepilogo: [{}, { aliquota: '0.00', imponibile: '100.00', imposta: '0.00' }],
      }),
      { path: `${DBS}/DatiRiepilogo[2]/AliquotaIVA`, at: '<AliquotaIVA>0', nth: 2 },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00429', xml, fails));
});

// "DatiRiepilogo: … ≠ 0 ⇒ [Natura] forbidden (exception TD16 per tabellare/.NET)"
describe('00430: DatiRiepilogo AliquotaIVA ≠ 0 ⇒ Natura forbidden (exception TD16)', () => {
  it.each<Case>([
    ['22.00 without Natura', one({}), null],
    [
      '0.00 with Natura N3.1',
      one({ lines: [{ aliquota: '0.00', natura: 'N3.1' }], riepilogo: [zero('N3.1')] }),
      null,
    ],
    [
      'TD17 is not exempt',
      one(
        { tipo: 'TD17', lines: [{ natura: 'N6.9' }], riepilogo: [{ natura: 'N6.9' }] },
        { cedente: { paese: 'FR', codice: '12345678901' } },
      ),
      { path: `${DBS}/DatiRiepilogo/Natura`, at: '<Natura>N6.9</Natura>', nth: 2 },
    ],
    [
      'TD16 with 22.00 and N6.3',
      one({ tipo: 'TD16', lines: [{ natura: 'N6.3' }], riepilogo: [{ natura: 'N6.3' }] }),
      null,
    ],
    [
      '22.00 with Natura N1',
      one({ riepilogo: [{ natura: 'N1' }] }),
      { path: `${DBS}/DatiRiepilogo/Natura`, at: '<Natura>N1</Natura>' },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00430', xml, fails));
});

// "number of DatiRiepilogo blocks < number of distinct AliquotaIVA values found in lines + cassa"
describe('00419: fewer DatiRiepilogo blocks than distinct AliquotaIVA values in lines + cassa', () => {
  const two = [{}, { aliquota: '10.00', imponibile: '100.00', imposta: '10.00' }];
  it.each<Case>([
    ['one rate, one block (minimal invoice)', one({}), null],
    [
      'two lines at the same rate, one block',
      one({ lines: [{}, {}], riepilogo: [{ imponibile: '200.00', imposta: '44.00' }] }),
      null,
    ],
    [
      '22.00 and 022.00 are the same rate',
      one({ lines: [{}, { aliquota: '022.00' }], riepilogo: [{ imponibile: '200.00', imposta: '44.00' }] }),
      null,
    ],
    [
      'lines at 22.00 and 10.00, two blocks',
      one({ lines: [{}, { aliquota: '10.00' }], riepilogo: two }),
      null,
    ],
    [
      'rate 0.00 with two Natura values, two blocks',
      one({
        lines: [
          { aliquota: '0.00', natura: 'N2.1' },
          { aliquota: '0.00', natura: 'N4' },
        ],
        riepilogo: [zero('N2.1'), zero('N4')],
      }),
      null,
    ],
    [
      'lines at 22.00 and 10.00, one block',
      one({ lines: [{}, { aliquota: '10.00' }], riepilogo: [{}] }),
      { path: DBS, at: '<DatiBeniServizi>' },
    ],
    [
      'line at 22.00 and cassa at 10.00, one block',
      one({ cassa: [{ aliquota: '10.00' }], riepilogo: [{}] }),
      { path: DBS, at: '<DatiBeniServizi>' },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00419', xml, fails));
});

// "DatiRiepilogo with EsigibilitaIVA = S (split payment) and Natura N6 or N6.1–N6.9"
describe('00420: DatiRiepilogo with EsigibilitaIVA = S and Natura N6 or N6.1–N6.9', () => {
  const n6 = (natura: string, esigibilita: string) =>
    one({ lines: [{ aliquota: '0.00', natura }], riepilogo: [{ ...zero(natura), esigibilita }] });
  it.each<Case>([
    ['S at 22.00 without Natura', one({ riepilogo: [{ esigibilita: 'S' }] }), null],
    ['N6.3 with I', n6('N6.3', 'I'), null],
    ['N6.3 with D', n6('N6.3', 'D'), null],
    ['N2.2 with S', n6('N2.2', 'S'), null],
    [
      'N6.3 with S',
      n6('N6.3', 'S'),
      { path: `${DBS}/DatiRiepilogo/EsigibilitaIVA`, at: '<EsigibilitaIVA>S' },
    ],
    [
      'N6.1 with S',
      n6('N6.1', 'S'),
      { path: `${DBS}/DatiRiepilogo/EsigibilitaIVA`, at: '<EsigibilitaIVA>S' },
    ],
    [
      'N6.9 with S',
      n6('N6.9', 'S'),
      { path: `${DBS}/DatiRiepilogo/EsigibilitaIVA`, at: '<EsigibilitaIVA>S' },
    ],
    [
      'generic N6 with S',
      n6('N6', 'S'),
      { path: `${DBS}/DatiRiepilogo/EsigibilitaIVA`, at: '<EsigibilitaIVA>S' },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00420', xml, fails));
});

// "AliquotaIVA (line, riepilogo, cassa) ≠ 0 and < 1.00 (rate given as fraction, e.g. 0.22)"
describe('00424: AliquotaIVA (line, riepilogo, cassa) ≠ 0 and < 1.00', () => {
  const rate = (aliquota: string, imposta: string) =>
    one({ lines: [{ aliquota }], riepilogo: [{ aliquota, imposta }] });
  it.each<Case>([
    ['22.00', one({}), null],
    ['0.00 with Natura', one({ lines: [{ aliquota: '0.00', natura: 'N4' }], riepilogo: [zero('N4')] }), null],
    ['1.00 (the bound) is a percentage', rate('1.00', '1.00'), null],
    [
      'line 0.22 (riepilogo 22.00)',
      one({ lines: [{ aliquota: '0.22' }] }),
      { path: `${DBS}/DettaglioLinee/AliquotaIVA`, at: '<AliquotaIVA>0.22</AliquotaIVA>' },
    ],
    [
      'riepilogo 0.99 (line 22.00)',
      one({ riepilogo: [{ aliquota: '0.99', imposta: '0.99' }] }),
      { path: `${DBS}/DatiRiepilogo/AliquotaIVA`, at: '<AliquotaIVA>0.99</AliquotaIVA>' },
    ],
    [
      'cassa 0.01',
      one({ cassa: [{ aliquota: '0.01' }], riepilogo: [{}] }),
      { path: `${DGD}/DatiCassaPrevidenziale/AliquotaIVA`, at: '<AliquotaIVA>0.01</AliquotaIVA>' },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00424', xml, fails));
});

// "a line/cassa AliquotaIVA not present among DatiRiepilogo AliquotaIVA"
describe('00443: a line/cassa AliquotaIVA not present among DatiRiepilogo AliquotaIVA', () => {
  it.each<Case>([
    ['line 22.00, riepilogo 22.00', one({}), null],
    [
      'line 5.00, riepilogo 05.00 (same number)',
      one({ lines: [{ aliquota: '5.00' }], riepilogo: [{ aliquota: '05.00', imposta: '5.00' }] }),
      null,
    ],
    [
      'cassa 22.00 with the line rate',
      one({ cassa: [{}], riepilogo: [{ imponibile: '104.00', imposta: '22.88' }] }),
      null,
    ],
    [
      'line 10.00, riepilogo only 22.00',
      one({ lines: [{ aliquota: '10.00' }] }),
      { path: `${DBS}/DettaglioLinee/AliquotaIVA`, at: '<AliquotaIVA>10.00</AliquotaIVA>' },
    ],
    [
      'second line 4.00, riepilogo only 22.00',
      one({ lines: [{}, { aliquota: '4.00' }], riepilogo: [{ imponibile: '200.00', imposta: '44.00' }] }),
      { path: `${DBS}/DettaglioLinee[2]/AliquotaIVA`, at: '<AliquotaIVA>4.00</AliquotaIVA>' },
    ],
    [
      'cassa 10.00, riepilogo only 22.00',
      one({ cassa: [{ aliquota: '10.00' }] }),
      { path: `${DGD}/DatiCassaPrevidenziale/AliquotaIVA`, at: '<AliquotaIVA>10.00</AliquotaIVA>' },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00443', xml, fails));
});

// "a line/cassa Natura not present among DatiRiepilogo Natura"
describe('00444: a line/cassa Natura not present among DatiRiepilogo Natura', () => {
  it.each<Case>([
    [
      'line N4, riepilogo N4',
      one({ lines: [{ aliquota: '0.00', natura: 'N4' }], riepilogo: [zero('N4')] }),
      null,
    ],
    [
      'cassa N4, riepilogo N4',
      one({
        cassa: [{ aliquota: '0.00', natura: 'N4' }],
        riepilogo: [{}, { ...zero('N4'), imponibile: '4.00' }],
      }),
      null,
    ],
    [
      'line N4, riepilogo N2.1',
      one({ lines: [{ aliquota: '0.00', natura: 'N4' }], riepilogo: [zero('N2.1')] }),
      { path: `${DBS}/DettaglioLinee/Natura`, at: '<Natura>N4</Natura>' },
    ],
    [
      'line N3.1, riepilogo N3.2 (sub-codes differ)',
      one({ lines: [{ aliquota: '0.00', natura: 'N3.1' }], riepilogo: [zero('N3.2')] }),
      { path: `${DBS}/DettaglioLinee/Natura`, at: '<Natura>N3.1</Natura>' },
    ],
    [
      'cassa N1, no riepilogo with N1',
      one({
        cassa: [{ aliquota: '0.00', natura: 'N1' }],
        riepilogo: [{}, { ...zero('N4'), imponibile: '4.00' }],
      }),
      { path: `${DGD}/DatiCassaPrevidenziale/Natura`, at: '<Natura>N1</Natura>' },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00444', xml, fails));
});

// "generic N2, N3 or N6 used (from 2021-01-01) in lines, cassa or riepilogo"
describe('00445: generic N2, N3 or N6 used in lines, cassa or riepilogo', () => {
  const nat = (line: string, riep: string) =>
    one({ lines: [{ aliquota: '0.00', natura: line }], riepilogo: [zero(riep)] });
  it.each<Case>([
    ['N2.1', nat('N2.1', 'N2.1'), null],
    ['N3.5', nat('N3.5', 'N3.5'), null],
    ['N6.9', nat('N6.9', 'N6.9'), null],
    [
      'N1, N4, N5, N7 are not generic',
      one({
        lines: ['N1', 'N4', 'N5', 'N7'].map((natura) => ({ aliquota: '0.00', natura })),
        riepilogo: ['N1', 'N4', 'N5', 'N7'].map(zero),
      }),
      null,
    ],
    ['line N2', nat('N2', 'N2.2'), { path: `${DBS}/DettaglioLinee/Natura`, at: '<Natura>N2</Natura>' }],
    ['line N3', nat('N3', 'N3.1'), { path: `${DBS}/DettaglioLinee/Natura`, at: '<Natura>N3</Natura>' }],
    ['riepilogo N6', nat('N6.1', 'N6'), { path: `${DBS}/DatiRiepilogo/Natura`, at: '<Natura>N6</Natura>' }],
    [
      'cassa N3',
      one({
        cassa: [{ aliquota: '0.00', natura: 'N3' }],
        riepilogo: [{}, { ...zero('N3.1'), imponibile: '4.00' }],
      }),
      { path: `${DGD}/DatiCassaPrevidenziale/Natura`, at: '<Natura>N3</Natura>' },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00445', xml, fails));
});
