import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { finding, type Finding } from '../rules/finding.js';
import { formatBytes } from './accept.js';

/**
 * Reading a dropped zip without trusting it. Pass 1 (`inspectZip`) reads only the central
 * directory and refuses hostile archives by their names and declared sizes; pass 2
 * (`extractZip`) decompresses entry by entry, counting the real bytes, since headers can lie.
 */

export interface ZipLimits {
  maxEntries: number;
  maxEntryBytes: number;
  maxTotalBytes: number;
  maxRatio: number;
  ratioMinBytes: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxEntries: 1000,
  maxEntryBytes: 5 * 1024 * 1024,
  maxTotalBytes: 150 * 1024 * 1024,
  maxRatio: 100,
  ratioMinBytes: 1024 * 1024,
};

export interface ZipEntryInfo {
  index: number;
  name: string;
  baseName: string;
  uncompressedSize: number;
  compressedSize: number;
}

export type ZipCheck = { ok: true; entries: ZipEntryInfo[] } | { ok: false; problems: Finding[] };

const NESTED = /\.(zip|rar|7z|gz|tgz|tar|bz2|xz|zst|cab|arj|lz|lzh)$/i;

/** Names to skip silently: folders, macOS resource forks, hidden files. */
function isSkipped(name: string): boolean {
  if (name.endsWith('/')) return true;
  if (name.startsWith('__MACOSX/')) return true;
  const base = name.split('/').pop() ?? name;
  return base.startsWith('.');
}

/** Why an entry name is unsafe, or null. Checks the decoded name, before any normalisation. */
export function nameProblem(name: string): Finding | null {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (name.length === 0 || /[\u0000-\u001f\u007f]/.test(name) || name.includes('\\')) {
    return finding(
      'ZIP-INVALID-NAME',
      `Zip entry name ${JSON.stringify(name)} contains a backslash or control characters.`,
      `Il nome della voce ${JSON.stringify(name)} nello zip contiene una barra rovesciata o caratteri di controllo.`,
      { entry: name },
    );
  }
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name) || name.startsWith('//')) {
    return finding(
      'ZIP-ABSOLUTE-PATH',
      `Zip entry "${name}" has an absolute path.`,
      `La voce "${name}" dello zip ha un percorso assoluto.`,
      { entry: name },
    );
  }
  if (name.split('/').some((seg) => seg === '..')) {
    return finding(
      'ZIP-PATH-TRAVERSAL',
      `Zip entry "${name}" points outside the archive ("..").`,
      `La voce "${name}" dello zip punta fuori dall'archivio ("..").`,
      { entry: name },
    );
  }
  return null;
}

function corrupt(err: unknown): Finding {
  const msg = err instanceof Error ? err.message : String(err);
  return finding(
    'ZIP-CORRUPT',
    `The zip file cannot be read: ${msg}.`,
    `Il file zip non è leggibile: ${msg}.`,
  );
}

async function openZip(file: string): Promise<yauzl.ZipFile> {
  return yauzl.openPromise(file, {
    lazyEntries: true,
    autoClose: false,
    decodeStrings: false,
    validateEntrySizes: true,
  });
}

function decodeName(e: yauzl.Entry): string {
  const raw = e.fileName as unknown as Buffer;
  return yauzl.getFileNameLowLevel(e.generalPurposeBitFlag, raw, e.extraFields, true);
}

