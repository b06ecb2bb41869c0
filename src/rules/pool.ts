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
 * several files at once. Files waiting for a worker travel in batches (up to 64 files or 1 MB
 * per message, two messages in flight per worker): a typical 5 KB invoice takes less CPU to
 * validate than one message round trip, so sending small files one by one would make the pool
 * slower than a single thread (measured in bench/validate.ts). With no workers (size 0, or when
 * running from TypeScript sources) files are validated in the calling thread, with the same
 * result.
 */

/** What crosses the thread boundary: the result without the parsed tree. */
export interface Verdict {
  valid: boolean;
  errors: Finding[];
  warnings: Finding[];
  info: Finding[];
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
    info: r.info,
    keys: r.keys,
    signed: r.signed,
    ...(r.format ? { format: r.format } : {}),
  };
}

export type PoolOptions = Omit<ValidationOptions, 'findSent' | 'now' | 'asOf' | 'trustedCAs'> & {
  trustedCAs?: Buffer[];
  now?: Date;
  asOf?: Date;
};

export interface PoolItem {
  name: string;
  bytes: Uint8Array;
  /** Dates cross the thread boundary as milliseconds. */
  opts: Omit<PoolOptions, 'trustedCAs' | 'now' | 'asOf'> & {
    trustedCAs: Uint8Array[];
    now: number;
    asOf?: number;
  };
}

/** One message to a worker: a batch of files. */
export interface PoolRequest {
  id: number;
  items: PoolItem[];
}

export type PoolItemResult = { ok: true; verdict: Verdict } | { ok: false; error: string };

/** The worker's answer: one result per item, in order. */
export interface PoolResponse {
  id: number;
  results: PoolItemResult[];
}

interface Job {
  item: PoolItem;
  resolve: (v: Verdict) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  inflight: Map<number, Job[]>;
}

/** A batch closes at this many files or bytes (a large file travels alone). */
const BATCH_FILES = 64;
const BATCH_BYTES = 1024 * 1024;
/** Batches queued per worker: the next one is already there when the worker finishes one. */
const INFLIGHT_PER_WORKER = 2;

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

  /** `size` workers; 0, or no compiled worker file beside this module, validates in-thread. */
  constructor(size: number) {
    if (size > 0 && fs.existsSync(WORKER_FILE)) {
      for (let i = 0; i < size; i++) this.slots.push(this.spawn());
    }
  }

  get size(): number {
    return this.slots.length;
  }

  /**
   * How many files a caller should keep in flight to keep every worker busy with full batches
   * (1 without workers: validation then runs in the calling thread anyway).
   */
  get capacity(): number {
    return this.slots.length === 0 ? 1 : this.slots.length * BATCH_FILES;
  }

  private spawn(): Slot {
    const slot: Slot = { worker: new Worker(WORKER_FILE), inflight: new Map() };
    slot.worker.unref();
    slot.worker.on('message', (res: PoolResponse) => {
      const jobs = slot.inflight.get(res.id);
      slot.inflight.delete(res.id);
      jobs?.forEach((job, i) => {
        const r = res.results[i];
        if (r?.ok) job.resolve(r.verdict);
        else job.reject(new Error(`validation worker failed: ${r ? r.error : 'no result'}`));
      });
      this.pump();
    });
    const fail = (err: Error): void => {
      const lost = [...slot.inflight.values()].flat();
      slot.inflight.clear();
      for (const job of lost) job.reject(err);
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
    while (this.waiting.length > 0) {
      // The least busy worker, if any has room.
      let slot: Slot | undefined;
      for (const s of this.slots) {
        if (s.inflight.size < INFLIGHT_PER_WORKER && (!slot || s.inflight.size < slot.inflight.size))
          slot = s;
      }
      if (!slot) return;
      const jobs: Job[] = [];
      let bytes = 0;
      while (this.waiting.length > 0 && jobs.length < BATCH_FILES) {
        const next = this.waiting[0] as Job;
        if (jobs.length > 0 && bytes + next.item.bytes.byteLength > BATCH_BYTES) break;
        jobs.push(next);
        bytes += next.item.bytes.byteLength;
        this.waiting.shift();
      }
      const id = this.nextId++;
      slot.inflight.set(id, jobs);
      const req: PoolRequest = { id, items: jobs.map((j) => j.item) };
      slot.worker.postMessage(req);
    }
  }

  async validate(name: string, bytes: Buffer, opts: PoolOptions = {}): Promise<Verdict> {
    if (this.closed) throw new Error('validation pool is closed');
    const now = opts.now ?? new Date();
    if (this.slots.length === 0) return toVerdict(await validateFile(name, bytes, { ...opts, now }));
    const { trustedCAs = [], now: _now, asOf, ...rest } = opts;
    const item: PoolItem = {
      name,
      bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      opts: {
        ...rest,
        trustedCAs: trustedCAs.map((b) => new Uint8Array(b)),
        now: now.getTime(),
        ...(asOf ? { asOf: asOf.getTime() } : {}),
      },
    };
    return new Promise<Verdict>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      // Files handed over in the same turn of the event loop share a batch.
      if (this.waiting.length === 1) queueMicrotask(() => this.pump());
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.waiting.splice(0)) job.reject(new Error('validation pool is closed'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}
