import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Archive, type FindingCode } from '../../src/archive/archive.js';
import { ArchiveStore } from '../../src/store/archive-store.js';
import { Store } from '../../src/store/store.js';
import { CLI } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The archive against tampering: each way of altering the evidence or the index is detected by
 * `verify()` and named, and `fatturad archive verify` exits 1 naming it.
 */
const run = promisify(execFile);
const quiet = pino({ level: 'silent' });
void quiet;
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

async function setup(n = 6) {
  const t = tempDir('fatturad-archive-');
  const dataDir = path.join(t.dir, 'var');
  fs.mkdirSync(dataDir, { recursive: true });
  const store = new Store(path.join(dataDir, 'fatturad.db'));
  const astore = new ArchiveStore(store.db);
  const dir = path.join(dataDir, 'archive');
  const archive = new Archive(astore, { dir, origin: 'fatturad.test/archive', keyFile: '', fsync: false });
  await archive.open();
  const blobs = Array.from({ length: n }, (_, i) =>
    Buffer.from(`<Fattura n="${i}">${'x'.repeat(100 + i)}</Fattura>\n`),
  );
  const appended = await archive.append(
    blobs.map((b, i) => ({ kind: 'invoice' as const, bytes: b, ref: `IT01234567890_0000${i}.xml` })),
    (a) => a,
  );
  await archive.checkpoint();
  const cfg = path.join(t.dir, 'fatturad.yaml');
  fs.writeFileSync(
    cfg,
    [`dataDir: ${dataDir}`, 'archive: { origin: fatturad.test/archive }', 'channel: { type: none }'].join(
      '\n',
    ),
  );
  cleanups.push(() => {
    store.close();
    t.cleanup();
  });
  const file = (i: number): string => archive.blobs.pathOf(appended[i]?.sha256 ?? '');
  const writable = (f: string): void => fs.chmodSync(f, 0o644);
  return { t, store, astore, archive, appended, blobs, file, writable, cfg, dataDir };
}

async function codes(a: Archive): Promise<FindingCode[]> {
  return (await a.verify()).findings.map((f) => f.code);
}

