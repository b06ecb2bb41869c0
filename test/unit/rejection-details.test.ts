import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { findingsOf, Store, transitionDetails } from '../../src/store/store.js';
import { finding } from '../../src/rules/finding.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * A local rejection's findings and an NS's (SdI's error list) are one shape in the store:
 * `{ findings: [...] }` in the transition's details. Rows written by earlier versions in the
 * other shapes (a bare array; an NS's `errors`) are still read.
 */
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function openStore(): { store: Store; db: string } {
  const t = tempDir();
  const db = path.join(t.dir, 'f.db');
  const store = new Store(db);
  cleanups.push(() => {
    store.close();
    t.cleanup();
  });
  return { store, db };
}

function claim(s: Store, name: string): number {
  const [row] = s.beginClaims(
    [{ sourceDir: '/in', originalName: name, sourcePath: `/in/${name}` }],
    (id) => `/spool/${id}-${name}`,
  );
  if (!row) throw new Error('no row');
  const ids = s.finishClaims([
    {
      intakeId: row.id,
      sha256: 'cd'.repeat(32),
      size: 3,
      outcome: 'accepted',
      documents: [
        {
          entry: '',
          originalName: name,
          sha256: 'cd'.repeat(32),
          size: 3,
          state: 'received',
          path: row.claimedPath,
          reason: 'test',
        },
      ],
    },
  ]);
  return ids.get(row.id)?.[0] as number;
}

const local = finding('00200', 'not valid against the schema', 'non valido rispetto allo schema');
const sdi = finding('00404', 'SdI rejected the file: duplicate invoice.', 'Fattura duplicata');

describe('rejection details', () => {
  it('a local rejection and an NS are written in one shape and read the same way', () => {
    const { store } = openStore();
    const a = claim(store, 'a.xml');
    store.transition(a, 'rejected', 'invalid', [local]);
    const b = claim(store, 'b.xml');
    store.markValidated(b, [], 'valid');
    store.transition(b, 'sending', 'send');
    store.transition(b, 'sent', 'sent');
    store.transition(b, 'rejected', 'SdI rejected the file (NS): 00404', {
      notification: 1,
      kind: 'NS',
      findings: [sdi],
    });
    const errors = store.latestErrors();
    expect(errors.map((e) => [e.originalName, e.findings.map((f) => f.code)])).toEqual([
      ['b.xml', ['00404']],
      ['a.xml', ['00200']],
    ]);
    // The timeline gives the same shape for both.
    const la = store.timeline(a).at(-1)?.details;
    const lb = store.timeline(b).at(-1)?.details;
    expect(la).toEqual({ findings: [local] });
    expect(lb).toMatchObject({ kind: 'NS', findings: [sdi] });
  });

  it('reads rows written by the previous version: a bare array, an NS with errors, garbage', () => {
    const { store, db } = openStore();
    const ids = ['old-local.xml', 'old-ns.xml', 'odd.xml', 'broken.xml'].map((n) => claim(store, n));
    // Write the old shapes straight into the table, as the previous version did.
    const raw = new Database(db);
    const ins = raw.prepare(
      `INSERT INTO transitions (document_id, from_state, to_state, at, reason, details) VALUES (?, 'received', 'rejected', ?, ?, ?)`,
    );
    const upd = raw.prepare(`UPDATE documents SET state = 'rejected' WHERE id = ?`);
    const rows: [number, string | null][] = [
      [ids[0] as number, JSON.stringify([local])],
      [
        ids[1] as number,
        JSON.stringify({ notification: 7, kind: 'NS', identificativoSdI: '123', errors: [sdi] }),
      ],
      [ids[2] as number, JSON.stringify({ errors: 'not a list', note: 1 })],
      [ids[3] as number, '{not json'],
    ];
    for (const [id, details] of rows) {
      ins.run(id, '2026-01-01T00:00:00.000Z', 'old', details);
      upd.run(id);
    }
    raw.close();
    const byName = Object.fromEntries(
      store.latestErrors().map((e) => [e.originalName, e.findings.map((f) => f.code)]),
    );
    expect(byName).toEqual({
      'old-local.xml': ['00200'],
      'old-ns.xml': ['00404'],
      'odd.xml': [],
      'broken.xml': [],
    });
    expect(store.timeline(ids[1] as number).at(-1)?.details).toEqual({
      notification: 7,
      kind: 'NS',
      identificativoSdI: '123',
      findings: [sdi],
    });
  });

  it.each([
    [[{ code: 'X', message: 'm', messageIt: 'i' }], ['X']],
    [{ findings: [{ code: 'Y' }] }, ['Y']],
    [{ errors: [{ code: 'Z', message: 'm', messageIt: 'i' }, 'junk', null] }, ['Z']],
    [{ warnings: [local] }, []],
    [null, []],
    ['text', []],
    [42, []],
  ])('findingsOf(%j)', (details, codes) => {
    const f = findingsOf(details);
    expect(f.map((x) => x.code)).toEqual(codes);
    for (const x of f) expect(typeof x.message).toBe('string');
  });

  it('leaves other details alone', () => {
    expect(transitionDetails({ warnings: [], signed: false })).toEqual({ warnings: [], signed: false });
    expect(transitionDetails(null)).toBeNull();
  });
});
