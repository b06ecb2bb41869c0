import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, readLog, runCli, waitFor, waitForEvent } from '../helpers/daemon.js';
import { TestPki, type Issued } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';
import { buildTsl, signTsl, type TslService } from '../helpers/tsl.js';

/**
 * `fatturad trust update | status` and `validate` with `validation.trustedCAs: tsl`, on the built
 * CLI: lists made and signed at test time, served from a loopback HTTP server. A good list is
 * kept; one signed by another key, changed after signing, with a DTD, over the size bound, stale
 * or older than the kept one is refused and the kept list stays byte for byte; a .p7m from a
 * granted CA passes the CA check, one from a CA withdrawn before the signing time gets 00104.
 */
const DAY = 86_400_000;
const t = tempDir('fatturad-trust-cli-');
const EXAMPLE = fs.readFileSync(path.join(ROOT, 'examples', 'IT12345670017_B2B01.xml'));
let server: http.Server;
let base = '';
const bodies = new Map<string, Buffer>();
let listSigner: Issued;
let otherSigner: Issued;
let qualified: TestPki;
let withdrawn: TestPki;
let services: TslService[];
let cfg = '';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: t.dir, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
const events = (r: Run): Record<string, unknown>[] =>
  r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const list = (o: Partial<Parameters<typeof buildTsl>[0]> = {}): string =>
  buildTsl({
    seq: 42,
    // Not before the signer certificate made at test time (the list must be issued in its validity).
    issued: new Date(),
    nextUpdate: new Date(Date.now() + 180 * DAY),
    services,
    ...o,
  });
const keptJson = (): string => path.join(t.dir, 'var', 'trust', 'tsl.json');
const digest = (f: string): string => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

