/**
 * The fiscal preservation deadline (DMEF 17 giugno 2014 art. 3 c.3 → art. 7 c.4-ter DL 357/1994,
 * Risoluzione AdE 46/E 2017): the documents of tax year N must be preserved within the third month
 * after the due date of the income-tax return for year N. For calendar-year taxpayers the return is
 * due on 31 October of N+1, so the documents of N are due by 31 January of N+2.
 *
 * The due date has moved over the years (30 September, 30 November, the COVID extension to
 * 10 December 2020), so it is a per-year table with a default rule. The deadline is the
 * "giorno corrispondente" of art. 2963 c.c.: the same day number, `monthsAfterReturn` months later,
 * or the last day of that month when it has no such day (30 November + 3 months = 28/29 February).
 * It ends at the end of that day in Italy (Europe/Rome).
 */

export interface FiscalCalendar {
  /** Income-tax return due date by tax year (YYYY-MM-DD), for years that differ from the default rule. */
  returnDueDates?: Record<number, string>;
  /** Months between the return due date and the preservation deadline. Default 3. */
  monthsAfterReturn?: number;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

/** [year, month 1-12, day] of a valid YYYY-MM-DD; throws otherwise. */
function ymd(date: string): [number, number, number] {
  const m = DATE.exec(date);
  if (m) {
    const y = Number(m[1]);
    const mo = Number(m[2]);
    const d = Number(m[3]);
    if (mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo)) return [y, mo, d];
  }
  throw new RangeError(`not a calendar date (YYYY-MM-DD): ${JSON.stringify(date)}`);
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
const fmt = (y: number, m: number, d: number): string => `${pad(y, 4)}-${pad(m)}-${pad(d)}`;

function checkYear(year: number): void {
  if (!Number.isInteger(year) || year < 1000 || year > 9998) throw new RangeError(`not a tax year: ${year}`);
}

/** `date` plus `months` calendar months, art. 2963 c.c.: same day, or the last day of a shorter month. */
export function addMonthsCivil(date: string, months: number): string {
  if (!Number.isInteger(months)) throw new RangeError(`not a whole number of months: ${months}`);
  const [y, m, d] = ymd(date);
  const index = y * 12 + (m - 1) + months;
  const ty = Math.floor(index / 12);
  const tm = (index % 12) + 1;
  return fmt(ty, tm, Math.min(d, daysInMonth(ty, tm)));
}

/** Due date of the income-tax return for tax year `year` (default: 31 October of the next year). */
export function returnDueDate(year: number, cal: FiscalCalendar = {}): string {
  checkYear(year);
  const override = cal.returnDueDates?.[year];
  if (override !== undefined) {
    ymd(override);
    return override;
  }
  return fmt(year + 1, 10, 31);
}

/**
 * The first instant of a calendar day in Italy. Midnight never falls in a daylight-saving gap in
 * Europe/Rome (the clocks change at 02:00 / 03:00), so it is either 23:00 or 22:00 UTC of the day
 * before.
 */
export function romeStartOfDay(date: string): Date {
  const [y, m, d] = ymd(date);
  for (const offsetHours of [1, 2]) {
    const t = new Date(Date.UTC(y, m - 1, d) - offsetHours * 3_600_000);
    if (romeDate(t) === date && romeTime(t) === '00:00:00') return t;
  }
  throw new Error(`no midnight found in Europe/Rome for ${date}`);
}

const ROME = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/Rome',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

function romeParts(t: Date): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of ROME.formatToParts(t)) out[p.type] = p.value;
  return out;
}

/** The calendar date (YYYY-MM-DD) in Italy at instant `t`. */
export function romeDate(t: Date): string {
  const p = romeParts(t);
  return `${p.year}-${p.month}-${p.day}`;
}

function romeTime(t: Date): string {
  const p = romeParts(t);
  return `${p.hour}:${p.minute}:${p.second}`;
}

/**
 * The preservation deadline for the documents of tax year `year`: the date, and the last
 * millisecond of that day in Italy (so `now <= instant` means "still in time").
 */
export function preservationDeadline(
  year: number,
  cal: FiscalCalendar = {},
): { date: string; instant: Date } {
  const months = cal.monthsAfterReturn ?? 3;
  if (!Number.isInteger(months) || months < 0)
    throw new RangeError(`monthsAfterReturn must be a whole number ≥ 0`);
  const date = addMonthsCivil(returnDueDate(year, cal), months);
  const [y, m, d] = ymd(date);
  const next = new Date(Date.UTC(y, m - 1, d) + DAY_MS).toISOString().slice(0, 10);
  return { date, instant: new Date(romeStartOfDay(next).getTime() - 1) };
}

/** The tax year a document belongs to: the year of its date (DatiGeneraliDocumento/Data). */
export function fiscalYearOf(dataDocumento: string): number {
  return ymd(dataDocumento.trim())[0];
}

/** Whole calendar days from `from` to `to` (YYYY-MM-DD). */
function daysBetween(from: string, to: string): number {
  const [fy, fm, fd] = ymd(from);
  const [ty, tm, td] = ymd(to);
  return Math.round((Date.UTC(ty, tm - 1, td) - Date.UTC(fy, fm - 1, fd)) / DAY_MS);
}

/**
 * Whether a preservation deadline is close. `years` are the tax years that still have documents
 * not preserved; the earliest deadline among them is reported (year, date, and `daysLeft`:
 * calendar days in Italy from today to the deadline day, 0 on the day itself, negative once it
 * has passed). `near` is true when `daysLeft <= marginDays`, overdue years included. With no
 * years, `{ near: false }`.
 */
export function isDeadlineNear(
  years: number[],
  now: Date,
  marginDays: number,
  cal: FiscalCalendar = {},
): { near: boolean; year?: number; deadline?: string; daysLeft?: number } {
  let best: { year: number; date: string; instant: number } | null = null;
  for (const year of new Set(years)) {
    const d = preservationDeadline(year, cal);
    if (
      best === null ||
      d.instant.getTime() < best.instant ||
      (d.instant.getTime() === best.instant && year < best.year)
    )
      best = { year, date: d.date, instant: d.instant.getTime() };
  }
  if (best === null) return { near: false };
  const daysLeft = daysBetween(romeDate(now), best.date);
  return { near: daysLeft <= marginDays, year: best.year, deadline: best.date, daysLeft };
}
