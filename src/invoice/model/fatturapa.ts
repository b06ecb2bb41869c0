/**
 * FatturaPA 1.2.3 (FPA12 / FPR12) document model, written from the specification
 * ("Specifiche tecniche del formato FatturaPA" and its tabular representation): element order,
 * occurrences, value types and code lists. Local elements are unqualified; the root is in
 * FPA_NS. The optional trailing ds:Signature is described by the XML-DSig model below (the
 * official schema imports XML-DSig, so a signature there is validated strictly).
 */
import {
  any,
  chars,
  choice,
  codes,
  complex,
  decimal,
  el,
  integer,
  many,
  opt,
  patterned,
  seq,
  simple,
  UNBOUNDED,
  type ComplexType,
  type ElementDef,
  type Particle,
  type SimpleType,
} from './types.js';

export const FPA_NS = 'http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2';
export const DS_NS = 'http://www.w3.org/2000/09/xmldsig#';

// ---------------------------------------------------------------------------------------------
// Shared simple types (also used by the simplified model).

export const String10 = chars('String10Type', 'normalizedString', 'basicLatin', 1, 10);
export const String15 = chars('String15Type', 'normalizedString', 'basicLatin', 1, 15);
export const String20 = chars('String20Type', 'normalizedString', 'basicLatin', 1, 20);
export const String35 = chars('String35Type', 'normalizedString', 'basicLatin', 1, 35);
export const String60 = chars('String60Type', 'normalizedString', 'basicLatin', 1, 60);
export const String60Latin = chars('String60LatinType', 'normalizedString', 'latin1', 1, 60);
export const String80Latin = chars('String80LatinType', 'normalizedString', 'latin1', 1, 80);
export const String100Latin = chars('String100LatinType', 'normalizedString', 'latin1', 1, 100);
export const String200Latin = chars('String200LatinType', 'normalizedString', 'latin1', 1, 200);
export const String1000Latin = chars('String1000LatinType', 'normalizedString', 'latin1', 1, 1000);
export const String35LatinExt = simple({
  name: 'String35LatinExtType',
  base: 'normalizedString',
  minLength: 1,
  maxLength: 35,
});
export const NumeroCivico = chars('NumeroCivicoType', 'normalizedString', 'basicLatin', 1, 8);
export const TelFax = chars('TelFaxType', 'normalizedString', 'basicLatin', 5, 12);
export const Titolo = chars('TitoloType', 'normalizedString', 'basicLatin', 2, 10, 'collapse');
export const Codice = simple({ name: 'CodiceType', base: 'string', minLength: 1, maxLength: 28 });
export const CodEORI = simple({ name: 'CodEORIType', base: 'string', minLength: 13, maxLength: 17 });

const upper = (name: string, n: number, what: string, whatIt: string): SimpleType =>
  patterned(name, 'string', new RegExp(`^[A-Z]{${n}}$`), {
    en: `${n} capital letters A-Z (${what})`,
    it: `${n} lettere maiuscole A-Z (${whatIt})`,
  });
export const Nazione = upper('NazioneType', 2, 'ISO 3166-1 alpha-2 country code', 'codice paese ISO 3166-1');
export const Provincia = upper('ProvinciaType', 2, 'province code, e.g. RM', 'sigla della provincia, es. RM');
export const Divisa = upper(
  'DivisaType',
  3,
  'ISO 4217 currency code, e.g. EUR',
  'codice valuta ISO 4217, es. EUR',
);
export const TipoResa = upper('TipoResaType', 3, 'Incoterms code', 'codice Incoterms');
const fiveDigits = (name: string): SimpleType =>
  patterned(name, 'string', /^[0-9]{5}$/, { en: 'exactly 5 digits', it: 'esattamente 5 cifre' });
