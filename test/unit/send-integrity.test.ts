import fs from 'node:fs';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Channel, OutgoingFile, SendResult } from '../../src/channels/channel.js';
import { loadConfig } from '../../src/config/load.js';
import { SendStep } from '../../src/pipeline/send-step.js';
import { Store } from '../../src/store/store.js';
import { waitFor } from '../helpers/daemon.js';
import { validatedDocument } from '../helpers/store.js';
import { EX, example } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * What is validated is what is sent: the sending step reads the document's file and sends it only
 * when its sha256 is the one recorded when it was taken; otherwise one alert, nothing sent, the
 * document held for an operator.
 */
const FPR12 = example(EX.b2b);
/** The same invoice with one amount changed: still well-formed, not what was validated. */
const CHANGED = Buffer.from(FPR12.toString('latin1').replace(/<PrezzoTotale>/, '<PrezzoTotale>9'), 'latin1');

class RecordingChannel implements Channel {
  readonly name = 'test';
  readonly sent: OutgoingFile[] = [];
  async start(): Promise<void> {}
  async send(f: OutgoingFile): Promise<SendResult> {
    this.sent.push(f);
    return { kind: 'accepted', identificativoSdI: String(100 + this.sent.length) };
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

function setup() {
  const t = tempDir('fatturad-send-integrity-');
  const config = loadConfig({ env: { FATTURAD_DATA_DIR: t.dir }, cwd: t.dir });
  config.sending.pollMs = 20;
  const store = new Store(config.paths.db);
  const lines: { event?: string; [k: string]: unknown }[] = [];
  const log = pino(
    { level: 'info' },
    { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) },
  );
  const d = validatedDocument(store, t.dir, 'fattura.xml', FPR12);
  const file = store.getDocument(d)?.path as string;
  const channel = new RecordingChannel();
  const step = new SendStep(store, config, channel, log);
  cleanups.push(
    () => store.close(),
    () => t.cleanup(),
    () => step.stop(),
  );
  const events = (name: string) => lines.filter((l) => l.event === name);
  return { store, channel, step, d, file, events };
}

describe('sending step: the bytes sent are the bytes validated', () => {
  it('a file changed after validation is not named nor sent: one alert, however many passes', async () => {
    const { store, channel, step, d, file, events } = setup();
    expect(CHANGED.equals(FPR12)).toBe(false);
    fs.writeFileSync(file, CHANGED);
    step.start();
    await waitFor('the alert', () => events('send.integrity_mismatch').length > 0, 5000);
    // More passes: the alert is not repeated.
    for (let i = 0; i < 10; i++) {
      step.kick();
      await new Promise((r) => setTimeout(r, 30));
    }
    expect(channel.sent).toHaveLength(0);
    expect(store.getDocument(d)?.state).toBe('validated');
    const alerts = events('send.integrity_mismatch');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ documentId: d, level: 50 });
    expect(alerts[0]?.expected).toBe(store.getDocument(d)?.sha256);
    // Put back: sent, and what is sent is what was recorded.
    fs.writeFileSync(file, FPR12);
    step.kick();
    await waitFor('document sent', () => store.getDocument(d)?.state === 'sent', 5000);
    expect(channel.sent[0]?.bytes.equals(FPR12)).toBe(true);
  });

  it('damaged between naming and the call: held for the operator, never sent; resend after restoring sends the validated bytes', async () => {
    const { store, channel, step, d, file, events } = setup();
    store.beginSending(d, { channel: 'test', sdiName: 'IT12345670017_00001.xml', flow: 'b2b' });
    fs.writeFileSync(file, CHANGED);
    step.start();
    await waitFor('the alert', () => events('send.integrity_mismatch').length > 0, 5000);
    await waitFor('held', () => /no longer holds/.test(store.getOutbound(d)?.lastError ?? ''), 5000);
    for (let i = 0; i < 5; i++) {
      step.kick();
      await new Promise((r) => setTimeout(r, 30));
    }
    expect(channel.sent).toHaveLength(0);
    expect(store.getDocument(d)?.state).toBe('sending');
    expect(store.getOutbound(d)?.attempts).toBe(0);
    expect(events('send.integrity_mismatch')).toHaveLength(1);
    expect(events('send.integrity_mismatch')[0]).toMatchObject({ sdiName: 'IT12345670017_00001.xml' });
    // The operator puts the file back and asks for the send (what `fatturad resend` does).
    fs.writeFileSync(file, FPR12);
    store.scheduleRetry(d, 'resend asked by an operator', new Date());
    step.kick();
    await waitFor('document sent', () => store.getDocument(d)?.state === 'sent', 5000);
    expect(channel.sent).toHaveLength(1);
    expect(channel.sent[0]?.bytes.equals(FPR12)).toBe(true);
  });
});
