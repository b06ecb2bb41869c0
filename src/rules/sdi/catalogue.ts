/**
 * Every SdI error code fatturad knows, as data: its titles in English and Italian, the group of
 * the check list it belongs to, the days it is in force, how fatturad reports it offline, and
 * where the facts come from. Also fatturad's own codes that checks emit (upper case with
 * dashes). Titles are used for findings and for the reports of SdI's rejections (NS), whose
 * descriptions SdI writes in Italian only.
 *
 * Source: "Elenco dei controlli effettuati sul file fattura del Sistema di Interscambio" (the check
 * list) v2.0 of 2025-01-31 and the earlier versions named in each entry, as digested in the
 * project's SdI research notes (sections 1 and 4). A day is YYYY-MM-DD in Europe/Rome, compared
 * with the day SdI receives the file. An entry with no `from` was in force before the earliest
 * version the digest dates; the `source` says so.
 */

/** The group of the check list, in SdI's order of checking. */
export type Level = 'name' | 'size' | 'signature' | 'format' | 'content' | 'registry' | 'uniqueness';

/**
 * How fatturad reports the code offline: `error` refuses the file; `warning` predicts SdI's
 * answer where fatturad cannot prove it (registries); `info` is a note; `server-only` is
 * checked by SdI only (its data are not available offline).
 */
export type Offline = 'error' | 'warning' | 'info' | 'server-only';

/** The days a code (or one version of its rule) is in force, both included. */
export interface InForce {
  from?: string;
  to?: string;
}

export interface CodeInfo {
  code: string;
  level: Level;
  titleEn: string;
  titleIt: string;
  inForce: InForce;
  offline: Offline;
  /** Where the facts come from, and what the digest does not say (e.g. no date). */
  source: string;
  /** In older check lists only: kept for the titles of old NS messages. */
  retired?: true;
}

const V20 = 'Elenco controlli v2.0 (2025-01-31)';
const UNDATED = 'the digest gives no start date: in force before every dated version';

type Row = [
  code: string,
  level: Level,
  offline: Offline,
  titleEn: string,
  titleIt: string,
  inForce: InForce,
  source: string,
];

