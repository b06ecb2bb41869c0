import fsp from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, ConfigError } from './config/load.js';
import type { Config } from './config/schema.js';
import { assertSecrets } from './config/secrets.js';
import { DATA_LOCK, FolderLockedError, HEARTBEAT_MS, lockFolder, type HeldLock } from './lock.js';
import { OpsServer, type HealthReport } from './http/server.js';
import { Metrics } from './http/metrics.js';
import type { Logger } from './log.js';
import type { Store } from './store/store.js';
import { StoreGuard } from './store/guard.js';
import { StoreDamagedError, RECOVERY, RECOVERY_IT } from './store/integrity.js';
import { FolderWatcher } from './watchers/folder-watcher.js';
import { HealthMonitor } from './health/monitor.js';
import { Intake } from './watchers/intake.js';
import { ValidationStep } from './pipeline/validate-step.js';
import { InboundHandler } from './pipeline/inbound.js';
import { SendStep } from './pipeline/send-step.js';
import { ArchiveStep } from './pipeline/archive-step.js';
import { OutcomeWriter } from './outcomes/writer.js';
import { openArchive } from './archive/open.js';
import { CredentialMonitor } from './credentials/monitor.js';
import type { Channel } from './channels/channel.js';
import { ChannelConfigError, openChannel } from './channels/registry.js';
import { SdiCoopChannel } from './channels/soap/sdicoop.js';
import type { PecSimulator } from './sim/pec.js';
import { SdiSimulator } from './sim/simulator.js';
import { VERSION } from './version.js';
import { Alerts } from './alerts/alerts.js';
import { AlertSecretError } from './alerts/targets.js';

/** The composition root: builds every part from the configuration and wires them together. */

/**
 * A start that cannot succeed for a reason the operator fixes (not a bug): logged as one line,
 * its `event` and `fields`, without a stack trace, and the process exits with `exitCode`.
 */
export class StartError extends Error {
  override name = 'StartError';
  constructor(
    message: string,
    readonly event: string,
    readonly exitCode: number,
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** A folder this daemon needs is already taken by another running fatturad (exit 4). */
export class AlreadyRunningError extends StartError {
  override name = 'AlreadyRunningError';
  constructor(message: string, fields: Record<string, unknown> = {}) {
    super(message, 'daemon.already_running', 4, fields);
  }
}

/** The configuration cannot be used (exit 3): a missing secret, an incomplete channel. */
export class ConfigStartError extends StartError {
  override name = 'ConfigStartError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`, 'config.invalid', 3, { problems });
  }
}

/** The store is damaged or not a database (exit 5): it is never used; the recovery steps in the message. */
function storeDamaged(err: StoreDamagedError): StartError {
  return new StartError(err.message, 'store.damaged', 5, {
    file: err.file,
    kind: err.kind,
    problems: err.problems.slice(0, 20),
    recovery: RECOVERY,
    recoveryIt: RECOVERY_IT,
  });
}

function alreadyRunning(err: FolderLockedError): AlreadyRunningError {
  return new AlreadyRunningError(err.message, {
    folder: err.folder,
    role: err.role,
    otherPid: err.pid,
    ...(err.host ? { otherHost: err.host } : {}),
    lock: err.file,
  });
}

/** A port that cannot be listened on: one line naming it, the key to change, no stack trace. */
function listenFailed(err: unknown, event: string, key: string, host: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') return err;
  const why =
    code === 'EADDRINUSE'
      ? `another process is already listening on ${host}:${port}`
      : code === 'EACCES'
        ? `not allowed to listen on ${host}:${port} (a port below 1024 needs a capability)`
        : `${host} is not an address of this machine`;
  const hint =
    code === 'EADDRNOTAVAIL'
      ? `set ${key.replace(/port$/, 'host')} to an address of this machine`
      : `set ${key} to a free port (FATTURAD_${key
          .split('.')
          .map((k) => k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase())
          .join('__')}=...), or stop the other process (ss -ltnp 'sport = :${port}')`;
  return new StartError(`cannot listen on ${host}:${port}: ${why}; ${hint}`, event, 1, {
    host,
    port,
    code,
    hint,
  });
}

export interface DaemonOptions {
  config: Config;
  log: Logger;
  /** Re-reads the configuration on SIGHUP. */
  reloadConfig?: () => Config;
}

/** The folders a daemon owns besides its data folder: those it takes files from or writes for the ERP. */
export function ownedFolders(c: Config): { folder: string; role: string }[] {
  const out = c.intake.folders.map((f) => ({ folder: f.path, role: 'drop folder' }));
  const sim =
    (c.channel.type === 'sdicoop' && c.channel.sdicoop.simulator) ||
    (c.channel.type === 'pec' && c.channel.pec.simulator);
  if (sim) out.push({ folder: path.join(c.dataDir, 'sim', 'deliver'), role: "simulator's deliver folder" });
  return out;
}

export class Daemon {
  private config: Config;
  private store: Store | null = null;
  private guard: StoreGuard | null = null;
  private intake: Intake | null = null;
  private validation: ValidationStep | null = null;
  private inbound: InboundHandler | null = null;
  private sending: SendStep | null = null;
  private archiving: ArchiveStep | null = null;
  private outcomes: OutcomeWriter | null = null;
  private credentials: CredentialMonitor | null = null;
  private channel: Channel | null = null;
  private simulator: SdiSimulator | PecSimulator | null = null;
  private watcher: FolderWatcher | null = null;
  private healthMonitor: HealthMonitor | null = null;
  private alerts: Alerts | null = null;
  private ops: OpsServer | null = null;
  /** The locks held: the data folder first, then the folders of ownedFolders(). */
  private locks: HeldLock[] = [];
  private heartbeat: NodeJS.Timeout | null = null;
  readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly startedAt = Date.now();
  private stopping: Promise<void> | null = null;
  private starting: Promise<void> | null = null;
  httpPort: number | null = null;
  private ready = false;

