import fsp from 'node:fs/promises';
import type { Channel } from '../channels/channel.js';
import type { Config } from '../config/schema.js';
import { looksLikeP7m, unwrapP7m } from '../invoice/p7m.js';
import { parseXml, textAt } from '../invoice/xml.js';
import type { Logger } from '../log.js';
import { checkFileName } from '../rules/filename.js';
import type { DocumentRow, OutboundRow, Store } from '../store/store.js';
import type { SendJournal } from '../store/journal.js';
import { sha256 } from '../util/fsx.js';

/**
 * The sending step: every `validated` document gets its SdI file name and goes to the channel.
 * An attempt is committed before the call, so a crash in the middle leaves the document visibly
 * "in doubt" and it is never sent twice on its own: SdI's first answer settles it, or an
 * operator does. Temporary failures are retried with persisted exponential backoff and jitter.
 */
export interface SendEvents {
  onResult?: (result: 'sent' | 'retry' | 'failed' | 'held') => void;
  /** After a document was recorded as sent (notifications that came first can now apply). */
  onSent?: (documentId: number) => Promise<void> | void;
  /** A pass found the channel blocked (e.g. an expired client certificate). */
  onBlocked?: () => void;
}

/** What the SdI file name and the flow are made of, read from the invoice itself. */
export interface SendFacts {
  trasmittente: string;
  flow: 'pa' | 'b2b';
  signed: boolean;
}

export async function sendFacts(name: string, bytes: Buffer): Promise<SendFacts | null> {
  let xml = bytes;
  const signed = /\.p7m$/i.test(name) || looksLikeP7m(bytes);
  if (signed) {
    const u = await unwrapP7m(bytes);
    if (!u.ok) return null;
    xml = u.content;
  }
  const p = parseXml(xml);
  if (!p.ok) return null;
  const id = textAt(p.root, 'FatturaElettronicaHeader/DatiTrasmissione/IdTrasmittente');
  const paese = textAt(p.root, 'FatturaElettronicaHeader/DatiTrasmissione/IdTrasmittente/IdPaese');
  const codice = textAt(p.root, 'FatturaElettronicaHeader/DatiTrasmissione/IdTrasmittente/IdCodice');
  if (id === undefined || !paese || !codice) return null;
  return {
    trasmittente: `${paese}${codice}`,
    flow: p.root.attrs.versione === 'FPA12' ? 'pa' : 'b2b',
    signed,
  };
}

/** The delay before attempt `attempts + 1`: exponential, capped, with ±50 % jitter. */
export function backoffMs(attempts: number, initialMs: number, maxMs: number, random = Math.random): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.5 + random()));
}

export class SendStep {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly inFlight = new Set<number>();
  /** Validated documents whose file no longer holds the bytes validated: alerted once, not sent. */
  private readonly damaged = new Map<number, string>();

  constructor(
    private readonly store: Store,
    private config: Config,
    private readonly channel: Channel,
    private readonly log: Logger,
    private readonly events: SendEvents = {},
    /** The send journal: every attempt recorded, fsynced, before the channel is called. */
    private readonly journal: Pick<SendJournal, 'recordAttempt'> | null = null,
  ) {}

  reconfigure(config: Config): void {
    this.config = config;
  }

  /** At start: sends that were in flight when the daemon stopped are held, never resent blindly. */
  start(): void {
    for (const o of this.store.inFlightSends()) {
      this.store.holdInDoubt(
        o.documentId,
        'in doubt: the daemon stopped during the send; waiting for SdI to answer about this file',
      );
      this.log.warn(
        { event: 'send.in_doubt', documentId: o.documentId, sdiName: o.sdiName, channel: o.channel },
        `document ${o.documentId} (${o.sdiName}) was being sent when fatturad stopped: it is not sent again. ` +
          `SdI's first answer about ${o.sdiName} settles it; if none comes, check with SdI before sending it again with "fatturad resend ${o.documentId}"`,
      );
    }
    this.schedule(0);
  }

