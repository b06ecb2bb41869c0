/**
 * Validation benchmark (not a test). fatturad's full validation (parse + structure equivalent to
 * the XSD + content + registry checks) beside `xmllint --noout --schema` (schema only) run as ONE
 * process over the same files, in the same run. Prints files/s, MB/s, peak RSS and the ratio.
 * fatturad is measured in a fresh bare `node` process per case (bench/validate-child.js, so peak
 * RSS is that case's own), once in one thread and once on the daemon's worker pool
 * (`validation.workers: auto`), each after a warm-up pass (over all the small files, or one
 * large file) as in a long-running daemon; large files also one per new process, cold. The
 * invoices are made from the project's B2B example; the official XSD for xmllint is read from
 * ../shared/spec or .cache/spec (scripts/fetch-spec.sh), and without it only fatturad is measured.
 *
 *   npm run bench:validate [-- --files 10000]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EX, exampleText, FATTURAPA_XSD, schemaCatalog, SPEC_HINT, specPath } from '../test/helpers/spec.js';

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

interface Measure {
  ms: number;
  bytes: number;
  maxMs: number;
  valid: number;
  rssMb: number;
  workers: number;
}

const CHILD = fileURLToPath(new URL('./validate-child.js', import.meta.url));

/** Runs the measured side in a bare node process (see validate-child.js). */
function measure(list: string, mode: 'thread' | 'pool', cold = false): Measure {
  const out = execFileSync(process.execPath, [CHILD, list, mode, ...(cold ? ['--cold'] : [])], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Measure;
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
  const xsd = specPath(FATTURAPA_XSD);
  const catalog = xsd ? schemaCatalog() : null;
  if (!xsd || !catalog) console.log(`xmllint not measured: ${SPEC_HINT}`);
  const sample = exampleText(EX.b2b);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fatturad-bench-validate-'));
  try {
    // Typical invoices: the B2B example grown to about 5 KB with a Causale, a new Numero each.
    const small: string[] = [];
    for (let i = 0; i < N; i++) {
      const text = sample
        .replace(/<Numero>[^<]*<\/Numero>/, `<Numero>${i + 1}/2026</Numero>`)
        .replace(
          /<\/DatiGeneraliDocumento>/,
          `<Causale>${'Fornitura di materiale '.repeat(80).slice(0, 200)}</Causale></DatiGeneraliDocumento>`,
        );
      const f = path.join(dir, `IT12345670017_${String(i).padStart(5, '0')}.xml`);
      fs.writeFileSync(f, text);
      small.push(f);
    }
    // Large invoices: the line block repeated to about 5 MB, with a summary that matches the lines.
    const line = /<DettaglioLinee>[\s\S]*?<\/DettaglioLinee>/.exec(sample)?.[0] ?? '';
    const reps = Math.floor((5 * 1024 * 1024 - sample.length) / line.length) - 1;
    const total = reps * 520; // the example's first line is 520.00 at 22 %; it replaces all lines
    const bigText = sample
      .replace(/<DettaglioLinee>[\s\S]*<\/DettaglioLinee>/, line.repeat(reps))
      .replace(
        /<DatiRiepilogo>[\s\S]*<\/DatiRiepilogo>/,
        `<DatiRiepilogo><AliquotaIVA>22.00</AliquotaIVA><ImponibileImporto>${total.toFixed(2)}</ImponibileImporto>` +
          `<Imposta>${(total * 0.22).toFixed(2)}</Imposta><EsigibilitaIVA>I</EsigibilitaIVA></DatiRiepilogo>`,
      )
      .replace(/<ImportoTotaleDocumento>[^<]*</, `<ImportoTotaleDocumento>${(total * 1.22).toFixed(2)}<`)
      .replace(/<ImportoPagamento>[^<]*</, `<ImportoPagamento>${(total * 1.22).toFixed(2)}<`);
    const big: string[] = [];
    for (let i = 0; i < 5; i++) {
      const f = path.join(dir, `IT12345670017_B${String(i).padStart(4, '0')}.xml`);
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
      const lint = xsd && catalog ? xmllint(files, xsd, catalog) : null;
      const lintRate = lint ? (files.length / lint.ms) * 1000 : NaN;
      console.log(`${label}: ${files.length} files`);
      for (const mode of ['thread', 'pool'] as const) {
        const m = measure(list, mode);
        const rate = (files.length / m.ms) * 1000;
        const what = mode === 'thread' ? 'fatturad, one thread' : `fatturad, pool of ${m.workers} workers`;
        console.log(
          `  ${what.padEnd(32)} ${rate.toFixed(0).padStart(6)} files/s ${(mb(m.bytes) / (m.ms / 1000)).toFixed(1).padStart(6)} MB/s  slowest ${m.maxMs.toFixed(0)} ms  peak RSS ${m.rssMb.toFixed(0)} MB  valid ${m.valid}/${files.length}  ratio to xmllint ${(rate / lintRate).toFixed(2)}`,
        );
      }
      if (files === big) {
        // One large file in a fresh process, no warm-up: the memory one file needs, and the time
        // of a daemon's first large file (before the JIT has compiled the validator).
        let slowest = 0;
        let rss = 0;
        for (const f of files) {
          const one = path.join(dir, 'one.list');
          fs.writeFileSync(one, f);
          const m = measure(one, 'thread', true);
          slowest = Math.max(slowest, m.ms);
          rss = Math.max(rss, m.rssMb);
        }
        console.log(
          `  ${'fatturad, each in a new process'.padEnd(32)} slowest ${slowest.toFixed(0)} ms  peak RSS ${rss.toFixed(0)} MB (cold: no warm-up)`,
        );
      }
      if (lint)
        console.log(
          `  ${'xmllint --schema, one process'.padEnd(32)} ${lintRate.toFixed(0).padStart(6)} files/s ${(mb(files.reduce((a, f) => a + fs.statSync(f).size, 0)) / (lint.ms / 1000)).toFixed(1).padStart(6)} MB/s  peak RSS ${lint.rssMb?.toFixed(0) ?? '?'} MB  valid ${lint.valid}/${files.length}`,
        );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