  constructor(private readonly opts: DaemonOptions) {
    this.config = opts.config;
    this.log = opts.log;
    this.metrics = new Metrics(
      () => this.store,
      () => ({ queued: this.intake?.queued ?? 0, pending: this.watcher?.pending ?? 0 }),
    );
    // Alerts listen to the log from the start: what the store's checks say at the start is kept.
    if (this.config.alerts.enabled) {
      this.alerts = new Alerts(this.config, this.log.child({ component: 'alerts' }));
      this.alerts.listen();
    }
  }

  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const c = this.config;
    try {
      assertSecrets(c);
    } catch (err) {
      if (err instanceof ConfigError) throw new ConfigStartError(err.problems);
      throw err;
    }
    for (const dir of [c.dataDir, c.paths.spool, c.paths.claimed, c.paths.rejected, c.paths.duplicates]) {
      await fsp.mkdir(dir, { recursive: true });
    }
    this.takeLocks(c);
    this.heartbeat = setInterval(() => this.locks.forEach((l) => l.touch()), HEARTBEAT_MS);
    this.heartbeat.unref();
    // Checked (quick_check) and compared with the send journal before anything uses it.
    this.guard = new StoreGuard(c, this.log);
    let storeCheckMs: number;
    try {
      ({ store: this.store, checkMs: storeCheckMs } = this.guard.open());
    } catch (err) {
      throw err instanceof StoreDamagedError ? storeDamaged(err) : err;
    }
    this.guard.startSchedule();
    try {
      this.alerts?.open(this.store, () => {
        const h = this.channel?.health();
        return this.channel && h
          ? { name: this.channel.name, ok: h.ok, ...(h.detail ? { detail: h.detail } : {}) }
          : null;
      });
    } catch (err) {
      throw err instanceof AlertSecretError ? new ConfigStartError([err.message]) : err;
    }
    this.log.info(
      {
        event: 'daemon.starting',
        version: VERSION,
        pid: process.pid,
        dataDir: c.dataDir,
        config: c.source ?? 'embedded defaults',
        schema: this.store.schemaVersion,
        storeCheckMs,
      },
      `fatturad ${VERSION} starting`,
    );

    // The ports first: a port taken by another process stops the start before anything is sent.
    if (c.http.enabled) {
      this.ops = new OpsServer(() => this.health(), this.metrics, this.log);
      const ops = this.ops;
      this.httpPort = (
        await ops.listen(c.http.host, c.http.port).catch((err: unknown) => {
          throw listenFailed(err, 'http.listen_failed', 'http.port', c.http.host, c.http.port);
        })
      ).port;
    }

