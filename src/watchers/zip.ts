import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import yauzl from 'yauzl';
import { finding, type Finding } from '../rules/finding.js';

/**
 * Reading a dropped zip without trusting it.
 *
 * Pass 1 (`inspectZip`) reads only the central directory and refuses hostile archives by their
 * names and declared sizes. Pass 2 (`extractZip`) decompresses entry by entry, counting the real
 * bytes (headers can lie), checking the CRC and refusing archives in disguise.
 *
 * Neither pass throws because of what is inside the file: every problem with the zip itself becomes
 * a Finding. They do throw on operating-system I/O errors (EMFILE, EIO, ENOENT...) and when the
 * caller's sink throws, since those say nothing about the zip and the caller should retry, not reject.
 *
 * yauzl reads through our own `FdReader`, not `yauzl.open`: with `yauzl.open` a 42-byte zip whose
 * ZIP64 locator points past 2^53 makes `fs.read` throw inside a callback, which is an uncaught
 * exception that takes the whole process down. Our reader checks every range against the file size
 * and reports bad ones as ordinary errors.
 */

export interface ZipLimits {
  /** Entries in the central directory, counting folders and skipped entries. */
  maxEntries: number;
  /** Uncompressed size of one entry (SdI refuses files over 5 MB: code 00003). */
  maxEntryBytes: number;
  /** Sum of the uncompressed sizes of the accepted entries. */
  maxTotalBytes: number;
  /** Uncompressed/compressed ratio above which an entry looks like a zip bomb... */
  maxRatio: number;
  /** ...when its uncompressed size is above this. */
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
  /** Position in the central directory (counting skipped entries); stable between the two passes. */
  index: number;
  /** Full path inside the zip, '/' separators. */
  name: string;
  /** Last path segment: the document's name. */
  baseName: string;
  uncompressedSize: number;
  compressedSize: number;
}

export type ZipCheck = { ok: true; entries: ZipEntryInfo[] } | { ok: false; problems: Finding[] };

const MB = 1024 * 1024;

function sizeEn(n: number): string {
  return n >= MB ? `${(n / MB).toFixed(2)} MB (${n} bytes)` : `${n} bytes`;
}

function sizeIt(n: number): string {
  return n >= MB ? `${(n / MB).toFixed(2).replace('.', ',')} MB (${n} byte)` : `${n} byte`;
}

// ---------------------------------------------------------------------------------------------
// Names

const NESTED_EXT = /\.(zip|rar|7z|gz|tgz|tar|bz2|tbz2?|xz|txz|zst|lz|lzma|lzh|cab|arj|jar)$/i;

function baseNameOf(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/** Entries that are not documents and not problems: folders, macOS resource forks, hidden files. */
function isSkipped(name: string): boolean {
  return name.endsWith('/') || name.startsWith('__MACOSX/') || baseNameOf(name).startsWith('.');
}

/** Key for duplicate detection: case-insensitive, and the same for NFC and NFD spellings. */
function nameKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}

function invalidName(name: string, why: string, whyIt: string): Finding {
  return finding(
    'ZIP-INVALID-NAME',
    `Zip entry name ${JSON.stringify(name)} ${why}.`,
    `Il nome della voce ${JSON.stringify(name)} nello zip ${whyIt}.`,
    { entry: name },
  );
}

/**
 * Decodes an entry name by hand (yauzl runs with `decodeStrings: false`, so that it does not
 * refuse the whole file at the first bad name) and judges it: UTF-8 when general purpose bit 11 is
 * set or an Info-ZIP Unicode Path field is present, otherwise CP437. CP437 maps control bytes to
 * glyphs (0x01 is '☺'), so control bytes are also checked on the raw bytes.
 */
function decodeName(e: yauzl.Entry): { name: string; problem: Finding | null } {
  const raw = e.fileNameRaw;
  const name = yauzl.getFileNameLowLevel(e.generalPurposeBitFlag, raw, e.extraFields, true);
  if ((e.generalPurposeBitFlag & 0x800) !== 0 && !isUtf8(raw)) {
    return { name, problem: invalidName(name, 'is not valid UTF-8', 'non è UTF-8 valido') };
  }
  if (raw.some((b) => b < 0x20 || b === 0x7f)) {
    return {
      name,
      problem: invalidName(name, 'contains control characters', 'contiene caratteri di controllo'),
    };
  }
  return { name, problem: nameProblem(name) };
}

