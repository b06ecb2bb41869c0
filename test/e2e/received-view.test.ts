import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSimPki, type SimPki } from '../../src/sim/certs.js';
import type { SdiSimulator } from '../../src/sim/simulator.js';
import { buildNotification } from '../../src/notifications/build.js';
import {
  CLI,
  readLog,
  runCli,
  waitFor,
  waitForEvent,
  writeExternalSdicoopConfig,
  type DaemonProcess,
} from '../helpers/daemon.js';
import { TestPki } from '../helpers/pki.js';
import { freePort } from '../helpers/ports.js';
import { startSdiSimulator } from '../helpers/sdi-sim.js';
import { EX, exampleText } from '../helpers/spec.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Received invoices in view, end to end: the real daemon receives invoices from the SdI simulator
 * (SOAP over HTTPS with mutual TLS, in this process): a signed `.xml.p7m`, a signed one whose
 * content was altered after signing, and a plain `.xml`. Each signed one arrives in the import
 * folder as `.p7m` and unwrapped `.xml` (the altered one too, its problem recorded and shown);
 * `fatturad status` counts them by where they stand for the ERP; `fatturad show` finds each by
 * file name, IdentificativoSdI, invoice number and cedente (name and partita IVA). Every command
 * is run as a new process and must not print a stack trace.
 */
const run = promisify(execFile);
const FPR12 = exampleText(EX.b2b);

const t = tempDir('fatturad-e2e-received-view-');
let pki: SimPki;
let signer: TestPki;
let signerCert: { cert: string; key: string };

