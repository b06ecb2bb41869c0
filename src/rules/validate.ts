import { fieldLabel } from '../invoice/model/index.js';
import { invoiceKeys, keyIdentity, type InvoiceKey } from '../invoice/keys.js';
import { looksLikeP7m, unwrapP7m, type TrustAnchor } from '../invoice/p7m.js';
import { at, parseXml, textAt, type XmlElement } from '../invoice/xml.js';
import { formatBytes } from '../watchers/accept.js';
import { checkFileName } from './filename.js';
import { finding, type Finding } from './finding.js';
import { runChecks } from './sdi/engine.js';
import { validateStructure } from './structure.js';

/**
 * Everything fatturad checks before sending, in SdI's own order: file name, size, signature,
 * format (XSD), content coherence, registries (offline approximations, as warnings), uniqueness.
 * The first four stop the checks that follow, as at SdI.
 */

export interface ValidationOptions {
  /** How a file name that breaks SdI's rule (00001) counts: the daemon renames, so a warning. */
  fileName?: 'error' | 'warning' | 'off';
  maxFileBytes?: number;
  /** PEM/DER certificates of trusted signature CAs; none = issuer "not checked". */
  trustedCAs?: Buffer[];
  /** CAs of a trusted list, each trusted only in its periods (validation.trustedCAs: tsl). */
  trustAnchors?: TrustAnchor[];
  /** When the file is (about to be) sent: signature times, and the day of SdI's rules by default. */
  now?: Date;
  /**
   * The day whose SdI rules apply (checks in force, the format version, 00403's "today"), when it
   * is not the day of `now`: `fatturad validate --as-of`, or the day SdI received an invoice.
   */
  asOf?: Date;
  /** A received invoice: advice meant for its sender (e.g. RECIPIENT-RESERVED-AREA) is left out. */
  received?: boolean;
  /** Finds invoices already sent with the same keys (00404); none = not checked. */
  findSent?: (keys: InvoiceKey[]) => { key: InvoiceKey; documentId: number; name: string }[];
}

export interface ValidationResult {
  valid: boolean;
  errors: Finding[];
  warnings: Finding[];
  /** Notes: nothing to fix, something to know (kept apart from warnings). */
  info: Finding[];
  /** The invoice XML (unwrapped from its .p7m). */
  xml?: Buffer;
  root?: XmlElement;
  keys: InvoiceKey[];
  signed: 'cades' | 'xades' | 'none';
  format?: string;
}

export const MAX_FILE_BYTES = 5 * 1024 * 1024;

/** Fills each finding's field number and name from its path, through the format model. */
function withField(f: Finding): Finding {
  if (f.field || !f.path) return f;
  const label = fieldLabel(f.path);
  return label ? { ...f, field: label } : f;
}

function result(
  r: Omit<ValidationResult, 'valid' | 'keys' | 'info'> & { keys?: InvoiceKey[]; info?: Finding[] },
): ValidationResult {
  const errors = r.errors.map(withField);
  return {
    ...r,
    errors,
    warnings: r.warnings.map(withField),
    info: (r.info ?? []).map(withField),
    keys: r.keys ?? [],
    valid: errors.length === 0,
  };
}

const XMLDSIG = 'http://www.w3.org/2000/09/xmldsig#';

