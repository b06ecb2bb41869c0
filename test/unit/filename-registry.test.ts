import { describe, expect, it } from 'vitest';
import { parseXml } from '../../src/invoice/xml.js';
import { checkFileName, parseFileName, parseNotificationName } from '../../src/rules/filename.js';
import { checkRegistry, isValidCodiceFiscale, isValidPartitaIva } from '../../src/rules/registry.js';
import { validateFile } from '../../src/rules/validate.js';
import { EX, exampleText } from '../helpers/spec.js';

const FPR12 = exampleText(EX.b2b);
/** The B2B example with a codice fiscale, instead of a partita IVA, for the buyer. */
const BASE = FPR12.replace(
  /(<CessionarioCommittente>\s*<DatiAnagrafici>\s*)<IdFiscaleIVA>[\s\S]*?<\/IdFiscaleIVA>/,
  '$1<CodiceFiscale>RSSMRA85T10A562S</CodiceFiscale>',
);

describe('00001: file name <IdPaese><IdCodice>_<progressivo>.<ext>', () => {
  it.each([
    ['IT01234567890_00001.xml', true],
    ['IT01234567890_11111.xml.p7m', true],
    ['IT01234567890_11111.zip', true],
    ['ITAAABBB99T99X999W_00001.xml', true],
    ['IT01234567890_abc12.xml', true], // lower-case progressivo: accepted (SdI's schemas allow it)
    ['IT01234567890_A.xml', true],
    ['IT01234567890_00001.XML', true],
    ['FR12345678901234567890123456_1.xml', true], // foreign IdCodice up to 28 characters
    ['it01234567890_00001.xml', false], // IdPaese must be upper case
    ['IT0123456789_00001.xml', false], // IT: 11 digits or 16 characters
    ['IT01234567890_000001.xml', false], // progressivo at most 5
    ['IT01234567890_.xml', false],
    ['IT01234567890-00001.xml', false],
    ['IT01234567890_00001.p7m', false],
    ['IT01234567890_00001.xml.txt', false],
    ['IT01234567890_0 001.xml', false],
    ['fattura.xml', false],
    ['', false],
  ])('%s → valid %s', (name, ok) => {
    expect(parseFileName(name) !== null).toBe(ok);
    const f = checkFileName(name);
    expect(f.map((x) => x.code)).toEqual(ok ? [] : ['00001']);
    if (!ok) {
      expect(f[0]?.message).toContain('IT01234567890_00001.xml');
      expect(f[0]?.messageIt).toMatch(/non rispetta la regola SdI/);
    }
  });

  it('parts', () => {
    expect(parseFileName('IT01234567890_aB1.xml.P7M')).toEqual({
      idPaese: 'IT',
      idCodice: '01234567890',
      progressivo: 'aB1',
      extension: '.xml.p7m',
    });
  });

  it('notification names', () => {
    expect(parseNotificationName('IT01234567890_11111_RC_001.xml')).toEqual({
      invoiceBase: 'IT01234567890_11111',
      type: 'RC',
      progressivo: '001',
    });
    expect(parseNotificationName('IT01234567890_11111_XX_001.xml')).toBeNull();
  });

  it('in the pipeline: 00001 as an error, a warning, or not checked', async () => {
    const bytes = Buffer.from(FPR12);
    expect((await validateFile('fattura.xml', bytes)).errors.map((e) => e.code)).toContain('00001');
    const w = await validateFile('fattura.xml', bytes, { fileName: 'warning' });
    expect(w.valid).toBe(true);
    expect(w.warnings.map((e) => e.code)).toContain('00001');
    const off = await validateFile('fattura.xml', bytes, { fileName: 'off' });
    expect([...off.errors, ...off.warnings].map((e) => e.code)).not.toContain('00001');
  });
});

