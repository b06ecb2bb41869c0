/**
 * The one rule for "days until" and "days since" an instant, used by `fatturad credentials`,
 * `credentials inspect`, the monitor's events and metrics:
 *
 *   whole days of 24 hours, truncated toward zero (completed days).
 *
 * 3 days and 23 hours before an expiry is "3 days left"; 3 days and 1 hour after it is "expired 3
 * days ago"; less than 24 hours either way is 0 ("less than a day"). `daysLeft` is negative once
 * the instant has passed, so `-daysLeft` is the days since. Expiry instants are exact (a
 * certificate's notAfter to the second, the Entratel environment to the minute in Europe/Rome),
 * and every message prints the instant itself beside the count, so no time zone is involved in
 * the count. A threshold `t` of `credentials.thresholds` is crossed when `daysLeft < t`.
 */
export const DAY_MS = 86_400_000;

/** Whole days from `now` to `at`: positive before, negative after, 0 within 24 hours. */
export function daysLeft(at: Date, now: Date): number {
  const d = Math.trunc((at.getTime() - now.getTime()) / DAY_MS);
  return d === 0 ? 0 : d; // never -0
}

/** Whole days from `at` to `now` (how long ago). */
export function daysSince(at: Date, now: Date): number {
  return daysLeft(now, at);
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** "3 days", "1 day", "less than a day". */
export function daysText(n: number): string {
  return n === 0 ? 'less than a day' : plural(Math.abs(n), 'day');
}

/** For a status: "EXPIRED 3 days ago", "EXPIRED less than a day ago", "3 days left", "less than a day left". */
export function expiryText(days: number, expired: boolean): string {
  return expired ? `EXPIRED ${daysText(days)} ago` : `${daysText(days)} left`;
}
