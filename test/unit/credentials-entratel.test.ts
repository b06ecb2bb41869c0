import { describe, expect, it } from 'vitest';
import { crossCheck, entratelExpiry, parseRomeDateTime } from '../../src/credentials/entratel.js';
import {
  CREDENTIAL_KINDS,
  DEFAULT_THRESHOLDS,
  statusOf,
  type Credential,
} from '../../src/credentials/model.js';
import { kindLabel, renewalSteps } from '../../src/credentials/renewal.js';

/**
 * The Entratel security environment expires three years after its generation, to the day and
 * minute, Italian time. Where a local time maps to no instant or to two, the earlier instant wins.
 * Europe/Rome: CET (UTC+1) in winter, CEST (UTC+2) from the last Sunday of March 02:00 to the last
 * Sunday of October 03:00.
 */

const utc = (iso: string): string => new Date(iso).toISOString();
const expiryOf = (local: string): Date => {
  const generated = parseRomeDateTime(local);
  if (!generated) throw new Error(`unparsable ${local}`);
  return entratelExpiry(generated).expiresAt;
};

describe('parseRomeDateTime', () => {
  it.each([
    // text, instant (UTC)
    ['2022-10-30 15:11', '2022-10-30T14:11:00.000Z'], // CET: 2022's fall-back was that morning
    ['2022-07-01 15:11', '2022-07-01T13:11:00.000Z'], // CEST
    ['2022-07-01 15:11:42', '2022-07-01T13:11:42.000Z'],
    ['2022-07-01T15:11:42.5', '2022-07-01T13:11:42.500Z'],
    [' 2022-01-15 00:00 ', '2022-01-14T23:00:00.000Z'],
    ['2024-02-29 23:59:59', '2024-02-29T22:59:59.000Z'],
    // with an offset: an instant, Europe/Rome plays no part
    ['2022-10-30T15:11:00Z', '2022-10-30T15:11:00.000Z'],
    ['2022-10-30T15:11+02:00', '2022-10-30T13:11:00.000Z'],
    ['2022-10-30T15:11:00.250-0530', '2022-10-30T20:41:00.250Z'],
    // spring-forward gap (30 March 2025, 02:00-02:59 does not exist): read with +02:00
    ['2025-03-30 02:30', '2025-03-30T00:30:00.000Z'],
    ['2025-03-30 02:00', '2025-03-30T00:00:00.000Z'],
    ['2025-03-30 01:59', '2025-03-30T00:59:00.000Z'],
    ['2025-03-30 03:00', '2025-03-30T01:00:00.000Z'],
    // fall-back overlap (26 October 2025, 02:00-02:59 twice): the first, CEST
    ['2025-10-26 02:30', '2025-10-26T00:30:00.000Z'],
    ['2025-10-26 01:59', '2025-10-25T23:59:00.000Z'],
    ['2025-10-26 03:00', '2025-10-26T02:00:00.000Z'],
  ])('%j → %s', (text, instant) => {
    expect(parseRomeDateTime(text)?.toISOString()).toBe(instant);
  });

  it.each([
    '',
    '2022-10-30',
    '2022-10-30 15',
    '30/10/2022 15:11',
    '2022-10-30 15:11 Europe/Rome',
    '2023-02-29 10:00',
    '0999-01-01 10:00',
    '2022-13-01 10:00',
    '2022-00-10 10:00',
    '2022-04-31 10:00',
    '2022-10-30 24:00',
    '2022-10-30 15:60',
    '2022-10-30 15:11:60',
    '2022-10-30 5:11',
    '2022-10-30T15:11+25:00',
    '2022-10-30T15:11.5',
  ])('%j → null', (text) => {
    expect(parseRomeDateTime(text)).toBeNull();
  });
});

