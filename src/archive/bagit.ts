import crypto from 'node:crypto';

/**
 * BagIt 1.0 (RFC 8493): builds the files of a bag and checks a bag given as a map of its files.
 *
 * A bag is `bagit.txt`, the payload under `data/`, one payload manifest per algorithm
 * (`manifest-sha256.txt`, `manifest-sha512.txt`), `bag-info.txt` (with Payload-Oxum) and tag
 * manifests over all the other tag files. Manifest lines are written `<hash>␠␠<path>`: the form GNU
 * `sha256sum -c` / `sha512sum -c` read, so the payload can be checked from the bag root with no
 * BagIt tool at all. In paths, CR, LF and `%` are percent-encoded (RFC 8493 §2.1.3).
 *
 * Nothing here touches the file system: callers zip or write the files themselves.
 */

export interface BagFile {
  /** Relative to `data/`, '/'-separated. */
  path: string;
  bytes: Buffer;
}

export interface BagInfo {
  sourceOrganization: string;
  externalIdentifier?: string;
  /** YYYY-MM-DD */
  baggingDate: string;
  internalSenderIdentifier?: string;
  /** More bag-info.txt labels, written in this order after the reserved ones. */
  extra?: Record<string, string>;
}

/** One problem found by `checkBag`, with a stable kind. */
export interface BagProblem {
  kind:
    | 'bagit-txt' // bagit.txt missing or not BagIt 1.0 / UTF-8
    | 'no-manifest' // no payload manifest with a supported algorithm
    | 'manifest' // a manifest line that cannot be read, an unsafe or duplicate path, an unknown algorithm
    | 'missing' // listed in a manifest, not in the bag
    | 'extra' // a payload file not listed in a payload manifest
    | 'changed' // present, but its checksum differs from the manifest's
    | 'oxum' // Payload-Oxum differs from the payload, or cannot be read
    | 'bag-info' // bag-info.txt has a line that is not `Label: value`
    | 'fetch'; // fetch.txt present: the bag is not self-contained
  path?: string;
  message: string;
}

export interface BagCheck {
  /** Every file that a manifest lists is there, every payload file is listed, Payload-Oxum agrees. */
  complete: boolean;
  /** Complete, and every checksum matches, and nothing else is wrong. */
  valid: boolean;
  /** One line per problem: missing, extra, changed (with path and expected/actual hash), Payload-Oxum, bagit.txt. */
  problems: string[];
  /** The same problems, with a kind and the path they concern. */
  details: BagProblem[];
}

export const BAG_ALGORITHMS = ['sha256', 'sha512'] as const;
export type BagAlgorithm = (typeof BAG_ALGORITHMS)[number];

const HEX_LENGTH: Record<BagAlgorithm, number> = { sha256: 64, sha512: 128 };

const BAGIT_TXT = 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n';

// ---------------------------------------------------------------------------------------------
// Paths

/** RFC 8493 §2.1.3: CR, LF and '%' (and only those) are percent-encoded in manifest paths. */
export function encodeBagPath(p: string): string {
  return p.replace(/[%\r\n]/g, (c) => (c === '%' ? '%25' : c === '\r' ? '%0D' : '%0A'));
}

export function decodeBagPath(p: string): string {
  return p.replace(/%(0D|0A|25)/gi, (_m, hex: string) =>
    hex === '25' ? '%' : hex.toUpperCase() === '0D' ? '\r' : '\n',
  );
}

/** Why a path (relative to the bag root, or to data/) cannot be in a bag, or null. */
function pathProblem(p: string): string | null {
  if (p.length === 0) return 'is empty';
  if (p.includes('\0')) return 'contains a NUL character';
  if (p.includes('\\')) return 'contains a backslash';
  if (p.startsWith('/')) return 'is absolute';
  const segments = p.split('/');
  if (segments.some((s) => s === '')) return 'has an empty segment';
  if (segments.some((s) => s === '.' || s === '..')) return 'has a "." or ".." segment';
  return null;
}

