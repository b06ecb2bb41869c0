import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, ConfigError } from './config/load.js';
import type { Config } from './config/schema.js';
import { OpsServer, type HealthReport } from './http/server.js';
import { Metrics } from './http/metrics.js';
import type { Logger } from './log.js';
import { Store } from './store/store.js';
import { FolderWatcher } from './watchers/folder-watcher.js';
import { Intake } from './watchers/intake.js';
import { ValidationStep } from './pipeline/validate-step.js';
import { VERSION } from './version.js';

/** The composition root: builds every part from the configuration and wires them together. */

export class AlreadyRunningError extends Error {
  override name = 'AlreadyRunningError';
}

export interface DaemonOptions {
  config: Config;
  log: Logger;
  /** Re-reads the configuration on SIGHUP. */
  reloadConfig?: () => Config;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One daemon per data folder: a PID file, taken over when its process is gone. */
function takePidFile(file: string): void {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    if (pid && pid !== process.pid && processAlive(pid)) {
      throw new AlreadyRunningError(`another fatturad (pid ${pid}) is running on this data folder (${file})`);
    }
  } catch (err) {
    if (err instanceof AlreadyRunningError) throw err;
  }
  fs.writeFileSync(file, `${process.pid}\n`);
}

export class Daemon {
  private config: Config;
  private store: Store | null = null;
  private intake: Intake | null = null;
  private validation: ValidationStep | null = null;
  private watcher: FolderWatcher | null = null;
  private ops: OpsServer | null = null;
  readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly startedAt = Date.now();
  private stopping: Promise<void> | null = null;
  private starting: Promise<void> | null = null;
  httpPort: number | null = null;

  constructor(private readonly opts: DaemonOptions) {
    this.config = opts.config;
    this.log = opts.log;
    this.metrics = new Metrics(
      () => this.store,
      () => ({ queued: this.intake?.queued ?? 0, pending: this.watcher?.pending ?? 0 }),
    );
  }

  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const c = this.config;
    for (const dir of [c.dataDir, c.paths.spool, c.paths.claimed, c.paths.rejected, c.paths.duplicates]) {
      await fsp.mkdir(dir, { recursive: true });
    }
    takePidFile(path.join(c.dataDir, 'fatturad.pid'));
    this.store = new Store(c.paths.db);
    this.log.info(
      {
        event: 'daemon.starting',
        version: VERSION,
        pid: process.pid,
        dataDir: c.dataDir,
        config: c.source ?? 'embedded defaults',
        schema: this.store.schemaVersion,
      },
      `fatturad ${VERSION} starting`,
    );

    this.validation = new ValidationStep(this.store, c, this.log, {
      onResult: (result) => this.metrics.validations.inc({ result }),
      onError: () => this.metrics.validationErrors.inc(),
    });
    if (c.validation.enabled) this.validation.resume();
    const validation = c.validation.enabled ? this.validation : null;
    this.intake = new Intake(this.store, c, this.log, {
      onDocument: (doc) => validation?.enqueue(doc),
      onOutcome: (outcome, docs) => {
        this.metrics.intakeFiles.inc({ outcome });
        if (docs > 0) this.metrics.intakeDocuments.inc({ outcome }, docs);
      },
      onError: () => this.metrics.intakeErrors.inc(),
    });
    await this.intake.recover();

    this.watcher = new FolderWatcher(
      c.intake.folders,
      { stableMs: c.intake.stableMs, trustRename: c.intake.trustRename, rescanMs: c.intake.rescanMs },
      (folder, file) => this.intake?.offer(folder, file),
      this.log,
    );
    await this.watcher.start();

