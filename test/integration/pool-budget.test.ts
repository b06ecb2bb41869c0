import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseNotification } from '../../src/notifications/parse.js';
import type * as PoolTypes from '../../src/rules/pool.js';
import { bigInvoice } from '../helpers/big-invoice.js';

// The pool's workers run the compiled code (dist/, built by `npm test` before the tests).
const { ValidationPool } = (await import(
  path.resolve(import.meta.dirname, '../../dist/rules/pool.js')
)) as typeof PoolTypes;

/**
 * The per-file budget of the validation workers (validation.budget): a file that goes past its
 * time or its memory gets a 00200 "too complex" verdict, in English and Italian; the files the
 * stopped worker held go to a new worker and get their own verdicts. The budgets here are far
 * below what the large file needs (20 MB, about a second of work and more than 64 MB of heap),
 * so the outcome does not depend on the machine's speed.
 */
const pools: PoolTypes.ValidationPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});
const pool = (budget: PoolTypes.Budget): PoolTypes.ValidationPool => {
  const p = new ValidationPool(1, budget);
  pools.push(p);
  return p;
};

const LARGE = Buffer.from(bigInvoice(20 * 1024 * 1024, { oneLine: true, numero: 'L1' }));
const SMALL = Buffer.from(bigInvoice(5_000, { numero: 'S1' }));
const opts = { fileName: 'off', maxFileBytes: 64 * 1024 * 1024 } as const;

describe('validation pool: the per-file budget', () => {
  it('over the time budget: 00200 too complex; the file queued behind it still gets its verdict', async () => {
    const p = pool({ timeMs: 250, memoryMb: 1024 });
    expect(p.size).toBe(1);
    const [large, small] = await Promise.all([
      p.validate('IT12345670017_00001.xml', LARGE, opts),
      p.validate('IT12345670017_00002.xml', SMALL, opts),
    ]);
    expect(large.valid).toBe(false);
    expect(large.errors).toHaveLength(1);
    expect(large.errors[0]?.code).toBe('00200');
    expect(large.errors[0]?.message).toMatch(/too complex to check: its check took more than 0\.25 s/);
    expect(large.errors[0]?.messageIt).toMatch(
      /troppo complesso da verificare: la verifica ha superato 0\.25 s/,
    );
    expect(small.valid).toBe(true);
    expect(small.keys[0]?.numero).toBe('S1');
    expect(p.counts.overBudget).toBe(1);
    // The small file went to a worker twice: behind the large one, then to the new worker.
    expect(p.counts.inWorker).toBe(3);
    // The pool keeps its size and its next files are judged as usual.
    expect(p.size).toBe(1);
    expect((await p.validate('IT12345670017_00003.xml', SMALL, opts)).valid).toBe(true);
  });

  it('over the memory budget: 00200 too complex; the file queued behind it still gets its verdict', async () => {
    const p = pool({ timeMs: 120_000, memoryMb: 64 });
    const [large, small] = await Promise.all([
      p.validate('IT12345670017_00001.xml', LARGE, opts),
      p.validate('IT12345670017_00002.xml', SMALL, opts),
    ]);
    expect(large.valid).toBe(false);
    expect(large.errors[0]?.code).toBe('00200');
    expect(large.errors[0]?.message).toMatch(
      /needed more than 64 MB of memory \(validation\.budget\.memoryMb\)/,
    );
    expect(large.errors[0]?.messageIt).toMatch(/più di 64 MB di memoria/);
    expect(small.valid).toBe(true);
    expect(p.counts.overBudget).toBe(1);
  });

  it('within the budget: the same verdict as without one', async () => {
    const p = pool({ timeMs: 120_000, memoryMb: 1024 });
    const large = await p.validate('IT12345670017_00001.xml', LARGE, opts);
    expect(large.errors).toEqual([]);
    expect(large.valid).toBe(true);
    expect(p.counts.overBudget).toBe(0);
  });

  it('reads SdI messages on a worker, with the same result as in this thread', async () => {
    const p = pool({ timeMs: 120_000, memoryMb: 256 });
    const ns = Buffer.from(
      '<?xml version="1.0"?><ns3:NotificaScarto xmlns:ns3="http://www.fatturapa.gov.it/sdi/messaggi/v1.0" versione="1.0">' +
        '<IdentificativoSdI>111</IdentificativoSdI><NomeFile>IT12345670017_00001.xml</NomeFile>' +
        '<DataOraRicezione>2026-01-15T10:00:00.000+01:00</DataOraRicezione>' +
        `<ListaErrori>${'<Errore><Codice>00404</Codice><Descrizione>Fattura duplicata</Descrizione></Errore>'.repeat(2000)}</ListaErrori>` +
        '<MessageId>1</MessageId></ns3:NotificaScarto>',
    );
    const inWorker = await p.parseNotification(ns);
    expect(p.counts.inWorker).toBe(1);
    expect(inWorker).toEqual(parseNotification(ns));
    expect(inWorker.ok && inWorker.notification.errors).toHaveLength(2000);
    const bad = await p.parseNotification(Buffer.from('<a>'.repeat(100_000)));
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error).toMatch(/nested deeper than 32 levels/);
  });
});