/** Tag file names that the bag writes itself. */
function isReservedTagName(p: string): boolean {
  return (
    p === 'bagit.txt' ||
    p === 'bag-info.txt' ||
    p === 'fetch.txt' ||
    /^(tag)?manifest-[a-z0-9]+\.txt$/.test(p) ||
    p === 'data' ||
    p.startsWith('data/')
  );
}

// ---------------------------------------------------------------------------------------------
// Building

function digest(alg: BagAlgorithm, bytes: Buffer): string {
  return crypto.createHash(alg).update(bytes).digest('hex');
}

function manifest(alg: BagAlgorithm, files: { path: string; bytes: Buffer }[]): Buffer {
  return Buffer.from(
    files.map((f) => `${digest(alg, f.bytes)}  ${encodeBagPath(f.path)}\n`).join(''),
    'utf8',
  );
}

function bagInfoLine(label: string, value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/.test(label) || label.endsWith(' ')) {
    throw new Error(`bag-info.txt label ${JSON.stringify(label)} is not a plain label`);
  }
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new Error(`bag-info.txt value of ${label} contains control characters or line breaks`);
  }
  return `${label}: ${value.trim()}\n`;
}

const RESERVED_INFO_LABELS = new Set(
  [
    'Source-Organization',
    'External-Identifier',
    'Bagging-Date',
    'Internal-Sender-Identifier',
    'Payload-Oxum',
    'Bag-Size',
  ].map((l) => l.toLowerCase()),
);

/** Byte-wise order of the UTF-8 paths: the same in every locale, like `LC_ALL=C sort`. */
function byPath(a: { path: string }, b: { path: string }): number {
  return Buffer.compare(Buffer.from(a.path, 'utf8'), Buffer.from(b.path, 'utf8'));
}

/**
 * All the files of a bag, keyed by their path in the bag: `bagit.txt`, `bag-info.txt` (with
 * Payload-Oxum), the extra tag files (e.g. `VERIFY.txt`), `manifest-sha256.txt`,
 * `manifest-sha512.txt`, `tagmanifest-sha256.txt`, `tagmanifest-sha512.txt`, then `data/...`
 * in byte order. Throws on an unsafe or duplicate path (also duplicates differing only in case or
 * Unicode normalisation, which would collide when the bag is unpacked on macOS or Windows) and on
 * bag-info values that cannot be written on one line.
 */
export function buildBag(
  payload: BagFile[],
  info: BagInfo,
  tagFiles: { path: string; bytes: Buffer }[] = [],
): { path: string; bytes: Buffer }[] {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(info.baggingDate)) {
    throw new Error(`Bagging-Date ${JSON.stringify(info.baggingDate)} is not YYYY-MM-DD`);
  }
  const seen = new Map<string, string>();
  const claim = (p: string): void => {
    const key = p.normalize('NFC').toLowerCase();
    const other = seen.get(key);
    if (other !== undefined)
      throw new Error(`bag paths ${JSON.stringify(other)} and ${JSON.stringify(p)} collide`);
    seen.set(key, p);
  };

  const data = payload
    .map((f) => {
      const why = pathProblem(f.path);
      if (why) throw new Error(`payload path ${JSON.stringify(f.path)} ${why}`);
      return { path: `data/${f.path}`, bytes: f.bytes };
    })
    .sort(byPath);
  for (const f of data) claim(f.path);

  const tags = tagFiles.map((t) => {
    const why = pathProblem(t.path);
    if (why) throw new Error(`tag file path ${JSON.stringify(t.path)} ${why}`);
    if (isReservedTagName(t.path)) throw new Error(`tag file path ${JSON.stringify(t.path)} is reserved`);
    if (/[\r\n]/.test(t.path))
      throw new Error(`tag file path ${JSON.stringify(t.path)} contains a line break`);
    claim(t.path);
    return { path: t.path, bytes: t.bytes };
  });

  const octets = data.reduce((n, f) => n + f.bytes.length, 0);
  let bagInfo = bagInfoLine('Source-Organization', info.sourceOrganization);
  if (info.externalIdentifier !== undefined)
    bagInfo += bagInfoLine('External-Identifier', info.externalIdentifier);
  bagInfo += bagInfoLine('Bagging-Date', info.baggingDate);
  if (info.internalSenderIdentifier !== undefined) {
    bagInfo += bagInfoLine('Internal-Sender-Identifier', info.internalSenderIdentifier);
  }
  bagInfo += bagInfoLine('Payload-Oxum', `${octets}.${data.length}`);
  for (const [label, value] of Object.entries(info.extra ?? {})) {
    if (RESERVED_INFO_LABELS.has(label.toLowerCase())) {
      throw new Error(`bag-info.txt label ${label} is written by buildBag itself`);
    }
    bagInfo += bagInfoLine(label, value);
  }

  const head = [
    { path: 'bagit.txt', bytes: Buffer.from(BAGIT_TXT, 'utf8') },
    { path: 'bag-info.txt', bytes: Buffer.from(bagInfo, 'utf8') },
    ...tags,
    { path: 'manifest-sha256.txt', bytes: manifest('sha256', data) },
    { path: 'manifest-sha512.txt', bytes: manifest('sha512', data) },
  ];
  const tagged = [...head].sort(byPath);
  return [
    ...head,
    { path: 'tagmanifest-sha256.txt', bytes: manifest('sha256', tagged) },
    { path: 'tagmanifest-sha512.txt', bytes: manifest('sha512', tagged) },
    ...data,
  ];
}

