import fs from 'node:fs';
import path from 'node:path';
import type { NotificationRow, PassiveKey, PassiveRow, ReceivedSignature, Store } from '../store/store.js';

/**
 * Received invoices as `fatturad status` and `fatturad show` present them. Where a received
 * invoice stands, from the ERP's side:
 * - `not-written`: in the store, not yet written into passive.importDir (the folder could not be
 *   written: see passive.delivered in the log);
 * - `waiting-for-import`: written into passive.importDir, still there: the ERP has not taken it;
 * - `imported`: the ERP took it out of passive.importDir (the invoice, or its unwrapped .xml);
 * - `ec-sent`: an esito committente (EC) for it is known to SdI (PA invoices): fatturad saw the EC
 *   or SdI's answer to it (SE). fatturad does not send ECs itself.
 * Whether the ERP took a file is looked at when asked (one stat per file still in the folder).
 */
export type ReceivedState = 'not-written' | 'waiting-for-import' | 'imported' | 'ec-sent';

export const RECEIVED_MEANING: Readonly<Record<ReceivedState, string>> = {
  'waiting-for-import': 'in the import folder, not yet taken by the ERP',
  imported: 'taken from the import folder by the ERP',
  'ec-sent': "the administration's outcome (EC) was sent to SdI",
  'not-written': 'not yet written into the import folder: see passive.delivered in the log',
};

export const RECEIVED_LABEL: Readonly<Record<ReceivedState, string>> = {
  'waiting-for-import': 'waiting for import',
  imported: 'imported',
  'ec-sent': 'EC sent',
  'not-written': 'not yet written',
};

/** existsSync: no exception (costly) for each file the ERP took. */
const exists = (p: string): boolean => fs.existsSync(p);

export function receivedState(
  p: {
    deliveredPath: string | null;
    xmlDeliveredPath: string | null;
    ecSent: boolean | number;
  },
  present: (file: string) => boolean = exists,
): ReceivedState {
  if (p.ecSent) return 'ec-sent';
  if (!p.deliveredPath) return 'not-written';
  const taken = !present(p.deliveredPath) || (p.xmlDeliveredPath !== null && !present(p.xmlDeliveredPath));
  return taken ? 'imported' : 'waiting-for-import';
}

export interface ReceivedCounts {
  total: number;
  waitingForImport: number;
  imported: number;
  ecSent: number;
  notWritten: number;
}

export function receivedCounts(store: Store): ReceivedCounts {
  const c: ReceivedCounts = { total: 0, waitingForImport: 0, imported: 0, ecSent: 0, notWritten: 0 };
  // Each folder listed once, instead of one stat per file (10,000 received invoices: 3 ms, not 20).
  const listed = new Map<string, Set<string>>();
  const present = (file: string): boolean => {
    const dir = path.dirname(file);
    let names = listed.get(dir);
    if (!names) {
      try {
        names = new Set(fs.readdirSync(dir));
      } catch {
        names = new Set();
      }
      listed.set(dir, names);
    }
    return names.has(path.basename(file));
  };
  for (const row of store.receivedOverview()) {
    c.total++;
    const s = receivedState(row, present);
    if (s === 'waiting-for-import') c.waitingForImport++;
    else if (s === 'imported') c.imported++;
    else if (s === 'ec-sent') c.ecSent++;
    else c.notWritten++;
  }
  return c;
}

/** The status lines of received invoices (none when there are none). */
export function receivedStatusLines(c: ReceivedCounts, importDir: string): string[] {
  if (c.total === 0) return [];
  const lines = [`Received invoices: ${c.total} (import folder ${importDir})`];
  const rows: [ReceivedState, number][] = [
    ['waiting-for-import', c.waitingForImport],
    ['imported', c.imported],
    ['ec-sent', c.ecSent],
    ['not-written', c.notWritten],
  ];
  for (const [state, n] of rows)
    if (n > 0 || state !== 'not-written')
      lines.push(
        `  ${RECEIVED_LABEL[state].padEnd(18)} ${String(n).padStart(6)}  ${RECEIVED_MEANING[state]}`,
      );
  return lines;
}

export interface ReceivedView {
  kind: 'received';
  id: number;
  nomeFile: string;
  identificativoSdI: string;
  channel: string;
  receivedAt: string;
  state: ReceivedState;
  sha256: string;
  path: string;
  deliveredPath: string | null;
  deliveredAt: string | null;
  /** The unwrapped .xml of a .p7m, as written beside it. */
  xml: { name: string; kept: string | null; deliveredPath: string | null } | null;
  signature: ReceivedSignature | null;
  invoices: PassiveKey[];
  metadata: {
    name: string | null;
    kept: string | null;
    deliveredPath: string | null;
    codiceDestinatario?: string;
    formato?: string;
    tentativiInvio?: string;
    dataOraRicezione?: string;
  };
  valid: boolean;
  findings: unknown;
  envelopePath: string | null;
  notifications: NotificationRow[];
  timeline: { at: string | null; what: string }[];
}

