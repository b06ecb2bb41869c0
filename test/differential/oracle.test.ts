import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseXml } from '../../src/invoice/xml.js';
import { validateStructure } from '../../src/rules/structure.js';
import { tempDir } from '../helpers/tmp.js';
import { mutate, prng, serialize, type Mutant } from './mutants.js';

/**
 * Differential test: fatturad's structural verdict (00200) against the official XSD 1.2.3 run by
 * xmllint, on the official samples and thousands of seeded mutants. The official files are read
 * from ../shared/spec (never copied into the project). TEST_SEED changes the mutants.
 */

const SPEC = path.resolve(import.meta.dirname, '../../../shared/spec/fatturapa');
const XSD = path.join(SPEC, 'schema/v1.2.3/Schema_VFPR12_v1.2.3.xsd');
const CATALOG = path.join(SPEC, 'schema/catalog.xml');
const SAMPLES = path.join(SPEC, 'samples');
const MUTANTS = Number(process.env.TEST_MUTANTS ?? 2400);
const SEED = Number(process.env.TEST_SEED ?? 20261123);

const tmp = tempDir('fatturad-differential-');
afterAll(() => tmp.cleanup());

function ours(xml: Buffer): boolean {
  const parsed = parseXml(xml);
  return parsed.ok && validateStructure(parsed.root).length === 0;
}

/** xmllint's verdict per file, one process for a batch of files. */
function xmllint(files: string[]): Map<string, boolean> {
  const verdicts = new Map<string, boolean>();
  for (let i = 0; i < files.length; i += 500) {
    const batch = files.slice(i, i + 500);
    const r = spawnSync('xmllint', ['--nonet', '--noout', '--schema', XSD, ...batch], {
      env: { ...process.env, XML_CATALOG_FILES: CATALOG },
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    if (r.error) throw r.error;
    for (const line of r.stderr.split('\n')) {
      const ok = /^(.*) validates$/.exec(line);
      const bad = /^(.*) fails to validate$/.exec(line);
      if (ok?.[1]) verdicts.set(ok[1], true);
      if (bad?.[1]) verdicts.set(bad[1], false);
    }
    // A file xmllint cannot even parse gets no "fails to validate" line: it is invalid.
    for (const f of batch) if (!verdicts.has(f)) verdicts.set(f, false);
  }
  return verdicts;
}

describe('structure = official XSD 1.2.3 (xmllint)', () => {
  const samples = fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.xml'));

  it('the official samples: same verdicts; FPR02 is invalid (elements out of order)', () => {
    const files = samples.map((f) => path.join(SAMPLES, f));
    const lint = xmllint(files);
    for (const f of files) expect(ours(fs.readFileSync(f)), f).toBe(lint.get(f));
    expect(lint.get(path.join(SAMPLES, 'IT01234567890_FPR02.xml'))).toBe(false);
    expect(files.filter((f) => lint.get(f)).length).toBe(samples.length - 1);
  });

  it(`${MUTANTS} seeded mutants (seed ${SEED}): the verdicts agree on 100 %`, { timeout: 300_000 }, () => {
    const bases = samples
      .filter((f) => !f.includes('FPR02'))
      .map((f) => {
        const p = parseXml(fs.readFileSync(path.join(SAMPLES, f)));
        if (!p.ok) throw new Error(`sample ${f} does not parse`);
        return p.root;
      });
    // The serializer itself must keep a valid document valid.
    for (const b of bases) expect(ours(Buffer.from(serialize(b)))).toBe(true);

    const rnd = prng(SEED);
    const mutants: (Mutant & { file: string })[] = [];
    for (let i = 0; i < MUTANTS; i++) {
      const base = bases[i % bases.length] as (typeof bases)[number];
      // Some mutants get two or three mutations on top of each other.
      let m = mutate(base, rnd);
      const extra = rnd() < 0.25 ? 1 + Math.floor(rnd() * 2) : 0;
      for (let k = 0; k < extra; k++) {
        const p = parseXml(Buffer.from(m.xml));
        if (!p.ok) break;
        const n = mutate(p.root, rnd);
        m = { description: `${m.description}; ${n.description}`, xml: n.xml };
      }
      const file = path.join(tmp.dir, `m${String(i).padStart(5, '0')}.xml`);
      fs.writeFileSync(file, m.xml);
      mutants.push({ ...m, file });
    }
    const lint = xmllint(mutants.map((m) => m.file));
    const disagreements = mutants
      .map((m) => ({ ...m, ours: ours(fs.readFileSync(m.file)), xsd: lint.get(m.file) }))
      .filter((m) => m.ours !== m.xsd);
    const invalid = mutants.filter((m) => lint.get(m.file) === false).length;
    if (process.env.TEST_VERBOSE)
      console.info(
        `${mutants.length} mutants: ${invalid} invalid, ${mutants.length - invalid} valid per the XSD`,
      );
    expect(
      disagreements
        .slice(0, 5)
        .map((d) => `${path.basename(d.file)}: ${d.description} → fatturad ${d.ours}, XSD ${d.xsd}`),
    ).toEqual([]);
    // Both verdicts are well represented, so the agreement means something.
    expect(invalid).toBeGreaterThan(MUTANTS * 0.25);
    expect(MUTANTS - invalid).toBeGreaterThan(MUTANTS * 0.15);
  });
});
