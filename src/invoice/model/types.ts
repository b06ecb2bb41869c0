/**
 * Declarative vocabulary for the FatturaPA document models (ordinary 1.2.3 and simplified 1.0.1)
 * and the part of XML-DSig that may follow them. The models in fatturapa.ts / semplificata.ts are
 * written by hand from the published specification: each simple type states its base, whitespace
 * handling and facets; each complex type is a content model of sequences, choices, element
 * declarations and wildcards with occurrence bounds, plus attributes.
 *
 * `compileModel` turns a root declaration into a tree of `NodeDecl` (one per element position,
 * numbered as in the specification tables, e.g. "2.2.1.11 PrezzoTotale") with a deterministic
 * automaton per content model, so that validation does no model work at run time.
 */

/** Built-in XSD datatypes the models derive from. */
export type SimpleBase =
  | 'string'
  | 'normalizedString'
  | 'token'
  | 'decimal'
  | 'integer'
  | 'date'
  | 'dateTime'
  | 'base64Binary'
  | 'anyURI'
  | 'ID';

/** XSD whiteSpace facet: preserve (xs:string), replace (xs:normalizedString), collapse (others). */
export type WhiteSpace = 'preserve' | 'replace' | 'collapse';

/** A bilingual text (English, Italian). */
export interface Text2 {
  readonly en: string;
  readonly it: string;
}

/** Numeric format of a decimal type: optional minus sign, integer and fraction digit counts. */
export interface DecimalFormat {
  readonly signed: boolean;
  readonly intMax: number;
  readonly fracMin: number;
  readonly fracMax: number;
}

export interface SimpleType {
  readonly kind: 'simple';
  /** Type name as in the specification (e.g. "Amount8DecimalType"). */
  readonly name: string;
  readonly base: SimpleBase;
  readonly whiteSpace: WhiteSpace;
  /**
   * Character repertoire required by the pattern: BasicLatin = U+0000–U+007F,
   * latin1 = BasicLatin + Latin-1 Supplement = U+0000–U+00FF. Checked per code point together with
   * `minLength`/`maxLength`, which for these types are the pattern's repetition bounds.
   */
  readonly charset?: 'basicLatin' | 'latin1';
  readonly length?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  /** Anchored JavaScript equivalent of the XSD pattern facet (XSD regex dialect translated by hand). */
  readonly pattern?: RegExp;
  /** What the pattern means, for messages. */
  readonly patternHint?: Text2;
  /** Allowed codes and their meaning (label may be empty). */
  readonly enumeration?: ReadonlyMap<string, string>;
  readonly minInclusive?: string;
  readonly maxInclusive?: string;
  /** For decimals: the format the pattern facet imposes (used for precise messages). */
  readonly decimal?: DecimalFormat;
}

export interface ElementDef {
  readonly kind: 'element';
  readonly name: string;
  /** Namespace of the element; '' for unqualified local elements. */
  readonly ns: string;
  readonly type: SimpleType | ComplexType;
  readonly min: number;
  readonly max: number;
  /** Element default value (used when the element is empty). */
  readonly default?: string;
}

export interface WildcardDef {
  readonly kind: 'any';
  /** '##any' or '##other' (not the target namespace and not absent). */
  readonly namespace: '##any' | '##other';
  readonly process: 'strict' | 'lax';
  readonly min: number;
  readonly max: number;
}

export interface GroupDef {
  readonly kind: 'sequence' | 'choice';
  readonly items: readonly Particle[];
  readonly min: number;
  readonly max: number;
}

export type Particle = ElementDef | WildcardDef | GroupDef;

export interface AttributeDef {
  readonly name: string;
  readonly type: SimpleType;
  readonly required: boolean;
}

export interface ComplexType {
  readonly kind: 'complex';
  readonly name: string;
  /** Namespace the type belongs to (for ##other wildcards). */
  readonly targetNs: string;
  /** Element content; null for simple content (see `simpleContent`) or empty content. */
  readonly content: GroupDef | null;
  /** For complex types with simple content (value + attributes). */
  readonly simpleContent?: SimpleType;
  readonly attributes: readonly AttributeDef[];
  /** Mixed content: character data allowed between child elements. */
  readonly mixed: boolean;
}

// ---------------------------------------------------------------------------------------------
// Builders used by the model files.

