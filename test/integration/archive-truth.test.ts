import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { pddInput } from '../../src/archive/export.js';
import { invoiceFacts, searchKeys } from '../../src/archive/metadata.js';
import { openArchive, type OpenedArchive } from '../../src/archive/open.js';
import type { DepositDocument } from '../../src/archive/packages.js';
import { buildPddFiles } from '../../src/archive/pdd.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { Store } from '../../src/store/store.js';
import { cliToEnd } from '../helpers/daemon.js';
import { EX, exampleText } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The archive log is the truth: on a real archive made by the archive API (invoices and SdI
 * messages deposited as PdVs, a PdA closed, checkpoints signed), each alteration of the
 * published checkpoint or of the index tables is named by `fatturad archive verify` (exit 1),
 * `archive export` refuses to write a PdD from it, a PdD made from the altered tables (as the
 * export trusted them before) is named by `archive verify-export`, and `archive rebuild-index`
 * restores an index that verifies and exports.
 */
const quiet = pino({ level: 'silent' });
const FPR12 = exampleText(EX.b2b);
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

const today = (): string => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Rome' }).format(new Date());

function doc(n: number): DepositDocument {
  return {
    document: `out:${n}`,
    flow: 'active',
    identificativoSdI: String(5000 + n),
    files: [
      {
        source: 'documents',
        sourceId: n,
        kind: 'invoice',
        name: `IT01234567890_${String(n).padStart(5, '0')}.xml`,
        bytes: Buffer.from(
          FPR12.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>T-${n}</Numero>`).replace(
            /<Data>[^<]*<\/Data>/,
            `<Data>${today()}</Data>`,
          ),
        ),
      },
      {
        source: 'notifications',
        sourceId: n,
        kind: 'notification',
        name: `IT01234567890_${String(n).padStart(5, '0')}_RC_001.xml`,
        bytes: Buffer.from(
          `<RicevutaConsegna><IdentificativoSdI>${5000 + n}</IdentificativoSdI></RicevutaConsegna>\n`,
        ),
      },
    ],
    record: { state: 'delivered' },
  };
}

interface Setup {
  a: OpenedArchive;
  config: Config;
  store: Store;
  cfg: string;
  dir: string;
  archiveDir: string;
}

async function setup(): Promise<Setup> {
  const t = tempDir('fatturad-truth-');
  const dataDir = path.join(t.dir, 'var');
  const config = loadConfig({ env: { FATTURAD_DATA_DIR: dataDir }, cwd: t.dir });
  config.intake.fsync = false;
  const store = new Store(config.paths.db);
  const a = await openArchive(config, store, quiet);
  await a.preservation.deposit([doc(1), doc(2)]);
  await a.preservation.close('test');
  await a.preservation.deposit([doc(3)]);
  await a.archive.checkpoint();
  const cfg = path.join(t.dir, 'fatturad.yaml');
  fs.writeFileSync(cfg, [`dataDir: ${dataDir}`, 'channel: { type: none }'].join('\n'));
  cleanups.push(() => {
    store.close();
    t.cleanup();
  });
  return { a, config, store, cfg, dir: t.dir, archiveDir: config.archive.dir };
}

const cli = (args: string[]) => cliToEnd(args);

interface JsonFinding {
  code: string;
  field?: string;
  table?: string;
  expected?: string;
  found?: string;
  message: string;
}

async function verify(s: Setup): Promise<{ code: number; findings: JsonFinding[] }> {
  const r = await cli(['archive', 'verify', '--json', '--config', s.cfg]);
  return { code: r.code, findings: (JSON.parse(r.stdout) as { findings: JsonFinding[] }).findings };
}

/** A PdD made from the tables as they are, written without the export's own check. */
async function bagFromTables(s: Setup, out: string): Promise<void> {
  const { input } = await pddInput(s.a, s.config, s.a.astore.search({}), {});
  const zip = new yazl.ZipFile();
  for (const f of buildPddFiles(input)) zip.addBuffer(f.bytes, f.path);
  zip.end();
  await pipeline(zip.outputStream, fs.createWriteStream(out));
}

/** The auditor's Python check of VERIFY.txt, run on the unzipped bag (python3 and unzip only). */
function pythonCheck(zip: string): { status: number | null; out: string } {
  const bag = `${zip}.d`;
  expect(spawnSync('unzip', ['-q', '-o', zip, '-d', bag]).status).toBe(0);
  const m = /^```python id=inclusion\n([\s\S]*?)\n```$/m.exec(
    fs.readFileSync(path.join(bag, 'VERIFY.txt'), 'utf8'),
  );
  const script = path.join(`${zip}.py`);
  fs.writeFileSync(script, `${m?.[1] ?? 'raise SystemExit(99)'}\n`);
  const r = spawnSync('python3', [script], { cwd: bag, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const published = (s: Setup): string => path.join(s.archiveDir, 'log', 'checkpoint');
const kept = (s: Setup): string[] =>
  fs
    .readdirSync(path.join(s.archiveDir, 'log', 'checkpoints'))
    .filter((n) => n.endsWith('.note'))
    .sort()
    .map((n) => path.join(s.archiveDir, 'log', 'checkpoints', n));

type Case = [
  string,
  (s: Setup) => void,
  { code: string; field?: string; text?: RegExp },
  string,
  /** Whether rebuild-index repairs it (the tables), or it is the checkpoint file. */
  boolean,
];

const cases: Case[] = [
  [
    'log/checkpoint replaced by an older checkpoint',
    (s) => fs.copyFileSync(kept(s)[0] as string, published(s)),
    { code: 'checkpoint-stale', text: /replaced by an older one/ },
    'PDD-INDEX-MISMATCH',
    false,
  ],
  [
    'log/checkpoint forged (a byte of its root edited)',
    (s) => {
      const lines = fs.readFileSync(published(s), 'utf8').split('\n');
      const root = lines[2] as string;
      lines[2] = (root[0] === 'A' ? 'B' : 'A') + root.slice(1);
      fs.writeFileSync(published(s), lines.join('\n'));
    },
    { code: 'checkpoint-invalid', text: /does not verify/ },
    'PDD-CHECKPOINT',
    false,
  ],
  [
    'log/checkpoint filled with random bytes',
    (s) =>
      fs.writeFileSync(published(s), Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 37 + 11) % 256))),
    { code: 'checkpoint-invalid' },
    'PDD-CHECKPOINT',
    false,
  ],
  [
    'log/checkpoint deleted',
    (s) => fs.rmSync(published(s)),
    { code: 'checkpoint-missing', text: /is missing/ },
    'PDD-CHECKPOINT',
    false,
  ],
  [
    'an archive_items row deleted',
    (s) => {
      s.store.db
        .prepare(`DELETE FROM archive_items WHERE kind = 'notification' AND document = 'out:2'`)
        .run();
    },
    { code: 'item-missing', text: /out:2\/IT01234567890_00002_RC_001\.xml/ },
    'PDD-ITEM-MISSING',
    true,
  ],
  [
    "an archive_items row's sha256 edited (to another archived file's)",
    (s) => {
      const other = s.store.db
        .prepare(`SELECT sha256 FROM archive_items WHERE kind = 'notification' AND document = 'out:1'`)
        .get() as { sha256: string };
      s.store.db
        .prepare(`UPDATE archive_items SET sha256 = ? WHERE kind = 'invoice' AND document = 'out:1'`)
        .run(other.sha256);
    },
    { code: 'item-altered', field: 'sha256' },
    'PDD-FACTS-MISMATCH',
    true,
  ],
  [
    'an archive_keys row edited',
    (s) => {
      s.store.db
        .prepare(
          `UPDATE archive_keys SET denominazione = 'Falsa S.r.l.' WHERE document = 'out:3' AND role = 'cessionario'`,
        )
        .run();
    },
    { code: 'keys-altered', field: 'denominazione', text: /Falsa S\.r\.l\./ },
    'PDD-FACTS-MISMATCH',
    true,
  ],
  [
    'an archive_keys row moved to another document',
    (s) => {
      s.store.db
        .prepare(
          `UPDATE archive_keys SET document = 'out:1' WHERE document = 'out:3' AND role = 'cessionario'`,
        )
        .run();
    },
    { code: 'keys-altered', field: 'document' },
    'PDD-FACTS-MISMATCH',
    true,
  ],
  [
    "a package's index_sha256 edited",
    (s) => {
      const rdv = s.store.db
        .prepare(`SELECT index_sha256 AS sha FROM archive_packages WHERE kind = 'pdv' ORDER BY id LIMIT 1`)
        .get() as { sha: string };
      s.store.db.prepare(`UPDATE archive_packages SET index_sha256 = ? WHERE kind = 'pda'`).run(rdv.sha);
    },
    { code: 'package-altered', field: 'index_sha256' },
    'PDD-PACKAGE-MISMATCH',
    true,
  ],
];

describe('the archive log is the truth', () => {
  it('an untouched archive verifies, exports, and its PdD verifies; rebuild-index changes nothing', async () => {
    const s = await setup();
    const v = await verify(s);
    expect(v.findings).toEqual([]);
    expect(v.code).toBe(0);
    const out = path.join(s.dir, 'pdd.zip');
    const e = await cli([
      'archive',
      'export',
      '--query',
      'piva=IT12345670017',
      '--out',
      out,
      '--config',
      s.cfg,
    ]);
    expect(e.code, e.stderr).toBe(0);
    const ve = await cli(['archive', 'verify-export', '--json', out]);
    expect(JSON.parse(ve.stdout)).toMatchObject({ ok: true, documents: 3, files: 9 });
    const py = pythonCheck(out);
    expect(py.out).toMatch(/every document is what the log's facts entries say/);
    expect(py.out).toMatch(/all inclusion proofs and documents check out/);
    expect(py.status).toBe(0);
    const raw = path.join(s.dir, 'raw.zip');
    await bagFromTables(s, raw);
    expect((await cli(['archive', 'verify-export', raw])).code).toBe(0);
    const before = s.store.db.prepare('SELECT * FROM archive_items ORDER BY id').all();
    const keysBefore = s.store.db.prepare('SELECT * FROM archive_keys ORDER BY rowid').all();
    const r = await cli(['archive', 'rebuild-index', '--config', s.cfg]);
    expect(r.stdout).toMatch(/0 difference\(s\) with the log repaired/);
    expect(r.stdout).toMatch(/OK: the log and its index agree/);
    expect(s.store.db.prepare('SELECT * FROM archive_items ORDER BY id').all()).toEqual(before);
    expect(s.store.db.prepare('SELECT * FROM archive_keys ORDER BY rowid').all()).toEqual(keysBefore);
  });

  it.each(cases)(
    '%s: named by verify, refused by export, named by verify-export',
    async (_name, tamper, want, pddCode, repairable) => {
      const s = await setup();
      tamper(s);
      const v = await verify(s);
      expect(v.code).toBe(1);
      const f = v.findings.find((x) => x.code === want.code && (!want.field || x.field === want.field));
      expect(f, JSON.stringify(v.findings, null, 2)).toBeDefined();
      if (want.text) expect(f?.message).toMatch(want.text);
      if (want.field) expect(f?.expected).not.toEqual(f?.found);

      const out = path.join(s.dir, 'pdd.zip');
      const e = await cli([
        'archive',
        'export',
        '--query',
        'piva=IT12345670017',
        '--out',
        out,
        '--config',
        s.cfg,
      ]);
      expect(e.code).toBe(1);
      expect(e.stderr).toMatch(/no PdD written/);
      expect(fs.existsSync(out)).toBe(false);

      const raw = path.join(s.dir, 'raw.zip');
      await bagFromTables(s, raw);
      const ve = await cli(['archive', 'verify-export', '--json', raw]);
      expect(ve.code).toBe(1);
      const codes = (JSON.parse(ve.stdout) as { findings: { code: string }[] }).findings.map((x) => x.code);
      expect(codes).toContain(pddCode);

      if (!repairable) return;
      const r = await cli(['archive', 'rebuild-index', '--config', s.cfg]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain(want.code);
      expect(r.stdout).toMatch(/OK: the log and its index agree/);
      expect((await verify(s)).findings).toEqual([]);
      const again = await cli([
        'archive',
        'export',
        '--query',
        'piva=IT12345670017',
        '--out',
        out,
        '--config',
        s.cfg,
      ]);
      expect(again.code, again.stderr).toBe(0);
      expect((await cli(['archive', 'verify-export', out])).code).toBe(0);
    },
  );

  it("the auditor's Python check names a bag made from edited search keys or a deleted row", async () => {
    const s = await setup();
    s.store.db
      .prepare(`UPDATE archive_keys SET partita_iva = 'IT99999999999' WHERE document = 'out:1'`)
      .run();
    const keys = path.join(s.dir, 'keys.zip');
    await bagFromTables(s, keys);
    const k = pythonCheck(keys);
    expect(k.status).toBe(1);
    expect(k.out).toMatch(
      /out-1--IT01234567890_00001\.xml: its document, kind or search keys are not what the log's facts entry says/,
    );
    s.store.db.prepare(`DELETE FROM archive_items WHERE kind = 'notification' AND document = 'out:3'`).run();
    const row = path.join(s.dir, 'row.zip');
    await bagFromTables(s, row);
    const r = pythonCheck(row);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(
      /out:3\/IT01234567890_00003_RC_001\.xml \(log entry \d+\) is in the log's facts but not in this bag/,
    );
  });

  it('an archive written before facts entries verifies; resume() commits its facts once; then edits are named and repaired', async () => {
    const t = tempDir('fatturad-truth-legacy-');
    const dataDir = path.join(t.dir, 'var');
    const config = loadConfig({ env: { FATTURAD_DATA_DIR: dataDir }, cwd: t.dir });
    config.intake.fsync = false;
    const store = new Store(config.paths.db);
    cleanups.push(() => {
      store.close();
      t.cleanup();
    });
    const a = await openArchive(config, store, quiet);
    // A PdV as the previous version wrote it: the files, their rows and keys, no facts entry.
    const d = doc(7);
    const invoice = d.files[0] as DepositDocument['files'][number];
    const facts = await invoiceFacts(invoice.name, invoice.bytes);
    const keys = facts ? searchKeys(facts, d.identificativoSdI) : [];
    expect(keys.length).toBeGreaterThan(0);
    await a.archive.append(
      [
        ...d.files.map((f) => ({ kind: f.kind, bytes: f.bytes, ref: f.name })),
        {
          kind: 'document-metadata' as const,
          bytes: Buffer.from('{"document":"out:7"}\n'),
          ref: 'out:7.json',
        },
      ],
      (appended) => {
        const at = new Date().toISOString();
        const pda = a.astore.createPackage('pda', 'PdA-2026-000001', at, null);
        const pdv = a.astore.createPackage('pdv', 'PdV-2026-12-01-000001', at, pda.id);
        appended.forEach((x, i) => {
          const f = d.files[i];
          const id = a.astore.addItem(pdv.id, {
            source: f?.source ?? 'document',
            sourceId: f?.sourceId ?? -x.idx - 1,
            kind: x.kind,
            name: x.ref,
            sha256: x.sha256,
            size: x.size,
            leafIdx: x.idx,
            document: 'out:7',
            metadata: null,
          });
          if (x.kind === 'invoice') a.astore.addKeys(id, 'out:7', keys);
        });
        a.astore.updatePackage(pdv.id, { files: appended.length });
        a.astore.updatePackage(pda.id, { files: appended.length });
      },
    );
    await a.archive.checkpoint();
    const cfg = path.join(t.dir, 'fatturad.yaml');
    fs.writeFileSync(cfg, [`dataDir: ${dataDir}`, 'channel: { type: none }'].join('\n'));

    const old = await a.archive.verify();
    expect(old.findings).toEqual([]);
    expect([old.facts, old.legacyItems]).toEqual([0, 3]);
    const refused = await cli(['archive', 'rebuild-index', '--config', cfg]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/no facts entry in the log/);
    // Still checked against their own entries: a row pointed at another file is named.
    store.db.prepare(`UPDATE archive_items SET size = size + 1 WHERE kind = 'invoice'`).run();
    expect((await a.archive.verify()).findings.map((f) => [f.code, f.field])).toEqual([
      ['item-altered', 'size'],
    ]);
    store.db.prepare(`UPDATE archive_items SET size = size - 1 WHERE kind = 'invoice'`).run();

    await a.preservation.resume();
    const sealed = await a.archive.verify();
    expect(sealed.findings).toEqual([]);
    expect([sealed.facts, sealed.legacyItems]).toEqual([1, 0]);
    // The facts entry, and the PdV's rapporto (this PdV was left without one).
    expect(a.archive.size).toBe(old.logSize + 2);
    await a.preservation.resume(); // once: nothing more is appended
    expect(a.archive.size).toBe(old.logSize + 2);

    store.db.prepare(`UPDATE archive_keys SET numero = 'X-1'`).run();
    store.db.prepare(`DELETE FROM archive_items WHERE kind = 'notification'`).run();
    const v = await cli(['archive', 'verify', '--json', '--config', cfg]);
    expect(v.code).toBe(1);
    expect((JSON.parse(v.stdout) as { findings: JsonFinding[] }).findings.map((f) => f.code).sort()).toEqual([
      'item-missing',
      'keys-altered',
      'keys-altered',
    ]);
    const r = await cli(['archive', 'rebuild-index', '--config', cfg]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await a.archive.verify()).findings).toEqual([]);
  });
});
