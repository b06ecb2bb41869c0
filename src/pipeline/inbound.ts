import fsp from 'node:fs/promises';
import path from 'node:path';
import type { InboundMessage, TransportEnvelope } from '../channels/channel.js';
import type { Config } from '../config/schema.js';
import { applyNotification } from '../lifecycle/notify.js';
import type { Logger } from '../log.js';
import { invoiceBaseName } from '../notifications/names.js';
import { parseNotification, type ParseNotificationResult } from '../notifications/parse.js';
import { checkNotificationSignature, describeSignature } from '../notifications/signature.js';
import type { Notification } from '../notifications/types.js';
import { finding, type Finding } from '../rules/finding.js';
import { sdiCodeTitle } from '../rules/sdi/catalogue.js';
import { OFF_THREAD_BYTES, ValidationPool } from '../rules/pool.js';
import { validateFile } from '../rules/validate.js';
import type { DocumentRow, NewNotification, NotificationRow, OutboundRow, Store } from '../store/store.js';
import type { DocumentState } from '../lifecycle/states.js';
import type { InvoiceKey } from '../invoice/keys.js';
import { atomicWrite, exists, sha256 } from '../util/fsx.js';
import { ReceivedSignatures, isSigned, receivedKeys, unwrappedName } from './received-p7m.js';
import { rejectDocument } from './reports.js';
import { backoffMs } from './send-step.js';

/**
 * What SdI sends back, whatever the channel: notifications drive the invoice's state through
 * the pure rule of lifecycle/notify.ts; received invoices go to the ERP's import folder. Every
 * message is first written verbatim to disk and recorded once (by sha256), and only then is the
 * channel told it may acknowledge it: nothing SdI sent is ever lost or counted twice.
 */
export interface InboundEvents {
  onNotification?: (kind: string, outcome: 'applied' | 'unchanged' | 'unmatched' | 'duplicate') => void;
  onPassive?: () => void;
  onStateChange?: () => void;
  /** A transport receipt (PEC) was recorded, with what it did. */
  onReceipt?: (outcome: string, effect: string) => void;
  /** A send was scheduled again (a failed transport receipt): the sending step should look. */
  onResend?: () => void;
}

/**
 * Messages and received invoices larger than OFF_THREAD_BYTES are read on a worker thread (the
 * validation pool's code, with its per-file budget), so that the event loop (health, intake, the
 * channels) never waits for them.
 */
export { OFF_THREAD_BYTES };

const safeName = (n: string): string => n.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120) || 'message';

/** What a notification does to the store, decided before anything is written (see InboundHandler.plan). */
type Plan =
  | { kind: 'recorded' }
  | { kind: 'unmatched' }
  | { kind: 'gone' }
  | { kind: 'unchanged'; documentId: number; current: DocumentState; reason: string }
  | {
      kind: 'move';
      documentId: number;
      doc: DocumentRow;
      out: OutboundRow;
      next: DocumentState;
      reason: string;
      errors?: Finding[];
    };

/** A rejection with a file to move into rejected/: its report is written before it is recorded. */
const needsReport = (p: Plan): p is Extract<Plan, { kind: 'move' }> =>
  p.kind === 'move' && p.next === 'rejected' && p.doc.path !== null;

export class InboundHandler {
  constructor(
    private readonly store: Store,
    private config: Config,
    private readonly log: Logger,
    private readonly events: InboundEvents = {},
  ) {}

  reconfigure(config: Config): void {
    this.config = config;
    this.signatures?.reconfigure(config);
  }

  /** Checks received .p7m signatures (validation.trustedCAs); made at the first one. */
  private signatures: ReceivedSignatures | null = null;

  /** One worker, started with the first large message (see OFF_THREAD_BYTES). */
  private pool: ValidationPool | null = null;

  private offThread(): ValidationPool {
    this.pool ??= new ValidationPool(1, this.config.validation.budget);
    return this.pool;
  }

  /** How many messages and invoices were read on the worker (for tests). */
  get readOffThread(): number {
    return this.pool?.counts.inWorker ?? 0;
  }

