import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Channel, OutgoingFile, SendResult } from '../../src/channels/channel.js';
import { loadConfig } from '../../src/config/load.js';
import { SendStep } from '../../src/pipeline/send-step.js';
import {
  compareWithJournal,
  encodeRecord,
  holdBehindJournal,
  readJournalFile,
  SendJournal,
  type AttemptRecord,
} from '../../src/store/journal.js';
import { StoreGuard } from '../../src/store/guard.js';
import { Store } from '../../src/store/store.js';
import { waitFor } from '../helpers/daemon.js';
import { EX, example } from '../helpers/spec.js';
import { validatedDocument } from '../helpers/store.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The send journal (src/store/journal.ts): records survive torn writes, every attempt is in it
 * before the channel is called, and a store that lost sends is brought back to it (held in doubt,
 * never sent again on its own).
 */
const FPR12 = example(EX.b2b);
const log = pino({ level: process.env.TEST_LOG ?? 'silent' });

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function record(
  n: number,
  over: Partial<AttemptRecord> = {},
): Omit<AttemptRecord, 't' | 'at' | 'node' | 'pid'> {
  return {
    documentId: n,
    sdiName: `IT12345670017_0000${n}.xml`,
    sha256: String(n).repeat(64).slice(0, 64),
    channel: 'test',
    flow: 'b2b',
    attempt: 1,
    originalName: `f${n}.xml`,
    entry: '',
    sourceDir: '/erp/out',
    path: null,
    size: 10,
    ...over,
  };
}

/** A channel that answers from a script and notes what the journal held at each call. */
class WitnessChannel implements Channel {
  readonly name = 'test';
  readonly sent: OutgoingFile[] = [];
  readonly journalAtCall: number[] = [];
  constructor(
    private readonly journalFile: string,
    private readonly script: SendResult[],
  ) {}
  async start(): Promise<void> {}
  async send(f: OutgoingFile): Promise<SendResult> {
    this.sent.push(f);
    this.journalAtCall.push(
      readJournalFile(this.journalFile).records.filter(
        (r) => r.sdiName === f.sdiName && r.attempt === f.attempt,
      ).length,
    );
    return this.script.shift() ?? { kind: 'retry', reason: 'script ended' };
  }
  health() {
    return { ok: true, detail: '' };
  }
  async stop(): Promise<void> {}
}

function setup() {
  const t = tempDir('fatturad-journal-');
  const config = loadConfig({ env: { FATTURAD_DATA_DIR: t.dir }, cwd: t.dir });
  config.sending.pollMs = 50;
  config.sending.retry = { initialMs: 20, maxMs: 40, maxAttempts: 0 };
  cleanups.push(() => t.cleanup());
  return { t, config };
}

describe('send journal file', () => {
  it('a torn last line is recognized, ignored and cut off; the next record starts a line of its own', () => {
    const { t } = setup();
    const j = new SendJournal(t.dir);
    j.open();
    for (const n of [1, 2, 3]) j.recordAttempt(record(n));
    j.close();
    const whole = encodeRecord({ t: 'attempt', ...record(4), at: 'x', node: 'n', pid: 1 });
    fs.appendFileSync(j.file, whole.slice(0, 40)); // a power cut in the middle of the fourth write
    const read = readJournalFile(j.file);
    expect(read.records.map((r) => r.documentId)).toEqual([1, 2, 3]);
    expect(read.tornBytes).toBe(40);
    expect(read.badLines).toEqual([]);

    const again = new SendJournal(t.dir);
    expect(again.open().tornBytes).toBe(40);
    again.recordAttempt(record(5));
    again.close();
    const after = readJournalFile(j.file);
    expect(after.records.map((r) => r.documentId)).toEqual([1, 2, 3, 5]);
    expect(after.tornBytes).toBe(0);
    expect(after.badLines).toEqual([]);
  });

  it('a damaged line in the middle is ignored by its checksum, the others are kept', () => {
    const { t } = setup();
    const j = new SendJournal(t.dir);
    j.open();
    for (const n of [1, 2, 3]) j.recordAttempt(record(n));
    j.close();
    const lines = fs.readFileSync(j.file, 'utf8').split('\n');
    lines[1] = (lines[1] ?? '').replace('"attempt":1', '"attempt":9');
    fs.writeFileSync(j.file, lines.join('\n'));
    const read = readJournalFile(j.file);
    expect(read.records.map((r) => r.documentId)).toEqual([1, 3]);
    expect(read.badLines).toEqual([2]);
  });
});

