import type { Finding } from './finding.js';

/**
 * The report written beside a rejected file (`<name>.errors.json` and `<name>.errors.txt`),
 * the same for intake, local validation and SdI's own rejections.
 */
export interface RejectionReport {
  file: string;
  /** Where the file came from: the drop folder, and the zip it was inside, if any. */
  source: { folder: string; name: string; entry?: string };
  documentId?: number;
  sha256: string;
  size: number;
  at: string;
  stage: 'intake' | 'validation' | 'sdi';
  valid: false;
  errors: Finding[];
  warnings: Finding[];
}

function location(f: Finding): string {
  const parts: string[] = [];
  if (f.entry) parts.push(`entry ${f.entry}`);
  if (f.field) parts.push(`field ${f.field}`);
  if (f.line !== undefined) parts.push(`line ${f.line}${f.column !== undefined ? `:${f.column}` : ''}`);
  if (f.path) parts.push(f.path);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

export function formatFinding(f: Finding): string {
  return `[${f.code}]${location(f)}\n    EN: ${f.message}\n    IT: ${f.messageIt}`;
}

export function renderReportText(r: RejectionReport): string {
  const src = r.source.entry ? `${r.source.name} (entry ${r.source.entry})` : r.source.name;
  const lines = [
    `fatturad: file rejected / file scartato`,
    ``,
    `File:       ${r.file}`,
    `Source:     ${r.source.folder} / ${src}`,
    `Received:   ${r.at}`,
    `SHA-256:    ${r.sha256}`,
    `Size:       ${r.size} bytes`,
    `Stage:      ${r.stage}`,
    ...(r.documentId !== undefined ? [`Document:   ${r.documentId}`] : []),
    ``,
    `Errors (${r.errors.length}) / Errori:`,
    ...r.errors.map((f, i) => `${i + 1}. ${formatFinding(f)}`),
  ];
  if (r.warnings.length) {
    lines.push(
      '',
      `Warnings (${r.warnings.length}) / Avvisi:`,
      ...r.warnings.map((f, i) => `${i + 1}. ${formatFinding(f)}`),
    );
  }
  lines.push(
    '',
    'Fix the file and drop it into the folder again. / Correggere il file e depositarlo di nuovo nella cartella.',
    '',
  );
  return lines.join('\n');
}

export interface DuplicateReport {
  file: string;
  source: { folder: string; name: string; entry?: string };
  sha256: string;
  size: number;
  at: string;
  duplicateOf: { documentId: number; originalName: string; receivedAt: string; state: string };
}

export function renderDuplicateText(r: DuplicateReport): string {
  const src = r.source.entry ? `${r.source.name} (entry ${r.source.entry})` : r.source.name;
  const o = r.duplicateOf;
  return [
    'fatturad: duplicate file, not processed / file duplicato, non elaborato',
    '',
    `File:       ${r.file}`,
    `Source:     ${r.source.folder} / ${src}`,
    `Received:   ${r.at}`,
    `SHA-256:    ${r.sha256}`,
    '',
    `EN: The same content was already taken in as document ${o.documentId} ("${o.originalName}", received ${o.receivedAt}, now ${o.state}). It is not processed or sent again.`,
    `IT: Lo stesso contenuto è già stato acquisito come documento ${o.documentId} ("${o.originalName}", ricevuto il ${o.receivedAt}, stato ${o.state}). Non viene elaborato né inviato di nuovo.`,
    '',
  ].join('\n');
}
