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
import { InboundHandler } from './pipeline/inbound.js';
import { SendStep } from './pipeline/send-step.js';
import { ArchiveStep } from './pipeline/archive-step.js';
import { openArchive } from './archive/open.js';
import { CredentialMonitor } from './credentials/monitor.js';
import type { Channel } from './channels/channel.js';
import { openChannel } from './channels/registry.js';
import { SdiCoopChannel } from './channels/soap/sdicoop.js';
import type { PecSimulator } from './sim/pec.js';
import { SdiSimulator } from './sim/simulator.js';
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
  private inbound: InboundHandler | null = null;
  private sending: SendStep | null = null;
  private archiving: ArchiveStep | null = null;
  private credentials: CredentialMonitor | null = null;
  private channel: Channel | null = null;
  private simulator: SdiSimulator | PecSimulator | null = null;
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

    // SdI side first: answers that arrive while intake starts are stored at once.
    const store = this.store;
    this.inbound = new InboundHandler(store, c, this.log, {
      onNotification: (kind, outcome) => this.metrics.notifications.inc({ kind, outcome }),
      onReceipt: (outcome, effect) => this.metrics.transportReceipts.inc({ outcome, effect }),
      onResend: () => this.sending?.kick(),
      onStateChange: () => this.archiving?.kick(),
      onPassive: () => {
        this.metrics.passive.inc();
        this.archiving?.kick();
      },
    });
    if (c.archive.enabled) {
      const opened = await openArchive(c, store, this.log.child({ component: 'archive' }));
      this.archiving = new ArchiveStep(
        store,
        opened.astore,
        opened.archive,
        opened.preservation,
        c,
        this.log,
        {
          onPdv: (n) => this.metrics.archivedDocuments.inc(n),
          onVerified: (blobs, bytes) => {
            this.metrics.archiveVerifiedBlobs.inc(blobs);
            this.metrics.archiveVerifiedBytes.inc(bytes);
          },
          onFindings: (fs) => fs.forEach((f) => this.metrics.archiveFindings.inc({ code: f.code })),
        },
      );
    }
    const opened = await openChannel(c, this.log, store);
    this.channel = opened.channel;
    this.simulator = opened.simulator;
    if (this.channel) {
      const inbound = this.inbound;
      await this.channel.start((m) => inbound.handle(m));
      if (this.simulator instanceof SdiSimulator && this.channel instanceof SdiCoopChannel)
        this.simulator.connect(this.channel.endpoints);
      this.sending = new SendStep(store, c, this.channel, this.log, {
        onResult: (result) => this.metrics.sends.inc({ result }),
        onSent: () => inbound.reconcile(),
        onBlocked: () => this.metrics.sendBlocked.inc({ channel: this.channel?.name ?? 'none' }),
      });
      await this.inbound.reconcile();
      await this.inbound.deliverPassive();
      this.sending.start();
    }
    await this.archiving?.start();

    // After the channel and the archive: the simulator's certificates and the archive key exist.
    this.credentials = new CredentialMonitor(c, this.log.child({ component: 'credentials' }), (all) => {
      this.metrics.credentialDaysLeft.reset();
      this.metrics.credentialExpired.reset();
      for (const { credential: cr, status: st } of all) {
        if ('daysLeft' in st && Number.isFinite(st.daysLeft))
          this.metrics.credentialDaysLeft.set({ id: cr.id, kind: cr.kind }, st.daysLeft);
        this.metrics.credentialExpired.set({ id: cr.id, kind: cr.kind }, st.state === 'expired' ? 1 : 0);
      }
    });
    this.credentials.start();

    this.validation = new ValidationStep(this.store, c, this.log, {
      onResult: (result) => {
        this.metrics.validations.inc({ result });
        if (result === 'validated') this.sending?.kick();
      },
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
    if (this.simulator)
      this.log.info(
        {
          event: 'daemon.simulator',
          scenario: c.simulator.scenario,
          passiveDrop: path.join(c.dataDir, 'sim', 'deliver'),
          inbox: c.passive.importDir,
        },
        `sending to the built-in SdI simulator (scenario "${c.simulator.scenario}", no SdI account involved). ` +
          `Watch a file's fate with "fatturad status" and "fatturad show <file>"; ` +
          `to receive an invoice, drop one into ${path.join(c.dataDir, 'sim', 'deliver')}: it arrives in ${c.passive.importDir}`,
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
    if (this.channel) {
      const h = this.channel.health();
      checks[`channel:${this.channel.name}`] = { ok: h.ok, detail: h.detail };
    }
    const expired = (this.credentials?.latest ?? []).filter((x) => x.status.state === 'expired');
    if (this.credentials)
      checks.credentials = expired.length
        ? {
            ok: false,
            detail: `expired: ${expired.map((x) => x.credential.label).join(', ')} ("fatturad credentials")`,
          }
        : { ok: true };
    if (this.archiving) {
      const f = this.archiving.findings;
      checks.archive = f.length
        ? {
            ok: false,
            detail: `${f.length} integrity finding(s), e.g. ${f[0]?.message ?? ''}: run "fatturad archive verify"`,
          }
        : { ok: true };
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
    if (JSON.stringify(next.channel) !== JSON.stringify(this.config.channel)) needRestart.push('channel');
    this.config = { ...next, dataDir: this.config.dataDir, paths: this.config.paths, http: this.config.http };
    this.log.level = next.log.level;
    this.intake?.reconfigure(this.config);
    this.validation?.reconfigure(this.config);
    this.inbound?.reconfigure(this.config);
    this.sending?.reconfigure(this.config);
    this.archiving?.reconfigure(this.config);
    this.credentials?.reconfigure(this.config);
    void this.credentials?.check();
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
      await this.sending?.stop();
      await this.archiving?.stop();
      this.credentials?.stop();
      await this.channel?.stop();
      await this.simulator?.close();
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
