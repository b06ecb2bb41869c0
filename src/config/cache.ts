import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from './schema.js';

/**
 * The resolved configuration of the last `fatturad` command, kept so that the next one does not
 * load yaml and zod (about 70 ms and 95 modules, half of what `fatturad status` costs) when nothing
 * it was made from changed. Only commands that read use it (status, show, validate...); `start` and
 * `config check` always load and check the configuration in full.
 *
 * The entry is found by a digest of everything loadConfig reads: the embedded defaults and the
 * configuration file (their bytes), the working directory (relative paths), the FATTURAD_*
 * variables (except those the configuration names as holding secrets: their values never reach
 * the cache, not even hashed), and this build of the loader and schema (size and mtime of the
 * compiled modules). Any difference is a miss, and a miss loads the configuration as usual. One
 * entry, in $XDG_CACHE_HOME/fatturad or ~/.cache/fatturad (0700, the file 0600); no home, no cache.
 * Only a valid configuration is kept, so every error is reported as before.
 */

interface Entry {
  key: string;
  /** The variables the configuration names as holding secrets (`*Env` keys): left out of the key. */
  secretVars: string[];
  config: Config;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** `.js` when compiled, `.ts` when run from the sources (tests). */
const EXT = path.extname(fileURLToPath(import.meta.url));
const DEFAULTS = path.join(HERE, '..', '..', 'config', 'default.yaml');
const ENV_PREFIX = 'FATTURAD_';

function cacheFile(env: NodeJS.ProcessEnv): string | null {
  const base = env.XDG_CACHE_HOME || (os.homedir() ? path.join(os.homedir(), '.cache') : '');
  return base ? path.join(base, 'fatturad', 'config.json') : null;
}

function key(file: string | null, env: NodeJS.ProcessEnv, cwd: string, secretVars: string[]): string | null {
  const h = createHash('sha256');
  try {
    h.update(`${HERE}\n`);
    for (const m of [`load${EXT}`, `schema${EXT}`]) {
      const st = fs.statSync(path.join(HERE, m));
      h.update(`${m} ${st.size} ${st.mtimeMs}\n`);
    }
    h.update(fs.readFileSync(DEFAULTS));
    h.update(`\0${cwd}\0${file ?? ''}\0`);
    if (file) h.update(fs.readFileSync(file));
  } catch {
    // Unreadable: loadConfig says why.
    return null;
  }
  const skip = new Set(secretVars);
  for (const name of Object.keys(env)
    .filter((n) => n.startsWith(ENV_PREFIX) && !skip.has(n))
    .sort())
    h.update(`\0${name}=${env[name] ?? ''}`);
  return h.digest('hex');
}

/** The configuration file loadConfig would read: --config, else FATTURAD_CONFIG. */
function fileOf(file: string | null, env: NodeJS.ProcessEnv): string | null {
  return file ?? env[`${ENV_PREFIX}CONFIG`] ?? null;
}

/** The kept configuration, when it was made from the same inputs; otherwise null. */
export function cachedConfig(file: string | null, env = process.env, cwd = process.cwd()): Config | null {
  const where = cacheFile(env);
  if (!where) return null;
  try {
    const entry = JSON.parse(fs.readFileSync(where, 'utf8')) as Entry;
    const k = key(fileOf(file, env), env, cwd, entry.secretVars);
    return k !== null && k === entry.key ? entry.config : null;
  } catch {
    return null;
  }
}

/** Keeps a valid configuration for the next command; never fails (a cache is not needed). */
export function keepConfig(
  file: string | null,
  config: Config,
  env = process.env,
  cwd = process.cwd(),
): void {
  const where = cacheFile(env);
  if (!where) return;
  const secretVars = secretEnvNames(config);
  const k = key(fileOf(file, env), env, cwd, secretVars);
  if (k === null) return;
  const tmp = `${where}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(where), { recursive: true, mode: 0o700 });
    fs.writeFileSync(tmp, JSON.stringify({ key: k, secretVars, config } satisfies Entry), { mode: 0o600 });
    fs.renameSync(tmp, where);
  } catch {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // Nowhere to write: nothing was written.
    }
  }
}

/** The values of every key ending in `Env`: the names of the variables holding secrets. */
function secretEnvNames(tree: unknown): string[] {
  if (Array.isArray(tree)) return tree.flatMap(secretEnvNames);
  if (tree === null || typeof tree !== 'object') return [];
  return Object.entries(tree).flatMap(([k, v]) =>
    v !== null && typeof v === 'object'
      ? secretEnvNames(v)
      : k.endsWith('Env') && typeof v === 'string' && v
        ? [v]
        : [],
  );
}
