import fs from 'node:fs';
import Database from 'better-sqlite3';
import { StoreError } from './store.js';

/**
 * Is the store file sound? `PRAGMA quick_check` (every page, every record, NOT NULL and CHECK
 * constraints: O(N)) at every start; `PRAGMA integrity_check` (also that every index matches its
 * table: O(N log N)) on demand (`fatturad store check --full`) and on a schedule
 * (`store.fullCheckEveryMs`). Each check opens its own connection, so it reads the pages from
 * the disk, not from a running daemon's cache.
 */

export type CheckMode = 'quick' | 'full';

export type StoreCheck =
  | { ok: true; mode: CheckMode; ms: number }
  | {
      ok: false;
      mode: CheckMode;
      ms: number;
      /**
       * unreadable: not a SQLite database at all (header damaged, another file); damaged: pages or
       * records; changed: not the file sealed at the last clean stop (src/store/seal.ts).
       */
      kind: 'unreadable' | 'damaged' | 'changed';
      problems: string[];
    };

/** SQLite's words for a damaged file (better-sqlite3's SqliteError carries them in `code`). */
const DAMAGE_CODES = /^SQLITE_(CORRUPT|NOTADB)/;

/** Whether an error thrown by SQLite means the file is damaged (not busy, not a permission). */
export function isDamageError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && DAMAGE_CODES.test(code);
}

/** The recovery steps, as the operator reads them in a log line or on a terminal. */
export const RECOVERY =
  'stop fatturad, move fatturad.db, fatturad.db-wal, fatturad.db-shm and fatturad.db.seal aside (keep them), ' +
  'restore fatturad.db from the latest backup, keep the current sends.journal, and start again: sends the ' +
  'backup does not know are held in doubt from the send journal, never sent twice ' +
  '(docs/operations.md, "A damaged store")';

export const RECOVERY_IT =
  'fermare fatturad, spostare altrove fatturad.db, fatturad.db-wal, fatturad.db-shm e fatturad.db.seal ' +
  "(conservandoli), ripristinare fatturad.db dall'ultima copia di sicurezza, mantenere il sends.journal attuale " +
  'e riavviare: gli invii che la copia non conosce restano in sospeso grazie al giornale degli invii, mai ' +
  'inviati due volte (docs/operations.md, "A damaged store")';

/** The store cannot be used: its file is damaged or is not a database. */
export class StoreDamagedError extends StoreError {
  override name = 'StoreDamagedError';
  constructor(
    readonly file: string,
    readonly kind: 'unreadable' | 'damaged' | 'changed',
    readonly problems: string[],
  ) {
    super(
      `the store ${file} ${
        kind === 'unreadable'
          ? 'is not a readable SQLite database'
          : kind === 'changed'
            ? 'changed while fatturad was stopped'
            : 'is damaged'
      } ` +
        `(${problems.slice(0, 3).join('; ')}${problems.length > 3 ? `; and ${problems.length - 3} more` : ''}): ` +
        `fatturad will not use it. To recover: ${RECOVERY}`,
    );
  }

  static from(file: string, err: unknown): StoreDamagedError {
    const c = (err as { code?: unknown } | null)?.code;
    const code = typeof c === 'string' ? c : '';
    return new StoreDamagedError(file, code.startsWith('SQLITE_NOTADB') ? 'unreadable' : 'damaged', [
      `${(err as Error).message} (${code})`,
    ]);
  }
}

/**
 * Checks the store file on a connection of its own. A missing file is sound (a new store). Errors
 * that are not damage (a busy lock, a permission) are thrown as they are.
 */
export function checkStoreFile(file: string, mode: CheckMode, opts: { readonly?: boolean } = {}): StoreCheck {
  const started = process.hrtime.bigint();
  const ms = (): number => Number((process.hrtime.bigint() - started) / 1_000_000n);
  if (!fs.existsSync(file)) return { ok: true, mode, ms: 0 };
  let db: Database.Database | null = null;
  try {
    db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const rows = db.pragma(mode === 'full' ? 'integrity_check(100)' : 'quick_check(100)') as Record<
      string,
      string
    >[];
    const problems = rows.map((r) => String(Object.values(r)[0] ?? '')).filter((p) => p !== 'ok');
    return problems.length
      ? { ok: false, mode, ms: ms(), kind: 'damaged', problems }
      : { ok: true, mode, ms: ms() };
  } catch (err) {
    if (!isDamageError(err)) throw err;
    const e = StoreDamagedError.from(file, err);
    return { ok: false, mode, ms: ms(), kind: e.kind, problems: e.problems };
  } finally {
    db?.close();
  }
}

/** Throws StoreDamagedError when the check finds damage. */
export function assertStoreSound(file: string, mode: CheckMode): StoreCheck {
  const r = checkStoreFile(file, mode);
  if (!r.ok) throw new StoreDamagedError(file, r.kind, r.problems);
  return r;
}
