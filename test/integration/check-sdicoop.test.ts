import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../../src/check/probe.js';
import { renderCheck } from '../../src/check/render.js';
import { checkSdiCoop } from '../../src/check/sdicoop.js';
import { loadConfig } from '../../src/config/load.js';
import { createStandaloneCa, ensureSimPki, type SimPki } from '../../src/sim/certs.js';
import { SdiSimulator } from '../../src/sim/simulator.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * `fatturad check sdicoop` against the embedded simulator's SOAP endpoint (real HTTPS with mutual
 * TLS): with the client certificate its CA issued every step works; with a certificate from
 * another CA the handshake or the first request is refused, and the report says the client
 * certificate is the problem. No file is sent (the simulator received nothing).
 */

const t = tempDir('fatturad-check-sdicoop-');
let pki: SimPki;
let sim: SdiSimulator;
let endpoint: string;
let received = 0;

function configWith(o: { cert: string; key: string; endpoint?: string; cas?: string[] }) {
  const dir = fs.mkdtempSync(path.join(t.dir, 'c'));
  const cfg = path.join(dir, 'fatturad.yaml');
  fs.writeFileSync(
    cfg,
    [
      `dataDir: ${dir}/var`,
      'channel:',
      '  type: sdicoop',
      '  sdicoop:',
      '    simulator: false',
      `    endpoint: ${o.endpoint ?? endpoint}`,
      `    clientCert: ${o.cert}`,
      `    clientKey: ${o.key}`,
      `    sdiCAs: [${(o.cas ?? [pki.caCert]).join(', ')}]`,
      '    timeoutMs: 5000',
    ].join('\n'),
  );
  return loadConfig({ file: cfg, env: {} });
}

const step = (r: CheckReport, name: string) => r.steps.find((s) => s.step === name);

describe('fatturad check sdicoop (the simulator over mutual TLS)', () => {
  beforeAll(async () => {
    pki = await ensureSimPki(path.join(t.dir, 'pki'));
    const ca = [fs.readFileSync(pki.caCert)];
    sim = new SdiSimulator({
      tls: { cert: fs.readFileSync(pki.sdi.cert), key: fs.readFileSync(pki.sdi.key), ca },
      scenario: 'deliver',
      delayMs: 0,
      log: pino({ level: 'silent' }),
    });
    endpoint = (await sim.listen('127.0.0.1', 0)).riceviFileUrl;
    received = sim.engine.calls.size;
  }, 30_000);

  afterAll(async () => {
    await sim?.close();
    t.cleanup();
  });

  it('the right client certificate: handshake, server certificate and client certificate all work, exit 0', async () => {
    const r = await checkSdiCoop(configWith(pki.trasmittente));
    expect(r.steps.filter((s) => !s.ok)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(step(r, 'client-cert-file')?.detail).toMatch(/CN=fatturad/);
    expect(step(r, 'certificate')?.detail).toMatch(/^trusted: SdI simulator/);
    expect(step(r, 'client-cert')?.detail).toMatch(
      /took the client certificate and answered: HTTP\/1\.1 \d{3}/,
    );
    expect(renderCheck('fatturad check sdicoop', r)).toMatch(/Everything works \(sdicoop: works\)/);
    expect(sim.engine.calls.size).toBe(received);
  });

  it('a client certificate from another CA: refused by the server, said as the client certificate, exit 1', async () => {
    const other = await createStandaloneCa(path.join(t.dir, 'other'), 'Some other CA');
    const r = await checkSdiCoop(configWith(other.client));
    expect(r.ok).toBe(false);
    expect(step(r, 'client-cert-file')?.ok).toBe(true);
    expect(step(r, 'tcp')?.ok).toBe(true);
    // TLS 1.3 reports the refusal after the handshake, TLS 1.2 during it: either way it is named.
    const refused = r.steps.find((s) => !s.ok)!;
    expect(['tls', 'client-cert']).toContain(refused.step);
    expect(refused.hint).toMatch(/client certificate/);
    expect(renderCheck('fatturad check sdicoop', r)).toMatch(/sdicoop: FAILS at (tls|client-cert)/);
    expect(sim.engine.calls.size).toBe(received);
  });

  it("SdI's CA missing from sdiCAs: the server's certificate is not trusted, exit 1", async () => {
    const other = await createStandaloneCa(path.join(t.dir, 'other2'), 'Unrelated CA');
    const r = await checkSdiCoop(configWith({ ...pki.trasmittente, cas: [other.caCert] }));
    expect(r.ok).toBe(false);
    expect(step(r, 'certificate')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/not trusted/) as string,
    });
  });

  it('a closed port: the TCP step fails with the reason', async () => {
    const url = new URL(endpoint);
    url.port = '1';
    const r = await checkSdiCoop(configWith({ ...pki.trasmittente, endpoint: url.toString() }));
    expect(step(r, 'tcp')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/ECONNREFUSED/) as string,
    });
    expect(r.ok).toBe(false);
  });
});
