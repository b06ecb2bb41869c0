import { escapeXml } from '../notifications/build.js';
import { looksLikeP7m, unwrapP7m } from '../invoice/p7m.js';
import { all, at, parseXml, textAt, type XmlElement } from '../invoice/xml.js';

/**
 * What the preservation archive needs from an invoice file: the DMEF 2014 art. 3 search keys and
 * the AgID Allegato 5 metadata of the document. Reads the ordinary format (FPA12 / FPR12) and the
 * simplified one (FSM10), signed (.p7m, CAdES) or not, in any encoding the project's XML reader
 * accepts. Pure: bytes in, values out.
 */

export interface Party {
  role: 'cedente' | 'cessionario';
  denominazione?: string;
  nome?: string;
  cognome?: string;
  codiceFiscale?: string;
  /** IdFiscaleIVA with its IdPaese, e.g. IT01234567890. */
  partitaIva?: string;
}

/** The known transmission formats, any other string still accepted (`string & {}` keeps the hints). */
export type Formato = 'FPA12' | 'FPR12' | 'FSM10' | (string & {});

export interface InvoiceFacts {
  /** One per FatturaElettronicaBody (a lotto has several), in file order. */
  bodies: { numero: string; data: string; tipoDocumento: string; importoTotale?: string }[];
  /** The cedente first, then the cessionario. */
  parties: Party[];
  /** The root's `versione`: FPA12, FPR12, FSM10 (another value only from a malformed file). */
  formato: Formato;
  /** A CAdES envelope (.p7m) or an enveloped XAdES ds:Signature. */
  signed: boolean;
}

const DS_NS = 'http://www.w3.org/2000/09/xmldsig#';
const DATE = /^\d{4}-\d{2}-\d{2}$/;

const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s === '' ? undefined : s);

function idIva(el: XmlElement | undefined): string | undefined {
  const paese = textAt(el, 'IdPaese') ?? '';
  const codice = textAt(el, 'IdCodice') ?? '';
  return paese && codice ? `${paese}${codice}` : undefined;
}

/** A party from the element holding IdFiscaleIVA / CodiceFiscale and the one holding the name. */
function party(role: Party['role'], ids: XmlElement | undefined, names: XmlElement | undefined): Party {
  const p: Party = { role };
  const denominazione = nonEmpty(textAt(names, 'Denominazione'));
  const nome = nonEmpty(textAt(names, 'Nome'));
  const cognome = nonEmpty(textAt(names, 'Cognome'));
  const codiceFiscale = nonEmpty(textAt(ids, 'CodiceFiscale'));
  const partitaIva = idIva(at(ids, 'IdFiscaleIVA'));
  if (denominazione !== undefined) p.denominazione = denominazione;
  if (nome !== undefined) p.nome = nome;
  if (cognome !== undefined) p.cognome = cognome;
  if (codiceFiscale !== undefined) p.codiceFiscale = codiceFiscale;
  if (partitaIva !== undefined) p.partitaIva = partitaIva;
  return p;
}

/** The facts of a parsed invoice, or null when the root is not an invoice or has no usable body. */
export function factsFromRoot(root: XmlElement, signed: boolean): InvoiceFacts | null {
  const simplified = root.name === 'FatturaElettronicaSemplificata';
  if (!simplified && root.name !== 'FatturaElettronica') return null;
  const header = at(root, 'FatturaElettronicaHeader');
  if (!header) return null;
  const formato =
    nonEmpty(root.attrs.versione?.trim()) ?? nonEmpty(textAt(header, 'DatiTrasmissione/FormatoTrasmissione'));
  if (formato === undefined) return null;
  let parties: Party[];
  if (simplified) {
    // FSM10: the cedente's ids and name sit directly in CedentePrestatore; the cessionario has
    // IdentificativiFiscali and, optionally, AltriDatiIdentificativi with the name.
    const ced = at(header, 'CedentePrestatore');
    const ces = at(header, 'CessionarioCommittente');
    parties = [
      party('cedente', ced, ced),
      party('cessionario', at(ces, 'IdentificativiFiscali'), at(ces, 'AltriDatiIdentificativi')),
    ];
  } else {
    const ced = at(header, 'CedentePrestatore/DatiAnagrafici');
    const ces = at(header, 'CessionarioCommittente/DatiAnagrafici');
    parties = [
      party('cedente', ced, at(ced, 'Anagrafica')),
      party('cessionario', ces, at(ces, 'Anagrafica')),
    ];
  }
  const bodies: InvoiceFacts['bodies'] = [];
  for (const body of all(root, 'FatturaElettronicaBody')) {
    const dg = at(body, 'DatiGenerali/DatiGeneraliDocumento');
    const numero = nonEmpty(textAt(dg, 'Numero'));
    const data = nonEmpty(textAt(dg, 'Data'));
    if (numero === undefined || data === undefined || !DATE.test(data)) continue;
    const b: InvoiceFacts['bodies'][number] = {
      numero,
      data,
      tipoDocumento: textAt(dg, 'TipoDocumento') ?? '',
    };
    const importo = nonEmpty(textAt(dg, 'ImportoTotaleDocumento'));
    if (importo !== undefined) b.importoTotale = importo;
    bodies.push(b);
  }
  if (bodies.length === 0) return null;
  const xades = root.children.some((c) => c.name === 'Signature' && c.ns === DS_NS);
  return { bodies, parties, formato, signed: signed || xades };
}

