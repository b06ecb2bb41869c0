import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { InboundMessage } from '../../src/channels/channel.js';
import { loadConfig } from '../../src/config/load.js';
import { InboundHandler } from '../../src/pipeline/inbound.js';
import { Store } from '../../src/store/store.js';
import { validatedDocument } from '../helpers/store.js';
import { EX, example } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Receipts of the transport (the PEC provider's accettazione, avvenuta consegna and their
 * failures) through the inbound handler, on a real store: recorded against the send they refer
 * to; a failure of the latest attempt, while SdI has not answered, schedules the send again or
 * fails it after sending.retry.maxAttempts.
 */
const FPR12 = example(EX.b2b);

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function setup(maxAttempts = 0) {
  const t = tempDir('fatturad-receipts-');
  const config = loadConfig({ env: { FATTURAD_DATA_DIR: t.dir }, cwd: t.dir });
  config.sending.retry = { initialMs: 60_000, maxMs: 600_000, maxAttempts };
  const store = new Store(config.paths.db);
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'debug' },
    { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  let resends = 0;
  const handler = new InboundHandler(store, config, log, { onResend: () => resends++ });
  cleanups.push(() => {
    store.close();
    t.cleanup();
  });
  /** A document handed to the PEC provider as IT01234567890_00001.xml, attempt `attempts`, ref `ref`. */
  const handedOver = (ref: string, attempts = 1): number => {
    const d = validatedDocument(store, t.dir, 'a.xml', FPR12);
    store.beginSending(d, { channel: 'pec', sdiName: 'IT01234567890_00001.xml', flow: 'b2b' });
    for (let i = 0; i < attempts; i++) store.markAttempt(d);
    store.holdInDoubt(d, 'handed to the PEC provider');
    store.setTransportRef(d, ref);
    return d;
  };
  const receipt = (
    transportType: string,
    outcome: 'accepted' | 'delivered' | 'failed' | 'warning',
    ref: string | null,
    extra: Partial<Extract<InboundMessage, { type: 'transport-receipt' }>> = {},
  ): Extract<InboundMessage, { type: 'transport-receipt' }> => ({
    type: 'transport-receipt',
    channel: 'pec',
    transportType,
    outcome,
    ref,
    subject: `${transportType.toUpperCase()}: IT01234567890_00001.xml`,
    reason: outcome === 'failed' ? 'no-dest: casella inesistente' : null,
    at: '2026-11-29T10:00:00.000Z',
    bytes: Buffer.from(`receipt ${transportType} ${ref ?? ''} ${JSON.stringify(extra)}\r\n`),
    ...extra,
  });
  return { store, handler, lines, handedOver, receipt, resends: () => resends, config };
}

describe('transport receipts', () => {
  it.each([
    ['accettazione', 'accepted'],
    ['avvenuta-consegna', 'delivered'],
    ['preavviso-errore-consegna', 'warning'],
  ] as const)('%s is recorded against the send, verbatim, and changes nothing', async (type, outcome) => {
    const { store, handler, handedOver, receipt, lines } = setup();
    const d = handedOver('fatturad.x.1@pec.example.it');
    const r = receipt(type, outcome, 'fatturad.x.1@pec.example.it');
    await handler.handle(r);
    await handler.handle(r);
    const kept = store.transportReceiptsOf(d);
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({ type, outcome, effect: 'recorded' });
    expect(fs.readFileSync(kept[0]?.path ?? '')).toEqual(r.bytes);
    expect(store.getDocument(d)?.state).toBe('sending');
    expect(store.getOutbound(d)?.nextAttemptAt).toBe('9999-12-31T00:00:00.000Z');
    expect(lines.filter((l) => l.event === `transport.${outcome}`)).toHaveLength(1);
  });

  it.each(['non-accettazione', 'errore-consegna', 'rilevazione-virus'])(
    '%s of the latest attempt schedules the send again with backoff',
    async (type) => {
      const { store, handler, handedOver, receipt, resends } = setup();
      const d = handedOver('fatturad.x.1@pec.example.it');
      const before = Date.now();
      await handler.handle(receipt(type, 'failed', 'fatturad.x.1@pec.example.it'));
      const o = store.getOutbound(d);
      expect(store.getDocument(d)?.state).toBe('sending');
      const next = Date.parse(o?.nextAttemptAt ?? '');
      // attempt 1: 60 s +-50 %
      expect(next).toBeGreaterThanOrEqual(before + 30_000);
      expect(next).toBeLessThanOrEqual(Date.now() + 90_000);
      expect(o?.lastError).toContain(type);
      expect(store.transportReceiptsOf(d)[0]?.effect).toMatch(/^resend in/);
      expect(resends()).toBe(0); // the kick comes after the delay
    },
  );

  it('a failure after the last allowed attempt fails the document with the reason', async () => {
    const { store, handler, handedOver, receipt, lines } = setup(2);
    const d = handedOver('fatturad.x.2@pec.example.it', 2);
    await handler.handle(receipt('errore-consegna', 'failed', 'fatturad.x.2@pec.example.it'));
    expect(store.getDocument(d)?.state).toBe('failed');
    expect(store.timeline(d).at(-1)?.reason).toMatch(/gave up after 2 attempts: errore-consegna: no-dest/);
    expect(lines.find((l) => l.event === 'transport.failed')?.level).toBe(50);
  });

  it('a failure about an earlier attempt, or after SdI answered, changes nothing', async () => {
    const { store, handler, handedOver, receipt } = setup();
    const d = handedOver('fatturad.x.2@pec.example.it', 2);
    await handler.handle(receipt('errore-consegna', 'failed', 'fatturad.x.1@pec.example.it'));
    expect(store.getOutbound(d)?.nextAttemptAt).toBe('9999-12-31T00:00:00.000Z');
    expect(store.transportReceiptsOf(d)[0]?.effect).toBe('ignored: about an earlier attempt');
    store.recordSent(d, '777');
    await handler.handle(
      receipt('non-accettazione', 'failed', 'fatturad.x.2@pec.example.it', { bytes: Buffer.from('other') }),
    );
    expect(store.getDocument(d)?.state).toBe('sent');
    expect(store.transportReceiptsOf(d)[1]?.effect).toBe('ignored: SdI already answered');
  });

  it('without a known reference, the SdI file name in the subject finds the send', async () => {
    const { store, handler, handedOver, receipt } = setup();
    const d = handedOver('fatturad.x.1@pec.example.it');
    await handler.handle(receipt('accettazione', 'accepted', 'unknown-ref@elsewhere'));
    expect(store.transportReceiptsOf(d)).toHaveLength(1);
  });

  it('a receipt that matches nothing is kept and logged as unmatched', async () => {
    const { store, handler, receipt, lines } = setup();
    await handler.handle(receipt('accettazione', 'accepted', 'nothing', { subject: 'ACCETTAZIONE: hello' }));
    expect(lines.find((l) => l.event === 'transport.receipt_unmatched')).toBeDefined();
    const rows = store.db.prepare(`SELECT effect FROM transport_receipts`).all();
    expect(rows).toEqual([{ effect: 'unmatched' }]);
  });
});

describe('channel state', () => {
  it('keeps values across a reopen of the store', () => {
    const t = tempDir('fatturad-chstate-');
    cleanups.push(t.cleanup);
    const file = path.join(t.dir, 'db.sqlite');
    const a = new Store(file);
    expect(a.getChannelState('k')).toBeUndefined();
    a.setChannelState('k', 'v1');
    a.setChannelState('k', 'v2');
    a.close();
    const b = new Store(file);
    expect(b.getChannelState('k')).toBe('v2');
    b.close();
  });
});
