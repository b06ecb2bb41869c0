import type { Config } from '../config/schema.js';
import { tapLog, type Logger } from '../log.js';
import { AlertQueue, type AlertItemIn } from '../store/alert-queue.js';
import type { Store } from '../store/store.js';
import { buildMessage, itemOf, type AlertMessage } from './message.js';
import { failureText, openTargets, type AlertTarget } from './targets.js';

/**
 * Alerts: the log events that need a person become short messages by e-mail and/or webhook.
 *
 * The daemon's log is the only source (src/log.ts tapLog): an event is copied into a memory
 * buffer inside the log call and nothing else happens there, so the pipeline never waits for an
 * alert. A timer moves the buffer into the store (one transaction), groups what waited per event
 * kind (one message per kind per `intervalMs`, after `groupWaitMs`), and delivers the queued
 * messages, each target retried with exponential backoff. Items and messages live in the store
 * until delivered, so a restart loses none (only what the last tick had not yet written, at
 * most TICK_MS of events, is lost to a crash).
 */
export const TICK_MS = 500;
/** At a stop, a delivery in flight is waited for this long at most (it is sent again after the restart). */
const STOP_WAIT_MS = 2_000;
/** Events kept in memory between two ticks at most (the rest counted and logged). */
const MAX_BUFFER = 10_000;

export interface ChannelHealth {
  name: string;
  ok: boolean;
  detail?: string;
}

