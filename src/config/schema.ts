import path from 'node:path';
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const positiveMs = z.number().int().min(1);

export const folderSchema = z.strictObject({
  /** The folder the ERP drops files into. */
  path: z.string().min(1),
  /** Where rejected files and their reports go; default <dataDir>/rejected. */
  rejectedDir: z.string().min(1).optional(),
  /** Where files whose content was already taken go; default <dataDir>/duplicates. */
  duplicatesDir: z.string().min(1).optional(),
});

export const configSchema = z.strictObject({
  dataDir: z.string().min(1),
  log: z.strictObject({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    format: z.enum(['auto', 'json', 'pretty']),
  }),
  http: z.strictObject({
    enabled: z.boolean().default(true),
    host: z.string().min(1),
    port,
  }),
  intake: z.strictObject({
    folders: z.array(folderSchema).min(1),
    stableMs: z.number().int().min(0),
    trustRename: z.boolean(),
    rescanMs: positiveMs,
    maxFileBytes: z.number().int().min(1),
    batchSize: z.number().int().min(1).max(10_000),
    fsync: z.boolean(),
    zip: z.strictObject({
      maxEntries: z.number().int().min(1),
      maxEntryBytes: z.number().int().min(1),
      maxTotalBytes: z.number().int().min(1),
      maxRatio: z.number().min(1),
      ratioMinBytes: z.number().int().min(0),
    }),
  }),
  validation: z.strictObject({
    enabled: z.boolean(),
    trustedCAs: z.array(z.string().min(1)),
    fileName: z.enum(['error', 'warning', 'off']),
    workers: z.union([z.literal('auto'), z.number().int().min(0).max(64)]),
  }),
});

/** The configuration as written (relative paths, optional folders). */
export type RawConfig = z.infer<typeof configSchema>;

export interface FolderConfig {
  path: string;
  rejectedDir: string;
  duplicatesDir: string;
}

/** The configuration the daemon runs with: every path absolute, every default applied. */
export interface Config extends Omit<RawConfig, 'intake'> {
  intake: Omit<RawConfig['intake'], 'folders'> & { folders: FolderConfig[] };
  /** Derived locations inside dataDir. */
  paths: {
    db: string;
    spool: string;
    claimed: string;
    rejected: string;
    duplicates: string;
  };
  /** The file the configuration was read from, if any. */
  source: string | null;
}

export function resolveConfig(raw: RawConfig, cwd: string, source: string | null): Config {
  const abs = (p: string): string => path.resolve(cwd, p);
  const dataDir = abs(raw.dataDir);
  const paths = {
    db: path.join(dataDir, 'fatturad.db'),
    spool: path.join(dataDir, 'spool'),
    claimed: path.join(dataDir, 'spool', 'claimed'),
    rejected: path.join(dataDir, 'rejected'),
    duplicates: path.join(dataDir, 'duplicates'),
  };
  return {
    ...raw,
    dataDir,
    paths,
    source,
    validation: { ...raw.validation, trustedCAs: raw.validation.trustedCAs.map(abs) },
    intake: {
      ...raw.intake,
      folders: raw.intake.folders.map((f) => ({
        path: abs(f.path),
        rejectedDir: f.rejectedDir ? abs(f.rejectedDir) : paths.rejected,
        duplicatesDir: f.duplicatesDir ? abs(f.duplicatesDir) : paths.duplicates,
      })),
    },
  };
}