describe('check digits', () => {
  it.each([
    ['06363391001', true], // Agenzia delle Entrate
    ['00488410010', true],
    ['01234567890', false], // the samples' placeholder: wrong check digit
    ['06363391002', false],
    ['00000000000', false],
    ['0636339100', false],
    ['06363391A01', false],
    ['12345674562', false], // office code 456 does not exist
  ])('partita IVA %s → %s', (v, ok) => expect(isValidPartitaIva(v)).toBe(ok));

  it.each([
    ['RSSMRA85T10A562S', true],
    ['rssmra85t10a562s', true],
    ['RSSMRA85T10A56NH', true], // omocodia: a digit replaced by its letter
    ['RSSMRA85T10A5S2E', true],
    ['RSSMRA85T10A562X', false], // wrong check character
    ['RSSMRA85Z10A562S', false], // Z is not a month letter
    ['RSSMRA85T10A562', false],
    ['06363391001', true], // 11 digits: a legal person's codice fiscale = its partita IVA rules
    ['09876543210', false],
  ])('codice fiscale %s → %s', (v, ok) => expect(isValidCodiceFiscale(v)).toBe(ok));
});

/** BASE (valid ids only) with `edit` applied. */
function invoice(edit: (xml: string) => string = (x) => x): ReturnType<typeof checkRegistry> {
  const xml = edit(BASE);
  const parsed = parseXml(Buffer.from(xml));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return checkRegistry(parsed.root);
}
const codesOf = (f: ReturnType<typeof checkRegistry>): string[] => f.map((x) => x.code);

describe('registry warnings (offline approximations of 00300-00330)', () => {
  it('valid ids give no warning', () => expect(invoice()).toEqual([]));

  it.each([
    [
      '00300 trasmittente codice fiscale',
      (x: string) => x.replace(/(<IdTrasmittente>[\s\S]*?<IdCodice>)[^<]+/, '$106363391002'),
      '00300',
      '1.1.1.2',
    ],
    [
      '00301 cedente partita IVA',
      (x: string) => x.replace(/(<CedentePrestatore>[\s\S]*?<IdCodice>)[^<]+/, '$106363391002'),
      '00301',
      '1.2.1.1.2',
    ],
    [
      '00306 cessionario codice fiscale',
      (x: string) => x.replace('RSSMRA85T10A562S', 'RSSMRA85T10A562X'),
      '00306',
      '1.4.1.2',
    ],
    [
      '00313 XXXXXXX for an Italian buyer',
      (x: string) => x.replace(/<CodiceDestinatario>[^<]+/, '<CodiceDestinatario>XXXXXXX'),
      '00313',
      '1.1.4',
    ],
    [
      "00330 PECDestinatario is SdI's own mailbox",
      (x: string) =>
        x.replace(
          /<CodiceDestinatario>[^<]+<\/CodiceDestinatario>(\s*<ContattiTrasmittente>[\s\S]*?<\/ContattiTrasmittente>)/,
          '<CodiceDestinatario>0000000</CodiceDestinatario>$1<PECDestinatario>sdi01@pec.fatturapa.it</PECDestinatario>',
        ),
      '00330',
      '1.1.6',
    ],
  ])('%s', async (_label, edit, code, field) => {
    const found = invoice(edit);
    expect(codesOf(found)).toEqual([code]);
    // The field number reaches the message through the pipeline.
    const xml = edit(BASE);
    const r = await validateFile('IT12345670017_00001.xml', Buffer.from(xml));
    expect(r.valid).toBe(true);
    expect(r.warnings.find((w) => w.code === code)?.field).toMatch(
      new RegExp(`^${field.replace(/\./g, '\\.')} `),
    );
  });

  it('XXXXXXX for a foreign buyer is fine', () => {
    const found = invoice((x) =>
      x
        .replace(/<CodiceDestinatario>[^<]+/, '<CodiceDestinatario>XXXXXXX')
        .replace(
          /(<CessionarioCommittente>\s*<DatiAnagrafici>)\s*<CodiceFiscale>[^<]+<\/CodiceFiscale>/,
          '$1<IdFiscaleIVA><IdPaese>FR</IdPaese><IdCodice>12345678901</IdCodice></IdFiscaleIVA>',
        ),
    );
    expect(codesOf(found)).toEqual([]);
  });

  it('advice that is not an SdI error carries fatturad codes', () => {
    expect(
      codesOf(invoice((x) => x.replace(/<CodiceDestinatario>[^<]+/, '<CodiceDestinatario>0000000'))),
    ).toEqual(['RECIPIENT-RESERVED-AREA']);
    expect(
      codesOf(
        invoice((x) =>
          x.replace(
            /(<\/ContattiTrasmittente>)/,
            '$1<PECDestinatario>buyer@pec.example.it</PECDestinatario>',
          ),
        ),
      ),
    ).toEqual(['PEC-DESTINATARIO-IGNORED']);
  });
});
