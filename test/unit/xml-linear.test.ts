import { describe, expect, it } from 'vitest';
import { parseFast } from '../../src/invoice/xml-fast.js';
import { parseXml, parseXmlText, type WorkCounter } from '../../src/invoice/xml.js';
import { validateFile } from '../../src/rules/validate.js';
import { bigInvoice } from '../helpers/big-invoice.js';
import { prng } from '../helpers/daemon.js';

/**
 * No parser cliff: the work of every parse path grows linearly with the input, measured as
 * operation counts (ParseOptions.work: characters examined by fatturad's own scans, line and
 * column tracking included, characters saxes consumed, elements and attributes handled), never as
 * wall-clock time. Inputs of size n, 2n, 4n and 8n of each generated kind (one-line invoices,
 * truncated ones, deep nestings, long runs of text, comments or attributes, random markup) go
 * through the fast reader and through saxes; the work per character must stay flat. Before,
 * line and column were found by looking again at the whole line before each tag: on a one-line
 * file, quadratic (a 1 MB one-line invoice took 27 s, a truncated 5 MB one 564 s).
 */
const SEED = Number(process.env.TEST_SEED ?? 1414);

type Gen = (n: number) => string;

/** About n characters of each kind. */
const GENERATORS: Record<string, Gen> = {
  'one-line invoice': (n) => bigInvoice(n, { oneLine: true }),
  'one-line invoice declaring xmlns:xml': (n) => bigInvoice(n, { oneLine: true, xmlnsXml: true }),
  'indented invoice': (n) => bigInvoice(n),
  'one-line invoice, truncated': (n) => bigInvoice(n, { oneLine: true }).slice(0, -25),
  'one-line invoice with an astral character, truncated': (n) =>
    bigInvoice(n, { oneLine: true }).replace('<Descrizione>', '<Descrizione>\u{1F600}').slice(0, -25),
  'CRLF invoice, truncated': (n) => bigInvoice(n).replace(/\n/g, '\r\n').slice(0, -25),
  'deep nesting, unclosed': (n) => '<a>'.repeat(Math.floor(n / 3)),
  'deep nesting, closed': (n) => '<a>'.repeat(Math.floor(n / 7)) + '</a>'.repeat(Math.floor(n / 7)),
  'deep nesting with a default namespace': (n) => `<a xmlns="urn:x">${'<b>'.repeat(Math.floor(n / 3))}`,
  'wide, one line': (n) => `<r>${'<a b="1">x</a>'.repeat(Math.floor(n / 15))}</r>`,
  'wide, with astral characters': (n) => `<r>${'<a>\u{1F600}</a>'.repeat(Math.floor(n / 10))}</r>`,
  'one long text': (n) => `<r>${'x'.repeat(n)}`,
  'one long comment': (n) => `<r><!--${'x'.repeat(n)}`,
  'one element with many attributes': (n) =>
    `<r ${Array.from({ length: Math.floor(n / 10) }, (_, i) => `a${i}="1"`).join(' ')}/>`,
  'many namespace declarations': (n) =>
    `<r ${Array.from({ length: Math.floor(n / 22) }, (_, i) => `xmlns:p${i}="urn:${i}"`).join(' ')}/>`,
  'many short lines': (n) => `<r>${'<a/>\n'.repeat(Math.floor(n / 5))}</r>`,
  'lone CRs': (n) => `<r>${'<a/>\r'.repeat(Math.floor(n / 5))}`,
};

/** Random markup of about n characters, the same for a given seed and size. */
function randomMarkup(seed: number): Gen {
  return (n) => {
    const rnd = prng(seed);
    const parts = [
      '<a>',
      '</a>',
      '<b x="1">',
      '</b>',
      'text',
      '\n',
      '&amp;',
      '<!-- c -->',
      '\u{1F600}',
      '<c/>',
    ];
    let s = '<r>';
    while (s.length < n) s += parts[Math.floor(rnd() * parts.length)] as string;
    return s;
  };
}

/**
 * A one-line invoice of about n characters with random edits at the same relative places whatever
 * n: cut short, a span deleted, markup noise inserted, a span nested in itself (deeper), an astral
 * character added (the fast reader takes it now; a lone half of one sends the file to saxes).
 */
function mutatedInvoice(seed: number): Gen {
  return (n) => {
    const rnd = prng(seed);
    let t = bigInvoice(n, { oneLine: true });
    const NOISE = [
      '<',
      '</',
      '>',
      '&',
      '&#0;',
      ']]>',
      '<![CDATA[',
      '<!--',
      '"',
      '<?x?>',
      '\u{1F600}',
      '\ud83d',
      '<x xmlns:xml="http://www.w3.org/XML/1998/namespace">',
    ];
    for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) {
      const at = Math.floor(rnd() * t.length);
      const kind = Math.floor(rnd() * 5);
      if (kind === 0) t = t.slice(0, at);
      else if (kind === 1) t = t.slice(0, at) + t.slice(at + Math.floor(rnd() * 200));
      else if (kind === 2)
        t = t.slice(0, at) + (NOISE[Math.floor(rnd() * NOISE.length)] as string) + t.slice(at);
      else if (kind === 3) t = t.slice(0, at) + '<a>'.repeat(Math.floor(rnd() * 100)) + t.slice(at);
      else t = t.slice(0, at) + '\u{1F600}' + t.slice(at);
    }
    return t;
  };
}

function steps(text: string, engine: 'auto' | 'saxes'): number {
  const work: WorkCounter = { steps: 0 };
  parseXmlText(text, 'utf-8', { engine, work });
  return work.steps;
}

const N = 16 * 1024;

