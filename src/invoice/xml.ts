import { isAscii } from 'node:buffer';
import { createRequire } from 'node:module';
import type * as Saxes from 'saxes';
import { finding, type Finding } from '../rules/finding.js';
import { Positions, type WorkCounter } from './positions.js';
import { isBlank, parseFast } from './xml-fast.js';

/**
 * Bytes to an element tree with line and column numbers, safely: no DTD is ever read, so no
 * external entity (XXE) and no entity expansion (billion laughs) can happen; only the five
 * predefined entities and character references are known. Encodings: UTF-8 (with or without
 * BOM), ISO-8859-1, windows-1252 and US-ASCII when declared, UTF-16 with a BOM. A missing or
 * mismatched declaration is an error with code 00200, never a crash.
 */

export interface XmlElement {
  /** Local name, without prefix. */
  name: string;
  /** Namespace URI ('' for none). */
  ns: string;
  prefix: string;
  /** Attributes by local name (namespace declarations excluded). Values are as in the file. */
  attrs: Record<string, string>;
  /** Namespaced attributes other than xmlns, by `{uri}local`. */
  nsAttrs: Record<string, string>;
  children: XmlElement[];
  /**
   * Concatenated character data directly inside this element (text and CDATA). An element with
   * child elements keeps no white space between them: its text is '' unless it holds other
   * characters (a 5 MB invoice has over 100,000 such runs of indentation).
   */
  text: string;
  /** True when a CDATA section stands directly inside the element. */
  cdata: boolean;
  /** 1-based line and column of the `<` that opens the element. */
  line: number;
  column: number;
}

export type ParseResult =
  { ok: true; root: XmlElement; encoding: string } | { ok: false; errors: Finding[]; encoding?: string };

export interface ParseOptions {
  /** Deepest nesting accepted (FatturaPA needs about 10). */
  maxDepth?: number;
  /**
   * 'auto' (default): the fast reader (xml-fast.ts) and, when it declines, saxes. 'saxes': saxes
   * only (tests compare the two).
   */
  engine?: 'auto' | 'saxes';
  /**
   * Counts the work done, for tests that check it grows linearly with the input: characters
   * examined by this module's own scans (line and column tracking included), characters saxes
   * consumed, and elements built.
   */
  work?: WorkCounter;
}

export type { WorkCounter };

const err = (message: string, messageIt: string, line?: number, column?: number): Finding =>
  finding('00200', message, messageIt, {
    ...(line !== undefined ? { line } : {}),
    ...(column !== undefined ? { column } : {}),
  });

const SUPPORTED: Record<string, string> = {
  'utf-8': 'utf-8',
  utf8: 'utf-8',
  'iso-8859-1': 'iso-8859-1',
  'iso8859-1': 'iso-8859-1',
  latin1: 'iso-8859-1',
  'latin-1': 'iso-8859-1',
  'windows-1252': 'windows-1252',
  cp1252: 'windows-1252',
  'us-ascii': 'us-ascii',
  ascii: 'us-ascii',
  'utf-16': 'utf-16',
};

/** Reads the encoding named in the XML declaration, from bytes decoded as ASCII. */
function declaredEncoding(head: string): string | null {
  const decl = /^<\?xml\s[^?]*\?>/.exec(head);
  if (!decl) return null;
  const m = /encoding\s*=\s*(["'])([A-Za-z0-9._-]+)\1/.exec(decl[0]);
  return m ? (m[2] as string) : null;
}

export function decodeXml(
  bytes: Buffer,
): { ok: true; text: string; encoding: string } | { ok: false; error: Finding } {
  // UTF-16 with a byte order mark.
  if (
    bytes.length >= 2 &&
    ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))
  ) {
    const le = bytes[0] === 0xff;
    try {
      const text = new TextDecoder(le ? 'utf-16le' : 'utf-16be', { fatal: true }).decode(bytes.subarray(2));
      return { ok: true, text, encoding: 'utf-16' };
    } catch {
      return { ok: false, error: err('The file is not valid UTF-16.', 'Il file non è UTF-16 valido.') };
    }
  }
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  const body = bom ? bytes.subarray(3) : bytes;
  const head = body.toString('latin1', 0, Math.min(200, body.length));
  const declared = declaredEncoding(head);
  const enc = declared === null ? 'utf-8' : SUPPORTED[declared.toLowerCase()];
  if (enc === undefined) {
    return {
      ok: false,
      error: err(
        `Encoding "${declared}" is not supported: use UTF-8 (or ISO-8859-1 / windows-1252).`,
        `La codifica "${declared}" non è supportata: usare UTF-8 (oppure ISO-8859-1 / windows-1252).`,
        1,
      ),
    };
  }
  if (enc === 'utf-16') {
    return {
      ok: false,
      error: err(
        'The file declares UTF-16 but has no UTF-16 byte order mark.',
        'Il file dichiara UTF-16 ma non ha il byte order mark UTF-16.',
        1,
      ),
    };
  }
  if (bom && enc !== 'utf-8') {
    return {
      ok: false,
      error: err(
        `The file starts with a UTF-8 byte order mark but declares encoding "${declared}".`,
        `Il file inizia con il byte order mark UTF-8 ma dichiara la codifica "${declared}".`,
        1,
      ),
    };
  }
  if (enc === 'utf-8' || enc === 'us-ascii') {
    // Most invoices are plain ASCII: checked at once (no decoder), and read as one byte each.
    if (isAscii(body)) return { ok: true, text: body.toString('latin1'), encoding: enc };
    try {
      const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
      // eslint-disable-next-line no-control-regex -- the test is exactly "any byte outside ASCII"
      if (enc === 'us-ascii' && /[^\x00-\x7f]/.test(text)) throw new Error('non-ASCII');
      return { ok: true, text, encoding: enc };
    } catch {
      const bad = firstInvalidUtf8(body);
      const line = body.subarray(0, bad).toString('latin1').split('\n').length;
      return {
        ok: false,
        error: err(
          declared === null
            ? `The file has no encoding declaration, so it must be UTF-8, but byte ${bad} (line ${line}) is not valid UTF-8: declare the real encoding (e.g. encoding="ISO-8859-1") or save the file as UTF-8.`
            : `The file declares ${declared} but byte ${bad} (line ${line}) is not valid ${declared}.`,
          declared === null
            ? `Il file non dichiara la codifica, quindi deve essere UTF-8, ma il byte ${bad} (riga ${line}) non è UTF-8 valido: dichiarare la codifica reale (es. encoding="ISO-8859-1") o salvare il file in UTF-8.`
            : `Il file dichiara ${declared} ma il byte ${bad} (riga ${line}) non è ${declared} valido.`,
          line,
        ),
      };
    }
  }
  if (enc === 'iso-8859-1') return { ok: true, text: body.toString('latin1'), encoding: enc };
  return { ok: true, text: decodeWindows1252(body), encoding: enc };
}