/**
 * Why an entry name is unsafe, or null. Checked on the decoded name, before any normalisation.
 * Order matters so that each case gets its own code: control characters, then absolute paths
 * (including `\\server` and `\x`), then `..` segments (with either separator), then any other
 * backslash.
 */
export function nameProblem(name: string): Finding | null {
  if (name.length === 0) return invalidName(name, 'is empty', 'è vuoto');
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) {
    return invalidName(name, 'contains control characters', 'contiene caratteri di controllo');
  }
  if (name.startsWith('/') || name.startsWith('\\') || /^[a-zA-Z]:/.test(name)) {
    return finding(
      'ZIP-ABSOLUTE-PATH',
      `Zip entry "${name}" has an absolute path.`,
      `La voce "${name}" dello zip ha un percorso assoluto.`,
      { entry: name },
    );
  }
  if (name.split(/[\\/]/).includes('..')) {
    return finding(
      'ZIP-PATH-TRAVERSAL',
      `Zip entry "${name}" points outside the archive ("..").`,
      `La voce "${name}" dello zip punta fuori dall'archivio ("..").`,
      { entry: name },
    );
  }
  if (name.includes('\\')) {
    return invalidName(name, 'contains a backslash', 'contiene una barra rovesciata');
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Findings shared by both passes

/** Damage found by this module, described in both languages (yauzl's own errors are English only). */
class ZipDamage extends Error {
  constructor(
    message: string,
    readonly messageIt: string,
  ) {
    super(message);
  }
}

function corrupt(err: unknown, entry?: string): Finding {
  const msg = (err instanceof Error ? err.message : String(err)).replace(/\.$/, '');
  const msgIt = err instanceof ZipDamage ? err.messageIt.replace(/\.$/, '') : msg;
  const where = entry === undefined ? '' : ` (entry "${entry}")`;
  const whereIt = entry === undefined ? '' : ` (voce "${entry}")`;
  return finding(
    'ZIP-CORRUPT',
    `The zip file cannot be read${where}: ${msg}.`,
    `Il file zip non è leggibile${whereIt}: ${msgIt}.`,
    entry === undefined ? {} : { entry },
  );
}

function entryTooBig(name: string, size: number, limit: number, real: boolean): Finding {
  const what = real ? 'decompresses to at least' : 'is';
  const whatIt = real ? 'si espande ad almeno' : 'misura';
  return finding(
    '00003',
    `Zip entry "${name}" ${what} ${sizeEn(size)}, over the limit of ${sizeEn(limit)} that SdI allows for one file.`,
    `La voce "${name}" dello zip ${whatIt} ${sizeIt(size)}, oltre il limite di ${sizeIt(limit)} ammesso dallo SdI per un file.`,
    { entry: name },
  );
}

function tooLarge(total: number, limit: number, real: boolean): Finding {
  const more = real ? 'at least ' : '';
  const moreIt = real ? 'almeno ' : '';
  return finding(
    'ZIP-TOO-LARGE',
    `The zip expands to ${more}${sizeEn(total)}, over the limit of ${sizeEn(limit)}.`,
    `Lo zip si espande a ${moreIt}${sizeIt(total)}, oltre il limite di ${sizeIt(limit)}.`,
  );
}

function sizeMismatch(name: string, declared: number, real: number, atLeast: boolean): Finding {
  const got = atLeast ? `at least ${real}` : `${real}`;
  const gotIt = atLeast ? `almeno ${real}` : `${real}`;
  return finding(
    'ZIP-SIZE-MISMATCH',
    `Zip entry "${name}" holds ${got} bytes, but its header declares ${declared}.`,
    `La voce "${name}" dello zip contiene ${gotIt} byte, ma l'intestazione ne dichiara ${declared}.`,
    { entry: name },
  );
}

/** Node's own I/O errors (EMFILE, EIO, ENOENT...) carry a `syscall`; yauzl's format errors do not. */
function isSystemError(err: unknown): boolean {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

// ---------------------------------------------------------------------------------------------
// Opening

type ReadCallback = (err: Error | null, bytesRead?: number) => void;

/**
 * A yauzl reader over one file descriptor. Every read is checked against the file size first, so
 * a hostile offset becomes an error passed to yauzl instead of an exception thrown by `fs.read`.
 * `close` waits for reads still in flight, so the descriptor is never closed under a read.
 */
/**
 * Opens a zip from a random-access reader with the settings every reader of untrusted zips here
 * uses: entries one at a time, names and sizes left undecoded and unvalidated so that the caller
 * judges each one itself. An error is returned, not thrown.
 */
export function openZipReader(
  reader: yauzl.RandomAccessReader,
  size: number,
): Promise<yauzl.ZipFile | Error> {
  return new Promise<yauzl.ZipFile | Error>((resolve) => {
    try {
      yauzl.fromRandomAccessReader(
        reader,
        size,
        {
          lazyEntries: true,
          autoClose: false,
          // Names are decoded and judged by the caller, entry by entry.
          decodeStrings: false,
          // Sizes are checked by the caller too, so that each case gets its own finding.
          validateEntrySizes: false,
          strictFileNames: true,
        },
        (err, zip) => resolve(err ?? zip),
      );
    } catch (err) {
      resolve(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

class FdReader extends yauzl.RandomAccessReader {
  private inflight = 0;
  private idle: (() => void)[] = [];

  constructor(
    private readonly fd: number,
    private readonly size: number,
  ) {
    super();
  }

  private checkRange(position: number, length: number): Error | null {
    if (
      !Number.isSafeInteger(position) ||
      !Number.isSafeInteger(length) ||
      position < 0 ||
      length < 0 ||
      position + length > this.size
    ) {
      return new ZipDamage(
        `it points to ${length} bytes at offset ${position}, outside the file (${this.size} bytes)`,
        `rimanda a ${length} byte alla posizione ${position}, fuori dal file (${this.size} byte)`,
      );
    }
    return null;
  }

  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: ReadCallback,
  ): void {
    const bad = this.checkRange(position, length);
    if (bad) {
      setImmediate(() => callback(bad));
      return;
    }
    this.inflight++;
    fs.read(this.fd, buffer, offset, length, position, (err, bytesRead) => {
      this.inflight--;
      if (this.inflight === 0) for (const f of this.idle.splice(0)) f();
      if (err) callback(err);
      else if (bytesRead < length)
        callback(new ZipDamage('unexpected end of file', 'fine del file inattesa'));
      else callback(null, bytesRead);
    });
  }

  override _readStreamForRange(start: number, end: number): Readable {
    let pos = start;
    const stream: Readable = new Readable({
      highWaterMark: 64 * 1024,
      read: (size) => {
        const len = Math.min(size, end - pos);
        if (len <= 0) {
          stream.push(null);
          return;
        }
        const buf = Buffer.allocUnsafe(len);
        this.read(buf, 0, len, pos, (err) => {
          if (stream.destroyed) return;
          if (err) {
            stream.destroy(err);
            return;
          }
          pos += len;
          stream.push(buf);
        });
      },
    });
    return stream;
  }

  override close(callback: (err: Error | null) => void): void {
    const done = (): void => fs.close(this.fd, callback);
    if (this.inflight === 0) done();
    else this.idle.push(done);
  }
}

function openFd(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.open(file, 'r', (err, fd) => (err ? reject(err) : resolve(fd)));
  });
}

function fstatSize(fd: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st.size)));
  });
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve) => fs.close(fd, () => resolve()));
}