export async function inspectZip(
  file: string,
  limits: ZipLimits,
  isAcceptedName: (baseName: string) => boolean,
): Promise<ZipCheck> {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(file);
  } catch (err) {
    return { ok: false, problems: [corrupt(err)] };
  }
  const problems: Finding[] = [];
  const entries: ZipEntryInfo[] = [];
  try {
    if (zip.entryCount > limits.maxEntries) {
      return {
        ok: false,
        problems: [
          finding(
            'ZIP-TOO-MANY-ENTRIES',
            `The zip holds ${zip.entryCount} entries; at most ${limits.maxEntries} are taken.`,
            `Lo zip contiene ${zip.entryCount} voci; ne sono ammesse al massimo ${limits.maxEntries}.`,
          ),
        ],
      };
    }
    const names = new Map<string, string>();
    const bases = new Map<string, string>();
    let total = 0;
    let index = 0;
    for await (const e of zip.eachEntry()) {
      const i = index++;
      const name = decodeName(e);
      const bad = nameProblem(name);
      if (bad) {
        problems.push(bad);
        continue;
      }
      if (isSkipped(name)) continue;
      const baseName = name.split('/').pop() ?? name;
      const key = name.toLowerCase();
      const baseKey = baseName.toLowerCase();
      const clash = names.get(key) ?? bases.get(baseKey);
      if (clash !== undefined) {
        problems.push(
          finding(
            'ZIP-DUPLICATE-ENTRY',
            `Zip entries "${clash}" and "${name}" have the same name.`,
            `Le voci "${clash}" e "${name}" dello zip hanno lo stesso nome.`,
            { entry: name },
          ),
        );
        continue;
      }
      names.set(key, name);
      bases.set(baseKey, name);
      if (e.isEncrypted()) {
        problems.push(
          finding(
            'ZIP-ENCRYPTED',
            `Zip entry "${name}" is encrypted.`,
            `La voce "${name}" dello zip è cifrata.`,
            {
              entry: name,
            },
          ),
        );
        continue;
      }
      if (NESTED.test(baseName)) {
        problems.push(
          finding(
            'ZIP-NESTED-ARCHIVE',
            `Zip entry "${name}" is itself an archive; nested archives are not taken.`,
            `La voce "${name}" dello zip è a sua volta un archivio; gli archivi annidati non sono ammessi.`,
            { entry: name },
          ),
        );
        continue;
      }
      if (!isAcceptedName(baseName)) {
        problems.push(
          finding(
            'ZIP-UNSUPPORTED-ENTRY',
            `Zip entry "${name}" is not an invoice file (.xml, .xml.p7m or .p7m).`,
            `La voce "${name}" dello zip non è un file fattura (.xml, .xml.p7m o .p7m).`,
            { entry: name },
          ),
        );
        continue;
      }
      if (e.uncompressedSize > limits.maxEntryBytes) {
        problems.push(
          finding(
            '00003',
            `Zip entry "${name}" is ${formatBytes(e.uncompressedSize)}, over the ${formatBytes(limits.maxEntryBytes)} SdI allows for one file.`,
            `La voce "${name}" dello zip misura ${formatBytes(e.uncompressedSize)}, oltre il limite di ${formatBytes(limits.maxEntryBytes)} ammesso dallo SdI per un file.`,
            { entry: name },
          ),
        );
        continue;
      }
      if (
        e.uncompressedSize > limits.ratioMinBytes &&
        e.uncompressedSize / Math.max(e.compressedSize, 1) > limits.maxRatio
      ) {
        problems.push(
          finding(
            'ZIP-BOMB',
            `Zip entry "${name}" expands ${Math.round(e.uncompressedSize / Math.max(e.compressedSize, 1))} times (limit ${limits.maxRatio}): it looks like a zip bomb.`,
            `La voce "${name}" dello zip si espande ${Math.round(e.uncompressedSize / Math.max(e.compressedSize, 1))} volte (limite ${limits.maxRatio}): sembra una zip bomb.`,
            { entry: name },
          ),
        );
        continue;
      }
      total += e.uncompressedSize;
      entries.push({
        index: i,
        name,
        baseName,
        uncompressedSize: e.uncompressedSize,
        compressedSize: e.compressedSize,
      });
    }
    if (total > limits.maxTotalBytes) {
      problems.push(
        finding(
          'ZIP-TOO-LARGE',
          `The zip expands to ${formatBytes(total)}, over the limit of ${formatBytes(limits.maxTotalBytes)}.`,
          `Lo zip si espande a ${formatBytes(total)}, oltre il limite di ${formatBytes(limits.maxTotalBytes)}.`,
        ),
      );
    }
  } catch (err) {
    problems.push(corrupt(err));
  } finally {
    zip.close();
  }
  if (problems.length > 0) return { ok: false, problems };
  if (entries.length === 0) {
    return {
      ok: false,
      problems: [
        finding('ZIP-EMPTY', 'The zip holds no invoice file.', 'Lo zip non contiene alcun file fattura.'),
      ],
    };
  }
  return { ok: true, entries };
}

