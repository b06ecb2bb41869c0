import {
  at,
  fileCheck,
  finding,
  NONE,
  textAt,
  type FileCheck,
  type FileContext,
  type Finding,
} from '../check.js';
import type { Document } from '../check.js';
import { isValidCodiceFiscale, isValidPartitaIva } from '../fiscal-ids.js';

/**
 * Offline approximations of the checks SdI makes against its registries (check list v2.0 §4.3:
 * Anagrafe Tributaria, IPA, its own channel registry), for ordinary (FPA12/FPR12) and simplified
 * (FSM10) invoices alike, each at its own paths. Only what the data allow: check digits, code
 * forms, SdI's own mailboxes. Reported as warnings naming the SdI code they predict, since SdI's
 * answer depends on data fatturad does not have; and advice under fatturad's own codes.
 */

/** Where each party's identifiers are, below FatturaElettronicaHeader. */
interface Layout {
  document: Document;
  root: string;
  cedenteIva: string;
  cedenteCf: string;
  rappresentanteIva: string;
  /** FSM10's RappresentanteFiscale has no CodiceFiscale. */
  rappresentanteCf?: string;
  cessionarioIva: string;
  cessionarioCf: string;
  rappresentanteCessionarioIva: string;
}

const ORDINARIA: Layout = {
  document: 'ordinaria',
  root: '/FatturaElettronica/FatturaElettronicaHeader',
  cedenteIva: 'CedentePrestatore/DatiAnagrafici/IdFiscaleIVA',
  cedenteCf: 'CedentePrestatore/DatiAnagrafici/CodiceFiscale',
  rappresentanteIva: 'RappresentanteFiscale/DatiAnagrafici/IdFiscaleIVA',
  rappresentanteCf: 'RappresentanteFiscale/DatiAnagrafici/CodiceFiscale',
  cessionarioIva: 'CessionarioCommittente/DatiAnagrafici/IdFiscaleIVA',
  cessionarioCf: 'CessionarioCommittente/DatiAnagrafici/CodiceFiscale',
  rappresentanteCessionarioIva: 'CessionarioCommittente/RappresentanteFiscale/IdFiscaleIVA',
};

const SEMPLIFICATA: Layout = {
  document: 'semplificata',
  root: '/FatturaElettronicaSemplificata/FatturaElettronicaHeader',
  cedenteIva: 'CedentePrestatore/IdFiscaleIVA',
  cedenteCf: 'CedentePrestatore/CodiceFiscale',
  rappresentanteIva: 'CedentePrestatore/RappresentanteFiscale/IdFiscaleIVA',
  cessionarioIva: 'CessionarioCommittente/IdentificativiFiscali/IdFiscaleIVA',
  cessionarioCf: 'CessionarioCommittente/IdentificativiFiscali/CodiceFiscale',
  rappresentanteCessionarioIva:
    'CessionarioCommittente/AltriDatiIdentificativi/RappresentanteFiscale/IdFiscaleIVA',
};

const SECTION = 'Anagrafe';

/** A finding at `rel` below the header. */
function at_(c: FileContext, l: Layout, rel: string): Pick<Finding, 'path' | 'line' | 'column'> {
  const el = at(c.header, rel);
  return { path: `${l.root}/${rel}`, ...(el ? { line: el.line, column: el.column } : {}) };
}

/** The paths of an IdFiscaleIVA's parts, joined once. */
const idPaths = (rel: string) => ({ paese: `${rel}/IdPaese`, codice: `${rel}/IdCodice` });

/** An Italian partita IVA (an IdFiscaleIVA) with a wrong check digit or office code. */
function vat(
  c: FileContext,
  l: Layout,
  code: string,
  id: ReturnType<typeof idPaths>,
  who: string,
  whoIt: string,
): Finding[] {
  const codice = textAt(c.header, id.codice);
  if (textAt(c.header, id.paese) !== 'IT' || !codice || isValidPartitaIva(codice)) return NONE;
  return [
    finding(
      code,
      `The ${who} partita IVA IT${codice} has a wrong check digit or office code: SdI will not find it in the Anagrafe Tributaria.`,
      `La partita IVA ${whoIt} IT${codice} ha la cifra di controllo o il codice ufficio errati: lo SdI non la troverà in Anagrafe Tributaria.`,
      at_(c, l, id.codice),
    ),
  ];
}

