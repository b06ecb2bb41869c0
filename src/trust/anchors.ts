import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { Credential } from '../credentials/model.js';
import type { TrustAnchor } from '../invoice/p7m.js';
import type { Logger } from '../log.js';
import type { TrustedList, TrustedCa } from './tsl.js';

/**
 * The kept trusted list as the validation uses it: `<dataDir>/trust/tsl.json`, written by
 * `fatturad trust update` after the list's signature was verified. Light on purpose (no XML, no
 * crypto): the daemon and `fatturad validate` load it at every change of the file.
 */

/** The entry of `validation.trustedCAs` that stands for the trusted list. */
export const TSL = 'tsl';
const DAY_MS = 86_400_000;

export interface KeptList extends Omit<TrustedList, 'cas'> {
  format: 'fatturad-tsl/1';
  /** The URL or file it was read from. */
  source: string;
  /** When `trust update` kept this content (first verified it). */
  updatedAt: string;
  /** When `trust update` last verified it (the same list downloaded again counts). */
  checkedAt: string;
  /** The verified XML as received, beside this file. */
  xmlFile: string;
  xmlSha256: string;
  signer: { source: string; subject: string; sha256: string; notAfter: string };
  cas: TrustedCa[];
}

export function trustDir(config: Pick<Config, 'dataDir'>): string {
  return path.join(config.dataDir, 'trust');
}
export const keptJsonPath = (config: Pick<Config, 'dataDir'>): string =>
  path.join(trustDir(config), 'tsl.json');
export const keptXmlPath = (config: Pick<Config, 'dataDir'>): string =>
  path.join(trustDir(config), 'tsl.xml');

export function usesTsl(config: Config): boolean {
  return config.validation.trustedCAs.includes(TSL);
}

