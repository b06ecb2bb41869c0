import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseXml } from '../../src/invoice/xml.js';
import { validateStructure } from '../../src/rules/structure.js';
import { FATTURAPA_XSD, schemaCatalog, specPath } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';
import { fromXml, loadSchema, Mutator, Rng, type Mutant, type Node, type Schema } from './mutate.js';

/**
 * Differential test of the structural check (SdI 00200) against the official XSD 1.2.3, with
 * xmllint as the oracle: the official samples and thousands of seeded mutants must get the same
 * verdict (valid / invalid) from both. The mutations are derived from the XSD itself
 * (./mutate.ts), never from fatturad's model. TEST_SEED picks other mutants; TEST_MUTANTS asks for
 * more; TEST_VERBOSE prints the split. Disagreeing mutants are kept in a temp folder (printed).
 *
 * The official files are never copied in: they are read from ../shared/spec beside the project
 * or from .cache/spec (scripts/fetch-spec.sh); without them this test is skipped
 * (test/helpers/spec.ts).
 */

const XSD = specPath(FATTURAPA_XSD) ?? '';
const CATALOG = (XSD && schemaCatalog()) || '';
const SAMPLES = specPath('fatturapa', 'samples') ?? '';
const NO_SPEC = !XSD || !CATALOG || !SAMPLES;

const DEFAULT_SEED = 0x5eed_1230;
const SEED = process.env.TEST_SEED ? Number(process.env.TEST_SEED) : DEFAULT_SEED;
if (!Number.isSafeInteger(SEED))
  throw new Error(`TEST_SEED must be an integer, not ${process.env.TEST_SEED}`);
const COUNT = Math.max(3000, Number(process.env.TEST_MUTANTS ?? 0) || 0);
/** Longest xmllint command line (bytes of file arguments); longer lists are split in batches. */
const MAX_ARGS = 100_000;

interface Verdict {
  ok: boolean;
  /** What the validator said first (our finding, or xmllint's first error line). */
  why: string;
}

/** fatturad's structural verdict: a parse failure is a 00200 too (as in validateFile). */
function ours(bytes: Buffer): Verdict {
  const parsed = parseXml(bytes);
  if (!parsed.ok) return { ok: false, why: `parse: ${parsed.errors[0]?.message ?? '?'}` };
  const f = validateStructure(parsed.root);
  return f.length === 0 ? { ok: true, why: '' } : { ok: false, why: `${f[0]?.code} ${f[0]?.message}` };
}

/** xmllint's verdict on files in `dir`, as few processes as the command line allows. */
function xmllint(dir: string, files: string[]): Map<string, Verdict> {
  const out = new Map<string, Verdict>();
  const why = new Map<string, string>();
  const batches: string[][] = [[]];
  let size = 0;
  for (const f of files) {
    if (size + f.length + 1 > MAX_ARGS && (batches[batches.length - 1] as string[]).length > 0) {
      batches.push([]);
      size = 0;
    }
    (batches[batches.length - 1] as string[]).push(f);
    size += f.length + 1;
  }
  for (const batch of batches) {
    const r = spawnSync('xmllint', ['--nonet', '--noout', '--schema', XSD, ...batch], {
      cwd: dir,
      env: { ...process.env, XML_CATALOG_FILES: CATALOG },
      encoding: 'utf8',
      maxBuffer: 512 * 1024 * 1024,
    });
    if (r.error) throw new Error(`xmllint could not run (Debian: apt-get install libxml2-utils): ${r.error}`);
    // Exit 5: the schema itself did not compile; 0, 1 (parse error) and 3 (invalid) are verdicts.
    if (r.status === 5) throw new Error(`xmllint could not load the schema:\n${r.stderr.slice(0, 2000)}`);
    for (const line of r.stderr.split('\n')) {
      const verdict = /^(.+) (validates|fails to validate)$/.exec(line);
      if (verdict) {
        const f = verdict[1] as string;
        out.set(f, { ok: verdict[2] === 'validates', why: why.get(f) ?? '' });
        continue;
      }
      const msg = /^([^:]+):\d+: (.*)$/.exec(line);
      if (msg && !why.has(msg[1] as string)) why.set(msg[1] as string, msg[2] as string);
    }
    for (const f of batch) {
      if (out.has(f)) continue;
      // Not even well-formed: xmllint reports the parser error and no verdict line.
      const w = why.get(f);
      if (w === undefined) throw new Error(`xmllint said nothing about ${f}:\n${r.stderr.slice(-2000)}`);
      out.set(f, { ok: false, why: w });
    }
  }
  return out;
}

const show = (s: string, n = 160): string => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

