import {
  all,
  at,
  bodyCheck,
  dec,
  fileCheck,
  finding,
  isZero,
  loc,
  NONE,
  textAt,
  type BodyContext,
  type XmlElement,
} from '../check.js';

/**
 * Checks on the header (1 FatturaElettronicaHeader: DatiTrasmissione, CedentePrestatore,
 * CessionarioCommittente) and on how TipoDocumento fits the parties (check list v2.0 §4.2):
 * 00417, 00427, 00428, 00471–00476. The rules 00471–00473 changed with the check list v2.0
 * (2025-01-31): each version is its own check with its days.
 */

const SECTION = 'FatturaElettronicaHeader';
const H = '/FatturaElettronica/FatturaElettronicaHeader';
/** The day the check list v2.0 changed 00471, 00472 and 00473 (digest §1). */
const V20 = '2025-01-31';
const BEFORE_V20 = '2025-01-30';

/** 00417: the cessionario (1.4.1) has neither IdFiscaleIVA nor CodiceFiscale. */
export const identificativi00417 = fileCheck(
  function identificativi00417(c) {
    const da = at(c.header, 'CessionarioCommittente/DatiAnagrafici');
    if (!da || at(da, 'IdFiscaleIVA') || at(da, 'CodiceFiscale')) return NONE;
    return [
      finding(
        '00417',
        'The cessionario/committente has neither IdFiscaleIVA nor CodiceFiscale: give at least one.',
        'Il cessionario/committente non ha né IdFiscaleIVA né CodiceFiscale: indicarne almeno uno.',
        loc(da, `${H}/CessionarioCommittente/DatiAnagrafici`),
      ),
    ];
  },
  { codes: ['00417'], section: SECTION },
);

/** 00428: FormatoTrasmissione (1.1.3) differs from the root's versione attribute. */
export const formato00428 = fileCheck(
  function formato00428(c) {
    const el = at(c.header, 'DatiTrasmissione/FormatoTrasmissione');
    const formato = el?.text.trim();
    const versione = c.root.attrs.versione;
    if (!formato || !versione || formato === versione) return NONE;
    return [
      finding(
        '00428',
        `FormatoTrasmissione ${formato} differs from the versione attribute ${versione} of the root element.`,
        `Il FormatoTrasmissione ${formato} è diverso dall'attributo versione ${versione} dell'elemento radice.`,
        loc(el, `${H}/DatiTrasmissione/FormatoTrasmissione`),
      ),
    ];
  },
  { codes: ['00428'], section: SECTION },
);

/** 00427: CodiceDestinatario (1.1.4) of 7 characters with FPA12, or of 6 with FPR12. */
export const codiceDestinatario00427 = fileCheck(
  function codiceDestinatario00427(c) {
    const formato = textAt(c.header, 'DatiTrasmissione/FormatoTrasmissione');
    const el = at(c.header, 'DatiTrasmissione/CodiceDestinatario');
    const cd = el?.text.trim();
    if (!cd || !((formato === 'FPA12' && cd.length === 7) || (formato === 'FPR12' && cd.length === 6)))
      return NONE;
    return [
      finding(
        '00427',
        `CodiceDestinatario ${cd} has ${cd.length} characters: FPA12 needs 6 (IPA office code), FPR12 needs 7.`,
        `Il CodiceDestinatario ${cd} ha ${cd.length} caratteri: FPA12 ne richiede 6 (codice ufficio IPA), FPR12 ne richiede 7.`,
        loc(el, `${H}/DatiTrasmissione/CodiceDestinatario`),
      ),
    ];
  },
  { codes: ['00427'], section: SECTION },
);

// ---- TipoDocumento and the parties (00471–00476) ------------------------------------------------

const cedenteId = (c: BodyContext): XmlElement | undefined =>
  at(c.header, 'CedentePrestatore/DatiAnagrafici/IdFiscaleIVA');
const cessionarioId = (c: BodyContext): XmlElement | undefined =>
  at(c.header, 'CessionarioCommittente/DatiAnagrafici/IdFiscaleIVA');
