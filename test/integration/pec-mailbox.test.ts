import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ImapFlow } from 'imapflow';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MailboxReader,
  type MailboxOptions,
  type MessageHandler,
  type MessageVerdict,
} from '../../src/channels/pec/mailbox.js';
import type { ChannelState } from '../../src/channels/pec/types.js';
import type { Logger } from '../../src/log.js';
import { ROOT, sleep, waitFor } from '../helpers/daemon.js';
import { dovecotAvailable, startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The PEC mailbox reader against a real IMAP server (Dovecot on a loopback port, one per test):
 * every message handled once and in UID order, processed ones flagged or moved, ignored ones
 * untouched, and nothing lost across restarts of the reader or the server, handler failures,
 * UIDVALIDITY changes, oversized messages and crashes.
 */

const FLAG = '$FatturadProcessed';
const MARK_KEY = (user: string, mailbox = 'INBOX'): string => `imap:${user}@127.0.0.1/${mailbox}:uid`;

class MemoryState implements ChannelState {
  readonly map = new Map<string, string>();
  get(key: string): string | undefined {
    return this.map.get(key);
  }
  set(key: string, value: string): void {
    this.map.set(key, value);
  }
}

interface LogLine {
  level: number;
  event?: string;
  msg?: string;
  [key: string]: unknown;
}

function capture(): { log: Logger; lines: LogLine[]; events: (name: string) => LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, lines, events: (name) => lines.filter((l) => l.event === name) };
}

const message = (id: string, body = `body of ${id}`): string =>
  `From: sdi01@pec.fatturapa.it\r\nTo: me@pec.example.it\r\nSubject: ${id}\r\nMessage-ID: <${id}@test>\r\n\r\n${body}\r\n`;

const idOf = (raw: Buffer): string => /^Message-ID:\s*<([^@>]+)@/im.exec(raw.toString('latin1'))?.[1] ?? '?';

/**
 * The pipeline stand-in: records every message it is given (by Message-ID), answers 'ignored' for
 * ids starting with "ign", 'processed' for the rest, and rejects on demand.
 */
class Recorder {
  readonly calls: { id: string; uid: number }[] = [];
  /** id -> rejections still to give (Infinity: always). */
  readonly rejections = new Map<string, number>();
  inFlight = 0;
  maxInFlight = 0;
  /** Runs inside the handler before it answers. */
  hook: ((id: string) => Promise<void> | void) | null = null;

  readonly handler: MessageHandler = async (raw, meta) => {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const id = idOf(raw);
      this.calls.push({ id, uid: meta.uid });
      await this.hook?.(id);
      const left = this.rejections.get(id) ?? 0;
      if (left > 0) {
        this.rejections.set(id, left - 1);
        throw new Error(`cannot store ${id}`);
      }
      const verdict: MessageVerdict = id.startsWith('ign') ? 'ignored' : 'processed';
      return verdict;
    } finally {
      this.inFlight--;
    }
  };

  ids(): string[] {
    return this.calls.map((c) => c.id);
  }
  count(id: string): number {
    return this.calls.filter((c) => c.id === id).length;
  }
}

// ---- per-test resources, released in afterEach ----

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch {
      /* best effort */
    }
  }
});

async function server(): Promise<Dovecot> {
  const t = tempDir('fatturad-pec-mailbox-');
  const d = await startDovecot(t.dir);
  cleanups.push(() => t.cleanup());
  cleanups.push(() => d.stop({ immediate: true }));
  return d;
}

async function imap(d: Dovecot): Promise<ImapFlow> {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: d.port,
    secure: false,
    auth: { user: d.user, pass: d.pass },
    logger: false,
  });
  c.on('error', () => undefined);
  await c.connect();
  cleanups.push(async () => {
    if (c.usable) await c.logout().catch(() => undefined);
    c.close();
  });
  return c;
}

async function append(
  c: ImapFlow,
  id: string,
  box = 'INBOX',
  flags: string[] = [],
  body?: string,
): Promise<number> {
  const res = await c.append(box, message(id, body), flags);
  if (!res || !res.uid) throw new Error(`APPEND of ${id} gave no UID`);
  return res.uid;
}

