import type Database from 'better-sqlite3';
import { prepared } from './store.js';

/**
 * The alerts' SQL (schema 6): events waiting to be grouped into a message (at most `maxItems`
 * kept per kind, the rest counted), and the bounded queue of messages waiting for each target.
 * Every change is one transaction, so a restart finds exactly what was not yet delivered.
 */
export interface AlertItemIn {
  kind: string;
  at: string;
  item: Record<string, unknown>;
}

export interface AlertGroup {
  kind: string;
  items: Record<string, unknown>[];
  /** Items seen but not kept (over maxItems). */
  omitted: number;
  firstAt: string | null;
  lastAt: string | null;
}

export interface QueuedAlert {
  id: number;
  messageId: string;
  target: string;
  kind: string;
  body: string;
  createdAt: string;
  attempts: number;
  nextAt: number;
}

interface QueueRow {
  id: number;
  message_id: string;
  target: string;
  kind: string;
  body: string;
  created_at: string;
  attempts: number;
  next_at: number;
}

export class AlertQueue {
  constructor(private readonly db: Database.Database) {}

  /** Records events seen, in one transaction; past `maxItems` waiting for a kind, only counted. */
  addItems(items: AlertItemIn[], maxItems: number, now: number): void {
    if (items.length === 0) return;
    const db = this.db;
    db.transaction(() => {
      const waiting = new Map<string, number>();
      for (const it of items) {
        let n = waiting.get(it.kind);
        if (n === undefined) {
          prepared(
            db,
            'INSERT INTO alert_kinds (kind, first_at) VALUES (?, ?) ON CONFLICT(kind) DO UPDATE SET first_at = COALESCE(first_at, excluded.first_at)',
          ).run(it.kind, now);
          n = (
            prepared(db, 'SELECT count(*) AS n FROM alert_items WHERE kind = ?').get(it.kind) as { n: number }
          ).n;
        }
        if (n < maxItems) {
          prepared(db, 'INSERT INTO alert_items (kind, at, item) VALUES (?, ?, ?)').run(
            it.kind,
            it.at,
            JSON.stringify(it.item),
          );
          n++;
        } else prepared(db, 'UPDATE alert_kinds SET omitted = omitted + 1 WHERE kind = ?').run(it.kind);
        waiting.set(it.kind, n);
      }
    })();
  }

  /** The kinds whose message is due: waited groupWaitMs since their first item, and intervalMs since the last message. */
  dueKinds(now: number, groupWaitMs: number, intervalMs: number): string[] {
    return (
      prepared(
        this.db,
        'SELECT kind FROM alert_kinds WHERE first_at IS NOT NULL AND first_at + ? <= ? AND last_sent_at + ? <= ? ORDER BY kind',
      ).all(groupWaitMs, now, intervalMs, now) as { kind: string }[]
    ).map((r) => r.kind);
  }

  /**
   * In one transaction: takes the kind's waiting items, makes the message with `build`, queues it
   * for every target, and keeps the queue within `maxQueue` (the oldest rows dropped: returned).
   */
  takeGroup(
    kind: string,
    targets: string[],
    build: (g: AlertGroup) => { messageId: string; body: string },
    now: number,
    maxQueue: number,
  ): { messageId: string; dropped: QueuedAlert[] } | null {
    const db = this.db;
    return db.transaction(() => {
      const rows = prepared(db, 'SELECT id, at, item FROM alert_items WHERE kind = ? ORDER BY id').all(
        kind,
      ) as {
        id: number;
        at: string;
        item: string;
      }[];
      const k = prepared(db, 'SELECT omitted FROM alert_kinds WHERE kind = ?').get(kind) as
        { omitted: number } | undefined;
      const omitted = k?.omitted ?? 0;
      prepared(
        db,
        'UPDATE alert_kinds SET first_at = NULL, omitted = 0, last_sent_at = ? WHERE kind = ?',
      ).run(now, kind);
      if (rows.length === 0 && omitted === 0) return null;
      prepared(db, 'DELETE FROM alert_items WHERE kind = ?').run(kind);
      const msg = build({
        kind,
        items: rows.map((r) => JSON.parse(r.item) as Record<string, unknown>),
        omitted,
        firstAt: rows[0]?.at ?? null,
        lastAt: rows[rows.length - 1]?.at ?? null,
      });
      const created = new Date(now).toISOString();
      for (const t of targets)
        prepared(
          db,
          'INSERT INTO alert_queue (message_id, target, kind, body, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?)',
        ).run(msg.messageId, t, kind, msg.body, created, now);
      const total = (prepared(db, 'SELECT count(*) AS n FROM alert_queue').get() as { n: number }).n;
      let dropped: QueuedAlert[] = [];
      if (total > maxQueue) {
        dropped = (
          prepared(db, 'SELECT * FROM alert_queue ORDER BY id LIMIT ?').all(total - maxQueue) as QueueRow[]
        ).map(toQueued);
        for (const d of dropped) prepared(db, 'DELETE FROM alert_queue WHERE id = ?').run(d.id);
      }
      return { messageId: msg.messageId, dropped };
    })();
  }

  /** Messages whose next attempt is due, oldest first. */
  due(now: number, limit: number): QueuedAlert[] {
    return (
      prepared(this.db, 'SELECT * FROM alert_queue WHERE next_at <= ? ORDER BY id LIMIT ?').all(
        now,
        limit,
      ) as QueueRow[]
    ).map(toQueued);
  }

  /** The earliest next attempt in the queue, if any. */
  nextDue(): number | null {
    const r = prepared(this.db, 'SELECT min(next_at) AS n FROM alert_queue').get() as { n: number | null };
    return r.n;
  }

  delivered(id: number): void {
    prepared(this.db, 'DELETE FROM alert_queue WHERE id = ?').run(id);
  }

  failed(id: number, error: string, nextAt: number): void {
    prepared(
      this.db,
      'UPDATE alert_queue SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?',
    ).run(nextAt, error.slice(0, 500), id);
  }

  counts(): { items: number; omitted: number; queued: number } {
    const items = (prepared(this.db, 'SELECT count(*) AS n FROM alert_items').get() as { n: number }).n;
    const omitted = (
      prepared(this.db, 'SELECT coalesce(sum(omitted), 0) AS n FROM alert_kinds').get() as { n: number }
    ).n;
    const queued = (prepared(this.db, 'SELECT count(*) AS n FROM alert_queue').get() as { n: number }).n;
    return { items, omitted, queued };
  }
}

function toQueued(r: QueueRow): QueuedAlert {
  return {
    id: r.id,
    messageId: r.message_id,
    target: r.target,
    kind: r.kind,
    body: r.body,
    createdAt: r.created_at,
    attempts: r.attempts,
    nextAt: r.next_at,
  };
}
