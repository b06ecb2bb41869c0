import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { readLog, runCli, waitFor, waitForEvent, writeDaemonConfig } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

const t = tempDir('fatturad-shutdown-');
afterAll(() => t.cleanup());

function get(port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: p }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

const writeConfig = (dir: string, outbox: string): string =>
  writeDaemonConfig(dir, outbox, { intake: { stableMs: 0, batchSize: 16 } });

describe('daemon lifecycle', () => {
  it(
    'SIGTERM during intake: exit 0, no half-done claim, the rest taken after restart',
    { timeout: 60_000 },
    async () => {
      const dir = path.join(t.dir, 'term');
      const outbox = path.join(dir, 'outbox');
      fs.mkdirSync(outbox, { recursive: true });
      const N = 3000;
      for (let i = 0; i < N; i++) fs.writeFileSync(path.join(outbox, `f${i}.xml`), `<a>${i}</a>`);
      const cfg = writeConfig(dir, outbox);
      const logFile = path.join(dir, 'log');
      const d = runCli(['start', '--config', cfg], logFile);
      await waitForEvent(logFile, 'intake.claimed');
      d.child.kill('SIGTERM');
      const { code } = await d.exited;
      expect(code).toBe(0);
      const events = readLog(logFile).map((l) => l.event);
      expect(events).toContain('daemon.stopped');

      const dbFile = path.join(dir, 'var', 'fatturad.db');
      const db = new Database(dbFile, { readonly: true });
      const open = db.prepare(`SELECT count(*) AS n FROM intake WHERE status <> 'done'`).get() as {
        n: number;
      };
      const done = db.prepare(`SELECT count(*) AS n FROM intake`).get() as { n: number };
      db.close();
      expect(open.n).toBe(0);
      expect(done.n + fs.readdirSync(outbox).filter((n) => !n.startsWith('.')).length).toBe(N);

      const d2 = runCli(['start', '--config', cfg], logFile);
      await waitFor(
        'outbox drained',
        () => fs.readdirSync(outbox).filter((n) => !n.startsWith('.')).length === 0,
        30_000,
      );
      await waitFor('all claims done', () => {
        const db2 = new Database(dbFile, { readonly: true });
        try {
          return (db2.prepare(`SELECT count(*) AS n FROM documents`).get() as { n: number }).n === N;
        } finally {
          db2.close();
        }
      });
      d2.child.kill('SIGINT');
      expect((await d2.exited).code).toBe(0);
    },
  );

  it(
    'serves /healthz and /metrics on loopback, reloads on SIGHUP, refuses a second instance',
    { timeout: 60_000 },
    async () => {
      const dir = path.join(t.dir, 'ops');
      const outbox = path.join(dir, 'outbox');
      const outbox2 = path.join(dir, 'outbox2');
      const cfg = writeConfig(dir, outbox);
      const logFile = path.join(dir, 'log');
      const d = runCli(['start', '--config', cfg], logFile);
      const listening = await waitForEvent(logFile, 'http.listening');
      expect(listening.host).toBe('127.0.0.1');
      const port = listening.port as number;

      fs.writeFileSync(path.join(outbox, 'IT01234567890_00001.xml'), '<x/>');
      fs.writeFileSync(path.join(outbox, 'notes.txt'), 'not an invoice');
      await waitForEvent(logFile, 'intake.rejected');
      await waitForEvent(logFile, 'intake.claimed');

      const health = await get(port, '/healthz');
      expect(health.status).toBe(200);
      const h = JSON.parse(health.body) as { status: string; documents: Record<string, number> };
      expect(h.status).toBe('ok');
      expect(h.documents).toEqual({ received: 1, rejected: 1 });
      const metrics = await get(port, '/metrics');
      expect(metrics.body).toMatch(/fatturad_intake_files_total\{outcome="accepted"\} 1/);
      expect(metrics.body).toMatch(/fatturad_documents\{state="rejected"\} 1/);
      expect((await get(port, '/nope')).status).toBe(404);

      // A second daemon on the same data folder is refused with exit code 4.
      const second = runCli(['start', '--config', cfg], path.join(dir, 'log2'));
      expect((await second.exited).code).toBe(4);

      // SIGHUP with a broken file keeps the old configuration; with a good one, applies it.
      fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8') + '\n  bogus: 1\n');
      d.child.kill('SIGHUP');
      await waitForEvent(logFile, 'config.reload_failed');
      writeConfig(dir, outbox2);
      d.child.kill('SIGHUP');
      await waitForEvent(logFile, 'config.reloaded');
      fs.mkdirSync(outbox2, { recursive: true });
      fs.writeFileSync(path.join(outbox2, 'IT01234567890_00002.xml'), '<y/>');
      await waitFor(
        'file in the new folder claimed',
        () => fs.readdirSync(outbox2).filter((n) => !n.startsWith('.')).length === 0,
      );

      d.child.kill('SIGTERM');
      expect((await d.exited).code).toBe(0);
    },
  );
});
