import type { XmlElement } from '../invoice/xml.js';
import { finding, type Finding } from './finding.js';
import { MODELS, modelFor, type DocumentModel } from '../invoice/model/index.js';
import { simple } from '../invoice/model/types.js';
import type {
  AttributeDef,
  DecimalFormat,
  NodeDecl,
  SimpleBase,
  SimpleType,
  State,
  Text2,
  WildcardDef,
} from '../invoice/model/types.js';

/**
 * Structural validation of a parsed FatturaPA (1.2.3, FPA12/FPR12) or simplified (FSM10) file,
 * equivalent to the official XSD (as libxml2 / xmllint applies it), driven by the declarative
 * model in src/invoice/model/. Errors carry SdI code 00200 with field number and name, path,
 * line and column; after 50 errors one 00201 finding ends the list. Never throws.
 *
 * Each element the model declares gets the declaration's own string as its `name` (the same
 * characters): the parser's names are slices of the document text, which every later lookup by
 * name (the SdI checks, the invoice keys) compared character by character; the model's names are
 * the interned strings those lookups are written with, so that they compare by reference.
 */
export function validateStructure(root: XmlElement): Finding[] {
  const model = modelFor(root);
  if (!model) return [rootError(root)];
  const v = new Validator(model);
  try {
    v.element(root, model.root);
  } catch (e) {
    v.out.push(
      finding(
        '00200',
        `Structure check failed: ${String(e)}`,
        `Controllo di struttura non riuscito: ${String(e)}`,
      ),
    );
  }
  return v.out;
}

const MAX_ERRORS = 50;
/** Up to this many keys a state's keys are compared one by one, past it looked up in its map. */
const SCAN_KEYS = 8;
const XSI = 'http://www.w3.org/2001/XMLSchema-instance';
const XSI_PREFIX = `{${XSI}}`;
/**
 * The key of xsi:type in `nsAttrs`, written out: a key built at each lookup (a template string) is
 * hashed and interned every time, for every element (the costliest line of the structure check).
 */
const XSI_TYPE = '{http://www.w3.org/2001/XMLSchema-instance}type';
const XSD_NS = 'http://www.w3.org/2001/XMLSchema';
const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const NC = '[A-Za-z_\\u00C0-\\uFFFF][A-Za-z0-9_.\\-\\u00B7\\u00C0-\\uFFFF]*';
const QNAME = new RegExp(`^(?:(${NC}):)?(${NC})$`);

/** Built-in types and the built-in types they derive from (themselves first). */
const BUILTIN_ANCESTORS: Record<SimpleBase, readonly string[]> = {
  string: ['string'],
  normalizedString: ['normalizedString', 'string'],
  token: ['token', 'normalizedString', 'string'],
  ID: ['ID', 'NCName', 'Name', 'token', 'normalizedString', 'string'],
  decimal: ['decimal'],
  integer: ['integer', 'decimal'],
  date: ['date'],
  dateTime: ['dateTime'],
  base64Binary: ['base64Binary'],
  anyURI: ['anyURI'],
};

/** A type (as a declaration using it) is `decl`'s type or derived from it by restriction. */
function derivesFrom(t: NodeDecl, decl: NodeDecl): boolean {
  if (t.complex || decl.complex) return t.complex === decl.complex && t.simple === decl.simple;
  const ts = t.simple;
  const ds = decl.simple;
  if (!ts || !ds) return false;
  if (ts === ds || ts.name === ds.name) return true;
  // The models' named simple types all restrict a built-in type directly.
  return ds.name.startsWith('xs:') && BUILTIN_ANCESTORS[ts.base].includes(ds.name.slice(3));
}

const typeRegistry = new WeakMap<DocumentModel, Map<string, NodeDecl>>();

/** The named types of a model (and the built-in types it derives from) by `{ns}local`. */
function namedTypes(model: DocumentModel): Map<string, NodeDecl> {
  let types = typeRegistry.get(model);
  if (types) return types;
  const found = new Map<string, NodeDecl>();
  const asDecl = (t: SimpleType): NodeDecl => ({
    name: t.name,
    ns: '',
    number: '',
    label: t.name,
    typeName: t.name,
    simple: t,
    complex: null,
    automaton: null,
    children: [],
    byKey: new Map(),
    default: undefined,
    attributes: [],
    modelPath: '',
  });
  const addSimple = (t: SimpleType, ns: string, decl?: NodeDecl): void => {
    const key = t.name.startsWith('xs:') ? `{${XSD_NS}}${t.name.slice(3)}` : `{${ns}}${t.name}`;
    if (!found.has(key)) found.set(key, decl && !decl.complex ? decl : asDecl(t));
  };
  const seen = new Set<NodeDecl>();
  const walk = (d: NodeDecl): void => {
    if (seen.has(d)) return;
    seen.add(d);
    const ns = d.ns === '' ? model.ns : d.ns;
    if (d.complex) {
      const key = `{${d.complex.targetNs}}${d.complex.name}`;
      if (d.complex.name && !found.has(key)) found.set(key, d);
    } else if (d.simple) addSimple(d.simple, ns, d);
    for (const a of d.attributes) addSimple(a.type, ns);
    for (const c of d.children) if (c) walk(c);
  };
  walk(model.root);
  for (const g of model.globals.values()) walk(g);
  for (const b of Object.keys(BUILTIN_ANCESTORS) as SimpleBase[])
    addSimple(simple({ name: `xs:${b}`, base: b }), XSD_NS);
  types = found;
  typeRegistry.set(model, types);
  return types;
}