/** Everything `fatturad show` says of a received invoice. */
export async function receivedView(store: Store, p: PassiveRow): Promise<ReceivedView> {
  const notifications = store
    .notificationsAboutReceived(p.identificativoSdI)
    .filter((n) => n.kind !== 'MT' || n.fileName !== p.metadataName);
  const ecSent = notifications.some((n) => n.kind === 'EC' || n.kind === 'SE');
  const state = receivedState({ ...p, ecSent });
  const metadata: ReceivedView['metadata'] = {
    name: p.metadataName,
    kept: p.metadataPath,
    deliveredPath:
      p.deliveredPath && p.metadataName
        ? path.join(path.dirname(p.deliveredPath), path.basename(p.metadataName))
        : null,
  };
  if (p.metadataPath) {
    try {
      const { parseNotification } = await import('../notifications/parse.js');
      const mt = parseNotification(fs.readFileSync(p.metadataPath));
      if (mt.ok) {
        const n = mt.notification;
        if (n.codiceDestinatario) metadata.codiceDestinatario = n.codiceDestinatario;
        if (n.formato) metadata.formato = n.formato;
        if (n.tentativiInvio) metadata.tentativiInvio = n.tentativiInvio;
        if (n.dataOraRicezione) metadata.dataOraRicezione = n.dataOraRicezione;
      }
    } catch {
      // The MT is shown by name and path all the same.
    }
  }
  const timeline: ReceivedView['timeline'] = [];
  if (metadata.dataOraRicezione)
    timeline.push({ at: metadata.dataOraRicezione, what: 'received by SdI (DataOraRicezione of the MT)' });
  timeline.push({
    at: p.receivedAt,
    what: `delivered to fatturad by ${p.channel}, IdentificativoSdI ${p.identificativoSdI}`,
  });
  if (p.signature)
    timeline.push({ at: p.signature.checkedAt, what: `signature ${signatureLine(p.signature)}` });
  if (p.deliveredPath)
    timeline.push({
      at: p.deliveredAt,
      what: `written to the import folder: ${p.deliveredPath}${p.xmlDeliveredPath ? ` and ${p.xmlDeliveredPath} (unwrapped)` : ''}`,
    });
  for (const n of notifications)
    timeline.push({ at: n.receivedAt, what: `SdI message ${n.kind} ${n.fileName}, kept at ${n.path}` });
  // In time order; what is seen now (the ERP took it) last.
  timeline.sort((a, b) => (a.at ?? '~').localeCompare(b.at ?? '~'));
  if (state === 'imported') timeline.push({ at: null, what: 'taken from the import folder by the ERP' });
  return {
    kind: 'received',
    id: p.id,
    nomeFile: p.nomeFile,
    identificativoSdI: p.identificativoSdI,
    channel: p.channel,
    receivedAt: p.receivedAt,
    state,
    sha256: p.sha256,
    path: p.path,
    deliveredPath: p.deliveredPath,
    deliveredAt: p.deliveredAt,
    xml: p.xmlName ? { name: p.xmlName, kept: p.xmlPath ?? null, deliveredPath: p.xmlDeliveredPath } : null,
    signature: p.signature ?? null,
    invoices: store.passiveKeysOf(p.id),
    metadata,
    valid: p.valid,
    findings: p.warnings,
    envelopePath: p.envelopePath ?? null,
    notifications,
    timeline,
  };
}

export function signatureLine(s: ReceivedSignature): string {
  const issuer =
    s.issuer === 'trusted'
      ? 'issuer trusted'
      : s.issuer === 'untrusted'
        ? 'issuer NOT among the trusted CAs (00104)'
        : 'issuer not checked (no validation.trustedCAs)';
  const by = s.signers.map((x) => `${x.subject}${x.signingTime ? ` at ${x.signingTime}` : ''}`).join('; ');
  if (s.status === 'valid') return `verifies, ${issuer}${by ? `; signed by ${by}` : ''}`;
  const codes = s.findings.map((f) => f.code).join(', ');
  return s.status === 'invalid'
    ? `DOES NOT VERIFY (${codes})${by ? `; signed by ${by}` : ''}: delivered all the same`
    : `cannot be read (${codes}): only the signed file was delivered`;
}

/** The text of `fatturad show` for a received invoice. */
export function receivedText(v: ReceivedView): string[] {
  const lines = [
    `Received invoice ${v.id}: ${v.nomeFile}, IdentificativoSdI ${v.identificativoSdI}, by ${v.channel}`,
    `  ${RECEIVED_LABEL[v.state]}: ${RECEIVED_MEANING[v.state]}`,
  ];
  for (const k of v.invoices) {
    const from = [k.cedenteName, k.cedentePiva ?? k.cedenteCf].filter(Boolean).join(', ');
    lines.push(
      `  invoice number ${k.numero} of ${k.data}${k.tipoDocumento ? ` (${k.tipoDocumento})` : ''}${from ? ` from ${from}` : ''}`,
    );
  }
  if (v.signature) {
    lines.push(`  signature: ${signatureLine(v.signature)}`);
    if (v.signature.status !== 'valid' || v.signature.issuer === 'untrusted')
      for (const f of v.signature.findings) lines.push(`    ${f.code}: ${f.message} / ${f.messageIt}`);
  }
  if (v.xml)
    lines.push(`  unwrapped: ${v.xml.name}${v.xml.deliveredPath ? ` at ${v.xml.deliveredPath}` : ''}`);
  const m = v.metadata;
  if (m.name) {
    const facts = [
      m.codiceDestinatario && `CodiceDestinatario ${m.codiceDestinatario}`,
      m.formato && `Formato ${m.formato}`,
      m.tentativiInvio && `TentativiInvio ${m.tentativiInvio}`,
    ].filter(Boolean);
    lines.push(
      `  metadata (MT): ${m.name}${facts.length ? ` (${facts.join(', ')})` : ''}, kept at ${m.kept ?? '-'}` +
        `${m.deliveredPath ? `, written to ${m.deliveredPath}` : ''}`,
    );
  }
  lines.push(`  kept at ${v.path}; sha256 ${v.sha256}`);
  if (!v.valid) lines.push('  not valid by the rules in force when SdI received it (delivered all the same)');
  for (const t of v.timeline) lines.push(`  ${(t.at ?? 'now').padEnd(24)} ${t.what}`);
  return lines;
}
