import crypto from 'node:crypto';
import { buildHeaderValue, encodeWords } from 'nodemailer/lib/mime-funcs';
import { signCms, type SmimeSigner } from './smime.js';
import type { PecReceiptType } from './types.js';

/**
 * PEC messages as a provider writes them (DPR 68/2005, DM 2 novembre 2005, and what Sogei and
 * Aruba actually send): SdI's own message (postacert.eml), the transport envelope around it, the
 * provider's receipts and their daticert.xml. Byte-exact RFC 5322 with CRLF line endings,
 * S/MIME-signed with pkijs. Used by the SdI simulator and by tests; parsePecMessage (envelope.ts)
 * reads all of it back.
 */

/** A PEC provider (gestore) as the simulator plays it. */
export interface PecProvider {
  /** The provider's mail domain: envelopes come from posta-certificata@<domain>. */
  domain: string;
  /** The certificate and key the provider signs envelopes and receipts with (EC or RSA, PEM). */
  signer: SmimeSigner;
  /** dati/gestore-emittente in daticert.xml; defaults to "Gestore PEC <domain>". */
  name?: string;
  /**
   * 'detached' (default, what providers send): multipart/signed with smime.p7s. 'opaque':
   * application/pkcs7-mime (smime.p7m) with the MIME entity inside the CMS.
   */
  smime?: 'detached' | 'opaque';
}

export interface SdiAttachmentInput {
  fileName: string;
  bytes: Buffer;
  /** Defaults to application/octet-stream, as SdI sends its files. */
  contentType?: string;
  /** Defaults to base64. SdI also sends notification XML quoted-printable. */
  transferEncoding?: 'base64' | 'quoted-printable';
}

export interface SdiMessageInput {
  /** The SdI mailbox, e.g. sdi03@pec.fatturapa.it. */
  from: string;
  to: string | string[];
  /** e.g. "Ricevuta di consegna 6782414", "Invio File 7339338". */
  subject: string;
  /** The text/plain explanation; none when omitted. */
  text?: string;
  attachments: SdiAttachmentInput[];
  /** With or without angle brackets; generated on the sender's domain when omitted. */
  messageId?: string;
  date?: Date;
}

export interface CertifiedEnvelopeInput {
  /** The certified message (postacert.eml), e.g. from buildSdiMessage. */
  inner: Buffer;
  /** The certified sender (intestazione/mittente), e.g. sdi03@pec.fatturapa.it. */
  mittente: string;
  destinatari: string[];
  /** The original subject: the envelope's is "POSTA CERTIFICATA: <subject>". */
  subject: string;
  provider: PecProvider;
  /** The envelope's Message-ID; defaults to <identificativo>. */
  messageId?: string;
  date?: Date;
  /** dati/identificativo; generated like opec... @<domain> when omitted. */
  identificativo?: string;
  /** X-TipoRicevuta and dati/ricevuta/@tipo: SdI asks for 'breve', the default here. */
  tipoRicevuta?: 'completa' | 'breve' | 'sintetica';
}

export interface ReceiptInput {
  tipo: PecReceiptType;
  /** Message-ID of the original message (with or without angle brackets). */
  ref: string;
  /** The original sender: the receipt is addressed to them. */
  mittente: string;
  destinatari: string[];
  /** The original subject. */
  subject: string;
  /** postacert/@errore: defaults to nessuno, or altro / no-dest / virus for the failure types. */
  errore?: string;
  erroreEsteso?: string;
  /** dati/consegna: the recipient the receipt is about (delivery types); defaults to destinatari[0]. */
  consegna?: string;
  /** The delivered message, attached as postacert.eml (a "completa" avvenuta-consegna). */
  original?: Buffer;
  provider: PecProvider;
  date?: Date;
  /** dati/identificativo of the original certified message; generated when omitted. */
  identificativo?: string;
  messageId?: string;
}

export interface DaticertInput {
  tipo: string;
  errore?: string;
  mittente: string;
  destinatari: string[];
  risposte?: string;
  oggetto?: string;
  gestoreEmittente: string;
  date: Date;
  identificativo: string;
  /** The original Message-ID, angle brackets added when missing. */
  msgid?: string;
  ricevuta?: string;
  consegna?: string;
  erroreEsteso?: string;
  /** Write `<!DOCTYPE postacert SYSTEM "Postacert.dtd">` as most providers do (default true). */
  doctype?: boolean;
}