describe('archive verify', () => {
  it('a fresh archive verifies; blobs are read-only; the checkpoint is signed', async () => {
    const s = await setup();
    const r = await s.archive.verify();
    expect(r.ok, JSON.stringify(r.findings)).toBe(true);
    expect(r.logSize).toBe(6);
    expect(r.latestCheckpoint).toBe(6);
    expect(fs.statSync(s.file(0)).mode & 0o777).toBe(0o444);
    const cli = await run(process.execPath, [CLI, 'archive', 'verify', '--config', s.cfg]);
    expect(cli.stdout).toMatch(/OK: no findings/);
  });

  it.each<[string, (s: Awaited<ReturnType<typeof setup>>) => Promise<void> | void, FindingCode]>([
    [
      'one byte flipped in a blob',
      (s) => {
        s.writable(s.file(1));
        const b = fs.readFileSync(s.file(1));
        b[5] = (b[5] as number) ^ 0x01;
        fs.writeFileSync(s.file(1), b);
      },
      'changed',
    ],
    ['a blob deleted', (s) => fs.rmSync(s.file(2)), 'missing'],
    [
      'a blob truncated',
      (s) => {
        s.writable(s.file(3));
        fs.truncateSync(s.file(3), 10);
      },
      'truncated',
    ],
    [
      'a blob appended to',
      (s) => {
        s.writable(s.file(4));
        fs.appendFileSync(s.file(4), 'more');
      },
      'appended',
    ],
    [
      'two blobs swapped',
      (s) => {
        const a = s.file(0);
        const b = s.file(5);
        s.writable(a);
        s.writable(b);
        const ba = fs.readFileSync(a);
        fs.writeFileSync(a, fs.readFileSync(b));
        fs.writeFileSync(b, ba);
      },
      'swapped',
    ],
    [
      'an extra file dropped among the blobs',
      (s) => fs.writeFileSync(path.join(path.dirname(s.file(0)), 'f'.repeat(64)), 'x'),
      'extra',
    ],
    [
      'a log row edited in SQLite',
      (s) => {
        s.store.db.exec('DROP TRIGGER archive_log_no_update');
        const row = s.store.db.prepare('SELECT entry FROM archive_log WHERE idx = 2').get() as {
          entry: Buffer;
        };
        const edited = Buffer.from(row.entry.toString().replace(/ref .*/, 'ref IT09999999999_00002.xml'));
        s.store.db.prepare('UPDATE archive_log SET entry = ? WHERE idx = 2').run(edited);
      },
      'entry-altered',
    ],
    [
      'a log row edited together with its leaf hash',
      async (s) => {
        const { leafHash } = await import('../../src/archive/merkle.js');
        s.store.db.exec('DROP TRIGGER archive_log_no_update');
        const row = s.store.db.prepare('SELECT entry FROM archive_log WHERE idx = 2').get() as {
          entry: Buffer;
        };
        const edited = Buffer.from(row.entry.toString().replace(/ref .*/, 'ref IT09999999999_00002.xml'));
        s.store.db
          .prepare('UPDATE archive_log SET entry = ?, leaf_hash = ? WHERE idx = 2')
          .run(edited, leafHash(edited));
      },
      'log-rewritten',
    ],
    [
      'two log entries reordered',
      (s) => {
        s.store.db.exec('DROP TRIGGER archive_log_no_update');
        const a = s.store.db.prepare('SELECT * FROM archive_log WHERE idx = 1').get() as Record<
          string,
          unknown
        >;
        const b = s.store.db.prepare('SELECT * FROM archive_log WHERE idx = 3').get() as Record<
          string,
          unknown
        >;
        const upd = s.store.db.prepare(
          'UPDATE archive_log SET entry = @entry, leaf_hash = @leaf_hash, kind = @kind, sha256 = @sha256, ref = @ref, at = @at WHERE idx = @to',
        );
        upd.run({ ...b, to: 1 });
        upd.run({ ...a, to: 3 });
      },
      'reordered',
    ],
    [
      'an object row edited in SQLite',
      (s) => {
        s.store.db
          .prepare('UPDATE archive_objects SET size = size + 1 WHERE sha256 = ?')
          .run(s.appended[0]?.sha256);
      },
      'object-row-altered',
    ],
    [
      'a checkpoint file edited',
      (s) => {
        const f = path.join(s.archive.opts.dir, 'log', 'checkpoints', '000000000006.note');
        fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace('\n6\n', '\n5\n'));
      },
      'checkpoint-invalid',
    ],
  ])('%s is detected', async (_name, tamper, code) => {
    const s = await setup();
    await tamper(s);
    const found = await codes(s.archive);
    expect(found).toContain(code);
    const cli = await run(process.execPath, [CLI, 'archive', 'verify', '--json', '--config', s.cfg]).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect((cli as { code?: number }).code).toBe(1);
    expect(
      (JSON.parse(cli.stdout) as { findings: { code: string }[] }).findings.map((f) => f.code),
    ).toContain(code);
  });

  it('the log rolled back (the store restored from an older copy) is detected', async () => {
    const s = await setup(3);
    s.store.db.pragma('wal_checkpoint(TRUNCATE)');
    const db = path.join(s.dataDir, 'fatturad.db');
    const copy = path.join(s.t.dir, 'old.db');
    fs.copyFileSync(db, copy);
    await s.archive.append(
      [{ kind: 'invoice', bytes: Buffer.from('later'), ref: 'later.xml' }],
      () => undefined,
    );
    await s.archive.checkpoint();
    s.store.close();
    fs.copyFileSync(copy, db);
    fs.rmSync(`${db}-wal`, { force: true });
    fs.rmSync(`${db}-shm`, { force: true });
    const store = new Store(db);
    cleanups.unshift(() => store.close());
    const archive = new Archive(new ArchiveStore(store.db), {
      dir: s.archive.opts.dir,
      origin: 'fatturad.test/archive',
      keyFile: '',
      fsync: false,
    });
    await archive.open();
    const found = await codes(archive);
    expect(found).toContain('rolled-back');
    expect(found).toContain('extra'); // the later blob, which the restored log does not know
  });

  it('the rolling verification re-hashes the blobs verified longest ago and names findings', async () => {
    const s = await setup(10);
    const first = await s.archive.verifySome(4);
    expect(first.checked).toBe(4);
    expect(first.findings).toEqual([]);
    fs.rmSync(s.file(9));
    const all = [await s.archive.verifySome(4), await s.archive.verifySome(4)];
    expect(all.flatMap((r) => r.findings.map((f) => f.code))).toEqual(['missing']);
  });

  it.each([1, 2, 3, 7, 8, 13])(
    'inclusion proofs of every entry (log of %i) verify and equal the RFC 9162 ones',
    async (n) => {
      const { verifyInclusion, inclusionProof } = await import('../../src/archive/merkle.js');
      const { openCheckpoint } = await import('../../src/archive/checkpoint.js');
      const s = await setup(n);
      const leaves = s.astore.leafHashes();
      for (let i = 0; i < n; i++) {
        expect(s.archive.prove(i).proof).toEqual(inclusionProof(leaves, i, n));
        const p = s.archive.prove(i);
        const cp = openCheckpoint(p.checkpoint.note, s.archive.noteKeys);
        expect(cp.ok).toBe(true);
        if (!cp.ok) return;
        expect(verifyInclusion(i, cp.checkpoint.size, p.leafHash, p.proof, cp.checkpoint.root)).toEqual({
          ok: true,
        });
      }
    },
  );
});