/**
 * Opens a zip for lazy reading. The returned zipfile owns the descriptor: `zip.close()` releases it
 * once the last stream is done. Resolves to an Error when the file is not a readable zip; rejects
 * only on operating-system errors.
 */
async function openZip(file: string): Promise<yauzl.ZipFile | Error> {
  const fd = await openFd(file);
  let size: number;
  try {
    size = await fstatSize(fd);
  } catch (err) {
    await closeFd(fd);
    throw err;
  }
  const reader = new FdReader(fd, size);
  const result = await openZipReader(reader, size);
  if (result instanceof Error) {
    // yauzl took a reference on the reader and does not drop it on failure: close it ourselves.
    await closeFd(fd);
    if (isSystemError(result)) throw result;
    return result;
  }
  // Errors closing the descriptor arrive as 'error' events after iteration is over: never unhandled.
  result.on('error', () => undefined);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Pass 1

/** Pass 1: reads only the central directory, never decompresses. */
export async function inspectZip(
  file: string,
  limits: ZipLimits,
  isAcceptedName: (baseName: string) => boolean,
): Promise<ZipCheck> {
  const zip = await openZip(file);
  if (zip instanceof Error) return { ok: false, problems: [corrupt(zip)] };

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
    const byName = new Map<string, string>();
    const byBase = new Map<string, string>();
    /** Where each entry's bytes lie in the file, at the least: local header (30 bytes) + data. */
    const spans: { name: string; start: number; end: number }[] = [];
    let total = 0;
    let index = 0;
    try {
      for await (const e of zip.eachEntry()) {
        const i = index++;
        const { name, problem } = decodeName(e);
        spans.push({
          name,
          start: e.relativeOffsetOfLocalHeader,
          end: e.relativeOffsetOfLocalHeader + 30 + e.compressedSize,
        });
        if (problem) {
          problems.push(problem);
          continue;
        }
        if (isSkipped(name)) continue;
        const p = judgeEntry(e, i, name, limits, isAcceptedName, byName, byBase);
        if ('code' in p) {
          problems.push(p);
          continue;
        }
        total += p.uncompressedSize;
        entries.push(p);
      }
    } catch (err) {
      if (isSystemError(err)) throw err;
      problems.push(
        err instanceof Error && /strong encryption/.test(err.message)
          ? finding(
              'ZIP-ENCRYPTED',
              `The zip uses strong encryption (entry ${index + 1} in the central directory).`,
              `Lo zip usa la cifratura forte (voce ${index + 1} della directory centrale).`,
            )
          : corrupt(err),
      );
      return { ok: false, problems };
    }

    if (total > limits.maxTotalBytes) problems.push(tooLarge(total, limits.maxTotalBytes, false));
    problems.push(...layoutProblems(spans, zip.fileSize));
  } finally {
    zip.close();
  }

  if (problems.length > 0) return { ok: false, problems };
  if (entries.length === 0) {
    return {
      ok: false,
      problems: [
        finding(
          'ZIP-EMPTY',
          'The zip holds no invoice file (.xml, .xml.p7m or .p7m).',
          'Lo zip non contiene alcun file fattura (.xml, .xml.p7m o .p7m).',
        ),
      ],
    };
  }
  return { ok: true, entries };
}

