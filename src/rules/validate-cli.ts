import fs from 'node:fs';
import type { Config } from '../config/schema.js';
import { Store } from '../store/store.js';
import { TSL, tslAnchorsFor } from '../trust/anchors.js';
import { checkInput, formatBytes, isAcceptedEntryName, kindOf } from '../watchers/accept.js';
import { finding, type Finding } from './finding.js';
import { parseDay } from './sdi/days.js';
import { OFF_THREAD_BYTES, ValidationPool } from './pool.js';
import { duplicateFindings, validateFile, type ValidationOptions } from './validate.js';

/**
 * `fatturad validate`: the same checks the daemon runs, on files given on the command line. A zip
 * is read as intake takes it (src/watchers/zip.ts, with `intake.zip`'s limits): each entry gets
 * its own verdict, or the zip gets its refusal.
 */

interface FileVerdict {
  file: string;
  /** The entry's name inside the zip `file`. */
  entry?: string;
  valid: boolean;
  errors: Omit<Finding, 'entry'>[];
  warnings: Omit<Finding, 'entry'>[];
  /** Notes: nothing to fix, something to know. */
  info: Omit<Finding, 'entry'>[];
}

function shape(f: Finding): FileVerdict['errors'][number] {
  return {
    code: f.code,
    field: f.field ?? null,
    path: f.path ?? null,
    line: f.line ?? null,
    ...(f.column !== undefined ? { column: f.column } : {}),
    // A zip's refusal names the entry at fault.
    ...(f.entry !== undefined ? { entry: f.entry } : {}),
    message: f.message,
    messageIt: f.messageIt,
  } as FileVerdict['errors'][number];
}

function human(v: FileVerdict): string {
  // Most verdicts are one line: no list, no closure.
  if (v.errors.length === 0 && v.warnings.length === 0 && v.info.length === 0 && v.entry === undefined)
    return `${v.valid ? 'VALID  ' : 'INVALID'} ${v.file}`;
  const lines = [
    `${v.valid ? 'VALID  ' : 'INVALID'} ${v.file}${v.entry !== undefined ? ` (in zip: ${v.entry})` : ''}`,
  ];
  const item = (kind: string, f: FileVerdict['errors'][number]): void => {
    const where = [f.field, f.line ? `line ${f.line}${f.column ? `:${f.column}` : ''}` : null]
      .filter(Boolean)
      .join(', ');
    lines.push(`  ${kind} ${f.code}${where ? ` [${where}]` : ''}`);
    lines.push(`    EN: ${f.message}`);
    lines.push(`    IT: ${f.messageIt}`);
  };
  v.errors.forEach((e) => item('error  ', e));
  v.warnings.forEach((w) => item('warning', w));
  v.info.forEach((n) => item('note   ', n));
  return lines.join('\n');
}

