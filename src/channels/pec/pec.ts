import { createTransport } from 'nodemailer';
import type { Logger } from '../../log.js';
import { parseNotificationName } from '../../notifications/names.js';
import { parseNotification } from '../../notifications/parse.js';
import type {
  Channel,
  ChannelHealth,
  InboundMessage,
  InboundSink,
  OutgoingFile,
  SendResult,
} from '../channel.js';
import { parsePecMessage } from './envelope.js';
import { MailboxReader, type MailboxOptions, type MessageMeta, type MessageVerdict } from './mailbox.js';
import { QuotaWatcher, describeQuota } from './quota.js';
import type { ChannelState, PecLimits, PecMessage, PecReceiptType } from './types.js';

/**
 * PEC (posta elettronica certificata, digest section 7.1): the invoice leaves as the attachment of
 * a certified mail sent by SMTP; everything comes back into the same mailbox, read by IMAP:
 * - the sender's own PEC provider's receipts (accettazione, avvenuta consegna, or their failures)
 *   become transport receipts, matched to the send by the Message-ID they refer to;
 * - SdI's certified messages are opened (envelope.ts) and their files become the same inbound
 *   notifications and received invoices as on SDICoop: no PEC-specific state logic;
 * - anything else is left in the mailbox untouched, logged once.
 * The first file goes to sdi01@pec.fatturapa.it; SdI's first answer names the mailbox to use from
 * then on, which is learnt and kept in the store.
 */
export interface PecSmtpOptions {
  host: string;
  port: number;
  /** Implicit TLS (port 465); false: STARTTLS, required unless `requireTls` is false (loopback tests). */
  secure: boolean;
  requireTls: boolean;
  user: string;
  pass: string;
  ca?: Buffer[];
  timeoutMs: number;
}

export interface PecChannelOptions {
  /** fatturad's PEC address: the sender, and the mailbox SdI answers to. */
  address: string;
  /** Where the first file goes (SdI's reception mailbox). */
  firstSdiAddress: string;
  /** Send every file to this address and never learn another (empty: learn from SdI's first answer). */
  fixedSdiAddress: string;
  /** The largest message SdI takes by PEC (30 MB). */
  maxMessageBytes: number;
  smtp: PecSmtpOptions;
  imap: Omit<MailboxOptions, 'state' | 'log' | 'maxMessageBytes'>;
  /** The mailbox quota, looked at every checkMs (0 or absent: never); warned at warnPercent. */
  quota?: { checkMs: number; warnPercent: number };
  limits: PecLimits;
  state: ChannelState;
  log: Logger;
}

