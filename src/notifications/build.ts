import { createHash, randomInt } from 'node:crypto';
import {
  MESSAGE_NAMESPACES,
  MESSAGE_ROOTS,
  type MessageFamily,
  type NotificationKind,
  type RiferimentoArchivio,
  type RiferimentoFattura,
  type SdiError,
} from './types.js';

/**
 * The XML of SdI's messages, as SdI writes them, for a simulator: UTF-8, root in the family's
 * namespace with prefix `ns3` (as on real SdI traffic), attribute versione="1.0", unqualified
 * children in the order of the schema (MessaggiTypes_v1.1.xsd / MessaggiFatturaTypes_v1.0.xsd).
 *
 * Not signed: the schemas make an enveloped ds:Signature mandatory (last child) in RC, NS, MC,
 * AT, NE, DT, SE and in the three B2B receipts, so that output fails XSD validation on exactly
 * that missing element and nothing else; MT (MetadatiInvioFile / FileMetadati) has no signature
 * in its schema and EC has it optional, so those validate as they are. A signer, if ever needed,
 * appends the ds:Signature as the root's last child.
 */

/** Fields of a message to build. Which are used depends on the kind (see each field). */
export interface BuildInput {
  kind: NotificationKind;
  /** Default 'pa'. The B2B family has only RC, NS, MC, MT. */
  family?: MessageFamily;
  /** PA: 1-12 digits; B2B: 1-36 characters. */
  identificativoSdI: string;
  /** The name as SdI received the file. Required except for EC and SE (not in their schema). */
  nomeFile?: string;
  /** RC, NS, MC, AT. Default: `now`, SdI style (Italian time, milliseconds, offset). */
  dataOraRicezione?: string;
  /** RC. Default: `now`. */
  dataOraConsegna?: string;
  /** RC, AT. Default: codice from `codiceDestinatario`; PA Descrizione '' when not given. */
  destinatario?: { codice: string; descrizione?: string };
  /** RC, NS, MC, AT: the .zip the file came in. */
  riferimentoArchivio?: RiferimentoArchivio;
  /** NS: 1-200 errors. B2B Suggerimento is mandatory in the schema: '' when not given. */
  errors?: SdiError[];
  /** MC, DT, EC; NE (inside EsitoCommittente). */
  descrizione?: string;
  /** B2B MC (xsd:date). Default: the date of `now` in Italy. */
  dataMessaADisposizione?: string;
  /** NE, EC: required. */
  esito?: 'EC01' | 'EC02';
  /** SE: required. */
  scarto?: 'EN00' | 'EN01';
  /** DT, EC, SE; NE (inside EsitoCommittente). */
  riferimentoFattura?: RiferimentoFattura;
  /** SE, EC; NE (inside EsitoCommittente). */
  messageIdCommittente?: string;
  /** B2B RC, NS, MC, MT: SHA-256 hex of the file. Default: computed from `invoiceBytes`. */
  hash?: string;
  /** AT: SHA-256 hex of the original file. Default: computed from `invoiceBytes`. */
  hashFileOriginale?: string;
  /** The invoice file as transmitted, used only to compute Hash / HashFileOriginale. */
  invoiceBytes?: Buffer;
  /** MT: required (or taken from `destinatario.codice`). */
  codiceDestinatario?: string;
  /** MT. Default 'FPA12' (PA) or 'FPR12' (B2B). */
  formato?: string;
  /** MT. Default '1'. */
  tentativiInvio?: string;
  /** All but EC. Default: random digits (at most 12). */
  messageId?: string;
  pecMessageId?: string;
  note?: string;
  /** PA RC, NE, DT: attribute IntermediarioConDupliceRuolo="Si". */
  intermediarioConDupliceRuolo?: boolean;
  /** B2B RC: attribute FlussoSemplificato="Si". */
  flussoSemplificato?: boolean;
  /** Clock for the defaults. Default: the current time. */
  now?: Date;
}

/** Fields of an EsitoCommittente (EC) file, the outcome a PA recipient sends to SdI. */
export interface EsitoCommittenteInput {
  identificativoSdI: string;
  esito: 'EC01' | 'EC02';
  riferimentoFattura?: RiferimentoFattura;
  descrizione?: string;
  messageIdCommittente?: string;
}

