import { createHash } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { ArchiveStore, KeyRow, PackageRow } from '../store/archive-store.js';
import { VERSION } from '../version.js';
import type { Archive, AppendBlob } from './archive.js';
import { cleanRef, decodeEntry, type EntryKind } from './entry.js';
import { decodeFacts, type FactsItem } from './facts.js';
import { isDeadlineNear, fiscalYearOf } from './fiscal.js';
import { allegato5, invoiceFacts, searchKeys } from './metadata.js';
import { buildRdv } from './rdv.js';
import { buildPIndex, fileFormat, type Agent, type PIndexFile } from './sincro.js';

/**
 * Preservation packages (AgID guidelines §4.8): each archiving batch is a PdV (pacchetto di
 * versamento) with its rapporto di versamento; PdVs accumulate in the open PdA (pacchetto di
 * archiviazione), which is closed with its UNI 11386 (SInCRO 2.0) index when a rule says so:
 * more than `pda.maxFiles` files, a fiscal year's preservation deadline near, a formal
 * cancellation (`fatturad archive close`), or the last PdA closed more than `pda.maxAgeDays`
 * ago. Closing is a sequence of idempotent steps whose progress is in the package row, so a
 * crash at any point is completed at the next start.
 */
export interface DepositFile {
  /** Where it comes from in the store (`notifications`, `transport_receipts`...) and its row id. */
  source: string;
  sourceId: number;
  kind: EntryKind;
  name: string;
  bytes: Buffer;
}

export interface DepositDocument {
  /** The document's key in the archive: `out:<document id>` or `in:<received invoice id>`. */
  document: string;
  flow: 'active' | 'passive';
  identificativoSdI: string | null;
  /** The invoice file (first) and every message about it. */
  files: DepositFile[];
  /** What fatturad knows of it (states, SdI name...), archived as its JSON metadata. */
  record: Record<string, unknown>;
}

export interface SignHooks {
  /** A CAdES signature of the index, when a signing identity is configured. */
  sign?: (index: Buffer) => Promise<Buffer>;
  /** An RFC 3161 timestamp response over the bytes, when a TSA is configured; null: try later. */
  timestamp?: (data: Buffer) => Promise<{ ok: true; response: Buffer } | { ok: false; reason: string }>;
}

/** Test-only fault injection: the process kills itself at the named step (crash tests). */
function crashPoint(name: string): void {
  if (process.env.TEST_CRASH_AT === name) process.kill(process.pid, 'SIGKILL');
}

const day = 86_400_000;

export class Preservation {
  constructor(
    private readonly archive: Archive,
    private readonly store: ArchiveStore,
    private config: Config,
    private readonly log: Logger,
    private readonly hooks: SignHooks = {},
    private readonly now: () => Date = () => new Date(),
  ) {}

  reconfigure(config: Config): void {
    this.config = config;
  }

  private currentPda(): PackageRow {
    const open = this.store.packages('pda').find((p) => p.state === 'open');
    if (open) return open;
    const at = this.now();
    const n = this.store.packages('pda').length + 1;
    return this.store.createPackage(
      'pda',
      `PdA-${at.getUTCFullYear()}-${String(n).padStart(6, '0')}`,
      at.toISOString(),
      null,
    );
  }

