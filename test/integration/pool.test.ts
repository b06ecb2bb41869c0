import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type * as PoolTypes from '../../src/rules/pool.js';
import { validateFile } from '../../src/rules/validate.js';
import { EX, exampleText } from '../helpers/spec.js';

// The pool's workers run the compiled code (dist/, built by `npm test` before the tests).
const { ValidationPool } = (await import(
  path.resolve(import.meta.dirname, '../../dist/rules/pool.js')
)) as typeof PoolTypes;

const FPR12 = exampleText(EX.b2b);
/** The example's first line: 8 × 65.00 = 520.00 at 22 %. */
const line = /<DettaglioLinee>[\s\S]*?<\/DettaglioLinee>/.exec(FPR12)?.[0] ?? '';
/** About 700 KB (2,000 copies of that line and their summary): a batch of its own. */
const large = (n: number, broken = false): Buffer =>
  Buffer.from(
    FPR12.replace(/<DettaglioLinee>[\s\S]*<\/DettaglioLinee>/, line.repeat(2000))
      .replace(
        /<DatiRiepilogo>[\s\S]*<\/DatiRiepilogo>/,
        '<DatiRiepilogo><AliquotaIVA>22.00</AliquotaIVA><ImponibileImporto>1040000.00</ImponibileImporto>' +
          '<Imposta>228800.00</Imposta><EsigibilitaIVA>I</EsigibilitaIVA></DatiRiepilogo>',
      )
      .replace(/<ImportoTotaleDocumento>[^<]*</, '<ImportoTotaleDocumento>1268800.00<')
      .replace(/<ImportoPagamento>[^<]*</, '<ImportoPagamento>1268800.00<')
      .replace(/<Numero>[^<]*<\/Numero>/, `<Numero>L${n}</Numero>`)
      .replace('<Quantita>', broken ? '<Quantita>x' : '<Quantita>'),
  );

const pool = new ValidationPool(2);
afterAll(() => pool.close());

describe('validation pool (worker threads)', () => {
  it('runs real workers and gives the same verdict as validation in the calling thread', async () => {
    expect(pool.size).toBe(2);
    for (const bytes of [large(1), large(2, true), Buffer.from(FPR12)]) {
      const inThread = await validateFile('IT12345670017_00001.xml', bytes, { fileName: 'off' });
      const pooled = await pool.validate('IT12345670017_00001.xml', bytes, { fileName: 'off' });
      expect(pooled.valid).toBe(inThread.valid);
      expect(pooled.errors).toEqual(inThread.errors);
      expect(pooled.warnings).toEqual(inThread.warnings);
      expect(pooled.keys).toEqual(inThread.keys);
    }
  });

  it('many files at once: every one gets its own verdict', async () => {
    const files = Array.from({ length: 12 }, (_, i) => large(i, i % 3 === 0));
    const verdicts = await Promise.all(files.map((f) => pool.validate('IT12345670017_00001.xml', f)));
    expect(verdicts.map((v) => v.valid)).toEqual(files.map((_, i) => i % 3 !== 0));
    // Structurally broken files stop before their keys are read.
    expect(verdicts.map((v) => v.keys[0]?.numero)).toEqual(
      files.map((_, i) => (i % 3 === 0 ? undefined : `L${i}`)),
    );
  });

  it('small files handed over together travel in batches, each with its own verdict', async () => {
    const small = Array.from({ length: 300 }, (_, i) =>
      Buffer.from(
        FPR12.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>S${i}</Numero>`).replace(
          '<Quantita>',
          i % 7 === 0 ? '<Quantita>x' : '<Quantita>',
        ),
      ),
    );
    expect(pool.capacity).toBeGreaterThanOrEqual(2 * 64);
    const pooled = await Promise.all(small.map((f) => pool.validate('IT12345670017_00001.xml', f)));
    for (const [i, f] of small.entries()) {
      const inThread = await validateFile('IT12345670017_00001.xml', f);
      expect(pooled[i]?.valid).toBe(i % 7 !== 0);
      expect(pooled[i]?.errors).toEqual(inThread.errors);
      expect(pooled[i]?.keys.map((k) => k.numero)).toEqual(inThread.keys.map((k) => k.numero));
    }
  });

  it('a closed pool refuses work', async () => {
    const p = new ValidationPool(1);
    await p.close();
    await expect(p.validate('x.xml', large(0))).rejects.toThrow(/closed/);
  });
});
