import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFast } from '../../src/invoice/xml-fast.js';
import { decodeXml, parseXmlText, type XmlElement } from '../../src/invoice/xml.js';
import { prng } from '../helpers/daemon.js';
import { EXAMPLES, SPEC as SPEC_ROOT } from '../helpers/spec.js';

/**
 * The fast reader against saxes. Whatever the fast reader accepts, saxes accepts too and builds
 * the same tree (names, namespaces, attributes, text, CDATA flag, line and column). Whatever
 * saxes refuses, the fast reader declines (returns null), so the diagnostic always comes from
 * saxes. Checked on a table of tricky constructs, on the project's examples, on every XML file of
 * the specification folder (when it is there: test/helpers/spec.ts) and on random mutations of the
 * examples and samples.
 */
const SPEC = SPEC_ROOT ?? '';
const EXAMPLE_FILES = fs
  .readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.xml'))
  .map((f) => path.join(EXAMPLES, f));
const SEED = Number(process.env.TEST_SEED ?? 977);
const MAX_DEPTH = 64;

type Outcome = { kind: 'declined' } | { kind: 'accepted'; root: XmlElement };

function compare(text: string): { fast: Outcome; saxesOk: boolean } {
  const slow = parseXmlText(text, 'utf-8', { engine: 'saxes', maxDepth: MAX_DEPTH });
  const root = parseFast(text, MAX_DEPTH);
  if (root !== null) {
    // Accepted by the fast reader: saxes must agree, with the same tree.
    expect(slow.ok, `saxes refuses what the fast reader accepted:\n${text.slice(0, 400)}`).toBe(true);
    if (slow.ok) expect(root).toEqual(slow.root);
    return { fast: { kind: 'accepted', root }, saxesOk: slow.ok };
  }
  return { fast: { kind: 'declined' }, saxesOk: slow.ok };
}

const OK = 'accepted';
const DECLINE = 'declined';