/** Message-ID -> flags (without the session-only \Recent) of every message in a mailbox. */
async function flagsOf(c: ImapFlow, box = 'INBOX'): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const lock = await c.getMailboxLock(box);
  try {
    if (c.mailbox && c.mailbox.exists > 0)
      for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true })) {
        // imapflow also yields the unsolicited FETCH (FLAGS) rows Dovecot sends when another
        // session (the reader) changes flags meanwhile: they carry no envelope.
        if (!m.envelope) continue;
        const id = (m.envelope?.messageId ?? '').replace(/^<|@test>$/g, '');
        out.set(id, [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort());
      }
  } finally {
    lock.release();
  }
  // Leave no mailbox selected, so this session never holds one open during a DELETE.
  await c.mailboxClose().catch(() => undefined);
  return out;
}

function options(
  d: Dovecot,
  state: ChannelState,
  log: Logger,
  over: Partial<MailboxOptions> = {},
): MailboxOptions {
  return {
    host: '127.0.0.1',
    port: d.port,
    secure: false,
    user: d.user,
    pass: d.pass,
    mailbox: 'INBOX',
    flag: FLAG,
    markSeen: true,
    moveTo: '',
    idle: true,
    pollMs: 60_000,
    maxMessageBytes: 1024 * 1024,
    reconnect: { initialMs: 50, maxMs: 400 },
    state,
    log,
    ...over,
  };
}

function reader(opts: MailboxOptions, handler: MessageHandler): MailboxReader {
  const r = new MailboxReader(opts, handler);
  cleanups.push(() => r.stop());
  return r;
}

/**
 * The real reader in a child process whose handler does the pipeline's durable write (a line in
 * a file) and then, for one Message-ID, SIGKILLs its own process: the crash between the pipeline
 * storing a message and the reader flagging it and moving its mark. The state lives in a file
 * that survives the kill and can be handed to a reader in this process.
 */
