import { describe, expect, it } from 'vitest';
import { parseXml } from '../../src/invoice/xml.js';
import { checkContent } from '../../src/rules/sdi/engine.js';
import { validateStructure } from '../../src/rules/structure.js';

/**
 * SdI's content checks (sdi-spec section 4.2), one table per code: each quotes the condition and
 * has passing and failing cases, at and just beyond the tolerance where there is one. Invoices
 * are built from a small description, so each case shows only what it changes.
 */

interface Line {
  prezzoUnitario?: string;
  quantita?: string;
  prezzoTotale: string;
  aliquota: string;
  natura?: string;
  ritenuta?: boolean;
  sconti?: { tipo: 'SC' | 'MG'; percentuale?: string; importo?: string }[];
}
interface Riepilogo {
  aliquota: string;
  natura?: string;
  imponibile: string;
  imposta: string;
  esigibilita?: string;
  arrotondamento?: string;
}
interface Cassa {
  aliquota: string;
  importo: string;
  natura?: string;
  ritenuta?: boolean;
}
interface Body {
  tipo?: string;
  data?: string;
  numero?: string;
  lines?: Line[];
  riepilogo?: Riepilogo[];
  cassa?: Cassa[];
  ritenuta?: boolean;
  sconto?: { tipo: 'SC' | 'MG'; percentuale?: string; importo?: string };
  collegata?: string;
}
interface Invoice {
  versione?: string;
  formato?: string;
  codiceDestinatario?: string;
  cedente?: [string, string];
  /** [IdPaese, IdCodice] of the cessionario's IdFiscaleIVA; null: none. */
  cessionario?: [string, string] | null;
  cessionarioCF?: string | null;
  bodies?: Body[];
}

const LINE: Line = { prezzoUnitario: '100.00', quantita: '1.00', prezzoTotale: '100.00', aliquota: '22.00' };
const RIEPILOGO: Riepilogo = { aliquota: '22.00', imponibile: '100.00', imposta: '22.00' };

const opt = (name: string, v: string | undefined): string =>
  v === undefined ? '' : `<${name}>${v}</${name}>`;
const sm = (s: { tipo: string; percentuale?: string; importo?: string }): string =>
  `<ScontoMaggiorazione><Tipo>${s.tipo}</Tipo>${opt('Percentuale', s.percentuale)}${opt('Importo', s.importo)}</ScontoMaggiorazione>`;

function body(b: Body): string {
  const lines = (b.lines ?? [LINE])
    .map(
      (l, i) =>
        `<DettaglioLinee><NumeroLinea>${i + 1}</NumeroLinea><Descrizione>Articolo</Descrizione>${opt('Quantita', l.quantita)}` +
        `<PrezzoUnitario>${l.prezzoUnitario ?? l.prezzoTotale}</PrezzoUnitario>${(l.sconti ?? []).map(sm).join('')}` +
        `<PrezzoTotale>${l.prezzoTotale}</PrezzoTotale><AliquotaIVA>${l.aliquota}</AliquotaIVA>` +
        `${l.ritenuta ? '<Ritenuta>SI</Ritenuta>' : ''}${opt('Natura', l.natura)}</DettaglioLinee>`,
    )
    .join('');
  const riep = (b.riepilogo ?? [RIEPILOGO])
    .map(
      (r) =>
        `<DatiRiepilogo><AliquotaIVA>${r.aliquota}</AliquotaIVA>${opt('Natura', r.natura)}${opt('Arrotondamento', r.arrotondamento)}` +
        `<ImponibileImporto>${r.imponibile}</ImponibileImporto><Imposta>${r.imposta}</Imposta>${opt('EsigibilitaIVA', r.esigibilita)}</DatiRiepilogo>`,
    )
    .join('');
  const ritenuta = b.ritenuta
    ? '<DatiRitenuta><TipoRitenuta>RT01</TipoRitenuta><ImportoRitenuta>20.00</ImportoRitenuta><AliquotaRitenuta>20.00</AliquotaRitenuta><CausalePagamento>A</CausalePagamento></DatiRitenuta>'
    : '';
  const cassa = (b.cassa ?? [])
    .map(
      (c) =>
        `<DatiCassaPrevidenziale><TipoCassa>TC22</TipoCassa><AlCassa>4.00</AlCassa><ImportoContributoCassa>${c.importo}</ImportoContributoCassa>` +
        `<AliquotaIVA>${c.aliquota}</AliquotaIVA>${c.ritenuta ? '<Ritenuta>SI</Ritenuta>' : ''}${opt('Natura', c.natura)}</DatiCassaPrevidenziale>`,
    )
    .join('');
  return (
    `<FatturaElettronicaBody><DatiGenerali><DatiGeneraliDocumento><TipoDocumento>${b.tipo ?? 'TD01'}</TipoDocumento>` +
    `<Divisa>EUR</Divisa><Data>${b.data ?? '2026-01-15'}</Data><Numero>${b.numero ?? '1/2026'}</Numero>` +
    `${ritenuta}${cassa}${b.sconto ? sm(b.sconto) : ''}</DatiGeneraliDocumento>` +
    `${b.collegata ? `<DatiFattureCollegate><IdDocumento>9/2025</IdDocumento><Data>${b.collegata}</Data></DatiFattureCollegate>` : ''}` +
    `</DatiGenerali><DatiBeniServizi>${lines}${riep}</DatiBeniServizi></FatturaElettronicaBody>`
  );
}

