import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { collectCredentials } from './collect.js';
import { daysText, expiryText } from './days.js';
import { statusOf, type Credential, type CredentialStatus } from './model.js';

/**
 * Looks at every credential at start and every `credentials.checkEveryMs`, and says so in the
 * logs: `credentials.expired` (error) and `credentials.expiring` (warn, with the days left and the
 * renewal steps), `credentials.unreadable`, `credentials.weak`; each again when its state changes
 * or once a day while it stands. The latest results feed the metrics and the health check.
 */
export interface CheckedCredential {
  credential: Credential;
  status: CredentialStatus;
}

const DAY_MS = 86_400_000;

export class CredentialMonitor {
  latest: CheckedCredential[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly said = new Map<string, { key: string; at: number }>();
  private running: Promise<void> | null = null;

  constructor(
    private config: Config,
    private readonly log: Logger,
    private readonly onChecked: (all: CheckedCredential[]) => void = () => undefined,
    private readonly now: () => Date = () => new Date(),
  ) {}

  reconfigure(config: Config): void {
    this.config = config;
  }

  start(): void {
    void this.check();
  }

  async check(): Promise<CheckedCredential[]> {
    this.running ??= (async () => {
      try {
        const now = this.now();
        const creds = await collectCredentials(this.config);
        this.latest = creds.map((credential) => ({ credential, status: statusOf(credential, now) }));
        for (const c of this.latest) this.report(c, now);
        this.onChecked(this.latest);
        const soonest = this.latest
          .filter((x) => x.credential.expiresAt && x.status.state !== 'expired')
          .sort(
            (a, b) => (a.credential.expiresAt?.getTime() ?? 0) - (b.credential.expiresAt?.getTime() ?? 0),
          )[0];
        this.log.info(
          {
            event: 'credentials.checked',
            watched: this.latest.length,
            expired: this.latest.filter((x) => x.status.state === 'expired').length,
            expiring: this.latest.filter((x) => x.status.state === 'expiring').length,
            ...(soonest
              ? { next: soonest.credential.id, nextExpiresAt: soonest.credential.expiresAt?.toISOString() }
              : {}),
          },
          `${this.latest.length} credential(s) watched` +
            (soonest?.credential.expiresAt
              ? `; the next to expire is ${soonest.credential.label}, on ${soonest.credential.expiresAt.toISOString().slice(0, 10)}`
              : ''),
        );
      } catch (err) {
        this.log.error({ event: 'credentials.error', err }, 'the credential check failed');
      } finally {
        this.running = null;
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.check(), this.config.credentials.checkEveryMs);
        this.timer.unref();
      }
    })();
    await this.running;
    return this.latest;
  }

  /** Logs a credential's state when it changed, or once a day while it stands. */
  private report({ credential: c, status: s }: CheckedCredential, now: Date): void {
    const key = `${s.state}:${'threshold' in s ? s.threshold : ''}:${c.weaknesses.length}:${c.problem ?? ''}`;
    const last = this.said.get(c.id);
    if (last && last.key === key && now.getTime() - last.at < DAY_MS) return;
    this.said.set(c.id, { key, at: now.getTime() });
    const base = {
      id: c.id,
      kind: c.kind,
      label: c.label,
      source: c.source,
      expiresAt: c.expiresAt?.toISOString() ?? null,
      computedFrom: c.computedFrom,
    };
    if (s.state === 'expired')
      this.log.error(
        { event: 'credentials.expired', ...base, daysLeft: s.daysLeft, renewal: c.renewal },
        `${c.label} ${expiryText(-s.daysLeft, true)}, on ${c.expiresAt?.toISOString() ?? '?'} (${c.source}). Renew it: ${c.renewal.join(' ')}`,
      );
    else if (s.state === 'expiring')
      this.log.warn(
        {
          event: 'credentials.expiring',
          ...base,
          daysLeft: s.daysLeft,
          threshold: s.threshold,
          renewal: c.renewal,
        },
        `${c.label} expires in ${daysText(s.daysLeft)}, on ${c.expiresAt?.toISOString() ?? '?'} (${c.source}). Renew it: ${c.renewal.join(' ')}`,
      );
    else if (s.state === 'unknown')
      this.log.warn(
        { event: 'credentials.unreadable', ...base, problem: s.reason },
        `${c.label}: ${s.reason} (${c.source})`,
      );
    else
      this.log.debug(
        { event: 'credentials.ok', ...base, daysLeft: Number.isFinite(s.daysLeft) ? s.daysLeft : null },
        `${c.label}: ${Number.isFinite(s.daysLeft) ? expiryText(s.daysLeft, false) : 'no expiry'}`,
      );
    if (c.weaknesses.length)
      this.log.warn(
        { event: 'credentials.weak', ...base, weaknesses: c.weaknesses },
        `${c.label}: ${c.weaknesses.map((w) => w.message).join('; ')}`,
      );
    for (const note of c.notes ?? [])
      this.log.info({ event: 'credentials.note', ...base, note }, `${c.label}: ${note}`);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}
