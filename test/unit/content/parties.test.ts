import { describe, expect, it } from 'vitest';
import {
  B,
  type Case,
  CEDENTE,
  expectCase,
  H,
  invoice,
  one,
  type PartyId,
  semplificata,
  structure,
  type Where,
} from './helpers.js';

/** Header and party checks (sdi-spec 4.2): 00417, 00427, 00428, 00471–00476. */

const FR: PartyId = { paese: 'FR', codice: '12345678901' };
const DE: PartyId = { paese: 'DE', codice: '123456789' };
const SM: PartyId = { paese: 'SM', codice: '12345' };
const TIPO: Where = { path: `${B}/DatiGenerali/DatiGeneraliDocumento/TipoDocumento`, at: '<TipoDocumento>' };

// "cessionario has neither IdFiscaleIVA nor CodiceFiscale"
describe('00417: cessionario has neither IdFiscaleIVA nor CodiceFiscale', () => {
  it.each<Case>([
    ['IdFiscaleIVA only', invoice(), null],
    ['CodiceFiscale only', invoice({ cessionario: null, cessionarioCF: 'RSSMRA80A01H501U' }), null],
    ['both', invoice({ cessionarioCF: '09876543210' }), null],
    [
      'neither',
      invoice({ cessionario: null }),
      // The cedente's DatiAnagrafici comes first.
      { path: `${H}/CessionarioCommittente/DatiAnagrafici`, at: '<DatiAnagrafici>', nth: 2 },
    ],
  ])('%s', (_label, xml, fails) => expectCase('00417', xml, fails));
});

// "CodiceDestinatario length 7 with FPA12, or length 6 with FPR12/FSM10"
describe('00427: CodiceDestinatario length 7 with FPA12, or length 6 with FPR12/FSM10', () => {
  const at: Where = { path: `${H}/DatiTrasmissione/CodiceDestinatario`, at: '<CodiceDestinatario>' };
  it.each<Case>([
    ['FPR12 with 7 characters', invoice({ codiceDestinatario: 'ABC1234' }), null],
    ['FPR12 with 0000000', invoice({ codiceDestinatario: '0000000' }), null],
    ['FPA12 with 6 characters', invoice({ formato: 'FPA12', codiceDestinatario: 'UFABCD' }), null],
    ['FSM10 with 7 characters', semplificata({ codiceDestinatario: 'ABC1234' }), null],
    ['FPR12 with 6 characters', invoice({ codiceDestinatario: 'UFABCD' }), at],
    ['FPA12 with 7 characters', invoice({ formato: 'FPA12', codiceDestinatario: 'ABC1234' }), at],
  ])('%s', (_label, xml, fails) => expectCase('00427', xml, fails));

  it('FSM10 with 6 characters is already a format error (00200): the FSM10 schema wants exactly 7', () => {
    const out = structure(semplificata({ codiceDestinatario: 'UFABCD' }));
    expect(out.map((f) => f.code)).toEqual(['00200']);
    expect(out[0]?.path).toBe(
      '/FatturaElettronicaSemplificata/FatturaElettronicaHeader/DatiTrasmissione/CodiceDestinatario',
    );
  });
});

// "FormatoTrasmissione ≠ root attribute `versione`"
describe('00428: FormatoTrasmissione ≠ root attribute versione', () => {
  const at: Where = { path: `${H}/DatiTrasmissione/FormatoTrasmissione`, at: '<FormatoTrasmissione>' };
  it.each<Case>([
    ['FPR12 and versione FPR12', invoice(), null],
    ['FPA12 and versione FPA12', invoice({ formato: 'FPA12' }), null],
    ['FPR12 and versione FPA12', invoice({ versione: 'FPA12' }), at],
    ['FPA12 and versione FPR12', invoice({ formato: 'FPA12', versione: 'FPR12' }), at],
  ])('%s', (_label, xml, fails) => expectCase('00428', xml, fails));
});

// "v2.0: TipoDocumento ∈ {TD16, TD17, TD18, TD19, TD20, TD29} and cedente IdFiscaleIVA ==
//  cessionario IdFiscaleIVA"
describe('00471: TipoDocumento ∈ {TD16, TD17, TD18, TD19, TD20, TD29} and cedente IdFiscaleIVA == cessionario IdFiscaleIVA', () => {
  const same = (tipo: string) => one({ tipo }, { cessionario: CEDENTE });
  it.each<Case>([
    ...['TD16', 'TD17', 'TD18', 'TD19', 'TD20', 'TD29'].map((t): Case => [
      `${t}, same subject`,
      same(t),
      TIPO,
    ]),
    ...['TD16', 'TD17', 'TD18', 'TD19', 'TD20', 'TD29'].map((t): Case => [
      `${t}, different subjects`,
      one({ tipo: t }),
      null,
    ]),
    ['TD01, same subject (only in the older rule)', same('TD01'), null],
    ['TD21, same subject', same('TD21'), null],
    [
      'TD16, same IdCodice but different IdPaese',
      one({ tipo: 'TD16' }, { cessionario: { ...CEDENTE, paese: 'SM' } }),
      null,
    ],
  ])('%s', (_label, xml, fails) => expectCase('00471', xml, fails));

  it('in a lotto, the path names the body', () =>
    expectCase(
      '00471',
      invoice({ cessionario: CEDENTE, bodies: [{ numero: '1' }, { numero: '2', tipo: 'TD16' }] }),
      {
        path: `${B}[2]/DatiGenerali/DatiGeneraliDocumento/TipoDocumento`,
        at: '<TipoDocumento>TD16',
      },
    ));
});

