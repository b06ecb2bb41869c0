import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { ensureSimPki } from '../sim/certs.js';
import { SdiSimulator } from '../sim/simulator.js';
import type { Channel } from './channel.js';
import { SdiCoopChannel } from './soap/sdicoop.js';
import { loadCaBundle, loadTlsIdentity } from './soap/tls.js';

/**
 * Picks and builds the channel the configuration names. With `channel.sdicoop.simulator` (the
 * embedded default) it also starts the built-in SdI simulator on loopback, with certificates
 * made at first start under <dataDir>/sim, and points the channel at it.
 */
export interface OpenedChannel {
  channel: Channel | null;
  simulator: SdiSimulator | null;
}

export class ChannelConfigError extends Error {
  override name = 'ChannelConfigError';
}

export async function openChannel(config: Config, log: Logger): Promise<OpenedChannel> {
  if (config.channel.type === 'none') return { channel: null, simulator: null };
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
    const channel = new SdiCoopChannel({
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
