import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { TSL, trustedListCredential } from '../trust/anchors.js';
import { crossCheck, entratelExpiry, parseRomeDateTime } from './entratel.js';
import type { CertificateInfo, Credential, CredentialKind, Weakness } from './model.js';
import { readCredentialFile } from './readers.js';
import { kindLabel, renewalSteps } from './renewal.js';

/**
 * Everything the configuration makes fatturad depend on that can expire, read from the files
 * themselves: the SDICoop identities and SdI's CAs (or the simulator's, on the embedded default),
 * the archive's signing certificate, TSA CAs and checkpoint key, the CAs trusted for invoice
 * signatures, the Entratel security environment, the PEC password's age, and any extra files.
 */
const DAY_MS = 86_400_000;

function base(
  kind: CredentialKind,
  id: string,
  source: string,
  thresholds: number[],
  label?: string,
): Credential {
  return {
    id,
    kind,
    label: label ?? kindLabel(kind),
    source,
    expiresAt: null,
    computedFrom: '',
    thresholds,
    renewal: renewalSteps(kind),
    certificates: [],
    weaknesses: [],
  };
}

/** A credential from one file: expiry = the earliest notAfter of its end-entity certificates (CAs too, for a truststore). */
async function fromFile(
  kind: CredentialKind,
  id: string,
  file: string,
  thresholds: number[],
  opts: { password?: string; passwordEnv?: string; label?: string; allCerts?: boolean } = {},
): Promise<Credential> {
  const c = base(kind, id, file, thresholds, opts.label);
  if (!fs.existsSync(file)) return { ...c, problem: `${file} does not exist` };
  const r = await readCredentialFile(file, {
    ...(opts.password !== undefined ? { password: opts.password } : {}),
    ...(opts.passwordEnv ? { passwordEnv: opts.passwordEnv } : {}),
  });
  c.certificates = r.certificates;
  c.weaknesses = dedupe(
    r.certificates.flatMap((x) => x.weaknesses.filter((w) => w.code !== 'self-signed' || !x.isCA)),
  );
  const relevant = opts.allCerts ? r.certificates : r.certificates.filter((x) => !x.isCA);
  const pick = (relevant.length ? relevant : r.certificates).reduce<CertificateInfo | null>(
    (min, x) => (!min || x.notAfter < min.notAfter ? x : min),
    null,
  );
  if (pick) {
    c.expiresAt = pick.notAfter;
    c.computedFrom = `notAfter of ${pick.subject}${pick.alias ? ` (alias ${pick.alias})` : ''} in ${path.basename(file)} (${r.format})`;
  }
  if (r.problem && !pick) c.problem = `${r.problem}${r.hint ? `; ${r.hint}` : ''}`;
  else if (r.hint) c.notes = [r.hint];
  return c;
}

function dedupe(ws: Weakness[]): Weakness[] {
  const seen = new Set<string>();
  return ws.filter((w) => (seen.has(w.message) ? false : (seen.add(w.message), true)));
}

function secret(envName: string | undefined): string | undefined {
  return envName ? process.env[envName] : undefined;
}

