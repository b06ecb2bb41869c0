import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseXml, type XmlElement } from '../../src/invoice/xml.js';
import { fieldLabel, modelFor, MODELS } from '../../src/invoice/model/index.js';
import { validateStructure } from '../../src/rules/structure.js';
import { EX, exampleText, specPath } from '../helpers/spec.js';

/** The official samples (oracles, when the spec files are there: test/helpers/spec.ts). */
const SAMPLES = specPath('fatturapa', 'samples');
const sample = (name: string): string => readFileSync(path.join(SAMPLES as string, name), 'utf8');
/** The base of the targeted mutations: the project's B2B example. */
const FPR12 = exampleText(EX.b2b);

function check(xml: string) {
  const r = parseXml(Buffer.from(xml, 'utf8'));
  if (!r.ok) throw new Error(`parse failed: ${JSON.stringify(r.errors)}`);
  return validateStructure(r.root);
}

function mutate(from: string, to: string, base = FPR12): string {
  expect(base.includes(from), `example contains ${from}`).toBe(true);
  return base.replace(from, to);
}

const SIGNATURE =
  '<ds:Signature Id="s1"><ds:SignedInfo>' +
  '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>' +
  '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>' +
  '<ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms>' +
  '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference>' +
  '</ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue>' +
  '<ds:KeyInfo><ds:X509Data><ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data></ds:KeyInfo>' +
  '<ds:Object><xades:QualifyingProperties xmlns:xades="http://uri.etsi.org/01903/v1.3.2#" Target="#s1">' +
  '<xades:SignedProperties Id="sp"/></xades:QualifyingProperties></ds:Object></ds:Signature>';
const signed = (sig: string): string => mutate('</p:FatturaElettronica>', `${sig}</p:FatturaElettronica>`);

describe("the project's examples", () => {
  it.each([EX.b2b, EX.pa, EX.lotto, EX.semplificata, EX.invalid])('%s is valid', (name) => {
    expect(check(exampleText(name))).toEqual([]);
  });

  it('the B2B example with PECDestinatario before ContattiTrasmittente is invalid (as the official FPR02)', () => {
    const pec = '      <PECDestinatario>fatture@pec.example.it</PECDestinatario>\n';
    const out = check(mutate('      <ContattiTrasmittente>', `${pec}      <ContattiTrasmittente>`));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({
      code: '00200',
      field: '1.1.5 ContattiTrasmittente',
      path: '/FatturaElettronica/FatturaElettronicaHeader/DatiTrasmissione/ContattiTrasmittente',
      line: 13,
    });
    expect(out[0]?.message).toContain('out of order');
    expect(out[0]?.messageIt).toContain('fuori posizione');
  });
});

describe.skipIf(!SAMPLES)('official samples', () => {
  it.each(['FPA01', 'FPA02', 'FPA03', 'FPR01', 'FPR03'])('IT01234567890_%s is valid', (n) => {
    expect(check(sample(`IT01234567890_${n}.xml`))).toEqual([]);
  });

  it('IT01234567890_FPR02 is invalid: ContattiTrasmittente after PECDestinatario', () => {
    const out = check(sample('IT01234567890_FPR02.xml'));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({
      code: '00200',
      field: '1.1.5 ContattiTrasmittente',
      path: '/FatturaElettronica/FatturaElettronicaHeader/DatiTrasmissione/ContattiTrasmittente',
      line: 16,
    });
    expect(out[0]?.message).toContain('out of order');
    expect(out[0]?.messageIt).toContain('fuori posizione');
  });
});

interface Case {
  name: string;
  from: string;
  to: string;
  field?: string;
  path?: string;
  line?: number;
  message?: string;
}

const BODY = '/FatturaElettronica/FatturaElettronicaBody';
const DGD = `${BODY}/DatiGenerali/DatiGeneraliDocumento`;
const LINEA = `${BODY}/DatiBeniServizi/DettaglioLinee`;

