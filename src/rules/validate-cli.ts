import fs from 'node:fs';
import type { Config } from '../config/schema.js';
import { Store } from '../store/store.js';
import { TSL, tslAnchorsFor } from '../trust/anchors.js';
import type { Finding } from './finding.js';
import { validateFile } from './validate.js';

/** `fatturad validate`: the same checks the daemon runs, on files given on the command line. */

interface FileVerdict {
  file: string;
  valid: boolean;
  errors: Omit<Finding, 'entry'>[];
  warnings: Omit<Finding, 'entry'>[];
}

function shape(f: Finding): FileVerdict['errors'][number] {
  return {
    code: f.code,
    field: f.field ?? null,
    path: f.path ?? null,
    line: f.line ?? null,
    ...(f.column !== undefined ? { column: f.column } : {}),
    message: f.message,
    messageIt: f.messageIt,
  } as FileVerdict['errors'][number];
}

function human(v: FileVerdict): string {
  const lines = [`${v.valid ? 'VALID  ' : 'INVALID'} ${v.file}`];
  const item = (kind: string, f: FileVerdict['errors'][number]): void => {
    const where = [f.field, f.line ? `line ${f.line}${f.column ? `:${f.column}` : ''}` : null]
      .filter(Boolean)
      .join(', ');
    lines.push(`  ${kind} ${f.code}${where ? ` [${where}]` : ''}`);
    lines.push(`    EN: ${f.message}`);
    lines.push(`    IT: ${f.messageIt}`);
  };
  v.errors.forEach((e) => item('error  ', e));
  v.warnings.forEach((w) => item('warning', w));
  return lines.join('\n');
}

export async function runValidate(
  files: string[],
  config: Config,
  o: { json?: boolean; ca?: string[] },
): Promise<number> {
  let trustedCAs: Buffer[];
  // `tsl` (in the configuration or --ca tsl): the kept trusted list; unusable, the CA is not checked.
  const tsl = (o.ca ?? config.validation.trustedCAs).includes(TSL) ? tslAnchorsFor(config) : null;
  if (tsl?.problem ?? tsl?.warning) process.stderr.write(`fatturad: ${tsl?.problem ?? tsl?.warning}\n`);
  try {
    trustedCAs =
      tsl?.anchors === null
        ? []
        : (o.ca ?? config.validation.trustedCAs).filter((f) => f !== TSL).map((f) => fs.readFileSync(f));
  } catch (err) {
    process.stderr.write(`fatturad: cannot read a CA certificate: ${(err as Error).message}\n`);
    return 2;
  }
  // The uniqueness check (00404) uses the daemon's store when there is one.
  let store: Store | null = null;
  try {
    if (fs.existsSync(config.paths.db)) store = new Store(config.paths.db, { readonly: true });
  } catch {
    store = null;
  }
  const verdicts: FileVerdict[] = [];
  let ioError = false;
  try {
    for (const file of files) {
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(file);
      } catch (err) {
        process.stderr.write(`fatturad: cannot read ${file}: ${(err as Error).message}\n`);
        ioError = true;
        continue;
      }
      const r = await validateFile(file.split(/[\\/]/).pop() ?? file, bytes, {
        fileName: 'error',
        trustedCAs,
        trustAnchors: tsl?.anchors ?? [],
        now: new Date(),
        ...(store ? { findSent: (keys) => store.findSentKeys(keys) } : {}),
      });
      const v: FileVerdict = {
        file,
        valid: r.valid,
        errors: r.errors.map(shape),
        warnings: r.warnings.map(shape),
      };
      verdicts.push(v);
      if (!o.json) process.stdout.write(`${human(v)}\n`);
    }
  } finally {
    store?.close();
  }
  if (o.json) process.stdout.write(`${JSON.stringify(verdicts, null, 2)}\n`);
  if (ioError) return 2;
  return verdicts.every((v) => v.valid) ? 0 : 1;
}
