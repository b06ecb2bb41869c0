import fs from 'node:fs';
import type { Config } from './schema.js';
import { ConfigError } from './load.js';

/**
 * The secrets a configuration needs, and which of them are missing. A secret is never in the
 * configuration: a `…Env` key names the environment variable holding it, a `…File` key the file
 * (systemd credentials, Docker secrets). Only the secrets the configuration actually uses are
 * needed (a PKCS#12 password only with a PKCS#12 file, the PEC passwords only with the PEC
 * channel...), mirroring the code that reads them. Values are never returned, printed or logged:
 * only whether each one is there.
 */

export interface SecretNeed {
  /** The key path that names the source, e.g. `channel.pec.smtp.passwordEnv`. */
  key: string;
  /** What the secret is for. */
  what: string;
  source: 'env' | 'file' | 'none';
  /** The variable or file name (empty for `none`). */
  name: string;
}

export interface MissingSecret extends SecretNeed {
  /** One line: the key path, the variable or file, and what to do. Never the value. */
  problem: string;
}

/** `file` wins over `env` (as in channels/registry.ts readSecret). */
function source(what: string, fileKey: string, file: string, envKey: string, env: string): SecretNeed {
  if (file) return { key: fileKey, what, source: 'file', name: file };
  if (env) return { key: envKey, what, source: 'env', name: env };
  return { key: envKey, what, source: 'none', name: '' };
}

/** Every secret this configuration will read at start. */
export function neededSecrets(config: Config): SecretNeed[] {
  const needs: SecretNeed[] = [];
  const ch = config.channel;
  if (ch.type === 'sdicoop' && !ch.sdicoop.simulator && ch.sdicoop.clientPfx && ch.sdicoop.passphraseEnv)
    needs.push({
      key: 'channel.sdicoop.passphraseEnv',
      what: `the password of the SDICoop PKCS#12 file ${ch.sdicoop.clientPfx}`,
      source: 'env',
      name: ch.sdicoop.passphraseEnv,
    });
  if (ch.type === 'pec') {
    const { smtp, imap } = ch.pec;
    const smtpSource = source(
      'the PEC mailbox password (SMTP)',
      'channel.pec.smtp.passwordFile',
      smtp.passwordFile,
      'channel.pec.smtp.passwordEnv',
      smtp.passwordEnv,
    );
    // With the simulator, SMTP goes to the simulator (no password); the mailbox is still read.
    if (!ch.pec.simulator) needs.push(smtpSource);
    if (imap.passwordFile || imap.passwordEnv)
      needs.push(
        source(
          'the PEC mailbox password (IMAP)',
          'channel.pec.imap.passwordFile',
          imap.passwordFile,
          'channel.pec.imap.passwordEnv',
          imap.passwordEnv,
        ),
      );
    else if (ch.pec.simulator) needs.push({ ...smtpSource, what: 'the PEC mailbox password (IMAP)' });
  }
  const a = config.archive;
  if (a.enabled) {
    if ((a.signing.pfx || a.signing.cert) && a.signing.passphraseEnv)
      needs.push({
        key: 'archive.signing.passphraseEnv',
        what: `the password of the archive signing key (${a.signing.pfx || a.signing.key})`,
        source: 'env',
        name: a.signing.passphraseEnv,
      });
    if (a.tsa.url && a.tsa.user && a.tsa.passwordEnv)
      needs.push({
        key: 'archive.tsa.passwordEnv',
        what: `the password of ${a.tsa.user} at the TSA ${a.tsa.url}`,
        source: 'env',
        name: a.tsa.passwordEnv,
      });
  }
  const al = config.alerts;
  if (al.enabled && al.email.host && al.email.user)
    needs.push(
      source(
        `the password of ${al.email.user} at ${al.email.host} (alerts by e-mail)`,
        'alerts.email.passwordFile',
        al.email.passwordFile,
        'alerts.email.passwordEnv',
        al.email.passwordEnv,
      ),
    );
  if (al.enabled && al.webhook.url)
    needs.push(
      source(
        'the HMAC key of the alerts webhook',
        'alerts.webhook.secretFile',
        al.webhook.secretFile,
        'alerts.webhook.secretEnv',
        al.webhook.secretEnv,
      ),
    );
  config.credentials.files.forEach((f, i) => {
    if (f.passwordEnv)
      needs.push({
        key: `credentials.files.${i}.passwordEnv`,
        what: `the password of ${f.path}`,
        source: 'env',
        name: f.passwordEnv,
      });
  });
  return needs;
}

/** The needed secrets that are not there, each with a one-line problem. */
export function missingSecrets(config: Config, env: NodeJS.ProcessEnv = process.env): MissingSecret[] {
  const out: MissingSecret[] = [];
  for (const n of neededSecrets(config)) {
    if (n.source === 'none') {
      out.push({
        ...n,
        problem: `${n.key} = "": ${n.what} has no source: name its variable here, or its file in ${n.key.replace(/Env$/, 'File')}`,
      });
    } else if (n.source === 'env') {
      if (env[n.name] === undefined)
        out.push({
          ...n,
          problem:
            `${n.key} = "${n.name}": the environment variable ${n.name} is not set (it must hold ${n.what})` +
            (n.key === 'archive.signing.passphraseEnv' && !config.archive.signing.pfx
              ? `; for a key file that is not encrypted, set ${n.key} to ""`
              : ''),
        });
    } else {
      try {
        fs.accessSync(n.name, fs.constants.R_OK);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
        out.push({
          ...n,
          problem: `${n.key} = "${n.name}": cannot read the file (${code}); it must hold ${n.what}`,
        });
      }
    }
  }
  return out;
}

/** Throws a ConfigError (exit 3) naming every missing secret. */
export function assertSecrets(config: Config, env: NodeJS.ProcessEnv = process.env): void {
  const missing = missingSecrets(config, env);
  if (missing.length)
    throw new ConfigError(
      `${config.source ?? 'embedded defaults'}: secrets`,
      missing.map((m) => m.problem),
    );
}
