/**
 * SdI's messages ("file messaggio", digest section 3) as one flat record, whatever the family:
 * the PA flow (MessaggiTypes_v1.1.xsd) and the B2B flow (MessaggiFatturaTypes_v1.0.xsd) carry
 * the same facts under partly different element names. Every value is the text of the file
 * (trimmed), never converted: dates stay strings, IdentificativoSdI stays a string of digits.
 */

/** The two-letter code SdI uses in file names, in SDIFTP and in this project. */
export type NotificationKind = 'RC' | 'NS' | 'MC' | 'NE' | 'DT' | 'AT' | 'EC' | 'SE' | 'MT';

/** 'pa': MessaggiTypes (invoices to public administrations); 'b2b': MessaggiFatturaTypes. */
export type MessageFamily = 'pa' | 'b2b';

/** Every kind, in the order of the digest's table. */
export const NOTIFICATION_KINDS: readonly NotificationKind[] = [
  'RC',
  'NS',
  'MC',
  'AT',
  'NE',
  'DT',
  'MT',
  'EC',
  'SE',
];

/** Namespace URI of each family's messages. */
export const MESSAGE_NAMESPACES: Readonly<Record<MessageFamily, string>> = {
  pa: 'http://www.fatturapa.gov.it/sdi/messaggi/v1.0',
  b2b: 'http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fattura/messaggi/v1.0',
};

/** XML-DSig namespace (the enveloped ds:Signature of SdI's messages). */
export const XMLDSIG_NAMESPACE = 'http://www.w3.org/2000/09/xmldsig#';

/**
 * Root element (local name) of each kind, per family. The B2B family has only RC, NS, MC and MT:
 * no AT, NE, DT, EC or SE exist for invoices between private parties.
 */
export const MESSAGE_ROOTS: Readonly<Record<MessageFamily, Partial<Record<NotificationKind, string>>>> = {
  pa: {
    RC: 'RicevutaConsegna',
    NS: 'NotificaScarto',
    MC: 'NotificaMancataConsegna',
    AT: 'AttestazioneTrasmissioneFattura',
    NE: 'NotificaEsito',
    DT: 'NotificaDecorrenzaTermini',
    MT: 'MetadatiInvioFile',
    EC: 'NotificaEsitoCommittente',
    SE: 'ScartoEsitoCommittente',
  },
  b2b: {
    RC: 'RicevutaConsegna',
    NS: 'RicevutaScarto',
    MC: 'RicevutaImpossibilitaRecapito',
    MT: 'FileMetadati',
  },
};

/** RiferimentoFattura: which invoice of the file (a lotto may hold many) a message is about. */
export interface RiferimentoFattura {
  numeroFattura?: string;
  annoFattura?: string;
  /** 1-based position of the body in a lotto. */
  posizioneFattura?: string;
}

/** RiferimentoArchivio: the .zip the file came in (IdentificativoSdI and NomeFile of the archive). */
export interface RiferimentoArchivio {
  identificativoSdI: string;
  nomeFile: string;
}

/** One ListaErrori/Errore of a notifica (PA) or ricevuta (B2B) di scarto. */
export interface SdiError {
  /** SdI error code, e.g. "00100" (5 characters in the PA schema, 1-5 in the B2B one). */
  codice: string;
  descrizione: string;
  /** B2B only (mandatory there): SdI's hint on how to fix the file. */
  suggerimento?: string;
  /** Not in the 2014 schemas; read when SdI adds it (errors about one invoice of a lotto). */
  riferimentoFattura?: RiferimentoFattura;
}

/** The EsitoCommittente embedded in an NE, as the PA sent it. */
export interface EsitoCommittente {
  versione?: string;
  identificativoSdI?: string;
  riferimentoFattura?: RiferimentoFattura;
  esito?: 'EC01' | 'EC02';
  descrizione?: string;
  messageIdCommittente?: string;
  /** Whether the PA signed its EC (the signature stays inside the NE). */
  signature: 'present' | 'absent';
}

/** One SdI message, read from its XML. Fields absent from the file are absent here. */
export interface Notification {
  kind: NotificationKind;
  family: MessageFamily;
  /** Root element local name, e.g. "RicevutaScarto". */
  root: string;
  /** The root's `versione` attribute ("1.0" in both schemas), '' when missing. */
  versione: string;
  /** As written (digits in the PA flow; the B2B schema allows 1-36 characters). */
  identificativoSdI: string;
  /**
   * The file name as SdI received it (e.g. "...xml.p7m"). '' for EC and SE, whose schema has no
   * NomeFile: correlate those by IdentificativoSdI.
   */
  nomeFile: string;
  /** Verbatim text, never converted to a Date. Not carried by NE, DT, MT, EC, SE. */
  dataOraRicezione?: string;
  messageId?: string;
  pecMessageId?: string;
  note?: string;
  /** RC. */
  dataOraConsegna?: string;
  /** RC and AT. In the PA schema Descrizione is mandatory, in the B2B one optional. */
  destinatario?: { codice: string; descrizione?: string };
  /** NS (always set for NS, possibly empty when the file has no ListaErrori). */
  errors?: SdiError[];
  /** MC, DT, EC; for NE the Descrizione of the embedded EsitoCommittente. */
  descrizione?: string;
  /** B2B MC: the date (xsd:date) the invoice was put in the buyer's reserved area. */
  dataMessaADisposizione?: string;
  /** NE (from the embedded EsitoCommittente) and EC: EC01 = accettazione, EC02 = rifiuto. */
  esito?: 'EC01' | 'EC02';
  /** SE: EN00 = notifica non conforme al formato, EN01 = notifica non ammissibile. */
  scarto?: 'EN00' | 'EN01';
  /** DT, EC, SE; for NE the one of the embedded EsitoCommittente. */
  riferimentoFattura?: RiferimentoFattura;
  /** B2B RC, NS, MC, MT: SHA-256 (hex) of the transmitted file. */
  hash?: string;
  /** AT: SHA-256 (hex) of the original file. */
  hashFileOriginale?: string;
  /** MT. */
  codiceDestinatario?: string;
  /** MT, e.g. "FPA12", "FPR12" (the official sample has "SDI10"). */
  formato?: string;
  /** MT: delivery attempts, an integer as text. */
  tentativiInvio?: string;
  /** Files that came in a .zip: the archive's IdentificativoSdI and NomeFile. */
  riferimentoArchivio?: RiferimentoArchivio;
  /** SE and EC; for NE the one of the embedded EsitoCommittente. */
  messageIdCommittente?: string;
  /** NE: the embedded EsitoCommittente in full. */
  esitoCommittente?: EsitoCommittente;
  /** PA RC, NE, DT: attribute IntermediarioConDupliceRuolo="Si" (the intermediary acts for both parties). */
  intermediarioConDupliceRuolo?: boolean;
  /** B2B RC: attribute FlussoSemplificato="Si" (simplified invoice flow). */
  flussoSemplificato?: boolean;
  /** Whether the root has a ds:Signature child. Whether it verifies is checked elsewhere. */
  signature: 'present' | 'absent';
}
