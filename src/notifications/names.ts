import type { NotificationKind } from './types.js';

/**
 * Names of SdI's message files (digest section 2.2): `<invoice file name without extension>_<TT>_<progr>.xml`,
 * TT the two-letter kind, progr up to 3 characters [A-Z0-9] unique per message about that file,
 * e.g. IT01234567890_11111_RC_001.xml. SdI writes upper case; lower case is accepted on input.
 */

const NAME = /^(.+)_(RC|NS|MC|NE|MT|EC|SE|DT|AT)_([A-Za-z0-9]{1,3})\.xml$/i;

/**
 * Splits a message file name into the invoice file's base name, the kind and the progressivo
 * (verbatim); null when the name does not follow the rule. `name` is a file name, not a path.
 */
export function parseNotificationName(
  name: string,
): { base: string; kind: NotificationKind; progr: string } | null {
  const m = NAME.exec(name);
  if (!m) return null;
  const base = m[1] as string;
  if (/[/\\]/.test(base) || base.trim() === '') return null;
  return { base, kind: (m[2] as string).toUpperCase() as NotificationKind, progr: m[3] as string };
}

/**
 * The invoice file name without its extensions, for correlation: .xml, .p7m and .zip are dropped
 * (case-insensitive, repeatedly: "x.xml.p7m" → "x"). Other names are returned unchanged.
 */
export function invoiceBaseName(fileName: string): string {
  let base = fileName;
  for (;;) {
    const m = /\.(xml|p7m|zip)$/i.exec(base);
    if (!m || m.index === 0) return base;
    base = base.slice(0, m.index);
  }
}

/**
 * The name SdI gives a message about `invoiceFileName`: its base name + `_<kind>_<progr>.xml`.
 * A numeric `progr` (0-999) is zero-padded to three digits (1 → "001"); a string one must be
 * 1-3 letters or digits and is kept as given. Throws RangeError on any other progr.
 * Example: ("IT01234567890_11111.xml.p7m", "RC", 1) → "IT01234567890_11111_RC_001.xml".
 */
export function notificationName(
  invoiceFileName: string,
  kind: NotificationKind,
  progr: number | string,
): string {
  let p: string;
  if (typeof progr === 'number') {
    if (!Number.isInteger(progr) || progr < 0 || progr > 999)
      throw new RangeError(`Notification progressivo must be an integer from 0 to 999, not ${progr}`);
    p = String(progr).padStart(3, '0');
  } else {
    if (!/^[A-Za-z0-9]{1,3}$/.test(progr))
      throw new RangeError(`Notification progressivo must be 1 to 3 letters or digits, not "${progr}"`);
    p = progr;
  }
  return `${invoiceBaseName(invoiceFileName)}_${kind}_${p}.xml`;
}
