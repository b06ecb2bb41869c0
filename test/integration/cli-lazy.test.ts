import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Each `fatturad` command loads only what it needs (src/cli.ts): checked by the modules Node's ESM
 * loader reports (NODE_DEBUG=esm), not by timing.
 */
const run = promisify(execFile);
const t = tempDir('fatturad-cli-lazy-');
afterAll(() => t.cleanup());

const DIST = path.dirname(CLI);
const EXAMPLE = path.resolve(import.meta.dirname, '..', '..', 'examples', 'IT12345670017_B2B01.xml');

/** The project's modules (relative to dist/) and the packages a command loaded. */
async function loaded(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ files: string[]; packages: string[]; code: number }> {
  let stderr: string;
  let code = 0;
  try {
    ({ stderr } = await run(process.execPath, [CLI, ...args], {
      cwd: t.dir,
      env: {
        ...process.env,
        NODE_DEBUG: 'esm',
        FATTURAD_DATA_DIR: path.join(t.dir, 'data'),
        XDG_CACHE_HOME: path.join(t.dir, 'cache'),
        ...env,
      },
      maxBuffer: 64 * 1024 * 1024,
    }));
  } catch (err) {
    ({ stderr, code } = err as { stderr: string; code: number });
  }
  const urls = [...stderr.matchAll(/Storing (file:\/\/\S+)/g)].map((m) =>
    decodeURI(new URL(m[1] as string).pathname),
  );
  const files = [...new Set(urls.filter((u) => u.startsWith(`${DIST}/`)).map((u) => path.relative(DIST, u)))];
  const packages = [
    ...new Set(urls.flatMap((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1] ?? [])),
  ];
  return { files: files.sort(), packages: packages.sort(), code };
}

describe('fatturad loads what a command needs', () => {
  it('--version and --help: commander and the command declarations only', async () => {
    for (const args of [['--version'], ['--help'], ['validate', '--help']]) {
      const r = await loaded(args);
      expect(r.code).toBe(0);
      expect(r.packages).toEqual(['commander']);
      // cli.js, version.js and each area's command declarations (archive/cli.js, ...).
      expect(r.files.filter((f) => f !== 'cli.js' && f !== 'version.js' && !f.endsWith('/cli.js'))).toEqual(
        [],
      );
    }
  });

  it('status: the configuration and the store, not the daemon, the validator or the logger', async () => {
    fs.mkdirSync(path.join(t.dir, 'data'), { recursive: true });
    // Makes the store (the daemon would): status needs one.
    const { Store } = await import('../../src/store/store.js');
    new Store(path.join(t.dir, 'data', 'fatturad.db')).close();
    const r = await loaded(['status']);
    expect(r.code).toBe(0);
    expect(r.files).toContain('config/load.js');
    expect(r.files).toContain('store/store.js');
    expect(r.files).not.toContain('daemon.js');
    expect(r.files).not.toContain('rules/validate.js');
    expect(r.files.filter((f) => f.startsWith('archive/') && f !== 'archive/cli.js')).toEqual([]);
    expect(r.packages).not.toContain('pino');
    expect(r.packages).not.toContain('pkijs');
  });

  it('status again: the configuration the previous command kept, without yaml and zod, until it changes', async () => {
    fs.mkdirSync(path.join(t.dir, 'data'), { recursive: true });
    const { Store } = await import('../../src/store/store.js');
    new Store(path.join(t.dir, 'data', 'fatturad.db')).close();
    const env = { FATTURAD_LOG__LEVEL: 'warn' };
    expect((await loaded(['status'], env)).packages).toContain('zod');
    const again = await loaded(['status'], env);
    expect(again.code).toBe(0);
    expect(again.packages).not.toContain('zod');
    expect(again.packages).not.toContain('yaml');
    // Another override: loaded and checked again; a bad one still exits 3.
    expect((await loaded(['status'], { FATTURAD_LOG__LEVEL: 'error' })).packages).toContain('zod');
    expect((await loaded(['status'], { FATTURAD_LOG__LEVEL: 'loud' })).code).toBe(3);
    // config check always loads and checks in full.
    expect((await loaded(['config', 'check', '--skip-secrets'], env)).packages).toContain('zod');
  });

  it('validate one file: the validator in this thread, no worker, no daemon, no logger', async () => {
    const r = await loaded(['validate', EXAMPLE]);
    expect(r.code).toBe(0);
    expect(r.files).toContain('rules/validate.js');
    expect(r.files).not.toContain('rules/validate-worker.js');
    expect(r.files).not.toContain('daemon.js');
    expect(r.files.filter((f) => f.startsWith('channels/') || f === 'sim/simulator.js')).toEqual([]);
    expect(r.packages).not.toContain('pino');
  });
});
