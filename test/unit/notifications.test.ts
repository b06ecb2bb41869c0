import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildEsitoCommittente,
  buildNotification,
  sdiDateTime,
  type BuildInput,
} from '../../src/notifications/build.js';
import { invoiceBaseName, notificationName, parseNotificationName } from '../../src/notifications/names.js';
import { parseNotification } from '../../src/notifications/parse.js';
import {
  MESSAGE_NAMESPACES,
  MESSAGE_ROOTS,
  type MessageFamily,
  type Notification,
  type NotificationKind,
} from '../../src/notifications/types.js';
import { EX, example, schemaCatalog, SPEC as SPEC_ROOT, specPath } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * SdI messages: reading (official samples, hostile input), names, and the simulator's builders
 * checked against the official XSDs with xmllint. The official files are oracles, never copied
 * in: from ../shared/spec or .cache/spec, and the tests that need them are skipped without them
 * (test/helpers/spec.ts).
 */

const SPEC = SPEC_ROOT ?? '';
const MESSAGGI = path.join(SPEC, 'sdi', 'messaggi');
const SAMPLES = path.join(MESSAGGI, 'samples');
const XSD: Record<MessageFamily, string> = {
  pa: path.join(MESSAGGI, 'MessaggiTypes_v1.1.xsd'),
  b2b: path.join(MESSAGGI, 'MessaggiFatturaTypes_v1.0.xsd'),
};
const XMLDSIG_XSD = path.join(SPEC, 'fatturapa', 'schema', 'xmldsig-core-schema.xsd');
/** SdI's sample messages, and the schemas xmllint needs, when available. */
const HAS_SAMPLES = specPath('sdi', 'messaggi', 'samples') !== null;
const HAS_SCHEMAS = [XSD.pa, XSD.b2b, XMLDSIG_XSD].every((f) => SPEC_ROOT !== null && fs.existsSync(f));

const PA = MESSAGE_NAMESPACES.pa;
const B2B = MESSAGE_NAMESPACES.b2b;

function parsed(bytes: Buffer): Notification {
  const r = parseNotification(bytes);
  if (!r.ok) throw new Error(`expected a notification, got: ${r.error}`);
  return r.notification;
}

// ---------------------------------------------------------------------------------------------
// Official samples (PA flow; no official B2B samples exist)
// ---------------------------------------------------------------------------------------------

const NOME = 'IT01234567890_11111.xml.p7m';
const RIF = { numeroFattura: '1111', annoFattura: '2013', posizioneFattura: '2' };

const SAMPLE_EXPECTATIONS: [string, Notification][] = [
  [
    'IT01234567890_11111_RC_001.xml',
    {
      kind: 'RC',
      family: 'pa',
      root: 'RicevutaConsegna',
      versione: '1.0',
      identificativoSdI: '111',
      nomeFile: NOME,
      dataOraRicezione: '2013-06-06T12:00:00Z',
      dataOraConsegna: '2013-06-06T12:01:00Z',
      destinatario: { codice: 'AAA111', descrizione: 'Amministrazione di prova' },
      messageId: '123456',
      note: 'Esempio',
      intermediarioConDupliceRuolo: true,
      signature: 'present',
    },
  ],
  [
    'IT01234567890_11111_NS_001.xml',
    {
      kind: 'NS',
      family: 'pa',
      root: 'NotificaScarto',
      versione: '1.0',
      identificativoSdI: '111',
      nomeFile: NOME,
      dataOraRicezione: '2013-06-06T12:00:00Z',
      riferimentoArchivio: { identificativoSdI: '100', nomeFile: 'IT01234567890_11111.zip' },
      errors: [{ codice: '00100', descrizione: 'Certificato di firma scaduto' }],
      messageId: '123456',
      note: 'Note',
      signature: 'present',
    },
  ],
  [
    'IT01234567890_11111_MC_001.xml',
    {
      kind: 'MC',
      family: 'pa',
      root: 'NotificaMancataConsegna',
      versione: '1.0',
      identificativoSdI: '111',
      nomeFile: NOME,
      dataOraRicezione: '2013-06-06T12:00:00',
      descrizione: 'Notifica di esempio',
      messageId: '123456',
      note: 'Esempio',
      signature: 'present',
    },
  ],
  [
    'IT01234567890_11111_AT_001.xml',
    {
      kind: 'AT',
      family: 'pa',
      root: 'AttestazioneTrasmissioneFattura',
      versione: '1.0',
      identificativoSdI: '111',
      nomeFile: NOME,
      dataOraRicezione: '2014-04-01T12:00:00',
      destinatario: { codice: 'AAAAAA', descrizione: 'Pubblica Amministrazione di prova' },
      messageId: '123456',
      note: 'Attestazione Trasmissione Fattura di prova',
      hashFileOriginale: '2c1f3a240a056d9537a8608fed310812ef7b1b7a410d0152f5c9c9e93486ae44',
      signature: 'present',
    },
  ],
  [
    'IT01234567890_11111_NE_001.xml',
    {
      kind: 'NE',
      family: 'pa',
      root: 'NotificaEsito',
      versione: '1.0',
      identificativoSdI: '111',
      nomeFile: NOME,
      esito: 'EC01',
      riferimentoFattura: RIF,
      descrizione: 'Notifica di esempio',
      messageIdCommittente: '123456',
      esitoCommittente: {
        versione: '1.0',
        identificativoSdI: '111',
        riferimentoFattura: RIF,
        esito: 'EC01',
        descrizione: 'Notifica di esempio',
        messageIdCommittente: '123456',
        signature: 'absent',
      },
      messageId: '123456',
      note: 'Notifica di esito di esempio',
      intermediarioConDupliceRuolo: true,
      signature: 'present',
    },
  ],
  [
    // The schema's DT has no DataOraRicezione (and the sample no RiferimentoFattura).
    'IT01234567890_11111_DT_001.xml',
    {
      kind: 'DT',
      family: 'pa',
      root: 'NotificaDecorrenzaTermini',
      versione: '1.0',
      identificativoSdI: '111',
      nomeFile: NOME,
      descrizione: 'Notifica di esempio',
      messageId: '123456',
      note: 'Esempio',
      intermediarioConDupliceRuolo: true,
      signature: 'present',
    },
  ],
  [
    // Formato "SDI10" in the official sample (2014); today's files carry FPA12 / FPR12.
    'IT01234567890_11111_MT_001.xml',
    {
      kind: 'MT',
      family: 'pa',
      root: 'MetadatiInvioFile',
      versione: '1.0',
      identificativoSdI: '111',
      nomeFile: NOME,
      codiceDestinatario: 'AAA111',
      formato: 'SDI10',
      tentativiInvio: '1',
      messageId: '123456',
      note: 'Esempio',
      signature: 'absent',
    },
  ],
  [
    // EC and SE have no NomeFile in the schema: nomeFile is ''.
    'IT01234567890_11111_EC_001.xml',
    {
      kind: 'EC',
      family: 'pa',
      root: 'NotificaEsitoCommittente',
      versione: '1.0',
      identificativoSdI: '111',
      nomeFile: '',
      riferimentoFattura: RIF,
      esito: 'EC01',
      descrizione: 'Esempio',
      messageIdCommittente: '123456',
      signature: 'absent',
    },
  ],
  [
    'IT01234567890_11111_SE_001.xml',
    {
      kind: 'SE',
      family: 'pa',
      root: 'ScartoEsitoCommittente',
      versione: '1.0',
      identificativoSdI: '111',
      nomeFile: '',
      scarto: 'EN00',
      messageId: '123456',
      messageIdCommittente: '123456',
      note: 'Esempio',
      signature: 'present',
    },
  ],
];

