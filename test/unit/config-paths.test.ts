import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { assertSecrets, missingSecrets, neededSecrets } from '../../src/config/secrets.js';
import { ConfigError } from '../../src/config/load.js';
import { ownedFolders } from '../../src/daemon.js';
import { tempDir, writeYaml } from '../helpers/tmp.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));
function tmp(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('every default path follows dataDir', () => {
  it('FATTURAD_DATA_DIR alone moves the store, the drop folder, the import folder, the archive and the simulator', () => {
    const c = loadConfig({ env: { FATTURAD_DATA_DIR: '/x' }, cwd: '/srv/y' });
    expect(c.dataDir).toBe('/x');
    expect(c.paths.db).toBe('/x/fatturad.db');
    expect(c.intake.folders).toEqual([
      { path: '/x/outbox', rejectedDir: '/x/rejected', duplicatesDir: '/x/duplicates' },
    ]);
    expect(c.passive.importDir).toBe('/x/inbox');
    expect(c.archive.dir).toBe('/x/archive');
    // The folders a daemon owns (and locks): nothing outside /x.
    for (const f of ownedFolders(c)) expect(f.folder.startsWith('/x/')).toBe(true);
    // The import folder is the ERP's: not locked.
    expect(ownedFolders(c).map((f) => f.folder)).toEqual(['/x/outbox', '/x/sim/deliver']);
  });

  it('the embedded defaults: everything under ./var of the working directory', () => {
    const c = loadConfig({ env: {}, cwd: '/srv/y' });
    expect(c.intake.folders.map((f) => f.path)).toEqual(['/srv/y/var/outbox']);
    expect(c.passive.importDir).toBe('/srv/y/var/inbox');
  });

  it('a relative dataDir in a file: the defaults under it, relative to the working directory', () => {
    const dir = tmp();
    const file = writeYaml(dir, 'c.yaml', 'dataDir: state\n');
    const c = loadConfig({ file, env: {}, cwd: '/w' });
    expect(c.intake.folders[0]?.path).toBe('/w/state/outbox');
    expect(c.passive.importDir).toBe('/w/state/inbox');
  });

  it('explicit settings win, relative to the working directory (not to dataDir)', () => {
    const dir = tmp();
    const file = writeYaml(
      dir,
      'c.yaml',
      'dataDir: /data\nintake:\n  folders: [{ path: erp/out }]\npassive:\n  importDir: erp/in\n',
    );
    const c = loadConfig({ file, env: {}, cwd: '/w' });
    expect(c.intake.folders[0]?.path).toBe('/w/erp/out');
    expect(c.passive.importDir).toBe('/w/erp/in');
    const e = loadConfig({
      env: { FATTURAD_DATA_DIR: '/data', FATTURAD_PASSIVE__IMPORT_DIR: '/srv/in' },
      cwd: '/w',
    });
    expect(e.passive.importDir).toBe('/srv/in');
    expect(e.intake.folders[0]?.path).toBe('/data/outbox');
  });

  it('no channel: the import folder is not owned; no simulator: its folder neither', () => {
    const c = loadConfig({ env: { FATTURAD_DATA_DIR: '/x', FATTURAD_CHANNEL__TYPE: 'none' }, cwd: '/' });
    expect(ownedFolders(c).map((f) => f.folder)).toEqual(['/x/outbox']);
  });
});

describe('secrets', () => {
  function config(yaml: string) {
    const dir = tmp();
    return { dir, config: loadConfig({ file: writeYaml(dir, 'c.yaml', yaml), env: {}, cwd: dir }) };
  }

  it('the embedded defaults need no secret (simulator)', () => {
    expect(neededSecrets(loadConfig({ env: {}, cwd: '/' }))).toEqual([]);
  });

  it('lists every missing secret with its key path and variable or file, never a value', () => {
    const { dir, config: c } = config(
      [
        'channel:',
        '  type: pec',
        '  pec:',
        '    address: fatture@pec.example.it',
        '    smtp: { host: smtp.example.it }',
        '    imap: { host: imap.example.it, passwordFile: secrets/imap-password }',
        'archive:',
        '  signing: { pfx: /etc/fatturad/sign.p12 }',
        '  tsa: { url: https://tsa.example/, user: ts, passwordEnv: TSA_PASSWORD }',
        'credentials:',
        '  files:',
        '    - { kind: sdiftp-signing-keystore, path: /etc/x.p12, passwordEnv: SDIFTP_FIRMA }',
      ].join('\n'),
    );
    const env = { FATTURAD_ARCHIVE_PASSPHRASE: 's3cr3t-value-1' };
    const missing = missingSecrets(c, env);
    expect(missing.map((m) => [m.key, m.name])).toEqual([
      ['channel.pec.smtp.passwordEnv', 'FATTURAD_PEC_PASSWORD'],
      ['channel.pec.imap.passwordFile', path.join(dir, 'secrets', 'imap-password')],
      ['archive.tsa.passwordEnv', 'TSA_PASSWORD'],
      ['credentials.files.0.passwordEnv', 'SDIFTP_FIRMA'],
    ]);
    for (const m of missing) {
      expect(m.problem.startsWith(m.key)).toBe(true);
      expect(m.problem).toContain(m.name);
      expect(m.problem).not.toContain('s3cr3t');
    }
    // All there: nothing missing.
    fs.mkdirSync(path.join(dir, 'secrets'));
    fs.writeFileSync(path.join(dir, 'secrets', 'imap-password'), 'x');
    expect(
      missingSecrets(c, { ...env, FATTURAD_PEC_PASSWORD: '', TSA_PASSWORD: 'p', SDIFTP_FIRMA: 'q' }),
    ).toEqual([]);
  });

  it.each([
    [
      'SDICoop PKCS#12',
      'channel:\n  sdicoop: { simulator: false, endpoint: "https://x/", clientPfx: /a.p12 }\n',
      ['channel.sdicoop.passphraseEnv'],
    ],
    ['SDICoop PEM', 'channel:\n  sdicoop: { simulator: false, clientCert: /a.pem, clientKey: /a.key }\n', []],
    ['SDICoop simulator with a PKCS#12 named', 'channel:\n  sdicoop: { clientPfx: /a.p12 }\n', []],
    [
      'PEC through the simulator: the mailbox password only',
      'channel:\n  type: pec\n  pec: { simulator: true }\n',
      ['channel.pec.smtp.passwordEnv'],
    ],
    [
      'PEC with no password source at all',
      'channel:\n  type: pec\n  pec: { smtp: { passwordEnv: "" } }\n',
      ['channel.pec.smtp.passwordEnv'],
    ],
    [
      'PEC password in a file (wins over the variable)',
      'channel:\n  type: pec\n  pec: { smtp: { passwordFile: /nonexistent/pec } }\n',
      ['channel.pec.smtp.passwordFile'],
    ],
    [
      'archive signing off with the archive off',
      'archive: { enabled: false, signing: { pfx: /s.p12 } }\n',
      [],
    ],
    [
      'archive signing PEM',
      'archive: { signing: { cert: /s.pem, key: /s.key } }\n',
      ['archive.signing.passphraseEnv'],
    ],
    ['TSA without a user', 'archive: { tsa: { url: "https://tsa/", passwordEnv: T } }\n', []],
    ['no channel', 'channel: { type: none }\n', []],
  ])('%s', (_name, yaml, keys) => {
    const { config: c } = config(yaml);
    expect(missingSecrets(c, {}).map((m) => m.key)).toEqual(keys);
  });

  it('assertSecrets throws a ConfigError (exit 3) naming each', () => {
    const { config: c } = config('channel:\n  type: pec\n');
    expect(() => assertSecrets(c, {})).toThrow(ConfigError);
    try {
      assertSecrets(c, {});
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        expect.stringMatching(/^channel\.pec\.smtp\.passwordEnv = "FATTURAD_PEC_PASSWORD": .*not set/),
      ]);
    }
  });
});

describe('days in the configuration', () => {
  it('archive.fiscal.returnDueDates: a day that does not exist is a configuration error', () => {
    const dir = tmp();
    const file = writeYaml(
      dir,
      'c.yaml',
      'archive:\n  fiscal:\n    returnDueDates: { "2019": "2020-02-30" }\n',
    );
    expect(() => loadConfig({ file, env: {}, cwd: dir })).toThrow(ConfigError);
    try {
      loadConfig({ file, env: {}, cwd: dir });
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        'archive.fiscal.returnDueDates.2019 = "2020-02-30": not a calendar day (YYYY-MM-DD)',
      ]);
    }
    const ok = writeYaml(
      dir,
      'ok.yaml',
      'archive:\n  fiscal:\n    returnDueDates: { "2019": "2020-12-10" }\n',
    );
    expect(loadConfig({ file: ok, env: {}, cwd: dir }).archive.fiscal.returnDueDates).toEqual({
      '2019': '2020-12-10',
    });
  });
});
