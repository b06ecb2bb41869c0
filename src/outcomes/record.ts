import { STATES, type DocumentState } from '../lifecycle/states.js';
import type { Finding } from '../rules/finding.js';
import { findingsOf } from '../store/store.js';
import type { OutcomeSource } from '../store/outcomes-store.js';

/**
 * What one outcome file says (docs/outcomes.md): a state change of a document the ERP dropped,
 * in a small JSON object an ERP can read without knowing fatturad. Pure: the writer gathers the
 * facts (the store's row, SdI's message) and this decides the words.
 */
export const OUTCOME_FORMAT = 'fatturad-outcome/1';

/** The states the ERP is told about; received, validated and sending are fatturad's own business. */
export const OUTCOME_STATES: ReadonlySet<DocumentState> = new Set<DocumentState>(
  STATES.filter((st) => st !== 'received' && st !== 'validated' && st !== 'sending'),
);

export interface OutcomeError {
  /** SdI's error code (NS) or fatturad's (a local rejection uses SdI's codes where one applies). */
  code: string;
  message: string;
  messageIt: string;
  field?: string;
}

export interface OutcomeRecord {
  format: typeof OUTCOME_FORMAT;
  /** Unique and increasing: the state change's number in fatturad's store. */
  id: number;
  /** fatturad's document id (`fatturad show <document>`). */
  document: number;
  /** The name of the file the ERP dropped (for a zip: the entry's name; the zip in `zip`). */
  file: string;
  entry?: string;
  zip?: string;
  state: DocumentState;
  previousState: DocumentState | null;
  at: string;
  /** Who decided: SdI (its messages, its taking the file) or fatturad (before sending). */
  by: 'sdi' | 'fatturad';
  sdiName: string | null;
  identificativoSdI: string | null;
  flow: 'pa' | 'b2b' | null;
  channel: string | null;
  /** SdI's message that caused the change, copied beside this file under the name SdI gave it. */
  sdiMessage: { kind: string; file: string; receivedAt: string } | null;
  /** NS or a local rejection: every error, with its code. */
  errors?: OutcomeError[];
  /** NE EC02: the administration's reason; MC, DT: SdI's Descrizione; failed: why. */
  reason?: string;
  message: string;
  messageIt: string;
}

/** SdI's message behind a transition, as the writer found it. */
export interface MessageFacts {
  kind: string;
  file: string;
  receivedAt: string;
  descrizione?: string;
}

/** The notification row a transition came from, when it came from one. */
export function notificationIdOf(details: unknown): number | null {
  if (typeof details !== 'object' || details === null) return null;
  const n = (details as { notification?: unknown }).notification;
  return typeof n === 'number' ? n : null;
}

const SENT_STATES: ReadonlySet<DocumentState> = new Set<DocumentState>([
  'sending',
  'sent',
  'not_delivered',
  'delivered',
]);

function words(
  s: OutcomeSource,
  by: 'sdi' | 'fatturad',
  reason: string | undefined,
  codes: string[],
): [string, string] {
  const id = s.identificativoSdI ? ` (IdentificativoSdI ${s.identificativoSdI})` : '';
  const why = reason ? `: ${reason}` : '';
  const list = codes.length ? ` [${codes.join(', ')}]` : '';
  switch (s.to) {
    case 'sent':
      return [
        `Taken by SdI${id}; waiting for its outcome.`,
        `Preso in carico dallo SdI${id}; in attesa dell'esito.`,
      ];
    case 'failed':
      return [
        `Not sent: SdI refused to take the file, or it could not be sent${why}.`,
        `Non inviato: lo SdI non ha accettato il file, oppure non è stato possibile inviarlo${why}.`,
      ];
    case 'not_delivered':
      return [
        'SdI could not deliver the invoice to the administration yet (MC) and keeps trying.',
        "Lo SdI non è ancora riuscito a recapitare la fattura all'amministrazione (MC) e continua a provare.",
      ];
    case 'delivered':
      return ['Delivered to the recipient (RC).', 'Consegnata al destinatario (RC).'];
    case 'available':
      return [
        "Not deliverable (MC): the invoice is issued and available in the buyer's reserved area; tell the buyer.",
        "Impossibilità di recapito (MC): la fattura è emessa ed è a disposizione nell'area riservata del cliente; avvisare il cliente.",
      ];
    case 'attested':
      return [
        'Delivery impossible: SdI attested the transmission (AT); the invoice is issued.',
        "Recapito impossibile: lo SdI ha attestato l'avvenuta trasmissione (AT); la fattura è emessa.",
      ];
    case 'accepted':
      return [
        'Accepted by the public administration (NE EC01).',
        'Accettata dalla pubblica amministrazione (NE EC01).',
      ];
    case 'refused':
      return [
        `Refused by the public administration (NE EC02)${why}.`,
        `Rifiutata dalla pubblica amministrazione (NE EC02)${why}.`,
      ];
    case 'expired':
      return [
        'No outcome from the administration within 15 days of delivery (DT).',
        "Decorrenza termini: nessun esito dall'amministrazione entro 15 giorni dalla consegna (DT).",
      ];
    case 'rejected':
      return by === 'sdi'
        ? [
            `Rejected by SdI (NS)${list}: the invoice is not issued; correct it and send it again.`,
            `Scartata dallo SdI (NS)${list}: la fattura non è emessa; correggerla e inviarla di nuovo.`,
          ]
        : [
            `Rejected by fatturad before sending${list}: nothing was sent to SdI; correct it and drop it again.`,
            `Scartata da fatturad prima dell'invio${list}: nulla è stato inviato allo SdI; correggerla e depositarla di nuovo.`,
          ];
    case 'duplicate':
      return [
        'The same file was already taken: nothing sent.',
        'Lo stesso file è già stato acquisito: nulla è stato inviato.',
      ];
    default:
      return [s.to, s.to];
  }
}

