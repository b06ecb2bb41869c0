import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateFile } from '../../src/rules/validate.js';
import { TestPki } from '../helpers/pki.js';
import {
  EX,
  EXAMPLES,
  FATTURAPA_XSD,
  FSM10_XSD,
  example,
  examplePath,
  schemaCatalog,
  specPath,
} from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The project's example invoices (examples/, used by the README and most tests) stay what
 * examples/README.md says they are: checked with fatturad and, when the official schemas are
 * available, with xmllint against them.
 */

const expected: Record<string, { format: string; errors: string[] }> = {
  [EX.b2b]: { format: 'FPR12', errors: [] },
  [EX.pa]: { format: 'FPA12', errors: ['00102'] },
  [EX.lotto]: { format: 'FPR12', errors: [] },
  [EX.semplificata]: { format: 'FSM10', errors: [] },
  [EX.invalid]: { format: 'FPR12', errors: ['00422', '00423'] },
};

const tmp = tempDir('fatturad-examples-');
afterAll(() => tmp.cleanup());

describe('examples/', () => {
  it('holds exactly the documented invoices', () => {
    const files = fs.readdirSync(EXAMPLES).filter((f) => f.endsWith('.xml'));
    expect(files.sort()).toEqual(Object.keys(expected).sort());
    const readme = fs.readFileSync(path.join(EXAMPLES, 'README.md'), 'utf8');
    for (const f of files) expect(readme).toContain(f);
  });

  it.each(Object.entries(expected))(
    '%s: fatturad finds exactly the documented errors, no warnings',
    async (name, want) => {
      const r = await validateFile(name, example(name));
      expect(r.format).toBe(want.format);
      expect(r.errors.map((e) => e.code).sort()).toEqual(want.errors);
      expect(r.warnings).toEqual([]);
    },
  );

  it('the invalid example: 00423 on line 1 PrezzoTotale and 00422 on the 22 % summary', async () => {
    const r = await validateFile(EX.invalid, example(EX.invalid));
    const byCode = Object.fromEntries(r.errors.map((e) => [e.code, e]));
    expect(byCode['00423']).toMatchObject({ field: '2.2.1.11 PrezzoTotale' });
    expect(byCode['00423']?.path).toMatch(/DettaglioLinee(\[1\])?\/PrezzoTotale$/);
    expect(byCode['00422']).toMatchObject({ field: '2.2.2.5 ImponibileImporto' });
  });

  it('the lotto holds three bodies; the simplified invoice is under EUR 400', () => {
    const lotto = example(EX.lotto).toString('utf8');
    expect(lotto.match(/<FatturaElettronicaBody>/g)).toHaveLength(3);
    const importo = /<Importo>([\d.]+)<\/Importo>/.exec(example(EX.semplificata).toString('utf8'));
    expect(Number(importo?.[1])).toBeLessThanOrEqual(400);
  });

  it('the FPA12 example signed (CAdES, throw-away CA) is valid', async () => {
    const pki = new TestPki(path.join(tmp.dir, 'ca'), 'Examples Test CA');
    const p7m = pki.sign(example(EX.pa), pki.issue('Mario Rossi'));
    const r = await validateFile(`${EX.pa}.p7m`, p7m, { trustedCAs: [fs.readFileSync(pki.ca.cert)] });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.signed).toBe('cades');
    expect(r.format).toBe('FPA12');
  });
});

const xsd = specPath(FATTURAPA_XSD);
const fsm = specPath(FSM10_XSD);
describe.skipIf(!xsd || !fsm)('examples/ against the official schemas (xmllint)', () => {
  it.each(Object.keys(expected))('%s is valid against its XSD', (name) => {
    const schema = name === EX.semplificata ? fsm : xsd;
    const catalog = schemaCatalog();
    const out = execFileSync(
      'xmllint',
      ['--noout', '--nonet', '--schema', schema as string, examplePath(name)],
      {
        env: { ...process.env, XML_CATALOG_FILES: catalog ?? '' },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    expect(out).toBe('');
  });
});