function invoice(inv: Invoice = {}): string {
  const [cedPaese, cedCodice] = inv.cedente ?? ['IT', '06363391001'];
  const ces = inv.cessionario === undefined ? (['IT', '00488410010'] as [string, string]) : inv.cessionario;
  const cf = inv.cessionarioCF === undefined ? null : inv.cessionarioCF;
  const formato = inv.formato ?? 'FPR12';
  return (
    `<?xml version="1.0" encoding="UTF-8"?><p:FatturaElettronica xmlns:p="http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2" versione="${inv.versione ?? formato}">` +
    `<FatturaElettronicaHeader><DatiTrasmissione><IdTrasmittente><IdPaese>IT</IdPaese><IdCodice>06363391001</IdCodice></IdTrasmittente>` +
    `<ProgressivoInvio>00001</ProgressivoInvio><FormatoTrasmissione>${formato}</FormatoTrasmissione>` +
    `<CodiceDestinatario>${inv.codiceDestinatario ?? (formato === 'FPA12' ? 'UFABCD' : 'ABC1234')}</CodiceDestinatario></DatiTrasmissione>` +
    `<CedentePrestatore><DatiAnagrafici><IdFiscaleIVA><IdPaese>${cedPaese}</IdPaese><IdCodice>${cedCodice}</IdCodice></IdFiscaleIVA>` +
    `<Anagrafica><Denominazione>ALFA SRL</Denominazione></Anagrafica><RegimeFiscale>RF01</RegimeFiscale></DatiAnagrafici>` +
    `<Sede><Indirizzo>VIALE ROMA 543</Indirizzo><CAP>07100</CAP><Comune>SASSARI</Comune><Provincia>SS</Provincia><Nazione>IT</Nazione></Sede></CedentePrestatore>` +
    `<CessionarioCommittente><DatiAnagrafici>${ces ? `<IdFiscaleIVA><IdPaese>${ces[0]}</IdPaese><IdCodice>${ces[1]}</IdCodice></IdFiscaleIVA>` : ''}` +
    `${cf ? `<CodiceFiscale>${cf}</CodiceFiscale>` : ''}<Anagrafica><Denominazione>BETA SRL</Denominazione></Anagrafica></DatiAnagrafici>` +
    `<Sede><Indirizzo>VIA TORINO 38-B</Indirizzo><CAP>00145</CAP><Comune>ROMA</Comune><Provincia>RM</Provincia><Nazione>IT</Nazione></Sede></CessionarioCommittente>` +
    `</FatturaElettronicaHeader>${(inv.bodies ?? [{}]).map(body).join('')}</p:FatturaElettronica>`
  );
}

const NOW = new Date('2026-03-01T12:00:00Z');

function codes(xml: string): string[] {
  const p = parseXml(Buffer.from(xml));
  if (!p.ok) throw new Error(`test invoice does not parse: ${p.errors[0]?.message}`);
  return checkContent(p.root, { now: NOW }).map((f) => f.code);
}

type Case = [label: string, inv: Invoice, fails: boolean];
const one = (b: Body, extra: Invoice = {}): Invoice => ({ ...extra, bodies: [b] });