describe('send journal and the sending step', () => {
  it('every attempt is in the journal, fsynced, before the channel is called', async () => {
    const { t, config } = setup();
    const store = new Store(config.paths.db);
    cleanups.push(() => store.close());
    const d = validatedDocument(store, t.dir, 'fattura.xml', FPR12);
    const journal = new SendJournal(config.dataDir);
    journal.open();
    cleanups.push(() => journal.close());
    const channel = new WitnessChannel(journal.file, [
      { kind: 'retry', reason: 'EI02' },
      { kind: 'accepted', identificativoSdI: '42' },
    ]);
    const step = new SendStep(store, config, channel, log, {}, journal);
    cleanups.push(() => step.stop());
    step.start();
    await waitFor('document sent', () => store.getDocument(d)?.state === 'sent', 5000);
    expect(channel.sent.map((s) => s.attempt)).toEqual([1, 2]);
    expect(channel.journalAtCall).toEqual([1, 1]);
    const recs = readJournalFile(journal.file).records;
    expect(recs.map((r) => [r.documentId, r.attempt, r.sha256, r.pid])).toEqual([
      [d, 1, store.getDocument(d)?.sha256, process.pid],
      [d, 2, store.getDocument(d)?.sha256, process.pid],
    ]);
  });

  it('a store restored from before the sends holds them in doubt (and recreates a document it never had)', async () => {
    const { t, config } = setup();
    let store = new Store(config.paths.db);
    const a = validatedDocument(store, t.dir, 'a.xml', FPR12);
    store.close();
    fs.copyFileSync(config.paths.db, path.join(t.dir, 'backup.db')); // a backup before any send
    store = new Store(config.paths.db);
    const b = validatedDocument(
      store,
      t.dir,
      'b.xml',
      Buffer.from(FPR12.toString().replace(/<Numero>[^<]*</, '<Numero>B-2<')),
    );
    const journal = new SendJournal(config.dataDir);
    journal.open();
    const channel = new WitnessChannel(journal.file, [
      { kind: 'accepted', identificativoSdI: '1' },
      { kind: 'accepted', identificativoSdI: '2' },
    ]);
    const step = new SendStep(store, config, channel, log, {}, journal);
    step.start();
    await waitFor('both sent', () => [a, b].every((id) => store.getDocument(id)?.state === 'sent'), 5000);
    await step.stop();
    journal.close();
    store.close();
    const sent = channel.sent.map((s) => s.sdiName);

    fs.copyFileSync(path.join(t.dir, 'backup.db'), config.paths.db); // the restore
    store = new Store(config.paths.db);
    cleanups.push(() => store.close());
    expect(store.getDocument(b)).toBeUndefined();
    const records = readJournalFile(journal.file).records;
    expect(compareWithJournal(store, records).map((x) => x.missing)).toEqual(['send', 'document']);

    const held = holdBehindJournal(store, records);
    expect(held.map((h) => h.sdiName)).toEqual(sent);
    for (const h of held) {
      const doc = store.getDocument(h.documentId ?? 0);
      expect(doc?.state).toBe('sending');
      expect(doc?.sha256).toBe(h.sha256);
      expect(store.getOutbound(doc?.id ?? 0)?.lastError).toMatch(/in doubt/);
      expect(store.getOutbound(doc?.id ?? 0)?.attempts).toBe(1);
    }
    expect(store.timeline(held[1]?.documentId ?? 0)[0]?.reason).toMatch(/recreated from the send journal/);
    // Nothing is due: the sending step sends none of them again.
    expect(store.dueSends(new Date(8.64e15), 100)).toEqual([]);
    const again = new WitnessChannel(journal.file, []);
    const step2 = new SendStep(store, config, again, log);
    step2.start();
    await step2.stop();
    expect(again.sent).toEqual([]);
    // The store is now up to its journal: a second start holds nothing more.
    expect(compareWithJournal(store, records)).toEqual([]);
    // The SdI file names stay used: the counter never hands them out again.
    expect(store.nextSdiName('IT12345670017', '.xml')).not.toBe(sent[0]);
  });
});