export const CAP = fiveDigits('CAPType');
export const ABI = fiveDigits('ABIType');
export const CAB = fiveDigits('CABType');
export const CodiceFiscale = patterned('CodiceFiscaleType', 'string', /^[A-Z0-9]{11,16}$/, {
  en: '11 to 16 capital letters or digits',
  it: 'da 11 a 16 lettere maiuscole o cifre',
});
export const CodiceFiscalePF = patterned('CodiceFiscalePFType', 'string', /^[A-Z0-9]{16}$/, {
  en: '16 capital letters or digits',
  it: '16 lettere maiuscole o cifre',
});
export const IBAN = patterned('IBANType', 'string', /^[a-zA-Z]{2}[0-9]{2}[a-zA-Z0-9]{11,30}$/, {
  en: '2 letters, 2 digits, then 11 to 30 letters or digits, without spaces',
  it: '2 lettere, 2 cifre, poi da 11 a 30 lettere o cifre, senza spazi',
});
export const BIC = patterned('BICType', 'string', /^[A-Z]{6}[A-Z2-9][A-NP-Z0-9](?:[A-Z0-9]{3})?$/, {
  en: 'a BIC/SWIFT code of 8 or 11 capital letters or digits',
  it: 'un codice BIC/SWIFT di 8 o 11 lettere maiuscole o cifre',
});
// Email address (RFC 5322-like): dot-atoms or a quoted form of the spec, '@', dot-atoms or a
// domain literal. The spec's quoted form is read the way libxml2 reads it: the literal `[]!#-`
// followed by one character other than '-', '~', space, tab; or a backslash pair.
const ATOM = "[!#-'*+/-9=?A-Z^-~\\-]+(?:\\.[!#-'*+/-9=?A-Z^-~\\-]+)*";
export const Email = patterned(
  'EmailType',
  'token',
  new RegExp(`^(?:${ATOM}|"(?:\\[\\]!#-[^\\-~ \\t]|\\\\[\\t -~])+")@(?:${ATOM}|\\[[\\t -Z^-~]*\\])$`, 'u'),
  { en: 'an e-mail address such as name@example.it', it: 'un indirizzo e-mail come nome@esempio.it' },
  { maxLength: 256 },
);
export const EmailContatti = patterned(
  'EmailContattiType',
  'string',
  /^[^\n\r]+@[^\n\r]+\.+[^\n\r]+$/u,
  { en: 'an e-mail address such as name@example.it', it: 'un indirizzo e-mail come nome@esempio.it' },
  { minLength: 7, maxLength: 256 },
);

export const Amount2 = decimal('Amount2DecimalType', { signed: true, intMax: 11, fracMin: 2, fracMax: 2 });
export const Amount8 = decimal('Amount8DecimalType', { signed: true, intMax: 11, fracMin: 2, fracMax: 8 });
export const Rate = decimal('RateType', { signed: false, intMax: 3, fracMin: 2, fracMax: 2 }, '100.00');
export const Peso = decimal('PesoType', { signed: false, intMax: 4, fracMin: 1, fracMax: 2 });
export const Quantita = decimal('QuantitaType', { signed: false, intMax: 12, fracMin: 2, fracMax: 8 });

export const DateT = simple({ name: 'xs:date', base: 'date' });
export const DateTimeT = simple({ name: 'xs:dateTime', base: 'dateTime' });
export const DataFattura = simple({ name: 'DataFatturaType', base: 'date', minInclusive: '1970-01-01' });
export const Base64 = simple({ name: 'xs:base64Binary', base: 'base64Binary' });
export const XsString = simple({ name: 'xs:string', base: 'string' });
export const XsInteger = simple({ name: 'xs:integer', base: 'integer' });
export const AnyURI = simple({ name: 'xs:anyURI', base: 'anyURI' });
export const XsID = simple({ name: 'xs:ID', base: 'ID' });

export const SI = codes('SIType', [['SI', 'sì']]);
export const SoggettoEmittente = codes('SoggettoEmittenteType', [
  ['CC', 'cessionario/committente'],
  ['TZ', 'terzo'],
]);
export const SocioUnico = codes('SocioUnicoType', [
  ['SU', 'socio unico'],
  ['SM', 'più soci'],
]);
export const StatoLiquidazione = codes('StatoLiquidazioneType', [
  ['LS', 'in liquidazione'],
  ['LN', 'non in liquidazione'],
]);

const NATURA_BASE: [string, string][] = [
  ['N1', 'escluse ex art. 15'],
  ['N2', 'non soggette (non più ammesso dal 2021)'],
  ['N2.1', 'non soggette artt. da 7 a 7-septies'],
  ['N2.2', 'non soggette, altri casi'],
  ['N3', 'non imponibili (non più ammesso dal 2021)'],
  ['N3.1', 'non imponibili, esportazioni'],
  ['N3.2', 'non imponibili, cessioni intracomunitarie'],
  ['N3.3', 'non imponibili, cessioni verso San Marino'],
  ['N3.4', 'non imponibili, operazioni assimilate alle esportazioni'],
  ['N3.5', "non imponibili, a seguito di dichiarazioni d'intento"],
  ['N3.6', 'non imponibili, altre operazioni'],
  ['N4', 'esenti'],
  ['N5', 'regime del margine / IVA non esposta'],
];
export const NaturaSemplificata = codes('NaturaType', NATURA_BASE);
export const Natura = codes('NaturaType', [
  ...NATURA_BASE,
  ['N6', 'inversione contabile (non più ammesso dal 2021)'],
  ['N6.1', 'inversione contabile, rottami'],
  ['N6.2', 'inversione contabile, oro e argento'],
  ['N6.3', 'inversione contabile, subappalto edile'],
  ['N6.4', 'inversione contabile, fabbricati'],
  ['N6.5', 'inversione contabile, telefoni cellulari'],
  ['N6.6', 'inversione contabile, prodotti elettronici'],
  ['N6.7', 'inversione contabile, comparto edile e connessi'],
  ['N6.8', 'inversione contabile, settore energetico'],
  ['N6.9', 'inversione contabile, altri casi'],
  ['N7', 'IVA assolta in altro stato UE'],
]);

