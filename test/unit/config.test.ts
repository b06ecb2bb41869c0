import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, deepMerge, envOverrides, loadConfig } from '../../src/config/load.js';
import { tempDir, writeYaml } from '../helpers/tmp.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function tmp(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('embedded defaults: data under ./var of the working directory, outbox watched, loopback http', () => {
    const c = loadConfig({ env: {}, cwd: '/srv/x' });
    expect(c.dataDir).toBe('/srv/x/var');
    expect(c.intake.folders).toEqual([
      {
        path: '/srv/x/var/outbox',
        rejectedDir: '/srv/x/var/rejected',
        duplicatesDir: '/srv/x/var/duplicates',
      },
    ]);
    expect(c.http.host).toBe('127.0.0.1');
    expect(c.paths.db).toBe('/srv/x/var/fatturad.db');
    expect(c.source).toBeNull();
  });

  it('a file merges over the defaults, arrays replace', () => {
    const dir = tmp();
    const file = writeYaml(
      dir,
      'c.yaml',
      'intake:\n  stableMs: 10\n  folders:\n    - path: /a\n    - path: /b\n      rejectedDir: /b/ko\n',
    );
    const c = loadConfig({ file, env: {}, cwd: dir });
    expect(c.intake.stableMs).toBe(10);
    expect(c.intake.folders.map((f) => f.path)).toEqual(['/a', '/b']);
    expect(c.intake.folders[1]?.rejectedDir).toBe('/b/ko');
    expect(c.intake.maxFileBytes).toBe(5 * 1024 * 1024);
    expect(c.source).toBe(file);
  });

  it('FATTURAD_* environment variables override file and defaults', () => {
    const c = loadConfig({
      env: {
        FATTURAD_HTTP__PORT: '9999',
        FATTURAD_DATA_DIR: '/data',
        FATTURAD_INTAKE__ZIP__MAX_RATIO: '50',
        FATTURAD_LOG__LEVEL: 'debug',
      },
      cwd: '/',
    });
    expect(c.http.port).toBe(9999);
    expect(c.dataDir).toBe('/data');
    expect(c.intake.zip.maxRatio).toBe(50);
    expect(c.log.level).toBe('debug');
  });

  it('FATTURAD_CONFIG names the file', () => {
    const dir = tmp();
    const file = writeYaml(dir, 'c.yaml', 'http:\n  port: 1234\n');
    expect(loadConfig({ env: { FATTURAD_CONFIG: file } }).http.port).toBe(1234);
  });

  it('env values stay text where the default is text', () => {
    expect(envOverrides({ FATTURAD_DATA_DIR: '0123' }, { dataDir: './var' })).toEqual({ dataDir: '0123' });
    expect(envOverrides({ FATTURAD_HTTP__PORT: '0123' }, { http: { port: 1 } })).toEqual({
      http: { port: 123 },
    });
  });

  it.each([
    ['http:\n  port: seventy\n', 'http.port = "seventy"', /expected number/i],
    ['http:\n  port: 70000\n', 'http.port = 70000', /65535/],
    ['log:\n  level: loud\n', 'log.level = "loud"', /trace|info/],
    ['intake:\n  folders: []\n', 'intake.folders = []', /1/],
    ['intake:\n  zip:\n    maxRatio: 0\n', 'intake.zip.maxRatio = 0', />=\s*1|too small/i],
    ['intake:\n  folders:\n    - {}\n', 'intake.folders.0.path = (missing)', /expected string/i],
  ])('names key path, value and expectation: %j', (yaml, prefix, expected) => {
    const dir = tmp();
    const problems = problemsOf(() => loadConfig({ file: writeYaml(dir, 'bad.yaml', yaml), env: {} }));
    const p = problems.find((x) => x.startsWith(prefix));
    expect(p, problems.join('\n')).toBeDefined();
    expect(p).toMatch(expected);
  });

  it('unknown keys are errors, with their path', () => {
    const dir = tmp();
    const problems = problemsOf(() =>
      loadConfig({ file: writeYaml(dir, 'bad.yaml', 'intake:\n  stablMs: 5\n'), env: {} }),
    );
    expect(problems).toContain('intake.stablMs: unknown key (check the spelling)');
  });

  it('YAML syntax errors and missing files are reported, not thrown raw', () => {
    const dir = tmp();
    expect(
      problemsOf(() => loadConfig({ file: writeYaml(dir, 'bad.yaml', 'a: [1,\n'), env: {} }))[0],
    ).toMatch(/YAML syntax/);
    expect(problemsOf(() => loadConfig({ file: path.join(dir, 'none.yaml'), env: {} }))[0]).toMatch(
      /cannot read/,
    );
    expect(problemsOf(() => loadConfig({ file: writeYaml(dir, 'list.yaml', '- 1\n'), env: {} }))[0]).toMatch(
      /mapping/,
    );
  });

  it('the variables named by *Env keys hold secrets, not configuration', () => {
    const dir = tmp();
    const file = writeYaml(
      dir,
      'pec.yaml',
      'channel:\n  type: pec\n  pec:\n    imap: { passwordEnv: MY_IMAP_SECRET }\n',
    );
    const c = loadConfig({
      file,
      env: {
        FATTURAD_PEC_PASSWORD: 'x',
        FATTURAD_SDICOOP_PASSPHRASE: 'y',
        MY_IMAP_SECRET: 'z',
        FATTURAD_CHANNEL__PEC__ADDRESS: 'fatture@pec.example.it',
      },
    });
    expect(c.channel.type).toBe('pec');
    expect(c.channel.pec.address).toBe('fatture@pec.example.it');
    expect(c.channel.pec.imap.passwordEnv).toBe('MY_IMAP_SECRET');
    expect(c.channel.pec.firstSdiAddress).toBe('sdi01@pec.fatturapa.it');
    // Any other FATTURAD_ variable is still a (mistyped) key.
    expect(problemsOf(() => loadConfig({ env: { FATTURAD_PEC_PASWORD: 'x' } }))[0]).toMatch(/unknown key/);
  });

  it('PEC keys are checked: an IMAP keyword cannot hold spaces', () => {
    const problems = problemsOf(() =>
      loadConfig({ env: { FATTURAD_CHANNEL__PEC__IMAP__FLAG: 'two words' } }),
    );
    expect(problems[0]).toMatch(/^channel\.pec\.imap\.flag = "two words": an IMAP keyword/);
  });

  it('a bad environment override is reported with its key path', () => {
    const problems = problemsOf(() => loadConfig({ env: { FATTURAD_HTTP__PORT: 'abc' } }));
    expect(problems[0]).toMatch(/^http\.port = "abc": /);
  });

  it('deepMerge merges objects and replaces arrays and scalars', () => {
    expect(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, d: 2 })).toEqual({
      a: { b: 1, c: [3] },
      d: 2,
    });
  });
});