  /** Archives documents as one PdV; returns it, or null when there was nothing new. */
  async deposit(docs: readonly DepositDocument[]): Promise<PackageRow | null> {
    const fresh = docs
      .map((d) => ({ ...d, files: d.files.filter((f) => !this.store.hasItem(f.source, f.sourceId)) }))
      .filter((d) => d.files.length > 0);
    if (fresh.length === 0) return null;
    const blobs: AppendBlob[] = [];
    const plan: {
      doc: DepositDocument;
      file: DepositFile | null;
      keys: KeyRow[];
      metadata: string | null;
    }[] = [];
    for (const d of fresh) {
      let keys: KeyRow[] = [];
      let metadata: string | null = null;
      const invoice = d.files.find((f) => f.kind === 'invoice');
      if (invoice) {
        const facts = await invoiceFacts(invoice.name, invoice.bytes);
        if (facts) {
          keys = searchKeys(facts, d.identificativoSdI);
          metadata = JSON.stringify({ facts, flow: d.flow, identificativoSdI: d.identificativoSdI });
        }
      }
      for (const f of d.files) {
        blobs.push({ kind: f.kind, bytes: f.bytes, ref: f.name });
        plan.push({
          doc: d,
          file: f,
          keys: f === invoice ? keys : [],
          metadata: f === invoice ? metadata : null,
        });
      }
      blobs.push({
        kind: 'document-metadata',
        bytes: Buffer.from(`${JSON.stringify({ document: d.document, ...d.record }, null, 2)}\n`),
        ref: `${d.document}.json`,
      });
      plan.push({ doc: d, file: null, keys: [], metadata: null });
    }
    const at = this.now();
    const pdv = await this.archive.append(blobs, (appended) => {
      const pda = this.currentPda();
      const n = this.store.packages('pdv').length + 1;
      const row = this.store.createPackage(
        'pdv',
        `PdV-${at.toISOString().slice(0, 10)}-${String(n).padStart(6, '0')}`,
        at.toISOString(),
        pda.id,
      );
      const facts = new Map<string, FactsItem[]>();
      appended.forEach((a, i) => {
        const p = plan[i];
        if (!p) return;
        const source = p.file?.source ?? 'document';
        const sourceId = p.file?.sourceId ?? -a.idx - 1;
        const items = facts.get(p.doc.document) ?? [];
        facts.set(p.doc.document, items);
        items.push({
          leaf: a.idx,
          kind: a.kind,
          name: a.ref,
          sha256: a.sha256,
          size: a.size,
          source,
          sourceId,
          metadata: p.metadata,
          keys: p.keys,
        });
        const id = this.store.addItem(row.id, {
          source,
          sourceId,
          kind: a.kind,
          name: a.ref,
          sha256: a.sha256,
          size: a.size,
          leafIdx: a.idx,
          document: p.doc.document,
          metadata: p.metadata,
        });
        if (p.keys.length) this.store.addKeys(id, p.doc.document, p.keys);
      });
      // What the index now holds about each document, committed by the log in the same transaction.
      for (const [document, items] of facts)
        this.archive.appendFacts({
          type: 'document',
          document,
          pdv: { name: row.name, createdAt: row.createdAt },
          pda: { name: pda.name, createdAt: pda.createdAt },
          items,
        });
      this.store.updatePackage(row.id, { files: appended.length });
      this.store.updatePackage(pda.id, { files: pda.files + appended.length });
      return row;
    });
    crashPoint('pdv-before-rdv');
    await this.finishPdv(pdv);
    this.log.info(
      { event: 'archive.pdv', pdv: pdv.name, documents: fresh.length, files: blobs.length },
      `archived ${fresh.length} document(s) as ${pdv.name} (${blobs.length} files)`,
    );
    return this.store.getPackage(pdv.id) ?? pdv;
  }

  /** Writes the rapporto di versamento of a PdV (once) and closes it. */
  private async finishPdv(pdv: PackageRow): Promise<void> {
    if (pdv.state === 'closed') return;
    const items = this.store.itemsOfPdv(pdv.id);
    const time = new Date(pdv.createdAt);
    const rdv = buildRdv({
      id: pdv.name,
      time,
      producer: {
        name: this.config.archive.holder.name || 'fatturad',
        vat: this.config.archive.holder.vat,
        software: `fatturad ${VERSION}`,
      },
      files: items.map((i) => ({
        path: `${i.document}/${i.name}`,
        sha256: i.sha256,
        size: i.size,
        kind: i.kind,
      })),
    });
    await this.archive.append([{ kind: 'rdv', bytes: rdv, ref: `${pdv.name}.rdv.xml` }], () => {
      this.store.updatePackage(pdv.id, { state: 'closed', closedAt: pdv.createdAt, indexSha256: sha(rdv) });
    });
  }

