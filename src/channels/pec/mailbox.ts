/**
 * The PEC channel's mailbox reader: it reads the PEC mailbox over IMAP and hands every message,
 * once, to the pipeline, without ever losing one.
 *
 * What it keeps is a high-water mark per account and mailbox in the durable channel state: the
 * mailbox's UIDVALIDITY and the highest UID it has finished with. A pass asks the server for the
 * UIDs above the mark and walks them in ascending order, one message at a time (metadata in
 * batches; sources downloaded a small window ahead of the handler, several by one command, within
 * PREFETCH_BYTES, so memory stays bounded by that or one message; see Downloads):
 *
 *  - a message already carrying our keyword was processed before (the mark was not committed, or
 *    the mailbox was recreated): skipped without download, and moved if moving is configured;
 *  - a message over `maxMessageBytes` is never downloaded: logged once, left in place, unflagged;
 *  - any other message is downloaded with BODY.PEEK (nothing becomes \Seen on its own) and given
 *    to the handler. 'processed' gets our keyword (and \Seen if asked) and is moved if asked;
 *    'ignored' is left exactly as it was. Only then is the mark committed.
 *
 * The mark never moves past a message whose handler has not resolved, so a crash at any point
 * re-handles at most the message in hand (the pipeline deduplicates by content hash). The mark and
 * the attempt record are written lazily (ChannelState): committed at once, so a crash of the
 * process keeps them, but synced to disk by the pipeline's next durable commit, so a power failure
 * may take back the last few marks: those messages are read again, and already carry our keyword
 * when they were processed. Read/unread state is never used for bookkeeping: a message a person
 * opened in a mail client is still read.
 * Nothing is ever deleted; the only EXPUNGE is the one a MOVE implies, and without MOVE the reader
 * only moves when the server can expunge by UID (UIDPLUS), otherwise it flags in place.
 *
 * A message that keeps failing is eventually skipped (left in the mailbox, unflagged, with an
 * error-level event), but only when it is the message that fails, not the pipeline: see handleOne.
 *
 * The connection is kept for ever: failures to connect and dropped connections are retried with
 * exponential backoff and jitter; IDLE (when enabled and offered) starts a pass as soon as the
 * server reports a new message, and a timer runs a pass every `pollMs` regardless. Passes never
 * overlap: requests made while one runs are folded into a single follow-up pass.
 */
import { ImapFlow, type ImapFlowOptions, type Logger as ImapFlowLogger } from 'imapflow';
import type { Logger } from '../../log.js';
import type { ChannelState } from './types.js';

export interface MailboxOptions {
  host: string;
  port: number;
  /** Implicit TLS (IMAPS); false = plain or STARTTLS (used whenever the server offers it). */
  secure: boolean;
  tls?: { ca?: Buffer[]; rejectUnauthorized?: boolean; servername?: string };
  user: string;
  pass: string;
  /** The mailbox to read, usually 'INBOX'. */
  mailbox: string;
  /** IMAP keyword set on processed messages, e.g. '$FatturadProcessed'. */
  flag: string;
  /** Also set \Seen on processed messages. */
  markSeen: boolean;
  /** '' = leave processed messages in place (flagged); else move them there (created if missing). */
  moveTo: string;
  /** Use IDLE for prompt delivery. */
  idle: boolean;
  /** A full pass at least this often (the fallback when IDLE is missing or silent). */
  pollMs: number;
  /** Bigger messages are not downloaded: logged once, left in place. */
  maxMessageBytes: number;
  /** Exponential backoff with jitter, for reconnects and for retrying a failed message. */
  reconnect: { initialMs: number; maxMs: number };
  socketTimeoutMs?: number;
  /**
   * Default 5. A message that crashed the process this many times is skipped; one whose handler
   * rejected this many times is skipped once a later message is stored (see handleOne).
   */
  maxAttempts?: number;
  /** Durable key/value store of the high-water mark. */
  state: ChannelState;
  log: Logger;
}

export type MessageVerdict = 'processed' | 'ignored';

export interface MessageMeta {
  uid: number;
  uidValidity: string;
  mailbox: string;
  size: number;
}

/**
 * Resolves once the message is durably stored by the pipeline ('processed') or judged not for
 * us ('ignored'). Rejects when it could not be stored: the reader does not advance past it and
 * retries it at the next pass. Must be idempotent: after a crash the message in hand comes again.
 */
export type MessageHandler = (raw: Buffer, meta: MessageMeta) => Promise<MessageVerdict>;

export interface MailboxStats {
  /** Messages the handler stored ('processed') and that were flagged or moved. */
  processed: number;
  /** Messages judged not for us, including the ones too large to download. */
  ignored: number;
  passes: number;
  /** Connections established after a failed attempt or a lost connection. */
  reconnects: number;
  /** Messages found already carrying our keyword: skipped without download. */
  alreadyProcessed: number;
  tooLarge: number;
  /** Handler rejections. */
  failed: number;
  /** Messages given up on after `maxAttempts` failures, left in the mailbox for a person. */
  skipped: number;
}

