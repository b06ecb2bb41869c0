import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { parseNotification } from '../notifications/parse.js';
import { OutcomeStore, type OutcomeSource } from '../store/outcomes-store.js';
import type { NotificationRow, Store } from '../store/store.js';
import { fsyncDir, sha256 } from '../util/fsx.js';
import {
  buildRecord,
  CSV_HEADER,
  csvLine,
  notificationIdOf,
  OUTCOME_STATES,
  outcomeName,
  safeFileName,
  type MessageFacts,
  type OutcomeRecord,
} from './record.js';

/**
 * The outcomes folder (docs/outcomes.md): for every state change of a document the ERP dropped,
 * one small JSON file it can poll, SdI's message beside it, and optionally one line in
 * outcomes.csv. The state changes are read from the store after they are committed (the store's
 * transitions are the truth), so a crash between a commit and its file only delays the file: the
 * next pass (at the next start at the latest) writes it. Files appear whole (temp name in .tmp/,
 * fsync, hard link to the final name, which never replaces a file) and nothing is ever
 * overwritten; the ERP may delete what it has read.
 */
export interface OutcomeEvents {
  onWritten?: (state: string) => void;
}

/** Test-only fault injection: the process kills itself at the named step (crash tests). */
function crashPoint(name: string): void {
  if (process.env.TEST_CRASH_AT === name) process.kill(process.pid, 'SIGKILL');
}

const BATCH = 200;
const POLL_MS = 2000;
/** How much of the end of outcomes.csv is read at a start to find the lines already there. */
const CSV_TAIL = 256 * 1024;

export class OutcomeWriter {
  private readonly ostore: OutcomeStore;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  /** Ids already in outcomes.csv (read from its end at the first pass): never a second line. */
  private csvSeen: Set<number> | null = null;
  /** Outcome files written since the start (for tests and metrics). */
  written = 0;

  constructor(
    private readonly store: Store,
    private config: Config,
    private readonly log: Logger,
    private readonly events: OutcomeEvents = {},
  ) {
    this.ostore = new OutcomeStore(store.db);
  }

  reconfigure(config: Config): void {
    this.config = config;
  }

  private get dir(): string {
    return this.config.outcomes.dir;
  }

  private get tmpDir(): string {
    return path.join(this.dir, '.tmp');
  }