describe('entratelExpiry', () => {
  it("the digest's example: generated 30 Oct 2022 15:11 → expires 30 Oct 2025 15:11 Rome", () => {
    const generated = parseRomeDateTime('2022-10-30 15:11');
    expect(generated).not.toBeNull();
    const e = entratelExpiry(generated as Date);
    expect(e.expiresAt.toISOString()).toBe('2025-10-30T14:11:00.000Z');
    expect(e.computedFrom).toBe('generated 2022-10-30 15:11 Europe/Rome + 3 years');
  });

  it('keeps the local time across a change of offset (summer → winter, winter → summer)', () => {
    // 28 Oct: CEST in 2022 (fall-back on the 30th), CET in 2025 (fall-back on the 26th)
    expect(utc('2022-10-28T07:00Z')).toBe(parseRomeDateTime('2022-10-28 09:00')?.toISOString());
    expect(expiryOf('2022-10-28 09:00').toISOString()).toBe('2025-10-28T08:00:00.000Z');
    // 28 Oct: CET in 2024 (fall-back on the 27th), CEST in 2027 (fall-back on the 31st)
    expect(expiryOf('2024-10-28 09:00').toISOString()).toBe('2027-10-28T07:00:00.000Z');
    // 29 Mar: CET in 2025 (spring-forward on the 30th), CEST in 2028 (spring-forward on the 26th)
    expect(expiryOf('2025-03-29 09:00').toISOString()).toBe('2028-03-29T07:00:00.000Z');
    // 28 Mar: CEST in 2022 (spring-forward on the 27th), CET in 2025 (spring-forward on the 30th)
    expect(expiryOf('2022-03-28 09:00').toISOString()).toBe('2025-03-28T08:00:00.000Z');
  });

  it('29 February → 28 February, same local time', () => {
    const e = entratelExpiry(parseRomeDateTime('2024-02-29 10:00') as Date);
    expect(e.expiresAt.toISOString()).toBe('2027-02-28T09:00:00.000Z');
    expect(e.computedFrom).toBe(
      'generated 2024-02-29 10:00 Europe/Rome + 3 years (29 February 2027 does not exist → 28 February)',
    );
  });

  it('02:30 on the anniversary of a spring-forward day → 01:30 CET, the earlier instant', () => {
    // 30 March 2022 was an ordinary CEST day; 30 March 2025 is the spring-forward day.
    const generated = parseRomeDateTime('2022-03-30 02:30') as Date;
    expect(generated.toISOString()).toBe('2022-03-30T00:30:00.000Z');
    const e = entratelExpiry(generated);
    expect(e.expiresAt.toISOString()).toBe('2025-03-30T00:30:00.000Z');
    // before the gap: earlier than 03:00 CEST (01:00 UTC), the first instant after it
    expect(e.expiresAt.getTime()).toBeLessThan(Date.parse('2025-03-30T01:00:00Z'));
    expect(e.computedFrom).toBe(
      'generated 2022-03-30 02:30 Europe/Rome + 3 years ' +
        '(02:30 does not exist on 2025-03-30 (clocks go forward) → 2025-03-30 01:30 Europe/Rome, the earlier instant)',
    );
  });

  it('an ambiguous fall-back time → the first of the two instants (CEST)', () => {
    // 26 October 2022 was an ordinary CEST day; 26 October 2025 is the fall-back day.
    const e = entratelExpiry(parseRomeDateTime('2022-10-26 02:30') as Date);
    expect(e.expiresAt.toISOString()).toBe('2025-10-26T00:30:00.000Z');
    expect(e.computedFrom).toBe(
      'generated 2022-10-26 02:30 Europe/Rome + 3 years ' +
        '(02:30 happens twice on 2025-10-26 (clocks go back) → the first, UTC+02:00)',
    );
  });

  it('a generation during the repeated hour is labelled with its offset', () => {
    // 30 October 2022, 02:30 CET (the second 02:30); 30 October 2025 is an ordinary CET day.
    const e = entratelExpiry(new Date('2022-10-30T01:30:00Z'));
    expect(e.expiresAt.toISOString()).toBe('2025-10-30T01:30:00.000Z');
    expect(e.computedFrom).toBe('generated 2022-10-30 02:30 Europe/Rome (UTC+01:00) + 3 years');
  });

  it('expires at the start of the minute (seconds dropped)', () => {
    const e = entratelExpiry(new Date('2022-07-01T13:11:42.999Z'));
    expect(e.expiresAt.toISOString()).toBe('2025-07-01T13:11:00.000Z');
  });

  it('a generation 3 years minus 5 days ago expires in 5 days, inside the 7-day threshold', () => {
    const now = new Date('2025-06-15T10:00:00Z'); // 12:00 CEST
    const e = entratelExpiry(parseRomeDateTime('2022-06-20 12:00') as Date);
    expect(e.expiresAt.getTime() - now.getTime()).toBe(5 * 86_400_000);
    const credential: Credential = {
      id: 'entratel',
      kind: 'entratel-environment',
      label: kindLabel('entratel-environment'),
      source: 'credentials.entratel.generatedAt',
      expiresAt: e.expiresAt,
      computedFrom: e.computedFrom,
      thresholds: DEFAULT_THRESHOLDS,
      renewal: renewalSteps('entratel-environment'),
      certificates: [],
      weaknesses: [],
    };
    expect(statusOf(credential, now)).toEqual({ state: 'expiring', daysLeft: 5, threshold: 7 });
  });

  it('refuses an invalid date', () => {
    expect(() => entratelExpiry(new Date(Number.NaN))).toThrow(RangeError);
  });
});