describe('send journal compaction', () => {
  it('at a start, records the store has settled and older than journalKeepDays are dropped; the others kept', () => {
    const { t, config } = setup();
    config.store.journalKeepDays = 30;
    const store = new Store(config.paths.db);
    const sent = validatedDocument(store, t.dir, 'a.xml', FPR12);
    const held = validatedDocument(
      store,
      t.dir,
      'b.xml',
      Buffer.from(FPR12.toString().replace(/<Numero>[^<]*</, '<Numero>B-2<')),
    );
    const old = '2020-01-01T00:00:00.000Z';
    const recent = new Date().toISOString();
    const rec = (id: number, name: string, at: string): AttemptRecord => ({
      ...record(id, { sdiName: name, sha256: store.getDocument(id)?.sha256 ?? '' }),
      t: 'attempt',
      at,
      node: 'n',
      pid: 1,
    });
    for (const [id, name] of [
      [sent, 'IT12345670017_00001.xml'],
      [held, 'IT12345670017_00002.xml'],
    ] as const) {
      store.beginSending(id, { channel: 'test', sdiName: name, flow: 'b2b' });
      store.markAttempt(id);
    }
    store.recordSent(sent, '123');
    store.holdInDoubt(held, 'in doubt');
    const lines = [
      rec(sent, 'IT12345670017_00001.xml', old), // settled and old: dropped
      rec(held, 'IT12345670017_00002.xml', old), // not settled: kept
      rec(sent, 'IT12345670017_00001.xml', recent), // settled but recent: kept
    ];
    store.close();
    fs.writeFileSync(path.join(config.dataDir, 'sends.journal'), lines.map(encodeRecord).join(''));

    const events: { event?: string; dropped?: number; kept?: number }[] = [];
    const capture = pino(
      { level: 'info' },
      { write: (l: string) => void events.push(JSON.parse(l) as never) },
    );
    const guard = new StoreGuard(config, capture);
    const opened = guard.open();
    cleanups.push(() => {
      opened.store.close();
      guard.close();
    });
    expect(guard.heldAtStart).toEqual([]);
    expect(events.find((e) => e.event === 'store.journal_compacted')).toMatchObject({ dropped: 1, kept: 2 });
    expect(readJournalFile(guard.journal.file).records.map((r) => [r.sdiName, r.at])).toEqual([
      ['IT12345670017_00002.xml', old],
      ['IT12345670017_00001.xml', recent],
    ]);
    // The WAL was folded into the file before the rewrite: losing it now cannot undo the outcome.
    expect(fs.statSync(`${config.paths.db}-wal`).size).toBe(0);
  });
});

describe('the store guard at a start', () => {
  it('a journal whose last line was torn by a crash: the torn line is cut off, the records before it still hold the store', () => {
    const { t, config } = setup();
    new Store(config.paths.db).close(); // a store that never saw the send below
    const file = path.join(config.dataDir, 'sends.journal');
    const claimed = path.join(t.dir, 'claimed.xml');
    fs.writeFileSync(claimed, FPR12);
    const whole = encodeRecord({
      t: 'attempt',
      ...record(7, { sdiName: 'IT12345670017_00007.xml', path: claimed }),
      at: new Date().toISOString(),
      node: 'n',
      pid: 1,
    });
    fs.writeFileSync(file, whole + whole.replace('00007', '00008').slice(0, 77));

    const events: { event?: string; tornBytes?: number; count?: number }[] = [];
    const capture = pino(
      { level: 'info' },
      { write: (l: string) => void events.push(JSON.parse(l) as never) },
    );
    const guard = new StoreGuard(config, capture);
    const { store } = guard.open();
    cleanups.push(() => {
      store.close();
      guard.close();
    });
    expect(events.find((e) => e.event === 'store.journal_torn')).toMatchObject({ tornBytes: 77 });
    expect(events.find((e) => e.event === 'store.behind_journal')).toMatchObject({ count: 1 });
    expect(guard.heldAtStart.map((h) => [h.sdiName, h.missing])).toEqual([
      ['IT12345670017_00007.xml', 'document'],
    ]);
    expect(fs.readFileSync(file, 'utf8')).toBe(whole);
    const doc = store.getDocument(guard.heldAtStart[0]?.documentId ?? 0);
    expect(doc).toMatchObject({ state: 'sending', path: claimed, originalName: 'f7.xml' });
  });
});