const ROWS: Row[] = [
  // 4.1 File, signature, format
  [
    '00001',
    'name',
    'error',
    'the file name is not valid',
    'nome file non valido',
    {},
    `${V20} §4.1; ${UNDATED}`,
  ],
  [
    '00002',
    'name',
    'server-only',
    'a file with the same name was already received',
    'nome file duplicato',
    {},
    `${V20} §4.1; ${UNDATED}`,
  ],
  [
    '00003',
    'size',
    'error',
    'the file is larger than allowed',
    'le dimensioni del file superano quelle ammesse',
    {},
    `${V20} §4.1; ${UNDATED}`,
  ],
  [
    '00100',
    'signature',
    'error',
    'the signature certificate has expired',
    'certificato di firma scaduto',
    {},
    `${V20} §4.1; ${UNDATED}`,
  ],
  [
    '00101',
    'signature',
    'server-only',
    'the signature certificate is revoked',
    'certificato di firma revocato',
    {},
    `${V20} §4.1 (revocation lists are not read offline); ${UNDATED}`,
  ],
  [
    '00102',
    'signature',
    'error',
    'the electronic signature is not valid',
    'la firma elettronica apposta al file non risulta valida',
    {},
    `${V20} §4.1; ${UNDATED}`,
  ],
  [
    '00103',
    'signature',
    'error',
    'the signature has no signing time',
    'alla firma elettronica apposta al file manca il riferimento temporale',
    {},
    `${V20} §4.1; ${UNDATED}`,
  ],
  [
    '00104',
    'signature',
    'error',
    'the CA that issued the signature certificate is not trusted',
    "la CA che ha emesso il certificato di firma non risulta nell'elenco delle CA affidabili",
    {},
    `${V20} §4.1; ${UNDATED}`,
  ],
  [
    '00105',
    'signature',
    'error',
    'the signing time is after the time SdI received the file',
    'il riferimento temporale associato alla firma è successivo alla data di ricezione del file',
    {},
    `${V20} §4.1; ${UNDATED}`,
  ],
  [
    '00106',
    'signature',
    'error',
    'the file or archive is empty or corrupt',
    'file o archivio vuoto o corrotto',
    {},
    `${V20} §4.1; ${UNDATED}`,
  ],
  [
    '00107',
    'signature',
    'error',
    'the signature certificate is not valid',
    'il certificato di firma non è valido',
    {},
    `${V20} §4.1; ${UNDATED}`,
  ],
  [
    '00200',
    'format',
    'error',
    'the file does not conform to the format',
    'file non conforme al formato',
    {},
    `${V20} §4.1; ${UNDATED}. The values each format version admits are dated in FORMAT_VERSIONS`,
  ],
  [
    '00201',
    'format',
    'error',
    'more than 50 format errors: no further checks',
    'non è possibile procedere con ulteriori controlli: errori di formato superiori a 50',
    {},
    `${V20} §4.1; ${UNDATED}`,
  ],

  // 4.3 Validity against registries: offline approximations (check digits, code forms).
  [
    '00300',
    'registry',
    'warning',
    "the trasmittente's IdCodice is not a valid codice fiscale",
    'IdCodice del trasmittente non valido',
    {},
    `${V20} §4.3 (Anagrafe Tributaria; offline: check character only); ${UNDATED}`,
  ],
  [
    '00301',
    'registry',
    'warning',
    "the cedente's partita IVA is not valid or ceased",
    'partita IVA del cedente/prestatore non valida o cessata',
    {},
    `${V20} §4.3 (offline: check digit and office code only); ${UNDATED}`,
  ],
  [
    '00302',
    'registry',
    'warning',
    "the cedente's codice fiscale is not valid",
    'codice fiscale del cedente/prestatore non valido',
    {},
    `${V20} §4.3 (offline: check character only); ${UNDATED}`,
  ],
  [
    '00303',
    'registry',
    'warning',
    "the representative's IdCodice is not valid",
    'IdCodice del rappresentante fiscale non valido',
    {},
    `${V20} §4.3 (offline: check digit only); ${UNDATED}`,
  ],
  [
    '00304',
    'registry',
    'warning',
    "the representative's codice fiscale is not valid",
    'codice fiscale del rappresentante fiscale non valido',
    {},
    `${V20} §4.3 (offline: check character only); ${UNDATED}`,
  ],
  [
    '00305',
    'registry',
    'warning',
    "the cessionario's partita IVA is not valid",
    'partita IVA del cessionario/committente non valida',
    {},
    `${V20} §4.3 (offline: check digit and office code only); ${UNDATED}`,
  ],
  [
    '00306',
    'registry',
    'warning',
    "the cessionario's codice fiscale is not valid",
    'codice fiscale del cessionario/committente non valido',
    {},
    `${V20} §4.3 (offline: check character only); ${UNDATED}`,
  ],
  [
    '00311',
    'registry',
    'warning',
    'the CodiceDestinatario is not valid',
    'CodiceDestinatario non valido',
    {},
    `${V20} §4.3 (offline: the form of the code only); ${UNDATED}`,
  ],
  [
    '00312',
    'registry',
    'server-only',
    'the CodiceDestinatario is not active',
    'CodiceDestinatario non attivo',
    {},
    `${V20} §4.3 (needs IPA and SdI's channel registry); ${UNDATED}`,
  ],
  [
    '00313',
    'registry',
    'warning',
    'CodiceDestinatario XXXXXXX is only for non-resident buyers',
    'il CodiceDestinatario XXXXXXX è ammesso solo per cessionari non residenti',
    {},
    'Allegato A 1.9.1 Appendix 1 and the tabular representation (digest §4.3); not in Elenco v2.0; ' +
      'the digest gives no start date',
  ],
  [
    '00320',
    'registry',
    'server-only',
    "the cedente's IdFiscaleIVA and CodiceFiscale do not match",
    'IdFiscaleIVA e CodiceFiscale del cedente/prestatore non coerenti',
    { from: '2019-07-30' },
    'Elenco controlli v1.6 (2019-07-30), digest §1 and §4.3',
  ],
  [
    '00321',
    'registry',
    'server-only',
    "the cedente's codice fiscale is not a member of the VAT group",
    'il codice fiscale del cedente/prestatore non è di un partecipante al gruppo IVA',
    { from: '2019-07-30' },
    'Elenco controlli v1.6 (2019-07-30), digest §1 and §4.3',
  ],
  [
    '00322',
    'registry',
    'server-only',
    "the cedente's codice fiscale is missing with a VAT-group partita IVA",
    'manca il codice fiscale del cedente/prestatore con una partita IVA di gruppo IVA',
    { from: '2019-07-30' },
    'Elenco controlli v1.6 (2019-07-30), digest §1 and §4.3',
  ],
  [
    '00323',
    'registry',
    'server-only',
    "the cedente's partita IVA ceased more than five years before the document date",
    'partita IVA del cedente/prestatore cessata da più di cinque anni rispetto alla data del documento',
    { from: '2019-07-30' },
    'Elenco controlli v1.6 (2019-07-30), digest §1 and §4.3',
  ],
  [
    '00324',
    'registry',
    'server-only',
    "the cessionario's IdFiscaleIVA and CodiceFiscale do not match",
    'IdFiscaleIVA e CodiceFiscale del cessionario/committente non coerenti',
    { from: '2019-07-30' },
    'Elenco controlli v1.6 (2019-07-30), digest §1 and §4.3',
  ],
  [
    '00325',
    'registry',
    'server-only',
    "the cessionario's codice fiscale is not a member of the VAT group",
    'il codice fiscale del cessionario/committente non è di un partecipante al gruppo IVA',
    {},
    'tabular representation and Allegato A 1.9.1 (digest §4.3); the digest gives no start date',
  ],
  [
    '00326',
    'registry',
    'server-only',
    "the cessionario's codice fiscale is missing with a VAT-group partita IVA",
    'manca il codice fiscale del cessionario/committente con una partita IVA di gruppo IVA',
    {},
    'tabular representation and Allegato A 1.9.1 (digest §4.3); the digest gives no start date',
  ],
  [
    '00327',
    'registry',
    'server-only',
    'a registry check of Allegato A 1.9.1 (meaning not published in the sources read)',
    'controllo sulle anagrafiche di Allegato A 1.9.1 (significato non reperito)',
    {},
    'listed in Allegato A 1.9.1; meaning and date not found (digest §4.3 and §10)',
  ],
  [
    '00330',
    'registry',
    'warning',
    "PECDestinatario is one of SdI's own mailboxes",
    'la PECDestinatario è una casella PEC del Sistema di Interscambio',
    {},
    'tabular representation and Allegato A 1.9.1 (digest §4.3); the digest gives no start date',
  ],
  [
    '00398',
    'registry',
    'server-only',
    'the administration has another active office to address',
    "l'amministrazione ha un altro ufficio attivo a cui indirizzare la fattura",
    {},
    `${V20} §4.3 (needs IPA); ${UNDATED}`,
  ],
  [
    '00399',
    'registry',
    'server-only',
    'the recipient is a public administration: an FPA12 invoice is needed',
    'il destinatario è una pubblica amministrazione: serve una fattura FPA12',
    {},
    `${V20} §4.3 (needs IPA); ${UNDATED}`,
  ],

  // 4.2 Content coherence
  [
    '00400',
    'content',
    'error',
    'a line with AliquotaIVA 0 has no Natura',
    'una linea con AliquotaIVA 0 non indica la Natura',
    {},
    `${V20} §4.2; ${UNDATED}`,
  ],
  [
    '00401',
    'content',
    'error',
    'a line with a VAT rate also has a Natura',
    'una linea con aliquota IVA indica anche la Natura',
    {},
    `${V20} §4.2 (exception TD16 per the tabular representation); ${UNDATED}`,
  ],
  [
    '00403',
    'content',
    'error',
    'the invoice date is after the day SdI received the file',
    'la data della fattura è successiva alla data di ricezione del file',
    {},
    `${V20} §4.2; ${UNDATED}`,
  ],
  [
    '00404',
    'uniqueness',
    'error',
    'duplicate invoice',
    'fattura duplicata',
    {},
    `${V20} §4.4 (offline: invoices fatturad itself sent); ${UNDATED}`,
  ],
  [
    '00409',
    'uniqueness',
    'error',
    'duplicate invoice within the batch',
    'fattura duplicata nel lotto',
    {},
    `${V20} §4.4 (criteria revised in v1.7, 2020-10-01, digest §1); ${UNDATED}`,
  ],
  [
    '00411',
    'content',
    'error',
    'a withholding is declared on a line but DatiRitenuta is missing',
    'una linea indica una ritenuta ma manca il blocco DatiRitenuta',
    {},
    `${V20} §4.2; ${UNDATED}`,
  ],
  [
    '00413',
    'content',
    'error',
    'DatiCassaPrevidenziale with AliquotaIVA 0 has no Natura',
    'DatiCassaPrevidenziale con AliquotaIVA 0 non indica la Natura',
    {},
    `${V20} §4.2; ${UNDATED}`,
  ],
  [
    '00414',
    'content',
    'error',
    'DatiCassaPrevidenziale with a VAT rate also has a Natura',
    'DatiCassaPrevidenziale con aliquota IVA indica anche la Natura',
    {},
    `${V20} §4.2; ${UNDATED}`,
  ],
  [
    '00415',
    'content',
    'error',
    'a withholding is declared on the cassa but DatiRitenuta is missing',
    'la cassa previdenziale indica una ritenuta ma manca il blocco DatiRitenuta',
    {},
    `${V20} §4.2; ${UNDATED}`,
  ],
  [
    '00417',
    'content',
    'error',
    'the cessionario has neither IdFiscaleIVA nor CodiceFiscale',
    'il cessionario/committente non ha né IdFiscaleIVA né CodiceFiscale',
    {},
    `${V20} §4.2; ${UNDATED}`,
  ],
  [
    '00418',
    'content',
    'error',
    'the credit note is dated before the invoice it refers to',
    'la nota di credito ha una data anteriore a quella della fattura collegata',
    {},
    `${V20} §4.2; ${UNDATED}`,
  ],
  [
    '00419',
    'content',
    'error',
    'a DatiRiepilogo block is missing for a VAT rate',
    "manca un blocco DatiRiepilogo per un'aliquota IVA",
    {},
    `${V20} §4.2; ${UNDATED}`,
  ],
  [
    '00420',
    'content',
    'error',
    'split payment cannot be used with reverse charge (N6)',
    "la scissione dei pagamenti non è ammessa con l'inversione contabile (N6)",
    {},
    `${V20} §4.2; ${UNDATED}`,
  ],
  [
    '00421',
    'content',
    'error',
    'Imposta does not match AliquotaIVA × ImponibileImporto',
    "l'Imposta non corrisponde ad AliquotaIVA × ImponibileImporto",
    {},
    `${V20} §4.2 (tolerance 0.01); ${UNDATED}`,
  ],
  [
    '00422',
    'content',
    'error',
    'ImponibileImporto does not match the lines for a VAT rate',
    "l'ImponibileImporto non corrisponde alle linee per un'aliquota IVA",
    {},
    `${V20} §4.2 (tolerance 1.00); ${UNDATED}`,
  ],
  [
    '00423',
    'content',
    'error',
    'PrezzoTotale does not match PrezzoUnitario × Quantita with discounts',
    'il PrezzoTotale non corrisponde a PrezzoUnitario × Quantita con sconti e maggiorazioni',
    {},
    `${V20} §4.2 (tolerance 0.01; readings the list leaves open: see 00423-AMBIGUOUS); ${UNDATED}`,
  ],
  [
    '00424',
    'content',
    'error',
    'AliquotaIVA is written as a fraction instead of a percentage',
    "l'AliquotaIVA è indicata come frazione invece che come percentuale",
    {},
    `${V20} §4.2; ${UNDATED}`,
  ],
  [
    '00425',
    'content',
    'error',
    'the invoice number contains no digit',
    'il numero della fattura non contiene cifre',
    {},
    `${V20} §4.2; ${UNDATED}`,
  ],
  [
    '00427',
    'content',
    'error',
    'CodiceDestinatario length does not match the format (FPA12/FPR12)',
    'la lunghezza del CodiceDestinatario non è coerente con il formato (FPA12/FPR12)',
    {},
    `${V20} §4.2; ${UNDATED}`,
  ],
  [
    '00428',
    'content',
    'error',
    'FormatoTrasmissione does not match the versione attribute',
    "il FormatoTrasmissione non corrisponde all'attributo versione",
    {},
    `${V20} §4.2; ${UNDATED}`,
  ],
  [
    '00429',
    'content',
    'error',
    'DatiRiepilogo with AliquotaIVA 0 has no Natura',
    'DatiRiepilogo con AliquotaIVA 0 non indica la Natura',
    {},
    `${V20} §4.2; ${UNDATED}`,
  ],
  [
    '00430',
    'content',
    'error',
    'DatiRiepilogo with a VAT rate also has a Natura',
    'DatiRiepilogo con aliquota IVA indica anche la Natura',
    {},
    `${V20} §4.2 (exception TD16 per the tabular representation); ${UNDATED}`,
  ],
  [
    '00437',
    'content',
    'error',
    'a ScontoMaggiorazione has Tipo but neither Percentuale nor Importo',
    'uno ScontoMaggiorazione indica il Tipo ma né Percentuale né Importo',
    {},
    `${V20} §4.2; ${UNDATED}`,
  ],
  [
    '00438',
    'content',
    'error',
    'a line ScontoMaggiorazione has Tipo but neither Percentuale nor Importo',
    'uno ScontoMaggiorazione di linea indica il Tipo ma né Percentuale né Importo',
    {},
    `${V20} §4.2; ${UNDATED}`,
  ],
  [
    '00443',
    'content',
    'error',
    'a VAT rate of the lines has no DatiRiepilogo block',
    "un'aliquota IVA delle linee non ha il blocco DatiRiepilogo",
    { from: '2020-10-01' },
    'Elenco controlli v1.7 (2020-10-01), digest §1',
  ],
  [
    '00444',
    'content',
    'error',
    'a Natura of the lines has no DatiRiepilogo block',
    'una Natura delle linee non ha il blocco DatiRiepilogo',
    { from: '2020-10-01' },
    'Elenco controlli v1.7 (2020-10-01), digest §1',
  ],
  [
    '00445',
    'content',
    'error',
    'generic Natura N2, N3 or N6 is no longer allowed',
    'la Natura generica N2, N3 o N6 non è più ammessa',
    { from: '2021-01-01' },
    'Elenco controlli v1.7; in force from 2021-01-01 (digest §1, §4.2, §5)',
  ],
  [
    '00460',
    'content',
    'error',
    'a simplified invoice cannot exceed EUR 400',
    'una fattura semplificata non può superare 400 euro',
    {},
    'DPR 633/72 art. 21-bis, DM 10/05/2019; exceptions RF19/RF20 per Allegato A 1.9.1 (digest §2.1, §4.2); ' +
      'the digest gives no date for the limit nor for the exceptions: applied at every date',
  ],
  [
    '00471',
    'content',
    'error',
    'for this TipoDocumento cedente and cessionario cannot be the same',
    'per questo TipoDocumento cedente e cessionario non possono coincidere',
    { from: '2020-10-01' },
    'Elenco controlli v1.7 (2020-10-01); criteria changed by v2.0 (2025-01-31), digest §1 and §4.2',
  ],
  [
    '00472',
    'content',
    'error',
    'for TD21 cedente and cessionario must be the same',
    'per il TD21 cedente e cessionario devono coincidere',
    { from: '2020-10-01' },
    'Elenco controlli v1.7 (2020-10-01); criteria changed by v2.0 (2025-01-31), digest §1 and §4.2',
  ],
  [
    '00473',
    'content',
    'error',
    'this TipoDocumento does not allow this cedente IdPaese',
    "questo TipoDocumento non ammette l'IdPaese del cedente/prestatore",
    { from: '2020-10-01' },
    'Elenco controlli v1.7 (2020-10-01); criteria changed by v2.0 (2025-01-31), digest §1 and §4.2',
  ],
  [
    '00474',
    'content',
    'error',
    'TD21 cannot have a line with AliquotaIVA 0',
    'il TD21 non ammette linee con AliquotaIVA 0',
    { from: '2020-10-01' },
    'Elenco controlli v1.7 (2020-10-01), digest §1',
  ],
  [
    '00475',
    'content',
    'error',
    'this TipoDocumento needs the cessionario IdFiscaleIVA',
    "questo TipoDocumento richiede l'IdFiscaleIVA del cessionario/committente",
    { from: '2022-10-01' },
    'Elenco controlli v1.8 (2022-10-01); criteria changed by v2.0 (2025-01-31), but the digest gives ' +
      'only the v2.0 criteria, which fatturad applies from 2022-10-01',
  ],
  [
    '00476',
    'content',
    'error',
    'cedente and cessionario cannot both be non-resident',
    'cedente/prestatore e cessionario/committente non possono essere entrambi non residenti',
    { from: '2022-10-01' },
    'Elenco controlli v1.8 (2022-10-01), digest §1',
  ],
  [
    '00477',
    'content',
    'server-only',
    "the dichiarazione d'intento of an N3.5 line has been invalidated",
    "la dichiarazione d'intento di una linea N3.5 risulta invalidata",
    { from: '2023-12-12' },
    "Elenco controlli v1.9 (2023-12-12), digest §1 and §4.2 (needs AdE's database)",
  ],

  // Codes of older check lists only (digest §4.3): titles for old NS messages.
  [
    '00426',
    'content',
    'server-only',
    'PECDestinatario missing with CodiceDestinatario 0000000, or given with another code',
    'PECDestinatario assente con CodiceDestinatario 0000000, o presente con un altro codice',
    {},
    'older check lists only, not in Elenco v2.0 (digest §4.3); the digest gives no dates',
  ],
  [
    '00448',
    'content',
    'server-only',
    'generic N2, N3 or N6 in cross-border invoices',
    'Natura generica N2, N3 o N6 nelle fatture transfrontaliere',
    {},
    'older check lists only, superseded by 00445 (digest §4.3); the digest gives no dates',
  ],
  [
    '00999',
    'format',
    'server-only',
    'CausalePagamento Z is no longer admitted',
    'CausalePagamento Z non più ammessa',
    {},
    'older check lists only (digest §4.3, §5); the digest gives no dates',
  ],
];