function rootError(root: XmlElement): Finding {
  const expected = MODELS.map((m) => `${m.rootName} (${m.ns})`).join(', ');
  const known = MODELS.find((m) => m.rootName === root.name);
  const where = { field: root.name, path: `/${root.name}`, line: root.line, column: root.column };
  if (known)
    return finding(
      '00200',
      `Root element ${root.name} is in namespace '${root.ns}'; it must be in '${known.ns}'.`,
      `L'elemento radice ${root.name} è nel namespace '${root.ns}'; deve essere nel namespace '${known.ns}'.`,
      where,
    );
  return finding(
    '00200',
    `Root element ${root.name}${root.ns ? ` (namespace '${root.ns}')` : ''} is not an invoice; expected ${expected}.`,
    `L'elemento radice ${root.name}${root.ns ? ` (namespace '${root.ns}')` : ''} non è una fattura; atteso ${expected}.`,
    where,
  );
}

const show = (v: string): string => (v.length > 60 ? `${v.slice(0, 57)}...` : v);
const key = (el: XmlElement): string => (el.ns === '' ? el.name : `{${el.ns}}${el.name}`);

class Validator {
  readonly out: Finding[] = [];
  private stopped = false;
  private errors = 0;
  /** Elements from the root to the current one. */
  private readonly stack: XmlElement[] = [];
  private ids: Set<string> | null = null;

  constructor(private readonly model: DocumentModel) {}

  private pathTo(depth: number, extra?: string): string {
    let p = '';
    for (let i = 0; i <= depth; i++) {
      const el = this.stack[i] as XmlElement;
      p += `/${el.name}`;
      const parent = i > 0 ? this.stack[i - 1] : undefined;
      if (parent) {
        let n = 0;
        let idx = 0;
        for (const s of parent.children) {
          if (s.name === el.name && s.ns === el.ns) {
            n++;
            if (s === el) idx = n;
          }
        }
        if (n > 1) p += `[${idx}]`;
      }
    }
    return extra ? `${p}/${extra}` : p;
  }

  private report(field: string, en: string, it: string, at: XmlElement, pathExtra?: string): void {
    if (this.stopped) return;
    if (this.errors >= MAX_ERRORS) {
      this.stopped = true;
      this.out.push(
        finding(
          '00201',
          'More than 50 format errors: further checks are not possible.',
          'Non è possibile procedere con ulteriori controlli: errori di formato superiori a 50.',
        ),
      );
      return;
    }
    this.errors++;
    this.out.push(
      finding('00200', en, it, {
        field,
        path: this.pathTo(this.stack.length - 1, pathExtra),
        line: at.line,
        column: at.column,
      }),
    );
  }

  element(el: XmlElement, declared: NodeDecl): void {
    if (this.stopped) return;
    // The same name, as the model's own string (see validateStructure).
    el.name = declared.name;
    this.stack.push(el);
    const decl = this.xsiType(el, declared);
    this.attributes(el, decl);
    if (decl.simple) {
      if (el.children.length > 0) {
        const c = el.children[0] as XmlElement;
        this.report(
          decl.label,
          `${el.name} must contain only a value, but contains the element ${c.name}.`,
          `${el.name} deve contenere solo un valore, ma contiene l'elemento ${c.name}.`,
          c,
        );
      } else {
        // The default applies to an empty element; an empty CDATA section is a value (libxml2).
        const text = el.text === '' && !el.cdata && decl.default !== undefined ? decl.default : el.text;
        const p = checkValue(text, decl.simple, el.name);
        if (p) this.report(decl.label, p.en, p.it, el);
        else if (decl.simple.base === 'ID') this.uniqueId(collapse(text), decl.label, el);
      }
    } else {
      if (!decl.complex?.mixed && el.cdata && isWhitespace(el.text)) {
        // As the XSD validator does: a CDATA section is character data, even when blank.
        this.report(
          decl.label,
          `${el.name} must contain only elements, but contains a CDATA section.`,
          `${el.name} deve contenere solo elementi, ma contiene una sezione CDATA.`,
          el,
        );
      } else if (!decl.complex?.mixed && !isWhitespace(el.text)) {
        const t = show(el.text.trim());
        this.report(
          decl.label,
          `${el.name} must contain only elements, but contains the text '${t}'.`,
          `${el.name} deve contenere solo elementi, ma contiene il testo '${t}'.`,
          el,
        );
      }
      this.content(el, decl);
    }
    this.stack.pop();
  }

