import type { XmlElement } from '../../src/invoice/xml.js';
import { prng } from '../helpers/daemon.js';

/**
 * Seeded, deterministic mutation generator for the differential test against the official XSD
 * (xsd.test.ts). What a mutation can do is read from the official XSD itself (element order,
 * multiplicity, choices, simple types with their patterns, lengths, ranges and code lists), never
 * from fatturad's own model, so a mistake in the model cannot leak into the generator.
 *
 * Structural mutations: delete / duplicate / swap / rename / move elements, insert unknown or
 * foreign elements, insert missing optional elements (valid content), Denominazione vs
 * Nome+Cognome, versione and other attributes, namespaces and prefixes, text and CDATA inside
 * element-only content, an XML-DSig Signature. Value mutations: values regenerated from the type
 * (valid content changes: amounts, rates, codes, dates...), lengths and pattern repetitions at
 * their limits and one beyond, pattern violations, code lists, decimals with 0/1/2/3/8/9 digits,
 * integer ranges, valid and impossible dates, empty text, whitespace, characters outside
 * Latin-1, character references, CDATA, ISO-8859-1 encoding.
 */

export const NS_DS = 'http://www.w3.org/2000/09/xmldsig#';
export const NS_XSI = 'http://www.w3.org/2001/XMLSchema-instance';
const NS_XML = 'http://www.w3.org/XML/1998/namespace';
const NS_XS = 'http://www.w3.org/2001/XMLSchema';

// ---------------------------------------------------------------------------------------------
// Seeded choices over the project's test PRNG (mulberry32), so a failing seed can be replayed.

export class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from an empty list');
    return xs[this.int(xs.length)] as T;
  }
}

// ---------------------------------------------------------------------------------------------
// The official XSD, read into what the generator needs.

export type Base =
  | 'string'
  | 'normalizedString'
  | 'token'
  | 'decimal'
  | 'integer'
  | 'date'
  | 'dateTime'
  | 'base64Binary'
  | 'anyURI';

export interface SimpleTypeInfo {
  name: string;
  base: Base;
  pattern?: Rx;
  patternSource?: string;
  enumeration: string[];
  length?: number;
  minLength?: number;
  maxLength?: number;
  minInclusive?: string;
  maxInclusive?: string;
}

export interface ElementDecl {
  name: string;
  ns: string;
  type: string;
  min: number;
  max: number;
  /** Position in the flattened content model. */
  order: number;
  /** Choice group and branch, -1 outside choices. */
  choice: number;
  branch: number;
  /** Value of an empty element. */
  default?: string;
}

export interface ComplexTypeInfo {
  name: string;
  elements: ElementDecl[];
  attributes: { name: string; type: string; required: boolean }[];
}

export interface Schema {
  ns: string;
  rootName: string;
  rootType: string;
  simple: Map<string, SimpleTypeInfo>;
  complex: Map<string, ComplexTypeInfo>;
  /** Every code of every code list (for codes of the wrong list). */
  allCodes: string[];
  allNames: string[];
}

const kids = (el: XmlElement, name: string): XmlElement[] =>
  el.children.filter((c) => c.ns === NS_XS && c.name === name);
const local = (qname: string): string => qname.slice(qname.indexOf(':') + 1);

export function loadSchema(xsd: XmlElement): Schema {
  const ns = xsd.attrs.targetNamespace ?? '';
  const simple = new Map<string, SimpleTypeInfo>();
  const complex = new Map<string, ComplexTypeInfo>();
  for (const b of ['string', 'normalizedString', 'token', 'decimal', 'integer', 'date', 'dateTime']) {
    simple.set(`xs:${b}`, { name: `xs:${b}`, base: b as Base, enumeration: [] });
  }
  simple.set('xs:base64Binary', { name: 'xs:base64Binary', base: 'base64Binary', enumeration: [] });
  for (const st of kids(xsd, 'simpleType')) {
    const r = kids(st, 'restriction')[0];
    if (!r) throw new Error(`simpleType ${st.attrs.name} without restriction`);
    const info: SimpleTypeInfo = {
      name: st.attrs.name ?? '',
      base: local(r.attrs.base ?? 'string') as Base,
      enumeration: [],
    };
    for (const f of r.children) {
      const v = f.attrs.value ?? '';
      switch (f.name) {
        case 'pattern':
          info.patternSource = v;
          info.pattern = parseRx(v);
          break;
        case 'enumeration':
          info.enumeration.push(v);
          break;
        case 'length':
          info.length = Number(v);
          break;
        case 'minLength':
          info.minLength = Number(v);
          break;
        case 'maxLength':
          info.maxLength = Number(v);
          break;
        case 'minInclusive':
          info.minInclusive = v;
          break;
        case 'maxInclusive':
          info.maxInclusive = v;
          break;
      }
    }
    simple.set(info.name, info);
  }
  let choices = 0;
  for (const ct of kids(xsd, 'complexType')) {
    const info: ComplexTypeInfo = { name: ct.attrs.name ?? '', elements: [], attributes: [] };
    const walk = (g: XmlElement, choice: number, branch: number): void => {
      let b = 0;
      for (const c of g.children) {
        if (c.ns !== NS_XS) continue;
        if (c.name === 'element') {
          const ref = c.attrs.ref;
          const max = c.attrs.maxOccurs ?? '1';
          info.elements.push({
            name: ref ? local(ref) : (c.attrs.name ?? ''),
            ns: ref ? NS_DS : '',
            type: ref ? '#ds' : (c.attrs.type ?? ''),
            min: Number(c.attrs.minOccurs ?? '1'),
            max: max === 'unbounded' ? Number.POSITIVE_INFINITY : Number(max),
            order: info.elements.length,
            choice,
            branch: choice >= 0 && g.name === 'choice' ? b : branch,
            ...(c.attrs.default !== undefined ? { default: c.attrs.default } : {}),
          });
        } else if (c.name === 'sequence') walk(c, choice, choice >= 0 && g.name === 'choice' ? b : branch);
        else if (c.name === 'choice') walk(c, choices++, -1);
        if (g.name === 'choice') b++;
      }
    };
    for (const c of ct.children) if (c.name === 'sequence' || c.name === 'choice') walk(c, -1, -1);
    for (const a of kids(ct, 'attribute'))
      info.attributes.push({
        name: a.attrs.name ?? '',
        type: a.attrs.type ?? '',
        required: a.attrs.use === 'required',
      });
    complex.set(info.name, info);
  }
  const rootEl = kids(xsd, 'element')[0];
  if (!rootEl) throw new Error('no global element in the schema');
  const allCodes = [...new Set([...simple.values()].flatMap((s) => s.enumeration))];
  const allNames = [...new Set([...complex.values()].flatMap((c) => c.elements.map((e) => e.name)))];
  return {
    ns,
    rootName: rootEl.attrs.name ?? '',
    rootType: rootEl.attrs.type ?? '',
    simple,
    complex,
    allCodes,
    allNames,
  };
}

// ---------------------------------------------------------------------------------------------
// XSD regular expressions (the subset the FatturaPA schema uses): parse and generate.

type CharSet = { ranges: [number, number][]; neg: boolean };
type Piece = { atom: { set: CharSet } | { alts: Piece[][] }; min: number; max: number };
export type Rx = Piece[][];

const BLOCKS: Record<string, [number, number]> = {
  IsBasicLatin: [0, 0x7f],
  'IsLatin-1Supplement': [0x80, 0xff],
};