const CRLF = '\r\n';

type HeaderList = [string, string][];

/** One MIME entity: its header fields and its already encoded body, or bytes taken as they are. */
type Entity = { headers: HeaderList; body: Buffer } | { raw: Buffer };

/** `Name: value`, folded at spaces so that lines stay within 78 characters where possible. */
function headerLine(name: string, value: string): string {
  // No line break may come in with a value: it would start a header of its own.
  const words = value.replace(/[\r\n]+/g, ' ').split(' ');
  let out = `${name}:`;
  let lineLen = out.length;
  for (const w of words) {
    if (w !== '' && lineLen + 1 + w.length > 78 && lineLen > name.length + 1) {
      out += `${CRLF} ${w}`;
      lineLen = 1 + w.length;
    } else {
      out += ` ${w}`;
      lineLen += 1 + w.length;
    }
  }
  return out + CRLF;
}

function renderEntity(e: Entity): Buffer {
  if ('raw' in e) return e.raw;
  const head = e.headers.map(([k, v]) => headerLine(k, v)).join('');
  return Buffer.concat([Buffer.from(head + CRLF, 'latin1'), e.body]);
}

function boundary(): string {
  return `----=_Part_${crypto.randomBytes(12).toString('hex')}`;
}

/** A multipart entity; the boundary is checked against the parts so it cannot occur inside. */
function multipart(
  subtype: string,
  parts: Entity[],
  preamble = '',
  params: Record<string, string> = {},
): { headers: HeaderList; body: Buffer } {
  const rendered = parts.map(renderEntity);
  let b = boundary();
  while (rendered.some((r) => r.includes(b))) b = boundary();
  const chunks: Buffer[] = [];
  if (preamble) chunks.push(Buffer.from(preamble + CRLF + CRLF, 'latin1'));
  for (const r of rendered)
    chunks.push(Buffer.from(`--${b}${CRLF}`, 'latin1'), r, Buffer.from(CRLF, 'latin1'));
  chunks.push(Buffer.from(`--${b}--${CRLF}`, 'latin1'));
  return {
    headers: [
      [
        'Content-Type',
        buildHeaderValue({ value: `multipart/${subtype}`, params: { ...params, boundary: b } }),
      ],
    ],
    body: Buffer.concat(chunks),
  };
}

function base64Lines(bytes: Buffer): Buffer {
  const b64 = bytes.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return Buffer.from(lines.length ? lines.join(CRLF) + CRLF : '', 'latin1');
}

/**
 * Quoted-printable (RFC 2045 6.7) that decodes to exactly `bytes`: only CRLF pairs become line
 * breaks, a lone CR or LF is encoded, white space before a break is encoded, lines stay within 76.
 */
export function quotedPrintable(bytes: Buffer): Buffer {
  const hex = (b: number): string => '=' + b.toString(16).toUpperCase().padStart(2, '0');
  const out: string[] = [];
  let line = '';
  const push = (tok: string): void => {
    if (line.length + tok.length > 75) {
      out.push(line + '=');
      line = '';
    }
    line += tok;
  };
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === 0x0d && bytes[i + 1] === 0x0a) {
      out.push(line);
      line = '';
      i++;
      continue;
    }
    const nextIsBreak = i + 1 >= bytes.length || (bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a);
    const printable = (b >= 33 && b <= 126 && b !== 61) || ((b === 0x20 || b === 0x09) && !nextIsBreak);
    // A leading '.' or 'From ' is harmless in MIME but encoded anyway, as mail software does.
    if (printable && !(line.length === 0 && b === 0x2e)) push(String.fromCharCode(b));
    else push(hex(b));
  }
  out.push(line);
  // No line break of its own at the end: the one before the next boundary belongs to the boundary.
  return Buffer.from(out.join(CRLF), 'latin1');
}

/** Bare CR or LF turned into CRLF: the canonical form of a message/rfc822 body. */
function crlf(bytes: Buffer): Buffer {
  if (!bytes.includes(0x0a) && !bytes.includes(0x0d)) return bytes;
  return Buffer.from(bytes.toString('latin1').replace(/\r\n|\r|\n/g, CRLF), 'latin1');
}