/** The checks on one entry that is neither skipped nor badly named: its info, or its first problem. */
function judgeEntry(
  e: yauzl.Entry,
  index: number,
  name: string,
  limits: ZipLimits,
  isAcceptedName: (baseName: string) => boolean,
  byName: Map<string, string>,
  byBase: Map<string, string>,
): ZipEntryInfo | Finding {
  const baseName = baseNameOf(name);
  const entry = { entry: name };

  const sameName = byName.get(nameKey(name));
  const sameBase = byBase.get(nameKey(baseName));
  if (sameName !== undefined) {
    return finding(
      'ZIP-DUPLICATE-ENTRY',
      `Zip entries "${sameName}" and "${name}" have the same name.`,
      `Le voci "${sameName}" e "${name}" dello zip hanno lo stesso nome.`,
      entry,
    );
  }
  if (sameBase !== undefined) {
    return finding(
      'ZIP-DUPLICATE-ENTRY',
      `Zip entries "${sameBase}" and "${name}" would both become a document named "${baseName}".`,
      `Le voci "${sameBase}" e "${name}" dello zip diventerebbero entrambe un documento di nome "${baseName}".`,
      entry,
    );
  }
  byName.set(nameKey(name), name);
  byBase.set(nameKey(baseName), name);

  if (e.isEncrypted()) {
    return finding(
      'ZIP-ENCRYPTED',
      `Zip entry "${name}" is encrypted.`,
      `La voce "${name}" dello zip è cifrata.`,
      entry,
    );
  }
  if (NESTED_EXT.test(baseName)) {
    return finding(
      'ZIP-NESTED-ARCHIVE',
      `Zip entry "${name}" is itself an archive; nested archives are not taken.`,
      `La voce "${name}" dello zip è a sua volta un archivio; gli archivi annidati non sono ammessi.`,
      entry,
    );
  }
  if (!isAcceptedName(baseName)) {
    return finding(
      'ZIP-UNSUPPORTED-ENTRY',
      `Zip entry "${name}" is not an invoice file (.xml, .xml.p7m or .p7m).`,
      `La voce "${name}" dello zip non è un file fattura (.xml, .xml.p7m o .p7m).`,
      entry,
    );
  }
  if (e.compressionMethod !== 0 && e.compressionMethod !== 8) {
    return finding(
      'ZIP-UNSUPPORTED-METHOD',
      `Zip entry "${name}" uses compression method ${e.compressionMethod}; only stored (0) and deflate (8) are supported.`,
      `La voce "${name}" dello zip usa il metodo di compressione ${e.compressionMethod}; sono supportati solo store (0) e deflate (8).`,
      entry,
    );
  }
  if (e.compressionMethod === 0 && e.compressedSize !== e.uncompressedSize) {
    // A stored entry is its own bytes: the two sizes must agree.
    return sizeMismatch(name, e.uncompressedSize, e.compressedSize, false);
  }
  if (e.uncompressedSize > limits.maxEntryBytes) {
    return entryTooBig(name, e.uncompressedSize, limits.maxEntryBytes, false);
  }
  const ratio = e.uncompressedSize / Math.max(e.compressedSize, 1);
  if (e.uncompressedSize > limits.ratioMinBytes && ratio > limits.maxRatio) {
    return finding(
      'ZIP-BOMB',
      `Zip entry "${name}" expands ${Math.round(ratio)} times, from ${e.compressedSize} to ${e.uncompressedSize} bytes (limit ${limits.maxRatio} times): it looks like a zip bomb.`,
      `La voce "${name}" dello zip si espande ${Math.round(ratio)} volte, da ${e.compressedSize} a ${e.uncompressedSize} byte (limite ${limits.maxRatio} volte): sembra una zip bomb.`,
      entry,
    );
  }
  return {
    index,
    name,
    baseName,
    uncompressedSize: e.uncompressedSize,
    compressedSize: e.compressedSize,
  };
}

