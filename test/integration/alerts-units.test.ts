import { Writable } from 'node:stream';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Alerts, type ChannelHealth } from '../../src/alerts/alerts.js';
import { verifySignature, type AlertMessage } from '../../src/alerts/message.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { missingSecrets } from '../../src/config/secrets.js';
import { createLogger } from '../../src/log.js';
import { Store } from '../../src/store/store.js';
import { tempDir, writeYaml } from '../helpers/tmp.js';

/**
 * The alerts' parts in one process, with a real store and a real HTTP receiver, driven by their
 * own clock (tick(now)): a channel down past the threshold, events logged before the store
 * opened, the configuration's checks.
 */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const SECRET = 'unit-secret';

async function receiver(): Promise<{ url: string; got: AlertMessage[] }> {
  const got: AlertMessage[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const ts = String(req.headers['x-fatturad-timestamp']);
      if (!verifySignature(SECRET, ts, body, String(req.headers['x-fatturad-signature']))) {
        res.writeHead(401).end();
        return;
      }
      got.push(JSON.parse(body) as AlertMessage);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, got };
}

function setup(url: string, extra: string[] = []) {
  const t = tempDir('fatturad-alerts-units-');
  cleanups.push(t.cleanup);
  const file = writeYaml(
    t.dir,
    'c.yaml',
    [
      'alerts:',
      '  enabled: true',
      '  groupWaitMs: 0',
      '  intervalMs: 60000',
      '  channelDownMs: 600000',
      `  webhook: { url: "${url}", secretEnv: UNIT_ALERT_SECRET }`,
      ...extra,
    ].join('\n'),
  );
  process.env.UNIT_ALERT_SECRET = SECRET;
  const config = loadConfig({ file, env: { FATTURAD_DATA_DIR: t.dir }, cwd: t.dir });
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n'))
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const log = createLogger({ level: 'info', format: 'json', destination: sink });
  return { config, log, lines, dir: t.dir };
}

