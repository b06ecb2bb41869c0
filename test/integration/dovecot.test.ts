import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The IMAP test server the PEC channel's tests run against: Dovecot from Debian on a loopback
 * port. Checks the fixture itself: APPEND, UIDs and UIDVALIDITY kept across a restart.
 */
const t = tempDir('fatturad-dovecot-');
let dovecot: Dovecot;
beforeAll(async () => {
  dovecot = await startDovecot(t.dir);
});
afterAll(async () => {
  await dovecot?.stop();
  t.cleanup();
});

const client = (): ImapFlow =>
  new ImapFlow({
    host: '127.0.0.1',
    port: dovecot.port,
    secure: false,
    auth: { user: dovecot.user, pass: dovecot.pass },
    logger: false,
  });

const message = (n: number): string =>
  `From: sdi01@pec.fatturapa.it\r\nTo: me@pec.example.it\r\nSubject: test ${n}\r\nMessage-ID: <${n}@test>\r\n\r\nbody ${n}\r\n`;

describe('Dovecot fixture', () => {
  it('takes APPENDed messages and keeps UIDs and UIDVALIDITY across a restart', async () => {
    const c = client();
    await c.connect();
    const a = await c.append('INBOX', message(1));
    const b = await c.append('INBOX', message(2));
    if (!a || !b) throw new Error('APPEND gave no UID');
    expect(b.uid ?? 0).toBeGreaterThan(a.uid ?? 0);
    await c.logout();

    await dovecot.restart();

    const d = client();
    await d.connect();
    const lock = await d.getMailboxLock('INBOX');
    try {
      const box = d.mailbox;
      expect(box && box.exists).toBe(2);
      expect(box && String(box.uidValidity)).toBe(String(a.uidValidity));
      const subjects: string[] = [];
      for await (const m of d.fetch('1:*', { envelope: true, uid: true }))
        subjects.push(m.envelope?.subject ?? '');
      expect(subjects).toEqual(['test 1', 'test 2']);
    } finally {
      lock.release();
      await d.logout();
    }
  });
});
