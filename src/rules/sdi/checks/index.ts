import type { SdiCheck } from '../check.js';
import { ANAGRAFE } from './anagrafe.js';
import { CASSA_PREVIDENZIALE } from './cassa-previdenziale.js';
import { DATI_GENERALI_DOCUMENTO } from './dati-generali-documento.js';
import { DATI_RIEPILOGO } from './dati-riepilogo.js';
import { DETTAGLIO_LINEE } from './dettaglio-linee.js';
import { FORMATO } from './formato.js';
import { HEADER } from './header.js';
import { LOTTO } from './lotto.js';
import { SEMPLIFICATA } from './semplificata.js';

/**
 * Every SdI check fatturad runs, one module per section of the check list (and of the format):
 * the registry the engine selects from. Order: the file's format, the header, each body's
 * sections as the format orders them, the lotto, the registries.
 */
export const CONTENT_CHECKS: readonly SdiCheck[] = [
  ...FORMATO,
  ...HEADER,
  ...DATI_GENERALI_DOCUMENTO,
  ...CASSA_PREVIDENZIALE,
  ...DETTAGLIO_LINEE,
  ...DATI_RIEPILOGO,
  ...LOTTO,
  ...SEMPLIFICATA,
];

/** The offline approximations of the registry checks (003xx) and their advice. */
export const REGISTRY_CHECKS: readonly SdiCheck[] = ANAGRAFE;

export const ALL_CHECKS: readonly SdiCheck[] = [...CONTENT_CHECKS, ...REGISTRY_CHECKS];