function table(code: string, condition: string, cases: Case[]): void {
  describe(`${code}: ${condition}`, () => {
    it.each(cases)('%s', (_label, inv, fails) => {
      const found = codes(invoice(inv));
      if (fails) expect(found).toContain(code);
      else expect(found).not.toContain(code);
    });
  });
}

describe('the builder', () => {
  it('makes a structurally valid invoice with no content finding', () => {
    const p = parseXml(Buffer.from(invoice()));
    expect(p.ok && validateStructure(p.root)).toEqual([]);
    expect(codes(invoice())).toEqual([]);
  });
  it('findings carry the path and line of the field', () => {
    const p = parseXml(Buffer.from(invoice(one({ riepilogo: [{ ...RIEPILOGO, imposta: '23.00' }] }))));
    if (!p.ok) throw new Error('parse');
    const f = checkContent(p.root, { now: NOW }).find((x) => x.code === '00421');
    expect(f?.path).toBe('/FatturaElettronica/FatturaElettronicaBody/DatiBeniServizi/DatiRiepilogo/Imposta');
    expect(f?.line).toBe(1);
    expect(f?.message).toMatch(/22\.00/);
    expect(f?.messageIt).toBeTruthy();
  });
});

const zeroLine: Line = { prezzoTotale: '100.00', aliquota: '0.00', natura: 'N2.2' };
const zeroRiep: Riepilogo = { aliquota: '0.00', natura: 'N2.2', imponibile: '100.00', imposta: '0.00' };

table('00400', 'a line with AliquotaIVA 0 must give Natura', [
  ['rate 0 with Natura', one({ lines: [zeroLine], riepilogo: [zeroRiep] }), false],
  [
    'rate 0 without Natura',
    one({ lines: [{ ...zeroLine, natura: undefined }], riepilogo: [zeroRiep] }),
    true,
  ],
]);
table('00401', 'a line with AliquotaIVA other than 0 must not give Natura', [
  ['rate 22 without Natura', one({}), false],
  ['rate 22 with Natura', one({ lines: [{ ...LINE, natura: 'N2.2' }] }), true],
]);
table('00413', 'a cassa with AliquotaIVA 0 must give Natura', [
  ['with Natura', one({ cassa: [{ aliquota: '0.00', importo: '4.00', natura: 'N2.2' }] }), false],
  ['without Natura', one({ cassa: [{ aliquota: '0.00', importo: '4.00' }] }), true],
]);
table('00414', 'a cassa with AliquotaIVA other than 0 must not give Natura', [
  ['without Natura', one({ cassa: [{ aliquota: '22.00', importo: '4.00' }] }), false],
  ['with Natura', one({ cassa: [{ aliquota: '22.00', importo: '4.00', natura: 'N2.2' }] }), true],
]);
table('00429', 'a DatiRiepilogo with AliquotaIVA 0 must give Natura', [
  ['with Natura', one({ lines: [zeroLine], riepilogo: [zeroRiep] }), false],
  ['without Natura', one({ lines: [zeroLine], riepilogo: [{ ...zeroRiep, natura: undefined }] }), true],
]);
table('00430', 'a DatiRiepilogo with AliquotaIVA other than 0 must not give Natura', [
  ['without Natura', one({}), false],
  ['with Natura', one({ riepilogo: [{ ...RIEPILOGO, natura: 'N2.2' }] }), true],
]);
table('00403', 'the document date must not be after the day SdI receives the file', [
  ['yesterday', one({ data: '2026-02-28' }), false],
  ['today', one({ data: '2026-03-01' }), false],
  ['tomorrow', one({ data: '2026-03-02' }), true],
]);
table('00411', 'a line with Ritenuta SI needs DatiRitenuta', [
  ['Ritenuta SI with DatiRitenuta', one({ lines: [{ ...LINE, ritenuta: true }], ritenuta: true }), false],
  ['Ritenuta SI without DatiRitenuta', one({ lines: [{ ...LINE, ritenuta: true }] }), true],
]);
table('00415', 'a cassa with Ritenuta SI needs DatiRitenuta', [
  [
    'with DatiRitenuta',
    one({ cassa: [{ aliquota: '22.00', importo: '4.00', ritenuta: true }], ritenuta: true }),
    false,
  ],
  ['without DatiRitenuta', one({ cassa: [{ aliquota: '22.00', importo: '4.00', ritenuta: true }] }), true],
]);
table('00417', 'the cessionario needs IdFiscaleIVA or CodiceFiscale', [
  ['IdFiscaleIVA only', {}, false],
  ['CodiceFiscale only', { cessionario: null, cessionarioCF: 'RSSMRA85T10A562S' }, false],
  ['neither', { cessionario: null }, true],
]);
table('00418', 'a credit note (TD04) must not be dated before the invoice it corrects', [
  ['after', one({ tipo: 'TD04', data: '2026-01-15', collegata: '2026-01-10' }), false],
  ['same day', one({ tipo: 'TD04', data: '2026-01-15', collegata: '2026-01-15' }), false],
  ['one day before', one({ tipo: 'TD04', data: '2026-01-15', collegata: '2026-01-16' }), true],
  ['not a credit note', one({ tipo: 'TD01', data: '2026-01-15', collegata: '2026-01-16' }), false],
]);
table('00419', 'there must be a DatiRiepilogo for every rate of the lines and the cassa', [
  [
    'two rates, two summaries',
    one({
      lines: [LINE, { prezzoTotale: '10.00', aliquota: '10.00' }],
      riepilogo: [RIEPILOGO, { aliquota: '10.00', imponibile: '10.00', imposta: '1.00' }],
    }),
    false,
  ],
  ['two rates, one summary', one({ lines: [LINE, { prezzoTotale: '10.00', aliquota: '10.00' }] }), true],
]);
table('00420', 'split payment (EsigibilitaIVA S) is not allowed with reverse charge (Natura N6.x)', [
  ['S with N2.2', one({ lines: [zeroLine], riepilogo: [{ ...zeroRiep, esigibilita: 'S' }] }), false],
  [
    'S with N6.1',
    one({
      lines: [{ ...zeroLine, natura: 'N6.1' }],
      riepilogo: [{ ...zeroRiep, natura: 'N6.1', esigibilita: 'S' }],
    }),
    true,
  ],
]);
const imposta = (v: string): Invoice => one({ riepilogo: [{ ...RIEPILOGO, imposta: v }] });
table('00421', 'Imposta = ImponibileImporto × AliquotaIVA / 100, tolerance 0.01', [
  ['exact (22.00)', imposta('22.00'), false],
  ['+0.01, at the tolerance', imposta('22.01'), false],
  ['-0.01, at the tolerance', imposta('21.99'), false],
  ['+0.02, beyond', imposta('22.02'), true],
  ['-0.02, beyond', imposta('21.98'), true],
]);
const imponibile = (v: string, arrotondamento?: string): Invoice =>
  one({
    riepilogo: [{ ...RIEPILOGO, imponibile: v, imposta: (Number(v) * 0.22).toFixed(2), arrotondamento }],
  });