const invalid: Case[] = [
  {
    name: 'decimals',
    from: '<PrezzoTotale>520.00',
    to: '<PrezzoTotale>12.3',
    field: '2.2.1.11 PrezzoTotale',
    path: `${LINEA}[1]/PrezzoTotale`,
    line: 82,
    message: "PrezzoTotale '12.3' must have 2 to 8 decimals ('12.30')",
  },
  {
    name: 'too many decimals',
    from: '<PrezzoTotale>520.00',
    to: '<PrezzoTotale>5.123456789',
    field: '2.2.1.11 PrezzoTotale',
    line: 82,
  },
  {
    name: 'comma separator',
    from: '<PrezzoTotale>520.00',
    to: '<PrezzoTotale>5,00',
    field: '2.2.1.11 PrezzoTotale',
    message: "'.' as decimal separator",
  },
  {
    name: 'plus sign',
    from: '<PrezzoTotale>520.00',
    to: '<PrezzoTotale>+5.00',
    field: '2.2.1.11 PrezzoTotale',
  },
  {
    name: 'rate above 100',
    from: '<AliquotaIVA>22.00</AliquotaIVA>\n      </DettaglioLinee>',
    to: '<AliquotaIVA>100.01</AliquotaIVA>\n      </DettaglioLinee>',
    field: '2.2.1.12 AliquotaIVA',
    line: 83,
  },
  {
    name: 'negative rate',
    from: '<AliquotaIVA>22.00</AliquotaIVA>\n      </DettaglioLinee>',
    to: '<AliquotaIVA>-0.00</AliquotaIVA>\n      </DettaglioLinee>',
    field: '2.2.1.12 AliquotaIVA',
  },
  {
    name: 'Numero 21 chars',
    from: '<Numero>B-101</Numero>',
    to: `<Numero>${'1'.repeat(21)}</Numero>`,
    field: '2.1.1.4 Numero',
    path: `${DGD}/Numero`,
    line: 62,
  },
  {
    name: 'Numero not ASCII',
    from: '<Numero>B-101</Numero>',
    to: '<Numero>12é</Numero>',
    field: '2.1.1.4 Numero',
    message: 'ASCII',
  },
  {
    name: 'Numero empty',
    from: '<Numero>B-101</Numero>',
    to: '<Numero></Numero>',
    field: '2.1.1.4 Numero',
    message: 'empty',
  },
  {
    name: 'euro sign in Descrizione',
    from: '<Descrizione>ASSISTENZA',
    to: '<Descrizione>€ ASSISTENZA',
    field: '2.2.1.4 Descrizione',
    line: 78,
    message: 'Latin-1',
  },
  {
    name: 'date 29 February',
    from: '<Data>2026-01-15</Data>',
    to: '<Data>2015-02-29</Data>',
    field: '2.1.1.3 Data',
    path: `${DGD}/Data`,
    line: 61,
  },
  {
    name: 'date before 1970',
    from: '<Data>2026-01-15</Data>',
    to: '<Data>1969-12-31</Data>',
    field: '2.1.1.3 Data',
  },
  {
    name: 'date with spaces',
    from: '<Data>2026-01-15</Data>',
    to: '<Data> 2026-01-15 </Data>',
    field: '2.1.1.3 Data',
    message: 'without spaces',
  },
  {
    name: 'unknown TipoDocumento',
    from: '<TipoDocumento>TD01',
    to: '<TipoDocumento>TD30',
    field: '2.1.1.1 TipoDocumento',
    line: 59,
    message: 'not an allowed code',
  },
  {
    name: 'enum with space',
    from: '<TipoDocumento>TD01',
    to: '<TipoDocumento> TD01',
    field: '2.1.1.1 TipoDocumento',
  },
  {
    name: 'CAP with space',
    from: '<CAP>40121</CAP>',
    to: '<CAP>40121 </CAP>',
    field: '1.2.2.3 CAP',
    path: '/FatturaElettronica/FatturaElettronicaHeader/CedentePrestatore/Sede/CAP',
    line: 31,
  },
  {
    name: 'lower-case country',
    from: '<Nazione>IT</Nazione>',
    to: '<Nazione>it</Nazione>',
    field: '1.2.2.6 Nazione',
    line: 34,
  },
  {
    name: 'NumeroLinea 0',
    from: '<NumeroLinea>1</NumeroLinea>',
    to: '<NumeroLinea>0</NumeroLinea>',
    field: '2.2.1.1 NumeroLinea',
    line: 77,
  },
  {
    name: 'NumeroLinea not integer',
    from: '<NumeroLinea>1</NumeroLinea>',
    to: '<NumeroLinea>1.0</NumeroLinea>',
    field: '2.2.1.1 NumeroLinea',
  },
  {
    name: 'dateTime 24:00:01',
    from: '2026-01-14T10:30:00.000+01:00',
    to: '2026-01-14T24:00:01',
    field: '2.1.9.13 DataOraConsegna',
    line: 72,
  },
  {
    name: 'missing ProgressivoInvio',
    from: '<ProgressivoInvio>B2B01</ProgressivoInvio>',
    to: '',
    field: '1.1.2 ProgressivoInvio',
    path: '/FatturaElettronica/FatturaElettronicaHeader/DatiTrasmissione/ProgressivoInvio',
    line: 10,
    message: 'ProgressivoInvio is missing',
  },
  {
    name: 'missing at end (Nazione)',
    from: '<Nazione>IT</Nazione>',
    to: '',
    field: '1.2.2.6 Nazione',
    path: '/FatturaElettronica/FatturaElettronicaHeader/CedentePrestatore/Sede/Nazione',
    line: 28,
  },
  {
    name: 'duplicate Numero',
    from: '<Numero>B-101</Numero>',
    to: '<Numero>123</Numero><Numero>124</Numero>',
    field: '2.1.1.4 Numero',
    path: `${DGD}/Numero[2]`,
    line: 62,
    message: 'more than once',
  },
  {
    name: 'unknown element',
    from: '<Numero>B-101</Numero>',
    to: '<Numero>123</Numero><Foo/>',
    field: '2.1.1 DatiGeneraliDocumento',
    path: `${DGD}/Foo`,
    line: 62,
    message: 'Foo is not allowed',
  },
  {
    name: 'child in namespace',
    from: '<Numero>B-101</Numero>',
    to: '<p:Numero>123</p:Numero>',
    field: '2.1.1.4 Numero',
    path: `${DGD}/Numero`,
    message: 'must not be in a namespace',
  },
  {
    name: 'Denominazione and Nome',
    from: '<Denominazione>DISTRIBUZIONE PROVA SPA</Denominazione>',
    to: '<Denominazione>DISTRIBUZIONE PROVA SPA</Denominazione><Nome>X</Nome>',
    field: '1.4.1.3.2 Nome',
    line: 44,
    message: 'alternatives',
  },
  {
    name: 'Nome without Cognome',
    from: '<Denominazione>DISTRIBUZIONE PROVA SPA</Denominazione>',
    to: '<Nome>X</Nome>',
    field: '1.4.1.3.3 Cognome',
    path: '/FatturaElettronica/FatturaElettronicaHeader/CessionarioCommittente/DatiAnagrafici/Anagrafica/Cognome',
    line: 43,
  },
  {
    name: 'text in element-only content',
    from: '<DatiTrasmissione>',
    to: '<DatiTrasmissione>x',
    field: '1.1 DatiTrasmissione',
    line: 4,
    message: 'only elements',
  },
  {
    name: 'element inside a value',
    from: '<Numero>B-101</Numero>',
    to: '<Numero>123<X/></Numero>',
    field: '2.1.1.4 Numero',
  },
  {
    name: 'unknown attribute',
    from: '<Numero>B-101</Numero>',
    to: '<Numero a="1">123</Numero>',
    field: '2.1.1.4 Numero',
    message: 'Attribute a is not allowed',
  },
  {
    name: 'xsi:nil',
    from: '<Numero>B-101</Numero>',
    to: '<Numero xsi:nil="false">123</Numero>',
    field: '2.1.1.4 Numero',
  },
  {
    name: 'xml:lang',
    from: '<Numero>B-101</Numero>',
    to: '<Numero xml:lang="it">123</Numero>',
    field: '2.1.1.4 Numero',
  },
  {
    name: 'versione missing',
    from: 'versione="FPR12" ',
    to: '',
    field: 'FatturaElettronica',
    path: '/FatturaElettronica',
    line: 2,
    message: 'versione',
  },
  { name: 'versione wrong', from: 'versione="FPR12"', to: 'versione="FSM10"', field: 'FatturaElettronica' },
  {
    name: 'SistemaEmittente too long',
    from: 'versione="FPR12"',
    to: 'versione="FPR12" SistemaEmittente="ABCDEFGHIJK"',
    field: 'FatturaElettronica',
  },
  {
    name: 'base64 padding',
    from: '</DatiPagamento>',
    to: '</DatiPagamento><Allegati><NomeAttachment>a</NomeAttachment><Attachment>AB==</Attachment></Allegati>',
    field: '2.5.5 Attachment',
  },
  {
    name: 'PEC address',
    from: '</ContattiTrasmittente>',
    to: '</ContattiTrasmittente><PECDestinatario>a b@c.it</PECDestinatario>',
    field: '1.1.6 PECDestinatario',
  },
  {
    name: 'Titolo one char after collapse',
    from: '<Denominazione>DISTRIBUZIONE PROVA SPA</Denominazione>',
    to: '<Denominazione>DISTRIBUZIONE PROVA SPA</Denominazione><Titolo> D </Titolo>',
    field: '1.4.1.3.4 Titolo',
  },
  {
    name: 'bogus signature content',
    from: '<ds:DigestValue>AAAA</ds:DigestValue>',
    to: '<ds:DigestValue>AAAA</ds:DigestValue><ds:Foo/>',
    field: 'Reference',
  },
  {
    name: 'signature without SignatureValue',
    from: '<ds:SignatureValue>AAAA</ds:SignatureValue>',
    to: '',
    field: 'SignatureValue',
  },
  {
    name: 'signature in no namespace',
    from: SIGNATURE,
    to: '<Signature/>',
    field: 'Signature',
    message: 'must be in namespace',
  },
];

