import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daysLeft, daysSince, daysText, expiryText } from '../../src/credentials/days.js';
import { validity } from '../../src/credentials/inspect.js';
import { statusOf, type CertificateInfo, type Credential } from '../../src/credentials/model.js';
import { CLI } from '../helpers/daemon.js';
import { TestPki } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * One rule for "days until / since" (src/credentials/days.ts): whole 24-hour days truncated
 * toward zero, used alike by `credentials`, `credentials inspect` and the monitor.
 */
const H = 3_600_000;
const D = 24 * H;
const now = new Date('2026-03-29T00:30:00Z'); // the night Europe/Rome moves to summer time

describe('days until / since', () => {
  it.each([
    [3 * D + 23 * H + 59 * 60_000, 3, false, '3 days left'],
    [D, 1, false, '1 day left'],
    [D - 1, 0, false, 'less than a day left'],
    [1, 0, false, 'less than a day left'],
    [0, 0, true, 'EXPIRED less than a day ago'],
    [-1, 0, true, 'EXPIRED less than a day ago'],
    [-(D - 1), 0, true, 'EXPIRED less than a day ago'],
    [-D, -1, true, 'EXPIRED 1 day ago'],
    [-(3 * D + H), -3, true, 'EXPIRED 3 days ago'],
    [-(3 * D + 23 * H), -3, true, 'EXPIRED 3 days ago'],
    [-4 * D, -4, true, 'EXPIRED 4 days ago'],
  ])('expiry at now %+d ms: %d days, expired %s, "%s"', (delta, days, expired, text) => {
    const at = new Date(now.getTime() + delta);
    expect(daysLeft(at, now)).toBe(days);
    expect(Object.is(daysLeft(at, now), -0)).toBe(false);
    expect(daysSince(at, now)).toBe(days === 0 ? 0 : -days);
    // The credentials list and inspect say the same thing about the same instant.
    const cred = { expiresAt: at, thresholds: [60, 30, 7, 1] } as unknown as Credential;
    const cert = { notAfter: at, notBefore: new Date(0) } as unknown as CertificateInfo;
    const s = statusOf(cred, now);
    const v = validity(cert, now);
    expect('daysLeft' in s && s.daysLeft).toBe(days);
    expect(v.daysLeft).toBe(days);
    expect(s.state === 'expired').toBe(expired);
    expect(v.state === 'expired').toBe(expired);
    expect(expiryText(expired ? -days : days, expired)).toBe(text);
  });

  it('thresholds: crossed when daysLeft < t', () => {
    const cred = (ms: number) =>
      ({ expiresAt: new Date(now.getTime() + ms), thresholds: [7, 1] }) as unknown as Credential;
    expect(statusOf(cred(7 * D), now)).toEqual({ state: 'ok', daysLeft: 7 });
    expect(statusOf(cred(7 * D - 1), now)).toEqual({ state: 'expiring', daysLeft: 6, threshold: 7 });
    expect(statusOf(cred(D - 1), now)).toEqual({ state: 'expiring', daysLeft: 0, threshold: 1 });
  });

  it('daysText', () => {
    expect([0, 1, 2, -2].map(daysText)).toEqual(['less than a day', '1 day', '2 days', '2 days']);
  });
});

describe('credentials and credentials inspect agree (CLI)', () => {
  const run = promisify(execFile);
  const t = tempDir('fatturad-days-');
  let cert: string;
  beforeAll(() => {
    const pki = new TestPki(path.join(t.dir, 'ca'), 'Days CA');
    // Expired 3 days and 1 hour ago: "3 days ago" everywhere (the list said 4, inspect 3).
    const end = new Date(Date.now() - (3 * D + H));
    const stamp = end.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
    cert = pki.issue('Old Signer', { start: '20200101000000Z', end: stamp }).cert;
  });
  afterAll(() => t.cleanup());

  it('an expired certificate: the same count of days in both commands', async () => {
    const inspect = await run(process.execPath, [CLI, 'credentials', 'inspect', cert]).catch(
      (e: { stdout: string }) => e,
    );
    expect(inspect.stdout).toContain('EXPIRED 3 days ago');
    const cfg = path.join(t.dir, 'c.yaml');
    fs.writeFileSync(
      cfg,
      [
        `dataDir: ${t.dir}/var`,
        'channel: { type: none }',
        'archive: { enabled: false }',
        `credentials: { files: [{ kind: certificate, path: ${cert} }] }`,
      ].join('\n'),
    );
    const list = await run(process.execPath, [CLI, 'credentials', '--config', cfg]).catch(
      (e: { stdout: string; code: number }) => e,
    );
    expect(list.stdout).toContain('EXPIRED 3 days ago');
    expect(list.stdout).not.toContain('4 days');
  });
});
