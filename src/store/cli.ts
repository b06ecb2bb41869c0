import type { Command } from 'commander';
import type { Config } from '../config/schema.js';

/**
 * `fatturad store check [--full] [--json]`: the store's integrity (quick_check, or the full
 * integrity_check) and what it lacks of the send journal. This module only declares the command
 * (every `fatturad` command loads it); SQLite is imported by the action.
 */
export interface StoreCliHelpers {
  config: (file: string | undefined) => Promise<Config>;
  out: (text: string) => void;
  exit: (code: number) => never;
}

/** Exit code of a damaged store (src/cli.ts EXIT.STORE_DAMAGED). */
export const EXIT_STORE_DAMAGED = 5;

export function addStoreCommands(program: Command, h: StoreCliHelpers): void {
  const store = program.command('store').description('the store (SQLite): integrity and the send journal');
  store
    .command('check')
    .description(
      'check the store (quick_check; --full: integrity_check) and compare it with the send journal; exit 0 sound, 1 behind the journal, 5 damaged',
    )
    .option('--full', 'the full integrity_check (every index against its table): slower on a large store')
    .option('--json', 'print JSON')
    .option('-c, --config <file>', 'configuration file (YAML)')
    .action(async (o: { full?: boolean; json?: boolean; config?: string }) => {
      const config = await h.config(o.config);
      const fs = await import('node:fs');
      const path = await import('node:path');
      const { checkStoreFile, RECOVERY, RECOVERY_IT, isDamageError } = await import('./integrity.js');
      const { JOURNAL_FILE, compareWithJournal, readJournalFile } = await import('./journal.js');
      const file = config.paths.db;
      if (!fs.existsSync(file)) {
        process.stderr.write(`fatturad: no store at ${file} (has the daemon ever run here?)\n`);
        return h.exit(1);
      }
      const { checkSeal } = await import('./seal.js');
      const seal = checkSeal(file);
      const check: ReturnType<typeof checkStoreFile> =
        seal.state === 'mismatch'
          ? {
              ok: false,
              mode: o.full ? 'full' : 'quick',
              ms: 0,
              kind: 'changed',
              problems: [
                `changed while fatturad was stopped: its sha256 is ${seal.actual.sha256}, not the ` +
                  `${seal.seal.sha256} sealed at the clean stop of ${seal.seal.sealedAt}`,
              ],
            }
          : checkStoreFile(file, o.full ? 'full' : 'quick', { readonly: true });
      const journalFile = path.join(config.dataDir, JOURNAL_FILE);
      const journal = readJournalFile(journalFile);
      let behind: ReturnType<typeof compareWithJournal> = [];
      if (check.ok) {
        const { Store } = await import('./store.js');
        const s = new Store(file, { readonly: true });
        try {
          behind = compareWithJournal(s, journal.records);
        } catch (err) {
          if (!isDamageError(err)) throw err;
        } finally {
          s.close();
        }
      }
      const report = {
        file,
        ok: check.ok && behind.length === 0,
        check: check.ok
          ? { mode: check.mode, ok: true, ms: check.ms }
          : { mode: check.mode, ok: false, ms: check.ms, kind: check.kind, problems: check.problems },
        ...(check.ok ? {} : { recovery: RECOVERY, recoveryIt: RECOVERY_IT }),
        journal: {
          file: journalFile,
          records: journal.records.length,
          tornBytes: journal.tornBytes,
          badLines: journal.badLines,
          behind,
        },
      };
      if (o.json) h.out(JSON.stringify(report, null, 2));
      else {
        h.out(
          check.ok
            ? `store ${file}: sound (${check.mode === 'full' ? 'integrity_check' : 'quick_check'}, ${check.ms} ms)`
            : `store ${file}: ${check.kind === 'unreadable' ? 'NOT A READABLE DATABASE' : check.kind === 'changed' ? 'CHANGED SINCE THE CLEAN STOP' : 'DAMAGED'} (${check.mode} check)`,
        );
        if (!check.ok) {
          for (const p of check.problems.slice(0, 20)) h.out(`  - ${p}`);
          h.out(`To recover: ${RECOVERY}.`);
          h.out(`Ripristino: ${RECOVERY_IT}.`);
        }
        h.out(
          `send journal ${journalFile}: ${journal.records.length} record(s)` +
            (journal.tornBytes ? `, a torn last line (${journal.tornBytes} bytes, ignored)` : '') +
            (journal.badLines.length ? `, ${journal.badLines.length} unreadable line(s) (ignored)` : ''),
        );
        if (behind.length) {
          h.out(
            `the store lacks ${behind.length} send(s) the journal witnessed; the next start holds them in doubt:`,
          );
          for (const b of behind)
            h.out(
              `  - ${b.sdiName} (${b.originalName}, journal document ${b.journalDocumentId}): missing ${b.missing}`,
            );
        }
      }
      if (!check.ok) return h.exit(EXIT_STORE_DAMAGED);
      if (behind.length) return h.exit(1);
    });
}