/** Reads an invoice file (.xml or .p7m, unwrapping CAdES) — null when it cannot be read. */
export async function invoiceFacts(fileName: string, bytes: Buffer): Promise<InvoiceFacts | null> {
  let xml = bytes;
  const p7m = /\.p7m$/i.test(fileName) || looksLikeP7m(bytes);
  if (p7m) {
    const u = await unwrapP7m(bytes);
    if (!u.ok) return null;
    xml = u.content;
  }
  const p = parseXml(xml);
  if (!p.ok) return null;
  return factsFromRoot(p.root, p7m);
}

/** The DMEF 2014 art. 3 search keys, one row per (party, body): denominazione, nome, cognome, codice fiscale, partita IVA, data, numero, plus identificativoSdI. */
export interface SearchKey {
  role: string;
  denominazione: string | null;
  nome: string | null;
  cognome: string | null;
  codiceFiscale: string | null;
  partitaIva: string | null;
  data: string;
  numero: string;
  tipoDocumento: string;
  identificativoSdI: string | null;
}

/** Rows body by body, each with the cedente then the cessionario. */
export function searchKeys(f: InvoiceFacts, identificativoSdI: string | null): SearchKey[] {
  return f.bodies.flatMap((b) =>
    f.parties.map((p) => ({
      role: p.role,
      denominazione: p.denominazione ?? null,
      nome: p.nome ?? null,
      cognome: p.cognome ?? null,
      codiceFiscale: p.codiceFiscale ?? null,
      partitaIva: p.partitaIva ?? null,
      data: b.data,
      numero: b.numero,
      tipoDocumento: b.tipoDocumento,
      identificativoSdI,
    })),
  );
}

// ---------------------------------------------------------------------------------------------
// Allegato 5

/** Namespace of fatturad's Allegato 5 metadata, as embedded in the PIndex (MoreInfo/EmbeddedMetadata). */
export const AGID_METADATA_NS = 'urn:fatturad:metadati-agid:1';

/** Allegato 5 "Modalità di formazione" (Linee Guida §2.1.1): the full text of letters a and b. */
export const MODALITA_DI_FORMAZIONE = {
  a: 'creazione tramite utilizzo di strumenti software che assicurino la produzione di documenti nei formati previsti in allegato 2',
  b: 'acquisizione di un documento informatico per via telematica o su supporto informatico, acquisizione della copia per immagine su supporto informatico di un documento analogico, acquisizione della copia informatica di un documento analogico',
} as const;

const TIPO_DOCUMENTO: Record<string, string> = {
  TD01: 'Fattura',
  TD02: 'Acconto/anticipo su fattura',
  TD03: 'Acconto/anticipo su parcella',
  TD04: 'Nota di credito',
  TD05: 'Nota di debito',
  TD06: 'Parcella',
  TD07: 'Fattura semplificata',
  TD08: 'Nota di credito semplificata',
  TD09: 'Nota di debito semplificata',
  TD16: 'Integrazione fattura reverse charge interno',
  TD17: 'Integrazione/autofattura per acquisto servizi dall’estero',
  TD18: 'Integrazione per acquisto di beni intracomunitari',
  TD19: 'Integrazione/autofattura per acquisto di beni ex art. 17 c.2 DPR 633/72',
  TD20: 'Autofattura per regolarizzazione e integrazione delle fatture',
  TD21: 'Autofattura per splafonamento',
  TD22: 'Estrazione beni da Deposito IVA',
  TD23: 'Estrazione beni da Deposito IVA con versamento dell’IVA',
  TD24: 'Fattura differita di cui all’art. 21, comma 4, lett. a)',
  TD25: 'Fattura differita di cui all’art. 21, comma 4, terzo periodo lett. b)',
  TD26: 'Cessione di beni ammortizzabili e per passaggi interni',
  TD27: 'Fattura per autoconsumo o per cessioni gratuite senza rivalsa',
  TD28: 'Acquisti da San Marino con IVA (fattura cartacea)',
};

/** One line of indented XML: `<name>text</name>`, text escaped. */
const leaf = (indent: string, name: string, text: string): string =>
  `${indent}<${name}>${escapeXml(text)}</${name}>\n`;