    if (c.http.enabled) {
      this.ops = new OpsServer(() => this.health(), this.metrics, this.log);
      this.httpPort = (await this.ops.listen(c.http.host, c.http.port)).port;
    }
    this.log.info(
      {
        event: 'daemon.ready',
        pid: process.pid,
        folders: c.intake.folders.map((f) => f.path),
        rejected: c.paths.rejected,
        http: this.httpPort,
      },
      `ready: drop invoice files (.xml, .xml.p7m, .p7m, .zip) into ${c.intake.folders.map((f) => f.path).join(', ')}`,
    );
  }

  health(): HealthReport {
    const checks: HealthReport['checks'] = {};
    try {
      this.store?.db.prepare('SELECT 1').get();
      checks.store = { ok: this.store !== null };
    } catch (err) {
      checks.store = { ok: false, detail: (err as Error).message };
    }
    for (const [folder, h] of this.watcher?.folderHealth ?? []) {
      checks[`folder:${folder}`] = { ok: h.ok, ...(h.error ? { detail: h.error } : {}) };
    }
    const ok = Object.values(checks).every((x) => x.ok) && this.stopping === null;
    return {
      status: ok ? 'ok' : 'degraded',
      version: VERSION,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      checks,
      documents: this.store?.countsByState() ?? {},
      intake: { queued: this.intake?.queued ?? 0, waiting: this.watcher?.pending ?? 0 },
      validation: { queued: this.validation?.queued ?? 0, workers: this.validation?.workers ?? 0 },
    };
  }

  /** Reloads what can change while running: folders, intake timings and limits, log level. */
  async reload(): Promise<void> {
    if (!this.opts.reloadConfig) return;
    let next: Config;
    try {
      next = this.opts.reloadConfig();
    } catch (err) {
      this.metrics.configReloads.inc({ result: 'failed' });
      this.log.error(
        {
          event: 'config.reload_failed',
          problems: err instanceof ConfigError ? err.problems : [String(err)],
        },
        'configuration reload failed; the running configuration is kept',
      );
      return;
    }
    const needRestart: string[] = [];
    if (next.dataDir !== this.config.dataDir) needRestart.push('dataDir');
    if (JSON.stringify(next.http) !== JSON.stringify(this.config.http)) needRestart.push('http');
    if (next.validation.workers !== this.config.validation.workers) needRestart.push('validation.workers');
    this.config = { ...next, dataDir: this.config.dataDir, paths: this.config.paths, http: this.config.http };
    this.log.level = next.log.level;
    this.intake?.reconfigure(this.config);
    this.validation?.reconfigure(this.config);
    await this.watcher?.reconfigure(this.config.intake.folders, {
      stableMs: next.intake.stableMs,
      trustRename: next.intake.trustRename,
      rescanMs: next.intake.rescanMs,
    });
    this.metrics.configReloads.inc({ result: 'ok' });
    this.log.info(
      { event: 'config.reloaded', folders: this.config.intake.folders.map((f) => f.path), needRestart },
      needRestart.length
        ? `configuration reloaded; restart to apply: ${needRestart.join(', ')}`
        : 'configuration reloaded',
    );
  }

  /** Stops taking files, finishes the batch in progress, closes the store. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info({ event: 'daemon.stopping' }, 'stopping: finishing work in progress');
      await this.starting?.catch(() => undefined);
      await this.watcher?.close();
      await this.intake?.stop();
      await this.validation?.stop();
      await this.ops?.close();
      this.store?.close();
      this.store = null;
      await fsp.rm(path.join(this.config.dataDir, 'fatturad.pid'), { force: true });
      this.log.info({ event: 'daemon.stopped' }, 'stopped');
    })();
    return this.stopping;
  }

  /** For tests and the embedded simulator: resolves when every offered file has been handled. */
  async idle(): Promise<void> {
    await this.intake?.idle();
    await this.validation?.idle();
  }
}

export interface RunOptions {
  configFile: string | null;
  log: Logger;
  shutdownTimeoutMs?: number;
}

/** Runs the daemon until SIGTERM or SIGINT; SIGHUP reloads the configuration. */
export async function runDaemon(config: Config, opts: RunOptions): Promise<Daemon> {
  const daemon = new Daemon({
    config,
    log: opts.log,
    reloadConfig: () => loadConfig({ file: opts.configFile }),
  });
  const timeout = opts.shutdownTimeoutMs ?? 20_000;
  const shutdown = (signal: string): void => {
    opts.log.info({ event: 'daemon.signal', signal }, `received ${signal}`);
    const timer = setTimeout(() => {
      opts.log.error({ event: 'daemon.stop_timeout', timeoutMs: timeout }, 'shutdown took too long; exiting');
      opts.log.flush();
      process.exit(1);
    }, timeout);
    timer.unref();
    daemon.stop().then(
      () => opts.log.flush(() => process.exit(0)),
      (err: unknown) => {
        opts.log.error({ event: 'daemon.stop_failed', err }, 'shutdown failed');
        opts.log.flush();
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => void daemon.reload());
  await daemon.start();
  return daemon;
}
