import { at, bodyCheck, each, finding, loc, NONE, textAt } from '../check.js';

/** Checks on 2.1.1 DatiGeneraliDocumento (check list v2.0 §4.2): 00403, 00418, 00425, 00437. */

const SECTION = 'DatiGeneraliDocumento';
const DGD = 'DatiGenerali/DatiGeneraliDocumento';
const DATA = `${DGD}/Data`;
const NUMERO = `${DGD}/Numero`;
const SCONTI = `${DGD}/ScontoMaggiorazione`;

/** 00403: the invoice date (2.1.1.3) is after the day SdI receives the file (or the --as-of day). */
export const data00403 = bodyCheck(
  function data00403(c) {
    const d = each(c, DATA)[0];
    if (!d) return NONE;
    const v = d.el.text.trim();
    if (v <= c.day) return NONE;
    return [
      finding(
        '00403',
        `The invoice date ${v} is after the day SdI receives the file (${c.day}).`,
        `La data della fattura ${v} è successiva al giorno di ricezione del file da parte dello SdI (${c.day}).`,
        loc(d.el, d.path),
      ),
    ];
  },
  { codes: ['00403'], section: SECTION },
);

/** 00418: a credit note (TD04) dated before the invoice it refers to (DatiFattureCollegate). */
export const notaCredito00418 = bodyCheck(
  function notaCredito00418(c) {
    if (c.tipo !== 'TD04') return NONE;
    const data = textAt(c.body, DATA);
    if (!data) return NONE;
    return each(c, 'DatiGenerali/DatiFattureCollegate').flatMap(({ el, path }) => {
      const ref = textAt(el, 'Data');
      return ref && data < ref
        ? [
            finding(
              '00418',
              `The credit note date ${data} is before the date of the invoice it refers to (${ref}).`,
              `La data della nota di credito ${data} è anteriore a quella della fattura collegata (${ref}).`,
              loc(at(el, 'Data'), `${path}/Data`),
            ),
          ]
        : [];
    });
  },
  { codes: ['00418'], section: SECTION },
);

/** 00425: the invoice Numero (2.1.1.4) contains no digit. */
export const numero00425 = bodyCheck(
  function numero00425(c) {
    let out = NONE;
    for (const n of each(c, NUMERO)) {
      if (/[0-9]/.test(n.el.text)) continue;
      if (out === NONE) out = [];
      out.push(
        finding(
          '00425',
          `The invoice number "${n.el.text.trim()}" contains no digit.`,
          `Il numero della fattura "${n.el.text.trim()}" non contiene cifre.`,
          loc(n.el, n.path),
        ),
      );
    }
    return out;
  },
  { codes: ['00425'], section: SECTION },
);

/** 00437: a document ScontoMaggiorazione (2.1.1.8) with neither Percentuale nor Importo. */
export const scontoDocumento00437 = bodyCheck(
  function scontoDocumento00437(c) {
    let out = NONE;
    for (const sm of each(c, SCONTI)) {
      if (at(sm.el, 'Percentuale') || at(sm.el, 'Importo')) continue;
      if (out === NONE) out = [];
      out.push(
        finding(
          '00437',
          'A discount or markup (ScontoMaggiorazione) gives neither Percentuale nor Importo.',
          'Uno sconto o maggiorazione (ScontoMaggiorazione) non indica né Percentuale né Importo.',
          loc(sm.el, sm.path),
        ),
      );
    }
    return out;
  },
  { codes: ['00437'], section: SECTION },
);

export const DATI_GENERALI_DOCUMENTO = [data00403, notaCredito00418, numero00425, scontoDocumento00437];
