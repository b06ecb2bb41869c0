import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { runValidate } from '../../../src/rules/validate-cli.js';
import { invoice } from '../content/helpers.js';

/** `fatturad validate --as-of DAY` and the notes (info) of `fatturad validate`, human and --json. */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fatturad-validate-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const config = loadConfig({ env: { FATTURAD_DATA_DIR: path.join(dir, 'var') } });
const VALID = { paese: 'IT', codice: '06363391001' };

function file(name: string, xml: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, xml);
  return f;
}

async function run(files: string[], o: { json?: boolean; asOf?: string } = {}) {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  const code = await runValidate(files, config, o);
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

const td29 = file(
  'IT06363391001_00029.xml',
  invoice({
    trasmittente: VALID.codice,
    cedente: VALID,
    cessionario: { paese: 'IT', codice: '00488410010' },
    bodies: [{ tipo: 'TD29', data: '2025-03-01' }],
  }),
);
const reserved = file(
  'IT06363391001_00001.xml',
  invoice({
    trasmittente: VALID.codice,
    cedente: VALID,
    cessionario: { paese: 'IT', codice: '00488410010' },
    codiceDestinatario: '0000000',
  }),
);

describe('--as-of', () => {
  it('a malformed day is a usage error (exit 2) that names it', async () => {
    const r = await run([td29], { asOf: '2017-13-45' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--as-of .*"2017-13-45"/);
    expect(r.stdout).toBe('');
  });

  it('applies the rules of the day: TD29 is valid today, a format error (00200) as of 2025-03-31', async () => {
    expect((await run([td29])).code).toBe(0);
    const then = await run([td29], { asOf: '2025-03-31', json: true });
    expect(then.code).toBe(1);
    const [v] = JSON.parse(then.stdout) as { errors: { code: string }[] }[];
    expect(v?.errors.map((e) => e.code)).toEqual(['00200']);
    expect((await run([td29], { asOf: '2025-04-01' })).code).toBe(0);
  });
});

describe('notes (info)', () => {
  it('--json has an info array apart from warnings', async () => {
    const r = await run([reserved], { json: true });
    expect(r.code).toBe(0);
    const [v] = JSON.parse(r.stdout) as {
      warnings: { code: string }[];
      info: { code: string; messageIt: string }[];
    }[];
    expect(v?.warnings).toEqual([]);
    expect(v?.info.map((n) => n.code)).toEqual(['RECIPIENT-RESERVED-AREA']);
  });

  it('the human report shows them as notes', async () => {
    const r = await run([reserved]);
    expect(r.stdout).toMatch(
      /^VALID {3}.*\n {2}note {4}RECIPIENT-RESERVED-AREA \[1\.1\.4 CodiceDestinatario/m,
    );
    expect(r.stdout).not.toMatch(/warning/);
  });
});