/** The Entratel environment: generation instant + 3 years, cross-checked with the keystores' notAfter. */
async function entratel(config: Config, thresholds: number[]): Promise<Credential | null> {
  const e = config.credentials.entratel;
  if (!e.dir && !e.generatedAt) return null;
  const c = base('entratel-environment', 'entratel', e.dir || 'credentials.entratel.generatedAt', thresholds);
  const generated = e.generatedAt ? parseRomeDateTime(e.generatedAt) : null;
  if (e.generatedAt && !generated)
    return { ...c, problem: `credentials.entratel.generatedAt "${e.generatedAt}" is not 'YYYY-MM-DD HH:mm'` };
  const notAfters: { subject: string; notAfter: Date }[] = [];
  if (e.dir) {
    let names: string[] = [];
    try {
      names = (await fsp.readdir(e.dir)).sort();
    } catch (err) {
      c.problem = `the environment folder ${e.dir} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): is the medium mounted?`;
    }
    for (const n of names) {
      const file = path.join(e.dir, n);
      const st = await fsp.stat(file).catch(() => null);
      if (!st?.isFile() || st.size > 1_048_576) continue;
      const r = await readCredentialFile(file);
      if (r.format === 'unknown' || r.certificates.length === 0) continue;
      for (const x of r.certificates) {
        c.certificates.push(x);
        if (!x.isCA) notAfters.push({ subject: x.subject, notAfter: x.notAfter });
      }
    }
    c.weaknesses = dedupe(
      c.certificates.flatMap((x) => x.weaknesses.filter((w) => w.code !== 'self-signed')),
    );
    if (!c.problem && c.certificates.length === 0)
      c.notes = [`no keystore with certificates was found in ${e.dir} (files are recognised by content)`];
  }
  if (generated) {
    const x = crossCheck(entratelExpiry(generated), notAfters);
    c.expiresAt = x.expiresAt;
    c.computedFrom = x.computedFrom;
    c.notes = [...(c.notes ?? []), ...x.notes];
  } else if (notAfters.length) {
    const min = notAfters.reduce((a, b) => (b.notAfter < a.notAfter ? b : a));
    c.expiresAt = min.notAfter;
    c.computedFrom = `notAfter of ${min.subject} (set credentials.entratel.generatedAt to cross-check)`;
  } else if (!c.problem)
    c.problem = 'set credentials.entratel.generatedAt, or a folder holding the environment';
  return c;
}

function pecPassword(config: Config, thresholds: number[]): Credential | null {
  if (config.channel.type !== 'pec' || config.channel.pec.simulator) return null;
  const p = config.credentials.pec;
  const c = base('pec-password', 'pec-password', `channel.pec (${config.channel.pec.address})`, thresholds);
  if (p.maxAgeDays === 0)
    return {
      ...c,
      never: true,
      computedFrom: 'credentials.pec.maxAgeDays is 0: the provider does not expire it',
    };
  const rotated = p.rotatedAt
    ? parseRomeDateTime(p.rotatedAt.length === 10 ? `${p.rotatedAt} 00:00` : p.rotatedAt)
    : null;
  if (!rotated)
    return { ...c, problem: 'set credentials.pec.rotatedAt (when the password was last changed)' };
  return {
    ...c,
    expiresAt: new Date(rotated.getTime() + p.maxAgeDays * DAY_MS),
    computedFrom: `changed ${p.rotatedAt} + ${p.maxAgeDays} days (credentials.pec)`,
  };
}

async function archiveKey(config: Config, thresholds: number[]): Promise<Credential | null> {
  if (!config.archive.enabled) return null;
  const file = config.archive.keyFile || path.join(config.archive.dir, 'keys', 'log-ed25519.key');
  const c = base('archive-checkpoint-key', 'archive-key', file, thresholds);
  try {
    const key = crypto.createPrivateKey(await fsp.readFile(file));
    const st = await fsp.stat(file);
    return {
      ...c,
      never: true,
      computedFrom: `${key.asymmetricKeyType ?? 'key'} created ${st.mtime.toISOString()}: it does not expire; rotate it by policy`,
      ...(key.asymmetricKeyType !== 'ed25519'
        ? { problem: `not an Ed25519 key (${key.asymmetricKeyType})` }
        : {}),
    };
  } catch (err) {
    return {
      ...c,
      problem:
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? `${file} does not exist yet (made at the daemon's first start)`
          : `cannot read it: ${(err as Error).message}`,
    };
  }
}

