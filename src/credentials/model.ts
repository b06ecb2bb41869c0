import { daysLeft as wholeDaysLeft } from './days.js';

/**
 * One model for everything fatturad depends on that expires: certificates and keystores, the
 * intermediary's Entratel security environment, mailbox passwords. Each credential says where it
 * comes from, when it expires and how that instant was found, its warning thresholds, and the
 * steps to renew it. Pure: reading files is readers.ts, the schedule is monitor.ts.
 */

export const CREDENTIAL_KINDS = [
  'entratel-environment',
  'sdicoop-client-certificate',
  'sdicoop-server-certificate',
  'sdicoop-truststore',
  'sdiftp-signing-keystore',
  'sdiftp-encryption-keystore',
  'sdi-encryption-certificate',
  'qualified-signature-certificate',
  'tsa-certificate',
  'archive-checkpoint-key',
  'archive-signing-certificate',
  'pec-password',
  'certificate',
] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

/** A weakness found in a credential (reported, never fatal by itself). */
export interface Weakness {
  code: 'weak-rsa-key' | 'sha1-signature' | 'md5-signature' | 'weak-ec-key' | 'self-signed' | 'not-yet-valid';
  message: string;
}

/** One certificate as read from a file (PEM, DER, PKCS#12, JKS/JCEKS). */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** 'RSA 2048', 'EC P-256', 'Ed25519'... */
  key: string;
  /** e.g. 'sha256WithRSAEncryption'. */
  signatureAlgorithm: string;
  /** SHA-256 of the DER, hex. */
  fingerprint: string;
  /** Alias inside a keystore, if any. */
  alias?: string;
  isCA: boolean;
  weaknesses: Weakness[];
}

export interface Credential {
  /** Stable id, e.g. 'sdicoop-client' or 'trusted-ca:1'. */
  id: string;
  kind: CredentialKind;
  /** What a person calls it ("SDICoop client certificate"). */
  label: string;
  /** Where it comes from: a file path, or the configuration key. */
  source: string;
  /** The instant it stops working; null when it cannot be known (see `problem`). */
  expiresAt: Date | null;
  /** How `expiresAt` was found, e.g. "notAfter of CN=…", "generated 2023-11-30 15:11 Europe/Rome + 3 years". */
  computedFrom: string;
  /** Days before expiry at which to warn (descending, e.g. [60, 30, 7, 1]). */
  thresholds: number[];
  /** The renewal procedure for this kind, one step per line. */
  renewal: string[];
  certificates: CertificateInfo[];
  weaknesses: Weakness[];
  /** Why the credential could not be read or judged (missing file, wrong password...), if so. */
  problem?: string;
  /** Disagreements found while cross-checking (e.g. Entratel generation date vs notAfter). */
  notes?: string[];
  /** It has no expiry (e.g. an Ed25519 key): rotate it by policy. */
  never?: boolean;
}

export const DEFAULT_THRESHOLDS = [60, 30, 7, 1];

export type CredentialStatus =
  | { state: 'ok'; daysLeft: number }
  | { state: 'expiring'; daysLeft: number; threshold: number }
  | { state: 'expired'; daysLeft: number }
  | { state: 'unknown'; reason: string };

/** Where a credential stands at `now`: whole days left (credentials/days.ts), and the threshold crossed. */
export function statusOf(c: Credential, now: Date): CredentialStatus {
  if (c.never && !c.problem) return { state: 'ok', daysLeft: Number.POSITIVE_INFINITY };
  if (!c.expiresAt) return { state: 'unknown', reason: c.problem ?? 'the expiry cannot be known' };
  const daysLeft = wholeDaysLeft(c.expiresAt, now);
  if (c.expiresAt.getTime() <= now.getTime()) return { state: 'expired', daysLeft };
  const crossed = [...c.thresholds].sort((a, b) => a - b).find((t) => daysLeft < t);
  return crossed === undefined
    ? { state: 'ok', daysLeft }
    : { state: 'expiring', daysLeft, threshold: crossed };
}
