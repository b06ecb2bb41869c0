/**
 * The expiry of the intermediary's Entratel "ambiente di sicurezza". Its signature and encryption
 * certificates are valid three years, counted from the exact day and minute of the generation (or
 * of the last renewal): generated 30 October 2022 at 15:11 → expires 30 October 2025 at 15:11,
 * Italian time. The certificates' own notAfter, when they can be read, is authoritative.
 *
 * Local times in Europe/Rome are turned into instants with Intl (no timezone library), as
 * src/archive/fiscal.ts does. Where a local date or time does not map to exactly one instant, the
 * rules below always pick the EARLIER instant, so that a warning can only come early, never late:
 *
 * - 29 February + 3 years → 28 February (three years later is never a leap year); the same rule
 *   as the "giorno corrispondente" of art. 2963 c.c. used for the fiscal deadlines.
 * - A local time in the spring-forward gap (the last Sunday of March, 02:00–02:59 does not exist)
 *   is read with the summer offset, i.e. moved back by the length of the gap: 02:30 → 01:30 CET
 *   (00:30 UTC). This is Temporal's `disambiguation: 'earlier'`, and it is earlier than both the
 *   naive reading with the winter offset (03:30 CEST) and the first instant after the gap (03:00).
 * - A local time in the fall-back overlap (the last Sunday of October, 02:00–02:59 happens twice)
 *   is the first of the two: 02:30 → 02:30 CEST (00:30 UTC), not 02:30 CET (01:30 UTC).
 * - The expiry is at the start of the minute: seconds of the generation instant are dropped, since
 *   the Agenzia delle Entrate states the expiry to the minute.
 */

const ROME_FORMAT = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/Rome',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** A wall-clock date and time (month 1–12). */
interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
}

/** How a wall-clock time in Europe/Rome maps to instants. */
interface Resolved {
  instant: Date;
  /** 'exact': one instant; 'gap': none (clocks went forward); 'ambiguous': two (clocks went back). */
  kind: 'exact' | 'gap' | 'ambiguous';
}

function daysInMonth(year: number, month: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, 0);
  return d.getUTCDate();
}

/** The wall time read as if it were UTC, in ms (setUTCFullYear: no 1900 offset for years < 100). */
function wallAsUtc(w: Wall): number {
  const d = new Date(0);
  d.setUTCFullYear(w.year, w.month - 1, w.day);
  d.setUTCHours(w.hour, w.minute, w.second, w.ms);
  return d.getTime();
}

/** The wall-clock time in Europe/Rome at instant `t` (ms). */
function romeWall(t: number): Wall {
  const parts: Record<string, string> = {};
  for (const p of ROME_FORMAT.formatToParts(new Date(t))) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    ms: ((t % 1000) + 1000) % 1000,
  };
}

/** The offset of Europe/Rome from UTC at instant `t`, in ms. */
function romeOffset(t: number): number {
  return wallAsUtc(romeWall(t)) - t;
}

/**
 * The instant of a wall-clock time in Europe/Rome, the earlier one where there is a choice (see
 * the module comment). Candidate offsets are those in force a day either side: Europe/Rome never
 * changes offset twice within two days.
 */
