import crypto from 'node:crypto';
import { all, at, textAt, type XmlElement } from '../invoice/xml.js';

/**
 * An ETSI TS 119 612 trusted list (TrustServiceStatusList) read into what fatturad needs for SdI's
 * 00104 check: the CA/QC services (CAs issuing qualified certificates) with their certificates and
 * the periods in which their status was positive ("granted", or one of the pre-eIDAS statuses that
 * meant the same), built from the current status and every ServiceHistoryInstance.
 *
 * Read only from the bytes the list's signature covers (see verify.ts), never from the file as a
 * whole.
 */

export const TSL_NS = 'http://uri.etsi.org/02231/v2#';
export const CA_QC = 'http://uri.etsi.org/TrstSvc/Svctype/CA/QC';

const STATUS_PREFIXES = [
  'http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/',
  // TS 102 231 v3 and TS 119 612 v1 (lists under Directive 1999/93/EC, before eIDAS).
  'http://uri.etsi.org/TrstSvc/eSigDir-1999-93-EC-TrustedList/Svcstatus/',
  'http://uri.etsi.org/TrstSvc/Svcstatus/',
];

/**
 * Statuses under which a CA/QC service's certificates count as qualified: the eIDAS "granted", and
 * the statuses of Directive 1999/93/EC lists that TS 119 615 maps to it (under supervision, in
 * cessation, accredited) plus the national "set by national law" / "recognised at national level".
 */
const POSITIVE = new Set([
  'granted',
  'undersupervision',
  'supervisionincessation',
  'accredited',
  'setbynationallaw',
  'recognisedatnationallevel',
]);

/** The last segment of a status URI ('granted', 'withdrawn', 'accreditationceased'...). */
export function statusName(uri: string): string {
  for (const p of STATUS_PREFIXES) if (uri.startsWith(p)) return uri.slice(p.length).replace(/\/$/, '');
  return uri;
}

export function isPositiveStatus(uri: string): boolean {
  return POSITIVE.has(statusName(uri));
}

export interface StatusChange {
  /** The status's short name ('granted', 'withdrawn', 'accredited'...). */
  status: string;
  /** The service type at that time (a history instance may name another). */
  type: string;
  /** ISO 8601 StatusStartingTime. */
  from: string;
}

export interface Period {
  /** Milliseconds since the epoch; `to` null: still open. Half-open: [from, to). */
  from: number;
  to: number | null;
}

export interface TrustedCa {
  tsp: string;
  service: string;
  /** The service's certificates, base64 DER. */
  certificates: string[];
  /** SHA-256 of each certificate's DER, hex. */
  sha256: string[];
  /** Current status (short name) and since when. */
  status: string;
  since: string;
  /** Every status change, oldest first (the current status last). */
  history: StatusChange[];
  /** When the service was a CA/QC with a positive status. */
  grantedDuring: Period[];
}

export interface TrustedList {
  territory: string;
  sequenceNumber: number;
  issuedAt: string;
  /** Null when the list is closed (NextUpdate with no dateTime). */
  nextUpdate: string | null;
  operator: string;
  /** Every CA/QC service, whatever its status now. */
  cas: TrustedCa[];
}

export class TslFormatError extends Error {
  override name = 'TslFormatError';
}

const lang = (el: XmlElement | undefined, path: string): string => {
  const names = all(el, path);
  const pick =
    names.find((n) => n.nsAttrs['{http://www.w3.org/XML/1998/namespace}lang'] === 'en') ?? names[0];
  return pick?.text.trim() ?? '';
};

function time(text: string | undefined, what: string): string {
  const ms = text ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms))
    throw new TslFormatError(`${what} is not a date-time: ${JSON.stringify(text ?? null)}`);
  return new Date(ms).toISOString();
}

function certificatesOf(info: XmlElement | undefined): string[] {
  return all(info, 'ServiceDigitalIdentity/DigitalId/X509Certificate')
    .map((c) => c.text.replace(/\s+/g, ''))
    .filter((b) => b.length > 0);
}

/** The periods in which a service was a CA/QC with a positive status, from its changes (oldest first). */
export function grantedPeriods(changes: StatusChange[]): Period[] {
  const out: Period[] = [];
  changes.forEach((c, i) => {
    const next = changes[i + 1];
    const from = Date.parse(c.from);
    const to = next ? Date.parse(next.from) : null;
    if (c.type !== CA_QC || !POSITIVE.has(c.status) || (to !== null && to <= from)) return;
    const last = out[out.length - 1];
    if (last && last.to === from) last.to = to;
    else out.push({ from, to });
  });
  return out;
}

/** Reads a TrustServiceStatusList element (already checked to be the signed one). */
export function readTrustedList(root: XmlElement): TrustedList {
  if (root.name !== 'TrustServiceStatusList' || root.ns !== TSL_NS)
    throw new TslFormatError(`the root element is {${root.ns}}${root.name}, not a TrustServiceStatusList`);
  const scheme = at(root, 'SchemeInformation');
  if (!scheme) throw new TslFormatError('no SchemeInformation');
  const seq = Number(textAt(scheme, 'TSLSequenceNumber'));
  if (!Number.isSafeInteger(seq)) throw new TslFormatError('TSLSequenceNumber is not a number');
  const next = textAt(scheme, 'NextUpdate/dateTime');
  const cas: TrustedCa[] = [];
  for (const tsp of all(root, 'TrustServiceProviderList/TrustServiceProvider')) {
    const tspName = lang(tsp, 'TSPInformation/TSPName/Name');
    for (const svc of all(tsp, 'TSPServices/TSPService')) {
      const info = at(svc, 'ServiceInformation');
      const current: StatusChange = {
        type: textAt(info, 'ServiceTypeIdentifier') ?? '',
        status: statusName(textAt(info, 'ServiceStatus') ?? ''),
        from: time(textAt(info, 'StatusStartingTime'), `StatusStartingTime of ${tspName}`),
      };
      const past = all(svc, 'ServiceHistory/ServiceHistoryInstance').map((h) => ({
        type: textAt(h, 'ServiceTypeIdentifier') ?? '',
        status: statusName(textAt(h, 'ServiceStatus') ?? ''),
        from: time(textAt(h, 'StatusStartingTime'), `StatusStartingTime in the history of ${tspName}`),
      }));
      const history = [...past, current].sort((a, b) => Date.parse(a.from) - Date.parse(b.from));
      if (!history.some((h) => h.type === CA_QC)) continue;
      const certificates = [
        ...new Set([
          ...certificatesOf(info),
          ...all(svc, 'ServiceHistory/ServiceHistoryInstance').flatMap((h) => certificatesOf(h)),
        ]),
      ];
      if (certificates.length === 0) continue;
      cas.push({
        tsp: tspName,
        service: lang(info, 'ServiceName/Name'),
        certificates,
        sha256: certificates.map((b) =>
          crypto.createHash('sha256').update(Buffer.from(b, 'base64')).digest('hex'),
        ),
        status: current.status,
        since: current.from,
        history,
        grantedDuring: grantedPeriods(history),
      });
    }
  }
  return {
    territory: textAt(scheme, 'SchemeTerritory') ?? '',
    sequenceNumber: seq,
    issuedAt: time(textAt(scheme, 'ListIssueDateTime'), 'ListIssueDateTime'),
    nextUpdate: next === undefined || next === '' ? null : time(next, 'NextUpdate'),
    operator: lang(scheme, 'SchemeOperatorName/Name'),
    cas,
  };
}
