import fsp from 'node:fs/promises';
import { ImapFlow } from 'imapflow';
import { simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import {
  buildCertifiedEnvelope,
  buildReceipt,
  buildSdiMessage,
  type PecProvider,
} from '../channels/pec/build.js';
import type { PecReceiptType } from '../channels/pec/types.js';
import type { Logger } from '../log.js';
import type { NotificationKind } from '../notifications/types.js';
import { scanDeliverFolder } from './deliver-folder.js';
import { SdiEngine, type PlannedMessage, type Scenario } from './engine.js';

/**
 * A simulated PEC world on loopback: an SMTP server that plays the sender's PEC provider and SdI.
 * For every message fatturad sends it puts into fatturad's mailbox, on a real IMAP server, by IMAP
 * APPEND, what the real world would: the provider's ACCETTAZIONE and CONSEGNA receipts, then SdI's
 * answers (decided by the same engine as the SDICoop simulator) as certified messages from SdI's
 * mailbox inside realistic PEC envelopes, signed S/MIME. Files dropped into `passiveDir` arrive as
 * received invoices ("Invio File") with their MT.
 */
export interface PecSimulatorOptions {
  /** The TLS identity of the SMTP server and of the PEC providers' S/MIME signatures. */
  tls: { cert: Buffer; key: Buffer };
  scenario: Scenario;
  delayMs: number;
  /** The SdI mailbox the first answer comes from (and that the next files should go to). */
  sdiMailbox: string;
  /** fatturad's mailbox, on a real IMAP server. */
  imap: {
    host: string;
    port: number;
    secure: boolean;
    user: string;
    pass: string;
    mailbox: string;
    tls?: { ca?: Buffer[]; rejectUnauthorized?: boolean };
  };
  passiveDir?: string;
  /** Refuse SMTP AUTH with any other login and password (535), as a provider does; default: any. */
  smtpAuth?: { user: string; pass: string };
  /** Faults to play, by the number of the SMTP message (1, 2, ...) and its SdI file name. */
  fault?: (n: number, fileName: string) => PecFault | null;
  log: Logger;
}

/**
 * refuse: 554 at the end of DATA; timeout: no answer to DATA (the message is dropped);
 * non-accettazione / errore-consegna / preavviso-errore-consegna: the provider's receipt instead
 * of (or, for preavviso, before) a normal delivery.
 */
export type PecFault =
  'refuse' | 'timeout' | 'non-accettazione' | 'errore-consegna' | 'preavviso-errore-consegna';

/** What the simulator took by SMTP (for tests). */
export interface PecSimSend {
  n: number;
  from: string;
  to: string[];
  subject: string;
  messageId: string;
  fileName: string;
  fault: PecFault | null;
}

const SOGEI: string = 'pcert.sogei.it';

const SUBJECT: Partial<Record<NotificationKind, string>> = {
  RC: 'Ricevuta di consegna',
  NS: 'Notifica di scarto',
  MC: 'Notifica di mancata consegna',
  NE: 'Notifica di esito',
  DT: 'Notifica di decorrenza termini',
  AT: 'Attestazione di avvenuta trasmissione della fattura con impossibilità di recapito',
};

export class PecSimulator {
  readonly engine: SdiEngine;
  readonly sends: PecSimSend[] = [];
  /** Messages appended to the mailbox, in order (labels, for tests). */
  readonly appended: string[] = [];
  private readonly server: SMTPServer;
  private readonly queue: { label: string; build: () => Promise<Buffer>; done?: () => Promise<void> }[] = [];
  private client: ImapFlow | null = null;
  private pumping = false;
  private timer: NodeJS.Timeout | null = null;
  private passiveTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private count = 0;
  private readonly hanging: ((err?: Error | null) => void)[] = [];
  private requeued = false;
  private readonly provider: PecProvider;
  private readonly sdiProvider: PecProvider;

  constructor(private readonly opts: PecSimulatorOptions) {
    this.engine = new SdiEngine({ scenario: opts.scenario });
    const signer = { certPem: opts.tls.cert.toString(), keyPem: opts.tls.key.toString() };
    this.provider = { domain: 'pec.simulatore.invalid', signer };
    this.sdiProvider = { domain: SOGEI, signer };
    this.server = new SMTPServer({
      secure: true,
      key: opts.tls.key,
      cert: opts.tls.cert,
      authOptional: true,
      logger: false,
      size: 60 * 1024 * 1024,
      onAuth: (auth, _session, cb) => {
        const want = opts.smtpAuth;
        if (want && (auth.username !== want.user || auth.password !== want.pass))
          cb(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
        else cb(null, { user: auth.username ?? '' });
      },
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (d: Buffer) => chunks.push(d));
        stream.on('end', () => {
          this.receive(Buffer.concat(chunks), session).then(
            (answer) => {
              // Never answers: the client times out. Answered (late) when the simulator closes.
              if (answer === 'timeout') return void this.hanging.push(cb);
              if (answer === 'refuse') {
                const err = new Error('5.7.1 message refused by the simulated PEC provider') as Error & {
                  responseCode: number;
                };
                err.responseCode = 554;
                cb(err);
              } else cb(null, 'queued by the simulated PEC provider');
            },
            (err: unknown) => cb(err as Error),
          );
        });
      },
    });
    this.server.on('error', (err) =>
      opts.log.warn({ event: 'sim.smtp_error', error: err.message }, 'simulated PEC provider: SMTP error'),
    );
  }

  async listen(host: string, port: number): Promise<{ port: number }> {
    await new Promise<void>((resolve) => this.server.listen(port, host, resolve));
    const address = this.server.server.address();
    const actual = typeof address === 'object' && address ? address.port : port;
    this.opts.log.info(
      {
        event: 'sim.listening',
        smtp: `${host}:${actual}`,
        scenario: this.opts.scenario,
        sdi: this.opts.sdiMailbox,
      },
      `SdI simulator (PEC) listening for SMTP on ${host}:${actual}; answers go to ${this.opts.imap.user}'s ${this.opts.imap.mailbox} on ${this.opts.imap.host}:${this.opts.imap.port}`,
    );
    if (this.opts.passiveDir) {
      await fsp.mkdir(this.opts.passiveDir, { recursive: true });
      const tick = (): void => {
        this.passiveTimer = setTimeout(
          () => void this.scanPassive().finally(() => !this.closed && tick()),
          1000,
        );
        this.passiveTimer.unref();
      };
      tick();
    }
    return { port: actual };
  }

  private async receive(raw: Buffer, session: SMTPServerSession): Promise<'ok' | 'refuse' | 'timeout'> {
    const n = ++this.count;
    const mail = await simpleParser(raw, {
      skipHtmlToText: true,
      skipTextToHtml: true,
      skipImageLinks: true,
    });
    const att = mail.attachments.find((a) => /\.(xml|p7m|zip)$/i.test(a.filename ?? ''));
    const fileName = att?.filename ?? '';
    const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const to = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
    const subject = mail.subject ?? '';
    const messageId = (mail.messageId ?? '').replace(/^<|>$/g, '');
    const fault = this.opts.fault?.(n, fileName) ?? null;
    this.sends.push({ n, from, to, subject, messageId, fileName, fault });
    this.opts.log.info(
      { event: 'sim.pec_received', n, from, to, subject, fileName, fault },
      `simulated PEC provider took "${subject}" for ${to.join(', ')}${fault ? ` (fault: ${fault})` : ''}`,
    );
    if (fault === 'refuse' || fault === 'timeout') return fault;
    const base = { ref: messageId, mittente: from, destinatari: to, subject, provider: this.provider };
    if (fault === 'non-accettazione') {
      this.push(`non-accettazione ${subject}`, () =>
        buildReceipt({
          ...base,
          tipo: 'non-accettazione',
          errore: 'altro',
          erroreEsteso: 'Messaggio non accettato (simulazione)',
        }),
      );
      return 'ok';
    }
    this.push(`accettazione ${subject}`, () => buildReceipt({ ...base, tipo: 'accettazione' }));
    const receipt = (tipo: PecReceiptType, extra: Record<string, string> = {}): void =>
      this.push(`${tipo} ${subject}`, () => buildReceipt({ ...base, tipo, consegna: to[0] ?? '', ...extra }));
    if (fault === 'errore-consegna') {
      receipt('errore-consegna', {
        errore: 'no-dest',
        erroreEsteso: '5.1.1 - Casella di destinazione non disponibile (simulazione)',
      });
      return 'ok';
    }
    if (fault === 'preavviso-errore-consegna')
      receipt('preavviso-errore-consegna', {
        errore: 'altro',
        erroreEsteso: 'Consegna non ancora avvenuta dopo 12 ore (simulazione)',
      });
    const r = att ? await this.engine.receive(fileName, att.content) : null;
    if (r && !r.ok) {
      // By PEC an SdI that cannot take the file (scenario unavailable) shows as a failed delivery.
      this.opts.log.info(
        { event: 'sim.received', fileName, errore: r.errore },
        `simulated SdI: ${r.errore} for ${fileName}`,
      );
      receipt('errore-consegna', {
        errore: 'altro',
        erroreEsteso: `4.4.7 - SdI non disponibile: ${r.descrizione} (simulazione)`,
      });
      return 'ok';
    }
    this.push(`avvenuta-consegna ${subject}`, () =>
      buildReceipt({ ...base, tipo: 'avvenuta-consegna', consegna: to[0] ?? '', original: raw }),
    );
    if (!r) return 'ok';
    this.opts.log.info(
      {
        event: 'sim.received',
        nomeFile: fileName,
        identificativoSdI: r.identificativoSdI,
        messages: r.messages.map((m) => m.kind),
      },
      `SdI simulator took ${fileName} as ${r.identificativoSdI}`,
    );
    for (const m of r.messages) this.pushSdi(m, from);
    return 'ok';
  }

  /** A message of SdI's, as the certified mail SdI's provider delivers. */
  private pushSdi(m: PlannedMessage, recipient: string): void {
    const mittente = this.opts.sdiMailbox;
    const subject = `${SUBJECT[m.kind] ?? m.kind} ${m.identificativoSdI} (SIMULAZIONE)`;
    this.push(`${m.kind} ${m.fileName}`, async () => {
      const inner = buildSdiMessage({
        from: mittente,
        to: recipient,
        subject,
        text: `Il Sistema di Interscambio ha inviato il file ${m.fileName}.`,
        attachments: [{ fileName: m.fileName, bytes: m.bytes, contentType: 'application/octet-stream' }],
      });
      return buildCertifiedEnvelope({
        inner,
        mittente,
        destinatari: [recipient],
        subject,
        provider: this.sdiProvider,
      });
    });
  }

  /** Delivers a received invoice with its MT, as SdI's "Invio File" certified mail. */
  async deliverPassive(nomeFile: string, bytes: Buffer, done?: () => Promise<void>): Promise<string> {
    const p = await this.engine.passive(nomeFile, bytes);
    const subject = `Invio File ${p.identificativoSdI} (SIMULAZIONE)`;
    const recipient = this.opts.imap.user.includes('@')
      ? this.opts.imap.user
      : `${this.opts.imap.user}@pec.simulatore.invalid`;
    this.queue.push({
      label: `invoice ${nomeFile} with ${p.metadataName}`,
      build: async () => {
        const inner = buildSdiMessage({
          from: this.opts.sdiMailbox,
          to: recipient,
          subject,
          text: `Il Sistema di Interscambio ha inviato il file ${nomeFile}.`,
          attachments: [
            { fileName: nomeFile, bytes, contentType: 'application/octet-stream' },
            { fileName: p.metadataName, bytes: p.metadata, contentType: 'application/octet-stream' },
          ],
        });
        return buildCertifiedEnvelope({
          inner,
          mittente: this.opts.sdiMailbox,
          destinatari: [recipient],
          subject,
          provider: this.sdiProvider,
        });
      },
      ...(done ? { done } : {}),
    });
    this.schedule(0);
    return p.identificativoSdI;
  }

  private push(label: string, build: () => Promise<Buffer>): void {
    this.queue.push({ label, build });
    this.schedule(this.opts.delayMs);
  }

  private schedule(ms: number): void {
    if (this.closed || this.timer || this.pumping) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.pump();
    }, ms);
    this.timer.unref();
  }

  private async connect(): Promise<ImapFlow> {
    if (this.client?.usable) return this.client;
    const i = this.opts.imap;
    const client = new ImapFlow({
      host: i.host,
      port: i.port,
      secure: i.secure,
      auth: { user: i.user, pass: i.pass },
      logger: false,
      ...(i.tls ? { tls: i.tls } : {}),
    });
    client.on('error', () => undefined);
    await client.connect();
    this.client = client;
    return client;
  }

  /** Appends queued messages one by one, in order; a failure waits and tries the same one again. */
  private async pump(): Promise<void> {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      while (!this.closed && this.queue.length > 0) {
        const item = this.queue[0] as (typeof this.queue)[number];
        try {
          const client = await this.connect();
          const raw = await item.build();
          await client.append(this.opts.imap.mailbox, raw);
        } catch (err) {
          this.opts.log.warn(
            { event: 'sim.delivery_failed', message: item.label, error: (err as Error).message },
            `cannot put ${item.label} into the mailbox: ${(err as Error).message}; trying again`,
          );
          this.client?.close();
          this.client = null;
          this.pumping = false;
          this.schedule(1000);
          return;
        }
        this.queue.shift();
        this.appended.push(item.label);
        this.opts.log.info(
          { event: 'sim.delivered', message: item.label },
          `SdI simulator delivered ${item.label}`,
        );
        await item.done?.().catch(() => undefined);
        if (this.queue.length > 0 && this.opts.delayMs > 0) {
          this.pumping = false;
          this.schedule(this.opts.delayMs);
          return;
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private async scanPassive(): Promise<void> {
    const dir = this.opts.passiveDir;
    if (!dir) return;
    const first = !this.requeued;
    this.requeued = true;
    await scanDeliverFolder(dir, first, (n, bytes, done) => this.deliverPassive(n, bytes, done));
  }

  /** Resolves once every queued message is in the mailbox (tests). */
  async drained(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length > 0 || this.pumping) {
      if (Date.now() > deadline) throw new Error('the PEC simulator did not drain its queue');
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.passiveTimer) clearTimeout(this.passiveTimer);
    for (const cb of this.hanging.splice(0)) cb(new Error('the simulated PEC provider is closing'));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.client?.logout().catch(() => undefined);
  }
}