export async function collectCredentials(config: Config): Promise<Credential[]> {
  const t = config.credentials.thresholds;
  const out: Credential[] = [];
  const sc = config.channel.sdicoop;
  if (config.channel.type === 'sdicoop' && sc.simulator) {
    const pki = path.join(config.dataDir, 'sim', 'pki');
    const sim = (f: string): string => path.join(pki, f);
    out.push(
      await fromFile('sdicoop-client-certificate', 'sdicoop-client', sim('fatturad.pem'), t, {
        label: 'SDICoop client certificate (simulator)',
      }),
    );
    out.push(
      await fromFile('certificate', 'sim-sdi', sim('sdi.pem'), t, {
        label: "the simulated SdI's certificate",
      }),
    );
    out.push(
      await fromFile('sdicoop-truststore', 'sdicoop-ca', sim('ca.pem'), t, {
        label: "the simulator's CA",
        allCerts: true,
      }),
    );
  } else if (config.channel.type === 'sdicoop') {
    if (sc.clientPfx)
      out.push(
        await fromFile('sdicoop-client-certificate', 'sdicoop-client', sc.clientPfx, t, {
          passwordEnv: sc.passphraseEnv,
          ...(secret(sc.passphraseEnv) !== undefined ? { password: secret(sc.passphraseEnv) } : {}),
        }),
      );
    else if (sc.clientCert)
      out.push(await fromFile('sdicoop-client-certificate', 'sdicoop-client', sc.clientCert, t));
    if (sc.serverCert)
      out.push(await fromFile('sdicoop-server-certificate', 'sdicoop-server', sc.serverCert, t));
    for (const [i, f] of sc.sdiCAs.entries())
      out.push(await fromFile('sdicoop-truststore', `sdicoop-ca:${i + 1}`, f, t, { allCerts: true }));
  }
  const pec = pecPassword(config, t);
  if (pec) out.push(pec);
  for (const [i, f] of config.channel.pec.smtp.ca.entries())
    if (config.channel.type === 'pec')
      out.push(
        await fromFile('certificate', `pec-smtp-ca:${i + 1}`, f, t, {
          label: 'CA of the PEC SMTP server',
          allCerts: true,
        }),
      );
  const e = await entratel(config, t);
  if (e) out.push(e);
  const a = config.archive;
  if (a.enabled) {
    const k = await archiveKey(config, t);
    if (k) out.push(k);
    if (a.signing.pfx)
      out.push(
        await fromFile('archive-signing-certificate', 'archive-signing', a.signing.pfx, t, {
          passwordEnv: a.signing.passphraseEnv,
          ...(secret(a.signing.passphraseEnv) !== undefined
            ? { password: secret(a.signing.passphraseEnv) }
            : {}),
        }),
      );
    else if (a.signing.cert)
      out.push(await fromFile('archive-signing-certificate', 'archive-signing', a.signing.cert, t));
    for (const [i, f] of a.tsa.ca.entries())
      out.push(await fromFile('tsa-certificate', `tsa-ca:${i + 1}`, f, t, { allCerts: true }));
  }
  for (const [i, f] of config.validation.trustedCAs.entries()) {
    if (f === TSL) {
      // The trusted list expires at its NextUpdate; its signer certificates at their notAfter.
      out.push(trustedListCredential(config, t));
      for (const [j, s] of config.validation.tsl.signers.entries())
        out.push(
          await fromFile('certificate', `tsl-signer:${j + 1}`, s, t, {
            label: 'Trusted list signer certificate (validation.tsl.signers)',
            allCerts: true,
          }),
        );
      continue;
    }
    out.push(
      await fromFile('certificate', `trusted-ca:${i + 1}`, f, t, {
        label: 'CA trusted for invoice signatures (validation.trustedCAs)',
        allCerts: true,
      }),
    );
  }
  for (const [i, f] of config.credentials.files.entries())
    out.push(
      await fromFile(f.kind, `file:${i + 1}`, f.path, t, {
        ...(f.label ? { label: f.label } : {}),
        ...(f.passwordEnv ? { passwordEnv: f.passwordEnv } : {}),
        ...(secret(f.passwordEnv) !== undefined ? { password: secret(f.passwordEnv) } : {}),
      }),
    );
  return out;
}