beforeAll(async () => {
  listSigner = new TestPki(path.join(t.dir, 'agid'), 'Test TSL Signer').ca;
  otherSigner = new TestPki(path.join(t.dir, 'mallory'), 'Mallory TSL Signer').ca;
  qualified = new TestPki(path.join(t.dir, 'qca'), 'Test Qualified CA');
  withdrawn = new TestPki(path.join(t.dir, 'wca'), 'Withdrawn CA');
  services = [
    {
      tsp: 'Test TSP S.p.A.',
      name: 'Test Qualified CA',
      cert: qualified.ca.cert,
      status: 'granted',
      since: new Date('2016-07-01T00:00:00Z'),
      history: [{ status: 'accredited', since: new Date('2012-03-01T00:00:00Z') }],
    },
    {
      tsp: 'Gone S.r.l.',
      name: 'Withdrawn CA',
      cert: withdrawn.ca.cert,
      status: 'withdrawn',
      since: new Date(Date.now() - 30 * DAY),
      history: [{ status: 'granted', since: new Date(Date.now() - 3 * 365 * DAY) }],
    },
  ];
  const good = signTsl(list(), listSigner);
  bodies.set('/TSL-IT.xml', Buffer.from(good));
  bodies.set('/other-key.xml', Buffer.from(signTsl(list(), otherSigner)));
  bodies.set('/tampered.xml', Buffer.from(good.replace('Svcstatus/withdrawn', 'Svcstatus/granted')));
  bodies.set(
    '/dtd.xml',
    Buffer.from(good.replace('?>', '?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>')),
  );
  bodies.set(
    '/stale.xml',
    Buffer.from(
      signTsl(
        list({ issued: new Date(Date.now() - 200 * DAY), nextUpdate: new Date(Date.now() - DAY) }),
        listSigner,
      ),
    ),
  );
  bodies.set('/older.xml', Buffer.from(signTsl(list({ seq: 41 }), listSigner)));
  bodies.set('/moved.xml', Buffer.alloc(0));
  server = http.createServer((req, res) => {
    if (req.url === '/big.xml') {
      // No Content-Length: the bound applies while reading.
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.write(
        '<?xml version="1.0"?><tsl:TrustServiceStatusList xmlns:tsl="http://uri.etsi.org/02231/v2#">',
      );
      for (let i = 0; i < 64; i++) res.write(`<!-- ${'x'.repeat(8192)} -->`);
      res.end('</tsl:TrustServiceStatusList>');
      return;
    }
    if (req.url === '/moved.xml') {
      res.writeHead(302, { location: '/TSL-IT.xml' });
      res.end();
      return;
    }
    const body = bodies.get(req.url ?? '');
    if (!body) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/xml', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cfg = path.join(t.dir, 'fatturad.yaml');
  fs.writeFileSync(
    cfg,
    [
      `dataDir: ${t.dir}/var`,
      'log: { level: info, format: json }',
      'channel: { type: none }',
      'validation:',
      '  trustedCAs: tsl',
      '  tsl:',
      `    url: ${base}/TSL-IT.xml`,
      `    signers: [${listSigner.cert}]`,
      '    maxBytes: 262144',
      '    timeoutMs: 10000',
      '',
    ].join('\n'),
  );
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  t.cleanup();
});

describe('fatturad trust', () => {
  it('trustedCAs: tsl without signers is a configuration error naming the key', async () => {
    const bad = path.join(t.dir, 'no-signers.yaml');
    fs.writeFileSync(bad, `dataDir: ${t.dir}/var2\nvalidation:\n  trustedCAs: tsl\n`);
    const r = await cli(['config', 'check', bad]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('validation.tsl.signers');
  });

  it('status before any update: no list kept, exit 1 (the configuration uses it)', async () => {
    const r = await cli(['trust', 'status', '-c', cfg]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('No trusted list kept');
  });

  it('update: a correctly signed list is verified and kept; status reports it', async () => {
    const r = await cli(['trust', 'update', '-c', cfg]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const ev = events(r).find((e) => e.event === 'trust.updated');
    expect(ev).toMatchObject({
      sequence: 42,
      cas: 2,
      granted: 1,
      changed: true,
      keyInfo: 'same-certificate',
    });
    expect(fs.readFileSync(path.join(t.dir, 'var', 'trust', 'tsl.xml'))).toEqual(bodies.get('/TSL-IT.xml'));
    const s = await cli(['trust', 'status', '--json', '-c', cfg]);
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({
      kept: true,
      inUse: true,
      sequenceNumber: 42,
      freshness: 'fresh',
      caServices: 2,
      granted: 1,
      xmlMatches: true,
    });
    const human = await cli(['trust', 'status', '-c', cfg]);
    expect(human.stdout).toMatch(/1 qualified CA services granted/);
  });

  it('a redirect is followed', async () => {
    const r = await cli(['trust', 'update', '--url', `${base}/moved.xml`, '-c', cfg]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(events(r).find((e) => e.event === 'trust.updated')).toMatchObject({ changed: false });
  });

  it.each([
    ['signed by another key', '/other-key.xml', 'signer'],
    ['a byte changed after signing (a withdrawn CA made granted)', '/tampered.xml', 'signature'],
    ['a DTD with an external entity', '/dtd.xml', 'dtd'],
    ['over validation.tsl.maxBytes', '/big.xml', 'oversize'],
    ['stale (NextUpdate passed)', '/stale.xml', 'expired'],
    ['older than the kept list (a rollback)', '/older.xml', 'older'],
  ])('refused: %s; the previous list stays in use', async (_label, url, reason) => {
    const before = digest(keptJson());
    const r = await cli(['trust', 'update', '--url', `${base}${url}`, '-c', cfg]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const ev = events(r).find((e) => e.event === 'trust.update_refused');
    expect(ev, r.stdout).toMatchObject({ reason, previousSequence: 42 });
    expect(String(ev?.msg)).toContain('the previous list (sequence 42');
    expect(digest(keptJson())).toBe(before);
    expect(fs.readdirSync(path.join(t.dir, 'var', 'trust')).sort()).toEqual(['tsl.json', 'tsl.xml']);
  });

  it('a download that fails (404) keeps the previous list too', async () => {
    const before = digest(keptJson());
    const r = await cli(['trust', 'update', '--url', `${base}/missing.xml`, '-c', cfg]);
    expect(r.code).toBe(1);
    expect(events(r).find((e) => e.event === 'trust.update_failed')).toBeDefined();
    expect(digest(keptJson())).toBe(before);
  });

  it('update --file: a list carried to an offline installation', async () => {
    const file = path.join(t.dir, 'TSL-IT-43.xml');
    fs.writeFileSync(file, signTsl(list({ seq: 43 }), listSigner));
    const r = await cli(['trust', 'update', '--file', file, '-c', cfg]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse((await cli(['trust', 'status', '--json', '-c', cfg])).stdout)).toMatchObject({
      sequenceNumber: 43,
      source: file,
    });
  });

  it('validate: a .p7m from a granted CA passes the CA check; one from a CA withdrawn before the signing time gets 00104', async () => {
    const good = path.join(t.dir, 'IT12345670017_B2B01.xml.p7m');
    fs.writeFileSync(good, qualified.sign(EXAMPLE, qualified.issue('Mario Rossi')));
    const bad = path.join(t.dir, 'IT12345670017_B2B02.xml.p7m');
    fs.writeFileSync(bad, withdrawn.sign(EXAMPLE, withdrawn.issue('Luigi Bianchi')));
    const r = await cli(['validate', '--json', '-c', cfg, good, bad]);
    const verdicts = JSON.parse(r.stdout) as { errors: { code: string }[]; warnings: { code: string }[] }[];
    const codes = verdicts.map((v) => [...v.errors, ...v.warnings].map((f) => f.code));
    expect(codes[0]).not.toContain('00104');
    expect(codes[0]).not.toContain('SIGNATURE-CA-NOT-CHECKED');
    expect(codes[1]).toContain('00104');
    expect(codes[1]).not.toContain('SIGNATURE-CA-NOT-CHECKED');
  });

  it('the daemon: validation workers check CAs against the kept list (granted passes, withdrawn gets 00104)', async () => {
    const dir = path.join(t.dir, 'daemon');
    const outbox = path.join(dir, 'outbox');
    fs.mkdirSync(outbox, { recursive: true });
    const dcfg = path.join(dir, 'fatturad.yaml');
    fs.writeFileSync(
      dcfg,
      [
        `dataDir: ${dir}/var`,
        'log: { level: info, format: json }',
        'http: { port: 0 }',
        'channel: { type: none }',
        'archive: { enabled: false }',
        `intake: { folders: [{ path: ${outbox} }], stableMs: 0 }`,
        'validation:',
        '  trustedCAs: tsl',
        '  fileName: off',
        '  workers: 1',
        `  tsl: { url: ${base}/TSL-IT.xml, signers: [${listSigner.cert}] }`,
        '',
      ].join('\n'),
    );
    expect((await cli(['trust', 'update', '-c', dcfg])).code).toBe(0);
    const logFile = path.join(dir, 'daemon.log');
    const d = runCli(['start', '--config', dcfg], logFile);
    try {
      await waitForEvent(logFile, 'daemon.ready');
      fs.writeFileSync(
        path.join(outbox, 'IT12345670017_DGOOD.xml.p7m'),
        qualified.sign(EXAMPLE, qualified.issue('Anna Verdi')),
      );
      fs.writeFileSync(
        path.join(outbox, 'IT12345670017_DBAD1.xml.p7m'),
        withdrawn.sign(
          Buffer.from(EXAMPLE.toString().replace(/<Numero>[^<]*</, '<Numero>W1<')),
          withdrawn.issue('Carlo Neri'),
        ),
      );
      const passed = await waitForEvent(logFile, 'validation.passed');
      const rejected = await waitForEvent(logFile, 'validation.rejected');
      expect(passed.file).toBe('IT12345670017_DGOOD.xml.p7m');
      expect(passed.warnings).not.toContain('SIGNATURE-CA-NOT-CHECKED');
      expect(rejected.file).toBe('IT12345670017_DBAD1.xml.p7m');
      expect(rejected.codes).toEqual(['00104']);
      await waitFor('trust.list_loaded', () => readLog(logFile).find((l) => l.event === 'trust.list_loaded'));
    } finally {
      d.child.kill('SIGTERM');
      await d.exited;
    }
  });

  it('credentials: the kept list is watched until its NextUpdate, with its signer certificate', async () => {
    const r = await cli(['credentials', '--json', '-c', cfg]);
    const items = JSON.parse(r.stdout) as { id: string; expiresAt: string | null }[];
    const kept = JSON.parse(fs.readFileSync(keptJson(), 'utf8')) as { nextUpdate: string };
    expect(items.find((c) => c.id === 'trusted-list')?.expiresAt).toBe(kept.nextUpdate);
    expect(items.find((c) => c.id === 'tsl-signer:1')?.expiresAt).not.toBeNull();
  });
});
