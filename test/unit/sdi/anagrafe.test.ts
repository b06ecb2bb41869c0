import { describe, expect, it } from 'vitest';
import { parseXml } from '../../../src/invoice/xml.js';
import { validateFile } from '../../../src/rules/validate.js';
import { REGISTRY_CHECKS } from '../../../src/rules/sdi/checks/index.js';
import { runChecks } from '../../../src/rules/sdi/engine.js';
import {
  invoice,
  lineOf,
  NOW,
  semplificata,
  structure,
  type Invoice,
  type PartyId,
  type Semplificata,
} from '../content/helpers.js';

/**
 * The offline approximations of SdI's registry checks (check list v2.0 §4.3), on ordinary
 * (FPR12/FPA12) and simplified (FSM10) invoices, each at its own paths: warnings naming the
 * code SdI would give, and fatturad's advice.
 */

const OK_PIVA: PartyId = { paese: 'IT', codice: '06363391001' };
const OK_PIVA2: PartyId = { paese: 'IT', codice: '00488410010' };
const BAD_PIVA: PartyId = { paese: 'IT', codice: '06363391002' };
const OK_CF = 'RSSMRA85T10A562S';
const BAD_CF = 'RSSMRA85T10A562X';

const ord = (o: Invoice = {}): string =>
  invoice({ trasmittente: OK_PIVA.codice, cedente: OK_PIVA, cessionario: OK_PIVA2, ...o });
const fsm = (o: Semplificata = {}): string =>
  semplificata({ trasmittente: OK_PIVA.codice, cedente: OK_PIVA, cessionario: OK_PIVA2, ...o });

const OH = '/FatturaElettronica/FatturaElettronicaHeader';
const SH = '/FatturaElettronicaSemplificata/FatturaElettronicaHeader';

function registry(xml: string, o: { received?: boolean } = {}) {
  const p = parseXml(Buffer.from(xml));
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  return runChecks(p.root, { now: NOW, ...o }, REGISTRY_CHECKS);
}

type Row = [label: string, xml: string, fails: { path: string; at: string } | null];

/** Rows of one registry code: absent when `fails` is null, else once, as a warning, at the path and line. */
function rows(code: string, list: Row[]): void {
  it.each(list)('%s', (_label, xml, fails) => {
    expect(structure(xml), 'schema-valid fixture').toEqual([]);
    const r = registry(xml);
    expect(r.errors).toEqual([]);
    const found = r.warnings.filter((f) => f.code === code);
    if (!fails) return expect(found).toEqual([]);
    expect(found).toHaveLength(1);
    expect(found[0]?.path).toBe(fails.path);
    expect(found[0]?.line).toBe(lineOf(xml, fails.at));
    expect(found[0]?.messageIt).toMatch(/[a-z]/);
  });
}

describe('valid identifiers', () => {
  it.each([
    ['ordinary', ord()],
    ['simplified (FSM10)', fsm()],
  ])('%s: no warning, no note', (_l, xml) => {
    expect(structure(xml)).toEqual([]);
    expect(registry(xml)).toEqual({ errors: [], warnings: [], info: [] });
  });
});

describe("00300: the trasmittente's IdCodice (IT) is not a valid codice fiscale", () =>
  rows('00300', [
    ['ordinary, valid', ord(), null],
    [
      'ordinary, wrong check digit',
      ord({ trasmittente: '06363391002' }),
      { path: `${OH}/DatiTrasmissione/IdTrasmittente/IdCodice`, at: '<IdCodice>06363391002' },
    ],
    ['FSM10, valid', fsm(), null],
    [
      'FSM10, wrong check digit',
      fsm({ trasmittente: '06363391002' }),
      { path: `${SH}/DatiTrasmissione/IdTrasmittente/IdCodice`, at: '<IdCodice>06363391002' },
    ],
  ]));

describe("00301: the cedente's partita IVA has a wrong check digit or office code", () =>
  rows('00301', [
    [
      'ordinary',
      ord({ cedente: BAD_PIVA }),
      { path: `${OH}/CedentePrestatore/DatiAnagrafici/IdFiscaleIVA/IdCodice`, at: '<IdCodice>06363391002' },
    ],
    [
      'FSM10: CedentePrestatore/IdFiscaleIVA',
      fsm({ cedente: BAD_PIVA }),
      { path: `${SH}/CedentePrestatore/IdFiscaleIVA/IdCodice`, at: '<IdCodice>06363391002' },
    ],
    [
      'FSM10, a foreign cedente is not checked',
      fsm({ cedente: { paese: 'FR', codice: '06363391002' } }),
      null,
    ],
  ]));

describe("00302: the cedente's codice fiscale is not valid", () =>
  rows('00302', [
    ['ordinary, valid', ord({ cedenteCF: OK_CF }), null],
    [
      'ordinary',
      ord({ cedenteCF: BAD_CF }),
      { path: `${OH}/CedentePrestatore/DatiAnagrafici/CodiceFiscale`, at: `<CodiceFiscale>${BAD_CF}` },
    ],
    ['FSM10, valid', fsm({ cedenteCF: OK_CF }), null],
    [
      'FSM10: CedentePrestatore/CodiceFiscale',
      fsm({ cedenteCF: BAD_CF }),
      { path: `${SH}/CedentePrestatore/CodiceFiscale`, at: `<CodiceFiscale>${BAD_CF}` },
    ],
  ]));

