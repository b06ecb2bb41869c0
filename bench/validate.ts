/**
 * Validation benchmark (not a test). fatturad's full validation (parse + structure equivalent to
 * the XSD + content + registry checks) beside `xmllint --noout --schema` (schema only) run as ONE
 * process over the same files, in the same run. Prints files/s, MB/s, peak RSS and the ratio.
 *
 *   npm run bench:validate [-- --files 10000]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateFile } from '../src/rules/validate.js';

const args = process.argv.slice(2);
const N = Number(args[args.indexOf('--files') + 1] || 0) || 10_000;
const root = fileURLToPath(new URL('..', import.meta.url));
const shared = path.resolve(root, '..', 'shared', 'spec', 'fatturapa');
const xsd = path.join(shared, 'schema', 'v1.2.3', 'Schema_VFPR12_v1.2.3.xsd');
const catalog = path.join(shared, 'schema', 'catalog.xml');
const sample = fs.readFileSync(path.join(shared, 'samples', 'IT01234567890_FPR01.xml'), 'utf8');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fatturad-bench-validate-'));

// Typical invoices: the official FPR01 sample padded to about 5 KB with a longer Causale, a new Numero each.
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
// Large invoices: the line block repeated to about 5 MB.
const line = /<DettaglioLinee>[\s\S]*?<\/DettaglioLinee>/.exec(sample)?.[0] ?? '';
const reps = Math.floor((5 * 1024 * 1024 - sample.length) / line.length) - 1;
const bigText = sample.replace(line, line.repeat(reps));
const big: string[] = [];
for (let i = 0; i < 5; i++) {
  const f = path.join(dir, `IT01234567890_B${String(i).padStart(4, '0')}.xml`);
  fs.writeFileSync(f, bigText.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>B${i}</Numero>`));
  big.push(f);
}

async function ours(files: string[]): Promise<{ ms: number; bytes: number; maxMs: number; valid: number }> {
  let bytes = 0;
  let maxMs = 0;
  let valid = 0;
  const t0 = performance.now();
  for (const f of files) {
    const t = performance.now();
    const data = fs.readFileSync(f);
    bytes += data.length;
    const r = await validateFile(path.basename(f), data, { fileName: 'off' });
    if (r.valid) valid++;
    maxMs = Math.max(maxMs, performance.now() - t);
  }
  return { ms: performance.now() - t0, bytes, maxMs, valid };
}

function xmllint(files: string[]): { ms: number; rssMb: number | null } {
  const t0 = performance.now();
  let rssKb = 0;
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
    const last = r.stderr.trim().split('\n').pop() ?? '';
    rssKb = Math.max(rssKb, Number(/^\d+$/.test(last) ? last : 0));
  }
  return { ms: performance.now() - t0, rssMb: rssKb ? rssKb / 1024 : null };
}

const mb = (b: number): number => b / 1024 / 1024;
const report = async (label: string, files: string[]): Promise<void> => {
  await ours(files.slice(0, Math.min(50, files.length))); // warm-up
  const rssBefore = process.resourceUsage().maxRSS / 1024;
  const a = await ours(files);
  const rss = process.resourceUsage().maxRSS / 1024;
  const b = xmllint(files);
  const oursRate = (files.length / a.ms) * 1000;
  const lintRate = (files.length / b.ms) * 1000;
  console.log(`${label}: ${files.length} files, ${mb(a.bytes).toFixed(1)} MB`);
  console.log(
    `  fatturad (schema + all checks): ${oursRate.toFixed(0)} files/s, ${(mb(a.bytes) / (a.ms / 1000)).toFixed(1)} MB/s, slowest file ${a.maxMs.toFixed(1)} ms, peak RSS ${rss.toFixed(0)} MB (before ${rssBefore.toFixed(0)} MB)`,
  );
  console.log(
    `  xmllint --schema (one process):  ${lintRate.toFixed(0)} files/s, ${(mb(a.bytes) / (b.ms / 1000)).toFixed(1)} MB/s, peak RSS ${b.rssMb?.toFixed(0) ?? '?'} MB`,
  );
  console.log(`  ratio fatturad / xmllint: ${(oursRate / lintRate).toFixed(2)}`);
};

console.log(`validation benchmark, ${os.cpus().length} CPUs, node ${process.version}`);
await report('typical invoices (~5 KB)', small);
await report('large invoices (~5 MB)', big);
fs.rmSync(dir, { recursive: true, force: true });
