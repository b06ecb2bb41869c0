/**
 * Parse benchmark (not a test). Time per MB of fatturad's XML reader on invoices of 0.1, 0.5, 1, 2
 * and 5 MB, one-line and indented (the B2B example's DettaglioLinee repeated,
 * test/helpers/big-invoice.ts), through the fast path (src/invoice/xml-fast.ts, what the daemon
 * uses) and through the fallback path (saxes, used when the fast reader declines a file), beside
 * `xmllint --noout` on the same files in the same run (its --repeat loop of 100 parses in one
 * process, so that its start is hardly counted). CPU time, not wall time, so that other work on
 * the machine changes the figures less. Each of ours is the median of several runs (at least half
 * a second of CPU) after a warm-up run. The work counter of each path
 * (characters examined per character of input) is printed too: flat means linear.
 *
 *   npm run bench:parse [-- --runs 7]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as Xml from '../src/invoice/xml.js';
import { bigInvoice } from '../test/helpers/big-invoice.js';

const { parseXml } = (await import(
  path.resolve(import.meta.dirname, '..', 'dist', 'invoice', 'xml.js')
)) as typeof Xml;

const args = process.argv.slice(2);
const runsArg = args.indexOf('--runs');
const RUNS = runsArg >= 0 ? Number(args[runsArg + 1]) || 5 : 5;
const SIZES = [0.1, 0.5, 1, 2, 5];
const MB = 1024 * 1024;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

function ours(bytes: Buffer, engine: 'auto' | 'saxes'): { ms: number; perChar: number; ok: boolean } {
  const work = { steps: 0 };
  let ok = parseXml(bytes, { engine, work }).ok; // warm-up, and the work count
  const times: number[] = [];
  // At least RUNS runs and half a second of CPU, so that small files are measured after the JIT warmed up.
  for (let spent = 0; times.length < RUNS || spent < 500;) {
    const c0 = process.cpuUsage();
    ok = parseXml(bytes, { engine }).ok && ok;
    const c = process.cpuUsage(c0);
    const ms = (c.user + c.system) / 1000;
    times.push(ms);
    spent += ms;
  }
  return { ms: median(times), perChar: work.steps / bytes.length, ok };
}

const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

/**
 * xmllint's own loop (--repeat: 100 parses in one process), so that its start is hardly counted;
 * its CPU time from /usr/bin/time (its wall time without it).
 */
function xmllint(file: string): number | null {
  const times: number[] = [];
  for (let i = 0; i < Math.min(RUNS, 3); i++) {
    const t0 = performance.now();
    const r = TIME
      ? spawnSync(TIME, ['-f', 'cpu %U %S', 'xmllint', '--noout', '--repeat', file], { encoding: 'utf8' })
      : spawnSync('xmllint', ['--noout', '--repeat', file], { encoding: 'utf8' });
    const wall = performance.now() - t0;
    if (r.error || r.status !== 0) return null;
    const cpu = /cpu (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)/.exec(r.stderr);
    times.push((cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : wall) / 100);
  }
  return median(times);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fatturad-bench-parse-'));
try {
  console.log(
    `parse benchmark, node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}; median of ${RUNS} runs or more, CPU ms per MB`,
  );
  const head = [
    'size',
    'layout',
    'fast path',
    'work/char',
    'fallback (saxes)',
    'work/char',
    'xmllint --noout',
  ];
  console.log(head.map((h, i) => (i < 2 ? h.padEnd(9) : h.padStart(17))).join(' '));
  for (const size of SIZES) {
    for (const oneLine of [true, false]) {
      const text = bigInvoice(size * MB, { oneLine });
      const bytes = Buffer.from(text);
      const file = path.join(dir, `IT12345670017_${String(size).replace('.', '')}${oneLine ? 'L' : 'I'}.xml`);
      fs.writeFileSync(file, bytes);
      const mb = bytes.length / MB;
      const fast = ours(bytes, 'auto');
      const slow = ours(bytes, 'saxes');
      const lint = xmllint(file);
      const cell = (ms: number | null): string => (ms === null ? 'n/a' : `${(ms / mb).toFixed(1)}`);
      console.log(
        [
          `${size} MB`.padEnd(9),
          (oneLine ? 'one line' : 'indented').padEnd(9),
          `${cell(fast.ms)}${fast.ok ? '' : ' (!)'}`.padStart(17),
          fast.perChar.toFixed(2).padStart(17),
          `${cell(slow.ms)}${slow.ok ? '' : ' (!)'}`.padStart(17),
          slow.perChar.toFixed(2).padStart(17),
          cell(lint).padStart(17),
        ].join(' '),
      );
    }
  }
  console.log('(!) = the parse failed; work/char = ParseOptions.work steps per character of input');
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
