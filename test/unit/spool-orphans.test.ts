import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { SendJournal } from '../../src/store/journal.js';
import { Store } from '../../src/store/store.js';
import { Intake } from '../../src/watchers/intake.js';
import { EX, example } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';
import { validatedDocument } from '../helpers/store.js';
import { buildZip } from '../helpers/zip-writer.js';

/**
 * Spool files the store no longer knows (its claims lost with a WAL deleted after a crash, or a
 * restore from an older backup), with a real store, real files and a real send journal: a new
 * claim never replaces one (intake ids come again after such a loss), and at start each is taken
 * again as a new file, held in doubt when the send journal says it may be at SdI already, or kept
 * in spool/orphans/ when it cannot be held.
 */
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');
const invoice = (numero: string): Buffer =>
  Buffer.from(
    example(EX.b2b).toString('latin1').replace('<Numero>B-101</Numero>', `<Numero>${numero}</Numero>`),
    'latin1',
  );

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup() {
  const t = tempDir('fatturad-spool-orphans-');
  const config = loadConfig({ env: { FATTURAD_DATA_DIR: t.dir }, cwd: t.dir });
  const outbox = config.intake.folders[0]?.path as string;
  for (const d of [outbox, config.paths.claimed]) fs.mkdirSync(d, { recursive: true });
  const store = new Store(config.paths.db);
  const lines: { event?: string; [k: string]: unknown }[] = [];
  const log = pino(
    { level: 'info' },
    { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) },
  );
  const received: number[] = [];
  const intake = new Intake(store, config, log, { onDocument: (d) => received.push(d.id) });
  cleanups.push(
    () => t.cleanup(),
    () => store.close(),
    () => intake.stop(),
  );
  const events = (name: string) => lines.filter((l) => l.event === name);
  return { t, config, store, intake, outbox, events, received };
}

