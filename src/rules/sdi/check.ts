import { intern } from '../../invoice/lookup.js';
import type { XmlElement } from '../../invoice/xml.js';
import { finding, type Finding } from '../finding.js';
import type { InForce } from './catalogue.js';
import { Dec } from './decimal.js';

/**
 * What an SdI check is: a named pure function over one FatturaElettronicaBody (scope `body`) or
 * the whole file (scope `file`), declared with the codes it emits, the spec section it belongs
 * to and, when it is one version of a rule that changed, the days that version applies. The
 * days a code is in force are in the catalogue; the engine (engine.ts) selects the checks in
 * force on the day that applies and runs each on its own, so an exception in one check is a
 * finding and never hides the others.
 *
 * Also the shared primitives the checks use: exact decimals, element walks memoised per body
 * (indexed paths made only for findings), finding locations.
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
  readonly el: XmlElement;
  /** The element's indexed path, e.g. /FatturaElettronica/FatturaElettronicaBody/DatiBeniServizi/DettaglioLinee[2]. */
  readonly path: string;
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
 * Amounts as exact decimals (decimal.ts: big.js's results, at a fraction of its cost on the
 * amounts invoices carry), from the text of an element; null when it is not a plain decimal.
 */
export const dec = (s: string | undefined): Dec | null => (s === undefined ? null : Dec.parse(s));

export const ZERO = Dec.parse('0') as Dec;
export const ONE = Dec.parse('1') as Dec;
export const CENT = Dec.parse('0.01') as Dec;

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

export const isZero = (b: Dec | null): boolean => b !== null && b.isZero();

/** What a check returns when it finds nothing (frozen: shared by every check). */
export const NONE: Finding[] = Object.freeze([]) as unknown as Finding[];

export const loc = (el: XmlElement | undefined, path: string): Partial<Finding> => ({
  path,
  ...(el ? { line: el.line, column: el.column } : {}),
});

/**
 * An element found by `each`. Its indexed path is only needed for a finding, which most files
 * never have: it is made when asked, from the step that led to the element.
 */
class Step implements Located {
  constructor(
    readonly el: XmlElement,
    private readonly up: Step | null,
    /** The body's path (for the body itself), or the element's name. */
    private readonly name: string,
    /** Its index among its parent's children of that name (1-based), 0 when it is the only one. */
    private readonly n: number,
  ) {}

  get path(): string {
    if (this.up === null) return this.name;
    const p = `${this.up.path}/${this.name}`;
    return this.n > 0 ? `${p}[${this.n}]` : p;
  }
}

/** A path below the body, split once: the path above its last step, and that step. */
interface Rel {
  up: string | null;
  name: string;
}
const RELS = new Map<string, Rel>();
function relOf(rel: string): Rel {
  let r = RELS.get(rel);
  if (r === undefined) {
    const slash = rel.lastIndexOf('/');
    r =
      slash === -1
        ? { up: null, name: intern(rel) }
        : { up: rel.slice(0, slash), name: intern(rel.slice(slash + 1)) };
    if (RELS.size < 1024) RELS.set(rel, r);
  }
  return r;
}

/** Nothing found (frozen: shared). */
const NO_STEPS: Step[] = Object.freeze([]) as unknown as Step[];

/**
 * Elements at `rel` below the body, each with its indexed path, memoised per body with every
 * path above it (lines and summaries share DatiBeniServizi).
 */
export function each(c: BodyContext, rel: string): Located[] {
  const known = c.memo.get(rel);
  if (known !== undefined) return known;
  const r = relOf(rel);
  const from = r.up === null ? [new Step(c.body, null, c.base, 0)] : (each(c, r.up) as Step[]);
  const seg = r.name;
  let found = NO_STEPS;
  for (let j = 0; j < from.length; j++) {
    const up = from[j] as Step;
    const kids = up.el.children;
    let count = 0;
    for (let k = 0; k < kids.length; k++) if ((kids[k] as XmlElement).name === seg) count++;
    if (count === 0) continue;
    if (found === NO_STEPS) found = [];
    let n = 0;
    for (let k = 0; k < kids.length; k++) {
      const kid = kids[k] as XmlElement;
      if (kid.name === seg) found.push(new Step(kid, up, seg, count > 1 ? ++n : 0));
    }
  }
  c.memo.set(rel, found);
  return found;
}

export const LINES = 'DatiBeniServizi/DettaglioLinee';
export const RIEPILOGO = 'DatiBeniServizi/DatiRiepilogo';
export const CASSA = 'DatiGenerali/DatiGeneraliDocumento/DatiCassaPrevidenziale';

export { all, at, child, textAt } from '../../invoice/lookup.js';
export { Dec, finding };
export type { Finding, XmlElement };
