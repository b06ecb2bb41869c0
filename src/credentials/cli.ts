import fs from 'node:fs';
import type { Command } from 'commander';
import type { Config } from '../config/schema.js';

/**
 * `fatturad credentials …`: what expires when, what a file holds, whether a proposed PIN or
 * password is acceptable. This module only declares the commands (it is loaded by every
 * `fatturad` command): the readers and rules are imported by the action that runs.
 */
export interface CliHelpers {
  config: (file: string | undefined) => Promise<Config>;
  out: (text: string) => void;
  exit: (code: number) => never;
}

const rome = (d: Date): string =>
  new Intl.DateTimeFormat('it-IT', {
    timeZone: 'Europe/Rome',
    dateStyle: 'short',
    timeStyle: 'short',
  }).format(d);

/** Reads a secret from stdin without echoing it when stdin is a terminal. */
async function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve) => {
    let text = '';
    const onData = (b: Buffer): void => {
      for (const ch of b.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          process.stderr.write('\n');
          resolve(text);
          return;
        }
        if (ch === '\u0003') process.exit(130);
        if (ch === '\u007f') text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export function addCredentialCommands(program: Command, h: CliHelpers): void {
  const cmd = program
    .command('credentials')
    .description(
      'certificates, keystores and passwords fatturad depends on, and when they expire; exit 1 if any expired',
    )
    .option('-c, --config <file>', 'configuration file')
    .option('--json', 'JSON output')
    .action(async (o: { config?: string; json?: boolean }) => {
      const config = await h.config(o.config);
      const [{ collectCredentials }, { statusOf }, { daysText, expiryText }] = await Promise.all([
        import('./collect.js'),
        import('./model.js'),
        import('./days.js'),
      ]);
      const now = new Date();
      const all = (await collectCredentials(config)).map((c) => ({ ...c, status: statusOf(c, now) }));
      if (o.json) {
        h.out(
          JSON.stringify(
            all.map((c) => ({
              ...c,
              expiresAt: c.expiresAt?.toISOString() ?? null,
              status: {
                ...c.status,
                ...('daysLeft' in c.status && !Number.isFinite(c.status.daysLeft) ? { daysLeft: null } : {}),
              },
              certificates: c.certificates.map((x) => ({
                ...x,
                notBefore: x.notBefore.toISOString(),
                notAfter: x.notAfter.toISOString(),
              })),
            })),
            null,
            2,
          ),
        );
      } else {
        if (all.length === 0) h.out('no credential to watch with this configuration');
        for (const c of all) {
          const s = c.status;
          const when = c.never
            ? 'no expiry'
            : c.expiresAt
              ? `${c.expiresAt.toISOString()} (${rome(c.expiresAt)} Rome)`
              : 'unknown';
          const state =
            s.state === 'expired'
              ? expiryText(-s.daysLeft, true)
              : s.state === 'expiring'
                ? `EXPIRES IN ${daysText(s.daysLeft).toUpperCase()}`
                : s.state === 'ok'
                  ? Number.isFinite(s.daysLeft)
                    ? `ok, ${expiryText(s.daysLeft, false)}`
                    : 'ok'
                  : `UNKNOWN: ${s.reason}`;
          h.out(`${c.label} [${c.id}]`);
          h.out(`  ${state}; expires ${when}`);
          h.out(`  from ${c.source}${c.computedFrom ? `; ${c.computedFrom}` : ''}`);
          for (const w of c.weaknesses) h.out(`  weak: ${w.message}`);
          for (const n of c.notes ?? []) h.out(`  note: ${n}`);
          if (s.state === 'expired' || s.state === 'expiring') {
            h.out('  to renew:');
            c.renewal.forEach((step, i) => h.out(`    ${i + 1}. ${step}`));
          }
        }
      }
      if (all.some((c) => c.status.state === 'expired')) h.exit(1);
    });

  cmd
    .command('inspect <file>')
    .description(
      'what a certificate or keystore file holds (PEM, DER, PKCS#12, JKS, JCEKS) and when it expires',
    )
    .option('--password-env <VAR>', 'the environment variable holding the PKCS#12 password')
    .option('--json', 'JSON output')
    .action(async (file: string, o: { passwordEnv?: string; json?: boolean }) => {
      // `--json` after the subcommand name is taken by `credentials` itself (it has one too).
      const json = o.json ?? cmd.opts<{ json?: boolean }>().json;
      if (!fs.existsSync(file)) {
        process.stderr.write(`fatturad: ${file} does not exist\n`);
        h.exit(2);
      }
      const password = o.passwordEnv ? process.env[o.passwordEnv] : undefined;
      if (o.passwordEnv && password === undefined) {
        process.stderr.write(`fatturad: the environment variable ${o.passwordEnv} is not set\n`);
        h.exit(2);
      }
      const [{ readCredentialFile }, { formatInspection, inspectionJson }] = await Promise.all([
        import('./readers.js'),
        import('./inspect.js'),
      ]);
      const r = await readCredentialFile(file, password !== undefined ? { password } : {});
      const now = new Date();
      h.out(json ? JSON.stringify(inspectionJson(file, r, now), null, 2) : formatInspection(file, r, now));
      if (r.certificates.length === 0) h.exit(1);
    });

  cmd
    .command('check-password')
    .description(
      'whether a proposed Entratel PIN di revoca (15-20 characters) or protection password (8-15 letters and digits) meets the rules; ' +
        'read from the terminal without echo (or stdin), never logged',
    )
    .option('--kind <kind>', 'pin-revoca | entratel-password', 'entratel-password')
    .option('--from-env <VAR>', 'read the proposal from this environment variable instead')
    .action(async (o: { kind: string; fromEnv?: string }) => {
      if (o.kind !== 'pin-revoca' && o.kind !== 'entratel-password') {
        process.stderr.write('fatturad: --kind must be pin-revoca or entratel-password\n');
        h.exit(2);
      }
      const proposal = o.fromEnv ? (process.env[o.fromEnv] ?? '') : await readHidden(`proposed ${o.kind}: `);
      const { checkSecret } = await import('./passwords.js');
      const r = checkSecret(o.kind, proposal);
      if (r.ok)
        h.out(
          `OK: it meets the rules for the ${o.kind === 'pin-revoca' ? 'PIN di revoca' : 'protection password'}`,
        );
      else {
        h.out('NOT OK:');
        for (const p of r.problems) h.out(`  - ${p}`);
      }
      for (const note of r.advice) h.out(`  note: ${note}`);
      if (!r.ok) h.exit(1);
    });
}
