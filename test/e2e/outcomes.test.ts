import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { OutcomeRecord } from '../../src/outcomes/record.js';
import { runCli, waitFor, waitForEvent, type DaemonProcess } from '../helpers/daemon.js';
import { TestPki } from '../helpers/pki.js';
import { EX, example, exampleText } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The outcomes folder end to end, on the embedded default (SDICoop to the built-in simulator, the
 * folder under the data folder: the test's configuration does not mention it). An ERP-side poller
 * that only reads the outcomes folder, in a tight loop, parses every .json it sees (never a
 * half-written one), deletes what it has read for some files, and finds delivered, rejected with
 * SdI's errors, refused with the PA's reason and available for the right files. Then the daemon
 * is killed (SIGKILL) between a commit and its outcome file, and between the file and its record:
 * after a restart every outcome is there, once.
 */
vi.setConfig({ testTimeout: 240_000, hookTimeout: 180_000 });
const READY_MS = 120_000;
const t = tempDir('fatturad-e2e-outcomes-');
const dir = t.dir;
const outbox = path.join(dir, 'outbox');
const outcomesDir = path.join(dir, 'var', 'outcomes');
const cfg = path.join(dir, 'fatturad.yaml');
const FPR12 = exampleText(EX.b2b);
const FPA12 = exampleText(EX.pa);
let signer: TestPki;
let signerCert: { cert: string; key: string };
let daemon: DaemonProcess | null = null;
let run = 0;

let seq = 0;
function b2b(marker: string): Buffer {
  seq++;
  return Buffer.from(
    FPR12.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>OUT-${seq}</Numero>`).replace(
      '</FatturaElettronicaHeader>',
      `</FatturaElettronicaHeader><!-- fatturad-sim:${marker} -->`,
    ),
  );
}
function pa(marker: string): Buffer {
  seq++;
  const xml = Buffer.from(
    FPA12.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>OUTPA-${seq}</Numero>`).replace(
      '</FatturaElettronicaHeader>',
      `</FatturaElettronicaHeader><!-- fatturad-sim:${marker} -->`,
    ),
  );
  return signer.sign(xml, signerCert);
}

/** What the ERP saw: every outcome file by name, every id (a second file with one id would show). */
interface Seen {
  files: Map<string, OutcomeRecord>;
  ids: Map<number, string>;
  messages: Set<string>;
  parses: number;
  failures: string[];
  duplicateIds: string[];
}
const seen: Seen = {
  files: new Map(),
  ids: new Map(),
  messages: new Set(),
  parses: 0,
  failures: [],
  duplicateIds: [],
};
/** Files the ERP deletes once read (it may: nothing is written again). */
const deleteAfterRead = (name: string): boolean => name.startsWith('del-');
let polling = true;
let poller: Promise<void> | null = null;

/** The ERP side: reads only the outcomes folder, as fast as it can, until told to stop. */
async function poll(): Promise<void> {
  while (polling) {
    let names: string[] = [];
    try {
      names = await fsp.readdir(outcomesDir);
    } catch {
      names = [];
    }
    for (const name of names) {
      if (name.endsWith('.xml')) seen.messages.add(name);
      if (!name.endsWith('.json') || seen.files.has(name)) continue;
      let text: string;
      try {
        text = await fsp.readFile(path.join(outcomesDir, name), 'utf8');
      } catch {
        continue; // deleted by the ERP in between
      }
      seen.parses++;
      let r: OutcomeRecord;
      try {
        r = JSON.parse(text) as OutcomeRecord;
      } catch {
        seen.failures.push(`${name}: ${JSON.stringify(text.slice(0, 80))}`);
        continue;
      }
      seen.files.set(name, r);
      const before = seen.ids.get(r.id);
      if (before !== undefined) seen.duplicateIds.push(`${r.id}: ${before} and ${name}`);
      seen.ids.set(r.id, name);
      if (deleteAfterRead(name)) await fsp.rm(path.join(outcomesDir, name), { force: true });
    }
    await new Promise((r) => setImmediate(r));
  }
}

const outcomeOf = (file: string, state: string): OutcomeRecord | undefined =>
  [...seen.files.values()].find((r) => r.file === file && r.state === state);
