import {
  simpleParser,
  type AddressObject,
  type Headers,
  type HeaderValue,
  type ParsedMail,
} from 'mailparser';
import { all, at, parseXml, textAt, type XmlElement } from '../../invoice/xml.js';
import { verifyCms } from './smime.js';
import {
  DEFAULT_PEC_LIMITS,
  type Daticert,
  type EnvelopeSignature,
  type PecAttachment,
  type PecLimits,
  type PecMessage,
  type PecReceiptType,
} from './types.js';

/**
 * Opens the transport envelope of one PEC mailbox message (DPR 68/2005, DM 2 novembre 2005) and
 * says what it is: a receipt of the PEC layer, a certified message from SdI with its files, or
 * something to leave alone. Pure: no I/O besides the signature check.
 *
 * Every layer (the message, each message/rfc822 part, the content of an opaque S/MIME wrapper) is
 * parsed with mailparser, embedded messages kept whole (`ignoreEmbedded`) and parsed again here one
 * level down, so that depth, attachment count and attachment size are checked on every layer. The
 * detached signature of multipart/signed is checked over the first part's bytes as they stand in
 * the raw message, found with a boundary scan: mailparser does not keep them.
 *
 * Never throws: whatever goes wrong is `{kind: 'malformed'}`.
 */

/** Nothing a mailbox holds should take this long; a parse still running then is given up. */
const PARSE_DEADLINE_MS = 60_000;
/** The header block of one MIME part (mailparser's default is 1 MB). */
const MAX_HEAD_BYTES = 256 * 1024;
/** daticert.xml is a few hundred bytes; anything bigger is not read. */
const MAX_DATICERT_BYTES = 256 * 1024;
const SDI_DOMAIN = 'pec.fatturapa.it';

const RECEIPT_TYPES: ReadonlySet<string> = new Set<PecReceiptType>([
  'accettazione',
  'non-accettazione',
  'presa-in-carico',
  'avvenuta-consegna',
  'errore-consegna',
  'preavviso-errore-consegna',
  'rilevazione-virus',
]);

const FAILURE_TYPES: ReadonlySet<string> = new Set<PecReceiptType>([
  'non-accettazione',
  'errore-consegna',
  'preavviso-errore-consegna',
  'rilevazione-virus',
]);

/** A bound of PecLimits, or a structure that cannot be read: the message is malformed. */
class Unreadable extends Error {}

/** One attachment of a layer; `message` is the parsed layer below when it is an embedded message. */
interface Part {
  fileName: string | undefined;
  /** As declared in the part's Content-Type, lower case (mailparser guesses from the file name). */
  contentType: string;
  bytes: Buffer;
  message?: Layer;
}

/** One parsed MIME message (or MIME entity, inside an opaque S/MIME wrapper). */
interface Layer {
  raw: Buffer;
  headers: Headers;
  contentType: string;
  params: Record<string, string>;
  from: AddressObject | undefined;
  replyTo: AddressObject | undefined;
  subject: string | undefined;
  parts: Part[];
  /** application/pkcs7-mime: the entity the CMS carries, parsed, and the CMS's signature. */
  opaque?: { inner: Layer; signature: EnvelopeSignature };
}

interface Context {
  limits: PecLimits;
  from?: string;
  subject?: string;
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : 'unknown error';
}