describe.skipIf(!HAS_SAMPLES)('official samples', () => {
  it('the table covers every sample file', () => {
    expect(SAMPLE_EXPECTATIONS.map(([f]) => f).sort()).toEqual(fs.readdirSync(SAMPLES).sort());
  });

  it.each(SAMPLE_EXPECTATIONS)('%s', (file, expected) => {
    const n = parsed(fs.readFileSync(path.join(SAMPLES, file)));
    expect(n).toEqual(expected);
    // The file name agrees with the content.
    const name = parseNotificationName(file);
    expect(name?.kind).toBe(n.kind);
    expect(name?.base).toBe(invoiceBaseName(NOME));
  });
});

// ---------------------------------------------------------------------------------------------
// xmllint as the oracle
// ---------------------------------------------------------------------------------------------

/**
 * How the schemas are loaded offline. MessaggiTypes_v1.1.xsd imports xmldsig with a relative
 * schemaLocation ("xmldsig-core-schema.xsd", not beside it in ../shared), which the shared
 * catalog (fatturapa/schema/catalog.xml, mapping the W3C URL only) cannot redirect; the B2B
 * schema imports the absolute W3C URL, which the catalog would map. One way for both: a wrapper
 * schema, written to a temp folder, that imports the xmldsig namespace from the local copy
 * under ../shared first and then the messages schema; xmllint then skips the schema's own
 * xmldsig import ("namespace already imported", a warning).
 *
 * Signatures: built messages are unsigned, so each is checked twice: as built, where the only
 * errors allowed are about the missing ds:Signature (none for MT and EC, whose schema does not
 * require one); and with a dummy but schema-valid ds:Signature appended, where xmllint must
 * say "validates".
 */
let tmp: { dir: string; cleanup: () => void };
const wrapper: Partial<Record<MessageFamily, string>> = {};

