import { Positions, type WorkCounter } from './positions.js';
import type { XmlElement } from './xml.js';

/**
 * The fast path of `parseXmlText`: a single-pass reader for the XML that ERPs actually write
 * (ASCII names, the five predefined entities and character references, comments, CDATA, an XML
 * declaration, namespaces). It builds exactly the tree the saxes path builds, and it never
 * accepts a document that is not well-formed: at the first construct it does not fully check
 * (a DOCTYPE, a non-ASCII name, an undefined entity, a character outside XML's range, a lone
 * surrogate, any error at all) it gives up and returns `null`, and the caller parses again with
 * saxes, which then produces the precise diagnostic. A test compares both paths on the official
 * samples, on generated mutants and on random byte mutations.
 *
 * Why it exists: saxes is a complete, careful parser that decodes one code point at a time; on a
 * typical 5 KB invoice it took 40 % of the whole validation. This reader works with `indexOf`
 * and `charCodeAt` over whole runs of text.
 */

/**
 * Anything outside XML 1.0's Char production: a control character, U+FFFE, U+FFFF, or a surrogate
 * that is not half of a pair (a pair is an astral character, which XML allows).
 */
const NOT_XML_CHAR =
  /[^\t\n\r\x20-\ud7ff\ue000-\ufffd\ud800-\udfff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const XML_DECL =
  /<\?xml[ \t\n]+version[ \t\n]*=[ \t\n]*(["'])1\.0\1(?:[ \t\n]+encoding[ \t\n]*=[ \t\n]*(["'])[A-Za-z][A-Za-z0-9._-]*\2)?(?:[ \t\n]+standalone[ \t\n]*=[ \t\n]*(["'])(?:yes|no)\3)?[ \t\n]*\?>/y;
const ONLY_SPACE = /^[ \t\n]*$/;
const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';
const NO_ATTRS: Record<string, string> = Object.freeze({});

type Scope = Record<string, string>;
// Not frozen: a child scope shadows '' by assignment, which a frozen prototype would forbid.
const ROOT_SCOPE: Scope = Object.assign(Object.create(null) as Scope, { xml: XML_NS, '': '' });

const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 9;
/** Only XML white space (line ends are already LF here). */
export function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 10 && c !== 9 && c !== 13) return false;
  }
  return true;
}
const isNameStart = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
const isNameChar = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 45 || c === 46;
const isXmlChar = (cp: number): boolean =>
  cp === 9 ||
  cp === 10 ||
  cp === 13 ||
  (cp >= 0x20 && cp <= 0xd7ff) ||
  (cp >= 0xe000 && cp <= 0xfffd) ||
  (cp >= 0x10000 && cp <= 0x10ffff);

/** Resolves `&...;` references; `undefined` when one is not a predefined entity or a legal character. */
function decodeRefs(s: string): string | undefined {
  let out = '';
  let from = 0;
  for (let amp = s.indexOf('&'); amp !== -1; amp = s.indexOf('&', from)) {
    const semi = s.indexOf(';', amp + 1);
    if (semi === -1) return undefined;
    const ref = s.slice(amp + 1, semi);
    let ch: string;
    if (ref === 'lt') ch = '<';
    else if (ref === 'gt') ch = '>';
    else if (ref === 'amp') ch = '&';
    else if (ref === 'quot') ch = '"';
    else if (ref === 'apos') ch = "'";
    else if (/^#[0-9]{1,7}$/.test(ref) || /^#x[0-9A-Fa-f]{1,6}$/.test(ref)) {
      const cp = ref.charCodeAt(1) === 120 ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!isXmlChar(cp)) return undefined;
      ch = String.fromCodePoint(cp);
    } else return undefined;
    out += s.slice(from, amp) + ch;
    from = semi + 1;
  }
  return out + s.slice(from);
}