table('00422', 'per rate, ImponibileImporto = Σ PrezzoTotale + Σ cassa + Arrotondamento, tolerance 1.00', [
  ['exact', imponibile('100.00'), false],
  ['+1.00, at the tolerance', imponibile('101.00'), false],
  ['-1.00, at the tolerance', imponibile('99.00'), false],
  ['+1.01, beyond', imponibile('101.01'), true],
  ['-1.01, beyond', imponibile('98.99'), true],
  ['+5.00 explained by Arrotondamento 5.00', imponibile('105.00', '5.00'), false],
  [
    'the cassa counts',
    one({
      cassa: [{ aliquota: '22.00', importo: '4.00' }],
      riepilogo: [{ ...RIEPILOGO, imponibile: '104.00', imposta: '22.88' }],
    }),
    false,
  ],
]);
// 10.00 less 10 % = 9.00, less 5 % in cascade = 8.55, × 3 = 25.65 (not 10.00 less 15 % = 8.50 → 25.50).
const cascade = (totale: string): Invoice =>
  one({
    lines: [
      {
        prezzoUnitario: '10.00',
        quantita: '3.00',
        prezzoTotale: totale,
        aliquota: '22.00',
        sconti: [
          { tipo: 'SC', percentuale: '10.00' },
          { tipo: 'SC', percentuale: '5.00' },
        ],
      },
    ],
    riepilogo: [{ ...RIEPILOGO, imponibile: totale, imposta: (Number(totale) * 0.22).toFixed(2) }],
  });
