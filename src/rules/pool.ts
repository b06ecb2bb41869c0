import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { InvoiceKey } from '../invoice/keys.js';
import { parseNotification, type ParseNotificationResult } from '../notifications/parse.js';
import { finding, type Finding } from './finding.js';
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
 *
 * Each file has a budget (validation.budget): `timeMs` of validation and `memoryMb` of heap per
 * worker (V8's resource limits). A worker that goes past either is stopped, its file gets a 00200
 * "too complex" verdict, and the other files it held are handed to a new worker. Which file a
 * worker is on is shared with this thread through a counter in shared memory, at no cost per
 * file. The workers also read SdI's messages (parseNotification) when they are large.
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

/** The per-file budget of a worker (validation.budget). */
export interface Budget {
  timeMs: number;
  memoryMb: number;
}

export const DEFAULT_BUDGET: Budget = { timeMs: 30_000, memoryMb: 512 };

/**
 * Files larger than this are worth a worker when the caller would otherwise work in its own
 * thread (received invoices and messages in the daemon, `fatturad validate`): smaller ones take
 * less time than the hand-over, and a linear parse of 64 KB cannot take long.
 */
export const OFF_THREAD_BYTES = 64 * 1024;

/** What the pool's workers are told at their start. */
export interface WorkerSetup {
  /** Int32Array [0]: how many items the worker has started so far. */
  progress: SharedArrayBuffer;
}

export type PoolItem = ValidateItem | NotificationItem;

/** Reads one SdI message (notifications/parse.ts). */
export interface NotificationItem {
  task: 'notification';
  bytes: Uint8Array;
}

export interface ValidateItem {
  task: 'validate';
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

export type PoolItemResult =
  | { ok: true; verdict: Verdict }
  | { ok: true; notification: ParseNotificationResult }
  | { ok: false; error: string };

/** The worker's answer: one result per item, in order. */
export interface PoolResponse {
  id: number;
  results: PoolItemResult[];
}

interface Job {
  item: PoolItem;
  settle: (r: PoolItemResult) => void;
}

interface Slot {
  worker: Worker;
  inflight: Map<number, Job[]>;
  /** Every job sent and not answered yet, in the order the worker takes them. */
  order: Job[];
  /** Items the worker has answered, and (in shared memory) started. */
  done: number;
  progress: Int32Array;
  /** The started count last seen by the watchdog, and since when (performance.now()). */
  seen: number;
  since: number;
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

const CLOSED = 'validation pool is closed';
const failure = (error: string): Error =>
  new Error(error === CLOSED ? CLOSED : `validation worker failed: ${error}`);

/** The verdict of a file that went past its budget: 00200, "too complex", in both languages. */
export function tooComplex(over: 'time' | 'memory', budget: Budget): Finding {
  const en =
    over === 'time'
      ? `its check took more than ${budget.timeMs / 1000} s (validation.budget.timeMs) and was stopped`
      : `its check needed more than ${budget.memoryMb} MB of memory (validation.budget.memoryMb) and was stopped`;
  const it =
    over === 'time'
      ? `la verifica ha superato ${budget.timeMs / 1000} s (validation.budget.timeMs) ed è stata interrotta`
      : `la verifica ha richiesto più di ${budget.memoryMb} MB di memoria (validation.budget.memoryMb) ed è stata interrotta`;
  return finding(
    '00200',
    `The file is too complex to check: ${en}. No valid FatturaPA file needs so much; the file is kept as it is.`,
    `Il file è troppo complesso da verificare: ${it}. Nessun file FatturaPA valido richiede tanto; il file è conservato così com'è.`,
  );
}

function overBudget(item: PoolItem, f: Finding): PoolItemResult {
  if (item.task === 'notification')
    return { ok: true, notification: { ok: false, error: f.message, errorIt: f.messageIt } };
  return {
    ok: true,
    verdict: { valid: false, errors: [f], warnings: [], info: [], keys: [], signed: 'none' },
  };
}

export class ValidationPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Job[] = [];
  private nextId = 1;
  private closed = false;
  private watchdog: NodeJS.Timeout | null = null;
  /** Files handed to workers, and those stopped over their budget (for tests and metrics). */
  readonly counts = { inWorker: 0, overBudget: 0 };

  /**
   * `size` workers; 0, or no compiled worker file beside this module, validates in-thread (with
   * no budget: nothing can stop a computation in its own thread).
   */
  constructor(
    size: number,
    private readonly budget: Budget = DEFAULT_BUDGET,
  ) {
    if (size > 0 && fs.existsSync(WORKER_FILE)) {
      for (let i = 0; i < size; i++) this.slots.push(this.spawn());
      // Checks a few times per budget whether a worker is still on the same file.
      this.watchdog = setInterval(() => this.check(), Math.max(5, Math.min(1000, budget.timeMs / 4)));
      this.watchdog.unref();
    }
  }

  get size(): number {
    return this.slots.length;
  }

  /** Stops a worker on the same file for longer than the time budget. */
  private check(): void {
    const now = performance.now();
    for (const slot of [...this.slots]) {
      const started = Atomics.load(slot.progress, 0);
      if (started !== slot.seen) {
        slot.seen = started;
        slot.since = now;
      } else if (started > slot.done && now - slot.since > this.budget.timeMs) {
        this.overBudget(slot, 'time', started);
      }
    }
  }

  /**
   * The file the worker of `slot` is on went past its budget: it gets its verdict, the other
   * files the worker held go back to the front of the queue, and a new worker takes the place.
   */
  private overBudget(slot: Slot, over: 'time' | 'memory', started?: number): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    const now = Atomics.load(slot.progress, 0);
    // The worker moved on since the watchdog looked: that file was within its budget after all.
    if (started !== undefined && now !== started) return;
    const current = now - 1 - slot.done;
    const culprit = slot.order[current];
    const others = slot.order.filter((j) => j !== culprit);
    slot.inflight.clear();
    slot.order = [];
    if (!this.closed) this.slots[i] = this.spawn();
    void slot.worker.terminate();
    if (culprit) {
      this.counts.overBudget++;
      culprit.settle(overBudget(culprit.item, tooComplex(over, this.budget)));
    }
    this.waiting.unshift(...others);
    this.pump();
  }

  /**
   * How many files a caller should keep in flight to keep every worker busy with full batches
   * (1 without workers: validation then runs in the calling thread anyway).
   */
  get capacity(): number {
    return this.slots.length === 0 ? 1 : this.slots.length * BATCH_FILES;
  }

  private spawn(): Slot {
    const progress = new SharedArrayBuffer(4);
    const setup: WorkerSetup = { progress };
    const slot: Slot = {
      worker: new Worker(WORKER_FILE, {
        workerData: setup,
        resourceLimits: { maxOldGenerationSizeMb: this.budget.memoryMb },
      }),
      inflight: new Map(),
      order: [],
      done: 0,
      progress: new Int32Array(progress),
      seen: 0,
      since: 0,
    };
    slot.worker.unref();
    slot.worker.on('message', (res: PoolResponse) => {
      const jobs = slot.inflight.get(res.id);
      slot.inflight.delete(res.id);
      if (jobs) {
        slot.done += jobs.length;
        slot.order.splice(0, jobs.length);
      }
      jobs?.forEach((job, i) => job.settle(res.results[i] ?? { ok: false, error: 'no result' }));
      // An idle worker does not keep the process alive; a busy one does (see pump()).
      if (slot.inflight.size === 0) slot.worker.unref();
      this.pump();
    });
    const fail = (err: Error): void => {
      // Out of memory: the file it was on is over its budget; the others go to a new worker.
      if ((err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY') {
        this.overBudget(slot, 'memory');
        return;
      }
      const lost = [...slot.inflight.values()].flat();
      slot.inflight.clear();
      slot.order = [];
      for (const job of lost) job.settle({ ok: false, error: err.message });
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
      slot.order.push(...jobs);
      slot.worker.ref();
      this.counts.inWorker += jobs.length;
      const req: PoolRequest = { id, items: jobs.map((j) => j.item) };
      slot.worker.postMessage(req);
    }
  }

  async validate(name: string, bytes: Buffer, opts: PoolOptions = {}): Promise<Verdict> {
    if (this.closed) throw new Error('validation pool is closed');
    const now = opts.now ?? new Date();
    if (this.slots.length === 0) return toVerdict(await validateFile(name, bytes, { ...opts, now }));
    const { trustedCAs = [], now: _now, asOf, ...rest } = opts;
    const r = await this.run({
      task: 'validate',
      name,
      bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      opts: {
        ...rest,
        trustedCAs: trustedCAs.map((b) => new Uint8Array(b)),
        now: now.getTime(),
        ...(asOf ? { asOf: asOf.getTime() } : {}),
      },
    });
    if (!r.ok) throw failure(r.error);
    if (!('verdict' in r)) throw new Error('validation worker failed: not a verdict');
    return r.verdict;
  }

  /** Reads an SdI message (parseNotification) on a worker; in this thread without workers. */
  async parseNotification(bytes: Buffer): Promise<ParseNotificationResult> {
    if (this.closed) throw new Error('validation pool is closed');
    if (this.slots.length === 0) return parseNotification(bytes);
    const r = await this.run({
      task: 'notification',
      bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    });
    if (!r.ok) throw failure(r.error);
    if (!('notification' in r)) throw new Error('validation worker failed: not a message');
    return r.notification;
  }

  private run(item: PoolItem): Promise<PoolItemResult> {
    return new Promise<PoolItemResult>((settle) => {
      this.waiting.push({ item, settle });
      // Files handed over in the same turn of the event loop share a batch.
      if (this.waiting.length === 1) queueMicrotask(() => this.pump());
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.watchdog) clearInterval(this.watchdog);
    for (const job of this.waiting.splice(0)) job.settle({ ok: false, error: CLOSED });
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}
