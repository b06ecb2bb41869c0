import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import {
  assertStoreSound,
  checkStoreFile,
  isDamageError,
  RECOVERY,
  RECOVERY_IT,
  StoreDamagedError,
} from './integrity.js';
import { droppable, holdBehindJournal, SendJournal, type BehindJournal } from './journal.js';
import { checkSeal, removeSeal, writeSeal } from './seal.js';
import { Store } from './store.js';

/**
 * The store, checked and witnessed: at start a quick_check (a damaged store is never used), then
 * the send journal compared with it (sends the store forgot are held in doubt) and compacted;
 * while running, a full integrity_check on a schedule. The daemon composes it (src/daemon.ts).
 */
export class StoreGuard {
  readonly journal: SendJournal;
  /** The damage a running check found; null while the store is sound. */
  damage: string | null = null;
  /** What the start held back from the journal (for the health report until the next start). */
  heldAtStart: BehindJournal[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** The store was found sound and opened: sealed again at a clean stop. */
  private opened = false;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.journal = new SendJournal(config.dataDir);
  }

  /** Checks, opens and reconciles the store. Throws StoreDamagedError on a damaged store. */
  open(): { store: Store; checkMs: number } {
    const file = this.config.paths.db;
    const seal = checkSeal(file);
    if (seal.state === 'mismatch')
      throw new StoreDamagedError(file, 'changed', [
        `its sha256 is ${seal.actual.sha256} (${seal.actual.size} bytes), not the ${seal.seal.sha256} ` +
          `(${seal.seal.size} bytes) sealed at the clean stop of ${seal.seal.sealedAt}`,
      ]);
    const check = assertStoreSound(file, 'quick');
    removeSeal(file);
    let store: Store;
    try {
      store = new Store(file);
    } catch (err) {
      throw isDamageError(err) ? StoreDamagedError.from(file, err) : err;
    }
    try {
      this.witness(store);
    } catch (err) {
      store.close();
      throw isDamageError(err) ? StoreDamagedError.from(file, err) : err;
    }
    this.opened = true;
    return { store, checkMs: check.ms };
  }

  private witness(store: Store): void {
    const read = this.journal.open();
    if (read.tornBytes > 0 || read.badLines.length > 0)
      this.log.warn(
        {
          event: 'store.journal_torn',
          file: this.journal.file,
          tornBytes: read.tornBytes,
          badLines: read.badLines.slice(0, 20),
        },
        `the send journal ${this.journal.file} had ${read.tornBytes ? `a torn last line (${read.tornBytes} bytes, cut off)` : ''}` +
          `${read.tornBytes && read.badLines.length ? ' and ' : ''}` +
          `${read.badLines.length ? `${read.badLines.length} unreadable line(s) (ignored)` : ''}: a write cut by a crash; ` +
          'the records before it are used',
      );
    this.heldAtStart = holdBehindJournal(store, read.records);
    if (this.heldAtStart.length) {
      const names = this.heldAtStart.map((b) => `#${b.documentId ?? '?'} ${b.sdiName}`);
      this.log.error(
        {
          event: 'store.behind_journal',
          count: this.heldAtStart.length,
          documents: this.heldAtStart.map((b) => ({
            documentId: b.documentId,
            journalDocumentId: b.journalDocumentId,
            sdiName: b.sdiName,
            sha256: b.sha256,
            file: b.originalName,
            missing: b.missing,
            attempt: b.attempt,
            at: b.at,
          })),
        },
        `the store is behind its send journal (rolled back, WAL lost, or restored from an older backup): ` +
          `${this.heldAtStart.length} document(s) that may already be at SdI are held in doubt, not sent again: ` +
          `${names.slice(0, 20).join(', ')}${names.length > 20 ? ', ...' : ''}. Check each with SdI; ` +
          `"fatturad resend <id>" sends one again`,
      );
    }
    this.compact(store, read.records);
  }

  /** Drops records the store has durably settled, once old enough; the WAL checkpointed first. */
  private compact(store: Store, records: Parameters<typeof droppable>[1]): void {
    const drop = droppable(store, records, this.config.store.journalKeepDays);
    if (drop.size === 0) return;
    const [cp] = store.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    if (cp?.busy) return;
    this.journal.rewrite(records.filter((r) => !drop.has(r)));
    this.log.info(
      { event: 'store.journal_compacted', dropped: drop.size, kept: records.length - drop.size },
      `send journal compacted: ${drop.size} settled record(s) dropped, ${records.length - drop.size} kept`,
    );
  }

  /** The full check on its schedule, on a connection of its own (the disk's pages, not the cache). */
  startSchedule(): void {
    const every = this.config.store.fullCheckEveryMs;
    if (every <= 0) return;
    this.timer = setInterval(() => this.fullCheck(), every);
    this.timer.unref();
  }

  fullCheck(): void {
    let r: ReturnType<typeof checkStoreFile>;
    try {
      r = checkStoreFile(this.config.paths.db, 'full', { readonly: true });
    } catch (err) {
      this.log.warn(
        { event: 'store.check_failed', reason: (err as Error).message },
        `the scheduled store check could not run: ${(err as Error).message}`,
      );
      return;
    }
    if (r.ok) {
      this.log.info(
        { event: 'store.checked', mode: r.mode, ms: r.ms },
        `store check (${r.mode}): ok in ${r.ms} ms`,
      );
      return;
    }
    this.noteDamage(new StoreDamagedError(this.config.paths.db, r.kind, r.problems));
  }

  /** A damaged store seen while running: one alert, and /healthz says so until a restart. */
  noteDamage(err: StoreDamagedError): void {
    const first = this.damage === null;
    this.damage = `the store is damaged: ${err.problems.slice(0, 3).join('; ')}`;
    if (first)
      this.log.error(
        {
          event: 'store.damaged',
          file: err.file,
          kind: err.kind,
          problems: err.problems.slice(0, 20),
          recovery: RECOVERY,
          recoveryIt: RECOVERY_IT,
        },
        err.message,
      );
  }

  /** The store's health check: damage in words, never a stack trace. */
  health(store: Store | null): { ok: boolean; detail?: string } {
    if (!store) return { ok: false, detail: 'the store is not open' };
    try {
      store.db.prepare('SELECT 1').get();
    } catch (err) {
      return this.unhealthy(err);
    }
    if (this.damage) return { ok: false, detail: `${this.damage}. To recover: ${RECOVERY}` };
    return { ok: true };
  }

  /** A query on the store failed: damage is noted and said in words, anything else by its message. */
  unhealthy(err: unknown): { ok: false; detail: string } {
    if (!isDamageError(err)) return { ok: false, detail: (err as Error).message };
    this.noteDamage(StoreDamagedError.from(this.config.paths.db, err));
    return { ok: false, detail: `${this.damage ?? 'the store is damaged'}. To recover: ${RECOVERY}` };
  }

  /** After the store was closed: seals it (when sound and fully checkpointed) for the next start. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.journal.close();
    if (this.opened && this.damage === null) {
      this.opened = false;
      try {
        writeSeal(this.config.paths.db);
      } catch (err) {
        this.log.warn(
          { event: 'store.seal_failed', reason: (err as Error).message },
          `the store could not be sealed at this stop (${(err as Error).message}); the next start checks it without the seal`,
        );
      }
    }
  }
}