  /** Asks for a pass soon (a document was validated, a retry is due). */
  kick(): void {
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.pass()
        .catch((err: unknown) =>
          this.log.error({ event: 'send.error', err }, 'the sending step failed; retrying'),
        )
        .finally(() => {
          this.running = null;
          const next = this.again ? 0 : this.config.sending.pollMs;
          this.again = false;
          this.schedule(next);
        });
    }, ms);
    this.timer.unref();
  }

  private lastBlocked: { reason: string; at: number } | null = null;

  private async pass(): Promise<void> {
    if (!this.config.sending.enabled) return;
    // A hard stop before damage: a channel that cannot work (an expired client certificate) is
    // not used; documents wait, and the reason is logged (again every hour while it stands).
    const blocked = this.channel.blocked?.(new Date()) ?? null;
    if (blocked) {
      const waiting =
        this.store.listDocuments('validated').length + this.store.dueSends(new Date(8.64e15), 100_000).length;
      if (
        !this.lastBlocked ||
        this.lastBlocked.reason !== blocked ||
        Date.now() - this.lastBlocked.at > 3_600_000
      ) {
        this.lastBlocked = { reason: blocked, at: Date.now() };
        this.log.error(
          { event: 'send.blocked', channel: this.channel.name, reason: blocked, waiting },
          `not sending (${waiting} document(s) waiting): ${blocked}`,
        );
      }
      this.events.onBlocked?.();
      return;
    }
    if (this.lastBlocked) {
      this.log.info(
        { event: 'send.unblocked', channel: this.channel.name },
        `the ${this.channel.name} channel can be used again`,
      );
      this.lastBlocked = null;
    }
    for (const doc of this.store.listDocuments('validated')) {
      if (this.stopped) return;
      await this.begin(doc);
    }
    const due = this.store.dueSends(new Date(), 500);
    const limit = this.config.sending.concurrency;
    const queue = due.filter((o) => !this.inFlight.has(o.documentId));
    await Promise.all(
      Array.from({ length: Math.min(limit, queue.length) }, async () => {
        for (let o = queue.shift(); o && !this.stopped; o = queue.shift()) await this.attempt(o);
      }),
    );
  }

  /** validated -> sending, under an SdI file name (the ERP's, when valid and unused). */
  private async begin(doc: DocumentRow): Promise<void> {
    if (!doc.path) return;
    const bytes = await fsp.readFile(doc.path);
    if (!this.intact(doc, bytes, 'before naming it for SdI')) return;
    const facts = await sendFacts(doc.originalName, bytes);
    if (!facts) {
      this.log.error(
        { event: 'send.unreadable', documentId: doc.id, file: doc.originalName },
        'a validated document cannot be read again for sending; left validated',
      );
      return;
    }
    const ext = facts.signed ? '.xml.p7m' : '.xml';
    const keep =
      checkFileName(doc.originalName).length === 0 &&
      doc.originalName.toLowerCase().startsWith(facts.trasmittente.toLowerCase()) &&
      !this.store.sdiNameUsed(doc.originalName);
    const o = this.store.beginSending(doc.id, {
      channel: this.channel.name,
      flow: facts.flow,
      sdiName: keep ? doc.originalName : (s) => s.nextSdiName(facts.trasmittente, ext),
    });
    this.log.info(
      { event: 'send.queued', documentId: doc.id, file: doc.originalName, sdiName: o.sdiName, flow: o.flow },
      `${doc.originalName} will go to SdI as ${o.sdiName}`,
    );
  }

  private async attempt(o: OutboundRow): Promise<void> {
    const doc = this.store.getDocument(o.documentId);
    if (!doc?.path || doc.state !== 'sending') return;
    this.inFlight.add(o.documentId);
    try {
      const bytes = await fsp.readFile(doc.path);
      if (!this.intact(doc, bytes, 'before sending it', o.sdiName)) {
        // Held, not failed: restoring the file and "fatturad resend" sends it, nothing else does.
        this.store.holdInDoubt(
          o.documentId,
          `not sent: the file no longer holds the bytes that were validated (sha256 ${sha256(bytes)}, ` +
            `recorded ${doc.sha256}); put the validated file back at ${doc.path}, then "fatturad resend ${doc.id}"`,
        );
        this.events.onResult?.('held');
        return;
      }
      // Witnessed outside the store before any byte goes out (src/store/journal.ts).
      this.journal?.recordAttempt({
        documentId: doc.id,
        sdiName: o.sdiName,
        sha256: doc.sha256,
        channel: o.channel,
        flow: o.flow,
        attempt: (this.store.getOutbound(o.documentId)?.attempts ?? o.attempts) + 1,
        originalName: doc.originalName,
        entry: doc.entry,
        sourceDir: doc.sourceDir,
        path: doc.path,
        size: doc.size,
      });
      const started = this.store.markAttempt(o.documentId);
      const result = await this.channel.send({
        documentId: o.documentId,
        sdiName: o.sdiName,
        bytes,
        attempt: started.attempts,
      });
      switch (result.kind) {
        case 'accepted': {
          this.store.recordSent(o.documentId, result.identificativoSdI, {
            dataOraRicezione: result.dataOraRicezione,
            attempts: started.attempts,
          });
          this.events.onResult?.('sent');
          this.log.info(
            {
              event: 'send.accepted',
              documentId: o.documentId,
              sdiName: o.sdiName,
              identificativoSdI: result.identificativoSdI,
              attempts: started.attempts,
            },
            `${o.sdiName} taken by SdI: IdentificativoSdI ${result.identificativoSdI}`,
          );
          await this.events.onSent?.(o.documentId);
          break;
        }
        case 'handed-over':
          // The file left (PEC, SDIFTP): its IdentificativoSdI comes with SdI's first answer. It is
          // never sent again on its own, unless the transport reports that it was not delivered
          // (pipeline/inbound.ts, transport receipts).
          this.store.holdInDoubt(o.documentId, result.detail, { handedOver: true });
          if (result.ref) this.store.setTransportRef(o.documentId, result.ref);
          this.events.onResult?.('sent');
          this.log.info(
            {
              event: 'send.handed_over',
              documentId: o.documentId,
              sdiName: o.sdiName,
              attempts: started.attempts,
              detail: result.detail,
              ...(result.ref ? { ref: result.ref } : {}),
            },
            `${o.sdiName}: ${result.detail}; waiting for SdI's answer`,
          );
          break;
        case 'refused': {
          this.store.recordFailed(o.documentId, `${result.code}: ${result.reason}`, { code: result.code });
          this.events.onResult?.('failed');
          this.log.error(
            { event: 'send.refused', documentId: o.documentId, sdiName: o.sdiName, code: result.code },
            `SdI refused to take ${o.sdiName}: ${result.code} ${result.reason}`,
          );
          break;
        }
        case 'retry': {
          const { initialMs, maxMs, maxAttempts } = this.config.sending.retry;
          if (maxAttempts > 0 && started.attempts >= maxAttempts) {
            this.store.recordFailed(
              o.documentId,
              `gave up after ${started.attempts} attempts: ${result.reason}`,
              { code: result.code },
            );
            this.events.onResult?.('failed');
            this.log.error(
              {
                event: 'send.gave_up',
                documentId: o.documentId,
                sdiName: o.sdiName,
                attempts: started.attempts,
              },
              `${o.sdiName} not sent after ${started.attempts} attempts: ${result.reason}`,
            );
            break;
          }
          const delay = backoffMs(started.attempts, initialMs, maxMs);
          this.store.scheduleRetry(o.documentId, result.reason, new Date(Date.now() + delay));
          this.events.onResult?.('retry');
          this.log.warn(
            {
              event: 'send.retry',
              documentId: o.documentId,
              sdiName: o.sdiName,
              attempts: started.attempts,
              inMs: delay,
              reason: result.reason,
              code: result.code,
            },
            `${o.sdiName} not sent (${result.reason}); next attempt in ${Math.round(delay / 1000)} s`,
          );
          setTimeout(() => this.kick(), delay + 10).unref();
          break;
        }
      }
    } finally {
      this.inFlight.delete(o.documentId);
    }
  }

  /**
   * What is validated is what is sent: the bytes read for sending must have the sha256 recorded
   * when the file was taken (and validated). Otherwise an alert, once per document and content.
   */
  private intact(doc: DocumentRow, bytes: Buffer, when: string, sdiName?: string): boolean {
    const actual = sha256(bytes);
    if (actual === doc.sha256) {
      this.damaged.delete(doc.id);
      return true;
    }
    if (this.damaged.get(doc.id) !== actual) {
      this.damaged.set(doc.id, actual);
      this.log.error(
        {
          event: 'send.integrity_mismatch',
          documentId: doc.id,
          file: doc.originalName,
          path: doc.path,
          expected: doc.sha256,
          actual,
          ...(sdiName ? { sdiName } : {}),
        },
        `document ${doc.id} (${doc.originalName}) is not sent: its file changed after it was validated ` +
          `(sha256 ${actual}, validated ${doc.sha256}), checked ${when}. It is held for an operator: ` +
          `put the validated file back at ${doc.path ?? '?'}${sdiName ? `, then "fatturad resend ${doc.id}"` : ''}`,
      );
    }
    return false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