describe("00303: a rappresentante fiscale's partita IVA is not valid", () =>
  rows('00303', [
    ['ordinary, valid', ord({ rappresentante: { id: OK_PIVA2 } }), null],
    [
      'ordinary',
      ord({ rappresentante: { id: BAD_PIVA } }),
      {
        path: `${OH}/RappresentanteFiscale/DatiAnagrafici/IdFiscaleIVA/IdCodice`,
        at: '<IdCodice>06363391002',
      },
    ],
    ['FSM10, valid', fsm({ rappresentante: OK_PIVA2 }), null],
    [
      'FSM10: CedentePrestatore/RappresentanteFiscale',
      fsm({ rappresentante: BAD_PIVA }),
      {
        path: `${SH}/CedentePrestatore/RappresentanteFiscale/IdFiscaleIVA/IdCodice`,
        at: '<IdCodice>06363391002',
      },
    ],
  ]));

describe("00304: the rappresentante fiscale's codice fiscale is not valid (FSM10 has none)", () =>
  rows('00304', [
    ['ordinary, valid', ord({ rappresentante: { id: OK_PIVA2, cf: OK_CF } }), null],
    [
      'ordinary',
      ord({ rappresentante: { id: OK_PIVA2, cf: BAD_CF } }),
      { path: `${OH}/RappresentanteFiscale/DatiAnagrafici/CodiceFiscale`, at: `<CodiceFiscale>${BAD_CF}` },
    ],
  ]));

describe("00305: the cessionario's partita IVA is not valid", () =>
  rows('00305', [
    [
      'ordinary',
      ord({ cessionario: BAD_PIVA }),
      {
        path: `${OH}/CessionarioCommittente/DatiAnagrafici/IdFiscaleIVA/IdCodice`,
        at: '<IdCodice>06363391002',
      },
    ],
    [
      'FSM10: CessionarioCommittente/IdentificativiFiscali/IdFiscaleIVA',
      fsm({ cessionario: BAD_PIVA }),
      {
        path: `${SH}/CessionarioCommittente/IdentificativiFiscali/IdFiscaleIVA/IdCodice`,
        at: '<IdCodice>06363391002',
      },
    ],
  ]));

describe("00306: the cessionario's codice fiscale is not valid", () =>
  rows('00306', [
    ['ordinary, valid', ord({ cessionario: null, cessionarioCF: OK_CF }), null],
    [
      'ordinary',
      ord({ cessionario: null, cessionarioCF: BAD_CF }),
      { path: `${OH}/CessionarioCommittente/DatiAnagrafici/CodiceFiscale`, at: `<CodiceFiscale>${BAD_CF}` },
    ],
    ['FSM10, valid', fsm({ cessionario: null, cessionarioCF: OK_CF }), null],
    [
      'FSM10: CessionarioCommittente/IdentificativiFiscali/CodiceFiscale',
      fsm({ cessionario: null, cessionarioCF: BAD_CF }),
      {
        path: `${SH}/CessionarioCommittente/IdentificativiFiscali/CodiceFiscale`,
        at: `<CodiceFiscale>${BAD_CF}`,
      },
    ],
  ]));

describe('00311: a CodiceDestinatario that is not of the form SdI or IPA assigns', () => {
  // The schemas already refuse lower case ([A-Z0-9]{6,7}, FSM10 [A-Z0-9]{7}): the check reads
  // a tree that structure.ts has passed, so it is tested on the tree directly.
  it.each([
    ['FPR12 ABC1234', ord(), false],
    ['FPR12 abc1234', ord({ codiceDestinatario: 'abc1234' }), true],
    ['FPA12 UFABCD', ord({ formato: 'FPA12', codiceDestinatario: 'UFABCD' }), false],
    ['FPA12 ufabcd', ord({ formato: 'FPA12', codiceDestinatario: 'ufabcd' }), true],
    ['FSM10 ABC1234', fsm(), false],
    ['FSM10 abc1234', fsm({ codiceDestinatario: 'abc1234' }), true],
  ])('%s', (_l, xml, fails) => {
    expect(registry(xml).warnings.some((f) => f.code === '00311')).toBe(fails);
  });
});

describe('00313: CodiceDestinatario XXXXXXX for a buyer without a foreign IdFiscaleIVA', () =>
  rows('00313', [
    [
      'ordinary, Italian buyer',
      ord({ codiceDestinatario: 'XXXXXXX' }),
      { path: `${OH}/DatiTrasmissione/CodiceDestinatario`, at: '<CodiceDestinatario>' },
    ],
    [
      'ordinary, French buyer',
      ord({ codiceDestinatario: 'XXXXXXX', cessionario: { paese: 'FR', codice: '12345' } }),
      null,
    ],
    [
      'FSM10, Italian buyer',
      fsm({ codiceDestinatario: 'XXXXXXX' }),
      { path: `${SH}/DatiTrasmissione/CodiceDestinatario`, at: '<CodiceDestinatario>' },
    ],
    [
      'FSM10, French buyer',
      fsm({ codiceDestinatario: 'XXXXXXX', cessionario: { paese: 'FR', codice: '12345' } }),
      null,
    ],
    [
      'FSM10, a buyer with only a codice fiscale',
      fsm({ codiceDestinatario: 'XXXXXXX', cessionario: null, cessionarioCF: OK_CF }),
      { path: `${SH}/DatiTrasmissione/CodiceDestinatario`, at: '<CodiceDestinatario>' },
    ],
  ]));