beforeAll(() => {
  tmp = tempDir('fatturad-notifications-');
  for (const family of ['pa', 'b2b'] as const) {
    const file = path.join(tmp.dir, `wrapper-${family}.xsd`);
    fs.writeFileSync(
      file,
      `<?xml version="1.0" encoding="UTF-8"?>
<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <xsd:import namespace="http://www.w3.org/2000/09/xmldsig#" schemaLocation="${new URL(`file://${XMLDSIG_XSD}`).href}"/>
  <xsd:import namespace="${MESSAGE_NAMESPACES[family]}" schemaLocation="${new URL(`file://${XSD[family]}`).href}"/>
</xsd:schema>
`,
    );
    wrapper[family] = file;
  }
});

afterAll(() => tmp?.cleanup());

interface Verdict {
  ok: boolean;
  errors: string[];
}

/** xmllint's verdict on each file (one process per call). */
function xmllint(family: MessageFamily, files: string[]): Map<string, Verdict> {
  const r = spawnSync('xmllint', ['--noout', '--nonet', '--schema', wrapper[family] as string, ...files], {
    encoding: 'utf8',
    env: { ...process.env, XML_CATALOG_FILES: schemaCatalog() ?? '' },
  });
  if (r.error) throw new Error(`xmllint could not run (Debian: apt-get install libxml2-utils): ${r.error}`);
  if (r.status === 5) throw new Error(`xmllint could not load the schema:\n${r.stderr}`);
  const out = new Map<string, Verdict>(files.map((f) => [f, { ok: false, errors: [] }]));
  for (const line of r.stderr.split('\n')) {
    const v = /^(.+) (validates|fails to validate)$/.exec(line);
    if (v && out.has(v[1] as string)) {
      (out.get(v[1] as string) as Verdict).ok = v[2] === 'validates';
      continue;
    }
    const m = /^(.+?):\d+: .*Schemas (?:validity|parser) error : (.*)$/.exec(line);
    if (m && out.has(m[1] as string)) (out.get(m[1] as string) as Verdict).errors.push(m[2] as string);
  }
  return out;
}

const DUMMY_SIGNATURE = `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="Signature1">
<ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
<ds:Reference URI=""><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
<ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>
<ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>
`;

/** The built XML with a dummy ds:Signature as the root's last child (where SdI puts it). */
function withDummySignature(xml: Buffer): Buffer {
  const text = xml.toString('utf8');
  const close = text.lastIndexOf('</');
  return Buffer.from(text.slice(0, close) + DUMMY_SIGNATURE + text.slice(close), 'utf8');
}

describe.skipIf(!HAS_SAMPLES || !HAS_SCHEMAS)('xmllint oracle', () => {
  it('validates the official samples (the wrapper schema works offline)', () => {
    const files = fs.readdirSync(SAMPLES).map((f) => path.join(SAMPLES, f));
    const verdicts = xmllint('pa', files);
    for (const f of files) expect({ f, ...verdicts.get(f) }).toEqual({ f, ok: true, errors: [] });
  });
});

// ---------------------------------------------------------------------------------------------
// Builders: round trip and XSD
// ---------------------------------------------------------------------------------------------

/** Text with every character that needs escaping, and some Latin-1 letters. */
const TRICKY = `Forlì & Cesena <"prova"> 'uno'`;
const NOW = new Date('2026-03-02T09:30:15.250Z');

const HASH = createHash('sha256').update('invoice').digest('hex');

const BUILD_CASES: { name: string; family: MessageFamily; input: BuildInput }[] = [
  {
    name: 'RC pa',
    family: 'pa',
    input: {
      kind: 'RC',
      identificativoSdI: '123456789012',
      nomeFile: 'IT01234567890_00001.xml.p7m',
      dataOraRicezione: '2026-03-02T10:30:15.000+01:00',
      dataOraConsegna: '2026-03-02T10:31:00.000+01:00',
      destinatario: { codice: 'UFABCD', descrizione: `Comune di ${TRICKY}` },
      riferimentoArchivio: { identificativoSdI: '123456789000', nomeFile: 'IT01234567890_00002.zip' },
      messageId: '12345678901234',
      pecMessageId: '<opec210.20260302103115.1234@pec.fatturapa.it>',
      note: TRICKY,
      intermediarioConDupliceRuolo: true,
    },
  },
  {
    name: 'RC b2b',
    family: 'b2b',
    input: {
      kind: 'RC',
      family: 'b2b',
      identificativoSdI: '9876543210',
      nomeFile: 'IT01234567890_00001.xml',
      hash: HASH,
      dataOraRicezione: '2026-03-02T10:30:15.000+01:00',
      dataOraConsegna: '2026-03-02T10:31:00.000+01:00',
      destinatario: { codice: '0000000' },
      messageId: 'a-36-characters-message-id-000000001',
      note: TRICKY,
      flussoSemplificato: true,
    },
  },
  {
    name: 'NS pa',
    family: 'pa',
    input: {
      kind: 'NS',
      identificativoSdI: '111',
      nomeFile: 'IT01234567890_00001.xml.p7m',
      dataOraRicezione: '2026-03-02T10:30:15.000+01:00',
      errors: [
        { codice: '00200', descrizione: `File non conforme al formato: ${TRICKY}` },
        { codice: '00404', descrizione: 'Fattura duplicata' },
      ],
      messageId: '42',
    },
  },
  {
    name: 'NS b2b',
    family: 'b2b',
    input: {
      kind: 'NS',
      family: 'b2b',
      identificativoSdI: '222',
      nomeFile: 'IT01234567890_00001.xml',
      hash: HASH,
      dataOraRicezione: '2026-03-02T10:30:15.000+01:00',
      riferimentoArchivio: { identificativoSdI: '221', nomeFile: 'IT01234567890_00003.zip' },
      errors: [
        { codice: '00311', descrizione: 'CodiceDestinatario non valido', suggerimento: TRICKY },
        { codice: '0', descrizione: 'Codice di un carattere', suggerimento: '' },
      ],
      messageId: '43',
      note: 'nota',
    },
  },
  {
    name: 'MC pa',
    family: 'pa',
    input: {
      kind: 'MC',
      identificativoSdI: '333',
      nomeFile: 'IT01234567890_00001.xml.p7m',
      dataOraRicezione: '2026-03-02T10:30:15.000+01:00',
      descrizione: 'Casella PEC del destinatario piena',
      messageId: '44',
      note: TRICKY,
    },
  },
  {
    name: 'MC b2b',
    family: 'b2b',
    input: {
      kind: 'MC',
      family: 'b2b',
      identificativoSdI: '444',
      nomeFile: 'IT01234567890_00001.xml',
      hash: HASH,
      dataOraRicezione: '2026-03-02T10:30:15.000+01:00',
      dataMessaADisposizione: '2026-03-04',
      descrizione: 'Il file è a disposizione nell’area riservata',
      messageId: '45',
    },
  },
  {
    name: 'AT pa',
    family: 'pa',
    input: {
      kind: 'AT',
      identificativoSdI: '555',
      nomeFile: 'IT01234567890_00001.xml.p7m',
      dataOraRicezione: '2026-03-02T10:30:15.000+01:00',
      destinatario: { codice: 'UFABCD', descrizione: 'Ministero di prova' },
      messageId: '46',
      note: TRICKY,
      hashFileOriginale: HASH,
    },
  },
  {
    name: 'NE pa',
    family: 'pa',
    input: {
      kind: 'NE',
      identificativoSdI: '666',
      nomeFile: 'IT01234567890_00001.xml.p7m',
      esito: 'EC02',
      riferimentoFattura: { numeroFattura: 'FT/2026/1 & <2>', annoFattura: '2026', posizioneFattura: '1' },
      descrizione: `Rifiutata: ${TRICKY}`,
      messageIdCommittente: 'PA-0001',
      messageId: '47',
      pecMessageId: 'pec-47',
      note: 'nota',
      intermediarioConDupliceRuolo: true,
    },
  },
  {
    name: 'DT pa',
    family: 'pa',
    input: {
      kind: 'DT',
      identificativoSdI: '777',
      riferimentoFattura: { numeroFattura: '12', annoFattura: '2026' },
      nomeFile: 'IT01234567890_00001.xml.p7m',
      descrizione: 'Decorsi i termini',
      messageId: '48',
      note: TRICKY,
      intermediarioConDupliceRuolo: true,
    },
  },
  {
    name: 'MT pa',
    family: 'pa',
    input: {
      kind: 'MT',
      identificativoSdI: '888',
      nomeFile: 'IT01234567890_00001.xml.p7m',
      codiceDestinatario: 'UFABCD',
      formato: 'FPA12',
      tentativiInvio: '2',
      messageId: '49',
      note: TRICKY,
    },
  },
  {
    name: 'MT b2b',
    family: 'b2b',
    input: {
      kind: 'MT',
      family: 'b2b',
      identificativoSdI: '999',
      nomeFile: 'IT01234567890_00001.xml',
      hash: HASH,
      codiceDestinatario: 'ABC1234',
      formato: 'FPR12',
      tentativiInvio: '1',
      messageId: '50',
    },
  },
  {
    name: 'EC pa',
    family: 'pa',
    input: {
      kind: 'EC',
      identificativoSdI: '1000',
      riferimentoFattura: { numeroFattura: '1111', annoFattura: '2013', posizioneFattura: '2' },
      esito: 'EC01',
      descrizione: TRICKY,
      messageIdCommittente: '123456',
    },
  },
  {
    name: 'SE pa',
    family: 'pa',
    input: {
      kind: 'SE',
      identificativoSdI: '1001',
      riferimentoFattura: { numeroFattura: '1111', annoFattura: '2013' },
      scarto: 'EN01',
      messageId: '51',
      messageIdCommittente: '123456',
      pecMessageId: 'pec-51',
      note: TRICKY,
    },
  },
];

/** Minimal inputs: only what each schema requires, the rest from the builder's defaults. */
const MINIMAL_CASES: { name: string; family: MessageFamily; input: BuildInput }[] = [
  ...(['RC', 'NS', 'MC', 'AT', 'NE', 'DT', 'MT', 'EC', 'SE'] as const).map((kind) => ({
    name: `${kind} pa (defaults)`,
    family: 'pa' as const,
    input: {
      kind,
      identificativoSdI: '5',
      nomeFile: 'IT01234567890_00001.xml',
      codiceDestinatario: 'UFABCD',
      invoiceBytes: Buffer.from('invoice'),
      errors: [{ codice: '00001', descrizione: 'Nome file non valido' }],
      esito: 'EC01' as const,
      scarto: 'EN00' as const,
      now: NOW,
    },
  })),
  ...(['RC', 'NS', 'MC', 'MT'] as const).map((kind) => ({
    name: `${kind} b2b (defaults)`,
    family: 'b2b' as const,
    input: {
      kind,
      family: 'b2b' as const,
      identificativoSdI: '6',
      nomeFile: 'IT01234567890_00001.xml',
      codiceDestinatario: '0000000',
      invoiceBytes: Buffer.from('invoice'),
      errors: [{ codice: '00001', descrizione: 'Nome file non valido' }],
      now: NOW,
    },
  })),
];

/** What parsing the built file must give back: the input's fields under the same names. */
function expectedFrom(input: BuildInput, family: MessageFamily): Partial<Notification> {
  const { kind, now: _now, invoiceBytes: _bytes, family: _family, ...fields } = input;
  const out: Partial<Notification> = {
    nomeFile: '', // EC and SE: not in their schema
    ...fields,
    kind,
    family,
    root: MESSAGE_ROOTS[family][kind],
    versione: '1.0',
    signature: 'absent',
  };
  if (kind === 'NE') {
    // The embedded EsitoCommittente in full, besides its fields copied to the top.
    const { riferimentoFattura, esito, descrizione, messageIdCommittente } = input;
    out.esitoCommittente = {
      versione: '1.0',
      identificativoSdI: input.identificativoSdI,
      ...(riferimentoFattura ? { riferimentoFattura } : {}),
      ...(esito ? { esito } : {}),
      ...(descrizione !== undefined ? { descrizione } : {}),
      ...(messageIdCommittente !== undefined ? { messageIdCommittente } : {}),
      signature: 'absent',
    };
  }
  return out;
}

const REQUIRES_SIGNATURE = (kind: NotificationKind): boolean => kind !== 'MT' && kind !== 'EC';

describe('builders', () => {
  it('cover every kind of both families', () => {
    const covered = new Set(BUILD_CASES.map((c) => `${c.input.kind} ${c.family}`));
    for (const family of ['pa', 'b2b'] as const)
      for (const kind of Object.keys(MESSAGE_ROOTS[family])) expect(covered).toContain(`${kind} ${family}`);
  });

  it.each(BUILD_CASES)('$name: build → parse gives the fields back', ({ input, family }) => {
    const xml = buildNotification(input);
    expect(xml.toString('utf8')).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<ns3:/);
    const n = parsed(xml);
    expect(n).toEqual(expectedFrom(input, family));
    // With SdI's signature in place, the signature is seen and nothing else changes.
    if (REQUIRES_SIGNATURE(input.kind))
      expect(parsed(withDummySignature(xml))).toEqual({
        ...expectedFrom(input, family),
        signature: 'present',
      });
  });

  it.each(MINIMAL_CASES)('$name: defaults are filled in', ({ input, family }) => {
    const n = parsed(buildNotification(input));
    expect(n.kind).toBe(input.kind);
    expect(n.family).toBe(family);
    expect(n.identificativoSdI).toBe(input.identificativoSdI);
    if (input.kind !== 'EC') expect(n.messageId).toMatch(/^[0-9]{9,12}$/);
    if (['RC', 'NS', 'MC', 'AT'].includes(input.kind))
      expect(n.dataOraRicezione).toBe('2026-03-02T10:30:15.250+01:00');
    if (input.kind === 'RC') expect(n.dataOraConsegna).toBe('2026-03-02T10:30:15.250+01:00');
    if (family === 'b2b') expect(n.hash).toBe(HASH);
    if (input.kind === 'AT') expect(n.hashFileOriginale).toBe(HASH);
    if (input.kind === 'MC' && family === 'b2b') expect(n.dataMessaADisposizione).toBe('2026-03-02');
    if (input.kind === 'MT')
      expect(n).toMatchObject({ formato: family === 'pa' ? 'FPA12' : 'FPR12', tentativiInvio: '1' });
  });

  it('validate against the official XSD: unsigned, only the ds:Signature is missing; with one, valid', (ctx) => {
    if (!HAS_SCHEMAS) ctx.skip();
    for (const family of ['pa', 'b2b'] as const) {
      const cases = [...BUILD_CASES, ...MINIMAL_CASES].filter((c) => c.family === family);
      const unsigned: string[] = [];
      const signed: string[] = [];
      cases.forEach((c, i) => {
        const xml = buildNotification(c.input);
        const a = path.join(tmp.dir, `${family}-${i}-unsigned.xml`);
        fs.writeFileSync(a, xml);
        unsigned.push(a);
        if (REQUIRES_SIGNATURE(c.input.kind) || c.input.kind === 'EC') {
          const b = path.join(tmp.dir, `${family}-${i}-signed.xml`);
          fs.writeFileSync(b, withDummySignature(xml));
          signed.push(b);
        }
      });
      const v = xmllint(family, [...unsigned, ...signed]);
      cases.forEach((c, i) => {
        const verdict = v.get(unsigned[i] as string) as Verdict;
        const label = `${c.name} as built`;
        if (REQUIRES_SIGNATURE(c.input.kind)) {
          expect({ label, ok: verdict.ok }).toEqual({ label, ok: false });
          expect(verdict.errors.length).toBe(1);
          // The only error: the sequence ends where ds:Signature (the last child) should be.
          expect(verdict.errors[0]).toMatch(
            /Missing child element\(s\)\. Expected is (?:one of )?\((?: \w+,)* \{http:\/\/www\.w3\.org\/2000\/09\/xmldsig#\}Signature \)\.$/,
          );
        } else expect({ label, ...verdict }).toEqual({ label, ok: true, errors: [] });
      });
      for (const f of signed) expect({ f, ...v.get(f) }).toEqual({ f, ok: true, errors: [] });
    }
  });

  it('buildEsitoCommittente: the EC a PA sends, schema-valid unsigned', () => {
    const xml = buildEsitoCommittente({
      identificativoSdI: '4242',
      esito: 'EC02',
      descrizione: 'Importo errato',
      riferimentoFattura: { numeroFattura: '7', annoFattura: '2026' },
    });
    const f = path.join(tmp.dir, 'ec.xml');
    fs.writeFileSync(f, xml);
    if (HAS_SCHEMAS) expect(xmllint('pa', [f]).get(f)).toEqual({ ok: true, errors: [] });
    expect(parsed(xml)).toEqual({
      kind: 'EC',
      family: 'pa',
      root: 'NotificaEsitoCommittente',
      versione: '1.0',
      identificativoSdI: '4242',
      nomeFile: '',
      esito: 'EC02',
      descrizione: 'Importo errato',
      riferimentoFattura: { numeroFattura: '7', annoFattura: '2026' },
      signature: 'absent',
    });
  });

  it('escapes markup and keeps a carriage return', () => {
    const xml = buildNotification({
      kind: 'MC',
      identificativoSdI: '1',
      nomeFile: 'a.xml',
      descrizione: 'a & b < c > d " e \' f\r\ng',
      messageId: '1',
    }).toString('utf8');
    expect(xml).toContain('<Descrizione>a &amp; b &lt; c &gt; d &quot; e &apos; f&#13;\ng</Descrizione>');
    expect(parsed(Buffer.from(xml)).descrizione).toBe('a & b < c > d " e \' f\r\ng');
  });

  it.each<[string, BuildInput, RegExp]>([
    [
      'AT in the B2B flow',
      { kind: 'AT', family: 'b2b', identificativoSdI: '1', nomeFile: 'a.xml' },
      /B2B flow has no AT/,
    ],
    ['NE in the B2B flow', { kind: 'NE', family: 'b2b', identificativoSdI: '1', nomeFile: 'a.xml' }, /no NE/],
    [
      'PA IdentificativoSdI not digits',
      { kind: 'DT', identificativoSdI: 'abc', nomeFile: 'a.xml' },
      /12 digits/,
    ],
    [
      'PA IdentificativoSdI of 13 digits',
      { kind: 'DT', identificativoSdI: '1234567890123', nomeFile: 'a' },
      /12 digits/,
    ],
    [
      'no IdentificativoSdI',
      { kind: 'DT', identificativoSdI: '', nomeFile: 'a.xml' },
      /IdentificativoSdI is required/,
    ],
    [
      'RC without NomeFile',
      { kind: 'RC', identificativoSdI: '1', codiceDestinatario: 'AAAAAA' },
      /NomeFile is required/,
    ],
    [
      'RC without Destinatario',
      { kind: 'RC', identificativoSdI: '1', nomeFile: 'a.xml' },
      /Destinatario\/Codice/,
    ],
    ['NS without errors', { kind: 'NS', identificativoSdI: '1', nomeFile: 'a.xml' }, /1 to 200 errors/],
    [
      'NS with 201 errors',
      {
        kind: 'NS',
        identificativoSdI: '1',
        nomeFile: 'a.xml',
        errors: Array.from({ length: 201 }, () => ({ codice: '00200', descrizione: 'x' })),
      },
      /1 to 200 errors/,
    ],
    [
      'B2B RC without Hash',
      { kind: 'RC', family: 'b2b', identificativoSdI: '1', nomeFile: 'a', codiceDestinatario: '0000000' },
      /Hash \(or invoiceBytes\)/,
    ],
    [
      'AT without HashFileOriginale',
      { kind: 'AT', identificativoSdI: '1', nomeFile: 'a', codiceDestinatario: 'AAAAAA' },
      /HashFileOriginale/,
    ],
    ['NE without Esito', { kind: 'NE', identificativoSdI: '1', nomeFile: 'a.xml' }, /EC01 or EC02/],
    ['SE without Scarto', { kind: 'SE', identificativoSdI: '1' }, /EN00 or EN01/],
    [
      'MT without CodiceDestinatario',
      { kind: 'MT', identificativoSdI: '1', nomeFile: 'a.xml' },
      /CodiceDestinatario/,
    ],
    [
      'PA MessageId of 15 characters',
      { kind: 'DT', identificativoSdI: '1', nomeFile: 'a', messageId: '123456789012345' },
      /MessageId/,
    ],
    [
      'a control character',
      { kind: 'DT', identificativoSdI: '1', nomeFile: 'a', note: 'bell \u0007' },
      /not allowed in XML/,
    ],
  ])('refuses %s', (_name, input, message) => {
    expect(() => buildNotification(input)).toThrow(message);
  });

  it('sdiDateTime: Italian time, milliseconds and offset, across the DST change', () => {
    expect(sdiDateTime(new Date('2026-01-15T09:00:00.007Z'))).toBe('2026-01-15T10:00:00.007+01:00');
    expect(sdiDateTime(new Date('2026-03-29T00:59:59Z'))).toBe('2026-03-29T01:59:59.000+01:00');
    expect(sdiDateTime(new Date('2026-03-29T01:00:00Z'))).toBe('2026-03-29T03:00:00.000+02:00');
    expect(sdiDateTime(new Date('2026-07-01T22:30:00Z'))).toBe('2026-07-02T00:30:00.000+02:00');
  });
});

// ---------------------------------------------------------------------------------------------
// Tolerance and hostile input
// ---------------------------------------------------------------------------------------------

describe('reading what is not quite the schema', () => {
  it('ignores unknown elements and attributes (SdI may add fields)', () => {
    const n = parsed(
      Buffer.from(
        `<ns3:RicevutaConsegna xmlns:ns3="${B2B}" versione="1.1" Nuovo="x"><IdentificativoSdI> 77 </IdentificativoSdI>` +
          `<CampoNuovo><Sotto>1</Sotto></CampoNuovo><NomeFile>IT01234567890_00001.xml</NomeFile>` +
          `<Hash>abc</Hash><DataOraConsegna>2026-01-01T00:00:00</DataOraConsegna><Altro/></ns3:RicevutaConsegna>`,
      ),
    );
    expect(n).toEqual({
      kind: 'RC',
      family: 'b2b',
      root: 'RicevutaConsegna',
      versione: '1.1',
      identificativoSdI: '77',
      nomeFile: 'IT01234567890_00001.xml',
      hash: 'abc',
      dataOraConsegna: '2026-01-01T00:00:00',
      signature: 'absent',
    });
  });

  it('reads children qualified with the root namespace, and a default namespace', () => {
    const a = parsed(
      Buffer.from(
        `<ns:NotificaScarto xmlns:ns="${PA}"><ns:IdentificativoSdI>5</ns:IdentificativoSdI>` +
          `<ns:NomeFile>a.xml</ns:NomeFile><ns:ListaErrori><ns:Errore><ns:Codice>00102</ns:Codice>` +
          `<ns:Descrizione>Firma non valida</ns:Descrizione></ns:Errore></ns:ListaErrori></ns:NotificaScarto>`,
      ),
    );
    expect(a).toMatchObject({ kind: 'NS', identificativoSdI: '5', nomeFile: 'a.xml', versione: '' });
    expect(a.errors).toEqual([{ codice: '00102', descrizione: 'Firma non valida' }]);
    const b = parsed(
      Buffer.from(
        `<FileMetadati xmlns="${B2B}"><IdentificativoSdI>6</IdentificativoSdI><Formato>FPR12</Formato></FileMetadati>`,
      ),
    );
    expect(b).toMatchObject({
      kind: 'MT',
      family: 'b2b',
      identificativoSdI: '6',
      formato: 'FPR12',
      nomeFile: '',
    });
  });

  it('an NS without ListaErrori gives an empty error list; unknown Esito / Scarto values are left out', () => {
    expect(
      parsed(
        Buffer.from(
          `<a:NotificaScarto xmlns:a="${PA}"><IdentificativoSdI>1</IdentificativoSdI></a:NotificaScarto>`,
        ),
      ).errors,
    ).toEqual([]);
    const ne = parsed(
      Buffer.from(
        `<a:NotificaEsito xmlns:a="${PA}"><IdentificativoSdI>1</IdentificativoSdI><NomeFile>x</NomeFile>` +
          `<EsitoCommittente versione="1.0"><IdentificativoSdI>1</IdentificativoSdI><Esito>EC03</Esito></EsitoCommittente></a:NotificaEsito>`,
      ),
    );
    expect(ne.esito).toBeUndefined();
    expect(ne.esitoCommittente).toEqual({ versione: '1.0', identificativoSdI: '1', signature: 'absent' });
    const se = parsed(
      Buffer.from(
        `<a:ScartoEsitoCommittente xmlns:a="${PA}"><IdentificativoSdI>1</IdentificativoSdI><Scarto>en00</Scarto></a:ScartoEsitoCommittente>`,
      ),
    );
    expect(se.scarto).toBeUndefined();
  });

  it('an errore carrying RiferimentoFattura (not in the 2014 schemas) keeps it', () => {
    const n = parsed(
      Buffer.from(
        `<a:RicevutaScarto xmlns:a="${B2B}"><IdentificativoSdI>1</IdentificativoSdI><ListaErrori><Errore>` +
          `<Codice>00400</Codice><Descrizione>d</Descrizione><Suggerimento>s</Suggerimento>` +
          `<RiferimentoFattura><NumeroFattura>3</NumeroFattura><AnnoFattura>2026</AnnoFattura></RiferimentoFattura>` +
          `</Errore></ListaErrori></a:RicevutaScarto>`,
      ),
    );
    expect(n.errors).toEqual([
      {
        codice: '00400',
        descrizione: 'd',
        suggerimento: 's',
        riferimentoFattura: { numeroFattura: '3', annoFattura: '2026' },
      },
    ]);
  });

  it('signature: only a ds:Signature child of the root counts (not one inside the EC, not another namespace)', () => {
    const sig = '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/>';
    const ne = parsed(
      Buffer.from(
        `<a:NotificaEsito xmlns:a="${PA}"><IdentificativoSdI>1</IdentificativoSdI><NomeFile>x</NomeFile>` +
          `<EsitoCommittente versione="1.0"><IdentificativoSdI>1</IdentificativoSdI><Esito>EC01</Esito>${sig}</EsitoCommittente>` +
          `<MessageId>1</MessageId></a:NotificaEsito>`,
      ),
    );
    expect(ne.signature).toBe('absent');
    expect(ne.esitoCommittente?.signature).toBe('present');
    const fake = parsed(
      Buffer.from(
        `<a:NotificaScarto xmlns:a="${PA}"><IdentificativoSdI>1</IdentificativoSdI><Signature/></a:NotificaScarto>`,
      ),
    );
    expect(fake.signature).toBe('absent');
  });

  it('accepts a UTF-8 byte order mark and ISO-8859-1', () => {
    const body = `<a:NotificaMancataConsegna xmlns:a="${PA}"><IdentificativoSdI>1</IdentificativoSdI><Descrizione>Forlì</Descrizione></a:NotificaMancataConsegna>`;
    expect(parsed(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)])).descrizione).toBe(
      'Forlì',
    );
    expect(
      parsed(Buffer.from(`<?xml version="1.0" encoding="ISO-8859-1"?>${body}`, 'latin1')).descrizione,
    ).toBe('Forlì');
  });
});

const BILLION_LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ns3:RicevutaConsegna xmlns:ns3="${PA}" versione="1.0"><IdentificativoSdI>1</IdentificativoSdI><Note>&lol9;</Note></ns3:RicevutaConsegna>`;

const XXE = `<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ns3:RicevutaConsegna xmlns:ns3="${PA}" versione="1.0"><IdentificativoSdI>1</IdentificativoSdI><Note>&xxe;</Note></ns3:RicevutaConsegna>`;

/** SdI's RC sample when available, otherwise an RC built here with the same IdentificativoSdI. */
const RC_SAMPLE = (): Buffer =>
  HAS_SAMPLES
    ? fs.readFileSync(path.join(SAMPLES, 'IT01234567890_11111_RC_001.xml'))
    : buildNotification({
        kind: 'RC',
        identificativoSdI: '111',
        nomeFile: 'IT12345670017_B2B01.xml',
        dataOraRicezione: '2026-03-02T10:30:15.000+01:00',
        dataOraConsegna: '2026-03-02T10:31:00.000+01:00',
        destinatario: { codice: 'UFX7Q2', descrizione: 'Comune di Esempio' },
        messageId: '12345678901234',
        note: 'Esempio',
      });
/** The first 900 bytes (of a longer file), cut inside the document. */
const truncated = (b: Buffer): Buffer => b.subarray(0, Math.min(900, b.length - 40));

describe('not an SdI message: ok false, a clear reason, no throw', () => {
  it.each<[string, () => Buffer, RegExp]>([
    ['empty bytes', () => Buffer.alloc(0), /empty/],
    ['only white space', () => Buffer.from('  \n\t '), /empty/],
    [
      'malformed XML',
      () => Buffer.from(`<ns3:RicevutaConsegna xmlns:ns3="${PA}"><IdentificativoSdI>1</Id>`),
      /not readable XML/,
    ],
    ['a truncated sample', () => truncated(RC_SAMPLE()), /not readable XML/],
    ['text that is not XML', () => Buffer.from('Ricevuta di consegna 6782414'), /not readable XML/],
    [
      'non-UTF-8 garbage',
      () => Buffer.from([0x80, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xff, 0x00]),
      /not readable XML.*UTF-8/,
    ],
    ['an XML bomb (billion laughs)', () => Buffer.from(BILLION_LAUGHS), /not readable XML.*DOCTYPE/],
    ['an XXE attempt', () => Buffer.from(XXE), /not readable XML.*DOCTYPE/],
    ['a FatturaPA invoice', () => example(EX.b2b), /an invoice \(FatturaElettronica/],
    [
      'a simplified invoice',
      () =>
        Buffer.from(
          '<p:FatturaElettronicaSemplificata xmlns:p="http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.0" versione="FSM10"/>',
        ),
      /an invoice/,
    ],
    [
      'a root in another namespace',
      () =>
        Buffer.from(
          '<x:RicevutaConsegna xmlns:x="http://attacker.example/x"><IdentificativoSdI>1</IdentificativoSdI></x:RicevutaConsegna>',
        ),
      /RicevutaConsegna is in namespace http:\/\/attacker\.example\/x/,
    ],
    [
      'a root in no namespace',
      () => Buffer.from('<RicevutaConsegna><IdentificativoSdI>1</IdentificativoSdI></RicevutaConsegna>'),
      /is in no namespace/,
    ],
    [
      'an unknown root in the PA namespace',
      () =>
        Buffer.from(
          `<a:RicevutaQualcosa xmlns:a="${PA}"><IdentificativoSdI>1</IdentificativoSdI></a:RicevutaQualcosa>`,
        ),
      /RicevutaQualcosa is not a message of the PA flow/,
    ],
    [
      'a PA-only root in the B2B namespace',
      () =>
        Buffer.from(
          `<a:NotificaEsito xmlns:a="${B2B}"><IdentificativoSdI>1</IdentificativoSdI></a:NotificaEsito>`,
        ),
      /NotificaEsito is not a message of the B2B flow/,
    ],
    [
      'a notification without IdentificativoSdI',
      () =>
        Buffer.from(RC_SAMPLE().toString('utf8').replace('<IdentificativoSdI>111</IdentificativoSdI>', '')),
      /RicevutaConsegna has no IdentificativoSdI/,
    ],
    [
      'a notification with an empty IdentificativoSdI',
      () =>
        Buffer.from(
          `<a:RicevutaScarto xmlns:a="${B2B}"><IdentificativoSdI> </IdentificativoSdI></a:RicevutaScarto>`,
        ),
      /no IdentificativoSdI/,
    ],
    [
      'an IdentificativoSdI only inside RiferimentoArchivio',
      () =>
        Buffer.from(
          `<a:NotificaScarto xmlns:a="${PA}"><RiferimentoArchivio><IdentificativoSdI>9</IdentificativoSdI></RiferimentoArchivio></a:NotificaScarto>`,
        ),
      /no IdentificativoSdI/,
    ],
  ])('%s', (_name, bytes, message) => {
    const started = Date.now();
    const r = parseNotification(bytes());
    expect(Date.now() - started).toBeLessThan(2000);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatch(message);
    expect(r.errorIt.length).toBeGreaterThan(10);
    expect(r.errorIt).not.toBe(r.error);
  });
});

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

describe('names', () => {
  it.each<[string, ReturnType<typeof parseNotificationName>]>([
    ['IT01234567890_11111_RC_001.xml', { base: 'IT01234567890_11111', kind: 'RC', progr: '001' }],
    ['IT03339130126_00009_RC_003.xml', { base: 'IT03339130126_00009', kind: 'RC', progr: '003' }],
    ['IT02652600210_00007_MT_002.xml', { base: 'IT02652600210_00007', kind: 'MT', progr: '002' }],
    ['ITAAABBB99T99X999W_00001_NS_1.xml', { base: 'ITAAABBB99T99X999W_00001', kind: 'NS', progr: '1' }],
    ['IT01234567890_11111_AT_A9Z.xml', { base: 'IT01234567890_11111', kind: 'AT', progr: 'A9Z' }],
    ['IT01234567890_11111_ne_00a.XML', { base: 'IT01234567890_11111', kind: 'NE', progr: '00a' }],
    ['IT01234567890_abcde_EC_001.xml', { base: 'IT01234567890_abcde', kind: 'EC', progr: '001' }],
    ['a_RC_001_DT_002.xml', { base: 'a_RC_001', kind: 'DT', progr: '002' }],
    ['IT01234567890_11111_RC_0001.xml', null],
    ['IT01234567890_11111_RC_.xml', null],
    ['IT01234567890_11111_RC_0-1.xml', null],
    ['IT01234567890_11111_XX_001.xml', null],
    ['IT01234567890_11111_RC_001.xml.p7m', null],
    ['IT01234567890_11111_RC_001', null],
    ['IT01234567890_11111.xml', null],
    ['IT01234567890_11111.xml.p7m', null],
    ['_RC_001.xml', null],
    ['dir/IT01234567890_11111_RC_001.xml', null],
    ['', null],
  ])('parseNotificationName(%j)', (name, expected) => {
    expect(parseNotificationName(name)).toEqual(expected);
  });

  it.each<[string, string]>([
    ['IT01234567890_11111.xml.p7m', 'IT01234567890_11111'],
    ['IT01234567890_11111.xml', 'IT01234567890_11111'],
    ['IT01234567890_11111.zip', 'IT01234567890_11111'],
    ['IT01234567890_11111.XML.P7M', 'IT01234567890_11111'],
    ['IT01234567890_11111.Xml', 'IT01234567890_11111'],
    ['IT01234567890_11111.p7m', 'IT01234567890_11111'],
    ['IT01234567890_11111', 'IT01234567890_11111'],
    ['IT01234567890_11111.txt', 'IT01234567890_11111.txt'],
    ['.xml', '.xml'],
  ])('invoiceBaseName(%j) = %j', (name, base) => {
    expect(invoiceBaseName(name)).toBe(base);
  });

  it.each<[string, NotificationKind, number | string, string]>([
    ['IT01234567890_11111.xml.p7m', 'RC', 1, 'IT01234567890_11111_RC_001.xml'],
    ['IT01234567890_11111.xml', 'NS', 12, 'IT01234567890_11111_NS_012.xml'],
    ['IT01234567890_11111.zip', 'NS', 999, 'IT01234567890_11111_NS_999.xml'],
    ['IT01234567890_11111.XML.P7M', 'MC', 'A1', 'IT01234567890_11111_MC_A1.xml'],
    ['IT01234567890_11111.xml', 'MT', 0, 'IT01234567890_11111_MT_000.xml'],
    ['IT01234567890_11111.xml', 'EC', '001', 'IT01234567890_11111_EC_001.xml'],
  ])('notificationName(%j, %s, %j) = %j', (file, kind, progr, expected) => {
    const name = notificationName(file, kind, progr);
    expect(name).toBe(expected);
    expect(parseNotificationName(name)).toEqual({
      base: invoiceBaseName(file),
      kind,
      progr: expected.slice(-7, -4).replace(/^_/, ''),
    });
  });

  it.each<[number | string]>([[1000], [-1], [1.5], [Number.NaN], ['ABCD'], [''], ['A-'], ['../']])(
    'notificationName refuses progressivo %j',
    (progr) => {
      expect(() => notificationName('IT01234567890_11111.xml', 'RC', progr)).toThrow(RangeError);
    },
  );
});