export const UNBOUNDED = Number.POSITIVE_INFINITY;

type SimpleInit = Omit<SimpleType, 'kind' | 'whiteSpace' | 'enumeration'> & {
  whiteSpace?: WhiteSpace;
  enumeration?: readonly (readonly [string, string] | string)[];
};

const DEFAULT_WS: Record<SimpleBase, WhiteSpace> = {
  string: 'preserve',
  normalizedString: 'replace',
  token: 'collapse',
  decimal: 'collapse',
  integer: 'collapse',
  date: 'collapse',
  dateTime: 'collapse',
  base64Binary: 'collapse',
  anyURI: 'collapse',
  ID: 'collapse',
};

export function simple(init: SimpleInit): SimpleType {
  const { enumeration, whiteSpace, ...rest } = init;
  return {
    kind: 'simple',
    ...rest,
    whiteSpace: whiteSpace ?? DEFAULT_WS[init.base],
    ...(enumeration
      ? {
          enumeration: new Map(
            enumeration.map((e): [string, string] => (typeof e === 'string' ? [e, ''] : [e[0], e[1]])),
          ),
        }
      : {}),
  };
}

/** A string type restricted to a character repertoire with 1..max (or min..max) characters. */
export function chars(
  name: string,
  base: 'string' | 'normalizedString',
  charset: 'basicLatin' | 'latin1',
  min: number,
  max: number,
  whiteSpace?: WhiteSpace,
): SimpleType {
  return simple({
    name,
    base,
    charset,
    minLength: min,
    maxLength: max,
    ...(whiteSpace ? { whiteSpace } : {}),
  });
}

/** A decimal with a fixed lexical format; `maxInclusive` optional. */
export function decimal(name: string, format: DecimalFormat, maxInclusive?: string): SimpleType {
  const sign = format.signed ? '-?' : '';
  const frac =
    format.fracMin === format.fracMax ? `{${format.fracMin}}` : `{${format.fracMin},${format.fracMax}}`;
  const pattern = new RegExp(`^${sign}[0-9]{1,${format.intMax}}\\.[0-9]${frac}$`);
  return simple({
    name,
    base: 'decimal',
    pattern,
    decimal: format,
    ...(maxInclusive !== undefined ? { maxInclusive } : {}),
  });
}

export function integer(name: string, minInclusive?: number, maxInclusive?: number): SimpleType {
  return simple({
    name,
    base: 'integer',
    ...(minInclusive !== undefined ? { minInclusive: String(minInclusive) } : {}),
    ...(maxInclusive !== undefined ? { maxInclusive: String(maxInclusive) } : {}),
  });
}

export function codes(
  name: string,
  values: readonly (readonly [string, string] | string)[],
  length?: number,
): SimpleType {
  return simple({ name, base: 'string', enumeration: values, ...(length !== undefined ? { length } : {}) });
}

export function patterned(
  name: string,
  base: SimpleBase,
  pattern: RegExp,
  hint: Text2,
  extra: Partial<SimpleInit> = {},
): SimpleType {
  return simple({ name, base, pattern, patternHint: hint, ...extra });
}

interface Occurs {
  min?: number;
  max?: number;
}

export function el(
  name: string,
  type: SimpleType | ComplexType,
  occurs: Occurs & { default?: string; ns?: string } = {},
): ElementDef {
  return {
    kind: 'element',
    name,
    ns: occurs.ns ?? '',
    type,
    min: occurs.min ?? 1,
    max: occurs.max ?? 1,
    ...(occurs.default !== undefined ? { default: occurs.default } : {}),
  };
}

/** Optional element (0..1). */
export const opt = (
  name: string,
  type: SimpleType | ComplexType,
  o: Occurs & { ns?: string } = {},
): ElementDef => el(name, type, { min: 0, ...o });

/** Repeated element (min..unbounded, min 0 unless given). */
export const many = (name: string, type: SimpleType | ComplexType, min = 0, ns = ''): ElementDef =>
  el(name, type, { min, max: UNBOUNDED, ns });

export const seq = (items: Particle[], occurs: Occurs = {}): GroupDef => ({
  kind: 'sequence',
  items,
  min: occurs.min ?? 1,
  max: occurs.max ?? 1,
});

