import fs from 'node:fs';
import pino from 'pino';
import type { SimPki } from '../../src/sim/certs.js';
import { SdiSimulator, type SimulatorOptions } from '../../src/sim/simulator.js';

/**
 * Starts the SdI simulator in the test process on `simPort` (HTTPS with mutual TLS, its
 * certificate from `pki`), calling back the daemon listening on `daemonPort`: scenario deliver, no
 * delay, silent, callbacks retried every 200 ms unless `options` says otherwise. `onReceive` sees
 * every file the simulator receives, before the simulator handles it.
 */
export async function startSdiSimulator(
  pki: SimPki,
  ports: { simPort: number; daemonPort: number },
  opts: {
    options?: Partial<Omit<SimulatorOptions, 'tls'>>;
    onReceive?: (nomeFile: string, bytes: Buffer) => void;
  } = {},
): Promise<SdiSimulator> {
  const sim = new SdiSimulator({
    tls: {
      cert: fs.readFileSync(pki.sdi.cert),
      key: fs.readFileSync(pki.sdi.key),
      ca: [fs.readFileSync(pki.caCert)],
    },
    scenario: 'deliver',
    delayMs: 0,
    log: pino({ level: 'silent' }),
    retryMs: 200,
    ...opts.options,
  });
  const onReceive = opts.onReceive;
  if (onReceive) {
    const receive = sim.engine.receive.bind(sim.engine);
    sim.engine.receive = (nomeFile: string, bytes: Buffer) => {
      onReceive(nomeFile, bytes);
      return receive(nomeFile, bytes);
    };
  }
  await sim.listen('127.0.0.1', ports.simPort);
  sim.connect({
    trasmissioneFatture: `https://127.0.0.1:${ports.daemonPort}/TrasmissioneFatture`,
    ricezioneFatture: `https://127.0.0.1:${ports.daemonPort}/RicezioneFatture`,
  });
  return sim;
}
