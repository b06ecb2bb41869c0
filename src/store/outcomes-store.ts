import type Database from 'better-sqlite3';
import { isState, type DocumentState } from '../lifecycle/states.js';
import { prepared, transitionDetails } from './store.js';

/**
 * The outcomes folder's SQL (schema 7): the state changes the ERP is told about are the rows of
 * `transitions` (append-only); `outcome_cursor` says how far the writer has looked and `outcomes`
 * which file each one became. A file is written before its row: a crash in between writes it again
 * (the writer recognises its own file by the transition id inside).
 */
export interface OutcomeSource {
  transitionId: number;
  documentId: number;
  from: DocumentState | null;
  to: DocumentState;
  at: string;
  reason: string | null;
  details: unknown;
  originalName: string;
  entry: string;
  /** The file the ERP dropped when the document is an entry of a zip. */
  intakeName: string | null;
  sdiName: string | null;
  identificativoSdI: string | null;
  flow: 'pa' | 'b2b' | null;
  channel: string | null;
}

interface SourceDb {
  id: number;
  document_id: number;
  from_state: string | null;
  to_state: string;
  at: string;
  reason: string | null;
  details: string | null;
  original_name: string;
  entry: string;
  intake_name: string | null;
  sdi_name: string | null;
  identificativo_sdi: string | null;
  flow: 'pa' | 'b2b' | null;
  channel: string | null;
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return transitionDetails(JSON.parse(text) as unknown);
  } catch {
    return null;
  }
}

export class OutcomeStore {
  constructor(private readonly db: Database.Database) {}

  /** The cursor; set to the latest transition when the folder is used for the first time. */
  cursor(): number {
    const row = prepared(this.db, `SELECT after_transition AS a FROM outcome_cursor WHERE id = 1`).get() as
      { a: number } | undefined;
    if (row) return row.a;
    const latest = (
      prepared(this.db, `SELECT coalesce(max(id), 0) AS m FROM transitions`).get() as { m: number }
    ).m;
    prepared(this.db, `INSERT OR IGNORE INTO outcome_cursor (id, after_transition) VALUES (1, ?)`).run(
      latest,
    );
    return this.cursor();
  }

  /** Transitions after `after`, oldest first, with what the outcome file says of their document. */
  after(after: number, limit: number): OutcomeSource[] {
    const rows = prepared(
      this.db,
      `SELECT t.id, t.document_id, t.from_state, t.to_state, t.at, t.reason, t.details,
              d.original_name, d.entry, i.original_name AS intake_name,
              o.sdi_name, o.identificativo_sdi, o.flow, o.channel
         FROM transitions t
         JOIN documents d ON d.id = t.document_id
         LEFT JOIN intake i ON i.id = d.intake_id
         LEFT JOIN outbound o ON o.document_id = t.document_id
        WHERE t.id > ? ORDER BY t.id LIMIT ?`,
    ).all(after, limit) as SourceDb[];
    return rows.flatMap((r) => {
      if (!isState(r.to_state) || (r.from_state !== null && !isState(r.from_state))) return [];
      return [
        {
          transitionId: r.id,
          documentId: r.document_id,
          from: r.from_state,
          to: r.to_state,
          at: r.at,
          reason: r.reason,
          details: parseJson(r.details),
          originalName: r.original_name,
          entry: r.entry,
          intakeName: r.intake_name,
          sdiName: r.sdi_name,
          identificativoSdI: r.identificativo_sdi,
          flow: r.flow,
          channel: r.channel,
        },
      ];
    });
  }

  /** The files of one pass written: recorded, and the cursor moved past `upTo`, in one transaction. */
  markWritten(written: readonly { transitionId: number; file: string }[], upTo: number, at: string): void {
    const insert = prepared(
      this.db,
      `INSERT OR IGNORE INTO outcomes (transition_id, file, written_at) VALUES (?, ?, ?)`,
    );
    const move = prepared(
      this.db,
      `INSERT INTO outcome_cursor (id, after_transition) VALUES (1, ?)
         ON CONFLICT(id) DO UPDATE SET after_transition = max(after_transition, excluded.after_transition)`,
    );
    this.db.transaction(() => {
      for (const w of written) insert.run(w.transitionId, w.file, at);
      move.run(upTo);
    })();
  }

  /** The outcome files written for a document, oldest first (for `show`). */
  filesOf(documentId: number): { transitionId: number; file: string; writtenAt: string }[] {
    return (
      prepared(
        this.db,
        `SELECT o.transition_id, o.file, o.written_at FROM outcomes o JOIN transitions t ON t.id = o.transition_id
          WHERE t.document_id = ? ORDER BY o.transition_id`,
      ).all(documentId) as { transition_id: number; file: string; written_at: string }[]
    ).map((r) => ({ transitionId: r.transition_id, file: r.file, writtenAt: r.written_at }));
  }

  /** State changes after the cursor (how far behind the writer is). */
  behind(): number {
    return (
      prepared(
        this.db,
        `SELECT count(*) AS n FROM transitions WHERE id > coalesce((SELECT after_transition FROM outcome_cursor WHERE id = 1), 0)`,
      ).get() as { n: number }
    ).n;
  }
}
