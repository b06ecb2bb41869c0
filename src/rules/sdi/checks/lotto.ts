import { invoiceKeys, keyIdentity } from '../../../invoice/keys.js';
import { fileCheck, finding, NONE, type Finding } from '../check.js';

/** Checks on a lotto, one file with several FatturaElettronicaBody (check list v2.0 §4.4): 00409. */

/** 00409: the same invoice (cedente, number, year; TD04 apart) twice in one lotto. */
export const duplicataNelLotto00409 = fileCheck(
  function duplicataNelLotto00409(c) {
    // One body (most files): nothing to repeat.
    if (c.root.children.filter((b) => b.name === 'FatturaElettronicaBody').length < 2) return NONE;
    const out: Finding[] = [];
    const seen = new Map<string, number>();
    for (const k of invoiceKeys(c.root)) {
      const id = keyIdentity(k);
      const first = seen.get(id);
      if (first === undefined) {
        seen.set(id, k.body);
        continue;
      }
      out.push(
        finding(
          '00409',
          `Body ${k.body} repeats invoice number ${k.numero} of ${k.data} already in body ${first} of this file.`,
          `Il corpo ${k.body} ripete la fattura numero ${k.numero} del ${k.data} già presente nel corpo ${first} di questo file.`,
          {
            path: `/FatturaElettronica/FatturaElettronicaBody[${k.body}]/DatiGenerali/DatiGeneraliDocumento/Numero`,
            line: k.line,
            column: k.column,
          },
        ),
      );
    }
    return out;
  },
  { codes: ['00409'], section: 'Lotto' },
);

export const LOTTO = [duplicataNelLotto00409];
