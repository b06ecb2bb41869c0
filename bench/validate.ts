/**
 * Validation benchmark (not a test). fatturad's full validation (parse + structure equivalent to
 * the XSD + content + registry checks) beside `xmllint --noout --schema` (schema only) run as ONE
 * process over the same files, in the same run. Prints files/s, MB/s, peak RSS and the ratio.
 * fatturad is measured in a fresh child process per case (so peak RSS is that case's own), once
 * in one thread and once on the daemon's worker pool (`validation.workers: auto`), each after a
 * warm-up pass (over all the small files, or one large file) as in a long-running daemon.
 *
 *   npm run bench:validate [-- --files 10000]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type * as PoolTypes from '../src/rules/pool.js';
import type * as ValidateTypes from '../src/rules/validate.js';

type PoolModule = typeof PoolTypes;
type ValidateModule = typeof ValidateTypes;

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const root = fileURLToPath(new URL('..', import.meta.url));

interface Measure {
  ms: number;
  bytes: number;
  maxMs: number;
  valid: number;
  rssMb: number;
  workers: number;
}

/** Child mode: validate the files listed in --list, print one JSON line. */
async function child(listFile: string, mode: 'thread' | 'pool'): Promise<void> {
  const files = fs.readFileSync(listFile, 'utf8').split('\n').filter(Boolean);
  const { validateFile } = (await import(path.join(root, 'dist/rules/validate.js'))) as ValidateModule;
  const { ValidationPool, poolSize } = (await import(path.join(root, 'dist/rules/pool.js'))) as PoolModule;
  const pool = new ValidationPool(mode === 'pool' ? poolSize('auto') : 0);
  const run = async (list: string[]): Promise<Omit<Measure, 'rssMb' | 'workers'>> => {
    let bytes = 0;
    let maxMs = 0;
    let valid = 0;
    const t0 = performance.now();
    if (mode === 'thread') {
      for (const f of list) {
        const t = performance.now();
        const data = fs.readFileSync(f);
        bytes += data.length;
        const r = await validateFile(path.basename(f), data, { fileName: 'off' });
        if (r.valid) valid++;
        maxMs = Math.max(maxMs, performance.now() - t);
      }
    } else {
      // As the daemon does: read, hand to the pool, as many files in flight as it asks for.
      const inflight = new Set<Promise<void>>();
      for (const f of list) {
        const t = performance.now();
        const data = fs.readFileSync(f);
        bytes += data.length;
        const p: Promise<void> = pool.validate(path.basename(f), data, { fileName: 'off' }).then((r) => {
          if (r.valid) valid++;
          maxMs = Math.max(maxMs, performance.now() - t);
          inflight.delete(p);
        });
        inflight.add(p);
        if (inflight.size >= pool.capacity) await Promise.race(inflight);
      }
      await Promise.all(inflight);
    }
    return { ms: performance.now() - t0, bytes, maxMs, valid };
  };
  // Warm-up: the daemon is long-running, so what counts is the rate once its threads are up and
  // the JIT has compiled the validator (every worker compiles its own copy; a pass of 2,000
  // files was measured not to be enough for that). Small files: one pass over all of them;
  // large files: the first one.
  await run(files.length > 100 ? files : files.slice(0, 1));
  const m = await run(files);
  const workers = pool.size;
  await pool.close();
  const out: Measure = { ...m, rssMb: process.resourceUsage().maxRSS / 1024, workers };
  console.log(JSON.stringify(out));
}

