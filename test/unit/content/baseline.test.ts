import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EX, examplePath, specPath } from '../../helpers/spec.js';
import { content, invoice, semplificata, structure } from './helpers.js';

// The official sample when the spec files are there (test/helpers/spec.ts), else the project's B2B example.
const FPR01_FILE = specPath('fatturapa', 'samples', 'IT01234567890_FPR01.xml');
const FPR01 = readFileSync(FPR01_FILE ?? examplePath(EX.b2b), 'utf8');

describe('the test builder', () => {
  it('makes a minimal FPR12 invoice that is schema-valid and gives no content findings at all', () => {
    const xml = invoice();
    expect(structure(xml)).toEqual([]);
    expect(content(xml)).toEqual([]);
  });

  it('makes a minimal FSM10 invoice that is schema-valid and gives no content findings at all', () => {
    const xml = semplificata();
    expect(structure(xml)).toEqual([]);
    expect(content(xml)).toEqual([]);
  });

  it('agrees with the official sample IT01234567890_FPR01 (read-only fixture): no content findings', () => {
    expect(content(FPR01)).toEqual([]);
  });
});