describe('crossCheck', () => {
  const computed = entratelExpiry(parseRomeDateTime('2022-10-30 15:11') as Date); // 2025-10-30T14:11Z
  const signing = 'CN=ABCDEF80A01H501X,OU=Firma';
  const encryption = 'CN=ABCDEF80A01H501X,OU=Cifra';

  it('without readable certificates the computed expiry stands', () => {
    expect(crossCheck(computed, [])).toEqual({
      expiresAt: computed.expiresAt,
      notes: [],
      computedFrom: computed.computedFrom,
    });
    expect(crossCheck({ expiresAt: computed.expiresAt }, []).computedFrom).toBe('generation date + 3 years');
  });

  it('agreement within a day: the certificates win, no notes', () => {
    const r = crossCheck(computed, [
      { subject: signing, notAfter: new Date('2025-10-30T14:14:05Z') },
      { subject: encryption, notAfter: new Date('2025-10-30T14:14:07Z') },
    ]);
    expect(r.expiresAt.toISOString()).toBe('2025-10-30T14:14:05.000Z');
    expect(r.computedFrom).toBe(`notAfter of ${signing} (the earliest of 2 certificates)`);
    expect(r.notes).toEqual([]);
  });

  it('exactly one day apart is still agreement', () => {
    const r = crossCheck(computed, [{ subject: signing, notAfter: new Date('2025-10-31T14:11:00Z') }]);
    expect(r.notes).toEqual([]);
    expect(r.computedFrom).toBe(`notAfter of ${signing}`);
  });

  it('disagreement by more than a day: a note, the certificates are authoritative', () => {
    const r = crossCheck(computed, [{ subject: signing, notAfter: new Date('2025-11-02T09:00:00Z') }]);
    expect(r.expiresAt.toISOString()).toBe('2025-11-02T09:00:00.000Z');
    expect(r.notes).toHaveLength(1);
    expect(r.notes[0]).toBe(
      `${signing} expires 2025-11-02 10:00 Europe/Rome, 2 days after the expiry computed from the generation ` +
        'date (2025-10-30 15:11 Europe/Rome); the certificates are authoritative — check ' +
        'credentials.entratel.generatedAt (it must be updated at each renewal)',
    );
  });

  it('a certificate expiring earlier than computed wins too', () => {
    const r = crossCheck(computed, [{ subject: signing, notAfter: new Date('2025-09-30T10:00:00Z') }]);
    expect(r.expiresAt.toISOString()).toBe('2025-09-30T10:00:00.000Z');
    expect(r.notes[0]).toContain('30 days before the expiry computed from the generation date');
  });

  it('certificates disagreeing among themselves: the earliest counts, with a note', () => {
    const r = crossCheck(computed, [
      { subject: encryption, notAfter: new Date('2025-12-01T10:00:00Z') },
      { subject: signing, notAfter: new Date('2025-10-30T14:12:00Z') },
    ]);
    expect(r.expiresAt.toISOString()).toBe('2025-10-30T14:12:00.000Z');
    expect(r.notes).toHaveLength(2);
    expect(r.notes[0]).toContain(`${encryption} expires 2025-12-01 11:00 Europe/Rome, 31 days after`);
    expect(r.notes[1]).toBe(
      `the environment's certificates expire on different dates (${signing}: 2025-10-30 15:12 Europe/Rome, ` +
        `${encryption}: 2025-12-01 11:00 Europe/Rome); the earliest one counts`,
    );
  });

  it('ignores CA certificates and invalid dates', () => {
    const r = crossCheck(computed, [
      { subject: 'CN=CA Agenzia delle Entrate', notAfter: new Date('2035-01-01T00:00:00Z'), isCA: true },
      { subject: encryption, notAfter: new Date(Number.NaN) },
      { subject: signing, notAfter: new Date('2025-10-30T14:12:00Z') },
    ]);
    expect(r.expiresAt.toISOString()).toBe('2025-10-30T14:12:00.000Z');
    expect(r.computedFrom).toBe(`notAfter of ${signing}`);
    expect(r.notes).toEqual([
      `the notAfter of ${encryption} is not a valid date; that certificate is ignored`,
    ]);
  });
});