  /** The folder made, the cursor set (first use), leftovers of a crash removed; then a first pass. */
  async start(): Promise<void> {
    this.ostore.cursor();
    try {
      await fsp.mkdir(this.tmpDir, { recursive: true });
      for (const f of await fsp.readdir(this.tmpDir))
        await fsp.rm(path.join(this.tmpDir, f), { force: true });
    } catch (err) {
      // Not a reason to stop the daemon: the passes retry, and the pipeline goes on meanwhile.
      this.failed(err);
    }
    this.kick();
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.pass()
        .then(() => this.resumed())
        .catch((err: unknown) => this.failed(err))
        .finally(() => {
          this.running = null;
          const again = this.again;
          this.again = false;
          if (again) this.kick();
          else if (!this.stopped) {
            this.timer = setTimeout(() => this.kick(), POLL_MS);
            this.timer.unref();
          }
        });
    }, 0);
    this.timer.unref();
  }

  /** The folder cannot be written: logged once when it starts (then at debug level), retried. */
  private failing = false;

  private failed(err: unknown): void {
    const fields = { event: 'outcomes.write_failed', dir: this.dir, err: String(err) };
    const line = `outcome files cannot be written to ${this.dir} (${String(err)}); retrying, nothing is skipped`;
    if (this.failing) this.log.debug(fields, line);
    else this.log.error(fields, line);
    this.failing = true;
  }

  private resumed(): void {
    if (!this.failing) return;
    this.failing = false;
    this.log.info(
      { event: 'outcomes.write_resumed', dir: this.dir },
      `outcome files are written to ${this.dir} again; the missing ones were written`,
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Resolves when every state change committed so far has its file. */
  async idle(): Promise<void> {
    while (this.running || this.ostore.behind() > 0) {
      if (!this.running) this.kick();
      await (this.running ?? new Promise((r) => setTimeout(r, 10)));
    }
  }

  /** Writes the files of every state change after the cursor, a batch at a time. */
  async pass(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const after = this.ostore.cursor();
      const batch = this.ostore.after(after, BATCH);
      if (batch.length === 0) return;
      const last = batch[batch.length - 1]?.transitionId ?? after;
      const todo = batch.filter((s) => OUTCOME_STATES.has(s.to));
      if (todo.length > 0) crashPoint('outcome-before-write');
      const written: { transitionId: number; file: string; record: OutcomeRecord }[] = [];
      for (const s of todo) written.push(await this.writeOne(s));
      if (written.length > 0) {
        await fsyncDir(this.dir);
        if (this.config.outcomes.csv) await this.appendCsv(written);
        crashPoint('outcome-before-mark');
      }
      this.ostore.markWritten(written, last, new Date().toISOString());
      for (const w of written) {
        this.written++;
        this.events.onWritten?.(w.record.state);
        this.log.debug(
          { event: 'outcomes.written', documentId: w.record.document, state: w.record.state, file: w.file },
          `outcome ${w.file} written`,
        );
      }
    }
  }

  /** SdI's message behind a transition: copied beside the outcome, read for its Descrizione. */
  private async message(s: OutcomeSource): Promise<MessageFacts | null> {
    const id = notificationIdOf(s.details);
    if (id === null) return null;
    const row = this.store.notificationsOf(s.documentId).find((n) => n.id === id);
    if (!row) return null;
    let bytes: Buffer;
    try {
      bytes = await fsp.readFile(row.path);
    } catch {
      return null;
    }
    const file = await this.copyMessage(row, bytes);
    let descrizione: string | undefined;
    if (row.kind === 'NE' || row.kind === 'MC' || row.kind === 'DT' || row.kind === 'AT') {
      const p = parseNotification(bytes);
      if (p.ok) descrizione = p.notification.descrizione;
    }
    return { kind: row.kind, file, receivedAt: row.receivedAt, ...(descrizione ? { descrizione } : {}) };
  }

  /** SdI's message under the name SdI gave it; a different file already there keeps its name. */
  private async copyMessage(row: NotificationRow, bytes: Buffer): Promise<string> {
    const name = safeFileName(row.fileName || `${row.kind}_${row.sha256.slice(0, 16)}.xml`);
    const dot = name.toLowerCase().endsWith('.xml') ? name.length - 4 : name.length;
    const sha = sha256(bytes);
    for (let n = 1; ; n++) {
      const candidate = n === 1 ? name : `${name.slice(0, dot)}.${n}${name.slice(dot)}`;
      const target = path.join(this.dir, candidate);
      const existing = await readIfExists(target);
      if (existing !== null) {
        if (sha256(existing) === sha) return candidate;
        continue;
      }
      if (await this.place(target, bytes)) return candidate;
    }
  }

  /** One outcome file: the one already written for this state change, else a new name. */
  private async writeOne(
    s: OutcomeSource,
  ): Promise<{ transitionId: number; file: string; record: OutcomeRecord }> {
    const record = buildRecord(s, await this.message(s));
    const bytes = Buffer.from(`${JSON.stringify(record, null, 2)}\n`);
    for (let n = 1; ; n++) {
      const candidate = outcomeName(s.originalName, s.to, n);
      const target = path.join(this.dir, candidate);
      const existing = await readIfExists(target);
      if (existing !== null) {
        // Written before a crash (its id inside): not written twice.
        if (idOf(existing) === s.transitionId)
          return { transitionId: s.transitionId, file: candidate, record };
        continue;
      }
      if (await this.place(target, bytes)) return { transitionId: s.transitionId, file: candidate, record };
    }
  }

  /**
   * Writes `bytes` under a temp name in .tmp/, fsyncs it and links it to `target`: the file
   * appears whole, and a file already at `target` is never replaced (false: the name is taken).
   * The caller fsyncs the folder.
   */
  private async place(target: string, bytes: Buffer): Promise<boolean> {
    const tmp = path.join(this.tmpDir, `${path.basename(target)}.${process.pid}.tmp`);
    await fsp.mkdir(this.tmpDir, { recursive: true });
    const fh = await fsp.open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fsp.link(tmp, target);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  /** One line per outcome in outcomes.csv (a header when it is new), appended and fsynced. */
  private async appendCsv(written: readonly { file: string; record: OutcomeRecord }[]): Promise<void> {
    const file = path.join(this.dir, 'outcomes.csv');
    const seen = (this.csvSeen ??= await csvIds(file));
    const lines = written.filter((w) => !seen.has(w.record.id)).map((w) => csvLine(w.record, w.file));
    if (lines.length === 0) return;
    const fh = await fsp.open(
      file,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND,
      0o644,
    );
    try {
      const { size } = await fh.stat();
      await fh.writeFile(`${size === 0 ? `${CSV_HEADER}\n` : ''}${lines.join('')}`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    for (const w of written) seen.add(w.record.id);
  }
}

async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function idOf(bytes: Buffer): number | null {
  try {
    const id = (JSON.parse(bytes.toString('utf8')) as { id?: unknown }).id;
    return typeof id === 'number' ? id : null;
  } catch {
    return null;
  }
}

/**
 * The ids of the lines at the end of outcomes.csv. A last line without its newline (a crash in
 * the middle of an append) is cut off first, so the file holds whole lines only.
 */
async function csvIds(file: string): Promise<Set<number>> {
  const ids = new Set<number>();
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return ids;
    throw err;
  }
  try {
    const { size } = await fh.stat();
    const start = Math.max(0, size - CSV_TAIL);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    const lastNl = buf.lastIndexOf(0x0a);
    if (size > 0 && lastNl !== buf.length - 1) {
      await fh.truncate(start + lastNl + 1);
      await fh.sync();
    }
    for (const line of buf
      .subarray(0, lastNl + 1)
      .toString('utf8')
      .split('\n')) {
      const m = /^(\d+),/.exec(line);
      if (m?.[1]) ids.add(Number(m[1]));
    }
  } finally {
    await fh.close();
  }
  return ids;
}
