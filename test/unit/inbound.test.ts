import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { buildNotification } from '../../src/notifications/build.js';
import { InboundHandler } from '../../src/pipeline/inbound.js';
import { Store } from '../../src/store/store.js';
import { EX, example, specPath } from '../helpers/spec.js';
import { validatedDocument } from '../helpers/store.js';
import { tempDir } from '../helpers/tmp.js';

/** Notifications and received invoices through the inbound handler, on a real store and real files. */
const FPR12 = example(EX.b2b);
/** SdI's signed RC sample (official, 2014): the oracle for the XAdES check. */
const RC_SAMPLE = specPath('sdi', 'messaggi', 'samples', 'IT01234567890_11111_RC_001.xml');

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function setup() {
  const t = tempDir('fatturad-inbound-');
  const config = loadConfig({ env: { FATTURAD_DATA_DIR: t.dir }, cwd: t.dir });
  config.passive.importDir = path.join(t.dir, 'inbox');
  const store = new Store(config.paths.db);
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'debug' },
    { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  const handler = new InboundHandler(store, config, log);
  cleanups.push(() => {
    store.close();
    t.cleanup();
  });
  /** A document sent as IT01234567890_00001.xml, in the given flow, optionally with its IdentificativoSdI. */
  const sent = (flow: 'pa' | 'b2b', id: string | null = '500'): number => {
    const d = validatedDocument(store, t.dir, 'a.xml', FPR12);
    store.beginSending(d, { channel: 'sdicoop', sdiName: 'IT01234567890_00001.xml', flow });
    if (id) store.recordSent(d, id);
    return d;
  };
  const msg = (kind: 'RC' | 'NS' | 'MC' | 'NE' | 'DT' | 'AT', family: 'pa' | 'b2b', extra = {}) => ({
    type: 'notification' as const,
    channel: 'sdicoop',
    fileName: `IT01234567890_00001_${kind}_001.xml`,
    bytes: buildNotification({
      kind,
      family,
      identificativoSdI: '500',
      nomeFile: 'IT01234567890_00001.xml',
      destinatario: { codice: 'ABC1234' },
      invoiceBytes: FPR12,
      descrizione: 'x',
      now: new Date('2026-01-01T10:00:00Z'),
      ...extra,
    }),
  });
  return { t, config, store, handler, lines, sent, msg };
}