  private content(el: XmlElement, decl: NodeDecl): void {
    const a = decl.automaton;
    const kids = el.children;
    if (!a) {
      const c = kids[0];
      if (c) this.report(decl.label, `${el.name} must be empty.`, `${el.name} deve essere vuoto.`, c);
      return;
    }
    const targetNs = decl.complex?.targetNs ?? '';
    let s = a.states[0] as State;
    let sIndex = -1;
    let failed = false;
    for (let i = 0; i < kids.length; i++) {
      if (this.stopped) return;
      const c = kids[i] as XmlElement;
      const k = key(c);
      if (!failed) {
        let p: number | undefined;
        const keys = s.keys;
        if (keys.length <= SCAN_KEYS) {
          for (let j = 0; j < keys.length; j++) {
            if (keys[j] === k) {
              p = s.targets[j];
              break;
            }
          }
        } else p = s.next.get(k);
        if (p === undefined && s.wildcards.length > 0) {
          for (const w of s.wildcards) {
            const wd = a.positions[w]?.wildcard;
            if (wd && (wd.namespace === '##any' || (c.ns !== '' && c.ns !== targetNs))) {
              p = w;
              break;
            }
          }
        }
        if (p !== undefined) {
          s = a.states[p + 1] as State;
          sIndex = p;
          const child = decl.children[p];
          if (child) this.element(c, child);
          else this.wildcard(c, a.positions[p]?.wildcard as WildcardDef);
          continue;
        }
        failed = true;
        this.contentError(el, decl, s, sIndex, c, k);
      }
      const child = decl.byKey.get(k);
      if (child) this.element(c, child);
    }
    if (!failed && !s.accepting) this.missingAtEnd(el, decl, s);
  }

  private wildcard(c: XmlElement, w: WildcardDef): void {
    const g = this.model.globals.get(key(c));
    if (g) {
      this.element(c, g);
      return;
    }
    if (w.process === 'strict') {
      this.stack.push(c);
      this.report(
        c.name,
        `Element ${c.name}${c.ns ? ` (namespace '${c.ns}')` : ''} is not declared: no content of this kind is allowed here.`,
        `L'elemento ${c.name}${c.ns ? ` (namespace '${c.ns}')` : ''} non è dichiarato: qui non è ammesso contenuto di questo tipo.`,
        c,
      );
      this.stack.pop();
      return;
    }
    // Lax: elements with a global declaration are validated, the rest is skipped, unless an
    // xsi:type names a type of the models: then the element is validated against that type.
    this.stack.push(c);
    const xsiType = c.nsAttrs[XSI_TYPE];
    if (xsiType !== undefined) {
      const t = this.typeByQName(xsiType);
      if (t) {
        this.stack.pop();
        this.element(c, { ...t, name: c.name, ns: c.ns, number: '', label: c.name, default: undefined });
        return;
      }
      this.report(
        c.name,
        `xsi:type '${show(xsiType)}' on ${c.name} does not name a known type.`,
        `xsi:type '${show(xsiType)}' su ${c.name} non indica un tipo noto.`,
        c,
      );
    }
    for (const d of c.children) {
      if (this.stopped) break;
      this.wildcard(d, w);
    }
    this.stack.pop();
  }

  private describe(decl: NodeDecl, p: number): string {
    const child = decl.children[p];
    if (child) return child.label;
    const w = decl.automaton?.positions[p]?.wildcard;
    return w?.namespace === '##other' ? 'an element of another namespace' : 'any element';
  }

  private expectedList(decl: NodeDecl, s: State): { en: string; it: string } {
    const names = s.candidates.map((p) => this.describe(decl, p));
    if (names.length === 0) return { en: `the end of ${decl.name}`, it: `la fine di ${decl.name}` };
    if (s.accepting)
      return {
        en: `${names.join(', ')} or the end of ${decl.name}`,
        it: `${names.join(', ')} o la fine di ${decl.name}`,
      };
    return names.length === 1
      ? { en: names[0] as string, it: names[0] as string }
      : { en: `one of ${names.join(', ')}`, it: `uno tra ${names.join(', ')}` };
  }