/**
 * Entries whose bytes lie outside the file, or overlap another entry's bytes. Overlapping entries
 * are how the "non-recursive" zip bombs reuse one compressed kernel many times over.
 */
function layoutProblems(spans: { name: string; start: number; end: number }[], fileSize: number): Finding[] {
  const problems: Finding[] = [];
  for (const s of spans) {
    if (s.end > fileSize) {
      problems.push(
        corrupt(
          new ZipDamage(
            `the entry's data would end at byte ${s.end}, past the end of the file (${fileSize} bytes)`,
            `i dati della voce finirebbero al byte ${s.end}, oltre la fine del file (${fileSize} byte)`,
          ),
          s.name,
        ),
      );
    }
  }
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const cur = sorted[i];
    if (prev && cur && cur.start < prev.end) {
      problems.push(
        finding(
          'ZIP-BOMB',
          `Zip entries "${prev.name}" and "${cur.name}" share the same bytes in the file: overlapping entries are a zip bomb technique.`,
          `Le voci "${prev.name}" e "${cur.name}" dello zip condividono gli stessi byte del file: le voci sovrapposte sono una tecnica da zip bomb.`,
          { entry: cur.name },
        ),
      );
      break;
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Pass 2

const MAGIC: { bytes: number[]; what: string }[] = [
  { bytes: [0x50, 0x4b, 0x03, 0x04], what: 'zip' },
  { bytes: [0x50, 0x4b, 0x05, 0x06], what: 'zip' },
  { bytes: [0x50, 0x4b, 0x07, 0x08], what: 'zip' },
  { bytes: [0x1f, 0x8b], what: 'gzip' },
  { bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], what: '7z' },
  { bytes: [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07], what: 'rar' },
  { bytes: [0x42, 0x5a, 0x68], what: 'bzip2' },
  { bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], what: 'xz' },
  { bytes: [0x28, 0xb5, 0x2f, 0xfd], what: 'zstd' },
];

function archiveMagic(data: Buffer): string | null {
  for (const m of MAGIC) {
    if (data.length >= m.bytes.length && m.bytes.every((b, i) => data[i] === b)) return m.what;
  }
  return null;
}

/**
 * One entry's bytes, read with the limits enforced on the real stream: stops (and destroys the
 * stream) as soon as it holds more than the header declared, more than one entry may hold, or more
 * than the zip may hold in total.
 */