  /** Stops the worker, if one was started. */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.close();
  }

  /** Reads an SdI message; a large one on the worker. Never throws. */
  private async readNotification(bytes: Buffer): Promise<ParseNotificationResult> {
    if (bytes.length <= OFF_THREAD_BYTES) return parseNotification(bytes);
    try {
      return await this.offThread().parseNotification(bytes);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return {
        ok: false,
        error: `The SdI message could not be read: ${why}`,
        errorIt: `Il messaggio SdI non è leggibile: ${why}`,
      };
    }
  }

  private get messagesDir(): string {
    return path.join(this.config.dataDir, 'messages');
  }

  /** Stores verbatim bytes under a content-derived name, atomically; returns the path. */
  private async keep(dir: string, name: string, bytes: Buffer): Promise<{ file: string; sha: string }> {
    const sha = sha256(bytes);
    const file = path.join(dir, sha.slice(0, 2), `${sha.slice(0, 16)}-${safeName(name)}`);
    // atomicWrite creates the folder.
    if (!(await exists(file))) await atomicWrite(file, bytes, { fsync: this.config.intake.fsync });
    return { file, sha };
  }

  /** The channels' sink. Resolves once the message is stored; processing errors are logged, not thrown. */
  async handle(msg: InboundMessage): Promise<void> {
    if (msg.type === 'notification') await this.notification(msg);
    else if (msg.type === 'invoice') await this.passive(msg);
    else await this.receipt(msg);
  }

  /** Keeps a transport envelope verbatim beside the messages it carried; returns its path. */
  private async keepEnvelope(env: TransportEnvelope | undefined): Promise<string | null> {
    if (!env) return null;
    return (await this.keep(path.join(this.messagesDir, 'envelopes'), env.name, env.bytes)).file;
  }

  private async notification(msg: Extract<InboundMessage, { type: 'notification' }>): Promise<void> {
    const parsed = await this.readNotification(msg.bytes);
    // Both files are written (and synced) side by side: independent, each written atomically.
    const [{ file, sha }, envelopePath] = await Promise.all([
      this.keep(this.messagesDir, msg.fileName || 'notification.xml', msg.bytes),
      this.keepEnvelope(msg.envelope),
    ]);
    if (!parsed.ok) {
      // Kept verbatim all the same: an operator can look at it.
      const { isNew } = this.store.addNotification({
        sha256: sha,
        kind: 'unknown',
        family: 'unknown',
        identificativoSdI: msg.identificativoSdI ?? null,
        nomeFile: null,
        fileName: msg.fileName,
        channel: msg.channel,
        path: file,
        signature: 'unknown',
        envelopePath,
      });
      if (isNew)
        this.log.warn(
          {
            event: 'notification.unreadable',
            channel: msg.channel,
            file: msg.fileName,
            kept: file,
            error: parsed.error,
          },
          `a message from SdI could not be read; kept as ${file}`,
        );
      return;
    }
    const n = parsed.notification;
    // Best effort: recorded, logged when it fails, never a reason to drop the message.
    const signature = checkNotificationSignature(msg.bytes);
    const record: NewNotification = {
      sha256: sha,
      kind: n.kind,
      family: n.family,
      identificativoSdI: n.identificativoSdI || msg.identificativoSdI || null,
      nomeFile: n.nomeFile,
      fileName: msg.fileName,
      channel: msg.channel,
      path: file,
      signature: describeSignature(signature),
      envelopePath,
    };
    // The notification and what it does are committed together, unless a report has to be written
    // in between (a rejection): then the notification is committed first, as a separate step.
    let added: { row: NotificationRow; isNew: boolean; plan: Plan | null; done: boolean };
    try {
      added = this.store.transaction(() => {
        const { row, isNew } = this.store.addNotification(record);
        if (!isNew) return { row, isNew, plan: null, done: false };
        const plan = this.plan(row, n);
        if (needsReport(plan)) return { row, isNew, plan, done: false };
        this.record(row, n, plan);
        return { row, isNew, plan, done: true };
      });
    } catch (err) {
      // Nothing of it was committed. The notification alone, then its effect, one after the other,
      // so that a failure to apply it leaves it recorded, as it always was.
      this.log.debug(
        { event: 'notification.apply_retried', file: msg.fileName, err: String(err) },
        'recording the notification and its effect in one transaction failed; recording them apart',
      );
      const { row, isNew } = this.store.addNotification(record);
      added = { row, isNew, plan: null, done: false };
    }
    const { row, isNew } = added;
    if (!isNew) {
      this.events.onNotification?.(n.kind, 'duplicate');
      this.log.debug(
        {
          event: 'notification.duplicate',
          kind: n.kind,
          identificativoSdI: n.identificativoSdI,
          file: msg.fileName,
        },
        'the same notification again: nothing to do',
      );
      return;
    }
    if (signature.status === 'invalid')
      this.log.warn(
        {
          event: 'notification.signature_invalid',
          kind: n.kind,
          identificativoSdI: n.identificativoSdI,
          file: msg.fileName,
          reason: signature.reason,
          kept: file,
        },
        `the signature of ${msg.fileName || n.kind} does not verify (${signature.reason}); the message is processed and kept`,
      );
    if (added.done && added.plan) this.announce(row, n, added.plan);
    else await this.apply(row, n, added.plan ?? undefined);
  }

  /** Finds the document a notification is about: by IdentificativoSdI, then by the SdI file name. */
  private correlate(n: Pick<Notification, 'identificativoSdI' | 'nomeFile'>): number | undefined {
    if (n.identificativoSdI) {
      const o = this.store.findOutboundByIdSdI(n.identificativoSdI);
      if (o) return o.documentId;
    }
    if (n.nomeFile) {
      const o =
        this.store.findOutboundBySdiName(n.nomeFile) ??
        this.store.findOutboundBySdiName(`${invoiceBaseName(n.nomeFile)}.xml`) ??
        this.store.findOutboundBySdiName(`${invoiceBaseName(n.nomeFile)}.xml.p7m`);
      if (o) return o.documentId;
    }
    return undefined;
  }

  /** Applies a notification already recorded: decided, its report written if any, then recorded. */
  private async apply(row: NotificationRow, n: Notification, planned?: Plan): Promise<void> {
    const plan = planned ?? this.plan(row, n);
    let reportPath: string | undefined;
    if (needsReport(plan) && plan.doc.path && (await exists(plan.doc.path)))
      reportPath = await rejectDocument(
        { ...plan.doc, path: plan.doc.path },
        this.config,
        'sdi',
        plan.errors ?? [],
        [],
        n.kind === 'NS'
          ? {
              identificativoSdI: n.identificativoSdI ?? row.identificativoSdI ?? null,
              receivedAt: row.receivedAt,
            }
          : undefined,
      );
    this.record(row, n, plan, reportPath);
    this.announce(row, n, plan, reportPath);
  }

  /**
   * What a recorded notification does, from the store (no side effect but one: an answer that came
   * before the send was recorded records the send first).
   */
  private plan(row: NotificationRow, n: Notification): Plan {
    const kind = n.kind;
    // About received invoices: recorded, no sent invoice changes.
    if (kind === 'MT' || kind === 'EC' || kind === 'SE') return { kind: 'recorded' };
    const documentId = this.correlate(n);
    if (documentId === undefined)
      // A DT to the recipient is about an invoice received here: recorded, shown by `fatturad show`.
      return n.identificativoSdI && this.store.isReceivedIdSdI(n.identificativoSdI)
        ? { kind: 'recorded' }
        : { kind: 'unmatched' };
    const doc = this.store.getDocument(documentId);
    const out = this.store.getOutbound(documentId);
    if (!doc || !out) return { kind: 'gone' };
    // An NS whose only error is 00002 (file name already received), for a file sent more than
    // once, is about the extra copy: the first one went through and has its own answers.
    const aboutExtraCopy =
      kind === 'NS' &&
      out.attempts > 1 &&
      (n.errors ?? []).length > 0 &&
      (n.errors ?? []).every((e) => e.codice === '00002');
    // The answer came before the send was recorded (SDICoop answers fast; a crash in between).
    if (doc.state === 'sending' && n.identificativoSdI && !aboutExtraCopy)
      this.store.recordSent(documentId, n.identificativoSdI);
    const current = this.store.getDocument(documentId)?.state ?? doc.state;
    const decision = aboutExtraCopy
      ? {
          next: null,
          reason: 'NS 00002 about a second copy of a file SdI already has: the first copy stands',
        }
      : applyNotification(current, out.flow, kind, n.esito);
    if (!decision.next) return { kind: 'unchanged', documentId, current, reason: decision.reason };
    if (decision.next === 'rejected') {
      const errors = nsFindings(n);
      return {
        kind: 'move',
        documentId,
        doc,
        out,
        next: decision.next,
        reason: `SdI rejected the file (NS): ${errors.map((e) => e.code).join(', ') || 'no error list'}`,
        errors,
      };
    }
    return { kind: 'move', documentId, doc, out, next: decision.next, reason: describe(n) };
  }

  /** The store's side of a plan: one transaction at most. */
  private record(row: NotificationRow, n: Notification, plan: Plan, reportPath?: string): void {
    if (plan.kind === 'recorded') this.store.applyNotificationOutcome(row.id, 'recorded');
    else if (plan.kind === 'unchanged')
      this.store.applyNotificationOutcome(row.id, 'unchanged', plan.documentId);
    else if (plan.kind === 'move')
      this.store.applyNotification(row.id, plan.documentId, plan.next, {
        state: plan.next,
        reason: plan.reason,
        details: {
          notification: row.id,
          kind: n.kind,
          identificativoSdI: n.identificativoSdI,
          file: row.fileName,
          // The same shape as a local rejection's details (Store.transitionDetails).
          ...(plan.errors ? { findings: plan.errors } : {}),
          // NE: the administration's own words (EsitoCommittente's Descrizione).
          ...(n.kind === 'NE' && n.descrizione ? { paReason: n.descrizione } : {}),
        },
        ...(reportPath ? { path: reportPath } : {}),
      });
  }

  /** Events and log lines of a plan, once it is committed. */
  private announce(row: NotificationRow, n: Notification, plan: Plan, reportPath?: string): void {
    const kind = n.kind;
    switch (plan.kind) {
      case 'recorded':
        this.log.info(
          {
            event: 'notification.received',
            kind,
            identificativoSdI: n.identificativoSdI,
            file: row.fileName,
          },
          `${kind} for ${n.nomeFile} recorded`,
        );
        return;
      case 'unmatched':
        this.events.onNotification?.(kind, 'unmatched');
        this.log.warn(
          {
            event: 'notification.unmatched',
            kind,
            identificativoSdI: n.identificativoSdI,
            nomeFile: n.nomeFile,
            kept: row.path,
          },
          `${kind} for ${n.nomeFile} (IdentificativoSdI ${n.identificativoSdI}) matches no document sent from here; kept`,
        );
        return;
      case 'gone':
        return;
      case 'unchanged':
        this.events.onNotification?.(kind, 'unchanged');
        this.log.info(
          {
            event: 'notification.no_change',
            documentId: plan.documentId,
            kind,
            state: plan.current,
            reason: plan.reason,
          },
          `${kind} for document ${plan.documentId}: ${plan.reason}`,
        );
        return;
      case 'move': {
        this.events.onNotification?.(kind, 'applied');
        this.events.onStateChange?.();
        const level = plan.next === 'rejected' || plan.next === 'refused' ? 'warn' : 'info';
        this.log[level](
          {
            event: `invoice.${plan.next}`,
            documentId: plan.documentId,
            file: plan.doc.originalName,
            sdiName: plan.out.sdiName,
            identificativoSdI: n.identificativoSdI,
            kind,
            ...(plan.errors ? { codes: plan.errors.map((e) => e.code) } : {}),
            // NE: the administration's own words (EsitoCommittente's Descrizione), for the log and alerts.
            ...(n.kind === 'NE' && n.descrizione ? { paReason: n.descrizione } : {}),
            ...(reportPath ? { report: reportPath } : {}),
          },
          `${plan.doc.originalName}: ${plan.reason}`,
        );
      }
    }
  }

  /** Re-tries the notifications that matched no document (e.g. after a send was recorded). */
  async reconcile(): Promise<void> {
    for (const row of this.store.unmatchedNotifications()) {
      if (row.kind === 'unknown') continue;
      if (
        this.correlate({ identificativoSdI: row.identificativoSdI ?? '', nomeFile: row.nomeFile ?? '' }) ===
        undefined
      )
        continue;
      const parsed = await this.readNotification(await fsp.readFile(row.path));
      if (parsed.ok) await this.apply(row, parsed.notification);
    }
  }

  // ---- transport receipts (PEC) ----------------------------------------------------------------

  /** Finds the send a transport receipt is about: by its reference, then by the SdI name in its subject. */
  private correlateReceipt(ref: string | null, subject: string): number | undefined {
    if (ref) {
      const o = this.store.findOutboundByTransportRef(ref);
      if (o) return o.documentId;
    }
    for (const m of subject.matchAll(/[A-Za-z]{2}[A-Za-z0-9]{2,28}_[A-Za-z0-9]{5}\.(?:xml(?:\.p7m)?|zip)/g)) {
      const o = this.store.findOutboundBySdiName(m[0]);
      if (o) return o.documentId;
    }
    return undefined;
  }

  /**
   * A receipt of the transport (PEC provider): recorded against its document. A failure (non
   * accettazione, mancata consegna, virus) of the document's latest attempt, while SdI has not
   * answered, schedules the send again with the usual backoff, or fails it after
   * sending.retry.maxAttempts; SdI never had that copy, so sending it again is safe.
   */
  private async receipt(msg: Extract<InboundMessage, { type: 'transport-receipt' }>): Promise<void> {
    const { file, sha } = await this.keep(
      path.join(this.messagesDir, 'receipts'),
      `${msg.transportType}.eml`,
      msg.bytes,
    );
    // Recorded and applied in one transaction; events and log lines once it is committed.
    const done = this.store.transaction(() => this.recordReceipt(msg, file, sha));
    if (!done) return;
    const base = {
      channel: msg.channel,
      type: msg.transportType,
      outcome: msg.outcome,
      ref: msg.ref,
      ...(msg.reason ? { reason: msg.reason } : {}),
    };
    if (done.kind === 'unmatched') {
      this.events.onReceipt?.(msg.outcome, 'unmatched');
      this.log.warn(
        { event: 'transport.receipt_unmatched', ...base, subject: msg.subject, kept: file },
        `a ${msg.transportType} receipt matches no file sent from here ("${msg.subject}"); kept as ${file}`,
      );
      return;
    }
    const { documentId, out, effect } = done;
    if (done.failed) this.events.onStateChange?.();
    if (done.resendInMs !== null) setTimeout(() => this.events.onResend?.(), done.resendInMs + 10).unref();
    this.events.onReceipt?.(msg.outcome, effect.split(':')[0]?.split(' ')[0] ?? effect);
    const fields = { event: `transport.${msg.outcome}`, documentId, sdiName: out.sdiName, ...base, effect };
    const what: Record<typeof msg.outcome, string> = {
      accepted: "taken by the sender's PEC provider",
      delivered: "delivered to SdI's mailbox",
      failed: `not delivered (${msg.reason ?? msg.transportType})`,
      warning: `delayed (${msg.reason ?? msg.transportType})`,
    };
    const line = `${out.sdiName}: ${what[msg.outcome]}${effect !== 'recorded' ? `; ${effect}` : ''}`;
    if (msg.outcome === 'failed') this.log.error(fields, line);
    else if (msg.outcome === 'warning') this.log.warn(fields, line);
    else this.log.info(fields, line);
  }

  /** The store's side of a transport receipt (see receipt()): null when there is nothing to tell. */
  private recordReceipt(
    msg: Extract<InboundMessage, { type: 'transport-receipt' }>,
    file: string,
    sha: string,
  ):
    | { kind: 'unmatched' }
    | {
        kind: 'linked';
        documentId: number;
        out: OutboundRow;
        effect: string;
        failed: boolean;
        resendInMs: number | null;
      }
    | null {
    const { row, isNew } = this.store.addTransportReceipt({
      sha256: sha,
      channel: msg.channel,
      type: msg.transportType,
      outcome: msg.outcome,
      ref: msg.ref,
      subject: msg.subject,
      reason: msg.reason,
      at: msg.at,
      path: file,
    });
    if (!isNew && row.effect !== null) return null;
    const documentId = this.correlateReceipt(msg.ref, msg.subject);
    if (documentId === undefined) {
      this.store.linkTransportReceipt(row.id, null, 'unmatched');
      return { kind: 'unmatched' };
    }
    const doc = this.store.getDocument(documentId);
    const out = this.store.getOutbound(documentId);
    if (!doc || !out) return null;
    let effect = 'recorded';
    let failed = false;
    let resendInMs: number | null = null;
    const latest = msg.ref === null || out.transportRef === null || out.transportRef === msg.ref;
    if (msg.outcome === 'failed') {
      if (doc.state !== 'sending' || out.identificativoSdI !== null) effect = 'ignored: SdI already answered';
      else if (!latest) effect = 'ignored: about an earlier attempt';
      else {
        const { initialMs, maxMs, maxAttempts } = this.config.sending.retry;
        const reason = `${msg.transportType}: ${msg.reason ?? 'no reason given'}`;
        if (maxAttempts > 0 && out.attempts >= maxAttempts) {
          this.store.recordFailed(documentId, `gave up after ${out.attempts} attempts: ${reason}`, {
            receipt: row.id,
          });
          effect = 'failed';
          failed = true;
        } else {
          const delay = backoffMs(out.attempts, initialMs, maxMs);
          this.store.scheduleRetry(documentId, reason, new Date(Date.now() + delay));
          effect = `resend in ${Math.round(delay / 1000)} s`;
          resendInMs = delay;
        }
      }
    }
    this.store.linkTransportReceipt(row.id, documentId, effect);
    return { kind: 'linked', documentId, out, effect, failed, resendInMs };
  }

  // ---- received invoices ----------------------------------------------------------------------

  private async passive(msg: Extract<InboundMessage, { type: 'invoice' }>): Promise<void> {
    const dir = path.join(this.config.dataDir, 'received');
    const [inv, mt, envelopePath] = await Promise.all([
      this.keep(dir, msg.fileName, msg.bytes),
      msg.metadata.length > 0 ? this.keep(dir, msg.metadataName, msg.metadata) : null,
      this.keepEnvelope(msg.envelope),
    ]);
    const asOf = await this.receivedAt(msg.metadata);
    // A signed one is also delivered unwrapped, as .xml, for ERPs that cannot read .p7m: its
    // signature checked as of SdI's reception and recorded (a broken one still delivers both).
    const signed = isSigned(msg.fileName, msg.bytes);
    const unwrapped =
      signed && this.config.passive.unwrapP7m
        ? await (this.signatures ??= new ReceivedSignatures(this.config, this.log)).check(msg.bytes, asOf)
        : null;
    const xml = unwrapped?.content
      ? await this.keep(dir, unwrappedName(msg.fileName), unwrapped.content)
      : null;
    // Lenient: a received invoice is never refused here; problems are warnings for the accountant.
    let warnings: Finding[] = [];
    let valid = true;
    let validatedKeys: InvoiceKey[] = [];
    try {
      // Judged by the rules in force when SdI received it, and without advice meant for senders;
      // a large one on the worker, within the per-file budget.
      const opts = {
        fileName: 'off',
        asOf,
        received: true,
      } as const;
      const v =
        msg.bytes.length > OFF_THREAD_BYTES
          ? await this.offThread().validate(msg.fileName, msg.bytes, opts)
          : await validateFile(msg.fileName, msg.bytes, opts);
      valid = v.valid;
      warnings = [...v.errors, ...v.warnings];
      validatedKeys = v.keys;
    } catch (err) {
      warnings = [finding('VALIDATION-ERROR', String(err), String(err))];
    }
    const row = this.store.addPassive({
      identificativoSdI: msg.identificativoSdI,
      nomeFile: msg.fileName,
      sha256: inv.sha,
      channel: msg.channel,
      path: inv.file,
      metadataName: mt ? msg.metadataName : null,
      metadataPath: mt?.file ?? null,
      valid,
      warnings,
      envelopePath,
      xmlName: xml ? unwrappedName(msg.fileName) : null,
      xmlPath: xml?.file ?? null,
      signature: unwrapped?.signature ?? null,
      keys: receivedKeys(signed ? (unwrapped?.content ?? null) : msg.bytes, validatedKeys),
    });
    if (!row) {
      this.log.debug(
        { event: 'passive.duplicate', identificativoSdI: msg.identificativoSdI, file: msg.fileName },
        'the same received invoice again: nothing to do',
      );
      return;
    }
    this.events.onPassive?.();
    this.log.info(
      {
        event: 'passive.received',
        id: row.id,
        identificativoSdI: msg.identificativoSdI,
        file: msg.fileName,
        valid,
        warnings: warnings.map((w) => w.code),
      },
      `received invoice ${msg.fileName}${valid ? '' : ` (with ${warnings.length} findings: delivered all the same)`}`,
    );
    const sig = unwrapped?.signature;
    if (sig && sig.status !== 'valid')
      this.log.warn(
        {
          event: 'passive.signature_invalid',
          id: row.id,
          identificativoSdI: msg.identificativoSdI,
          file: msg.fileName,
          status: sig.status,
          codes: sig.findings.map((f) => f.code),
          unwrapped: xml ? unwrappedName(msg.fileName) : null,
        },
        `the signature of received invoice ${msg.fileName} ${sig.status === 'invalid' ? 'does not verify' : 'cannot be read'} ` +
          `(${sig.findings.map((f) => f.code).join(', ')}); ${xml ? `delivered all the same, with ${unwrappedName(msg.fileName)}` : 'delivered as received only'}`,
      );
    await this.deliverPassive();
  }

  /**
   * When SdI received an invoice delivered to us: the DataOraRicezione of its metadata (MT) when
   * the message carries one, else now (it has just arrived).
   */
  private async receivedAt(metadata: Buffer): Promise<Date> {
    if (metadata.length > 0) {
      const p = await this.readNotification(metadata);
      const when = p.ok ? p.notification.dataOraRicezione : undefined;
      const d = when ? new Date(when) : null;
      if (d && !Number.isNaN(d.getTime())) return d;
    }
    return new Date();
  }

  /** Writes every received invoice not yet delivered into the ERP's import folder, with its metadata beside it. */
  async deliverPassive(): Promise<void> {
    const target = this.config.passive.importDir;
    await fsp.mkdir(target, { recursive: true });
    for (const p of this.store.undeliveredPassive()) {
      const out = path.join(target, path.basename(p.nomeFile));
      // Metadata first: an ERP that picks up the invoice finds its MT already there.
      if (p.metadataPath && p.metadataName)
        await atomicWrite(
          path.join(target, path.basename(p.metadataName)),
          await fsp.readFile(p.metadataPath),
          {
            fsync: this.config.intake.fsync,
          },
        );
      // The unwrapped .xml before the .p7m: an ERP that takes the .p7m finds both.
      const xmlOut = p.xmlPath && p.xmlName ? path.join(target, path.basename(p.xmlName)) : null;
      if (xmlOut && p.xmlPath)
        await atomicWrite(xmlOut, await fsp.readFile(p.xmlPath), { fsync: this.config.intake.fsync });
      await atomicWrite(out, await fsp.readFile(p.path), { fsync: this.config.intake.fsync });
      this.store.markPassiveDelivered(p.id, out, xmlOut);
      this.log.info(
        {
          event: 'passive.delivered',
          id: p.id,
          file: p.nomeFile,
          to: out,
          ...(xmlOut ? { xml: xmlOut } : {}),
        },
        `received invoice ${p.nomeFile} written to ${target}`,
      );
    }
  }
}