  private contentError(
    el: XmlElement,
    decl: NodeDecl,
    s: State,
    sIndex: number,
    c: XmlElement,
    k: string,
  ): void {
    const a = decl.automaton;
    if (!a) return;
    const exp = this.expectedList(decl, s);
    const childDecl = decl.byKey.get(k);
    this.stack.push(c);
    if (!childDecl) {
      // Same local name in the wrong namespace?
      let local: NodeDecl | undefined;
      for (const d of decl.byKey.values()) if (d.name === c.name) local = d;
      if (local && local.ns === '') {
        this.report(
          local.label,
          `${c.name} must not be in a namespace (found '${c.ns}'): elements inside ${this.model.rootName} have no prefix.`,
          `${c.name} non deve avere namespace (trovato '${c.ns}'): gli elementi interni a ${this.model.rootName} non hanno prefisso.`,
          c,
        );
      } else if (local) {
        this.report(
          local.label,
          `${c.name} must be in namespace '${local.ns}'${c.ns ? ` (found '${c.ns}')` : ''}.`,
          `${c.name} deve essere nel namespace '${local.ns}'${c.ns ? ` (trovato '${c.ns}')` : ''}.`,
          c,
        );
      } else {
        this.report(
          decl.label,
          `Element ${c.name} is not allowed in ${decl.name}; expected ${exp.en}.`,
          `L'elemento ${c.name} non è ammesso in ${decl.name}; atteso ${exp.it}.`,
          c,
        );
      }
      this.stack.pop();
      return;
    }
    const positions = a.positions;
    // Later in the model: required elements were skipped.
    let later = -1;
    for (let q = sIndex + 1; q < positions.length; q++) {
      const e = positions[q]?.element;
      if (e && e.name === c.name && e.ns === c.ns) {
        later = q;
        break;
      }
    }
    const cur = sIndex >= 0 ? positions[sIndex] : undefined;
    const laterPos = later >= 0 ? positions[later] : undefined;
    if (laterPos) {
      for (let r = sIndex + 1; r < later; r++) {
        const pr = positions[r];
        if (pr?.required && pr.element) {
          const missing = decl.children[r];
          this.stack.pop();
          this.report(
            missing?.label ?? pr.element.name,
            `${pr.element.name} is missing in ${decl.name}: found ${c.name} where ${exp.en} was expected.`,
            `${pr.element.name} manca in ${decl.name}: trovato ${c.name} dove era atteso ${exp.it}.`,
            c,
            pr.element.name,
          );
          return;
        }
      }
    }
    const other = laterPos ?? positions.find((p) => p.element?.name === c.name && p.element.ns === c.ns);
    if (
      cur?.element &&
      other &&
      cur.choiceId >= 0 &&
      cur.choiceId === other.choiceId &&
      cur.branch !== other.branch
    ) {
      this.report(
        childDecl.label,
        `${cur.element.name} and ${c.name} are alternatives in ${decl.name}: use only one of them (e.g. Denominazione, or Nome with Cognome).`,
        `${cur.element.name} e ${c.name} sono alternativi in ${decl.name}: indicarne solo uno (es. Denominazione, oppure Nome e Cognome).`,
        c,
      );
    } else if (cur?.element && cur.element.name === c.name && cur.element.ns === c.ns) {
      this.report(
        childDecl.label,
        `${c.name} appears more than once in ${decl.name}; only one is allowed.`,
        `${c.name} compare più di una volta in ${decl.name}; ne è ammesso uno solo.`,
        c,
      );
    } else if (cur?.element && !laterPos) {
      this.report(
        childDecl.label,
        `${c.name} is out of order in ${decl.name}: it must come before ${cur.element.name}; after ${cur.element.name} expected ${exp.en}.`,
        `${c.name} è fuori posizione in ${decl.name}: deve precedere ${cur.element.name}; dopo ${cur.element.name} è atteso ${exp.it}.`,
        c,
      );
    } else {
      this.report(
        childDecl.label,
        `${c.name} is not expected here in ${decl.name}; expected ${exp.en}.`,
        `${c.name} non è atteso in questa posizione in ${decl.name}; atteso ${exp.it}.`,
        c,
      );
    }
    this.stack.pop();
  }

  private missingAtEnd(el: XmlElement, decl: NodeDecl, s: State): void {
    const a = decl.automaton;
    if (!a) return;
    let r = s.candidates.find((p) => a.positions[p]?.required);
    if (r === undefined) r = s.candidates[0];
    const missing = r !== undefined ? decl.children[r] : undefined;
    const exp = this.expectedList(decl, s);
    const name = missing?.name ?? 'element';
    this.report(
      missing?.label ?? decl.label,
      `${name} is missing in ${decl.name}: expected ${exp.en}.`,
      `${name} manca in ${decl.name}: atteso ${exp.it}.`,
      el,
      missing?.name,
    );
  }

