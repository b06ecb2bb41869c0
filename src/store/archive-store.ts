import type Database from 'better-sqlite3';
import { prepared } from './store.js';

/**
 * The archive's SQL (schema 5). SQLite is the archive's index and queue; the files under the
 * archive folder are the evidence, and `fatturad archive verify` checks one against the other.
 */
export interface LogRow {
  idx: number;
  entry: Buffer;
  leafHash: Buffer;
  kind: string;
  sha256: string;
  ref: string;
  at: string;
}

export interface CheckpointRow {
  size: number;
  root: Buffer;
  note: string;
  issuedAt: string;
  tsrSha256: string | null;
}

export interface PackageRow {
  id: number;
  kind: 'pdv' | 'pda';
  name: string;
  state: 'open' | 'closing' | 'closed';
  pdaId: number | null;
  createdAt: string;
  closedAt: string | null;
  reason: string | null;
  indexSha256: string | null;
  signatureSha256: string | null;
  timestampSha256: string | null;
  files: number;
}

export interface ItemRow {
  id: number;
  source: string;
  sourceId: number;
  kind: string;
  name: string;
  sha256: string;
  size: number;
  leafIdx: number;
  pdvId: number;
  document: string;
  metadata: string | null;
}

export interface NewItem {
  source: string;
  sourceId: number;
  kind: string;
  name: string;
  sha256: string;
  size: number;
  leafIdx: number;
  document: string;
  metadata: string | null;
}

export interface KeyRow {
  role: string;
  denominazione: string | null;
  nome: string | null;
  cognome: string | null;
  codiceFiscale: string | null;
  partitaIva: string | null;
  data: string;
  numero: string;
  tipoDocumento: string;
  identificativoSdI: string | null;
}

export interface SearchQuery {
  text?: string;
  codiceFiscale?: string;
  partitaIva?: string;
  from?: string;
  to?: string;
  numero?: string;
  identificativoSdI?: string;
  document?: string;
}

interface PackageDb {
  id: number;
  kind: 'pdv' | 'pda';
  name: string;
  state: 'open' | 'closing' | 'closed';
  pda_id: number | null;
  created_at: string;
  closed_at: string | null;
  reason: string | null;
  index_sha256: string | null;
  signature_sha256: string | null;
  timestamp_sha256: string | null;
  files: number;
}

const pkg = (r: PackageDb): PackageRow => ({
  id: r.id,
  kind: r.kind,
  name: r.name,
  state: r.state,
  pdaId: r.pda_id,
  createdAt: r.created_at,
  closedAt: r.closed_at,
  reason: r.reason,
  indexSha256: r.index_sha256,
  signatureSha256: r.signature_sha256,
  timestampSha256: r.timestamp_sha256,
  files: r.files,
});

interface ItemDb {
  id: number;
  source: string;
  source_id: number;
  kind: string;
  name: string;
  sha256: string;
  size: number;
  leaf_idx: number;
  pdv_id: number;
  document: string;
  metadata: string | null;
}

const item = (r: ItemDb): ItemRow => ({
  id: r.id,
  source: r.source,
  sourceId: r.source_id,
  kind: r.kind,
  name: r.name,
  sha256: r.sha256,
  size: r.size,
  leafIdx: r.leaf_idx,
  pdvId: r.pdv_id,
  document: r.document,
  metadata: r.metadata,
});

export class ArchiveStore {
  constructor(readonly db: Database.Database) {}

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** A transaction that takes the write lock at its start (BEGIN IMMEDIATE): what it reads stays true until it commits. */
  exclusive<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  // ---- objects ------------------------------------------------------------------------------------

  addObject(sha256: string, size: number, at: string): void {
    prepared(
      this.db,
      `INSERT OR IGNORE INTO archive_objects (sha256, size, created_at) VALUES (?, ?, ?)`,
    ).run(sha256, size, at);
  }

  getObject(sha256: string): { sha256: string; size: number } | undefined {
    return prepared(this.db, `SELECT sha256, size FROM archive_objects WHERE sha256 = ?`).get(sha256) as
      { sha256: string; size: number } | undefined;
  }

  objectCount(): number {
    return (prepared(this.db, `SELECT count(*) AS n FROM archive_objects`).get() as { n: number }).n;
  }

  allObjects(): { sha256: string; size: number }[] {
    return prepared(this.db, `SELECT sha256, size FROM archive_objects ORDER BY sha256`).all() as {
      sha256: string;
      size: number;
    }[];
  }

