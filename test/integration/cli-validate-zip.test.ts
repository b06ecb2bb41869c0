import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { buildZip } from '../helpers/zip-writer.js';

/** `fatturad validate` on zips (read as intake takes them) and on many files. */
const run = promisify(execFile);
const t = tempDir('fatturad-cli-zip-');
afterAll(() => t.cleanup());

const EXAMPLES = path.resolve(import.meta.dirname, '..', '..', 'examples');
const VALID = fs.readFileSync(path.join(EXAMPLES, 'IT12345670017_B2B01.xml'));
/** The B2B example with a wrong PrezzoTotale: 00422 and 00423. */
const INVALID = fs.readFileSync(path.join(EXAMPLES, 'IT12345670017_ERR01.xml'));

interface Verdict {
  file: string;
  entry?: string;
  valid: boolean;
  errors: { code: string; entry?: string }[];
}

async function validate(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; verdicts: Verdict[]; stdout: string; stderr: string }> {
  const base = { ...process.env, FATTURAD_DATA_DIR: path.join(t.dir, 'data'), ...env };
  let r: { code: number; stdout: string; stderr: string };
  try {
    const ok = await run(process.execPath, [CLI, 'validate', ...args], {
      cwd: t.dir,
      env: base,
      maxBuffer: 64 * 1024 * 1024,
    });
    r = { code: 0, stdout: ok.stdout, stderr: ok.stderr };
  } catch (err) {
    r = err as { code: number; stdout: string; stderr: string };
  }
  return {
    ...r,
    verdicts: args.includes('--json') && r.stdout ? (JSON.parse(r.stdout) as Verdict[]) : [],
  };
}

function zip(name: string, bytes: Buffer): string {
  const f = path.join(t.dir, name);
  fs.writeFileSync(f, bytes);
  return f;
}

describe('fatturad validate: zips', () => {
  it('a zip with two invoices: one verdict per entry, named by the zip and the entry', async () => {
    const f = zip(
      'two.zip',
      buildZip([
        { name: 'march/IT12345670017_00001.xml', data: VALID, method: 'deflate' },
        { name: 'IT12345670017_00002.xml', data: VALID },
      ]),
    );
    const r = await validate(['--json', f]);
    expect(r.code).toBe(0);
    expect(r.verdicts.map((v) => [v.file, v.entry, v.valid])).toEqual([
      [f, 'march/IT12345670017_00001.xml', true],
      [f, 'IT12345670017_00002.xml', true],
    ]);
    const human = await validate([f]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`VALID   ${f} (in zip: march/IT12345670017_00001.xml)`);
  });

  it('a zip with one invalid entry: exit 1, the other entry still valid', async () => {
    const f = zip(
      'one-bad.zip',
      buildZip([
        { name: 'IT12345670017_00001.xml', data: VALID },
        { name: 'IT12345670017_00003.xml', data: INVALID, method: 'deflate' },
      ]),
    );
    const r = await validate(['--json', f]);
    expect(r.code).toBe(1);
    expect(r.verdicts).toHaveLength(2);
    expect(r.verdicts[0]).toMatchObject({ entry: 'IT12345670017_00001.xml', valid: true });
    expect(r.verdicts[1]).toMatchObject({ entry: 'IT12345670017_00003.xml', valid: false });
    expect(r.verdicts[1]?.errors.map((e) => e.code).sort()).toEqual(['00422', '00423']);
  });

  it('hostile zips get the zip refusal of intake, and no entry is validated', async () => {
    const cases: [string, Buffer, string][] = [
      [
        'traversal.zip',
        buildZip([{ name: '../IT12345670017_00001.xml', data: VALID }]),
        'ZIP-PATH-TRAVERSAL',
      ],
      [
        'nested.zip',
        buildZip([{ name: 'inner.zip', data: buildZip([{ name: 'IT12345670017_00001.xml', data: VALID }]) }]),
        'ZIP-NESTED-ARCHIVE',
      ],
      [
        'bomb.zip',
        buildZip([
          { name: 'IT12345670017_00001.xml', data: Buffer.alloc(4 * 1024 * 1024), method: 'deflate' },
        ]),
        'ZIP-BOMB',
      ],
      [
        'lying.zip',
        buildZip([{ name: 'IT12345670017_00001.xml', data: VALID, method: 'deflate', declaredSize: 100 }]),
        'ZIP-SIZE-MISMATCH',
      ],
      ['not-a-zip.zip', VALID, 'ZIP-CORRUPT'],
      ['empty.zip', Buffer.alloc(0), 'EMPTY-FILE'],
    ];
    const files = cases.map(([name, bytes]) => zip(name, bytes));
    const r = await validate(['--json', ...files]);
    expect(r.code).toBe(1);
    expect(r.verdicts.map((v) => [v.file, v.entry, v.valid, v.errors[0]?.code])).toEqual(
      cases.map(([, , code], i) => [files[i], undefined, false, code]),
    );
    expect(r.verdicts[0]?.errors[0]?.entry).toBe('../IT12345670017_00001.xml');
  });

  it("uses intake's zip limits from the configuration", async () => {
    const f = zip(
      'three.zip',
      buildZip(['1', '2', '3'].map((n) => ({ name: `IT12345670017_0000${n}.xml`, data: VALID }))),
    );
    const r = await validate(['--json', f], { FATTURAD_INTAKE__ZIP__MAX_ENTRIES: '2' });
    expect(r.code).toBe(1);
    expect(r.verdicts.map((v) => v.errors[0]?.code)).toEqual(['ZIP-TOO-MANY-ENTRIES']);
  });

  it('a missing zip is an I/O error (exit 2), like a missing file', async () => {
    const r = await validate([path.join(t.dir, 'nowhere.zip')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read .*nowhere\.zip/);
  });
});

describe('fatturad validate: many files', () => {
  it('keeps the order of the arguments and finds the one invalid file among 1,200', async () => {
    const dir = path.join(t.dir, 'many');
    fs.mkdirSync(dir);
    const names: string[] = [];
    for (let i = 0; i < 1200; i++) {
      const name = `IT12345670017_${String(i).padStart(5, '0')}.xml`;
      const bytes = i === 777 ? INVALID : VALID;
      fs.writeFileSync(
        path.join(dir, name),
        bytes.toString('utf8').replace(/<Numero>[^<]*<\/Numero>/, `<Numero>${i + 1}/2026</Numero>`),
      );
      names.push(path.join('many', name));
    }
    // Reversed, so that the order printed is the arguments', not the directory's.
    names.reverse();
    const r = await validate(['--json', ...names]);
    expect(r.code).toBe(1);
    expect(r.verdicts.map((v) => v.file)).toEqual(names);
    expect(r.verdicts.filter((v) => !v.valid).map((v) => v.file)).toEqual([
      path.join('many', 'IT12345670017_00777.xml'),
    ]);
    const human = await validate(names);
    expect(human.code).toBe(1);
    expect(human.stdout.split('\n').filter((l) => /^(VALID|INVALID)/.test(l))).toHaveLength(1200);
  });
});
