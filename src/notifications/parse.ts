import { all, at, parseXml, textAt, type XmlElement } from '../invoice/xml.js';
import {
  MESSAGE_NAMESPACES,
  MESSAGE_ROOTS,
  XMLDSIG_NAMESPACE,
  type EsitoCommittente,
  type MessageFamily,
  type Notification,
  type NotificationKind,
  type RiferimentoFattura,
  type SdiError,
} from './types.js';

/**
 * Reading SdI's messages (RC, NS, MC, NE, DT, AT, MT, EC, SE) of both schema families. The XML
 * reader is the project's safe one (no DTD is ever read). The family comes from the namespace
 * of the root, the kind from its local name; the children are matched by local name whatever
 * their namespace (the schemas want them unqualified; some producers qualify them). Elements
 * this reader does not know are ignored: SdI may add fields.
 */

/** The message, or why the bytes are not one (in English and Italian). */
export type ParseNotificationResult =
  { ok: true; notification: Notification } | { ok: false; error: string; errorIt: string };

const INVOICE_NAMESPACES = new Set([
  'http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2',
  'http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.0',
  'http://www.fatturapa.gov.it/sdi/fatturapa/v1.1',
  'http://www.fatturapa.gov.it/sdi/fatturapa/v1.0',
]);

const KIND_OF_ROOT: Record<MessageFamily, Map<string, NotificationKind>> = {
  pa: new Map(Object.entries(MESSAGE_ROOTS.pa).map(([k, r]) => [r, k as NotificationKind])),
  b2b: new Map(Object.entries(MESSAGE_ROOTS.b2b).map(([k, r]) => [r, k as NotificationKind])),
};

const familyOf = (ns: string): MessageFamily | undefined =>
  ns === MESSAGE_NAMESPACES.pa ? 'pa' : ns === MESSAGE_NAMESPACES.b2b ? 'b2b' : undefined;

const fail = (error: string, errorIt: string): ParseNotificationResult => ({ ok: false, error, errorIt });

const rootList = (f: MessageFamily): string => Object.values(MESSAGE_ROOTS[f]).join(', ');

/**
 * Reads one SdI message from its bytes. Never throws: anything that is not an SdI message
 * (malformed XML, a DTD, another namespace, an unknown root, no IdentificativoSdI) gives
 * `ok: false` with the reason in English and Italian.
 */
export function parseNotification(bytes: Buffer): ParseNotificationResult {
  try {
    return parseUnsafe(bytes);
  } catch (e) {
    // Defensive only: the reader reports problems as values, and so does everything below.
    const why = e instanceof Error ? e.message : String(e);
    return fail(`The SdI message could not be read: ${why}`, `Il messaggio SdI non è leggibile: ${why}`);
  }
}

function parseUnsafe(bytes: Buffer): ParseNotificationResult {
  if (bytes.length === 0 || (bytes.length <= 4096 && /^[\s\uFEFF]*$/.test(bytes.toString('utf8'))))
    return fail('The file is empty: it is not an SdI message.', 'Il file è vuoto: non è un messaggio SdI.');
  const parsed = parseXml(bytes, { maxDepth: 32 });
  if (!parsed.ok) {
    const f = parsed.errors[0];
    const where =
      f?.line !== undefined ? ` (line ${f.line}${f.column !== undefined ? `, column ${f.column}` : ''})` : '';
    const whereIt =
      f?.line !== undefined
        ? ` (riga ${f.line}${f.column !== undefined ? `, colonna ${f.column}` : ''})`
        : '';
    return fail(
      `Not an SdI message: the file is not readable XML${where}: ${f?.message ?? 'unknown error'}`,
      `Non è un messaggio SdI: il file non è un XML leggibile${whereIt}: ${f?.messageIt ?? 'errore sconosciuto'}`,
    );
  }
  const root = parsed.root;
  const family = familyOf(root.ns);
  if (family === undefined) {
    if (INVOICE_NAMESPACES.has(root.ns))
      return fail(
        `Not an SdI message: this is an invoice (${root.name} in namespace ${root.ns}), not a notification.`,
        `Non è un messaggio SdI: è una fattura (${root.name} nel namespace ${root.ns}), non una notifica.`,
      );
    const ns = root.ns === '' ? 'no namespace' : `namespace ${root.ns}`;
    const nsIt = root.ns === '' ? 'senza namespace' : `nel namespace ${root.ns}`;
    return fail(
      `Not an SdI message: root element ${root.name} is in ${ns}; SdI messages are in ${MESSAGE_NAMESPACES.pa} (PA flow) or ${MESSAGE_NAMESPACES.b2b} (B2B flow).`,
      `Non è un messaggio SdI: l'elemento radice ${root.name} è ${nsIt}; i messaggi SdI sono nel namespace ${MESSAGE_NAMESPACES.pa} (flusso PA) o ${MESSAGE_NAMESPACES.b2b} (flusso B2B).`,
    );
  }
  const kind = KIND_OF_ROOT[family].get(root.name);
  if (kind === undefined) {
    const fam = family === 'pa' ? 'PA flow' : 'B2B flow';
    const famIt = family === 'pa' ? 'flusso PA' : 'flusso B2B';
    return fail(
      `Not an SdI message: root element ${root.name} is not a message of the ${fam} (expected one of ${rootList(family)}).`,
      `Non è un messaggio SdI: l'elemento radice ${root.name} non è un messaggio del ${famIt} (attesi: ${rootList(family)}).`,
    );
  }
  const identificativoSdI = textAt(root, 'IdentificativoSdI');
  if (identificativoSdI === undefined || identificativoSdI === '')
    return fail(
      `Not a usable SdI message: ${root.name} has no IdentificativoSdI.`,
      `Messaggio SdI non utilizzabile: ${root.name} non ha IdentificativoSdI.`,
    );
  return { ok: true, notification: readFields(root, kind, family, identificativoSdI) };
}

