import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';

/**
 * The docs keep up with the code: every configuration key of config/default.yaml is in the
 * configuration reference, and every log event the code emits is in the troubleshooting guide.
 */
const ROOT = path.resolve(import.meta.dirname, '..', '..');
const read = (f: string): string => fs.readFileSync(path.join(ROOT, f), 'utf8');

function leaves(tree: unknown, prefix: string[] = []): string[][] {
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree)) return [prefix];
  const entries = Object.entries(tree as Record<string, unknown>);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([k, v]) => leaves(v, [...prefix, k]));
}

function sources(dir: string): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f));
}

describe('docs', () => {
  it('every configuration key is in docs/configuration.md', () => {
    const doc = read('docs/configuration.md');
    const missing = leaves(YAML.parse(read('config/default.yaml')))
      .filter((p) => p.length > 0)
      .filter((p) => {
        const full = p.join('.');
        if (doc.includes(`\`${full}\``)) return false;
        // A row may name siblings after the first one: `a.b.c`, `d` (then d's path is a.b.d).
        for (let i = p.length - 1; i > 0; i--) {
          const parent = p.slice(0, i).join('.');
          const rest = p.slice(i).join('.');
          const rows = doc.split('\n').filter((l) => l.includes(`\`${parent}.`) && l.includes(`\`${rest}\``));
          if (rows.length) return false;
        }
        return true;
      })
      .map((p) => p.join('.'));
    expect(missing).toEqual([]);
  });

  it('every log event is in docs/troubleshooting.md', () => {
    const doc = read('docs/troubleshooting.md');
    const events = new Set<string>();
    for (const f of sources('src'))
      for (const m of read(f).matchAll(/event: '([a-z_]+\.[a-z_.]+)'/g)) events.add(m[1] as string);
    const missing = [...events].filter((e) => !doc.includes(`\`${e}\``)).sort();
    expect(missing).toEqual([]);
  });
});