const RETIRED = new Set(['00426', '00448', '00999']);

/**
 * fatturad's own codes that the checks emit. They are not SdI's: they report what fatturad
 * could not settle (a check that failed, a reading of the check list it could not confirm) or
 * give advice.
 */
const OWN: Row[] = [
  [
    'CHECK-FAILED',
    'content',
    'error',
    'a check failed with an internal error: the file cannot be judged valid',
    'un controllo non è riuscito per un errore interno: il file non può essere giudicato valido',
    {},
    'fatturad',
  ],
  [
    '00423-AMBIGUOUS',
    'content',
    'warning',
    'PrezzoTotale matches only under a reading of the check list fatturad could not confirm',
    "il PrezzoTotale torna solo con una lettura dell'elenco dei controlli che fatturad non ha potuto confermare",
    {},
    'fatturad: the check list does not say how SdI reads a line discount with both Percentuale and ' +
      'Importo, nor a negative Importo',
  ],
  [
    'RECIPIENT-RESERVED-AREA',
    'registry',
    'info',
    'CodiceDestinatario 0000000 without PECDestinatario: delivery depends on what the buyer registered with SdI',
    'CodiceDestinatario 0000000 senza PECDestinatario: il recapito dipende da quanto il cessionario ha registrato presso lo SdI',
    {},
    'fatturad advice',
  ],
  [
    'PEC-DESTINATARIO-IGNORED',
    'registry',
    'warning',
    'PECDestinatario is given with a CodiceDestinatario other than 0000000: SdI ignores it',
    'PECDestinatario indicata con un CodiceDestinatario diverso da 0000000: lo SdI la ignora',
    {},
    'fatturad advice (was SdI code 00426 in older check lists)',
  ],
];

