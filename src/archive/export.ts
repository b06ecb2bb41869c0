import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { SearchQuery } from '../store/archive-store.js';
import type { OpenedArchive } from './open.js';
import { bagName, type PddDocument, type PddInput } from './pdd.js';

/**
 * What `fatturad archive export` puts in a PdD for the documents found: each archived file with
 * its metadata and the inclusion proof of its log entry, the documents' facts entries, the
 * packages' files with their entries, and the archive's published checkpoint (`log/checkpoint`,
 * the one compared with the copies kept elsewhere) as the bag's checkpoint. `writePdd` checks the
 * bag before writing it, against the log's entries: an index that disagrees with the log, or a
 * published checkpoint that is not the latest one signed, gives no PdD but the findings.
 */
export async function pddInput(
  a: OpenedArchive,
  config: Config,
  docs: readonly string[],
  query: SearchQuery,
  now = new Date(),
): Promise<{ input: PddInput; archivedFiles: number }> {
  // Files archived before facts entries get theirs first (as the daemon does at its start).
  await a.preservation.seal();
  await a.archive.checkpoint();
  const cp = a.archive.latestCheckpoint();
  if (!cp) throw new Error('the archive has no checkpoint');
  const published = await fsp
    .readFile(path.join(a.archive.opts.dir, 'log', 'checkpoint'), 'utf8')
    .catch(() => '');
  const prove = a.archive.prover(cp.size);
  const documents: PddDocument[] = [];
  const pdvs = new Set<number>();
  // The log's facts entries of these documents: verify-export checks the bag against them.
  const factsOf = a.astore.factsLeaves();
  const facts: NonNullable<PddInput['facts']> = [];
  for (const d of docs)
    for (const idx of factsOf.get(d) ?? []) {
      if (idx >= cp.size) continue;
      const p = prove(idx);
      facts.push({ leafIndex: idx, entry: p.entry, proof: p.proof });
    }
  for (const d of docs)
    for (const i of a.astore.itemsOfDocument(d)) {
      const p = prove(i.leafIdx);
      pdvs.add(i.pdvId);
      documents.push({
        // Plain file names in the bag: <document>--<name>, e.g. out-12--IT01234567890_00001.xml
        name: bagName(d, i.name),
        bytes: await a.archive.blobs.get(i.sha256),
        sha256: i.sha256,
        metadata: {
          document: d,
          kind: i.kind,
          keys: i.kind === 'invoice' ? a.astore.keysOf(d) : undefined,
        },
        leafIndex: i.leafIdx,
        entry: p.entry,
        proof: p.proof,
      });
    }
  const packages: NonNullable<PddInput['packages']> = [];
  const addPackage = async (file: string, sha256: string): Promise<void> => {
    const idx = a.astore.leafOfBlob(sha256, ['rdv', 'pindex', 'signature', 'timestamp']);
    const p = idx !== undefined && idx < cp.size ? prove(idx) : undefined;
    packages.push({
      path: file,
      bytes: await a.archive.blobs.get(sha256),
      ...(p && idx !== undefined ? { leafIndex: idx, entry: p.entry, proof: p.proof } : {}),
    });
  };
  const pdas = new Set<number>();
  for (const id of pdvs) {
    const pdv = a.astore.getPackage(id);
    if (!pdv) continue;
    if (pdv.indexSha256) await addPackage(`${pdv.name}.rdv.xml`, pdv.indexSha256);
    if (pdv.pdaId) pdas.add(pdv.pdaId);
  }
  for (const id of pdas) {
    const pda = a.astore.getPackage(id);
    if (!pda || pda.state !== 'closed') continue;
    if (pda.indexSha256) await addPackage(`${pda.name}.PIndex.xml`, pda.indexSha256);
    if (pda.signatureSha256) await addPackage(`${pda.name}.PIndex.xml.p7m`, pda.signatureSha256);
    if (pda.timestampSha256) await addPackage(`${pda.name}.PIndex.tsr`, pda.timestampSha256);
  }
  return {
    input: {
      id: `PdD-${now.toISOString().replace(/[-:]/g, '').slice(0, 15)}`,
      documents,
      checkpointNote: published,
      treeSize: cp.size,
      rootHex: cp.root.toString('hex'),
      logPublicKeyPem: a.archive.publicKeyPem,
      verifierKey: a.archive.verifierKey,
      origin: a.archive.origin,
      packages,
      facts,
      info: {
        sourceOrganization: config.archive.holder.name || 'fatturad',
        baggingDate: now.toISOString().slice(0, 10),
        externalIdentifier: `query: ${JSON.stringify(query)}`,
      },
    },
    archivedFiles: documents.length,
  };
}