describe('renewal steps', () => {
  it.each(CREDENTIAL_KINDS)('%s has a label and steps', (kind) => {
    expect(kindLabel(kind).length).toBeGreaterThan(0);
    const steps = renewalSteps(kind);
    expect(steps.length).toBeGreaterThanOrEqual(3);
    for (const s of steps) expect(s.trim().length).toBeGreaterThan(0);
  });

  it('returns a copy', () => {
    renewalSteps('pec-password').push('x');
    expect(renewalSteps('pec-password')).not.toContain('x');
  });

  it('the Entratel procedure: five steps, with the UI labels verbatim', () => {
    const steps = renewalSteps('entratel-environment');
    expect(steps).toHaveLength(5);
    const [receipts, revoke, path, setup, check] = steps as [string, string, string, string, string];
    expect(receipts).toMatch(/pending receipts first/);
    expect(receipts).toMatch(/cannot be opened with the new key/);
    expect(receipts).toMatch(/Back up the old environment/);
    for (const label of [
      '"Il tuo profilo" → "Sicurezza e privacy" → "Ripristina ambiente di sicurezza"',
      'busta number',
      'PIN di revoca',
      '"L\'utente non ha un ambiente di sicurezza attivo"',
    ])
      expect(revoke).toContain(label);
    for (const label of [
      'Desktop Telematico',
      'Entratel',
      '"File" → "Impostazioni Applicazioni Entratel" → "Percorso dell\'ambiente di sicurezza"',
    ])
      expect(path).toContain(label);
    for (const label of [
      '"Sicurezza" → "Imposta ambiente"',
      'pincode (both parts, section 3 of the busta)',
      'progressivo sede (usually 000)',
      'PIN di revoca (15 to 20 characters)',
      'protection password (8 to 15 letters and digits, no accented letters)',
      'fatturad credentials check-password',
    ])
      expect(setup).toContain(label);
    for (const label of [
      'Entratel home page',
      '"Copia ambiente"',
      'second medium',
      'credentials.entratel.generatedAt',
    ])
      expect(check).toContain(label);
  });

  it('points to the configuration keys and commands the operator needs', () => {
    const joined = (kind: Parameters<typeof renewalSteps>[0]): string => renewalSteps(kind).join('\n');
    expect(joined('sdicoop-client-certificate')).toContain('openssl pkcs12 -legacy');
    expect(joined('sdicoop-client-certificate')).toContain('SIGHUP is not enough');
    expect(joined('sdicoop-truststore')).toContain('channel.sdicoop.sdiCAs');
    expect(joined('qualified-signature-certificate')).toContain('last 90 days');
    expect(joined('tsa-certificate')).toContain('archive.tsa.ca');
    expect(joined('archive-checkpoint-key')).toContain('"Rotating the checkpoint key"');
    expect(joined('pec-password')).toContain('credentials.pec.rotatedAt');
    expect(joined('pec-password')).toContain('app password');
  });
});
