import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type * as StepTypes from '../../src/pipeline/validate-step.js';
import { Store } from '../../src/store/store.js';
import { bigInvoice } from '../helpers/big-invoice.js';
import { tempDir } from '../helpers/tmp.js';

// The pool's workers run the compiled code (dist/, built by `npm test` before the tests).
const { ValidationStep } = (await import(
  path.resolve(import.meta.dirname, '../../dist/pipeline/validate-step.js')
)) as typeof StepTypes;

/**
 * validation.workers 0 validates in the daemon's own thread, where nothing can stop a file that
 * goes past validation.budget: a file over 64 KB still goes to one worker, within the budget, and
 * gets 00200 "too complex" past it, as with workers; small files stay in the thread. The budget
 * here is far below what the large file needs (20 MB, about a second of work), so the outcome does
 * not depend on the machine's speed.
 */
vi.setConfig({ testTimeout: 120_000 });
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');
const LARGE = Buffer.from(bigInvoice(20 * 1024 * 1024, { oneLine: true, numero: 'L1' }));
const SMALL = Buffer.from(bigInvoice(5_000, { numero: 'S1' }));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function received(store: Store, dir: string, name: string, bytes: Buffer): number {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  const [row] = store.beginClaims([{ sourceDir: dir, originalName: name, sourcePath: file }], () => file);
  const ids = store.finishClaims([
    {
      intakeId: row?.id ?? 0,
      sha256: sha(bytes),
      size: bytes.length,
      outcome: 'accepted',
      documents: [
        {
          entry: '',
          originalName: name,
          sha256: sha(bytes),
          size: bytes.length,
          state: 'received',
          path: file,
          reason: 'test',
        },
      ],
    },
  ]);
  return ids.get(row?.id ?? 0)?.[0] ?? 0;
}

describe('validation.workers: 0 keeps the per-file budget', () => {
  it('a large file past the budget gets 00200 too complex; a small one is validated in the thread', async () => {
    const t = tempDir('fatturad-workers-zero-');
    const config = loadConfig({ env: { FATTURAD_DATA_DIR: t.dir }, cwd: t.dir });
    config.validation.workers = 0;
    config.validation.fileName = 'off';
    config.validation.budget = { timeMs: 250, memoryMb: 1024 };
    config.intake.maxFileBytes = 64 * 1024 * 1024;
    const store = new Store(config.paths.db);
    const lines: { event?: string; [k: string]: unknown }[] = [];
    const log = pino(
      { level: 'info' },
      { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) },
    );
    const step = new ValidationStep(store, config, log);
    cleanups.push(
      () => t.cleanup(),
      () => store.close(),
      () => step.stop(),
    );
    expect(step.workers).toBe(0);
    const large = received(store, t.dir, 'IT12345670017_00001.xml', LARGE);
    const small = received(store, t.dir, 'IT12345670017_00002.xml', SMALL);
    step.enqueue({ id: large });
    step.enqueue({ id: small });
    await step.idle();

    expect(store.getDocument(small)?.state).toBe('validated');
    expect(store.getDocument(large)?.state).toBe('rejected');
    const rejected = lines.find((l) => l.event === 'validation.rejected' && l.documentId === large);
    expect(rejected?.codes).toEqual(['00200']);
    expect(String(rejected?.msg)).toMatch(/too complex to check: its check took more than 0\.25 s/);
  });
});
