/**
 * The SDICoop web services, as one declarative table written from the specification (the WSDLs
 * SdIRiceviFile v1.0, SdIRiceviNotifica v1.0, TrasmissioneFatture v1.1, RicezioneFatture v1.0 and
 * their types TrasmissioneTypes v1.1 / RicezioneTypes v1.0). It drives the WSDLs fatturad serves,
 * the envelopes it builds and the requests it recognises. SOAP 1.1, document/literal; the
 * children of each message element are unqualified (the types schemas have no
 * elementFormDefault).
 */

export const NS_TRASMISSIONE = 'http://www.fatturapa.gov.it/sdi/ws/trasmissione/v1.0';
export const NS_TRASMISSIONE_TYPES = 'http://www.fatturapa.gov.it/sdi/ws/trasmissione/v1.0/types';
export const NS_RICEZIONE = 'http://www.fatturapa.gov.it/sdi/ws/ricezione/v1.0';
export const NS_RICEZIONE_TYPES = 'http://www.fatturapa.gov.it/sdi/ws/ricezione/v1.0/types';
export const NS_SOAP11 = 'http://schemas.xmlsoap.org/soap/envelope/';
export const NS_SOAP12 = 'http://www.w3.org/2003/05/soap-envelope';
export const NS_XOP = 'http://www.w3.org/2004/08/xop/include';

export type FieldType = 'string' | 'integer' | 'dateTime' | 'base64Binary';

export interface FieldDef {
  name: string;
  type: FieldType;
  /** The simple type's name in the specification (nomeFile_Type...), for the WSDL. */
  typeName?: string;
  optional?: boolean;
}

/** The message elements and their fields, in order. */
export const ELEMENT_TYPES: Readonly<Record<string, { typeName: string; fields: readonly FieldDef[] }>> = {
  fileSdIBase: {
    typeName: 'fileSdIBase_Type',
    fields: [
      { name: 'NomeFile', type: 'string', typeName: 'nomeFile_Type' },
      { name: 'File', type: 'base64Binary' },
    ],
  },
  fileSdI: {
    typeName: 'fileSdI_Type',
    fields: [
      { name: 'IdentificativoSdI', type: 'integer', typeName: 'identificativoSdI_Type' },
      { name: 'NomeFile', type: 'string', typeName: 'nomeFile_Type' },
      { name: 'File', type: 'base64Binary' },
    ],
  },
  fileSdIConMetadati: {
    typeName: 'fileSdIConMetadati_Type',
    fields: [
      { name: 'IdentificativoSdI', type: 'integer', typeName: 'identificativoSdI_Type' },
      { name: 'NomeFile', type: 'string', typeName: 'nomeFile_Type' },
      { name: 'File', type: 'base64Binary' },
      { name: 'NomeFileMetadati', type: 'string', typeName: 'nomeFile_Type' },
      { name: 'Metadati', type: 'base64Binary' },
    ],
  },
  rispostaSdIRiceviFile: {
    typeName: 'rispostaSdIRiceviFile_Type',
    fields: [
      { name: 'IdentificativoSdI', type: 'integer', typeName: 'identificativoSdI_Type' },
      { name: 'DataOraRicezione', type: 'dateTime' },
      { name: 'Errore', type: 'string', typeName: 'erroreInvio_Type', optional: true },
    ],
  },
  rispostaRiceviFatture: {
    typeName: 'rispostaRiceviFatture_Type',
    fields: [{ name: 'Esito', type: 'string', typeName: 'esitoRicezione_Type' }],
  },
  rispostaSdINotificaEsito: {
    typeName: 'rispostaSdINotificaEsito_Type',
    fields: [
      { name: 'Esito', type: 'string', typeName: 'esitoNotifica_Type' },
      // ScartoEsito is a fileSdIBase_Type (NomeFile, File); carried as its two fields here.
      { name: 'ScartoEsito', type: 'string', typeName: 'fileSdIBase_Type', optional: true },
    ],
  },
};

/** Which complex type each message element has (several share fileSdI_Type). */
export const ELEMENT_TYPE_OF: Readonly<Record<string, keyof typeof ELEMENT_TYPES>> = {
  fileSdIAccoglienza: 'fileSdIBase',
  fileSdI: 'fileSdI',
  fileSdIConMetadati: 'fileSdIConMetadati',
  rispostaSdIRiceviFile: 'rispostaSdIRiceviFile',
  rispostaRiceviFatture: 'rispostaRiceviFatture',
  rispostaSdINotificaEsito: 'rispostaSdINotificaEsito',
  ricevutaConsegna: 'fileSdI',
  notificaMancataConsegna: 'fileSdI',
  notificaScarto: 'fileSdI',
  notificaEsito: 'fileSdI',
  notificaDecorrenzaTermini: 'fileSdI',
  attestazioneTrasmissioneFattura: 'fileSdI',
};

/** Code lists of the simple types. */
export const CODE_LISTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  erroreInvio_Type: { EI01: 'file vuoto', EI02: 'servizio non disponibile', EI03: 'utente non abilitato' },
  esitoRicezione_Type: { ER01: 'presa in carico' },
  esitoNotifica_Type: {
    ES00: 'notifica non accettata',
    ES01: 'notifica accettata',
    ES02: 'servizio non disponibile',
  },
};

export interface OperationDef {
  name: string;
  soapAction: string;
  /** WSDL message names and part names, as in the specification. */
  input: { message: string; part: string; element: string };
  output: { message: string; part: string; element: string } | null;
}

