import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { buildNotification } from '../../src/notifications/build.js';
import type * as InboundTypes from '../../src/pipeline/inbound.js';
import { Store } from '../../src/store/store.js';
import { bigInvoice } from '../helpers/big-invoice.js';
import { EX, example } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

// The worker runs the compiled code (dist/, built by `npm test` before the tests).
const { InboundHandler, OFF_THREAD_BYTES } = (await import(
  path.resolve(import.meta.dirname, '../../dist/pipeline/inbound.js')
)) as typeof InboundTypes;

/**
 * Received invoices and SdI's messages larger than OFF_THREAD_BYTES are read on a worker thread,
 * like outgoing invoices, within the per-file budget: before, they were parsed and validated on
 * the daemon's main thread (a one-line 1 MB invoice took 27 s there, and /healthz waited).
 */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function setup(budget?: { timeMs: number; memoryMb: number }) {
  const t = tempDir('fatturad-inbound-off-');
  const config = loadConfig({ env: { FATTURAD_DATA_DIR: t.dir }, cwd: t.dir });
  config.passive.importDir = path.join(t.dir, 'inbox');
  if (budget) config.validation.budget = budget;
  const store = new Store(config.paths.db);
  const handler = new InboundHandler(store, config, pino({ level: 'silent' }));
  cleanups.push(async () => {
    await handler.close();
    store.close();
    t.cleanup();
  });
  return { config, store, handler };
}

const invoice = (n: number, bytes: Buffer) => ({
  type: 'invoice' as const,
  channel: 'sdicoop',
  identificativoSdI: String(900 + n),
  fileName: `IT01234567890_0000${n}.xml`,
  bytes,
  metadataName: `IT01234567890_0000${n}_MT_001.xml`,
  metadata: Buffer.from('<MT/>'),
});

describe('inbound: large messages are read off the main thread', () => {
  it('a received one-line 1 MB invoice is validated on the worker; a small one in this thread', async () => {
    const { handler, store, config } = setup();
    const big = Buffer.from(bigInvoice(1024 * 1024, { oneLine: true, xmlnsXml: true }));
    expect(big.length).toBeGreaterThan(OFF_THREAD_BYTES);
    await handler.handle(invoice(1, big));
    expect(handler.readOffThread).toBe(1);
    await handler.handle(invoice(2, example(EX.b2b)));
    expect(handler.readOffThread).toBe(1);
    const rows = store.listPassive();
    expect(rows.map((r) => [r.nomeFile, r.valid])).toEqual([
      ['IT01234567890_00002.xml', true],
      ['IT01234567890_00001.xml', true],
    ]);
    // (Buffer.equals: a deep comparison of a megabyte byte by byte takes seconds.)
    expect(fs.readFileSync(path.join(config.passive.importDir, 'IT01234567890_00001.xml')).equals(big)).toBe(
      true,
    );
  });

  it('a large SdI message is read on the worker', async () => {
    const { handler, store } = setup();
    const ns = buildNotification({
      kind: 'NS',
      family: 'pa',
      identificativoSdI: '500',
      nomeFile: 'IT01234567890_00001.xml',
      errors: Array.from({ length: 200 }, () => ({
        codice: '00404',
        descrizione: 'Fattura duplicata. '.repeat(25),
      })),
      now: new Date('2026-01-01T10:00:00Z'),
    });
    expect(ns.length).toBeGreaterThan(OFF_THREAD_BYTES);
    await handler.handle({
      type: 'notification',
      channel: 'sdicoop',
      fileName: 'IT01234567890_00001_NS_001.xml',
      bytes: ns,
    });
    expect(handler.readOffThread).toBe(1);
    const rows = store.unmatchedNotifications();
    expect(rows.map((r) => [r.kind, r.identificativoSdI])).toEqual([['NS', '500']]);
  });

  it('a received invoice over the budget: delivered all the same, with 00200 "too complex"', async () => {
    // A 5 MB invoice (the most SdI takes) needs well over 50 ms of parsing alone.
    const { handler, store, config } = setup({ timeMs: 50, memoryMb: 1024 });
    const huge = Buffer.from(bigInvoice(5 * 1024 * 1024 - 10_000, { oneLine: true }));
    await handler.handle(invoice(3, huge));
    const [row] = store.listPassive();
    expect(row?.valid).toBe(false);
    const warnings = row?.warnings as { code: string; message: string; messageIt: string }[];
    expect(warnings.map((w) => w.code)).toContain('00200');
    expect(warnings.find((w) => w.code === '00200')?.message).toMatch(/too complex to check/);
    // Kept and delivered, never lost.
    expect(fs.readFileSync(path.join(config.passive.importDir, 'IT01234567890_00003.xml')).equals(huge)).toBe(
      true,
    );
  });
});
