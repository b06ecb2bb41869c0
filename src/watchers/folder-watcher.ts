import fs, { type FSWatcher } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { FolderConfig } from '../config/schema.js';
import { Conditions } from '../health/conditions.js';
import type { Logger } from '../log.js';
import { isIgnoredName } from './accept.js';
import { assess, type StabilityOptions, type Tracked } from './stability.js';
import { canonicalDir, openForWriting } from './writers.js';

/**
 * Watches drop folders (not recursive) and offers each file once it is complete.
 *
 * Events come from Node's own `fs.watch` (inotify on Linux) and only say where to look: every
 * decision comes from a fresh `stat`, and a periodic full scan catches what events miss
 * (an overflowing inotify queue, a folder on a network share, a folder re-created). chokidar was
 * measured here and left out: it re-lists and stats the whole folder on every change (at most
 * once a second), which with 20,000 waiting files cost 3.6x the throughput and 3x the memory.
 *
 * Entries that are not regular files (a FIFO, a socket, a device, a symbolic link: special.ts) are
 * looked at with lstat only, never opened nor followed, and offered at once so that intake leaves
 * them in place with one report.
 *
 * A file that looks complete but that some process still holds open for writing (see writers.ts)
 * is not offered: its writer may add to it after it was checked. It is looked at again until the
 * writer closes it.
 *
 * Each rescan also checks that every folder can be listed and written (files are taken out of it
 * by a rename): a folder that cannot is a failing health check, logged once when it starts
 * (`intake.folder_unavailable`) and once when it ends (`intake.folder_available`).
 */
export interface WatcherOptions extends StabilityOptions {
  rescanMs: number;
}

interface Candidate {
  folder: FolderConfig;
  tracked?: Tracked;
  dueAt: number;
  /** Held because a process had it open for writing (logged once). */
  heldOpen?: boolean;
  /** Not a regular file (see special.ts): offered at once, to be reported, never opened. */
  special?: boolean;
}

/** How soon a file held open by its writer is looked at again, at most. */
const OPEN_RECHECK_MS = 1000;
/**
 * One look at /proc serves the rounds of this many milliseconds (a look costs a few ms: a burst of
 * files arriving one by one would otherwise pay it per file). A writer that opens a file after that
 * look and before the claim is seen by intake, which then keeps a private copy (intake.ts).
 */
const OPEN_SCAN_TTL_MS = 100;