export interface ServiceDef {
  name: ServiceName;
  targetNamespace: string;
  typesNamespace: string;
  portType: string;
  binding: string;
  service: string;
  port: string;
  operations: readonly OperationDef[];
}

export type ServiceName = 'SdIRiceviFile' | 'SdIRiceviNotifica' | 'TrasmissioneFatture' | 'RicezioneFatture';

const oneWay = (name: string, message: string, part: string, element: string): OperationDef => ({
  name,
  soapAction: `http://www.fatturapa.it/TrasmissioneFatture/${name}`,
  input: { message, part, element },
  output: null,
});

export const SERVICES: Readonly<Record<ServiceName, ServiceDef>> = {
  SdIRiceviFile: {
    name: 'SdIRiceviFile',
    targetNamespace: NS_TRASMISSIONE,
    typesNamespace: NS_TRASMISSIONE_TYPES,
    portType: 'SdIRiceviFile',
    binding: 'SdIRiceviFile_binding',
    service: 'SdIRiceviFile_service',
    port: 'SdIRiceviFile_port',
    operations: [
      {
        name: 'RiceviFile',
        soapAction: 'http://www.fatturapa.it/SdIRiceviFile/RiceviFile',
        input: { message: 'richiestaSdIRiceviFile_Msg', part: 'parametersIn', element: 'fileSdIAccoglienza' },
        output: {
          message: 'rispostaSdIRiceviFile_Msg',
          part: 'parametersOut',
          element: 'rispostaSdIRiceviFile',
        },
      },
    ],
  },
  SdIRiceviNotifica: {
    name: 'SdIRiceviNotifica',
    targetNamespace: NS_RICEZIONE,
    typesNamespace: NS_RICEZIONE_TYPES,
    portType: 'SdIRiceviNotifica',
    binding: 'SdIRiceviNotifica_binding',
    service: 'SdIRiceviNotifica_service',
    port: 'SdIRiceviNotifica_port',
    operations: [
      {
        name: 'NotificaEsito',
        soapAction: 'http://www.fatturapa.it/SdIRicezioneNotifiche/NotificaEsito',
        input: { message: 'richiestaSdINotificaEsito_Msg', part: 'parameters', element: 'fileSdI' },
        output: {
          message: 'rispostaSdINotificaEsito_Msg',
          part: 'parameters',
          element: 'rispostaSdINotificaEsito',
        },
      },
    ],
  },
  TrasmissioneFatture: {
    name: 'TrasmissioneFatture',
    targetNamespace: NS_TRASMISSIONE,
    typesNamespace: NS_TRASMISSIONE_TYPES,
    portType: 'TrasmissioneFatture',
    binding: 'TrasmissioneFatture_binding',
    service: 'TrasmissioneFatture_service',
    port: 'TrasmissioneFatture_port',
    operations: [
      oneWay('RicevutaConsegna', 'RicevutaConsegnaFatture_Msg', 'ricevuta', 'ricevutaConsegna'),
      oneWay(
        'NotificaMancataConsegna',
        'NotificaMancataConsegnaFatture_Msg',
        'mancataConsegna',
        'notificaMancataConsegna',
      ),
      oneWay('NotificaScarto', 'NotificaScartoFatture_Msg', 'scarto', 'notificaScarto'),
      oneWay('NotificaEsito', 'NotificaEsitoFatture_Msg', 'esito', 'notificaEsito'),
      oneWay(
        'NotificaDecorrenzaTermini',
        'NotificaDecorrenzaTerminiFatture_Msg',
        'decorrenzaTermini',
        'notificaDecorrenzaTermini',
      ),
      oneWay(
        'AttestazioneTrasmissioneFattura',
        'AttestazioneTrasmissioneFattura_Msg',
        'attestazioneTrasmissioneFattura',
        'attestazioneTrasmissioneFattura',
      ),
    ],
  },
  RicezioneFatture: {
    name: 'RicezioneFatture',
    targetNamespace: NS_RICEZIONE,
    typesNamespace: NS_RICEZIONE_TYPES,
    portType: 'RicezioneFatture',
    binding: 'RicezioneFatture_binding',
    service: 'RicezioneFatture_service',
    port: 'RicezioneFatture_port',
    operations: [
      {
        name: 'RiceviFatture',
        soapAction: 'http://www.fatturapa.it/RicezioneFatture/RiceviFattureSdI',
        input: { message: 'richiestaRiceviFatture_Msg', part: 'parametersIn', element: 'fileSdIConMetadati' },
        output: {
          message: 'rispostaRiceviFatture_Msg',
          part: 'parametersOut',
          element: 'rispostaRiceviFatture',
        },
      },
      {
        name: 'NotificaDecorrenzaTermini',
        soapAction: 'http://www.fatturapa.it/RicezioneFatture/NotificaDecorrenzaTermini',
        input: { message: 'notificaRicezioneFatture_Msg', part: 'parametersNotifica', element: 'fileSdI' },
        output: null,
      },
    ],
  },
};

/** An operation of a service, or an error naming what exists. */
export function operationOf(service: ServiceName, operation: string): OperationDef {
  const op = SERVICES[service].operations.find((o) => o.name === operation);
  if (!op) throw new Error(`${service} has no operation ${operation}`);
  return op;
}

/** The fields of a message element. */
export function fieldsOf(element: string): readonly FieldDef[] {
  const t = ELEMENT_TYPE_OF[element];
  if (!t) throw new Error(`unknown SDICoop element ${element}`);
  return (ELEMENT_TYPES[t] as { fields: readonly FieldDef[] }).fields;
}
