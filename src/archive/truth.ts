import type { ArchiveStore, ItemRow, KeyRow, NewItem, PackageRow } from '../store/archive-store.js';
import type { Finding } from './archive.js';
import { cleanRef, type LogEntry } from './entry.js';
import type { FactsEntry, FactsItem, FactsKey } from './facts.js';

/**
 * The archive log is the truth: the index SQLite holds about the archived documents (items, their
 * hashes and kinds, the fiscal search keys, which PdV and PdA each belongs to, the packages' index,
 * signature and timestamp files) is recomputed here from the log's leaves — the files' entries
 * (`fatturad-leaf/1`) and the facts entries (`fatturad-facts/1`) — and compared with the tables,
 * field by field (`archive verify`), or written over them (`archive rebuild-index`).
 *
 * Package files are found by their entry: a PdV's rapporto is the `rdv` entry named
 * `<PdV>.rdv.xml`, a PdA's index, signature and timestamp the `pindex`, `signature` and `timestamp`
 * entries named `<PdA>.PIndex.xml`, `.PIndex.xml.p7m` and `.PIndex.tsr`.
 *
 * Files archived before facts entries existed (a log written by an earlier version) are checked
 * against their own entries only (the item exists, with the entry's SHA-256, kind, name and size),
 * until `Preservation.seal()` commits their facts.
 */

/** Kinds of entries that are items of a document (the others are package files). */
export const ITEM_KINDS: ReadonlySet<string> = new Set([
  'invoice',
  'notification',
  'metadata',
  'envelope',
  'receipt',
  'document-metadata',
]);

export interface ExpectedPackage {
  kind: 'pdv' | 'pda';
  name: string;
  createdAt: string;
  pda: string | null;
  indexSha256: string | null;
  signatureSha256: string | null;
  timestampSha256: string | null;
  files: number;
}

export interface ExpectedItem extends FactsItem {
  document: string;
  pdv: string;
  /** The facts entry that commits it. */
  factsIdx: number;
}

export interface ExpectedIndex {
  /** In the order of their first facts entry, each PdA before its first PdV. */
  packages: Map<string, ExpectedPackage>;
  /** By the log index of the file's entry. */
  items: Map<number, ExpectedItem>;
  findings: Finding[];
}

/** The package files the log names, by entry name (`<package>.rdv.xml`...). */
function packageFiles(leaves: ReadonlyMap<number, LogEntry>): Map<string, LogEntry> {
  const out = new Map<string, LogEntry>();
  for (const e of leaves.values())
    if (!ITEM_KINDS.has(e.kind) && !out.has(`${e.kind} ${e.ref}`)) out.set(`${e.kind} ${e.ref}`, e);
  return out;
}

function filesOf(files: Map<string, LogEntry>, kind: 'pdv' | 'pda', name: string) {
  const sha = (k: string, ref: string): string | null => files.get(`${k} ${ref}`)?.sha256 ?? null;
  return kind === 'pdv'
    ? { indexSha256: sha('rdv', `${name}.rdv.xml`), signatureSha256: null, timestampSha256: null }
    : {
        indexSha256: sha('pindex', `${name}.PIndex.xml`),
        signatureSha256: sha('signature', `${name}.PIndex.xml.p7m`),
        timestampSha256: sha('timestamp', `${name}.PIndex.tsr`),
      };
}

/** The index as the log says it is. */
export function expectedIndex(
  leaves: ReadonlyMap<number, LogEntry>,
  facts: readonly { idx: number; entry: FactsEntry }[],
): ExpectedIndex {
  const findings: Finding[] = [];
  const packages = new Map<string, ExpectedPackage>();
  const items = new Map<number, ExpectedItem>();
  const files = packageFiles(leaves);
  const bad = (idx: number, message: string): void => {
    findings.push({ code: 'facts-invalid', idx, message: `facts entry ${idx}: ${message}` });
  };
  for (const { idx, entry } of facts) {
    const f = entry.facts;
    for (const [kind, ref, pda] of [
      ['pda', f.pda, null],
      ['pdv', f.pdv, f.pda.name],
    ] as const) {
      const known = packages.get(ref.name);
      if (!known)
        packages.set(ref.name, {
          kind,
          name: ref.name,
          createdAt: ref.createdAt,
          pda,
          ...filesOf(files, kind, ref.name),
          files: 0,
        });
      else if (known.kind !== kind || known.createdAt !== ref.createdAt || known.pda !== pda)
        bad(idx, `${ref.name} disagrees with an earlier facts entry (kind, creation time or PdA)`);
    }
    for (const i of f.items) {
      const leaf = leaves.get(i.leaf);
      if (!leaf || i.leaf >= idx) {
        bad(idx, `item ${i.name} names log entry ${i.leaf}, which is not an earlier file entry`);
        continue;
      }
      const wrong = (
        [
          ['kind', leaf.kind, i.kind],
          ['sha256', leaf.sha256, i.sha256],
          ['size', leaf.size, i.size],
          ['name', leaf.ref, cleanRef(i.name)],
        ] as const
      ).filter(([, a, b]) => a !== b);
      if (wrong.length) {
        bad(
          idx,
          `item ${i.name} disagrees with log entry ${i.leaf} (${wrong.map(([k, a, b]) => `${k} ${String(b)} vs ${String(a)}`).join(', ')})`,
        );
        continue;
      }
      if (items.has(i.leaf)) {
        bad(idx, `log entry ${i.leaf} is claimed by two items`);
        continue;
      }
      items.set(i.leaf, { ...i, document: f.document, pdv: f.pdv.name, factsIdx: idx });
      const pdv = packages.get(f.pdv.name);
      const pda = packages.get(f.pda.name);
      if (pdv) pdv.files++;
      if (pda) pda.files++;
    }
  }
  return { packages, items, findings };
}

