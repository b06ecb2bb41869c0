import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { buildNotification } from '../../src/notifications/build.js';
import { nsFindings } from '../../src/pipeline/inbound.js';
import { parseNotification } from '../../src/notifications/parse.js';
import { csvLine, outcomeName, type OutcomeRecord } from '../../src/outcomes/record.js';
import { OutcomeWriter } from '../../src/outcomes/writer.js';
import { Store } from '../../src/store/store.js';
import { validatedDocument } from '../helpers/store.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The outcomes folder's writer against a real store and real files: what each file says, the
 * message copied beside it, never a file replaced, and a pass repeated after a crash (files
 * written, not yet recorded) that writes nothing twice.
 */
const quiet = pino({ level: 'silent' });
let t: ReturnType<typeof tempDir>;
let store: Store;
let config: Config;
let outDir: string;

beforeEach(() => {
  t = tempDir('fatturad-outcomes-');
  fs.writeFileSync(
    path.join(t.dir, 'c.yaml'),
    [`dataDir: ${t.dir}/var`, 'outcomes: { csv: true }', 'channel: { type: none }'].join('\n'),
  );
  config = loadConfig({ file: path.join(t.dir, 'c.yaml'), env: {}, cwd: t.dir });
  outDir = config.outcomes.dir;
  store = new Store(path.join(t.dir, 'var', 'fatturad.db'));
});
afterEach(() => {
  store.close();
  t.cleanup();
});

let seq = 0;
/** A document sent as `sdiName`, taken by SdI as `idSdI`. */
function sent(name: string, flow: 'pa' | 'b2b' = 'b2b'): { id: number; idSdI: string; sdiName: string } {
  seq++;
  const id = validatedDocument(store, t.dir, name, Buffer.from(`<x>${name}${seq}</x>`));
  const sdiName = `IT01234567890_${String(seq).padStart(5, '0')}.xml`;
  store.beginSending(id, { channel: 'sdicoop', sdiName, flow });
  const idSdI = String(1000 + seq);
  store.recordSent(id, idSdI);
  return { id, idSdI, sdiName };
}

/** SdI's message about a document, kept as the inbound step keeps it, and applied. */
function answer(
  doc: { id: number; idSdI: string; sdiName: string },
  kind: 'RC' | 'NS' | 'MC' | 'NE',
  fileName: string,
  extra: Record<string, unknown> = {},
): Buffer {
  const bytes = buildNotification({
    kind,
    family: 'pa',
    identificativoSdI: doc.idSdI,
    nomeFile: doc.sdiName,
    destinatario: { codice: 'UFABCD', descrizione: 'Ufficio' },
    ...extra,
  });
  const p = path.join(t.dir, 'var', 'messages', crypto.randomBytes(6).toString('hex'));
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, bytes);
  const { row } = store.addNotification({
    sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
    kind,
    family: 'pa',
    identificativoSdI: doc.idSdI,
    nomeFile: doc.sdiName,
    fileName,
    channel: 'sdicoop',
    path: p,
    signature: 'absent',
  });
  const parsed = parseNotification(bytes);
  if (!parsed.ok) throw new Error(parsed.error);
  const n = parsed.notification;
  const to =
    kind === 'RC' ? 'delivered' : kind === 'NS' ? 'rejected' : kind === 'MC' ? 'not_delivered' : 'refused';
  const findings = kind === 'NS' ? nsFindings(n) : undefined;
  store.applyNotification(row.id, doc.id, 'applied', {
    state: to,
    reason: kind,
    details: { notification: row.id, kind, file: fileName, ...(findings ? { findings } : {}) },
  });
  return bytes;
}

const readJson = (name: string): OutcomeRecord =>
  JSON.parse(fs.readFileSync(path.join(outDir, name), 'utf8')) as OutcomeRecord;
const jsonFiles = (): string[] =>
  fs
    .readdirSync(outDir)
    .filter((f) => f.endsWith('.json'))
    .sort();