// [case, input, what the fast reader must do, whether saxes accepts it]
const TABLE: [string, string, typeof OK | typeof DECLINE, boolean][] = [
  ['minimal', '<a/>', OK, true],
  ['declaration', '<?xml version="1.0"?><a/>', OK, true],
  [
    'declaration, all pseudo-attributes',
    `<?xml version='1.0' encoding='UTF-8' standalone='yes' ?><a/>`,
    OK,
    true,
  ],
  ['declaration not first', ' <?xml version="1.0"?><a/>', DECLINE, false],
  ['declaration version 1.1', '<?xml version="1.1"?><a/>', DECLINE, true],
  ['declaration, bad pseudo-attribute', '<?xml version="1.0" foo="x"?><a/>', DECLINE, false],
  ['a second declaration', '<?xml version="1.0"?><a><?xml version="1.0"?></a>', DECLINE, false],
  ['processing instruction', '<a><?pi some data?></a>', OK, true],
  ['processing instruction after root', '<a/><?pi?>', OK, true],
  ['CRLF line ends', '<a>\r\n<b>x\r\ny</b>\r\n<c/></a>', OK, true],
  ['lone CR', '<a>\r<b>x\ry</b></a>', OK, true],
  ['attribute whitespace normalised', '<a b="x\ty\nz\r\nw"/>', OK, true],
  ['character reference kept in attribute', '<a b="x&#10;y&#9;z"/>', OK, true],
  ['predefined entities', '<a b="&lt;&gt;&amp;&quot;&apos;">&lt;&gt;&amp;&quot;&apos;</a>', OK, true],
  ['character references', '<a>&#65;&#x42;&#xe8;&#x1F600;</a>', OK, true],
  ['reference to NUL', '<a>&#0;</a>', DECLINE, false],
  ['reference to U+FFFE', '<a>&#xFFFE;</a>', DECLINE, false],
  ['undefined entity', '<a>&nbsp;</a>', DECLINE, false],
  ['bare ampersand', '<a>x & y</a>', DECLINE, false],
  ['ampersand without semicolon', '<a>&amp</a>', DECLINE, false],
  ['CDATA', '<a>x<![CDATA[<b>&amp;]]>y</a>', OK, true],
  ['CDATA outside root', '<![CDATA[x]]><a/>', DECLINE, false],
  [']]> in text', '<a>x]]>y</a>', DECLINE, false],
  ['> in text', '<a>x>y</a>', OK, true],
  ['comment', '<!-- c --><a><!-- d --></a><!-- e -->', OK, true],
  ['comment with --', '<a><!-- c -- d --></a>', DECLINE, false],
  ['comment ending in --->', '<a><!-- c ---></a>', DECLINE, false],
  ['DOCTYPE', '<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', DECLINE, false],
  ['namespaces', '<p:a xmlns:p="urn:p" xmlns="urn:d"><b/><p:c q:d="1" xmlns:q="urn:q"/></p:a>', OK, true],
  ['default namespace undeclared below', '<a xmlns="urn:d"><b xmlns=""/></a>', OK, true],
  ['xml prefix on attribute', '<a xml:lang="it"/>', OK, true],
  ['namespace name with spaces around it', '<a xmlns=" urn:d"><p:b xmlns:p="urn:p "/></a>', DECLINE, false],
  ['unbound element prefix', '<p:a/>', DECLINE, false],
  ['unbound attribute prefix', '<a p:b="1"/>', DECLINE, false],
  ['empty prefixed namespace', '<a xmlns:p=""/>', DECLINE, false],
  ['xmlns prefix rebound', '<a xmlns:xmlns="urn:x"/>', DECLINE, false],
  ['duplicate attribute', '<a b="1" b="2"/>', DECLINE, false],
  ['duplicate expanded name', '<a xmlns:p="urn:x" xmlns:q="urn:x" p:b="1" q:b="2"/>', DECLINE, false],
  ['duplicate namespace declaration', '<a xmlns:p="urn:x" xmlns:p="urn:y"/>', DECLINE, false],
  ['attribute named like an Object member', '<a toString="1" constructor="2" __proto__="3"/>', OK, true],
  ['attribute without quotes', '<a b=c/>', DECLINE, false],
  ['attributes without space', '<a b="1"c="2"/>', DECLINE, false],
  ['< in attribute value', '<a b="<"/>', DECLINE, false],
  ['spaces around =', '<a b \n= \t"1"  />', OK, true],
  ['space in end tag', '<a></a \n>', OK, true],
  ['mismatched end tag', '<a></b>', DECLINE, false],
  ['end tag longer than start', '<a></ab>', DECLINE, false],
  ['unclosed element', '<a><b></b>', DECLINE, false],
  ['two roots', '<a/><b/>', DECLINE, false],
  ['text after root', '<a/>x', DECLINE, false],
  ['text before root', 'x<a/>', DECLINE, false],
  ['whitespace around root', '\n \t<a/>\n', OK, true],
  ['no element', '<!-- only a comment -->', DECLINE, false],
  ['empty', '', DECLINE, false],
  ['control character', '<a>\u0001</a>', DECLINE, false],
  ['U+FFFF', '<a>\uffff</a>', DECLINE, false],
  ['non-ASCII name (slow path)', '<città/>', DECLINE, true],
  ['Latin-1 text', '<a b="è">àèìòù €</a>', OK, true],
  ['name with dots, dashes, digits', '<a.b-c_1 d.e-f="1"/>', OK, true],
  ['name starting with a digit', '<1a/>', DECLINE, false],
  ['tabs before elements (column counts characters)', '<a>\n\t\t<b/>\n  \t<c/></a>', OK, true],
];

/**
 * Legal constructs the fast reader once left to saxes (which then took a one-line file
 * quadratically long), beside their illegal neighbours, which it must still decline.
 */
const NOW_FAST: [string, string, typeof OK | typeof DECLINE, boolean][] = [
  ['astral character', '<a>😀</a>', OK, true],
  [
    'astral characters before elements (column counts them once)',
    '<a>😀<b/>x😀😀y<c d="😀"/>\n😀<e/></a>',
    OK,
    true,
  ],
  ['astral character in an attribute and a reference', '<a b="😀&#x1F600;">&#x1F600;😀</a>', OK, true],
  ['lone high surrogate', '<a>\ud83d</a>', DECLINE, false],
  ['lone low surrogate', '<a>\ude00x</a>', DECLINE, false],
  ['reversed surrogate pair', '<a>\ude00\ud83d</a>', DECLINE, false],
  [
    'xmlns:xml declared to its own namespace',
    '<a xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="it"><b/></a>',
    OK,
    true,
  ],
  ['xmlns:xml declared to another namespace', '<a xmlns:xml="urn:x"/>', DECLINE, false],
  [
    'another prefix bound to the xml namespace',
    '<a xmlns:p="http://www.w3.org/XML/1998/namespace"/>',
    DECLINE,
    false,
  ],
  [
    'many attributes, one of them twice',
    `<a ${Array.from({ length: 50 }, (_, i) => `b${i}="1"`).join(' ')} b7="2"/>`,
    DECLINE,
    false,
  ],
  [
    'many namespace declarations, one prefix twice',
    `<a ${Array.from({ length: 50 }, (_, i) => `xmlns:p${i}="urn:${i}"`).join(' ')} xmlns:p7="urn:x"/>`,
    DECLINE,
    false,
  ],
];