    // SdI side first: answers that arrive while intake starts are stored at once.
    const store = this.store;
    // Before any step moves a document: files for changes committed before a crash, then every new one.
    if (c.outcomes.enabled) {
      this.outcomes = new OutcomeWriter(store, c, this.log.child({ component: 'outcomes' }));
      await this.outcomes.start();
    }
    this.inbound = new InboundHandler(store, c, this.log, {
      onNotification: (kind, outcome) => this.metrics.notifications.inc({ kind, outcome }),
      onReceipt: (outcome, effect) => this.metrics.transportReceipts.inc({ outcome, effect }),
      onResend: () => this.sending?.kick(),
      onStateChange: () => {
        this.archiving?.kick();
        this.outcomes?.kick();
      },
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
    const opened = await openChannel(c, this.log, store).catch((err: unknown) => {
      throw err instanceof ChannelConfigError ? new ConfigStartError([err.message]) : err;
    });
    this.channel = opened.channel;
    this.simulator = opened.simulator;
    if (this.channel) {
      const inbound = this.inbound;
      const listen = c.channel.sdicoop.listen;
      await this.channel
        .start((m) => inbound.handle(m))
        .catch((err: unknown) => {
          throw c.channel.type === 'sdicoop'
            ? listenFailed(
                err,
                'sdicoop.listen_failed',
                'channel.sdicoop.listen.port',
                listen.host,
                listen.port,
              )
            : err;
        });
      if (this.simulator instanceof SdiSimulator && this.channel instanceof SdiCoopChannel)
        this.simulator.connect(this.channel.endpoints);
      this.sending = new SendStep(
        store,
        c,
        this.channel,
        this.log,
        {
          onResult: (result) => {
            this.metrics.sends.inc({ result });
            this.outcomes?.kick();
          },
          onSent: () => inbound.reconcile(),
          onBlocked: () => this.metrics.sendBlocked.inc({ channel: this.channel?.name ?? 'none' }),
        },
        this.guard.journal,
      );
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
        this.outcomes?.kick();
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
        if (outcome !== 'accepted') this.outcomes?.kick();
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
    this.healthMonitor = new HealthMonitor(c, () => this.store, this.log);
    this.healthMonitor.start();

    this.ready = true;
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

  /**
   * The data folder, then every folder this daemon takes files from (ownedFolders()): a
   * second daemon on any of them exits with code 4 naming the folder and the other PID. A drop
   * folder that cannot be locked for another reason (an unmounted share) is watched all the same,
   * with a warning.
   */
  private takeLocks(c: Config): void {
    try {
      this.locks.push(lockFolder(c.dataDir, 'data folder', DATA_LOCK));
      for (const f of ownedFolders(c)) {
        const held = this.tryLock(f);
        if (held) this.locks.push(held);
      }
    } catch (err) {
      for (const l of this.locks.reverse()) l.release();
      this.locks = [];
      throw err instanceof FolderLockedError ? alreadyRunning(err) : err;
    }
  }

  /**
   * Locks one folder; one held by a running daemon throws FolderLockedError. A folder that cannot
   * be locked for another reason (an unmounted share, no write permission) is used all the same,
   * with a warning: null.
   */
  private tryLock(f: { folder: string; role: string }): HeldLock | null {
    try {
      return lockFolder(f.folder, f.role);
    } catch (err) {
      if (err instanceof FolderLockedError) throw err;
      this.log.warn(
        { event: 'daemon.lock_unavailable', folder: f.folder, role: f.role, reason: (err as Error).message },
        `cannot lock the ${f.role} ${f.folder} (${(err as Error).message}): a second fatturad on it would not be refused`,
      );
      return null;
    }
  }

  /** At a reload: locks the folders new in `next`, releases those no longer used. */
  private relock(next: Config): void {
    const key = (f: { folder: string }): string => path.resolve(f.folder);
    const wanted = new Set(ownedFolders(next).map(key));
    const have = new Set(this.locks.slice(1).map((l) => path.resolve(l.folder)));
    const added: HeldLock[] = [];
    try {
      for (const f of ownedFolders(next)) {
        if (have.has(key(f)) || added.some((l) => path.resolve(l.folder) === key(f))) continue;
        const held = this.tryLock(f);
        if (held) added.push(held);
      }
    } catch (err) {
      for (const l of added) l.release();
      throw err;
    }
    const [data, ...rest] = this.locks;
    const kept = rest.filter((l) => wanted.has(path.resolve(l.folder)));
    for (const l of rest) if (!wanted.has(path.resolve(l.folder))) l.release();
    this.locks = [...(data ? [data] : []), ...kept, ...added];
  }

  health(): HealthReport {
    const checks: HealthReport['checks'] = {};
    checks.store = this.guard?.health(this.store) ?? { ok: false, detail: 'the store is not open' };
    const documents = this.countsOrDamage(checks);
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
    // The data folder's free space, the store's commits (src/health/monitor.ts).
    for (const p of this.healthMonitor?.conditions.list() ?? [])
      checks[p.check] = { ok: false, detail: p.detail };
    // The health port opens early in the start (a taken port stops it before anything is sent).
    if (!this.ready) checks.starting = { ok: false, detail: 'the daemon is starting' };
    const ok = Object.values(checks).every((x) => x.ok) && this.stopping === null;
    return {
      status: ok ? 'ok' : 'degraded',
      version: VERSION,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      checks,
      documents,
      intake: { queued: this.intake?.queued ?? 0, waiting: this.watcher?.pending ?? 0 },
      validation: { queued: this.validation?.queued ?? 0, workers: this.validation?.workers ?? 0 },
    };
  }

  /** Documents per state; a damaged store turns the store check to its words instead of throwing. */
  private countsOrDamage(checks: HealthReport['checks']): Record<string, number> {
    try {
      return this.store?.countsByState() ?? {};
    } catch (err) {
      checks.store = this.guard?.unhealthy(err) ?? { ok: false, detail: (err as Error).message };
      return {};
    }
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
    try {
      this.relock(next);
    } catch (err) {
      this.metrics.configReloads.inc({ result: 'failed' });
      this.log.error(
        { event: 'config.reload_failed', problems: [(err as Error).message] },
        `configuration reload failed: ${(err as Error).message}; the running configuration is kept`,
      );
      return;
    }
    const needRestart: string[] = [];
    if (next.dataDir !== this.config.dataDir) needRestart.push('dataDir');
    if (JSON.stringify(next.http) !== JSON.stringify(this.config.http)) needRestart.push('http');
    if (next.validation.workers !== this.config.validation.workers) needRestart.push('validation.workers');
    if (JSON.stringify(next.validation.budget) !== JSON.stringify(this.config.validation.budget))
      needRestart.push('validation.budget');
    if (JSON.stringify(next.channel) !== JSON.stringify(this.config.channel)) needRestart.push('channel');
    if (JSON.stringify(next.store) !== JSON.stringify(this.config.store)) needRestart.push('store');
    if (JSON.stringify(next.outcomes) !== JSON.stringify(this.config.outcomes)) needRestart.push('outcomes');
    if (
      next.alerts.enabled !== this.config.alerts.enabled ||
      JSON.stringify([next.alerts.email, next.alerts.webhook]) !==
        JSON.stringify([this.config.alerts.email, this.config.alerts.webhook])
    )
      needRestart.push('alerts');
    this.config = { ...next, dataDir: this.config.dataDir, paths: this.config.paths, http: this.config.http };
    this.log.level = next.log.level;
    this.intake?.reconfigure(this.config);
    this.validation?.reconfigure(this.config);
    this.inbound?.reconfigure(this.config);
    this.sending?.reconfigure(this.config);
    this.archiving?.reconfigure(this.config);
    this.credentials?.reconfigure(this.config);
    void this.credentials?.check();
    this.healthMonitor?.reconfigure(this.config);
    this.alerts?.reconfigure(this.config);
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
  stop(opts: { quiet?: boolean } = {}): Promise<void> {
    this.stopping ??= (async () => {
      if (!opts.quiet) this.log.info({ event: 'daemon.stopping' }, 'stopping: finishing work in progress');
      await this.starting?.catch(() => undefined);
      await this.healthMonitor?.stop();
      await this.watcher?.close();
      await this.intake?.stop();
      await this.validation?.stop();
      await this.sending?.stop();
      await this.archiving?.stop();
      await this.outcomes?.stop();
      this.credentials?.stop();
      await this.channel?.stop();
      await this.inbound?.close();
      await this.simulator?.close();
      await this.ops?.close();
      await this.alerts?.stop();
      this.store?.close();
      this.store = null;
      this.guard?.close();
      if (this.heartbeat) clearInterval(this.heartbeat);
      for (const l of this.locks.reverse()) l.release();
      this.locks = [];
      if (!opts.quiet) this.log.info({ event: 'daemon.stopped' }, 'stopped');
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
  try {
    await daemon.start();
  } catch (err) {
    // Release what the start took (locks, ports, the store) before the caller exits.
    await daemon.stop({ quiet: true }).catch(() => undefined);
    throw err;
  }
  return daemon;
}
