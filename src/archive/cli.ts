import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import type { SearchQuery } from '../store/archive-store.js';
import type { Store } from '../store/store.js';
import type { Finding } from './archive.js';
import type { OpenedArchive } from './open.js';

/**
 * `fatturad archive …`: verify, search, export and verify a PdD, close the PdA. This module only
 * declares the commands (it is loaded by every `fatturad` command): the archive itself, pino and
 * the PdD code are imported by the action that runs.
 */
export interface CliHelpers {
  config: (file: string | undefined) => Promise<Config>;
  store: (config: Config, readonly?: boolean) => Promise<Store>;
  out: (text: string) => void;
  exit: (code: number) => never;
}

const QUERY_KEYS: Record<string, keyof SearchQuery> = {
  text: 'text',
  name: 'text',
  denominazione: 'text',
  cf: 'codiceFiscale',
  codiceFiscale: 'codiceFiscale',
  piva: 'partitaIva',
  partitaIva: 'partitaIva',
  from: 'from',
  to: 'to',
  numero: 'numero',
  idsdi: 'identificativoSdI',
  identificativoSdI: 'identificativoSdI',
  document: 'document',
};

/** `partitaIva=IT01234567890 from=2026-01-01` (or separated by & or ,) to a query. */
export function parseQuery(text: string): SearchQuery | string {
  const q: SearchQuery = {};
  for (const part of text.split(/[&,\s]+/).filter(Boolean)) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(part);
    const key = m ? QUERY_KEYS[m[1] as string] : undefined;
    if (!m || !key)
      return `"${part}": expected key=value with key one of ${Object.keys(QUERY_KEYS).join(', ')}`;
    q[key] = m[2];
  }
  return q;
}

interface SearchOpts {
  query?: string;
  text?: string;
  cf?: string;
  piva?: string;
  from?: string;
  to?: string;
  numero?: string;
  idSdi?: string;
}

/**
 * The search of `--query` and the options, or what is wrong with it (exit 2): an unknown key, a
 * date that is not a real calendar day (2017-13-45, 2017-02-30), `from` after `to`. Dates are
 * read by the one day parser (parseDay) the other commands use.
 */
async function queryOf(o: SearchOpts): Promise<SearchQuery | string> {
  // Loaded here: this module only declares the commands (it is loaded by every command).
  const { parseDay } = await import('../rules/sdi/days.js');
  const q = o.query ? parseQuery(o.query) : {};
  if (typeof q === 'string') return `--query ${q}`;
  for (const [key, option] of [
    ['from', '--from'],
    ['to', '--to'],
  ] as const) {
    const given = o[key];
    if (given !== undefined && !parseDay(given))
      return `${option} wants a calendar day YYYY-MM-DD, not "${given}"`;
    const inQuery = q[key];
    if (inQuery !== undefined && !parseDay(inQuery))
      return `--query ${key}= wants a calendar day YYYY-MM-DD, not "${inQuery}"`;
  }
  if (o.text) q.text = o.text;
  if (o.cf) q.codiceFiscale = o.cf;
  if (o.piva) q.partitaIva = o.piva;
  if (o.from) q.from = o.from;
  if (o.to) q.to = o.to;
  if (o.numero) q.numero = o.numero;
  if (o.idSdi) q.identificativoSdI = o.idSdi;
  if (q.from && q.to && q.from > q.to)
    return `the dates are the wrong way round: from ${q.from} is after to ${q.to}`;
  return q;
}

/** Findings about the index (the tables), which `rebuild-index` repairs. */
const INDEX_CODES: ReadonlySet<string> = new Set([
  'object-row-altered',
  'item-altered',
  'item-missing',
  'item-extra',
  'keys-altered',
  'package-altered',
  'package-missing',
]);

function describe(f: Finding): string {
  return `${f.code.padEnd(19)} ${f.message}`;
}

