import Big from 'big.js';
import { textAt, type XmlElement } from '../../invoice/xml.js';
import { finding, type Finding } from '../finding.js';
import type { InForce } from './catalogue.js';

/**
 * What an SdI check is: a named pure function over one FatturaElettronicaBody (scope `body`) or
 * the whole file (scope `file`), declared with the codes it emits, the spec section it belongs
 * to and, when it is one version of a rule that changed, the days that version applies. The
 * days a code is in force are in the catalogue; the engine (engine.ts) selects the checks in
 * force on the day that applies and runs each on its own, so an exception in one check is a
 * finding and never hides the others.
 *
 * Also the shared primitives the checks use: exact decimals with a parse cache, element walks
 * with indexed paths memoised per body, finding locations.
 */

/** Which document the check reads: ordinary (FPA12/FPR12) or simplified (FSM10). */
export type Document = 'ordinaria' | 'semplificata';

export interface FileContext {
  root: XmlElement;
  header: XmlElement | undefined;
  /** Path of the root, e.g. /FatturaElettronica. */
  rootPath: string;
  /** The day whose rules apply (YYYY-MM-DD, Europe/Rome): SdI's reception day, or --as-of. */
  day: string;
  /** The file is a received invoice (SdI already delivered it): advice for senders is left out. */
  received: boolean;
}

export interface BodyContext extends FileContext {
  body: XmlElement;
  /** Indexed path of the body, e.g. /FatturaElettronica/FatturaElettronicaBody[2]. */
  base: string;
  /** Its TipoDocumento. */
  tipo: string;
  /** `each` results by relative path: several checks walk the same lines. */
  memo: Map<string, Located[]>;
}

export interface Located {
  el: XmlElement;
  path: string;
}

interface CheckBase {
  /** The function's name, e.g. prezzoTotale00423: shown when the check fails. */
  name: string;
  /** Every code it may emit (SdI's, or fatturad's own). */
  codes: readonly string[];
  /** The spec section (its module), e.g. DettaglioLinee. */
  section: string;
  document: Document;
  /** For one version of a rule that changed: the days this version applies. */
  version?: InForce;
}

export interface BodyCheck extends CheckBase {
  scope: 'body';
  run(c: BodyContext): Finding[];
}

export interface FileCheck extends CheckBase {
  scope: 'file';
  run(c: FileContext): Finding[];
}

export type SdiCheck = BodyCheck | FileCheck;

/** A body check named after its function. */
export function bodyCheck(
  run: (c: BodyContext) => Finding[],
  o: Omit<BodyCheck, 'scope' | 'run' | 'name' | 'document'> & { document?: Document; name?: string },
): BodyCheck {
  return { scope: 'body', name: run.name, document: 'ordinaria', ...o, run };
}

/** A file check named after its function. */
export function fileCheck(
  run: (c: FileContext) => Finding[],
  o: Omit<FileCheck, 'scope' | 'run' | 'name' | 'document'> & { document?: Document; name?: string },
): FileCheck {
  return { scope: 'file', name: run.name, document: 'ordinaria', ...o, run };
}

// ---------------------------------------------------------------------------------------------
// Primitives

/**
 * Amounts as exact decimals. The same few values come back on every line (the rate, the
 * quantity, often the price), so parsed values are shared: big.js never changes a value in place.
 */
const DECIMALS = new Map<string, Big | null>();
export const dec = (s: string | undefined): Big | null => {
  if (s === undefined) return null;
  let v = DECIMALS.get(s);
  if (v === undefined) {
    v = /^-?[0-9]+(\.[0-9]+)?$/.test(s) ? new Big(s) : null;
    if (DECIMALS.size >= 4096) DECIMALS.clear();
    DECIMALS.set(s, v);
  }
  return v;
};

// Constants, parsed once (big.js parses a string or number argument at every comparison).
export const ZERO = new Big(0);
export const ONE = new Big(1);
export const CENT = new Big('0.01');
export const HUNDRED = new Big(100);

/** A rate as a grouping key ("22.00"), from its text. */
const RATE_KEYS = new Map<string, string | null>();
export const rateKey = (s: string | undefined): string | null => {
  if (s === undefined) return null;
  let k = RATE_KEYS.get(s);
  if (k === undefined) {
    k = dec(s)?.toFixed(2) ?? null;
    if (RATE_KEYS.size >= 1024) RATE_KEYS.clear();
    RATE_KEYS.set(s, k);
  }
  return k;
};

export const isZero = (b: Big | null): boolean => b !== null && b.eq(ZERO);

export const loc = (el: XmlElement | undefined, path: string): Partial<Finding> => ({
  path,
  ...(el ? { line: el.line, column: el.column } : {}),
});

/** Elements at `rel` below the body, each with its indexed path. */
export function each(c: BodyContext, rel: string): Located[] {
  const known = c.memo.get(rel);
  if (known) return known;
  let cur: Located[] = [{ el: c.body, path: c.base }];
  for (const seg of rel.split('/')) {
    const next: Located[] = [];
    for (const { el, path } of cur) {
      let count = 0;
      for (const k of el.children) if (k.name === seg) count++;
      if (count === 0) continue;
      let n = 0;
      for (const k of el.children) {
        if (k.name !== seg) continue;
        n++;
        next.push({ el: k, path: count > 1 ? `${path}/${seg}[${n}]` : `${path}/${seg}` });
      }
    }
    cur = next;
  }
  c.memo.set(rel, cur);
  return cur;
}

export const LINES = 'DatiBeniServizi/DettaglioLinee';
export const RIEPILOGO = 'DatiBeniServizi/DatiRiepilogo';
export const CASSA = 'DatiGenerali/DatiGeneraliDocumento/DatiCassaPrevidenziale';

/** Lines and cassa: the blocks that carry a rate into DatiRiepilogo. */
export const rateLines = (c: BodyContext): Located[] => [...each(c, LINES), ...each(c, CASSA)];

export { at, all } from '../../invoice/xml.js';
export { Big, finding, textAt };
export type { Finding, XmlElement };
