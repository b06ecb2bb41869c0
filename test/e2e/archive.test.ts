import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, readLog, runCli, waitFor, waitForEvent, type DaemonProcess } from '../helpers/daemon.js';
import { EX, exampleText, specPath } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The archive end to end: a real daemon on the built-in simulator archives each invoice when its
 * flow ends, with SdI's messages, as PdVs; the PdA is closed with a SInCRO index valid against
 * the UNI 11386 schema; a PdD exported by the command line verifies with `sha256sum -c` alone;
 * a crash while closing a PdA leaves an archive that verifies, and the PdA is completed at the
 * next start.
 */
const run = promisify(execFile);
const FPR12 = exampleText(EX.b2b);
/** The SInCRO 2.0 schema, an oracle (test/helpers/spec.ts); without it that one check is skipped. */
const PINDEX_XSD = specPath('preservation', 'sincro-v2-PIndex.xsd');

const t = tempDir('fatturad-e2e-archive-');
afterAll(() => t.cleanup());

let seq = 0;
function invoice(): Buffer {
  seq++;
  // Dated today: an old invoice's preservation deadline has passed, which closes its PdA at once.
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Rome' }).format(new Date());
  return Buffer.from(
    FPR12.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>AR-${seq}</Numero>`).replace(
      /<Data>[^<]*<\/Data>/,
      `<Data>${today}</Data>`,
    ),
  );
}

function configure(name: string): { dir: string; outbox: string; cfg: string; logFile: string } {
  const dir = path.join(t.dir, name);
  const outbox = path.join(dir, 'outbox');
  fs.mkdirSync(outbox, { recursive: true });
  const cfg = path.join(dir, 'fatturad.yaml');
  fs.writeFileSync(
    cfg,
    [
      `dataDir: ${dir}/var`,
      'log: { level: info, format: json }',
      'http: { port: 0 }',
      'intake:',
      `  folders: [{ path: ${outbox} }]`,
      '  stableMs: 0',
      'sending: { pollMs: 200 }',
      'simulator: { scenario: deliver, delayMs: 0 }',
      'archive:',
      '  pollMs: 200',
      '  checkpointEveryMs: 1',
      '  verify: { windowDays: 0.00001, intervalMs: 300 }',
      '  holder: { name: Officine Esempio S.r.l., vat: IT12345670017, responsabile: Mario Rossi, responsabileCf: RSSMRA80A01H501U }',
      `passive: { importDir: ${dir}/inbox }`,
    ].join('\n'),
  );
  return { dir, outbox, cfg, logFile: path.join(dir, 'daemon.log') };
}

async function start(
  s: { cfg: string; logFile: string },
  env: NodeJS.ProcessEnv = {},
): Promise<DaemonProcess> {
  const from = readLog(s.logFile).length;
  const d = runCli(['start', '--config', s.cfg], s.logFile, env);
  await waitForEvent(s.logFile, 'daemon.ready', from);
  return d;
}

async function stop(d: DaemonProcess): Promise<void> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return;
  d.child.kill('SIGTERM');
  await d.exited;
}

const cli = (args: string[], cfg: string) =>
  run(process.execPath, [CLI, ...args, '--config', cfg]).catch(
    (e: { code: number; stdout: string; stderr: string }) => ({ ...e, failed: true as const }),
  );

describe('archive end to end', () => {
  const s = configure('main');
  let daemon: DaemonProcess;
  beforeAll(async () => {
    daemon = await start(s);
  });
  afterAll(async () => stop(daemon));

  it('delivered invoices are archived with their RC as a PdV, findable by the fiscal keys', async () => {
    for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(s.outbox, `inv-${i}.xml`), invoice());
    await waitFor(
      'three documents archived',
      () =>
        readLog(s.logFile)
          .filter((l) => l.event === 'archive.pdv')
          .reduce((n, l) => n + Number(l.documents), 0) >= 3,
    );
    const found = await cli(['archive', 'search', '--json', '--piva', 'IT12345670017'], s.cfg);
    const docs = JSON.parse(found.stdout) as {
      document: string;
      files: { kind: string }[];
      keys: { numero: string }[];
    }[];
    expect(docs).toHaveLength(3);
    for (const d of docs)
      expect(d.files.map((f) => f.kind).sort()).toEqual(['document-metadata', 'invoice', 'notification']);
    const one = JSON.parse(
      (await cli(['archive', 'search', '--json', '--query', 'numero=AR-2'], s.cfg)).stdout,
    ) as unknown[];
    expect(one).toHaveLength(1);
    const byName = JSON.parse(
      (await cli(['archive', 'search', '--json', '--text', 'officine'], s.cfg)).stdout,
    ) as unknown[];
    expect(byName.length).toBeGreaterThanOrEqual(0);
  });

  it('the PdA closes with a UNI SInCRO index that the official schema accepts', async (ctx) => {
    const closed = await cli(['archive', 'close', '--reason', 'formal cancellation (test)'], s.cfg);
    expect(closed.stdout).toMatch(/PdA-.*: closed/);
    const status = JSON.parse((await cli(['archive', 'status', '--json'], s.cfg)).stdout) as {
      packages: { name: string; kind: string; state: string }[];
    };
    const pda = status.packages.find((p) => p.kind === 'pda' && p.state === 'closed');
    expect(pda).toBeDefined();
    const out = path.join(s.dir, 'pda.zip');
    await cli(['archive', 'export', '--query', 'piva=IT12345670017', '--out', out], s.cfg);
    const bag = path.join(s.dir, 'bag');
    fs.mkdirSync(bag);
    expect(spawnSync('unzip', ['-q', out, '-d', bag]).status).toBe(0);
    const pindex = fs
      .readdirSync(path.join(bag, 'data', 'packages'), { recursive: true })
      .map(String)
      .find((f) => f.endsWith('PIndex.xml'));
    expect(pindex).toBeDefined();
    if (!PINDEX_XSD) ctx.skip();
    const x = spawnSync(
      'xmllint',
      ['--noout', '--schema', PINDEX_XSD as string, path.join(bag, 'data', 'packages', pindex as string)],
      {
        encoding: 'utf8',
      },
    );
    expect(x.status, x.stderr).toBe(0);
  });

  it('a PdD exported by the command line verifies with fatturad and with sha256sum -c alone', async () => {
    const out = path.join(s.dir, 'pdd.zip');
    const r = await cli(['archive', 'export', '--query', 'numero=AR-1', '--out', out], s.cfg);
    expect(r.stdout).toMatch(/wrote .*pdd\.zip: 1 document/);
    const v = await run(process.execPath, [CLI, 'archive', 'verify-export', out]);
    expect(v.stdout).toMatch(/OK/);
    const bag = path.join(s.dir, 'pdd');
    fs.mkdirSync(bag);
    expect(spawnSync('unzip', ['-q', out, '-d', bag]).status).toBe(0);
    const sum = spawnSync('sha256sum', ['-c', 'manifest-sha256.txt'], { cwd: bag, encoding: 'utf8' });
    expect(sum.status, sum.stdout + sum.stderr).toBe(0);
    expect(fs.readFileSync(path.join(bag, 'VERIFY.txt'), 'utf8')).toMatch(/openssl/);
  });

  it('archive verify on the live archive finds nothing', async () => {
    const v = await cli(['archive', 'verify'], s.cfg);
    expect(v.stdout).toMatch(/OK: no findings/);
  });

  it('the rolling verification in the daemon finds a deleted blob: an event, a metric, the health check', async () => {
    const docs = JSON.parse(
      (await cli(['archive', 'search', '--json', '--query', 'numero=AR-3'], s.cfg)).stdout,
    ) as {
      files: { kind: string; sha256: string }[];
    }[];
    const sha = docs[0]?.files.find((f) => f.kind === 'invoice')?.sha256 ?? '';
    fs.rmSync(path.join(s.dir, 'var', 'archive', 'objects', 'sha256', sha.slice(0, 2), sha.slice(2, 4), sha));
    const line = await waitFor('archive.integrity_failed', () =>
      readLog(s.logFile).find((l) => l.event === 'archive.integrity_failed' && l.sha256 === sha),
    );
    expect(line.code).toBe('missing');
    const port = readLog(s.logFile).find((l) => l.event === 'daemon.ready')?.http as number;
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(503);
    expect(JSON.stringify(await health.json())).toMatch(/integrity finding/);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/fatturad_archive_findings_total\{code="missing"\} [1-9]/);
  });
});

describe('archive crash', () => {
  it.each(['pda-closing', 'pda-index-written', 'pda-before-closed'])(
    'SIGKILL while closing a PdA (%s): the archive verifies, and the PdA is completed at the next start',
    async (point) => {
      const s = configure(`crash-${point}`);
      let daemon = await start(s);
      fs.writeFileSync(path.join(s.outbox, 'c.xml'), invoice());
      await waitForEvent(s.logFile, 'archive.pdv');
      await stop(daemon);
      const killed = await run(process.execPath, [CLI, 'archive', 'close', '--config', s.cfg], {
        env: { ...process.env, TEST_CRASH_AT: point },
      }).catch((e: { signal?: string }) => e);
      expect((killed as { signal?: string }).signal).toBe('SIGKILL');
      const v = await cli(['archive', 'verify'], s.cfg);
      expect(v.stdout).toMatch(/OK: no findings/);
      const before = JSON.parse((await cli(['archive', 'status', '--json'], s.cfg)).stdout) as {
        packages: { kind: string; state: string }[];
      };
      expect(before.packages.filter((p) => p.kind === 'pda').map((p) => p.state)).toEqual(['closing']);
      daemon = await start(s);
      try {
        await waitForEvent(s.logFile, 'archive.pda_closed');
        const after = JSON.parse((await cli(['archive', 'status', '--json'], s.cfg)).stdout) as {
          packages: { kind: string; state: string }[];
        };
        expect(after.packages.filter((p) => p.kind === 'pda').map((p) => p.state)).toEqual(['closed']);
        expect((await cli(['archive', 'verify'], s.cfg)).stdout).toMatch(/OK: no findings/);
      } finally {
        await stop(daemon);
      }
    },
  );
});
