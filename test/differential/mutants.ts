import type { XmlElement } from '../../src/invoice/xml.js';

/**
 * Seeded mutations of FatturaPA documents for the differential test against the official XSD:
 * structural (delete, duplicate, swap, rename, move, insert unknown, choice changes, attributes,
 * namespace) and value mutations (lengths at their limits and one beyond, decimals with 1, 2, 8
 * and 9 digits, impossible dates, code lists, characters outside Latin-1, blanks). Every mutant
 * is serialised back to XML text.
 */

export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NS_P = 'http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2';
const NS_DS = 'http://www.w3.org/2000/09/xmldsig#';
const NS_XSI = 'http://www.w3.org/2001/XMLSchema-instance';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escAttr = (s: string): string => esc(s).replace(/"/g, '&quot;');

function clone(el: XmlElement): XmlElement {
  return { ...el, attrs: { ...el.attrs }, nsAttrs: { ...el.nsAttrs }, children: el.children.map(clone) };
}

const prefixOf = (ns: string, rootNs: string): string =>
  ns === NS_DS ? 'ds:' : ns === rootNs && ns !== '' ? 'p:' : ns === '' ? '' : 'x:';

function write(el: XmlElement, rootNs: string, out: string[], isRoot: boolean): void {
  const name = prefixOf(el.ns, rootNs) + el.name;
  let open = `<${name}`;
  if (isRoot) {
    if (rootNs) open += ` xmlns:p="${rootNs}"`;
    open += ` xmlns:ds="${NS_DS}" xmlns:xsi="${NS_XSI}"`;
  }
  if (el.ns !== '' && el.ns !== rootNs && el.ns !== NS_DS) open += ` xmlns:x="${el.ns}"`;
  for (const [k, v] of Object.entries(el.attrs)) open += ` ${k}="${escAttr(v)}"`;
  for (const [k, v] of Object.entries(el.nsAttrs)) {
    const m = /^\{(.*)\}(.*)$/.exec(k);
    if (m?.[1] === NS_XSI) open += ` xsi:${m[2]}="${escAttr(v)}"`;
  }
  if (el.children.length === 0 && el.text === '') {
    out.push(`${open}/>`);
    return;
  }
  out.push(`${open}>`);
  if (el.children.length === 0) out.push(esc(el.text));
  else {
    // Element-only content keeps its indentation; mixed text (a mutation) goes first.
    if (el.text.trim() !== '') out.push(esc(el.text.trim()));
    for (const c of el.children) {
      out.push('\n');
      write(c, rootNs, out, false);
    }
    out.push('\n');
  }
  out.push(`</${name}>`);
}

export function serialize(root: XmlElement): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  write(root, root.ns, out, true);
  return out.join('');
}

interface Slot {
  el: XmlElement;
  parent: XmlElement | null;
}

function slots(root: XmlElement): Slot[] {
  const out: Slot[] = [];
  const walk = (el: XmlElement, parent: XmlElement | null): void => {
    out.push({ el, parent });
    for (const c of el.children) walk(c, el);
  };
  walk(root, null);
  return out;
}

const VALUES = [
  '',
  ' ',
  'ABC',
  'abc',
  '1',
  '1.0',
  '1.00',
  '1.5',
  '-1.00',
  '+1.00',
  '1.12345678',
  '1.123456789',
  '123456789012.00',
  '1234567890123.00',
  '.50',
  '1e3',
  ' 1.00 ',
  '0',
  '00',
  '01',
  '100',
  '2024-02-29',
  '2023-02-29',
  '2024-02-30',
  '2024-13-01',
  '2024-1-01',
  '24-01-01',
  '2024-01-01Z',
  '2024-01-01T10:00:00',
  'IT',
  'it',
  'XX',
  'ITA',
  'TD01',
  'TD29',
  'TD30',
  'N2.2',
  'N2',
  'N7',
  'RF01',
  'RF20',
  'RF99',
  'MP05',
  'MP24',
  'SI',
  'NO',
  'SC',
  'MG',
  'EUR',
  'euro',
  '01234567890',
  'RSSMRA85T10A562S',
  '0000000',
  'ABC1234',
  'àèìòù',
  'Società €',
  'Ā',
  '日本',
  'a\tb',
  'line\nbreak',
  'mail@example.com',
  'not a mail',
  '00100',
  '1234',
  'RM',
  'rm',
];

const LENGTHS = [
  1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 17, 20, 21, 28, 29, 35, 36, 60, 61, 80, 81, 100, 101, 200,
  201, 1000, 1001,
];

export interface Mutant {
  description: string;
  xml: string;
}

