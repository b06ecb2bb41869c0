import type { XmlElement } from '../invoice/xml.js';
import type { Finding } from './finding.js';
import { REGISTRY_CHECKS } from './sdi/checks/index.js';
import { runChecks } from './sdi/engine.js';

/**
 * Offline approximations of SdI's registry checks (00300-00330). The checks live in
 * sdi/checks/anagrafe.ts, the identifier algorithms in sdi/fiscal-ids.ts; this module keeps the
 * names other modules and tests know.
 */
export { isValidCodiceFiscale, isValidPartitaIva } from './sdi/fiscal-ids.js';

/** The registry warnings and notes for an invoice (ordinary or simplified), as of today. */
export function checkRegistry(root: XmlElement, o: { received?: boolean } = {}): Finding[] {
  const r = runChecks(root, o, REGISTRY_CHECKS);
  return [...r.errors, ...r.warnings, ...r.info];
}
