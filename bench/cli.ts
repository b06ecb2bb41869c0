/**
 * Command-line benchmark (not a test): what each `fatturad` command costs as a new process, beside
 * bare node, `xmllint --schema` and `sha256sum` on the same files, in the same run. Each case runs
 * several times; the table gives the median wall time, the spread, the median CPU time (user +
 * system: a steadier figure on a busy machine) and the peak RSS of the whole process (worker
 * threads included), both from `/usr/bin/time`, and whether the target is met.
 *
 *   npm run bench:cli [-- --files 10000 --runs 5 --cli OTHER/dist/cli.js]
 *
 * The typical files are the project's valid FPR12 example invoices (examples/*.xml) when there are any, else
 * the official FPR01 sample from the spec folder, else a built-in FPR12 invoice; each copy gets its
 * own Numero. The 10,000 files are given to every tool in one process, as relative names.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FATTURAPA_XSD, schemaCatalog, SPEC_HINT, specPath } from '../test/helpers/spec.js';

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const root = fileURLToPath(new URL('..', import.meta.url));
/** `--cli DIR/dist/cli.js`: measure another build (e.g. an older commit's) on the same files. */
const CLI = path.resolve(arg('--cli') ?? path.join(root, 'dist', 'cli.js'));
const N = Number(arg('--files') ?? 0) || 10_000;
const RUNS = Number(arg('--runs') ?? 0) || 5;
const TIME = '/usr/bin/time';

/** A valid FPR12 invoice, used only when neither examples/ nor the spec folder has one. */
const TEMPLATE = `<?xml version="1.0" encoding="UTF-8"?>
<p:FatturaElettronica versione="FPR12" xmlns:p="http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2">
  <FatturaElettronicaHeader>
    <DatiTrasmissione>
      <IdTrasmittente><IdPaese>IT</IdPaese><IdCodice>01234567890</IdCodice></IdTrasmittente>
      <ProgressivoInvio>00001</ProgressivoInvio>
      <FormatoTrasmissione>FPR12</FormatoTrasmissione>
      <CodiceDestinatario>ABC1234</CodiceDestinatario>
    </DatiTrasmissione>
    <CedentePrestatore>
      <DatiAnagrafici>
        <IdFiscaleIVA><IdPaese>IT</IdPaese><IdCodice>01234567890</IdCodice></IdFiscaleIVA>
        <Anagrafica><Denominazione>ALFA SRL</Denominazione></Anagrafica>
        <RegimeFiscale>RF01</RegimeFiscale>
      </DatiAnagrafici>
      <Sede><Indirizzo>VIA ROMA 1</Indirizzo><CAP>00100</CAP><Comune>ROMA</Comune><Provincia>RM</Provincia><Nazione>IT</Nazione></Sede>
    </CedentePrestatore>
    <CessionarioCommittente>
      <DatiAnagrafici>
        <CodiceFiscale>09876543210</CodiceFiscale>
        <Anagrafica><Denominazione>BETA SRL</Denominazione></Anagrafica>
      </DatiAnagrafici>
      <Sede><Indirizzo>VIA TORINO 2</Indirizzo><CAP>20100</CAP><Comune>MILANO</Comune><Provincia>MI</Provincia><Nazione>IT</Nazione></Sede>
    </CessionarioCommittente>
  </FatturaElettronicaHeader>
  <FatturaElettronicaBody>
    <DatiGenerali>
      <DatiGeneraliDocumento>
        <TipoDocumento>TD01</TipoDocumento>
        <Divisa>EUR</Divisa>
        <Data>2026-01-15</Data>
        <Numero>1</Numero>
        <ImportoTotaleDocumento>12.20</ImportoTotaleDocumento>
      </DatiGeneraliDocumento>
    </DatiGenerali>
    <DatiBeniServizi>
      <DettaglioLinee>
        <NumeroLinea>1</NumeroLinea>
        <Descrizione>FORNITURA DI MATERIALE</Descrizione>
        <Quantita>10.00</Quantita>
        <PrezzoUnitario>1.00</PrezzoUnitario>
        <PrezzoTotale>10.00</PrezzoTotale>
        <AliquotaIVA>22.00</AliquotaIVA>
      </DettaglioLinee>
      <DatiRiepilogo>
        <AliquotaIVA>22.00</AliquotaIVA>
        <ImponibileImporto>10.00</ImponibileImporto>
        <Imposta>2.20</Imposta>
        <EsigibilitaIVA>I</EsigibilitaIVA>
      </DatiRiepilogo>
    </DatiBeniServizi>
  </FatturaElettronicaBody>
</p:FatturaElettronica>
`;

