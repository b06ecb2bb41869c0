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
  /** SdI's NS: added to both reports (the IdentificativoSdI and the five-day rule). */
  ns?: NsNotice;
  fsync: boolean;
}): Promise<string> {
  const out = await chooseOutputName(opts.dir, opts.name, opts.sha256, opts.tag);
  if (!(await exists(out))) await atomicCopy(opts.from, out, { fsync: opts.fsync });
  const report: RejectionReport = { file: path.basename(out), ...opts.report };
  const json = opts.ns ? { ...report, ns: opts.ns } : report;
  await atomicWrite(`${out}.errors.json`, `${JSON.stringify(json, null, 2)}\n`, { fsync: opts.fsync });
  const text = renderReportText(report) + (opts.ns ? `\n${nsNoticeText(opts.ns)}` : '');
  await atomicWrite(`${out}.errors.txt`, text, { fsync: opts.fsync });
  return out;
}

/**
 * What to do after SdI's NS (notifica di scarto), in English and Italian: the invoice is deemed not
 * issued; a corrected file should reach SdI within five days of the NS, preferably with the same
 * number and date (Agenzia delle Entrate, Circolare 13/E of 2 July 2018; a file re-sent with the
 * same number after an NS is not a duplicate, 00404). Shown in the NS report and by `fatturad show`.
 */
export interface NsNotice {
  identificativoSdI: string | null;
  /** When the NS was received (ISO). */
  nsReceivedAt: string;
  /** Five days after the NS, as a date (YYYY-MM-DD, Europe/Rome). */
  correctBy: string;
  en: string;
  it: string;
}

const FIVE_DAYS_MS = 5 * 86_400_000;

export function nsNotice(ns: { identificativoSdI: string | null; receivedAt: string }): NsNotice {
  const at = new Date(ns.receivedAt);
  const valid = !Number.isNaN(at.getTime());
  // sv-SE formats as YYYY-MM-DD.
  const correctBy = valid
    ? new Date(at.getTime() + FIVE_DAYS_MS).toLocaleDateString('sv-SE', { timeZone: 'Europe/Rome' })
    : '';
  const id = ns.identificativoSdI ?? '(not given)';
  const by = correctBy ? ` (by ${correctBy})` : '';
  const entro = correctBy ? ` (entro il ${correctBy})` : '';
  return {
    identificativoSdI: ns.identificativoSdI,
    nsReceivedAt: ns.receivedAt,
    correctBy,
    en:
      `SdI rejected this file (NS, IdentificativoSdI ${id}): the invoice is deemed not issued. ` +
      `Send the corrected invoice within five days of the NS${by}, preferably with the same number and date ` +
      `as the rejected one (Circolare 13/E of 2 July 2018); later, issue it with a new number and date that refer to the rejected one. ` +
      'A corrected file with the same number is not a duplicate for SdI.',
    it:
      `Lo SdI ha scartato questo file (NS, IdentificativoSdI ${id}): la fattura si considera non emessa. ` +
      `Inviare la fattura corretta entro cinque giorni dalla notifica di scarto${entro}, preferibilmente con lo stesso numero ` +
      'e la stessa data di quella scartata (Circolare 13/E del 2 luglio 2018); oltre, emetterla con nuovo numero e nuova data, ' +
      'collegandola a quella scartata. Il file corretto con lo stesso numero non è un duplicato per lo SdI.',
  };
}

/** The notice for a document SdI rejected: from its NS message, or null when it has none. */
export function nsNoticeOf(
  state: string,
  notifications: readonly { kind: string; identificativoSdI: string | null; receivedAt: string }[],
  identificativoSdI: string | null | undefined,
): NsNotice | null {
  if (state !== 'rejected') return null;
  const ns = notifications.find((m) => m.kind === 'NS');
  return ns
    ? nsNotice({
        identificativoSdI: ns.identificativoSdI ?? identificativoSdI ?? null,
        receivedAt: ns.receivedAt,
      })
    : null;
}

function nsNoticeText(n: NsNotice): string {
  return [
    `IdentificativoSdI: ${n.identificativoSdI ?? '-'}`,
    `NS received / scarto ricevuto: ${n.nsReceivedAt}`,
    `Correct by / correggere entro: ${n.correctBy || '-'}`,
    `EN: ${n.en}`,
    `IT: ${n.it}`,
    '',
  ].join('\n');
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
  /** SdI's NS: its IdentificativoSdI and when it came; the report then says the five-day rule. */
  ns?: { identificativoSdI: string | null; receivedAt: string },
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
    ...(ns ? { ns: nsNotice(ns) } : {}),
  });
}