describe('alerts, part by part', () => {
  it('a channel down past channelDownMs raises one alerts.channel_down alert, and channel_up once back', async () => {
    const r = await receiver();
    const { config, log, lines } = setup(r.url);
    const store = new Store(config.paths.db);
    cleanups.push(() => store.close());
    let health: ChannelHealth = { name: 'pec', ok: false, detail: 'IMAP: ECONNREFUSED' };
    const alerts = new Alerts(config, log);
    alerts.listen();
    alerts.open(store, () => health);
    cleanups.push(() => alerts.stop());
    const t0 = 1_000_000_000_000;
    await alerts.tick(t0);
    await alerts.tick(t0 + 599_999);
    expect(lines.filter((l) => l.event === 'alerts.channel_down')).toHaveLength(0);
    expect(r.got).toHaveLength(0);
    await alerts.tick(t0 + 600_000);
    await alerts.tick(t0 + 600_001);
    await alerts.tick(t0 + 900_000);
    expect(lines.filter((l) => l.event === 'alerts.channel_down')).toHaveLength(1);
    expect(r.got.map((m) => m.kind)).toEqual(['alerts.channel_down']);
    expect(r.got[0]?.items[0]).toMatchObject({ channel: 'pec', detail: 'IMAP: ECONNREFUSED' });
    health = { name: 'pec', ok: true };
    await alerts.tick(t0 + 900_001);
    expect(lines.filter((l) => l.event === 'alerts.channel_up')).toHaveLength(1);
  });

  it('events logged before the store opens are kept; other events and the log level of the rest are untouched', async () => {
    const r = await receiver();
    const { config, log, lines } = setup(r.url);
    const alerts = new Alerts(config, log);
    alerts.listen();
    // As the store's checks log at a start, before the queue exists.
    log.error({ event: 'store.behind_journal', count: 1, password: 'never' }, 'the store lacks 1 send');
    log
      .child({ component: 'send' })
      .warn({ event: 'send.in_doubt', documentId: 7, sdiName: 'IT1_00001.xml' }, 'x');
    log.info({ event: 'send.accepted', documentId: 8 }, 'not an alert');
    const store = new Store(config.paths.db);
    cleanups.push(() => store.close());
    alerts.open(store, () => null);
    cleanups.push(() => alerts.stop());
    await alerts.tick(Date.now());
    expect(r.got.map((m) => m.kind).sort()).toEqual(['send.in_doubt', 'store.behind_journal']);
    const behind = r.got.find((m) => m.kind === 'store.behind_journal');
    expect(behind?.items[0]).not.toHaveProperty('password');
    expect(JSON.stringify(r.got)).not.toContain('never');
    // The log lines themselves are written as before.
    expect(lines.map((l) => l.event)).toEqual(
      expect.arrayContaining(['store.behind_journal', 'send.in_doubt', 'send.accepted']),
    );
  });

  it('a stop does not wait for a receiver that never answers; the message stays queued for the next start', async () => {
    const held: http.ServerResponse[] = [];
    const server = http.createServer((_req, res) => held.push(res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          held.forEach((res) => res.destroy());
          server.close(() => r());
        }),
    );
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const { config, log } = setup(url);
    config.alerts.webhook.timeoutMs = 600_000;
    const store = new Store(config.paths.db);
    const alerts = new Alerts(config, log);
    alerts.listen();
    alerts.open(store, () => null);
    log.warn({ event: 'send.in_doubt', documentId: 1 }, 'in doubt');
    // The daemon's own pass (every TICK_MS) takes it to the receiver, which holds it.
    await new Promise<void>((r) => {
      const check = (): void => (held.length ? r() : void setTimeout(check, 20));
      check();
    });
    await alerts.stop();
    const queued = store.db.prepare('SELECT count(*) AS n, max(attempts) AS a FROM alert_queue').get() as {
      n: number;
      a: number;
    };
    store.close();
    held.forEach((res) => res.destroy());
    expect(queued).toEqual({ n: 1, a: 0 });
    expect(held).toHaveLength(1);
    expect(alerts.delivered + alerts.failures).toBe(0);
  });

  it('the configuration: a target is required, the secrets are named, never read from the file', () => {
    const t = tempDir('fatturad-alerts-config-');
    cleanups.push(t.cleanup);
    const noTarget = writeYaml(t.dir, 'a.yaml', 'alerts: { enabled: true }');
    expect(() => loadConfig({ file: noTarget, env: {}, cwd: t.dir })).toThrow(ConfigError);
    try {
      loadConfig({ file: noTarget, env: {}, cwd: t.dir });
    } catch (err) {
      expect((err as ConfigError).problems.join('\n')).toContain('alerts.email.host or alerts.webhook.url');
    }
    const both = writeYaml(
      t.dir,
      'b.yaml',
      [
        'alerts:',
        '  enabled: true',
        '  email: { host: smtp.example.it, user: u, passwordEnv: ALERTS_SMTP_PW, from: a@example.it, to: [b@example.it] }',
        '  webhook: { url: "https://hooks.example.it/x", secretFile: missing-key }',
      ].join('\n'),
    );
    const config = loadConfig({ file: both, env: {}, cwd: t.dir });
    const problems = missingSecrets(config, {}).map((m) => m.problem);
    expect(problems).toEqual([
      expect.stringContaining(
        'alerts.email.passwordEnv = "ALERTS_SMTP_PW": the environment variable ALERTS_SMTP_PW is not set',
      ),
      expect.stringMatching(
        /^alerts\.webhook\.secretFile = ".*missing-key": cannot read the file \(ENOENT\)/,
      ),
    ]);
    expect(missingSecrets(config, { ALERTS_SMTP_PW: 'x' })).toHaveLength(1);
    // Alerts off: their secrets are not needed.
    const off = writeYaml(
      t.dir,
      'c.yaml',
      'alerts: { webhook: { url: "https://h.example.it/", secretEnv: NOPE } }',
    );
    expect(missingSecrets(loadConfig({ file: off, env: {}, cwd: t.dir }), {})).toEqual([]);
  });
});