export function parseRx(src: string): Rx {
  let i = 0;
  const peek = (): string => src[i] ?? '';
  const escape = (): CharSet => {
    const c = src[i++] ?? '';
    if (c === 'p' || c === 'P') {
      const end = src.indexOf('}', i);
      const name = src.slice(i + 1, end);
      i = end + 1;
      const r = BLOCKS[name];
      if (!r) throw new Error(`unknown block ${name}`);
      return { ranges: [r], neg: c === 'P' };
    }
    if (c === 'd') return { ranges: [[0x30, 0x39]], neg: false };
    const map: Record<string, number> = { n: 10, r: 13, t: 9 };
    const cp = map[c] ?? c.charCodeAt(0);
    return { ranges: [[cp, cp]], neg: false };
  };
  const single = (): number => {
    if (peek() === '\\') {
      i++;
      const s = escape();
      return (s.ranges[0] as [number, number])[0];
    }
    return src.charCodeAt(i++);
  };
  const cls = (): CharSet => {
    const set: CharSet = { ranges: [], neg: false };
    if (peek() === '^') {
      set.neg = true;
      i++;
    }
    let first = true;
    while (peek() !== ']' || first) {
      first = false;
      if (peek() === '\\' && (src[i + 1] === 'p' || src[i + 1] === 'P')) {
        i++;
        set.ranges.push(...escape().ranges);
        continue;
      }
      const lo = single();
      if (peek() === '-' && src[i + 1] !== ']' && src[i + 1] !== '[') {
        i++;
        set.ranges.push([lo, single()]);
      } else set.ranges.push([lo, lo]);
    }
    i++;
    return set;
  };
  const alts = (): Piece[][] => {
    const out: Piece[][] = [[]];
    while (i < src.length && peek() !== ')') {
      if (peek() === '|') {
        i++;
        out.push([]);
        continue;
      }
      let atom: Piece['atom'];
      const c = src[i++];
      if (c === '(') {
        atom = { alts: alts() };
        i++;
      } else if (c === '[') atom = { set: cls() };
      else if (c === '.')
        atom = {
          set: {
            ranges: [
              [10, 10],
              [13, 13],
            ],
            neg: true,
          },
        };
      else if (c === '\\') atom = { set: escape() };
      else {
        const cp = (c as string).charCodeAt(0);
        atom = { set: { ranges: [[cp, cp]], neg: false } };
      }
      let min = 1;
      let max = 1;
      const q = peek();
      if (q === '?' || q === '*' || q === '+') {
        i++;
        min = q === '+' ? 1 : 0;
        max = q === '?' ? 1 : Number.POSITIVE_INFINITY;
      } else if (q === '{') {
        const end = src.indexOf('}', i);
        const [a, b] = src.slice(i + 1, end).split(',');
        min = Number(a);
        max = b === undefined ? min : b === '' ? Number.POSITIVE_INFINITY : Number(b);
        i = end + 1;
      }
      (out[out.length - 1] as Piece[]).push({ atom, min, max });
    }
    return out;
  };
  return alts();
}

const xmlChar = (c: number): boolean =>
  c === 9 || c === 10 || c === 13 || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd);
const inSet = (s: CharSet, c: number): boolean => s.ranges.some(([a, b]) => c >= a && c <= b) !== s.neg;
const POOL: number[] = [];
for (let c = 0x20; c <= 0x7e; c++) POOL.push(c);
for (let c = 0xa0; c <= 0xff; c++) POOL.push(c);
POOL.push(9, 10, 0x20ac, 0x100, 0x3b1, 0x65e5);

function genChar(s: CharSet, rng: Rng): string {
  if (s.neg || rng.chance(0.85)) {
    const nice = POOL.filter((c) => inSet(s, c) && (s.neg || c > 0x20 || rng.chance(0.3)));
    if (nice.length > 0) return String.fromCodePoint(rng.pick(nice));
  }
  for (let k = 0; k < 50; k++) {
    const [a, b] = rng.pick(s.ranges);
    const c = rng.between(a, b);
    if (xmlChar(c) && !(c >= 0xd800 && c <= 0xdfff)) return String.fromCodePoint(c);
  }
  return 'A';
}

/** How repetitions are chosen: random within the limits, at them, or one beyond. */
export type Mode = 'random' | 'min' | 'max' | 'below' | 'above';

function genPieces(ps: Piece[], rng: Rng, mode: Mode, out: string[]): void {
  // Beyond the limits: shift the variable repetitions, or one fixed one if there are none.
  const variable = ps.filter((p) => p.min !== p.max);
  const shiftFixed =
    (mode === 'below' || mode === 'above') && variable.length === 0 ? rng.int(ps.length) : -1;
  ps.forEach((p, idx) => {
    const capped = Number.isFinite(p.max) ? p.max : p.min + 40;
    let n: number;
    if (p.min === p.max) {
      n = p.min;
      if (idx === shiftFixed) n += mode === 'above' ? 1 : -1;
    } else if (mode === 'min') n = p.min;
    else if (mode === 'max') n = capped;
    else if (mode === 'below') n = p.min - 1;
    else if (mode === 'above') n = capped + 1;
    else {
      const r = rng.next();
      n = r < 0.15 ? p.min : r < 0.3 ? capped : rng.between(p.min, Math.min(capped, p.min + 20));
    }
    for (let k = 0; k < Math.max(0, n); k++) {
      if ('set' in p.atom) out.push(genChar(p.atom.set, rng));
      else genPieces(rng.pick(p.atom.alts), rng, mode === 'random' ? mode : 'random', out);
    }
  });
}

export function genFromRx(rx: Rx, rng: Rng, mode: Mode = 'random'): string {
  const out: string[] = [];
  genPieces(rng.pick(rx), rng, mode, out);
  return out.join('');
}

// ---------------------------------------------------------------------------------------------
// Values.

const pad = (n: number, w: number): string => String(n).padStart(w, '0');
const digits = (rng: Rng, n: number): string => {
  let s = '';
  for (let k = 0; k < n; k++) s += String(rng.int(10));
  return s;
};

function randomDate(rng: Rng): string {
  const y = rng.between(1970, 2099);
  const m = rng.between(1, 12);
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const dim = m === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31;
  return `${y}-${pad(m, 2)}-${pad(rng.between(1, dim), 2)}`;
}

function randomDateTime(rng: Rng): string {
  const frac = rng.pick(['', '', '.000', `.${digits(rng, rng.between(1, 6))}`]);
  const tz = rng.pick(['', '', 'Z', '+01:00', '-05:30', '+14:00']);
  return `${randomDate(rng)}T${pad(rng.int(24), 2)}:${pad(rng.int(60), 2)}:${pad(rng.int(60), 2)}${frac}${tz}`;
}

function randomBase64(rng: Rng): string {
  const n = rng.between(0, 60);
  const bytes = Buffer.alloc(n);
  for (let k = 0; k < n; k++) bytes[k] = rng.int(256);
  const b = bytes.toString('base64');
  return rng.chance(0.3) ? (b.match(/.{1,16}/g) ?? []).join('\n') : b;
}

const STRING_CHARS = [
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,-/\'"&<>àèéìòùÀÈÉ°§',
  '€',
  'Ā',
  'ß',
  '日',
  '😀',
];

function randomString(rng: Rng, n: number): string {
  let s = '';
  for (let k = 0; k < n; k++)
    s += rng.chance(0.85) ? rng.pick(STRING_CHARS.slice(0, 62)) : rng.pick(STRING_CHARS);
  return s;
}