const KEY_FIELDS = [
  'role',
  'denominazione',
  'nome',
  'cognome',
  'codiceFiscale',
  'partitaIva',
  'data',
  'numero',
  'tipoDocumento',
  'identificativoSdI',
] as const satisfies readonly (keyof FactsKey)[];

function show(v: unknown): string {
  return v === null || v === undefined ? 'none' : JSON.stringify(v);
}

/**
 * Compares the tables with the log, naming each difference: which row (document, file, log
 * entry or package), which field, what the log says and what the table holds.
 */
export function compareIndex(
  store: ArchiveStore,
  leaves: ReadonlyMap<number, LogEntry>,
  expected: ExpectedIndex,
): { findings: Finding[]; legacyItems: number } {
  const findings: Finding[] = [];
  const rows = store.allItems();
  const pkgs = store.packages();
  const pkgById = new Map(pkgs.map((p) => [p.id, p]));
  const pkgByName = new Map(pkgs.map((p) => [p.name, p]));
  const keysByItem = new Map<number, (KeyRow & { document: string })[]>();
  const itemIds = new Set(rows.map((r) => r.id));
  for (const k of store.allKeys()) {
    const { itemId, ...key } = k;
    if (!itemIds.has(itemId)) {
      findings.push({
        code: 'keys-altered',
        document: k.document,
        table: 'archive_keys',
        message: `a search-key row of ${k.document} (${k.role}, n. ${k.numero}) belongs to no archived file (item ${itemId})`,
      });
      continue;
    }
    const list = keysByItem.get(itemId) ?? [];
    list.push(key);
    keysByItem.set(itemId, list);
  }
  const rowsByLeaf = new Map<number, ItemRow[]>();
  for (const r of rows) rowsByLeaf.set(r.leafIdx, [...(rowsByLeaf.get(r.leafIdx) ?? []), r]);
  const field = (
    code: Finding['code'],
    where: { idx?: number; document?: string; package?: string; table: string },
    name: string,
    want: unknown,
    got: unknown,
    what: string,
  ): void => {
    findings.push({
      code,
      ...(where.idx !== undefined ? { idx: where.idx } : {}),
      ...(where.document !== undefined ? { document: where.document } : {}),
      ...(where.package !== undefined ? { package: where.package } : {}),
      table: where.table,
      field: name,
      expected: show(want),
      found: show(got),
      message: `${what}: ${name} is ${show(got)} in ${where.table}, the log says ${show(want)}`,
    });
  };

  // Items the log commits.
  for (const [leaf, e] of expected.items) {
    const what = `${e.document}/${e.name} (log entry ${leaf})`;
    const found = rowsByLeaf.get(leaf) ?? [];
    const r = found[0];
    if (!r) {
      findings.push({
        code: 'item-missing',
        idx: leaf,
        document: e.document,
        table: 'archive_items',
        message: `${what} has no row in archive_items (committed by facts entry ${e.factsIdx}); "fatturad archive rebuild-index" restores it`,
      });
      continue;
    }
    for (const extra of found.slice(1))
      findings.push({
        code: 'item-extra',
        idx: leaf,
        document: extra.document,
        table: 'archive_items',
        message: `archive_items row ${extra.id} is a second row for log entry ${leaf}`,
      });
    const where = { idx: leaf, document: e.document, table: 'archive_items' };
    const pairs: [string, unknown, unknown][] = [
      ['document', e.document, r.document],
      ['kind', e.kind, r.kind],
      ['name', e.name, r.name],
      ['sha256', e.sha256, r.sha256],
      ['size', e.size, r.size],
      ['source', e.source, r.source],
      ['source_id', e.sourceId, r.sourceId],
      ['metadata', e.metadata, r.metadata],
      ['pdv', e.pdv, pkgById.get(r.pdvId)?.name ?? null],
    ];
    for (const [name, want, got] of pairs)
      if (want !== got) field('item-altered', where, name, want, got, what);
    const keys = keysByItem.get(r.id) ?? [];
    const kwhere = { idx: leaf, document: e.document, table: 'archive_keys' };
    for (let k = 0; k < Math.max(keys.length, e.keys.length); k++) {
      const want = e.keys[k];
      const got = keys[k];
      if (!want || !got) {
        findings.push({
          code: 'keys-altered',
          ...kwhere,
          message: `${what}: search-key row ${k + 1} ${want ? 'is missing from' : 'is not in the log but is in'} archive_keys`,
        });
        continue;
      }
      if (got.document !== e.document)
        field(
          'keys-altered',
          kwhere,
          'document',
          e.document,
          got.document,
          `${what}, search-key row ${k + 1}`,
        );
      for (const f of KEY_FIELDS)
        if (want[f] !== got[f])
          field(
            'keys-altered',
            kwhere,
            f,
            want[f],
            got[f],
            `${what}, search-key row ${k + 1} (${want.role})`,
          );
    }
  }

  // Rows the facts do not cover: files archived before facts entries, checked against their entry.
  let legacyItems = 0;
  const seen = new Set<number>();
  for (const r of rows) {
    if (expected.items.has(r.leafIdx)) continue;
    const what = `${r.document}/${r.name} (archive_items row ${r.id}, log entry ${r.leafIdx})`;
    const leaf = leaves.get(r.leafIdx);
    if (!leaf || !ITEM_KINDS.has(leaf.kind) || seen.has(r.leafIdx)) {
      findings.push({
        code: 'item-extra',
        idx: r.leafIdx,
        document: r.document,
        table: 'archive_items',
        message:
          `${what} is not a file the log archived ${seen.has(r.leafIdx) ? '(a second row for the entry)' : ''}`.trim(),
      });
      continue;
    }
    seen.add(r.leafIdx);
    legacyItems++;
    const where = { idx: r.leafIdx, document: r.document, table: 'archive_items' };
    for (const [name, want, got] of [
      ['kind', leaf.kind, r.kind],
      ['name', leaf.ref, cleanRef(r.name)],
      ['sha256', leaf.sha256, r.sha256],
      ['size', leaf.size, r.size],
    ] as const)
      if (want !== got) field('item-altered', where, name, want, got, what);
  }
  // Files of documents with neither facts nor a row, in a log that has facts entries (every
  // document's file has facts once the daemon has sealed what was archived before them). A log
  // without any facts entry (written by an earlier version and not sealed yet, or by the archive
  // API alone) is not held to this.
  if (expected.items.size > 0)
    for (const [idx, e] of leaves)
      if (ITEM_KINDS.has(e.kind) && !expected.items.has(idx) && !rowsByLeaf.has(idx))
        findings.push({
          code: 'item-missing',
          idx,
          table: 'archive_items',
          message: `log entry ${idx} (${e.kind} ${e.ref}, sha256 ${e.sha256}) has no row in archive_items`,
        });

  // Packages.
  const files = packageFiles(leaves);
  for (const p of expected.packages.values()) {
    const r = pkgByName.get(p.name);
    if (!r) {
      findings.push({
        code: 'package-missing',
        package: p.name,
        table: 'archive_packages',
        message: `${p.name} (${p.kind}) is in the log but has no row in archive_packages`,
      });
      continue;
    }
    const where = { package: p.name, table: 'archive_packages' };
    const pairs: [string, unknown, unknown][] = [
      ['kind', p.kind, r.kind],
      ['created_at', p.createdAt, r.createdAt],
      ['pda', p.pda, r.pdaId === null ? null : (pkgById.get(r.pdaId)?.name ?? null)],
      ['index_sha256', p.indexSha256, r.indexSha256],
      ['signature_sha256', p.signatureSha256, r.signatureSha256],
      ['timestamp_sha256', p.timestampSha256, r.timestampSha256],
      ['files', p.files, r.files],
    ];
    for (const [name, want, got] of pairs)
      if (want !== got) field('package-altered', where, name, want, got, p.name);
    stateCheck(p, r, findings);
  }
  for (const r of pkgs) {
    if (expected.packages.has(r.name)) continue;
    // Once the log has facts entries, every package with files is in them.
    if (expected.items.size > 0 && (r.files > 0 || r.indexSha256 || r.kind === 'pdv')) {
      findings.push({
        code: 'package-altered',
        package: r.name,
        table: 'archive_packages',
        message: `${r.name} (${r.kind}, ${r.files} files) is in archive_packages but no facts entry of the log names it`,
      });
      continue;
    }
    // A package the facts do not name: made before facts entries (its files still checked), or
    // an open PdA with nothing in it yet.
    const want = filesOf(files, r.kind, r.name);
    const where = { package: r.name, table: 'archive_packages' };
    for (const [name, w, got] of [
      ['index_sha256', want.indexSha256, r.indexSha256],
      ['signature_sha256', want.signatureSha256, r.signatureSha256],
      ['timestamp_sha256', want.timestampSha256, r.timestampSha256],
    ] as const)
      if (w !== got) field('package-altered', where, name, w, got, r.name);
  }
  return { findings, legacyItems };
}