// ---------------------------------------------------------------------------------------------
// Checking

export interface ManifestLine {
  path: string;
  hash: string;
}

/** Reads a manifest: its entries, and a problem per line it cannot take. */
function parseManifest(
  name: string,
  alg: BagAlgorithm,
  bytes: Buffer,
  payload: boolean,
): { lines: ManifestLine[]; problems: BagProblem[] } {
  const lines: ManifestLine[] = [];
  const problems: BagProblem[] = [];
  const seen = new Set<string>();
  const text = bytes.toString('utf8');
  const rows = text.split(/\r\n|\n|\r/);
  if (rows[rows.length - 1] === '') rows.pop();
  const hashRe = new RegExp(`^([0-9a-fA-F]{${HEX_LENGTH[alg]}})[ \\t]+(.+)$`);
  rows.forEach((row, i) => {
    const m = hashRe.exec(row);
    if (!m) {
      problems.push({
        kind: 'manifest',
        path: name,
        message: `${name} line ${i + 1} is not "<${alg} hex> <path>": ${JSON.stringify(row.slice(0, 200))}`,
      });
      return;
    }
    const p = decodeBagPath(m[2] as string);
    const why = pathProblem(p);
    if (why) {
      problems.push({
        kind: 'manifest',
        path: name,
        message: `${name} line ${i + 1}: path ${JSON.stringify(p)} ${why}`,
      });
      return;
    }
    if (payload !== p.startsWith('data/')) {
      problems.push({
        kind: 'manifest',
        path: name,
        message: payload
          ? `${name} line ${i + 1}: ${JSON.stringify(p)} is not under data/`
          : `${name} line ${i + 1}: ${JSON.stringify(p)} is a payload file in a tag manifest`,
      });
      return;
    }
    if (seen.has(p)) {
      problems.push({ kind: 'manifest', path: name, message: `${name} lists ${JSON.stringify(p)} twice` });
      return;
    }
    seen.add(p);
    lines.push({ path: p, hash: (m[1] as string).toLowerCase() });
  });
  return { lines, problems };
}

/** A manifest file's entries (paths decoded), the algorithm taken from its name. */
export function readManifest(name: string, bytes: Buffer): { lines: ManifestLine[]; problems: BagProblem[] } {
  const m = /^(tag)?manifest-([a-z0-9]+)\.txt$/.exec(name);
  const alg = m?.[2];
  if (!m || !(BAG_ALGORITHMS as readonly string[]).includes(alg ?? '')) {
    return {
      lines: [],
      problems: [
        { kind: 'manifest', path: name, message: `${name} is not a manifest of a supported algorithm` },
      ],
    };
  }
  return parseManifest(name, alg as BagAlgorithm, bytes, m[1] === undefined);
}