function xmllint(
  files: string[],
  xsd: string,
  catalog: string,
): { ms: number; rssMb: number | null; valid: number } {
  const t0 = performance.now();
  let rssKb = 0;
  let valid = 0;
  for (let i = 0; i < files.length; i += 2000) {
    const chunk = files.slice(i, i + 2000);
    const r = spawnSync(
      '/usr/bin/time',
      ['-f', '%M', 'xmllint', '--nonet', '--noout', '--schema', xsd, ...chunk],
      {
        env: { ...process.env, XML_CATALOG_FILES: catalog },
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const lines = r.stderr.trim().split('\n');
    valid += lines.filter((l) => l.endsWith(' validates')).length;
    const last = lines.pop() ?? '';
    rssKb = Math.max(rssKb, Number(/^\d+$/.test(last) ? last : 0));
  }
  return { ms: performance.now() - t0, rssMb: rssKb ? rssKb / 1024 : null, valid };
}

async function main(): Promise<void> {
  const N = Number(arg('--files') ?? 0) || 10_000;
  const shared = path.resolve(root, '..', 'shared', 'spec', 'fatturapa');
  const xsd = path.join(shared, 'schema', 'v1.2.3', 'Schema_VFPR12_v1.2.3.xsd');
  const catalog = path.join(shared, 'schema', 'catalog.xml');
  const sample = fs.readFileSync(path.join(shared, 'samples', 'IT01234567890_FPR01.xml'), 'utf8');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fatturad-bench-validate-'));
  try {
    // Typical invoices: the official FPR01 sample grown to about 5 KB with a Causale, a new Numero each.
    const small: string[] = [];
    for (let i = 0; i < N; i++) {
      const text = sample
        .replace(/<Numero>[^<]*<\/Numero>/, `<Numero>${i + 1}/2026</Numero>`)
        .replace(
          /<\/DatiGeneraliDocumento>/,
          `<Causale>${'Fornitura di materiale '.repeat(80).slice(0, 200)}</Causale></DatiGeneraliDocumento>`,
        );
      const f = path.join(dir, `IT01234567890_${String(i).padStart(5, '0')}.xml`);
      fs.writeFileSync(f, text);
      small.push(f);
    }
    // Large invoices: the line block repeated to about 5 MB, with a summary that matches the lines.
    const line = /<DettaglioLinee>[\s\S]*?<\/DettaglioLinee>/.exec(sample)?.[0] ?? '';
    const reps = Math.floor((5 * 1024 * 1024 - sample.length) / line.length) - 1;
    const total = (reps * 500) / 100; // each FPR01 line is 5.00 at 22 %
    const bigText = sample
      .replace(line, line.repeat(reps))
      .replace(
        '<ImponibileImporto>5.00</ImponibileImporto>',
        `<ImponibileImporto>${total.toFixed(2)}</ImponibileImporto>`,
      )
      .replace('<Imposta>1.10</Imposta>', `<Imposta>${(total * 0.22).toFixed(2)}</Imposta>`);
    const big: string[] = [];
    for (let i = 0; i < 5; i++) {
      const f = path.join(dir, `IT01234567890_B${String(i).padStart(4, '0')}.xml`);
      fs.writeFileSync(f, bigText.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>B${i}</Numero>`));
      big.push(f);
    }

    console.log(`validation benchmark, ${os.availableParallelism()} CPUs, node ${process.version}`);
    const mb = (b: number): number => b / 1024 / 1024;
    for (const [label, files] of [
      ['typical invoices (~5 KB)', small],
      ['large invoices (~5 MB)', big],
    ] as const) {
      const list = path.join(dir, `${files.length}.list`);
      fs.writeFileSync(list, files.join('\n'));
      const lint = xmllint(files, xsd, catalog);
      const lintRate = (files.length / lint.ms) * 1000;
      console.log(`${label}: ${files.length} files`);
      for (const mode of ['thread', 'pool'] as const) {
        const out = execFileSync(
          process.execPath,
          [...process.execArgv, fileURLToPath(import.meta.url), '--child', list, '--mode', mode],
          {
            encoding: 'utf8',
            maxBuffer: 16 * 1024 * 1024,
          },
        );
        const m = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Measure;
        const rate = (files.length / m.ms) * 1000;
        const what = mode === 'thread' ? 'fatturad, one thread' : `fatturad, pool of ${m.workers} workers`;
        console.log(
          `  ${what.padEnd(32)} ${rate.toFixed(0).padStart(6)} files/s ${(mb(m.bytes) / (m.ms / 1000)).toFixed(1).padStart(6)} MB/s  slowest ${m.maxMs.toFixed(0)} ms  peak RSS ${m.rssMb.toFixed(0)} MB  valid ${m.valid}/${files.length}  ratio to xmllint ${(rate / lintRate).toFixed(2)}`,
        );
      }
      console.log(
        `  ${'xmllint --schema, one process'.padEnd(32)} ${lintRate.toFixed(0).padStart(6)} files/s ${(mb(files.reduce((a, f) => a + fs.statSync(f).size, 0)) / (lint.ms / 1000)).toFixed(1).padStart(6)} MB/s  peak RSS ${lint.rssMb?.toFixed(0) ?? '?'} MB  valid ${lint.valid}/${files.length}`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const listArg = arg('--child');
if (listArg) await child(listArg, arg('--mode') === 'pool' ? 'pool' : 'thread');
else await main();
