import crypto from 'node:crypto';
import os from 'node:os';
import { SECRET_KEYS } from '../log.js';
import type { AlertGroup } from '../store/alert-queue.js';
import { alertKind } from './kinds.js';

/**
 * What an alert says: one JSON message per event kind and interval (the webhook's body, stored as
 * is in the queue), the e-mail made from it, and the webhook's HMAC-SHA256 signature.
 */
export interface AlertMessage {
  type: 'fatturad.alert';
  version: 1;
  /** The same for every target and every retry: a receiver drops a message it already has. */
  id: string;
  kind: string;
  sdi: string | null;
  title: string;
  titleIt: string;
  action: string;
  actionIt: string;
  host: string;
  createdAt: string;
  /** Events grouped in this message: the items listed plus those only counted. */
  count: number;
  omitted: number;
  firstAt: string | null;
  lastAt: string | null;
  items: Record<string, unknown>[];
  test: boolean;
}

const SECRET = new Set(SECRET_KEYS.map((k) => k.toLowerCase()));
const DROP = new Set(['event', 'level', 'time', 'service', 'component', 'pid', 'hostname']);

/** The fields of a log record kept in an alert item: no secrets, no large values. */
export function itemOf(fields: Record<string, unknown>, msg: string, at: string): Record<string, unknown> {
  const item: Record<string, unknown> = { at };
  for (const [k, v] of Object.entries(fields)) {
    if (DROP.has(k) || SECRET.has(k.toLowerCase()) || v === undefined) continue;
    if (v instanceof Error) {
      item[k] = v.message;
      continue;
    }
    const text = JSON.stringify(v);
    if (text !== undefined && text.length <= 4000) item[k] = v;
  }
  if (msg) item.message = msg;
  return item;
}

export function buildMessage(g: AlertGroup, opts: { test?: boolean; now?: number } = {}): AlertMessage {
  const k = alertKind(g.kind);
  return {
    type: 'fatturad.alert',
    version: 1,
    id: crypto.randomUUID(),
    kind: g.kind,
    sdi: k?.sdi ?? null,
    title: k?.title ?? g.kind,
    titleIt: k?.titleIt ?? g.kind,
    action: k?.action ?? '',
    actionIt: k?.actionIt ?? '',
    host: os.hostname(),
    createdAt: new Date(opts.now ?? Date.now()).toISOString(),
    count: g.items.length + g.omitted,
    omitted: g.omitted,
    firstAt: g.firstAt,
    lastAt: g.lastAt,
    items: g.items,
    test: opts.test ?? false,
  };
}

/** A field as text: strings and numbers as they are, anything else as JSON. */
function text(v: unknown): string {
  return typeof v === 'string'
    ? v
    : typeof v === 'number' || typeof v === 'boolean'
      ? String(v)
      : JSON.stringify(v);
}

/** One line per item: the file, SdI's names, the codes, the log's sentence. */
function itemLine(it: Record<string, unknown>): string {
  const parts: string[] = [text(it.at ?? '')];
  if (it.documentId !== undefined) parts.push(`#${text(it.documentId)}`);
  if (it.file) parts.push(text(it.file));
  if (it.sdiName) parts.push(text(it.sdiName));
  if (it.identificativoSdI) parts.push(`IdentificativoSdI ${text(it.identificativoSdI)}`);
  if (Array.isArray(it.codes) && it.codes.length) parts.push(`[${it.codes.join(', ')}]`);
  const line = parts.join('  ');
  return it.message ? `${line}\n    ${text(it.message)}` : line;
}

export function emailOf(m: AlertMessage): { subject: string; text: string } {
  const subject = `[fatturad${m.test ? ' test' : ''}] ${m.title} (${m.count}) / ${m.titleIt}`;
  const text = [
    `${m.title}: ${m.count} on ${m.host}${m.firstAt ? `, ${m.firstAt} to ${m.lastAt ?? m.firstAt}` : ''}.`,
    m.action,
    '',
    `${m.titleIt}: ${m.count} su ${m.host}.`,
    m.actionIt,
    '',
    ...m.items.map((it) => `- ${itemLine(it)}`),
    ...(m.omitted ? [`... and ${m.omitted} more / e altri ${m.omitted}`] : []),
    '',
    `Event / evento: ${m.kind}; alert id ${m.id}`,
  ].join('\n');
  return { subject, text };
}

/** The webhook's signature: HMAC-SHA256 over `<timestamp>.<raw body>`, hex, as `v1=<hex>`. */
export function sign(secret: string, timestamp: string, body: string): string {
  return `v1=${crypto.createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** A receiver's check (the docs show the same few lines): the signature and a recent timestamp. */
export function verifySignature(
  secret: string,
  timestamp: string,
  body: string,
  signature: string,
  opts: { now?: number; toleranceSeconds?: number } = {},
): boolean {
  const ts = Number(timestamp);
  const now = Math.floor((opts.now ?? Date.now()) / 1000);
  if (!Number.isInteger(ts) || Math.abs(now - ts) > (opts.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(sign(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && crypto.timingSafeEqual(expected, given);
}
