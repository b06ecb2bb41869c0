import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Finding } from '../rules/finding.js';
import { OFF_THREAD_BYTES, ValidationPool, poolSize } from '../rules/pool.js';
import { TSL, TslAnchors } from '../trust/anchors.js';
import { duplicateFindings } from '../rules/validate.js';
import type { DocumentRow, Store } from '../store/store.js';
import { sha256 } from '../util/fsx.js';
import { rejectDocument } from './reports.js';

/**
 * The validation step of the pipeline: every `received` document is checked as SdI would; a
 * valid one becomes `validated` (with its invoice keys, for the uniqueness check), an invalid one
 * goes to rejected/ with its report. Idempotent: a crash between the report and the commit only
 * repeats the step, which reuses the copy already written.
 */
export interface ValidationEvents {
  onResult?: (result: 'validated' | 'rejected') => void;
  onError?: () => void;
}

/** Bytes of documents read and not yet judged, at most (one larger file always goes alone). */
const MAX_BYTES_IN_FLIGHT = 32 * 1024 * 1024;

export class ValidationStep {
  private readonly queue = new Set<number>();
  private readonly inProgress = new Set<number>();
  private readonly active = new Set<Promise<void>>();
  private stopped = false;
  private trustedCAs: Buffer[] = [];
  /** The kept trusted list when validation.trustedCAs names it. */
  private tsl: TslAnchors | null = null;
  private readonly pool: ValidationPool;
  /**
   * With validation.workers 0 (every file in this thread), the one worker that still takes files
   * over OFF_THREAD_BYTES: in this thread nothing could stop a file past validation.budget, and
   * one hostile file would freeze the daemon. Made at the first such file.
   */
  private large: ValidationPool | null = null;
  /** validation.budget as at the start (it changes only with a restart, as the workers). */
  private readonly budget: Config['validation']['budget'];
  private readonly concurrency: number;
  private bytesInFlight = 0;
  /** Documents whose file no longer holds the bytes recorded at claim: alerted once per content. */
  private readonly damaged = new Map<number, string>();

  constructor(
    private readonly store: Store,
    private config: Config,
    private readonly log: Logger,
    private readonly events: ValidationEvents = {},
  ) {
    this.loadCAs();
    this.budget = config.validation.budget;
    this.pool = new ValidationPool(poolSize(config.validation.workers), this.budget);
    // Enough files in flight for the workers to get full batches, within a memory bound.
    this.concurrency = this.pool.capacity;
  }

  /** Takes the new trusted CAs and rules; the number of workers changes only with a restart. */
  reconfigure(config: Config): void {
    this.config = config;
    this.loadCAs();
  }

  private loadCAs(): void {
    this.trustedCAs = [];
    this.tsl = this.config.validation.trustedCAs.includes(TSL) ? new TslAnchors(this.config, this.log) : null;
    for (const file of this.config.validation.trustedCAs) {
      if (file === TSL) continue;
      try {
        this.trustedCAs.push(fs.readFileSync(file));
      } catch (err) {
        this.log.error(
          { event: 'validation.ca_unreadable', file, err },
          'a trusted CA file cannot be read; signatures are checked without it',
        );
      }
    }
  }

  get queued(): number {
    return this.queue.size + this.inProgress.size;
  }

  get workers(): number {
    return this.pool.size;
  }

  /** Queues every document still waiting for validation (after a restart). */
  resume(): void {
    for (const d of this.store.listDocuments('received')) this.enqueue(d);
  }

  enqueue(doc: Pick<DocumentRow, 'id'>): void {
    if (this.stopped || this.inProgress.has(doc.id)) return;
    this.queue.add(doc.id);
    this.kick();
  }

  private kick(): void {
    while (!this.stopped && this.active.size < this.concurrency && this.queue.size > 0) {
      const id = this.queue.values().next().value as number;
      const size = this.store.getDocument(id)?.size ?? 0;
      if (this.active.size > 0 && this.bytesInFlight + size > MAX_BYTES_IN_FLIGHT) return;
      this.queue.delete(id);
      this.inProgress.add(id);
      this.bytesInFlight += size;
      const run: Promise<void> = this.validate(id)
        .catch((err: unknown) => {
          this.events.onError?.();
          this.log.error(
            { event: 'validation.error', documentId: id, err },
            'validation failed unexpectedly; the document stays received and is retried at the next start',
          );
        })
        .finally(() => {
          this.bytesInFlight -= size;
          this.inProgress.delete(id);
          this.active.delete(run);
          this.kick();
        });
      this.active.add(run);
    }
  }

  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.all([...this.active]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.clear();
    await this.idle();
    await this.pool.close();
    await this.large?.close();
  }