export class Alerts {
  private config: Config['alerts'];
  private buffer: AlertItemIn[] = [];
  private overflow = 0;
  private untap: (() => void) | null = null;
  private queue: AlertQueue | null = null;
  private targets: AlertTarget[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private delivering = false;
  private channel: (() => ChannelHealth | null) | null = null;
  private downSince: number | null = null;
  private downAnnounced = false;
  private kinds: Set<string>;
  /** Messages delivered and attempts failed since the start (tests and metrics). */
  delivered = 0;
  failures = 0;

  constructor(
    config: Config,
    private readonly log: Logger,
  ) {
    this.config = config.alerts;
    this.kinds = new Set(this.config.events);
  }

  /** Starts listening to the log (before the store opens: what the start logs is kept too). */
  listen(): void {
    if (this.untap) return;
    this.untap = tapLog(this.log, (event, _level, fields, msg) => {
      if (!this.kinds.has(event)) return;
      if (this.buffer.length >= MAX_BUFFER) {
        this.overflow++;
        return;
      }
      const at = new Date().toISOString();
      this.buffer.push({ kind: event, at, item: itemOf(fields, msg, at) });
    });
    if (!this.untap)
      this.log.warn(
        { event: 'alerts.unavailable' },
        'alerts: this logger cannot be listened to; no alert will be sent',
      );
  }

  /** Opens the targets (reading their secrets) and starts grouping and delivering. */
  open(store: Store, channel: () => ChannelHealth | null): void {
    this.queue = new AlertQueue(store.db);
    this.channel = channel;
    this.targets = openTargets(this.config);
    const c = this.queue.counts();
    this.log.info(
      {
        event: 'alerts.started',
        targets: this.targets.map((t) => `${t.name}: ${t.where}`),
        waitingItems: c.items,
        queued: c.queued,
        events: this.config.events.length,
      },
      `alerts to ${this.targets.map((t) => t.where).join(' and ')}` +
        (c.queued ? `; ${c.queued} message(s) still to deliver from before` : ''),
    );
    this.schedule();
  }

  /** Only the kinds and the grouping change at a reload; targets need a restart. */
  reconfigure(config: Config): void {
    this.config = { ...config.alerts, email: this.config.email, webhook: this.config.webhook };
    this.kinds = new Set(this.config.events);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = null;
        this.schedule();
      });
    }, TICK_MS);
    this.timer.unref();
  }

  /** One pass: buffer to store, channel watch, grouping, delivery. Never throws. */
  async tick(now = Date.now()): Promise<void> {
    try {
      this.flush(now);
      this.watchChannel(now);
      this.flush(now);
      this.group(now);
      await this.deliver(now);
    } catch (err) {
      this.log.error({ event: 'alerts.error', err: failureText(err) }, `alerts: ${failureText(err)}`);
    }
  }

  /** The buffer into the store, one transaction. */
  private flush(now: number): void {
    if (!this.queue) return;
    if (this.overflow) {
      const n = this.overflow;
      this.overflow = 0;
      this.log.warn(
        { event: 'alerts.dropped', reason: 'buffer', count: n },
        `alerts: ${n} event(s) came faster than they could be recorded and were not kept`,
      );
    }
    if (this.buffer.length === 0) return;
    const items = this.buffer;
    this.buffer = [];
    this.queue.addItems(items, this.config.maxItems, now);
  }

  private watchChannel(now: number): void {
    const h = this.channel?.() ?? null;
    if (!h || h.ok) {
      if (this.downAnnounced && h)
        this.log.info({ event: 'alerts.channel_up', channel: h.name }, `the channel ${h.name} is up again`);
      this.downSince = null;
      this.downAnnounced = false;
      return;
    }
    this.downSince ??= now;
    if (!this.downAnnounced && now - this.downSince >= this.config.channelDownMs) {
      this.downAnnounced = true;
      const minutes = Math.round((now - this.downSince) / 60_000);
      this.log.warn(
        {
          event: 'alerts.channel_down',
          channel: h.name,
          since: new Date(this.downSince).toISOString(),
          detail: h.detail,
        },
        `the channel ${h.name} has been down for ${minutes} minute(s): ${h.detail ?? 'no detail'}`,
      );
    }
  }

  private group(now: number): void {
    const q = this.queue;
    if (!q) return;
    const c = this.config;
    for (const kind of q.dueKinds(now, c.groupWaitMs, c.intervalMs)) {
      const taken = q.takeGroup(
        kind,
        this.targets.map((t) => t.name),
        (g) => {
          const m = buildMessage(g, { now });
          return { messageId: m.id, body: JSON.stringify(m) };
        },
        now,
        c.maxQueue,
      );
      if (taken?.dropped.length)
        this.log.warn(
          {
            event: 'alerts.dropped',
            reason: 'queue',
            count: taken.dropped.length,
            kinds: [...new Set(taken.dropped.map((d) => d.kind))],
          },
          `alerts: the queue is full (alerts.maxQueue ${c.maxQueue}); the ${taken.dropped.length} oldest message(s) dropped`,
        );
    }
  }

  private async deliver(now: number): Promise<void> {
    const q = this.queue;
    // One delivery pass at a time: a message is never sent twice at once.
    if (!q || this.delivering) return;
    this.delivering = true;
    try {
      await this.deliverDue(q, now);
    } finally {
      this.delivering = false;
    }
  }

  private async deliverDue(q: AlertQueue, now: number): Promise<void> {
    for (const row of q.due(now, 20)) {
      if (this.stopped) return;
      const target = this.targets.find((t) => t.name === row.target);
      if (!target) {
        q.delivered(row.id);
        continue;
      }
      const m = JSON.parse(row.body) as AlertMessage;
      try {
        const answer = await target.send(m, row.body);
        // Stopped meanwhile (the store may be closed): delivered again after the restart, same id.
        if (this.queue !== q) return;
        q.delivered(row.id);
        this.delivered++;
        this.log.info(
          {
            event: 'alerts.sent',
            kind: row.kind,
            target: row.target,
            id: row.messageId,
            count: m.count,
            answer,
          },
          `alert "${m.title}" (${m.count}) sent by ${row.target}`,
        );
      } catch (err) {
        if (this.queue !== q) return;
        const r = this.config.retry;
        const delay = Math.min(r.maxMs, r.initialMs * 2 ** Math.min(row.attempts, 30));
        q.failed(row.id, failureText(err), Date.now() + delay);
        this.failures++;
        this.log.warn(
          {
            event: 'alerts.failed',
            kind: row.kind,
            target: row.target,
            where: target.where,
            id: row.messageId,
            attempts: row.attempts + 1,
            retryInMs: delay,
            error: failureText(err),
          },
          `alert "${m.title}" not sent by ${row.target} (${failureText(err)}); retrying in ${Math.round(delay / 1000)} s`,
        );
      }
    }
  }

  /** Waits for the pass in progress, writes what is buffered, closes the targets. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.running) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.running, new Promise((r) => (timer = setTimeout(r, STOP_WAIT_MS)))]);
      clearTimeout(timer);
    }
    this.untap?.();
    this.untap = null;
    try {
      this.flush(Date.now());
    } catch (err) {
      this.log.error({ event: 'alerts.error', err: failureText(err) }, `alerts: ${failureText(err)}`);
    }
    for (const t of this.targets) t.close();
    this.queue = null;
  }
}