describe("00330: PECDestinatario is one of SdI's own mailboxes", () =>
  rows('00330', [
    [
      'ordinary, a buyer mailbox',
      ord({ codiceDestinatario: '0000000', pecDestinatario: 'beta@pec.example.it' }),
      null,
    ],
    [
      'ordinary, sdi01@pec.fatturapa.it',
      ord({ codiceDestinatario: '0000000', pecDestinatario: 'sdi01@pec.fatturapa.it' }),
      { path: `${OH}/DatiTrasmissione/PECDestinatario`, at: '<PECDestinatario>' },
    ],
    [
      'FSM10, sdi12@pec.fatturapa.it',
      fsm({ codiceDestinatario: '0000000', pecDestinatario: 'sdi12@pec.fatturapa.it' }),
      { path: `${SH}/DatiTrasmissione/PECDestinatario`, at: '<PECDestinatario>' },
    ],
  ]));

describe('PEC-DESTINATARIO-IGNORED: a PECDestinatario with a CodiceDestinatario other than 0000000', () =>
  rows('PEC-DESTINATARIO-IGNORED', [
    [
      'ordinary, 0000000 with PEC',
      ord({ codiceDestinatario: '0000000', pecDestinatario: 'beta@pec.example.it' }),
      null,
    ],
    [
      'ordinary, a code with PEC',
      ord({ pecDestinatario: 'beta@pec.example.it' }),
      { path: `${OH}/DatiTrasmissione/PECDestinatario`, at: '<PECDestinatario>' },
    ],
    [
      'FSM10, a code with PEC',
      fsm({ pecDestinatario: 'beta@pec.example.it' }),
      { path: `${SH}/DatiTrasmissione/PECDestinatario`, at: '<PECDestinatario>' },
    ],
  ]));

describe('RECIPIENT-RESERVED-AREA: CodiceDestinatario 0000000 without PECDestinatario is a note, not a warning', () => {
  it.each([
    ['ordinary', ord({ codiceDestinatario: '0000000' }), `${OH}/DatiTrasmissione/CodiceDestinatario`],
    ['FSM10', fsm({ codiceDestinatario: '0000000' }), `${SH}/DatiTrasmissione/CodiceDestinatario`],
  ])('%s: one note, no warning', (_l, xml, path) => {
    const r = registry(xml);
    expect(r.warnings).toEqual([]);
    expect(r.info.map((f) => f.code)).toEqual(['RECIPIENT-RESERVED-AREA']);
    expect(r.info[0]?.path).toBe(path);
  });

  it('says that SdI delivers to the channel the buyer registered, in English and Italian', () => {
    const [n] = registry(ord({ codiceDestinatario: '0000000' })).info;
    expect(n?.message).toMatch(/channel the buyer registered with SdI/);
    expect(n?.message).toMatch(/reserved area/);
    expect(n?.messageIt).toMatch(/canale che il cessionario ha registrato presso lo SdI/);
    expect(n?.messageIt).toMatch(/area riservata/);
  });

  it('never on a received invoice', () => {
    expect(registry(ord({ codiceDestinatario: '0000000' }), { received: true })).toEqual({
      errors: [],
      warnings: [],
      info: [],
    });
  });

  it('reaches validateFile as info, apart from warnings; not with received: true', async () => {
    const bytes = Buffer.from(ord({ codiceDestinatario: '0000000' }));
    const sent = await validateFile('IT06363391001_00001.xml', bytes, { now: NOW });
    expect(sent.valid).toBe(true);
    expect(sent.warnings).toEqual([]);
    expect(sent.info.map((f) => [f.code, f.field])).toEqual([
      ['RECIPIENT-RESERVED-AREA', '1.1.4 CodiceDestinatario'],
    ]);
    const received = await validateFile('IT06363391001_00001.xml', bytes, { now: NOW, received: true });
    expect([...received.errors, ...received.warnings, ...received.info]).toEqual([]);
  });
});

describe('FSM10 registry warnings reach the validation result, with the field of the FSM10 model', () => {
  it('a simplified invoice with a wrong cedente partita IVA is valid with a 00301 warning', async () => {
    const r = await validateFile('IT06363391001_00001.xml', Buffer.from(fsm({ cedente: BAD_PIVA })), {
      now: NOW,
    });
    expect(r.valid).toBe(true);
    expect(r.warnings.map((w) => w.code)).toEqual(['00301']);
    expect(r.warnings[0]?.field).toMatch(/IdCodice$/);
  });
});