const idText = (e: XmlElement): string => `${textAt(e, 'IdPaese') ?? ''}${textAt(e, 'IdCodice') ?? ''}`;
const tipoAt = (c: BodyContext) =>
  loc(
    at(c.body, 'DatiGenerali/DatiGeneraliDocumento/TipoDocumento'),
    `${c.base}/DatiGenerali/DatiGeneraliDocumento/TipoDocumento`,
  );

function sameParty00471(c: BodyContext, tipi: ReadonlySet<string>) {
  if (!tipi.has(c.tipo)) return NONE;
  const ced = cedenteId(c);
  const ces = cessionarioId(c);
  if (!ced || !ces || idText(ced) !== idText(ces)) return NONE;
  return [
    finding(
      '00471',
      `With TipoDocumento ${c.tipo} the cedente and the cessionario must be different subjects.`,
      `Con TipoDocumento ${c.tipo} cedente e cessionario devono essere soggetti diversi.`,
      tipoAt(c),
    ),
  ];
}

const TIPI_00471_V17 = new Set([
  'TD01',
  'TD02',
  'TD03',
  'TD06',
  'TD16',
  'TD17',
  'TD18',
  'TD19',
  'TD20',
  'TD24',
  'TD25',
  'TD28',
]);
const TIPI_00471_V20 = new Set(['TD16', 'TD17', 'TD18', 'TD19', 'TD20', 'TD29']);

/** 00471 before the check list v2.0: TD01–TD03, TD06, TD16–TD20, TD24, TD25, TD28 with cedente = cessionario. */
export const stessoSoggetto00471v17 = bodyCheck(
  function stessoSoggetto00471v17(c) {
    return sameParty00471(c, TIPI_00471_V17);
  },
  { codes: ['00471'], section: SECTION, version: { to: BEFORE_V20 } },
);

/** 00471 from the check list v2.0: TD16–TD20, TD29 with cedente = cessionario. */
export const stessoSoggetto00471 = bodyCheck(
  function stessoSoggetto00471(c) {
    return sameParty00471(c, TIPI_00471_V20);
  },
  { codes: ['00471'], section: SECTION, version: { from: V20 } },
);

function otherParty00472(c: BodyContext, tipi: ReadonlySet<string>) {
  if (!tipi.has(c.tipo)) return NONE;
  const ced = cedenteId(c);
  const ces = cessionarioId(c);
  if (!ced || !ces || idText(ced) === idText(ces)) return NONE;
  return [
    finding(
      '00472',
      `With TipoDocumento ${c.tipo} (self-invoicing) cedente and cessionario must be the same subject.`,
      `Con TipoDocumento ${c.tipo} (autofattura) cedente e cessionario devono coincidere.`,
      tipoAt(c),
    ),
  ];
}

/** 00472 before the check list v2.0: TD21 or TD27 with cedente ≠ cessionario. */
export const autofattura00472v17 = bodyCheck(
  function autofattura00472v17(c) {
    return otherParty00472(c, new Set(['TD21', 'TD27']));
  },
  { codes: ['00472'], section: SECTION, version: { to: BEFORE_V20 } },
);

/** 00472 from the check list v2.0: TD21 (splafonamento) with cedente ≠ cessionario. */
export const autofattura00472 = bodyCheck(
  function autofattura00472(c) {
    return otherParty00472(c, new Set(['TD21']));
  },
  { codes: ['00472'], section: SECTION, version: { from: V20 } },
);

const FOREIGN_ONLY = new Set(['TD17', 'TD18', 'TD19', 'TD28']);

function paese00473(c: BodyContext, td29: boolean) {
  const paese = textAt(cedenteId(c), 'IdPaese');
  if (!(
    (FOREIGN_ONLY.has(c.tipo) && paese === 'IT') ||
    (td29 && c.tipo === 'TD29' && paese && paese !== 'IT')
  ))
    return NONE;
  return [
    finding(
      '00473',
      `TipoDocumento ${c.tipo} does not fit a cedente with IdPaese ${paese}.`,
      `Il TipoDocumento ${c.tipo} non è coerente con un cedente con IdPaese ${paese}.`,
      tipoAt(c),
    ),
  ];
}

