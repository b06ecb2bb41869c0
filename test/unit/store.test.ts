import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { canTransition, FINAL_STATES, TransitionError } from '../../src/lifecycle/states.js';
import { Store, StoreError } from '../../src/store/store.js';
import { tempDir } from '../helpers/tmp.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function openStore(): Store {
  const t = tempDir();
  const s = new Store(path.join(t.dir, 'db', 'f.db'));
  cleanups.push(() => {
    s.close();
    t.cleanup();
  });
  return s;
}

function claimOne(s: Store, name = 'a.xml', state: 'received' | 'rejected' | 'duplicate' = 'received') {
  const [row] = s.beginClaims(
    [{ sourceDir: '/in', originalName: name, sourcePath: `/in/${name}` }],
    (id) => `/spool/${id}-${name}`,
  );
  if (!row) throw new Error('no row');
  const ids = s.finishClaims([
    {
      intakeId: row.id,
      sha256: 'ab'.repeat(32),
      size: 3,
      outcome: state === 'received' ? 'accepted' : state,
      documents: [
        {
          entry: '',
          originalName: name,
          sha256: 'ab'.repeat(32),
          size: 3,
          state,
          path: row.claimedPath,
          reason: 'test',
        },
      ],
    },
  ]);
  return { row, docId: ids.get(row.id)?.[0] as number };
}

describe('state machine', () => {
  it.each([
    [null, 'received', true],
    [null, 'rejected', true],
    ['received', 'rejected', true],
    ['received', 'duplicate', false],
    ['received', 'validated', true],
    ['validated', 'rejected', true],
    ['rejected', 'received', false],
    ['duplicate', 'received', false],
    ['validated', 'sending', true],
    ['validated', 'sent', false],
    ['sending', 'failed', true],
    ['sent', 'failed', false],
    ['delivered', 'not_delivered', false],
  ] as const)('%s -> %s allowed: %s', (from, to, ok) => expect(canTransition(from, to)).toBe(ok));

  it('final states have no way out', () => {
    expect([...FINAL_STATES].sort()).toEqual([
      'accepted',
      'attested',
      'available',
      'duplicate',
      'expired',
      'failed',
      'refused',
      'rejected',
    ]);
  });
});

describe('store', () => {
  it('migrates to the latest schema in WAL mode, and refuses a newer schema', () => {
    const s = openStore();
    expect(s.schemaVersion).toBe(2);
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    s.db.pragma('user_version = 99');
    expect(() => s.migrate([])).toThrow(StoreError);
  });

  it('claims: intent, then documents with their first transition', () => {
    const s = openStore();
    const { row, docId } = claimOne(s);
    expect(row.claimedPath).toBe(`/spool/${row.id}-a.xml`);
    expect(s.getIntake(row.id)).toMatchObject({
      status: 'done',
      outcome: 'accepted',
      sha256: 'ab'.repeat(32),
      size: 3,
    });
    expect(s.getDocument(docId)).toMatchObject({
      state: 'received',
      originalName: 'a.xml',
      sourceDir: '/in',
    });
    expect(s.timeline(docId)).toMatchObject([{ from: null, to: 'received', reason: 'test' }]);
    expect(s.countsByState()).toEqual({ received: 1 });
    expect(s.findLiveBySha256('ab'.repeat(32))?.id).toBe(docId);
  });

  it('a claim cannot be finished twice', () => {
    const s = openStore();
    const { row } = claimOne(s);
    expect(() =>
      s.finishClaims([{ intakeId: row.id, sha256: 'x', size: 1, outcome: 'accepted', documents: [] }]),
    ).toThrow(/not an open claim/);
  });

  it('abandon and vanish only touch open claims', () => {
    const s = openStore();
    const rows = s.beginClaims(
      [
        { sourceDir: '/in', originalName: 'a', sourcePath: '/in/a' },
        { sourceDir: '/in', originalName: 'b', sourcePath: '/in/b' },
      ],
      (id) => `/s/${id}`,
    );
    expect(s.openClaims()).toHaveLength(2);
    s.abandonClaims([rows[0]!.id]);
    s.markVanished(rows[1]!.id);
    expect(s.openClaims()).toHaveLength(0);
    expect(s.getIntake(rows[0]!.id)).toBeUndefined();
    expect(s.getIntake(rows[1]!.id)?.status).toBe('vanished');
  });

  it('transitions go through the state machine and are kept', () => {
    const s = openStore();
    const { docId } = claimOne(s);
    s.transition(docId, 'rejected', 'bad', [{ code: '00200', message: 'm', messageIt: 'mi' }]);
    expect(() => s.transition(docId, 'received', 'again')).toThrow(TransitionError);
    expect(s.timeline(docId).map((t) => t.to)).toEqual(['received', 'rejected']);
    expect(s.latestErrors()[0]).toMatchObject({ documentId: docId, findings: [{ code: '00200' }] });
    expect(s.findLiveBySha256('ab'.repeat(32))).toBeUndefined();
  });

  it('the transition history is append-only', () => {
    const s = openStore();
    claimOne(s);
    expect(() => s.db.prepare('UPDATE transitions SET reason = ?').run('x')).toThrow(/append-only/);
    expect(() => s.db.prepare('DELETE FROM transitions').run()).toThrow(/append-only/);
  });

  it('read-only opening fails clearly when there is no store', () => {
    expect(() => new Store('/nonexistent/x.db', { readonly: true })).toThrow(/no store/);
  });

  it('survives reopening', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const file = path.join(t.dir, 'f.db');
    const s1 = new Store(file);
    claimOne(s1);
    s1.close();
    const s2 = new Store(file);
    expect(s2.countsByState()).toEqual({ received: 1 });
    expect(s2.integrityCheck()).toBe('ok');
    s2.close();
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(2);
    raw.close();
  });
});
