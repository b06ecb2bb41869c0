import crypto from 'node:crypto';
import { finding, type Finding } from '../rules/finding.js';
import { extensionOf } from '../util/fsx.js';

/** Pure rules for what intake takes from a drop folder. */

export type InputKind = 'xml' | 'p7m' | 'zip';

/** Names that are still being written or are not meant for us: never claimed, never rejected. */
export function isIgnoredName(name: string): boolean {
  return (
    name.startsWith('.') ||
    name.startsWith('~') ||
    /\.(tmp|temp|part|partial|filepart|crdownload|swp|lock)$/i.test(name)
  );
}

export function kindOf(name: string): InputKind | null {
  if (/\.xml$/i.test(name)) return 'xml';
  if (/\.p7m$/i.test(name)) return 'p7m';
  if (/\.zip$/i.test(name)) return 'zip';
  return null;
}

/** Names a document may have inside a zip: the same as outside, except another zip. */
export function isAcceptedEntryName(name: string): boolean {
  const k = kindOf(name);
  return k === 'xml' || k === 'p7m';
}

const MB = 1024 * 1024;

/**
 * The longest file name intake takes, in bytes (UTF-8). File systems allow 255; fatturad adds to
 * a name in the spool (`00000042-`), in rejected/ and duplicates/ (`.17`, `.errors.json`,
 * `.duplicate.json`), so a longer name could be taken but not kept or reported. SdI's own names
 * are under 50.
 */
export const MAX_NAME_BYTES = 200;

/**
 * `name` itself when it is at most `max` bytes; otherwise its beginning, `~`, 8 hex digits of its
 * hash and its extension, `max` bytes at most: distinct names stay distinct.
 */
export function fitName(name: string, max = MAX_NAME_BYTES): string {
  if (Buffer.byteLength(name) <= max) return name;
  const ext = extensionOf(name).slice(0, 16);
  const tag = `~${crypto.createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
  const room = max - Buffer.byteLength(tag) - Buffer.byteLength(ext);
  let stem = '';
  for (const ch of name.slice(0, name.length - extensionOf(name).length)) {
    if (Buffer.byteLength(stem + ch) > room) break;
    stem += ch;
  }
  return `${stem}${tag}${ext}`;
}

export function formatBytes(n: number): string {
  return n >= MB ? `${(n / MB).toFixed(2)} MB` : `${n} bytes`;
}

/** Checks on a file's name and size, before its content is read. */
export function checkInput(name: string, size: number, maxFileBytes: number): Finding[] {
  const problems: Finding[] = [];
  if (kindOf(name) === null) {
    problems.push(
      finding(
        '00001',
        `File name "${name}" has an extension SdI does not accept: only .xml, .xml.p7m, .p7m and .zip are taken.`,
        `Il nome file "${name}" ha un'estensione non ammessa dallo SdI: sono accettati solo .xml, .xml.p7m, .p7m e .zip.`,
      ),
    );
  }
  const bytes = Buffer.byteLength(name);
  if (bytes > MAX_NAME_BYTES) {
    problems.push(
      finding(
        'NAME-TOO-LONG',
        `The file name is ${bytes} bytes long; fatturad takes names of at most ${MAX_NAME_BYTES} bytes (SdI's names are under 50).`,
        `Il nome del file è lungo ${bytes} byte; fatturad accetta nomi di al massimo ${MAX_NAME_BYTES} byte (i nomi dello SdI sono sotto i 50).`,
      ),
    );
  }
  if (size === 0) {
    problems.push(finding('EMPTY-FILE', 'The file is empty (0 bytes).', 'Il file è vuoto (0 byte).'));
  }
  if (kindOf(name) !== 'zip' && size > maxFileBytes) {
    problems.push(
      finding(
        '00003',
        `File size ${formatBytes(size)} exceeds the limit of ${formatBytes(maxFileBytes)} that SdI allows.`,
        `La dimensione del file (${formatBytes(size)}) supera il limite di ${formatBytes(maxFileBytes)} ammesso dallo SdI.`,
      ),
    );
  }
  return problems;
}
