import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { ensureSimPki } from '../sim/certs.js';
import { PecSimulator } from '../sim/pec.js';
import { SdiSimulator } from '../sim/simulator.js';
import type { Store } from '../store/store.js';
import type { Channel } from './channel.js';
import { PecChannel } from './pec/pec.js';
import { SdiCoopChannel } from './soap/sdicoop.js';
import { loadCaBundle, loadTlsIdentity } from './soap/tls.js';

/**
 * Picks and builds the channel the configuration names. With `channel.sdicoop.simulator` (the
 * embedded default) it also starts the built-in SdI simulator on loopback, with certificates
 * made at first start under <dataDir>/sim, and points the channel at it.
 */
export interface OpenedChannel {
  channel: Channel | null;
  simulator: SdiSimulator | PecSimulator | null;
}

export class ChannelConfigError extends Error {
  override name = 'ChannelConfigError';
}

/** A secret from a file (systemd credentials, Docker secrets) or an environment variable. */
export function readSecret(what: string, file: string, envName: string): string {
  if (file) {
    try {
      return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ChannelConfigError(
        `${what}: cannot read the password file ${file}: ${(err as Error).message}`,
      );
    }
  }
  if (envName) {
    const v = process.env[envName];
    if (v !== undefined) return v;
    throw new ChannelConfigError(`${what}: the environment variable ${envName} (the password) is not set`);
  }
  throw new ChannelConfigError(`${what}: no password source: set passwordEnv or passwordFile`);
}

function loadCas(what: string, files: string[]): Buffer[] {
  try {
    return files.length ? loadCaBundle(files) : [];
  } catch (err) {
    throw new ChannelConfigError(`${what}: ${(err as Error).message}`);
  }
}

async function openPec(config: Config, store: Store, log: Logger): Promise<OpenedChannel> {
  const c = config.channel.pec;
  const plog = log.child({ component: 'pec' });
  if (!c.address) throw new ChannelConfigError("channel.pec.address is empty: set fatturad's PEC address");
  if (!c.imap.host)
    throw new ChannelConfigError("channel.pec.imap.host is empty: set the PEC mailbox's IMAP server");
  const smtpUser = c.smtp.user || c.address;
  const imapUser = c.imap.user || smtpUser;
  const imapPass =
    c.imap.passwordFile || c.imap.passwordEnv
      ? readSecret('channel.pec.imap', c.imap.passwordFile, c.imap.passwordEnv)
      : readSecret('channel.pec.smtp', c.smtp.passwordFile, c.smtp.passwordEnv);
  const imapCa = loadCas('channel.pec.imap.ca', c.imap.ca);
  const imap = {
    host: c.imap.host,
    port: c.imap.port,
    secure: c.imap.secure,
    ...(imapCa.length ? { tls: { ca: imapCa } } : {}),
    user: imapUser,
    pass: imapPass,
    mailbox: c.imap.mailbox,
    flag: c.imap.flag,
    markSeen: c.imap.markSeen,
    moveTo: c.imap.moveTo,
    idle: c.imap.idle,
    pollMs: c.imap.pollMs,
    reconnect: c.imap.reconnect,
    socketTimeoutMs: c.imap.timeoutMs,
  };
  const state = {
    get: (key: string) => store.getChannelState(key),
    set: (key: string, value: string, opts?: { lazy?: boolean }) => store.setChannelState(key, value, opts),
  };
  const common = {
    address: c.address,
    firstSdiAddress: c.firstSdiAddress,
    fixedSdiAddress: c.sdiAddress,
    maxMessageBytes: c.maxMessageBytes,
    imap,
    quota: c.imap.quota,
    limits: c.limits,
    state,
    log: plog,
  };
  if (c.simulator) {
    const pki = await ensureSimPki(path.join(config.dataDir, 'sim', 'pki'));
    const simulator = new PecSimulator({
      tls: { cert: fs.readFileSync(pki.sdi.cert), key: fs.readFileSync(pki.sdi.key) },
      scenario: config.simulator.scenario,
      delayMs: config.simulator.delayMs,
      sdiMailbox: config.simulator.sdiMailbox,
      imap: { ...imap, ...(imapCa.length ? { tls: { ca: imapCa } } : {}) },
      passiveDir: path.join(config.dataDir, 'sim', 'deliver'),
      log: log.child({ component: 'sim' }),
    });
    const sim = await simulator.listen('127.0.0.1', 0);
    const channel = new PecChannel({
      ...common,
      smtp: {
        host: '127.0.0.1',
        port: sim.port,
        secure: true,
        requireTls: true,
        user: smtpUser,
        pass: 'simulator',
        ca: [fs.readFileSync(pki.caCert)],
        timeoutMs: c.smtp.timeoutMs,
      },
    });
    return { channel, simulator };
  }
  if (!c.smtp.host)
    throw new ChannelConfigError("channel.pec.smtp.host is empty: set the PEC provider's SMTP server");
  const channel = new PecChannel({
    ...common,
    smtp: {
      host: c.smtp.host,
      port: c.smtp.port,
      secure: c.smtp.secure,
      requireTls: c.smtp.requireTls,
      user: smtpUser,
      pass: readSecret('channel.pec.smtp', c.smtp.passwordFile, c.smtp.passwordEnv),
      ca: loadCas('channel.pec.smtp.ca', c.smtp.ca),
      timeoutMs: c.smtp.timeoutMs,
    },
  });
  return { channel, simulator: null };
}

