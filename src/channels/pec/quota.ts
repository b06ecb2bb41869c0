import { ImapFlow } from 'imapflow';
import type { Logger } from '../../log.js';

/**
 * The PEC mailbox's quota. A full PEC mailbox refuses new mail: SdI's answers and received
 * invoices bounce back to SdI (which, for an invoice, leaves it in the reserved area and sends the
 * seller an MC), so the mailbox is watched and a person warned before it is full. Read with IMAP
 * QUOTA (RFC 2087/9208, GETQUOTAROOT), where the server has it.
 */

export interface QuotaReading {
  /** The quota root the server named. */
  root: string;
  /** Used and allowed bytes (STORAGE), when the server reports them. */
  usedBytes?: number;
  limitBytes?: number;
  /** Used and allowed messages (MESSAGE), when reported. */
  usedMessages?: number;
  limitMessages?: number;
  /** The fullest resource, in percent of its limit (0 when no limit is known). */
  percent: number;
}

/** QUOTA on a connected client: null when the server does not announce it or has no quota root. */
export async function readQuota(client: ImapFlow, mailbox: string): Promise<QuotaReading | null> {
  if (!client.capabilities.has('QUOTA')) return null;
  const q = await client.getQuota(mailbox);
  if (!q) return null;
  const reading: QuotaReading = { root: q.quotaRoot ?? '', percent: 0 };
  const percents: number[] = [];
  if (q.storage && q.storage.limit) {
    reading.usedBytes = q.storage.usage ?? 0;
    reading.limitBytes = q.storage.limit;
    percents.push((100 * reading.usedBytes) / reading.limitBytes);
  }
  if (q.message && q.message.limit) {
    reading.usedMessages = q.message.usage ?? 0;
    reading.limitMessages = q.message.limit;
    percents.push((100 * reading.usedMessages) / reading.limitMessages);
  }
  if (percents.length === 0) return null;
  reading.percent = Math.round(Math.max(...percents) * 10) / 10;
  return reading;
}

export function describeQuota(r: QuotaReading): string {
  const parts: string[] = [];
  if (r.limitBytes !== undefined) parts.push(`${mb(r.usedBytes ?? 0)} of ${mb(r.limitBytes)} used`);
  if (r.limitMessages !== undefined) parts.push(`${r.usedMessages} of ${r.limitMessages} messages`);
  return `${parts.join(', ')} (${r.percent} %)`;
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export interface QuotaWatcherOptions {
  host: string;
  port: number;
  secure: boolean;
  tls?: { ca?: Buffer[]; rejectUnauthorized?: boolean; servername?: string };
  user: string;
  pass: string;
  mailbox: string;
  /** How often to look (a short connection of its own each time). */
  checkMs: number;
  /** Warn at this percentage of the quota. */
  warnPercent: number;
  socketTimeoutMs?: number;
  log: Logger;
}

export interface QuotaWatcherStats {
  /** Looks taken (successful or not). */
  checks: number;
  /** Looks that could not read the quota (connection, login). */
  failures: number;
  last: QuotaReading | null;
  /** The server does not announce QUOTA: nothing to watch. */
  unsupported: boolean;
}

/**
 * Looks at the quota every `checkMs` on a short connection of its own (the reader's connection
 * stays in IDLE): `pec.quota_low` once when the mailbox crosses `warnPercent`, `pec.quota_ok` once
 * when it is back under it, `pec.quota_unsupported` once when the server has no QUOTA. Never
 * throws; a failed look is logged at debug and tried again at the next interval (the mailbox
 * reader reports connection problems).
 */
export class QuotaWatcher {
  readonly stats: QuotaWatcherStats = { checks: 0, failures: 0, last: null, unsupported: false };
  private timer: NodeJS.Timeout | null = null;
  private low = false;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly opts: QuotaWatcherOptions) {}

  start(): void {
    if (this.opts.checkMs <= 0 || this.timer || this.stopped) return;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) await this.running;
  }

  /** Whether the last look found the mailbox at or over the threshold. */
  get isLow(): boolean {
    return this.low;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.check().then(
        () => undefined,
        () => undefined,
      );
      void this.running.finally(() => {
        this.running = null;
        if (!this.stopped && !this.stats.unsupported) this.schedule(this.opts.checkMs);
      });
    }, ms);
    this.timer.unref();
  }

  /** One look now. */
  async check(): Promise<QuotaReading | null> {
    const o = this.opts;
    this.stats.checks++;
    const client = new ImapFlow({
      host: o.host,
      port: o.port,
      secure: o.secure,
      auth: { user: o.user, pass: o.pass },
      logger: false,
      clientInfo: { name: 'fatturad' },
      disableAutoIdle: true,
      ...(o.tls ? { tls: { ...o.tls } } : {}),
      ...(o.tls?.servername ? { servername: o.tls.servername } : {}),
      ...(o.socketTimeoutMs ? { socketTimeout: o.socketTimeoutMs } : {}),
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const r = await readQuota(client, o.mailbox);
      if (!r) {
        if (!this.stats.unsupported)
          o.log.info(
            { event: 'pec.quota_unsupported', host: o.host, mailbox: o.mailbox },
            "The PEC mailbox's server does not report a quota (no IMAP QUOTA): watch its size in the provider's web mail",
          );
        this.stats.unsupported = true;
        return null;
      }
      this.stats.last = r;
      const fields = {
        host: o.host,
        mailbox: o.mailbox,
        quotaRoot: r.root,
        percent: r.percent,
        warnPercent: o.warnPercent,
        ...(r.limitBytes !== undefined ? { usedBytes: r.usedBytes, limitBytes: r.limitBytes } : {}),
        ...(r.limitMessages !== undefined
          ? { usedMessages: r.usedMessages, limitMessages: r.limitMessages }
          : {}),
      };
      if (r.percent >= o.warnPercent && !this.low) {
        this.low = true;
        o.log.warn(
          { event: 'pec.quota_low', ...fields },
          `The PEC mailbox is ${describeQuota(r)}: when it is full it refuses SdI's messages and received invoices. ` +
            'Move or delete old mail (fatturad keeps its own copies in the archive). / ' +
            `La casella PEC è piena al ${r.percent} %: quando è piena rifiuta i messaggi dello SdI e le fatture ricevute. ` +
            'Spostare o cancellare la posta vecchia (fatturad ne conserva copia nel proprio archivio).',
        );
      } else if (r.percent < o.warnPercent && this.low) {
        this.low = false;
        o.log.info(
          { event: 'pec.quota_ok', ...fields },
          `The PEC mailbox is back under ${o.warnPercent} %: ${describeQuota(r)}`,
        );
      }
      return r;
    } catch (err) {
      this.stats.failures++;
      o.log.debug(
        {
          event: 'pec.quota_check_failed',
          host: o.host,
          err: err instanceof Error ? err.message : String(err),
        },
        'Could not read the PEC mailbox quota; trying again at the next interval',
      );
      return null;
    } finally {
      if (client.usable) await client.logout().catch(() => undefined);
      else client.close();
    }
  }
}