function crashingReader(
  d: Dovecot,
  maxAttempts = 5,
): { run(dieOn: string): Promise<string[]>; state(): MemoryState } {
  const t = tempDir('fatturad-pec-kill-');
  cleanups.push(() => t.cleanup());
  const stateFile = path.join(t.dir, 'state.json');
  const script = path.join(t.dir, 'reader.mts');
  fs.writeFileSync(stateFile, '{}');
  const url = (p: string): string => JSON.stringify(pathToFileURL(path.join(ROOT, p)).href);
  fs.writeFileSync(
    script,
    [
      `import fs from 'node:fs';`,
      `import { MailboxReader } from ${url('src/channels/pec/mailbox.ts')};`,
      `import { createLogger } from ${url('src/log.ts')};`,
      `const cfg = JSON.parse(process.argv[2]);`,
      `const load = () => JSON.parse(fs.readFileSync(cfg.stateFile, 'utf8'));`,
      `const state = { get: (k) => load()[k], set: (k, v) => fs.writeFileSync(cfg.stateFile, JSON.stringify({ ...load(), [k]: v })) };`,
      `const log = createLogger({ level: 'silent', format: 'json' });`,
      `const reader = new MailboxReader({ ...cfg.options, state, log }, async (raw) => {`,
      `  const id = /^Message-ID:\\s*<([^@>]+)@/im.exec(raw.toString('latin1'))?.[1] ?? '?';`,
      `  fs.appendFileSync(cfg.handledFile, id + '\\n');`,
      `  if (id === cfg.dieOn) process.kill(process.pid, 'SIGKILL');`,
      `  return 'processed';`,
      `});`,
      `reader.start();`,
    ].join('\n'),
  );
  const {
    state: _s,
    log: _l,
    ...childOptions
  } = options(d, new MemoryState(), capture().log, { maxAttempts });
  let runs = 0;
  return {
    async run(dieOn: string): Promise<string[]> {
      const handledFile = path.join(t.dir, `handled-${++runs}.txt`);
      fs.writeFileSync(handledFile, '');
      const child: ChildProcess = spawn(
        process.execPath,
        ['--import', 'tsx', script, JSON.stringify({ stateFile, handledFile, dieOn, options: childOptions })],
        { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
      cleanups.push(() => void child.kill('SIGKILL'));
      const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
        child.once('exit', (_code, sig) => resolve(sig)),
      );
      expect(signal, stderr).toBe('SIGKILL');
      return fs.readFileSync(handledFile, 'utf8').split('\n').filter(Boolean);
    },
    state(): MemoryState {
      const state = new MemoryState();
      const saved = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as Record<string, string>;
      for (const [k, v] of Object.entries(saved)) state.set(k, v);
      return state;
    },
  };
}

const PROCESSED_SEEN = [FLAG, '\\Seen'].sort();

describe.skipIf(!dovecotAvailable())('PEC mailbox reader (IMAP, real Dovecot)', () => {
  it('handles messages present at start and arriving during IDLE once each, in UID order', async () => {
    const d = await server();
    const c = await imap(d);
    const u1 = await append(c, 'p1');
    const u2 = await append(c, 'ign2');
    const rec = new Recorder();
    const state = new MemoryState();
    const cap = capture();
    // pollMs is a minute: within this test only IDLE can explain a prompt delivery.
    const r = reader(options(d, state, cap.log), rec.handler);
    expect(r.health().ok).toBe(false);
    r.start();
    await waitFor('the messages present at start', () => r.stats.processed + r.stats.ignored >= 2, 10_000);

    const t0 = Date.now();
    const u3 = await append(c, 'p3');
    const u4 = await append(c, 'ign4');
    await waitFor(
      'the messages that arrived during IDLE',
      () => r.stats.processed + r.stats.ignored >= 4,
      10_000,
    );
    expect(Date.now() - t0).toBeLessThan(5_000);
    await sleep(300);

    expect(rec.calls).toEqual([
      { id: 'p1', uid: u1 },
      { id: 'ign2', uid: u2 },
      { id: 'p3', uid: u3 },
      { id: 'ign4', uid: u4 },
    ]);
    expect(rec.maxInFlight).toBe(1);
    const flags = await flagsOf(c);
    expect(flags.get('p1')).toEqual(PROCESSED_SEEN);
    expect(flags.get('p3')).toEqual(PROCESSED_SEEN);
    expect(flags.get('ign2')).toEqual([]);
    expect(flags.get('ign4')).toEqual([]);
    expect(r.stats).toMatchObject({ processed: 2, ignored: 2, reconnects: 0, failed: 0 });
    expect(state.get(MARK_KEY(d.user))).toBe(String(u4));
    expect(cap.events('pec.imap_connected')).toHaveLength(1);
    expect(cap.events('pec.imap_connected')[0]).toMatchObject({ idle: true, mailbox: 'INBOX' });
    const h = r.health();
    expect(h.ok).toBe(true);
    expect(h.detail).toContain(`mark uid ${u4}`);
    expect(JSON.stringify(cap.lines)).not.toContain(d.pass);
    expect(cap.events('pec.imap_cleartext')).toHaveLength(1);

    // Requests made while a pass runs fold into one more pass.
    const before = r.stats.passes;
    await Promise.all(Array.from({ length: 10 }, () => r.pass()));
    expect(r.stats.passes - before).toBeGreaterThanOrEqual(1);
    expect(r.stats.passes - before).toBeLessThanOrEqual(2);

    await r.stop();
    expect(r.health().ok).toBe(false);
  });

  it('many messages, downloaded a window ahead: each once, in UID order, one in hand; one removed meanwhile is skipped', async () => {
    const d = await server();
    const c = await imap(d);
    const uids: number[] = [];
    // Over two prefetch windows, with a message too large for the limit among them.
    for (let i = 1; i <= 40; i++)
      uids.push(
        await append(
          c,
          i === 12 ? `big${i}` : `p${i}`,
          'INBOX',
          [],
          i === 12 ? 'x'.repeat(8_000) : undefined,
        ),
      );
    const last = uids[39] ?? 0;
    const rec = new Recorder();
    // While p5 is handled, another session removes the last message, not downloaded yet.
    rec.hook = async (id) => {
      if (id !== 'p5') return;
      const lock = await c.getMailboxLock('INBOX');
      try {
        await c.messageDelete(String(last), { uid: true });
      } finally {
        lock.release();
      }
      await c.mailboxClose().catch(() => undefined);
    };
    const state = new MemoryState();
    const cap = capture();
    const r = reader(options(d, state, cap.log, { maxMessageBytes: 4_000 }), rec.handler);
    r.start();
    await waitFor('every message', () => state.get(MARK_KEY(d.user)) === String(last), 15_000);

    const expected = Array.from({ length: 39 }, (_, i) => `p${i + 1}`).filter((id) => id !== 'p12');
    expect(rec.ids()).toEqual(expected);
    expect(rec.calls.map((x) => x.uid)).toEqual(uids.slice(0, 39).filter((_, i) => i !== 11));
    expect(rec.maxInFlight).toBe(1);
    expect(cap.events('pec.message_vanished')).toMatchObject([{ uid: last }]);
    expect(cap.events('pec.message_too_large')).toMatchObject([{ uid: uids[11] }]);
    const flags = await flagsOf(c);
    expect(flags.has('p40')).toBe(false);
    expect(flags.get('big12')).toEqual([]);
    for (const id of expected) expect(flags.get(id)).toEqual(PROCESSED_SEEN);
    expect(r.stats).toMatchObject({ processed: 38, tooLarge: 1, failed: 0 });
  });

  it('stop() finishes the message in hand (flag and mark) before logging out', async () => {
    const d = await server();
    const c = await imap(d);
    await append(c, 'p1');
    await append(c, 'p2');
    const rec = new Recorder();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    rec.hook = (id) => (id === 'p1' ? gate : undefined);
    const state = new MemoryState();
    const r = reader(options(d, state, capture().log), rec.handler);
    r.start();
    await waitFor('p1 in hand', () => rec.calls.length === 1, 10_000);
    let stopped = false;
    const stopping = r.stop().then(() => (stopped = true));
    await sleep(200);
    expect(stopped).toBe(false);
    release();
    await stopping;

    expect(rec.ids()).toEqual(['p1']);
    expect(state.get(MARK_KEY(d.user))).toBe('1');
    const flags = await flagsOf(c);
    expect(flags.get('p1')).toEqual(PROCESSED_SEEN);
    expect(flags.get('p2')).toEqual([]);
  });

  it('rescans when the mark is beyond UIDNEXT (mailbox restored without a new UIDVALIDITY)', async () => {
    const d = await server();
    const c = await imap(d);
    await append(c, 'p1');
    await append(c, 'p2', 'INBOX', [FLAG]);
    const status = await c.status('INBOX', { uidValidity: true });
    if (!status || status.uidValidity === undefined) throw new Error('no UIDVALIDITY');
    const state = new MemoryState();
    state.set(`imap:${d.user}@127.0.0.1/INBOX:uidvalidity`, String(status.uidValidity));
    state.set(MARK_KEY(d.user), '100');
    const rec = new Recorder();
    const cap = capture();
    const r = reader(options(d, state, cap.log), rec.handler);
    r.start();
    await waitFor('the rescan', () => r.stats.processed >= 1, 10_000);

    expect(cap.events('pec.mark_ahead')).toHaveLength(1);
    expect(rec.ids()).toEqual(['p1']);
    expect(r.stats.alreadyProcessed).toBe(1);
    expect(state.get(MARK_KEY(d.user))).toBe('2');
  });

  it('moves processed messages to a folder it creates and leaves ignored ones in INBOX', async () => {
    const d = await server();
    const c = await imap(d);
    await append(c, 'p1');
    await append(c, 'ign2');
    await append(c, 'p3');
    expect((await c.list()).map((b) => b.path)).not.toContain('Processed');
    const rec = new Recorder();
    const cap = capture();
    const r = reader(
      options(d, new MemoryState(), cap.log, { moveTo: 'Processed', markSeen: false }),
      rec.handler,
    );
    r.start();
    await waitFor('three messages', () => r.stats.processed + r.stats.ignored >= 3, 10_000);
    await append(c, 'p4');
    await waitFor('the fourth message', () => r.stats.processed >= 3, 10_000);

    expect(rec.ids()).toEqual(['p1', 'ign2', 'p3', 'p4']);
    expect(cap.events('pec.folder_created')).toHaveLength(1);
    const inbox = await flagsOf(c, 'INBOX');
    expect([...inbox.keys()]).toEqual(['ign2']);
    expect(inbox.get('ign2')).toEqual([]);
    const moved = await flagsOf(c, 'Processed');
    expect([...moved.keys()].sort()).toEqual(['p1', 'p3', 'p4']);
    for (const f of moved.values()) expect(f).toEqual([FLAG]);
  });

  it('a new reader with the same state handles nothing again, and new messages', async () => {
    const d = await server();
    const c = await imap(d);
    await append(c, 'p1');
    await append(c, 'ign2');
    const state = new MemoryState();
    const first = new Recorder();
    const r1 = reader(options(d, state, capture().log), first.handler);
    r1.start();
    await waitFor('the first reader', () => r1.stats.processed + r1.stats.ignored >= 2, 10_000);
    await r1.stop();
    expect(first.ids()).toEqual(['p1', 'ign2']);

    await append(c, 'p3');
    const second = new Recorder();
    const r2 = reader(options(d, state, capture().log), second.handler);
    r2.start();
    await waitFor('the message sent while no reader ran', () => r2.stats.processed >= 1, 10_000);
    await append(c, 'ign4');
    await waitFor('the message sent afterwards', () => r2.stats.ignored >= 1, 10_000);
    await r2.pass();
    expect(second.ids()).toEqual(['p3', 'ign4']);
    expect(r2.stats.alreadyProcessed).toBe(0);
  });

  it('survives a Dovecot restart while messages keep arriving: nothing lost, nothing twice (but the one in hand)', async () => {
    const d = await server();
    const rec = new Recorder();
    const cap = capture();
    const r = reader(options(d, new MemoryState(), cap.log, { pollMs: 500 }), rec.handler);
    r.start();
    await waitFor('the connection', () => r.health().ok, 10_000);

    // A writer that keeps appending through the outage; an APPEND that fails is not retried (it
    // might have been stored), so the truth is what the mailbox holds at the end.
    let writer: ImapFlow | null = null;
    let stopWriting = false;
    const writing = (async () => {
      for (let i = 0; !stopWriting && i < 200; i++) {
        try {
          if (!writer || !writer.usable) {
            writer = new ImapFlow({
              host: '127.0.0.1',
              port: d.port,
              secure: false,
              auth: { user: d.user, pass: d.pass },
              logger: false,
            });
            writer.on('error', () => undefined);
            await writer.connect();
          }
          await writer.append('INBOX', message(`m${i}`));
        } catch {
          writer = null;
        }
        await sleep(40);
      }
    })();
    await waitFor('some messages before the restart', () => rec.calls.length >= 5, 10_000);
    await d.restart();
    await sleep(1_000);
    stopWriting = true;
    await writing;
    const w = writer as ImapFlow | null;
    if (w) await w.logout().catch(() => undefined);

    const c = await imap(d);
    const inMailbox = await flagsOf(c);
    expect(inMailbox.size).toBeGreaterThan(10);
    const status = await c.status('INBOX', { messages: true });
    expect(status && status.messages).toBe(inMailbox.size);
    await waitFor('every message in the mailbox', () => r.stats.processed >= inMailbox.size, 15_000).catch(
      (err: Error) => {
        const events = cap.lines
          .filter((l) => l.event !== 'pec.message_handled')
          .map((l) => JSON.stringify(l));
        throw new Error(
          `${err.message}: ${r.stats.processed} of ${inMailbox.size}; ${JSON.stringify(r.stats)}; ` +
            `${r.health().detail}\n${events.join('\n')}`,
        );
      },
    );
    await r.pass();

    expect([...new Set(rec.ids())].sort()).toEqual([...inMailbox.keys()].sort());
    // Exactly once, except that a server dying in the ~1 ms between the handler's answer and the
    // STORE of our keyword hands that one message again (at least once; the pipeline dedups).
    expect(rec.calls.length - inMailbox.size).toBeLessThanOrEqual(1);
    const uids = rec.calls.map((x) => x.uid);
    expect(uids).toEqual([...uids].sort((a, b) => a - b));
    for (const f of (await flagsOf(c)).values()) expect(f).toEqual(PROCESSED_SEEN);
    expect(cap.events('pec.imap_disconnected').length).toBeGreaterThanOrEqual(1);
    expect(cap.events('pec.imap_connected').length).toBeGreaterThanOrEqual(2);
    expect(r.stats.reconnects).toBeGreaterThanOrEqual(1);
    expect(rec.maxInFlight).toBe(1);
    expect(r.health().ok).toBe(true);
  });

  it('a connection dropped while a message is in hand: reconnects and hands that message again', async () => {
    const d = await server();
    const c = await imap(d);
    await append(c, 'p1');
    await append(c, 'p2');
    await append(c, 'p3');
    // The kick drops every session of the user, this one too.
    await c.logout();
    const rec = new Recorder();
    let kicked = false;
    rec.hook = async (id) => {
      if (id === 'p2' && !kicked) {
        kicked = true;
        d.kick();
        await sleep(200);
      }
    };
    const cap = capture();
    const r = reader(options(d, new MemoryState(), cap.log), rec.handler);
    r.start();
    await waitFor('all three', () => r.stats.processed >= 3, 10_000);

    // p2 was stored by the pipeline but not acknowledged: it comes again (the pipeline dedups it).
    expect(rec.ids()).toEqual(['p1', 'p2', 'p2', 'p3']);
    expect(cap.events('pec.imap_disconnected')).toHaveLength(1);
    for (const f of (await flagsOf(await imap(d))).values()) expect(f).toEqual(PROCESSED_SEEN);
  });

  it('retries a message whose handler rejected, and skips one that always fails after N attempts', async () => {
    const d = await server();
    const c = await imap(d);
    await append(c, 'p1');
    const u2 = await append(c, 'p2');
    await append(c, 'p3');
    const rec = new Recorder();
    rec.rejections.set('p1', 1);
    rec.rejections.set('p2', Infinity);
    const cap = capture();
    const r = reader(options(d, new MemoryState(), cap.log, { maxAttempts: 3 }), rec.handler);
    r.start();
    await waitFor('p1 failed once', () => r.stats.failed >= 1, 10_000);
    await waitFor('the poisoned message skipped and p3 handled', () => r.stats.processed >= 2, 10_000);

    expect(rec.ids()).toEqual(['p1', 'p1', 'p2', 'p2', 'p2', 'p3']);
    const failed = cap.events('pec.message_failed');
    expect(failed).toHaveLength(4);
    expect(failed[0]).toMatchObject({ uid: 1, attempt: 1, err: 'cannot store p1' });
    const skipped = cap.events('pec.message_skipped');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ uid: u2, level: 50, err: 'cannot store p2' });
    // p2 was only given up on once p3 showed that the pipeline stores messages.
    expect(cap.events('pec.message_suspect')).toMatchObject([{ uid: u2 }]);
    expect(r.stats).toMatchObject({ processed: 2, failed: 4, skipped: 1 });
    const flags = await flagsOf(c);
    expect(flags.get('p2')).toEqual([]);
    expect(flags.get('p1')).toEqual(PROCESSED_SEEN);
    expect(flags.get('p3')).toEqual(PROCESSED_SEEN);
    expect(r.health()).toMatchObject({ ok: true });
    expect(r.health().detail).toContain(`skipped after repeated failures (last uid ${u2})`);
  });

  it('a failing pipeline (every message rejected) skips nothing: all is stored once it recovers', async () => {
    const d = await server();
    const c = await imap(d);
    await append(c, 'p1');
    await append(c, 'p2');
    await append(c, 'p3');
    const rec = new Recorder();
    let down = true;
    rec.hook = () => {
      if (down) throw new Error('database is locked');
    };
    const cap = capture();
    const r = reader(
      options(d, new MemoryState(), cap.log, { maxAttempts: 2, reconnect: { initialMs: 50, maxMs: 150 } }),
      rec.handler,
    );
    r.start();
    await waitFor(
      'the pipeline found failing twice',
      () => cap.events('pec.pipeline_failing').length >= 2,
      10_000,
    );
    expect(r.health().ok).toBe(false);
    down = false;
    await waitFor('everything stored', () => r.stats.processed >= 3, 10_000);

    expect(cap.events('pec.message_skipped')).toHaveLength(0);
    expect(r.stats.skipped).toBe(0);
    // p1 keeps being retried and p2 probed while the pipeline is down; each is stored once after.
    expect(rec.ids().filter((id) => id !== 'p1' && id !== 'p2')).toEqual(['p3']);
    expect(new Set(rec.ids().slice(-3))).toEqual(new Set(['p1', 'p2', 'p3']));
    for (const f of (await flagsOf(c)).values()) expect(f).toEqual(PROCESSED_SEEN);
    expect(r.health().ok).toBe(true);
  });

  it('reports a failing message in health() while it is being retried', async () => {
    const d = await server();
    const c = await imap(d);
    await append(c, 'p1');
    const rec = new Recorder();
    rec.rejections.set('p1', Infinity);
    const r = reader(
      options(d, new MemoryState(), capture().log, { reconnect: { initialMs: 5_000, maxMs: 5_000 } }),
      rec.handler,
    );
    r.start();
    await waitFor('the failure', () => r.stats.failed >= 1, 10_000);
    const h = r.health();
    expect(h.ok).toBe(false);
    expect(h.detail).toContain('message uid 1 failed 1 time(s): cannot store p1');
    // The retry waits for the backoff; the IDLE notification of a new message does not cut it short.
    await append(c, 'p2');
    await sleep(1_000);
    expect(rec.ids()).toEqual(['p1']);
  });

  it('rescans after a UIDVALIDITY change of INBOX (restored mailbox): flagged messages are not handled again', async () => {
    const d = await server();
    const c = await imap(d);
    await append(c, 'p1');
    await append(c, 'ign2');
    await append(c, 'p3');
    const state = new MemoryState();
    const first = new Recorder();
    const r1 = reader(options(d, state, capture().log), first.handler);
    r1.start();
    await waitFor('the first reader', () => r1.stats.processed + r1.stats.ignored >= 3, 10_000);
    await r1.stop();
    await c.logout();
    const oldValidity = state.get(`imap:${d.user}@127.0.0.1/INBOX:uidvalidity`);

    await d.resetInboxUids();
    const c2 = await imap(d);
    await append(c2, 'p4');
    const second = new Recorder();
    const cap = capture();
    const r2 = reader(options(d, state, cap.log), second.handler);
    r2.start();
    await waitFor('the rescan', () => r2.stats.processed >= 1 && r2.stats.ignored >= 1, 10_000);
    await r2.pass();

    const changed = cap.events('pec.uidvalidity_changed');
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatchObject({ old: oldValidity, level: 40 });
    expect(changed[0]?.new).not.toBe(oldValidity);
    // The ignored message carries no flag, so it is judged again (the pipeline's dedup absorbs it).
    expect(second.ids()).toEqual(['ign2', 'p4']);
    expect(r2.stats.alreadyProcessed).toBe(2);
  });

  it('rescans a non-INBOX mailbox deleted and recreated over IMAP (new UIDVALIDITY)', async () => {
    const d = await server();
    const c = await imap(d);
    await c.mailboxCreate('PEC');
    await append(c, 'p1', 'PEC');
    await append(c, 'p2', 'PEC');
    const state = new MemoryState();
    const first = new Recorder();
    const r1 = reader(options(d, state, capture().log, { mailbox: 'PEC' }), first.handler);
    r1.start();
    await waitFor('the first reader', () => r1.stats.processed >= 2, 10_000);
    await r1.stop();
    expect(state.get(MARK_KEY(d.user, 'PEC'))).toBe('2');

    // Restored from a backup that kept the flags, plus one message that arrived since.
    await c.mailboxDelete('PEC');
    await c.mailboxCreate('PEC');
    await append(c, 'p1', 'PEC', [FLAG, '\\Seen']);
    await append(c, 'p2', 'PEC', [FLAG, '\\Seen']);
    await append(c, 'p3', 'PEC');
    const second = new Recorder();
    const cap = capture();
    const r2 = reader(options(d, state, cap.log, { mailbox: 'PEC' }), second.handler);
    r2.start();
    await waitFor('the new message', () => r2.stats.processed >= 1, 10_000);

    expect(cap.events('pec.uidvalidity_changed')).toHaveLength(1);
    expect(second.ids()).toEqual(['p3']);
    expect(r2.stats.alreadyProcessed).toBe(2);
    expect(state.get(MARK_KEY(d.user, 'PEC'))).toBe('3');
  });

  it('does not download a message over maxMessageBytes: logged once, left unflagged, later ones handled', async () => {
    const d = await server();
    const c = await imap(d);
    await append(c, 'p1');
    const big = await append(c, 'big2', 'INBOX', [], 'x'.repeat(8_000));
    await append(c, 'p3');
    const rec = new Recorder();
    const cap = capture();
    const r = reader(options(d, new MemoryState(), cap.log, { maxMessageBytes: 4_000 }), rec.handler);
    r.start();
    await waitFor('the small messages', () => r.stats.processed >= 2, 10_000);
    await r.pass();
    await r.pass();

    expect(rec.ids()).toEqual(['p1', 'p3']);
    const tooLarge = cap.events('pec.message_too_large');
    expect(tooLarge).toHaveLength(1);
    expect(tooLarge[0]).toMatchObject({ uid: big, maxMessageBytes: 4_000 });
    expect(Number(tooLarge[0]?.size)).toBeGreaterThan(8_000);
    expect((await flagsOf(c)).get('big2')).toEqual([]);
    expect(r.stats).toMatchObject({ tooLarge: 1, ignored: 1, processed: 2 });
  });

  it('keeps retrying while the server is down at start, then delivers; health() tells both', async () => {
    const d = await server();
    const c = await imap(d);
    await append(c, 'p1');
    await c.logout();
    await d.stop();

    const rec = new Recorder();
    const cap = capture();
    const r = reader(options(d, new MemoryState(), cap.log), rec.handler);
    r.start();
    await waitFor(
      'repeated connection failures',
      () => cap.events('pec.imap_connect_failed').length >= 3,
      10_000,
    );
    const down = r.health();
    expect(down.ok).toBe(false);
    expect(down.detail).toMatch(/^not connected to 127\.0\.0\.1:\d+\/INBOX: .*ECONNREFUSED/);
    expect(rec.calls).toHaveLength(0);
    const delays = cap.events('pec.imap_connect_failed').map((e) => Number(e.retryInMs));
    expect(Math.max(...delays)).toBeLessThanOrEqual(400);

    await d.restart();
    await waitFor('delivery once the server is up', () => r.stats.processed >= 1, 10_000);
    expect(rec.ids()).toEqual(['p1']);
    const up = r.health();
    expect(up.ok).toBe(true);
    expect(up.detail).toMatch(/^connected to 127\.0\.0\.1:\d+\/INBOX; last pass /);
    expect(r.stats.reconnects).toBe(1);
  });

  it('delivers by polling alone when IDLE is off', async () => {
    const d = await server();
    const c = await imap(d);
    await append(c, 'p1');
    const rec = new Recorder();
    const cap = capture();
    const r = reader(options(d, new MemoryState(), cap.log, { idle: false, pollMs: 300 }), rec.handler);
    r.start();
    await waitFor('the first message', () => r.stats.processed >= 1, 10_000);
    await append(c, 'p2');
    await waitFor('the second message, by polling', () => r.stats.processed >= 2, 5_000);
    expect(rec.ids()).toEqual(['p1', 'p2']);
    expect(cap.events('pec.imap_connected')[0]).toMatchObject({ idle: false });
    const passes = r.stats.passes;
    await sleep(1_000);
    expect(r.stats.passes).toBeGreaterThanOrEqual(passes + 2);
  });

  it('a process killed after the pipeline stored a message, before the reader acknowledged it: only that message comes again', async () => {
    const d = await server();
    const c = await imap(d);
    await append(c, 'p1');
    await append(c, 'p2');
    await append(c, 'p3');
    const crash = crashingReader(d);
    expect(await crash.run('p2')).toEqual(['p1', 'p2']);

    const state = crash.state();
    expect(state.get(MARK_KEY(d.user))).toBe('1');
    const rec = new Recorder();
    const r = reader(options(d, state, capture().log), rec.handler);
    r.start();
    await waitFor('the rest', () => r.stats.processed >= 2, 10_000);
    await r.pass();

    expect(rec.ids()).toEqual(['p2', 'p3']);
    expect(r.stats.alreadyProcessed).toBe(0);
    for (const f of (await flagsOf(c)).values()) expect(f).toEqual(PROCESSED_SEEN);
  });

  it('a message that kills the process every time is skipped after maxAttempts, so later mail still flows', async () => {
    const d = await server();
    const c = await imap(d);
    await append(c, 'p1');
    const u2 = await append(c, 'p2');
    await append(c, 'p3');
    const crash = crashingReader(d, 2);
    expect(await crash.run('p2')).toEqual(['p1', 'p2']);
    expect(await crash.run('p2')).toEqual(['p2']);

    const rec = new Recorder();
    const cap = capture();
    const r = reader(options(d, crash.state(), cap.log, { maxAttempts: 2 }), rec.handler);
    r.start();
    await waitFor('p3', () => r.stats.processed >= 1, 10_000);

    expect(rec.ids()).toEqual(['p3']);
    expect(cap.events('pec.message_skipped')).toHaveLength(1);
    expect(cap.events('pec.message_skipped')[0]).toMatchObject({ uid: u2, level: 50 });
    expect(cap.events('pec.message_skipped')[0]?.err).toContain('did not finish 2 times');
    const flags = await flagsOf(c);
    expect(flags.get('p2')).toEqual([]);
    expect(flags.get('p3')).toEqual(PROCESSED_SEEN);
  });

  it('a mark that could not be committed: the flagged message is not handled again, nothing is skipped', async () => {
    const d = await server();
    const c = await imap(d);
    await append(c, 'p1');
    await append(c, 'p2');
    const state = new MemoryState();
    let failed = false;
    const flaky: ChannelState = {
      get: (k) => state.get(k),
      set: (k, v) => {
        if (!failed && k.endsWith(':uid') && v !== '0') {
          failed = true;
          throw new Error('database is locked');
        }
        state.set(k, v);
      },
    };
    const rec = new Recorder();
    const cap = capture();
    const r = reader(options(d, flaky, cap.log), rec.handler);
    r.start();
    await waitFor('both messages', () => r.stats.processed >= 2, 10_000);

    expect(cap.events('pec.state_failed')).toHaveLength(1);
    expect(cap.events('pec.state_failed')[0]).toMatchObject({ err: 'database is locked', level: 50 });
    expect(rec.ids()).toEqual(['p1', 'p2']);
    expect(r.stats.alreadyProcessed).toBe(1);
    expect(state.get(MARK_KEY(d.user))).toBe('2');
  });
});