describe('targeted mutations of the B2B example', () => {
  it.each(invalid)('$name', (c) => {
    const base = c.from.includes('ds:') ? signed(SIGNATURE) : FPR12;
    const out = check(mutate(c.from, c.to, c.from === SIGNATURE ? signed(SIGNATURE) : base));
    expect(out.length).toBeGreaterThan(0);
    const f = out[0];
    expect(f?.code).toBe('00200');
    if (c.field) expect(f?.field).toBe(c.field);
    if (c.path) expect(f?.path).toBe(c.path);
    if (c.line) expect(f?.line).toBe(c.line);
    if (c.message) expect(f?.message).toContain(c.message);
    expect(f?.messageIt.length).toBeGreaterThan(10);
  });

  const valid: [string, string, string][] = [
    ['padded decimal', '<PrezzoTotale>520.00', '<PrezzoTotale>\n 5.00 '],
    ['8 decimals', '<PrezzoTotale>520.00', '<PrezzoTotale>5.00000000'],
    [
      'rate 100.00',
      '<AliquotaIVA>22.00</AliquotaIVA>\n      </DettaglioLinee>',
      '<AliquotaIVA>100.00</AliquotaIVA>\n      </DettaglioLinee>',
    ],
    ['leap day', '<Data>2026-01-15</Data>', '<Data>2016-02-29</Data>'],
    ['date with time zone', '<Data>2026-01-15</Data>', '<Data>2026-01-15+01:00</Data>'],
    ['spaces in Numero', '<Numero>B-101</Numero>', '<Numero> 123 </Numero>'],
    ['empty Nazione takes default IT', '<Nazione>IT</Nazione>', '<Nazione/>'],
    ['comment inside a value', '<Numero>B-101</Numero>', '<Numero>12<!-- x -->3</Numero>'],
    ['integer with sign and spaces', '<NumeroLinea>1</NumeroLinea>', '<NumeroLinea> +01 </NumeroLinea>'],
    [
      'xsi:schemaLocation on a child',
      '<Numero>B-101</Numero>',
      '<Numero xsi:schemaLocation="a b">123</Numero>',
    ],
    [
      'xsi:type naming the declared type',
      '<Numero>B-101</Numero>',
      '<Numero xsi:type="p:String20Type">123</Numero>',
    ],
    [
      'Titolo collapsed',
      '<Denominazione>DISTRIBUZIONE PROVA SPA</Denominazione>',
      '<Denominazione>DISTRIBUZIONE PROVA SPA</Denominazione><Titolo>\t\tABCDEFGHIJ\t</Titolo>',
    ],
    ['SistemaEmittente', 'versione="FPR12"', 'versione="FPR12" SistemaEmittente="ERP"'],
    [
      'base64 with stray characters',
      '</DatiPagamento>',
      '</DatiPagamento><Allegati><NomeAttachment>a</NomeAttachment><Attachment>AA AA\nAA==</Attachment></Allegati>',
    ],
    ['dateTime with trailing space after zone', '2026-01-14T10:30:00.000+01:00', '2026-01-14T10:30:00Z '],
  ];
  it.each(valid)('%s is valid', (_n, from, to) => {
    expect(check(mutate(from, to))).toEqual([]);
  });

  it('accepts an enveloped ds:Signature (XAdES content is lax)', () => {
    expect(check(signed(SIGNATURE))).toEqual([]);
  });
});

