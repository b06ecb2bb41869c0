import { escapeXml } from '../notifications/build.js';
import { parseXml } from '../invoice/xml.js';

/**
 * The index of a pacchetto di archiviazione (PdA) in UNI 11386:2020 SInCRO 2.0 (`PIndex`), as the
 * AgID Linee Guida (§4.8 f, Allegato 4) require. The schema qualifies every element AND every
 * attribute (attributeFormDefault="qualified", local attributes such as `relatedPIndex` included),
 * so everything carries the `sincro:` prefix. Paths are xs:anyURI: they are written
 * percent-encoded. Hashes are SHA-256 in lowercase hex over the file bytes as stored
 * (canonicalXML="false"). Output is UTF-8, indented, and depends only on the input.
 */

export const SINCRO_NS = 'http://www.uni.com/U3011/sincro-v2/';
export const SINCRO_URI = 'http://www.uni.com/U3011/sincro-v2/PIndex.xsd';

export interface PIndexFile {
  id: string;
  /** Path of the file inside the PdA, relative, '/'-separated (written percent-encoded). */
  path: string;
  /** SHA-256 of the file, lowercase hex. */
  sha256: string;
  /** MIME type, e.g. 'application/xml', 'application/pkcs7-mime' (see {@link fileFormat}). */
  format: string;
  /** File name extension without the dot, e.g. 'xml', 'xml.p7m'. */
  extension?: string;
  /** One XML element (e.g. from `allegato5`) for MoreInfo/EmbeddedMetadata; its namespace becomes @xmlSchema. */
  metadata?: string;
  /** An earlier version of the file, preserved in another PdA (PreviousHash, @relatedPIndex = that PIndex's id). */
  previousHash?: { sha256: string; relatedPIndex: string };
  relations?: { type: string; value: string[] }[];
}

export interface Agent {
  type: 'natural person' | 'legal person';
  /** AgentID values, e.g. 'VATIT-01234567890', 'TINIT-RSSMRA80A01H501U' (see {@link AGENT_ID}). */
  ids: string[];
  name: { formal: string } | { name: string; surname: string };
  /** holderRole for a Holder (default 'soggetto produttore'), signerRole for an AuthorizedSigner. */
  role?: string;
  /** The schema requires one RelevantDocument per agent: written empty when not given. */
  relevantDocument?: string;
}

export interface PIndexInput {
  id: string;
  creatingApplication: { name: string; version: string; producer: string };
  /** PdVs the index derives from (PIndexSource): their RdV or manifest path and its SHA-256. */
  sources?: { id: string; path: string; sha256: string }[];
  /** Default: 'onetoone' with one source, 'manytoone' with several. */
  derivation?: 'onetoone' | 'manytoone' | 'onetomany';
  volume: { id: string; label?: string; description?: string };
  fileGroups: { id: string; label?: string; description?: string; files: PIndexFile[] }[];
  submitter: Agent;
  holders: Agent[];
  authorizedSigners: Agent[];
  time: { instant: Date; attachedTimeStamp: boolean };
  laws?: string;
  /** One XML element for SelfDescription/MoreInfo (about the index itself). */
  moreInfo?: string;
}

/** The AgentID pattern of the schema (XSD patterns match the whole value). */
export const AGENT_ID = /^(PAS|IDC|PNO|TIN|VAT|NTR|[A-Za-z0-9]{2}:)[A-Z]{2}-[a-zA-Z0-9]+$/;

export const HOLDER_ROLES = [
  'soggetto produttore',
  'soggetto proprietario',
  'soggetto possessore',
  'soggetto detentore',
] as const;

const HEX64 = /^[0-9a-f]{64}$/;
const SCHEME = 'local';

function sha(value: string, what: string): string {
  if (!HEX64.test(value))
    throw new RangeError(`${what}: not a lowercase hex SHA-256: ${JSON.stringify(value)}`);
  return value;
}

/** MIME type and extension for a file name, for {@link PIndexFile}. */
export function fileFormat(fileName: string): { format: string; extension?: string } {
  const lower = fileName.toLowerCase();
  const m = /\.([a-z0-9]+(?:\.p7m)?)$/.exec(lower);
  const extension = m?.[1];
  const mime: [RegExp, string][] = [
    [/\.p7m$/, 'application/pkcs7-mime'],
    [/\.p7s$/, 'application/pkcs7-signature'],
    [/\.xml$/, 'application/xml'],
    [/\.json$/, 'application/json'],
    [/\.zip$/, 'application/zip'],
    [/\.pdf$/, 'application/pdf'],
    [/\.eml$/, 'message/rfc822'],
    [/\.(tsr|tst)$/, 'application/timestamp-reply'],
    [/\.txt$/, 'text/plain'],
  ];
  const format = mime.find(([re]) => re.test(lower))?.[1] ?? 'application/octet-stream';
  return extension === undefined ? { format } : { format, extension };
}

