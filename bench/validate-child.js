/* global process, performance, console */
// The measured side of bench/validate.ts, in plain JavaScript on the compiled code (dist/), so
// that it runs in a bare `node` exactly as the daemon does: the TypeScript loader used for the
// benchmark's own script would add about 40 MB to every RSS figure.
//
//   node bench/validate-child.js LIST_FILE thread|pool [--cold]
//
// Validates the files listed in LIST_FILE and prints one JSON line:
// {ms, bytes, maxMs, valid, rssMb, workers}.
import fs from 'node:fs';
import path from 'node:path';
import { ValidationPool, poolSize } from '../dist/rules/pool.js';
import { validateFile } from '../dist/rules/validate.js';

const [listFile, mode = 'thread', ...flags] = process.argv.slice(2);
if (!listFile) throw new Error('usage: validate-child.js LIST_FILE thread|pool [--cold]');
const files = fs.readFileSync(listFile, 'utf8').split('\n').filter(Boolean);
const pool = new ValidationPool(mode === 'pool' ? poolSize('auto') : 0);

async function run(list) {
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
    const inflight = new Set();
    for (const f of list) {
      const t = performance.now();
      const data = fs.readFileSync(f);
      bytes += data.length;
      const p = pool.validate(path.basename(f), data, { fileName: 'off' }).then((r) => {
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
}

// Warm-up: the daemon is long-running, so what counts is the rate once its threads are up and
// the JIT has compiled the validator (every worker compiles its own copy; a pass of 2,000 files
// was measured not to be enough for that). Small files: one pass over all of them; large files:
// the first one. --cold skips it.
if (!flags.includes('--cold')) await run(files.length > 100 ? files : files.slice(0, 1));
const m = await run(files);
const workers = pool.size;
await pool.close();
console.log(JSON.stringify({ ...m, rssMb: process.resourceUsage().maxRSS / 1024, workers }));