const PREFIX = 'ns3';

// Characters XML 1.0 does not allow at all (C0 controls but tab/LF/CR, lone surrogates, FFFE/FFFF).
const NOT_XML =
  // eslint-disable-next-line no-control-regex -- the test is exactly "a control character"
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Text or attribute value, escaped: & < > " ' and CR (kept as &#13;, which a parser would turn into LF). */
export function escapeXml(value: string): string {
  if (NOT_XML.test(value)) throw new RangeError(`Character not allowed in XML in ${JSON.stringify(value)}`);
  return value.replace(/[&<>"'\r]/g, (c) =>
    c === '&'
      ? '&amp;'
      : c === '<'
        ? '&lt;'
        : c === '>'
          ? '&gt;'
          : c === '"'
            ? '&quot;'
            : c === "'"
              ? '&apos;'
              : '&#13;',
  );
}

/**
 * A dateTime as SdI writes it: Italian local time with milliseconds and the offset,
 * e.g. 2026-03-01T10:15:00.000+01:00.
 */
export function sdiDateTime(d: Date): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Rome',
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(d);
  const get = (t: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === t)?.value ?? '00';
  const y = get('year');
  const local = Date.UTC(
    Number(y),
    Number(get('month')) - 1,
    Number(get('day')),
    Number(get('hour')),
    Number(get('minute')),
    Number(get('second')),
  );
  const offsetMin = Math.round((local - (d.getTime() - d.getUTCMilliseconds())) / 60_000);
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  const off = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  const ms = String(d.getUTCMilliseconds()).padStart(3, '0');
  return `${y}-${get('month')}-${get('day')}T${get('hour')}:${get('minute')}:${get('second')}.${ms}${off}`;
}

/** Builds XML lines with two-space indentation; skips optional elements whose value is undefined. */
class Writer {
  readonly lines: string[] = [];
  private depth = 1;

  leaf(name: string, value: string | undefined): void {
    if (value === undefined) return;
    this.lines.push(`${'  '.repeat(this.depth)}<${name}>${escapeXml(value)}</${name}>`);
  }

  open(name: string, attrs = ''): void {
    this.lines.push(`${'  '.repeat(this.depth)}<${name}${attrs}>`);
    this.depth++;
  }

  close(name: string): void {
    this.depth--;
    this.lines.push(`${'  '.repeat(this.depth)}</${name}>`);
  }
}

