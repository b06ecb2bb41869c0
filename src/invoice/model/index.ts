/**
 * The document models fatturad validates against, compiled once at load, and the single source of
 * field names ("2.2.1.11 PrezzoTotale") for any path inside a document.
 */
import { DS_NS, DSIG_GLOBALS, FatturaElettronica } from './fatturapa.js';
import { FatturaElettronicaSemplificata } from './semplificata.js';
import { compileModel, elementKey, type ElementDef, type NodeDecl } from './types.js';

export { DS_NS, FPA_NS } from './fatturapa.js';
export { FSM_NS } from './semplificata.js';
export type { NodeDecl, SimpleType, ComplexType, Automaton, State, Position } from './types.js';

export interface DocumentModel {
  /** 'FPR12' for the ordinary format (FPA12 / FPR12), 'FSM10' for the simplified one. */
  readonly id: 'FPR12' | 'FSM10';
  readonly schemaVersion: string;
  readonly rootName: string;
  readonly ns: string;
  /** Allowed values of the root attribute `versione`. */
  readonly versions: readonly string[];
  readonly root: NodeDecl;
  /** Global element declarations by key (`{ns}name`), for wildcards. */
  readonly globals: ReadonlyMap<string, NodeDecl>;
  /** Field label by model path (local names, no indices). */
  readonly labels: ReadonlyMap<string, string>;
}

function build(
  id: DocumentModel['id'],
  schemaVersion: string,
  rootDef: ElementDef,
  versions: string[],
): DocumentModel {
  const root = compileModel(rootDef, rootDef.ns);
  const globals = new Map<string, NodeDecl>();
  globals.set(elementKey(root.ns, root.name), root);
  for (const g of DSIG_GLOBALS)
    globals.set(elementKey(g.ns, g.name), compileModel(g, g.ns === DS_NS ? '' : g.ns));
  const labels = new Map<string, string>();
  // Numbered part of the tree (the XML-DSig part is shared and may be recursive: only its top).
  const stack: NodeDecl[] = [root];
  while (stack.length > 0) {
    const n = stack.pop() as NodeDecl;
    labels.set(n.modelPath, n.label);
    if (n.ns !== '' && n !== root) continue;
    for (const c of n.children) if (c) stack.push(c);
  }
  return { id, schemaVersion, rootName: rootDef.name, ns: rootDef.ns, versions, root, globals, labels };
}

export const MODELS: readonly DocumentModel[] = [
  build('FPR12', '1.2.3', FatturaElettronica, ['FPA12', 'FPR12']),
  build('FSM10', '1.0.1', FatturaElettronicaSemplificata, ['FSM10']),
];

/** The model for a root element (by local name and namespace), if any. */
export function modelFor(root: { name: string; ns: string }): DocumentModel | undefined {
  for (const m of MODELS) if (m.rootName === root.name && m.ns === root.ns) return m;
  return undefined;
}

const INDEX = /\[\d+\]/g;

/**
 * Field number and name for a slash path of local names from the root, with optional [n]
 * indices, e.g. "/FatturaElettronica/FatturaElettronicaBody[2]/DatiBeniServizi/DettaglioLinee[3]/PrezzoTotale"
 * → "2.2.1.11 PrezzoTotale". A trailing attribute step ("/@versione") gives its element's label.
 * Undefined for paths outside the models.
 */
export function fieldLabel(path: string): string | undefined {
  let p = path.indexOf('[') >= 0 ? path.replace(INDEX, '') : path;
  const at = p.lastIndexOf('/@');
  if (at >= 0) p = p.slice(0, at);
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  for (const m of MODELS) {
    const l = m.labels.get(p);
    if (l !== undefined) return l;
  }
  return undefined;
}
