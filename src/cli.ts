#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import type { Config } from './config/schema.js';
import { addArchiveCommands } from './archive/cli.js';
import { addCheckCommands } from './check/cli.js';
import { addCredentialCommands } from './credentials/cli.js';
import { addTrustCommands } from './trust/cli.js';
import { addStoreCommands } from './store/cli.js';
import { addAlertsCommands } from './alerts/cli.js';
import type { Store } from './store/store.js';
import { VERSION } from './version.js';

/*
 * Every command loads what it needs when it runs (`await import()` in its action): the static
 * imports above are what every command needs (commander, the version) and command declarations
 * that import nothing heavy themselves. Loading everything at start made `fatturad --version`
 * cost 0.7 s and 120 MB (bench/cli.ts); test/integration/cli.test.ts checks what each command loads.
 */

/** Exit codes, documented in --help and the README. */
export const EXIT = {
  OK: 0,
  /** Runtime failure (store unreadable, port taken, ...), or an invalid input file for `validate`. */
  FAILURE: 1,
  USAGE: 2,
  CONFIG: 3,
  ALREADY_RUNNING: 4,
  /** The store is damaged or not a database (docs/operations.md, "A damaged store"). */
  STORE_DAMAGED: 5,
} as const;

const EXIT_HELP = `
Exit codes:
  0  success
  1  runtime failure (the log or stderr says why)
  2  usage error (unknown command or option)
  3  invalid configuration (each problem names the key path, the value and what was expected),
     including a secret it names that is missing
  4  another fatturad is already running on the same data folder or drop folder
  5  the store is damaged or is not a database: restore it from a backup (docs/operations.md)

Configuration: embedded defaults (config/default.yaml), then --config FILE (or FATTURAD_CONFIG),
then FATTURAD_* environment variables (FATTURAD_HTTP__PORT=9000 sets http.port).`;

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/**
 * The configuration, or exit 3 naming its problems. A command that only reads takes the one the
 * previous command kept when nothing it was made from changed (src/config/cache.ts: no yaml and
 * zod to load); `fresh` (start, config check) always loads and checks it in full.
 */
async function configOrExit(file: string | undefined, o: { fresh?: boolean } = {}): Promise<Config> {
  const { cachedConfig, keepConfig } = await import('./config/cache.js');
  const kept = o.fresh ? null : cachedConfig(file ?? null);
  if (kept) return kept;
  const { ConfigError, loadConfig } = await import('./config/load.js');
  try {
    const config = loadConfig({ file: file ?? null });
    keepConfig(file ?? null, config);
    return config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`fatturad: ${err.message}\n`);
      process.exit(EXIT.CONFIG);
    }
    throw err;
  }
}

async function openStoreOrExit(config: Config, readonly = true): Promise<Store> {
  const { Store, StoreError } = await import('./store/store.js');
  try {
    if (!readonly && !fs.existsSync(config.paths.db))
      throw new StoreError(`no store at ${config.paths.db} (has the daemon ever run here?)`);
    if (readonly) return new Store(config.paths.db, { readonly });
    // A change made on purpose while the daemon is stopped (resend) keeps the store's seal true;
    // a store that no longer matches its seal is not written to (src/store/seal.ts).
    const { checkSeal, resealIfSealed } = await import('./store/seal.js');
    const seal = checkSeal(config.paths.db);
    if (seal.state === 'mismatch') await storeDamagedExit(sealProblem(config.paths.db, seal.seal.sealedAt));
    const store = new Store(config.paths.db, { readonly });
    const close = store.close.bind(store);
    store.close = () => {
      const open = store.db.open;
      close();
      if (open) resealIfSealed(config.paths.db);
    };
    return store;
  } catch (err) {
    if (isStoreDamage(err)) await storeDamagedExit(damageProblem(err));
    process.stderr.write(`fatturad: cannot open the store: ${(err as Error).message}\n`);
    process.exit(EXIT.FAILURE);
  }
}

/** SQLite's codes for a damaged file (src/store/integrity.ts), tested here without loading SQLite. */
function isStoreDamage(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code);
}

