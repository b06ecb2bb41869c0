import { finding, type Finding } from './finding.js';

/**
 * SdI's file-name rule (00001): `<IdPaese><IdCodice>_<progressivo>.<ext>`. IdPaese is two
 * upper-case letters; for IT the IdCodice is a codice fiscale (11 digits or 16 characters),
 * otherwise 2-28 characters; the progressivo is 1-5 letters or digits (upper or lower case
 * accepted: SdI's own schemas allow both); extension .xml, .xml.p7m, or .zip for an archive.
 */
export interface FileNameParts {
  idPaese: string;
  idCodice: string;
  progressivo: string;
  extension: '.xml' | '.xml.p7m' | '.zip';
}

const NAME = /^([A-Z]{2})([A-Za-z0-9]{2,28})_([A-Za-z0-9]{1,5})(\.xml\.p7m|\.xml|\.zip)$/i;

export function parseFileName(name: string): FileNameParts | null {
  const m = NAME.exec(name);
  if (!m) return null;
  const [, idPaese, idCodice, progressivo, ext] = m as unknown as [string, string, string, string, string];
  if (idPaese !== idPaese.toUpperCase()) return null;
  if (idPaese === 'IT' && !/^([0-9]{11}|[A-Za-z0-9]{16})$/.test(idCodice)) return null;
  return { idPaese, idCodice, progressivo, extension: ext.toLowerCase() as FileNameParts['extension'] };
}

export function isSignedName(name: string): boolean {
  return /\.p7m$/i.test(name);
}

export function checkFileName(name: string): Finding[] {
  if (parseFileName(name)) return [];
  return [
    finding(
      '00001',
      `File name "${name}" does not follow SdI's rule <IdPaese><IdCodice>_<progressivo>.xml (or .xml.p7m, .zip), e.g. IT01234567890_00001.xml: country code, the trasmittente's codice fiscale (for IT: 11 digits or 16 characters), "_", 1 to 5 letters or digits.`,
      `Il nome file "${name}" non rispetta la regola SdI <IdPaese><IdCodice>_<progressivo>.xml (o .xml.p7m, .zip), es. IT01234567890_00001.xml: codice paese, codice fiscale del trasmittente (per IT: 11 cifre o 16 caratteri), "_", da 1 a 5 lettere o cifre.`,
    ),
  ];
}

export const NOTIFICATION_TYPES = ['RC', 'NS', 'MC', 'NE', 'MT', 'EC', 'SE', 'DT', 'AT'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** `<name of the invoice file without extension>_<TT>_<progr>.xml`, e.g. IT01234567890_11111_RC_001.xml. */
export function parseNotificationName(
  name: string,
): { invoiceBase: string; type: NotificationType; progressivo: string } | null {
  const m = /^(.+)_(RC|NS|MC|NE|MT|EC|SE|DT|AT)_([A-Z0-9]{1,3})\.xml$/i.exec(name);
  if (!m) return null;
  return {
    invoiceBase: m[1] as string,
    type: (m[2] as string).toUpperCase() as NotificationType,
    progressivo: m[3] as string,
  };
}