/** The invoices the typical files are made from, and where they came from. */
function templates(): { source: string; texts: string[] } {
  const examples = path.join(root, 'examples');
  if (fs.existsSync(examples)) {
    const texts = fs
      .readdirSync(examples)
      // The deliberately invalid examples (ERR*) are not typical.
      .filter((f) => /\.xml$/i.test(f) && !/_ERR/i.test(f))
      .sort()
      .map((f) => fs.readFileSync(path.join(examples, f), 'utf8'))
      .filter((t) => /versione="FPR12"/.test(t) && /<Numero>/.test(t));
    if (texts.length > 0) return { source: `examples/ (${texts.length} FPR12 invoices)`, texts };
  }
  const sample = specPath('fatturapa', 'samples', 'IT01234567890_FPR01.xml');
  if (sample) return { source: 'the official FPR01 sample', texts: [fs.readFileSync(sample, 'utf8')] };
  return { source: 'a built-in FPR12 invoice', texts: [TEMPLATE] };
}

interface Run {
  ms: number;
  rssMb: number | null;
  /** CPU time (user + system), less sensitive than wall time to other work on the machine. */
  cpuMs: number | null;
  code: number | null;
}

/** One run of `cmd` in `cwd`, timed from here; peak RSS from /usr/bin/time when it is there. */
function once(cmd: string[], cwd: string, env: NodeJS.ProcessEnv, rssFile: string): Run {
  const timed = fs.existsSync(TIME);
  const argv = timed ? [TIME, '-o', rssFile, '-f', '%M %U %S', ...cmd] : cmd;
  const t0 = performance.now();
  const r = spawnSync(argv[0] as string, argv.slice(1), {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 * 1024 * 1024,
  });
  const ms = performance.now() - t0;
  let rssMb: number | null = null;
  let cpuMs: number | null = null;
  if (timed) {
    const last = fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? '';
    const m = /^(\d+) ([\d.]+) ([\d.]+)$/.exec(last);
    if (m) {
      rssMb = Number(m[1]) / 1024;
      cpuMs = (Number(m[2]) + Number(m[3])) * 1000;
    }
  }
  return { ms, rssMb, cpuMs, code: r.status };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

interface Row {
  label: string;
  runs: Run[];
  target?: string;
  met?: boolean;
}

function main(): void {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fatturad-bench-cli-'));
  const rssFile = path.join(dir, 'time.out');
  try {
    const { source, texts } = templates();
    const filesDir = path.join(dir, 'files');
    fs.mkdirSync(filesDir);
    const names: string[] = [];
    let bytes = 0;
    for (let i = 0; i < N; i++) {
      const text = (texts[i % texts.length] as string).replace(
        /<Numero>[^<]*<\/Numero>/,
        `<Numero>${i + 1}/2026</Numero>`,
      );
      const name = `IT01234567890_${i.toString(36).toUpperCase().padStart(5, '0')}.xml`;
      fs.writeFileSync(path.join(filesDir, name), text);
      bytes += Buffer.byteLength(text);
      names.push(name);
    }

    // A store with some documents, for `status` (and the uniqueness check of `validate`).
    const dataDir = path.join(dir, 'data');
    seedStore(dataDir, 1000);
    // The configuration a command keeps for the next (src/config/cache.ts) goes in this run's folder.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      FATTURAD_DATA_DIR: dataDir,
      XDG_CACHE_HOME: path.join(dir, 'cache'),
    };
    delete env.FATTURAD_CONFIG;

    // The official XSD from ../shared/spec or .cache/spec (scripts/fetch-spec.sh), as bench/validate.ts.
    const xsd = specPath(FATTURAPA_XSD);
    const catalog = schemaCatalog();
    const node = process.execPath;
    const big = Math.min(RUNS, 3);
    const fd = [node, CLI];

    console.log(
      `CLI benchmark of ${path.relative(process.cwd(), CLI) || CLI}: ${os.availableParallelism()} CPUs, node ${process.version}; ${N} typical files ` +
        `(${(bytes / N / 1024).toFixed(1)} KB on average) from ${source}; ${RUNS} runs each (the ${N}-file cases ${big})`,
    );
    const rows: Row[] = [];
    const measure = (label: string, cmd: string[], runs = RUNS, extraEnv: NodeJS.ProcessEnv = {}): Row => {
      const row: Row = { label, runs: [] };
      // One run first that is not counted: the files and node itself into the page cache.
      once(cmd, filesDir, { ...env, ...extraEnv }, rssFile);
      for (let i = 0; i < runs; i++) row.runs.push(once(cmd, filesDir, { ...env, ...extraEnv }, rssFile));
      rows.push(row);
      return row;
    };

    measure('node -e 0 (bare node)', [node, '-e', '0']);
    const version = measure('fatturad --version', [...fd, '--version']);
    const status = measure('fatturad status (1,000 documents)', [...fd, 'status']);
    // Every run loads the configuration (yaml, zod): nowhere to keep it.
    measure('  the same, configuration not kept', [...fd, 'status'], RUNS, {
      XDG_CACHE_HOME: '/dev/null/none',
    });
    const one = measure('fatturad validate, one file', [...fd, 'validate', names[0] as string]);
    const many = measure(`fatturad validate, ${N} files`, [...fd, 'validate', ...names], big);
    let lint: Row | null = null;
    if (xsd && catalog && spawnSync('xmllint', ['--version']).status === 0) {
      lint = measure(
        `xmllint --noout --schema, ${N} files`,
        ['xmllint', '--nonet', '--noout', '--schema', xsd, ...names],
        big,
        {
          XML_CATALOG_FILES: catalog,
        },
      );
    } else {
      console.log(`(xmllint --schema skipped: ${xsd ? 'no xmllint' : SPEC_HINT})`);
    }
    measure(`sha256sum, ${N} files`, ['sha256sum', ...names], big);

    const med = (r: Row): number => median(r.runs.map((x) => x.ms));
    const peak = (r: Row): number | null => {
      const v = r.runs.map((x) => x.rssMb).filter((x): x is number => x !== null);
      return v.length ? Math.max(...v) : null;
    };
    version.target = '< 150 ms';
    version.met = med(version) < 150;
    status.target = '< 150 ms';
    status.met = med(status) < 150;
    one.target = '< 200 ms';
    one.met = med(one) < 200;
    many.target = lint ? `<= xmllint (${med(lint).toFixed(0)} ms), RSS < 150 MB` : 'RSS < 150 MB';
    many.met = (lint ? med(many) <= med(lint) : true) && (peak(many) ?? Infinity) < 150;

    console.log('');
    console.log(
      `${'case'.padEnd(42)} ${'median'.padStart(9)} ${'min-max'.padStart(13)} ${'CPU'.padStart(8)} ${'peak RSS'.padStart(9)} ${'exit'.padStart(4)}  target`,
    );
    for (const r of rows) {
      const ms = r.runs.map((x) => x.ms);
      const p = peak(r);
      const cpus = r.runs.map((x) => x.cpuMs).filter((x): x is number => x !== null);
      const cpu = cpus.length ? median(cpus) : null;
      const codes = [...new Set(r.runs.map((x) => x.code))].join(',');
      console.log(
        `${r.label.padEnd(42)} ${`${med(r).toFixed(0)} ms`.padStart(9)} ${`${Math.min(...ms).toFixed(0)}-${Math.max(...ms).toFixed(0)}`.padStart(13)} ${(cpu === null ? '?' : `${cpu.toFixed(0)} ms`).padStart(8)} ${(p === null ? '?' : `${p.toFixed(0)} MB`).padStart(9)} ${codes.padStart(4)}  ${r.target ? `${r.target}: ${r.met ? 'met' : 'NOT MET'}` : ''}`,
      );
    }
    if (lint)
      console.log(
        `\nfatturad validate / xmllint --schema, ${N} files: ${(med(many) / med(lint)).toFixed(2)}x the wall time`,
      );
    if (many.runs.some((x) => x.code !== 0))
      console.log(`note: fatturad validate did not find every file valid`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A store with `n` documents in a few states, written through the project's own Store. */
function seedStore(dataDir: string, n: number): void {
  const seeder = `
    import { Store } from ${JSON.stringify(path.join(root, 'dist', 'store', 'store.js'))};
    const [db, n] = process.argv.slice(1);
    const store = new Store(db);
    const rows = store.beginClaims(
      Array.from({ length: Number(n) }, (_, i) => ({ sourceDir: '/erp', originalName: 'IT01234567890_' + i + '.xml', sourcePath: '/erp/' + i })),
      (r) => '/spool/' + r.id,
    );
    const ids = store.finishClaims(rows.map((r, i) => ({
      intakeId: r.id, sha256: i.toString(16).padStart(64, '0'), size: 5000, outcome: 'accepted',
      documents: [{ entry: '', originalName: r.originalName, sha256: i.toString(16).padStart(64, '0'), size: 5000, state: 'received', path: r.claimedPath, reason: 'bench' }],
    })));
    let k = 0;
    for (const [, [id]] of ids) if (k++ % 2 === 0) store.markValidated(id, [], 'valid');
    store.close();
  `;
  fs.mkdirSync(dataDir, { recursive: true });
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', seeder, path.join(dataDir, 'fatturad.db'), String(n)],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`could not seed the store: ${r.stderr}`);
}

main();
