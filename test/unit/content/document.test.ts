import { describe, it } from 'vitest';
import { B, type Body, type Case, DBS, DGD, expectCase, invoice, one, type Where } from './helpers.js';

/** Document-level checks (sdi-spec 4.2 and 4.4): 00403, 00411, 00415, 00418, 00425, 00437, 00438, 00409. */

// "2.1.1.3 Data > date SdI received the file". SdI is in Italy: the day it receives the file is
// the day in Europe/Rome (UTC+1, UTC+2 in summer), not the UTC day.
describe('00403: 2.1.1.3 Data > date SdI received the file', () => {
  const at: Where = { path: `${DGD}/Data`, at: '<Data>' };
  it.each<[label: string, data: string, now: string, fails: Where | null]>([
    ['dated the day before', '2026-02-28', '2026-03-01T12:00:00Z', null],
    ['dated the same day', '2026-03-01', '2026-03-01T12:00:00Z', null],
    ['dated long ago', '2014-12-18', '2026-03-01T12:00:00Z', null],
    ['dated the day after', '2026-03-02', '2026-03-01T12:00:00Z', at],
    ['dated next year', '2027-01-01', '2026-03-01T12:00:00Z', at],
    // 23:30 UTC on 28 February is 00:30 on 1 March in Rome (CET).
    ['dated today in Rome, still yesterday in UTC (winter)', '2026-03-01', '2026-02-28T23:30:00Z', null],
    // 22:30 UTC on 14 July is 00:30 on 15 July in Rome (CEST).
    ['dated today in Rome, still yesterday in UTC (summer)', '2026-07-15', '2026-07-14T22:30:00Z', null],
    // 22:59 UTC on 1 March is 23:59 on 1 March in Rome.
    ['dated tomorrow, one minute before midnight in Rome', '2026-03-02', '2026-03-01T22:59:00Z', at],
  ])('%s', (_label, data, now, fails) => expectCase('00403', one({ data }), fails, { now: new Date(now) }));
});

