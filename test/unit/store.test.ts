import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { canTransition, FINAL_STATES, TransitionError } from '../../src/lifecycle/states.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { Store, StoreError } from '../../src/store/store.js';
import { tempDir } from '../helpers/tmp.js';

const LATEST = MIGRATIONS[MIGRATIONS.length - 1]?.version;

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
    expect(s.schemaVersion).toBe(LATEST);
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
    expect(raw.pragma('user_version', { simple: true })).toBe(LATEST);
    raw.close();
  });
});

describe('sending and notifications', () => {
  function validatedDoc(s: Store, name = 'a.xml'): number {
    const { docId } = claimOne(s, name);
    s.markValidated(docId, [], 'valid');
    return docId;
  }

  it('SdI file names: a persisted base-36 counter per trasmittente, never reused', () => {
    const s = openStore();
    expect(s.nextSdiName('IT01234567890', '.xml')).toBe('IT01234567890_00001.xml');
    expect(s.nextSdiName('IT01234567890', '.xml')).toBe('IT01234567890_00002.xml');
    expect(s.nextSdiName('IT99999999999', '.xml.p7m')).toBe('IT99999999999_00001.xml.p7m');
    // A name taken by an ERP file (kept because valid and unused) is skipped by the counter.
    const d = validatedDoc(s);
    s.beginSending(d, { channel: 'sdicoop', sdiName: 'IT01234567890_00003.xml', flow: 'b2b' });
    expect(s.sdiNameUsed('it01234567890_00003.XML')).toBe(true);
    expect(s.nextSdiName('IT01234567890', '.xml')).toBe('IT01234567890_00004.xml');
    for (let i = 0; i < 40; i++) s.nextSdiName('IT01234567890', '.xml');
    expect(s.nextSdiName('IT01234567890', '.xml')).toBe('IT01234567890_00019.xml'); // 45 in base 36;
  });

  it('validated -> sending -> sent, with attempts committed before the call', () => {
    const s = openStore();
    const d = validatedDoc(s);
    const o = s.beginSending(d, {
      channel: 'sdicoop',
      sdiName: (st) => st.nextSdiName('IT1', '.xml'),
      flow: 'pa',
    });
    expect(o.sdiName).toBe('IT1_00001.xml');
    expect(s.getDocument(d)?.state).toBe('sending');
    expect(s.dueSends(new Date(Date.now() + 1000)).map((r) => r.documentId)).toEqual([d]);
    s.markAttempt(d);
    // In flight: not due again, and listed as in doubt if the daemon stops now.
    expect(s.dueSends(new Date(Date.now() + 1000))).toEqual([]);
    expect(s.inFlightSends().map((r) => r.documentId)).toEqual([d]);
    s.scheduleRetry(d, 'EI02', new Date(Date.now() + 60_000));
    expect(s.dueSends(new Date())).toEqual([]);
    expect(s.dueSends(new Date(Date.now() + 61_000)).map((r) => r.attempts)).toEqual([1]);
    s.markAttempt(d);
    s.recordSent(d, '123456');
    expect(s.getDocument(d)?.state).toBe('sent');
    expect(s.findOutboundByIdSdI('123456')?.documentId).toBe(d);
    expect(s.findOutboundBySdiName('IT1_00001.xml')?.attempts).toBe(2);
    expect(s.timeline(d).map((t) => t.to)).toEqual(['received', 'validated', 'sending', 'sent']);
  });

  it('a notification is stored once and moves its document in the same transaction', () => {
    const s = openStore();
    const d = validatedDoc(s);
    s.beginSending(d, { channel: 'sdicoop', sdiName: 'IT1_00001.xml', flow: 'b2b' });
    s.recordSent(d, '42');
    const n = {
      sha256: 'cd'.repeat(32),
      kind: 'RC',
      family: 'b2b',
      identificativoSdI: '42',
      nomeFile: 'IT1_00001.xml',
      fileName: 'IT1_00001_RC_001.xml',
      channel: 'sdicoop',
      path: '/m/rc.xml',
      signature: 'absent',
    };
    const first = s.addNotification(n);
    expect(first.isNew).toBe(true);
    expect(s.addNotification(n).isNew).toBe(false);
    expect(s.unmatchedNotifications()).toHaveLength(1);
    s.applyNotification(first.row.id, d, 'delivered', { state: 'delivered', reason: 'RC' });
    expect(s.getDocument(d)?.state).toBe('delivered');
    expect(s.unmatchedNotifications()).toHaveLength(0);
    expect(s.notificationsOf(d).map((x) => x.outcome)).toEqual(['delivered']);
  });

  it('failed documents do not count as sent for the uniqueness check', () => {
    const s = openStore();
    const d = validatedDoc(s);
    s.beginSending(d, { channel: 'sdicoop', sdiName: 'IT1_00001.xml', flow: 'b2b' });
    s.recordFailed(d, 'EI03 utente non abilitato');
    expect(s.getDocument(d)?.state).toBe('failed');
  });

  it('received invoices: once per IdentificativoSdI and name, then delivered to the ERP', () => {
    const s = openStore();
    const p = {
      identificativoSdI: '77',
      nomeFile: 'IT2_00001.xml',
      sha256: 'ef'.repeat(32),
      channel: 'sdicoop',
      path: '/p/x.xml',
      metadataName: 'IT2_00001_MT_001.xml',
      metadataPath: '/p/mt.xml',
      valid: true,
      warnings: [],
    };
    const row = s.addPassive(p);
    expect(row?.id).toBeGreaterThan(0);
    expect(s.addPassive(p)).toBeNull();
    expect(s.undeliveredPassive()).toHaveLength(1);
    s.markPassiveDelivered(row?.id ?? 0, '/erp/in/IT2_00001.xml');
    expect(s.undeliveredPassive()).toHaveLength(0);
  });

  it('channel state: a lazy write is committed (seen by another connection) and leaves syncing on', () => {
    const s = openStore();
    s.setChannelState('imap:a/INBOX:uid', '7', { lazy: true });
    expect(s.db.pragma('synchronous', { simple: true })).toBe(2);
    const other = new Database(s.file, { readonly: true });
    const read = (): unknown =>
      other.prepare(`SELECT value FROM channel_state WHERE key = ?`).pluck().get('imap:a/INBOX:uid');
    expect(read()).toBe('7');
    s.setChannelState('imap:a/INBOX:uid', '8');
    expect(read()).toBe('8');
    // Inside a transaction it commits with it.
    s.transaction(() => s.setChannelState('imap:a/INBOX:uid', '9', { lazy: true }));
    expect(read()).toBe('9');
    expect(s.getChannelState('imap:a/INBOX:uid')).toBe('9');
    other.close();
  });
});
