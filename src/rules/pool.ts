import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { InvoiceKey } from '../invoice/keys.js';
import type { Finding } from './finding.js';
import { validateFile, type ValidationOptions, type ValidationResult } from './validate.js';

/**
 * Validation on worker threads: a 5 MB invoice takes a few hundred milliseconds of CPU, which
 * must not stall the daemon's event loop (intake, health, channels), and several CPUs validate
 * several files at once. Each worker validates one file at a time; the pool queues the rest.
 * With no workers (size 0, or when running from TypeScript sources) files are validated in the
 * calling thread, with the same result.
 */

/** What crosses the thread boundary: the result without the parsed tree. */
export interface Verdict {
  valid: boolean;
  errors: Finding[];
  warnings: Finding[];
  keys: InvoiceKey[];
  signed: ValidationResult['signed'];
  format?: string;
}

/** The part of a validation result that crosses the thread boundary. */
export function toVerdict(r: ValidationResult): Verdict {
  return {
    valid: r.valid,
    errors: r.errors,
    warnings: r.warnings,
    keys: r.keys,
    signed: r.signed,
    ...(r.format ? { format: r.format } : {}),
  };
}

export type PoolOptions = Omit<ValidationOptions, 'findSent' | 'now' | 'trustedCAs'> & {
  trustedCAs?: Buffer[];
  now?: Date;
};

export interface PoolRequest {
  id: number;
  name: string;
  bytes: Uint8Array;
  opts: Omit<PoolOptions, 'trustedCAs' | 'now'> & { trustedCAs: Uint8Array[]; now: number };
}

export type PoolResponse =
  { id: number; ok: true; verdict: Verdict } | { id: number; ok: false; error: string };

interface Job {
  req: PoolRequest;
  resolve: (v: Verdict) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
}

const WORKER_FILE = fileURLToPath(new URL('./validate-worker.js', import.meta.url));

/** `auto`: one worker per CPU, at most 4, at least 1. */
export function poolSize(setting: number | 'auto'): number {
  if (setting !== 'auto') return setting;
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

export class ValidationPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Job[] = [];
  private nextId = 1;
  private closed = false;

  /**
   * `size` workers; 0, or no compiled worker file beside this module, validates in-thread.
   * Files under `minBytes` are validated in the calling thread too: a typical 5 KB invoice takes
   * about 0.1 ms, less than one message round trip to a worker (measured in bench/validate.ts).
   */
  constructor(
    size: number,
    private readonly minBytes = 256 * 1024,
  ) {
    if (size > 0 && fs.existsSync(WORKER_FILE)) {
      for (let i = 0; i < size; i++) this.slots.push(this.spawn());
    }
  }

  get size(): number {
    return this.slots.length;
  }

  private spawn(): Slot {
    const slot: Slot = { worker: new Worker(WORKER_FILE), job: null };
    slot.worker.unref();
    slot.worker.on('message', (res: PoolResponse) => {
      const job = slot.job;
      slot.job = null;
      if (job) {
        if (res.ok) job.resolve(res.verdict);
        else job.reject(new Error(`validation worker failed: ${res.error}`));
      }
      this.pump();
    });
    const fail = (err: Error): void => {
      const job = slot.job;
      slot.job = null;
      job?.reject(err);
      // Replace the dead worker so the pool keeps its size.
      const i = this.slots.indexOf(slot);
      if (i >= 0 && !this.closed) {
        this.slots[i] = this.spawn();
        this.pump();
      }
    };
    slot.worker.on('error', fail);
    slot.worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`validation worker exited with code ${code}`));
    });
    return slot;
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.job) continue;
      const job = this.waiting.shift();
      if (!job) return;
      slot.job = job;
      slot.worker.postMessage(job.req);
    }
  }

  async validate(name: string, bytes: Buffer, opts: PoolOptions = {}): Promise<Verdict> {
    if (this.closed) throw new Error('validation pool is closed');
    const now = opts.now ?? new Date();
    if (this.slots.length === 0 || bytes.length < this.minBytes) {
      return toVerdict(await validateFile(name, bytes, { ...opts, now }));
    }
    const { trustedCAs = [], now: _now, ...rest } = opts;
    const req: PoolRequest = {
      id: this.nextId++,
      name,
      bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      opts: { ...rest, trustedCAs: trustedCAs.map((b) => new Uint8Array(b)), now: now.getTime() },
    };
    return new Promise<Verdict>((resolve, reject) => {
      this.waiting.push({ req, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.waiting.splice(0)) job.reject(new Error('validation pool is closed'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}