function need<T>(value: T | undefined, what: string, kind: string): T {
  if (value === undefined || value === '') throw new TypeError(`${what} is required to build ${kind}`);
  return value;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function riferimentoFattura(w: Writer, r: RiferimentoFattura | undefined): void {
  if (!r) return;
  w.open('RiferimentoFattura');
  w.leaf('NumeroFattura', need(r.numeroFattura, 'RiferimentoFattura/NumeroFattura', 'RiferimentoFattura'));
  w.leaf('AnnoFattura', need(r.annoFattura, 'RiferimentoFattura/AnnoFattura', 'RiferimentoFattura'));
  w.leaf('PosizioneFattura', r.posizioneFattura);
  w.close('RiferimentoFattura');
}

function riferimentoArchivio(w: Writer, r: RiferimentoArchivio | undefined): void {
  if (!r) return;
  w.open('RiferimentoArchivio');
  w.leaf('IdentificativoSdI', r.identificativoSdI);
  w.leaf('NomeFile', r.nomeFile);
  w.close('RiferimentoArchivio');
}

/** The children of an EsitoCommittente (EC file, or embedded in an NE). */
function esitoBody(w: Writer, e: EsitoCommittenteInput): void {
  w.leaf('IdentificativoSdI', e.identificativoSdI);
  riferimentoFattura(w, e.riferimentoFattura);
  w.leaf('Esito', e.esito);
  w.leaf('Descrizione', e.descrizione);
  w.leaf('MessageIdCommittente', e.messageIdCommittente);
}

function document(family: MessageFamily, root: string, attrs: Record<string, string>, w: Writer): Buffer {
  const a = Object.entries({ versione: '1.0', ...attrs })
    .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
    .join('');
  const text = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<${PREFIX}:${root} xmlns:${PREFIX}="${MESSAGE_NAMESPACES[family]}"${a}>`,
    ...w.lines,
    `</${PREFIX}:${root}>`,
    '',
  ].join('\n');
  return Buffer.from(text, 'utf8');
}

function checkEsito(esito: string | undefined, kind: string): 'EC01' | 'EC02' {
  if (esito !== 'EC01' && esito !== 'EC02')
    throw new TypeError(`Esito must be EC01 or EC02 to build ${kind}, not ${String(esito)}`);
  return esito;
}

/**
 * The EC file a PA recipient sends to SdI (root NotificaEsitoCommittente, PA flow only). Its
 * ds:Signature is optional in the schema: the output is unsigned and schema-valid.
 */
export function buildEsitoCommittente(input: EsitoCommittenteInput): Buffer {
  checkEsito(input.esito, 'EC');
  const w = new Writer();
  esitoBody(w, { ...input, identificativoSdI: need(input.identificativoSdI, 'IdentificativoSdI', 'EC') });
  return document('pa', 'NotificaEsitoCommittente', {}, w);
}

/**
 * The XML of one SdI message of `input.kind` in `input.family` (default 'pa'), unsigned (see
 * the note at the top of this file). Throws TypeError when a field the schema requires is
 * missing, or the kind does not exist in the family (AT, NE, DT, EC, SE are PA only); RangeError
 * on a character XML cannot carry.
 */
export function buildNotification(input: BuildInput): Buffer {
  const family = input.family ?? 'pa';
  const { kind } = input;
  const root = MESSAGE_ROOTS[family][kind];
  if (root === undefined)
    throw new TypeError(
      `The ${family.toUpperCase()} flow has no ${kind} message (B2B has only RC, NS, MC, MT)`,
    );
  const id = need(input.identificativoSdI, 'IdentificativoSdI', kind);
  if (family === 'pa' && !/^[0-9]{1,12}$/.test(id))
    throw new TypeError(`IdentificativoSdI of the PA flow is an integer of at most 12 digits, not "${id}"`);
  if (kind === 'EC')
    return buildEsitoCommittente({
      identificativoSdI: id,
      esito: checkEsito(input.esito, kind),
      ...(input.riferimentoFattura ? { riferimentoFattura: input.riferimentoFattura } : {}),
      ...(input.descrizione !== undefined ? { descrizione: input.descrizione } : {}),
      ...(input.messageIdCommittente !== undefined
        ? { messageIdCommittente: input.messageIdCommittente }
        : {}),
    });

  const now = input.now ?? new Date();
  const b2b = family === 'b2b';
  const nomeFile = (): string => need(input.nomeFile, 'NomeFile', kind);
  const ricezione = (): string => input.dataOraRicezione ?? sdiDateTime(now);
  const messageId = input.messageId ?? String(randomInt(100_000_000, 1_000_000_000_000));
  if (messageId.length < 1 || messageId.length > (b2b ? 36 : 14))
    throw new TypeError(`MessageId must be 1 to ${b2b ? 36 : 14} characters, not "${messageId}"`);
  const hashOr = (given: string | undefined, name: string): string => {
    if (given !== undefined && given !== '') return given;
    if (input.invoiceBytes) return sha256(input.invoiceBytes);
    throw new TypeError(`${name} (or invoiceBytes) is required to build ${family.toUpperCase()} ${kind}`);
  };
  const hash = (): string => hashOr(input.hash, 'Hash');
  const destinatario = (w: Writer): void => {
    const codice = need(input.destinatario?.codice ?? input.codiceDestinatario, 'Destinatario/Codice', kind);
    w.open('Destinatario');
    w.leaf('Codice', codice);
    w.leaf('Descrizione', input.destinatario?.descrizione ?? (b2b ? undefined : ''));
    w.close('Destinatario');
  };
  const tail = (w: Writer, pec = true): void => {
    w.leaf('MessageId', messageId);
    if (pec) w.leaf('PecMessageId', input.pecMessageId);
    w.leaf('Note', input.note);
  };
  const attrs: Record<string, string> = {};
  if (input.intermediarioConDupliceRuolo && !b2b && (kind === 'RC' || kind === 'NE' || kind === 'DT'))
    attrs.IntermediarioConDupliceRuolo = 'Si';
  if (input.flussoSemplificato && b2b && kind === 'RC') attrs.FlussoSemplificato = 'Si';

  const w = new Writer();
  w.leaf('IdentificativoSdI', id);
  switch (kind) {
    case 'RC':
      w.leaf('NomeFile', nomeFile());
      if (b2b) w.leaf('Hash', hash());
      w.leaf('DataOraRicezione', ricezione());
      w.leaf('DataOraConsegna', input.dataOraConsegna ?? sdiDateTime(now));
      destinatario(w);
      riferimentoArchivio(w, input.riferimentoArchivio);
      tail(w);
      break;
    case 'NS': {
      const errors = input.errors ?? [];
      if (errors.length < 1 || errors.length > 200)
        throw new TypeError(`NS needs 1 to 200 errors, not ${errors.length}`);
      w.leaf('NomeFile', nomeFile());
      if (b2b) w.leaf('Hash', hash());
      w.leaf('DataOraRicezione', ricezione());
      riferimentoArchivio(w, input.riferimentoArchivio);
      w.open('ListaErrori');
      for (const e of errors) {
        w.open('Errore');
        w.leaf('Codice', need(e.codice, 'Errore/Codice', kind));
        w.leaf('Descrizione', e.descrizione);
        if (b2b) w.leaf('Suggerimento', e.suggerimento ?? '');
        w.close('Errore');
      }
      w.close('ListaErrori');
      tail(w);
      break;
    }
    case 'MC':
      w.leaf('NomeFile', nomeFile());
      if (b2b) w.leaf('Hash', hash());
      w.leaf('DataOraRicezione', ricezione());
      if (b2b)
        w.leaf('DataMessaADisposizione', input.dataMessaADisposizione ?? sdiDateTime(now).slice(0, 10));
      riferimentoArchivio(w, input.riferimentoArchivio);
      w.leaf('Descrizione', input.descrizione);
      tail(w);
      break;
    case 'AT':
      w.leaf('NomeFile', nomeFile());
      w.leaf('DataOraRicezione', ricezione());
      riferimentoArchivio(w, input.riferimentoArchivio);
      destinatario(w);
      tail(w);
      w.leaf('HashFileOriginale', hashOr(input.hashFileOriginale, 'HashFileOriginale'));
      break;
    case 'NE':
      w.leaf('NomeFile', nomeFile());
      w.open('EsitoCommittente', ' versione="1.0"');
      esitoBody(w, {
        identificativoSdI: id,
        esito: checkEsito(input.esito, kind),
        ...(input.riferimentoFattura ? { riferimentoFattura: input.riferimentoFattura } : {}),
        ...(input.descrizione !== undefined ? { descrizione: input.descrizione } : {}),
        ...(input.messageIdCommittente !== undefined
          ? { messageIdCommittente: input.messageIdCommittente }
          : {}),
      });
      w.close('EsitoCommittente');
      tail(w);
      break;
    case 'DT':
      riferimentoFattura(w, input.riferimentoFattura);
      w.leaf('NomeFile', nomeFile());
      w.leaf('Descrizione', input.descrizione);
      tail(w);
      break;
    case 'MT':
      w.leaf('NomeFile', nomeFile());
      if (b2b) w.leaf('Hash', hash());
      w.leaf(
        'CodiceDestinatario',
        need(input.codiceDestinatario ?? input.destinatario?.codice, 'CodiceDestinatario', kind),
      );
      w.leaf('Formato', input.formato ?? (b2b ? 'FPR12' : 'FPA12'));
      w.leaf('TentativiInvio', input.tentativiInvio ?? '1');
      tail(w, false);
      break;
    case 'SE':
      riferimentoFattura(w, input.riferimentoFattura);
      if (input.scarto !== 'EN00' && input.scarto !== 'EN01')
        throw new TypeError(`Scarto must be EN00 or EN01 to build SE, not ${String(input.scarto)}`);
      w.leaf('Scarto', input.scarto);
      w.leaf('MessageId', messageId);
      w.leaf('MessageIdCommittente', input.messageIdCommittente);
      w.leaf('PecMessageId', input.pecMessageId);
      w.leaf('Note', input.note);
      break;
  }
  return document(family, root, attrs, w);
}