  /** The objects verified longest ago (never verified first). */
  objectsDue(limit: number): { sha256: string; size: number }[] {
    return prepared(
      this.db,
      `SELECT sha256, size FROM archive_objects ORDER BY last_verified_at IS NOT NULL, last_verified_at LIMIT ?`,
    ).all(limit) as { sha256: string; size: number }[];
  }

  markVerified(sha256: string, at: string, status: string): void {
    prepared(
      this.db,
      `UPDATE archive_objects SET last_verified_at = ?, last_status = ? WHERE sha256 = ?`,
    ).run(at, status, sha256);
  }

  // ---- log ----------------------------------------------------------------------------------------

  logSize(): number {
    return (prepared(this.db, `SELECT count(*) AS n FROM archive_log`).get() as { n: number }).n;
  }

  appendLog(row: LogRow): void {
    prepared(
      this.db,
      `INSERT INTO archive_log (idx, entry, leaf_hash, kind, sha256, ref, at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(row.idx, row.entry, row.leafHash, row.kind, row.sha256, row.ref, row.at);
  }

  getLog(idx: number): LogRow | undefined {
    const r = prepared(this.db, `SELECT * FROM archive_log WHERE idx = ?`).get(idx) as
      | {
          idx: number;
          entry: Buffer;
          leaf_hash: Buffer;
          kind: string;
          sha256: string;
          ref: string;
          at: string;
        }
      | undefined;
    return (
      r && {
        idx: r.idx,
        entry: r.entry,
        leafHash: r.leaf_hash,
        kind: r.kind,
        sha256: r.sha256,
        ref: r.ref,
        at: r.at,
      }
    );
  }

  /** Every leaf hash in log order (for roots and proofs). */
  leafHashes(limit?: number): Buffer[] {
    const rows = prepared(this.db, `SELECT leaf_hash FROM archive_log ORDER BY idx LIMIT ?`)
      .raw()
      .all(limit ?? -1) as [Buffer][];
    return rows.map((r) => r[0]);
  }

  /** The first log entry of a blob, preferring one of the given kinds. */
  leafOfBlob(sha256: string, kinds: readonly string[] = []): number | undefined {
    const rows = prepared(this.db, `SELECT idx, kind FROM archive_log WHERE sha256 = ? ORDER BY idx`).all(
      sha256,
    ) as {
      idx: number;
      kind: string;
    }[];
    return (rows.find((r) => kinds.includes(r.kind)) ?? rows[0])?.idx;
  }

  /** Items whose file entry comes before the log's first facts entry (all of them when there is none). */
  itemsBeforeFacts(): number {
    return (
      prepared(
        this.db,
        `SELECT count(*) AS n FROM archive_items
           WHERE leaf_idx < coalesce((SELECT min(idx) FROM archive_log WHERE kind = 'facts'), 9223372036854775807)`,
      ).get() as { n: number }
    ).n;
  }

  /** The facts entries' positions, by the document each is about (in log order). */
  factsLeaves(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const [idx, ref] of prepared(
      this.db,
      `SELECT idx, ref FROM archive_log WHERE kind = 'facts' ORDER BY idx`,
    )
      .raw()
      .all() as [number, string][])
      out.set(ref, [...(out.get(ref) ?? []), idx]);
    return out;
  }

  /** Walks the log in order, in pages (bounded memory). */
  *iterateLog(pageSize = 5000): Generator<LogRow> {
    const stmt = prepared(this.db, `SELECT * FROM archive_log WHERE idx >= ? ORDER BY idx LIMIT ?`);
    for (let from = 0; ;) {
      const rows = stmt.all(from, pageSize) as {
        idx: number;
        entry: Buffer;
        leaf_hash: Buffer;
        kind: string;
        sha256: string;
        ref: string;
        at: string;
      }[];
      for (const r of rows)
        yield {
          idx: r.idx,
          entry: r.entry,
          leafHash: r.leaf_hash,
          kind: r.kind,
          sha256: r.sha256,
          ref: r.ref,
          at: r.at,
        };
      if (rows.length < pageSize) return;
      from = (rows.at(-1)?.idx ?? from) + 1;
    }
  }

  // ---- checkpoints ----------------------------------------------------------------------------------

  addCheckpoint(c: { size: number; root: Buffer; note: string; at: string }): void {
    prepared(
      this.db,
      `INSERT OR IGNORE INTO archive_checkpoints (size, root, note, issued_at) VALUES (?, ?, ?, ?)`,
    ).run(c.size, c.root, c.note, c.at);
  }

  setCheckpointTimestamp(size: number, tsrSha256: string): void {
    prepared(this.db, `UPDATE archive_checkpoints SET tsr_sha256 = ? WHERE size = ?`).run(tsrSha256, size);
  }

  checkpoints(): CheckpointRow[] {
    return (
      prepared(this.db, `SELECT * FROM archive_checkpoints ORDER BY size`).all() as {
        size: number;
        root: Buffer;
        note: string;
        issued_at: string;
        tsr_sha256: string | null;
      }[]
    ).map((r) => ({
      size: r.size,
      root: r.root,
      note: r.note,
      issuedAt: r.issued_at,
      tsrSha256: r.tsr_sha256,
    }));
  }

  latestCheckpoint(): CheckpointRow | undefined {
    return this.checkpoints().at(-1);
  }

  // ---- packages -----------------------------------------------------------------------------------

  createPackage(kind: 'pdv' | 'pda', name: string, at: string, pdaId: number | null): PackageRow {
    const id = Number(
      prepared(
        this.db,
        `INSERT INTO archive_packages (kind, name, state, pda_id, created_at) VALUES (?, ?, 'open', ?, ?)`,
      ).run(kind, name, pdaId, at).lastInsertRowid,
    );
    return this.getPackage(id) as PackageRow;
  }

  getPackage(id: number): PackageRow | undefined {
    const r = prepared(this.db, `SELECT * FROM archive_packages WHERE id = ?`).get(id) as
      PackageDb | undefined;
    return r && pkg(r);
  }

  findPackage(name: string): PackageRow | undefined {
    const r = prepared(this.db, `SELECT * FROM archive_packages WHERE name = ?`).get(name) as
      PackageDb | undefined;
    return r && pkg(r);
  }

  packages(kind?: 'pdv' | 'pda'): PackageRow[] {
    return (
      (kind
        ? prepared(this.db, `SELECT * FROM archive_packages WHERE kind = ? ORDER BY id`).all(kind)
        : prepared(this.db, `SELECT * FROM archive_packages ORDER BY id`).all()) as PackageDb[]
    ).map(pkg);
  }

  openPda(): PackageRow | undefined {
    const r = prepared(
      this.db,
      `SELECT * FROM archive_packages WHERE kind = 'pda' AND state IN ('open', 'closing') ORDER BY id LIMIT 1`,
    ).get() as PackageDb | undefined;
    return r && pkg(r);
  }

  lastClosedPda(): PackageRow | undefined {
    const r = prepared(
      this.db,
      `SELECT * FROM archive_packages WHERE kind = 'pda' AND state = 'closed' ORDER BY id DESC LIMIT 1`,
    ).get() as PackageDb | undefined;
    return r && pkg(r);
  }

  updatePackage(
    id: number,
    fields: Partial<
      Pick<
        PackageRow,
        'state' | 'closedAt' | 'reason' | 'indexSha256' | 'signatureSha256' | 'timestampSha256' | 'files'
      >
    >,
  ): void {
    const cols: Record<string, string> = {
      state: 'state',
      closedAt: 'closed_at',
      reason: 'reason',
      indexSha256: 'index_sha256',
      signatureSha256: 'signature_sha256',
      timestampSha256: 'timestamp_sha256',
      files: 'files',
    };
    const keys = Object.keys(fields).filter((k) => k in cols);
    if (keys.length === 0) return;
    prepared(
      this.db,
      `UPDATE archive_packages SET ${keys.map((k) => `${cols[k]} = @${k}`).join(', ')} WHERE id = @id`,
    ).run({ ...fields, id });
  }

  /** PdVs of a PdA. */
  pdvsOf(pdaId: number): PackageRow[] {
    return (
      prepared(this.db, `SELECT * FROM archive_packages WHERE kind = 'pdv' AND pda_id = ? ORDER BY id`).all(
        pdaId,
      ) as PackageDb[]
    ).map(pkg);
  }

  // ---- items and search keys ---------------------------------------------------------------------------

  hasItem(source: string, sourceId: number): boolean {
    return (
      prepared(this.db, `SELECT 1 FROM archive_items WHERE source = ? AND source_id = ?`).get(
        source,
        sourceId,
      ) !== undefined
    );
  }

  addItem(pdvId: number, i: NewItem): number {
    return Number(
      prepared(
        this.db,
        `INSERT INTO archive_items (source, source_id, kind, name, sha256, size, leaf_idx, pdv_id, document, metadata)
           VALUES (@source, @sourceId, @kind, @name, @sha256, @size, @leafIdx, @pdvId, @document, @metadata)`,
      ).run({ ...i, pdvId }).lastInsertRowid,
    );
  }

  addKeys(itemId: number, document: string, keys: readonly KeyRow[]): void {
    const stmt = prepared(
      this.db,
      `INSERT INTO archive_keys (item_id, document, role, denominazione, nome, cognome, codice_fiscale, partita_iva,
         data, numero, tipo_documento, identificativo_sdi)
       VALUES (@itemId, @document, @role, @denominazione, @nome, @cognome, @codiceFiscale, @partitaIva, @data, @numero,
         @tipoDocumento, @identificativoSdI)`,
    );
    for (const k of keys) stmt.run({ ...k, itemId, document });
  }

  itemsOfPdv(pdvId: number): ItemRow[] {
    return (
      prepared(this.db, `SELECT * FROM archive_items WHERE pdv_id = ? ORDER BY id`).all(pdvId) as ItemDb[]
    ).map(item);
  }

  itemsOfDocument(document: string): ItemRow[] {
    return (
      prepared(this.db, `SELECT * FROM archive_items WHERE document = ? ORDER BY id`).all(
        document,
      ) as ItemDb[]
    ).map(item);
  }

  /** Archived files: every invoice, SdI message, MT, envelope... (one per item). */
  itemCount(): number {
    return (prepared(this.db, `SELECT count(*) AS n FROM archive_items`).get() as { n: number }).n;
  }

  /**
   * Archived documents: an invoice sent or received with its messages (the items sharing a
   * `document`). What `archive status`, `archive export` and `archive verify-export` call a document.
   */
  documentCount(): number {
    return (
      prepared(this.db, `SELECT count(DISTINCT document) AS n FROM archive_items`).get() as { n: number }
    ).n;
  }

  keysOf(document: string): KeyRow[] {
    return prepared(
      this.db,
      `SELECT role, denominazione, nome, cognome, codice_fiscale AS codiceFiscale, partita_iva AS partitaIva, data, numero,
           tipo_documento AS tipoDocumento, identificativo_sdi AS identificativoSdI
         FROM archive_keys WHERE document = ? ORDER BY rowid`,
    ).all(document) as KeyRow[];
  }

  /** Documents whose search keys match every given criterion. */
  search(q: SearchQuery, limit = 1000): string[] {
    const where: string[] = [];
    const args: Record<string, string> = {};
    if (q.text) {
      where.push(
        `(denominazione LIKE @text ESCAPE '\\' OR nome LIKE @text ESCAPE '\\' OR cognome LIKE @text ESCAPE '\\')`,
      );
      args.text = `%${q.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    }
    if (q.codiceFiscale) {
      where.push(`upper(codice_fiscale) = upper(@cf)`);
      args.cf = q.codiceFiscale;
    }
    if (q.partitaIva) {
      where.push(`(upper(partita_iva) = upper(@piva) OR upper(partita_iva) = 'IT' || upper(@piva))`);
      args.piva = q.partitaIva;
    }
    if (q.from) {
      where.push(`data >= @from`);
      args.from = q.from;
    }
    if (q.to) {
      where.push(`data <= @to`);
      args.to = q.to;
    }
    if (q.numero) {
      where.push(`numero = @numero`);
      args.numero = q.numero;
    }
    if (q.identificativoSdI) {
      where.push(`identificativo_sdi = @idsdi`);
      args.idsdi = q.identificativoSdI;
    }
    if (q.document) {
      where.push(`document = @document`);
      args.document = q.document;
    }
    const rows = prepared(
      this.db,
      `SELECT DISTINCT document FROM archive_keys ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY data, numero LIMIT ${Math.max(1, Math.min(limit, 100_000))}`,
    ).all(args) as { document: string }[];
    return rows.map((r) => r.document);
  }

  // ---- the whole index, as `archive verify` compares it with the log and `rebuild-index` rewrites it --

  /** Every item, in log order. */
  allItems(): ItemRow[] {
    return (prepared(this.db, `SELECT * FROM archive_items ORDER BY leaf_idx, id`).all() as ItemDb[]).map(
      item,
    );
  }

  /** Every search-key row with the item it belongs to, in insertion order. */
  allKeys(): (KeyRow & { itemId: number; document: string })[] {
    return prepared(
      this.db,
      `SELECT item_id AS itemId, document, role, denominazione, nome, cognome, codice_fiscale AS codiceFiscale,
           partita_iva AS partitaIva, data, numero, tipo_documento AS tipoDocumento, identificativo_sdi AS identificativoSdI
         FROM archive_keys ORDER BY rowid`,
    ).all() as (KeyRow & { itemId: number; document: string })[];
  }

  /**
   * Replaces the packages, items and search keys with the given ones (the caller runs it in one
   * transaction). Packages are inserted in the order given, PdAs before their PdVs.
   */
  replaceIndex(
    packages: readonly (Omit<PackageRow, 'id' | 'pdaId'> & { pda: string | null })[],
    items: readonly (NewItem & { pdv: string; keys: readonly KeyRow[] })[],
  ): void {
    prepared(this.db, `DELETE FROM archive_keys`).run();
    prepared(this.db, `DELETE FROM archive_items`).run();
    prepared(this.db, `DELETE FROM archive_packages`).run();
    const ids = new Map<string, number>();
    const insert = prepared(
      this.db,
      `INSERT INTO archive_packages (kind, name, state, pda_id, created_at, closed_at, reason, index_sha256,
           signature_sha256, timestamp_sha256, files)
         VALUES (@kind, @name, @state, @pdaId, @createdAt, @closedAt, @reason, @indexSha256, @signatureSha256,
           @timestampSha256, @files)`,
    );
    for (const p of packages) {
      const { pda, ...row } = p;
      const pdaId = pda === null ? null : ids.get(pda);
      if (pdaId === undefined) throw new Error(`package ${p.name}: its PdA ${pda} is not known`);
      ids.set(p.name, Number(insert.run({ ...row, pdaId }).lastInsertRowid));
    }
    for (const i of items) {
      const { pdv, keys, ...row } = i;
      const pdvId = ids.get(pdv);
      if (pdvId === undefined) throw new Error(`item ${i.name}: its PdV ${pdv} is not known`);
      const id = this.addItem(pdvId, row);
      if (keys.length) this.addKeys(id, i.document, keys);
    }
  }

  /** Sets an object row's size (inserting the row when it is gone), keeping its verification times. */
  fixObject(sha256: string, size: number, at: string): void {
    this.addObject(sha256, size, at);
    prepared(this.db, `UPDATE archive_objects SET size = ? WHERE sha256 = ?`).run(size, sha256);
  }

  // ---- what the pipeline has not archived yet ------------------------------------------------------

  /**
   * Sent documents whose flow has ended and that are not archived: the final states in which an
   * invoice is issued, and B2B `delivered` (nothing follows an RC there).
   */
  pendingDocuments(limit: number): number[] {
    return (
      prepared(
        this.db,
        `SELECT d.id FROM documents d JOIN outbound o ON o.document_id = d.id
            WHERE (d.state IN ('available', 'attested', 'accepted', 'refused', 'expired')
                   OR (d.state = 'delivered' AND o.flow = 'b2b'))
              AND NOT EXISTS (SELECT 1 FROM archive_items i WHERE i.source = 'documents' AND i.source_id = d.id)
            ORDER BY d.id LIMIT ?`,
      ).all(limit) as { id: number }[]
    ).map((r) => r.id);
  }

  /** Archived documents that got another message (notification or receipt) since. */
  documentsWithNewMessages(limit: number): number[] {
    return (
      prepared(
        this.db,
        `SELECT DISTINCT i.source_id AS id FROM archive_items i
            WHERE i.source = 'documents' AND (
              EXISTS (SELECT 1 FROM notifications n WHERE n.document_id = i.source_id
                        AND NOT EXISTS (SELECT 1 FROM archive_items x WHERE x.source = 'notifications' AND x.source_id = n.id))
              OR EXISTS (SELECT 1 FROM transport_receipts r WHERE r.document_id = i.source_id
                        AND NOT EXISTS (SELECT 1 FROM archive_items x WHERE x.source = 'transport_receipts' AND x.source_id = r.id)))
            LIMIT ?`,
      ).all(limit) as { id: number }[]
    ).map((r) => r.id);
  }

  /** Received invoices handed to the ERP and not archived. */
  pendingPassive(limit: number): number[] {
    return (
      prepared(
        this.db,
        `SELECT p.id FROM passive p WHERE p.delivered_path IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM archive_items i WHERE i.source = 'passive' AND i.source_id = p.id)
            ORDER BY p.id LIMIT ?`,
      ).all(limit) as { id: number }[]
    ).map((r) => r.id);
  }
}
