/**
 * One problem found in an input file: by intake, by validation, or reported by SdI.
 * `code` is the SdI error code where one applies (e.g. "00003"), otherwise a fatturad code
 * in upper case with dashes (e.g. "ZIP-PATH-TRAVERSAL"). Messages come in English and Italian.
 */
export interface Finding {
  code: string;
  message: string;
  messageIt: string;
  /** Field number and name from the FatturaPA specification, e.g. "2.2.1.9 PrezzoTotale". */
  field?: string;
  /** XPath-like location inside the document. */
  path?: string;
  line?: number;
  column?: number;
  /** For findings inside an archive: the entry name. */
  entry?: string;
}

export function finding(
  code: string,
  message: string,
  messageIt: string,
  extra: Partial<Finding> = {},
): Finding {
  return { code, message, messageIt, ...extra };
}