/** The kept list, or null when there is none; throws when the file is unreadable. */
export function readKept(config: Pick<Config, 'dataDir'>): KeptList | null {
  let text: string;
  try {
    text = fs.readFileSync(keptJsonPath(config), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const kept = JSON.parse(text) as KeptList;
  if (kept.format !== 'fatturad-tsl/1' || !Array.isArray(kept.cas))
    throw new Error(`${keptJsonPath(config)} is not a fatturad trusted list`);
  return kept;
}

export type Freshness =
  { state: 'fresh' } | { state: 'stale'; message: string } | { state: 'too-old'; message: string };

/** Past NextUpdate: stale (used, with a warning); past it by more than maxStaleDays: not used. */
export function freshness(kept: KeptList, now: Date, maxStaleDays: number): Freshness {
  const next = kept.nextUpdate ? Date.parse(kept.nextUpdate) : null;
  if (next !== null && now.getTime() <= next) return { state: 'fresh' };
  const late = next === null ? 'has no NextUpdate (the list is closed)' : `was due by ${kept.nextUpdate}`;
  if (next !== null && now.getTime() <= next + maxStaleDays * DAY_MS)
    return {
      state: 'stale',
      message: `the trusted list (sequence ${kept.sequenceNumber}) ${late}: run "fatturad trust update"`,
    };
  return {
    state: 'too-old',
    message: `the trusted list (sequence ${kept.sequenceNumber}) ${late}, more than validation.tsl.maxStaleDays (${maxStaleDays}) ago: it is no longer used and signature CAs are not checked until "fatturad trust update" succeeds`,
  };
}

/** Every certificate of every CA/QC service, with the periods its status was positive. */
export function anchorsOf(kept: KeptList): TrustAnchor[] {
  const byCert = new Map<string, TrustAnchor>();
  for (const ca of kept.cas)
    for (const b64 of ca.certificates) {
      const a = byCert.get(b64);
      if (a) a.trustedDuring.push(...ca.grantedDuring);
      else byCert.set(b64, { cert: Buffer.from(b64, 'base64'), trustedDuring: [...ca.grantedDuring] });
    }
  return [...byCert.values()];
}

export interface TslAnchorState {
  /** Null: the list is configured but cannot be used (missing, unreadable, too old). */
  anchors: TrustAnchor[] | null;
  kept: KeptList | null;
  problem: string | null;
  warning: string | null;
}

/** The anchors to use now, read from disk once (for `fatturad validate`). */
export function tslAnchorsFor(config: Config, now = new Date()): TslAnchorState {
  let kept: KeptList | null;
  try {
    kept = readKept(config);
  } catch (err) {
    return {
      anchors: null,
      kept: null,
      problem: `the kept trusted list cannot be read: ${(err as Error).message}`,
      warning: null,
    };
  }
  if (!kept)
    return {
      anchors: null,
      kept: null,
      problem: `no trusted list has been kept yet (${keptJsonPath(config)}): run "fatturad trust update"`,
      warning: null,
    };
  const f = freshness(kept, now, config.validation.tsl.maxStaleDays);
  if (f.state === 'too-old') return { anchors: null, kept, problem: f.message, warning: null };
  return { anchors: anchorsOf(kept), kept, problem: null, warning: f.state === 'stale' ? f.message : null };
}

/**
 * The daemon's view: reloads when `tsl.json` changes (a `trust update` run by a timer), logs a
 * missing, unreadable, stale or too old list once, and again at most once a day.
 */
export class TslAnchors {
  private key = '';
  private state: TslAnchorState | null = null;
  private stateAt = 0;
  private lastNotice = new Map<string, number>();

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {}

  /** The anchors, or null when the list is configured but unusable (the CA is then not checked). */
  current(now = new Date()): TrustAnchor[] | null {
    let key = 'missing';
    try {
      const st = fs.statSync(keptJsonPath(this.config));
      key = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      key = 'missing';
    }
    if (key !== this.key || !this.state || this.stateAged(now)) {
      const changed = key !== this.key;
      this.key = key;
      this.state = tslAnchorsFor(this.config, now);
      this.stateAt = now.getTime();
      if (changed && this.state.anchors && this.state.kept)
        this.log.info(
          {
            event: 'trust.list_loaded',
            sequence: this.state.kept.sequenceNumber,
            nextUpdate: this.state.kept.nextUpdate,
            anchors: this.state.anchors.length,
          },
          `trusted list ${this.state.kept.territory} sequence ${this.state.kept.sequenceNumber} in use (${this.state.anchors.length} CA certificates)`,
        );
    }
    const s = this.state;
    if (s.problem) this.notice('trust.list_unusable', 'error', s.problem, now);
    else if (s.warning) this.notice('trust.list_stale', 'warn', s.warning, now);
    return s.anchors;
  }

  /** Freshness changes with the clock too: judge again every hour. */
  private stateAged(now: Date): boolean {
    return now.getTime() - this.stateAt > 3_600_000;
  }

  private notice(event: string, level: 'warn' | 'error', message: string, now: Date): void {
    const k = `${event}:${message}`;
    const last = this.lastNotice.get(k);
    if (last !== undefined && now.getTime() - last < DAY_MS) return;
    this.lastNotice.clear();
    this.lastNotice.set(k, now.getTime());
    if (level === 'warn') this.log.warn({ event }, message);
    else this.log.error({ event }, message);
  }
}

/** The kept list as a watched credential: it "expires" at its NextUpdate. */
export function trustedListCredential(config: Config, thresholds: number[]): Credential {
  const c: Credential = {
    id: 'trusted-list',
    kind: 'certificate',
    label: 'Trusted list of qualified CAs (validation.trustedCAs: tsl)',
    source: keptJsonPath(config),
    expiresAt: null,
    computedFrom: '',
    thresholds,
    renewal: [
      'Run "fatturad trust update" (by hand, or check the systemd timer or cron job that runs it: journalctl -u fatturad-trust-update).',
      'If it is refused because of the signer, check the signer certificates against the EU List of Trusted Lists (docs/validation.md) and update validation.tsl.signers.',
    ],
    certificates: [],
    weaknesses: [],
  };
  try {
    const kept = readKept(config);
    if (!kept) return { ...c, problem: 'no trusted list has been kept yet: run "fatturad trust update"' };
    if (!kept.nextUpdate) return { ...c, problem: 'the kept trusted list has no NextUpdate (closed list)' };
    return {
      ...c,
      expiresAt: new Date(kept.nextUpdate),
      computedFrom: `NextUpdate of the ${kept.territory} trusted list, sequence ${kept.sequenceNumber}`,
    };
  } catch (err) {
    return { ...c, problem: (err as Error).message };
  }
}
