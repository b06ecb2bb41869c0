import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

/**
 * `npm start`'s prestart (scripts/build-if-changed.js) compiles only when the sources changed.
 * Run on a two-file project beside the real node_modules, so that tsc is quick.
 */
const ROOT = path.resolve(import.meta.dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'scripts', 'build-if-changed.js');
const t = tempDir('fatturad-build-');
afterAll(() => t.cleanup());

function prestart(root: string): string {
  return execFileSync(process.execPath, [SCRIPT, '--root', root], { encoding: 'utf8' });
}

/** Whether it would build (`--check`: exit 1), without building. */
function wouldBuild(root: string): boolean {
  try {
    execFileSync(process.execPath, [SCRIPT, '--root', root, '--check'], { stdio: 'pipe' });
    return false;
  } catch (err) {
    if ((err as { status?: number }).status === 1) return true;
    throw err;
  }
}

describe('build only when the sources changed', () => {
  it('builds a fresh clone, then not again until a source file, tsconfig or the lock file changes', () => {
    const root = t.dir;
    fs.mkdirSync(path.join(root, 'src', 'util'), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
    fs.writeFileSync(
      path.join(root, 'tsconfig.build.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          rootDir: 'src',
          outDir: 'dist',
          strict: true,
          skipLibCheck: true,
          types: [],
        },
        include: ['src'],
      }),
    );
    fs.writeFileSync(path.join(root, 'package-lock.json'), '{}\n');
    fs.writeFileSync(path.join(root, 'src', 'cli.ts'), 'export const answer: number = 42;\n');
    fs.writeFileSync(path.join(root, 'src', 'util', 'x.ts'), "export const x = 'x';\n");
    const cli = path.join(root, 'dist', 'cli.js');
    const stamp = path.join(root, 'dist', '.build-stamp');

    // A fresh clone: no dist/, so it builds.
    expect(prestart(root)).toMatch(/no previous build, compiling/);
    expect(fs.readFileSync(cli, 'utf8')).toContain('42');
    const first = fs.readFileSync(stamp, 'utf8');
    const builtAt = fs.statSync(cli).mtimeMs;

    // Nothing changed: no build (dist/cli.js not rewritten, the stamp the same).
    expect(prestart(root)).toMatch(/up to date/);
    expect(fs.statSync(cli).mtimeMs).toBe(builtAt);
    expect(fs.readFileSync(stamp, 'utf8')).toBe(first);

    // An edited source file builds again.
    fs.writeFileSync(path.join(root, 'src', 'cli.ts'), 'export const answer: number = 43;\n');
    expect(prestart(root)).toMatch(/sources changed, compiling/);
    expect(fs.readFileSync(cli, 'utf8')).toContain('43');
    expect(prestart(root)).toMatch(/up to date/);

    // Touched (same content, new mtime), a new file, the lock file, a tsconfig: each would build.
    expect(wouldBuild(root)).toBe(false);
    const x = path.join(root, 'src', 'util', 'x.ts');
    const { mtime } = fs.statSync(x);
    fs.utimesSync(x, mtime, new Date(mtime.getTime() + 5000));
    expect(wouldBuild(root)).toBe(true);
    expect(prestart(root)).toMatch(/sources changed, compiling/);
    expect(wouldBuild(root)).toBe(false);
    fs.writeFileSync(path.join(root, 'src', 'util', 'y.ts'), 'export const y = 1;\n');
    expect(wouldBuild(root)).toBe(true);
    fs.rmSync(path.join(root, 'src', 'util', 'y.ts'));
    expect(wouldBuild(root)).toBe(false);
    fs.writeFileSync(path.join(root, 'package-lock.json'), '{ "lockfileVersion": 3 }\n');
    expect(wouldBuild(root)).toBe(true);
    fs.writeFileSync(path.join(root, 'tsconfig.json'), '{}\n');
    expect(prestart(root)).toMatch(/sources changed, compiling/);
    expect(prestart(root)).toMatch(/up to date/);

    // dist/ removed: builds.
    fs.rmSync(path.join(root, 'dist'), { recursive: true });
    expect(prestart(root)).toMatch(/compiling/);
    expect(fs.existsSync(cli)).toBe(true);
  });

  it('a failed build keeps no stamp and fails', () => {
    const root = path.join(t.dir, 'broken');
    fs.mkdirSync(path.join(root, 'src'), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
    fs.writeFileSync(
      path.join(root, 'tsconfig.build.json'),
      JSON.stringify({
        compilerOptions: { rootDir: 'src', outDir: 'dist', strict: true, skipLibCheck: true, types: [] },
        include: ['src'],
      }),
    );
    fs.writeFileSync(path.join(root, 'src', 'cli.ts'), 'export const n: number = "not a number";\n');
    expect(() => execFileSync(process.execPath, [SCRIPT, '--root', root], { stdio: 'pipe' })).toThrow();
    expect(fs.existsSync(path.join(root, 'dist', '.build-stamp'))).toBe(false);
  });
});