function textEntity(text: string, subtype: 'plain' | 'html'): { headers: HeaderList; body: Buffer } {
  const bytes = Buffer.from(text.replace(/\r\n|\r|\n/g, CRLF), 'utf8');
  // eslint-disable-next-line no-control-regex
  const ascii = /^[\x00-\x7f]*$/.test(text) && !text.split(/\r?\n/).some((l) => l.length > 900);
  return {
    headers: [
      ['Content-Type', `text/${subtype}; charset=${ascii ? 'us-ascii' : 'UTF-8'}`],
      ['Content-Transfer-Encoding', ascii ? '7bit' : 'quoted-printable'],
    ],
    body: ascii
      ? Buffer.concat([bytes, Buffer.from(CRLF)])
      : quotedPrintable(Buffer.concat([bytes, Buffer.from(CRLF)])),
  };
}

function fileEntity(
  fileName: string,
  bytes: Buffer,
  contentType: string,
  disposition: 'attachment' | 'inline',
  encoding: 'base64' | 'quoted-printable' = 'base64',
): Entity {
  return {
    headers: [
      ['Content-Type', buildHeaderValue({ value: contentType, params: { name: fileName } })],
      ['Content-Transfer-Encoding', encoding],
      ['Content-Disposition', buildHeaderValue({ value: disposition, params: { filename: fileName } })],
    ],
    body: encoding === 'base64' ? base64Lines(bytes) : quotedPrintable(bytes),
  };
}

function messageEntity(fileName: string, message: Buffer): Entity {
  const body = crlf(message);
  return {
    headers: [
      ['Content-Type', buildHeaderValue({ value: 'message/rfc822', params: { name: fileName } })],
      ['Content-Disposition', buildHeaderValue({ value: 'inline', params: { filename: fileName } })],
    ],
    body: body.length && body[body.length - 1] === 0x0a ? body : Buffer.concat([body, Buffer.from(CRLF)]),
  };
}

/** Local time in Italy, where PEC providers stamp their messages. */
interface RomeTime {
  year: string;
  month: string;
  day: string;
  hour: string;
  minute: string;
  second: string;
  weekday: string;
  /** e.g. +0100 */
  zona: string;
}

const ROME = new Intl.DateTimeFormat('en-US', {
  timeZone: 'Europe/Rome',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  weekday: 'short',
  hourCycle: 'h23',
  timeZoneName: 'longOffset',
});