// "any line with Ritenuta=SI and no 2.1.1.5 DatiRitenuta"
describe('00411: any line with Ritenuta=SI and no 2.1.1.5 DatiRitenuta', () => {
  it.each<Case>([
    ['no Ritenuta at all', one({}), null],
    ['Ritenuta SI with DatiRitenuta', one({ ritenuta: true, lines: [{ ritenuta: true }] }), null],
    ['DatiRitenuta without any Ritenuta SI line', one({ ritenuta: true }), null],
    [
      'only the cassa has Ritenuta SI (that is 00415)',
      one({ cassa: [{ ritenuta: true }], riepilogo: [{ imponibile: '104.00', imposta: '22.88' }] }),
      null,
    ],
    [
      'Ritenuta SI without DatiRitenuta',
      one({ lines: [{ ritenuta: true }] }),
      { path: `${DBS}/DettaglioLinee/Ritenuta`, at: '<Ritenuta>SI</Ritenuta>' },
    ],
    [
      'the second line has Ritenuta SI without DatiRitenuta',
      one({ lines: [{}, { ritenuta: true }], riepilogo: [{ imponibile: '200.00', imposta: '44.00' }] }),
      { path: `${DBS}/DettaglioLinee[2]/Ritenuta`, at: '<Ritenuta>SI</Ritenuta>' },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00411', xml, fails));
});

// "cassa Ritenuta=SI and no DatiRitenuta"
describe('00415: cassa Ritenuta=SI and no DatiRitenuta', () => {
  const riep = [{ imponibile: '104.00', imposta: '22.88' }];
  it.each<Case>([
    ['cassa without Ritenuta', one({ cassa: [{}], riepilogo: riep }), null],
    [
      'cassa Ritenuta SI with DatiRitenuta',
      one({ ritenuta: true, cassa: [{ ritenuta: true }], riepilogo: riep }),
      null,
    ],
    ['only a line has Ritenuta SI (that is 00411)', one({ lines: [{ ritenuta: true }] }), null],
    [
      'cassa Ritenuta SI without DatiRitenuta',
      one({ cassa: [{ ritenuta: true }], riepilogo: riep }),
      { path: `${DGD}/DatiCassaPrevidenziale/Ritenuta`, at: '<Ritenuta>SI</Ritenuta>' },
    ],
    [
      'the second cassa has Ritenuta SI without DatiRitenuta',
      one({ cassa: [{}, { ritenuta: true }], riepilogo: [{ imponibile: '108.00', imposta: '23.76' }] }),
      { path: `${DGD}/DatiCassaPrevidenziale[2]/Ritenuta`, at: '<Ritenuta>SI</Ritenuta>' },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00415', xml, fails));
});

// "TD04: Data < DatiFattureCollegate/Data (credit note dated before the invoice it corrects)"
describe('00418: TD04 Data < DatiFattureCollegate/Data', () => {
  const nc = (collegate: (string | undefined)[], tipo = 'TD04') =>
    one({ tipo, data: '2026-02-15', collegate });
  it.each<Case>([
    ['TD04 after the invoice', nc(['2026-01-10']), null],
    ['TD04 on the same day as the invoice', nc(['2026-02-15']), null],
    ['TD04 referring to an invoice without Data', nc([undefined]), null],
    ['TD04 without DatiFattureCollegate', nc([]), null],
    ['TD01 dated before the linked document (not a credit note)', nc(['2026-02-16'], 'TD01'), null],
    ['TD05 (debit note) dated before the linked document', nc(['2026-02-16'], 'TD05'), null],
    [
      'TD04 one day before the invoice',
      nc(['2026-02-16']),
      { path: `${B}/DatiGenerali/DatiFattureCollegate/Data`, at: '<Data>2026-02-16</Data>' },
    ],
    [
      'TD04 before the second of two linked invoices',
      nc(['2026-01-10', '2026-03-01']),
      { path: `${B}/DatiGenerali/DatiFattureCollegate[2]/Data`, at: '<Data>2026-03-01</Data>' },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00418', xml, fails));
});

// "2.1.1.4 Numero contains no digit 0–9"
describe('00425: 2.1.1.4 Numero contains no digit 0–9', () => {
  const at: Where = { path: `${DGD}/Numero`, at: '<Numero>' };
  it.each<Case>([
    ['1', one({ numero: '1' }), null],
    ['FT-2026/1', one({ numero: 'FT-2026/1' }), null],
    ['A0', one({ numero: 'A0' }), null],
    ['9Z', one({ numero: '9Z' }), null],
    ['ABC', one({ numero: 'ABC' }), at],
    ['FT/A', one({ numero: 'FT/A' }), at],
    ['-', one({ numero: '-' }), at],
    ['FT-ABC/XYZ', one({ numero: 'FT-ABC/XYZ' }), at],
  ])('%s', (_label, xml, fails) => expectCase('00425', xml, fails));
});

// "2.1.1.8 ScontoMaggiorazione with Tipo but neither Percentuale nor Importo"
describe('00437: 2.1.1.8 ScontoMaggiorazione with Tipo but neither Percentuale nor Importo', () => {
  it.each<Case>([
    ['no document discount', one({}), null],
    ['SC with Percentuale', one({ sconti: [{ tipo: 'SC', percentuale: '5.00' }] }), null],
    ['MG with Importo', one({ sconti: [{ tipo: 'MG', importo: '5.00' }] }), null],
    ['a line discount without amount (that is 00438)', one({ lines: [{ sconti: [{ tipo: 'SC' }] }] }), null],
    [
      'SC alone',
      one({ sconti: [{ tipo: 'SC' }] }),
      { path: `${DGD}/ScontoMaggiorazione`, at: '<ScontoMaggiorazione>' },
    ],
    [
      'MG alone',
      one({ sconti: [{ tipo: 'MG' }] }),
      { path: `${DGD}/ScontoMaggiorazione`, at: '<ScontoMaggiorazione>' },
    ],
    [
      'the second of two is empty',
      one({ sconti: [{ tipo: 'SC', importo: '1.00' }, { tipo: 'SC' }] }),
      { path: `${DGD}/ScontoMaggiorazione[2]`, at: '<ScontoMaggiorazione>', nth: 2 },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00437', xml, fails));
});

// "same [as 00437] at line level 2.2.1.10"
describe('00438: 2.2.1.10 line ScontoMaggiorazione with Tipo but neither Percentuale nor Importo', () => {
  it.each<Case>([
    ['no line discount', one({}), null],
    [
      'SC with Percentuale',
      one({
        lines: [{ sconti: [{ tipo: 'SC', percentuale: '10.00' }], prezzoTotale: '90.00' }],
        riepilogo: [{ imponibile: '90.00', imposta: '19.80' }],
      }),
      null,
    ],
    [
      'SC with Importo',
      one({
        lines: [{ sconti: [{ tipo: 'SC', importo: '10.00' }], prezzoTotale: '90.00' }],
        riepilogo: [{ imponibile: '90.00', imposta: '19.80' }],
      }),
      null,
    ],
    ['a document discount without amount (that is 00437)', one({ sconti: [{ tipo: 'SC' }] }), null],
    [
      'SC alone',
      one({ lines: [{ sconti: [{ tipo: 'SC' }] }] }),
      { path: `${DBS}/DettaglioLinee/ScontoMaggiorazione`, at: '<ScontoMaggiorazione>' },
    ],
    [
      'MG alone on the second line',
      one({
        lines: [{}, { sconti: [{ tipo: 'MG' }] }],
        riepilogo: [{ imponibile: '200.00', imposta: '44.00' }],
      }),
      { path: `${DBS}/DettaglioLinee[2]/ScontoMaggiorazione`, at: '<ScontoMaggiorazione>' },
    ],
    [
      'the second of two on one line is empty',
      one({
        lines: [{ sconti: [{ tipo: 'SC', percentuale: '10.00' }, { tipo: 'SC' }], prezzoTotale: '90.00' }],
        riepilogo: [{ imponibile: '90.00', imposta: '19.80' }],
      }),
      { path: `${DBS}/DettaglioLinee/ScontoMaggiorazione[2]`, at: '<ScontoMaggiorazione>', nth: 2 },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00438', xml, fails));
});

// 4.4: "00409 Fattura duplicata nel lotto: the same rules applied between bodies of one lotto" —
// "same cedente IdFiscaleIVA (IdPaese+IdCodice), same Numero and same year of Data; TD04 is compared
// only with TD04 (a credit note may share number/year with an invoice). If Art73 = SI the full date
// is compared instead of the year."
describe('00409: duplicate invoice between the bodies of one lotto', () => {
  const lotto = (...bodies: Body[]) => invoice({ bodies });
  const second: Where = { path: `${B}[2]/DatiGenerali/DatiGeneraliDocumento/Numero`, at: '<Numero>', nth: 2 };
  it.each<Case>([
    ['a single body', one({}), null],
    ['two bodies, different Numero', lotto({ numero: '1' }, { numero: '2' }), null],
    [
      'same Numero, different year',
      lotto({ numero: '1', data: '2025-12-31' }, { numero: '1', data: '2026-01-01' }),
      null,
    ],
    [
      'same Numero, same year, different day',
      lotto({ numero: '1', data: '2026-01-02' }, { numero: '1', data: '2026-02-15' }),
      second,
    ],
    ['same Numero and Data', lotto({ numero: '1' }, { numero: '1' }), second],
    [
      'TD01 and TD04 with the same Numero and year',
      lotto({ numero: '1' }, { numero: '1', tipo: 'TD04' }),
      null,
    ],
    [
      'TD04 and TD04 with the same Numero and year',
      lotto({ numero: '1', tipo: 'TD04' }, { numero: '1', tipo: 'TD04' }),
      second,
    ],
    [
      'TD01 and TD24 are compared (only TD04 is apart)',
      lotto({ numero: '1' }, { numero: '1', tipo: 'TD24' }),
      second,
    ],
    [
      'Art73 = SI: same Numero and year, different day',
      lotto(
        { numero: '1', data: '2026-01-02', art73: true },
        { numero: '1', data: '2026-02-15', art73: true },
      ),
      null,
    ],
    [
      'Art73 = SI: same Numero and Data',
      lotto({ numero: '1', art73: true }, { numero: '1', art73: true }),
      second,
    ],
    [
      'the third body repeats the first',
      lotto({ numero: '1' }, { numero: '2' }, { numero: '1' }),
      { path: `${B}[3]/DatiGenerali/DatiGeneraliDocumento/Numero`, at: '<Numero>', nth: 3 },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00409', xml, fails));
});