table('00423', 'PrezzoTotale = PrezzoUnitario with discounts in cascade × Quantita, tolerance 0.01', [
  ['exact (25.65)', cascade('25.65'), false],
  ['+0.01, at the tolerance', cascade('25.66'), false],
  ['+0.02, beyond', cascade('25.67'), true],
  ['discounts added instead of cascaded (25.50)', cascade('25.50'), true],
  [
    'a markup by amount',
    one({
      lines: [
        {
          prezzoUnitario: '10.00',
          quantita: '2.00',
          prezzoTotale: '22.00',
          aliquota: '22.00',
          sconti: [{ tipo: 'MG', importo: '1.00' }],
        },
      ],
      riepilogo: [{ ...RIEPILOGO, imponibile: '22.00', imposta: '4.84' }],
    }),
    false,
  ],
  [
    'no Quantita: PrezzoTotale = PrezzoUnitario',
    one({ lines: [{ prezzoTotale: '100.00', prezzoUnitario: '100.00', aliquota: '22.00' }] }),
    false,
  ],
]);
table('00424', 'AliquotaIVA is a percentage, not a fraction (0.22 for 22 %)', [
  ['22.00', one({}), false],
  [
    '0.22',
    one({
      lines: [{ ...LINE, aliquota: '0.22' }],
      riepilogo: [{ ...RIEPILOGO, aliquota: '0.22', imposta: '0.22' }],
    }),
    true,
  ],
]);
table('00425', 'the invoice Numero must contain at least one digit', [
  ['1/2026', one({ numero: '1/2026' }), false],
  ['A1', one({ numero: 'A1' }), false],
  ['ABC', one({ numero: 'ABC' }), true],
]);
table('00427', 'CodiceDestinatario: 7 characters for FPR12, 6 for FPA12', [
  ['FPR12 with 7', { codiceDestinatario: 'ABC1234' }, false],
  ['FPR12 with 6', { codiceDestinatario: 'UFABCD' }, true],
  ['FPA12 with 6', { formato: 'FPA12', codiceDestinatario: 'UFABCD' }, false],
  ['FPA12 with 7', { formato: 'FPA12', codiceDestinatario: 'ABC1234' }, true],
]);
table('00428', 'FormatoTrasmissione must match the versione attribute', [
  ['both FPR12', {}, false],
  [
    'versione FPR12, FormatoTrasmissione FPA12',
    { versione: 'FPR12', formato: 'FPA12', codiceDestinatario: 'UFABCD' },
    true,
  ],
]);
table('00437', 'a document ScontoMaggiorazione needs Percentuale or Importo', [
  ['with Percentuale', one({ sconto: { tipo: 'SC', percentuale: '5.00' } }), false],
  ['with Importo', one({ sconto: { tipo: 'SC', importo: '5.00' } }), false],
  ['with neither', one({ sconto: { tipo: 'SC' } }), true],
]);
table('00438', 'a line ScontoMaggiorazione needs Percentuale or Importo', [
  [
    'with Importo',
    one({ lines: [{ ...LINE, prezzoUnitario: '105.00', sconti: [{ tipo: 'SC', importo: '5.00' }] }] }),
    false,
  ],
  ['with neither', one({ lines: [{ ...LINE, sconti: [{ tipo: 'SC' }] }] }), true],
]);
table('00443', 'every AliquotaIVA of the lines and the cassa must appear in DatiRiepilogo', [
  ['present', one({}), false],
  [
    'a line at 10 % with only a 22 % summary',
    one({ lines: [LINE, { prezzoTotale: '1.00', aliquota: '10.00' }] }),
    true,
  ],
  [
    'a cassa at 10 % with only a 22 % summary',
    one({ cassa: [{ aliquota: '10.00', importo: '1.00' }] }),
    true,
  ],
]);
table('00444', 'every Natura of the lines and the cassa must appear in DatiRiepilogo', [
  ['present', one({ lines: [zeroLine], riepilogo: [zeroRiep] }), false],
  [
    'a line N3.1 with only an N2.2 summary',
    one({ lines: [zeroLine, { ...zeroLine, natura: 'N3.1' }], riepilogo: [zeroRiep] }),
    true,
  ],
]);
table('00445', 'the generic Natura N2, N3, N6 are no longer allowed (use N2.1, N3.1, N6.1 ...)', [
  ['N2.2', one({ lines: [zeroLine], riepilogo: [zeroRiep] }), false],
  ['N2', one({ lines: [{ ...zeroLine, natura: 'N2' }], riepilogo: [{ ...zeroRiep, natura: 'N2' }] }), true],
  ['N6 in the summary', one({ lines: [zeroLine], riepilogo: [{ ...zeroRiep, natura: 'N6' }] }), true],
]);
const same: Invoice = { cedente: ['IT', '06363391001'], cessionario: ['IT', '06363391001'] };
table('00471', 'TD16-TD19, TD20, TD29: cedente and cessionario must differ', [
  ['TD17, different', one({ tipo: 'TD17' }, { cedente: ['FR', '12345678901'] }), false],
  ['TD16, the same', one({ tipo: 'TD16' }, same), true],
  ['TD20, the same', one({ tipo: 'TD20' }, same), true],
  ['TD01, the same', one({ tipo: 'TD01' }, same), false],
]);
table('00472', 'TD21 (splafonamento): cedente and cessionario must be the same', [
  ['the same', one({ tipo: 'TD21' }, same), false],
  ['different', one({ tipo: 'TD21' }), true],
]);
table('00473', 'TD17-TD19, TD28: the cedente must not be Italian; TD29: it must be', [
  ['TD17 from FR', one({ tipo: 'TD17' }, { cedente: ['FR', '12345678901'] }), false],
  ['TD17 from IT', one({ tipo: 'TD17' }), true],
  ['TD28 from IT', one({ tipo: 'TD28' }), true],
  ['TD29 from IT', one({ tipo: 'TD29' }), false],
  ['TD29 from FR', one({ tipo: 'TD29' }, { cedente: ['FR', '12345678901'] }), true],
]);
table('00474', 'TD21: no line may have AliquotaIVA 0', [
  ['22 %', one({ tipo: 'TD21' }, same), false],
  ['a zero rate', one({ tipo: 'TD21', lines: [zeroLine], riepilogo: [zeroRiep] }, same), true],
]);
table('00475', 'TD16-TD20, TD22, TD23, TD28, TD29: the cessionario IdFiscaleIVA is required', [
  ['TD22 with it', one({ tipo: 'TD22' }), false],
  ['TD22 without it', one({ tipo: 'TD22' }, { cessionario: null, cessionarioCF: 'RSSMRA85T10A562S' }), true],
  ['TD01 without it', one({ tipo: 'TD01' }, { cessionario: null, cessionarioCF: 'RSSMRA85T10A562S' }), false],
]);
table('00476', 'cedente and cessionario cannot both be foreign', [
  ['foreign cedente, Italian cessionario', { cedente: ['FR', '12345678901'] }, false],
  ['both foreign', { cedente: ['FR', '12345678901'], cessionario: ['DE', '123456789'] }, true],
]);
table('00409', 'the same invoice (cedente, number, year) twice in one lotto', [
  ['two numbers', { bodies: [{ numero: '1' }, { numero: '2' }] }, false],
  ['same number, another year', { bodies: [{ numero: '1', data: '2025-12-31' }, { numero: '1' }] }, false],
  ['same number and year', { bodies: [{ numero: '1' }, { numero: '1', data: '2026-02-01' }] }, true],
  [
    'a credit note with the number of an invoice',
    { bodies: [{ numero: '1' }, { numero: '1', tipo: 'TD04' }] },
    false,
  ],
]);

describe('00460: a simplified invoice (FSM10) cannot exceed EUR 400 (except RF19/RF20)', () => {
  const fsm = (importo: string, regime = 'RF01'): string =>
    `<?xml version="1.0"?><p:FatturaElettronicaSemplificata xmlns:p="http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.0" versione="FSM10">` +
    `<FatturaElettronicaHeader><CedentePrestatore><RegimeFiscale>${regime}</RegimeFiscale></CedentePrestatore></FatturaElettronicaHeader>` +
    `<FatturaElettronicaBody><DatiBeniServizi><Descrizione>a</Descrizione><Importo>${importo}</Importo></DatiBeniServizi></FatturaElettronicaBody>` +
    `</p:FatturaElettronicaSemplificata>`;
  it.each([
    ['400.00', 'RF01', false],
    ['400.01', 'RF01', true],
    ['900.00', 'RF20', false],
  ])('total %s, regime %s → fails %s', (importo, regime, fails) => {
    const found = codes(fsm(importo, regime));
    expect(found.includes('00460')).toBe(fails);
  });
});
