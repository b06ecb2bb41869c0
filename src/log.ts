import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * Paths whose values never reach a log line. pino's wildcards match one level, so the common
 * nesting depths are listed; secrets are also never logged on purpose.
 */
export const SECRET_KEYS = [
  'password',
  'pass',
  'passphrase',
  'secret',
  'token',
  'privateKey',
  'key',
  'pin',
  'authorization',
];
export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

export interface LogOptions {
  level: string;
  format: 'auto' | 'json' | 'pretty';
  destination?: NodeJS.WritableStream;
}

/** A listener that sees every record written with an `event` field (src/alerts/ subscribes here). */
export type LogTap = (event: string, level: number, fields: Record<string, unknown>, msg: string) => void;
const TAPS = Symbol.for('fatturad.log.taps');
type Tapped = { [TAPS]?: Set<LogTap> };

/**
 * Subscribes `tap` to the records of `logger` (and its children) that carry an `event` field, at
 * the levels the logger writes. The tap runs inside the log call: it must only copy what it needs
 * and return. Returns the unsubscribe function, or null for a logger not made by createLogger.
 */
export function tapLog(logger: Logger, tap: LogTap): (() => void) | null {
  const taps = (logger as unknown as Tapped)[TAPS];
  if (!taps) return null;
  taps.add(tap);
  return () => taps.delete(tap);
}

export function createLogger(opts: LogOptions): Logger {
  const taps = new Set<LogTap>();
  const base = {
    level: opts.level,
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void, level: number): void {
        const fields = args[0];
        if (taps.size && fields !== null && typeof fields === 'object' && 'event' in fields) {
          const event = fields.event;
          if (typeof event === 'string')
            for (const tap of taps) {
              try {
                tap(event, level, fields, typeof args[1] === 'string' ? args[1] : '');
              } catch {
                // A listener never breaks logging.
              }
            }
        }
        method.apply(this, args);
      },
    },
    base: { service: 'fatturad' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  const dest = opts.destination ?? process.stdout;
  const usePretty =
    opts.format === 'pretty' || (opts.format === 'auto' && (dest as { isTTY?: boolean }).isTTY === true);
  const logger = usePretty
    ? pino(
        base,
        pretty({ destination: dest, sync: true, translateTime: 'SYS:HH:MM:ss.l', messageKey: 'msg' }),
      )
    : pino(base, opts.destination ?? pino.destination({ dest: 1, sync: false }));
  (logger as unknown as Tapped)[TAPS] = taps;
  return logger;
}
