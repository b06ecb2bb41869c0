import path from 'node:path';
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
