import type { XmlElement } from '../../invoice/xml.js';
import { finding, type Finding } from '../finding.js';
import { codeInfo, inForceOn, within } from './catalogue.js';
import { all, at, textAt } from './check.js';
import type { BodyCheck, BodyContext, Document, FileCheck, FileContext, SdiCheck } from './check.js';
import { ALL_CHECKS, CONTENT_CHECKS } from './checks/index.js';
import { romeDay } from './days.js';

/**
 * The engine: selects the checks in force on the day whose rules apply (a check runs when its
 * version, if it has one, covers the day and at least one of its codes is in force; findings of
 * codes not in force are dropped), runs each on its own, and sorts findings by the level the
 * catalogue gives their code. A check that throws is an error finding (CHECK-FAILED) naming the
 * check and its codes: the file is not valid, and the other checks still run.
 */

export interface RunOptions {
  /** When the file is (about to be) received by SdI; default now. */
  now?: Date;
  /** The day whose rules apply, if not the day of `now` (fatturad validate --as-of). */
  asOf?: Date;
  /** A received invoice: advice meant for whoever sends it is left out. */
  received?: boolean;
}

export interface CheckResult {
  errors: Finding[];
  warnings: Finding[];
  info: Finding[];
}

export interface Selected<C extends SdiCheck> {
  check: C;
  /** The codes in force, when some of the check's codes are not; null when all are. */
  only: ReadonlySet<string> | null;
}

export interface Selection {
  file: Selected<FileCheck>[];
  body: Selected<BodyCheck>[];
}

const SELECTIONS = new WeakMap<readonly SdiCheck[], Map<string, Selection>>();
/** The last selection made: a daemon validates file after file on the same day. */
let last: { checks: readonly SdiCheck[]; day: string; document: Document; sel: Selection } | null = null;

/** The checks of `checks` in force on `day` for a document, memoised per list, day and document. */
export function checksInForce(
  day: string,
  document: Document,
  checks: readonly SdiCheck[] = ALL_CHECKS,
): Selection {
  if (last && last.checks === checks && last.day === day && last.document === document) return last.sel;
  let byDay = SELECTIONS.get(checks);
  if (!byDay) SELECTIONS.set(checks, (byDay = new Map<string, Selection>()));
  const key = `${day}|${document}`;
  let sel = byDay.get(key);
  if (!sel) {
    sel = select(day, document, checks);
    if (byDay.size >= 64) byDay.clear();
    byDay.set(key, sel);
  }
  last = { checks, day, document, sel };
  return sel;
}

function select(day: string, document: Document, checks: readonly SdiCheck[]): Selection {
  const sel: Selection = { file: [], body: [] };
  for (const check of checks) {
    if (check.document !== document) continue;
    if (check.version && !within(check.version, day)) continue;
    const live = check.codes.filter((code) => inForceOn(code, day));
    if (live.length === 0) continue;
    const only = live.length === check.codes.length ? null : new Set(live);
    if (check.scope === 'file') sel.file.push({ check, only });
    else sel.body.push({ check, only });
  }
  return sel;
}

const ORDINARIA = '/FatturaElettronica';
const SEMPLIFICATA = '/FatturaElettronicaSemplificata';

function failed(check: SdiCheck, e: unknown, path: string): Finding {
  const why = e instanceof Error ? e.message : String(e);
  const codes = check.codes.join(', ');
  return finding(
    'CHECK-FAILED',
    `The check ${check.name} (SdI ${codes}) failed with an internal error: ${why}. The file cannot be judged valid; report this as a fatturad bug.`,
    `Il controllo ${check.name} (SdI ${codes}) non è riuscito per un errore interno: ${why}. Il file non può essere giudicato valido; segnalare il problema come difetto di fatturad.`,
    { path },
  );
}

function sort(out: CheckResult, found: Finding[], only: ReadonlySet<string> | null): void {
  for (const f of found) {
    if (only && !only.has(f.code)) continue;
    const level = codeInfo(f.code)?.offline;
    if (level === 'warning') out.warnings.push(f);
    else if (level === 'info') out.info.push(f);
    else out.errors.push(f);
  }
}

/** Runs the checks in force on the day (see RunOptions) over a parsed invoice. */
export function runChecks(
  root: XmlElement,
  o: RunOptions = {},
  checks: readonly SdiCheck[] = ALL_CHECKS,
): CheckResult {
  const out: CheckResult = { errors: [], warnings: [], info: [] };
  const document: Document | null =
    root.name === 'FatturaElettronica'
      ? 'ordinaria'
      : root.name === 'FatturaElettronicaSemplificata'
        ? 'semplificata'
        : null;
  if (!document) return out;
  const day = romeDay(o.asOf ?? o.now ?? new Date());
  const sel = checksInForce(day, document, checks);
  const rootPath = document === 'ordinaria' ? ORDINARIA : SEMPLIFICATA;
  const header = at(root, 'FatturaElettronicaHeader');
  const received = o.received ?? false;
  const fc: FileContext = { root, header, rootPath, day, received };
  for (let i = 0; i < sel.file.length; i++) {
    const { check, only } = sel.file[i] as Selected<FileCheck>;
    try {
      const found = check.run(fc);
      if (found.length > 0) sort(out, found, only);
    } catch (e) {
      out.errors.push(failed(check, e, rootPath));
    }
  }
  if (sel.body.length === 0) return out;
  const bodies = all(root, 'FatturaElettronicaBody');
  const single = `${rootPath}/FatturaElettronicaBody`;
  for (let b = 0; b < bodies.length; b++) {
    const body = bodies[b] as XmlElement;
    // Written out (not spread from fc): one hidden class for every body context.
    const c: BodyContext = {
      root,
      header,
      rootPath,
      day,
      received,
      body,
      base: bodies.length > 1 ? `${single}[${b + 1}]` : single,
      tipo: textAt(body, 'DatiGenerali/DatiGeneraliDocumento/TipoDocumento') ?? '',
      memo: new Map(),
    };
    for (let i = 0; i < sel.body.length; i++) {
      const { check, only } = sel.body[i] as Selected<BodyCheck>;
      try {
        const found = check.run(c);
        if (found.length > 0) sort(out, found, only);
      } catch (e) {
        out.errors.push(failed(check, e, c.base));
      }
    }
  }
  return out;
}

/**
 * The content checks only (no registry approximations), every finding in one list: errors,
 * then warnings (00423-AMBIGUOUS), then notes.
 */
export function checkContent(root: XmlElement, o: RunOptions = {}): Finding[] {
  const r = runChecks(root, o, CONTENT_CHECKS);
  return [...r.errors, ...r.warnings, ...r.info];
}