// "v2.0: TD21 and cedente ≠ cessionario"
describe('00472: TD21 and cedente ≠ cessionario', () => {
  it.each<Case>([
    ['TD21, same subject', one({ tipo: 'TD21' }, { cessionario: CEDENTE }), null],
    ['TD01, different subjects', one({}), null],
    ['TD27, different subjects (only in the older rule)', one({ tipo: 'TD27' }), null],
    ['TD21, different subjects', one({ tipo: 'TD21' }), TIPO],
    [
      'TD21, same IdCodice but different IdPaese',
      one({ tipo: 'TD21' }, { cessionario: { ...CEDENTE, paese: 'SM' } }),
      TIPO,
    ],
  ])('%s', (_label, xml, fails) => expectCase('00472', xml, fails));
});

// "TD17, TD18, TD19, TD28 with cedente IdPaese = IT; TD29 with cedente IdPaese ≠ IT (v2.0)"
describe('00473: TD17, TD18, TD19, TD28 with cedente IdPaese = IT; TD29 with cedente IdPaese ≠ IT', () => {
  const from = (tipo: string, cedente: PartyId) => one({ tipo }, { cedente });
  it.each<Case>([
    ['TD17 from FR', from('TD17', FR), null],
    ['TD18 from DE', from('TD18', DE), null],
    ['TD19 from FR', from('TD19', FR), null],
    ['TD28 from SM', from('TD28', SM), null],
    ['TD29 from IT', from('TD29', CEDENTE), null],
    ['TD01 from FR', from('TD01', FR), null],
    ['TD17 from IT', from('TD17', CEDENTE), TIPO],
    ['TD18 from IT', from('TD18', CEDENTE), TIPO],
    ['TD19 from IT', from('TD19', CEDENTE), TIPO],
    ['TD28 from IT', from('TD28', CEDENTE), TIPO],
    ['TD29 from FR', from('TD29', FR), TIPO],
  ])('%s', (_label, xml, fails) => expectCase('00473', xml, fails));
});

// "TD21 with any line AliquotaIVA = 0.00"
describe('00474: TD21 with any line AliquotaIVA = 0.00', () => {
  const td21 = (tipo: string, aliquota: string) =>
    one(
      {
        tipo,
        lines: [{}, { aliquota, natura: aliquota === '0.00' ? 'N3.5' : undefined }],
        riepilogo: [
          {},
          {
            aliquota,
            natura: aliquota === '0.00' ? 'N3.5' : undefined,
            imponibile: '100.00',
            imposta: '0.00',
          },
        ],
      },
      { cessionario: CEDENTE },
    );
  it.each<Case>([
    ['TD21, all lines at 22.00', one({ tipo: 'TD21' }, { cessionario: CEDENTE }), null],
    ['TD01 with a line at 0.00', td21('TD01', '0.00'), null],
    ['TD21 with a line at 0.00', td21('TD21', '0.00'), TIPO],
  ])('%s', (_label, xml, fails) => expectCase('00474', xml, fails));
});

// "TipoDocumento ∈ {TD16, TD17, TD18, TD19, TD20, TD22, TD23, TD28, TD29} and no cessionario IdFiscaleIVA"
describe('00475: TipoDocumento ∈ {TD16, TD17, TD18, TD19, TD20, TD22, TD23, TD28, TD29} and no cessionario IdFiscaleIVA', () => {
  const LIST = ['TD16', 'TD17', 'TD18', 'TD19', 'TD20', 'TD22', 'TD23', 'TD28', 'TD29'];
  const cfOnly = (tipo: string) => one({ tipo }, { cessionario: null, cessionarioCF: 'RSSMRA80A01H501U' });
  it.each<Case>([
    ...LIST.map((t): Case => [`${t} with cessionario IdFiscaleIVA`, one({ tipo: t }), null]),
    ...LIST.map((t): Case => [`${t} with cessionario CodiceFiscale only`, cfOnly(t), TIPO]),
    ['TD01 with cessionario CodiceFiscale only', cfOnly('TD01'), null],
    ['TD24 with cessionario CodiceFiscale only', cfOnly('TD24'), null],
  ])('%s', (_label, xml, fails) => expectCase('00475', xml, fails));
});

// "cedente IdPaese ≠ IT and cessionario IdPaese ≠ IT"
describe('00476: cedente IdPaese ≠ IT and cessionario IdPaese ≠ IT', () => {
  // The path names IdPaese, the line is that of the cedente's IdFiscaleIVA (see the report).
  const at: Where = {
    path: `${H}/CedentePrestatore/DatiAnagrafici/IdFiscaleIVA/IdPaese`,
    at: '<IdFiscaleIVA>',
  };
  it.each<Case>([
    ['IT and IT', invoice(), null],
    ['FR and IT', invoice({ cedente: FR }), null],
    ['IT and FR', invoice({ cessionario: FR }), null],
    [
      'FR and a cessionario with CodiceFiscale only',
      invoice({ cedente: FR, cessionario: null, cessionarioCF: 'RSSMRA80A01H501U' }),
      null,
    ],
    ['FR and DE', invoice({ cedente: FR, cessionario: DE }), at],
    ['SM and SM', invoice({ cedente: SM, cessionario: { ...SM, codice: '54321' } }), at],
  ])('%s', (_label, xml, fails) => expectCase('00476', xml, fails));
});