/** 00473 before the check list v2.0: TD17, TD18, TD19, TD28 with an Italian cedente. */
export const paeseCedente00473v17 = bodyCheck(
  function paeseCedente00473v17(c) {
    return paese00473(c, false);
  },
  { codes: ['00473'], section: SECTION, version: { to: BEFORE_V20 } },
);

/** 00473 from the check list v2.0: also TD29 with a cedente that is not Italian. */
export const paeseCedente00473 = bodyCheck(
  function paeseCedente00473(c) {
    return paese00473(c, true);
  },
  { codes: ['00473'], section: SECTION, version: { from: V20 } },
);

/** 00474: TD21 with a line at AliquotaIVA 0.00. */
export const splafonamento00474 = bodyCheck(
  function splafonamento00474(c) {
    if (c.tipo !== 'TD21') return NONE;
    if (!all(c.body, 'DatiBeniServizi/DettaglioLinee').some((l) => isZero(dec(textAt(l, 'AliquotaIVA')))))
      return NONE;
    return [
      finding(
        '00474',
        'TipoDocumento TD21 cannot have lines with AliquotaIVA 0.00.',
        'Il TipoDocumento TD21 non ammette linee con AliquotaIVA 0.00.',
        tipoAt(c),
      ),
    ];
  },
  { codes: ['00474'], section: SECTION },
);

const TIPI_00475 = new Set(['TD16', 'TD17', 'TD18', 'TD19', 'TD20', 'TD22', 'TD23', 'TD28', 'TD29']);

/** 00475: TD16–TD20, TD22, TD23, TD28, TD29 without the cessionario's IdFiscaleIVA. */
export const idFiscaleCessionario00475 = bodyCheck(
  function idFiscaleCessionario00475(c) {
    if (!TIPI_00475.has(c.tipo) || cessionarioId(c)) return NONE;
    return [
      finding(
        '00475',
        `With TipoDocumento ${c.tipo} the cessionario's IdFiscaleIVA is required.`,
        `Con TipoDocumento ${c.tipo} è obbligatorio l'IdFiscaleIVA del cessionario.`,
        tipoAt(c),
      ),
    ];
  },
  { codes: ['00475'], section: SECTION },
);

/** 00476: neither the cedente nor the cessionario is Italian (IdPaese). */
export const nonResidenti00476 = fileCheck(
  function nonResidenti00476(c) {
    const ced = at(c.header, 'CedentePrestatore/DatiAnagrafici/IdFiscaleIVA');
    const cedPaese = textAt(ced, 'IdPaese');
    const cesPaese = textAt(c.header, 'CessionarioCommittente/DatiAnagrafici/IdFiscaleIVA/IdPaese');
    if (!cedPaese || !cesPaese || cedPaese === 'IT' || cesPaese === 'IT') return NONE;
    return [
      finding(
        '00476',
        `Neither the cedente (${cedPaese}) nor the cessionario (${cesPaese}) is Italian: at least one must be.`,
        `Né il cedente (${cedPaese}) né il cessionario (${cesPaese}) sono italiani: almeno uno deve esserlo.`,
        loc(ced, `${H}/CedentePrestatore/DatiAnagrafici/IdFiscaleIVA/IdPaese`),
      ),
    ];
  },
  { codes: ['00476'], section: SECTION },
);

export const HEADER = [
  identificativi00417,
  formato00428,
  codiceDestinatario00427,
  stessoSoggetto00471v17,
  stessoSoggetto00471,
  autofattura00472v17,
  autofattura00472,
  paeseCedente00473v17,
  paeseCedente00473,
  splafonamento00474,
  idFiscaleCessionario00475,
  nonResidenti00476,
];
