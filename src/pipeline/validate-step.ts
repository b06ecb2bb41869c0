import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Finding } from '../rules/finding.js';
import { validateFile } from '../rules/validate.js';
import type { DocumentRow, Store } from '../store/store.js';
import { writeRejected } from './reports.js';

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

export class ValidationStep {
  private readonly queue = new Set<number>();
  private running: Promise<void> | null = null;
  private stopped = false;
  private trustedCAs: Buffer[] = [];

  constructor(
    private readonly store: Store,
    private config: Config,
    private readonly log: Logger,
    private readonly events: ValidationEvents = {},
  ) {
    this.loadCAs();
  }

  reconfigure(config: Config): void {
    this.config = config;
    this.loadCAs();
  }

  private loadCAs(): void {
    this.trustedCAs = [];
    for (const file of this.config.validation.trustedCAs) {
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
    return this.queue.size;
  }

  /** Queues every document still waiting for validation (after a restart). */
  resume(): void {
    for (const d of this.store.listDocuments('received')) this.enqueue(d);
  }

  enqueue(doc: Pick<DocumentRow, 'id'>): void {
    if (this.stopped) return;
    this.queue.add(doc.id);
    this.running ??= this.drain().finally(() => {
      this.running = null;
      if (this.queue.size > 0 && !this.stopped) this.enqueue({ id: [...this.queue][0] as number });
    });
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.clear();
    if (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    while (this.queue.size > 0 && !this.stopped) {
      const id = [...this.queue][0] as number;
      this.queue.delete(id);
      try {
        await this.validate(id);
      } catch (err) {
        this.events.onError?.();
        this.log.error(
          { event: 'validation.error', documentId: id, err },
          'validation failed unexpectedly; the document stays received and is retried at the next start',
        );
      }
    }
  }

  private async validate(id: number): Promise<void> {
    const doc = this.store.getDocument(id);
    if (!doc || doc.state !== 'received' || !doc.path) return;
    const bytes = await fsp.readFile(doc.path);
    const r = await validateFile(doc.originalName, bytes, {
      fileName: this.config.validation.fileName,
      maxFileBytes: this.config.intake.maxFileBytes,
      trustedCAs: this.trustedCAs,
      now: new Date(),
      findSent: (keys) => this.store.findSentKeys(keys, doc.id),
    });
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
    const folder = this.config.intake.folders.find((f) => f.path === doc.sourceDir);
    const out = await writeRejected({
      dir: folder?.rejectedDir ?? this.config.paths.rejected,
      name: doc.originalName,
      sha256: doc.sha256,
      tag: `d${doc.id}`,
      from: doc.path,
      fsync: this.config.intake.fsync,
      report: {
        source: { folder: doc.sourceDir, name: doc.originalName, ...(doc.entry ? { entry: doc.entry } : {}) },
        documentId: doc.id,
        sha256: doc.sha256,
        size: doc.size,
        at: new Date().toISOString(),
        stage: 'validation',
        valid: false,
        errors: r.errors,
        warnings: r.warnings,
      },
    });
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
}

function summarize(errors: Finding[]): string {
  const first = errors[0];
  if (!first) return 'invalid';
  const more = errors.length > 1 ? ` (+${errors.length - 1} more)` : '';
  return `${first.code}${first.field ? ` ${first.field}` : ''}: ${first.message}${more}`;
}