export async function openChannel(config: Config, log: Logger, store: Store): Promise<OpenedChannel> {
  if (config.channel.type === 'none') return { channel: null, simulator: null };
  if (config.channel.type === 'pec') return openPec(config, store, log);
  const c = config.channel.sdicoop;
  if (c.simulator) {
    const pki = await ensureSimPki(path.join(config.dataDir, 'sim', 'pki'));
    const ca = [fs.readFileSync(pki.caCert)];
    const simulator = new SdiSimulator({
      tls: { cert: fs.readFileSync(pki.sdi.cert), key: fs.readFileSync(pki.sdi.key), ca },
      scenario: config.simulator.scenario,
      delayMs: config.simulator.delayMs,
      passiveDir: path.join(config.dataDir, 'sim', 'deliver'),
      log: log.child({ component: 'sim' }),
    });
    const sim = await simulator.listen('127.0.0.1', 0);
    const identity = {
      cert: fs.readFileSync(pki.trasmittente.cert),
      key: fs.readFileSync(pki.trasmittente.key),
    };
    const own = new crypto.X509Certificate(identity.cert);
    const channel = new SdiCoopChannel({
      clientNotAfter: new Date(own.validTo),
      clientSubject: own.subject.replace(/\n/g, ', '),
      endpoint: sim.riceviFileUrl,
      client: { ...identity, ca, timeoutMs: c.timeoutMs },
      server: { ...identity, ca },
      listen: c.listen,
      mtom: c.mtom,
      log: log.child({ component: 'sdicoop' }),
    });
    return { channel, simulator };
  }

  if (!c.endpoint)
    throw new ChannelConfigError(
      "channel.sdicoop.endpoint is empty: set SdI's RiceviFile URL, or simulator: true",
    );
  const client = loadTlsIdentity({
    ...(c.clientPfx
      ? { pfx: c.clientPfx, passphraseEnv: c.passphraseEnv }
      : { cert: c.clientCert, key: c.clientKey }),
  });
  if (!client.ok) throw new ChannelConfigError(`SDICoop client certificate: ${client.error}`);
  const server =
    c.serverCert || c.serverKey ? loadTlsIdentity({ cert: c.serverCert, key: c.serverKey }) : client;
  if (!server.ok) throw new ChannelConfigError(`SDICoop server certificate: ${server.error}`);
  let ca: Buffer[];
  try {
    ca = loadCaBundle(c.sdiCAs);
  } catch (err) {
    throw new ChannelConfigError(`channel.sdicoop.sdiCAs: ${(err as Error).message}`);
  }
  if (ca.length === 0)
    throw new ChannelConfigError(
      'channel.sdicoop.sdiCAs is empty: give the CA certificates of SdI (from accreditation)',
    );
  const daysLeft = Math.floor((client.notAfter.getTime() - Date.now()) / 86_400_000);
  log.info(
    { event: 'sdicoop.identity', subject: client.subject, notAfter: client.notAfter.toISOString(), daysLeft },
    `SDICoop client certificate ${client.subject}, valid until ${client.notAfter.toISOString()}`,
  );
  return {
    channel: new SdiCoopChannel({
      clientNotAfter: client.notAfter,
      clientSubject: client.subject,
      endpoint: c.endpoint,
      client: { ...client.options, ca, timeoutMs: c.timeoutMs },
      server: { ...server.options, ca },
      listen: c.listen,
      mtom: c.mtom,
      log: log.child({ component: 'sdicoop' }),
    }),
    simulator: null,
  };
}