const waitOutcome = (file: string, state: string, ms = 60_000): Promise<OutcomeRecord> =>
  waitFor(`outcome ${state} of ${file}`, () => outcomeOf(file, state), ms);

function start(env: NodeJS.ProcessEnv = {}): { d: DaemonProcess; log: string } {
  run++;
  const log = path.join(dir, `daemon-${run}.log`);
  daemon = runCli(['start', '--config', cfg], log, env);
  return { d: daemon, log };
}

async function stop(): Promise<void> {
  if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
  }
  daemon = null;
}

beforeAll(async () => {
  signer = new TestPki(path.join(dir, 'sign-ca'), 'Signature CA');
  signerCert = signer.issue('Mario Rossi');
  fs.mkdirSync(outbox, { recursive: true });
  // The embedded default, but for the folders, free ports and quick timings: outcomes not mentioned.
  fs.writeFileSync(
    cfg,
    [
      `dataDir: ${dir}/var`,
      'log: { level: info, format: json }',
      'http: { port: 0 }',
      'intake:',
      `  folders: [{ path: ${outbox} }]`,
      '  stableMs: 0',
      'sending: { pollMs: 200, retry: { initialMs: 200, maxMs: 800, maxAttempts: 0 } }',
      'archive: { enabled: false }',
      'simulator: { scenario: deliver, delayMs: 0 }',
      `passive: { importDir: ${dir}/inbox }`,
    ].join('\n'),
  );
  poller = poll();
  const { log } = start();
  await waitForEvent(log, 'daemon.ready', 0, READY_MS);
});

afterAll(async () => {
  polling = false;
  await poller;
  await stop();
  t.cleanup();
});