/**
 * A relative path as an xs:anyURI reference: every byte outside the URI unreserved and sub-delim
 * characters (and '/', '@') percent-encoded in UTF-8, so spaces, '%', '#', '?', ':' (which would
 * read as a scheme) and non-ASCII names survive.
 */
export function pathToUri(path: string): string {
  if (path === '' || path.startsWith('/') || path.split('/').some((s) => s === '..' || s === '.' || s === ''))
    throw new RangeError(`not a relative path inside the package: ${JSON.stringify(path)}`);
  let out = '';
  for (const byte of Buffer.from(path, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~!$&'()*+,;=@/]/.test(c)
      ? c
      : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Checks that a fragment is a single XML element and returns it trimmed with its namespace. */
function fragment(xml: string, where: string): { text: string; ns: string } {
  const text = xml.trim();
  if (text.startsWith('<?xml'))
    throw new RangeError(`${where}: an XML fragment may not carry an XML declaration`);
  const p = parseXml(Buffer.from(text, 'utf8'), { maxDepth: 32 });
  if (!p.ok)
    throw new RangeError(`${where}: not a single well-formed XML element: ${p.errors[0]?.message ?? ''}`);
  if (p.root.ns === '')
    throw new RangeError(
      `${where}: the metadata element has no namespace, so MoreInfo@xmlSchema cannot name it`,
    );
  return { text, ns: p.root.ns };
}

class Writer {
  private out = '';
  line(indent: number, s: string): void {
    this.out += `${'  '.repeat(indent)}${s}\n`;
  }
  leaf(indent: number, name: string, text: string, attrs: [string, string][] = []): void {
    this.line(indent, `<sincro:${name}${attributes(attrs)}>${escapeXml(text)}</sincro:${name}>`);
  }
  raw(s: string): void {
    this.out += s.endsWith('\n') ? s : `${s}\n`;
  }
  toString(): string {
    return this.out;
  }
}

const attributes = (attrs: [string, string][]): string =>
  attrs.map(([k, v]) => ` sincro:${k}="${escapeXml(v)}"`).join('');

const id = (w: Writer, indent: number, value: string, name = 'ID'): void =>
  w.leaf(indent, name, value, [['scheme', SCHEME]]);

function moreInfo(w: Writer, indent: number, xml: string, where: string): void {
  const f = fragment(xml, where);
  w.line(indent, `<sincro:MoreInfo sincro:xmlSchema="${escapeXml(f.ns)}">`);
  w.line(indent + 1, '<sincro:EmbeddedMetadata>');
  w.raw(f.text);
  w.line(indent + 1, '</sincro:EmbeddedMetadata>');
  w.line(indent, '</sincro:MoreInfo>');
}

function relation(w: Writer, indent: number, r: { type: string; value: string[] }, where: string): void {
  if (r.value.length === 0) throw new RangeError(`${where}: a Relation needs at least one Value`);
  w.line(indent, '<sincro:Relation>');
  w.leaf(indent + 1, 'Type', r.type);
  for (const v of r.value) w.leaf(indent + 1, 'Value', v);
  w.line(indent, '</sincro:Relation>');
}

function agent(w: Writer, indent: number, element: string, a: Agent, extra: [string, string][]): void {
  for (const v of a.ids)
    if (!AGENT_ID.test(v))
      throw new RangeError(
        `${element}: AgentID ${JSON.stringify(v)} does not match the SInCRO pattern (e.g. VATIT-01234567890, TINIT-RSSMRA80A01H501U)`,
      );
  w.line(indent, `<sincro:${element}${attributes([['agentType', a.type], ...extra])}>`);
  for (const v of a.ids) w.leaf(indent + 1, 'AgentID', v);
  w.line(indent + 1, '<sincro:AgentName>');
  if ('formal' in a.name) w.leaf(indent + 2, 'FormalName', a.name.formal);
  else {
    w.line(indent + 2, '<sincro:NameAndSurname>');
    w.leaf(indent + 3, 'FirstName', a.name.name);
    w.leaf(indent + 3, 'LastName', a.name.surname);
    w.line(indent + 2, '</sincro:NameAndSurname>');
  }
  w.line(indent + 1, '</sincro:AgentName>');
  w.leaf(indent + 1, 'RelevantDocument', a.relevantDocument ?? '');
  w.line(indent, `</sincro:${element}>`);
}

/** xs:dateTime in UTC, milliseconds only when there are some. */
const dateTime = (d: Date): string => d.toISOString().replace('.000Z', 'Z');

export function buildPIndex(input: PIndexInput): Buffer {
  if (input.fileGroups.length === 0) throw new RangeError('a PIndex needs at least one FileGroup');
  if (input.holders.length === 0) throw new RangeError('a PIndex needs at least one Holder');
  if (input.authorizedSigners.length === 0)
    throw new RangeError('a PIndex needs at least one AuthorizedSigner');
  if (Number.isNaN(input.time.instant.getTime())) throw new RangeError('invalid time reference');
  const sources = input.sources ?? [];
  const derivation = input.derivation ?? (sources.length > 1 ? 'manytoone' : 'onetoone');

  const w = new Writer();
  w.raw('<?xml version="1.0" encoding="UTF-8"?>');
  w.line(
    0,
    `<sincro:PIndex xmlns:sincro="${SINCRO_NS}" sincro:language="it" sincro:uri="${SINCRO_URI}" sincro:sincroVersion="2.0">`,
  );

  w.line(1, '<sincro:SelfDescription>');
  id(w, 2, input.id);
  w.line(2, '<sincro:CreatingApplication>');
  w.leaf(3, 'Name', input.creatingApplication.name);
  w.leaf(3, 'Version', input.creatingApplication.version);
  w.leaf(3, 'Producer', input.creatingApplication.producer);
  w.line(2, '</sincro:CreatingApplication>');
  for (const s of sources) {
    w.line(2, `<sincro:PIndexSource${attributes([['derivation', derivation]])}>`);
    id(w, 3, s.id);
    w.leaf(3, 'Path', pathToUri(s.path));
    w.leaf(3, 'Hash', sha(s.sha256, `source ${s.id}`), [
      ['hashFunction', 'SHA-256'],
      ['canonicalXML', 'false'],
    ]);
    w.line(2, '</sincro:PIndexSource>');
  }
  if (input.moreInfo !== undefined) moreInfo(w, 2, input.moreInfo, 'SelfDescription');
  w.line(1, '</sincro:SelfDescription>');

  w.line(1, '<sincro:PVolume>');
  id(w, 2, input.volume.id);
  if (input.volume.label !== undefined) w.leaf(2, 'Label', input.volume.label);
  if (input.volume.description !== undefined) w.leaf(2, 'Description', input.volume.description);
  w.line(1, '</sincro:PVolume>');

  for (const g of input.fileGroups) {
    if (g.files.length === 0) throw new RangeError(`FileGroup ${g.id} has no File`);
    w.line(1, '<sincro:FileGroup>');
    id(w, 2, g.id);
    if (g.label !== undefined) w.leaf(2, 'Label', g.label);
    if (g.description !== undefined) w.leaf(2, 'Description', g.description);
    for (const f of g.files) {
      const attrs: [string, string][] = [['encoding', 'binary']];
      if (f.extension !== undefined) attrs.push(['extension', f.extension]);
      attrs.push(['format', f.format]);
      w.line(2, `<sincro:File${attributes(attrs)}>`);
      id(w, 3, f.id);
      w.leaf(3, 'Path', pathToUri(f.path));
      w.leaf(3, 'Hash', sha(f.sha256, `file ${f.id}`), [
        ['hashFunction', 'SHA-256'],
        ['canonicalXML', 'false'],
      ]);
      if (f.previousHash !== undefined)
        w.leaf(3, 'PreviousHash', sha(f.previousHash.sha256, `previous hash of ${f.id}`), [
          ['hashFunction', 'SHA-256'],
          ['canonicalXML', 'false'],
          ['relatedPIndex', f.previousHash.relatedPIndex],
        ]);
      for (const r of f.relations ?? []) relation(w, 3, r, `file ${f.id}`);
      if (f.metadata !== undefined) moreInfo(w, 3, f.metadata, `file ${f.id}`);
      w.line(2, '</sincro:File>');
    }
    w.line(1, '</sincro:FileGroup>');
  }

  w.line(1, '<sincro:Process>');
  agent(w, 2, 'Submitter', input.submitter, []);
  for (const h of input.holders) {
    const role = h.role ?? 'soggetto produttore';
    if (!(HOLDER_ROLES as readonly string[]).includes(role))
      throw new RangeError(`holderRole ${JSON.stringify(role)} is not one of ${HOLDER_ROLES.join(', ')}`);
    agent(w, 2, 'Holder', h, [['holderRole', role]]);
  }
  for (const s of input.authorizedSigners)
    agent(w, 2, 'AuthorizedSigner', s, s.role !== undefined ? [['signerRole', s.role]] : []);
  w.line(2, '<sincro:TimeReference>');
  w.leaf(3, 'TimeInfo', dateTime(input.time.instant), [
    ['attachedTimeStamp', String(input.time.attachedTimeStamp)],
  ]);
  w.line(2, '</sincro:TimeReference>');
  if (input.laws !== undefined) w.leaf(2, 'LawsAndRegulations', input.laws);
  w.line(1, '</sincro:Process>');
  w.line(0, '</sincro:PIndex>');
  return Buffer.from(w.toString(), 'utf8');
}