const RF: [string, string][] = [
  ['RF01', 'ordinario'],
  ['RF02', 'contribuenti minimi'],
  ['RF04', 'agricoltura e attività connesse e pesca'],
  ['RF05', 'vendita sali e tabacchi'],
  ['RF06', 'commercio fiammiferi'],
  ['RF07', 'editoria'],
  ['RF08', 'gestione servizi telefonia pubblica'],
  ['RF09', 'rivendita documenti di trasporto pubblico e di sosta'],
  ['RF10', 'intrattenimenti, giochi e altre attività'],
  ['RF11', 'agenzie viaggi e turismo'],
  ['RF12', 'agriturismo'],
  ['RF13', 'vendite a domicilio'],
  ['RF14', 'rivendita beni usati, oggetti d’arte, antiquariato'],
  ['RF15', 'agenzie di vendite all’asta'],
  ['RF16', 'IVA per cassa P.A.'],
  ['RF17', 'IVA per cassa'],
  ['RF18', 'altro'],
  ['RF19', 'forfettario'],
];
export const RegimeFiscaleSemplificata = codes('RegimeFiscaleType', RF);
export const RegimeFiscale = codes('RegimeFiscaleType', [...RF, ['RF20', 'franchigia IVA transfrontaliera']]);

const TipoDocumento = codes('TipoDocumentoType', [
  ['TD01', 'fattura'],
  ['TD02', 'acconto/anticipo su fattura'],
  ['TD03', 'acconto/anticipo su parcella'],
  ['TD04', 'nota di credito'],
  ['TD05', 'nota di debito'],
  ['TD06', 'parcella'],
  ['TD16', 'integrazione fattura reverse charge interno'],
  ['TD17', 'integrazione/autofattura per acquisto servizi dall’estero'],
  ['TD18', 'integrazione per acquisto di beni intracomunitari'],
  ['TD19', 'integrazione/autofattura per acquisto di beni ex art. 17 c.2 DPR 633/72'],
  ['TD20', 'autofattura per regolarizzazione e integrazione delle fatture'],
  ['TD21', 'autofattura per splafonamento'],
  ['TD22', 'estrazione beni da Deposito IVA'],
  ['TD23', 'estrazione beni da Deposito IVA con versamento dell’IVA'],
  ['TD24', 'fattura differita art. 21 c.4 lett. a'],
  ['TD25', 'fattura differita art. 21 c.4 terzo periodo lett. b'],
  ['TD26', 'cessione di beni ammortizzabili e passaggi interni'],
  ['TD27', 'fattura per autoconsumo o cessioni gratuite senza rivalsa'],
  ['TD28', 'acquisti da San Marino con IVA (fattura cartacea)'],
  ['TD29', 'comunicazione per omessa o irregolare fatturazione'],
]);
const TipoRitenuta = codes('TipoRitenutaType', [
  ['RT01', 'ritenuta persone fisiche'],
  ['RT02', 'ritenuta persone giuridiche'],
  ['RT03', 'contributo INPS'],
  ['RT04', 'contributo ENASARCO'],
  ['RT05', 'contributo ENPAM'],
  ['RT06', 'altro contributo previdenziale'],
]);
const CausalePagamento = codes('CausalePagamentoType', [
  ...'A B C D E G H I L M N O P Q R S T U V W X Y Z L1 M1 M2 O1 V1 ZO'.split(' '),
]);
const TipoCassa = codes(
  'TipoCassaType',
  Array.from({ length: 22 }, (_v, i) => `TC${String(i + 1).padStart(2, '0')}`),
);
const TipoScontoMaggiorazione = codes('TipoScontoMaggiorazioneType', [
  ['SC', 'sconto'],
  ['MG', 'maggiorazione'],
]);
const CondizioniPagamento = codes('CondizioniPagamentoType', [
  ['TP01', 'pagamento a rate'],
  ['TP02', 'pagamento completo'],
  ['TP03', 'anticipo'],
]);
const ModalitaPagamento = codes('ModalitaPagamentoType', [
  ['MP01', 'contanti'],
  ['MP02', 'assegno'],
  ['MP03', 'assegno circolare'],
  ['MP04', 'contanti presso Tesoreria'],
  ['MP05', 'bonifico'],
  ['MP06', 'vaglia cambiario'],
  ['MP07', 'bollettino bancario'],
  ['MP08', 'carta di pagamento'],
  ['MP09', 'RID'],
  ['MP10', 'RID utenze'],
  ['MP11', 'RID veloce'],
  ['MP12', 'RIBA'],
  ['MP13', 'MAV'],
  ['MP14', 'quietanza erario'],
  ['MP15', 'giroconto su conti di contabilità speciale'],
  ['MP16', 'domiciliazione bancaria'],
  ['MP17', 'domiciliazione postale'],
  ['MP18', 'bollettino di c/c postale'],
  ['MP19', 'SEPA Direct Debit'],
  ['MP20', 'SEPA Direct Debit CORE'],
  ['MP21', 'SEPA Direct Debit B2B'],
  ['MP22', 'trattenuta su somme già riscosse'],
  ['MP23', 'PagoPA'],
]);
const EsigibilitaIVA = codes('EsigibilitaIVAType', [
  ['D', 'differita'],
  ['I', 'immediata'],
  ['S', 'scissione dei pagamenti'],
]);
const TipoCessionePrestazione = codes('TipoCessionePrestazioneType', [
  ['SC', 'sconto'],
  ['PR', 'premio'],
  ['AB', 'abbuono'],
  ['AC', 'spesa accessoria'],
]);
const FormatoTrasmissione = codes('FormatoTrasmissioneType', [
  ['FPA12', 'fattura verso PA'],
  ['FPR12', 'fattura verso privati'],
]);
const CodiceDestinatario = patterned('CodiceDestinatarioType', 'string', /^[A-Z0-9]{6,7}$/, {
  en: '6 (PA office code) or 7 capital letters or digits',
  it: '6 (codice ufficio PA) o 7 lettere maiuscole o cifre',
});
const RiferimentoNumeroLinea = integer('RiferimentoNumeroLineaType', 1, 9999);
const RiferimentoFase = integer('RiferimentoFaseType', 1, 999);
const NumeroColli = integer('NumeroColliType', 1, 9999);
const NumeroLinea = integer('NumeroLineaType', 1, 9999);
const GiorniTerminePagamento = integer('GiorniTerminePagamentoType', 0, 999);