describe('the outcomes folder, seen from the ERP', () => {
  it('tells delivered, rejected with the errors, refused with the reason and available, for the right files', async () => {
    const drops: [string, Buffer][] = [
      ['del-1.xml', b2b('deliver')],
      ['del-2.xml', b2b('deliver')],
      ['deliver-3.xml', b2b('deliver')],
      ['ns-1.xml', b2b('reject')],
      ['mc-1.xml', b2b('mc-rc')],
      ['pa-refuse.xml.p7m', pa('refuse')],
      ['pa-accept.xml.p7m', pa('accept')],
      ['local-bad.xml', example(EX.invalid)],
    ];
    for (const [name, bytes] of drops) fs.writeFileSync(path.join(outbox, name), bytes);

    for (const f of ['del-1.xml', 'del-2.xml', 'deliver-3.xml']) {
      const r = await waitOutcome(f, 'delivered');
      expect(r).toMatchObject({ by: 'sdi', flow: 'b2b', sdiMessage: { kind: 'RC' } });
      expect(r.sdiName).toMatch(/^IT\w+_\w{5}\.xml$/);
      expect(r.identificativoSdI).toMatch(/^\d+$/);
      // Taken by SdI first, with the same names.
      expect(outcomeOf(f, 'sent')).toMatchObject({
        sdiName: r.sdiName,
        identificativoSdI: r.identificativoSdI,
      });
    }
    const ns = await waitOutcome('ns-1.xml', 'rejected');
    expect(ns).toMatchObject({ by: 'sdi', sdiMessage: { kind: 'NS' } });
    expect(ns.errors?.length).toBeGreaterThan(0);
    expect(ns.errors?.every((e) => /^\d{5}$/.test(e.code) && e.messageIt.length > 0)).toBe(true);
    const refused = await waitOutcome('pa-refuse.xml.p7m', 'refused');
    expect(refused).toMatchObject({ flow: 'pa', reason: 'Fattura rifiutata', sdiMessage: { kind: 'NE' } });
    expect(await waitOutcome('pa-accept.xml.p7m', 'accepted')).toMatchObject({ sdiMessage: { kind: 'NE' } });
    expect(await waitOutcome('mc-1.xml', 'available')).toMatchObject({ sdiMessage: { kind: 'MC' } });
    const local = await waitOutcome('local-bad.xml', 'rejected');
    expect(local).toMatchObject({ by: 'fatturad', sdiName: null });
    expect(local.errors?.map((e) => e.code).sort()).toEqual(['00422', '00423']);

    // Every file the ERP was told about is the right one, with SdI's message beside it.
    for (const r of [...seen.files.values()].filter((x) => x.sdiMessage))
      expect(seen.messages.has(r.sdiMessage?.file ?? '')).toBe(true);
    expect(outcomeOf('ns-1.xml', 'delivered')).toBeUndefined();
    expect(outcomeOf('del-1.xml', 'rejected')).toBeUndefined();
    // Never a half-written file, and what the ERP deleted was not written again.
    expect(seen.failures).toEqual([]);
    expect(seen.parses).toBeGreaterThanOrEqual(seen.files.size);
    expect(seen.duplicateIds).toEqual([]);
    expect(fs.existsSync(path.join(outcomesDir, 'del-1.xml.delivered.json'))).toBe(false);
    // show names the files the ERP was given (one for each state change written).
    const shown = JSON.parse(
      execFileSync(
        process.execPath,
        [path.resolve('dist/cli.js'), 'show', '--json', '--config', cfg, 'ns-1.xml'],
        {
          encoding: 'utf8',
        },
      ),
    ) as { outcomes: { file: string; path: string }[] }[];
    expect(shown[0]?.outcomes.map((o) => o.file)).toContain('ns-1.xml.rejected.json');
    expect(shown[0]?.outcomes.every((o) => o.path === path.join(outcomesDir, o.file))).toBe(true);
    // The administration's reason for refusing is in show's timeline too.
    const refusedShown = JSON.parse(
      execFileSync(
        process.execPath,
        [path.resolve('dist/cli.js'), 'show', '--json', '--config', cfg, 'pa-refuse.xml.p7m'],
        { encoding: 'utf8' },
      ),
    ) as { timeline: { to: string; reason: string | null; details: { paReason?: string } | null }[] }[];
    const ec02 = refusedShown[0]?.timeline.find((x) => x.to === 'refused');
    expect(ec02?.reason).toContain('Fattura rifiutata');
    expect(ec02?.details?.paReason).toBe('Fattura rifiutata');
  });

  it.each([['outcome-before-write'], ['outcome-before-mark']])(
    'a SIGKILL at %s loses no outcome and writes none twice',
    async (point) => {
      await stop();
      const first = start({ TEST_CRASH_AT: point });
      await waitForEvent(first.log, 'daemon.ready', 0, READY_MS);
      const name = `crash-${point}.xml`;
      fs.writeFileSync(path.join(outbox, name), b2b('deliver'));
      // The daemon kills itself when it comes to write the first outcome of the file (sent).
      const exit = await first.d.exited;
      expect(exit.signal).toBe('SIGKILL');
      // Before the write: no file yet. Before the record: the file is there, the store does not know it.
      expect(fs.existsSync(path.join(outcomesDir, `${name}.sent.json`))).toBe(
        point === 'outcome-before-mark',
      );
      const again = start();
      await waitForEvent(again.log, 'daemon.ready', 0, READY_MS);
      await waitOutcome(name, 'sent');
      // The restarted daemon has gone past every state change of the file (its catch-up is done).
      await waitFor('the catch-up', () => {
        const db = new Database(path.join(dir, 'var', 'fatturad.db'), { readonly: true });
        try {
          const r = db
            .prepare(
              `SELECT (SELECT after_transition FROM outcome_cursor) AS cursor,
                      (SELECT max(t.id) FROM transitions t JOIN documents d ON d.id = t.document_id
                        WHERE d.original_name = ? AND t.to_state = 'sent') AS sent`,
            )
            .get(name) as { cursor: number; sent: number | null };
          return r.sent !== null && r.cursor >= r.sent;
        } finally {
          db.close();
        }
      });
      // Nothing written twice: one file per state change, whatever the crash left.
      const files = fs.readdirSync(outcomesDir).filter((f) => f.startsWith(name) && f.endsWith('.json'));
      expect(files.filter((f) => f.includes('.sent.'))).toEqual([`${name}.sent.json`]);
      expect(seen.duplicateIds).toEqual([]);
      expect(seen.failures).toEqual([]);
    },
  );
});
