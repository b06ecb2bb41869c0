import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * Paths whose values never reach a log line. pino's wildcards match one level, so the common
 * nesting depths are listed; secrets are also never logged on purpose.
 */
const SECRET_KEYS = [
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

export function createLogger(opts: LogOptions): Logger {
  const base = {
    level: opts.level,
    base: { service: 'fatturad' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  const dest = opts.destination ?? process.stdout;
  const usePretty =
    opts.format === 'pretty' || (opts.format === 'auto' && (dest as { isTTY?: boolean }).isTTY === true);
  if (usePretty) {
    return pino(
      base,
      pretty({ destination: dest, sync: true, translateTime: 'SYS:HH:MM:ss.l', messageKey: 'msg' }),
    );
  }
  return pino(base, opts.destination ?? pino.destination({ dest: 1, sync: false }));
}
