/**
 * Calendar days as SdI counts them: in Italy (Europe/Rome), written YYYY-MM-DD. Rules come into
 * force on a day, and a file is judged by the rules of the day SdI receives it.
 */

/** Made at the first instant that needs it: making it loads the time zone data (about 10 ms). */
let romeDayFormat: Intl.DateTimeFormat | null = null;
let romeMinute = NaN;
let romeDayText = '';

/** The calendar day (YYYY-MM-DD) in Italy at `d`. */
export function romeDay(d: Date): string {
  // Days change on a minute boundary in every time zone: one formatting per minute is exact
  // (formatToParts cost a few percent of the whole validation of a small invoice).
  const minute = Math.floor(d.getTime() / 60_000);
  if (minute === romeMinute) return romeDayText;
  // Italy is one or two hours ahead of UTC (CET, CEST): before 22:00 UTC its day is the UTC day,
  // found without the time zone data (which a short command then never loads).
  const year = d.getUTCFullYear();
  if (d.getUTCHours() < 22 && year >= 1900 && year <= 9999) {
    romeMinute = minute;
    romeDayText = d.toISOString().slice(0, 10);
    return romeDayText;
  }
  romeDayFormat ??= new Intl.DateTimeFormat('en-US', {
    timeZone: 'Europe/Rome',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  });
  const parts = romeDayFormat.formatToParts(d);
  const part = (t: string): string => parts.find((p) => p.type === t)?.value ?? '';
  romeMinute = minute;
  romeDayText = `${part('year')}-${part('month')}-${part('day')}`;
  return romeDayText;
}

/**
 * A day given as YYYY-MM-DD (e.g. `--as-of 2025-03-31`), as an instant inside that day in Italy
 * (noon UTC is 13:00 or 14:00 in Rome), or null when it is not a real calendar day (2017-13-45,
 * 2025-02-29).
 */
export function parseDay(s: string): Date | null {
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(s)) return null;
  const d = new Date(`${s}T12:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== s) return null;
  return d;
}

/** The day before `day` (both YYYY-MM-DD). */
export function dayBefore(day: string): string {
  const d = new Date(`${day}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
}

/** The day after `day` (both YYYY-MM-DD). */
export function dayAfter(day: string): string {
  const d = new Date(`${day}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}
