#!/usr/bin/env node
/* global process, console */
// `npm start`'s prestart: compiles the project (tsc -p tsconfig.build.json) only when its inputs
// changed since the last build, instead of at every start (7-15 s).
//
// The inputs are every file under src/, tsconfig*.json and package-lock.json, each by path, size
// and modification time (so an edit, a touch, an added or a removed file all count, as in make).
// After a successful build their digest is kept in dist/.build-stamp; a missing dist/ (a fresh
// clone) or dist/cli.js always builds. The digest is taken before compiling, so a file changed
// during the build is built again next time. tsc's exit code is passed on; no stamp on failure.
//
//   node scripts/build-if-changed.js [--root DIR] [--check]
//
// --root: the project (default: this script's); --check: only say whether a build is needed
// (exit 0 up to date, 1 it would compile).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const rootArg = args.indexOf('--root');
const root = path.resolve(
  rootArg >= 0 ? (args[rootArg + 1] ?? '.') : path.join(path.dirname(fileURLToPath(import.meta.url)), '..'),
);
const dist = path.join(root, 'dist');
const stampFile = path.join(dist, '.build-stamp');

/** Every file under `dir`, relative to the root, sorted. */
function walk(dir) {
  let names;
  try {
    names = fs.readdirSync(path.join(root, dir), { withFileTypes: true });
  } catch {
    return [];
  }
  return names
    .flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : [path.join(dir, d.name)]))
    .sort();
}

function digest() {
  const inputs = [
    ...walk('src'),
    ...fs.readdirSync(root).filter((n) => /^tsconfig.*\.json$/.test(n)),
    'package-lock.json',
  ];
  const h = createHash('sha256');
  for (const rel of inputs) {
    let st = null;
    try {
      st = fs.statSync(path.join(root, rel));
    } catch {
      // A missing package-lock.json is an input too: its absence.
    }
    h.update(`${rel}\0${st ? `${st.size}\0${st.mtimeMs}` : '-'}\n`);
  }
  return h.digest('hex');
}

const now = digest();
let kept = null;
try {
  kept = fs.readFileSync(stampFile, 'utf8').trim();
} catch {
  kept = null;
}
if (kept === now && fs.existsSync(path.join(dist, 'cli.js'))) {
  console.log('build: up to date (dist/ matches src/, tsconfig*.json and package-lock.json)');
  process.exit(0);
}
console.log(kept === null ? 'build: no previous build, compiling' : 'build: sources changed, compiling');
if (args.includes('--check')) process.exit(1);
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
fs.mkdirSync(dist, { recursive: true });
fs.writeFileSync(stampFile, `${now}\n`);