/** bag-info.txt as label → values (a label may repeat), with continuation lines joined. */
export function parseBagInfo(bytes: Buffer): { fields: [string, string][]; problems: BagProblem[] } {
  const fields: [string, string][] = [];
  const problems: BagProblem[] = [];
  const rows = bytes.toString('utf8').split(/\r\n|\n|\r/);
  if (rows[rows.length - 1] === '') rows.pop();
  rows.forEach((row, i) => {
    const last = fields[fields.length - 1];
    if (/^[ \t]/.test(row) && last) {
      last[1] = `${last[1]} ${row.trim()}`;
      return;
    }
    const m = /^([^:\s][^:]*?)\s*:\s*(.*)$/.exec(row);
    if (!m) {
      problems.push({
        kind: 'bag-info',
        path: 'bag-info.txt',
        message: `bag-info.txt line ${i + 1} is not "Label: value": ${JSON.stringify(row.slice(0, 200))}`,
      });
      return;
    }
    fields.push([m[1] as string, (m[2] as string).trim()]);
  });
  return { fields, problems };
}

function checkBagitTxt(bytes: Buffer | undefined): BagProblem | null {
  if (bytes === undefined) return { kind: 'bagit-txt', path: 'bagit.txt', message: 'bagit.txt is missing' };
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  const rows = text.split(/\r\n|\n|\r/).filter((r) => r !== '');
  const version = /^BagIt-Version: (\d+)\.(\d+)$/.exec(rows[0] ?? '');
  const encoding = /^Tag-File-Character-Encoding: (.+)$/.exec(rows[1] ?? '');
  if (rows.length !== 2 || !version || !encoding) {
    return {
      kind: 'bagit-txt',
      path: 'bagit.txt',
      message: 'bagit.txt is not the two lines "BagIt-Version: M.N" and "Tag-File-Character-Encoding: ..."',
    };
  }
  if (version[1] !== '1' && !(version[1] === '0' && version[2] === '97')) {
    return {
      kind: 'bagit-txt',
      path: 'bagit.txt',
      message: `bagit.txt declares an unsupported BagIt-Version ${version[1]}.${version[2]}`,
    };
  }
  if ((encoding[1] as string).trim().toUpperCase() !== 'UTF-8') {
    return {
      kind: 'bagit-txt',
      path: 'bagit.txt',
      message: `bagit.txt declares tag file encoding ${(encoding[1] as string).trim()}; only UTF-8 is read`,
    };
  }
  return null;
}

const COMPLETENESS: ReadonlySet<BagProblem['kind']> = new Set([
  'bagit-txt',
  'no-manifest',
  'missing',
  'extra',
  'oxum',
  'fetch',
]);

/**
 * Checks a bag given as all its files keyed by path in the bag ('/'-separated, no leading '/').
 * Complete and valid as RFC 8493 §3 defines them; every problem is reported, not only the first.
 * Tag files not listed in a tag manifest are allowed, as the RFC allows them.
 */
