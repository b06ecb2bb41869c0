import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cachedConfig, keepConfig } from '../../src/config/cache.js';
import { loadConfig } from '../../src/config/load.js';
import { tempDir } from '../helpers/tmp.js';

/** The configuration kept between commands (src/config/cache.ts) is used only when nothing changed. */
const t = tempDir('fatturad-config-cache-');
afterAll(() => t.cleanup());

describe('config cache', () => {
  const cache = path.join(t.dir, 'cache');
  const file = path.join(t.dir, 'fatturad.yaml');
  fs.writeFileSync(
    file,
    'dataDir: ./data\nchannel:\n  pec:\n    smtp:\n      passwordEnv: FATTURAD_PEC_SECRET\n',
  );
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    XDG_CACHE_HOME: cache,
    FATTURAD_HTTP__PORT: '9555',
    FATTURAD_PEC_SECRET: 'hunter2-hunter2',
    ...extra,
  });

  it('gives back the configuration kept from the same inputs, and nothing after any change', () => {
    const e = env();
    expect(cachedConfig(file, e, t.dir)).toBeNull();
    const config = loadConfig({ file, env: e, cwd: t.dir });
    keepConfig(file, config, e, t.dir);
    expect(cachedConfig(file, e, t.dir)).toEqual(JSON.parse(JSON.stringify(config)));
    expect(fs.statSync(path.join(cache, 'fatturad', 'config.json')).mode & 0o777).toBe(0o600);

    // Another override, another variable, another working directory, the file's content.
    expect(cachedConfig(file, env({ FATTURAD_HTTP__PORT: '9556' }), t.dir)).toBeNull();
    expect(cachedConfig(file, env({ FATTURAD_LOG__LEVEL: 'debug' }), t.dir)).toBeNull();
    expect(cachedConfig(file, e, path.join(t.dir, 'elsewhere'))).toBeNull();
    expect(cachedConfig(null, e, t.dir)).toBeNull();
    fs.appendFileSync(file, '# edited\n');
    expect(cachedConfig(file, e, t.dir)).toBeNull();
  });

  it('leaves the secrets out: a changed secret is still a hit, and its value is nowhere in the cache', () => {
    const e = env();
    keepConfig(file, loadConfig({ file, env: e, cwd: t.dir }), e, t.dir);
    expect(cachedConfig(file, env({ FATTURAD_PEC_SECRET: 'another-one' }), t.dir)).not.toBeNull();
    const kept = fs.readFileSync(path.join(cache, 'fatturad', 'config.json'), 'utf8');
    expect(kept).not.toContain('hunter2');
  });

  it('no cache without a place for it, and a damaged cache is a miss', () => {
    const e = env({ XDG_CACHE_HOME: path.join(t.dir, 'damaged') });
    fs.mkdirSync(path.join(t.dir, 'damaged', 'fatturad'), { recursive: true });
    fs.writeFileSync(path.join(t.dir, 'damaged', 'fatturad', 'config.json'), '{"key":');
    expect(cachedConfig(file, e, t.dir)).toBeNull();
    // A cache folder that cannot be made (under a file): nothing kept, nothing thrown.
    const nowhere = env({ XDG_CACHE_HOME: path.join(file, 'below-a-file') });
    expect(() =>
      keepConfig(file, loadConfig({ file, env: nowhere, cwd: t.dir }), nowhere, t.dir),
    ).not.toThrow();
    expect(cachedConfig(file, nowhere, t.dir)).toBeNull();
  });
});
