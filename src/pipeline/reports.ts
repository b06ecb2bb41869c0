import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { Finding } from '../rules/finding.js';
import type { DocumentRow } from '../store/store.js';
import { renderReportText, type RejectionReport } from '../rules/report.js';
import { atomicCopy, atomicWrite, chooseOutputName, exists } from '../util/fsx.js';

/**
 * Puts a rejected file into its rejected/ folder with `<name>.errors.json` and `<name>.errors.txt`
 * beside it. Idempotent: repeated after a crash, it reuses the copy already holding the same bytes.
 * Returns where the file now is.
 */
export async function writeRejected(opts: {
  dir: string;
  name: string;
  sha256: string;
  /** Distinguishes this file from another of the same name (the intake or document id). */
  tag: string;
  /** The bytes to keep: a file to copy. */
  from: string;
  report: Omit<RejectionReport, 'file'>;
  fsync: boolean;
}): Promise<string> {
  const out = await chooseOutputName(opts.dir, opts.name, opts.sha256, opts.tag);
  if (!(await exists(out))) await atomicCopy(opts.from, out, { fsync: opts.fsync });
  const report: RejectionReport = { file: path.basename(out), ...opts.report };
  await atomicWrite(`${out}.errors.json`, `${JSON.stringify(report, null, 2)}\n`, { fsync: opts.fsync });
  await atomicWrite(`${out}.errors.txt`, renderReportText(report), { fsync: opts.fsync });
  return out;
}

/**
 * Puts a document's file into the rejected folder of the drop folder it came from, with the
 * report of `stage` (local validation, or SdI's NS). Returns where the file now is.
 */
export function rejectDocument(
  doc: DocumentRow & { path: string },
  config: Config,
  stage: 'validation' | 'sdi',
  errors: Finding[],
  warnings: Finding[],
): Promise<string> {
  const folder = config.intake.folders.find((f) => f.path === doc.sourceDir);
  return writeRejected({
    dir: folder?.rejectedDir ?? config.paths.rejected,
    name: doc.originalName,
    sha256: doc.sha256,
    tag: `d${doc.id}`,
    from: doc.path,
    fsync: config.intake.fsync,
    report: {
      source: { folder: doc.sourceDir, name: doc.originalName, ...(doc.entry ? { entry: doc.entry } : {}) },
      documentId: doc.id,
      sha256: doc.sha256,
      size: doc.size,
      at: new Date().toISOString(),
      stage,
      valid: false,
      errors,
      warnings,
    },
  });
}
