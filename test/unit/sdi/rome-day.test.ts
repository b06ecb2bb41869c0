import { afterEach, describe, expect, it, vi } from 'vitest';

/**
 * romeDay (src/rules/sdi/days.ts): the day in Italy, found without the time zone data when the
 * UTC day is Italy's day (before 22:00 UTC), which spares a short command loading that data.
 */

const load = async () => {
  vi.resetModules();
  return import('../../../src/rules/sdi/days.js');
};

const RealDateTimeFormat = Intl.DateTimeFormat;
afterEach(() => {
  Intl.DateTimeFormat = RealDateTimeFormat;
});

describe('romeDay', () => {
  it("is the day Europe/Rome's time zone data gives, every 37 minutes for two years (both DST changes)", async () => {
    const { romeDay } = await load();
    const rome = new Intl.DateTimeFormat('en-CA', {
      timeZone: 'Europe/Rome',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    const wrong: string[] = [];
    for (let t = Date.UTC(2025, 0, 1); t < Date.UTC(2027, 0, 1); t += 37 * 60_000) {
      const d = new Date(t);
      if (romeDay(d) !== rome.format(d)) wrong.push(`${d.toISOString()}: ${romeDay(d)}`);
    }
    expect(wrong).toEqual([]);
    // Around midnight in Rome, winter and summer.
    expect(romeDay(new Date('2026-01-15T22:59:00Z'))).toBe('2026-01-15');
    expect(romeDay(new Date('2026-01-15T23:00:00Z'))).toBe('2026-01-16');
    expect(romeDay(new Date('2026-07-15T21:59:00Z'))).toBe('2026-07-15');
    expect(romeDay(new Date('2026-07-15T22:00:00Z'))).toBe('2026-07-16');
  });

  it('loads no time zone data for an instant before 22:00 UTC (a command validating files at noon)', async () => {
    // Counts the formatters made (the real one, each time).
    let made = 0;
    Intl.DateTimeFormat = new Proxy(RealDateTimeFormat, {
      construct(target, args: ConstructorParameters<typeof Intl.DateTimeFormat>) {
        made++;
        return Reflect.construct<typeof args, Intl.DateTimeFormat>(target, args);
      },
    });
    const { romeDay } = await load();
    expect(romeDay(new Date('2026-03-02T12:00:00Z'))).toBe('2026-03-02');
    expect(romeDay(new Date('2026-03-02T21:59:59Z'))).toBe('2026-03-02');
    expect(made).toBe(0);
    expect(romeDay(new Date('2026-03-02T23:30:00Z'))).toBe('2026-03-03');
    expect(made).toBe(1);
  });
});