/** A small pool: PEC providers limit connections per mailbox, and a batch reuses them. */
function smtpTransport(s: PecSmtpOptions) {
  return createTransport({
    pool: true,
    maxConnections: 2,
    maxMessages: 100,
    host: s.host,
    port: s.port,
    secure: s.secure,
    requireTLS: !s.secure && s.requireTls,
    ignoreTLS: !s.secure && !s.requireTls,
    ...(s.user ? { auth: { user: s.user, pass: s.pass } } : {}),
    tls: { ...(s.ca?.length ? { ca: s.ca } : {}), minVersion: 'TLSv1.2' },
    connectionTimeout: s.timeoutMs,
    greetingTimeout: s.timeoutMs,
    socketTimeout: s.timeoutMs,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
}

const RECEIPT_OUTCOME: Record<PecReceiptType, 'accepted' | 'delivered' | 'failed' | 'warning'> = {
  accettazione: 'accepted',
  'presa-in-carico': 'accepted',
  'avvenuta-consegna': 'delivered',
  'non-accettazione': 'failed',
  'errore-consegna': 'failed',
  'rilevazione-virus': 'failed',
  'preavviso-errore-consegna': 'warning',
};

/** SdI's mailboxes: sdi01@pec.fatturapa.it ... (the domain is what identifies SdI). */
const SDI_MAILBOX = /^sdi[0-9]{1,3}@pec\.fatturapa\.it$/i;

export class PecChannel implements Channel {
  readonly name = 'pec';
  private sink: InboundSink | null = null;
  private reader: MailboxReader | null = null;
  private quota: QuotaWatcher | null = null;
  private readonly transport: ReturnType<typeof smtpTransport>;
  private lastSend: { ok: boolean; at: string; detail: string } | null = null;
  private readonly domain: string;

  constructor(private readonly opts: PecChannelOptions) {
    this.domain = opts.address.split('@')[1] || 'localhost';
    this.transport = smtpTransport(opts.smtp);
  }

  private get addressKey(): string {
    return `pec:${this.opts.address.toLowerCase()}:sdi-address`;
  }

  /** Where the next file goes: the fixed address, the one SdI assigned, or the first address. */
  get sdiAddress(): string {
    return this.opts.fixedSdiAddress || this.opts.state.get(this.addressKey) || this.opts.firstSdiAddress;
  }

  async start(sink: InboundSink): Promise<void> {
    this.sink = sink;
    this.reader = new MailboxReader(
      {
        ...this.opts.imap,
        maxMessageBytes: this.opts.limits.maxMessageBytes,
        state: this.opts.state,
        log: this.opts.log,
      },
      (raw, meta) => this.handle(raw, meta),
    );
    this.reader.start();
    const q = this.opts.quota;
    if (q && q.checkMs > 0) {
      const i = this.opts.imap;
      this.quota = new QuotaWatcher({
        host: i.host,
        port: i.port,
        secure: i.secure,
        ...(i.tls ? { tls: i.tls } : {}),
        user: i.user,
        pass: i.pass,
        mailbox: i.mailbox,
        checkMs: q.checkMs,
        warnPercent: q.warnPercent,
        ...(i.socketTimeoutMs ? { socketTimeoutMs: i.socketTimeoutMs } : {}),
        log: this.opts.log,
      });
      this.quota.start();
    }
    this.opts.log.info(
      {
        event: 'pec.started',
        address: this.opts.address,
        sdiAddress: this.sdiAddress,
        smtp: `${this.opts.smtp.host}:${this.opts.smtp.port}`,
        imap: `${this.opts.imap.host}:${this.opts.imap.port}`,
        mailbox: this.opts.imap.mailbox,
      },
      `PEC channel: sending from ${this.opts.address} to ${this.sdiAddress}; reading ${this.opts.imap.mailbox} on ${this.opts.imap.host}:${this.opts.imap.port}`,
    );
  }

  /** Reads the mailbox now (after a send, in tests). */
  async poll(): Promise<void> {
    await this.reader?.pass();
  }

  async send(file: OutgoingFile): Promise<SendResult> {
    const to = this.sdiAddress;
    // Recognisable and unique per attempt: receipts refer to it (X-Riferimento-Message-ID).
    const messageId = `<fatturad.${file.sdiName}.${file.attempt}.${Date.now().toString(36)}@${this.domain}>`;
    const ref = messageId.slice(1, -1);
    const message = {
      from: this.opts.address,
      to,
      subject: file.sdiName,
      messageId,
      text: `Invio file ${file.sdiName}\r\n`,
      attachments: [
        {
          filename: file.sdiName,
          content: file.bytes,
          contentType: /\.xml$/i.test(file.sdiName) ? 'application/xml' : 'application/octet-stream',
          contentTransferEncoding: 'base64' as const,
        },
      ],
      disableFileAccess: true,
      disableUrlAccess: true,
    };
    // base64 grows the file by 4/3, plus headers and line breaks.
    const estimate = Math.ceil((file.bytes.length * 4) / 3) * 1.03 + 4096;
    if (estimate > this.opts.maxMessageBytes)
      return this.note({
        kind: 'refused',
        code: 'PEC-TOO-LARGE',
        reason: `the PEC message would be about ${Math.round(estimate / 1048576)} MB, over the ${Math.round(this.opts.maxMessageBytes / 1048576)} MB SdI takes by PEC`,
      });
    try {
      const info = (await this.transport.sendMail(message)) as { response?: string };
      return this.note({
        kind: 'handed-over',
        detail: `handed to the PEC provider for ${to} (${(info.response ?? '').slice(0, 120)})`,
        ref,
      });
    } catch (err) {
      const e = err as Error & { responseCode?: number; code?: string; response?: string };
      const what = e.responseCode
        ? `the PEC provider answered ${e.response ?? e.responseCode}`
        : `cannot reach the PEC provider: ${e.message}`;
      if (e.responseCode === 552)
        return this.note({ kind: 'refused', code: 'PEC-552', reason: `${what} (message too large)` });
      return this.note({
        kind: 'retry',
        reason: what.slice(0, 300),
        ...(e.responseCode ? { code: `SMTP-${e.responseCode}` } : e.code ? { code: e.code } : {}),
      });
    }
  }

  private note(r: SendResult): SendResult {
    this.lastSend = {
      ok: r.kind === 'handed-over' || r.kind === 'refused',
      at: new Date().toISOString(),
      detail: r.kind === 'handed-over' ? 'last file handed over' : 'reason' in r ? r.reason : r.kind,
    };
    return r;
  }

  /** One mailbox message: what it is, and what the pipeline must hear of it. */
  private async handle(raw: Buffer, meta: MessageMeta): Promise<MessageVerdict> {
    const sink = this.sink;
    if (!sink) throw new Error('the PEC channel is not started');
    const m = await parsePecMessage(raw, this.opts.limits);
    const where = { uid: meta.uid, mailbox: meta.mailbox };
    if (m.kind === 'unrelated' || m.kind === 'malformed') {
      this.opts.log.info(
        { event: `pec.${m.kind}`, ...where, reason: m.reason, from: m.from, subject: m.subject },
        `mailbox message ${meta.uid} left alone: ${m.reason}`,
      );
      return 'ignored';
    }
    if (m.kind === 'receipt') return this.receipt(m, raw, sink, where);
    return this.sdiMessage(m, raw, sink, meta);
  }

  private async receipt(
    m: Extract<PecMessage, { kind: 'receipt' }>,
    raw: Buffer,
    sink: InboundSink,
    where: { uid: number; mailbox: string },
  ): Promise<MessageVerdict> {
    // Receipts of mail that people send from the same mailbox are theirs: left alone.
    const ours = m.ref
      ? m.ref.startsWith('fatturad.')
      : /[A-Za-z0-9]_[A-Za-z0-9]{5}\.(xml|p7m|zip)/.test(m.subject);
    if (!ours) {
      this.opts.log.debug(
        { event: 'pec.receipt_not_ours', ...where, receipt: m.receipt, ref: m.ref, subject: m.subject },
        `a ${m.receipt} receipt about mail not sent by fatturad: left alone`,
      );
      return 'ignored';
    }
    const data = m.daticert?.data ?? null;
    await sink({
      type: 'transport-receipt',
      channel: this.name,
      transportType: m.receipt,
      outcome: RECEIPT_OUTCOME[m.receipt],
      ref: m.ref,
      subject: m.subject,
      reason: m.reason,
      at: data,
      bytes: raw,
    });
    return 'processed';
  }

  private async sdiMessage(
    m: Extract<PecMessage, { kind: 'sdi' }>,
    raw: Buffer,
    sink: InboundSink,
    meta: MessageMeta,
  ): Promise<MessageVerdict> {
    const envelope = { name: `pec-${meta.uidValidity}-${meta.uid}.eml`, bytes: raw };
    const notifications: InboundMessage[] = [];
    let metadata: { name: string; bytes: Buffer; identificativoSdI: string | null } | null = null;
    const invoices: { fileName: string; bytes: Buffer }[] = [];
    for (const a of m.attachments) {
      const n = parseNotificationName(a.fileName);
      if (n?.kind === 'MT') {
        const p = parseNotification(a.bytes);
        metadata = {
          name: a.fileName,
          bytes: a.bytes,
          identificativoSdI: p.ok ? p.notification.identificativoSdI || null : null,
        };
      } else if (n) {
        notifications.push({
          type: 'notification',
          channel: this.name,
          fileName: a.fileName,
          bytes: a.bytes,
          ...(m.identificativoSdI ? { identificativoSdI: m.identificativoSdI } : {}),
          envelope,
        });
      } else if (/\.(xml|p7m|zip)$/i.test(a.fileName))
        invoices.push({ fileName: a.fileName, bytes: a.bytes });
    }
    if (notifications.length === 0 && invoices.length === 0) {
      this.opts.log.warn(
        { event: 'pec.sdi_message_empty', uid: meta.uid, sender: m.sender, subject: m.subject },
        `a certified message from ${m.sender} ("${m.subject}") carries no SdI file: left in the mailbox`,
      );
      return 'ignored';
    }
    for (const n of notifications) await sink(n);
    for (const inv of invoices) {
      const id = metadata?.identificativoSdI ?? m.identificativoSdI ?? '';
      await sink({
        type: 'invoice',
        channel: this.name,
        identificativoSdI: id,
        fileName: inv.fileName,
        bytes: inv.bytes,
        metadataName: metadata?.name ?? '',
        metadata: metadata?.bytes ?? Buffer.alloc(0),
        envelope,
      });
    }
    if (notifications.length > 0) this.learn(m.sender);
    return 'processed';
  }

  /** SdI's first answer names the mailbox to send to from then on. */
  private learn(sender: string): void {
    if (this.opts.fixedSdiAddress || this.opts.state.get(this.addressKey)) return;
    if (!SDI_MAILBOX.test(sender)) return;
    const address = sender.toLowerCase();
    this.opts.state.set(this.addressKey, address);
    this.opts.log.info(
      { event: 'pec.sdi_address_learned', address, previous: this.opts.firstSdiAddress },
      `SdI assigned its mailbox ${address}: the next files go there`,
    );
  }

  health(): ChannelHealth {
    const mailbox = this.reader?.health() ?? { ok: false, detail: 'not started' };
    const send = this.lastSend;
    const ok = mailbox.ok && (send?.ok ?? true);
    const parts = [`mailbox: ${mailbox.detail}`];
    if (send) parts.push(`smtp ${send.at}: ${send.detail}`);
    const quota = this.quota?.stats.last;
    if (quota) parts.push(`quota ${describeQuota(quota)}${this.quota?.isLow ? ', nearly full' : ''}`);
    return { ok, detail: parts.join('; ') };
  }

  /** The quota watcher, when one runs (tests, health). */
  get quotaWatcher(): QuotaWatcher | null {
    return this.quota;
  }

  async stop(): Promise<void> {
    await this.quota?.stop();
    this.quota = null;
    await this.reader?.stop();
    this.reader = null;
    this.transport.close();
  }
}