/**
 * windows-1252: Latin-1 except 0x80-0x9F. Written out because Node 20's TextDecoder treats
 * "windows-1252" as plain Latin-1. The five undefined bytes stay C1 controls, as in WHATWG.
 */
const CP1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8d,
  0x017d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a,
  0x0153, 0x9d, 0x017e, 0x0178,
];

function decodeWindows1252(b: Buffer): string {
  const latin = b.toString('latin1');
  if (!/[\x80-\x9f]/.test(latin)) return latin;
  return latin.replace(/[\x80-\x9f]/g, (c) =>
    String.fromCharCode(CP1252_HIGH[c.charCodeAt(0) - 0x80] as number),
  );
}

function firstInvalidUtf8(b: Buffer): number {
  for (let i = 0; i < b.length;) {
    const c = b[i] as number;
    const n =
      c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
    if (n === 0 || i + n > b.length) return i;
    for (let k = 1; k < n; k++) if (((b[i + k] as number) & 0xc0) !== 0x80) return i;
    i += n;
  }
  return b.length;
}

const NO_ATTRS: Record<string, string> = Object.freeze({});

// saxes is needed only when the fast reader declines (a malformed file, a rare construct): it is
// loaded then, synchronously (it is a CommonJS package).
let saxes: typeof Saxes | undefined;
const loadSaxes = (): typeof Saxes => (saxes ??= createRequire(import.meta.url)('saxes') as typeof Saxes);

export function parseXml(bytes: Buffer, opts: ParseOptions = {}): ParseResult {
  const decoded = decodeXml(bytes);
  if (!decoded.ok) return { ok: false, errors: [decoded.error] };
  return parseXmlText(decoded.text, decoded.encoding, opts);
}

export function parseXmlText(text: string, encoding: string, opts: ParseOptions = {}): ParseResult {
  const maxDepth = opts.maxDepth ?? 64;
  const work = opts.work ?? { steps: 0 };
  if (opts.engine !== 'saxes') {
    const root = parseFast(text, maxDepth, work);
    if (root !== null) return { ok: true, root, encoding };
  }
  return parseSaxes(text, encoding, maxDepth, work);
}

/** Thrown by a handler to stop saxes at once: the finding is already recorded. */
const STOP = new Error('stop');

/**
 * The careful path: saxes, which explains every error. Linear in the input: positions are
 * tracked incrementally (never by scanning the text before a tag again), and the parser stops at
 * the first fatal finding, so a deep nesting never gets deeper than `maxDepth` (saxes resolves
 * namespace prefixes by walking up its stack of open elements).
 */