/** A value of type t: valid in 'random', 'min' and 'max' modes, one beyond a limit otherwise. */
export function genValue(t: SimpleTypeInfo, rng: Rng, mode: Mode = 'random'): string {
  if (t.enumeration.length > 0 && (mode === 'random' || mode === 'min' || mode === 'max'))
    return rng.pick(t.enumeration);
  switch (t.base) {
    case 'date':
      if (t.minInclusive && mode === 'min') return t.minInclusive;
      if (t.minInclusive && mode === 'below') return '1969-12-31';
      return randomDate(rng);
    case 'dateTime':
      return randomDateTime(rng);
    case 'base64Binary':
      return randomBase64(rng);
    case 'integer': {
      const min = Number(t.minInclusive ?? -1000);
      const max = Number(t.maxInclusive ?? 100000);
      if (mode === 'min') return String(min);
      if (mode === 'max') return String(max);
      if (mode === 'below') return String(min - 1);
      if (mode === 'above') return String(max + 1);
      return String(rng.between(min, Math.min(max, min + rng.pick([9, 99, 9999]))));
    }
    default:
      break;
  }
  if (t.pattern) {
    let v = '';
    for (let k = 0; k < 30; k++) {
      v = genFromRx(t.pattern, rng, mode);
      if (t.maxInclusive !== undefined && mode !== 'above' && Number(v) > Number(t.maxInclusive)) continue;
      const n = [...v].length;
      if (mode === 'random' && (n < (t.minLength ?? 0) || n > (t.maxLength ?? Infinity))) continue;
      break;
    }
    return v;
  }
  const min = t.length ?? t.minLength ?? 0;
  const max = t.length ?? t.maxLength ?? 100;
  const n =
    mode === 'min'
      ? min
      : mode === 'max'
        ? max
        : mode === 'below'
          ? min - 1
          : mode === 'above'
            ? max + 1
            : rng.between(min, Math.min(max, min + 30));
  return randomString(rng, Math.max(0, n));
}

const ODD = [
  'a',
  'z',
  'A',
  'Z',
  '0',
  '9',
  ' ',
  '-',
  '.',
  ',',
  '@',
  'à',
  '€',
  'Ā',
  '\t',
  '\n',
  'ß',
  '"',
  '&',
  '<',
  '😀',
];

/** A small random edit (may or may not break the pattern). */
export function perturb(v: string, rng: Rng): { value: string; how: string } {
  const cps = [...v];
  const at = rng.int(cps.length + 1);
  const c = rng.pick(ODD);
  switch (rng.int(7)) {
    case 0:
      cps.splice(at, 0, c);
      return { value: cps.join(''), how: `insert ${JSON.stringify(c)} at ${at}` };
    case 1:
      cps.splice(Math.min(at, cps.length - 1), 1);
      return { value: cps.join(''), how: `delete char ${at}` };
    case 2:
      cps.splice(Math.min(at, cps.length - 1), 1, c);
      return { value: cps.join(''), how: `replace char ${at} by ${JSON.stringify(c)}` };
    case 3:
      return { value: v.toLowerCase(), how: 'lower case' };
    case 4:
      return { value: v + (cps[cps.length - 1] ?? 'X'), how: 'repeat last char' };
    case 5:
      return { value: v.slice(1), how: 'drop first char' };
    default:
      return { value: v.toUpperCase(), how: 'upper case' };
  }
}

// ---------------------------------------------------------------------------------------------
// Document tree.

export interface Attr {
  name: string;
  ns: string;
  value: string;
}

export interface Node {
  name: string;
  ns: string;
  attrs: Attr[];
  /** Text of a leaf; text standing among the children of a complex element (a mutation). */
  text: string;
  children: Node[];
  /** XSD type name ('' unknown), recomputed after every mutation by retype(). */
  type: string;
  /** Serialised content instead of the escaped text (CDATA, character references), while the
   * text is still `rawOf`. */
  raw?: string;
  rawOf?: string;
  /** Markup before the start tag (a comment or processing instruction). */
  before?: string;
  /** Declares xmlns="" even when no default namespace is in scope. */
  resetDefault?: boolean;
}

export interface Doc {
  root: Node;
  /** Prefix of the root namespace; null: it is the default namespace of the root element. */
  rootPrefix: string | null;
  /** 'none': UTF-8 without XML declaration. */
  encoding: 'UTF-8' | 'UTF-8-BOM' | 'ISO-8859-1' | 'UTF-16' | 'none';
  indent: boolean;
}

export function fromXml(el: XmlElement): Node {
  const attrs: Attr[] = Object.entries(el.attrs).map(([name, value]) => ({ name, ns: '', value }));
  for (const [k, value] of Object.entries(el.nsAttrs)) {
    const m = /^\{(.*)\}(.*)$/.exec(k);
    if (m) attrs.push({ name: m[2] as string, ns: m[1] as string, value });
  }
  const children = el.children.map(fromXml);
  return {
    name: el.name,
    ns: el.ns,
    attrs,
    text: children.length > 0 && el.text.trim() === '' ? '' : el.text,
    children,
    type: '',
  };
}

export function clone(n: Node): Node {
  return { ...n, attrs: n.attrs.map((a) => ({ ...a })), children: n.children.map(clone) };
}

export function retype(schema: Schema, root: Node): void {
  const walk = (n: Node, type: string): void => {
    n.type = type;
    const ct = schema.complex.get(type);
    for (const c of n.children) {
      const d = ct?.elements.find((e) => e.name === c.name && e.ns === c.ns);
      walk(c, d ? d.type : '');
    }
  };
  walk(root, root.name === schema.rootName && root.ns === schema.ns ? schema.rootType : '');
}