export function checkBag(files: Map<string, Buffer>): BagCheck {
  const details: BagProblem[] = [];

  const bagit = checkBagitTxt(files.get('bagit.txt'));
  if (bagit) details.push(bagit);
  if (files.has('fetch.txt')) {
    details.push({
      kind: 'fetch',
      path: 'fetch.txt',
      message:
        'fetch.txt is present: files to be fetched from elsewhere are not supported, the bag must hold all its payload',
    });
  }

  // Manifests, by algorithm.
  const payloadManifests: { name: string; alg: BagAlgorithm; lines: ManifestLine[] }[] = [];
  const tagManifests: { name: string; alg: BagAlgorithm; lines: ManifestLine[] }[] = [];
  for (const [name, bytes] of [...files].sort((a, b) => byPath({ path: a[0] }, { path: b[0] }))) {
    const m = /^(tag)?manifest-([a-z0-9]+)\.txt$/.exec(name);
    if (!m) continue;
    const alg = m[2] as string;
    if (!(BAG_ALGORITHMS as readonly string[]).includes(alg)) {
      details.push({
        kind: 'manifest',
        path: name,
        message: `${name}: algorithm ${alg} is not supported (sha256, sha512)`,
      });
      continue;
    }
    const parsed = parseManifest(name, alg as BagAlgorithm, bytes, m[1] === undefined);
    details.push(...parsed.problems);
    (m[1] === undefined ? payloadManifests : tagManifests).push({
      name,
      alg: alg as BagAlgorithm,
      lines: parsed.lines,
    });
  }
  if (payloadManifests.length === 0) {
    details.push({
      kind: 'no-manifest',
      message: 'the bag has no payload manifest (manifest-sha256.txt or manifest-sha512.txt)',
    });
  }

  // Completeness: listed files present, payload files listed in every payload manifest.
  const missing = new Set<string>();
  for (const m of [...payloadManifests, ...tagManifests]) {
    for (const line of m.lines) {
      if (files.has(line.path)) continue;
      if (missing.has(line.path)) continue;
      missing.add(line.path);
      details.push({
        kind: 'missing',
        path: line.path,
        message: `missing: ${line.path} (listed in ${m.name})`,
      });
    }
  }
  const payloadFiles = [...files.keys()].filter((p) => p.startsWith('data/')).sort();
  for (const m of payloadManifests) {
    const listed = new Set(m.lines.map((l) => l.path));
    for (const p of payloadFiles) {
      if (!listed.has(p))
        details.push({ kind: 'extra', path: p, message: `extra: ${p} (not listed in ${m.name})` });
    }
  }

  // Payload-Oxum, when bag-info.txt gives one.
  const infoBytes = files.get('bag-info.txt');
  if (infoBytes !== undefined) {
    const info = parseBagInfo(infoBytes);
    details.push(...info.problems);
    const oxums = info.fields.filter(([label]) => label.toLowerCase() === 'payload-oxum');
    if (oxums.length > 1) {
      details.push({
        kind: 'oxum',
        path: 'bag-info.txt',
        message: 'bag-info.txt has more than one Payload-Oxum',
      });
    }
    const oxum = oxums[0]?.[1];
    if (oxum !== undefined) {
      const m = /^(\d+)\.(\d+)$/.exec(oxum);
      const octets = payloadFiles.reduce((n, p) => n + (files.get(p)?.length ?? 0), 0);
      const actual = `${octets}.${payloadFiles.length}`;
      if (!m) {
        details.push({
          kind: 'oxum',
          path: 'bag-info.txt',
          message: `Payload-Oxum ${JSON.stringify(oxum)} is not "octets.files"`,
        });
      } else if (`${BigInt(m[1] as string)}.${BigInt(m[2] as string)}` !== actual) {
        details.push({
          kind: 'oxum',
          path: 'bag-info.txt',
          message: `Payload-Oxum mismatch: bag-info.txt says ${oxum} (octets.files), the payload is ${actual}`,
        });
      }
    }
  }

  // Validity: every checksum of every manifest.
  for (const m of [...payloadManifests, ...tagManifests]) {
    for (const line of m.lines) {
      const bytes = files.get(line.path);
      if (bytes === undefined) continue;
      const actual = digest(m.alg, bytes);
      if (actual !== line.hash) {
        details.push({
          kind: 'changed',
          path: line.path,
          message: `changed: ${line.path} (${m.alg} expected ${line.hash}, actual ${actual}, per ${m.name})`,
        });
      }
    }
  }

  const complete = !details.some((d) => COMPLETENESS.has(d.kind));
  return {
    complete,
    valid: complete && details.length === 0,
    problems: details.map((d) => d.message),
    details,
  };
}