const partyName = (p: Party): string =>
  p.denominazione ??
  ([p.nome, p.cognome].filter((x) => x !== undefined).join(' ') || (p.partitaIva ?? p.codiceFiscale ?? ''));

/** A natural person's codice fiscale: 16 letters and digits (omocodia included). */
const PERSONAL_CF = /^[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$/i;

/**
 * A subject: PG {DenominazioneOrganizzazione, CodiceFiscale_PartitaIva} for a Denominazione,
 * PF {Cognome, Nome, CodiceFiscale} for Nome+Cognome. Without a name (FSM10 cessionario with
 * only IdentificativiFiscali): PF with its CodiceFiscale when that is a personal code, else PG
 * with the code alone.
 */
function soggetto(
  tipoRuolo: 'Autore' | 'Mittente' | 'Destinatario',
  p: Party | undefined,
  ind: string,
): string {
  const i2 = `${ind}  `;
  const i3 = `${ind}    `;
  let out = `${ind}<${tipoRuolo}>\n${leaf(i2, 'TipoRuolo', tipoRuolo)}`;
  const code = p?.partitaIva ?? p?.codiceFiscale;
  if (p && p.denominazione === undefined && (p.nome !== undefined || p.cognome !== undefined)) {
    out += `${i2}<PF>\n`;
    if (p.cognome !== undefined) out += leaf(i3, 'Cognome', p.cognome);
    if (p.nome !== undefined) out += leaf(i3, 'Nome', p.nome);
    const cf = p.codiceFiscale ?? p.partitaIva;
    if (cf !== undefined) out += leaf(i3, 'CodiceFiscale', cf);
    out += `${i2}</PF>\n`;
  } else if (p && p.denominazione === undefined && p.codiceFiscale && PERSONAL_CF.test(p.codiceFiscale)) {
    out += `${i2}<PF>\n${leaf(i3, 'CodiceFiscale', p.codiceFiscale)}${i2}</PF>\n`;
  } else {
    out += `${i2}<PG>\n`;
    if (p?.denominazione !== undefined) out += leaf(i3, 'DenominazioneOrganizzazione', p.denominazione);
    if (code !== undefined) out += leaf(i3, 'CodiceFiscale_PartitaIva', code);
    out += `${i2}</PG>\n`;
  }
  return `${out}${ind}</${tipoRuolo}>\n`;
}

const HEX64 = /^[0-9a-f]{64}$/;

function impronta(sha256: string, ind: string): string {
  if (!HEX64.test(sha256)) throw new RangeError(`not a lowercase hex SHA-256: ${JSON.stringify(sha256)}`);
  // Impronta: the digest bytes in base64 (base64Binary), as integrators of AgID's schema send it.
  const b64 = Buffer.from(sha256, 'hex').toString('base64');
  return `${ind}<ImprontaCrittograficaDelDocumento>\n${leaf(`${ind}  `, 'Impronta', b64)}${leaf(`${ind}  `, 'Algoritmo', 'SHA-256')}${ind}</ImprontaCrittograficaDelDocumento>\n`;
}

function oggetto(f: InvoiceFacts): string {
  const one = (b: InvoiceFacts['bodies'][number]): string =>
    `${TIPO_DOCUMENTO[b.tipoDocumento] ?? 'Documento'}${b.tipoDocumento ? ` (${b.tipoDocumento})` : ''} n. ${b.numero} del ${b.data}`;
  const cedente = f.parties.find((p) => p.role === 'cedente');
  const cessionario = f.parties.find((p) => p.role === 'cessionario');
  const who = [
    cedente && partyName(cedente) ? ` emessa da ${partyName(cedente)}` : '',
    cessionario && partyName(cessionario) ? ` a ${partyName(cessionario)}` : '',
  ].join('');
  const docs =
    f.bodies.length === 1
      ? one(f.bodies[0] as InvoiceFacts['bodies'][number])
      : `Lotto di ${f.bodies.length} documenti: ${f.bodies.map(one).join('; ')}`;
  return `${docs}${who}`;
}

export interface Allegato5Input {
  /** SHA-256 (lowercase hex) of the file as preserved. */
  sha256: string;
  fileName: string;
  facts: InvoiceFacts;
  /** 'active': issued by the holder and sent through SdI (U); 'passive': received (E). */
  flow: 'active' | 'passive';
  identificativoSdI: string | null;
  retentionYears: number;
  /** Files preserved with the invoice (SdI receipts, MT...), listed in IndiceAllegati. */
  related?: { fileName: string; sha256: string; kind: string }[];
  /** ProdottoSoftware details; NomeProdotto is always "fatturad". */
  software?: { version?: string; producer?: string };
}

/**
 * Allegato 5 metadata (AgID, with the invoice mapping of the 17 Dec 2021 technical document) of one
 * invoice file, as an XML fragment: root `DocumentoInformatico` in {@link AGID_METADATA_NS}, element
 * names as in AgID's schema, indented from column 0. For a lotto, DatiDiRegistrazione carries the
 * first body (the schema has room for one registration) and Oggetto names every body.
 */
export function allegato5(input: Allegato5Input): string {
  const { facts: f } = input;
  const first = f.bodies[0];
  if (!first) throw new RangeError('an invoice without bodies has no Allegato 5 metadata');
  if (!Number.isInteger(input.retentionYears) || input.retentionYears <= 0)
    throw new RangeError(`retentionYears must be a positive whole number: ${input.retentionYears}`);
  const related = input.related ?? [];
  const cedente = f.parties.find((p) => p.role === 'cedente');
  const cessionario = f.parties.find((p) => p.role === 'cessionario');
  const p7m = /\.p7m$/i.test(input.fileName);
  const sw = input.software ?? {};
  const I1 = '  ';
  const I2 = '    ';
  const I3 = '      ';
  const I4 = '        ';

  let x = `<DocumentoInformatico xmlns="${AGID_METADATA_NS}">\n`;
  x += `${I1}<IdDoc>\n${impronta(input.sha256, I2)}${leaf(I2, 'Identificativo', input.identificativoSdI ?? input.fileName)}${I1}</IdDoc>\n`;
  x += leaf(I1, 'ModalitaDiFormazione', MODALITA_DI_FORMAZIONE[input.flow === 'active' ? 'a' : 'b']);
  x += leaf(I1, 'TipologiaDocumentale', 'Fattura');
  x += `${I1}<DatiDiRegistrazione>\n`;
  x += leaf(I2, 'TipologiaDiFlusso', input.flow === 'active' ? 'U' : 'E');
  x += `${I2}<TipoRegistro>\n${I3}<Nessuno>\n`;
  x += leaf(I4, 'TipoRegistro', 'Nessuno');
  x += leaf(I4, 'DataDocumento', first.data);
  x += leaf(I4, 'NumeroDocumento', first.numero);
  x += `${I3}</Nessuno>\n${I2}</TipoRegistro>\n${I1}</DatiDiRegistrazione>\n`;
  x += `${I1}<Soggetti>\n`;
  for (const [ruolo, p] of [
    ['Autore', cedente],
    ['Mittente', cedente],
    ['Destinatario', cessionario],
  ] as const)
    x += `${I2}<Ruolo>\n${soggetto(ruolo, p, I3)}${I2}</Ruolo>\n`;
  x += `${I1}</Soggetti>\n`;
  x += `${I1}<ChiaveDescrittiva>\n${leaf(I2, 'Oggetto', oggetto(f))}${I1}</ChiaveDescrittiva>\n`;
  x += `${I1}<Allegati>\n${leaf(I2, 'NumeroAllegati', String(related.length))}`;
  for (const r of related)
    x += `${I2}<IndiceAllegati>\n${I3}<IdDoc>\n${impronta(r.sha256, I4)}${leaf(I4, 'Identificativo', r.fileName)}${I3}</IdDoc>\n${leaf(I3, 'Descrizione', r.kind)}${I2}</IndiceAllegati>\n`;
  x += `${I1}</Allegati>\n`;
  x += leaf(I1, 'Riservato', 'false');
  x += `${I1}<IdentificativoDelFormato>\n`;
  x += leaf(I2, 'Formato', p7m ? 'application/pkcs7-mime' : 'application/xml');
  x += `${I2}<ProdottoSoftware>\n${leaf(I3, 'NomeProdotto', 'fatturad')}`;
  if (sw.version !== undefined) x += leaf(I3, 'VersioneProdotto', sw.version);
  if (sw.producer !== undefined) x += leaf(I3, 'Produttore', sw.producer);
  x += `${I2}</ProdottoSoftware>\n${I1}</IdentificativoDelFormato>\n`;
  x += `${I1}<Verifica>\n`;
  x += leaf(I2, 'FirmatoDigitalmente', String(f.signed));
  x += leaf(I2, 'SigillatoElettronicamente', 'false');
  x += leaf(I2, 'MarcaturaTemporale', 'false');
  x += leaf(I2, 'ConformitaCopieImmagineSuSupportoInformatico', 'false');
  x += `${I1}</Verifica>\n`;
  x += leaf(I1, 'NomeDelDocumento', input.fileName);
  x += leaf(I1, 'VersioneDelDocumento', '1');
  x += leaf(I1, 'TempoDiConservazione', String(input.retentionYears));
  x += `</DocumentoInformatico>\n`;
  return x;
}
