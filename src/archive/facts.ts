import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { SearchKey } from './metadata.js';

/**
 * The archive log's "facts" leaf: what the archive's index (SQLite) holds about one document
 * archived in one PdV, committed by the Merkle log like the files themselves, so that the index
 * can be recomputed from the log (`archive verify` compares, `archive rebuild-index` rebuilds):
 *
 *   fatturad-facts/1
 *   seq 57
 *   time 2026-11-29T10:00:00.000Z
 *   facts {"type":"document","document":"out:12","pdv":{...},"pda":{...},"items":[...]}
 *
 * `facts` is one line of canonical JSON (the keys in this module's order, no spaces): each item
 * names its file's log entry (`leaf`), and holds its kind, name, SHA-256 and size, where it came
 * from in the store, its Allegato 5 facts and its fiscal search keys. The files' own leaves keep
 * the `fatturad-leaf/1` format; a facts leaf has no file in `objects/`.
 */
export const FACTS_VERSION = 'fatturad-facts/1';

/** A search key as the index holds it (a change to SearchKey changes fatturad-facts/1: version it). */
export type FactsKey = SearchKey;

export interface FactsItem {
  /** The log index of the file's own entry. */
  leaf: number;
  kind: string;
  name: string;
  sha256: string;
  size: number;
  source: string;
  sourceId: number;
  /** The Allegato 5 facts of an invoice (JSON text), null for other files. */
  metadata: string | null;
  keys: FactsKey[];
}

export interface PackageRef {
  name: string;
  createdAt: string;
}

export interface DocumentFacts {
  type: 'document';
  document: string;
  pdv: PackageRef;
  pda: PackageRef;
  items: FactsItem[];
}

export interface FactsEntry {
  seq: number;
  time: string;
  facts: DocumentFacts;
}

const nullableText = z.string().nullable();
const keySchema = z
  .object({
    role: z.string(),
    denominazione: nullableText,
    nome: nullableText,
    cognome: nullableText,
    codiceFiscale: nullableText,
    partitaIva: nullableText,
    data: z.string(),
    numero: z.string(),
    tipoDocumento: z.string(),
    identificativoSdI: nullableText,
  })
  .strict();
const whole = z.number().int().nonnegative();
const packageSchema = z.object({ name: z.string(), createdAt: z.string() }).strict();
const factsSchema = z
  .object({
    type: z.literal('document'),
    document: z.string(),
    pdv: packageSchema,
    pda: packageSchema,
    items: z.array(
      z
        .object({
          leaf: whole,
          kind: z.string(),
          name: z.string(),
          sha256: z.string().regex(/^[0-9a-f]{64}$/),
          size: whole,
          source: z.string(),
          sourceId: z.number().int(),
          metadata: nullableText,
          keys: z.array(keySchema),
        })
        .strict(),
    ),
  })
  .strict();

/** The facts with their keys in canonical order (what is hashed does not depend on who built it). */
function ordered(f: DocumentFacts): DocumentFacts {
  return {
    type: 'document',
    document: f.document,
    pdv: { name: f.pdv.name, createdAt: f.pdv.createdAt },
    pda: { name: f.pda.name, createdAt: f.pda.createdAt },
    items: f.items.map((i) => ({
      leaf: i.leaf,
      kind: i.kind,
      name: i.name,
      sha256: i.sha256,
      size: i.size,
      source: i.source,
      sourceId: i.sourceId,
      metadata: i.metadata,
      keys: i.keys.map((k) => ({
        role: k.role,
        denominazione: k.denominazione,
        nome: k.nome,
        cognome: k.cognome,
        codiceFiscale: k.codiceFiscale,
        partitaIva: k.partitaIva,
        data: k.data,
        numero: k.numero,
        tipoDocumento: k.tipoDocumento,
        identificativoSdI: k.identificativoSdI,
      })),
    })),
  };
}

export function encodeFacts(e: FactsEntry): Buffer {
  // JSON.stringify escapes line breaks inside strings: the JSON stays on one line.
  return Buffer.from(
    `${FACTS_VERSION}\nseq ${e.seq}\ntime ${e.time}\nfacts ${JSON.stringify(ordered(e.facts))}\n`,
    'utf8',
  );
}

/** Reads a facts entry back; null when it is not exactly one this version wrote. */
export function decodeFacts(bytes: Uint8Array): FactsEntry | null {
  const text = Buffer.from(bytes).toString('utf8');
  const m = /^fatturad-facts\/1\nseq (0|[1-9][0-9]*)\ntime ([0-9T:.Z-]+)\nfacts (\{[^\n]*\})\n$/.exec(text);
  if (!m) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(m[3] as string);
  } catch {
    return null;
  }
  const f = factsSchema.safeParse(parsed);
  if (!f.success) return null;
  const e: FactsEntry = { seq: Number(m[1]), time: m[2] as string, facts: f.data };
  return encodeFacts(e).equals(Buffer.from(bytes)) ? e : null;
}

/** Whether a leaf entry is a facts entry (by its first line), canonical or not. */
export function isFactsEntry(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.subarray(0, FACTS_VERSION.length + 1)).toString('utf8') === `${FACTS_VERSION}\n`;
}

export function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