  private attributes(el: XmlElement, decl: NodeDecl): void {
    const defs = decl.attributes;
    for (const name in el.attrs) {
      const value = el.attrs[name] as string;
      let def: AttributeDef | undefined;
      for (const d of defs) {
        if (d.name === name) {
          def = d;
          break;
        }
      }
      if (!def) {
        this.report(
          decl.label,
          `Attribute ${name} is not allowed on ${el.name}.`,
          `L'attributo ${name} non è ammesso su ${el.name}.`,
          el,
        );
        continue;
      }
      const p = checkValue(value, def.type, `${el.name} attribute ${name}`);
      if (p) this.report(decl.label, p.en, p.it, el);
      else if (def.type.base === 'ID') this.uniqueId(collapse(value), decl.label, el);
    }
    for (let i = 0; i < defs.length; i++) {
      const d = defs[i] as AttributeDef;
      if (d.required && el.attrs[d.name] === undefined) {
        this.report(
          decl.label,
          `${el.name} must have the attribute ${d.name}.`,
          `${el.name} deve avere l'attributo ${d.name}.`,
          el,
        );
      }
    }
    for (const k in el.nsAttrs) {
      if (k.startsWith(XSI_PREFIX)) {
        const local = k.slice(XSI_PREFIX.length);
        if (local === 'schemaLocation' || local === 'noNamespaceSchemaLocation') continue;
        if (local === 'type') continue; // See xsiType().
        if (local === 'nil') {
          this.report(
            decl.label,
            `${el.name} cannot be nil (xsi:nil is not allowed).`,
            `${el.name} non può essere nil (xsi:nil non è ammesso).`,
            el,
          );
          continue;
        }
      }
      this.report(
        decl.label,
        `Attribute ${k} is not allowed on ${el.name}.`,
        `L'attributo ${k} non è ammesso su ${el.name}.`,
        el,
      );
    }
  }

  /**
   * The declaration to validate `el` by: `decl`, or the type named by its xsi:type when that type
   * is `decl`'s own or validly derived from it (restriction of a built-in type), with `decl`'s
   * name, label and default. Reports an xsi:type that does not resolve or is not derived.
   */
  private xsiType(el: XmlElement, decl: NodeDecl): NodeDecl {
    const v = el.nsAttrs[XSI_TYPE];
    if (v === undefined) return decl;
    const t = this.typeByQName(v);
    if (!t) {
      this.report(
        decl.label,
        `xsi:type '${show(v)}' on ${el.name} does not name a known type.`,
        `xsi:type '${show(v)}' su ${el.name} non indica un tipo noto.`,
        el,
      );
      return decl;
    }
    if (!derivesFrom(t, decl)) {
      this.report(
        decl.label,
        `xsi:type '${show(v)}' on ${el.name} is not its type ${decl.typeName} nor derived from it.`,
        `xsi:type '${show(v)}' su ${el.name} non è il suo tipo ${decl.typeName} né un suo derivato.`,
        el,
      );
      return decl;
    }
    if (t.complex === decl.complex && t.simple === decl.simple) return decl;
    return {
      ...t,
      name: decl.name,
      ns: decl.ns,
      number: decl.number,
      label: decl.label,
      default: decl.default,
    };
  }

  /**
   * The type a QName (an xsi:type value) names, taken as it is (libxml2 does not collapse it).
   * Prefixes resolve through the elements in scope: parseXml keeps no namespace declarations, so a
   * prefix that no enclosing element uses cannot be resolved; an unprefixed name takes the
   * namespace of the nearest unprefixed enclosing element (none: no namespace).
   */
  private typeByQName(v: string): NodeDecl | undefined {
    const m = QNAME.exec(v);
    if (!m) return undefined;
    const prefix = m[1] ?? '';
    const local = m[2] as string;
    let ns: string | undefined = prefix === 'xml' ? XML_NS : prefix === '' ? '' : undefined;
    if (prefix !== 'xml') {
      for (let i = this.stack.length - 1; i >= 0; i--) {
        const e = this.stack[i] as XmlElement;
        if (e.prefix === prefix) {
          ns = e.ns;
          break;
        }
      }
    }
    if (ns === undefined) return undefined;
    return namedTypes(this.model).get(`{${ns}}${local}`);
  }

  private uniqueId(id: string, field: string, el: XmlElement): void {
    this.ids ??= new Set();
    if (this.ids.has(id)) {
      this.report(
        field,
        `Identifier '${show(id)}' is used more than once.`,
        `L'identificativo '${show(id)}' è usato più di una volta.`,
        el,
      );
    } else this.ids.add(id);
  }
}

// ---------------------------------------------------------------------------------------------
// Values.

