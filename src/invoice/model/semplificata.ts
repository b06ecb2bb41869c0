/**
 * Simplified invoice (fattura semplificata, FSM10, schema 1.0.1) document model, written from the
 * specification. Same conventions as the ordinary model: unqualified local elements, root in
 * FSM_NS, optional trailing ds:Signature validated against XML-DSig.
 */
import {
  Allegati,
  Amount2,
  CAP,
  Codice,
  CodiceFiscale,
  DataFattura,
  Divisa,
  dsSignature,
  Email,
  Nazione,
  NaturaSemplificata,
  NumeroCivico,
  Provincia,
  Rate,
  RegimeFiscaleSemplificata,
  SI,
  SoggettoEmittente,
  SocioUnico,
  StatoLiquidazione,
  String10,
  String1000Latin,
  String100Latin,
  String20,
  String60Latin,
  String80Latin,
} from './fatturapa.js';
import {
  choice,
  codes,
  complex,
  el,
  many,
  opt,
  patterned,
  seq,
  type ComplexType,
  type ElementDef,
  type Particle,
} from './types.js';

export const FSM_NS = 'http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.0';

const T = (name: string, items: Particle[]): ComplexType => complex(name, FSM_NS, items);
const nominativo = (): Particle =>
  choice([
    seq([el('Denominazione', String80Latin)]),
    seq([el('Nome', String60Latin), el('Cognome', String60Latin)]),
  ]);

const FormatoTrasmissione = codes('FormatoTrasmissioneType', [['FSM10', 'fattura semplificata']]);
const TipoDocumento = codes('TipoDocumentoType', [
  ['TD07', 'fattura semplificata'],
  ['TD08', 'nota di credito semplificata'],
  ['TD09', 'nota di debito semplificata'],
]);
const CodiceDestinatario = patterned('CodiceDestinatarioType', 'string', /^[A-Z0-9]{7}$/, {
  en: '7 capital letters or digits',
  it: '7 lettere maiuscole o cifre',
});

const IdFiscale = T('IdFiscaleType', [el('IdPaese', Nazione), el('IdCodice', Codice)]);
const Indirizzo = T('IndirizzoType', [
  el('Indirizzo', String60Latin),
  opt('NumeroCivico', NumeroCivico),
  el('CAP', CAP),
  el('Comune', String60Latin),
  opt('Provincia', Provincia),
  el('Nazione', Nazione, { default: 'IT' }),
]);
const RappresentanteFiscale = T('RappresentanteFiscaleType', [el('IdFiscaleIVA', IdFiscale), nominativo()]);
const IscrizioneREA = T('IscrizioneREAType', [
  el('Ufficio', Provincia),
  el('NumeroREA', String20),
  opt('CapitaleSociale', Amount2),
  opt('SocioUnico', SocioUnico),
  el('StatoLiquidazione', StatoLiquidazione),
]);

const Header = T('FatturaElettronicaHeaderType', [
  el(
    'DatiTrasmissione',
    T('DatiTrasmissioneType', [
      el('IdTrasmittente', IdFiscale),
      el('ProgressivoInvio', String10),
      el('FormatoTrasmissione', FormatoTrasmissione),
      el('CodiceDestinatario', CodiceDestinatario),
      opt('PECDestinatario', Email),
    ]),
  ),
  el(
    'CedentePrestatore',
    T('CedentePrestatoreType', [
      el('IdFiscaleIVA', IdFiscale),
      opt('CodiceFiscale', CodiceFiscale),
      nominativo(),
      el('Sede', Indirizzo),
      opt('StabileOrganizzazione', Indirizzo),
      opt('RappresentanteFiscale', RappresentanteFiscale),
      opt('IscrizioneREA', IscrizioneREA),
      el('RegimeFiscale', RegimeFiscaleSemplificata),
    ]),
  ),
  el(
    'CessionarioCommittente',
    T('CessionarioCommittenteType', [
      el(
        'IdentificativiFiscali',
        T('IdentificativiFiscaliType', [opt('IdFiscaleIVA', IdFiscale), opt('CodiceFiscale', CodiceFiscale)]),
      ),
      opt(
        'AltriDatiIdentificativi',
        T('AltriDatiIdentificativiType', [
          nominativo(),
          el('Sede', Indirizzo),
          opt('StabileOrganizzazione', Indirizzo),
          opt('RappresentanteFiscale', RappresentanteFiscale),
        ]),
      ),
    ]),
  ),
  opt('SoggettoEmittente', SoggettoEmittente),
]);

const Body = T('FatturaElettronicaBodyType', [
  el(
    'DatiGenerali',
    T('DatiGeneraliType', [
      el(
        'DatiGeneraliDocumento',
        T('DatiGeneraliDocumentoType', [
          el('TipoDocumento', TipoDocumento),
          el('Divisa', Divisa),
          el('Data', DataFattura),
          el('Numero', String20),
          opt('BolloVirtuale', SI),
        ]),
      ),
      opt(
        'DatiFatturaRettificata',
        T('DatiFatturaRettificataType', [
          el('NumeroFR', String20),
          el('DataFR', DataFattura),
          el('ElementiRettificati', String1000Latin),
        ]),
      ),
    ]),
  ),
  many(
    'DatiBeniServizi',
    T('DatiBeniServiziType', [
      el('Descrizione', String1000Latin),
      el('Importo', Amount2),
      el('DatiIVA', T('DatiIVAType', [opt('Imposta', Amount2), opt('Aliquota', Rate)])),
      opt('Natura', NaturaSemplificata),
      opt('RiferimentoNormativo', String100Latin),
    ]),
    1,
  ),
  many('Allegati', Allegati),
]);

export const FatturaElettronicaSemplificata: ElementDef = el(
  'FatturaElettronicaSemplificata',
  complex(
    'FatturaElettronicaType',
    FSM_NS,
    [
      el('FatturaElettronicaHeader', Header),
      many('FatturaElettronicaBody', Body, 1),
      { ...dsSignature, min: 0 },
    ],
    {
      attributes: [
        { name: 'versione', type: FormatoTrasmissione, required: true },
        { name: 'SistemaEmittente', type: String10, required: false },
      ],
    },
  ),
  { ns: FSM_NS },
);