function romeTime(d: Date): RomeTime {
  const p: Record<string, string> = {};
  for (const part of ROME.formatToParts(d)) p[part.type] = part.value;
  const off = /GMT([+-])(\d{2}):(\d{2})/.exec(p.timeZoneName ?? '');
  return {
    year: p.year ?? '1970',
    month: p.month ?? '01',
    day: p.day ?? '01',
    hour: p.hour ?? '00',
    minute: p.minute ?? '00',
    second: p.second ?? '00',
    weekday: p.weekday ?? 'Thu',
    zona: off ? `${off[1]}${off[2]}${off[3]}` : '+0000',
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 date-time in Italian local time, e.g. "Fri, 15 Mar 2019 10:20:30 +0100". */
export function rfc5322Date(d: Date): string {
  const t = romeTime(d);
  return `${t.weekday}, ${t.day} ${MONTHS[Number(t.month) - 1] ?? 'Jan'} ${t.year} ${t.hour}:${t.minute}:${t.second} ${t.zona}`;
}

const bare = (id: string): string => id.trim().replace(/^<+|>+$/g, '');
const angle = (id: string): string => `<${bare(id)}>`;

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at >= 0 ? address.slice(at + 1) : 'localhost';
}

function newIdentificativo(domain: string, date: Date): string {
  const t = romeTime(date);
  const stamp = `${t.year}${t.month}${t.day}${t.hour}${t.minute}${t.second}`;
  const n = crypto.randomInt(100, 1000);
  const r = crypto.randomInt(10_000, 100_000);
  return `opec${n}.${stamp}.${r}.${crypto.randomInt(100, 1000)}.1.1@${domain}`;
}

/** Unstructured header text: RFC 2047 encoded words only where needed. */
function unstructured(value: string): string {
  return encodeWords(value.replace(/[\r\n]+/g, ' '), 'Q', 52);
}

// eslint-disable-next-line no-control-regex
const XML_INVALID = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g;

/** XML character data / attribute value: the five special characters escaped, invalid ones dropped. */
export function escapeXml(text: string): string {
  return text
    .replace(XML_INVALID, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** daticert.xml as providers write it (element order of the DTD in the DM 2 novembre 2005). */
export function buildDaticert(d: DaticertInput): Buffer {
  const t = romeTime(d.date);
  const el = (name: string, value: string | undefined, indent = '    '): string =>
    value === undefined ? '' : `${indent}<${name}>${escapeXml(value)}</${name}>\r\n`;
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?>\r\n' +
    (d.doctype === false ? '' : '<!DOCTYPE postacert SYSTEM "Postacert.dtd">\r\n') +
    `<postacert tipo="${escapeXml(d.tipo)}" errore="${escapeXml(d.errore ?? 'nessuno')}">\r\n` +
    '  <intestazione>\r\n' +
    el('mittente', d.mittente) +
    d.destinatari
      .map((x) => `    <destinatari tipo="certificato">${escapeXml(x)}</destinatari>\r\n`)
      .join('') +
    el('risposte', d.risposte ?? d.mittente) +
    el('oggetto', d.oggetto) +
    '  </intestazione>\r\n' +
    '  <dati>\r\n' +
    el('gestore-emittente', d.gestoreEmittente) +
    `    <data zona="${t.zona}">\r\n` +
    el('giorno', `${t.day}/${t.month}/${t.year}`, '      ') +
    el('ora', `${t.hour}:${t.minute}:${t.second}`, '      ') +
    '    </data>\r\n' +
    el('identificativo', d.identificativo) +
    el('msgid', d.msgid === undefined ? undefined : angle(d.msgid)) +
    (d.ricevuta === undefined ? '' : `    <ricevuta tipo="${escapeXml(d.ricevuta)}" />\r\n`) +
    el('consegna', d.consegna) +
    el('errore-esteso', d.erroreEsteso) +
    '  </dati>\r\n' +
    '</postacert>\r\n';
  return Buffer.from(xml, 'utf8');
}

/**
 * The message SdI itself sends (it becomes postacert.eml inside the provider's envelope):
 * multipart/mixed with the optional text/plain explanation and every file as an attachment.
 */
export function buildSdiMessage(input: SdiMessageInput): Buffer {
  const date = input.date ?? new Date();
  const to = Array.isArray(input.to) ? input.to : [input.to];
  const messageId = input.messageId
    ? angle(input.messageId)
    : `<${crypto.randomBytes(10).toString('hex')}.${date.getTime()}@${domainOf(input.from)}>`;
  const parts: Entity[] = [];
  if (input.text !== undefined) parts.push(textEntity(input.text, 'plain'));
  for (const a of input.attachments) {
    parts.push(
      fileEntity(
        a.fileName,
        a.bytes,
        a.contentType ?? 'application/octet-stream',
        'attachment',
        a.transferEncoding ?? 'base64',
      ),
    );
  }
  const body = multipart('mixed', parts, 'This is a multi-part message in MIME format.');
  return renderEntity({
    headers: [
      ['Date', rfc5322Date(date)],
      ['From', input.from],
      ['To', to.join(', ')],
      ['Subject', unstructured(input.subject)],
      ['Message-ID', messageId],
      ['MIME-Version', '1.0'],
      ...body.headers,
    ],
    body: body.body,
  });
}

/** The Message-ID header of a raw message, read from its header block (unfolded), or null. */
function messageIdOf(raw: Buffer): string | null {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end >= 0 ? end : Math.min(raw.length, 64 * 1024)).toString('latin1');
  const m = /^message-id:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)/im.exec(head);
  if (!m?.[1]) return null;
  const v = m[1].replace(/\r?\n[ \t]+/g, ' ').trim();
  return v ? angle(v) : null;
}

/** Wraps the multipart/mixed `content` in the provider's S/MIME signature. */
async function sign(
  content: Entity,
  provider: PecProvider,
  date: Date,
): Promise<{ headers: HeaderList; body: Buffer }> {
  const entity = renderEntity(content);
  if (provider.smime === 'opaque') {
    const cms = await signCms(entity, provider.signer, { detached: false, signingTime: date });
    return {
      headers: [
        ['Content-Type', 'application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"'],
        ['Content-Transfer-Encoding', 'base64'],
        ['Content-Disposition', 'attachment; filename="smime.p7m"'],
      ],
      body: base64Lines(cms),
    };
  }
  const cms = await signCms(entity, provider.signer, { detached: true, signingTime: date });
  const p7s: Entity = {
    headers: [
      ['Content-Type', 'application/pkcs7-signature; name="smime.p7s"'],
      ['Content-Transfer-Encoding', 'base64'],
      ['Content-Disposition', 'attachment; filename="smime.p7s"'],
      ['Content-Description', 'S/MIME Cryptographic Signature'],
    ],
    body: base64Lines(cms),
  };
  // The signed part is `entity` byte for byte: the boundary lines around it add their own CRLF.
  const signed = multipart('signed', [{ raw: entity }, p7s], 'This is an S/MIME signed message', {
    protocol: 'application/pkcs7-signature',
    micalg: 'sha-256',
  });
  return signed;
}

function notice(title: string, lines: string[]): Entity {
  const text = [title, '', ...lines].join('\r\n');
  const html =
    '<html><head><title>' +
    escapeXml(title) +
    '</title></head><body><h3>' +
    escapeXml(title) +
    '</h3><p>' +
    lines.map(escapeXml).join('<br/>\r\n') +
    '</p></body></html>';
  return multipart('alternative', [textEntity(text, 'plain'), textEntity(html, 'html')]);
}

function stamp(date: Date): string {
  const t = romeTime(date);
  return `Il giorno ${t.day}/${t.month}/${t.year} alle ore ${t.hour}:${t.minute}:${t.second} (${t.zona})`;
}

function gestore(p: PecProvider): string {
  return p.name ?? `Gestore PEC ${p.domain}`;
}

/**
 * The provider's transport envelope around a certified message ("POSTA CERTIFICATA: ..."):
 * notice, daticert.xml and postacert.eml in a multipart/mixed, signed by the provider.
 */
export async function buildCertifiedEnvelope(input: CertifiedEnvelopeInput): Promise<Buffer> {
  const { provider } = input;
  const date = input.date ?? new Date();
  const identificativo = input.identificativo ?? newIdentificativo(provider.domain, date);
  const tipoRicevuta = input.tipoRicevuta ?? 'breve';
  const original = messageIdOf(input.inner);
  const daticert = buildDaticert({
    tipo: 'posta-certificata',
    mittente: input.mittente,
    destinatari: input.destinatari,
    oggetto: input.subject,
    gestoreEmittente: gestore(provider),
    date,
    identificativo,
    ...(original ? { msgid: original } : {}),
    ricevuta: tipoRicevuta,
  });
  const mixed = multipart('mixed', [
    notice('Messaggio di posta certificata', [
      `${stamp(date)} il messaggio "${input.subject}" è stato inviato da "${input.mittente}"`,
      `indirizzato a: ${input.destinatari.join(', ')}`,
      'Il messaggio originale è incluso in allegato.',
      `Identificativo messaggio: ${identificativo}`,
    ]),
    fileEntity('daticert.xml', daticert, 'application/xml', 'inline'),
    messageEntity('postacert.eml', input.inner),
  ]);
  const signed = await sign(mixed, provider, date);
  return renderEntity({
    headers: [
      ['Date', rfc5322Date(date)],
      ['Message-ID', input.messageId ? angle(input.messageId) : angle(identificativo)],
      ['From', `"Per conto di: ${input.mittente}" <posta-certificata@${provider.domain}>`],
      ['Reply-To', input.mittente],
      ['To', input.destinatari.join(', ')],
      ['Subject', unstructured(`POSTA CERTIFICATA: ${input.subject}`)],
      ...(original ? ([['X-Riferimento-Message-ID', original]] as HeaderList) : []),
      ['X-Trasporto', 'posta-certificata'],
      ['X-TipoRicevuta', tipoRicevuta],
      ['MIME-Version', '1.0'],
      ...signed.headers,
    ],
    body: signed.body,
  });
}

const RECEIPT: Record<PecReceiptType, { subject: string; title: string; errore: string; text: string }> = {
  accettazione: {
    subject: 'ACCETTAZIONE',
    title: 'Ricevuta di accettazione',
    errore: 'nessuno',
    text: 'è stato accettato dal sistema ed inoltrato.',
  },
  'non-accettazione': {
    subject: 'AVVISO DI NON ACCETTAZIONE',
    title: 'Avviso di non accettazione',
    errore: 'altro',
    text: 'non è stato accettato dal sistema.',
  },
  'presa-in-carico': {
    subject: 'PRESA IN CARICO',
    title: 'Ricevuta di presa in carico',
    errore: 'nessuno',
    text: 'è stato preso in carico dal gestore di destinazione.',
  },
  'avvenuta-consegna': {
    subject: 'CONSEGNA',
    title: 'Ricevuta di avvenuta consegna',
    errore: 'nessuno',
    text: 'è stato consegnato nella casella di destinazione.',
  },
  'errore-consegna': {
    subject: 'AVVISO DI MANCATA CONSEGNA',
    title: 'Avviso di mancata consegna',
    errore: 'no-dest',
    text: 'non è stato consegnato.',
  },
  'preavviso-errore-consegna': {
    subject: 'AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO',
    title: 'Avviso di mancata consegna per superamento dei tempi massimi',
    errore: 'altro',
    text: 'non è stato consegnato entro le prime 12 ore.',
  },
  'rilevazione-virus': {
    subject: 'AVVISO DI RILEVAZIONE VIRUS',
    title: 'Avviso di rilevazione virus',
    errore: 'virus',
    text: 'contiene un virus e non è stato inoltrato.',
  },
};

const DELIVERY_TYPES: ReadonlySet<PecReceiptType> = new Set([
  'avvenuta-consegna',
  'errore-consegna',
  'preavviso-errore-consegna',
  'presa-in-carico',
]);

/** A receipt of the provider (ACCETTAZIONE, CONSEGNA, the failure notices), signed like the envelope. */
export async function buildReceipt(input: ReceiptInput): Promise<Buffer> {
  const { provider, tipo } = input;
  const spec = RECEIPT[tipo];
  const date = input.date ?? new Date();
  const identificativo = input.identificativo ?? newIdentificativo(provider.domain, date);
  const consegna = DELIVERY_TYPES.has(tipo) ? (input.consegna ?? input.destinatari[0]) : input.consegna;
  const daticert = buildDaticert({
    tipo,
    errore: input.errore ?? spec.errore,
    mittente: input.mittente,
    destinatari: input.destinatari,
    oggetto: input.subject,
    gestoreEmittente: gestore(provider),
    date,
    identificativo,
    msgid: input.ref,
    ...(tipo === 'avvenuta-consegna' ? { ricevuta: input.original ? 'completa' : 'breve' } : {}),
    ...(consegna !== undefined ? { consegna } : {}),
    ...(input.erroreEsteso !== undefined ? { erroreEsteso: input.erroreEsteso } : {}),
  });
  const lines = [
    `${stamp(date)} il messaggio "${input.subject}" proveniente da "${input.mittente}"`,
    `ed indirizzato a: ${consegna ?? input.destinatari.join(', ')}`,
    spec.text,
    ...(input.erroreEsteso !== undefined ? [`Errore: ${input.erroreEsteso}`] : []),
    `Identificativo messaggio: ${identificativo}`,
  ];
  const parts: Entity[] = [
    notice(spec.title, lines),
    fileEntity('daticert.xml', daticert, 'application/xml', 'inline'),
  ];
  if (input.original) parts.push(messageEntity('postacert.eml', input.original));
  const signed = await sign(multipart('mixed', parts), provider, date);
  return renderEntity({
    headers: [
      ['Date', rfc5322Date(date)],
      [
        'Message-ID',
        input.messageId
          ? angle(input.messageId)
          : `<${tipo}.${crypto.randomBytes(8).toString('hex')}.${identificativo}>`,
      ],
      ['From', `posta-certificata@${provider.domain}`],
      ['To', input.mittente],
      ['Subject', unstructured(`${spec.subject}: ${input.subject}`)],
      ['X-Ricevuta', tipo],
      ['X-Riferimento-Message-ID', angle(input.ref)],
      ...(tipo === 'avvenuta-consegna' || tipo === 'errore-consegna' || tipo === 'preavviso-errore-consegna'
        ? ([['X-TipoRicevuta', input.original ? 'completa' : 'breve']] as HeaderList)
        : []),
      ['MIME-Version', '1.0'],
      ...signed.headers,
    ],
    body: signed.body,
  });
}
