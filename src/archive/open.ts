import fs from 'node:fs';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { ArchiveStore } from '../store/archive-store.js';
import type { Store } from '../store/store.js';
import { Archive } from './archive.js';
import { loadSigningIdentity, signCades } from './cades.js';
import { Preservation, type SignHooks } from './packages.js';
import { requestTimestamp } from './tsa.js';

/** Builds the archive and its packages from the configuration (daemon and command line alike). */
export interface OpenedArchive {
  astore: ArchiveStore;
  archive: Archive;
  preservation: Preservation;
  /** What the archive can and cannot do with this configuration, for the logs and `status`. */
  capabilities: { signing: boolean; timestamps: boolean };
}

export async function openArchive(config: Config, store: Store, log: Logger): Promise<OpenedArchive> {
  const a = config.archive;
  const astore = new ArchiveStore(store.db);
  const archive = new Archive(astore, {
    dir: a.dir,
    origin: a.origin,
    keyFile: a.keyFile,
    fsync: config.intake.fsync,
  });
  await archive.open();
  const hooks: SignHooks = {};
  if (a.signing.cert || a.signing.pfx) {
    const id = await loadSigningIdentity(
      a.signing.pfx
        ? { pfx: a.signing.pfx, passphraseEnv: a.signing.passphraseEnv }
        : { cert: a.signing.cert, key: a.signing.key, passphraseEnv: a.signing.passphraseEnv },
    );
    if (!id.ok) throw new Error(`archive.signing: ${id.error}`);
    const identity = id.identity;
    hooks.sign = (index) => signCades(index, identity);
  }
  if (a.tsa.url) {
    const password = a.tsa.passwordEnv ? (process.env[a.tsa.passwordEnv] ?? '') : '';
    const headers: Record<string, string> = a.tsa.user
      ? { authorization: `Basic ${Buffer.from(`${a.tsa.user}:${password}`).toString('base64')}` }
      : {};
    const ca = a.tsa.ca.map((f) => fs.readFileSync(f));
    hooks.timestamp = async (data) => {
      const r = await requestTimestamp(data, {
        url: a.tsa.url,
        timeoutMs: a.tsa.timeoutMs,
        ...(a.tsa.policy ? { policy: a.tsa.policy } : {}),
        ...(ca.length ? { ca } : {}),
        headers,
      });
      return r.ok ? { ok: true, response: r.timestamp.response } : { ok: false, reason: r.reason };
    };
  }
  const capabilities = { signing: Boolean(hooks.sign), timestamps: Boolean(hooks.timestamp) };
  log.info(
    {
      event: 'archive.opened',
      dir: a.dir,
      origin: archive.origin,
      entries: archive.size,
      checkpoint: archive.latestCheckpoint()?.size ?? null,
      verifierKey: archive.verifierKey,
      ...capabilities,
    },
    `archive at ${a.dir}: ${archive.size} entries; checkpoints signed with ${archive.verifierKey}` +
      (capabilities.signing && capabilities.timestamps
        ? ''
        : `. Without ${[capabilities.signing ? '' : 'a signing identity (archive.signing)', capabilities.timestamps ? '' : 'a TSA (archive.tsa)'].filter(Boolean).join(' and ')}, PdA indexes are not ${[capabilities.signing ? '' : 'signed', capabilities.timestamps ? '' : 'timestamped'].filter(Boolean).join(' nor ')}: this is a pre-preservation archive, not conservazione a norma (docs/archive.md)`),
  );
  const preservation = new Preservation(archive, astore, config, log, hooks);
  return { astore, archive, preservation, capabilities };
}
