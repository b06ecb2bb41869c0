import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ValidationStep } from '../../src/pipeline/validate-step.js';
import { Store } from '../../src/store/store.js';
import { EX, example } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * What is validated is what is sent: the validation step reads the document's file once, checks
 * that its sha256 is the one recorded when the file was taken, and validates those bytes. A file
 * changed in the spool before validation is neither validated nor rejected: one alert, the same
 * as the sending step's (send.integrity_mismatch), and the document stays received.
 */
const FPR12 = example(EX.b2b);
/** The same invoice with another number: still valid, not what was taken. */
const CHANGED = Buffer.from(
  FPR12.toString('latin1').replace(/<Numero>[^<]*<\/Numero>/, '<Numero>X-1</Numero>'),
  'latin1',
);
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup() {
  const t = tempDir('fatturad-validate-integrity-');
  const config = loadConfig({ env: { FATTURAD_DATA_DIR: t.dir }, cwd: t.dir });
  config.validation.workers = 0;
  const store = new Store(config.paths.db);
  const lines: { event?: string; [k: string]: unknown }[] = [];
  const log = pino(
    { level: 'info' },
    { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) },
  );
  const file = path.join(t.dir, 'IT12345670017_B2B01.xml');
  fs.writeFileSync(file, FPR12);
  const [row] = store.beginClaims(
    [{ sourceDir: t.dir, originalName: path.basename(file), sourcePath: file }],
    () => file,
  );
  const ids = store.finishClaims([
    {
      intakeId: row?.id ?? 0,
      sha256: sha(FPR12),
      size: FPR12.length,
      outcome: 'accepted',
      documents: [
        {
          entry: '',
          originalName: path.basename(file),
          sha256: sha(FPR12),
          size: FPR12.length,
          state: 'received',
          path: file,
          reason: 'test',
        },
      ],
    },
  ]);
  const d = ids.get(row?.id ?? 0)?.[0] ?? 0;
  const step = new ValidationStep(store, config, log);
  cleanups.push(
    () => t.cleanup(),
    () => store.close(),
    () => step.stop(),
  );
  const events = (name: string) => lines.filter((l) => l.event === name);
  return { store, step, d, file, events };
}

describe('validation step: the bytes validated are the bytes taken', () => {
  it('a file changed in the spool after it was taken is not validated: one alert, the document stays received', async () => {
    const { store, step, d, file, events } = setup();
    fs.writeFileSync(file, CHANGED);
    for (let i = 0; i < 3; i++) {
      step.enqueue({ id: d });
      await step.idle();
    }
    expect(store.getDocument(d)?.state).toBe('received');
    expect(events('validation.passed')).toHaveLength(0);
    expect(events('validation.rejected')).toHaveLength(0);
    const alerts = events('send.integrity_mismatch');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      level: 50,
      step: 'validation',
      documentId: d,
      expected: sha(FPR12),
      actual: sha(CHANGED),
    });
    expect(alerts[0]?.msg).toMatch(/is not validated: its file changed after it was taken/);

    // The bytes taken put back: validated as usual at the next look.
    fs.writeFileSync(file, FPR12);
    step.enqueue({ id: d });
    await step.idle();
    expect(store.getDocument(d)?.state).toBe('validated');
    expect(events('send.integrity_mismatch')).toHaveLength(1);
  });
});
