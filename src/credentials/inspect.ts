import { daysLeft, daysText, expiryText } from './days.js';
import type { CertificateInfo, Weakness } from './model.js';
import type { FileFormat, ReadResult } from './readers.js';

/**
 * `fatturad credentials inspect <file>`: what a certificate or keystore file holds, for a person
 * (`formatInspection`) or a script (`inspectionJson`). Dates are shown in UTC (ISO 8601) and in
 * Italian local time, with the days left counted as the monitor counts them (whole days, rounded
 * down).
 */

const FORMAT_NAMES: Record<FileFormat, string> = {
  pem: 'PEM',
  der: 'DER (binary X.509 / PKCS#7)',
  pkcs12: 'PKCS#12',
  'pkcs12-legacy': 'PKCS#12, legacy encryption',
  jks: 'Java keystore (JKS)',
  jceks: 'Java keystore (JCEKS)',
  unknown: 'not recognised',
};

const ROME = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/Rome',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
  timeZoneName: 'short',
});

/** '2025-10-30 15:11:00 CET': the instant as a clock in Italy shows it. */
export function romeTime(d: Date): string {
  if (Number.isNaN(d.getTime())) return 'invalid date';
  const p = Object.fromEntries(ROME.formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${p.timeZoneName}`;
}

function iso(d: Date): string {
  return Number.isNaN(d.getTime()) ? 'invalid date' : d.toISOString();
}

export type ValidityState = 'valid' | 'expired' | 'not-yet-valid';

/** Where a certificate stands at `now`: whole days left (negative once expired; credentials/days.ts). */
export function validity(c: CertificateInfo, now: Date): { state: ValidityState; daysLeft: number } {
  const left = daysLeft(c.notAfter, now);
  if (c.notAfter.getTime() <= now.getTime()) return { state: 'expired', daysLeft: left };
  if (c.notBefore.getTime() > now.getTime()) return { state: 'not-yet-valid', daysLeft: left };
  return { state: 'valid', daysLeft: left };
}

/** 'EXPIRED 12 days ago', '20 days left', 'not valid yet: starts in 3 days (…)'. */
function validityText(c: CertificateInfo, now: Date): string {
  const { state, daysLeft: left } = validity(c, now);
  if (state === 'expired') return expiryText(-left, true);
  if (state === 'not-yet-valid')
    return `NOT VALID YET: starts in ${daysText(daysLeft(c.notBefore, now))}; ${expiryText(left, false)} until it expires`;
  return expiryText(left, false);
}

function weaknessLines(ws: Weakness[]): string[] {
  return ws.map((w) => `      ! ${w.code}: ${w.message}`);
}

/** A readable report of what `readCredentialFile` found in `file`. */
export function formatInspection(file: string, r: ReadResult, now: Date): string {
  const lines: string[] = [`${file}`, `  format: ${FORMAT_NAMES[r.format]}`];
  lines.push(`  certificates: ${r.certificates.length}`, `  private keys: ${r.privateKeys}`);
  r.certificates.forEach((c, i) => {
    lines.push('');
    lines.push(
      `  certificate ${i + 1}${c.alias !== undefined ? ` (alias "${c.alias}")` : ''}${c.isCA ? ' [CA]' : ''}`,
    );
    lines.push(`    subject:     ${c.subject}`);
    lines.push(`    issuer:      ${c.issuer}`);
    lines.push(`    serial:      ${c.serial}`);
    lines.push(`    valid from:  ${iso(c.notBefore)} (${romeTime(c.notBefore)})`);
    lines.push(`    valid until: ${iso(c.notAfter)} (${romeTime(c.notAfter)})`);
    lines.push(`    status:      ${validityText(c, now)}`);
    lines.push(`    key:         ${c.key}`);
    lines.push(`    signature:   ${c.signatureAlgorithm}`);
    lines.push(`    SHA-256:     ${c.fingerprint}`);
    lines.push(`    CA:          ${c.isCA ? 'yes' : 'no'}`);
    if (c.weaknesses.length > 0) {
      lines.push(`    weaknesses:`);
      lines.push(...weaknessLines(c.weaknesses));
    }
  });
  if (r.problem !== undefined || r.hint !== undefined) lines.push('');
  if (r.problem !== undefined) lines.push(`  problem: ${r.problem}`);
  if (r.hint !== undefined) {
    const [first = '', ...rest] = r.hint.split('\n');
    lines.push(`  hint: ${first}`, ...rest.map((l) => `  ${l}`));
  }
  return `${lines.join('\n')}\n`;
}

export interface CertificateJson {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  notAfterRome: string;
  state: ValidityState;
  /** Whole days left at `now` (negative once expired). */
  daysLeft: number;
  key: string;
  signatureAlgorithm: string;
  fingerprint: string;
  alias?: string;
  isCA: boolean;
  weaknesses: Weakness[];
}

export interface InspectionJson {
  file: string;
  format: FileFormat;
  at: string;
  privateKeys: number;
  certificates: CertificateJson[];
  problem?: string;
  hint?: string;
}

/** The same report as `formatInspection`, as a JSON-ready object (`--json`). */
export function inspectionJson(file: string, r: ReadResult, now: Date): InspectionJson {
  return {
    file,
    format: r.format,
    at: iso(now),
    privateKeys: r.privateKeys,
    certificates: r.certificates.map((c) => {
      const { state, daysLeft } = validity(c, now);
      return {
        subject: c.subject,
        issuer: c.issuer,
        serial: c.serial,
        notBefore: iso(c.notBefore),
        notAfter: iso(c.notAfter),
        notAfterRome: romeTime(c.notAfter),
        state,
        daysLeft,
        key: c.key,
        signatureAlgorithm: c.signatureAlgorithm,
        fingerprint: c.fingerprint,
        ...(c.alias !== undefined ? { alias: c.alias } : {}),
        isCA: c.isCA,
        weaknesses: c.weaknesses,
      };
    }),
    ...(r.problem !== undefined ? { problem: r.problem } : {}),
    ...(r.hint !== undefined ? { hint: r.hint } : {}),
  };
}