describe.skipIf(NO_SPEC)('structure = official XSD 1.2.3 (xmllint), differential', () => {
  let tmp: ReturnType<typeof tempDir>;
  afterAll(() => tmp.cleanup());

  const sampleFiles = (NO_SPEC ? [] : fs.readdirSync(SAMPLES))
    .filter((f) => f.endsWith('.xml'))
    .filter((f) => /versione="FP[AR]12"/.test(fs.readFileSync(path.join(SAMPLES, f), 'utf8')))
    .sort();

  let schema: Schema;
  let bases: { name: string; node: Node }[];
  beforeAll(() => {
    tmp = tempDir('fatturad-xsd-');
    const x = parseXml(fs.readFileSync(XSD));
    if (!x.ok) throw new Error('the XSD does not parse');
    schema = loadSchema(x.root);
    bases = sampleFiles.map((f) => {
      const p = parseXml(fs.readFileSync(path.join(SAMPLES, f)));
      if (!p.ok) throw new Error(`sample ${f} does not parse`);
      return { name: f, node: fromXml(p.root) };
    });
  });

  it('the official samples: same verdicts; FPR02 is invalid (elements out of order)', () => {
    expect(sampleFiles.length).toBeGreaterThanOrEqual(6);
    const lint = xmllint(SAMPLES, sampleFiles);
    for (const f of sampleFiles) {
      const v = ours(fs.readFileSync(path.join(SAMPLES, f)));
      expect({ f, ours: v.ok }).toEqual({ f, ours: lint.get(f)?.ok });
    }
    const fpr02 = sampleFiles.find((f) => f.includes('FPR02')) as string;
    expect(lint.get(fpr02)?.ok).toBe(false);
    expect(ours(fs.readFileSync(path.join(SAMPLES, fpr02))).why).toMatch(/ContattiTrasmittente/);
    expect(sampleFiles.filter((f) => lint.get(f)?.ok).length).toBe(sampleFiles.length - 1);
  });

  it(`≥ 2,000 seeded mutants (seed ${SEED}): 100 % agreement`, { timeout: 120_000 }, () => {
    const mutator = new Mutator(
      schema,
      bases.map((b) => b.node),
    );
    // The serializer alone keeps every verdict.
    const plain = bases.map((b, i) => {
      const f = `base${i}.xml`;
      fs.writeFileSync(path.join(tmp.dir, f), mutator.plain(b.node));
      return { f, name: b.name };
    });
    const rng = new Rng(SEED);
    const mutants: (Mutant & { f: string; base: string })[] = [];
    for (let i = 0; i < COUNT; i++) {
      const b = bases[i % bases.length] as (typeof bases)[number];
      const m = mutator.mutant(b.node, rng);
      const f = `m${String(i).padStart(5, '0')}.xml`;
      fs.writeFileSync(path.join(tmp.dir, f), m.bytes);
      mutants.push({ ...m, f, base: b.name });
    }

    const t0 = performance.now();
    const lint = xmllint(tmp.dir, [...plain.map((p) => p.f), ...mutants.map((m) => m.f)]);
    const lintMs = performance.now() - t0;

    for (const p of plain)
      expect({ base: p.name, ours: ours(fs.readFileSync(path.join(tmp.dir, p.f))).ok }).toEqual({
        base: p.name,
        ours: lint.get(p.f)?.ok,
      });

    const results = mutants.map((m) => ({ m, ours: ours(m.bytes), xsd: lint.get(m.f) as Verdict }));
    const bad = results.filter((r) => r.ours.ok !== r.xsd.ok);
    let kept = '';
    if (bad.length > 0) {
      kept = fs.mkdtempSync(path.join(os.tmpdir(), `fatturad-xsd-disagree-${SEED}-`));
      for (const r of bad) fs.copyFileSync(path.join(tmp.dir, r.m.f), path.join(kept, r.m.f));
    }
    const report = bad
      .slice(0, 8)
      .map(
        (r) =>
          `${r.m.f} (${r.m.base}): ${show(r.m.description, 300)}\n` +
          `    fatturad: ${r.ours.ok ? 'valid' : `invalid — ${show(r.ours.why)}`}\n` +
          `    XSD:      ${r.xsd.ok ? 'valid' : `invalid — ${show(r.xsd.why)}`}`,
      );
    if (bad.length > 0) report.push(`${bad.length} disagreements in all; the mutants are kept in ${kept}`);
    expect(report.join('\n')).toBe('');

    const valid = results.filter((r) => r.xsd.ok).length;
    const invalid = results.length - valid;
    const unique = new Set(mutants.map((m) => m.bytes.toString('base64'))).size;
    const structural = mutants.filter((m) => m.kinds.includes('structure')).length;
    if (process.env.TEST_VERBOSE) {
      const byOp = new Map<string, [number, number]>();
      for (const r of results)
        for (const op of new Set(r.m.ops)) {
          const c = byOp.get(op) ?? [0, 0];
          c[r.xsd.ok ? 0 : 1]++;
          byOp.set(op, c);
        }
      console.info(
        `seed ${SEED}: ${results.length} mutants (${unique} distinct; ${structural} with a structural mutation), ` +
          `${valid} valid / ${invalid} invalid per the XSD; xmllint ${Math.round(lintMs)} ms\n` +
          [...byOp]
            .sort()
            .map(([op, [v, n]]) => `  ${op}: ${v} valid, ${n} invalid`)
            .join('\n'),
      );
    }
    expect(results.length).toBeGreaterThanOrEqual(2000);
    expect(unique).toBeGreaterThan(results.length * 0.8);
    // Both verdicts are well represented, so the agreement means something.
    expect(invalid).toBeGreaterThanOrEqual(results.length * 0.25);
    expect(valid).toBeGreaterThanOrEqual(results.length * 0.15);
    // Structural and content mutations both in good numbers.
    expect(structural).toBeGreaterThan(results.length * 0.3);
    expect(results.length - structural).toBeGreaterThan(results.length * 0.3);
  });
});