function isWhitespace(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

const isWs = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;

/** XSD whiteSpace collapse: tab/CR/LF to space, runs of spaces to one, trimmed. */
function collapse(s: string): string {
  let clean = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (
      c === 0x0a ||
      c === 0x09 ||
      c === 0x0d ||
      (c === 0x20 && (i === 0 || i === s.length - 1 || s.charCodeAt(i + 1) === 0x20))
    ) {
      clean = false;
      break;
    }
  }
  if (clean) return s;
  let r = s.replace(/[\t\n\r ]+/g, ' ');
  if (r.startsWith(' ')) r = r.slice(1);
  if (r.endsWith(' ')) r = r.slice(0, -1);
  return r;
}

function trimWs(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWs(s.charCodeAt(a))) a++;
  while (b > a && isWs(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Length in characters (code points). */
function cpLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      n--;
      i++;
    }
  }
  return n;
}

const range = (min: number, max: number, en: string, it: string): Text2 =>
  min === max
    ? { en: `exactly ${min} ${en}`, it: `esattamente ${min} ${it}` }
    : { en: `${min} to ${max} ${en}`, it: `da ${min} a ${max} ${it}` };

/** Checks a value against a simple type; returns a message pair when invalid. */
export function checkValue(raw: string, t: SimpleType, name: string): Text2 | null {
  switch (t.base) {
    case 'string':
    case 'normalizedString':
    case 'token':
      // whiteSpace 'replace' maps tab/CR/LF to spaces: no facet used by the models can tell the
      // difference (same length, all in BasicLatin), so it is not applied.
      return checkString(t.whiteSpace === 'collapse' ? collapse(raw) : raw, t, name);
    case 'decimal':
      return checkDecimal(trimWs(raw), t, name);
    case 'integer':
      return checkInteger(trimWs(raw), t, name);
    case 'date':
    case 'dateTime':
      return checkDate(raw, t, name);
    case 'base64Binary':
      return base64Ok(raw)
        ? null
        : {
            en: `${name} is not valid base64 content.`,
            it: `${name} non è un contenuto base64 valido.`,
          };
    case 'anyURI': {
      const v = collapse(raw);
      return /%(?![0-9A-Fa-f]{2})/.test(v) || v.indexOf('#') !== v.lastIndexOf('#')
        ? { en: `${name} '${show(v)}' is not a valid URI.`, it: `${name} '${show(v)}' non è un URI valido.` }
        : null;
    }
    case 'ID': {
      const v = collapse(raw);
      return /^[A-Za-z_\u00C0-\uFFFF][A-Za-z0-9_.\-\u00B7\u00C0-\uFFFF]*$/.test(v)
        ? null
        : {
            en: `${name} '${show(v)}' is not a valid identifier (XML NCName).`,
            it: `${name} '${show(v)}' non è un identificativo valido (XML NCName).`,
          };
    }
  }
}

function checkString(v: string, t: SimpleType, name: string): Text2 | null {
  if (t.charset) {
    const limit = t.charset === 'basicLatin' ? 0x7f : 0xff;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c > limit) {
        const ch = String.fromCodePoint(v.codePointAt(i) ?? c);
        return t.charset === 'basicLatin'
          ? {
              en: `${name} '${show(v)}' contains '${ch}': only ASCII characters (Basic Latin) are allowed.`,
              it: `${name} '${show(v)}' contiene '${ch}': sono ammessi solo caratteri ASCII (Basic Latin).`,
            }
          : {
              en: `${name} '${show(v)}' contains '${ch}': only Latin-1 (ISO-8859-1) characters are allowed.`,
              it: `${name} '${show(v)}' contiene '${ch}': sono ammessi solo caratteri Latin-1 (ISO-8859-1).`,
            };
      }
    }
    return lengthProblem(v, v.length, t, name);
  }
  if (t.enumeration) {
    if (t.enumeration.has(v)) return null;
    const allowed = [...t.enumeration.keys()].join(', ');
    return {
      en: `${name} '${show(v)}' is not an allowed code; allowed: ${allowed}.`,
      it: `${name} '${show(v)}' non è un codice ammesso; ammessi: ${allowed}.`,
    };
  }
  if (t.length !== undefined || t.minLength !== undefined || t.maxLength !== undefined) {
    const p = lengthProblem(v, cpLength(v), t, name);
    if (p) return p;
  }
  if (t.pattern && !t.pattern.test(v)) {
    const hint = t.patternHint ?? { en: 'the required format', it: 'il formato richiesto' };
    return v === ''
      ? { en: `${name} is empty; expected ${hint.en}.`, it: `${name} è vuoto; atteso ${hint.it}.` }
      : {
          en: `${name} '${show(v)}' is not valid: expected ${hint.en}.`,
          it: `${name} '${show(v)}' non è valido: atteso ${hint.it}.`,
        };
  }
  return null;
}