/** Returns the document's root element, or null: "not checked here, ask saxes". */
export function parseFast(
  source: string,
  maxDepth: number,
  work: WorkCounter = { steps: 0 },
): XmlElement | null {
  // Whole-text scans (each linear, each once): the character check, CR, `]]>` and `&` below.
  work.steps += source.length * 4;
  if (NOT_XML_CHAR.test(source)) return null;
  const text = source.includes('\r') ? source.replace(/\r\n?/g, '\n') : source;
  const len = text.length;
  let pos = 0;
  const decline = (): null => {
    work.steps += pos;
    return null;
  };

  // Line and column, counted forward only up to each position asked for. Without surrogate
  // pairs (a one-byte string has none: the test costs nothing) a column is an offset on its line:
  // the line ends are found here, each by one indexOf from the previous one.
  work.steps += len;
  const positions = /[\ud800-\udfff]/.test(text) ? new Positions(text, work) : null;
  let line = 1;
  let lineStart = 0;
  let nextLf = positions === null ? text.indexOf('\n') : -1;
  if (positions === null) work.steps += nextLf === -1 ? len : nextLf;

  if (text.startsWith('<?xml') && isSpace(text.charCodeAt(5))) {
    XML_DECL.lastIndex = 0;
    if (!XML_DECL.test(text)) return decline();
    pos = XML_DECL.lastIndex;
  }

  // Most invoices hold neither: one scan of the whole text spares one per text run.
  const mayHoldCdataEnd = text.includes(']]>');
  const mayHoldRefs = text.includes('&');
  const stack: XmlElement[] = [];
  const qnames: string[] = [];
  const scopes: Scope[] = [];
  /** The default namespace of each open element (scope[''], kept beside: no lookup per tag). */
  const defaults: string[] = [];
  let scope = ROOT_SCOPE;
  let defaultNs = '';
  let root: XmlElement | null = null;
  let top: XmlElement | null = null;

  while (pos < len) {
    const lt = text.indexOf('<', pos);
    const end = lt === -1 ? len : lt;
    if (end > pos) {
      // Indentation: a blank run is dropped without being copied out of the text when the element
      // already has children, or when a child starts right after it (as the child would drop it).
      let q = pos;
      if (top !== null && top.text === '') while (q < end && isSpace(text.charCodeAt(q))) q++;
      const dropped =
        q === end &&
        top !== null &&
        (top.children.length > 0 || (lt !== -1 && isNameStart(text.charCodeAt(lt + 1))));
      work.steps += q - pos;
      if (dropped) {
        // Nothing kept.
      } else if (top === null) {
        if (!ONLY_SPACE.test(text.slice(pos, end))) return decline();
      } else {
        let s = text.slice(pos, end);
        if (mayHoldCdataEnd && s.includes(']]>')) return decline();
        if (mayHoldRefs && s.includes('&')) {
          const d = decodeRefs(s);
          if (d === undefined) return decline();
          s = d;
        }
        // Indentation between child elements is not kept (see XmlElement.text).
        if (top.text !== '' || top.children.length === 0 || !isBlank(s))
          top.text = top.text === '' ? s : top.text + s;
      }
    }
    if (lt === -1) break;
    const c = text.charCodeAt(lt + 1);

    if (c === 47 /* / */) {
      // End tag: must name the open element.
      if (top === null) return decline();
      const q = qnames[qnames.length - 1] as string;
      // One comparison in the engine (a loop of charCodeAt pairs was the parse's costliest line).
      if (!text.startsWith(q, lt + 2)) return decline();
      let p = lt + 2 + q.length;
      while (isSpace(text.charCodeAt(p))) p++;
      if (text.charCodeAt(p) !== 62 /* > */) return decline();
      pos = p + 1;
      stack.pop();
      qnames.pop();
      scopes.pop();
      defaults.pop();
      scope = scopes.length > 0 ? (scopes[scopes.length - 1] as Scope) : ROOT_SCOPE;
      defaultNs = defaults.length > 0 ? (defaults[defaults.length - 1] as string) : '';
      top = stack.length > 0 ? (stack[stack.length - 1] as XmlElement) : null;
      continue;
    }

    if (c === 33 /* ! */) {
      if (text.startsWith('<!--', lt)) {
        const close = text.indexOf('-->', lt + 4);
        if (close === -1) return decline();
        const body = text.slice(lt + 4, close);
        if (body.includes('--') || body.endsWith('-')) return decline();
        pos = close + 3;
        continue;
      }
      if (text.startsWith('<![CDATA[', lt)) {
        if (top === null) return decline();
        const close = text.indexOf(']]>', lt + 9);
        if (close === -1) return decline();
        const s = text.slice(lt + 9, close);
        top.text = top.text === '' ? s : top.text + s;
        top.cdata = true;
        pos = close + 3;
        continue;
      }
      return decline(); // DOCTYPE or anything else: saxes decides and explains.
    }

    if (c === 63 /* ? */) {
      // Processing instruction (the XML declaration was consumed above; another one is an error).
      let p = lt + 2;
      if (!isNameStart(text.charCodeAt(p))) return decline();
      while (isNameChar(text.charCodeAt(p))) p++;
      const target = text.slice(lt + 2, p);
      if (target.includes(':') || target.toLowerCase() === 'xml') return decline();
      const close = text.indexOf('?>', p);
      if (close === -1) return decline();
      if (close !== p && !isSpace(text.charCodeAt(p))) return decline();
      pos = close + 2;
      continue;
    }

    // Start tag.
    if (root !== null && top === null) return decline(); // a second root element
    let p = lt + 1;
    if (!isNameStart(c)) return decline();
    p++;
    let colon = -1;
    for (;;) {
      const k = text.charCodeAt(p);
      if (isNameChar(k)) p++;
      else if (k === 58 /* : */ && colon === -1 && isNameStart(text.charCodeAt(p + 1))) {
        colon = p;
        p += 2;
      } else break;
    }
    const prefix = colon === -1 ? '' : text.slice(lt + 1, colon);
    const local = text.slice(colon === -1 ? lt + 1 : colon + 1, p);
    const qname = colon === -1 ? local : text.slice(lt + 1, p);

    // Attributes, as [qname, value] pairs in document order.
    let raw: string[] | null = null;
    let selfClosing = false;
    for (;;) {
      const before = p;
      while (isSpace(text.charCodeAt(p))) p++;
      const k = text.charCodeAt(p);
      if (k === 62 /* > */) {
        p++;
        break;
      }
      if (k === 47 /* / */) {
        if (text.charCodeAt(p + 1) !== 62) return decline();
        p += 2;
        selfClosing = true;
        break;
      }
      if (p === before || !isNameStart(k)) return decline();
      const nameStart = p;
      p++;
      let aColon = -1;
      for (;;) {
        const m = text.charCodeAt(p);
        if (isNameChar(m)) p++;
        else if (m === 58 && aColon === -1 && isNameStart(text.charCodeAt(p + 1))) {
          aColon = p;
          p += 2;
        } else break;
      }
      const aName = text.slice(nameStart, p);
      while (isSpace(text.charCodeAt(p))) p++;
      if (text.charCodeAt(p) !== 61 /* = */) return decline();
      p++;
      while (isSpace(text.charCodeAt(p))) p++;
      const quote = text.charCodeAt(p);
      if (quote !== 34 && quote !== 39) return decline();
      const close = text.indexOf(quote === 34 ? '"' : "'", p + 1);
      if (close === -1) return decline();
      let value = text.slice(p + 1, close);
      if (value.includes('<')) return decline();
      if (value.includes('\n') || value.includes('\t')) value = value.replace(/[\n\t]/g, ' ');
      if (value.includes('&')) {
        const d = decodeRefs(value);
        if (d === undefined) return decline();
        value = d;
      }
      p = close + 1;
      (raw ??= []).push(aName, value);
    }

    // Namespace declarations first, then the names they bind.
    let elScope = scope;
    if (raw !== null) {
      for (let i = 0; i < raw.length; i += 2) {
        const n = raw[i] as string;
        if (n === 'xmlns') {
          const uri = raw[i + 1] as string;
          if (uri === XML_NS || uri === XMLNS_NS || uri !== uri.trim()) return decline();
          if (elScope === scope) elScope = Object.create(scope) as Scope;
          elScope[''] = uri;
        } else if (n.startsWith('xmlns:')) {
          const pfx = n.slice(6);
          const uri = raw[i + 1] as string;
          // xmlns:xml may be declared, to its own namespace only; it changes nothing.
          if (pfx === 'xml' && uri === XML_NS) continue;
          if (pfx === 'xml' || pfx === 'xmlns' || uri === '' || uri === XML_NS || uri === XMLNS_NS)
            return decline();
          if (uri !== uri.trim()) return decline();
          if (elScope === scope) elScope = Object.create(scope) as Scope;
          elScope[pfx] = uri;
        }
      }
    }
    let attrs = NO_ATTRS;
    let nsAttrs = NO_ATTRS;
    if (raw !== null) {
      for (let i = 0; i < raw.length; i += 2) {
        const n = raw[i] as string;
        if (n === 'xmlns' || n.startsWith('xmlns:')) continue;
        const value = raw[i + 1] as string;
        const ci = n.indexOf(':');
        if (ci === -1) {
          if (attrs === NO_ATTRS) attrs = {};
          if (Object.hasOwn(attrs, n)) return decline();
          attrs[n] = value;
        } else {
          const uri = elScope[n.slice(0, ci)];
          if (uri === undefined) return decline();
          const key = `{${uri}}${n.slice(ci + 1)}`;
          if (nsAttrs === NO_ATTRS) nsAttrs = {};
          if (Object.hasOwn(nsAttrs, key)) return decline();
          nsAttrs[key] = value;
        }
      }
      // The same qualified name twice (e.g. one prefix declared twice); a set, not a pairwise
      // comparison, so that an element with 100,000 attributes costs no more than 100,000 elements.
      if (raw.length > 2) {
        const seen = new Set<string>();
        for (let i = 0; i < raw.length; i += 2) {
          const n = raw[i] as string;
          if (seen.has(n)) return decline();
          seen.add(n);
        }
      }
    }
    if (prefix === 'xmlns' || prefix === 'xml') return decline();
    const ns = prefix === '' && elScope === scope ? defaultNs : elScope[prefix];
    if (ns === undefined) return decline();

    let column: number;
    if (positions === null) {
      while (nextLf !== -1 && nextLf < lt) {
        line++;
        lineStart = nextLf + 1;
        nextLf = text.indexOf('\n', lineStart);
        work.steps += (nextLf === -1 ? len : nextLf) - lineStart;
      }
      column = lt - lineStart + 1;
    } else {
      positions.moveTo(lt);
      line = positions.line;
      column = positions.column;
    }
    const el: XmlElement = {
      name: local,
      ns,
      prefix,
      attrs,
      nsAttrs,
      children: [],
      text: '',
      cdata: false,
      line,
      column,
    };
    if (top !== null) {
      if (top.children.length === 0 && top.text !== '' && isBlank(top.text)) top.text = '';
      top.children.push(el);
    } else root = el;
    pos = p;
    if (stack.length >= maxDepth) return decline();
    if (!selfClosing) {
      stack.push(el);
      qnames.push(qname);
      scopes.push(elScope);
      if (elScope !== scope) defaultNs = elScope[''] as string;
      defaults.push(defaultNs);
      scope = elScope;
      top = el;
    }
  }
  work.steps += len;
  if (root === null || top !== null) return null;
  return root;
}