/** A package's state against its files in the log: what can be said without the facts. */
function stateCheck(p: ExpectedPackage, r: PackageRow, findings: Finding[]): void {
  const ok =
    p.kind === 'pdv'
      ? r.state === (p.indexSha256 ? 'closed' : 'open')
      : p.indexSha256
        ? r.state !== 'open'
        : r.state !== 'closed';
  if (!ok)
    findings.push({
      code: 'package-altered',
      package: p.name,
      table: 'archive_packages',
      field: 'state',
      found: r.state,
      expected:
        p.kind === 'pdv'
          ? p.indexSha256
            ? 'closed'
            : 'open'
          : p.indexSha256
            ? 'closing or closed'
            : 'open or closing',
      message: `${p.name}: state is ${r.state} in archive_packages, but its index is ${p.indexSha256 ? '' : 'not '}in the log`,
    });
}

/**
 * The tables rebuilt from the log: what `replaceIndex` writes. What the log does not commit is
 * taken from the current rows when they exist (a PdA's closing reason and time, whether a PdA
 * with its index was completed); otherwise a PdA with its index in the log is left `closing`,
 * which the daemon completes at its next pass.
 */
export function rebuildPlan(
  store: ArchiveStore,
  leaves: ReadonlyMap<number, LogEntry>,
  expected: ExpectedIndex,
): {
  packages: (Omit<PackageRow, 'id' | 'pdaId'> & { pda: string | null })[];
  items: (NewItem & { pdv: string; keys: KeyRow[] })[];
} {
  const uncovered = [...leaves].filter(([idx, e]) => ITEM_KINDS.has(e.kind) && !expected.items.has(idx));
  if (uncovered.length > 0)
    throw new Error(
      `${uncovered.length} archived file(s) (from log entry ${uncovered[0]?.[0]}) have no facts entry in the log ` +
        `(archived before this version): start the daemon once so that it commits their facts, then run rebuild-index again`,
    );
  const current = new Map(store.packages().map((p) => [p.name, p]));
  const packages = [...expected.packages.values()].map((p) => {
    const was = current.get(p.name);
    const state: PackageRow['state'] =
      p.kind === 'pdv'
        ? p.indexSha256
          ? 'closed'
          : 'open'
        : p.indexSha256
          ? was?.state === 'closed'
            ? 'closed'
            : 'closing'
          : was?.state === 'closing'
            ? 'closing'
            : 'open';
    return {
      kind: p.kind,
      name: p.name,
      state,
      pda: p.pda,
      createdAt: p.createdAt,
      closedAt:
        p.kind === 'pdv'
          ? p.indexSha256
            ? p.createdAt
            : null
          : state === 'open'
            ? null
            : (was?.closedAt ?? null),
      reason: p.kind === 'pdv' || state === 'open' ? null : (was?.reason ?? null),
      indexSha256: p.indexSha256,
      signatureSha256: p.signatureSha256,
      timestampSha256: p.timestampSha256,
      files: p.files,
    };
  });
  // A PdA opened after the last PdV (no document in it yet) is kept as it is.
  for (const [name, p] of current)
    if (!expected.packages.has(name) && p.kind === 'pda' && p.files === 0 && !p.indexSha256)
      packages.push({
        kind: 'pda',
        name,
        state: 'open',
        pda: null,
        createdAt: p.createdAt,
        closedAt: null,
        reason: null,
        indexSha256: null,
        signatureSha256: null,
        timestampSha256: null,
        files: 0,
      });
  const items = [...expected.items.values()]
    .sort((a, b) => a.leaf - b.leaf)
    .map((i) => ({
      source: i.source,
      sourceId: i.sourceId,
      kind: i.kind,
      name: i.name,
      sha256: i.sha256,
      size: i.size,
      leafIdx: i.leaf,
      document: i.document,
      metadata: i.metadata,
      pdv: i.pdv,
      keys: i.keys,
    }));
  return { packages, items };
}
