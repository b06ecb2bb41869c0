import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Test data, in one place.
 *
 * - The project's own example invoices (`examples/`), always present: for every test that needs
 *   "a valid invoice".
 * - The official files (schemas, WSDLs, SdI's sample messages, the SInCRO schema, the Merkle test
 *   vectors), used only as oracles and never copied into the project. They are read from
 *   `../shared/spec` beside the project when it is there, otherwise from `.cache/spec`, filled by
 *   `scripts/fetch-spec.sh` (downloaded from the official URLs, each checked against a pinned
 *   SHA-256). `TEST_SPEC_DIR` names another folder (an empty value: none). With neither, the
 *   oracle tests are skipped and the run prints one line saying how to get the files
 *   (`test/global-setup.ts`).
 */

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const EXAMPLES = path.join(ROOT, 'examples');

/** The example invoices (see examples/README.md). */
export const EX = {
  /** FPR12 business to business, valid. */
  b2b: 'IT12345670017_B2B01.xml',
  /** FPA12, valid once signed; unsigned it is 00102. */
  pa: 'IT12345670017_PA001.xml',
  /** FPR12 lotto of three bodies, valid. */
  lotto: 'IT12345670017_LOT01.xml',
  /** FSM10 simplified invoice, valid. */
  semplificata: 'IT12345670017_SM001.xml',
  /** FPR12 with wrong amounts: exactly 00422 and 00423. */
  invalid: 'IT12345670017_ERR01.xml',
} as const;

export const examplePath = (name: string): string => path.join(EXAMPLES, name);
export const example = (name: string): Buffer => fs.readFileSync(examplePath(name));
export const exampleText = (name: string): string => fs.readFileSync(examplePath(name), 'utf8');

/** How to get the official files, printed once per run when they are missing. */
export const SPEC_HINT =
  'official spec files not found (../shared/spec beside the project, or .cache/spec): the oracle tests are skipped; run scripts/fetch-spec.sh to download them';

function resolveSpecRoot(): string | null {
  const override = process.env.TEST_SPEC_DIR;
  const candidates =
    override !== undefined
      ? [override]
      : [path.resolve(ROOT, '..', 'shared', 'spec'), path.join(ROOT, '.cache', 'spec')];
  for (const c of candidates) {
    if (c && fs.existsSync(c) && fs.statSync(c).isDirectory()) return path.resolve(c);
  }
  return null;
}

/** The folder holding the official files, or null. */
export const SPEC: string | null = resolveSpecRoot();

/**
 * The path of an official file or folder (relative to the spec folder, e.g.
 * `fatturapa/schema/v1.2.3/Schema_VFPR12_v1.2.3.xsd`), or null when it is not available. Use
 * with `describe.skipIf(!x)` / `it.skipIf(!x)`.
 */
export function specPath(...rel: string[]): string | null {
  if (!SPEC) return null;
  const p = path.join(SPEC, ...rel);
  return fs.existsSync(p) ? p : null;
}

/** The official FatturaPA 1.2.3 and FSM10 schemas and their xmldsig import. */
export const FATTURAPA_XSD = 'fatturapa/schema/v1.2.3/Schema_VFPR12_v1.2.3.xsd';
export const FSM10_XSD = 'fatturapa/schema-semplificata/v1.0.1/Schema_VFSM10.xsd';
export const XMLDSIG_XSD = 'fatturapa/schema/xmldsig-core-schema.xsd';
const XMLDSIG_URL = 'http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd';

/**
 * An XML catalog for xmllint (XML_CATALOG_FILES) that maps the schemas' absolute xmldsig import
 * to the local copy, so that validation never goes to the network: the spec folder's own
 * `fatturapa/schema/catalog.xml` when it has one, otherwise one written to the temp folder.
 * Null when the xmldsig schema is not available.
 */
export function schemaCatalog(): string | null {
  const own = specPath('fatturapa', 'schema', 'catalog.xml');
  if (own) return own;
  const xmldsig = specPath(XMLDSIG_XSD);
  if (!xmldsig) return null;
  const file = path.join(os.tmpdir(), `fatturad-spec-catalog-${process.pid}.xml`);
  const uri = pathToFileURL(xmldsig).href;
  fs.writeFileSync(
    file,
    '<?xml version="1.0"?>\n<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">\n' +
      `  <uri name="${XMLDSIG_URL}" uri="${uri}"/>\n  <system systemId="${XMLDSIG_URL}" uri="${uri}"/>\n</catalog>\n`,
  );
  process.once('exit', () => fs.rmSync(file, { force: true }));
  return file;
}