export async function runValidate(
  files: string[],
  config: Config,
  o: { json?: boolean; ca?: string[]; asOf?: string },
): Promise<number> {
  // --as-of: the day whose SdI rules apply (checks in force, format version, 00403's today).
  const asOf = o.asOf === undefined ? null : parseDay(o.asOf);
  if (o.asOf !== undefined && !asOf) {
    process.stderr.write(`fatturad: --as-of wants a calendar day YYYY-MM-DD, not "${o.asOf}"\n`);
    return 2;
  }
  let trustedCAs: Buffer[];
  // `tsl` (in the configuration or --ca tsl): the kept trusted list; unusable, the CA is not checked.
  const tsl = (o.ca ?? config.validation.trustedCAs).includes(TSL) ? tslAnchorsFor(config) : null;
  if (tsl?.problem ?? tsl?.warning) process.stderr.write(`fatturad: ${tsl?.problem ?? tsl?.warning}\n`);
  try {
    trustedCAs =
      tsl?.anchors === null
        ? []
        : (o.ca ?? config.validation.trustedCAs).filter((f) => f !== TSL).map((f) => fs.readFileSync(f));
  } catch (err) {
    process.stderr.write(`fatturad: cannot read a CA certificate: ${(err as Error).message}\n`);
    return 2;
  }
  // The uniqueness check (00404) uses the daemon's store when there is one.
  let store: Store | null = null;
  try {
    if (fs.existsSync(config.paths.db)) store = new Store(config.paths.db, { readonly: true });
  } catch {
    store = null;
  }
  const opts: ValidationOptions = {
    fileName: 'error',
    maxFileBytes: config.intake.maxFileBytes,
    trustedCAs,
    trustAnchors: tsl?.anchors ?? [],
    ...(asOf ? { asOf } : {}),
    ...(store ? { findSent: (keys) => store.findSentKeys(keys) } : {}),
  };
  // Files over OFF_THREAD_BYTES on one worker, within the per-file budget (validation.budget):
  // nothing can stop a computation in its own thread. Started with the first such file.
  const worker: { pool: ValidationPool | null } = { pool: null };
  // The options of the file being validated: only `now` changes from one file to the next.
  const fileOpts: ValidationOptions = { ...opts };
  const check = async (name: string, bytes: Buffer): Promise<Omit<FileVerdict, 'file' | 'entry'>> => {
    const now = new Date();
    if (bytes.length <= OFF_THREAD_BYTES) {
      fileOpts.now = now;
      const r = await validateFile(name, bytes, fileOpts);
      return {
        valid: r.valid,
        errors: r.errors.map(shape),
        warnings: r.warnings.map(shape),
        info: r.info.map(shape),
      };
    }
    worker.pool ??= new ValidationPool(1, config.validation.budget);
    const { findSent, ...rest } = opts;
    const v = await worker.pool.validate(name, bytes, { ...rest, trustedCAs, now });
    const duplicates = v.valid && findSent ? duplicateFindings(v.keys, findSent) : [];
    return {
      valid: v.valid && duplicates.length === 0,
      errors: [...v.errors, ...duplicates].map(shape),
      warnings: v.warnings.map(shape),
      info: v.info.map(shape),
    };
  };
  const verdicts: FileVerdict[] = [];
  let ioError = false;
  let anyInvalid = false;
  let text = '';
  try {
    // In this thread: a worker thread beside it made 10,000 files at most 25 % faster on two CPUs
    // but the process 25 MB larger, past 150 MB (bench/cli.ts).
    for await (const input of inputs(files, config, (file, err) => {
      process.stderr.write(`fatturad: cannot read ${file}: ${err.message}\n`);
      ioError = true;
    })) {
      let v: FileVerdict;
      if ('refused' in input) {
        v = { file: input.file, valid: false, errors: input.refused.map(shape), warnings: [], info: [] };
      } else {
        v = {
          file: input.file,
          ...(input.entry !== undefined ? { entry: input.entry } : {}),
          ...(await check(input.name, input.bytes)),
        };
      }
      if (!v.valid) anyInvalid = true;
      // Kept for --json only; a readable verdict is printed (in 64 KB writes) and dropped.
      if (o.json) verdicts.push(v);
      else {
        text += `${human(v)}\n`;
        if (text.length >= 64 * 1024) {
          process.stdout.write(text);
          text = '';
        }
      }
    }
  } finally {
    process.stdout.write(text);
    store?.close();
    await worker.pool?.close();
  }
  if (o.json) process.stdout.write(`${JSON.stringify(verdicts, null, 2)}\n`);
  if (ioError) return 2;
  return anyInvalid ? 1 : 0;
}

/** A file or a zip entry to validate, or a file refused before validation (a zip's refusal). */
type Input =
  { file: string; entry?: string; name: string; bytes: Buffer } | { file: string; refused: Finding[] };

