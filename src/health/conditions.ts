/**
 * Conditions that make the daemon unhealthy (a drop folder that cannot be written, a data folder
 * nearly full, a store that cannot commit), each under the key of its `/healthz` check. Probes
 * report what they see at every look; the tracker says when a condition starts, changes its reason
 * or ends, so that each is logged once when it starts and once when it ends, not at every look.
 */
export type Change = 'started' | 'changed' | 'ended' | null;

export interface Condition {
  check: string;
  /** What is wrong, in one stable word (a change of kind is logged, a change of detail is not). */
  kind: string;
  /** What is wrong, for a person (figures may change from one look to the next). */
  detail: string;
  /** When it started (ISO 8601). */
  since: string;
}

export class Conditions {
  private readonly active = new Map<string, Condition>();

  /** What `check` looks like now: a problem, or null when all is well. */
  update(check: string, problem: { kind: string; detail: string } | null, now = new Date()): Change {
    const cur = this.active.get(check);
    if (problem === null) {
      if (!cur) return null;
      this.active.delete(check);
      return 'ended';
    }
    if (!cur) {
      this.active.set(check, { check, ...problem, since: now.toISOString() });
      return 'started';
    }
    cur.detail = problem.detail;
    if (cur.kind === problem.kind) return null;
    cur.kind = problem.kind;
    return 'changed';
  }

  get(check: string): Condition | undefined {
    return this.active.get(check);
  }

  /** Forgets a check no longer looked at (a folder removed from the configuration), silently. */
  forget(check: string): void {
    this.active.delete(check);
  }

  list(): Condition[] {
    return [...this.active.values()];
  }
}
