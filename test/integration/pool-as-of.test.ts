import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type * as PoolTypes from '../../src/rules/pool.js';
import { parseDay } from '../../src/rules/sdi/days.js';
import { invoice } from '../unit/content/helpers.js';

// The pool's workers run the compiled code (dist/, built by `npm test` before the tests).
const { ValidationPool } = (await import(
  path.resolve(import.meta.dirname, '../../dist/rules/pool.js')
)) as typeof PoolTypes;

const pool = new ValidationPool(1);
afterAll(() => pool.close());

const ids = {
  trasmittente: '06363391001',
  cedente: { paese: 'IT', codice: '06363391001' },
  cessionario: { paese: 'IT', codice: '00488410010' },
};

describe('validation pool: the as-of day, received invoices and notes cross the thread boundary', () => {
  it('asOf: a TD29 is a format error (00200) as of 2025-03-31 and valid as of 2025-04-01', async () => {
    expect(pool.size).toBe(1);
    const bytes = Buffer.from(invoice({ ...ids, bodies: [{ tipo: 'TD29', data: '2025-03-01' }] }));
    const then = await pool.validate('IT06363391001_00001.xml', bytes, {
      asOf: parseDay('2025-03-31') ?? undefined,
    });
    expect(then.errors.map((e) => e.code)).toEqual(['00200']);
    const after = await pool.validate('IT06363391001_00001.xml', bytes, {
      asOf: parseDay('2025-04-01') ?? undefined,
    });
    expect(after.valid).toBe(true);
  });

  it('notes come back apart from warnings, and not for a received invoice', async () => {
    const bytes = Buffer.from(invoice({ ...ids, codiceDestinatario: '0000000' }));
    const sent = await pool.validate('IT06363391001_00001.xml', bytes);
    expect(sent.warnings).toEqual([]);
    expect(sent.info.map((n) => n.code)).toEqual(['RECIPIENT-RESERVED-AREA']);
    const received = await pool.validate('IT06363391001_00001.xml', bytes, { received: true });
    expect(received.info).toEqual([]);
  });
});
