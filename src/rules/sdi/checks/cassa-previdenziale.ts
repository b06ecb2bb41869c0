import { at, bodyCheck, CASSA, each, finding, loc, NONE, textAt } from '../check.js';
import { aliquotaNatura } from './aliquota-natura.js';

/** Checks on 2.1.1.7 DatiCassaPrevidenziale (check list v2.0 §4.2): 00413, 00414, 00415. */

const SECTION = 'DatiCassaPrevidenziale';
const DATI_RITENUTA = 'DatiGenerali/DatiGeneraliDocumento/DatiRitenuta';

/** 00413 / 00414: a cassa with AliquotaIVA 0 needs Natura; with another rate it must not have one. */
export const aliquotaNatura00413 = aliquotaNatura('aliquotaNatura00413', {
  missing: '00413',
  forbidden: '00414',
  rel: CASSA,
  section: SECTION,
  what: 'DatiCassaPrevidenziale',
  whatIt: 'DatiCassaPrevidenziale',
  td16Exempt: false,
});

/** 00415: a cassa with Ritenuta SI and no 2.1.1.5 DatiRitenuta. */
export const ritenutaCassa00415 = bodyCheck(
  function ritenutaCassa00415(c) {
    const hit = each(c, CASSA).find(({ el }) => textAt(el, 'Ritenuta') === 'SI');
    if (!hit || each(c, DATI_RITENUTA).length > 0) return NONE;
    return [
      finding(
        '00415',
        'A withholding (Ritenuta = SI) is declared but the document has no DatiRitenuta block.',
        'È indicata una ritenuta (Ritenuta = SI) ma il documento non ha il blocco DatiRitenuta.',
        loc(at(hit.el, 'Ritenuta'), `${hit.path}/Ritenuta`),
      ),
    ];
  },
  { codes: ['00415'], section: SECTION },
);

export const CASSA_PREVIDENZIALE = [aliquotaNatura00413, ritenutaCassa00415];