describe('inbound notifications', () => {
  it('RC delivers; the same RC again is a no-op; the message is kept verbatim', async () => {
    const { store, handler, sent, msg } = setup();
    const d = sent('b2b');
    const rc = msg('RC', 'b2b');
    await handler.handle(rc);
    await handler.handle(rc);
    expect(store.getDocument(d)?.state).toBe('delivered');
    const kept = store.notificationsOf(d);
    expect(kept).toHaveLength(1);
    expect(fs.readFileSync(kept[0]?.path ?? '')).toEqual(rc.bytes);
  });

  it('NS rejects and writes the report in rejected/ with SdI error list, in English and Italian', async () => {
    const { store, handler, sent, msg, config } = setup();
    const d = sent('b2b');
    await handler.handle(
      msg('NS', 'b2b', {
        errors: [
          { codice: '00311', descrizione: 'CodiceDestinatario non valido', suggerimento: 'Verificare' },
        ],
      }),
    );
    expect(store.getDocument(d)?.state).toBe('rejected');
    const report = fs.readdirSync(config.paths.rejected).find((f) => f.endsWith('.errors.json')) ?? '';
    const json = JSON.parse(fs.readFileSync(path.join(config.paths.rejected, report), 'utf8')) as {
      stage: string;
      errors: { code: string; message: string; messageIt: string }[];
    };
    expect(json.stage).toBe('sdi');
    expect(json.errors[0]?.code).toBe('00311');
    expect(json.errors[0]?.message).toMatch(/CodiceDestinatario is not valid/);
    expect(json.errors[0]?.messageIt).toMatch(/CodiceDestinatario non valido/);
  });

  it('PA: MC waits, then AT attests; B2B: MC is final', async () => {
    const a = setup();
    const d = a.sent('pa');
    await a.handler.handle(a.msg('MC', 'pa'));
    expect(a.store.getDocument(d)?.state).toBe('not_delivered');
    await a.handler.handle(a.msg('AT', 'pa'));
    expect(a.store.getDocument(d)?.state).toBe('attested');
    const b = setup();
    const e = b.sent('b2b');
    await b.handler.handle(b.msg('MC', 'b2b'));
    expect(b.store.getDocument(e)?.state).toBe('available');
  });

  it('out of order: NE before RC ends accepted, the late RC changes nothing', async () => {
    const { store, handler, sent, msg } = setup();
    const d = sent('pa');
    await handler.handle(msg('NE', 'pa', { esito: 'EC01' }));
    await handler.handle(msg('RC', 'pa'));
    expect(store.getDocument(d)?.state).toBe('accepted');
  });

  it('a notification that comes before the send was recorded is matched by file name', async () => {
    const { store, handler, sent, msg } = setup();
    const d = sent('b2b', null);
    await handler.handle(msg('RC', 'b2b'));
    expect(store.getDocument(d)?.state).toBe('delivered');
    expect(store.getOutbound(d)?.identificativoSdI).toBe('500');
  });

  it('a notification for an unknown file is kept and logged, never dropped; it applies once the file is known', async () => {
    const { store, handler, msg, lines, sent } = setup();
    await handler.handle(msg('RC', 'b2b'));
    expect(lines.some((l) => l.event === 'notification.unmatched')).toBe(true);
    expect(store.unmatchedNotifications()).toHaveLength(1);
    const d = sent('b2b');
    await handler.reconcile();
    expect(store.getDocument(d)?.state).toBe('delivered');
  });

  it('an NS 00002 about a second copy of a file sent twice does not reject the invoice', async () => {
    const { store, handler, sent, msg } = setup();
    const d = sent('b2b');
    store.markAttempt(d);
    store.markAttempt(d); // two attempts were made
    const ns = msg('NS', 'b2b', {
      identificativoSdI: '501',
      errors: [{ codice: '00002', descrizione: 'Nome file duplicato', suggerimento: '' }],
    });
    await handler.handle(ns);
    expect(store.getDocument(d)?.state).toBe('sent');
    await handler.handle(msg('RC', 'b2b'));
    expect(store.getDocument(d)?.state).toBe('delivered');
  });

  it.skipIf(!RC_SAMPLE)(
    "SdI's signature is checked and recorded; a broken one is logged, the message still kept and processed",
    async () => {
      const { store, handler, lines } = setup();
      const rc = fs.readFileSync(RC_SAMPLE as string);
      await handler.handle({ type: 'notification', channel: 'sdicoop', fileName: 'a_RC_001.xml', bytes: rc });
      const broken = Buffer.from(rc.toString('utf8').replace('<Note>Esempio<', '<Note>Esempi0<'));
      await handler.handle({
        type: 'notification',
        channel: 'sdicoop',
        fileName: 'b_RC_001.xml',
        bytes: broken,
      });
      const kept = store.unmatchedNotifications().map((n) => n.signature);
      expect(kept).toEqual([
        'valid (Sistema Interscambio Fattura PA)',
        'invalid: the document does not match its signed digest',
      ]);
      expect(lines.some((l) => l.event === 'notification.signature_invalid')).toBe(true);
    },
  );

  it('unreadable messages are kept with a clear event', async () => {
    const { handler, lines, t } = setup();
    await handler.handle({
      type: 'notification',
      channel: 'sdicoop',
      fileName: 'x.xml',
      bytes: Buffer.from('<!DOCTYPE x><x/>'),
    });
    const ev = lines.find((l) => l.event === 'notification.unreadable');
    expect(ev).toBeTruthy();
    expect(fs.existsSync(String(ev?.kept))).toBe(true);
    expect(String(ev?.kept).startsWith(t.dir)).toBe(true);
  });
});

describe('received invoices', () => {
  it('are stored, validated leniently and written to the import folder with their MT, once', async () => {
    const { handler, store, config } = setup();
    const bad = Buffer.from(FPR12.toString('utf8').replace('<Quantita>', '<Quantita>x'));
    const m = {
      type: 'invoice' as const,
      channel: 'sdicoop',
      identificativoSdI: '900',
      fileName: 'IT01234567890_00009.xml',
      bytes: bad,
      metadataName: 'IT01234567890_00009_MT_001.xml',
      metadata: Buffer.from('<MT/>'),
    };
    await handler.handle(m);
    await handler.handle(m);
    expect(fs.readFileSync(path.join(config.passive.importDir, m.fileName))).toEqual(bad);
    expect(fs.readFileSync(path.join(config.passive.importDir, m.metadataName)).toString()).toBe('<MT/>');
    const rows = store.listPassive();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.valid).toBe(false);
  });
});