  /**
   * Commits, in facts entries, what the index holds about files archived before facts entries
   * existed (an archive written by an earlier version): the rows as they stand, each one that
   * agrees with its file's own entry, grouped by document and PdV. Run once per process, before
   * the first deposit; afterwards every archived file has its facts in the log.
   */
  async seal(): Promise<{ documents: number; files: number; skipped: number }> {
    // An archive made by this version has no item older than its first facts entry: nothing to read.
    if (this.store.itemsBeforeFacts() === 0) return { documents: 0, files: 0, skipped: 0 };
    const covered = new Set<number>();
    for (const idxs of this.store.factsLeaves().values())
      for (const idx of idxs) {
        const row = this.store.getLog(idx);
        const f = row && decodeFacts(row.entry);
        if (f) for (const i of f.facts.items) covered.add(i.leaf);
      }
    const keys = new Map<number, KeyRow[]>();
    for (const { itemId, document, ...k } of this.store.allKeys()) {
      void document;
      keys.set(itemId, [...(keys.get(itemId) ?? []), k]);
    }
    const groups = new Map<
      string,
      { pdv: PackageRow; pda: PackageRow; document: string; items: FactsItem[] }
    >();
    let skipped = 0;
    for (const i of this.store.allItems()) {
      if (covered.has(i.leafIdx)) continue;
      const leaf = this.store.getLog(i.leafIdx);
      const e = leaf && decodeEntry(leaf.entry);
      const pdv = this.store.getPackage(i.pdvId);
      const pda = pdv?.pdaId ? this.store.getPackage(pdv.pdaId) : undefined;
      if (
        !e ||
        !pdv ||
        !pda ||
        e.seq !== i.leafIdx ||
        e.sha256 !== i.sha256 ||
        e.kind !== i.kind ||
        e.size !== i.size ||
        e.ref !== cleanRef(i.name)
      ) {
        skipped++;
        continue;
      }
      const g = groups.get(`${pdv.id} ${i.document}`) ?? { pdv, pda, document: i.document, items: [] };
      groups.set(`${pdv.id} ${i.document}`, g);
      g.items.push({
        leaf: i.leafIdx,
        kind: i.kind,
        name: i.name,
        sha256: i.sha256,
        size: i.size,
        source: i.source,
        sourceId: i.sourceId,
        metadata: i.metadata,
        keys: keys.get(i.id) ?? [],
      });
    }
    const files = [...groups.values()].reduce((n, g) => n + g.items.length, 0);
    if (groups.size > 0)
      await this.archive.append([], () => {
        for (const g of groups.values())
          this.archive.appendFacts({
            type: 'document',
            document: g.document,
            pdv: { name: g.pdv.name, createdAt: g.pdv.createdAt },
            pda: { name: g.pda.name, createdAt: g.pda.createdAt },
            items: g.items,
          });
      });
    if (groups.size > 0 || skipped > 0)
      (skipped > 0 ? this.log.warn.bind(this.log) : this.log.info.bind(this.log))(
        { event: 'archive.facts_sealed', documents: groups.size, files, skipped },
        `committed the facts of ${files} file(s) archived before facts entries (${groups.size} document(s) in PdVs)` +
          (skipped > 0
            ? `; ${skipped} row(s) disagree with their log entry and were left out: run "fatturad archive verify"`
            : ''),
      );
    return { documents: groups.size, files, skipped };
  }

  private sealed = false;

  /** Completes what a crash interrupted: PdVs without their rapporto, a PdA being closed. */
  async resume(): Promise<void> {
    if (!this.sealed) {
      await this.seal();
      this.sealed = true;
    }
    for (const p of this.store.packages('pdv')) if (p.state !== 'closed') await this.finishPdv(p);
    for (const p of this.store.packages('pda')) if (p.state === 'closing') await this.completePda(p);
  }

  /** Why the open PdA should be closed now, or null. */
  closingReason(now = this.now()): string | null {
    const pda = this.store.packages('pda').find((p) => p.state === 'open');
    if (!pda || pda.files === 0) return null;
    const c = this.config.archive.pda;
    if (pda.files > c.maxFiles) return `more than ${c.maxFiles} files (${pda.files})`;
    const since = this.store.lastClosedPda()?.closedAt ?? pda.createdAt;
    if (now.getTime() - Date.parse(since) > c.maxAgeDays * day)
      return `the last PdA was closed more than ${c.maxAgeDays} days ago`;
    const years = new Set<number>();
    for (const pdv of this.store.pdvsOf(pda.id))
      for (const i of this.store.itemsOfPdv(pdv.id))
        for (const k of this.store.keysOf(i.document)) years.add(fiscalYearOf(k.data));
    const near = isDeadlineNear([...years], now, c.deadlineMarginDays, this.fiscalCalendar());
    if (near.near)
      return `the preservation deadline of fiscal year ${near.year} (${near.deadline}) is ${near.daysLeft} days away`;
    return null;
  }

  private fiscalCalendar(): { returnDueDates: Record<number, string>; monthsAfterReturn: number } {
    const f = this.config.archive.fiscal;
    return {
      returnDueDates: Object.fromEntries(Object.entries(f.returnDueDates).map(([y, d]) => [Number(y), d])),
      monthsAfterReturn: f.monthsAfterReturn,
    };
  }

  /** Closes the open PdA if a rule says so. */
  async maybeClose(): Promise<PackageRow | null> {
    const reason = this.closingReason();
    return reason ? this.close(reason) : null;
  }

  /** Closes the open PdA now (a rule, or a formal cancellation asked by an operator). */
  async close(reason: string): Promise<PackageRow | null> {
    const pda = this.store.packages('pda').find((p) => p.state === 'open');
    if (!pda || pda.files === 0) return null;
    this.store.updatePackage(pda.id, { state: 'closing', reason, closedAt: this.now().toISOString() });
    this.log.info(
      { event: 'archive.pda_closing', pda: pda.name, reason, files: pda.files },
      `closing ${pda.name}: ${reason}`,
    );
    crashPoint('pda-closing');
    return this.completePda(this.store.getPackage(pda.id) as PackageRow);
  }