export function addArchiveCommands(program: Command, h: CliHelpers): void {
  const cmd = program
    .command('archive')
    .description('the preservation archive: verify, search, export (PdD)');
  const withArchive = async <T>(
    file: string | undefined,
    fn: (a: OpenedArchive, c: Config) => Promise<T>,
  ): Promise<T> => {
    const config = await h.config(file);
    const store = await h.store(config, false);
    try {
      const [{ openArchive }, { default: pino }] = await Promise.all([import('./open.js'), import('pino')]);
      return await fn(await openArchive(config, store, pino({ level: 'silent' })), config);
    } finally {
      store.close();
    }
  };
  const searchOptions = (c: Command): Command =>
    c
      .option(
        '--query <q>',
        'key=value pairs: text, cf, piva, from, to, numero, idsdi (e.g. "piva=IT01234567890 from=2026-01-01")',
      )
      .option('--text <name>', 'denominazione, nome or cognome (substring)')
      .option('--cf <codiceFiscale>', 'codice fiscale')
      .option('--piva <partitaIva>', 'partita IVA (with or without IT)')
      .option('--from <date>', 'invoice date from (YYYY-MM-DD)')
      .option('--to <date>', 'invoice date to (YYYY-MM-DD)')
      .option('--numero <n>', 'invoice number')
      .option('--id-sdi <id>', 'IdentificativoSdI');

  cmd
    .command('verify')
    .description('re-hash every blob, recompute the log, check every checkpoint; exit 1 on any finding')
    .option('-c, --config <file>', 'configuration file')
    .option('--json', 'one JSON object')
    .option('--log-only', 'check the log and checkpoints without re-hashing the blobs')
    .action(async (o: { config?: string; json?: boolean; logOnly?: boolean }) => {
      const progress = process.stderr.isTTY
        ? (p: { step: string; done: number; total: number }) =>
            process.stderr.write(`verify: ${p.step} ${p.done}/${p.total}\n`)
        : undefined;
      const r = await withArchive(o.config, (a) =>
        a.archive.verify({ blobs: !o.logOnly, ...(progress ? { progress } : {}) }),
      );
      if (o.json) h.out(JSON.stringify(r, null, 2));
      else {
        h.out(
          `archive: ${r.logSize} log entries, ${r.objects} blobs (${(r.bytes / 1048576).toFixed(1)} MB re-hashed), ` +
            `${r.checkpoints} checkpoints (latest ${r.latestCheckpoint ?? 'none'}), ${r.facts} facts entries, ${r.ms} ms`,
        );
        if (r.legacyItems > 0)
          h.out(
            `${r.legacyItems} archived file(s) have no facts entry yet (archived before them): checked against their own entries only until the daemon commits their facts`,
          );
        if (r.ok) h.out('OK: no findings');
        else {
          h.out(`${r.findings.length} finding(s):`);
          for (const f of r.findings) h.out(`  ${describe(f)}`);
        }
      }
      if (!r.ok) h.exit(1);
    });

  searchOptions(
    cmd
      .command('search')
      .description('find archived documents by the fiscal search keys (DMEF 2014 art. 3)')
      .option('-c, --config <file>', 'configuration file')
      .option('--json', 'JSON output'),
  ).action(async (o: SearchOpts & { config?: string; json?: boolean }) => {
    const q = await queryOf(o);
    if (typeof q === 'string') {
      process.stderr.write(`fatturad: ${q}\n`);
      h.exit(2);
    }
    const result = await withArchive(o.config, async (a) =>
      a.astore.search(q).map((document) => ({
        document,
        keys: a.astore.keysOf(document),
        files: a.astore
          .itemsOfDocument(document)
          .map((i) => ({ kind: i.kind, name: i.name, sha256: i.sha256, leafIndex: i.leafIdx })),
      })),
    );
    if (o.json) h.out(JSON.stringify(result, null, 2));
    else {
      for (const d of result) {
        const k = d.keys.find((x) => x.role === 'cedente') ?? d.keys[0];
        const other = d.keys.find((x) => x.role === 'cessionario');
        h.out(
          `${d.document}  ${k?.data ?? ''} n. ${k?.numero ?? ''}  ${k?.denominazione ?? [k?.nome, k?.cognome].filter(Boolean).join(' ')}` +
            ` -> ${other?.denominazione ?? [other?.nome, other?.cognome].filter(Boolean).join(' ')}  IdentificativoSdI ${k?.identificativoSdI ?? '-'}  (${d.files.length} files)`,
        );
      }
      h.out(`${result.length} document(s)`);
    }
  });

  searchOptions(
    cmd
      .command('export')
      .description('write a PdD (BagIt zip) with the documents found, their metadata and inclusion proofs')
      .requiredOption('--out <file.zip>', 'the zip to write')
      .option('-c, --config <file>', 'configuration file'),
  ).action(async (o: SearchOpts & { config?: string; out: string }) => {
    const q = await queryOf(o);
    if (typeof q === 'string') {
      process.stderr.write(`fatturad: ${q}\n`);
      h.exit(2);
    }
    const [{ writePdd }, { pddInput }] = await Promise.all([import('./pdd.js'), import('./export.js')]);
    const r = await withArchive(o.config, async (a, config) => {
      const docs = a.astore.search(q);
      if (docs.length === 0) return null;
      try {
        const { input, archivedFiles } = await pddInput(a, config, docs, q);
        const w = await writePdd(input, o.out);
        return { ...w, documents: docs.length, archivedFiles };
      } catch (err) {
        // A PdD that would not verify is not written: the archive disagrees with its log.
        process.stderr.write(
          `fatturad: ${(err as Error).message}\nfatturad: no PdD written; run "fatturad archive verify"\n`,
        );
        return h.exit(1);
      }
    });
    if (!r) {
      process.stderr.write('fatturad: no archived document matches the query\n');
      h.exit(1);
    }
    h.out(
      `wrote ${o.out}: ${r.documents} document(s) (${r.archivedFiles} archived files), ${r.files} entries in the zip, ${r.bytes} bytes; ` +
        `check it with "fatturad archive verify-export ${o.out}" or by VERIFY.txt inside`,
    );
  });

  cmd
    .command('verify-export <file>')
    .description(
      'check a PdD offline: manifests, checkpoint signature, inclusion proofs; exit 1 on any finding',
    )
    .option('--json', 'JSON output')
    .action(async (file: string, o: { json?: boolean }) => {
      const { verifyPdd } = await import('./pdd.js');
      const r = await verifyPdd(file);
      if (o.json) h.out(JSON.stringify(r, null, 2));
      else {
        h.out(
          `${file}: ${r.documents} document(s) (${r.files} archived files) proved into a checkpoint of ${r.treeSize} entries`,
        );
        if (r.ok) h.out('OK');
        for (const f of r.findings)
          h.out(`  ${f.code.padEnd(20)} ${f.path ? `${f.path}: ` : ''}${f.message}`);
      }
      if (!r.ok) h.exit(1);
    });

  cmd
    .command('rebuild-index')
    .description(
      'rewrite the index (packages, archived files, search keys) from the log, in one transaction; exit 1 if the log itself does not verify',
    )
    .option('-c, --config <file>', 'configuration file')
    .action(async (o: { config?: string }) => {
      const r = await withArchive(o.config, async (a) => {
        const rebuilt = await a.archive.rebuildIndex();
        return { rebuilt, after: await a.archive.verify({ blobs: false }) };
      });
      const index = r.rebuilt.before.filter((f) => INDEX_CODES.has(f.code));
      h.out(
        `rebuilt the index from the log: ${r.rebuilt.packages} package(s), ${r.rebuilt.items} archived file(s), ${r.rebuilt.keys} search-key row(s); ` +
          `${index.length} difference(s) with the log repaired`,
      );
      for (const f of index) h.out(`  ${describe(f)}`);
      if (r.after.ok) h.out('OK: the log and its index agree');
      else {
        h.out(`${r.after.findings.length} finding(s) remain (run "fatturad archive verify"):`);
        for (const f of r.after.findings) h.out(`  ${describe(f)}`);
        h.exit(1);
      }
    });

  cmd
    .command('close')
    .description('close the open PdA now (e.g. a formal cancellation)')
    .option('-c, --config <file>', 'configuration file')
    .option('--reason <text>', 'why', 'closed by an operator')
    .action(async (o: { config?: string; reason: string }) => {
      const r = await withArchive(o.config, (a) => a.preservation.close(o.reason));
      h.out(r ? `${r.name}: ${r.state} (${r.files} files)` : 'no open PdA with documents');
    });

  cmd
    .command('status')
    .description('the log, the checkpoints and the packages')
    .option('-c, --config <file>', 'configuration file')
    .option('--json', 'JSON output')
    .action(async (o: { config?: string; json?: boolean }) => {
      const r = await withArchive(o.config, async (a) => ({
        dir: a.archive.opts.dir,
        origin: a.archive.origin,
        verifierKey: a.archive.verifierKey,
        entries: a.archive.size,
        // A document: an invoice with its messages; files: each of them (as export and verify-export).
        documents: a.astore.documentCount(),
        files: a.astore.itemCount(),
        checkpoint: a.archive.latestCheckpoint()
          ? { size: a.archive.latestCheckpoint()?.size, issuedAt: a.archive.latestCheckpoint()?.issuedAt }
          : null,
        capabilities: a.capabilities,
        packages: a.astore.packages().map((p) => ({
          name: p.name,
          kind: p.kind,
          state: p.state,
          files: p.files,
          reason: p.reason,
          closedAt: p.closedAt,
        })),
        closingReason: a.preservation.closingReason(),
      }));
      if (o.json) h.out(JSON.stringify(r, null, 2));
      else {
        h.out(
          `archive ${r.dir} (${r.origin}): ${r.documents} document(s) (${r.files} archived files), ` +
            `${r.entries} log entries; latest checkpoint ${r.checkpoint?.size ?? 'none'}`,
        );
        h.out(`checkpoint key: ${r.verifierKey}`);
        h.out(
          `PdA index signature: ${r.capabilities.signing ? 'yes' : 'no (archive.signing)'}; timestamps: ${r.capabilities.timestamps ? 'yes' : 'no (archive.tsa)'}`,
        );
        for (const p of r.packages.filter((x) => x.kind === 'pda'))
          h.out(`  ${p.name}  ${p.state}  ${p.files} files${p.reason ? `  (${p.reason})` : ''}`);
        h.out(`${r.packages.filter((x) => x.kind === 'pdv').length} PdV`);
      }
    });
}