async function readEntry(
  zip: yauzl.ZipFile,
  e: yauzl.Entry,
  info: ZipEntryInfo,
  limits: ZipLimits,
  totalBefore: number,
): Promise<Buffer | Finding> {
  const stream = await zip.openReadStreamPromise(e);
  const chunks: Buffer[] = [];
  let n = 0;
  // Leaving this loop early destroys the stream, which releases yauzl's hold on the descriptor.
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > info.uncompressedSize) return sizeMismatch(info.name, info.uncompressedSize, n, true);
    if (n > limits.maxEntryBytes) return entryTooBig(info.name, n, limits.maxEntryBytes, true);
    if (totalBefore + n > limits.maxTotalBytes) return tooLarge(totalBefore + n, limits.maxTotalBytes, true);
    chunks.push(chunk);
  }
  if (n !== info.uncompressedSize) return sizeMismatch(info.name, info.uncompressedSize, n, false);
  return Buffer.concat(chunks, n);
}

/**
 * Pass 2: streams each accepted entry's bytes to `sink`, in central-directory order. Enforces the
 * limits again on the real decompressed bytes, checks each entry's CRC-32, and refuses entries whose
 * first bytes are an archive signature. Stops at the first problem and returns it; the caller then
 * discards what the sink received. An exception thrown by the sink is not a problem with the zip:
 * it propagates, after the zip is closed.
 */
export async function extractZip(
  file: string,
  entries: ZipEntryInfo[],
  limits: ZipLimits,
  sink: (entry: ZipEntryInfo, data: Buffer) => Promise<void>,
): Promise<Finding[]> {
  const wanted = new Map(entries.map((e) => [e.index, e]));
  const zip = await openZip(file);
  if (zip instanceof Error) return [corrupt(zip)];
  const it = zip.eachEntry();
  try {
    let total = 0;
    let done = 0;
    for (let index = 0; done < wanted.size; index++) {
      let next: IteratorResult<yauzl.Entry>;
      try {
        next = await it.next();
      } catch (err) {
        if (isSystemError(err)) throw err;
        return [corrupt(err)];
      }
      if (next.done) break;
      const e = next.value;
      const info = wanted.get(index);
      if (!info) continue;
      done++;
      if (
        decodeName(e).name !== info.name ||
        e.uncompressedSize !== info.uncompressedSize ||
        e.compressedSize !== info.compressedSize
      ) {
        return [
          corrupt(
            new ZipDamage(
              'the entry changed since the zip was inspected',
              'la voce è cambiata dopo il controllo dello zip',
            ),
            info.name,
          ),
        ];
      }

      let data: Buffer | Finding;
      try {
        data = await readEntry(zip, e, info, limits, total);
      } catch (err) {
        if (isSystemError(err)) throw err;
        return [corrupt(err, info.name)];
      }
      if (!Buffer.isBuffer(data)) return [data];
      if (zlib.crc32(data) !== e.crc32) {
        return [
          corrupt(
            new ZipDamage('CRC-32 mismatch, the data is damaged', 'CRC-32 errato, i dati sono danneggiati'),
            info.name,
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
      total += data.length;
      await sink(info, data);
    }
    if (done < wanted.size) {
      return [
        corrupt(
          new ZipDamage(
            `${wanted.size - done} entries seen by the first pass are missing`,
            `mancano ${wanted.size - done} voci viste nel primo controllo`,
          ),
        ),
      ];
    }
    return [];
  } finally {
    await it.return?.();
    zip.close();
  }
}

/** A zip's accepted entries with their bytes, in central-directory order. */
export type ZipRead =
  { ok: true; entries: { info: ZipEntryInfo; data: Buffer }[] } | { ok: false; problems: Finding[] };

/**
 * Both passes: what intake takes from a dropped zip and what `fatturad validate` checks, with the
 * same refusals (the first pass's problems, or the second pass's first one). Every entry's bytes
 * are held in memory, which `limits.maxTotalBytes` bounds.
 */
export async function readZip(
  file: string,
  limits: ZipLimits,
  isAcceptedName: (baseName: string) => boolean,
): Promise<ZipRead> {
  const check = await inspectZip(file, limits, isAcceptedName);
  if (!check.ok) return check;
  const entries: { info: ZipEntryInfo; data: Buffer }[] = [];
  const problems = await extractZip(file, check.entries, limits, async (info, data) => {
    entries.push({ info, data });
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, entries };
}