export class FolderWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly candidates = new Map<string, Candidate>();
  /** Files with an event since the last check: looked at first, without scanning every candidate. */
  private readonly fresh = new Set<string>();
  /** The earliest recheck among candidates not in `fresh` (a full scan happens only then). */
  private nextRecheckAt = Infinity;
  private timer: NodeJS.Timeout | null = null;
  private rescanTimer: NodeJS.Timeout | null = null;
  private checking = false;
  private closed = false;
  readonly folderHealth = new Map<string, { ok: boolean; error?: string }>();
  private readonly folderConditions = new Conditions();
  /** Folders whose watch failed and was logged (logged again only after it worked once). */
  private readonly watchFailed = new Set<string>();
  private openScan: { at: number; dirs: string; open: Set<string> } | null = null;

  constructor(
    private folders: FolderConfig[],
    private opts: WatcherOptions,
    private readonly onReady: (folder: FolderConfig, file: string) => void,
    private readonly log: Logger,
  ) {}

  get pending(): number {
    return this.candidates.size;
  }

  async start(): Promise<void> {
    for (const folder of this.folders) await this.watchFolder(folder);
    await this.rescan();
    this.rescanTimer = setInterval(() => void this.rescan(), this.opts.rescanMs);
    this.rescanTimer.unref();
    this.schedule(0);
  }

  private async watchFolder(folder: FolderConfig): Promise<void> {
    // A folder that cannot be made is reported by the rescan's probe (once, not at every retry).
    await fsp.mkdir(folder.path, { recursive: true }).catch(() => undefined);
    let w: FSWatcher;
    try {
      w = fs.watch(folder.path, { persistent: true }, (_type, name) => {
        if (name) this.observe(folder, path.join(folder.path, name.toString()));
      });
    } catch (err) {
      if (!this.watchFailed.has(folder.path)) {
        this.watchFailed.add(folder.path);
        this.log.warn(
          { event: 'intake.watch_error', folder: folder.path, err },
          'cannot watch the drop folder; periodic scans go on and the watch is retried',
        );
      }
      return;
    }
    w.on('error', (err) => {
      w.close();
      this.watchers.delete(folder.path);
      this.watchFailed.add(folder.path);
      this.log.warn(
        { event: 'intake.watch_error', folder: folder.path, err },
        'file watcher error; periodic scans go on and the watch is retried',
      );
    });
    this.watchers.set(folder.path, w);
    this.watchFailed.delete(folder.path);
    this.log.info({ event: 'intake.watching', folder: folder.path }, `watching ${folder.path}`);
  }

  /** Replaces the watched folders and timings (configuration reload). */
  async reconfigure(folders: FolderConfig[], opts: WatcherOptions): Promise<void> {
    const before = new Set(this.folders.map((f) => f.path));
    const after = new Set(folders.map((f) => f.path));
    this.opts = opts;
    this.folders = folders;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    for (const [p, c] of this.candidates) if (!after.has(c.folder.path)) this.candidates.delete(p);
    for (const f of before)
      if (!after.has(f)) {
        this.folderHealth.delete(f);
        this.folderConditions.forget(f);
      }
    for (const folder of folders) await this.watchFolder(folder);
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    this.rescanTimer = setInterval(() => void this.rescan(), this.opts.rescanMs);
    this.rescanTimer.unref();
    await this.rescan();
  }

  private observe(folder: FolderConfig, file: string): void {
    if (this.closed || path.dirname(file) !== folder.path || isIgnoredName(path.basename(file))) return;
    const c = this.candidates.get(file);
    if (c) {
      c.dueAt = Math.min(c.dueAt, Date.now());
      c.folder = folder;
    } else {
      this.candidates.set(file, { folder, dueAt: Date.now() });
    }
    this.fresh.add(file);
    this.schedule(0);
  }

  /** Lists every folder and observes every file in it; checks that each can be written. */
  async rescan(): Promise<void> {
    for (const folder of this.folders) {
      if (!this.closed && !this.watchers.has(folder.path)) await this.watchFolder(folder);
      let problem: { kind: string; detail: string } | null = null;
      try {
        const entries = await fsp.readdir(folder.path, { withFileTypes: true });
        // Everything but folders: entries that are not regular files are offered too, to be reported.
        for (const e of entries) if (!e.isDirectory()) this.observe(folder, path.join(folder.path, e.name));
        // Taking a file renames it out of the folder: that needs write (and search) permission.
        await fsp.access(folder.path, fs.constants.W_OK | fs.constants.X_OK).catch((err: unknown) => {
          problem = {
            kind: 'unwritable',
            detail: `cannot write in the drop folder (${(err as NodeJS.ErrnoException).code ?? String(err)}): no file can be taken from it`,
          };
        });
      } catch (err) {
        problem = {
          kind: 'unavailable',
          detail: `cannot list the drop folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        };
      }
      this.folderHealth.set(folder.path, problem ? { ok: false, error: problem.detail } : { ok: true });
      this.reportFolder(folder.path, problem);
    }
    this.log.debug({ event: 'intake.rescanned', folders: this.folders.length }, 'drop folders rescanned');
  }

  private reportFolder(folder: string, problem: { kind: string; detail: string } | null): void {
    const change = this.folderConditions.update(folder, problem);
    if (problem && (change === 'started' || change === 'changed'))
      this.log.warn(
        { event: 'intake.folder_unavailable', folder, state: problem.kind, reason: problem.detail },
        `${problem.detail}: ${folder}`,
      );
    else if (change === 'ended')
      this.log.info(
        { event: 'intake.folder_available', folder },
        `the drop folder ${folder} can be used again`,
      );
  }

  private schedule(delay: number): void {
    if (this.closed || this.checking) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.check(), Math.max(0, delay));
  }

  private async check(): Promise<void> {
    this.timer = null;
    this.checking = true;
    try {
      const now = Date.now();
      const dueSet = new Set(this.fresh);
      this.fresh.clear();
      if (now >= this.nextRecheckAt) {
        for (const [file, c] of this.candidates) if (c.dueAt <= now) dueSet.add(file);
        this.nextRecheckAt = Infinity;
        for (const c of this.candidates.values())
          if (c.dueAt > now) this.nextRecheckAt = Math.min(this.nextRecheckAt, c.dueAt);
      }
      const due = [...dueSet];
      const ready: string[] = [];
      for (let i = 0; i < due.length; i += 64) {
        await Promise.all(
          due.slice(i, i + 64).map(async (file) => {
            if (await this.look(file)) ready.push(file);
          }),
        );
        if (this.closed) return;
      }
      this.offerReady(ready);
    } finally {
      this.checking = false;
    }
    if (this.fresh.size > 0) this.schedule(0);
    else if (Number.isFinite(this.nextRecheckAt)) this.schedule(this.nextRecheckAt - Date.now());
  }

  /** One fresh stat of a candidate: true when it looks complete, otherwise rechecked later. */
  private async look(file: string): Promise<boolean> {
    const c = this.candidates.get(file);
    if (!c) return false;
    let st;
    try {
      // lstat: a symbolic link is looked at as itself, never followed.
      st = await fsp.lstat(file, { bigint: true });
    } catch {
      this.candidates.delete(file);
      return false;
    }
    if (st.isDirectory()) {
      this.candidates.delete(file);
      return false;
    }
    if (!st.isFile()) {
      // A FIFO, a socket, a device or a link: nothing to wait for; intake reports it (once).
      c.special = true;
      return true;
    }
    c.special = false;
    const a = assess(
      c.tracked,
      { size: Number(st.size), mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs },
      Date.now(),
      this.opts,
    );
    c.tracked = a.tracked;
    if (a.ready) return true;
    c.dueAt = a.recheckAt;
    this.nextRecheckAt = Math.min(this.nextRecheckAt, a.recheckAt);
    return false;
  }

  /**
   * Offers the files that look complete, except those a process still holds open for writing
   * (one look at /proc for them all): those are looked at again soon, and taken once closed.
   */
  private offerReady(ready: string[]): void {
    if (ready.length === 0) return;
    const byDir = new Map<string, string>();
    for (const file of ready) {
      const dir = path.dirname(file);
      if (!byDir.has(dir)) byDir.set(dir, canonicalDir(dir));
    }
    const now = Date.now();
    const dirs = [...new Set(byDir.values())].sort();
    const key = dirs.join('\0');
    const cached = this.openScan;
    const open =
      cached && now - cached.at < OPEN_SCAN_TTL_MS && dirs.every((d) => cached.dirs.split('\0').includes(d))
        ? cached.open
        : openForWriting(dirs);
    if (open !== cached?.open) this.openScan = { at: now, dirs: key, open };
    for (const file of ready) {
      const c = this.candidates.get(file);
      if (!c) continue;
      if (c.special) {
        this.candidates.delete(file);
        this.onReady(c.folder, file);
        continue;
      }
      const canonical = path.join(byDir.get(path.dirname(file)) ?? path.dirname(file), path.basename(file));
      if (open.has(canonical)) {
        if (!c.heldOpen) {
          c.heldOpen = true;
          this.log.info(
            { event: 'intake.open_for_writing', file, folder: c.folder.path },
            `${path.basename(file)} is still open for writing by another process: taken once it is closed`,
          );
        }
        // Looked at again like a file that changed: complete only once closed (and stable again).
        c.tracked = undefined;
        c.dueAt = now + Math.min(OPEN_RECHECK_MS, Math.max(this.opts.stableMs, 50));
        this.nextRecheckAt = Math.min(this.nextRecheckAt, c.dueAt);
        continue;
      }
      this.candidates.delete(file);
      this.onReady(c.folder, file);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.candidates.clear();
    this.fresh.clear();
  }
}