export async function validateFile(
  name: string,
  bytes: Buffer,
  opts: ValidationOptions = {},
): Promise<ValidationResult> {
  const errors: Finding[] = [];
  const warnings: Finding[] = [];
  const mode = opts.fileName ?? 'error';
  if (mode !== 'off') {
    const nameFindings = checkFileName(name);
    (mode === 'error' ? errors : warnings).push(...nameFindings);
  }
  const max = opts.maxFileBytes ?? MAX_FILE_BYTES;
  if (bytes.length > max) {
    errors.push(
      finding(
        '00003',
        `File size ${formatBytes(bytes.length)} exceeds the limit of ${formatBytes(max)} that SdI allows.`,
        `La dimensione del file (${formatBytes(bytes.length)}) supera il limite di ${formatBytes(max)} ammesso dallo SdI.`,
      ),
    );
    return result({ errors, warnings, signed: 'none' });
  }
  if (bytes.length === 0) {
    errors.push(finding('00106', 'The file is empty.', 'Il file è vuoto.'));
    return result({ errors, warnings, signed: 'none' });
  }

  let xml = bytes;
  let signed: ValidationResult['signed'] = 'none';
  // A file that opens with '<' is XML, not a signed envelope (spares looksLikeP7m's decoding).
  if (/\.p7m$/i.test(name) || (bytes[0] !== 0x3c && looksLikeP7m(bytes))) {
    const p7m = await unwrapP7m(bytes, {
      trustedCAs: opts.trustedCAs ?? [],
      trustAnchors: opts.trustAnchors ?? [],
      now: opts.now ?? new Date(),
    });
    warnings.push(...p7m.warnings);
    if (!p7m.ok) {
      errors.push(...p7m.findings);
      return result({ errors, warnings, signed: 'cades' });
    }
    errors.push(...p7m.findings);
    if (errors.length > 0) return result({ errors, warnings, signed: 'cades' });
    xml = p7m.content;
    signed = 'cades';
  }

  const parsed = parseXml(xml);
  if (!parsed.ok) {
    errors.push(...parsed.errors);
    return result({ errors, warnings, xml, signed });
  }
  const root = parsed.root;
  const structure = validateStructure(root);
  if (structure.length > 0) {
    errors.push(...structure);
    return result({ errors, warnings, xml, root, signed });
  }
  const format = root.attrs.versione;
  if (signed === 'none' && root.children.some((c) => c.name === 'Signature' && c.ns === XMLDSIG))
    signed = 'xades';
  if (signed === 'xades') {
    warnings.push(
      finding(
        'XADES-NOT-VERIFIED',
        'The file carries an XAdES signature; fatturad does not verify XAdES signatures yet: SdI will.',
        'Il file reca una firma XAdES; fatturad non verifica ancora le firme XAdES: lo farà lo SdI.',
      ),
    );
  }
  if (format === 'FPA12' && signed === 'none') {
    errors.push(
      finding(
        '00102',
        'An invoice to a public administration (FPA12) must be signed (CAdES .xml.p7m or XAdES): this file has no signature.',
        'Una fattura verso la pubblica amministrazione (FPA12) deve essere firmata (CAdES .xml.p7m o XAdES): il file non ha firma.',
      ),
    );
  }

  const checked = runChecks(root, {
    now: opts.now ?? new Date(),
    ...(opts.asOf ? { asOf: opts.asOf } : {}),
    received: opts.received ?? false,
  });
  errors.push(...checked.errors);
  warnings.push(...checked.warnings);
  const info = checked.info;

  const keys = root.name === 'FatturaElettronica' ? invoiceKeys(root) : [];
  if (opts.findSent) errors.push(...duplicateFindings(keys, opts.findSent));
  return result({ errors, warnings, info, xml, root, keys, signed, ...(format ? { format } : {}) });
}

export { keyIdentity };

/** 00404: the invoices of `keys` already sent (or about to be), found by `findSent`. */
export function duplicateFindings(
  keys: InvoiceKey[],
  findSent: NonNullable<ValidationOptions['findSent']>,
): Finding[] {
  if (keys.length === 0) return [];
  return findSent(keys).map((hit) =>
    withField(
      finding(
        '00404',
        `Invoice number ${hit.key.numero} of ${hit.key.data} from ${hit.key.cedente} was already sent (document ${hit.documentId}, ${hit.name}): SdI would reject it as a duplicate.`,
        `La fattura numero ${hit.key.numero} del ${hit.key.data} di ${hit.key.cedente} è già stata inviata (documento ${hit.documentId}, ${hit.name}): lo SdI la scarterebbe come duplicata.`,
        {
          path: `/FatturaElettronica/FatturaElettronicaBody[${hit.key.body}]/DatiGenerali/DatiGeneraliDocumento/Numero`,
          line: hit.key.line,
          column: hit.key.column,
        },
      ),
    ),
  );
}

/** The cedente's name, for messages and searches. */
export function cedenteName(root: XmlElement): string | undefined {
  const a = at(root, 'FatturaElettronicaHeader/CedentePrestatore/DatiAnagrafici/Anagrafica');
  return (
    textAt(a, 'Denominazione') ??
    ([textAt(a, 'Nome'), textAt(a, 'Cognome')].filter(Boolean).join(' ') || undefined)
  );
}