  private async validate(id: number): Promise<void> {
    const doc = this.store.getDocument(id);
    if (!doc || doc.state !== 'received' || !doc.path) return;
    // What is validated is what is sent: the bytes read once, their sha256 compared with the one
    // recorded when the file was taken, and those bytes validated (never the file read again).
    const bytes = await fsp.readFile(doc.path);
    if (!this.intact(doc, bytes)) return;
    // A trusted list configured but unusable (missing, too old): the CA is not checked at all.
    const anchors = this.tsl?.current();
    const pool =
      this.pool.size === 0 && bytes.length > OFF_THREAD_BYTES
        ? (this.large ??= new ValidationPool(1, this.budget))
        : this.pool;
    const verdict = await pool.validate(doc.originalName, bytes, {
      fileName: this.config.validation.fileName,
      maxFileBytes: this.config.intake.maxFileBytes,
      trustedCAs: anchors === null ? [] : this.trustedCAs,
      trustAnchors: anchors ?? [],
      now: new Date(),
    });
    if (this.store.getDocument(id)?.state !== 'received') return;
    // The uniqueness check (00404) and the commit run in one synchronous stretch, so two files
    // validated in parallel cannot both pass with the same invoice.
    const duplicates = verdict.valid
      ? duplicateFindings(verdict.keys, (keys) => this.store.findSentKeys(keys, doc.id))
      : [];
    const r = {
      ...verdict,
      errors: [...verdict.errors, ...duplicates],
      valid: verdict.valid && duplicates.length === 0,
    };
    if (r.valid) {
      this.store.markValidated(doc.id, r.keys, 'valid', {
        warnings: r.warnings,
        signed: r.signed,
        format: r.format,
      });
      this.events.onResult?.('validated');
      this.log.info(
        {
          event: 'validation.passed',
          documentId: doc.id,
          file: doc.originalName,
          format: r.format,
          signed: r.signed,
          warnings: r.warnings.map((w) => w.code),
        },
        `valid: ${doc.originalName}${r.warnings.length ? ` (${r.warnings.length} warnings)` : ''}`,
      );
      return;
    }
    const out = await rejectDocument(
      { ...doc, path: doc.path },
      this.config,
      'validation',
      r.errors,
      r.warnings,
    );
    const reason = summarize(r.errors);
    this.store.transition(doc.id, 'rejected', reason, r.errors, { path: out });
    await fsp.rm(doc.path, { force: true });
    this.events.onResult?.('rejected');
    this.log.warn(
      {
        event: 'validation.rejected',
        documentId: doc.id,
        file: doc.originalName,
        codes: [...new Set(r.errors.map((e) => e.code))],
        output: out,
      },
      `rejected ${doc.originalName}: ${reason}`,
    );
  }

  /** The bytes read have the sha256 recorded at claim; otherwise one alert per document and content. */
  private intact(doc: DocumentRow, bytes: Buffer): boolean {
    const actual = sha256(bytes);
    if (actual === doc.sha256) {
      this.damaged.delete(doc.id);
      return true;
    }
    if (this.damaged.get(doc.id) !== actual) {
      this.damaged.set(doc.id, actual);
      this.events.onError?.();
      // The sending step's alert (send-step.ts): one event for "the spool file is not what was taken".
      this.log.error(
        {
          event: 'send.integrity_mismatch',
          step: 'validation',
          documentId: doc.id,
          file: doc.originalName,
          path: doc.path,
          expected: doc.sha256,
          actual,
        },
        `document ${doc.id} (${doc.originalName}) is not validated: its file changed after it was taken ` +
          `(sha256 ${actual}, taken ${doc.sha256}). It stays received, neither validated nor sent: ` +
          `put the file taken back at ${doc.path ?? '?'}; it is validated at the next start`,
      );
    }
    return false;
  }
}

function summarize(errors: Finding[]): string {
  const first = errors[0];
  if (!first) return 'invalid';
  const more = errors.length > 1 ? ` (+${errors.length - 1} more)` : '';
  return `${first.code}${first.field ? ` ${first.field}` : ''}: ${first.message}${more}`;
}
