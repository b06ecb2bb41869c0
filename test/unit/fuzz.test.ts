import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateFile } from '../../src/rules/validate.js';
import { prng } from '../helpers/daemon.js';
import { EXAMPLES, specPath } from '../helpers/spec.js';

/**
 * Random byte and tree mutations of the project's examples (and of the official samples, when the
 * spec files are there) never crash or hang the validator: every input gets a verdict, each within
 * a time bound.
 */
const SAMPLES = specPath('fatturapa', 'samples');
const SEED = Number(process.env.TEST_SEED ?? 4242);

function mutateBytes(src: Buffer, rnd: () => number): Buffer {
  const b = Buffer.from(src);
  const kind = Math.floor(rnd() * 6);
  const pos = Math.floor(rnd() * b.length);
  switch (kind) {
    case 0: // flip random bytes
      for (let i = 0; i < 1 + rnd() * 8; i++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      return b;
    case 1: // truncate
      return b.subarray(0, pos);
    case 2: // delete a span
      return Buffer.concat([
        b.subarray(0, pos),
        b.subarray(Math.min(b.length, pos + Math.floor(rnd() * 200))),
      ]);
    case 3: // duplicate a span
      return Buffer.concat([b.subarray(0, pos), b.subarray(pos, pos + 300), b.subarray(pos)]);
    case 4: // insert markup noise
      return Buffer.concat([
        b.subarray(0, pos),
        Buffer.from(
          ['<', '</', '>', '&', '&#0;', ']]>', '<![CDATA[', '<!--', '"', "'", '<?x?>', '\u0000', '€'][
            Math.floor(rnd() * 13)
          ] as string,
        ),
        b.subarray(pos),
      ]);
    default: {
      // swap two spans
      const q = Math.floor(rnd() * b.length);
      const [a, c] = pos < q ? [pos, q] : [q, pos];
      const len = Math.min(100, c - a);
      return Buffer.concat([
        b.subarray(0, a),
        b.subarray(c, c + len),
        b.subarray(a + len, c),
        b.subarray(a, a + len),
        b.subarray(c + len),
      ]);
    }
  }
}

function mutateTree(src: string, rnd: () => number): string {
  const tags = [...src.matchAll(/<([A-Za-z][\w.]*)>[^<]*<\/\1>/g)];
  const m = tags[Math.floor(rnd() * tags.length)];
  if (!m || m.index === undefined) return src;
  const whole = m[0];
  const choices = [
    () => src.replace(whole, ''),
    () => src.replace(whole, whole + whole),
    () => src.replace(whole, whole.replace(/>[^<]*</, `>${'9'.repeat(1 + Math.floor(rnd() * 30))}<`)),
    () => src.replace(whole, whole.replace(/>[^<]*</, '><')),
    () => src.replace(whole, whole.replace(/>[^<]*</, '>-0.000000001<')),
    () => src.replace(whole, `<${m[1]}>${whole}</${m[1]}>`),
  ];
  return (choices[Math.floor(rnd() * choices.length)] as () => string)();
}

describe(`fuzz: the validator always answers (seed ${SEED})`, () => {
  const samples = [
    ...fs
      .readdirSync(EXAMPLES)
      .filter((f) => f.endsWith('.xml'))
      .map((f) => ({ name: f, bytes: fs.readFileSync(path.join(EXAMPLES, f)) })),
    ...(SAMPLES ? fs.readdirSync(SAMPLES) : []).map((f) => ({
      name: f,
      bytes: fs.readFileSync(path.join(SAMPLES as string, f)),
    })),
  ];
  it(
    '1,500 byte and tree mutations: a verdict each, no throw, bounded time',
    { timeout: 120_000 },
    async () => {
      const rnd = prng(SEED);
      let valid = 0;
      let slowest = 0;
      for (let i = 0; i < 1500; i++) {
        const s = samples[i % samples.length] as { name: string; bytes: Buffer };
        const input =
          i % 2 === 0 ? mutateBytes(s.bytes, rnd) : Buffer.from(mutateTree(s.bytes.toString('utf8'), rnd));
        const t = performance.now();
        const r = await validateFile(s.name, input, { fileName: 'off', now: new Date('2026-01-01') });
        slowest = Math.max(slowest, performance.now() - t);
        expect(typeof r.valid).toBe('boolean');
        if (!r.valid) expect(r.errors.length).toBeGreaterThan(0);
        for (const e of r.errors) {
          expect(e.code).toMatch(/^(\d{5}|[A-Z0-9-]+)$/);
          expect(e.message.length).toBeGreaterThan(0);
          expect(e.messageIt.length).toBeGreaterThan(0);
        }
        if (r.valid) valid++;
      }
      console.log(`fuzz: 1500 inputs, ${valid} still valid, slowest ${slowest.toFixed(1)} ms`);
      // A generous bound: a hang or an exponential blow-up would exceed it by far.
      expect(slowest).toBeLessThan(5_000);
    },
  );

  it('hostile XML gets a clear 00200, never an expansion', async () => {
    const cases = [
      `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "${'a'.repeat(100)}"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><x>&c;</x>`,
      `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>`,
      `<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:1/evil.dtd"><x/>`,
      `<x>&undefined;</x>`,
      `${'<a>'.repeat(100_000)}`,
    ];
    for (const c of cases) {
      const r = await validateFile('IT01234567890_00001.xml', Buffer.from(c), { fileName: 'off' });
      expect(r.valid).toBe(false);
      expect(r.errors[0]?.code).toBe('00200');
      expect(JSON.stringify(r)).not.toContain('root:x:0:0');
    }
  });
});
