import fsp from 'node:fs/promises';
import path from 'node:path';
import chokidar, { type FSWatcher } from 'chokidar';
import type { FolderConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { isIgnoredName } from './accept.js';
import { assess, type StabilityOptions, type Tracked } from './stability.js';

/**
 * Watches drop folders (chokidar, not recursive) and offers each file once it is complete.
 * File-system events only say where to look: every decision comes from a fresh `stat`, and a
 * periodic full scan catches what the events missed (overflowing inotify queues, network shares).
 */
export interface WatcherOptions extends StabilityOptions {
  rescanMs: number;
}

interface Candidate {
  folder: FolderConfig;
  tracked?: Tracked;
  dueAt: number;
}

export class FolderWatcher {
  private watchers: FSWatcher[] = [];
  private readonly candidates = new Map<string, Candidate>();
  private timer: NodeJS.Timeout | null = null;
  private rescanTimer: NodeJS.Timeout | null = null;
  private checking = false;
  private closed = false;
  readonly folderHealth = new Map<string, { ok: boolean; error?: string }>();

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
    try {
      await fsp.mkdir(folder.path, { recursive: true });
      this.folderHealth.set(folder.path, { ok: true });
    } catch (err) {
      this.folderHealth.set(folder.path, { ok: false, error: (err as Error).message });
      this.log.error(
        { event: 'intake.folder_unavailable', folder: folder.path, err },
        'cannot create the drop folder',
      );
    }
    const w = chokidar.watch(folder.path, {
      depth: 0,
      ignoreInitial: true,
      persistent: true,
      ignorePermissionErrors: true,
      ignored: (p: string) => p !== folder.path && isIgnoredName(path.basename(p)),
    });
    w.on('add', (p) => this.observe(folder, p));
    w.on('change', (p) => this.observe(folder, p));
    w.on('unlink', (p) => this.candidates.delete(p));
    w.on('error', (err) => {
      this.folderHealth.set(folder.path, { ok: false, error: String(err) });
      this.log.warn(
        { event: 'intake.watch_error', folder: folder.path, err },
        'file watcher error; periodic scans go on',
      );
    });
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
    this.watchers.push(w);
    this.log.info({ event: 'intake.watching', folder: folder.path }, `watching ${folder.path}`);
  }

  /** Replaces the watched folders and timings (configuration reload). */
  async reconfigure(folders: FolderConfig[], opts: WatcherOptions): Promise<void> {
    const before = new Set(this.folders.map((f) => f.path));
    const after = new Set(folders.map((f) => f.path));
    this.opts = opts;
    this.folders = folders;
    for (const w of this.watchers) await w.close();
    this.watchers = [];
    for (const [p, c] of this.candidates) if (!after.has(c.folder.path)) this.candidates.delete(p);
    for (const f of before) if (!after.has(f)) this.folderHealth.delete(f);
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
    this.schedule(0);
  }

  /** Lists every folder and observes every file in it. */
  async rescan(): Promise<void> {
    for (const folder of this.folders) {
      try {
        const entries = await fsp.readdir(folder.path, { withFileTypes: true });
        this.folderHealth.set(folder.path, { ok: true });
        for (const e of entries) if (e.isFile()) this.observe(folder, path.join(folder.path, e.name));
      } catch (err) {
        this.folderHealth.set(folder.path, { ok: false, error: (err as Error).message });
        this.log.warn(
          { event: 'intake.folder_unavailable', folder: folder.path, err },
          'cannot list the drop folder',
        );
      }
    }
  }

  private schedule(delay: number): void {
    if (this.closed || this.checking) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.check(), Math.max(0, delay));
  }

  private async check(): Promise<void> {
    this.timer = null;
    this.checking = true;
    let next = Infinity;
    try {
      const now = Date.now();
      const due = [...this.candidates].filter(([, c]) => c.dueAt <= now);
      for (let i = 0; i < due.length; i += 64) {
        await Promise.all(
          due.slice(i, i + 64).map(async ([file, c]) => {
            let st;
            try {
              st = await fsp.stat(file, { bigint: true });
            } catch {
              this.candidates.delete(file);
              return;
            }
            if (!st.isFile()) {
              this.candidates.delete(file);
              return;
            }
            const a = assess(
              c.tracked,
              { size: Number(st.size), mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs },
              Date.now(),
              this.opts,
            );
            if (a.ready) {
              this.candidates.delete(file);
              this.onReady(c.folder, file);
            } else {
              c.tracked = a.tracked;
              c.dueAt = a.recheckAt;
            }
          }),
        );
        if (this.closed) return;
      }
      for (const c of this.candidates.values()) next = Math.min(next, c.dueAt);
    } finally {
      this.checking = false;
    }
    if (Number.isFinite(next)) this.schedule(next - Date.now());
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    await Promise.all(this.watchers.map((w) => w.close()));
    this.watchers = [];
    this.candidates.clear();
  }
}