function damageProblem(err: unknown): string {
  return `${(err as Error).message} (${String((err as { code?: unknown }).code)})`;
}

function sealProblem(db: string, sealedAt: string): string {
  return `${db} changed while fatturad was stopped: it is not the file sealed at the clean stop of ${sealedAt}`;
}

/** A damaged store met by a command: said in words (JSON with --json), exit 5, no stack trace. */
async function storeDamagedExit(
  problem: string,
  o: { json?: boolean; dataDir?: string } = {},
): Promise<never> {
  const { RECOVERY, RECOVERY_IT } = await import('./store/integrity.js');
  if (o.json)
    out(
      JSON.stringify(
        {
          ...(o.dataDir ? { dataDir: o.dataDir } : {}),
          store: { ok: false, damaged: true, problem, recovery: RECOVERY, recoveryIt: RECOVERY_IT },
        },
        null,
        2,
      ),
    );
  else
    process.stderr.write(
      `fatturad: the store is damaged (${problem}); nothing in it can be trusted. To recover: ${RECOVERY}.\n` +
        `fatturad: l'archivio dati (store) è danneggiato; per ripristinarlo: ${RECOVERY_IT}.\n`,
    );
  process.exit(EXIT.STORE_DAMAGED);
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('fatturad')
    .description('On-premise daemon for Italian electronic invoicing (FatturaPA / SdI).')
    .version(VERSION)
    .showHelpAfterError()
    .addHelpText('after', EXIT_HELP)
    .exitOverride();

  program
    .command('start')
    .description('run the daemon in the foreground (logs JSON to stdout, pretty on a terminal)')
    .option('-c, --config <file>', 'configuration file (YAML), merged over the embedded defaults')
    .action(async (o: { config?: string }) => {
      const config = await configOrExit(o.config, { fresh: true });
      const { createLogger } = await import('./log.js');
      const { StartError, runDaemon } = await import('./daemon.js');
      const log = createLogger(config.log);
      try {
        await runDaemon(config, { configFile: o.config ?? null, log });
      } catch (err) {
        // An operator's problem (a missing secret, a taken folder or port): one line, its own
        // event and exit code (3, 4, 1), no stack trace. Anything else: daemon.start_failed.
        if (err instanceof StartError) log.fatal({ event: err.event, ...err.fields }, err.message);
        else log.fatal({ event: 'daemon.start_failed', err }, (err as Error).message);
        log.flush(() => process.exit(err instanceof StartError ? err.exitCode : EXIT.FAILURE));
      }
    });

  program
    .command('status')
    .description('documents per state and the latest errors')
    .option('-c, --config <file>', 'configuration file (YAML)')
    .option('--json', 'print JSON')
    .action(async (o: { config?: string; json?: boolean }) => {
      const config = await configOrExit(o.config);
      // A store that changed while the daemon was stopped: said here, before its figures (two stats
      // when it did not change; src/store/seal.ts).
      const { checkSeal } = await import('./store/seal.js');
      const seal = checkSeal(config.paths.db, { quick: true });
      if (seal.state === 'mismatch')
        await storeDamagedExit(sealProblem(config.paths.db, seal.seal.sealedAt), {
          json: o.json,
          dataDir: config.dataDir,
        });
      const store = await openStoreOrExit(config);
      const { isState, STATE_MEANING } = await import('./lifecycle/states.js');
      const { formatFinding } = await import('./rules/report.js');
      try {
        const counts = store.countsByState();
        const errors = store.latestErrors(10);
        const openClaims = store.openClaimCount();
        const { inDoubtLines, inDoubtView } = await import('./view/in-doubt.js');
        const { receivedCounts, receivedStatusLines } = await import('./view/received.js');
        const inDoubt = inDoubtView(store);
        const received = receivedCounts(store);
        if (o.json) {
          out(
            JSON.stringify(
              {
                dataDir: config.dataDir,
                documents: counts,
                inDoubt,
                received: { ...received, importDir: config.passive.importDir },
                openClaims,
                latestErrors: errors,
              },
              null,
              2,
            ),
          );
          return;
        }
        const total = Object.values(counts).reduce((a, b) => a + b, 0);
        out(`fatturad ${VERSION} — data in ${config.dataDir}`);
        out(`Documents: ${total}`);
        for (const [state, n] of Object.entries(counts).sort())
          out(
            `  ${state.padEnd(14)} ${String(n).padStart(6)}  ${isState(state) ? STATE_MEANING[state] : ''}`,
          );
        for (const line of inDoubtLines(inDoubt)) out(line);
        for (const line of receivedStatusLines(received, config.passive.importDir)) out(line);
        if (openClaims) out(`Claims in progress: ${openClaims}`);
        if (errors.length) {
          out('\nLatest errors:');
          for (const e of errors) {
            out(
              `- ${e.at}  #${e.documentId} ${e.entry ? `${e.originalName} (in zip: ${e.entry})` : e.originalName}`,
            );
            for (const f of e.findings) out(`    ${formatFinding(f).replace(/\n/g, '\n    ')}`);
          }
        }
      } catch (err) {
        if (!isStoreDamage(err)) throw err;
        store.close();
        await storeDamagedExit(damageProblem(err), { json: o.json, dataDir: config.dataDir });
      } finally {
        store.close();
      }
    });

  program
    .command('show')
    .description(
      "one document's timeline, by id, file name, SdI name or IdentificativoSdI; else a received invoice's, " +
        'by file name, IdentificativoSdI, invoice number or cedente (partita IVA, codice fiscale or name)',
    )
    .argument('<document>', 'document id, file name, SdI name, IdentificativoSdI, invoice number or cedente')
    .option('-c, --config <file>', 'configuration file (YAML)')
    .option('--received', 'look among received invoices only')
    .option('--json', 'print JSON')
    .action(async (ref: string, o: { config?: string; json?: boolean; received?: boolean }) => {
      const config = await configOrExit(o.config);
      const store = await openStoreOrExit(config);
      try {
        const bySdi = o.received
          ? undefined
          : (store.findOutboundBySdiName(ref) ?? store.findOutboundByIdSdI(ref));
        const docs = o.received
          ? []
          : /^\d+$/.test(ref)
            ? [store.getDocument(Number(ref))].filter((d) => d !== undefined)
            : store.findDocumentsByName(ref);
        if (docs.length === 0 && bySdi)
          docs.push(...[store.getDocument(bySdi.documentId)].filter((d) => d !== undefined));
        // Received invoices when no sent document matches (or with --received).
        const received = docs.length === 0 ? store.findPassive(ref) : [];
        if (docs.length === 0 && received.length === 0) {
          process.stderr.write(`fatturad: no document ${ref}\n`);
          process.exitCode = EXIT.FAILURE;
          return;
        }
        const { receivedText, receivedView } = await import('./view/received.js');
        const receivedViews = await Promise.all(received.map((p) => receivedView(store, p)));
        const { resendCommand } = await import('./view/in-doubt.js');
        const inDoubt = new Set(store.inDoubtSends().map((s) => s.documentId));
        const { nsNoticeOf } = await import('./pipeline/reports.js');
        const { OutcomeStore } = await import('./store/outcomes-store.js');
        const outcomeStore = new OutcomeStore(store.db);
        // The files the ERP was given in outcomes.dir (none on a store the daemon has not migrated yet).
        const outcomesOf = (id: number): { file: string; path: string; writtenAt: string }[] => {
          try {
            return outcomeStore.filesOf(id).map((f) => ({
              file: f.file,
              path: path.join(config.outcomes.dir, f.file),
              writtenAt: f.writtenAt,
            }));
          } catch {
            return [];
          }
        };
        const result = docs.map((d) => ({
          ...d,
          sdi: store.getOutbound(d.id) ?? null,
          timeline: store.timeline(d.id),
          actions: store.actionsOf(d.id),
          ...(inDoubt.has(d.id) ? { inDoubt: { command: resendCommand(d.id) } } : {}),
          notifications: store.notificationsOf(d.id),
          transportReceipts: store.transportReceiptsOf(d.id),
          outcomes: outcomesOf(d.id),
          // SdI's NS: the IdentificativoSdI and the five-day rule for the corrected invoice.
          nsCorrection: nsNoticeOf(
            d.state,
            store.notificationsOf(d.id),
            store.getOutbound(d.id)?.identificativoSdI,
          ),
        }));
        if (o.json) {
          out(JSON.stringify([...result, ...receivedViews], null, 2));
          return;
        }
        for (const v of receivedViews) for (const line of receivedText(v)) out(line);
        for (const d of result) {
          out(`Document ${d.id}: ${d.originalName}${d.entry ? ` (zip entry ${d.entry})` : ''}`);
          out(`  state ${d.state} since ${d.stateChangedAt}; sha256 ${d.sha256}; ${d.size} bytes`);
          out(`  from ${d.sourceDir}; now at ${d.path ?? '-'}`);
          if (d.sdi) {
            out(
              `  SdI: sent as ${d.sdi.sdiName} by ${d.sdi.channel}, ${d.sdi.flow.toUpperCase()} flow, ` +
                `IdentificativoSdI ${d.sdi.identificativoSdI ?? '(none yet)'}, ${d.sdi.attempts} attempt(s)` +
                (d.sdi.lastError ? `; last problem: ${d.sdi.lastError}` : ''),
            );
          }
          // State changes and what operators did, in time order.
          const lines = [
            ...d.timeline.map((t) => ({
              at: t.at,
              text: `${(t.from ?? '(new)').padEnd(13)} -> ${t.to.padEnd(13)} ${t.reason ?? ''}`,
            })),
            ...d.actions.map((a) => ({
              at: a.at,
              text: `${a.action} by ${a.actor} on ${a.host}${a.note ? `: ${a.note}` : ''}`,
            })),
          ].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
          for (const t of lines) out(`  ${t.at}  ${t.text}`);
          if (d.inDoubt)
            out(`  in doubt: SdI may or may not have it; check with SdI, then: ${d.inDoubt.command}`);
          for (const n of d.notifications)
            out(
              `  message ${n.kind} ${n.fileName} received ${n.receivedAt} (${n.outcome ?? 'pending'}), kept at ${n.path}`,
            );
          if (d.nsCorrection) {
            out(`  EN: ${d.nsCorrection.en}`);
            out(`  IT: ${d.nsCorrection.it}`);
          }
          for (const r of d.transportReceipts)
            out(
              `  ${r.channel} receipt ${r.type} (${r.outcome}) received ${r.receivedAt}` +
                `${r.reason ? `: ${r.reason}` : ''}${r.effect && r.effect !== 'recorded' ? ` -> ${r.effect}` : ''}, kept at ${r.path}`,
            );
          for (const f of d.outcomes) out(`  outcome file for the ERP ${f.path} written ${f.writtenAt}`);
        }
      } finally {
        store.close();
      }
    });

  program
    .command('resend')
    .description(
      'send a document again whose first send is in doubt (check with SdI first: a second file is a duplicate)',
    )
    .argument('<document>', 'document id')
    .option('-c, --config <file>', 'configuration file (YAML)')
    .action(async (ref: string, o: { config?: string }) => {
      const config = await configOrExit(o.config);
      const store = await openStoreOrExit(config, false);
      try {
        const doc = store.getDocument(Number(ref));
        const sdi = doc && store.getOutbound(doc.id);
        if (!doc || !sdi || doc.state !== 'sending' || sdi.identificativoSdI) {
          process.stderr.write(
            `fatturad: document ${ref} is not waiting to be sent (${doc?.state ?? 'unknown'})\n`,
          );
          process.exitCode = EXIT.FAILURE;
          return;
        }
        const { whoAmI } = await import('./view/in-doubt.js');
        const action = store.resendInDoubt(doc.id, whoAmI());
        out(
          `document ${doc.id} (${sdi.sdiName}) will be sent again at the daemon's next pass ` +
            `(recorded: resend by ${action.actor} on ${action.host} at ${action.at})`,
        );
      } finally {
        store.close();
      }
    });

  program
    .command('validate')
    .description(
      'check invoice files as SdI would, before sending (exit 0 all valid, 1 any invalid, 2 usage or I/O error)',
    )
    .argument(
      '<files...>',
      'FatturaPA files (.xml, .xml.p7m, .p7m), or .zip (each entry, as intake takes a zip)',
    )
    .option('--json', 'print exactly one JSON array on standard output')
    .option('--ca <file...>', 'trusted signature CA certificates (PEM/DER); default: validation.trustedCAs')
    .option('--as-of <YYYY-MM-DD>', "apply SdI's rules in force on that day (default: today)")
    .option('-c, --config <file>', 'configuration file (YAML)')
    .action(async (files: string[], o: { json?: boolean; ca?: string[]; asOf?: string; config?: string }) => {
      const config = await configOrExit(o.config);
      const { runValidate } = await import('./rules/validate-cli.js');
      process.exitCode = await runValidate(files, config, o);
    });

  program
    .command('sim')
    .description(
      'run the SdI simulator alone (SDICoop over HTTPS with mutual TLS on loopback), for a daemon in another process',
    )
    .option('--port <port>', 'port of its SdIRiceviFile endpoint', '9480')
    .option('--pki <dir>', 'where its certificates are made (CA, SdI, fatturad); default <dataDir>/sim/pki')
    .option(
      '--scenario <name>',
      `deliver | mc-rc | mc-at | accept | refuse | expire | reject | unavailable | slow`,
      'deliver',
    )
    .option('--delay <ms>', 'delay before each notification', '500')
    .option(
      '--trasmissione <url>',
      "the daemon's TrasmissioneFatture endpoint",
      'https://127.0.0.1:9471/TrasmissioneFatture',
    )
    .option(
      '--ricezione <url>',
      "the daemon's RicezioneFatture endpoint",
      'https://127.0.0.1:9471/RicezioneFatture',
    )
    .option(
      '--deliver <dir>',
      'invoices dropped here are delivered to the daemon as received invoices; default <dataDir>/sim/deliver',
    )
    .action(
      async (o: {
        port: string;
        pki?: string;
        scenario: string;
        delay: string;
        trasmissione: string;
        ricezione: string;
        deliver?: string;
      }) => {
        // The folders follow dataDir (FATTURAD_DATA_DIR, or the file in FATTURAD_CONFIG), as the
        // embedded simulator's do.
        const { default: path } = await import('node:path');
        const dataDir = o.pki && o.deliver ? '' : (await configOrExit(undefined)).dataDir;
        const pkiDir = o.pki ?? path.join(dataDir, 'sim', 'pki');
        const deliverDir = o.deliver ?? path.join(dataDir, 'sim', 'deliver');
        const { SCENARIOS } = await import('./sim/engine.js');
        if (!(SCENARIOS as readonly string[]).includes(o.scenario)) {
          process.stderr.write(`fatturad: unknown scenario ${o.scenario} (${SCENARIOS.join(', ')})\n`);
          process.exit(EXIT.USAGE);
        }
        const { ensureSimPki } = await import('./sim/certs.js');
        const { SdiSimulator } = await import('./sim/simulator.js');
        const { createLogger } = await import('./log.js');
        const log = createLogger({ level: 'info', format: 'auto' });
        // The deliver folder is the simulator's to take files from: one process at a time (exit 4).
        const { FolderLockedError, lockFolder } = await import('./lock.js');
        let deliverLock: { release(): void; touch(): void };
        try {
          deliverLock = lockFolder(deliverDir, "simulator's deliver folder");
        } catch (err) {
          if (!(err instanceof FolderLockedError)) throw err;
          log.fatal(
            { event: 'daemon.already_running', folder: err.folder, role: err.role, otherPid: err.pid },
            err.message,
          );
          log.flush(() => process.exit(EXIT.ALREADY_RUNNING));
          return;
        }
        const heartbeat = setInterval(() => deliverLock.touch(), 15_000);
        heartbeat.unref();
        const pki = await ensureSimPki(pkiDir);
        const sim = new SdiSimulator({
          tls: {
            cert: fs.readFileSync(pki.sdi.cert),
            key: fs.readFileSync(pki.sdi.key),
            ca: [fs.readFileSync(pki.caCert)],
          },
          scenario: o.scenario as (typeof SCENARIOS)[number],
          delayMs: Number(o.delay),
          passiveDir: deliverDir,
          log,
        });
        const { riceviFileUrl } = await sim.listen('127.0.0.1', Number(o.port)).catch((err: unknown) => {
          // A port taken: one line naming it, no stack trace (as the daemon's http.listen_failed).
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'EADDRINUSE' && code !== 'EACCES') throw err;
          log.fatal(
            { event: 'sim.listen_failed', host: '127.0.0.1', port: Number(o.port), code },
            `cannot listen on 127.0.0.1:${o.port} (${code}): give another --port, or stop the process that holds it`,
          );
          deliverLock.release();
          log.flush(() => process.exit(EXIT.FAILURE));
          return new Promise<never>(() => undefined);
        });
        sim.connect({ trasmissioneFatture: o.trasmissione, ricezioneFatture: o.ricezione });
        log.info(
          {
            event: 'sim.ready',
            endpoint: riceviFileUrl,
            ca: pki.caCert,
            clientCert: pki.trasmittente.cert,
            clientKey: pki.trasmittente.key,
          },
          `SdI simulator ready. Configure the daemon with channel.sdicoop: { simulator: false, endpoint: ${riceviFileUrl}, ` +
            `clientCert: ${pki.trasmittente.cert}, clientKey: ${pki.trasmittente.key}, sdiCAs: [${pki.caCert}], listen: { port: 9471 } }`,
        );
        const stop = (): void =>
          void sim.close().then(() => {
            deliverLock.release();
            process.exit(0);
          });
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      },
    );

  addCheckCommands(program, { config: (file) => configOrExit(file), out });

  addArchiveCommands(program, {
    config: (file) => configOrExit(file),
    store: openStoreOrExit,
    out,
    exit: (code) => process.exit(code),
  });

  addCredentialCommands(program, {
    config: (file) => configOrExit(file),
    out,
    exit: (code) => process.exit(code),
  });
  addTrustCommands(program, {
    config: (file) => configOrExit(file),
    out,
    exit: (code) => process.exit(code),
  });

  addStoreCommands(program, {
    config: (file) => configOrExit(file),
    out,
    exit: (code) => process.exit(code),
  });
  addAlertsCommands(program, {
    config: (file) => configOrExit(file),
    out,
    exit: (code) => process.exit(code),
  });

  const configCmd = program.command('config').description('configuration tools');
  configCmd
    .command('check')
    .description(
      'validate a configuration (the embedded defaults when no file is given) and print it resolved',
    )
    .argument('[file]', 'configuration file (YAML)')
    .option('--quiet', 'print nothing when valid')
    .option(
      '--skip-secrets',
      "do not check that the secrets it names are there (in a shell without the service's variables and files)",
    )
    .action(async (file: string | undefined, o: { quiet?: boolean; skipSecrets?: boolean }) => {
      const config = await configOrExit(file, { fresh: true });
      const { missingSecrets } = await import('./config/secrets.js');
      const missing = o.skipSecrets ? [] : missingSecrets(config);
      if (missing.length) {
        // The key path and the variable or file of each; never a value.
        process.stderr.write(
          `fatturad: invalid configuration (${config.source ?? 'embedded defaults'}): missing secrets:\n` +
            missing.map((m) => `  ${m.problem}\n`).join(''),
        );
        process.exit(EXIT.CONFIG);
      }
      if (!o.quiet) {
        out(`configuration OK (${config.source ?? 'embedded defaults'})`);
        out(JSON.stringify(config, null, 2));
      }
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  // `fatturad status | head`: a reader that stops early is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.OK);
    throw err;
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exit(err.exitCode === 0 ? EXIT.OK : EXIT.USAGE);
    }
    if (isStoreDamage(err)) await storeDamagedExit(damageProblem(err));
    if (err instanceof Error && err.name === 'StoreError') {
      process.stderr.write(`fatturad: ${err.message}\n`);
      process.exit(EXIT.FAILURE);
    }
    throw err;
  }
}

await main(process.argv);
