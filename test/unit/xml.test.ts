import { describe, expect, it } from 'vitest';
import { all, at, parseXml, textAt } from '../../src/invoice/xml.js';

const decl = (enc: string | null): string =>
  enc ? `<?xml version="1.0" encoding="${enc}"?>` : '<?xml version="1.0"?>';

describe('XML parsing: encodings', () => {
  const city = 'Forlì Città';
  it.each([
    ['UTF-8 declared', Buffer.from(`${decl('UTF-8')}<a>${city}</a>`, 'utf8')],
    ['UTF-8 undeclared', Buffer.from(`${decl(null)}<a>${city}</a>`, 'utf8')],
    [
      'UTF-8 with BOM',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${decl('utf-8')}<a>${city}</a>`)]),
    ],
    ['ISO-8859-1 declared', Buffer.from(`${decl('ISO-8859-1')}<a>${city}</a>`, 'latin1')],
    ['windows-1252 declared', Buffer.from(`${decl('windows-1252')}<a>${city}</a>`, 'latin1')],
    [
      'UTF-16LE with BOM',
      Buffer.concat([
        Buffer.from([0xff, 0xfe]),
        Buffer.from(`<?xml version="1.0" encoding="UTF-16"?><a>${city}</a>`, 'utf16le'),
      ]),
    ],
  ])('%s: decoded to the same text', (_name, bytes) => {
    const r = parseXml(bytes);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.root.text).toBe(city);
  });

  it('windows-1252 decodes the euro sign; ISO-8859-1 keeps 0x80 as a C1 control', () => {
    const w = parseXml(
      Buffer.concat([Buffer.from(`${decl('windows-1252')}<a>`), Buffer.from([0x80]), Buffer.from('</a>')]),
    );
    const l = parseXml(
      Buffer.concat([Buffer.from(`${decl('ISO-8859-1')}<a>`), Buffer.from([0x80]), Buffer.from('</a>')]),
    );
    expect(w.ok && w.root.text).toBe('€');
    expect(l.ok && l.root.text).toBe('\u0080');
  });

  it.each([
    [
      'undeclared Latin-1 bytes',
      Buffer.from(`${decl(null)}<a>${city}</a>`, 'latin1'),
      /no encoding declaration.*not valid UTF-8/,
    ],
    [
      'declared UTF-8, Latin-1 bytes',
      Buffer.from(`${decl('UTF-8')}<a>${city}</a>`, 'latin1'),
      /declares UTF-8 but byte/,
    ],
    [
      'BOM with another declaration',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${decl('ISO-8859-1')}<a/>`)]),
      /byte order mark/,
    ],
    ['unknown encoding', Buffer.from(`${decl('EBCDIC-IT')}<a/>`), /not supported/],
    ['UTF-16 declared without BOM', Buffer.from(`${decl('UTF-16')}<a/>`), /UTF-16/],
    [
      'US-ASCII declared with 8-bit bytes',
      Buffer.from(`${decl('US-ASCII')}<a>${city}</a>`, 'utf8'),
      /US-ASCII/,
    ],
  ])('%s → 00200 with a clear message', (_n, bytes, re) => {
    const r = parseXml(bytes);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors[0]?.code).toBe('00200');
      expect(r.errors[0]?.message).toMatch(re);
      expect(r.errors[0]?.messageIt.length).toBeGreaterThan(10);
    }
  });
});

describe('XML parsing: hostile and malformed input', () => {
  it.each([
    [
      'billion laughs',
      `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><l>&c;</l>`,
      /DOCTYPE/,
    ],
    [
      'external entity (XXE)',
      `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>`,
      /DOCTYPE/,
    ],
    ['external DTD', `<!DOCTYPE x SYSTEM "http://127.0.0.1/x.dtd"><x/>`, /DOCTYPE/],
    ['undefined entity', `<x>&nbsp;</x>`, /undefined entity/],
    ['unclosed element', `<x><y></x>`, /well-formed/],
    ['two roots', `<x/><y/>`, /well-formed/],
    ['empty', ``, /well-formed|no XML element/],
    ['text only', `hello`, /well-formed/],
    ['too deep', '<a>'.repeat(500) + '</a>'.repeat(500), /nested deeper/],
  ])('%s → 00200', (_n, text, re) => {
    const r = parseXml(Buffer.from(text));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors[0]?.code).toBe('00200');
      expect(r.errors[0]?.message).toMatch(re);
    }
  });

  it('keeps predefined entities and character references, and positions', () => {
    const r = parseXml(
      Buffer.from(
        '<?xml version="1.0"?>\n<r xmlns:p="urn:x">\n  <p:a k="v">A &amp; B &#232;</p:a>\n  <b/>\n</r>',
      ),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(at(r.root, 'a')?.text).toBe('A & B è');
    expect(at(r.root, 'a')).toMatchObject({
      ns: 'urn:x',
      prefix: 'p',
      attrs: { k: 'v' },
      line: 3,
      column: 3,
    });
    expect(all(r.root, 'b')).toHaveLength(1);
    expect(textAt(r.root, 'a')).toBe('A & B è');
  });
});