const toInfo = ([code, level, offline, titleEn, titleIt, inForce, source]: Row): CodeInfo => ({
  code,
  level,
  offline,
  titleEn,
  titleIt,
  inForce,
  source,
  ...(RETIRED.has(code) ? { retired: true as const } : {}),
});

/** SdI's codes, in the order of the check list. */
export const SDI_CODES: readonly CodeInfo[] = ROWS.map(toInfo);
/** fatturad's own codes that the checks emit. */
export const OWN_CODES: readonly CodeInfo[] = OWN.map(toInfo);

const BY_CODE = new Map<string, CodeInfo>([...SDI_CODES, ...OWN_CODES].map((c) => [c.code, c]));

/** The catalogue entry of a code (SdI's or fatturad's own), if any. */
export function codeInfo(code: string): CodeInfo | undefined {
  return BY_CODE.get(code);
}

/** The English title of an SdI error code, or undefined for a code not in the list. */
export function sdiCodeTitle(code: string): string | undefined {
  return BY_CODE.get(code)?.titleEn;
}

/** Whether `day` (YYYY-MM-DD) falls within `f` (both ends included). */
export function within(f: InForce, day: string): boolean {
  return (f.from === undefined || day >= f.from) && (f.to === undefined || day <= f.to);
}

/** Whether the code is in force on `day`; a code not in the catalogue is always in force. */
export function inForceOn(code: string, day: string): boolean {
  const c = BY_CODE.get(code);
  return c === undefined || (!c.retired && within(c.inForce, day));
}

/**
 * The FatturaPA format versions (ordinary invoices, FPA12/FPR12) and the days each was in force
 * (digest §1). One namespace serves them all; the values each added are dated in
 * `checks/formato.ts`.
 */
export const FORMAT_VERSIONS: readonly { version: string; inForce: InForce; source: string }[] = [
  { version: '1.2.1', inForce: { from: '2020-10-01', to: '2022-09-30' }, source: 'digest §1 [S5][S15]' },
  { version: '1.2.2', inForce: { from: '2022-10-01', to: '2025-03-31' }, source: 'digest §1 [S5][S14]' },
  { version: '1.2.3', inForce: { from: '2025-04-01' }, source: 'digest §1 [S11][S12][S13]' },
];
