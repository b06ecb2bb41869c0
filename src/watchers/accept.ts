import { finding, type Finding } from '../rules/finding.js';

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