function asError(f: Finding): OutcomeError {
  return {
    code: f.code,
    message: f.message,
    messageIt: f.messageIt,
    ...(f.field ? { field: f.field } : {}),
  };
}

/** The outcome file of one state change (of a state in OUTCOME_STATES). */
export function buildRecord(s: OutcomeSource, message: MessageFacts | null): OutcomeRecord {
  const by: 'sdi' | 'fatturad' =
    s.to === 'duplicate' || (s.to === 'rejected' && !SENT_STATES.has(s.from ?? 'received'))
      ? 'fatturad'
      : 'sdi';
  const errors = s.to === 'rejected' ? findingsOf(s.details).map(asError) : undefined;
  const reason =
    s.to === 'failed'
      ? (s.reason ?? undefined)
      : s.to === 'refused' || s.to === 'available' || s.to === 'not_delivered' || s.to === 'expired'
        ? message?.descrizione
        : undefined;
  const [en, it] = words(
    s,
    by,
    reason,
    (errors ?? []).map((e) => e.code),
  );
  return {
    format: OUTCOME_FORMAT,
    id: s.transitionId,
    document: s.documentId,
    file: s.originalName,
    ...(s.entry ? { entry: s.entry, ...(s.intakeName ? { zip: s.intakeName } : {}) } : {}),
    state: s.to,
    previousState: s.from,
    at: s.at,
    by,
    sdiName: s.sdiName,
    identificativoSdI: s.identificativoSdI,
    flow: s.flow,
    channel: s.channel,
    sdiMessage: message ? { kind: message.kind, file: message.file, receivedAt: message.receivedAt } : null,
    ...(errors ? { errors } : {}),
    ...(reason ? { reason } : {}),
    message: en,
    messageIt: it,
  };
}

/** A file name the ERP can use: no folder separators, no control characters. */
export function safeFileName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const n = name.replace(/[/\\\u0000-\u001f]/g, '_').replace(/^\.+/, '_');
  return n || 'document';
}

/** `<original name>.<state>.json`, or `<original name>.<state>.<n>.json` for the n-th (n ≥ 2). */
export function outcomeName(file: string, state: string, n = 1): string {
  return n <= 1 ? `${safeFileName(file)}.${state}.json` : `${safeFileName(file)}.${state}.${n}.json`;
}

export const CSV_HEADER =
  'id,at,file,entry,state,previous_state,by,sdi_name,identificativo_sdi,message_kind,message_file,codes,reason,outcome_file';

function csvField(v: string | number | null | undefined): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One line of outcomes.csv (RFC 4180 quoting), with its newline. */
export function csvLine(r: OutcomeRecord, outcomeFile: string): string {
  return `${[
    r.id,
    r.at,
    r.file,
    r.entry ?? '',
    r.state,
    r.previousState ?? '',
    r.by,
    r.sdiName,
    r.identificativoSdI,
    r.sdiMessage?.kind,
    r.sdiMessage?.file,
    (r.errors ?? []).map((e) => e.code).join(' '),
    r.reason,
    outcomeFile,
  ]
    .map(csvField)
    .join(',')}\n`;
}