// ---------------------------------------------------------------------------------------------
// XML-DSig (the part the schema imports): Signature and everything reachable from it.

const DS = DS_NS;
const ds = (name: string, type: SimpleType | ComplexType): ElementDef => el(name, type, { ns: DS });
/** A reference to a global XML-DSig element with other occurrence bounds. */
const ref = (g: ElementDef, min = 1, max = 1): ElementDef => ({ ...g, min, max });
const idAttr = { name: 'Id', type: XsID, required: false };
const algorithm = { name: 'Algorithm', type: AnyURI, required: true };
const dsc = (
  name: string,
  items: Particle[] | null,
  extra: Parameters<typeof complex>[3] = {},
): ComplexType => complex(name, DS, items, extra);

const CryptoBinary = simple({ name: 'CryptoBinary', base: 'base64Binary' });
const gCanonicalizationMethod = ds(
  'CanonicalizationMethod',
  dsc('CanonicalizationMethodType', [any('##any', 'strict', { min: 0, max: UNBOUNDED })], {
    mixed: true,
    attributes: [algorithm],
  }),
);
const gSignatureMethod = ds(
  'SignatureMethod',
  dsc(
    'SignatureMethodType',
    [
      opt('HMACOutputLength', simple({ name: 'HMACOutputLengthType', base: 'integer' }), { ns: DS }),
      any('##other', 'strict', { min: 0, max: UNBOUNDED }),
    ],
    { mixed: true, attributes: [algorithm] },
  ),
);
const gTransform = ds(
  'Transform',
  dsc('TransformType', null, {
    mixed: true,
    attributes: [algorithm],
    group: choice([any('##other', 'lax'), ds('XPath', XsString)], { min: 0, max: UNBOUNDED }),
  }),
);
const gTransforms = ds('Transforms', dsc('TransformsType', [ref(gTransform, 1, UNBOUNDED)]));
const gDigestMethod = ds(
  'DigestMethod',
  dsc('DigestMethodType', [any('##other', 'lax', { min: 0, max: UNBOUNDED })], {
    mixed: true,
    attributes: [algorithm],
  }),
);
const gDigestValue = ds('DigestValue', simple({ name: 'DigestValueType', base: 'base64Binary' }));
const gReference = ds(
  'Reference',
  dsc('ReferenceType', [ref(gTransforms, 0), gDigestMethod, gDigestValue], {
    attributes: [
      idAttr,
      { name: 'URI', type: AnyURI, required: false },
      { name: 'Type', type: AnyURI, required: false },
    ],
  }),
);
const gSignedInfo = ds(
  'SignedInfo',
  dsc('SignedInfoType', [gCanonicalizationMethod, gSignatureMethod, ref(gReference, 1, UNBOUNDED)], {
    attributes: [idAttr],
  }),
);
const gSignatureValue = ds(
  'SignatureValue',
  dsc('SignatureValueType', null, { simpleContent: Base64, attributes: [idAttr] }),
);
const cb = (name: string, min = 1): ElementDef => el(name, CryptoBinary, { ns: DS, min });
const gDSAKeyValue = ds(
  'DSAKeyValue',
  dsc('DSAKeyValueType', [
    seq([cb('P'), cb('Q')], { min: 0 }),
    cb('G', 0),
    cb('Y'),
    cb('J', 0),
    seq([cb('Seed'), cb('PgenCounter')], { min: 0 }),
  ]),
);
const gRSAKeyValue = ds('RSAKeyValue', dsc('RSAKeyValueType', [cb('Modulus'), cb('Exponent')]));
const gKeyValue = ds(
  'KeyValue',
  dsc('KeyValueType', null, {
    mixed: true,
    group: choice([gDSAKeyValue, gRSAKeyValue, any('##other', 'lax')]),
  }),
);
const gRetrievalMethod = ds(
  'RetrievalMethod',
  dsc('RetrievalMethodType', [ref(gTransforms, 0)], {
    attributes: [
      { name: 'URI', type: AnyURI, required: false },
      { name: 'Type', type: AnyURI, required: false },
    ],
  }),
);
const gX509Data = ds(
  'X509Data',
  dsc('X509DataType', null, {
    group: seq(
      [
        choice([
          ds(
            'X509IssuerSerial',
            dsc('X509IssuerSerialType', [ds('X509IssuerName', XsString), ds('X509SerialNumber', XsInteger)]),
          ),
          ds('X509SKI', Base64),
          ds('X509SubjectName', XsString),
          ds('X509Certificate', Base64),
          ds('X509CRL', Base64),
          any('##other', 'lax'),
        ]),
      ],
      { max: UNBOUNDED },
    ),
  }),
);
const gPGPData = ds(
  'PGPData',
  dsc('PGPDataType', null, {
    group: choice([
      seq([
        ds('PGPKeyID', Base64),
        el('PGPKeyPacket', Base64, { ns: DS, min: 0 }),
        any('##other', 'lax', { min: 0, max: UNBOUNDED }),
      ]),
      seq([ds('PGPKeyPacket', Base64), any('##other', 'lax', { min: 0, max: UNBOUNDED })]),
    ]),
  }),
);
const gSPKIData = ds(
  'SPKIData',
  dsc('SPKIDataType', null, {
    group: seq([ds('SPKISexp', Base64), any('##other', 'lax', { min: 0 })], { max: UNBOUNDED }),
  }),
);
const gKeyName = ds('KeyName', XsString);
const gMgmtData = ds('MgmtData', XsString);
const gKeyInfo = ds(
  'KeyInfo',
  dsc('KeyInfoType', null, {
    mixed: true,
    attributes: [idAttr],
    group: choice(
      [
        gKeyName,
        gKeyValue,
        gRetrievalMethod,
        gX509Data,
        gPGPData,
        gSPKIData,
        gMgmtData,
        any('##other', 'lax'),
      ],
      { max: UNBOUNDED },
    ),
  }),
);
const gObject = ds(
  'Object',
  dsc('ObjectType', null, {
    mixed: true,
    attributes: [
      idAttr,
      { name: 'MimeType', type: XsString, required: false },
      { name: 'Encoding', type: AnyURI, required: false },
    ],
    group: seq([any('##any', 'lax')], { min: 0, max: UNBOUNDED }),
  }),
);
const gManifest = ds(
  'Manifest',
  dsc('ManifestType', [ref(gReference, 1, UNBOUNDED)], { attributes: [idAttr] }),
);
const gSignatureProperty = ds(
  'SignatureProperty',
  dsc('SignaturePropertyType', null, {
    mixed: true,
    attributes: [{ name: 'Target', type: AnyURI, required: true }, idAttr],
    group: choice([any('##other', 'lax')], { max: UNBOUNDED }),
  }),
);
const gSignatureProperties = ds(
  'SignatureProperties',
  dsc('SignaturePropertiesType', [ref(gSignatureProperty, 1, UNBOUNDED)], { attributes: [idAttr] }),
);
export const dsSignature = ds(
  'Signature',
  dsc('SignatureType', [gSignedInfo, gSignatureValue, ref(gKeyInfo, 0), ref(gObject, 0, UNBOUNDED)], {
    attributes: [idAttr],
  }),
);