  /** The PdA's index, from its members; deterministic, so a step done twice gives the same bytes. */
  private pindex(pda: PackageRow): Buffer {
    const h = this.config.archive.holder;
    const vat = h.vat.toUpperCase().replace(/[^A-Z0-9]/g, '');
    const pdvs = this.store.pdvsOf(pda.id);
    const holder: Agent = {
      type: 'legal person',
      // VATIT-01234567890 from IT01234567890 (anything but letters and digits dropped).
      ids: /^[A-Z]{2}[A-Z0-9]+$/.test(vat) ? [`VAT${vat.slice(0, 2)}-${vat.slice(2)}`] : [],
      name: { formal: h.name || 'fatturad' },
      role: 'soggetto produttore',
    };
    const signer: Agent = {
      type: 'natural person',
      ids: /^[A-Za-z0-9]+$/.test(h.responsabileCf) ? [`TINIT-${h.responsabileCf.toUpperCase()}`] : [],
      name: { formal: h.responsabile || 'responsabile della conservazione (not configured)' },
      role: 'responsabile della conservazione',
    };
    const files: PIndexFile[] = [];
    for (const pdv of pdvs)
      for (const i of this.store.itemsOfPdv(pdv.id)) {
        let metadata: string | undefined;
        if (i.metadata) {
          const m = JSON.parse(i.metadata) as {
            facts: Parameters<typeof allegato5>[0]['facts'];
            flow: 'active' | 'passive';
            identificativoSdI: string | null;
          };
          metadata = allegato5({
            sha256: i.sha256,
            fileName: i.name,
            facts: m.facts,
            flow: m.flow,
            identificativoSdI: m.identificativoSdI,
            retentionYears: this.config.archive.retentionYears,
          });
        }
        files.push({
          id: `F${i.leafIdx}`,
          path: `${i.document}/${i.name}`,
          sha256: i.sha256,
          ...fileFormat(i.name),
          ...(metadata ? { metadata } : {}),
        });
      }
    return buildPIndex({
      id: pda.name,
      creatingApplication: { name: 'fatturad', version: VERSION, producer: 'fatturad' },
      sources: pdvs.flatMap((p) =>
        p.indexSha256 ? [{ id: p.name, path: `${p.name}.rdv.xml`, sha256: p.indexSha256 }] : [],
      ),
      volume: { id: pda.name, label: pda.reason ?? undefined },
      fileGroups: [{ id: `${pda.name}-files`, files }],
      submitter: holder,
      holders: [holder],
      authorizedSigners: [signer],
      time: {
        instant: new Date(pda.closedAt ?? pda.createdAt),
        attachedTimeStamp: Boolean(this.hooks.timestamp),
      },
    });
  }

  private async completePda(pda: PackageRow): Promise<PackageRow> {
    let p = pda;
    if (!p.indexSha256) {
      const index = this.pindex(p);
      await this.archive.append([{ kind: 'pindex', bytes: index, ref: `${p.name}.PIndex.xml` }], () =>
        this.store.updatePackage(p.id, { indexSha256: sha(index) }),
      );
      p = this.store.getPackage(p.id) as PackageRow;
    }
    crashPoint('pda-index-written');
    const index = await this.archive.blobs.get(p.indexSha256 as string);
    if (this.hooks.sign && !p.signatureSha256) {
      const p7m = await this.hooks.sign(index);
      await this.archive.append([{ kind: 'signature', bytes: p7m, ref: `${p.name}.PIndex.xml.p7m` }], () =>
        this.store.updatePackage(p.id, { signatureSha256: sha(p7m) }),
      );
      p = this.store.getPackage(p.id) as PackageRow;
    }
    if (this.hooks.timestamp && !p.timestampSha256) {
      const signed = p.signatureSha256 ? await this.archive.blobs.get(p.signatureSha256) : index;
      const ts = await this.hooks.timestamp(signed);
      if (!ts.ok) {
        this.log.warn(
          { event: 'archive.timestamp_pending', pda: p.name, reason: ts.reason },
          `${p.name}: no timestamp yet (${ts.reason}); tried again at the next pass`,
        );
        return p;
      }
      await this.archive.append(
        [{ kind: 'timestamp', bytes: ts.response, ref: `${p.name}.PIndex.tsr` }],
        () => this.store.updatePackage(p.id, { timestampSha256: sha(ts.response) }),
      );
      p = this.store.getPackage(p.id) as PackageRow;
    }
    await this.archive.checkpoint();
    crashPoint('pda-before-closed');
    this.store.updatePackage(p.id, { state: 'closed' });
    this.log.info(
      {
        event: 'archive.pda_closed',
        pda: p.name,
        reason: p.reason,
        files: p.files,
        index: p.indexSha256,
        signed: Boolean(p.signatureSha256),
        timestamped: Boolean(p.timestampSha256),
      },
      `${p.name} closed (${p.reason}): ${p.files} files${p.signatureSha256 ? ', signed' : ', not signed'}${p.timestampSha256 ? ', timestamped' : ', no timestamp'}`,
    );
    return this.store.getPackage(p.id) as PackageRow;
  }
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
