/**
 * The archive log's leaf entry: a small canonical text that names one blob of the archive. Its
 * RFC 9162 leaf hash is what the Merkle log commits to, so the entry binds the blob's sha256 and
 * size, what it is, what it refers to and when it was archived; `seq` (its index in the log)
 * makes any reordering visible.
 *
 *   fatturad-leaf/1
 *   seq 41
 *   kind invoice
 *   sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
 *   size 4275
 *   ref IT01234567890_00001.xml
 *   time 2026-11-29T10:00:00.000Z
 */
export const ENTRY_VERSION = 'fatturad-leaf/1';

/** What a blob is in the archive. */
export const ENTRY_KINDS = [
  'invoice', // an invoice file as sent (outbound) or received (passive), verbatim
  'notification', // an SdI message (RC, NS, MC, NE, DT, AT, EC, SE)
  'metadata', // an MT (metadata of a received invoice)
  'envelope', // a transport envelope (PEC message)
  'receipt', // a transport receipt (PEC accettazione, consegna...)
  'document-metadata', // fatturad's JSON metadata of a document (search keys, states)
  'rdv', // a rapporto di versamento (PdV)
  'pindex', // a PdA's UNI SInCRO index
  'signature', // a CAdES signature of an index
  'timestamp', // an RFC 3161 timestamp response
] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

export interface LogEntry {
  seq: number;
  kind: EntryKind;
  sha256: string;
  size: number;
  ref: string;
  time: string;
}

/** The reference may come from a file name or an id: no line breaks, bounded. */
export function cleanRef(ref: string): string {
  // eslint-disable-next-line no-control-regex
  return ref.replace(/[\u0000-\u001f\u007f]/g, '_').slice(0, 512);
}

export function encodeEntry(e: LogEntry): Buffer {
  return Buffer.from(
    `${ENTRY_VERSION}\nseq ${e.seq}\nkind ${e.kind}\nsha256 ${e.sha256}\nsize ${e.size}\nref ${cleanRef(e.ref)}\ntime ${e.time}\n`,
    'utf8',
  );
}

/** Reads an entry back; null when it is not exactly one this version wrote. */
export function decodeEntry(bytes: Uint8Array): LogEntry | null {
  const text = Buffer.from(bytes).toString('utf8');
  const m =
    /^fatturad-leaf\/1\nseq (0|[1-9][0-9]*)\nkind ([a-z-]+)\nsha256 ([0-9a-f]{64})\nsize (0|[1-9][0-9]*)\nref ([^\n]*)\ntime ([0-9T:.Z-]+)\n$/.exec(
      text,
    );
  if (!m) return null;
  const kind = m[2] as EntryKind;
  if (!(ENTRY_KINDS as readonly string[]).includes(kind)) return null;
  const e: LogEntry = {
    seq: Number(m[1]),
    kind,
    sha256: m[3] as string,
    size: Number(m[4]),
    ref: m[5] as string,
    time: m[6] as string,
  };
  // Canonical: encoding it again gives the same bytes.
  return encodeEntry(e).equals(Buffer.from(bytes)) ? e : null;
}