const escText = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
const escAttr = (s: string): string =>
  escText(s).replace(/"/g, '&quot;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;');

export function serialize(doc: Doc, rootNs: string): Buffer {
  const enc = doc.encoding === 'UTF-8-BOM' ? 'UTF-8' : doc.encoding;
  const out: string[] = enc === 'none' ? [] : [`<?xml version="1.0" encoding="${enc}"?>\n`];
  const write = (n: Node, defaultNs: string, depth: number): void => {
    const decls: string[] = [];
    let prefix = '';
    let def = defaultNs;
    if (depth === 0) {
      decls.push(`xmlns:ds="${NS_DS}"`, `xmlns:xsi="${NS_XSI}"`);
      if (doc.rootPrefix === null) {
        def = n.ns;
        decls.push(`xmlns="${n.ns}"`);
      } else if (n.ns !== '') {
        prefix = `${doc.rootPrefix}:`;
        decls.push(`xmlns:${doc.rootPrefix}="${n.ns}"`);
      }
    } else if (n.ns === '') {
      if (defaultNs !== '' || n.resetDefault) {
        def = '';
        decls.push('xmlns=""');
      }
    } else if (n.ns === NS_DS) prefix = 'ds:';
    else if (n.ns === rootNs && doc.rootPrefix !== null) prefix = `${doc.rootPrefix}:`;
    else if (n.ns === defaultNs) prefix = '';
    else {
      prefix = 'x:';
      decls.push(`xmlns:x="${n.ns}"`);
    }
    const qname = prefix + n.name;
    let open = `<${qname}`;
    for (const d of decls) open += ` ${d}`;
    let a = 0;
    for (const at of n.attrs) {
      let name = at.name;
      if (at.ns === NS_XSI) name = `xsi:${at.name}`;
      else if (at.ns === NS_XML) name = `xml:${at.name}`;
      else if (at.ns !== '') {
        name = `a${a}:${at.name}`;
        open += ` xmlns:a${a++}="${at.ns}"`;
      }
      open += ` ${name}="${escAttr(at.value)}"`;
    }
    const ind = doc.indent ? `\n${'  '.repeat(depth)}` : '';
    if (n.before) out.push(n.before);
    if (n.children.length === 0) {
      const content = n.raw !== undefined && n.rawOf === n.text ? n.raw : escText(n.text);
      out.push(content === '' ? `${open}/>` : `${open}>${content}</${qname}>`);
      return;
    }
    out.push(`${open}>`);
    if (n.raw !== undefined && n.rawOf === n.text) out.push(n.raw);
    else if (n.text !== '') out.push(escText(n.text));
    for (const c of n.children) {
      if (doc.indent) out.push(`${ind}  `);
      write(c, def, depth + 1);
    }
    out.push(`${ind}</${qname}>`);
  };
  write(doc.root, '', 0);
  out.push('\n');
  const text = out.join('');
  if (doc.encoding === 'UTF-8' || doc.encoding === 'none') return Buffer.from(text, 'utf8');
  if (doc.encoding === 'UTF-8-BOM') return Buffer.from(`\ufeff${text}`, 'utf8');
  if (doc.encoding === 'UTF-16') return Buffer.from(`\ufeff${text}`, 'utf16le');
  // Characters beyond Latin-1 as character references (text and attribute values alike).
  return Buffer.from(
    text.replace(/[\u0100-\u{10ffff}]/gu, (c) => `&#x${(c.codePointAt(0) as number).toString(16)};`),
    'latin1',
  );
}

// ---------------------------------------------------------------------------------------------
// Mutations.

interface Slot {
  n: Node;
  parent: Node | null;
  path: string;
}

function slots(root: Node): Slot[] {
  const out: Slot[] = [];
  const walk = (n: Node, parent: Node | null, path: string): void => {
    out.push({ n, parent, path });
    const counts = new Map<string, number>();
    for (const c of n.children) counts.set(c.name, (counts.get(c.name) ?? 0) + 1);
    const seen = new Map<string, number>();
    for (const c of n.children) {
      const k = (seen.get(c.name) ?? 0) + 1;
      seen.set(c.name, k);
      walk(c, n, `${path}/${c.name}${(counts.get(c.name) ?? 0) > 1 ? `[${k}]` : ''}`);
    }
  };
  walk(root, null, `/${root.name}`);
  return out;
}

const leaf = (name: string, text: string, ns = ''): Node => ({
  name,
  ns,
  attrs: [],
  text,
  children: [],
  type: '',
});
const el = (name: string, children: Node[], attrs: Attr[] = [], ns = NS_DS): Node => ({
  name,
  ns,
  attrs,
  text: '',
  children,
  type: '',
});
const at = (name: string, value: string): Attr => ({ name, ns: '', value });

/** An XML-DSig Signature as an XAdES-signed FatturaPA carries (content not verified). */
function signature(rng: Rng): Node {
  const ref = (uri: string, transforms: boolean): Node =>
    el(
      'Reference',
      [
        ...(transforms
          ? [
              el('Transforms', [
                el(
                  'Transform',
                  [],
                  [at('Algorithm', 'http://www.w3.org/2000/09/xmldsig#enveloped-signature')],
                ),
              ]),
            ]
          : []),
        el('DigestMethod', [], [at('Algorithm', 'http://www.w3.org/2001/04/xmlenc#sha256')]),
        leaf('DigestValue', 'q1w2e3r4t5y6u7i8o9p0AAAAAAAAAAAAAAAAAAAAAAA=', NS_DS),
      ],
      [
        at('URI', uri),
        ...(rng.chance(0.5) ? [at('Id', rng.chance(0.9) ? `r-id-${uri.length}` : 'r-id')] : []),
      ],
    );
  const qp: Node = {
    ...el(
      'QualifyingProperties',
      [
        el(
          'SignedProperties',
          [leaf('SigningTime', '2024-01-10T10:00:00Z', 'http://uri.etsi.org/01903/v1.3.2#')],
          [at('Id', 'xades-sp')],
          'http://uri.etsi.org/01903/v1.3.2#',
        ),
      ],
      [at('Target', '#sig1')],
      'http://uri.etsi.org/01903/v1.3.2#',
    ),
  };
  return el(
    'Signature',
    [
      el('SignedInfo', [
        el(
          'CanonicalizationMethod',
          [],
          [at('Algorithm', 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315')],
        ),
        el('SignatureMethod', [], [at('Algorithm', 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256')]),
        ref('', true),
        ...(rng.chance(0.5) ? [ref('#xades-sp', false)] : []),
      ]),
      leaf('SignatureValue', 'AAECAwQFBgcICQ==', NS_DS),
      ...(rng.chance(0.7)
        ? [el('KeyInfo', [el('X509Data', [leaf('X509Certificate', 'MIIBAAAA', NS_DS)])])]
        : []),
      ...(rng.chance(0.6) ? [el('Object', [qp])] : []),
    ],
    rng.chance(0.7) ? [at('Id', 'sig1')] : [],
  );
}

const DS_TYPES: Record<string, string> = {
  Signature: 'SignatureType',
  SignedInfo: 'SignedInfoType',
  CanonicalizationMethod: 'CanonicalizationMethodType',
  SignatureMethod: 'SignatureMethodType',
  Reference: 'ReferenceType',
  Transforms: 'TransformsType',
  Transform: 'TransformType',
  DigestMethod: 'DigestMethodType',
  DigestValue: 'DigestValueType',
  SignatureValue: 'SignatureValueType',
  KeyInfo: 'KeyInfoType',
  X509Data: 'X509DataType',
  Object: 'ObjectType',
};

const DECIMAL_INT = [1, 2, 3, 4, 5, 11, 12, 13];
const DECIMAL_FRAC = [-1, 0, 1, 2, 2, 3, 8, 9];
const RATES = [
  '100.00',
  '100.01',
  '99.99',
  '0.00',
  '00.00',
  '000.00',
  '100.000',
  '101.00',
  '1000.00',
  '5.5',
  '22.0',
];
const INTEGERS = [
  '0',
  '1',
  '-1',
  '+1',
  '01',
  '0001',
  '999',
  '1000',
  '9999',
  '10000',
  ' 5',
  '5 ',
  '5.0',
  '1e2',
  '',
  '00000000000000000001',
  '99999999999999999999',
];
const DATES = [
  '1970-01-01',
  '1969-12-31',
  '1970-01-01Z',
  '1970-01-01+01:00',
  '1970-01-01-01:00',
  '1970-01-02+14:00',
  '2024-02-29',
  '2023-02-29',
  '2024-02-30',
  '2024-04-31',
  '2024-13-01',
  '2024-00-10',
  '2024-01-00',
  '2024-1-01',
  '2024-01-1',
  '24-01-01',
  '02024-01-01',
  '12024-01-01',
  '0000-01-01',
  '-2024-01-01',
  '2024-01-01T00:00:00',
  '2024-01-01 ',
  ' 2024-01-01',
  '2024-01-01+15:00',
  '2024-01-01+14:00',
  '2024-01-01+13:60',
  '2024-01-01Z ',
  '2000-02-29',
  '1900-02-29',
  '2100-02-28',
  '2024/01/01',
  '01-01-2024',
];
const DATE_TIMES = [
  '2024-01-10T16:46:12',
  '2024-01-10T16:46:12.000+02:00',
  '2024-01-10T24:00:00',
  '2024-01-10T24:00:01',
  '2024-01-10T24:00:00.000',
  '2024-01-10T23:59:60',
  '2024-01-10T23:60:00',
  '2024-01-10T16:46',
  '2024-01-10',
  '2024-01-10T16:46:12Z',
  ' 2024-01-10T16:46:12',
  '2024-01-10T16:46:12 ',
  '2024-01-10T16:46:12Z ',
  '2024-01-10T16:46:12.5',
  '2024-01-10T16:46:12.',
  '2024-02-30T10:00:00',
  '2024-01-10t16:46:12',
  '2024-01-10T16:46:12+14:00',
  '2024-01-10T16:46:12-14:01',
  '1969-12-31T23:59:59',
];
const GENERIC = [
  '',
  ' ',
  'AAAA',
  'AAA=',
  'x',
  'abc def',
  '#id',
  '1abc',
  'http://example.com/a b',
  '%zz',
  'a#b#c',
];

export interface Mutation {
  /** 'structure' or 'content'. */
  kind: 'structure' | 'content';
  op: string;
  description: string;
}

export interface Mutant {
  description: string;
  ops: string[];
  kinds: Mutation['kind'][];
  bytes: Buffer;
}

type Op = (doc: Doc, rng: Rng) => string | null;

export class Mutator {
  /** Subtrees of the samples by XSD type, to insert as valid content. */
  private readonly library = new Map<string, Node[]>();

  constructor(
    private readonly schema: Schema,
    samples: Node[],
  ) {
    for (const s of samples) {
      retype(schema, s);
      for (const { n } of slots(s)) {
        if (!n.type) continue;
        const list = this.library.get(n.type) ?? [];
        list.push(n);
        this.library.set(n.type, list);
      }
    }
  }

  private simpleType(n: Node): SimpleTypeInfo | undefined {
    return this.schema.simple.get(n.type);
  }

  private declOf(parent: Node | null, n: Node): ElementDecl | undefined {
    if (!parent) return undefined;
    return this.schema.complex.get(parent.type)?.elements.find((e) => e.name === n.name && e.ns === n.ns);
  }

  /** Valid content for an element of `type`: a sample's subtree, or built from the schema. */
  private content(name: string, type: string, rng: Rng, depth = 0): Node {
    const st = this.schema.simple.get(type);
    if (st) return { ...leaf(name, genValue(st, rng)), type };
    const lib = this.library.get(type);
    if (lib && rng.chance(0.7)) return { ...clone(rng.pick(lib)), name, ns: '' };
    const ct = this.schema.complex.get(type);
    const n: Node = { ...leaf(name, ''), type };
    if (!ct || depth > 8) return n;
    const branches = new Map<number, number>();
    for (const e of ct.elements) {
      if (e.choice >= 0) {
        if (!branches.has(e.choice)) branches.set(e.choice, e.branch);
        if (branches.get(e.choice) !== e.branch) continue;
      }
      const count = e.min > 0 ? e.min : rng.chance(0.3) ? 1 : 0;
      for (let k = 0; k < count; k++) n.children.push(this.content(e.name, e.type, rng, depth + 1));
    }
    return n;
  }

  /** Where an element with decl `d` belongs among the children of `parent`. */
  private insertAt(parent: Node, d: ElementDecl): number {
    let i = 0;
    parent.children.forEach((c, k) => {
      const cd = this.declOf(parent, c);
      if (cd && cd.order <= d.order) i = k + 1;
    });
    return i;
  }

  // --- Structural operations ---

  private readonly structural: [number, string, Op][] = [
    [
      3,
      'delete',
      (doc, rng) => {
        const s = rng.pick(slots(doc.root).filter((x) => x.parent));
        s.parent?.children.splice(s.parent.children.indexOf(s.n), 1);
        return `delete ${s.path}`;
      },
    ],
    [
      4,
      'delete-optional',
      (doc, rng) => {
        const opt = slots(doc.root).filter((x) => (this.declOf(x.parent, x.n)?.min ?? 1) === 0);
        if (opt.length === 0) return null;
        const s = rng.pick(opt);
        s.parent?.children.splice(s.parent.children.indexOf(s.n), 1);
        return `delete optional ${s.path}`;
      },
    ],
    [
      3,
      'duplicate',
      (doc, rng) => {
        const s = rng.pick(slots(doc.root).filter((x) => x.parent));
        s.parent?.children.splice(s.parent.children.indexOf(s.n) + 1, 0, clone(s.n));
        return `duplicate ${s.path}`;
      },
    ],
    [
      3,
      'duplicate-repeatable',
      (doc, rng) => {
        const rep = slots(doc.root).filter((x) => (this.declOf(x.parent, x.n)?.max ?? 1) > 1);
        if (rep.length === 0) return null;
        const s = rng.pick(rep);
        s.parent?.children.splice(s.parent.children.indexOf(s.n) + 1, 0, clone(s.n));
        return `duplicate repeatable ${s.path}`;
      },
    ],
    [
      3,
      'swap',
      (doc, rng) => {
        const c = slots(doc.root).filter((x) => (x.parent?.children.length ?? 0) > 1);
        if (c.length === 0) return null;
        const s = rng.pick(c);
        const ks = (s.parent as Node).children;
        const i = ks.indexOf(s.n);
        const j = i + 1 < ks.length ? i + 1 : i - 1;
        [ks[i], ks[j]] = [ks[j] as Node, ks[i] as Node];
        return `swap ${s.path} with following/preceding ${ks[i]?.name}`;
      },
    ],
    [
      3,
      'rename',
      (doc, rng) => {
        const s = rng.pick(slots(doc.root).filter((x) => x.parent));
        const siblings = this.schema.complex.get(s.parent?.type ?? '')?.elements.map((e) => e.name) ?? [];
        const r = rng.next();
        const to =
          r < 0.4 && siblings.length > 0
            ? rng.pick(siblings)
            : r < 0.7
              ? rng.pick(this.schema.allNames)
              : r < 0.85
                ? s.n.name.toLowerCase()
                : 'Sconosciuto';
        const from = s.path;
        s.n.name = to;
        return `rename ${from} to ${to}`;
      },
    ],
    [
      3,
      'move',
      (doc, rng) => {
        const all = slots(doc.root);
        const s = rng.pick(all.filter((x) => x.parent));
        const inside = new Set(slots(s.n).map((x) => x.n));
        const targets = all.filter((x) => x.n.children.length > 0 && !inside.has(x.n));
        if (targets.length === 0) return null;
        const t = rng.pick(targets);
        s.parent?.children.splice(s.parent.children.indexOf(s.n), 1);
        const i = rng.int(t.n.children.length + 1);
        t.n.children.splice(i, 0, s.n);
        return `move ${s.path} into ${t.path} at ${i}`;
      },
    ],
    [
      4,
      'move-same-type',
      (doc, rng) => {
        // Into another parent of the same type, where the schema puts it; mostly where there is
        // room for it and the source keeps enough.
        const all = slots(doc.root);
        const count = (p: Node, n: Node): number => p.children.filter((c) => c.name === n.name).length;
        const pairs: { s: Slot; t: Slot; fits: boolean }[] = [];
        for (const s of all) {
          if (!s.parent || !s.parent.type) continue;
          const d = this.declOf(s.parent, s.n);
          for (const t of all) {
            if (t.n === s.parent || t.n.type !== s.parent.type || slots(s.n).some((x) => x.n === t.n))
              continue;
            const fits = !!d && count(t.n, s.n) < d.max && count(s.parent, s.n) > d.min;
            pairs.push({ s, t, fits });
          }
        }
        if (pairs.length === 0) return null;
        const good = pairs.filter((x) => x.fits);
        const { s, t } = rng.pick(good.length > 0 && rng.chance(0.7) ? good : pairs);
        const d = this.declOf(s.parent, s.n);
        s.parent?.children.splice(s.parent.children.indexOf(s.n), 1);
        t.n.children.splice(d ? this.insertAt(t.n, d) : 0, 0, s.n);
        return `move ${s.path} into ${t.path} (same type)`;
      },
    ],
    [
      3,
      'insert-unknown',
      (doc, rng) => {
        const s = rng.pick(slots(doc.root).filter((x) => x.n.children.length > 0));
        const what = rng.pick(['unknown', 'known-name', 'foreign-ns', 'root-ns', 'ds']);
        const n =
          what === 'unknown'
            ? leaf('Sconosciuto', 'x')
            : what === 'known-name'
              ? leaf(rng.pick(this.schema.allNames), '1')
              : what === 'foreign-ns'
                ? leaf('Extra', 'x', 'urn:example:other')
                : what === 'root-ns'
                  ? leaf('Extra', 'x', this.schema.ns)
                  : leaf('KeyName', 'k', NS_DS);
        const i = rng.int(s.n.children.length + 1);
        s.n.children.splice(i, 0, n);
        return `insert ${what} element ${n.name} into ${s.path} at ${i}`;
      },
    ],
    [
      8,
      'insert-optional',
      (doc, rng) => {
        // A declared element that is missing (or repeatable), with valid content, in its place.
        const cands: { s: Slot; d: ElementDecl }[] = [];
        for (const s of slots(doc.root)) {
          const ct = this.schema.complex.get(s.n.type);
          if (!ct) continue;
          for (const d of ct.elements) {
            if (d.type === '#ds') continue;
            const have = s.n.children.filter((c) => c.name === d.name && c.ns === d.ns).length;
            if (have < d.max) cands.push({ s, d });
          }
        }
        if (cands.length === 0) return null;
        const { s, d } = rng.pick(cands);
        const n = this.content(d.name, d.type, rng);
        const wrong = rng.chance(0.15);
        const i = wrong ? rng.int(s.n.children.length + 1) : this.insertAt(s.n, d);
        s.n.children.splice(i, 0, n);
        return `insert ${d.name} (${d.type}) into ${s.path}${wrong ? ` at random position ${i}` : ''}`;
      },
    ],
    [
      4,
      'anagrafica',
      (doc, rng) => {
        const an = slots(doc.root).filter((x) =>
          this.schema.complex.get(x.n.type)?.elements.some((e) => e.name === 'Denominazione'),
        );
        if (an.length === 0) return null;
        const s = rng.pick(an);
        const v = rng.pick([
          'nome-cognome',
          'denominazione',
          'both',
          'none',
          'nome-only',
          'cognome-only',
          'cognome-nome',
          'titolo-first',
          'denominazione-nome',
        ]);
        const keep = s.n.children.filter((c) => !['Denominazione', 'Nome', 'Cognome'].includes(c.name));
        const den = leaf('Denominazione', 'ACME S.R.L.');
        const nome = leaf('Nome', 'MARIO');
        const cog = leaf('Cognome', 'ROSSI');
        const at0 = s.n.children.findIndex((c) => ['Denominazione', 'Nome', 'Cognome'].includes(c.name));
        const pos = at0 < 0 ? 0 : Math.min(at0, keep.length);
        const ins: Record<string, Node[]> = {
          'nome-cognome': [nome, cog],
          denominazione: [den],
          both: [den, nome, cog],
          none: [],
          'nome-only': [nome],
          'cognome-only': [cog],
          'cognome-nome': [cog, nome],
          'titolo-first': [],
          'denominazione-nome': [den, nome],
        };
        s.n.children = [...keep.slice(0, pos), ...(ins[v] ?? []), ...keep.slice(pos)];
        if (v === 'titolo-first') s.n.children.unshift(leaf('Titolo', 'DOTT.'), nome, cog);
        return `${s.path}: ${v}`;
      },
    ],
    [
      4,
      'attribute',
      (doc, rng) => {
        const root = doc.root;
        const v = rng.pick([
          'FPA12',
          'FPR12',
          'FPR11',
          'FPA11',
          'fpr12',
          ' FPR12',
          'FPR12 ',
          '',
          'FSM10',
          null,
          'sistema',
          'sistema-long',
          'sistema-empty',
          'unknown',
          'foreign',
          'xsi-schemaLocation',
          'xsi-nil',
          'xsi-type',
          'on-child',
        ]);
        const set = (name: string, value: string, ns = ''): void => {
          const a = root.attrs.find((x) => x.name === name && x.ns === ns);
          if (a) a.value = value;
          else root.attrs.push({ name, ns, value });
        };
        if (v === null) root.attrs = root.attrs.filter((a) => !(a.name === 'versione' && a.ns === ''));
        else if (v === 'sistema') set('SistemaEmittente', 'ERP 1.0');
        else if (v === 'sistema-long') set('SistemaEmittente', 'ERP 1.0.123');
        else if (v === 'sistema-empty') set('SistemaEmittente', '');
        else if (v === 'unknown') set('Versione', 'FPR12');
        else if (v === 'foreign') set('versione', 'FPR12', 'urn:example:other');
        else if (v === 'xsi-schemaLocation') set('schemaLocation', `${this.schema.ns} fatturapa.xsd`, NS_XSI);
        else if (v === 'xsi-nil') set('nil', 'false', NS_XSI);
        else if (v === 'xsi-type') set('type', rng.pick(['p:FatturaElettronicaType', 'p:Other']), NS_XSI);
        else if (v === 'on-child') {
          const s = rng.pick(slots(root).filter((x) => x.parent));
          const a = rng.pick<Attr>([
            at('versione', 'FPR12'),
            at('Id', 'id1'),
            { name: 'lang', ns: NS_XML, value: 'it' },
            { name: 'nil', ns: NS_XSI, value: rng.pick(['true', 'false']) },
            { name: 'schemaLocation', ns: NS_XSI, value: `${this.schema.ns} a.xsd` },
            { name: 'noNamespaceSchemaLocation', ns: NS_XSI, value: 'a.xsd' },
            { name: 'foo', ns: NS_XSI, value: '1' },
          ]);
          s.n.attrs.push(a);
          return `attribute ${a.ns ? `{${a.ns}}` : ''}${a.name}="${a.value}" on ${s.path}`;
        } else set('versione', v);
        return `root attribute: ${JSON.stringify(v)}`;
      },
    ],
    [
      4,
      'namespace',
      (doc, rng) => {
        const v = rng.pick([
          'root-ns-v1.1',
          'root-ns-none',
          'root-ns-other',
          'default-ns',
          'default-ns-everywhere',
          'prefix',
          'child-in-root-ns',
          'child-reset-default',
          'root-name',
        ]);
        const all = slots(doc.root);
        if (v === 'root-ns-v1.1')
          doc.root.ns = 'http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.1';
        else if (v === 'root-ns-none') doc.root.ns = '';
        else if (v === 'root-ns-other') doc.root.ns = 'http://www.fatturapa.gov.it/sdi/fatturapa/v1.2';
        else if (v === 'default-ns') doc.rootPrefix = null;
        else if (v === 'default-ns-everywhere') {
          doc.rootPrefix = null;
          for (const s of all) if (s.n.ns === '') s.n.ns = this.schema.ns;
        } else if (v === 'prefix') doc.rootPrefix = rng.pick(['ns2', 'a', 'FatturaPA']);
        else if (v === 'child-in-root-ns') {
          const s = rng.pick(all.filter((x) => x.parent));
          s.n.ns = this.schema.ns;
          return `namespace: ${s.path} in the root namespace`;
        } else if (v === 'child-reset-default') {
          rng.pick(all.filter((x) => x.parent)).n.resetDefault = true;
        } else doc.root.name = rng.pick(['FatturaElettronicaSemplificata', 'Fattura', 'fatturaElettronica']);
        return `namespace: ${v}`;
      },
    ],
    [
      3,
      'markup',
      (doc, rng) => {
        const s = rng.pick(slots(doc.root));
        const v = rng.pick([
          'text-in-complex',
          'blank-in-complex',
          'cdata-blank-complex',
          'comment',
          'pi',
          'cdata-leaf',
        ]);
        if (v === 'comment' || v === 'pi') {
          if (!s.parent) return null;
          s.n.before = v === 'comment' ? '<!-- commento -->' : '<?fatturad test?>';
        } else if (v === 'cdata-leaf') {
          if (s.n.children.length > 0) return null;
          s.n.raw = `<![CDATA[${s.n.text.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
          s.n.rawOf = s.n.text;
        } else {
          if (s.n.children.length === 0) return null;
          s.n.raw = v === 'text-in-complex' ? 'testo' : v === 'blank-in-complex' ? '\n \t ' : '<![CDATA[ ]]>';
          s.n.rawOf = s.n.text;
        }
        return `${v} at ${s.path}`;
      },
    ],
    [
      4,
      'xsi-type',
      (doc, rng) => {
        const s = rng.pick(slots(doc.root));
        const own =
          s.n.ns === NS_DS
            ? `ds:${DS_TYPES[s.n.name] ?? 'SignatureType'}`
            : s.n.type.startsWith('xs:')
              ? s.n.type
              : `p:${s.n.type || 'Sconosciuto'}`;
        const local = own.slice(own.indexOf(':') + 1);
        const others = [...this.schema.simple.keys(), ...this.schema.complex.keys()].filter(
          (n) => !n.startsWith('xs:'),
        );
        let v = rng.pick([
          own,
          own,
          own,
          local,
          `q:${local}`,
          ` ${own}`,
          `${own} `,
          `p:${rng.pick(others)}`,
          'p:DataFatturaType',
          'p:String60LatinType',
          'xs:date',
          'xs:string',
          'ds:DigestValueType',
        ]);
        // Known gap, not generated: a prefix bound only by a declaration that no element in scope
        // uses (here ds: on FatturaPA elements) cannot be resolved by validateStructure, because
        // parseXml does not keep namespace declarations; it matters only for xsi:type naming a type
        // derived from the declared one (ds:DigestValueType on Attachment, xs:base64Binary).
        if (v.startsWith('ds:') && s.n.ns !== NS_DS && s.n.type === 'xs:base64Binary') v = own;
        const a = s.n.attrs.find((x) => x.ns === NS_XSI && x.name === 'type');
        if (a) a.value = v;
        else s.n.attrs.push({ name: 'type', ns: NS_XSI, value: v });
        return `xsi:type=${JSON.stringify(v)} on ${s.path}`;
      },
    ],
    [
      3,
      'signature',
      (doc, rng) => {
        const ks = doc.root.children;
        const existing = ks.findIndex((c) => c.ns === NS_DS && c.name === 'Signature');
        const sig = signature(rng);
        if (existing >= 0) {
          // Mutate inside the signature instead.
          const inside = slots(ks[existing] as Node).filter((x) => x.parent);
          const s = rng.pick(inside);
          const w = rng.pick(['delete', 'duplicate', 'id', 'uri', 'digest']);
          if (w === 'delete') s.parent?.children.splice(s.parent.children.indexOf(s.n), 1);
          else if (w === 'duplicate')
            s.parent?.children.splice(s.parent.children.indexOf(s.n), 0, clone(s.n));
          else if (w === 'id')
            s.n.attrs.push(at('Id', rng.pick(['sig1', 'xades-sp', '1bad', 'ok-id', 'a b'])));
          else if (w === 'uri') {
            const a = s.n.attrs.find((x) => x.name === 'URI' || x.name === 'Algorithm');
            if (!a) return null;
            a.value = rng.pick(['', '#a#b', '%zz', '%20', 'urn:x', 'http://example.com/a b']);
          } else {
            if (s.n.children.length > 0) return null;
            s.n.text = rng.pick(['', 'AAA', 'AA==', 'A===', 'AB==', 'AAAA AAAA', '####', 'AQ==']);
          }
          return `signature: ${w} at ${s.path}`;
        }
        const i = rng.chance(0.8) ? ks.length : rng.int(ks.length);
        ks.splice(i, 0, sig);
        return `insert ds:Signature into the root at ${i}`;
      },
    ],
  ];

  // --- Content (value) operations ---

  private leaves(doc: Doc, pred: (n: Node, t: SimpleTypeInfo | undefined) => boolean): Slot[] {
    return slots(doc.root).filter(
      (x) => x.parent && x.n.children.length === 0 && pred(x.n, this.simpleType(x.n)),
    );
  }

  private readonly valueOps: [number, string, Op][] = [
    [
      10,
      'regenerate',
      (doc, rng) => {
        // Content changes that stay valid: amounts, rates, quantities, codes, dates, texts.
        const ls = this.leaves(doc, (_, t) => t !== undefined);
        if (ls.length === 0) return null;
        const s = rng.pick(ls);
        const mode = rng.pick<Mode>(['random', 'random', 'random', 'min', 'max']);
        s.n.text = genValue(this.simpleType(s.n) as SimpleTypeInfo, rng, mode);
        return `${s.path} (${s.n.type}) = ${JSON.stringify(s.n.text)} [${mode}]`;
      },
    ],
    [
      4,
      'amount',
      (doc, rng) => {
        const ls = this.leaves(doc, (_, t) => t?.base === 'decimal');
        if (ls.length === 0) return null;
        const s = rng.pick(ls);
        s.n.text = genValue(this.simpleType(s.n) as SimpleTypeInfo, rng, 'random');
        return `amount ${s.path} (${s.n.type}) = ${JSON.stringify(s.n.text)}`;
      },
    ],
    [
      6,
      'limits',
      (doc, rng) => {
        const ls = this.leaves(doc, (_, t) => t !== undefined && t.enumeration.length === 0);
        if (ls.length === 0) return null;
        const s = rng.pick(ls);
        const mode = rng.pick<Mode>(['min', 'max', 'below', 'above', 'below', 'above']);
        s.n.text = genValue(this.simpleType(s.n) as SimpleTypeInfo, rng, mode);
        return `${s.path} (${s.n.type}) at limit ${mode}: ${JSON.stringify(s.n.text.slice(0, 40))} (${[...s.n.text].length} chars)`;
      },
    ],
    [
      5,
      'perturb',
      (doc, rng) => {
        const ls = this.leaves(doc, () => true);
        const s = rng.pick(ls);
        const p = perturb(s.n.text, rng);
        s.n.text = p.value;
        return `${s.path} (${s.n.type || '?'}): ${p.how}`;
      },
    ],
    [
      5,
      'code',
      (doc, rng) => {
        const ls = this.leaves(doc, (_, t) => (t?.enumeration.length ?? 0) > 0);
        if (ls.length === 0) return null;
        const s = rng.pick(ls);
        const t = this.simpleType(s.n) as SimpleTypeInfo;
        const own = rng.pick(t.enumeration);
        const r = rng.int(7);
        const v =
          r < 2
            ? own
            : r === 2
              ? own.toLowerCase()
              : r === 3
                ? rng.pick([` ${own}`, `${own} `, `${own}\n`])
                : r === 4
                  ? own.replace(/.$/, (c) => (/[0-9]/.test(c) ? String((Number(c) + 1) % 10) : 'Z'))
                  : r === 5
                    ? rng.pick(this.schema.allCodes)
                    : own.slice(0, -1);
        s.n.text = v;
        return `code ${s.path} (${t.name}) = ${JSON.stringify(v)}`;
      },
    ],
    [
      5,
      'decimal',
      (doc, rng) => {
        const ls = this.leaves(doc, (_, t) => t?.base === 'decimal');
        if (ls.length === 0) return null;
        const s = rng.pick(ls);
        let v: string;
        if (s.n.type === 'RateType' && rng.chance(0.5)) v = rng.pick(RATES);
        else {
          const int = rng.pick(DECIMAL_INT);
          const frac = rng.pick(DECIMAL_FRAC);
          const sign = rng.pick(['', '', '', '-', '+']);
          v = `${sign}${rng.chance(0.2) ? '0' : String(rng.between(1, 9))}${digits(rng, int - 1)}`;
          if (frac >= 0) v += `.${digits(rng, frac)}`;
          const odd = rng.int(12);
          if (odd === 0) v = ` ${v} `;
          else if (odd === 1) v = v.replace('.', ',');
          else if (odd === 2) v = v.replace(/^[+-]?[0-9]+/, '');
          else if (odd === 3) v = `${v}e0`;
        }
        s.n.text = v;
        return `decimal ${s.path} (${s.n.type}) = ${JSON.stringify(v)}`;
      },
    ],
    [
      3,
      'integer',
      (doc, rng) => {
        const ls = this.leaves(doc, (_, t) => t?.base === 'integer');
        if (ls.length === 0) return null;
        const s = rng.pick(ls);
        s.n.text = rng.pick(INTEGERS);
        return `integer ${s.path} (${s.n.type}) = ${JSON.stringify(s.n.text)}`;
      },
    ],
    [
      4,
      'date',
      (doc, rng) => {
        const ls = this.leaves(doc, (_, t) => t?.base === 'date' || t?.base === 'dateTime');
        if (ls.length === 0) return null;
        const s = rng.pick(ls);
        const isDate = this.simpleType(s.n)?.base === 'date';
        s.n.text = rng.pick(
          isDate ? (rng.chance(0.8) ? DATES : DATE_TIMES) : rng.chance(0.8) ? DATE_TIMES : DATES,
        );
        return `date ${s.path} (${s.n.type}) = ${JSON.stringify(s.n.text)}`;
      },
    ],
    [
      5,
      'blank',
      (doc, rng) => {
        const s = rng.pick(this.leaves(doc, () => true));
        const v = rng.pick([
          'empty',
          'space',
          'pad',
          'lead',
          'trail',
          'tab',
          'newline',
          'cr',
          'double',
          'nbsp',
          'empty-cdata',
          'comment-only',
          'comment-inside',
          'pi-inside',
        ]);
        const t = s.n.text;
        const mid = Math.floor(t.length / 2);
        const map: Record<string, string> = {
          empty: '',
          space: rng.pick([' ', '   ', '\n\t']),
          pad: `  ${t}  `,
          lead: ` ${t}`,
          trail: `${t} `,
          tab: `${t.slice(0, mid)}\t${t.slice(mid)}`,
          newline: `${t}\n`,
          cr: `${t.slice(0, mid)}\r${t.slice(mid)}`,
          double: `${t.slice(0, mid)}  ${t.slice(mid)}`,
          nbsp: `${t}\u00a0`,
        };
        if (v === 'empty-cdata' || v === 'comment-only') {
          s.n.text = '';
          s.n.raw = v === 'empty-cdata' ? rng.pick(['<![CDATA[]]>', '<![CDATA[]]><!-- c -->']) : '<!-- c -->';
        } else if (v === 'comment-inside' || v === 'pi-inside') {
          s.n.raw = `${escText(t.slice(0, mid))}${v === 'pi-inside' ? '<?x y?>' : '<!--c-->'}${escText(t.slice(mid))}`;
        } else s.n.text = map[v] ?? '';
        s.n.rawOf = s.n.text;
        return `${v} text at ${s.path} (${s.n.type || '?'})`;
      },
    ],
    [
      4,
      'chars',
      (doc, rng) => {
        const s = rng.pick(this.leaves(doc, () => true));
        const v = rng.pick(['latin1', 'euro', 'latin-ext', 'astral', 'charref', 'entity', 'cdata']);
        const t = s.n.text;
        if (v === 'latin1') s.n.text = `${t}àé`;
        else if (v === 'euro') s.n.text = `${t}€`;
        else if (v === 'latin-ext') s.n.text = `Ā${t}`;
        else if (v === 'astral') s.n.text = `${t.slice(0, -1)}😀`;
        else if (v === 'charref')
          s.n.raw = [...t]
            .map((c) => (rng.chance(0.5) ? `&#x${(c.codePointAt(0) as number).toString(16)};` : escText(c)))
            .join('');
        else if (v === 'entity') s.n.text = `${t}&'"`;
        else s.n.raw = `<![CDATA[${t.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
        s.n.rawOf = s.n.text;
        return `${v} at ${s.path} (${s.n.type || '?'})`;
      },
    ],
    [
      2,
      'encoding',
      (doc, rng) => {
        doc.encoding = rng.pick<Doc['encoding']>(['ISO-8859-1', 'ISO-8859-1', 'UTF-16', 'UTF-8-BOM', 'none']);
        doc.indent = rng.chance(0.5);
        return `${doc.encoding} encoding${doc.indent ? '' : ', no indentation'}`;
      },
    ],
    [
      2,
      'default',
      (doc, rng) => {
        // Elements with a default value (Nazione = IT): what counts as empty.
        const ls = this.leaves(doc, () => true).filter(
          (x) => this.declOf(x.parent, x.n)?.default !== undefined,
        );
        if (ls.length === 0) return null;
        const s = rng.pick(ls);
        const d = this.declOf(s.parent, s.n)?.default ?? '';
        const raw = rng.pick([
          '',
          '<![CDATA[]]>',
          '<!-- c -->',
          '<?x y?>',
          '<![CDATA[]]><!-- c -->',
          `<![CDATA[${d}]]>`,
          ' ',
          '\n',
          escText(d.toLowerCase()),
          escText(d),
          `<!--c-->${escText(d)}`,
          '&#32;',
        ]);
        s.n.text = '';
        s.n.raw = raw;
        s.n.rawOf = '';
        return `${s.path} (default ${d}) content ${JSON.stringify(raw)}`;
      },
    ],
    [
      2,
      'untyped',
      (doc, rng) => {
        const ls = this.leaves(doc, (_, t) => t === undefined);
        if (ls.length === 0) return null;
        const s = rng.pick(ls);
        s.n.text = rng.pick(GENERIC);
        return `${s.path} (untyped) = ${JSON.stringify(s.n.text)}`;
      },
    ],
  ];

  private readonly ops: [number, Mutation['kind'], string, Op][] = [
    ...this.structural.map(([w, n, f]): [number, Mutation['kind'], string, Op] => [w, 'structure', n, f]),
    ...this.valueOps.map(([w, n, f]): [number, Mutation['kind'], string, Op] => [w, 'content', n, f]),
  ];
  private readonly total = this.ops.reduce((s, [w]) => s + w, 0);

  /** Applies one random mutation to `doc` (in place). */
  mutateOnce(doc: Doc, rng: Rng): Mutation {
    for (let attempt = 0; attempt < 50; attempt++) {
      let r = rng.next() * this.total;
      let chosen = this.ops[0] as (typeof this.ops)[number];
      for (const o of this.ops) {
        r -= o[0];
        if (r < 0) {
          chosen = o;
          break;
        }
      }
      const [, kind, op, f] = chosen;
      if (doc.root.children.length === 0 && kind === 'content') continue;
      let d: string | null = null;
      try {
        d = f(doc, rng);
      } catch (e) {
        if (e instanceof Error && e.message === 'pick from an empty list') continue;
        throw e;
      }
      if (d === null) continue;
      retype(this.schema, doc.root);
      return { kind, op, description: d };
    }
    doc.rootPrefix = 'p';
    return { kind: 'structure', op: 'noop', description: 'no applicable mutation' };
  }

  /** A mutant of `base`: one mutation, sometimes two or three stacked. */
  mutant(base: Node, rng: Rng): Mutant {
    const doc: Doc = { root: clone(base), rootPrefix: 'p', encoding: 'UTF-8', indent: true };
    retype(this.schema, doc.root);
    const n = rng.chance(0.7) ? 1 : rng.chance(0.6) ? 2 : 3;
    const ms: Mutation[] = [];
    for (let k = 0; k < n; k++) ms.push(this.mutateOnce(doc, rng));
    return {
      description: ms.map((m) => `[${m.op}] ${m.description}`).join('; '),
      ops: ms.map((m) => m.op),
      kinds: ms.map((m) => m.kind),
      bytes: serialize(doc, this.schema.ns),
    };
  }

  /** The base itself, through the serializer (the serializer must not change the verdict). */
  plain(base: Node): Buffer {
    return serialize({ root: clone(base), rootPrefix: 'p', encoding: 'UTF-8', indent: true }, this.schema.ns);
  }
}
