/**
 * When is a dropped file complete? Pure logic, fed with stat results.
 *
 * - It arrived by an atomic rename (or another metadata change after its last write): its
 *   ctime is later than its mtime. Writes set both to the same instant, so a file still being
 *   written has ctime == mtime. (Only a rename that comes at least one kernel clock tick after
 *   the last write is visible this way; otherwise the window below applies.)
 * - Or its size and mtime have not changed for `stableMs`, as observed by us (our own clock,
 *   never the file server's).
 */
export interface Observation {
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export interface Tracked {
  size: number;
  mtimeNs: bigint;
  /** When we first saw this size and mtime (ms, our clock). */
  since: number;
}

export interface StabilityOptions {
  stableMs: number;
  trustRename: boolean;
}

export interface Assessment {
  tracked: Tracked;
  ready: boolean;
  /** When to look again if not ready (ms, our clock). */
  recheckAt: number;
  why: 'renamed' | 'stable' | 'waiting';
}

export function assess(
  prev: Tracked | undefined,
  obs: Observation,
  now: number,
  opts: StabilityOptions,
): Assessment {
  const unchanged = prev !== undefined && prev.size === obs.size && prev.mtimeNs === obs.mtimeNs;
  const tracked: Tracked = unchanged ? prev : { size: obs.size, mtimeNs: obs.mtimeNs, since: now };
  if (opts.trustRename && obs.size > 0 && obs.ctimeNs > obs.mtimeNs) {
    return { tracked, ready: true, recheckAt: now, why: 'renamed' };
  }
  if (now - tracked.since >= opts.stableMs) {
    return { tracked, ready: true, recheckAt: now, why: 'stable' };
  }
  return { tracked, ready: false, recheckAt: tracked.since + opts.stableMs, why: 'waiting' };
}