/** Global XML-DSig element declarations (what lax/strict wildcards can resolve to). */
export const DSIG_GLOBALS: readonly ElementDef[] = [
  dsSignature,
  gSignatureValue,
  gSignedInfo,
  gCanonicalizationMethod,
  gSignatureMethod,
  gReference,
  gTransforms,
  gTransform,
  gDigestMethod,
  gDigestValue,
  gKeyInfo,
  gKeyName,
  gMgmtData,
  gKeyValue,
  gRetrievalMethod,
  gX509Data,
  gPGPData,
  gSPKIData,
  gObject,
  gManifest,
  gSignatureProperties,
  gSignatureProperty,
  gDSAKeyValue,
  gRSAKeyValue,
];

// ---------------------------------------------------------------------------------------------
// FatturaPA 1.2.3 complex types.

const T = (name: string, items: Particle[]): ComplexType => complex(name, FPA_NS, items);

const IdFiscale = T('IdFiscaleType', [el('IdPaese', Nazione), el('IdCodice', Codice)]);
const ContattiTrasmittente = T('ContattiTrasmittenteType', [
  opt('Telefono', TelFax),
  opt('Email', EmailContatti),
]);
const DatiTrasmissione = T('DatiTrasmissioneType', [
  el('IdTrasmittente', IdFiscale),
  el('ProgressivoInvio', String10),
  el('FormatoTrasmissione', FormatoTrasmissione),
  el('CodiceDestinatario', CodiceDestinatario),
  opt('ContattiTrasmittente', ContattiTrasmittente),
  opt('PECDestinatario', Email),
]);