/** What a message of the PEC mailbox is. Never throws, never waits past a deadline. */
export async function parsePecMessage(
  raw: Buffer,
  limits: PecLimits = DEFAULT_PEC_LIMITS,
): Promise<PecMessage> {
  const ctx: Context = { limits };
  const malformed = (reason: string): PecMessage => ({
    kind: 'malformed',
    reason,
    ...(ctx.from !== undefined ? { from: ctx.from } : {}),
    ...(ctx.subject !== undefined ? { subject: ctx.subject } : {}),
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    if (!Buffer.isBuffer(raw) || raw.length === 0) return malformed('empty message');
    if (raw.length > limits.maxMessageBytes) {
      return malformed(`message of ${raw.length} bytes is over maxMessageBytes (${limits.maxMessageBytes})`);
    }
    if (!startsWithHeader(raw)) return malformed('not a mail message: it does not start with a header field');
    const deadline = new Promise<PecMessage>((resolve) => {
      timer = setTimeout(
        () => resolve(malformed(`not read within ${PARSE_DEADLINE_MS / 1000} s`)),
        PARSE_DEADLINE_MS,
      );
      timer.unref();
    });
    return await Promise.race([classify(raw, ctx), deadline]);
  } catch (err) {
    return malformed(err instanceof Unreadable ? err.message : `cannot be read: ${errorText(err)}`);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** RFC 5322: a message opens with a header field (`Name:`), whatever else it holds. */
function startsWithHeader(raw: Buffer): boolean {
  const head = raw.subarray(0, 1000).toString('latin1');
  return /^[\x21-\x39\x3b-\x7e]+[ \t]*:/.test(head);
}

// ---------------------------------------------------------------------------------------------
// Layers

function parserOptions(limits: PecLimits): Parameters<typeof simpleParser>[1] {
  return {
    // Embedded messages stay whole attachments: each is parsed again below, one level deeper.
    ignoreEmbedded: true,
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipTextLinks: true,
    skipImageLinks: true,
    keepCidLinks: true,
    checksumAlgo: false,
    maxHeadSize: MAX_HEAD_BYTES,
    // Every attachment is a node, and so are text parts and multipart containers.
    maxChildNodes: limits.maxAttachments * 2 + 16,
  };
}

function structured(h: Headers, name: string): { value: string; params: Record<string, string> } | undefined {
  let v: HeaderValue | undefined = h.get(name);
  if (Array.isArray(v)) v = v[0];
  if (typeof v === 'string') return { value: v.toLowerCase().trim(), params: {} };
  if (v && typeof v === 'object' && 'value' in v && typeof v.value === 'string' && 'params' in v) {
    const params: Record<string, string> = {};
    for (const [k, p] of Object.entries(v.params as Record<string, unknown>)) {
      if (typeof p === 'string') params[k.toLowerCase()] = p;
    }
    return { value: v.value.toLowerCase().trim(), params };
  }
  return undefined;
}

/** A header's text (first occurrence), trimmed; undefined when absent or not text. */
function headerText(h: Headers, name: string): string | undefined {
  let v: HeaderValue | undefined = h.get(name);
  if (Array.isArray(v)) v = v[0];
  if (typeof v === 'string') return v.trim();
  if (v && typeof v === 'object' && 'value' in v && typeof v.value === 'string') return v.value.trim();
  return undefined;
}

function isMessagePart(p: Part): boolean {
  return p.contentType === 'message/rfc822' || (p.fileName?.toLowerCase().endsWith('.eml') ?? false);
}

function isOpaqueSmime(contentType: string): boolean {
  return contentType === 'application/pkcs7-mime' || contentType === 'application/x-pkcs7-mime';
}

async function readLayer(raw: Buffer, depth: number, ctx: Context): Promise<Layer> {
  const { limits } = ctx;
  if (depth > limits.maxDepth) {
    throw new Unreadable(`nested more than maxDepth (${limits.maxDepth}) levels of message/rfc822 or S/MIME`);
  }
  let mail: ParsedMail;
  try {
    mail = await simpleParser(raw, parserOptions(limits));
  } catch (err) {
    const m = errorText(err);
    if (/child nodes/i.test(m)) {
      throw new Unreadable(
        `more MIME parts than maxAttachments (${limits.maxAttachments}) allows (${limits.maxAttachments * 2 + 16} parts at most)`,
      );
    }
    if (/header size/i.test(m)) throw new Unreadable(`a header block is over ${MAX_HEAD_BYTES / 1024} KiB`);
    throw new Unreadable(`MIME structure cannot be read: ${m}`);
  }
  if (depth === 0) {
    const from = mail.from?.value[0]?.address ?? mail.from?.text;
    if (from) ctx.from = from;
    if (mail.subject !== undefined) ctx.subject = mail.subject;
  }
  if (mail.attachments.length > limits.maxAttachments) {
    throw new Unreadable(
      `${mail.attachments.length} attachments in one message, over maxAttachments (${limits.maxAttachments})`,
    );
  }
  const parts: Part[] = [];
  for (const a of mail.attachments) {
    if (a.content.length > limits.maxAttachmentBytes) {
      throw new Unreadable(
        `attachment ${a.filename ?? '(unnamed)'} of ${a.content.length} bytes is over maxAttachmentBytes (${limits.maxAttachmentBytes})`,
      );
    }
    parts.push({
      fileName: a.filename,
      contentType: structured(a.headers, 'content-type')?.value ?? a.contentType.toLowerCase(),
      bytes: a.content,
    });
  }
  const ct = structured(mail.headers, 'content-type');
  const layer: Layer = {
    raw,
    headers: mail.headers,
    contentType: ct?.value ?? 'text/plain',
    params: ct?.params ?? {},
    from: mail.from,
    replyTo: mail.replyTo,
    subject: mail.subject,
    parts,
  };
  // Only the provider's own wrapper is opened: S/MIME deeper down (a signed message inside
  // postacert.eml) is content, and its parts stay as they are.
  if (depth === 0 && isOpaqueSmime(layer.contentType)) {
    const cms = parts[0];
    if (!cms || parts.length !== 1) throw new Unreadable('application/pkcs7-mime without its CMS content');
    const check = await verifyCms(cms.bytes);
    if (!check.content) {
      throw new Unreadable(
        `application/pkcs7-mime that is not readable signed data (${check.signature.status === 'invalid' ? check.signature.reason : 'no content'})`,
      );
    }
    layer.opaque = { inner: await readLayer(check.content, depth + 1, ctx), signature: check.signature };
    return layer;
  }
  // One embedded message at a time: memory stays within a few copies of the raw message.
  for (const p of parts) if (isMessagePart(p)) p.message = await readLayer(p.bytes, depth + 1, ctx);
  return layer;
}

// ---------------------------------------------------------------------------------------------
// multipart/signed

/** Where the header block of `raw` ends (the body starts), or -1. */
function bodyStart(raw: Buffer): number {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf < 0 && lf < 0) return -1;
  if (lf < 0 || (crlf >= 0 && crlf < lf)) return crlf + 4;
  return lf + 2;
}

interface Delimiter {
  /** Offset of the `--` that opens the delimiter line. */
  start: number;
  /** Offset just past the delimiter line's line break. */
  next: number;
  close: boolean;
}

/**
 * The next delimiter line of `boundary` at or after `from` (RFC 2046 5.1.1: at the start of a
 * line, `--boundary`, optionally `--`, then optional transport padding and the line break).
 * Linear in the bytes scanned.
 */
function nextDelimiter(raw: Buffer, delim: Buffer, from: number, lineStart: number): Delimiter | null {
  let i = raw.indexOf(delim, from);
  while (i >= 0) {
    if (i === lineStart || raw[i - 1] === 0x0a) {
      let j = i + delim.length;
      const close = raw[j] === 0x2d && raw[j + 1] === 0x2d;
      if (close) j += 2;
      while (raw[j] === 0x20 || raw[j] === 0x09) j++;
      if (j >= raw.length) return { start: i, next: j, close };
      if (raw[j] === 0x0a) return { start: i, next: j + 1, close };
      if (raw[j] === 0x0d && raw[j + 1] === 0x0a) return { start: i, next: j + 2, close };
    }
    i = raw.indexOf(delim, i + 1);
  }
  return null;
}

/** The bytes of the first part of the multipart entity `raw`, as they stand between its boundaries. */
export function firstPartBytes(raw: Buffer, boundary: string): Buffer | null {
  const start = bodyStart(raw);
  if (start < 0 || !boundary) return null;
  const delim = Buffer.from(`--${boundary}`, 'latin1');
  const first = nextDelimiter(raw, delim, start, start);
  if (!first || first.close) return null;
  const second = nextDelimiter(raw, delim, first.next, -1);
  if (!second) return null;
  // The line break before a delimiter belongs to the delimiter.
  let end = second.start;
  if (raw[end - 1] === 0x0a) end--;
  if (raw[end - 1] === 0x0d) end--;
  return end >= first.next ? raw.subarray(first.next, end) : null;
}

/** Every line break as CRLF: the canonical form S/MIME signs (RFC 8551 3.1.1). */
function canonical(bytes: Buffer): Buffer {
  let bare = false;
  for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) {
    if (bytes[i - 1] !== 0x0d) {
      bare = true;
      break;
    }
  }
  if (!bare) return bytes;
  return Buffer.from(bytes.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

async function detachedSignature(layer: Layer): Promise<EnvelopeSignature> {
  if (layer.contentType !== 'multipart/signed') return { status: 'unsigned' };
  const p7s = layer.parts.find(
    (p) =>
      p.contentType === 'application/pkcs7-signature' ||
      p.contentType === 'application/x-pkcs7-signature' ||
      p.fileName?.toLowerCase() === 'smime.p7s',
  );
  if (!p7s) return { status: 'invalid', reason: 'multipart/signed without a signature part' };
  const signed = firstPartBytes(layer.raw, layer.params.boundary ?? '');
  if (!signed) return { status: 'invalid', reason: 'the signed part cannot be found between the boundaries' };
  const check = await verifyCms(p7s.bytes, signed);
  if (check.signature.status === 'valid') return check.signature;
  // A message stored with bare LF line endings: the provider signed its CRLF form.
  const canon = canonical(signed);
  if (canon !== signed) {
    const again = await verifyCms(p7s.bytes, canon);
    if (again.signature.status === 'valid') return again.signature;
  }
  return check.signature;
}

// ---------------------------------------------------------------------------------------------
// daticert.xml

const DOCTYPE =
  /<!DOCTYPE\s+[^\s[>]+(?:\s+(?:SYSTEM\s+(?:"[^"]*"|'[^']*')|PUBLIC\s+(?:"[^"]*"|'[^']*')\s+(?:"[^"]*"|'[^']*')))?\s*>/i;
const PROLOG = /^(?:\xef\xbb\xbf)?\s*(?:(?:<\?[^]*?\?>|<!--[^]*?-->)\s*)*$/;

/**
 * Providers write `<!DOCTYPE postacert SYSTEM "Postacert.dtd">` (or PUBLIC): an external DTD
 * nobody fetches. That declaration, and only it, is cut out so that the XML reader, which refuses
 * every DOCTYPE, can read the rest; one with an internal subset (`[...]`, where entities would
 * be) is left in and the file is refused.
 */
function withoutExternalDoctype(bytes: Buffer): Buffer {
  const head = bytes.subarray(0, 4096).toString('latin1');
  const m = DOCTYPE.exec(head);
  if (!m || !PROLOG.test(head.slice(0, m.index))) return bytes;
  return Buffer.concat([bytes.subarray(0, m.index), bytes.subarray(m.index + m[0].length)]);
}

function opt(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** dati/data (zona "+0100", giorno "15/03/2019", ora "10:20:30") as an ISO 8601 instant. */
function daticertInstant(data: XmlElement | undefined): string | undefined {
  if (!data) return undefined;
  const g = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(textAt(data, 'giorno') ?? '');
  const o = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(textAt(data, 'ora') ?? '');
  if (!g || !o) return undefined;
  const z = /^([+-])(\d{2}):?(\d{2})$/.exec((data.attrs.zona ?? '').trim());
  const zone = z ? `${z[1]}${z[2]}:${z[3]}` : 'Z';
  const pad = (s: string | undefined): string => (s ?? '0').padStart(2, '0');
  const iso = `${g[3]}-${pad(g[2])}-${pad(g[1])}T${pad(o[1])}:${o[2]}:${pad(o[3])}${zone}`;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/** daticert.xml read with the safe XML reader; null when it is not a readable postacert. */
export function parseDaticert(bytes: Buffer): Daticert | null {
  if (bytes.length > MAX_DATICERT_BYTES) return null;
  const r = parseXml(withoutExternalDoctype(bytes), { maxDepth: 16 });
  if (!r.ok || r.root.name !== 'postacert') return null;
  const root = r.root;
  const d: Daticert = {
    tipo: (root.attrs.tipo ?? '').trim(),
    errore: (root.attrs.errore ?? '').trim(),
    destinatari: all(root, 'intestazione/destinatari')
      .map((e) => e.text.trim())
      .filter((s) => s !== ''),
  };
  const fields: [keyof Daticert, string | undefined][] = [
    ['erroreEsteso', opt(textAt(root, 'dati/errore-esteso'))],
    ['mittente', opt(textAt(root, 'intestazione/mittente'))],
    ['risposte', opt(textAt(root, 'intestazione/risposte'))],
    ['oggetto', opt(textAt(root, 'intestazione/oggetto'))],
    ['gestoreEmittente', opt(textAt(root, 'dati/gestore-emittente'))],
    ['data', daticertInstant(at(root, 'dati/data'))],
    ['identificativo', opt(textAt(root, 'dati/identificativo'))],
    ['msgid', opt(textAt(root, 'dati/msgid'))],
    ['ricevuta', opt(at(root, 'dati/ricevuta')?.attrs.tipo?.trim())],
    ['consegna', opt(textAt(root, 'dati/consegna'))],
  ];
  for (const [k, v] of fields) if (v !== undefined) (d as unknown as Record<string, string>)[k] = v;
  return d;
}

// ---------------------------------------------------------------------------------------------
// Classification

const stripAngles = (id: string | undefined): string | null => {
  const v = (id ?? '').trim().replace(/^<+/, '').replace(/>+$/, '').trim();
  return v === '' ? null : v;
};

function normalizeAddress(a: string | undefined): string | undefined {
  const v = (a ?? '').trim().replace(/^<+/, '').replace(/>+$/, '').trim().toLowerCase();
  return v === '' ? undefined : v;
}

/** "Per conto di: sdi03@pec.fatturapa.it" in the display name of From. */
function perContoDi(from: AddressObject | undefined): string | undefined {
  for (const a of from?.value ?? []) {
    const m = /per\s+conto\s+di\s*:\s*<?([^\s<>"]+@[^\s<>"]+?)>?\s*$/i.exec(a.name);
    if (m) return normalizeAddress(m[1]);
  }
  return undefined;
}

function isSdiAddress(a: string): boolean {
  const at = a.lastIndexOf('@');
  return at > 0 && a.slice(at + 1) === SDI_DOMAIN && !/\s/.test(a);
}

/** IdentificativoSdI: the number ending the subject, before any "(SIMULAZIONE)"-like remark. */
export function identificativoFromSubject(subject: string): string | null {
  const m = /(?:^|\s)(\d+)(?:\s*\([^()]*\))*\s*$/.exec(subject);
  return m?.[1] ?? null;
}

async function classify(raw: Buffer, ctx: Context): Promise<PecMessage> {
  const top = await readLayer(raw, 0, ctx);
  const env = top.opaque ? top.opaque.inner : top;
  const layers = top.opaque ? [top, env] : [top];
  const header = (name: string): string | undefined => {
    for (const l of layers) {
      const v = headerText(l.headers, name);
      if (v !== undefined) return v;
    }
    return undefined;
  };
  const from = ctx.from;
  const subject = top.subject ?? env.subject ?? '';
  const unrelated = (reason: string): PecMessage => ({
    kind: 'unrelated',
    reason,
    ...(from !== undefined ? { from } : {}),
    subject,
  });

  const trasporto = header('x-trasporto')?.toLowerCase();
  const ricevuta = header('x-ricevuta')?.toLowerCase();
  // A PEC provider marks everything it delivers; a message with neither header did not come
  // through PEC, whatever it carries (a daticert.xml, a From naming SdI).
  if (!trasporto && !ricevuta) return unrelated('not a PEC message: no X-Trasporto or X-Ricevuta header');

  const daticertPart = env.parts.find((p) => p.fileName?.toLowerCase() === 'daticert.xml');
  const daticert = daticertPart ? parseDaticert(daticertPart.bytes) : null;
  const signature = top.opaque ? top.opaque.signature : await detachedSignature(top);

  // daticert.xml sits inside the signed part and is what providers differ least on: it wins.
  const tipo = daticert?.tipo ? daticert.tipo.toLowerCase() : (ricevuta ?? trasporto ?? '');

  if (RECEIPT_TYPES.has(tipo)) {
    const receipt = tipo as PecReceiptType;
    let reason: string | null = null;
    if (FAILURE_TYPES.has(receipt)) {
      const errore =
        daticert?.errore && daticert.errore.toLowerCase() !== 'nessuno' ? daticert.errore : undefined;
      reason = [errore, daticert?.erroreEsteso].filter((s) => s !== undefined).join(': ') || 'unspecified';
    }
    return {
      kind: 'receipt',
      receipt,
      ref: stripAngles(daticert?.msgid) ?? stripAngles(header('x-riferimento-message-id')),
      subject,
      daticert,
      reason,
      signature,
    };
  }

  if (tipo === 'errore') return unrelated('busta di anomalia (X-Trasporto: errore): not certified mail');
  if (tipo !== 'posta-certificata') return unrelated(`PEC message of unknown type "${tipo}"`);

  const sender =
    normalizeAddress(daticert?.mittente) ??
    perContoDi(top.from) ??
    normalizeAddress(top.replyTo?.value[0]?.address);
  if (!sender) return unrelated('certified message without a certified sender');
  if (!isSdiAddress(sender)) return unrelated(`certified message from ${sender}, not from SdI`);

  const postacert =
    env.parts.find((p) => p.fileName?.toLowerCase() === 'postacert.eml') ??
    env.parts.find((p) => p.contentType === 'message/rfc822');
  const inner = postacert?.message;
  if (!inner)
    return {
      kind: 'malformed',
      reason: 'certified message from SdI without postacert.eml',
      from: sender,
      subject,
    };

  const innerSubject = inner.subject ?? '';
  const attachments: PecAttachment[] = inner.parts.map((p, i) => ({
    fileName: p.fileName ?? `attachment-${i + 1}`,
    contentType: p.contentType,
    bytes: p.bytes,
  }));
  return {
    kind: 'sdi',
    sender,
    subject: innerSubject,
    identificativoSdI: identificativoFromSubject(innerSubject),
    attachments,
    daticert,
    signature,
  };
}
