import { all, dec, fileCheck, finding, loc, NONE, textAt, ZERO, type Dec, type Finding } from '../check.js';

/** Checks of the simplified invoice FSM10 only (digest §2.1, §4.2): 00460. */

const FOUR_HUNDRED = dec('400') as Dec;

/** 00460: a simplified invoice over EUR 400 (not for forfettari, RF19, nor RF20). */
export const limite00460 = fileCheck(
  function limite00460(c) {
    const regime = textAt(c.header, 'CedentePrestatore/RegimeFiscale');
    if (regime === 'RF19' || regime === 'RF20') return NONE;
    const out: Finding[] = [];
    all(c.root, 'FatturaElettronicaBody').forEach((body, i) => {
      let total = ZERO;
      for (const l of all(body, 'DatiBeniServizi')) {
        const v = dec(textAt(l, 'Importo'));
        if (v) total = total.plus(v);
      }
      if (total.gt(FOUR_HUNDRED)) {
        out.push(
          finding(
            '00460',
            `A simplified invoice cannot exceed EUR 400: this one totals ${total.toFixed(2)}.`,
            `Una fattura semplificata non può superare 400 euro: questa ha un totale di ${total.toFixed(2)}.`,
            loc(body, `/FatturaElettronicaSemplificata/FatturaElettronicaBody[${i + 1}]`),
          ),
        );
      }
    });
    return out;
  },
  { codes: ['00460'], section: 'FatturaElettronicaSemplificata', document: 'semplificata' },
);

export const SEMPLIFICATA = [limite00460];