describe('the outcomes folder', () => {
  it('writes one file per state change, with SdI name, IdentificativoSdI, the errors or the reason, and the message beside it', async () => {
    const w = new OutcomeWriter(store, config, quiet);
    await w.start();
    await w.stop();
    const a = sent('a.xml');
    answer(a, 'RC', 'IT01234567890_00001_RC_001.xml');
    const b = sent('b.xml');
    const ns = answer(b, 'NS', 'IT01234567890_00002_NS_001.xml', {
      errors: [{ codice: '00404', descrizione: 'Fattura duplicata' }],
    });
    const c = sent('c.xml', 'pa');
    answer(c, 'NE', 'IT01234567890_00003_NE_001.xml', {
      esito: 'EC02',
      descrizione: 'Importo non corrispondente al contratto',
    });
    const w2 = new OutcomeWriter(store, config, quiet);
    await w2.pass();
    expect(jsonFiles()).toEqual([
      'a.xml.delivered.json',
      'a.xml.sent.json',
      'b.xml.rejected.json',
      'b.xml.sent.json',
      'c.xml.refused.json',
      'c.xml.sent.json',
    ]);
    const delivered = readJson('a.xml.delivered.json');
    expect(delivered).toMatchObject({
      format: 'fatturad-outcome/1',
      file: 'a.xml',
      state: 'delivered',
      previousState: 'sent',
      by: 'sdi',
      sdiName: a.sdiName,
      identificativoSdI: a.idSdI,
      sdiMessage: { kind: 'RC', file: 'IT01234567890_00001_RC_001.xml' },
    });
    const rejected = readJson('b.xml.rejected.json');
    expect(rejected.errors?.map((e) => [e.code, e.messageIt])).toEqual([['00404', 'Fattura duplicata']]);
    expect(rejected.messageIt).toContain('Scartata dallo SdI');
    // SdI's message, byte for byte, under the name SdI gave it.
    expect(fs.readFileSync(path.join(outDir, 'IT01234567890_00002_NS_001.xml')).equals(ns)).toBe(true);
    const refused = readJson('c.xml.refused.json');
    expect(refused.reason).toBe('Importo non corrispondente al contratto');
    expect(refused.message).toContain('Importo non corrispondente al contratto');
    // The CSV: a header and one line per file.
    const csv = fs.readFileSync(path.join(outDir, 'outcomes.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(7);
    expect(csv[0]).toMatch(/^id,at,file,/);
    expect(fs.readdirSync(path.join(outDir, '.tmp'))).toEqual([]);
  });

  it('a local rejection is told too, by fatturad, with its findings', async () => {
    const w = new OutcomeWriter(store, config, quiet);
    await w.start();
    await w.stop();
    const id = validatedDocument(store, t.dir, 'bad.xml', Buffer.from('<bad/>'));
    store.transition(id, 'rejected', 'invalid', {
      findings: [{ code: '00423', message: 'PrezzoTotale', messageIt: 'PrezzoTotale errato' }],
    });
    await new OutcomeWriter(store, config, quiet).pass();
    const r = readJson('bad.xml.rejected.json');
    expect(r).toMatchObject({ by: 'fatturad', sdiName: null, sdiMessage: null });
    expect(r.errors?.map((e) => e.code)).toEqual(['00423']);
  });

  it('never replaces a file: the same name again gets a counter, and what the ERP left stays as it was', async () => {
    const w = new OutcomeWriter(store, config, quiet);
    await w.start();
    await w.stop();
    fs.writeFileSync(path.join(outDir, 'same.xml.sent.json'), 'the ERP keeps its own file here');
    sent('same.xml');
    sent('same.xml');
    await new OutcomeWriter(store, config, quiet).pass();
    expect(fs.readFileSync(path.join(outDir, 'same.xml.sent.json'), 'utf8')).toBe(
      'the ERP keeps its own file here',
    );
    expect(jsonFiles()).toEqual(['same.xml.sent.2.json', 'same.xml.sent.3.json', 'same.xml.sent.json']);
    expect(readJson(outcomeName('same.xml', 'sent', 3)).id).toBeGreaterThan(
      readJson('same.xml.sent.2.json').id,
    );
  });

  it('a pass repeated after a crash between the files and their record writes nothing twice', async () => {
    const w = new OutcomeWriter(store, config, quiet);
    await w.start();
    await w.stop();
    const a = sent('a.xml');
    answer(a, 'RC', 'IT01234567890_00001_RC_001.xml');
    await new OutcomeWriter(store, config, quiet).pass();
    const files = fs.readdirSync(outDir).sort();
    const csv = fs.readFileSync(path.join(outDir, 'outcomes.csv'), 'utf8');
    // The crash: the files are on disk, the store does not know (the cursor and the rows rolled back).
    store.db.exec(`DELETE FROM outcomes; UPDATE outcome_cursor SET after_transition = 0`);
    // And the CSV's last line was cut in the middle of an append.
    fs.appendFileSync(path.join(outDir, 'outcomes.csv'), '999,2026-01-01T00:00:00Z,torn');
    await new OutcomeWriter(store, config, quiet).pass();
    expect(fs.readdirSync(outDir).sort()).toEqual(files);
    expect(fs.readFileSync(path.join(outDir, 'outcomes.csv'), 'utf8')).toBe(csv);
    expect(store.db.prepare(`SELECT count(*) AS n FROM outcomes`).get()).toEqual({ n: 2 });
  });

  it('turned on for an existing store, it starts from the changes made from then on', async () => {
    sent('before.xml');
    const w = new OutcomeWriter(store, config, quiet);
    await w.start();
    await w.idle();
    sent('after.xml');
    await w.idle();
    await w.stop();
    expect(jsonFiles()).toEqual(['after.xml.sent.json']);
  });

  it('a folder that cannot be written stops nothing: told once, and the files come, in order, once it can', async () => {
    // A file where the folder should be: nothing can be created there (even by root).
    fs.mkdirSync(path.dirname(outDir), { recursive: true });
    fs.writeFileSync(outDir, 'not a folder');
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const w = new OutcomeWriter(store, config, log);
    await w.start();
    sent('late.xml');
    sent('later.xml');
    // Passes that fail again and again (at every change and every poll) are told once.
    for (let i = 0; i < 3; i++) {
      await expect(new OutcomeWriter(store, config, quiet).pass()).rejects.toThrow();
      w.kick();
      await new Promise((r) => setTimeout(r, 20));
    }
    fs.rmSync(outDir);
    await w.idle();
    await w.stop();
    expect(jsonFiles()).toEqual(['late.xml.sent.json', 'later.xml.sent.json']);
    expect(readJson('late.xml.sent.json').id).toBeLessThan(readJson('later.xml.sent.json').id);
    const events = lines.map((l) => (JSON.parse(l) as { event?: string }).event);
    expect(events.filter((e) => e === 'outcomes.write_failed')).toHaveLength(1);
    expect(events.filter((e) => e === 'outcomes.write_resumed')).toHaveLength(1);
  });

  it('an invoice that came in a zip is named after its entry, with the zip beside', async () => {
    const w = new OutcomeWriter(store, config, quiet);
    await w.start();
    await w.stop();
    const zip = path.join(t.dir, 'batch.zip');
    fs.writeFileSync(zip, 'zip');
    const [row] = store.beginClaims(
      [{ sourceDir: t.dir, originalName: 'batch.zip', sourcePath: zip }],
      () => zip,
    );
    store.finishClaims([
      {
        intakeId: row?.id ?? 0,
        sha256: 'a'.repeat(64),
        size: 3,
        outcome: 'rejected',
        documents: [
          {
            entry: 'march/inv-1.xml',
            originalName: 'inv-1.xml',
            sha256: 'b'.repeat(64),
            size: 3,
            state: 'rejected',
            path: null,
            reason: 'invalid',
            findings: [{ code: '00200', message: 'not XML', messageIt: 'file non conforme al formato' }],
          },
        ],
      },
    ]);
    await new OutcomeWriter(store, config, quiet).pass();
    expect(readJson('inv-1.xml.rejected.json')).toMatchObject({
      file: 'inv-1.xml',
      entry: 'march/inv-1.xml',
      zip: 'batch.zip',
      previousState: null,
      by: 'fatturad',
      errors: [{ code: '00200' }],
    });
  });

  it('is on in the embedded defaults, under the data folder wherever it moves', () => {
    const c = loadConfig({ env: { FATTURAD_DATA_DIR: '/x' }, cwd: '/srv/y' });
    expect(c.outcomes).toEqual({ enabled: true, dir: '/x/outcomes', csv: false });
    expect(loadConfig({ env: {}, cwd: '/srv/y' }).outcomes.dir).toBe('/srv/y/var/outcomes');
    const explicit = loadConfig({
      env: { FATTURAD_OUTCOMES__DIR: 'erp/esiti', FATTURAD_OUTCOMES__CSV: 'true' },
      cwd: '/srv/y',
    });
    expect(explicit.outcomes).toEqual({ enabled: true, dir: '/srv/y/erp/esiti', csv: true });
    expect(loadConfig({ env: { FATTURAD_OUTCOMES__ENABLED: 'false' }, cwd: '/' }).outcomes.enabled).toBe(
      false,
    );
  });

  it('quotes CSV fields as RFC 4180 says', () => {
    const line = csvLine(
      {
        id: 7,
        at: 'x',
        file: 'a,"b".xml',
        state: 'refused',
        previousState: 'delivered',
        by: 'sdi',
        sdiName: null,
        identificativoSdI: null,
        sdiMessage: null,
        reason: 'one\ntwo',
      } as unknown as OutcomeRecord,
      'f.json',
    );
    expect(line).toBe('7,x,"a,""b"".xml",,refused,delivered,sdi,,,,,,"one\ntwo",f.json\n');
  });
});