export const choice = (items: Particle[], occurs: Occurs = {}): GroupDef => ({
  kind: 'choice',
  items,
  min: occurs.min ?? 1,
  max: occurs.max ?? 1,
});

export const any = (
  namespace: '##any' | '##other',
  process: 'strict' | 'lax',
  occurs: Occurs = {},
): WildcardDef => ({ kind: 'any', namespace, process, min: occurs.min ?? 1, max: occurs.max ?? 1 });

export function complex(
  name: string,
  targetNs: string,
  items: Particle[] | null,
  extra: { attributes?: AttributeDef[]; mixed?: boolean; simpleContent?: SimpleType; group?: GroupDef } = {},
): ComplexType {
  return {
    kind: 'complex',
    name,
    targetNs,
    content: extra.group ?? (items ? seq(items) : null),
    attributes: extra.attributes ?? [],
    mixed: extra.mixed ?? false,
    ...(extra.simpleContent ? { simpleContent: extra.simpleContent } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Compiled form.

/** One element or wildcard occurrence in a content model (a Glushkov position). */
export interface Position {
  readonly element: ElementDef | null;
  readonly wildcard: WildcardDef | null;
  /** Element must appear (min >= 1 here and in every enclosing group). */
  readonly required: boolean;
  /** Innermost enclosing choice (id, branch index), or -1. */
  readonly choiceId: number;
  readonly branch: number;
}

/** Automaton state: the start state or the state after matching a position. */
export interface State {
  readonly accepting: boolean;
  /** Next position by element key (local name, or `{ns}name` for namespaced elements). */
  readonly next: ReadonlyMap<string, number>;
  /**
   * The same as two lists in model order (keys[i] leads to targets[i]). Most states have a few
   * keys: comparing a parsed name with each (by length first) costs less than hashing it.
   */
  readonly keys: readonly string[];
  readonly targets: readonly number[];
  /** Wildcard positions reachable from here. */
  readonly wildcards: readonly number[];
  /** All positions reachable from here, in model order (for messages). */
  readonly candidates: readonly number[];
}

export interface Automaton {
  readonly positions: readonly Position[];
  /** states[0] is the start state; states[i + 1] follows position i. */
  readonly states: readonly State[];
}

/** An element declaration at one place of a model, with its field number and compiled content. */
export interface NodeDecl {
  readonly name: string;
  readonly ns: string;
  /** Field number from the specification ('' when the element has none, e.g. XML-DSig). */
  readonly number: string;
  /** "2.2.1.11 PrezzoTotale", or the bare name when unnumbered. */
  readonly label: string;
  readonly typeName: string;
  /** Value type of a simple-typed element or of a complex type with simple content. */
  readonly simple: SimpleType | null;
  readonly complex: ComplexType | null;
  readonly automaton: Automaton | null;
  /** Child declaration per automaton position (null for wildcards). */
  readonly children: (NodeDecl | null)[];
  /** Child declarations by element key, to keep checking children after a content error. */
  readonly byKey: Map<string, NodeDecl>;
  readonly default: string | undefined;
  readonly attributes: readonly AttributeDef[];
  /** Slash path of local names from the root (no indices). */
  readonly modelPath: string;
}

export const elementKey = (ns: string, name: string): string => (ns === '' ? name : `{${ns}}${name}`);

const automatonCache = new WeakMap<ComplexType, Automaton>();
let choiceCounter = 0;

/** Glushkov construction; the schemas obey Unique Particle Attribution, so the result is deterministic. */
export function compileAutomaton(type: ComplexType): Automaton {
  const cached = automatonCache.get(type);
  if (cached) return cached;
  const positions: Position[] = [];
  const follow: Set<number>[] = [];
  interface R {
    nullable: boolean;
    first: Set<number>;
    last: Set<number>;
  }
  const occurs = (r: R, min: number, max: number): R => {
    if (max > 1) for (const l of r.last) for (const f of r.first) follow[l]?.add(f);
    return min === 0 ? { ...r, nullable: true } : r;
  };
  const walk = (p: Particle, required: boolean, choiceId: number, branch: number): R => {
    if (p.kind === 'element' || p.kind === 'any') {
      const i = positions.length;
      positions.push({
        element: p.kind === 'element' ? p : null,
        wildcard: p.kind === 'any' ? p : null,
        required: required && p.min > 0,
        choiceId,
        branch,
      });
      follow.push(new Set());
      return occurs({ nullable: false, first: new Set([i]), last: new Set([i]) }, p.min, p.max);
    }
    const req = required && p.min > 0;
    if (p.kind === 'sequence') {
      let acc: R = { nullable: true, first: new Set(), last: new Set() };
      for (const item of p.items) {
        const r = walk(item, req, choiceId, branch);
        for (const l of acc.last) for (const f of r.first) follow[l]?.add(f);
        acc = {
          nullable: acc.nullable && r.nullable,
          first: acc.nullable ? new Set([...acc.first, ...r.first]) : acc.first,
          last: r.nullable ? new Set([...acc.last, ...r.last]) : r.last,
        };
      }
      return occurs(acc, p.min, p.max);
    }
    const id = ++choiceCounter;
    let acc: R = { nullable: false, first: new Set(), last: new Set() };
    p.items.forEach((item, b) => {
      const r = walk(item, req && p.items.length === 1, id, b);
      acc = {
        nullable: acc.nullable || r.nullable,
        first: new Set([...acc.first, ...r.first]),
        last: new Set([...acc.last, ...r.last]),
      };
    });
    return occurs(acc, p.min, p.max);
  };
  const top: R = type.content
    ? walk(type.content, true, -1, 0)
    : { nullable: true, first: new Set(), last: new Set() };
  const mkState = (reach: Set<number>, accepting: boolean): State => {
    const sorted = [...reach].sort((a, b) => a - b);
    const next = new Map<string, number>();
    const wildcards: number[] = [];
    for (const i of sorted) {
      const pos = positions[i];
      if (!pos) continue;
      if (pos.element) {
        const key = elementKey(pos.element.ns, pos.element.name);
        if (next.has(key)) throw new Error(`model ${type.name}: non-deterministic content at ${key}`);
        next.set(key, i);
      } else wildcards.push(i);
    }
    return {
      accepting,
      next,
      keys: [...next.keys()],
      targets: [...next.values()],
      wildcards,
      candidates: sorted,
    };
  };
  const states: State[] = [mkState(top.first, top.nullable)];
  positions.forEach((_p, i) => states.push(mkState(follow[i] ?? new Set(), top.last.has(i))));
  const automaton: Automaton = { positions, states };
  automatonCache.set(type, automaton);
  return automaton;
}

/**
 * Instantiates the declaration tree below `def`. Elements of `numberedNs` get hierarchical field
 * numbers (position among the element particles of the parent type, choices flattened, wildcards
 * not counted), which is how the specification numbers its tables. Elements of other namespaces
 * (XML-DSig) are shared, unnumbered, and may be reached recursively.
 */
export function compileModel(def: ElementDef, numberedNs: string): NodeDecl {
  const shared = new Map<ElementDef, NodeDecl>();
  const build = (d: ElementDef, number: string, parentPath: string): NodeDecl => {
    const numbered = d.ns === '' || d.ns === numberedNs;
    if (!numbered) {
      const s = shared.get(d);
      if (s) return s;
    }
    const modelPath = `${parentPath}/${d.name}`;
    const t = d.type;
    const isComplex = t.kind === 'complex';
    const automaton = isComplex && t.content ? compileAutomaton(t) : null;
    const node: NodeDecl = {
      name: d.name,
      ns: d.ns,
      number: numbered ? number : '',
      label: numbered && number ? `${number} ${d.name}` : d.name,
      typeName: t.name,
      simple: isComplex ? (t.simpleContent ?? null) : t,
      complex: isComplex ? t : null,
      automaton,
      children: [],
      byKey: new Map(),
      default: d.default,
      attributes: isComplex ? t.attributes : [],
      modelPath,
    };
    if (!numbered) shared.set(d, node);
    if (automaton) {
      let k = 0;
      for (const pos of automaton.positions) {
        if (!pos.element) {
          node.children.push(null);
          continue;
        }
        k++;
        const childNumber = numbered ? (number ? `${number}.${k}` : String(k)) : '';
        const child = build(pos.element, childNumber, modelPath);
        node.children.push(child);
        const key = elementKey(child.ns, child.name);
        if (!node.byKey.has(key)) node.byKey.set(key, child);
      }
    }
    return node;
  };
  return build(def, '', '');
}
