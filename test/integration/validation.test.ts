import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, runCli, waitFor, waitForEvent, writeDaemonConfig } from '../helpers/daemon.js';
import { EX, example, examplePath, exampleText, specPath } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
/** The official samples, as oracles when the spec files are there (test/helpers/spec.ts). */
const SAMPLES = specPath('fatturapa', 'samples') ?? '';
const t = tempDir('fatturad-validation-');
afterAll(() => t.cleanup());
/** The B2B example with PECDestinatario before ContattiTrasmittente: out of order (as the official FPR02). */
const OUT_OF_ORDER = path.join(t.dir, 'IT12345670017_ORD01.xml');
fs.writeFileSync(
  OUT_OF_ORDER,
  exampleText(EX.b2b).replace(
    '      <ContattiTrasmittente>',
    '      <PECDestinatario>fatture@pec.example.it</PECDestinatario>\n      <ContattiTrasmittente>',
  ),
);

async function validate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, 'validate', ...args], {
      cwd: t.dir,
      env: { ...process.env, FATTURAD_DATA_DIR: path.join(t.dir, 'cli-var') },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

interface JsonResult {
  file: string;
  valid: boolean;
  errors: {
    code: string;
    field: string | null;
    path: string | null;
    line: number | null;
    message: string;
    messageIt: string;
  }[];
  warnings: unknown[];
}

describe('fatturad validate', () => {
  it('the examples: valid ones exit 0; wrong amounts exit 1 with 00422 and 00423; out of order: 00200, field and line', async () => {
    const ok = await validate([examplePath(EX.b2b), examplePath(EX.lotto), examplePath(EX.semplificata)]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/VALID\s+.*B2B01/);

    const amounts = await validate([examplePath(EX.invalid)]);
    expect(amounts.code).toBe(1);
    expect(amounts.stdout).toMatch(/error\s+00423 \[2\.2\.1\.11 PrezzoTotale, line 82:9\]/);
    expect(amounts.stdout).toMatch(/error\s+00422 \[2\.2\.2\.5 ImponibileImporto, line 109:9\]/);

    const bad = await validate(['--json', OUT_OF_ORDER]);
    expect(bad.code).toBe(1);
    const out = JSON.parse(bad.stdout) as JsonResult[];
    expect(out).toHaveLength(1);
    expect(out[0]?.file).toBe(OUT_OF_ORDER);
    expect(out[0]?.valid).toBe(false);
    expect(out[0]?.errors).toHaveLength(1);
    expect(out[0]?.errors[0]).toMatchObject({ code: '00200', field: '1.1.5 ContattiTrasmittente', line: 13 });
    expect(out[0]?.errors[0]?.messageIt.length).toBeGreaterThan(10);
  });

  it.skipIf(!SAMPLES)(
    'valid samples exit 0; FPR02 (elements out of order) exits 1 with 00200, field and line',
    async () => {
      const ok = await validate([path.join(SAMPLES, 'IT01234567890_FPR01.xml')]);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/VALID\s+.*FPR01/);

      // The official FPR03 sample is valid against the XSD, but its first body's
      // summary (27.00) does not match its lines (5.00 + 20.00): SdI answers 00422.
      const incoherent = await validate([path.join(SAMPLES, 'IT01234567890_FPR03.xml')]);
      expect(incoherent.code).toBe(1);
      expect(incoherent.stdout).toMatch(/error\s+00422 \[2\.2\.2\.5 ImponibileImporto, line 99:9\]/);

      const bad = await validate(['--json', path.join(SAMPLES, 'IT01234567890_FPR02.xml')]);
      expect(bad.code).toBe(1);
      const out = JSON.parse(bad.stdout) as JsonResult[];
      expect(out).toHaveLength(1);
      expect(out[0]?.file).toBe(path.join(SAMPLES, 'IT01234567890_FPR02.xml'));
      expect(out[0]?.valid).toBe(false);
      const e = out[0]?.errors[0];
      expect(e?.code).toBe('00200');
      expect(e?.field).toMatch(/ContattiTrasmittente|PECDestinatario/);
      expect(e?.line).toBeGreaterThan(1);
      expect(e?.messageIt.length).toBeGreaterThan(10);
    },
  );

  it('human output gives code, field, line and both languages', async () => {
    const r = await validate([OUT_OF_ORDER]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/INVALID/);
    expect(r.stdout).toMatch(/00200 \[1\.\d[\d.]* \w+, line \d+/);
    expect(r.stdout).toMatch(/EN: /);
    expect(r.stdout).toMatch(/IT: /);
  });

  it('a missing file or no file is a usage / I/O error: exit 2', async () => {
    expect((await validate([path.join(t.dir, 'nope.xml')])).code).toBe(2);
    expect((await validate([])).code).toBe(2);
  });

  it('--json prints exactly one JSON array even for many files: every example as documented', async () => {
    const names = [EX.pa, EX.b2b, EX.invalid, EX.lotto, EX.semplificata];
    const r = await validate(['--json', ...names.map(examplePath)]);
    const out = JSON.parse(r.stdout) as JsonResult[];
    expect(out).toHaveLength(5);
    // The FPA12 example is unsigned: SdI requires a signature (00102).
    expect(out.map((o) => [o.valid, o.errors.map((e) => e.code).sort(), o.warnings])).toEqual([
      [false, ['00102'], []],
      [true, [], []],
      [false, ['00422', '00423'], []],
      [true, [], []],
      [true, [], []],
    ]);
    expect(r.code).toBe(1);
  });
});

describe('the daemon validates every claimed document', () => {
  it(
    'valid → validated; invalid → rejected/ with the report; same invoice again → 00404',
    { timeout: 60_000 },
    async () => {
      const dir = path.join(t.dir, 'daemon');
      const outbox = path.join(dir, 'outbox');
      fs.mkdirSync(outbox, { recursive: true });
      const cfg = writeDaemonConfig(dir, outbox, { validation: true, intake: { stableMs: 0 } });
      const logFile = path.join(dir, 'log');
      const d = runCli(['start', '--config', cfg], logFile);
      await waitForEvent(logFile, 'daemon.ready');
      fs.writeFileSync(path.join(outbox, 'IT01234567890_00001.xml'), example(EX.b2b));
      await waitForEvent(logFile, 'validation.passed');
      fs.writeFileSync(path.join(outbox, 'IT01234567890_00002.xml'), fs.readFileSync(OUT_OF_ORDER));
      // The same invoice (cedente, number, year) in a file with other bytes: a duplicate for SdI.
      fs.writeFileSync(
        path.join(outbox, 'IT01234567890_00003.xml'),
        Buffer.concat([example(EX.b2b), Buffer.from('\n<!-- sent again -->\n')]),
      );
      const db = path.join(dir, 'var', 'fatturad.db');
      await waitFor('both judged', () => {
        const h = new Database(db, { readonly: true });
        try {
          const n = (
            h.prepare(`SELECT count(*) AS n FROM documents WHERE state = 'rejected'`).get() as { n: number }
          ).n;
          return n === 2;
        } finally {
          h.close();
        }
      });
      d.child.kill('SIGTERM');
      expect((await d.exited).code).toBe(0);

      const h = new Database(db, { readonly: true });
      const docs = h
        .prepare(`SELECT id, original_name, state, path FROM documents ORDER BY original_name`)
        .all() as {
        id: number;
        original_name: string;
        state: string;
        path: string;
      }[];
      h.close();
      expect(docs.map((x) => [x.original_name, x.state])).toEqual([
        ['IT01234567890_00001.xml', 'validated'],
        ['IT01234567890_00002.xml', 'rejected'],
        ['IT01234567890_00003.xml', 'rejected'],
      ]);
      const rejected = path.join(dir, 'var', 'rejected');
      const r2 = JSON.parse(
        fs.readFileSync(path.join(rejected, 'IT01234567890_00002.xml.errors.json'), 'utf8'),
      ) as {
        stage: string;
        errors: { code: string; field?: string }[];
      };
      expect(r2.stage).toBe('validation');
      expect(r2.errors[0]?.code).toBe('00200');
      expect(r2.errors[0]?.field).toBeTruthy();
      const r3 = JSON.parse(
        fs.readFileSync(path.join(rejected, 'IT01234567890_00003.xml.errors.json'), 'utf8'),
      ) as {
        errors: { code: string }[];
      };
      expect(r3.errors.map((e) => e.code)).toContain('00404');
      expect(fs.readFileSync(path.join(rejected, 'IT01234567890_00003.xml.errors.txt'), 'utf8')).toMatch(
        /EN: .*already sent/,
      );
      // The rejected bytes left the spool; the valid document is still there.
      expect(fs.existsSync(docs[1]!.path)).toBe(true);
      expect(docs[1]!.path.startsWith(rejected)).toBe(true);
    },
  );
});
