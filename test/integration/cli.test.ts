import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const t = tempDir('fatturad-cli-');
afterAll(() => t.cleanup());

async function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { cwd: t.dir, env: { ...process.env, ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('fatturad CLI', () => {
  it('config check: embedded defaults are valid', async () => {
    const r = await cli(['config', 'check']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/configuration OK \(embedded defaults\)/);
  });

  it('config check: a bad file exits 3 naming key path, value and expectation', async () => {
    const f = path.join(t.dir, 'bad.yaml');
    fs.writeFileSync(f, 'http:\n  port: "x"\nintake:\n  stableMs: -1\n');
    const r = await cli(['config', 'check', f]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/http\.port = "x": .*expected number/i);
    expect(r.stderr).toMatch(/intake\.stableMs = -1: /);
  });

  it('start with a bad environment override exits 3 before doing anything', async () => {
    const r = await cli(['start'], {
      FATTURAD_HTTP__PORT: 'abc',
      FATTURAD_DATA_DIR: path.join(t.dir, 'never'),
    });
    expect(r.code).toBe(3);
    expect(fs.existsSync(path.join(t.dir, 'never'))).toBe(false);
  });

  it('usage errors exit 2; --help documents exit codes', async () => {
    expect((await cli(['frobnicate'])).code).toBe(2);
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes:/);
  });

  it('status without a store says so and exits 1', async () => {
    const r = await cli(['status'], { FATTURAD_DATA_DIR: path.join(t.dir, 'empty') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no store/);
  });
});