/** One line about a notification, for the document's timeline. */
function describe(n: Notification): string {
  switch (n.kind) {
    case 'RC':
      return `delivered (RC) to ${n.destinatario?.codice ?? 'the recipient'}${n.dataOraConsegna ? ` at ${n.dataOraConsegna}` : ''}`;
    case 'MC':
      return n.family === 'b2b'
        ? `not deliverable (MC): available in the buyer's reserved area${n.dataMessaADisposizione ? ` since ${n.dataMessaADisposizione}` : ''}`
        : 'not delivered yet (MC): SdI keeps trying';
    case 'AT':
      return 'delivery impossible: SdI attested the transmission (AT)';
    case 'NE':
      return n.esito === 'EC01'
        ? 'accepted by the administration (NE EC01)'
        : n.esito === 'EC02'
          ? `refused by the administration (NE EC02)${n.descrizione ? `: "${n.descrizione}"` : ''}`
          : 'outcome from the administration (NE) without a readable Esito';
    case 'DT':
      return 'no outcome within 15 days (DT)';
    default:
      return n.kind;
  }
}

/** SdI's error list as findings, in the same form as local validation. */
export function nsFindings(n: Notification): Finding[] {
  return (n.errors ?? []).map((e) => {
    const title = sdiCodeTitle(e.codice);
    const hint = e.suggerimento ? ` Suggerimento: ${e.suggerimento}` : '';
    return finding(
      e.codice,
      `SdI rejected the file: ${title ?? 'see the Italian description from SdI'}.`,
      `${e.descrizione}${hint}`,
    );
  });
}
