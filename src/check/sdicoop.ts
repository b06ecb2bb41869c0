import { loadCaBundle, loadTlsIdentity } from '../channels/soap/tls.js';
import type { Config } from '../config/schema.js';
import { CheckReport, dnsStep, errorText, tcpStep, tlsProbe } from './probe.js';

/**
 * `fatturad check sdicoop`: reads the client certificate and SdI's CAs as the daemon would, then
 * connects to SdI's RiceviFile endpoint and does the mutual-TLS handshake with that certificate,
 * and one HEAD request (no SOAP call, no file): whether the name resolves, the port answers, the
 * server's certificate chains to `sdiCAs`, and the server takes the client certificate.
 */
export async function checkSdiCoop(config: Config): Promise<CheckReport> {
  const report = new CheckReport();
  const c = config.channel.sdicoop;
  const service = 'sdicoop';
  if (config.channel.type !== 'sdicoop')
    report.add({
      service,
      step: 'channel',
      ok: true,
      info: true,
      detail: `channel.type is ${config.channel.type}: checking the channel.sdicoop section anyway`,
    });
  if (c.simulator) {
    report.add({
      service,
      step: 'simulator',
      ok: true,
      info: true,
      detail:
        'channel.sdicoop.simulator is true: the daemon talks to its built-in simulator (nothing to check); set endpoint, clientCert/clientKey (or clientPfx) and sdiCAs for SdI',
    });
    return report;
  }
  const identity = loadTlsIdentity(
    c.clientPfx
      ? { pfx: c.clientPfx, passphraseEnv: c.passphraseEnv }
      : { cert: c.clientCert, key: c.clientKey },
  );
  if (!identity.ok) {
    report.add({ service, step: 'client-cert-file', ok: false, detail: identity.error });
    return report;
  }
  const expired = identity.notAfter.getTime() <= Date.now();
  report.add({
    service,
    step: 'client-cert-file',
    ok: !expired,
    detail: `${identity.subject}, valid until ${identity.notAfter.toISOString()}${expired ? ': EXPIRED' : ''}`,
    ...(expired ? { hint: 'renew the certificate with SdI (docs/credentials.md)' } : {}),
  });
  let ca: Buffer[];
  try {
    ca = loadCaBundle(c.sdiCAs);
  } catch (err) {
    report.add({ service, step: 'sdi-cas', ok: false, detail: `channel.sdicoop.sdiCAs: ${errorText(err)}` });
    return report;
  }
  if (ca.length === 0) {
    report.add({
      service,
      step: 'sdi-cas',
      ok: false,
      detail: 'channel.sdicoop.sdiCAs is empty',
      hint: 'give the CA certificates of SdI (from accreditation)',
    });
    return report;
  }
  report.add({ service, step: 'sdi-cas', ok: true, detail: `${ca.length} CA certificate(s) read` });
  let url: URL;
  try {
    url = new URL(c.endpoint);
    if (url.protocol !== 'https:') throw new Error(`${url.protocol} is not https:`);
  } catch (err) {
    report.add({
      service,
      step: 'endpoint',
      ok: false,
      detail: `channel.sdicoop.endpoint ${JSON.stringify(c.endpoint)} is not an https URL (${errorText(err)})`,
      hint: "SdI's RiceviFile URL, given at accreditation",
    });
    return report;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : 443;
  if (!report.add(await dnsStep(service, host)).ok) return report;
  if (!report.add(await tcpStep(service, host, port, c.timeoutMs)).ok) return report;
  const t = await tlsProbe({
    service,
    host,
    port,
    timeoutMs: c.timeoutMs,
    ca,
    identity: identity.options,
    httpPath: url.pathname + url.search,
  });
  for (const step of t.steps) report.add(step);
  return report;
}