function resolveRome(w: Wall): Resolved {
  const local = wallAsUtc(w);
  const offsets = new Set([romeOffset(local - DAY_MS), romeOffset(local), romeOffset(local + DAY_MS)]);
  const candidates = [...offsets].map((o) => local - o).sort((a, b) => a - b);
  const valid = candidates.filter((t) => wallAsUtc(romeWall(t)) === local);
  if (valid.length > 0) {
    return { instant: new Date(valid[0] as number), kind: valid.length > 1 ? 'ambiguous' : 'exact' };
  }
  // In the gap: the candidate with the larger (summer) offset is the earlier instant.
  return { instant: new Date(candidates[0] as number), kind: 'gap' };
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function formatOffset(ms: number): string {
  const sign = ms < 0 ? '-' : '+';
  const minutes = Math.round(Math.abs(ms) / MINUTE_MS);
  return `UTC${sign}${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

/** 'YYYY-MM-DD HH:mm Europe/Rome', with the UTC offset when that local time happens twice. */
function romeLabel(t: Date): string {
  const w = romeWall(t.getTime());
  const text = `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)} Europe/Rome`;
  const ambiguous = resolveRome({ ...w, second: 0, ms: 0 }).kind === 'ambiguous';
  return ambiguous ? `${text} (${formatOffset(romeOffset(t.getTime()))})` : text;
}

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(?:(Z)|([+-])(\d{2}):?(\d{2}))?$/;

/**
 * Parses 'YYYY-MM-DD HH:mm' (or with :ss, or ISO with an offset) as Europe/Rome local time.
 * 'T' may replace the space; seconds may have up to three decimals. With 'Z' or an offset
 * ('+01:00', '+0100') the text names an instant and Europe/Rome plays no part. Without one, a
 * time in the spring-forward gap or the fall-back overlap gives the earlier instant (module
 * comment). Returns null for anything else, including dates that do not exist (2023-02-29),
 * years before 1000, 24:00 and leap seconds.
 */
export function parseRomeDateTime(text: string): Date | null {
  const m = DATE_TIME.exec(text.trim());
  if (!m) return null;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0'));
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  const wall: Wall = { year, month, day, hour, minute, second, ms };
  if (m[8] === 'Z') return new Date(wallAsUtc(wall));
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    const offset = (oh * HOUR_MS + om * MINUTE_MS) * (m[9] === '-' ? -1 : 1);
    return new Date(wallAsUtc(wall) - offset);
  }
  return resolveRome(wall).instant;
}

/**
 * Expiry of an Entratel security environment generated at `generatedAt` (an instant): the same
 * local date and time in Europe/Rome three years later, to the minute. 29 February → 28 February;
 * a time that does not exist that day (02:xx on the last Sunday of March) → 01:xx CET, one hour
 * earlier; a time that happens twice (02:xx on the last Sunday of October) → the first, CEST.
 * `computedFrom` says how, e.g. "generated 2022-10-30 15:11 Europe/Rome + 3 years".
 * Throws a RangeError for an invalid Date.
 */
export function entratelExpiry(generatedAt: Date): { expiresAt: Date; computedFrom: string } {
  const t = generatedAt.getTime();
  if (!Number.isFinite(t)) throw new RangeError('the generation date is not a valid date');
  const g = romeWall(t);
  const year = g.year + 3;
  const day = Math.min(g.day, daysInMonth(year, g.month));
  const target: Wall = { ...g, year, day, second: 0, ms: 0 };
  const resolved = resolveRome(target);
  const adjustments: string[] = [];
  if (day !== g.day) adjustments.push(`${g.day} February ${year} does not exist → ${day} February`);
  const date = `${pad(year, 4)}-${pad(g.month)}-${pad(day)}`;
  const time = `${pad(g.hour)}:${pad(g.minute)}`;
  if (resolved.kind === 'gap') {
    adjustments.push(
      `${time} does not exist on ${date} (clocks go forward) → ${romeLabel(resolved.instant)}, the earlier instant`,
    );
  } else if (resolved.kind === 'ambiguous') {
    adjustments.push(
      `${time} happens twice on ${date} (clocks go back) → the first, ${formatOffset(romeOffset(resolved.instant.getTime()))}`,
    );
  }
  const base = `generated ${romeLabel(generatedAt)} + 3 years`;
  return {
    expiresAt: resolved.instant,
    computedFrom: adjustments.length ? `${base} (${adjustments.join('; ')})` : base,
  };
}

/** Whole days (rounded down) in a span of ms. */
function wholeDays(ms: number): number {
  return Math.floor(Math.abs(ms) / DAY_MS);
}

/**
 * Cross-check with the notAfter of the environment's certificates (when readable): the
 * certificates are authoritative, and the environment stops working when the first of them
 * (signature or encryption) expires, so `expiresAt` is their earliest notAfter. `notes` say when a
 * certificate disagrees with the computed expiry by more than a day, and when the certificates
 * disagree among themselves. CA certificates (`isCA: true`) of the chain are ignored; entries with
 * an invalid date are skipped with a note. With no usable certificate, the computed expiry stands.
 */
export function crossCheck(
  expiry: { expiresAt: Date; computedFrom?: string },
  notAfters: { subject: string; notAfter: Date; isCA?: boolean }[],
): { expiresAt: Date; notes: string[]; computedFrom: string } {
  const notes: string[] = [];
  const computed = expiry.expiresAt;
  const computedFrom = expiry.computedFrom ?? 'generation date + 3 years';
  const certs = notAfters.filter((c) => {
    if (c.isCA === true) return false;
    if (Number.isFinite(c.notAfter.getTime())) return true;
    notes.push(`the notAfter of ${c.subject} is not a valid date; that certificate is ignored`);
    return false;
  });
  if (certs.length === 0) return { expiresAt: computed, notes, computedFrom };

  const sorted = [...certs].sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime());
  const first = sorted[0] as (typeof sorted)[number];
  const last = sorted[sorted.length - 1] as (typeof sorted)[number];

  for (const c of sorted) {
    const diff = c.notAfter.getTime() - computed.getTime();
    if (Math.abs(diff) <= DAY_MS) continue;
    const days = wholeDays(diff);
    notes.push(
      `${c.subject} expires ${romeLabel(c.notAfter)}, ${days} day${days === 1 ? '' : 's'} ` +
        `${diff > 0 ? 'after' : 'before'} the expiry computed from the generation date ` +
        `(${romeLabel(computed)}); the certificates are authoritative — check ` +
        `credentials.entratel.generatedAt (it must be updated at each renewal)`,
    );
  }
  if (last.notAfter.getTime() - first.notAfter.getTime() > DAY_MS) {
    notes.push(
      `the environment's certificates expire on different dates (${sorted
        .map((c) => `${c.subject}: ${romeLabel(c.notAfter)}`)
        .join(', ')}); the earliest one counts`,
    );
  }
  return {
    expiresAt: first.notAfter,
    notes,
    computedFrom:
      sorted.length > 1
        ? `notAfter of ${first.subject} (the earliest of ${sorted.length} certificates)`
        : `notAfter of ${first.subject}`,
  };
}