function lengthProblem(v: string, n: number, t: SimpleType, name: string): Text2 | null {
  const min = t.length ?? t.minLength ?? 0;
  const max = t.length ?? t.maxLength ?? Number.POSITIVE_INFINITY;
  if (n >= min && n <= max) return null;
  const want =
    max === Number.POSITIVE_INFINITY
      ? { en: `at least ${min} characters`, it: `almeno ${min} caratteri` }
      : range(min, max, 'characters', 'caratteri');
  if (n === 0)
    return {
      en: `${name} is empty; it must have ${want.en}.`,
      it: `${name} è vuoto; deve avere ${want.it}.`,
    };
  return {
    en: `${name} '${show(v)}' has ${n} characters; it must have ${want.en}.`,
    it: `${name} '${show(v)}' ha ${n} caratteri; deve averne ${want.it}.`,
  };
}

const DECIMAL = /^([+-]?)([0-9]*)(?:\.([0-9]*))?$/;

function checkDecimal(v: string, t: SimpleType, name: string): Text2 | null {
  if (t.pattern && t.pattern.test(v)) {
    if (t.maxInclusive !== undefined && Number(v) > Number(t.maxInclusive))
      return {
        en: `${name} '${show(v)}' is greater than ${t.maxInclusive}.`,
        it: `${name} '${show(v)}' è maggiore di ${t.maxInclusive}.`,
      };
    return null;
  }
  const f = t.decimal as DecimalFormat;
  const m = DECIMAL.exec(v);
  const base = `${name} '${show(v)}'`;
  if (!m || (m[2] === '' && !m[3])) {
    if (v === '')
      return { en: `${name} is empty; a number is required.`, it: `${name} è vuoto; è richiesto un numero.` };
    const comma = /^[+-]?[0-9.]*,[0-9]*$/.test(v);
    return comma
      ? {
          en: `${base} must use '.' as decimal separator, without thousands separators.`,
          it: `${base} deve usare '.' come separatore decimale, senza separatori delle migliaia.`,
        }
      : { en: `${base} is not a number.`, it: `${base} non è un numero.` };
  }
  const sign = m[1] ?? '';
  const int = m[2] ?? '';
  const frac = m[3] ?? '';
  if (sign === '+')
    return { en: `${base} must not have a '+' sign.`, it: `${base} non deve avere il segno '+'.` };
  if (sign === '-' && !f.signed)
    return { en: `${base} must not be negative.`, it: `${base} non può essere negativo.` };
  if (int === '')
    return {
      en: `${base} needs a digit before the decimal point ('0${v.slice(sign.length)}').`,
      it: `${base} richiede una cifra prima del punto decimale ('0${v.slice(sign.length)}').`,
    };
  if (int.length > f.intMax)
    return {
      en: `${base} has ${int.length} digits before the decimal point; at most ${f.intMax} are allowed.`,
      it: `${base} ha ${int.length} cifre prima del punto decimale; ne sono ammesse al massimo ${f.intMax}.`,
    };
  const fixed = frac.length < f.fracMin ? frac.padEnd(f.fracMin, '0') : frac.slice(0, f.fracMax);
  const want = range(f.fracMin, f.fracMax, 'decimals', 'decimali');
  return {
    en: `${base} must have ${want.en} ('${sign}${int}.${fixed}').`,
    it: `${base} deve avere ${want.it} ('${sign}${int}.${fixed}').`,
  };
}

function checkInteger(v: string, t: SimpleType, name: string): Text2 | null {
  if (!/^[+-]?[0-9]+$/.test(v)) {
    return v === ''
      ? {
          en: `${name} is empty; a whole number is required.`,
          it: `${name} è vuoto; è richiesto un numero intero.`,
        }
      : {
          en: `${name} '${show(v)}' is not a whole number.`,
          it: `${name} '${show(v)}' non è un numero intero.`,
        };
  }
  if (t.minInclusive === undefined && t.maxInclusive === undefined) return null;
  const neg = v.charCodeAt(0) === 0x2d;
  const digits = v.replace(/^[+-]?0*/, '');
  const n = digits.length > 15 ? Number.POSITIVE_INFINITY : Number(digits || '0');
  const value = neg ? -n : n;
  const min = t.minInclusive !== undefined ? Number(t.minInclusive) : Number.NEGATIVE_INFINITY;
  const max = t.maxInclusive !== undefined ? Number(t.maxInclusive) : Number.POSITIVE_INFINITY;
  if (value < min || value > max) {
    return {
      en: `${name} '${show(v)}' must be between ${t.minInclusive} and ${t.maxInclusive}.`,
      it: `${name} '${show(v)}' deve essere compreso tra ${t.minInclusive} e ${t.maxInclusive}.`,
    };
  }
  return null;
}

const DATE = /^(-?)([0-9]{4,})-([0-9]{2})-([0-9]{2})(Z|[+-][0-9]{2}:[0-9]{2})?$/;
const DATE_TIME =
  /^(-?)([0-9]{4,})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?$/;