const DEFAULT_MAX_ATTEMPTS = 5;
/** UIDs whose flags and size are fetched in one command. */
const META_BATCH = 200;
/**
 * Sources downloaded by one UID FETCH: up to this many messages, within half of PREFETCH_BYTES
 * (a larger message, or one of unknown size, is a window of its own).
 */
const PREFETCH_MESSAGES = 16;
/** Downloaded sources not yet handed over: the next window is fetched ahead only within this. */
const PREFETCH_BYTES = 4 * 1024 * 1024;
/** Pause after a pass before IDLE starts again; IDLE start reports what arrived meanwhile. */
const AUTO_IDLE_DELAY_MS = 200;
/** IDLE is broken and restarted this often even without a pass (servers drop IDLE at 30 min). */
const IDLE_RESTART_MS = 4 * 60_000;
const LOGOUT_TIMEOUT_MS = 5_000;
const MIN_POLL_MS = 100;
/** Room above maxMessageBytes for the literal the server sends (its size check is authoritative). */
const LITERAL_HEADROOM = 1024 * 1024;

/** What a pass knows of a message before deciding to download it. */
interface Meta {
  size: number | undefined;
  flags: Set<string> | undefined;
}

/** The connection went away while a pass was using it: the pass stops, the loop reconnects. */
class ConnectionLost extends Error {}