function parseSaxes(text: string, encoding: string, maxDepth: number, work: WorkCounter): ParseResult {
  const parser = new (loadSaxes().SaxesParser)({ xmlns: true, position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  const errors: Finding[] = [];
  let startLine = 1;
  let startCol = 1;

  /** Records the finding and stops the parser (the exception unwinds out of parser.write). */
  const fail = (f: Finding): never => {
    errors.push(f);
    throw STOP;
  };

  parser.on('doctype', () =>
    fail(
      err(
        'The file contains a DOCTYPE (DTD): not allowed in a FatturaPA file, and never read by fatturad (no external entities, no entity expansion).',
        'Il file contiene un DOCTYPE (DTD): non ammesso in un file FatturaPA e mai letto da fatturad (nessuna entità esterna, nessuna espansione di entità).',
        parser.line,
        parser.column + 1,
      ),
    ),
  );
  // Where each "<" stands. saxes announces a start tag only after the character that ends its
  // name, which may be a line break: its own line and column would then point past the tag, so
  // the position is found in the text and counted here (CR LF, CR and LF each end a line;
  // columns count characters, as saxes does: a surrogate pair is one). Both counts move forward
  // only, each character examined once: on a one-line file, counting from the start of the line
  // at every tag made the parse quadratic.
  const pos = new Positions(text, work);
  parser.on('opentagstart', (tag) => {
    const lt = text.lastIndexOf(`<${tag.name}`, parser.position - 1);
    work.steps += parser.position - lt;
    pos.moveTo(lt);
    startLine = pos.line;
    startCol = pos.column;
  });
  parser.on('opentag', (tag: Saxes.SaxesTagNS) => {
    work.steps++;
    // Most elements have no attributes: they share one frozen empty record (121,000 elements in
    // a 5 MB file; every allocation counts).
    let attrs = NO_ATTRS;
    let nsAttrs = NO_ATTRS;
    const attributes = tag.attributes;
    for (const key in attributes) {
      const a = attributes[key] as (typeof attributes)[string];
      work.steps++;
      if (a.prefix === 'xmlns' || a.name === 'xmlns') {
        // saxes trims namespace names; XML does not (xmllint then sees another namespace).
        if (a.value !== a.value.trim())
          fail(
            err(
              `The namespace name in ${a.name}="${a.value}" has spaces around it: it does not name the namespace it seems to.`,
              `Il nome di namespace in ${a.name}="${a.value}" ha spazi attorno: non indica il namespace che sembra.`,
              startLine,
              startCol,
            ),
          );
        continue;
      }
      if (a.uri) {
        if (nsAttrs === NO_ATTRS) nsAttrs = {};
        nsAttrs[`{${a.uri}}${a.local}`] = a.value;
      } else {
        if (attrs === NO_ATTRS) attrs = {};
        attrs[a.local] = a.value;
      }
    }
    const el: XmlElement = {
      name: tag.local,
      ns: tag.uri,
      prefix: tag.prefix,
      attrs,
      nsAttrs,
      children: [],
      text: '',
      cdata: false,
      line: startLine,
      column: startCol,
    };
    const parent = stack[stack.length - 1];
    if (parent) {
      if (parent.children.length === 0 && parent.text !== '' && isBlank(parent.text)) parent.text = '';
      parent.children.push(el);
    } else root = el;
    stack.push(el);
    if (stack.length > maxDepth) fail(tooDeep(maxDepth, el.line, el.column));
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.on('text', (t: string) => {
    const top = stack[stack.length - 1];
    if (top && (top.text !== '' || top.children.length === 0 || !isBlank(t))) top.text += t;
  });
  parser.on('cdata', (t: string) => {
    const top = stack[stack.length - 1];
    if (top) {
      top.text += t;
      top.cdata = true;
    }
  });
  // No 'error' handler: saxes then throws at the first well-formedness error, which stops the
  // work at once. (It also keeps the parser object fast: with a seventh handler property V8
  // turned it into a dictionary and parsing ran five times slower.)
  try {
    // Fed in slices of 64 K characters: saxes keeps no copy of the whole text.
    const CHUNK = 64 * 1024;
    for (let i = 0; i < text.length; i += CHUNK) parser.write(text.slice(i, i + CHUNK));
    parser.close();
  } catch (e) {
    if (e !== STOP) {
      const message = e instanceof Error ? e.message : String(e);
      const m = /^(?:[^:]*:)?(\d+):(\d+): (.*)$/s.exec(message);
      errors.push(
        err(
          `The file is not well-formed XML: ${m ? m[3] : message}`,
          `Il file non è un XML ben formato: ${m ? m[3] : message}`,
          m ? Number(m[1]) : parser.line,
          m ? Number(m[2]) : parser.column,
        ),
      );
    }
  } finally {
    work.steps += parser.position;
  }
  if (errors.length > 0) return { ok: false, errors, encoding };
  if (!root)
    return {
      ok: false,
      errors: [err('The file holds no XML element.', 'Il file non contiene alcun elemento XML.')],
      encoding,
    };
  return { ok: true, root, encoding };
}

/** 00200 for a nesting deeper than the limit (both parse paths refuse it; FatturaPA needs about 10). */
export function tooDeep(maxDepth: number, line: number, column: number): Finding {
  return err(
    `Elements nested deeper than ${maxDepth} levels: no FatturaPA file needs so many (the format's deepest path has about 10), and fatturad reads no further.`,
    `Elementi annidati oltre ${maxDepth} livelli: nessun file FatturaPA ne ha bisogno (il percorso più profondo del formato ne ha circa 10), e fatturad non legge oltre.`,
    line,
    column,
  );
}

/** Children of `el` with local name `name`. */
export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

// Elements by path (`at`, `all`, `textAt`): one implementation, in lookup.ts.
export { all, at, textAt } from './lookup.js';