/** Denominazione, or Nome followed by Cognome. */
export const nominativo = (): GroupChoice =>
  choice([
    seq([el('Denominazione', String80Latin)]),
    seq([el('Nome', String60Latin), el('Cognome', String60Latin)]),
  ]);
type GroupChoice = ReturnType<typeof choice>;

const Anagrafica = T('AnagraficaType', [nominativo(), opt('Titolo', Titolo), opt('CodEORI', CodEORI)]);
export const Indirizzo = T('IndirizzoType', [
  el('Indirizzo', String60Latin),
  opt('NumeroCivico', NumeroCivico),
  el('CAP', CAP),
  el('Comune', String60Latin),
  opt('Provincia', Provincia),
  el('Nazione', Nazione, { default: 'IT' }),
]);
export const IscrizioneREA = T('IscrizioneREAType', [
  el('Ufficio', Provincia),
  el('NumeroREA', String20),
  opt('CapitaleSociale', Amount2),
  opt('SocioUnico', SocioUnico),
  el('StatoLiquidazione', StatoLiquidazione),
]);
const Contatti = T('ContattiType', [
  opt('Telefono', TelFax),
  opt('Fax', TelFax),
  opt('Email', EmailContatti),
]);
const DatiAnagraficiCedente = T('DatiAnagraficiCedenteType', [
  el('IdFiscaleIVA', IdFiscale),
  opt('CodiceFiscale', CodiceFiscale),
  el('Anagrafica', Anagrafica),
  opt('AlboProfessionale', String60Latin),
  opt('ProvinciaAlbo', Provincia),
  opt('NumeroIscrizioneAlbo', String60),
  opt('DataIscrizioneAlbo', DateT),
  el('RegimeFiscale', RegimeFiscale),
]);
const CedentePrestatore = T('CedentePrestatoreType', [
  el('DatiAnagrafici', DatiAnagraficiCedente),
  el('Sede', Indirizzo),
  opt('StabileOrganizzazione', Indirizzo),
  opt('IscrizioneREA', IscrizioneREA),
  opt('Contatti', Contatti),
  opt('RiferimentoAmministrazione', String20),
]);
const RappresentanteFiscale = T('RappresentanteFiscaleType', [
  el(
    'DatiAnagrafici',
    T('DatiAnagraficiRappresentanteType', [
      el('IdFiscaleIVA', IdFiscale),
      opt('CodiceFiscale', CodiceFiscale),
      el('Anagrafica', Anagrafica),
    ]),
  ),
]);
const CessionarioCommittente = T('CessionarioCommittenteType', [
  el(
    'DatiAnagrafici',
    T('DatiAnagraficiCessionarioType', [
      opt('IdFiscaleIVA', IdFiscale),
      opt('CodiceFiscale', CodiceFiscale),
      el('Anagrafica', Anagrafica),
    ]),
  ),
  el('Sede', Indirizzo),
  opt('StabileOrganizzazione', Indirizzo),
  opt(
    'RappresentanteFiscale',
    T('RappresentanteFiscaleCessionarioType', [el('IdFiscaleIVA', IdFiscale), nominativo()]),
  ),
]);
const TerzoIntermediario = T('TerzoIntermediarioSoggettoEmittenteType', [
  el(
    'DatiAnagrafici',
    T('DatiAnagraficiTerzoIntermediarioType', [
      opt('IdFiscaleIVA', IdFiscale),
      opt('CodiceFiscale', CodiceFiscale),
      el('Anagrafica', Anagrafica),
    ]),
  ),
]);
const Header = T('FatturaElettronicaHeaderType', [
  el('DatiTrasmissione', DatiTrasmissione),
  el('CedentePrestatore', CedentePrestatore),
  opt('RappresentanteFiscale', RappresentanteFiscale),
  el('CessionarioCommittente', CessionarioCommittente),
  opt('TerzoIntermediarioOSoggettoEmittente', TerzoIntermediario),
  opt('SoggettoEmittente', SoggettoEmittente),
]);

