import { createHash } from 'node:crypto';
import { escapeXml } from '../notifications/build.js';
import { all, at, parseXml, textAt } from '../invoice/xml.js';

/**
 * The rapporto di versamento (RdV) of a pacchetto di versamento (PdV), AgID Linee Guida §4.8 d:
 * uniquely identified, with a UTC time reference and hashes over the entire PdV content. fatturad
 * writes its own XML (namespace {@link RDV_NS}): the RdV and PdV ids, the UTC time, the producer
 * (holder, software, instance), the outcome, the file count and total size, the SHA-256 of the PdV manifest and every file
 * (path, sha256, size, kind).
 *
 * The PdV manifest is the canonical list of the PdV's files, one line per file sorted by path
 * (UTF-8 byte order): `<sha256 hex>  <path>\n`, the format of `sha256sum`, so that
 * `sha256sum -c manifest` checks a PdV folder and `sha256sum manifest` gives the hash in the RdV.
 */

export const RDV_NS = 'urn:fatturad:rdv:1';

export interface RdvFile {
  /** Path inside the PdV, relative, '/'-separated. */
  path: string;
  /** SHA-256, lowercase hex. */
  sha256: string;
  size: number;
  /** What the file is: invoice, notification, metadata... */
  kind: string;
}

export interface RdvProducer {
  /** The holder (titolare) of the documents, producer of the PdV. */
  name: string;
  /** The holder's VAT number with its country code, e.g. IT01234567890. */
  vat?: string;
  /** The producing software, e.g. 'fatturad 0.1.0'. */
  software: string;
  /** The fatturad instance (a configured name or the host), when there are several. */
  instance?: string;
}

export interface RdvInput {
  /** The PdV's identifier. */
  id: string;
  /** The RdV's own identifier. Default `RdV-<id>` (one RdV per PdV). */
  rdvId?: string;
  /** When the PdV was taken in (written in UTC). */
  time: Date;
  producer: RdvProducer;
  files: RdvFile[];
  /** Default 'accettato'. */
  outcome?: 'accettato' | 'rifiutato';
  note?: string;
}