/** The durable state could not be read or written: the pass stops and is retried later. */
class StateError extends Error {}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Exponential backoff with "equal jitter": half of the step is fixed, half is random. */
export function backoffDelay(attempt: number, limits: { initialMs: number; maxMs: number }): number {
  const step = Math.min(limits.maxMs, limits.initialMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.max(
    Math.min(limits.initialMs, limits.maxMs),
    Math.round(step / 2 + (Math.random() * step) / 2),
  );
}

export class MailboxReader {
  readonly stats: MailboxStats = {
    processed: 0,
    ignored: 0,
    passes: 0,
    reconnects: 0,
    alreadyProcessed: 0,
    tooLarge: 0,
    failed: 0,
    skipped: 0,
  };

  private readonly opts: MailboxOptions;
  private readonly handler: MessageHandler;
  private readonly log: Logger;
  private readonly keyBase: string;
  private readonly maxAttempts: number;

  private loop: Promise<void> | null = null;
  private stopping = false;
  private readonly stopSignal: Promise<void>;
  private signalStop: () => void = () => undefined;
  /** Cuts a reconnect wait short when stopping. */
  private wake: (() => void) | null = null;

  /** The connection being opened or in use. */
  private client: ImapFlow | null = null;
  private connected = false;
  private moveEnabled = false;
  /** UIDNEXT as SELECT reported it, checked against the mark by the first pass of a session. */
  private selectUidNext: number | null = null;

  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Automatic passes wait until then after a failure (explicit pass() calls do not). */
  private retryAt = 0;
  private passFailures = 0;

  /** Why the connection failed or was lost. */
  private lastError: string | null = null;
  /** Why the last pass failed (not counting a lost connection), null after a good pass. */
  private passError: string | null = null;
  private lastPassAt: number | null = null;
  private nextConnectAt: number | null = null;
  private mark: { uidValidity: string; uid: number } | null = null;
  private failing: { uid: number; attempts: number; error: string } | null = null;
  private lastSkipped: number | null = null;

  constructor(opts: MailboxOptions, handler: MessageHandler) {
    this.opts = { ...opts, mailbox: opts.mailbox || 'INBOX' };
    this.handler = handler;
    this.log = opts.log;
    this.keyBase = `imap:${opts.user}@${opts.host}/${this.opts.mailbox}`;
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
    this.stopSignal = new Promise<void>((resolve) => {
      this.signalStop = resolve;
    });
  }

  /** Connects in the background and keeps reading until stop(); never throws. */
  start(): void {
    if (this.loop || this.stopping) return;
    this.loop = this.run().catch((err: unknown) => {
      // run() handles its own errors; this is a last line of defence, never an unhandled rejection.
      this.log.error(
        { event: 'pec.reader_crashed', err: errorText(err) },
        'PEC mailbox reader stopped unexpectedly',
      );
    });
  }

  /** Finishes the message in hand, logs out and stops reconnecting. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.clearTimer();
      this.signalStop();
      this.wake?.();
      // A connection still being opened has no message in hand: abort it rather than wait for
      // the connect timeout.
      if (this.client && !this.connected) {
        try {
          this.client.close();
        } catch {
          /* already closed */
        }
      }
    }
    if (this.loop) await this.loop;
    else await this.settlePasses();
  }

  /** Runs one pass now (or after the one running), ignoring the retry backoff. */
  async pass(): Promise<void> {
    if (!this.connected || this.stopping) return;
    await this.schedulePass();
  }

  health(): { ok: boolean; detail: string } {
    const parts: string[] = [];
    const where = `${this.opts.host}:${this.opts.port}/${this.opts.mailbox}`;
    if (this.connected) parts.push(`connected to ${where}`);
    else {
      let s = `not connected to ${where}`;
      if (this.lastError) s += `: ${this.lastError}`;
      if (this.nextConnectAt && !this.stopping)
        s += `; retrying in ${Math.max(0, Math.round((this.nextConnectAt - Date.now()) / 1000))} s`;
      parts.push(s);
    }
    parts.push(this.lastPassAt ? `last pass ${new Date(this.lastPassAt).toISOString()}` : 'no pass yet');
    if (this.mark) parts.push(`mark uid ${this.mark.uid} (uidvalidity ${this.mark.uidValidity})`);
    if (this.failing)
      parts.push(
        `message uid ${this.failing.uid} failed ${this.failing.attempts} time(s): ${this.failing.error}`,
      );
    else if (this.passError) parts.push(`last pass failed: ${this.passError}`);
    if (this.stats.skipped > 0)
      parts.push(
        `${this.stats.skipped} message(s) skipped after repeated failures (last uid ${this.lastSkipped})`,
      );
    return { ok: this.connected && !this.failing && !this.passError, detail: parts.join('; ') };
  }

  // ---- connection loop ----

  private async run(): Promise<void> {
    let attempt = 0;
    let everConnected = false;
    let hadTrouble = false;
    while (!this.stopping) {
      const client = this.createClient();
      this.client = client;
      let closeReason: string | null = null;
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      let session = false;
      try {
        await client.connect();
        if (this.stopping) break;
        const box = await client.mailboxOpen(this.opts.mailbox);
        await this.prepare(client, box.permanentFlags);
        if (this.stopping) break;
        session = true;
        this.connected = true;
        this.nextConnectAt = null;
        this.lastError = null;
        this.selectUidNext = box.uidNext;
        if (everConnected || hadTrouble) this.stats.reconnects++;
        if (!everConnected && !client.secureConnection)
          this.log.warn(
            { event: 'pec.imap_cleartext', host: this.opts.host },
            'The IMAP connection is not encrypted (no TLS, no STARTTLS): password and mail travel in clear',
          );
        everConnected = true;
        this.log.info(
          {
            event: 'pec.imap_connected',
            host: this.opts.host,
            port: this.opts.port,
            user: this.opts.user,
            mailbox: this.opts.mailbox,
            uidValidity: String(box.uidValidity),
            exists: box.exists,
            idle: this.opts.idle && client.capabilities.has('IDLE'),
          },
          'Connected to the PEC mailbox',
        );
        client.on('exists', () => this.autoPass());
        this.autoPass();
        await Promise.race([closed, this.stopSignal]);
        if (!this.stopping) closeReason = client.byeReason ?? this.lastError ?? 'connection closed';
        // A session that got through a pass resets the backoff; a flapping one keeps growing it.
        if (this.lastPassAt && this.lastPassAt > (client.connectedAt ?? 0)) attempt = 0;
      } catch (err) {
        if (!this.stopping) {
          closeReason = errorText(err);
          this.lastError = closeReason;
        }
      } finally {
        this.connected = false;
        this.clearTimer();
        await this.settlePasses();
        await this.closeClient(client);
        this.client = null;
      }
      if (this.stopping) break;
      hadTrouble = true;
      attempt++;
      const delay = backoffDelay(attempt, this.opts.reconnect);
      this.nextConnectAt = Date.now() + delay;
      if (session) {
        this.lastError = closeReason;
        this.log.warn(
          { event: 'pec.imap_disconnected', host: this.opts.host, reason: closeReason, retryInMs: delay },
          'Lost the connection to the PEC mailbox; reconnecting',
        );
      } else {
        this.log.warn(
          {
            event: 'pec.imap_connect_failed',
            host: this.opts.host,
            attempt,
            err: closeReason,
            retryInMs: delay,
          },
          'Could not connect to the PEC mailbox; retrying',
        );
      }
      await this.sleep(delay);
    }
    this.nextConnectAt = null;
  }

  private createClient(): ImapFlow {
    const o = this.opts;
    const literal = o.maxMessageBytes + LITERAL_HEADROOM;
    const options: ImapFlowOptions = {
      host: o.host,
      port: o.port,
      secure: o.secure,
      auth: { user: o.user, pass: o.pass },
      logger: this.clientLogger(),
      clientInfo: { name: 'fatturad' },
      disableAutoIdle: !o.idle,
      autoIdleDelay: AUTO_IDLE_DELAY_MS,
      maxIdleTime: IDLE_RESTART_MS,
      maxLiteralSize: literal,
      maxResponseSize: literal + LITERAL_HEADROOM,
    };
    if (o.tls) {
      options.tls = { ...o.tls };
      if (o.tls.servername) options.servername = o.tls.servername;
    }
    if (o.socketTimeoutMs) options.socketTimeout = o.socketTimeoutMs;
    const client = new ImapFlow(options);
    // imapflow emits 'error' once before closing; without a listener it would crash the process.
    client.on('error', (err: Error) => {
      this.lastError = errorText(err);
      this.log.debug({ event: 'pec.imap_error', err: this.lastError }, 'IMAP connection error');
    });
    return client;
  }

  /** imapflow's own warnings, reduced to their text (its objects may carry protocol detail). */
  private clientLogger(): ImapFlowLogger {
    const forward = (level: string) => (entry: unknown) => {
      const e = (entry ?? {}) as { msg?: unknown; err?: unknown };
      const text = typeof e.msg === 'string' ? e.msg : '';
      const err = e.err instanceof Error ? e.err.message : undefined;
      this.log.debug({ event: 'pec.imap_client', clientLevel: level, err }, text || 'imapflow');
    };
    const drop = (): void => undefined;
    return {
      trace: drop,
      debug: drop,
      info: drop,
      warn: forward('warn'),
      error: forward('error'),
      fatal: forward('fatal'),
    };
  }

  /** Per-session checks: where processed messages go, whether our keyword can be stored. */
  private async prepare(client: ImapFlow, permanentFlags: Set<string> | undefined): Promise<void> {
    if (permanentFlags && !permanentFlags.has('\\*') && !hasKeyword(permanentFlags, this.opts.flag)) {
      this.log.warn(
        { event: 'pec.flag_not_permanent', mailbox: this.opts.mailbox, flag: this.opts.flag },
        'The server does not keep our keyword on this mailbox; only the high-water mark prevents re-reading',
      );
    }
    this.moveEnabled = false;
    if (!this.opts.moveTo) return;
    if (sameMailbox(this.opts.moveTo, this.opts.mailbox)) {
      // Moving into the mailbox being read would hand the same message back under a new UID.
      this.log.error(
        { event: 'pec.move_unsupported', moveTo: this.opts.moveTo },
        'The folder for processed mail is the mailbox being read: processed messages are flagged in place',
      );
      return;
    }
    // Without MOVE imapflow copies, sets \Deleted and expunges; without UIDPLUS that EXPUNGE would
    // also remove every other \Deleted message of the mailbox, so we do not move at all then.
    if (!client.capabilities.has('MOVE') && !client.capabilities.has('UIDPLUS')) {
      this.log.warn(
        { event: 'pec.move_unsupported', moveTo: this.opts.moveTo },
        'The server has neither MOVE nor UIDPLUS: processed messages are flagged in place instead of moved',
      );
      return;
    }
    try {
      const res = await client.mailboxCreate(this.opts.moveTo);
      if (res.created)
        this.log.info(
          { event: 'pec.folder_created', folder: this.opts.moveTo },
          'Created the folder for processed mail',
        );
      this.moveEnabled = true;
    } catch (err) {
      if (!client.usable) throw err;
      this.log.error(
        { event: 'pec.move_folder_failed', folder: this.opts.moveTo, err: errorText(err) },
        'Cannot create the folder for processed mail: processed messages are flagged in place',
      );
    }
  }

  private async closeClient(client: ImapFlow): Promise<void> {
    if (client.usable) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        client.logout().catch(() => undefined),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, LOGOUT_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    try {
      client.close();
    } catch {
      /* already closed */
    }
  }

  private async sleep(ms: number): Promise<void> {
    if (this.stopping) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
    this.wake = null;
  }

  // ---- pass scheduling ----

  /** An automatic pass (timer, IDLE, connect): held back until the retry time after a failure. */
  private autoPass(): void {
    if (!this.connected || this.stopping) return;
    const wait = this.retryAt - Date.now();
    if (wait > 0) {
      this.armTimer(wait);
      return;
    }
    this.schedulePass().catch(() => undefined);
  }

  /** Coalesces requests: at most one pass runs and at most one more waits behind it. */
  private schedulePass(): Promise<void> {
    if (this.queued) return this.queued;
    const after = this.running ?? Promise.resolve();
    const next = after.then(async () => {
      this.queued = null;
      const p = this.passOnce();
      this.running = p;
      try {
        await p;
      } finally {
        if (this.running === p) this.running = null;
      }
    });
    this.queued = next;
    return next;
  }

  private async settlePasses(): Promise<void> {
    while (this.running || this.queued) await (this.queued ?? this.running);
  }

  private armTimer(ms: number): void {
    this.clearTimer();
    if (this.stopping || !this.connected) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.autoPass();
    }, ms);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  // ---- one pass ----

  /** Never rejects: errors end up in the log and in health(). */
  private async passOnce(): Promise<void> {
    const client = this.client;
    if (!client || !this.connected || this.stopping) return;
    this.stats.passes++;
    let lock: { release(): void } | null = null;
    try {
      // The lock keeps imapflow from starting IDLE between our commands (and while the handler runs).
      lock = await client.getMailboxLock(client.mailbox ? client.mailbox.path : this.opts.mailbox);
      await this.scan(client);
      this.lastPassAt = Date.now();
      this.passError = null;
      this.passFailures = 0;
    } catch (err) {
      if (err instanceof ConnectionLost || !client.usable) {
        this.log.debug(
          { event: 'pec.pass_interrupted', err: errorText(err) },
          'Pass interrupted by the connection',
        );
      } else {
        this.passFailures++;
        this.passError = errorText(err);
        this.retryAt = Date.now() + backoffDelay(this.passFailures, this.opts.reconnect);
        this.log.error(
          {
            event: err instanceof StateError ? 'pec.state_failed' : 'pec.pass_failed',
            mailbox: this.opts.mailbox,
            err: this.passError,
          },
          err instanceof StateError
            ? 'Cannot use the channel state; pass retried later'
            : 'Mailbox pass failed; retried later',
        );
      }
    } finally {
      lock?.release();
    }
    if (this.connected && !this.stopping) {
      const wait = this.retryAt - Date.now();
      this.armTimer(wait > 0 ? wait : Math.max(MIN_POLL_MS, this.opts.pollMs));
    }
  }

  private async scan(client: ImapFlow): Promise<void> {
    const box = client.mailbox;
    if (!box) throw new ConnectionLost('no mailbox selected');
    const uidValidity = String(box.uidValidity);
    let mark = this.readMark(uidValidity);
    const uidNext = this.selectUidNext;
    this.selectUidNext = null;
    if (uidNext !== null && uidNext > 0 && mark >= uidNext) {
      // UIDs only grow within one UIDVALIDITY, so the server lost messages or was restored from a
      // backup without changing UIDVALIDITY; reading again is safe, skipping would lose mail.
      this.log.warn(
        { event: 'pec.mark_ahead', mailbox: this.opts.mailbox, mark, uidNext, uidValidity },
        'The high-water mark is beyond the mailbox UIDNEXT: rescanning the mailbox',
      );
      this.writeState('uid', '0');
      mark = 0;
    }
    this.mark = { uidValidity, uid: mark };
    // Set again below if something fails in this pass.
    this.retryAt = 0;

    const found = await client.search({ uid: `${mark + 1}:*` }, { uid: true });
    if (!Array.isArray(found)) {
      if (!client.usable) throw new ConnectionLost('connection closed during UID SEARCH');
      throw new Error('the server refused UID SEARCH');
    }
    // "N:*" also matches the highest UID when it is below N, hence the filter.
    const uids = found.filter((u) => u > mark).sort((a, b) => a - b);
    /** A message that failed maxAttempts times, while the ones after it are tried (see handleOne). */
    let suspect: number | null = null;
    for (let i = 0; i < uids.length; i += META_BATCH) {
      const batch = uids.slice(i, i + META_BATCH);
      const rows = await client.fetchAll(
        batch.join(','),
        { uid: true, flags: true, size: true },
        { uid: true },
      );
      // A server may answer one message in several rows, and a flag change made meanwhile by
      // another session arrives as an extra row with FLAGS only: merge them per UID.
      const byUid = new Map<number, Meta>();
      for (const r of rows) {
        if (!r.uid) continue;
        const prev = byUid.get(r.uid);
        byUid.set(r.uid, { size: r.size ?? prev?.size, flags: r.flags ?? prev?.flags });
      }
      // The sources of this batch are downloaded a window ahead of the handler (see Downloads).
      const downloads = new Downloads(
        client,
        batch.filter((uid) => this.wanted(byUid.get(uid))),
        (uid) => byUid.get(uid)?.size,
      );
      try {
        for (const uid of batch) {
          if (this.stopping) return;
          if (!client.mailbox || String(client.mailbox.uidValidity) !== uidValidity)
            throw new Error('UIDVALIDITY changed during the pass');
          const outcome = await this.handleOne(
            client,
            uid,
            uidValidity,
            byUid.get(uid),
            suspect !== null,
            downloads,
          );
          if (outcome === 'failed' || (outcome === 'suspect' && suspect !== null)) {
            if (suspect !== null)
              this.log.error(
                { event: 'pec.pipeline_failing', mailbox: this.opts.mailbox, uid: suspect, next: uid },
                'The next message cannot be stored either: the pipeline is failing, not the message; nothing is skipped',
              );
            this.retryAt = Date.now() + backoffDelay(this.failing?.attempts ?? 1, this.opts.reconnect);
            return;
          }
          if (outcome === 'suspect') {
            suspect = uid;
            this.log.warn(
              { event: 'pec.message_suspect', mailbox: this.opts.mailbox, uid },
              'A message keeps failing: trying the next one to tell a bad message from a failing pipeline',
            );
            continue;
          }
          if (suspect !== null) {
            // A message that needed no handler says nothing about the pipeline: it is committed
            // with the next one that does.
            if (outcome === 'advance') continue;
            this.skip(suspect, this.failing?.uid === suspect ? this.failing.error : 'repeated failures');
            suspect = null;
          }
          // Lazy: the mark only points past messages the pipeline has stored durably (ChannelState).
          this.writeState('uid', String(uid), true);
          this.mark = { uidValidity, uid };
          if (this.failing && this.failing.uid <= uid) this.failing = null;
        }
      } finally {
        // No command of this pass is left running behind it (a prefetch in flight).
        await downloads.settle();
      }
    }
    // Nothing after the suspect could be tried: it is retried (and probed) at a later pass.
    if (suspect !== null)
      this.retryAt = Date.now() + backoffDelay(this.failing?.attempts ?? 1, this.opts.reconnect);
  }

  /** Whether a message will be downloaded: still there, not ours already, not too large. */
  private wanted(row: Meta | undefined): boolean {
    if (!row) return false;
    if (row.flags && hasKeyword(row.flags, this.opts.flag)) return false;
    return row.size === undefined || row.size <= this.opts.maxMessageBytes;
  }

  /**
   * One message above the mark. 'advance': done without the handler (already ours, too large,
   * vanished, given up); 'handled': the handler resolved and the message was acknowledged;
   * 'failed': the handler rejected, retry later; 'suspect': it rejected for the maxAttempts-th time.
   *
   * Poison-message policy. A message whose handler keeps rejecting may be a bad message or a
   * failing pipeline (database down, disk full): skipping it in the second case would lose mail.
   * So after maxAttempts rejections (5 by default, with backoff between them) the message only
   * becomes a suspect, and the pass tries the messages after it, without recording attempts for
   * them: if one is stored, the pipeline works and the suspect is skipped (error-level
   * `pec.message_skipped`; it stays in the mailbox, unflagged, for a person); if that one fails
   * too, nothing is skipped and everything is retried with backoff; with nothing after it, the
   * suspect is retried until something arrives. A message that kills the process (or the
   * connection) maxAttempts times is skipped outright: its attempts are recorded before the
   * handler runs, and a failing pipeline rejects, it does not crash.
   */
  private async handleOne(
    client: ImapFlow,
    uid: number,
    uidValidity: string,
    row: Meta | undefined,
    probing: boolean,
    downloads: Downloads,
  ): Promise<'advance' | 'handled' | 'failed' | 'suspect'> {
    const mailbox = this.opts.mailbox;
    if (!row) {
      this.log.info(
        { event: 'pec.message_vanished', mailbox, uid },
        'Message removed by someone else before reading',
      );
      return 'advance';
    }
    if (row.flags && hasKeyword(row.flags, this.opts.flag)) {
      this.stats.alreadyProcessed++;
      this.log.debug(
        { event: 'pec.message_already_processed', mailbox, uid },
        'Message already carries our keyword',
      );
      if (this.moveEnabled) await this.move(client, uid);
      return 'advance';
    }
    const size = row.size;
    if (size !== undefined && size > this.opts.maxMessageBytes) {
      this.stats.tooLarge++;
      this.stats.ignored++;
      this.log.warn(
        { event: 'pec.message_too_large', mailbox, uid, size, maxMessageBytes: this.opts.maxMessageBytes },
        'Message larger than the limit: not downloaded, left in the mailbox',
      );
      return 'advance';
    }

    const record = probing ? null : this.readAttempts(uidValidity, uid);
    if (record) {
      const unfinished = record.attempts - record.rejections;
      if (unfinished >= this.maxAttempts) {
        this.skip(uid, `handling did not finish ${unfinished} times (the process or the connection ended)`);
        return 'advance';
      }
      // Lazy: a crash of the process keeps it; a power failure is no crash caused by the message.
      this.writeState(
        'attempt',
        formatAttempts(uidValidity, uid, record.attempts + 1, record.rejections),
        true,
      );
    }

    const source = await downloads.take(uid);
    if (!source) {
      if (!client.usable) throw new ConnectionLost('connection closed during FETCH');
      this.log.info(
        { event: 'pec.message_vanished', mailbox, uid },
        'Message removed by someone else before reading',
      );
      return 'advance';
    }
    let verdict: MessageVerdict;
    try {
      verdict = await this.handler(source, { uid, uidValidity, mailbox, size: size ?? source.length });
      if (verdict !== 'processed' && verdict !== 'ignored')
        throw new Error(`handler returned ${String(verdict)}`);
    } catch (err) {
      this.stats.failed++;
      const error = errorText(err);
      const rejections = record ? record.rejections + 1 : 1;
      if (record)
        this.writeState('attempt', formatAttempts(uidValidity, uid, record.attempts + 1, rejections), true);
      this.log.error(
        {
          event: 'pec.message_failed',
          mailbox,
          uid,
          attempt: probing ? undefined : rejections,
          probe: probing || undefined,
          maxAttempts: this.maxAttempts,
          err: error,
        },
        'Message could not be stored; it will be retried',
      );
      if (probing) return 'failed';
      this.failing = { uid, attempts: rejections, error };
      return rejections >= this.maxAttempts ? 'suspect' : 'failed';
    }
    if (this.failing?.uid === uid) this.failing = null;
    if (verdict === 'processed') {
      await this.acknowledge(client, uid);
      this.stats.processed++;
    } else {
      this.stats.ignored++;
    }
    this.log.debug({ event: 'pec.message_handled', mailbox, uid, verdict }, 'Message handled');
    return 'handled';
  }

  private skip(uid: number, error: string): void {
    this.stats.skipped++;
    this.lastSkipped = uid;
    if (this.failing?.uid === uid) this.failing = null;
    this.log.error(
      { event: 'pec.message_skipped', mailbox: this.opts.mailbox, uid, err: error },
      'Giving up on a message after repeated failures; it stays in the mailbox, unflagged, for manual handling',
    );
  }

  /** Flags a processed message (and moves it). A refusal is logged; a lost connection stops the pass. */
  private async acknowledge(client: ImapFlow, uid: number): Promise<void> {
    const flags = this.opts.markSeen ? [this.opts.flag, '\\Seen'] : [this.opts.flag];
    const ok = await client.messageFlagsAdd(String(uid), flags, { uid: true });
    if (!ok) {
      if (!client.usable) throw new ConnectionLost('connection closed during STORE');
      this.log.warn(
        { event: 'pec.flag_failed', mailbox: this.opts.mailbox, uid, flag: this.opts.flag },
        'Could not flag a processed message',
      );
    }
    if (this.moveEnabled) await this.move(client, uid);
  }

  private async move(client: ImapFlow, uid: number): Promise<void> {
    const res = await client.messageMove(String(uid), this.opts.moveTo, { uid: true });
    if (!res) {
      if (!client.usable) throw new ConnectionLost('connection closed during MOVE');
      this.log.warn(
        { event: 'pec.move_failed', mailbox: this.opts.mailbox, uid, moveTo: this.opts.moveTo },
        'Could not move a processed message; it stays flagged in the mailbox',
      );
    }
  }

  // ---- durable state ----

  private key(name: string): string {
    return `${this.keyBase}:${name}`;
  }

  private readState(name: string): string | undefined {
    try {
      return this.opts.state.get(this.key(name));
    } catch (err) {
      throw new StateError(errorText(err));
    }
  }

  /** `lazy`: see ChannelState. */
  private writeState(name: string, value: string, lazy = false): void {
    try {
      if (lazy) this.opts.state.set(this.key(name), value, { lazy: true });
      else this.opts.state.set(this.key(name), value);
    } catch (err) {
      throw new StateError(errorText(err));
    }
  }

  /** The mark for this UIDVALIDITY; a different UIDVALIDITY resets it to 0 (full rescan). */
  private readMark(uidValidity: string): number {
    const stored = this.readState('uidvalidity');
    const raw = this.readState('uid');
    const uid = raw === undefined ? 0 : Number(raw);
    if (stored === uidValidity && Number.isSafeInteger(uid) && uid >= 0) return uid;
    if (stored === undefined) {
      this.log.info(
        { event: 'pec.mailbox_first_scan', mailbox: this.opts.mailbox, uidValidity },
        'No high-water mark for this mailbox yet: reading every message in it',
      );
    } else if (stored !== uidValidity) {
      this.log.warn(
        {
          event: 'pec.uidvalidity_changed',
          mailbox: this.opts.mailbox,
          old: stored,
          new: uidValidity,
          mark: raw,
        },
        'The mailbox UIDVALIDITY changed (mailbox recreated or restored): rescanning it from the start',
      );
    } else {
      this.log.warn(
        { event: 'pec.mark_invalid', mailbox: this.opts.mailbox, mark: raw },
        'Unreadable mark: rescanning',
      );
    }
    // The UID first: a crash between the two writes leaves the old UIDVALIDITY, i.e. another reset.
    this.writeState('uid', '0');
    this.writeState('uidvalidity', uidValidity);
    return 0;
  }

  /** The attempts recorded for this message (0/0 when the record is about another one). */
  private readAttempts(uidValidity: string, uid: number): { attempts: number; rejections: number } {
    const raw = this.readState('attempt');
    const [v, u, a, r] = (raw ?? '').split('/');
    const count = (x: string | undefined): number => {
      const n = Number(x);
      return Number.isSafeInteger(n) && n > 0 ? n : 0;
    };
    if (!raw || v !== uidValidity || Number(u) !== uid) return { attempts: 0, rejections: 0 };
    return { attempts: count(a), rejections: count(r) };
  }
}