describe('limits and robustness', () => {
  it('stops after 50 errors with 00201', () => {
    const many = Array.from({ length: 60 }, () => '<Causale>€</Causale>').join('');
    const out = check(mutate('<Numero>B-101</Numero>', `<Numero>123</Numero>${many}`));
    expect(out).toHaveLength(51);
    expect(out.filter((f) => f.code === '00200')).toHaveLength(50);
    expect(out[50]?.code).toBe('00201');
    expect(out[3]?.path).toBe(`${DGD}/Causale[4]`);
  });

  it('reports a foreign root', () => {
    const out = check('<a xmlns="urn:x"/>');
    expect(out).toHaveLength(1);
    expect(out[0]?.code).toBe('00200');
  });

  it('reports a root in the wrong namespace', () => {
    const out = check('<FatturaElettronica versione="FPR12"/>');
    expect(out[0]?.message).toContain('namespace');
  });

  it('never throws on odd trees', () => {
    const el = (name: string, children: XmlElement[] = [], ns = ''): XmlElement => ({
      name,
      ns,
      prefix: '',
      attrs: {},
      nsAttrs: {},
      children,
      text: '',
      cdata: false,
      line: 1,
      column: 1,
    });
    const ns = MODELS[0]?.ns ?? '';
    const deep = el('Signature', [], 'http://www.w3.org/2000/09/xmldsig#');
    let cur = deep;
    for (let i = 0; i < 200; i++) {
      const next = el('Object', [], 'http://www.w3.org/2000/09/xmldsig#');
      cur.children.push(next);
      cur = next;
    }
    const root = el(
      'FatturaElettronica',
      [el('FatturaElettronicaHeader'), el('FatturaElettronicaBody'), deep, el('X')],
      ns,
    );
    root.attrs['versione'] = 'FPR12';
    expect(() => validateStructure(root)).not.toThrow();
    expect(validateStructure(root).length).toBeGreaterThan(0);
  });
});