/** The files, and each zip as intake takes it: its entries, or its refusal. */
async function* inputs(
  files: string[],
  config: Config,
  ioError: (file: string, err: Error) => void,
): AsyncGenerator<Input> {
  // Files that fit are read into this one buffer (no allocation per file): each is validated
  // before the next is read, and nothing keeps its bytes (see readBounded).
  const scratch = Buffer.allocUnsafe(OFF_THREAD_BYTES + 1);
  for (const file of files) {
    const name = file.split(/[\\/]/).pop() ?? file;
    try {
      if (kindOf(name) !== 'zip') {
        const read = readBounded(file, config.intake.maxFileBytes, scratch);
        if ('refused' in read) yield { file, refused: [read.refused] };
        else yield { file, name, bytes: read.bytes };
        continue;
      }
      const size = fs.statSync(file).size;
      const refused = checkInput(name, size, config.intake.maxFileBytes);
      // yauzl and the zip reader only when there is a zip.
      const { readZip } = await import('../watchers/zip.js');
      const read = refused.length > 0 ? null : await readZip(file, config.intake.zip, isAcceptedEntryName);
      if (!read) yield { file, refused };
      else if (!read.ok) yield { file, refused: read.problems };
      else
        for (const e of read.entries)
          yield { file, entry: e.info.name, name: e.info.baseName, bytes: e.data };
    } catch (err) {
      // Operating-system errors only (a missing file...): what is wrong inside a zip is a refusal.
      ioError(file, err as Error);
    }
  }
}

/**
 * Reads a file, at most `max` + 1 bytes of it: a regular file larger than `max` is refused from
 * its size, and anything else (a device such as /dev/zero, a FIFO, a file growing while read) is
 * refused as soon as it has given more than `max` bytes. Memory stays bounded whatever is named.
 * A regular file that fits in `scratch` (its size plus one byte) is read into it: the bytes
 * returned are then a view of `scratch`, good until the next read into it.
 */
export function readBounded(
  file: string,
  max: number,
  scratch?: Buffer,
): { bytes: Buffer } | { refused: Finding } {
  const fd = fs.openSync(file, 'r');
  try {
    const st = fs.fstatSync(fd);
    const regular = st.isFile();
    if (regular && st.size > max) return { refused: tooLarge(st.size, max) };
    const chunks: Buffer[] = [];
    let total = 0;
    if (regular && scratch !== undefined && st.size + 1 <= scratch.length) {
      // One read of its size plus one byte, to see whether it grew; a short read is its end.
      const want = Math.min(max + 1, st.size + 1);
      const n = fs.readSync(fd, scratch, 0, want, null);
      if (n < want) return { bytes: scratch.subarray(0, n) };
      if (n > max) return { refused: tooLarge(n, max) };
      // It grew: what was read is kept, and the reads below go on.
      chunks.push(Buffer.from(scratch.subarray(0, n)));
      total = n;
    }
    // One read for a regular file (its size plus one byte, to see whether it grew), 64 KB reads
    // for the rest.
    for (;;) {
      const want = Math.min(max + 1 - total, regular ? st.size + 1 : 64 * 1024);
      const buf = Buffer.allocUnsafe(Math.max(1, want));
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      chunks.push(n === buf.length ? buf : buf.subarray(0, n));
      total += n;
      // A short read of a regular file is its end.
      if (regular && n < buf.length) break;
      if (total > max) {
        return {
          refused: regular
            ? tooLarge(total, max)
            : finding(
                '00003',
                `The input is not a regular file (a device or a pipe) and gave more than the limit of ${formatBytes(max)} that SdI allows: fatturad stopped reading there.`,
                `L'input non è un file regolare (un dispositivo o una pipe) e ha fornito più del limite di ${formatBytes(max)} ammesso dallo SdI: fatturad ha smesso di leggerlo lì.`,
              ),
        };
      }
    }
    return { bytes: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total) };
  } finally {
    fs.closeSync(fd);
  }
}

const tooLarge = (size: number, max: number): Finding =>
  finding(
    '00003',
    `File size ${size > max + 1 ? formatBytes(size) : `over ${formatBytes(max)}`} exceeds the limit of ${formatBytes(max)} that SdI allows.`,
    `La dimensione del file (${size > max + 1 ? formatBytes(size) : `oltre ${formatBytes(max)}`}) supera il limite di ${formatBytes(max)} ammesso dallo SdI.`,
  );