const daysIn = (y: number, m: number): number =>
  m === 2
    ? (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
      ? 29
      : 28
    : m === 4 || m === 6 || m === 9 || m === 11
      ? 30
      : 31;

function checkDate(v: string, t: SimpleType, name: string): Text2 | null {
  const isDate = t.base === 'date';
  // libxml2 accepts no whitespace around dates, except trailing whitespace after the time zone
  // of a dateTime.
  const trimmed = isDate ? v : trimWs(v);
  const m = (isDate ? DATE : DATE_TIME).exec(trimmed);
  let ok = m !== null && (trimmed === v || (m[9] !== undefined && !isWs(v.charCodeAt(0))));
  let tz: string | undefined;
  if (m) {
    const ys = m[2] as string;
    const y = Number(ys) * (m[1] ? -1 : 1);
    const mo = Number(m[3]);
    const d = Number(m[4]);
    tz = isDate ? m[5] : m[9];
    if ((ys.length > 4 && ys.charCodeAt(0) === 0x30) || y === 0) ok = false;
    if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo)) ok = false;
    if (!isDate) {
      const h = Number(m[5]);
      const mi = Number(m[6]);
      const s = Number(m[7]);
      if (h === 24) {
        if (mi !== 0 || s !== 0 || (m[8] && !/^\.0+$/.test(m[8]))) ok = false;
      } else if (h > 23 || mi > 59 || s > 59) ok = false;
    }
    if (tz && tz !== 'Z') {
      const th = Number(tz.slice(1, 3));
      const tm = Number(tz.slice(4, 6));
      if (th > 14 || tm > 59 || (th === 14 && tm > 0)) ok = false;
    }
  }
  if (!ok) {
    const fmt = isDate ? 'YYYY-MM-DD' : 'YYYY-MM-DDThh:mm:ss';
    const fmtIt = isDate ? 'AAAA-MM-GG' : 'AAAA-MM-GGThh:mm:ss';
    const ws = v !== trimWs(v);
    return {
      en: `${name} '${show(v)}' is not a valid ${isDate ? 'date' : 'date and time'} (${fmt}${ws ? ', without spaces' : ''}).`,
      it: `${name} '${show(v)}' non è ${isDate ? 'una data valida' : 'una data e ora valida'} (${fmtIt}${ws ? ', senza spazi' : ''}).`,
    };
  }
  if (t.minInclusive !== undefined && m) {
    // Lower bound without time zone (as in DataFatturaType). libxml2: a value without time zone
    // compares by date; with a time zone it must be strictly after the bound's midnight in UTC.
    const cmp = compareToBound(m, t.minInclusive);
    let below = cmp < 0;
    if (!below && cmp === 0 && tz) below = tz === 'Z' || tz.charCodeAt(0) === 0x2b || tz === '-00:00';
    if (below)
      return {
        en: `${name} '${show(v)}' is before ${t.minInclusive}.`,
        it: `${name} '${show(v)}' è anteriore al ${t.minInclusive}.`,
      };
  }
  return null;
}

/** The models' date bounds (YYYY-MM-DD, optionally negative / longer years), parsed once each. */
const BOUNDS = new Map<string, readonly [number, number, number] | null>();

/** Compares a date matched by DATE or DATE_TIME with a bound, as YYYY-MM-DD strings compare. */
function compareToBound(m: RegExpExecArray, bound: string): number {
  let b = BOUNDS.get(bound);
  if (b === undefined) {
    const pb = /^(-?[0-9]+)-([0-9]{2})-([0-9]{2})$/.exec(bound);
    b = pb ? [Number(pb[1]), Number(pb[2]), Number(pb[3])] : null;
    BOUNDS.set(bound, b);
  }
  if (b === null) return 0;
  return Number(`${m[1]}${m[2]}`) - b[0] || Number(m[3]) - b[1] || Number(m[4]) - b[2];
}

function b64(c: number): number {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26;
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52;
  if (c === 0x2b) return 62;
  if (c === 0x2f) return 63;
  if (c === 0x3d) return 64;
  return -1;
}

/** base64Binary as libxml2 accepts it: other characters are ignored, padding must be consistent. */
function base64Ok(s: string): boolean {
  let data = 0;
  let pad = 0;
  let k = 0;
  let last = -1;
  for (; k < s.length; k++) {
    const d = b64(s.charCodeAt(k));
    if (d < 0) continue;
    if (d < 64) {
      data++;
      last = d;
    } else break;
  }
  for (; k < s.length; k++) {
    const d = b64(s.charCodeAt(k));
    if (d < 0) continue;
    if (d < 64) return false;
    pad++;
  }
  if (pad === 0) return data % 4 === 0;
  if (pad === 1) return data % 4 === 3 && (last & 0x03) === 0;
  if (pad === 2) return data % 4 === 2 && (last & 0x0f) === 0;
  return false;
}
