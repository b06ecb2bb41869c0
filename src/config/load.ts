import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import type { z } from 'zod';
import { configSchema, resolveConfig, type Config } from './schema.js';
import { parseDay } from '../rules/sdi/days.js';

export const DEFAULT_CONFIG_FILE = fileURLToPath(new URL('../../config/default.yaml', import.meta.url));
export const ENV_PREFIX = 'FATTURAD_';

/** A configuration that cannot be used; `problems` name the key path, the value and what was expected. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration (${source}):\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

type Tree = Record<string, unknown>;

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Objects merge key by key; arrays and scalars replace. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isTree(base) || !isTree(over)) return over === undefined ? base : over;
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as Error).message}`]);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => `YAML syntax: ${e.message.split('\n')[0] ?? e.message}`),
    );
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (!isTree(value)) throw new ConfigError(file, ['the top level must be a mapping of keys to values']);
  return value;
}

const snakeToCamel = (s: string): string =>
  s.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

function getAt(tree: unknown, keys: readonly PropertyKey[]): unknown {
  let cur: unknown = tree;
  for (const k of keys) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/**
 * FATTURAD_HTTP__PORT=9000 sets http.port; `__` separates levels and SNAKE_CASE becomes camelCase
 * (FATTURAD_DATA_DIR sets dataDir). Values are read as YAML scalars (numbers, booleans, [lists]),
 * except where the default is a string, which keeps the text as given.
 */
export function envOverrides(env: NodeJS.ProcessEnv, defaults: unknown): Tree {
  const out: Tree = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined || name === `${ENV_PREFIX}CONFIG`) continue;
    const keys = name.slice(ENV_PREFIX.length).split('__').map(snakeToCamel);
    let value: unknown = raw;
    if (typeof getAt(defaults, keys) !== 'string') {
      try {
        value = YAML.parse(raw) as unknown;
      } catch {
        value = raw;
      }
    }
    let node = out;
    keys.forEach((k, i) => {
      if (i === keys.length - 1) node[k] = value;
      else node = node[k] = isTree(node[k]) ? node[k] : {};
    });
  }
  return out;
}

function describe(v: unknown): string {
  if (v === undefined) return '(missing)';
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function formatIssues(issues: z.core.$ZodIssue[], input: unknown): string[] {
  return issues.flatMap((issue) => {
    const keyPath = issue.path.map(String).join('.') || '(top level)';
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map(
        (k) => `${keyPath === '(top level)' ? k : `${keyPath}.${k}`}: unknown key (check the spelling)`,
      );
    }
    return [`${keyPath} = ${describe(getAt(input, issue.path))}: ${issue.message}`];
  });
}

/** The values of every key ending in `Env` (the names of the variables holding secrets). */
function secretEnvNames(tree: unknown): string[] {
  if (Array.isArray(tree)) return tree.flatMap(secretEnvNames);
  if (!isTree(tree)) return [];
  return Object.entries(tree).flatMap(([k, v]) =>
    isTree(v) || Array.isArray(v)
      ? secretEnvNames(v)
      : k.endsWith('Env') && typeof v === 'string' && v
        ? [v]
        : [],
  );
}

/**
 * The folders whose default lives under dataDir, so that moving dataDir (FATTURAD_DATA_DIR alone)
 * moves every folder a daemon takes files from or writes files to, and two daemons with different
 * dataDirs share nothing by default. An empty value means the default; an explicit path wins and
 * is resolved against the working directory like every other path. (The archive folder and the
 * simulator's folders are derived the same way, in resolveConfig and the channel registry.)
 */
export const DATA_DIR_DEFAULTS = {
  /** intake.folders, when neither the file nor the environment gives it: one drop folder. */
  outbox: 'outbox',
  /** passive.importDir: '' → received invoices for the ERP. */
  inbox: 'inbox',
} as const;

function withDataDirDefaults(merged: unknown, explicit: unknown): unknown {
  if (!isTree(merged) || typeof merged.dataDir !== 'string' || !merged.dataDir) return merged;
  const dataDir = merged.dataDir;
  const join = (leaf: string): string => path.join(dataDir, leaf);
  const out: Tree = { ...merged };
  // Only when neither the file nor the environment names folders: an explicit [] stays an error.
  if (isTree(out.intake) && getAt(explicit, ['intake', 'folders']) === undefined)
    out.intake = { ...out.intake, folders: [{ path: join(DATA_DIR_DEFAULTS.outbox) }] };
  if (isTree(out.passive) && out.passive.importDir === '')
    out.passive = { ...out.passive, importDir: join(DATA_DIR_DEFAULTS.inbox) };
  return out;
}

export interface LoadOptions {
  file?: string | null;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Defaults, then the file, then the environment; validated, with every path made absolute. */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env[`${ENV_PREFIX}CONFIG`] ?? null;
  const defaults = readYaml(DEFAULT_CONFIG_FILE);
  let merged = defaults;
  const fromFile = file ? readYaml(file) : {};
  if (file) merged = deepMerge(merged, fromFile);
  // The variables that hold secrets (named by the *Env keys) are not configuration keys.
  const secretVars = new Set(secretEnvNames(merged));
  const configEnv = Object.fromEntries(Object.entries(env).filter(([k]) => !secretVars.has(k)));
  const fromEnv = envOverrides(configEnv, defaults);
  merged = deepMerge(merged, fromEnv);
  const parsed = configSchema.safeParse(withDataDirDefaults(merged, deepMerge(fromFile, fromEnv)));
  if (!parsed.success) {
    throw new ConfigError(file ?? 'embedded defaults', formatIssues(parsed.error.issues, merged));
  }
  // Days that match YYYY-MM-DD but do not exist (2020-13-45, 2021-02-29): the one day parser.
  const badDays = Object.entries(parsed.data.archive.fiscal.returnDueDates)
    .filter(([, day]) => !parseDay(day))
    .map(
      ([year, day]) =>
        `archive.fiscal.returnDueDates.${year} = ${JSON.stringify(day)}: not a calendar day (YYYY-MM-DD)`,
    );
  if (badDays.length) throw new ConfigError(file ?? 'embedded defaults', badDays);
  return resolveConfig(parsed.data, opts.cwd ?? process.cwd(), file);
}