describe('fieldLabel', () => {
  it.each([
    [
      '/FatturaElettronica/FatturaElettronicaBody[2]/DatiBeniServizi/DettaglioLinee[3]/PrezzoTotale',
      '2.2.1.11 PrezzoTotale',
    ],
    [
      '/FatturaElettronica/FatturaElettronicaHeader/DatiTrasmissione/ContattiTrasmittente',
      '1.1.5 ContattiTrasmittente',
    ],
    [
      '/FatturaElettronica/FatturaElettronicaHeader/CedentePrestatore/DatiAnagrafici/Anagrafica/Denominazione',
      '1.2.1.3.1 Denominazione',
    ],
    [
      '/FatturaElettronica/FatturaElettronicaHeader/CessionarioCommittente/RappresentanteFiscale/Cognome',
      '1.4.4.4 Cognome',
    ],
    [
      '/FatturaElettronica/FatturaElettronicaBody/DatiGenerali/DatiContratto[2]/CodiceCIG',
      '2.1.3.7 CodiceCIG',
    ],
    ['/FatturaElettronica/FatturaElettronicaBody/DatiPagamento/DettaglioPagamento[1]/IBAN', '2.4.2.13 IBAN'],
    ['/FatturaElettronica/FatturaElettronicaBody/Allegati/Attachment', '2.5.5 Attachment'],
    ['/FatturaElettronica/@versione', 'FatturaElettronica'],
    [
      '/FatturaElettronicaSemplificata/FatturaElettronicaBody/DatiBeniServizi[2]/DatiIVA/Aliquota',
      '2.2.3.2 Aliquota',
    ],
    ['/FatturaElettronicaSemplificata/FatturaElettronicaHeader/CedentePrestatore/Nome', '1.2.4 Nome'],
  ])('%s → %s', (path, label) => {
    expect(fieldLabel(path)).toBe(label);
  });

  it('is undefined outside the models', () => {
    expect(fieldLabel('/FatturaElettronica/Nope')).toBeUndefined();
    expect(fieldLabel('')).toBeUndefined();
  });

  it('modelFor picks by name and namespace', () => {
    expect(modelFor({ name: 'FatturaElettronica', ns: MODELS[0]?.ns ?? '' })?.id).toBe('FPR12');
    expect(modelFor({ name: 'FatturaElettronicaSemplificata', ns: MODELS[1]?.ns ?? '' })?.id).toBe('FSM10');
    expect(modelFor({ name: 'FatturaElettronica', ns: '' })).toBeUndefined();
  });
});