describe('fast XML reader = saxes', () => {
  it.each(TABLE)('%s', (_name, input, expected, saxesAccepts) => {
    const r = compare(input);
    expect(r.fast.kind).toBe(expected);
    expect(r.saxesOk).toBe(saxesAccepts);
  });

  it('takes astral characters and a legal xmlns:xml declaration; declines their illegal neighbours', () => {
    for (const [name, input, expected, saxesAccepts] of NOW_FAST) {
      const r = compare(input);
      expect(r.fast.kind, name).toBe(expected);
      expect(r.saxesOk, name).toBe(saxesAccepts);
    }
  });

  it('declines nesting deeper than the limit, as saxes refuses it', () => {
    const deep = (n: number, leaf: string): string => '<a>'.repeat(n - 1) + leaf + '</a>'.repeat(n - 1);
    expect(compare(deep(MAX_DEPTH, '<b/>')).fast.kind).toBe(OK);
    expect(compare(deep(MAX_DEPTH + 1, '<b/>')).fast.kind).toBe(DECLINE);
    expect(compare(deep(MAX_DEPTH + 1, '<b></b>')).fast.kind).toBe(DECLINE);
  });

  it('builds the same tree as saxes for every example invoice, all on the fast path', () => {
    expect(EXAMPLE_FILES.length).toBe(5);
    for (const f of EXAMPLE_FILES) expect(compare(fs.readFileSync(f, 'utf8')).fast.kind, f).toBe(OK);
  });

  it.skipIf(!SPEC)('builds the same tree as saxes for every XML file of the specification folder', () => {
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.(xml|xsd|wsdl)$/i.test(e.name)) files.push(p);
      }
    };
    walk(SPEC);
    expect(files.length).toBeGreaterThan(20);
    let accepted = 0;
    for (const f of files) {
      const d = decodeXml(fs.readFileSync(f));
      if (!d.ok) continue;
      if (compare(d.text).fast.kind === OK) accepted++;
    }
    // All but the odd file with a DOCTYPE or non-ASCII names take the fast path.
    expect(accepted).toBeGreaterThan(files.length * 0.8);
  });

  it('never accepts what saxes refuses, on random mutations of the samples', () => {
    const official = SPEC ? path.join(SPEC, 'fatturapa', 'samples') : '';
    const samples = [
      ...EXAMPLE_FILES.map((f) => fs.readFileSync(f, 'utf8')),
      ...(official ? fs.readdirSync(official) : [])
        .filter((f) => f.endsWith('.xml'))
        .map((f) => fs.readFileSync(path.join(official, f), 'utf8')),
    ];
    const rnd = prng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    const NOISE = [
      '<',
      '</',
      '>',
      '/>',
      '&',
      '&amp;',
      '&#0;',
      '&#xD800;',
      '&#233;',
      ']]>',
      '<![CDATA[x]]>',
      '<!--',
      '-->',
      '<!-- -- -->',
      '"',
      "'",
      '=',
      '<?pi?>',
      '<?xml?>',
      '\u0001',
      '\r',
      '\r\n',
      '\t',
      ' ',
      'xmlns:q="urn:q"',
      'q:',
      'xmlns=""',
      ' b="1"',
      ' b="1" b="2"',
      '<x/>',
      '</x>',
      'è',
      '😀',
      '\uffff',
      ':',
      '<!DOCTYPE x>',
    ];
    let accepted = 0;
    let declinedWellFormed = 0;
    const N = 3000;
    for (let i = 0; i < N; i++) {
      let t = pick(samples);
      const edits = rnd() < 0.7 ? 1 : 2;
      for (let k = 0; k < edits; k++) {
        const pos = Math.floor(rnd() * t.length);
        const kind = rnd();
        if (kind < 0.5) t = t.slice(0, pos) + pick(NOISE) + t.slice(pos);
        else if (kind < 0.75) t = t.slice(0, pos) + t.slice(pos + 1 + Math.floor(rnd() * 20));
        else t = t.slice(0, pos) + t.slice(pos, pos + 1 + Math.floor(rnd() * 80)) + t.slice(pos);
      }
      const r = compare(t);
      if (r.fast.kind === OK) accepted++;
      else if (r.saxesOk) declinedWellFormed++;
    }
    console.log(
      `fast reader on ${N} mutants: ${accepted} accepted, ${declinedWellFormed} well-formed left to saxes`,
    );
    // The mutations must exercise both sides: many still well-formed, many not.
    expect(accepted).toBeGreaterThan(N * 0.1);
    expect(accepted).toBeLessThan(N * 0.85);
    // Well-formed inputs the fast reader leaves to saxes are the rare constructs only.
    expect(declinedWellFormed).toBeLessThan(N * 0.1);
  });
});
