import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGID_METADATA_NS,
  allegato5,
  invoiceFacts,
  searchKeys,
  type InvoiceFacts,
} from '../../src/archive/metadata.js';
import {
  buildRdv,
  manifestSha256,
  pdvManifest,
  RDV_NS,
  readRdv,
  type RdvFile,
} from '../../src/archive/rdv.js';
import {
  AGENT_ID,
  buildPIndex,
  fileFormat,
  pathToUri,
  SINCRO_NS,
  type Agent,
  type PIndexFile,
  type PIndexInput,
} from '../../src/archive/sincro.js';
import { all, at, parseXml, textAt, type XmlElement } from '../../src/invoice/xml.js';
import { buildNotification, escapeXml } from '../../src/notifications/build.js';
import { TestPki } from '../helpers/pki.js';
import { EX, example, specPath } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The preservation package index (UNI 11386:2020 SInCRO PIndex) with AgID Allegato 5 metadata,
 * the fiscal search keys read from invoices (the project's examples), and the rapporto di
 * versamento. Every PIndex built here is validated by xmllint against the SInCRO 2.0 schema, an
 * oracle read from the spec folder (test/helpers/spec.ts); without it the PIndex tests are skipped.
 */

const XSD = specPath('preservation', 'sincro-v2-PIndex.xsd') ?? '';
/** FPA12: cedente with IdFiscaleIVA, cessionario (the PA) with CodiceFiscale only. */
const FPA12 = example(EX.pa);
/** A lotto of three FPR12 bodies. */
const LOTTO = example(EX.lotto);
/** FPR12 B2B: cessionario with IdFiscaleIVA, ImportoTotaleDocumento given. */
const FPR12 = example(EX.b2b);

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const edit = (b: Buffer, from: string, to: string): Buffer => {
  const s = b.toString('utf8');
  if (!s.includes(from)) throw new Error(`fixture edit: "${from}" not found`);
  return Buffer.from(s.replace(from, to), 'utf8');
};

/** xmllint's verdict on a PIndex against the SInCRO 2.0 schema. */
function xmllint(xml: Buffer): { ok: boolean; stderr: string } {
  const r = spawnSync('xmllint', ['--noout', '--schema', XSD, '-'], { input: xml, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { ok: r.status === 0, stderr: r.stderr };
}
function expectValid(xml: Buffer): void {
  const r = xmllint(xml);
  expect(r.stderr).toContain('validates');
  expect(r.ok, r.stderr).toBe(true);
}

function parse(xml: Buffer | string): XmlElement {
  const p = parseXml(Buffer.isBuffer(xml) ? xml : Buffer.from(xml, 'utf8'));
  if (!p.ok) throw new Error(`does not parse: ${JSON.stringify(p.errors)}`);
  return p.root;
}

async function facts(name: string, bytes: Buffer): Promise<InvoiceFacts> {
  const f = await invoiceFacts(name, bytes);
  if (!f) throw new Error(`${name}: no facts`);
  return f;
}

const tmp = tempDir('fatturad-archive-sincro-');
let pki: TestPki;
beforeAll(() => {
  pki = new TestPki(path.join(tmp.dir, 'ca'), 'Test Qualified CA');
});
afterAll(() => tmp.cleanup());

// ---------------------------------------------------------------------------------------------

describe('invoice facts', () => {
  it('FPA12 sample: cedente with IdFiscaleIVA, cessionario with CodiceFiscale only', async () => {
    expect(await facts('IT12345670017_PA001.xml', FPA12)).toEqual({
      bodies: [{ numero: 'PA-7', data: '2026-01-20', tipoDocumento: 'TD01', importoTotale: '1220.00' }],
      parties: [
        { role: 'cedente', denominazione: 'OFFICINE ESEMPIO SRL', partitaIva: 'IT12345670017' },
        { role: 'cessionario', denominazione: 'COMUNE DI ESEMPIO', codiceFiscale: '80024680581' },
      ],
      formato: 'FPA12',
      signed: false,
    });
  });

  it('a lotto: every body, in order', async () => {
    const f = await facts('IT12345670017_LOT01.xml', LOTTO);
    expect(f.bodies.map((b) => [b.numero, b.data])).toEqual([
      ['L-201', '2026-01-15'],
      ['L-202', '2026-01-16'],
      ['L-203', '2026-01-16'],
    ]);
  });

  it('Nome + Cognome instead of Denominazione; ImportoTotaleDocumento', async () => {
    const x = edit(
      FPR12,
      '<Denominazione>DISTRIBUZIONE PROVA SPA</Denominazione>',
      '<Nome>MARIO</Nome><Cognome>ROSSI</Cognome>',
    );
    const f = await facts('IT12345670017_B2B01.xml', x);
    expect(f.formato).toBe('FPR12');
    expect(f.parties[1]).toEqual({
      role: 'cessionario',
      nome: 'MARIO',
      cognome: 'ROSSI',
      partitaIva: 'IT07654320584',
    });
    expect(f.bodies[0]).toEqual({
      numero: 'B-101',
      data: '2026-01-15',
      tipoDocumento: 'TD01',
      importoTotale: '724.89',
    });
  });

  it('ISO-8859-1 file', async () => {
    const text = FPR12.toString('utf8')
      .replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
      .replace('DISTRIBUZIONE PROVA SPA', 'DISTRIBUZIONE PROVÀ & FIGLI');
    const f = await facts('x.xml', Buffer.from(text.replace('&', '&amp;'), 'latin1'));
    expect(f.parties[1]?.denominazione).toBe('DISTRIBUZIONE PROVÀ & FIGLI');
  });

  it('signed: CAdES .p7m unwrapped, XAdES ds:Signature noticed', async () => {
    const p7m = pki.sign(FPR12, pki.issue('Mario Rossi'));
    const signed = await facts('IT12345670017_B2B01.xml.p7m', p7m);
    expect(signed.signed).toBe(true);
    expect(signed.bodies).toEqual((await facts('IT12345670017_B2B01.xml', FPR12)).bodies);
    const xades = edit(
      FPR12,
      '</p:FatturaElettronica>',
      '<ds:Signature><ds:SignedInfo/></ds:Signature></p:FatturaElettronica>',
    );
    expect((await facts('IT12345670017_B2B01.xml', xades)).signed).toBe(true);
  });

  const FSM = (cessionario: string): Buffer =>
    Buffer.from(
      `<?xml version="1.0" encoding="UTF-8"?>
<p:FatturaElettronicaSemplificata versione="FSM10" xmlns:p="http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.0">
  <FatturaElettronicaHeader>
    <DatiTrasmissione>
      <IdTrasmittente><IdPaese>IT</IdPaese><IdCodice>01234567890</IdCodice></IdTrasmittente>
      <ProgressivoInvio>00001</ProgressivoInvio>
      <FormatoTrasmissione>FSM10</FormatoTrasmissione>
      <CodiceDestinatario>ABC1234</CodiceDestinatario>
    </DatiTrasmissione>
    <CedentePrestatore>
      <IdFiscaleIVA><IdPaese>IT</IdPaese><IdCodice>01234567890</IdCodice></IdFiscaleIVA>
      <CodiceFiscale>BNCLRD70A01F205X</CodiceFiscale>
      <Nome>LEONARDO</Nome>
      <Cognome>BIANCHI</Cognome>
      <Sede><Indirizzo>VIA ROMA 1</Indirizzo><CAP>20100</CAP><Comune>MILANO</Comune><Nazione>IT</Nazione></Sede>
      <RegimeFiscale>RF01</RegimeFiscale>
    </CedentePrestatore>
    <CessionarioCommittente>${cessionario}</CessionarioCommittente>
  </FatturaElettronicaHeader>
  <FatturaElettronicaBody>
    <DatiGenerali>
      <DatiGeneraliDocumento><TipoDocumento>TD07</TipoDocumento><Divisa>EUR</Divisa><Data>2026-02-15</Data><Numero>S-1</Numero></DatiGeneraliDocumento>
    </DatiGenerali>
    <DatiBeniServizi><Descrizione>SERVIZIO</Descrizione><Importo>122.00</Importo><DatiIVA><Aliquota>22.00</Aliquota></DatiIVA></DatiBeniServizi>
  </FatturaElettronicaBody>
</p:FatturaElettronicaSemplificata>`,
      'utf8',
    );

  it('FSM10: its own paths (cedente flat, cessionario IdentificativiFiscali / AltriDatiIdentificativi)', async () => {
    const f = await facts(
      'IT01234567890_SM001.xml',
      FSM(
        '<IdentificativiFiscali><IdFiscaleIVA><IdPaese>IT</IdPaese><IdCodice>09876543210</IdCodice></IdFiscaleIVA></IdentificativiFiscali>' +
          '<AltriDatiIdentificativi><Denominazione>GAMMA SPA</Denominazione><Sede><Indirizzo>VIA X</Indirizzo><CAP>00100</CAP><Comune>ROMA</Comune><Nazione>IT</Nazione></Sede></AltriDatiIdentificativi>',
      ),
    );
    expect(f).toEqual({
      bodies: [{ numero: 'S-1', data: '2026-02-15', tipoDocumento: 'TD07' }],
      parties: [
        {
          role: 'cedente',
          nome: 'LEONARDO',
          cognome: 'BIANCHI',
          codiceFiscale: 'BNCLRD70A01F205X',
          partitaIva: 'IT01234567890',
        },
        { role: 'cessionario', denominazione: 'GAMMA SPA', partitaIva: 'IT09876543210' },
      ],
      formato: 'FSM10',
      signed: false,
    });
    const onlyCf = await facts(
      'x.xml',
      FSM('<IdentificativiFiscali><CodiceFiscale>RSSMRA80A01H501U</CodiceFiscale></IdentificativiFiscali>'),
    );
    expect(onlyCf.parties[1]).toEqual({ role: 'cessionario', codiceFiscale: 'RSSMRA80A01H501U' });
  });

  it.each([
    ['random bytes', 'x.xml', Buffer.from([0x00, 0xff, 0x13, 0x37, 0x42])],
    ['empty', 'x.xml', Buffer.alloc(0)],
    ['not an invoice', 'x.xml', Buffer.from('<?xml version="1.0"?><Foo><Bar/></Foo>')],
    ['malformed', 'x.xml', Buffer.from(FPA12.subarray(0, 900))],
    ['no Numero', 'x.xml', edit(FPA12, '<Numero>PA-7</Numero>', '')],
    ['bad Data', 'x.xml', edit(FPA12, '<Data>2026-01-20</Data>', '<Data>20/01/2026</Data>')],
    ['no header', 'x.xml', Buffer.from('<p:FatturaElettronica versione="FPR12" xmlns:p="urn:x"/>')],
    ['garbage .p7m', 'x.xml.p7m', Buffer.from('MIIgarbage')],
    ['DOCTYPE', 'x.xml', Buffer.from('<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>')],
  ])('%s → null', async (_label, name, bytes) => {
    expect(await invoiceFacts(name, bytes)).toBeNull();
  });
});

describe('search keys (DMEF 2014 art. 3)', () => {
  it('one row per (body, party) with the IdentificativoSdI', async () => {
    const rows = searchKeys(await facts('IT12345670017_LOT01.xml', LOTTO), '4242');
    expect(rows).toHaveLength(6);
    expect(rows[0]).toEqual({
      role: 'cedente',
      denominazione: 'OFFICINE ESEMPIO SRL',
      nome: null,
      cognome: null,
      codiceFiscale: '12345670017',
      partitaIva: 'IT12345670017',
      data: '2026-01-15',
      numero: 'L-201',
      tipoDocumento: 'TD01',
      identificativoSdI: '4242',
    });
    expect(rows.map((r) => [r.role, r.numero])).toEqual([
      ['cedente', 'L-201'],
      ['cessionario', 'L-201'],
      ['cedente', 'L-202'],
      ['cessionario', 'L-202'],
      ['cedente', 'L-203'],
      ['cessionario', 'L-203'],
    ]);
    expect(rows[3]?.partitaIva).toBe('IT07654320584');
    expect(rows[3]?.codiceFiscale).toBeNull();
  });
});

describe('Allegato 5 metadata', () => {
  it('active FPA12: IdDoc, registration, subjects, format, checks, retention', async () => {
    const f = await facts('IT12345670017_PA001.xml', FPA12);
    const xml = allegato5({
      sha256: sha(FPA12),
      fileName: 'IT12345670017_PA001.xml',
      facts: f,
      flow: 'active',
      identificativoSdI: '123456789',
      retentionYears: 10,
      related: [
        { fileName: 'IT12345670017_PA001_RC_001.xml', sha256: 'a'.repeat(64), kind: 'Ricevuta di consegna' },
      ],
      software: { version: '0.1.0', producer: 'fatturad' },
    });
    const r = parse(xml);
    expect([r.name, r.ns]).toEqual(['DocumentoInformatico', AGID_METADATA_NS]);
    expect(textAt(r, 'IdDoc/ImprontaCrittograficaDelDocumento/Impronta')).toBe(
      createHash('sha256').update(FPA12).digest('base64'),
    );
    expect(textAt(r, 'IdDoc/ImprontaCrittograficaDelDocumento/Algoritmo')).toBe('SHA-256');
    expect(textAt(r, 'IdDoc/Identificativo')).toBe('123456789');
    expect(textAt(r, 'ModalitaDiFormazione')).toMatch(/^creazione tramite utilizzo di strumenti software/);
    expect(textAt(r, 'TipologiaDocumentale')).toBe('Fattura');
    expect(textAt(r, 'DatiDiRegistrazione/TipologiaDiFlusso')).toBe('U');
    expect(textAt(r, 'DatiDiRegistrazione/TipoRegistro/Nessuno/TipoRegistro')).toBe('Nessuno');
    expect(textAt(r, 'DatiDiRegistrazione/TipoRegistro/Nessuno/DataDocumento')).toBe('2026-01-20');
    expect(textAt(r, 'DatiDiRegistrazione/TipoRegistro/Nessuno/NumeroDocumento')).toBe('PA-7');
    const roles = all(r, 'Soggetti/Ruolo').map((ruolo) => ruolo.children[0] as XmlElement);
    expect(roles.map((x) => [x.name, textAt(x, 'TipoRuolo')])).toEqual([
      ['Autore', 'Autore'],
      ['Mittente', 'Mittente'],
      ['Destinatario', 'Destinatario'],
    ]);
    expect(textAt(roles[0], 'PG/DenominazioneOrganizzazione')).toBe('OFFICINE ESEMPIO SRL');
    expect(textAt(roles[0], 'PG/CodiceFiscale_PartitaIva')).toBe('IT12345670017');
    expect(textAt(roles[2], 'PG/DenominazioneOrganizzazione')).toBe('COMUNE DI ESEMPIO');
    expect(textAt(roles[2], 'PG/CodiceFiscale_PartitaIva')).toBe('80024680581');
    expect(textAt(r, 'ChiaveDescrittiva/Oggetto')).toBe(
      'Fattura (TD01) n. PA-7 del 2026-01-20 emessa da OFFICINE ESEMPIO SRL a COMUNE DI ESEMPIO',
    );
    expect(textAt(r, 'Allegati/NumeroAllegati')).toBe('1');
    expect(textAt(r, 'Allegati/IndiceAllegati/IdDoc/Identificativo')).toBe('IT12345670017_PA001_RC_001.xml');
    expect(textAt(r, 'Allegati/IndiceAllegati/Descrizione')).toBe('Ricevuta di consegna');
    expect(textAt(r, 'Riservato')).toBe('false');
    expect(textAt(r, 'IdentificativoDelFormato/Formato')).toBe('application/xml');
    expect(textAt(r, 'IdentificativoDelFormato/ProdottoSoftware/NomeProdotto')).toBe('fatturad');
    expect(textAt(r, 'IdentificativoDelFormato/ProdottoSoftware/VersioneProdotto')).toBe('0.1.0');
    expect(textAt(r, 'Verifica/FirmatoDigitalmente')).toBe('false');
    expect(textAt(r, 'NomeDelDocumento')).toBe('IT12345670017_PA001.xml');
    expect(textAt(r, 'VersioneDelDocumento')).toBe('1');
    expect(textAt(r, 'TempoDiConservazione')).toBe('10');
    // Element order as in the AgID schema.
    expect(r.children.map((c) => c.name)).toEqual([
      'IdDoc',
      'ModalitaDiFormazione',
      'TipologiaDocumentale',
      'DatiDiRegistrazione',
      'Soggetti',
      'ChiaveDescrittiva',
      'Allegati',
      'Riservato',
      'IdentificativoDelFormato',
      'Verifica',
      'NomeDelDocumento',
      'VersioneDelDocumento',
      'TempoDiConservazione',
    ]);
  });

  it('passive, signed, natural person, lotto, escaping', async () => {
    // The lotto's buyer made a natural person with a codice fiscale.
    let x = edit(
      LOTTO,
      '<IdFiscaleIVA>\n          <IdPaese>IT</IdPaese>\n          <IdCodice>07654320584</IdCodice>\n        </IdFiscaleIVA>',
      '<CodiceFiscale>RSSMRA80A01H501U</CodiceFiscale>',
    );
    x = edit(
      x,
      '<Denominazione>DISTRIBUZIONE PROVA SPA</Denominazione>',
      '<Nome>MARIO</Nome><Cognome>ROSSI</Cognome>',
    );
    x = edit(
      x,
      '<Denominazione>OFFICINE ESEMPIO SRL</Denominazione>',
      '<Denominazione>A &amp; B &lt;"C"&gt; D\'E</Denominazione>',
    );
    const name = 'IT12345670017_LOT01.xml.p7m';
    const p7m = pki.sign(x, pki.issue('Signer'));
    const f = await facts(name, p7m);
    const xml = allegato5({
      sha256: sha(p7m),
      fileName: name,
      facts: f,
      flow: 'passive',
      identificativoSdI: null,
      retentionYears: 10,
    });
    expect(xml).toContain('A &amp; B &lt;&quot;C&quot;&gt; D&apos;E');
    const r = parse(xml);
    expect(textAt(r, 'IdDoc/Identificativo')).toBe(name);
    expect(textAt(r, 'ModalitaDiFormazione')).toMatch(
      /^acquisizione di un documento informatico per via telematica/,
    );
    expect(textAt(r, 'DatiDiRegistrazione/TipologiaDiFlusso')).toBe('E');
    expect(textAt(r, 'DatiDiRegistrazione/TipoRegistro/Nessuno/NumeroDocumento')).toBe('L-201');
    expect(textAt(r, 'Soggetti/Ruolo/Autore/PG/DenominazioneOrganizzazione')).toBe('A & B <"C"> D\'E');
    const dest = all(r, 'Soggetti/Ruolo')[2];
    expect(textAt(dest, 'Destinatario/PF/Cognome')).toBe('ROSSI');
    expect(textAt(dest, 'Destinatario/PF/Nome')).toBe('MARIO');
    expect(textAt(dest, 'Destinatario/PF/CodiceFiscale')).toBe('RSSMRA80A01H501U');
    expect(textAt(r, 'ChiaveDescrittiva/Oggetto')).toBe(
      'Lotto di 3 documenti: Fattura (TD01) n. L-201 del 2026-01-15; Fattura (TD01) n. L-202 del 2026-01-16; ' +
        'Fattura (TD01) n. L-203 del 2026-01-16 emessa da A & B <"C"> D\'E a MARIO ROSSI',
    );
    expect(textAt(r, 'Allegati/NumeroAllegati')).toBe('0');
    expect(textAt(r, 'IdentificativoDelFormato/Formato')).toBe('application/pkcs7-mime');
    expect(textAt(r, 'Verifica/FirmatoDigitalmente')).toBe('true');
  });

  it('rejects what it cannot describe', async () => {
    const f = await facts('x.xml', FPA12);
    const base = {
      sha256: sha(FPA12),
      fileName: 'x.xml',
      facts: f,
      flow: 'active' as const,
      identificativoSdI: null,
    };
    expect(() => allegato5({ ...base, retentionYears: 0 })).toThrow(RangeError);
    expect(() => allegato5({ ...base, sha256: 'ABC', retentionYears: 10 })).toThrow(RangeError);
    expect(() => allegato5({ ...base, facts: { ...f, bodies: [] }, retentionYears: 10 })).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------

const HOLDER: Agent = {
  type: 'legal person',
  ids: ['VATIT-01234567890'],
  name: { formal: 'ALPHA SRL' },
  role: 'soggetto produttore',
  relevantDocument: 'Manuale di conservazione v1',
};
const SIGNER: Agent = {
  type: 'natural person',
  ids: ['TINIT-RSSMRA80A01H501U'],
  name: { name: 'Mario', surname: 'Rossi' },
  role: 'Responsabile della conservazione',
  relevantDocument: 'Atto di nomina del responsabile della conservazione',
};

function minimal(over: Partial<PIndexInput> = {}, file: Partial<PIndexFile> = {}): PIndexInput {
  return {
    id: 'PdA-2026-000001',
    creatingApplication: { name: 'fatturad', version: '0.1.0', producer: 'fatturad' },
    volume: { id: 'PdA-2026-000001' },
    fileGroups: [
      {
        id: 'G1',
        files: [
          {
            id: 'F1',
            path: 'doc/IT01234567890_FPA01.xml',
            sha256: sha(FPA12),
            format: 'application/xml',
            ...file,
          },
        ],
      },
    ],
    submitter: HOLDER,
    holders: [HOLDER],
    authorizedSigners: [SIGNER],
    time: { instant: new Date('2026-02-01T10:00:00Z'), attachedTimeStamp: false },
    ...over,
  };
}

interface Doc {
  document: string;
  flow: 'active' | 'passive';
  idSdI: string;
  invoice: { name: string; bytes: Buffer };
  receipts: { name: string; bytes: Buffer; kind: string }[];
}

describe.skipIf(!XSD)('PIndex (UNI 11386:2020 SInCRO 2.0)', () => {
  const now = new Date('2026-02-01T09:30:00Z');
  let docs: Doc[];
  let input: PIndexInput;

  beforeAll(async () => {
    const signedFpa12 = pki.sign(FPA12, pki.issue('Legale Rappresentante'));
    docs = [
      {
        document: 'D000001',
        flow: 'active',
        idSdI: '1000001',
        invoice: { name: 'IT01234567890_00001.xml.p7m', bytes: signedFpa12 },
        receipts: [
          {
            name: 'IT01234567890_00001_RC_001.xml',
            kind: 'RC',
            bytes: buildNotification({
              kind: 'RC',
              identificativoSdI: '1000001',
              nomeFile: 'IT01234567890_00001.xml.p7m',
              destinatario: { codice: 'AAAAAA', descrizione: 'AMMINISTRAZIONE BETA' },
              messageId: '111',
              now,
            }),
          },
          {
            name: 'IT01234567890_00001_NE_001.xml',
            kind: 'NE',
            bytes: buildNotification({
              kind: 'NE',
              identificativoSdI: '1000001',
              nomeFile: 'IT01234567890_00001.xml.p7m',
              esito: 'EC01',
              messageId: '112',
              now,
            }),
          },
        ],
      },
      {
        document: 'D000002',
        flow: 'active',
        idSdI: '1000002',
        invoice: { name: 'IT01234567890_00002.xml', bytes: LOTTO },
        receipts: [
          {
            name: 'IT01234567890_00002_RC_001.xml',
            kind: 'RC',
            bytes: buildNotification({
              kind: 'RC',
              identificativoSdI: '1000002',
              nomeFile: 'IT01234567890_00002.xml',
              destinatario: { codice: 'AAAAAA' },
              messageId: '113',
              now,
            }),
          },
        ],
      },
      {
        document: 'D000003',
        flow: 'passive',
        idSdI: '2000001',
        invoice: { name: 'IT01234567890_FPR01.xml', bytes: FPR12 },
        receipts: [
          {
            name: 'IT01234567890_FPR01_MT_001.xml',
            kind: 'MT',
            bytes: buildNotification({
              kind: 'MT',
              family: 'b2b',
              identificativoSdI: '2000001',
              nomeFile: 'IT01234567890_FPR01.xml',
              codiceDestinatario: '0000000',
              invoiceBytes: FPR12,
              messageId: '114',
              now,
            }),
          },
        ],
      },
    ];

    // Two PdVs: the active invoices, then the passive one; their RdVs are the PIndex sources.
    const rdvOf = (id: string, ds: Doc[]): { id: string; path: string; sha256: string } => {
      const files: RdvFile[] = ds.flatMap((d) => [
        {
          path: `${d.document}/${d.invoice.name}`,
          sha256: sha(d.invoice.bytes),
          size: d.invoice.bytes.length,
          kind: 'invoice',
        },
        ...d.receipts.map((r) => ({
          path: `${d.document}/${r.name}`,
          sha256: sha(r.bytes),
          size: r.bytes.length,
          kind: r.kind === 'MT' ? 'metadata' : 'notification',
        })),
      ]);
      const rdv = buildRdv({
        id,
        time: now,
        producer: { name: 'ALPHA SRL', vat: 'IT01234567890', software: 'fatturad 0.1.0' },
        files,
      });
      return { id, path: `${id}.rdv.xml`, sha256: sha(rdv) };
    };

    const fileGroups: PIndexInput['fileGroups'] = [];
    for (const d of docs) {
      const f = await facts(d.invoice.name, d.invoice.bytes);
      const invoiceId = `${d.document}/${d.invoice.name}`;
      const metadata = allegato5({
        sha256: sha(d.invoice.bytes),
        fileName: d.invoice.name,
        facts: f,
        flow: d.flow,
        identificativoSdI: d.idSdI,
        retentionYears: 10,
        related: d.receipts.map((r) => ({ fileName: r.name, sha256: sha(r.bytes), kind: r.kind })),
        software: { version: '0.1.0', producer: 'fatturad' },
      });
      fileGroups.push({
        id: `IdentificativoSdI:${d.idSdI}`,
        label: `${d.flow === 'active' ? 'Fattura attiva' : 'Fattura passiva'} ${f.bodies.map((b) => b.numero).join(', ')}`,
        files: [
          {
            id: invoiceId,
            path: invoiceId,
            sha256: sha(d.invoice.bytes),
            ...fileFormat(d.invoice.name),
            metadata,
          },
          ...d.receipts.map((r) => ({
            id: `${d.document}/${r.name}`,
            path: `${d.document}/${r.name}`,
            sha256: sha(r.bytes),
            ...fileFormat(r.name),
            relations: [{ type: r.kind === 'MT' ? 'metadati di' : 'ricevuta di', value: [invoiceId] }],
          })),
        ],
      });
    }
    input = {
      id: 'PdA-2026-000001',
      creatingApplication: { name: 'fatturad', version: '0.1.0', producer: 'fatturad' },
      sources: [
        rdvOf('PdV-2026-02-01-000001', docs.slice(0, 2)),
        rdvOf('PdV-2026-02-01-000002', docs.slice(2)),
      ],
      volume: {
        id: 'PdA-2026-000001',
        label: 'Fatture 2026 - PdA 1',
        description: 'Fatture attive e passive con ricevute SdI',
      },
      fileGroups,
      submitter: HOLDER,
      holders: [HOLDER],
      authorizedSigners: [SIGNER],
      time: { instant: new Date('2026-02-01T10:00:00Z'), attachedTimeStamp: true },
      laws: 'Linee Guida AgID sulla formazione, gestione e conservazione dei documenti informatici; DMEF 17 giugno 2014',
      moreInfo: '<Note xmlns="urn:fatturad:pda:1">chiusura per scadenza</Note>',
    };
  });

  it('a realistic PdA (2 PdV, 3 invoices with Allegato 5 metadata, receipts, MT) validates against the XSD', () => {
    const xml = buildPIndex(input);
    expectValid(xml);
    const root = parse(xml);
    expect([root.name, root.ns]).toEqual(['PIndex', SINCRO_NS]);
    expect(root.nsAttrs[`{${SINCRO_NS}}sincroVersion`]).toBe('2.0');
    const sources = all(root, 'SelfDescription/PIndexSource');
    expect(sources.map((s) => s.nsAttrs[`{${SINCRO_NS}}derivation`])).toEqual(['manytoone', 'manytoone']);
    const groups = all(root, 'FileGroup');
    expect(groups).toHaveLength(3);
    // Every file's Hash is the SHA-256 of its bytes; the invoice's Allegato 5 Impronta the same digest in base64.
    docs.forEach((d, i) => {
      const files = all(groups[i], 'File');
      expect(files).toHaveLength(1 + d.receipts.length);
      expect(textAt(files[0], 'Hash')).toBe(sha(d.invoice.bytes));
      const meta = at(files[0], 'MoreInfo/EmbeddedMetadata/DocumentoInformatico');
      expect(meta?.ns).toBe(AGID_METADATA_NS);
      expect(at(files[0], 'MoreInfo')?.nsAttrs[`{${SINCRO_NS}}xmlSchema`]).toBe(AGID_METADATA_NS);
      expect(textAt(meta, 'IdDoc/ImprontaCrittograficaDelDocumento/Impronta')).toBe(
        Buffer.from(sha(d.invoice.bytes), 'hex').toString('base64'),
      );
      expect(textAt(meta, 'IdDoc/Identificativo')).toBe(d.idSdI);
      d.receipts.forEach((r, k) => expect(textAt(files[k + 1], 'Hash')).toBe(sha(r.bytes)));
    });
    expect(groups[0] ? all(groups[0], 'File')[0]?.nsAttrs[`{${SINCRO_NS}}format`] : '').toBe(
      'application/pkcs7-mime',
    );
    expect(groups[0] ? all(groups[0], 'File')[0]?.nsAttrs[`{${SINCRO_NS}}extension`] : '').toBe('xml.p7m');
    expect(textAt(root, 'Process/TimeReference/TimeInfo')).toBe('2026-02-01T10:00:00Z');
  });

  it('deterministic: the same input gives the same bytes', () => {
    const a = buildPIndex(input);
    const b = buildPIndex(structuredClone(input));
    expect(a.equals(b)).toBe(true);
    expect(a.toString('utf8')).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<sincro:PIndex /);
  });

  it('escapes & < > " \' in names, labels, ids and relations', () => {
    const nasty = `A & B <C> "D" 'E'`;
    const xml = buildPIndex(
      minimal(
        {
          volume: { id: nasty, label: nasty, description: nasty },
          submitter: { ...HOLDER, name: { formal: nasty }, relevantDocument: nasty },
          holders: [{ ...HOLDER, name: { formal: nasty } }],
          authorizedSigners: [{ ...SIGNER, name: { name: nasty, surname: nasty }, role: nasty }],
          creatingApplication: { name: nasty, version: nasty, producer: nasty },
          laws: nasty,
        },
        { id: nasty, relations: [{ type: nasty, value: [nasty, nasty] }] },
      ),
    );
    expectValid(xml);
    const root = parse(xml);
    expect(textAt(root, 'PVolume/Label')).toBe(nasty);
    expect(textAt(root, 'Process/Submitter/AgentName/FormalName')).toBe(nasty);
    expect(textAt(root, 'Process/AuthorizedSigner/AgentName/NameAndSurname/LastName')).toBe(nasty);
    expect(at(root, 'Process/AuthorizedSigner')?.nsAttrs[`{${SINCRO_NS}}signerRole`]).toBe(nasty);
    expect(textAt(root, 'FileGroup/File/ID')).toBe(nasty);
    expect(all(root, 'FileGroup/File/Relation/Value').map((v) => v.text)).toEqual([nasty, nasty]);
  });

  it('paths become valid xs:anyURI (spaces, %, #, :, non-ASCII)', () => {
    const p = 'doc 1/fattura #3 100%: città.xml';
    expect(pathToUri(p)).toBe('doc%201/fattura%20%233%20100%25%3A%20citt%C3%A0.xml');
    expect(decodeURIComponent(pathToUri(p))).toBe(p);
    expectValid(buildPIndex(minimal({}, { path: p })));
    for (const bad of ['/etc/passwd', 'a/../b', '', 'a//b', './a'])
      expect(() => buildPIndex(minimal({}, { path: bad }))).toThrow(RangeError);
  });

  it('PreviousHash carries a qualified sincro:relatedPIndex', () => {
    const xml = buildPIndex(
      minimal({}, { previousHash: { sha256: 'b'.repeat(64), relatedPIndex: 'PdA-2025-000009' } }),
    );
    expectValid(xml);
    expect(xml.toString()).toContain('sincro:relatedPIndex="PdA-2025-000009"');
  });

  it('one PdV source: onetoone; no sources, minimal agents: still valid', () => {
    const one = buildPIndex(
      minimal({ sources: [{ id: 'PdV-1', path: 'PdV-1.rdv.xml', sha256: 'c'.repeat(64) }] }),
    );
    expectValid(one);
    expect(one.toString()).toContain('sincro:derivation="onetoone"');
    const bare = buildPIndex(
      minimal({
        submitter: { type: 'legal person', ids: [], name: { formal: 'X' } },
        holders: [{ type: 'legal person', ids: [], name: { formal: 'X' } }],
        authorizedSigners: [{ type: 'natural person', ids: [], name: { formal: 'Y' } }],
      }),
    );
    expectValid(bare);
    expect(bare.toString()).toContain('sincro:holderRole="soggetto produttore"');
  });

  it.each([
    ['VATIT-01234567890', true],
    ['TINIT-RSSMRA80A01H501U', true],
    ['PASIT-YA1234567', true],
    ['IDCIT-AB1234567', true],
    ['PNOIT-1', true],
    ['NTRIT-x9', true],
    ['ab:IT-123', true],
    ['Z9:DE-abc', true],
    ['VATIT01234567890', false],
    ['IT01234567890', false],
    ['VAT-IT-01234567890', false],
    ['vatIT-01234567890', false],
    ['VATit-01234567890', false],
    ['VATIT-', false],
    ['VATIT-0123 4567', false],
    ['VATIT-01234_567', false],
    ['XXXIT-1', false],
    ['abc:IT-1', false],
    [' VATIT-01234567890', false],
  ])('AgentID %j: %s, as the XSD says', (value, ok) => {
    expect(AGENT_ID.test(value)).toBe(ok);
    const holder: Agent = { ...HOLDER, ids: [value] };
    if (ok) expectValid(buildPIndex(minimal({ holders: [holder] })));
    else {
      expect(() => buildPIndex(minimal({ holders: [holder] }))).toThrow(/AgentID/);
      // The schema agrees: the same value patched into a valid index fails.
      const patched = buildPIndex(minimal())
        .toString('utf8')
        .replace(
          '<sincro:AgentID>VATIT-01234567890</sincro:AgentID>',
          `<sincro:AgentID>${escapeXml(value)}</sincro:AgentID>`,
        );
      expect(xmllint(Buffer.from(patched)).ok).toBe(false);
    }
  });

  it('rejects what the schema would (or what cannot be embedded)', () => {
    const bad: [string, PIndexInput][] = [
      ['no file groups', minimal({ fileGroups: [] })],
      ['empty group', minimal({ fileGroups: [{ id: 'G', files: [] }] })],
      ['no holder', minimal({ holders: [] })],
      ['no signer', minimal({ authorizedSigners: [] })],
      ['holder role', minimal({ holders: [{ ...HOLDER, role: 'owner' }] })],
      ['uppercase hash', minimal({}, { sha256: sha(FPA12).toUpperCase() })],
      ['short hash', minimal({}, { sha256: 'abc' })],
      ['source hash', minimal({ sources: [{ id: 'P', path: 'p.xml', sha256: '' }] })],
      ['empty relation', minimal({}, { relations: [{ type: 't', value: [] }] })],
      ['unqualified metadata', minimal({}, { metadata: '<Metadati><A/></Metadati>' })],
      ['two elements', minimal({}, { metadata: '<a xmlns="urn:x"/><b xmlns="urn:x"/>' })],
      ['malformed', minimal({}, { metadata: '<a xmlns="urn:x">' })],
      ['declaration', minimal({}, { metadata: '<?xml version="1.0"?><a xmlns="urn:x"/>' })],
      ['DOCTYPE', minimal({}, { metadata: '<!DOCTYPE a><a xmlns="urn:x"/>' })],
      ['bad time', minimal({ time: { instant: new Date('nope'), attachedTimeStamp: false } })],
    ];
    for (const [label, i] of bad) expect(() => buildPIndex(i), label).toThrow(RangeError);
  });

  it('file formats', () => {
    expect(fileFormat('IT01234567890_00001.xml.p7m')).toEqual({
      format: 'application/pkcs7-mime',
      extension: 'xml.p7m',
    });
    expect(fileFormat('IT01234567890_00001_RC_001.xml')).toEqual({
      format: 'application/xml',
      extension: 'xml',
    });
    expect(fileFormat('IT01234567890_00001.ZIP')).toEqual({ format: 'application/zip', extension: 'zip' });
    expect(fileFormat('README')).toEqual({ format: 'application/octet-stream' });
  });
});

// ---------------------------------------------------------------------------------------------

describe('rapporto di versamento', () => {
  const files: RdvFile[] = [
    { path: 'b.xml', sha256: sha(Buffer.from('b')), size: 1, kind: 'notification' },
    { path: 'B.xml', sha256: sha(Buffer.from('B')), size: 1, kind: 'notification' },
    { path: 'à.xml', sha256: sha(Buffer.from('à')), size: 2, kind: 'metadata' },
    { path: 'a/z & <y>.xml', sha256: sha(Buffer.from('z')), size: 1, kind: 'invoice' },
  ];
  const input = {
    id: 'PdV-2026-02-01-000001',
    time: new Date('2026-02-01T09:30:00.123Z'),
    producer: { name: 'ALPHA & C. SRL', vat: 'IT01234567890', software: 'fatturad 0.1.0', instance: 'erp-1' },
    files,
  };

  it('the manifest: "<sha256>  <path>" lines sorted by UTF-8 path, checkable by sha256sum -c', () => {
    const m = pdvManifest(files).toString('utf8');
    expect(m.split('\n').map((l) => l.slice(66))).toEqual(['B.xml', 'a/z & <y>.xml', 'b.xml', 'à.xml', '']);
    expect(m).toMatch(/^([0-9a-f]{64} {2}[^\n]+\n)+$/);
    // On disk, sha256sum agrees with every line.
    const dir = path.join(tmp.dir, 'pdv');
    fs.mkdirSync(path.join(dir, 'a'), { recursive: true });
    for (const [p, c] of [
      ['b.xml', 'b'],
      ['B.xml', 'B'],
      ['à.xml', 'à'],
      ['a/z & <y>.xml', 'z'],
    ] as const)
      fs.writeFileSync(path.join(dir, p), c);
    fs.writeFileSync(path.join(dir, 'manifest'), m);
    const r = spawnSync('sha256sum', ['--check', '--strict', 'manifest'], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(manifestSha256(files)).toBe(sha(pdvManifest(files)));
  });

  it('round trip through the project XML reader: id, UTC time, manifest hash', () => {
    const xml = buildRdv(input);
    const root = parse(xml);
    expect([root.name, root.ns]).toEqual(['RapportoDiVersamento', RDV_NS]);
    expect(textAt(root, 'ID')).toBe('RdV-PdV-2026-02-01-000001');
    expect(textAt(root, 'PdVID')).toBe('PdV-2026-02-01-000001');
    expect(textAt(root, 'TimeUTC')).toBe('2026-02-01T09:30:00.123Z');
    expect(textAt(root, 'ManifestHash')).toBe(sha(pdvManifest(files)));
    expect(textAt(root, 'Outcome')).toBe('accettato');
    expect(textAt(root, 'FileCount')).toBe('4');
    expect(textAt(root, 'TotalSize')).toBe('5');
    expect(textAt(root, 'Producer/Name')).toBe('ALPHA & C. SRL');
    expect(all(root, 'Files/File').map((f) => f.text)).toEqual(['B.xml', 'a/z & <y>.xml', 'b.xml', 'à.xml']);
    // The hashes listed cover the whole content: recomputing the manifest from them gives the hash.
    const listed = all(root, 'Files/File').map((f) => ({ path: f.text, sha256: f.attrs.sha256 ?? '' }));
    expect(manifestSha256(listed)).toBe(textAt(root, 'ManifestHash'));

    expect(readRdv(xml)).toEqual({
      rdvId: 'RdV-PdV-2026-02-01-000001',
      id: 'PdV-2026-02-01-000001',
      time: '2026-02-01T09:30:00.123Z',
      producer: input.producer,
      outcome: 'accettato',
      fileCount: 4,
      totalSize: 5,
      manifestSha256: sha(pdvManifest(files)),
      files: [files[1], files[3], files[0], files[2]],
    });
  });

  it('deterministic, whatever the order of the files', () => {
    const a = buildRdv(input);
    expect(buildRdv({ ...input, files: [...files].reverse() }).equals(a)).toBe(true);
    expect(buildRdv({ ...input, rdvId: 'R-1', outcome: 'rifiutato', note: 'x' }).equals(a)).toBe(false);
  });

  it('a tampered or foreign report reads as null', () => {
    const xml = buildRdv(input).toString('utf8');
    const other = sha(Buffer.from('other'));
    expect(readRdv(Buffer.from(xml.replace(files[0]?.sha256 ?? '', other)))).toBeNull();
    expect(readRdv(Buffer.from(xml.replace('<FileCount>4<', '<FileCount>3<')))).toBeNull();
    expect(readRdv(Buffer.from(xml.replace('<TotalSize>5<', '<TotalSize>6<')))).toBeNull();
    expect(readRdv(Buffer.from(xml.replace(RDV_NS, 'urn:other')))).toBeNull();
    expect(readRdv(Buffer.from('garbage'))).toBeNull();
  });

  it('rejects paths the manifest cannot carry, duplicates, bad hashes and sizes', () => {
    const f = files[0] as RdvFile;
    for (const bad of [
      [f, { ...f }],
      [{ ...f, path: '/abs.xml' }],
      [{ ...f, path: 'a/../b.xml' }],
      [{ ...f, path: 'a\nb.xml' }],
      [{ ...f, path: 'a\\b.xml' }],
      [{ ...f, sha256: 'xyz' }],
      [{ ...f, size: -1 }],
      [{ ...f, size: 1.5 }],
    ])
      expect(() => buildRdv({ ...input, files: bad })).toThrow(RangeError);
  });
});