/** One mutant of `base` chosen by `rnd`. */
export function mutate(base: XmlElement, rnd: () => number): Mutant {
  const root = clone(base);
  const all = slots(root);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const inner = all.filter((s) => s.parent !== null);
  const leaves = inner.filter((s) => s.el.children.length === 0);
  const names = [...new Set(all.map((s) => s.el.name))];
  const path = (el: XmlElement): string => {
    const p: string[] = [];
    const find = (cur: XmlElement, trail: string[]): boolean => {
      if (cur === el) {
        p.push(...trail, cur.name);
        return true;
      }
      return cur.children.some((c) => find(c, [...trail, cur.name]));
    };
    find(root, []);
    return p.join('/');
  };
  const kind = Math.floor(rnd() * 14);
  // A document stripped to its root by earlier mutations: only root-level mutations apply.
  if (leaves.length === 0 || !inner.some((x) => (x.parent?.children.length ?? 0) > 1)) {
    root.attrs.versione = 'FPR12';
    return { description: 'reset versione (degenerate document)', xml: serialize(root) };
  }
  let description = '';
  switch (kind) {
    case 0: {
      const s = pick(inner);
      description = `delete ${path(s.el)}`;
      s.parent?.children.splice(s.parent.children.indexOf(s.el), 1);
      break;
    }
    case 1: {
      const s = pick(inner);
      description = `duplicate ${path(s.el)}`;
      s.parent?.children.splice(s.parent.children.indexOf(s.el), 0, clone(s.el));
      break;
    }
    case 2: {
      const s = pick(inner.filter((x) => (x.parent?.children.length ?? 0) > 1));
      const kids = s.parent?.children ?? [];
      const i = kids.indexOf(s.el);
      const j = i + 1 < kids.length ? i + 1 : i - 1;
      description = `swap ${path(s.el)} with ${kids[j]?.name}`;
      [kids[i], kids[j]] = [kids[j] as XmlElement, kids[i] as XmlElement];
      break;
    }
    case 3: {
      const s = pick(inner);
      const to = rnd() < 0.8 ? pick(names) : 'Sconosciuto';
      description = `rename ${path(s.el)} to ${to}`;
      s.el.name = to;
      break;
    }
    case 4: {
      const s = pick(inner);
      const targets = all.filter((x) => x.el.children.length > 0 && x.el !== s.el);
      const target = targets.length > 0 ? pick(targets) : { el: root };
      description = `move ${path(s.el)} into ${path(target.el)}`;
      s.parent?.children.splice(s.parent.children.indexOf(s.el), 1);
      if (!slots(s.el).some((x) => x.el === target.el)) target.el.children.push(s.el);
      break;
    }
    case 5:
    case 6:
    case 7: {
      const s = pick(leaves);
      const v = pick(VALUES);
      description = `set ${path(s.el)} to ${JSON.stringify(v)}`;
      s.el.text = v;
      break;
    }
    case 8: {
      const s = pick(leaves);
      const n = pick(LENGTHS);
      const ch = pick(['A', '1', 'à', ' ']);
      description = `set ${path(s.el)} to ${n} x ${JSON.stringify(ch)}`;
      s.el.text = ch.repeat(n);
      break;
    }
    case 9: {
      const amounts = leaves.filter((x) => /^-?[0-9]+\.[0-9]+$/.test(x.el.text.trim()));
      const s = pick(amounts.length > 0 ? amounts : leaves);
      const digits = pick([0, 1, 2, 3, 8, 9]);
      const v = digits === 0 ? '12' : `12.${'5'.repeat(digits)}`;
      description = `decimals of ${path(s.el)} to ${JSON.stringify(v)}`;
      s.el.text = v;
      break;
    }
    case 10: {
      const v = pick(['FPR12', 'FPA12', 'FPR11', 'fpr12', '', null]);
      description = `versione = ${JSON.stringify(v)}`;
      if (v === null) delete root.attrs.versione;
      else root.attrs.versione = v;
      break;
    }
    case 11: {
      const choice = pick(['nome-cognome', 'both', 'none', 'titolo']);
      const anag = all.filter((x) => x.el.name === 'Anagrafica');
      const a = (anag.length > 0 ? pick(anag) : pick(inner)).el;
      description = `Anagrafica ${choice} at ${path(a)}`;
      const mk = (name: string, text: string): XmlElement => ({
        ...a,
        name,
        text,
        children: [],
        attrs: {},
        nsAttrs: {},
      });
      if (choice === 'nome-cognome') a.children = [mk('Nome', 'MARIO'), mk('Cognome', 'ROSSI')];
      else if (choice === 'both')
        a.children = [mk('Denominazione', 'ACME'), mk('Nome', 'MARIO'), mk('Cognome', 'ROSSI')];
      else if (choice === 'none') a.children = [];
      else a.children = [...a.children, mk('Titolo', 'DOTT')];
      break;
    }
    case 12: {
      const s = pick(all.filter((x) => x.el.children.length > 0));
      const what = pick(['unknown', 'text', 'ds', 'foreign-ns']);
      description = `insert ${what} into ${path(s.el)}`;
      const at = Math.floor(rnd() * (s.el.children.length + 1));
      const base0 = s.el.children[0] as XmlElement;
      if (what === 'text') s.el.text = 'testo';
      else
        s.el.children.splice(at, 0, {
          ...base0,
          name: what === 'ds' ? 'Signature' : 'Extra',
          ns: what === 'ds' ? NS_DS : what === 'foreign-ns' ? 'urn:example:other' : '',
          children: [],
          text: 'x',
          attrs: {},
          nsAttrs: {},
        });
      break;
    }
    default: {
      const what = pick(['root-ns', 'child-ns', 'root-name']);
      description = `namespace change: ${what}`;
      if (what === 'root-ns')
        root.ns = pick(['', 'http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.1', NS_P]);
      else if (what === 'root-name') root.name = 'FatturaElettronicaSemplificata';
      else {
        const s = pick(inner);
        s.el.ns = NS_P;
      }
    }
  }
  return { description, xml: serialize(root) };
}