export interface RdvSummary {
  rdvId: string;
  /** The PdV's identifier. */
  id: string;
  /** As written: ISO 8601 UTC with milliseconds. */
  time: string;
  producer: RdvProducer;
  outcome: 'accettato' | 'rifiutato';
  fileCount: number;
  totalSize: number;
  manifestSha256: string;
  /** In manifest order. */
  files: RdvFile[];
  note?: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

function checkPath(path: string): void {
  // eslint-disable-next-line no-control-regex -- control characters would break the line format
  if (path === '' || /[\u0000-\u001f\u007f\\]/.test(path))
    throw new RangeError(`PdV path with a control character or backslash: ${JSON.stringify(path)}`);
  if (path.startsWith('/') || path.split('/').some((s) => s === '' || s === '.' || s === '..'))
    throw new RangeError(`not a relative path inside the PdV: ${JSON.stringify(path)}`);
}

/** The files sorted by path (UTF-8 bytes), checked: relative paths, no duplicates, hex SHA-256. */
function sorted<T extends { path: string; sha256: string }>(files: readonly T[]): T[] {
  for (const f of files) {
    checkPath(f.path);
    if (!HEX64.test(f.sha256))
      throw new RangeError(`${f.path}: not a lowercase hex SHA-256: ${JSON.stringify(f.sha256)}`);
  }
  const out = [...files].sort((a, b) =>
    Buffer.compare(Buffer.from(a.path, 'utf8'), Buffer.from(b.path, 'utf8')),
  );
  for (let i = 1; i < out.length; i++)
    if ((out[i] as T).path === (out[i - 1] as T).path)
      throw new RangeError(`the PdV lists ${(out[i] as T).path} twice`);
  return out;
}

/** The PdV manifest: `<sha256>  <path>\n` per file, sorted by path. */
export function pdvManifest(files: readonly { path: string; sha256: string }[]): Buffer {
  return Buffer.from(
    sorted(files)
      .map((f) => `${f.sha256}  ${f.path}\n`)
      .join(''),
    'utf8',
  );
}

export function manifestSha256(files: readonly { path: string; sha256: string }[]): string {
  return createHash('sha256').update(pdvManifest(files)).digest('hex');
}

export function buildRdv(input: RdvInput): Buffer {
  if (Number.isNaN(input.time.getTime())) throw new RangeError('invalid RdV time');
  const files = sorted(input.files);
  for (const f of files)
    if (!Number.isSafeInteger(f.size) || f.size < 0)
      throw new RangeError(`${f.path}: invalid size ${f.size}`);
  const total = files.reduce((s, f) => s + f.size, 0);
  const e = escapeXml;
  const pr = input.producer;
  let x = '<?xml version="1.0" encoding="UTF-8"?>\n';
  x += `<RapportoDiVersamento xmlns="${RDV_NS}" version="1">\n`;
  x += `  <ID>${e(input.rdvId ?? `RdV-${input.id}`)}</ID>\n`;
  x += `  <PdVID>${e(input.id)}</PdVID>\n`;
  x += `  <TimeUTC>${input.time.toISOString()}</TimeUTC>\n`;
  x += '  <Producer>\n';
  x += `    <Name>${e(pr.name)}</Name>\n`;
  if (pr.vat !== undefined) x += `    <VAT>${e(pr.vat)}</VAT>\n`;
  x += `    <Software>${e(pr.software)}</Software>\n`;
  if (pr.instance !== undefined) x += `    <Instance>${e(pr.instance)}</Instance>\n`;
  x += '  </Producer>\n';
  x += `  <Outcome>${input.outcome ?? 'accettato'}</Outcome>\n`;
  x += `  <FileCount>${files.length}</FileCount>\n`;
  x += `  <TotalSize>${total}</TotalSize>\n`;
  x += `  <ManifestHash hashFunction="SHA-256" manifest="sha256sum-sorted-by-path">${manifestSha256(files)}</ManifestHash>\n`;
  x += '  <Files>\n';
  for (const f of files)
    x += `    <File sha256="${f.sha256}" size="${f.size}" kind="${e(f.kind)}">${e(f.path)}</File>\n`;
  x += '  </Files>\n';
  if (input.note !== undefined) x += `  <Note>${e(input.note)}</Note>\n`;
  x += '</RapportoDiVersamento>\n';
  return Buffer.from(x, 'utf8');
}

const COUNT = /^(0|[1-9][0-9]*)$/;

/**
 * Reads an RdV back; null when it is not one fatturad wrote or when it is inconsistent (the
 * manifest hash, count or total size do not match the listed files).
 */
export function readRdv(bytes: Buffer): RdvSummary | null {
  const p = parseXml(bytes, { maxDepth: 8 });
  if (!p.ok) return null;
  const r = p.root;
  if (r.name !== 'RapportoDiVersamento' || r.ns !== RDV_NS || r.attrs.version !== '1') return null;
  const rdvId = textAt(r, 'ID');
  const id = textAt(r, 'PdVID');
  const time = textAt(r, 'TimeUTC');
  const name = textAt(r, 'Producer/Name');
  const software = textAt(r, 'Producer/Software');
  const outcome = textAt(r, 'Outcome');
  const count = textAt(r, 'FileCount') ?? '';
  const totalText = textAt(r, 'TotalSize') ?? '';
  const manifest = at(r, 'ManifestHash');
  if (
    rdvId === undefined ||
    id === undefined ||
    time === undefined ||
    Number.isNaN(Date.parse(time)) ||
    name === undefined ||
    software === undefined ||
    (outcome !== 'accettato' && outcome !== 'rifiutato') ||
    !COUNT.test(count) ||
    !COUNT.test(totalText) ||
    manifest === undefined ||
    manifest.attrs.hashFunction !== 'SHA-256' ||
    !HEX64.test(manifest.text.trim())
  )
    return null;
  const files: RdvFile[] = [];
  for (const f of all(r, 'Files/File')) {
    const size = f.attrs.size ?? '';
    const sha256 = f.attrs.sha256 ?? '';
    if (!COUNT.test(size) || !HEX64.test(sha256)) return null;
    files.push({ path: f.text, sha256, size: Number(size), kind: f.attrs.kind ?? '' });
  }
  const manifestSha = manifest.text.trim();
  try {
    if (manifestSha256(files) !== manifestSha) return null;
  } catch {
    return null;
  }
  const totalSize = Number(totalText);
  if (Number(count) !== files.length || files.reduce((s, f) => s + f.size, 0) !== totalSize) return null;
  const producer: RdvProducer = { name, software };
  const vat = textAt(r, 'Producer/VAT');
  if (vat !== undefined) producer.vat = vat;
  const instance = textAt(r, 'Producer/Instance');
  if (instance !== undefined) producer.instance = instance;
  const summary: RdvSummary = {
    rdvId,
    id,
    time,
    producer,
    outcome,
    fileCount: files.length,
    totalSize,
    manifestSha256: manifestSha,
    files,
  };
  const note = textAt(r, 'Note');
  if (note !== undefined) summary.note = note;
  return summary;
}