/** A codice fiscale at `rel` with a wrong check character or form. */
function cf(c: FileContext, l: Layout, code: string, rel: string, who: string, whoIt: string): Finding[] {
  const v = textAt(c.header, rel);
  if (!v || isValidCodiceFiscale(v)) return NONE;
  return [
    finding(
      code,
      `The ${who} codice fiscale ${v} is not valid (wrong check character or form).`,
      `Il codice fiscale ${whoIt} ${v} non è valido (carattere di controllo o formato errati).`,
      at_(c, l, rel),
    ),
  ];
}

const CD = 'DatiTrasmissione/CodiceDestinatario';
const PEC = 'DatiTrasmissione/PECDestinatario';

/** The checks of one document, at its paths. */
function anagrafe(l: Layout): FileCheck[] {
  const o = (codes: string[]) => ({ codes, section: SECTION, document: l.document });
  const cedenteIva = idPaths(l.cedenteIva);
  const rappresentanteIva = idPaths(l.rappresentanteIva);
  const rappresentanteCessionarioIva = idPaths(l.rappresentanteCessionarioIva);
  const cessionarioIva = idPaths(l.cessionarioIva);
  return [
    /** 00300: the trasmittente's IdCodice (1.1.1.2), when IT, must be a codice fiscale. */
    fileCheck(
      function trasmittente00300(c) {
        if (textAt(c.header, 'DatiTrasmissione/IdTrasmittente/IdPaese') !== 'IT') return NONE;
        return cf(
          c,
          l,
          '00300',
          'DatiTrasmissione/IdTrasmittente/IdCodice',
          "trasmittente's",
          'del trasmittente',
        );
      },
      o(['00300']),
    ),
    /** 00301: the cedente's partita IVA. */
    fileCheck(
      function partitaIvaCedente00301(c) {
        return vat(c, l, '00301', cedenteIva, "cedente's", 'del cedente');
      },
      o(['00301']),
    ),
    /** 00302: the cedente's codice fiscale. */
    fileCheck(
      function codiceFiscaleCedente00302(c) {
        return cf(c, l, '00302', l.cedenteCf, "cedente's", 'del cedente');
      },
      o(['00302']),
    ),
    /** 00303: the partita IVA of the cedente's or the cessionario's rappresentante fiscale. */
    fileCheck(
      function rappresentante00303(c) {
        return [
          ...vat(c, l, '00303', rappresentanteIva, "rappresentante fiscale's", 'del rappresentante fiscale'),
          ...vat(
            c,
            l,
            '00303',
            rappresentanteCessionarioIva,
            "cessionario's rappresentante fiscale",
            'del rappresentante fiscale del cessionario',
          ),
        ];
      },
      o(['00303']),
    ),
    /** 00304: the rappresentante fiscale's codice fiscale (ordinary invoices only). */
    fileCheck(
      function codiceFiscaleRappresentante00304(c) {
        if (!l.rappresentanteCf) return NONE;
        return cf(
          c,
          l,
          '00304',
          l.rappresentanteCf,
          "rappresentante fiscale's",
          'del rappresentante fiscale',
        );
      },
      o(['00304']),
    ),
    /** 00305: the cessionario's partita IVA. */
    fileCheck(
      function partitaIvaCessionario00305(c) {
        return vat(c, l, '00305', cessionarioIva, "cessionario's", 'del cessionario');
      },
      o(['00305']),
    ),
    /** 00306: the cessionario's codice fiscale. */
    fileCheck(
      function codiceFiscaleCessionario00306(c) {
        return cf(c, l, '00306', l.cessionarioCf, "cessionario's", 'del cessionario');
      },
      o(['00306']),
    ),
    /** 00311: a CodiceDestinatario that is not of the form SdI or IPA assigns. */
    fileCheck(
      function codiceDestinatario00311(c) {
        const formato = textAt(c.header, 'DatiTrasmissione/FormatoTrasmissione');
        const cd = textAt(c.header, CD);
        if (!cd || cd === 'XXXXXXX') return NONE;
        if (formato === 'FPA12' && cd.length === 6 && !/^[A-Z0-9]{6}$/.test(cd))
          return [
            finding(
              '00311',
              `CodiceDestinatario ${cd} is not an IPA office code (6 upper-case letters or digits).`,
              `Il CodiceDestinatario ${cd} non è un codice ufficio IPA (6 lettere maiuscole o cifre).`,
              at_(c, l, CD),
            ),
          ];
        if ((formato === 'FPR12' || formato === 'FSM10') && cd.length === 7 && !/^[A-Z0-9]{7}$/.test(cd))
          return [
            finding(
              '00311',
              `CodiceDestinatario ${cd} is not a code SdI assigns (7 upper-case letters or digits).`,
              `Il CodiceDestinatario ${cd} non è un codice assegnato dallo SdI (7 lettere maiuscole o cifre).`,
              at_(c, l, CD),
            ),
          ];
        return NONE;
      },
      o(['00311']),
    ),
    /** 00313: CodiceDestinatario XXXXXXX for a buyer without a foreign IdFiscaleIVA. */
    fileCheck(
      function nonResidente00313(c) {
        if (textAt(c.header, CD) !== 'XXXXXXX') return NONE;
        const paese = textAt(c.header, cessionarioIva.paese);
        if (paese && paese !== 'IT') return NONE;
        return [
          finding(
            '00313',
            'CodiceDestinatario XXXXXXX is only for buyers not resident in Italy (with a foreign IdFiscaleIVA).',
            'Il CodiceDestinatario XXXXXXX è ammesso solo per cessionari non residenti (con IdFiscaleIVA estero).',
            at_(c, l, CD),
          ),
        ];
      },
      o(['00313']),
    ),
    /** 00330: PECDestinatario is one of SdI's own mailboxes. */
    fileCheck(
      function pecSdi00330(c) {
        const pec = textAt(c.header, PEC);
        if (!pec || !/^sdi[0-9]{2}@pec\.fatturapa\.it$/i.test(pec)) return NONE;
        return [
          finding(
            '00330',
            `PECDestinatario ${pec} is one of SdI's own mailboxes, not the buyer's.`,
            `La PECDestinatario ${pec} è una casella dello SdI, non del cessionario.`,
            at_(c, l, PEC),
          ),
        ];
      },
      o(['00330']),
    ),
    /**
     * A note, not a problem: with 0000000 and no PEC address, SdI delivers to whatever channel
     * the buyer registered with it, else to the buyer's reserved area. Never on received
     * invoices (SdI has already delivered them).
     */
    fileCheck(
      function recapito(c) {
        if (c.received || textAt(c.header, CD) !== '0000000' || textAt(c.header, PEC)) return NONE;
        return [
          finding(
            'RECIPIENT-RESERVED-AREA',
            "CodiceDestinatario 0000000 without PECDestinatario: SdI delivers the invoice to the channel the buyer registered with SdI (a PEC address or a recipient code), whatever the invoice says; if the buyer registered none, the invoice is only made available in the buyer's reserved area (Fatture e Corrispettivi), and a business buyer should be told so. Nothing to change for consumers.",
            "CodiceDestinatario 0000000 senza PECDestinatario: lo SdI recapita la fattura al canale che il cessionario ha registrato presso lo SdI (un indirizzo PEC o un codice destinatario), qualunque cosa indichi la fattura; se il cessionario non ne ha registrato alcuno, la fattura è messa a disposizione soltanto nella sua area riservata (Fatture e Corrispettivi) ed è opportuno avvisarlo se è un'impresa. Per i consumatori non c'è nulla da cambiare.",
            at_(c, l, CD),
          ),
        ];
      },
      o(['RECIPIENT-RESERVED-AREA']),
    ),
    /** Not an SdI error since the check list 2.0 (it was 00426): advice, under fatturad's own code. */
    fileCheck(
      function pecIgnorata(c) {
        const pec = textAt(c.header, PEC);
        const cd = textAt(c.header, CD);
        if (!pec || !cd || cd === '0000000') return NONE;
        return [
          finding(
            'PEC-DESTINATARIO-IGNORED',
            `PECDestinatario is given but CodiceDestinatario is ${cd}: SdI delivers to the code and ignores the PEC address (use 0000000 to deliver by PEC).`,
            `PECDestinatario è indicata ma il CodiceDestinatario è ${cd}: lo SdI recapita al codice e ignora la PEC (usare 0000000 per il recapito via PEC).`,
            at_(c, l, PEC),
          ),
        ];
      },
      o(['PEC-DESTINATARIO-IGNORED']),
    ),
  ];
}

export const ANAGRAFE = [...anagrafe(ORDINARIA), ...anagrafe(SEMPLIFICATA)];