/** A B2B invoice from its own cedente with its own number. */
function invoice(numero: string, denominazione: string, idCodice: string): Buffer {
  return Buffer.from(
    FPR12.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>${numero}</Numero>`)
      .replace(
        '<Denominazione>OFFICINE ESEMPIO SRL</Denominazione>',
        `<Denominazione>${denominazione}</Denominazione>`,
      )
      .replace(
        /(<CedentePrestatore>\s*<DatiAnagrafici>\s*<IdFiscaleIVA>\s*<IdPaese>IT<\/IdPaese>\s*<IdCodice>)12345670017/,
        `$1${idCodice}`,
      ),
  );
}

type StatusJson = { received: Record<string, unknown> };

const STACK = /\n\s+at .+[(\s].*:\d+:\d+\)?/;

describe('received invoices in view', () => {
  let daemon: DaemonProcess;
  let sim: SdiSimulator;
  let cfg = '';
  let inbox = '';
  let logFile = '';
  const ids: Record<string, string> = {};

  async function cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const r = await run(process.execPath, [CLI, ...args, '--config', cfg], { env: { ...process.env } });
      expect(r.stderr).not.toMatch(STACK);
      return { stdout: r.stdout, stderr: r.stderr, code: 0 };
    } catch (err) {
      const e = err as { stdout: string; stderr: string; code: number };
      expect(e.stderr).not.toMatch(STACK);
      expect(e.stdout).not.toMatch(STACK);
      return { stdout: e.stdout, stderr: e.stderr, code: e.code };
    }
  }

  beforeAll(async () => {
    pki = await ensureSimPki(path.join(t.dir, 'pki'));
    signer = new TestPki(path.join(t.dir, 'sign-ca'), 'Signature CA');
    signerCert = signer.issue('Mario Rossi');
    const dir = path.join(t.dir, 'd');
    inbox = path.join(dir, 'inbox');
    fs.mkdirSync(path.join(dir, 'outbox'), { recursive: true });
    const daemonPort = await freePort();
    const simPort = await freePort();
    cfg = writeExternalSdicoopConfig(dir, `${dir}/outbox`, {
      pki,
      simPort,
      daemonPort,
      importDir: inbox,
      extra: [`validation: { trustedCAs: [${signer.ca.cert}] }`],
    });
    sim = await startSdiSimulator(pki, { simPort, daemonPort });
    logFile = path.join(dir, 'daemon.log');
    daemon = runCli(['start', '--config', cfg], logFile);
    await waitForEvent(logFile, 'daemon.ready');

    // A signed invoice, a signed one altered after signing (same length: the envelope still
    // reads, the signature does not verify), and a plain one.
    const signed = signer.sign(invoice('RV-1', 'FORNITORE FIRMATO SRL', '11111111111'), signerCert);
    const altered = signer.sign(invoice('RV-2', 'FORNITORE ALTERATO SRL', '22222222222'), signerCert);
    const at = altered.indexOf('FORNITORE ALTERATO SRL');
    expect(at).toBeGreaterThan(0);
    altered.write('FORNITORE MODIFICA SRL', at, 'latin1');
    ids.signed = await sim.deliverPassive('IT11111111111_00001.xml.p7m', signed);
    ids.altered = await sim.deliverPassive('IT22222222222_00001.xml.p7m', altered);
    // A large one (read on the validation worker): found all the same by its number and cedente.
    const large = invoice('RV-4', 'FORNITORE GRANDE SRL', '44444444444');
    const padded = Buffer.concat([
      large.subarray(0, large.lastIndexOf('</')),
      Buffer.from(`<!-- ${'x'.repeat(100 * 1024)} -->`),
      large.subarray(large.lastIndexOf('</')),
    ]);
    ids.large = await sim.deliverPassive('IT44444444444_00001.xml.p7m', signer.sign(padded, signerCert));
    ids.plain = await sim.deliverPassive(
      'IT33333333333_00001.xml',
      invoice('RV-3', 'FORNITORE SEMPLICE SPA', '33333333333'),
    );
    await waitFor('four received invoices written', () =>
      readLog(logFile).filter((l) => l.event === 'passive.delivered').length >= 4 ? true : undefined,
    );
  }, 120_000);

  afterAll(async () => {
    daemon?.child.kill('SIGTERM');
    await daemon?.exited;
    await sim?.close();
    t.cleanup();
  });

  it('a received .p7m arrives as .p7m and unwrapped .xml; a broken signature delivers both and is logged', () => {
    const files = fs.readdirSync(inbox).sort();
    expect(files).toEqual(
      expect.arrayContaining([
        'IT11111111111_00001.xml.p7m',
        'IT11111111111_00001.xml',
        'IT22222222222_00001.xml.p7m',
        'IT22222222222_00001.xml',
        'IT33333333333_00001.xml',
        'IT44444444444_00001.xml.p7m',
        'IT44444444444_00001.xml',
      ]),
    );
    // The .xml is the signed content, byte for byte.
    expect(fs.readFileSync(path.join(inbox, 'IT11111111111_00001.xml'), 'utf8')).toBe(
      invoice('RV-1', 'FORNITORE FIRMATO SRL', '11111111111').toString('utf8'),
    );
    expect(fs.readFileSync(path.join(inbox, 'IT22222222222_00001.xml'), 'utf8')).toContain(
      'FORNITORE MODIFICA SRL',
    );
    // The MT of each, beside it; no temporary file left.
    expect(files.filter((f) => /_MT_\d+\.xml$/.test(f))).toHaveLength(4);
    expect(files.filter((f) => f.startsWith('.') || f.endsWith('.tmp'))).toEqual([]);
    const bad = readLog(logFile).filter((l) => l.event === 'passive.signature_invalid');
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ file: 'IT22222222222_00001.xml.p7m', status: 'invalid' });
    expect(bad[0]?.codes).toContain('00102');
  });

  it('show finds a received invoice by file name, IdentificativoSdI, number and cedente', async () => {
    const refs = [
      'IT11111111111_00001.xml.p7m',
      'IT11111111111_00001.xml',
      ids.signed ?? '',
      'RV-1',
      'fornitore firmato',
      'IT11111111111',
      '11111111111',
    ];
    for (const ref of refs) {
      const text = await cli(['show', ref]);
      expect(text.code, ref).toBe(0);
      expect(text.stdout, ref).toContain('Received invoice');
      expect(text.stdout, ref).toContain('IT11111111111_00001.xml.p7m');
      expect(text.stdout, ref).not.toContain('IT22222222222');
      const json = await cli(['show', ref, '--json']);
      const [v] = JSON.parse(json.stdout) as {
        kind: string;
        nomeFile: string;
        identificativoSdI: string;
        state: string;
        signature: { status: string; issuer: string };
        invoices: { numero: string; cedenteName: string; cedentePiva: string }[];
        metadata: { name: string; codiceDestinatario?: string };
        xml: { name: string; deliveredPath: string };
        timeline: unknown[];
      }[];
      expect(v).toMatchObject({
        kind: 'received',
        nomeFile: 'IT11111111111_00001.xml.p7m',
        identificativoSdI: ids.signed,
        state: 'waiting-for-import',
        signature: { status: 'valid', issuer: 'trusted' },
        invoices: [{ numero: 'RV-1', cedenteName: 'FORNITORE FIRMATO SRL', cedentePiva: 'IT11111111111' }],
        xml: { name: 'IT11111111111_00001.xml', deliveredPath: path.join(inbox, 'IT11111111111_00001.xml') },
      });
      expect(v?.metadata.name).toMatch(/^IT11111111111_00001_MT_001\.xml$/);
      expect(v?.timeline.length).toBeGreaterThanOrEqual(3);
    }
    const text = await cli(['show', 'RV-1']);
    expect(text.stdout).toContain('signature: verifies, issuer trusted');
    expect(text.stdout).toContain('metadata (MT): IT11111111111_00001_MT_001.xml');
    expect(text.stdout).toContain(
      'invoice number RV-1 of 2026-01-15 (TD01) from FORNITORE FIRMATO SRL, IT11111111111',
    );

    // The altered one: found, its problem shown in words.
    const altered = await cli(['show', 'RV-2']);
    expect(altered.stdout).toContain('IT22222222222_00001.xml.p7m');
    expect(altered.stdout).toContain('DOES NOT VERIFY (00102');
    expect(altered.stdout).toContain('delivered all the same');
    // The large one, by its number and by its supplier's name.
    for (const ref of ['RV-4', 'grande', '44444444444']) {
      const [v] = JSON.parse((await cli(['show', ref, '--json'])).stdout) as {
        nomeFile: string;
        signature: { status: string };
        invoices: { numero: string; cedenteName: string; cedentePiva: string }[];
      }[];
      expect(v, ref).toMatchObject({
        nomeFile: 'IT44444444444_00001.xml.p7m',
        signature: { status: 'valid' },
        invoices: [{ numero: 'RV-4', cedenteName: 'FORNITORE GRANDE SRL', cedentePiva: 'IT44444444444' }],
      });
    }
    // Nothing of that name: exit 1, one line.
    const none = await cli(['show', 'NO-SUCH-INVOICE']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no document NO-SUCH-INVOICE');
  }, 120_000);

  it('status counts received invoices by where they stand for the ERP', async () => {
    const before = await cli(['status', '--json']);
    expect((JSON.parse(before.stdout) as StatusJson).received).toMatchObject({
      total: 4,
      waitingForImport: 4,
      imported: 0,
      ecSent: 0,
      notWritten: 0,
      importDir: inbox,
    });
    // The ERP takes the plain invoice, and only the unwrapped .xml of the signed one.
    fs.rmSync(path.join(inbox, 'IT33333333333_00001.xml'));
    fs.rmSync(path.join(inbox, 'IT11111111111_00001.xml'));
    const after = await cli(['status', '--json']);
    expect((JSON.parse(after.stdout) as StatusJson).received).toMatchObject({
      total: 4,
      waitingForImport: 2,
      imported: 2,
    });
    const text = await cli(['status']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Received invoices: 4/);
    expect(text.stdout).toMatch(/waiting for import\s+2\s+in the import folder, not yet taken by the ERP/);
    expect(text.stdout).toMatch(/imported\s+2\s+taken from the import folder by the ERP/);
    expect(text.stdout).toMatch(/EC sent\s+0/);
    // SdI's DT about a received invoice (15 days without the recipient's outcome): recorded as
    // about that invoice, not an unmatched message, and in its timeline.
    const from = readLog(logFile).length;
    sim.notify({
      kind: 'DT',
      operation: 'NotificaDecorrenzaTermini',
      identificativoSdI: ids.plain ?? '',
      fileName: 'IT33333333333_00001_DT_001.xml',
      bytes: buildNotification({
        kind: 'DT',
        family: 'pa',
        identificativoSdI: ids.plain ?? '',
        nomeFile: 'IT33333333333_00001.xml',
        descrizione: 'Decorrenza termini',
      }),
    });
    const dt = await waitForEvent(logFile, 'notification.received', from);
    expect(dt).toMatchObject({ kind: 'DT', identificativoSdI: ids.plain });
    expect(
      readLog(logFile)
        .slice(from)
        .filter((l) => l.event === 'notification.unmatched'),
    ).toEqual([]);
    // SdI's SE about an esito committente for the large one: an EC was sent for it.
    const before2 = readLog(logFile).length;
    sim.notify({
      kind: 'SE',
      operation: 'NotificaEsito',
      identificativoSdI: ids.large ?? '',
      fileName: 'IT44444444444_00001_SE_001.xml',
      bytes: buildNotification({
        kind: 'SE',
        family: 'pa',
        identificativoSdI: ids.large ?? '',
        nomeFile: 'IT44444444444_00001.xml.p7m',
        scarto: 'EN01',
      }),
    });
    await waitForEvent(logFile, 'notification.received', before2);
    const withEc = await cli(['status', '--json']);
    expect((JSON.parse(withEc.stdout) as StatusJson).received).toMatchObject({
      total: 4,
      waitingForImport: 1,
      imported: 2,
      ecSent: 1,
    });
    const shown = await cli(['show', '--received', ids.plain ?? '', '--json']);
    expect((JSON.parse(shown.stdout) as unknown[])[0]).toMatchObject({
      state: 'imported',
      nomeFile: 'IT33333333333_00001.xml',
    });
    const { timeline } = (JSON.parse(shown.stdout) as unknown[])[0] as { timeline: { what: string }[] };
    expect(timeline.map((e) => e.what)).toContainEqual(
      expect.stringMatching(/^SdI message DT IT33333333333_00001_DT_001\.xml/),
    );
  }, 120_000);
});
