import { describe, expect, it } from 'vitest';
import {
  addMonthsCivil,
  fiscalYearOf,
  isDeadlineNear,
  preservationDeadline,
  returnDueDate,
  romeDate,
  romeStartOfDay,
  type FiscalCalendar,
} from '../../src/archive/fiscal.js';

/**
 * The preservation deadline (DMEF 2014 art. 3 c.3 → art. 7 c.4-ter DL 357/1994): three months
 * after the income-tax return due date, "giorno corrispondente" (art. 2963 c.c.), end of the day
 * in Italy.
 */

describe('deadline by tax year', () => {
  // The past due dates in `history` are the ones the research digest cites (COVID: 2019 documents
  // by 10 March 2021); 30 November is the older rule that ends on the last day of February.
  const history: FiscalCalendar = {
    returnDueDates: { 2015: '2016-11-30', 2018: '2019-11-30', 2019: '2020-12-10' },
  };
  it.each([
    // year, calendar, return due date, deadline
    [2024, {}, '2025-10-31', '2026-01-31'],
    [2023, {}, '2024-10-31', '2025-01-31'],
    [2025, {}, '2026-10-31', '2027-01-31'],
    [2019, history, '2020-12-10', '2021-03-10'],
    [2018, history, '2019-11-30', '2020-02-29'], // leap year
    [2015, history, '2016-11-30', '2017-02-28'],
    [2024, history, '2025-10-31', '2026-01-31'], // not in the table: default rule
    [2024, { monthsAfterReturn: 4 }, '2025-10-31', '2026-02-28'],
    [2024, { monthsAfterReturn: 0 }, '2025-10-31', '2025-10-31'],
    [2022, { returnDueDates: { 2022: '2023-08-31' } }, '2023-08-31', '2023-11-30'],
  ] as [number, FiscalCalendar, string, string][])(
    '%i %j: return %s, deadline %s',
    (year, cal, due, deadline) => {
      expect(returnDueDate(year, cal)).toBe(due);
      expect(preservationDeadline(year, cal).date).toBe(deadline);
    },
  );

  it('the deadline instant is the last millisecond of that day in Italy (CET in winter)', () => {
    const d = preservationDeadline(2024);
    expect(d.instant.toISOString()).toBe('2026-01-31T22:59:59.999Z');
    expect(romeDate(d.instant)).toBe('2026-01-31');
    expect(romeDate(new Date(d.instant.getTime() + 1))).toBe('2026-02-01');
  });

  it.each([
    // return due date → deadline day, end of the day in UTC
    ['2025-12-29', '2026-03-29', '2026-03-29T21:59:59.999Z'], // clocks go forward that night: CEST at midnight
    ['2025-12-28', '2026-03-28', '2026-03-28T22:59:59.999Z'], // the day before: still CET at its end
    ['2026-07-25', '2026-10-25', '2026-10-25T22:59:59.999Z'], // clocks go back that day: CET at its end
    ['2026-07-24', '2026-10-24', '2026-10-24T21:59:59.999Z'], // the day before: CEST
    ['2026-03-30', '2026-06-30', '2026-06-30T21:59:59.999Z'],
  ])('DST: return due %s → deadline %s ends at %s', (due, date, instant) => {
    const d = preservationDeadline(2025, { returnDueDates: { 2025: due } });
    expect(d.date).toBe(date);
    expect(d.instant.toISOString()).toBe(instant);
  });

  it('start of a day in Italy, both sides of the DST changes', () => {
    expect(romeStartOfDay('2026-03-29').toISOString()).toBe('2026-03-28T23:00:00.000Z');
    expect(romeStartOfDay('2026-03-30').toISOString()).toBe('2026-03-29T22:00:00.000Z');
    expect(romeStartOfDay('2026-10-25').toISOString()).toBe('2026-10-24T22:00:00.000Z');
    expect(romeStartOfDay('2026-10-26').toISOString()).toBe('2026-10-25T23:00:00.000Z');
  });

  it('art. 2963 c.c.: same day number, or the last day of a shorter month', () => {
    expect(addMonthsCivil('2025-10-31', 3)).toBe('2026-01-31');
    expect(addMonthsCivil('2025-11-30', 3)).toBe('2026-02-28');
    expect(addMonthsCivil('2023-11-30', 3)).toBe('2024-02-29');
    expect(addMonthsCivil('2023-11-29', 3)).toBe('2024-02-29');
    expect(addMonthsCivil('2025-05-31', 1)).toBe('2025-06-30');
    expect(addMonthsCivil('2025-12-31', 2)).toBe('2026-02-28');
    expect(addMonthsCivil('2025-03-31', -1)).toBe('2025-02-28');
  });

  it('rejects malformed dates and years', () => {
    expect(() => returnDueDate(2024, { returnDueDates: { 2024: '2025-02-30' } })).toThrow(RangeError);
    expect(() => returnDueDate(2024, { returnDueDates: { 2024: '31/10/2025' } })).toThrow(RangeError);
    expect(() => returnDueDate(24.5)).toThrow(RangeError);
    expect(() => preservationDeadline(2024, { monthsAfterReturn: -1 })).toThrow(RangeError);
    expect(() => fiscalYearOf('2024-13-01')).toThrow(RangeError);
  });
});

describe('fiscal year of a document', () => {
  it.each([
    ['2024-12-31', 2024],
    ['2025-01-01', 2025],
    [' 2017-01-18 ', 2017],
  ])('%s → %i', (data, year) => expect(fiscalYearOf(data)).toBe(year));
});

describe('is a deadline near', () => {
  it.each([
    // years, now, margin, expected
    [[2024], '2026-01-01T09:00:00Z', 30, { near: true, year: 2024, deadline: '2026-01-31', daysLeft: 30 }],
    [[2024], '2026-01-01T09:00:00Z', 29, { near: false, year: 2024, deadline: '2026-01-31', daysLeft: 30 }],
    [[2024], '2026-01-02T09:00:00Z', 29, { near: true, year: 2024, deadline: '2026-01-31', daysLeft: 29 }],
    [[2024], '2026-01-31T22:30:00Z', 0, { near: true, year: 2024, deadline: '2026-01-31', daysLeft: 0 }], // 23:30 in Rome
    [[2024], '2026-01-31T23:00:00Z', 0, { near: true, year: 2024, deadline: '2026-01-31', daysLeft: -1 }], // overdue
    [
      [2025, 2024],
      '2025-06-01T00:00:00Z',
      10,
      { near: false, year: 2024, deadline: '2026-01-31', daysLeft: 244 },
    ],
    [[], '2026-01-31T12:00:00Z', 100, { near: false }],
  ] as [number[], string, number, ReturnType<typeof isDeadlineNear>][])(
    'years %j at %s, margin %i',
    (years, now, margin, expected) => {
      expect(isDeadlineNear(years, new Date(now), margin)).toEqual(expected);
    },
  );

  it('the earliest deadline wins, also with a moved due date', () => {
    const cal: FiscalCalendar = { returnDueDates: { 2025: '2026-06-30' } };
    // 2024: 2026-01-31; 2025 (return moved to 30 June): 2026-09-30.
    expect(isDeadlineNear([2025, 2024], new Date('2026-01-10T10:00:00Z'), 30, cal)).toMatchObject({
      year: 2024,
      near: true,
      daysLeft: 21,
    });
    expect(isDeadlineNear([2025], new Date('2026-09-01T10:00:00Z'), 30, cal)).toEqual({
      near: true,
      year: 2025,
      deadline: '2026-09-30',
      daysLeft: 29,
    });
  });
});
