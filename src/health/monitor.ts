import fsp from 'node:fs/promises';
import type { Config } from '../config/schema.js';
import { formatBytes } from '../watchers/accept.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import { Conditions } from './conditions.js';

/**
 * Looks, every `health.checkMs`, at what no step notices on its own until work is lost: the free
 * space of the data folder (nearly full below `health.minFreeBytes` or `health.minFreePercent`,
 * full at zero) and whether the store can still commit (one small durable write). Each condition
 * is a failing `/healthz` check while it lasts, logged once when it starts and once when it ends.
 */
export interface DiskSpace {
  /** Bytes an unprivileged process may still write. */
  free: number;
  total: number;
}

/** Measures the file system holding `dir`. */
export type DiskProbe = (dir: string) => Promise<DiskSpace>;

export const statfsProbe: DiskProbe = async (dir) => {
  const s = await fsp.statfs(dir);
  return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
};

export const DISK_CHECK = 'disk';
export const STORE_CHECK = 'store:commit';

export class HealthMonitor {
  readonly conditions = new Conditions();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private config: Config,
    private readonly store: () => Store | null,
    private readonly log: Logger,
    private readonly probe: DiskProbe = statfsProbe,
  ) {}

  start(): void {
    this.arm();
  }

  reconfigure(config: Config): void {
    this.config = config;
    this.arm();
  }

  private arm(): void {
    if (this.stopped) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => void this.check(), this.config.health.checkMs);
    this.timer.unref();
    void this.check();
  }

  /** One look at every condition (never two at once). */
  check(): Promise<void> {
    this.running ??= (async () => {
      try {
        await this.checkDisk();
        this.checkStore();
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async checkDisk(): Promise<void> {
    const dir = this.config.dataDir;
    const { minFreeBytes, minFreePercent } = this.config.health;
    let problem: { kind: string; detail: string } | null = null;
    let space: DiskSpace | null = null;
    try {
      space = await this.probe(dir);
    } catch (err) {
      problem = {
        kind: 'unknown',
        detail: `cannot measure the free space of ${dir}: ${(err as Error).message}`,
      };
    }
    if (space) {
      const floor = Math.max(minFreeBytes, (space.total * minFreePercent) / 100);
      if (space.free <= 0)
        problem = {
          kind: 'full',
          detail: `the data folder ${dir} is full: nothing can be taken or recorded`,
        };
      else if (space.free < floor)
        problem = {
          kind: 'low',
          detail: `the data folder ${dir} is nearly full: ${formatBytes(space.free)} free, below ${formatBytes(Math.ceil(floor))} (health.minFreeBytes, health.minFreePercent)`,
        };
    }
    const change = this.conditions.update(DISK_CHECK, problem);
    const fields = { dataDir: dir, free: space?.free, total: space?.total, minFreeBytes, minFreePercent };
    if (problem && (change === 'started' || change === 'changed'))
      this.log.error({ event: 'health.disk_low', state: problem.kind, ...fields }, problem.detail);
    else if (change === 'ended')
      this.log.info(
        { event: 'health.disk_ok', ...fields },
        `the data folder ${dir} has enough free space again (${formatBytes(space?.free ?? 0)})`,
      );
  }

  private checkStore(): void {
    const store = this.store();
    if (!store) return;
    let problem: { kind: string; detail: string } | null = null;
    try {
      // A small durable write: what every step needs to record anything.
      store.setChannelState('health.probe', new Date().toISOString());
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'error';
      problem = { kind: code, detail: `the store cannot commit: ${(err as Error).message}` };
    }
    const change = this.conditions.update(STORE_CHECK, problem);
    if (problem && (change === 'started' || change === 'changed'))
      this.log.error(
        { event: 'health.store_commit_failed', code: problem.kind, dataDir: this.config.dataDir },
        `${problem.detail}; nothing new is recorded until it can (free space, permissions, the disk)`,
      );
    else if (change === 'ended')
      this.log.info({ event: 'health.store_commit_ok' }, 'the store commits again');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