const ScontoMaggiorazione = T('ScontoMaggiorazioneType', [
  el('Tipo', TipoScontoMaggiorazione),
  opt('Percentuale', Rate),
  opt('Importo', Amount8),
]);
const DatiGeneraliDocumento = T('DatiGeneraliDocumentoType', [
  el('TipoDocumento', TipoDocumento),
  el('Divisa', Divisa),
  el('Data', DataFattura),
  el('Numero', String20),
  many(
    'DatiRitenuta',
    T('DatiRitenutaType', [
      el('TipoRitenuta', TipoRitenuta),
      el('ImportoRitenuta', Amount2),
      el('AliquotaRitenuta', Rate),
      el('CausalePagamento', CausalePagamento),
    ]),
  ),
  opt('DatiBollo', T('DatiBolloType', [el('BolloVirtuale', SI), opt('ImportoBollo', Amount2)])),
  many(
    'DatiCassaPrevidenziale',
    T('DatiCassaPrevidenzialeType', [
      el('TipoCassa', TipoCassa),
      el('AlCassa', Rate),
      el('ImportoContributoCassa', Amount2),
      opt('ImponibileCassa', Amount2),
      el('AliquotaIVA', Rate),
      opt('Ritenuta', SI),
      opt('Natura', Natura),
      opt('RiferimentoAmministrazione', String20),
    ]),
  ),
  many('ScontoMaggiorazione', ScontoMaggiorazione),
  opt('ImportoTotaleDocumento', Amount2),
  opt('Arrotondamento', Amount2),
  many('Causale', String200Latin),
  opt('Art73', SI),
]);
const DatiDocumentiCorrelati = T('DatiDocumentiCorrelatiType', [
  many('RiferimentoNumeroLinea', RiferimentoNumeroLinea),
  el('IdDocumento', String20),
  opt('Data', DateT),
  opt('NumItem', String20),
  opt('CodiceCommessaConvenzione', String100Latin),
  opt('CodiceCUP', String15),
  opt('CodiceCIG', String15),
]);
const DatiTrasporto = T('DatiTrasportoType', [
  opt(
    'DatiAnagraficiVettore',
    T('DatiAnagraficiVettoreType', [
      el('IdFiscaleIVA', IdFiscale),
      opt('CodiceFiscale', CodiceFiscale),
      el('Anagrafica', Anagrafica),
      opt('NumeroLicenzaGuida', String20),
    ]),
  ),
  opt('MezzoTrasporto', String80Latin),
  opt('CausaleTrasporto', String100Latin),
  opt('NumeroColli', NumeroColli),
  opt('Descrizione', String100Latin),
  opt('UnitaMisuraPeso', String10),
  opt('PesoLordo', Peso),
  opt('PesoNetto', Peso),
  opt('DataOraRitiro', DateTimeT),
  opt('DataInizioTrasporto', DateT),
  opt('TipoResa', TipoResa),
  opt('IndirizzoResa', Indirizzo),
  opt('DataOraConsegna', DateTimeT),
]);
const DatiGenerali = T('DatiGeneraliType', [
  el('DatiGeneraliDocumento', DatiGeneraliDocumento),
  many('DatiOrdineAcquisto', DatiDocumentiCorrelati),
  many('DatiContratto', DatiDocumentiCorrelati),
  many('DatiConvenzione', DatiDocumentiCorrelati),
  many('DatiRicezione', DatiDocumentiCorrelati),
  many('DatiFattureCollegate', DatiDocumentiCorrelati),
  many('DatiSAL', T('DatiSALType', [el('RiferimentoFase', RiferimentoFase)])),
  many(
    'DatiDDT',
    T('DatiDDTType', [
      el('NumeroDDT', String20),
      el('DataDDT', DateT),
      many('RiferimentoNumeroLinea', RiferimentoNumeroLinea),
    ]),
  ),
  opt('DatiTrasporto', DatiTrasporto),
  opt(
    'FatturaPrincipale',
    T('FatturaPrincipaleType', [el('NumeroFatturaPrincipale', String20), el('DataFatturaPrincipale', DateT)]),
  ),
]);
const DettaglioLinee = T('DettaglioLineeType', [
  el('NumeroLinea', NumeroLinea),
  opt('TipoCessionePrestazione', TipoCessionePrestazione),
  many(
    'CodiceArticolo',
    T('CodiceArticoloType', [el('CodiceTipo', String35), el('CodiceValore', String35LatinExt)]),
  ),
  el('Descrizione', String1000Latin),
  opt('Quantita', Quantita),
  opt('UnitaMisura', String10),
  opt('DataInizioPeriodo', DateT),
  opt('DataFinePeriodo', DateT),
  el('PrezzoUnitario', Amount8),
  many('ScontoMaggiorazione', ScontoMaggiorazione),
  el('PrezzoTotale', Amount8),
  el('AliquotaIVA', Rate),
  opt('Ritenuta', SI),
  opt('Natura', Natura),
  opt('RiferimentoAmministrazione', String20),
  many(
    'AltriDatiGestionali',
    T('AltriDatiGestionaliType', [
      el('TipoDato', String10),
      opt('RiferimentoTesto', String60Latin),
      opt('RiferimentoNumero', Amount8),
      opt('RiferimentoData', DateT),
    ]),
  ),
]);
const DatiRiepilogo = T('DatiRiepilogoType', [
  el('AliquotaIVA', Rate),
  opt('Natura', Natura),
  opt('SpeseAccessorie', Amount2),
  opt('Arrotondamento', Amount8),
  el('ImponibileImporto', Amount2),
  el('Imposta', Amount2),
  opt('EsigibilitaIVA', EsigibilitaIVA),
  opt('RiferimentoNormativo', String100Latin),
]);
const DettaglioPagamento = T('DettaglioPagamentoType', [
  opt('Beneficiario', String200Latin),
  el('ModalitaPagamento', ModalitaPagamento),
  opt('DataRiferimentoTerminiPagamento', DateT),
  opt('GiorniTerminiPagamento', GiorniTerminePagamento),
  opt('DataScadenzaPagamento', DateT),
  el('ImportoPagamento', Amount2),
  opt('CodUfficioPostale', String20),
  opt('CognomeQuietanzante', String60Latin),
  opt('NomeQuietanzante', String60Latin),
  opt('CFQuietanzante', CodiceFiscalePF),
  opt('TitoloQuietanzante', Titolo),
  opt('IstitutoFinanziario', String80Latin),
  opt('IBAN', IBAN),
  opt('ABI', ABI),
  opt('CAB', CAB),
  opt('BIC', BIC),
  opt('ScontoPagamentoAnticipato', Amount2),
  opt('DataLimitePagamentoAnticipato', DateT),
  opt('PenalitaPagamentiRitardati', Amount2),
  opt('DataDecorrenzaPenale', DateT),
  opt('CodicePagamento', String60),
]);
export const Allegati = T('AllegatiType', [
  el('NomeAttachment', String60Latin),
  opt('AlgoritmoCompressione', String10),
  opt('FormatoAttachment', String10),
  opt('DescrizioneAttachment', String100Latin),
  el('Attachment', Base64),
]);
const Body = T('FatturaElettronicaBodyType', [
  el('DatiGenerali', DatiGenerali),
  el(
    'DatiBeniServizi',
    T('DatiBeniServiziType', [
      many('DettaglioLinee', DettaglioLinee, 1),
      many('DatiRiepilogo', DatiRiepilogo, 1),
    ]),
  ),
  opt('DatiVeicoli', T('DatiVeicoliType', [el('Data', DateT), el('TotalePercorso', String15)])),
  many(
    'DatiPagamento',
    T('DatiPagamentoType', [
      el('CondizioniPagamento', CondizioniPagamento),
      many('DettaglioPagamento', DettaglioPagamento, 1),
    ]),
  ),
  many('Allegati', Allegati),
]);

export const FatturaElettronica: ElementDef = el(
  'FatturaElettronica',
  complex(
    'FatturaElettronicaType',
    FPA_NS,
    [el('FatturaElettronicaHeader', Header), many('FatturaElettronicaBody', Body, 1), ref(dsSignature, 0)],
    {
      attributes: [
        { name: 'versione', type: FormatoTrasmissione, required: true },
        { name: 'SistemaEmittente', type: String10, required: false },
      ],
    },
  ),
  { ns: FPA_NS },
);