describe('every parse path is linear in its input (operation counts)', () => {
  const gens: [string, Gen][] = [
    ...Object.entries(GENERATORS),
    ...[1, 2, 3].map((k): [string, Gen] => [`random markup ${k}`, randomMarkup(SEED + k)]),
    ...Array.from({ length: 12 }, (_, k): [string, Gen] => [
      `one-line invoice with random edits ${k + 1}`,
      mutatedInvoice(SEED * 100 + k),
    ]),
  ];
  for (const engine of ['auto', 'saxes'] as const) {
    it.each(gens)(`${engine}: %s`, (_name, gen) => {
      const sizes = [N, 2 * N, 4 * N, 8 * N];
      const perChar = sizes.map((n) => {
        const text = gen(n);
        // (A random cut may leave little: the work per character is compared all the same.)
        if (!/random edits/.test(_name)) expect(text.length).toBeGreaterThan(n / 2);
        return steps(text, engine) / text.length;
      });
      // Some work is done: the counter is wired through this path.
      expect(perChar[0]).toBeGreaterThan(0.5);
      // Flat: 8 times the input is at most 8 times the work (a quadratic path would be 64 times),
      // and never more than a few dozen operations per character.
      const [first, , , last] = perChar as [number, number, number, number];
      expect(
        last,
        `work per character at n and 8n: ${perChar.map((x) => x.toFixed(2)).join(', ')}`,
      ).toBeLessThan(first * 1.25 + 0.5);
      expect(last).toBeLessThan(40);
    });
  }
});

describe('the inputs that froze the daemon', () => {
  it('a valid one-line 1 MB invoice declaring xmlns:xml: valid, on the fast path', async () => {
    const text = bigInvoice(1024 * 1024, { oneLine: true, xmlnsXml: true });
    expect(text).not.toContain('\n');
    const fast: WorkCounter = { steps: 0 };
    const viaAuto = parseXmlText(text, 'utf-8', { work: fast });
    const slow: WorkCounter = { steps: 0 };
    const viaSaxes = parseXmlText(text, 'utf-8', { engine: 'saxes', work: slow });
    expect(viaAuto.ok && viaSaxes.ok).toBe(true);
    if (viaAuto.ok && viaSaxes.ok) expect(viaAuto.root).toEqual(viaSaxes.root);
    for (const w of [fast, slow]) {
      expect(w.steps).toBeGreaterThan(text.length);
      expect(w.steps / text.length).toBeLessThan(40);
    }
    const r = await validateFile('IT12345670017_00001.xml', Buffer.from(text), {
      fileName: 'off',
      now: new Date('2026-02-01'),
    });
    expect(r.errors).toEqual([]);
    expect(r.valid).toBe(true);
  });

  it('a truncated 5 MB one-line invoice: refused with 00200, its line and column', async () => {
    const text = bigInvoice(5 * 1024 * 1024 - 100, { oneLine: true }).slice(0, -40);
    const work: WorkCounter = { steps: 0 };
    const p = parseXml(Buffer.from(text), { work });
    expect(p.ok).toBe(false);
    expect(work.steps).toBeGreaterThan(text.length);
    expect(work.steps / text.length).toBeLessThan(40);
    const r = await validateFile('IT12345670017_00001.xml', Buffer.from(text), { fileName: 'off' });
    expect(r.valid).toBe(false);
    expect(r.errors[0]?.code).toBe('00200');
    expect(r.errors[0]?.message).toMatch(/not well-formed/);
    expect(r.errors[0]?.line).toBe(1);
    expect(r.errors[0]?.column).toBeGreaterThan(5_000_000);
  });

  it('100,000-deep nesting: refused with 00200 after reading 64 levels, both paths', async () => {
    const text = '<a>'.repeat(100_000) + '</a>'.repeat(100_000);
    for (const engine of ['auto', 'saxes'] as const) {
      const work: WorkCounter = { steps: 0 };
      const p = parseXmlText(text, 'utf-8', { engine, work });
      expect(p.ok).toBe(false);
      if (!p.ok) {
        expect(p.errors[0]?.code).toBe('00200');
        expect(p.errors[0]?.message).toMatch(/nested deeper than 64 levels/);
        expect(p.errors[0]?.messageIt).toMatch(/annidati oltre 64 livelli/);
        expect(p.errors[0]?.column).toBe(64 * 3 + 1);
      }
      expect(work.steps).toBeGreaterThan(text.length);
      // saxes stops at the 65th level: beyond the three scans of the line tracking (line feeds,
      // carriage returns, surrogates), it consumes a few hundred characters, not the file.
      if (engine === 'saxes') expect(work.steps - 3 * text.length).toBeLessThan(2_000);
      else expect(work.steps / text.length).toBeLessThan(16);
    }
    const r = await validateFile('IT12345670017_00001.xml', Buffer.from(text), { fileName: 'off' });
    expect(r.errors.map((e) => e.code)).toEqual(['00200']);
  });

  it('columns count an astral character once, on both paths, wherever it stands', () => {
    const text = `<r>${'\u{1F600}x'.repeat(1000)}<a/>\n\u{1F600}<b/>\r\n\u{1F600}\u{1F600}<c/></r>`;
    // The fast reader takes it (it used to leave every astral character to saxes).
    expect(parseFast(text, 64)).not.toBeNull();
    for (const engine of ['auto', 'saxes'] as const) {
      const p = parseXmlText(text, 'utf-8', { engine });
      expect(p.ok).toBe(true);
      if (!p.ok) continue;
      const [a, b, c] = p.root.children;
      expect([a?.line, a?.column]).toEqual([1, 4 + 2000]);
      expect([b?.line, b?.column]).toEqual([2, 2]);
      expect([c?.line, c?.column]).toEqual([3, 3]);
    }
  });
});