describe('spool files the store no longer knows', () => {
  it('a claim never replaces a spool file the store forgot, though its id comes again', async () => {
    const { config, store, intake, outbox } = setup();
    // The store forgot intake 1, whose file is still in the spool under its name.
    const forgotten = invoice('LOST-1');
    const orphan = path.join(config.paths.claimed, '00000001-fattura.xml');
    fs.writeFileSync(orphan, forgotten);
    const again = invoice('NEW-1');
    fs.writeFileSync(path.join(outbox, 'fattura.xml'), again);
    intake.offer(config.intake.folders[0] as never, path.join(outbox, 'fattura.xml'));
    await intake.idle();

    const [doc] = store.listDocuments();
    expect(doc?.intakeId).toBe(1);
    expect(doc?.sha256).toBe(sha(again));
    expect(doc?.path).toBe(path.join(config.paths.claimed, '00000001.2-fattura.xml'));
    expect(sha(fs.readFileSync(doc?.path as string))).toBe(sha(again));
    expect(sha(fs.readFileSync(orphan))).toBe(sha(forgotten));
  });

  it('at start each is taken again as a new file; one the send journal saw going to SdI is held in doubt', async () => {
    const { config, store, intake, events, received } = setup();
    const plain = invoice('LOST-2');
    const sent = invoice('LOST-3');
    const plainPath = path.join(config.paths.claimed, '00000004-IT12345670017_LOST2.xml');
    const sentPath = path.join(config.paths.claimed, '00000005-IT12345670017_LOST3.xml');
    fs.writeFileSync(plainPath, plain);
    fs.writeFileSync(sentPath, sent);
    // The journal witnessed a send of the second one's content, as document 9 the store never had.
    const journal = new SendJournal(config.dataDir);
    journal.open();
    journal.recordAttempt({
      documentId: 9,
      sdiName: 'IT12345670017_00009.xml',
      sha256: sha(sent),
      channel: 'sdicoop',
      flow: 'b2b',
      attempt: 1,
      originalName: 'IT12345670017_LOST3.xml',
      entry: '',
      sourceDir: 'somewhere',
      path: null,
      size: sent.length,
    });
    journal.close();

    await intake.recover();

    const docs = store.listDocuments();
    expect(docs.map((d) => d.sha256).sort()).toEqual([sha(plain), sha(sent)].sort());
    const p = docs.find((d) => d.sha256 === sha(plain));
    const s = docs.find((d) => d.sha256 === sha(sent));
    // The plain one is a new document, on its way to validation, its bytes in the spool.
    expect(p?.state).toBe('received');
    expect(received).toEqual([p?.id]);
    expect(sha(fs.readFileSync(p?.path as string))).toBe(sha(plain));
    // The one the journal saw: held in sending under the journal's SdI name, never sent on its own.
    expect(s?.state).toBe('sending');
    const o = store.getOutbound(s?.id as number);
    expect(o?.sdiName).toBe('IT12345670017_00009.xml');
    expect(o?.nextAttemptAt).toMatch(/^9999/);
    expect(o?.lastError).toMatch(/in doubt/);
    // The old names are gone (moved, not copied), each logged once.
    expect(fs.existsSync(plainPath)).toBe(false);
    expect(fs.existsSync(sentPath)).toBe(false);
    const adopted = events('intake.orphan_adopted');
    expect(adopted).toHaveLength(2);
    expect(adopted.find((l) => l.sha256 === sha(sent))?.inDoubt).toEqual([
      { documentId: s?.id, sdiName: 'IT12345670017_00009.xml' },
    ]);
    expect(events('intake.orphans_found')).toHaveLength(1);

    // A second start finds nothing more to take.
    await intake.recover();
    expect(store.listDocuments()).toHaveLength(2);
    expect(events('intake.orphan_adopted')).toHaveLength(2);
  });

  it('a zip is taken again whole: its entries made again from it, the old copies of entries removed', async () => {
    const { config, store, intake, events } = setup();
    const z1 = invoice('ZIP-1');
    const z2 = invoice('ZIP-2');
    const zip = buildZip([
      { name: 'IT12345670017_Z0001.xml', data: z1 },
      { name: 'IT12345670017_Z0002.xml', data: z2 },
    ]);
    const orphan = path.join(config.paths.claimed, '00000003-lotto.zip');
    fs.writeFileSync(orphan, zip);
    // Its entries as the lost claim had written them.
    fs.mkdirSync(`${orphan}.d`);
    fs.writeFileSync(path.join(`${orphan}.d`, '0000-IT12345670017_Z0001.xml'), z1);
    fs.writeFileSync(path.join(`${orphan}.d`, '0001-IT12345670017_Z0002.xml'), z2);

    await intake.recover();

    const docs = store.listDocuments();
    expect(docs.map((d) => d.sha256).sort()).toEqual([sha(z1), sha(z2)].sort());
    for (const d of docs) {
      expect(d.state).toBe('received');
      expect(d.path?.startsWith(`${orphan}.d`)).toBe(false);
      expect(sha(fs.readFileSync(d.path as string))).toBe(d.sha256);
    }
    expect(fs.existsSync(orphan)).toBe(false);
    expect(fs.existsSync(`${orphan}.d`)).toBe(false);
    expect(events('intake.orphan_adopted')).toEqual([
      expect.objectContaining({ file: 'lotto.zip', outcome: 'accepted', sha256: sha(zip) }),
    ]);
    // Nothing left to take at the next start.
    await intake.recover();
    expect(store.listDocuments()).toHaveLength(2);
  });

  it('one the journal saw under an SdI name the store now gives to another document is kept in spool/orphans/', async () => {
    const { t, config, store, intake, events } = setup();
    const other = validatedDocument(store, t.dir, 'other.xml', invoice('OTHER-1'));
    store.beginSending(other, { channel: 'sdicoop', sdiName: 'IT12345670017_00009.xml', flow: 'b2b' });
    const sent = invoice('LOST-4');
    const orphan = path.join(config.paths.claimed, '00000007-IT12345670017_LOST4.xml');
    fs.writeFileSync(orphan, sent);
    const journal = new SendJournal(config.dataDir);
    journal.open();
    journal.recordAttempt({
      documentId: 7,
      sdiName: 'IT12345670017_00009.xml',
      sha256: sha(sent),
      channel: 'sdicoop',
      flow: 'b2b',
      attempt: 1,
      originalName: 'IT12345670017_LOST4.xml',
      entry: '',
      sourceDir: 'somewhere',
      path: null,
      size: sent.length,
    });
    journal.close();

    await intake.recover();

    expect(store.listDocuments().map((d) => d.id)).toEqual([other]);
    const kept = path.join(config.paths.spool, 'orphans', '00000007-IT12345670017_LOST4.xml');
    expect(sha(fs.readFileSync(kept))).toBe(sha(sent));
    expect(fs.existsSync(orphan)).toBe(false);
    const report = JSON.parse(fs.readFileSync(`${kept}.errors.json`, 'utf8')) as {
      errors: { code: string; message: string; messageIt: string }[];
    };
    expect(report.errors[0]?.code).toBe('ORPHAN-IN-DOUBT');
    expect(report.errors[0]?.message).toMatch(/may have reached SdI as IT12345670017_00009\.xml/);
    expect(fs.existsSync(`${kept}.errors.txt`)).toBe(true);
    expect(events('intake.orphan_kept')).toEqual([
      expect.objectContaining({ level: 50, output: kept, sdiName: 'IT12345670017_00009.xml' }),
    ]);
  });
});