/** Copies the optional text of child `name` into `target[key]` when the element is there. */
function setText<K extends keyof Notification>(
  target: Notification,
  key: K,
  el: XmlElement | undefined,
  name: string,
): void {
  const v = textAt(el, name);
  if (v !== undefined) (target as unknown as Record<string, unknown>)[key] = v;
}

function hasSignature(el: XmlElement): 'present' | 'absent' {
  return el.children.some((c) => c.name === 'Signature' && c.ns === XMLDSIG_NAMESPACE) ? 'present' : 'absent';
}

const isSi = (v: string | undefined): boolean => v !== undefined && v.trim().toLowerCase() === 'si';

function esitoOf(v: string | undefined): 'EC01' | 'EC02' | undefined {
  return v === 'EC01' || v === 'EC02' ? v : undefined;
}

function riferimentoFattura(el: XmlElement | undefined): RiferimentoFattura | undefined {
  const r = at(el, 'RiferimentoFattura');
  if (!r) return undefined;
  const out: RiferimentoFattura = {};
  const n = textAt(r, 'NumeroFattura');
  const a = textAt(r, 'AnnoFattura');
  const p = textAt(r, 'PosizioneFattura');
  if (n !== undefined) out.numeroFattura = n;
  if (a !== undefined) out.annoFattura = a;
  if (p !== undefined) out.posizioneFattura = p;
  return out;
}

function readErrors(root: XmlElement): SdiError[] {
  return all(root, 'ListaErrori/Errore').map((e) => {
    const err: SdiError = { codice: textAt(e, 'Codice') ?? '', descrizione: textAt(e, 'Descrizione') ?? '' };
    const s = textAt(e, 'Suggerimento');
    if (s !== undefined) err.suggerimento = s;
    const rf = riferimentoFattura(e);
    if (rf) err.riferimentoFattura = rf;
    return err;
  });
}

function readFields(
  root: XmlElement,
  kind: NotificationKind,
  family: MessageFamily,
  identificativoSdI: string,
): Notification {
  const n: Notification = {
    kind,
    family,
    root: root.name,
    versione: root.attrs.versione ?? '',
    identificativoSdI,
    nomeFile: textAt(root, 'NomeFile') ?? '',
    signature: hasSignature(root),
  };
  setText(n, 'dataOraRicezione', root, 'DataOraRicezione');
  setText(n, 'dataOraConsegna', root, 'DataOraConsegna');
  setText(n, 'dataMessaADisposizione', root, 'DataMessaADisposizione');
  setText(n, 'hash', root, 'Hash');
  setText(n, 'hashFileOriginale', root, 'HashFileOriginale');
  setText(n, 'codiceDestinatario', root, 'CodiceDestinatario');
  setText(n, 'formato', root, 'Formato');
  setText(n, 'tentativiInvio', root, 'TentativiInvio');
  setText(n, 'descrizione', root, 'Descrizione');
  setText(n, 'messageId', root, 'MessageId');
  setText(n, 'messageIdCommittente', root, 'MessageIdCommittente');
  setText(n, 'pecMessageId', root, 'PecMessageId');
  setText(n, 'note', root, 'Note');

  const dest = at(root, 'Destinatario');
  if (dest) {
    n.destinatario = { codice: textAt(dest, 'Codice') ?? '' };
    const d = textAt(dest, 'Descrizione');
    if (d !== undefined) n.destinatario.descrizione = d;
  }
  const arch = at(root, 'RiferimentoArchivio');
  if (arch)
    n.riferimentoArchivio = {
      identificativoSdI: textAt(arch, 'IdentificativoSdI') ?? '',
      nomeFile: textAt(arch, 'NomeFile') ?? '',
    };
  const rf = riferimentoFattura(root);
  if (rf) n.riferimentoFattura = rf;
  if (kind === 'NS') n.errors = readErrors(root);
  if (kind === 'EC') {
    const e = esitoOf(textAt(root, 'Esito'));
    if (e) n.esito = e;
  }
  if (kind === 'SE') {
    const s = textAt(root, 'Scarto');
    if (s === 'EN00' || s === 'EN01') n.scarto = s;
  }
  if (kind === 'NE') {
    const ec = at(root, 'EsitoCommittente');
    if (ec) {
      const emb: EsitoCommittente = { signature: hasSignature(ec) };
      const v = ec.attrs.versione;
      if (v !== undefined) emb.versione = v;
      const id = textAt(ec, 'IdentificativoSdI');
      if (id !== undefined) emb.identificativoSdI = id;
      const erf = riferimentoFattura(ec);
      if (erf) emb.riferimentoFattura = n.riferimentoFattura = erf;
      const e = esitoOf(textAt(ec, 'Esito'));
      if (e) emb.esito = n.esito = e;
      const d = textAt(ec, 'Descrizione');
      if (d !== undefined) emb.descrizione = n.descrizione = d;
      const m = textAt(ec, 'MessageIdCommittente');
      if (m !== undefined) emb.messageIdCommittente = n.messageIdCommittente = m;
      n.esitoCommittente = emb;
    }
  }
  if (isSi(root.attrs.IntermediarioConDupliceRuolo)) n.intermediarioConDupliceRuolo = true;
  if (isSi(root.attrs.FlussoSemplificato)) n.flussoSemplificato = true;
  return n;
}
