import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Channel, OutgoingFile, SendResult } from '../../src/channels/channel.js';
import { loadConfig } from '../../src/config/load.js';
import { backoffMs, SendStep } from '../../src/pipeline/send-step.js';
import { Store } from '../../src/store/store.js';
import { waitFor } from '../helpers/daemon.js';
import { validatedDocument } from '../helpers/store.js';
import { EX, example } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The sending step's decisions with a scripted channel (the pipeline logic only; the SDICoop
 * channel itself is tested against real HTTPS servers).
 */
const FPR12 = example(EX.b2b);

class ScriptedChannel implements Channel {
  readonly name = 'test';
  readonly sent: OutgoingFile[] = [];
  constructor(private readonly script: SendResult[]) {}
  async start(): Promise<void> {}
  async send(f: OutgoingFile): Promise<SendResult> {
    this.sent.push(f);
    return this.script.shift() ?? { kind: 'retry', reason: 'script ended' };
  }
  health() {
    return { ok: true, detail: '' };
  }
  async stop(): Promise<void> {}
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(script: SendResult[], name = 'fattura.xml') {
  const t = tempDir('fatturad-send-');
  const config = loadConfig({ env: { FATTURAD_DATA_DIR: t.dir }, cwd: t.dir });
  config.sending.pollMs = 50;
  config.sending.retry = { initialMs: 20, maxMs: 40, maxAttempts: 3 };
  const store = new Store(config.paths.db);
  const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
  const d = validatedDocument(store, t.dir, name, FPR12);
  const channel = new ScriptedChannel(script);
  const step = new SendStep(store, config, channel, log);
  cleanups.push(
    () => store.close(),
    () => t.cleanup(),
    () => step.stop(),
  );
  return { store, channel, step, d, config, log };
}

describe('sending step', () => {
  it('names the file from its IdTrasmittente and a persisted counter, then records the IdentificativoSdI', async () => {
    const { store, channel, step, d } = setup([{ kind: 'accepted', identificativoSdI: '777' }]);
    step.start();
    await waitFor('document sent', () => store.getDocument(d)?.state === 'sent', 5000);
    expect(channel.sent[0]?.sdiName).toBe('IT12345670017_00001.xml');
    expect(channel.sent[0]?.bytes).toEqual(FPR12);
    expect(store.getOutbound(d)?.identificativoSdI).toBe('777');
  });

  it('keeps the ERP name when it is a valid, unused SdI name', async () => {
    const { channel, step, store, d } = setup(
      [{ kind: 'accepted', identificativoSdI: '1' }],
      'IT12345670017_ERP01.xml',
    );
    step.start();
    await waitFor('document sent', () => store.getDocument(d)?.state === 'sent', 5000);
    expect(channel.sent[0]?.sdiName).toBe('IT12345670017_ERP01.xml');
  });

  it('EI02 and network errors are retried with backoff, then the file is taken', async () => {
    const { store, channel, step, d } = setup([
      { kind: 'retry', reason: 'EI02 servizio non disponibile', code: 'EI02' },
      { kind: 'retry', reason: 'ECONNREFUSED' },
      { kind: 'accepted', identificativoSdI: '778' },
    ]);
    step.start();
    await waitFor('document sent', () => store.getDocument(d)?.state === 'sent', 5000);
    expect(channel.sent).toHaveLength(3);
    expect(new Set(channel.sent.map((s) => s.sdiName)).size).toBe(1);
    expect(store.getOutbound(d)?.attempts).toBe(3);
  });

  it('EI01 / EI03 end in failed with the reason', async () => {
    const { store, step, d } = setup([{ kind: 'refused', code: 'EI03', reason: 'utente non abilitato' }]);
    step.start();
    await waitFor('document failed', () => store.getDocument(d)?.state === 'failed', 5000);
    expect(store.timeline(d).at(-1)?.reason).toMatch(/EI03/);
  });

  it('gives up after maxAttempts temporary failures', async () => {
    const { store, channel, step, d } = setup([]);
    step.start();
    await waitFor('document failed', () => store.getDocument(d)?.state === 'failed', 5000);
    expect(channel.sent).toHaveLength(3);
  });

  it('a send in flight when the daemon stopped is held, never sent again on its own', async () => {
    const { store, channel, config, d, log } = setup([]);
    store.beginSending(d, { channel: 'test', sdiName: 'IT12345670017_00001.xml', flow: 'b2b' });
    store.markAttempt(d); // the crash happens here, during the call
    const step = new SendStep(store, config, channel, log);
    cleanups.push(() => step.stop());
    step.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(channel.sent).toHaveLength(0);
    expect(store.getDocument(d)?.state).toBe('sending');
    expect(store.getOutbound(d)?.lastError).toMatch(/in doubt/);
  });

  it.each([
    [1, 1000, 60_000, 0.5, 1000],
    [2, 1000, 60_000, 0.5, 2000],
    [3, 1000, 60_000, 0, 2000],
    [10, 1000, 60_000, 0.5, 60_000],
  ])('backoff: attempt %i, initial %i, max %i, random %f -> %i ms', (attempts, initial, max, r, expected) => {
    expect(backoffMs(attempts, initial, max, () => r)).toBe(expected);
  });
});