const MAGIC: { bytes: number[]; what: string }[] = [
  { bytes: [0x50, 0x4b, 0x03, 0x04], what: 'zip' },
  { bytes: [0x50, 0x4b, 0x05, 0x06], what: 'zip' },
  { bytes: [0x1f, 0x8b], what: 'gzip' },
  { bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], what: '7z' },
  { bytes: [0x52, 0x61, 0x72, 0x21], what: 'rar' },
  { bytes: [0x42, 0x5a, 0x68], what: 'bzip2' },
  { bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], what: 'xz' },
];

function archiveMagic(data: Buffer): string | null {
  for (const m of MAGIC) {
    if (data.length >= m.bytes.length && m.bytes.every((b, i) => data[i] === b)) return m.what;
  }
  return null;
}

class LimitError extends Error {}

async function readLimited(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) {
      stream.destroy();
      throw new LimitError(String(n));
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, n);
}

export async function extractZip(
  file: string,
  entries: ZipEntryInfo[],
  limits: ZipLimits,
  sink: (entry: ZipEntryInfo, data: Buffer) => Promise<void>,
): Promise<Finding[]> {
  const wanted = new Map(entries.map((e) => [e.index, e]));
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(file);
  } catch (err) {
    return [corrupt(err)];
  }
  let total = 0;
  try {
    let index = 0;
    for await (const e of zip.eachEntry()) {
      const info = wanted.get(index++);
      if (!info) continue;
      let data: Buffer;
      try {
        const stream = await zip.openReadStreamPromise(e);
        data = await readLimited(stream, Math.min(limits.maxEntryBytes, info.uncompressedSize));
      } catch (err) {
        if (err instanceof LimitError || /too many bytes|expected \d+/i.test((err as Error).message)) {
          return [
            finding(
              'ZIP-SIZE-MISMATCH',
              `Zip entry "${info.name}" holds more bytes than its header declares (${info.uncompressedSize}).`,
              `La voce "${info.name}" dello zip contiene più byte di quanti ne dichiari l'intestazione (${info.uncompressedSize}).`,
              { entry: info.name },
            ),
          ];
        }
        return [{ ...corrupt(err), entry: info.name }];
      }
      if (data.length !== info.uncompressedSize) {
        return [
          finding(
            'ZIP-SIZE-MISMATCH',
            `Zip entry "${info.name}" holds ${data.length} bytes, its header declares ${info.uncompressedSize}.`,
            `La voce "${info.name}" dello zip contiene ${data.length} byte, l'intestazione ne dichiara ${info.uncompressedSize}.`,
            { entry: info.name },
          ),
        ];
      }
      total += data.length;
      if (total > limits.maxTotalBytes) {
        return [
          finding(
            'ZIP-TOO-LARGE',
            `The zip expands to more than ${formatBytes(limits.maxTotalBytes)}.`,
            `Lo zip si espande oltre ${formatBytes(limits.maxTotalBytes)}.`,
          ),
        ];
      }
      const magic = archiveMagic(data);
      if (magic) {
        return [
          finding(
            'ZIP-NESTED-ARCHIVE',
            `Zip entry "${info.name}" is a ${magic} archive in disguise; nested archives are not taken.`,
            `La voce "${info.name}" dello zip è in realtà un archivio ${magic}; gli archivi annidati non sono ammessi.`,
            { entry: info.name },
          ),
        ];
      }
      await sink(info, data);
    }
  } catch (err) {
    return [corrupt(err)];
  } finally {
    zip.close();
  }
  return [];
}