/**
 * The sources of one metadata batch, downloaded ahead of the handler: the messages to download
 * are cut, in UID order, into windows of up to PREFETCH_MESSAGES messages within half of
 * PREFETCH_BYTES, each fetched by one UID FETCH (BODY.PEEK[]); while the messages of one window are
 * handed over, the next window is downloaded, unless the two together exceed PREFETCH_BYTES (a
 * large message is then downloaded only when it is its turn). A source leaves the buffer when it
 * is handed over, and windows behind the one in use are dropped, so that downloaded bytes not yet
 * handed over stay within PREFETCH_BYTES, or one message when that is larger. The handler still
 * sees one message at a time, in UID order: only the wait for the next download is hidden.
 */
class Downloads {
  private readonly windows: number[][] = [];
  private readonly windowBytes: number[] = [];
  private readonly windowOf = new Map<number, number>();
  private readonly loads = new Map<number, Promise<Map<number, Buffer>>>();
  /** Downloads still running, waited for by settle(). */
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    private readonly client: ImapFlow,
    uids: readonly number[],
    size: (uid: number) => number | undefined,
  ) {
    let window: number[] = [];
    let bytes = 0;
    const close = (): void => {
      if (window.length === 0) return;
      this.windows.push(window);
      this.windowBytes.push(bytes);
      window = [];
      bytes = 0;
    };
    for (const uid of uids) {
      const s = size(uid) ?? PREFETCH_BYTES;
      if (window.length >= PREFETCH_MESSAGES || (window.length > 0 && bytes + s > PREFETCH_BYTES / 2))
        close();
      this.windowOf.set(uid, this.windows.length);
      window.push(uid);
      bytes += s;
    }
    close();
  }

  /**
   * The source of `uid`, null when the server no longer has it. Rejects when the download failed
   * (the caller tells a lost connection by the client's state).
   */
  async take(uid: number): Promise<Buffer | null> {
    const w = this.windowOf.get(uid);
    if (w === undefined) {
      const msg = await this.client.fetchOne(String(uid), { uid: true, source: true }, { uid: true });
      return msg && msg.source ? msg.source : null;
    }
    // Sources of earlier windows not handed over (their messages were skipped) are let go.
    for (const k of this.loads.keys()) if (k < w) this.loads.delete(k);
    const sources = await this.load(w);
    const next = w + 1;
    if (
      next < this.windows.length &&
      (this.windowBytes[w] ?? 0) + (this.windowBytes[next] ?? 0) <= PREFETCH_BYTES
    )
      void this.load(next).catch(() => undefined);
    const source = sources.get(uid) ?? null;
    sources.delete(uid);
    return source;
  }

  /** Waits for any download still running (its result is no longer wanted). */
  async settle(): Promise<void> {
    await Promise.all([...this.running].map((p) => p.catch(() => undefined)));
    this.loads.clear();
  }

  private load(w: number): Promise<Map<number, Buffer>> {
    const loaded = this.loads.get(w);
    if (loaded) return loaded;
    const p = this.fetchWindow(this.windows[w] ?? []);
    this.loads.set(w, p);
    this.running.add(p);
    const done = (): boolean => this.running.delete(p);
    void p.then(done, done);
    return p;
  }

  private async fetchWindow(uids: readonly number[]): Promise<Map<number, Buffer>> {
    const out = new Map<number, Buffer>();
    if (uids.length === 0) return out;
    const rows = await this.client.fetchAll(uids.join(','), { uid: true, source: true }, { uid: true });
    // Rows without a source are unsolicited flag changes (see the metadata FETCH).
    for (const r of rows) if (r.uid && r.source && !out.has(r.uid)) out.set(r.uid, r.source);
    return out;
  }
}

/** The attempt record: UIDVALIDITY/UID/attempts started/attempts the handler rejected. */
function formatAttempts(uidValidity: string, uid: number, attempts: number, rejections: number): string {
  return `${uidValidity}/${uid}/${attempts}/${rejections}`;
}

/** INBOX is case-insensitive; other names are compared as given. */
function sameMailbox(a: string, b: string): boolean {
  return a === b || (a.toUpperCase() === 'INBOX' && b.toUpperCase() === 'INBOX');
}

/** IMAP keywords compare case-insensitively. */
function hasKeyword(flags: Set<string>, keyword: string): boolean {
  const k = keyword.toLowerCase();
  for (const f of flags) if (f.toLowerCase() === k) return true;
  return false;
}
