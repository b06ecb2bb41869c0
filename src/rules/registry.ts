import { at, textAt, type XmlElement } from '../invoice/xml.js';
import { finding, type Finding } from './finding.js';

/**
 * Offline approximations of the checks SdI makes against its registries (Anagrafe Tributaria,
 * IPA, its own channel registry). Only what the data allow: check digits, code forms, SdI's
 * own mailboxes. Reported as warnings naming the SdI code they predict, since SdI's answer
 * depends on data fatturad does not have.
 */

/** Partita IVA (and 11-digit codice fiscale of legal persons): Luhn mod 10 plus the office code. */
export function isValidPartitaIva(s: string): boolean {
  if (!/^[0-9]{11}$/.test(s)) return false;
  if (/^0{7}/.test(s)) return false;
  const office = Number(s.slice(7, 10));
  if (!((office >= 1 && office <= 100) || [120, 121, 888, 999].includes(office))) return false;
  let sum = 0;
  for (let i = 0; i < 11; i++) {
    let d = s.charCodeAt(i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];

/** Codice fiscale: 16 characters with omocodia letters and check character, or 11 digits. */
export function isValidCodiceFiscale(s: string): boolean {
  if (/^[0-9]{11}$/.test(s)) return isValidPartitaIva(s);
  const cf = s.toUpperCase();
  if (!/^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$/.test(cf))
    return false;
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const c = cf.charCodeAt(i);
    const v = c <= 57 ? c - 48 : c - 65; // digits 0-9 and letters A-Z both map to 0-25 indices
    sum += i % 2 === 0 ? (ODD[v] as number) : v;
  }
  return String.fromCharCode(65 + (sum % 26)) === cf[15];
}

function pathOf(el: XmlElement | undefined, path: string): Pick<Finding, 'path' | 'line' | 'column'> {
  return { path, ...(el ? { line: el.line, column: el.column } : {}) };
}

const H = '/FatturaElettronica/FatturaElettronicaHeader';

export function checkRegistry(root: XmlElement): Finding[] {
  if (root.name !== 'FatturaElettronica') return [];
  const out: Finding[] = [];
  const header = at(root, 'FatturaElettronicaHeader');
  if (!header) return out;
  const formato = textAt(header, 'DatiTrasmissione/FormatoTrasmissione');

  const vat = (code: string, rel: string, who: string, whoIt: string): void => {
    const paese = textAt(header, `${rel}/IdPaese`);
    const el = at(header, `${rel}/IdCodice`);
    const codice = el?.text.trim();
    if (paese !== 'IT' || !codice || isValidPartitaIva(codice)) return;
    out.push(
      finding(
        code,
        `The ${who} partita IVA IT${codice} has a wrong check digit or office code: SdI will not find it in the Anagrafe Tributaria.`,
        `La partita IVA ${whoIt} IT${codice} ha la cifra di controllo o il codice ufficio errati: lo SdI non la troverà in Anagrafe Tributaria.`,
        pathOf(el, `${H}/${rel}/IdCodice`),
      ),
    );
  };
  const cf = (code: string, rel: string, who: string, whoIt: string): void => {
    const el = at(header, rel);
    const v = el?.text.trim();
    if (!v || isValidCodiceFiscale(v)) return;
    out.push(
      finding(
        code,
        `The ${who} codice fiscale ${v} is not valid (wrong check character or form).`,
        `Il codice fiscale ${whoIt} ${v} non è valido (carattere di controllo o formato errati).`,
        pathOf(el, `${H}/${rel}`),
      ),
    );
  };

  // 00300: the trasmittente's IdCodice must be an Italian codice fiscale.
  if (textAt(header, 'DatiTrasmissione/IdTrasmittente/IdPaese') === 'IT') {
    cf('00300', 'DatiTrasmissione/IdTrasmittente/IdCodice', "trasmittente's", 'del trasmittente');
  }
  vat('00301', 'CedentePrestatore/DatiAnagrafici/IdFiscaleIVA', "cedente's", 'del cedente');
  cf('00302', 'CedentePrestatore/DatiAnagrafici/CodiceFiscale', "cedente's", 'del cedente');
  vat(
    '00303',
    'RappresentanteFiscale/DatiAnagrafici/IdFiscaleIVA',
    "rappresentante fiscale's",
    'del rappresentante fiscale',
  );
  cf(
    '00304',
    'RappresentanteFiscale/DatiAnagrafici/CodiceFiscale',
    "rappresentante fiscale's",
    'del rappresentante fiscale',
  );
  vat('00305', 'CessionarioCommittente/DatiAnagrafici/IdFiscaleIVA', "cessionario's", 'del cessionario');
  cf('00306', 'CessionarioCommittente/DatiAnagrafici/CodiceFiscale', "cessionario's", 'del cessionario');
  vat(
    '00303',
    'CessionarioCommittente/RappresentanteFiscale/IdFiscaleIVA',
    "cessionario's rappresentante fiscale",
    'del rappresentante fiscale del cessionario',
  );

  const cdEl = at(header, 'DatiTrasmissione/CodiceDestinatario');
  const cd = cdEl?.text.trim();
  const pecEl = at(header, 'DatiTrasmissione/PECDestinatario');
  const pec = pecEl?.text.trim();
  const cdPath = pathOf(cdEl, `${H}/DatiTrasmissione/CodiceDestinatario`);
  if (cd === 'XXXXXXX') {
    const paese = textAt(header, 'CessionarioCommittente/DatiAnagrafici/IdFiscaleIVA/IdPaese');
    if (!paese || paese === 'IT') {
      out.push(
        finding(
          '00313',
          'CodiceDestinatario XXXXXXX is only for buyers not resident in Italy (with a foreign IdFiscaleIVA).',
          'Il CodiceDestinatario XXXXXXX è ammesso solo per cessionari non residenti (con IdFiscaleIVA estero).',
          cdPath,
        ),
      );
    }
  } else if (cd && formato === 'FPR12' && cd.length === 7 && cd !== '0000000' && !/^[A-Z0-9]{7}$/.test(cd)) {
    out.push(
      finding(
        '00311',
        `CodiceDestinatario ${cd} is not a code SdI assigns (7 upper-case letters or digits).`,
        `Il CodiceDestinatario ${cd} non è un codice assegnato dallo SdI (7 lettere maiuscole o cifre).`,
        cdPath,
      ),
    );
  }
  if (cd === '0000000' && !pec) {
    out.push(
      finding(
        'RECIPIENT-RESERVED-AREA',
        "CodiceDestinatario 0000000 without PECDestinatario: the invoice will only be made available in the buyer's reserved area (fine for consumers, check it for businesses).",
        "CodiceDestinatario 0000000 senza PECDestinatario: la fattura sarà solo messa a disposizione nell'area riservata del cessionario (corretto per i consumatori, da verificare per le imprese).",
        cdPath,
      ),
    );
  }
  // Not an SdI error since the check list 2.0 (it was 00426): advice, under fatturad's own codes.
  if (pec && cd && cd !== '0000000') {
    out.push(
      finding(
        'PEC-DESTINATARIO-IGNORED',
        `PECDestinatario is given but CodiceDestinatario is ${cd}: SdI delivers to the code and ignores the PEC address (use 0000000 to deliver by PEC).`,
        `PECDestinatario è indicata ma il CodiceDestinatario è ${cd}: lo SdI recapita al codice e ignora la PEC (usare 0000000 per il recapito via PEC).`,
        pathOf(pecEl, `${H}/DatiTrasmissione/PECDestinatario`),
      ),
    );
  }
  if (pec && /^sdi[0-9]{2}@pec\.fatturapa\.it$/i.test(pec)) {
    out.push(
      finding(
        '00330',
        `PECDestinatario ${pec} is one of SdI's own mailboxes, not the buyer's.`,
        `La PECDestinatario ${pec} è una casella dello SdI, non del cessionario.`,
        pathOf(pecEl, `${H}/DatiTrasmissione/PECDestinatario`),
      ),
    );
  }
  if (formato === 'FPA12' && cd && cd.length === 6 && !/^[A-Z0-9]{6}$/.test(cd)) {
    out.push(
      finding(
        '00311',
        `CodiceDestinatario ${cd} is not an IPA office code (6 upper-case letters or digits).`,
        `Il CodiceDestinatario ${cd} non è un codice ufficio IPA (6 lettere maiuscole o cifre).`,
        cdPath,
      ),
    );
  }
  return out;
}
