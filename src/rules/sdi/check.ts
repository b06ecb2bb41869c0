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
 * A string equal to `s` that is interned (V8 keeps one copy of each property name): names
 * compared with `===` then compare by reference. Element names are interned by the structure
 * check (the model's own strings, src/rules/structure.ts); the steps of a path split here would
 * otherwise be compared character by character with each of them.
 */
const intern = (s: string): string => Object.keys({ [s]: 0 })[0] as string;

/** The steps of slash paths, split once each (the paths are the checks' constants). */
const STEPS = new Map<string, readonly string[]>();
function steps(path: string): readonly string[] {
  let s = STEPS.get(path);
  if (s === undefined) {
    s = path.split('/').map(intern);
    if (STEPS.size < 1024) STEPS.set(path, s);
  }
  return s;
}

/** The first child of `el` named `name`. */
export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  if (el === undefined) return undefined;
  const kids = el.children;
  for (let i = 0; i < kids.length; i++) {
    const k = kids[i] as XmlElement;
    if (k.name === name) return k;
  }
  return undefined;
}

/** First element at a slash-separated path of local names below `el`. */
export function at(el: XmlElement | undefined, path: string): XmlElement | undefined {
  const s = steps(path);
  let cur = el;
  for (let i = 0; i < s.length && cur !== undefined; i++) cur = child(cur, s[i] as string);
  return cur;
}

/** Text (trimmed) at a path, or undefined when the element is absent. */
export function textAt(el: XmlElement | undefined, path: string): string | undefined {
  const e = at(el, path);
  return e === undefined ? undefined : e.text.trim();
}

/** Every element at a slash-separated path of local names below `el`. */
export function all(el: XmlElement | undefined, path: string): XmlElement[] {
  let cur: XmlElement[] = el ? [el] : [];
  for (const seg of steps(path)) {
    const next: XmlElement[] = [];
    for (const p of cur) for (const k of p.children) if (k.name === seg) next.push(k);
    cur = next;
  }
  return cur;
}

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

/** Elements at `rel` below the body, each with its indexed path. */
export function each(c: BodyContext, rel: string): Located[] {
  const known = c.memo.get(rel);
  if (known !== undefined) return known;
  const s = steps(rel);
  let cur: Step[] = [new Step(c.body, null, c.base, 0)];
  for (let i = 0; i < s.length; i++) {
    const seg = s[i] as string;
    const next: Step[] = [];
    for (let j = 0; j < cur.length; j++) {
      const up = cur[j] as Step;
      const kids = up.el.children;
      let count = 0;
      for (let k = 0; k < kids.length; k++) if ((kids[k] as XmlElement).name === seg) count++;
      if (count === 0) continue;
      let n = 0;
      for (let k = 0; k < kids.length; k++) {
        const kid = kids[k] as XmlElement;
        if (kid.name === seg) next.push(new Step(kid, up, seg, count > 1 ? ++n : 0));
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


export { Dec, finding };
export type { Finding, XmlElement };
