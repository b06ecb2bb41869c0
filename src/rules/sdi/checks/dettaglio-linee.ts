import {
  at,
  bodyCheck,
  CENT,
  dec,
  each,
  finding,
  LINES,
  loc,
  NONE,
  ONE,
  textAt,
  type Dec,
  type Finding,
  type XmlElement,
} from '../check.js';
import { aliquotaNatura } from './aliquota-natura.js';

/** Checks on the lines, 2.2.1 DettaglioLinee (check list v2.0 §4.2): 00400, 00401, 00411, 00423, 00438. */

const SECTION = 'DettaglioLinee';
const DATI_RITENUTA = 'DatiGenerali/DatiGeneraliDocumento/DatiRitenuta';
const SCONTI = `${LINES}/ScontoMaggiorazione`;

/** 00400 / 00401: a line with AliquotaIVA 0 needs Natura; with another rate it must not have one (TD16 may). */
export const aliquotaNatura00400 = aliquotaNatura('aliquotaNatura00400', {
  missing: '00400',
  forbidden: '00401',
  rel: LINES,
  section: SECTION,
  what: 'A line (DettaglioLinee)',
  whatIt: 'Una linea (DettaglioLinee)',
  td16Exempt: true,
});

/** 00411: a line with Ritenuta SI and no 2.1.1.5 DatiRitenuta. */
export const ritenuta00411 = bodyCheck(
  function ritenuta00411(c) {
    const hit = each(c, LINES).find(({ el }) => textAt(el, 'Ritenuta') === 'SI');
    if (!hit || each(c, DATI_RITENUTA).length > 0) return NONE;
    return [
      finding(
        '00411',
        'A withholding (Ritenuta = SI) is declared but the document has no DatiRitenuta block.',
        'È indicata una ritenuta (Ritenuta = SI) ma il documento non ha il blocco DatiRitenuta.',
        loc(at(hit.el, 'Ritenuta'), `${hit.path}/Ritenuta`),
      ),
    ];
  },
  { codes: ['00411'], section: SECTION },
);

// ---- 00423 -----------------------------------------------------------------------------------

/**
 * How a line's discounts are read where the check list does not settle it: a ScontoMaggiorazione
 * with both Percentuale and Importo (the list says "only the first is used", i.e. Percentuale;
 * other implementations use Importo), and a negative Importo (taken with its sign, so that a
 * discount of -5.00 raises the price, or as an amount whose sign only repeats Tipo).
 */
interface Reading {
  both: 'percentuale' | 'importo';
  negative: 'signed' | 'magnitude';
}

const READING_TEXT = {
  percentuale: [
    'the Percentuale of a discount that gives both Percentuale and Importo',
    'la Percentuale di uno sconto che indica sia Percentuale sia Importo',
  ],
  importo: [
    'the Importo of a discount that gives both Percentuale and Importo',
    "l'Importo di uno sconto che indica sia Percentuale sia Importo",
  ],
  signed: [
    'a negative Importo taken with its sign (a discount of -5.00 raises the price)',
    'un Importo negativo preso con il suo segno (uno sconto di -5.00 aumenta il prezzo)',
  ],
  magnitude: [
    'a negative Importo taken as an amount (its sign only repeats Tipo)',
    'un Importo negativo preso in valore assoluto (il segno ripete solo il Tipo)',
  ],
} as const;

/** What the line's discounts leave open: which parts of a Reading matter for it. */
interface Open {
  both: boolean;
  negative: boolean;
}

/** The unit price after the line's discounts and markups, in cascade, under one reading. */
function discounted(unit: Dec, line: XmlElement, r: Reading, open: Open | null): Dec {
  let price = unit;
  const kids = line.children;
  for (let i = 0; i < kids.length; i++) {
    const sm = kids[i] as XmlElement;
    if (sm.name !== 'ScontoMaggiorazione') continue;
    const markup = textAt(sm, 'Tipo') === 'MG';
    const perc = dec(textAt(sm, 'Percentuale'));
    let imp = dec(textAt(sm, 'Importo'));
    if (open) {
      if (perc && imp) open.both = true;
      if (imp && imp.isNegative()) open.negative = true;
    }
    if (imp && r.negative === 'magnitude') imp = imp.abs();
    if (perc && (!imp || r.both === 'percentuale')) {
      const step = price.times(perc).div100();
      price = price.plus(markup ? step : step.neg());
    } else if (imp) price = price.plus(markup ? imp : imp.neg());
  }
  return price;
}

const PRIMARY: Reading = { both: 'percentuale', negative: 'signed' };

function readings(open: Open): Reading[] {
  const both: Reading['both'][] = open.both ? ['percentuale', 'importo'] : ['percentuale'];
  const negative: Reading['negative'][] = open.negative ? ['signed', 'magnitude'] : ['signed'];
  return both.flatMap((b) => negative.map((n) => ({ both: b, negative: n })));
}

/** A reading in words, naming only what the line leaves open. */
function describeReading(r: Reading, open: Open): [en: string, it: string] {
  const parts = [
    ...(open.both ? [READING_TEXT[r.both]] : []),
    ...(open.negative ? [READING_TEXT[r.negative]] : []),
  ];
  return [parts.map((p) => p[0]).join(' and '), parts.map((p) => p[1]).join(' e ')];
}

/** An amount with 2 to 8 decimals, as the format writes them. */
const show = (b: Dec): string => b.toFixed(8).replace(/0{1,6}$/, '');

/**
 * 00423: PrezzoTotale = (PrezzoUnitario with discounts and markups in cascade) × Quantita
 * (absent: 1), tolerance 0.01. Where the line's discounts can be read in more than one plausible
 * way, a file that passes under any reading is not refused: it passes with 00423-AMBIGUOUS
 * naming the reading that matched and the one fatturad could not confirm (a false refusal
 * blocks an invoice SdI would take; a false pass comes back as SdI's NS).
 */
export const prezzoTotale00423 = bodyCheck(
  function prezzoTotale00423(c) {
    let out = NONE;
    const add = (f: Finding): void => {
      if (out === NONE) out = [];
      out.push(f);
    };
    for (const line of each(c, LINES)) {
      const el = line.el;
      const unit = dec(textAt(el, 'PrezzoUnitario'));
      const total = dec(textAt(el, 'PrezzoTotale'));
      if (!unit || !total) continue;
      const qty = dec(textAt(el, 'Quantita')) ?? ONE;
      const open: Open = { both: false, negative: false };
      const expected = discounted(unit, el, PRIMARY, open).times(qty);
      const diff = total.minus(expected).abs();
      if (!open.both && !open.negative) {
        if (diff.gt(CENT))
          add(
            finding(
              '00423',
              `PrezzoTotale ${show(total)} should be PrezzoUnitario × Quantita with discounts = ${show(expected)} (difference ${show(diff)}, tolerance 0.01).`,
              `Il PrezzoTotale ${show(total)} dovrebbe essere PrezzoUnitario × Quantita con sconti = ${show(expected)} (differenza ${show(diff)}, tolleranza 0,01).`,
              loc(at(el, 'PrezzoTotale'), `${line.path}/PrezzoTotale`),
            ),
          );
        continue;
      }
      const results = readings(open).map((r) => {
        const primary = r.both === PRIMARY.both && r.negative === PRIMARY.negative;
        const value = primary ? expected : discounted(unit, el, r, null).times(qty);
        return { r, value, ok: !total.minus(value).abs().gt(CENT) };
      });
      const matched = results.filter((x) => x.ok);
      if (matched.length === results.length) continue;
      const list = (xs: typeof results, lang: 0 | 1): string =>
        xs
          .map(
            (x) =>
              `${describeReading(x.r, open)[lang]} (${lang === 0 ? 'expected' : 'valore atteso'} ${show(x.value)})`,
          )
          .join(lang === 0 ? '; or ' : '; oppure ');
      if (matched.length === 0) {
        add(
          finding(
            '00423',
            `PrezzoTotale ${show(total)} matches PrezzoUnitario × Quantita with discounts under no reading (tolerance 0.01): ${list(results, 0)}.`,
            `Il PrezzoTotale ${show(total)} non corrisponde a PrezzoUnitario × Quantita con sconti in nessuna lettura (tolleranza 0,01): ${list(results, 1)}.`,
            loc(at(el, 'PrezzoTotale'), `${line.path}/PrezzoTotale`),
          ),
        );
        continue;
      }
      const failed = results.filter((x) => !x.ok);
      add(
        finding(
          '00423-AMBIGUOUS',
          `PrezzoTotale ${show(total)} matches only when reading ${list(matched, 0)}; when reading ${list(failed, 0)}, SdI would refuse it (00423). The check list does not say which reading SdI uses and fatturad could not confirm it: the file passes, check SdI's answer.`,
          `Il PrezzoTotale ${show(total)} torna solo leggendo ${list(matched, 1)}; leggendo ${list(failed, 1)} lo SdI lo scarterebbe (00423). L'elenco dei controlli non dice quale lettura usa lo SdI e fatturad non ha potuto confermarla: il file passa, verificare l'esito dello SdI.`,
          loc(at(el, 'PrezzoTotale'), `${line.path}/PrezzoTotale`),
        ),
      );
    }
    return out;
  },
  { codes: ['00423', '00423-AMBIGUOUS'], section: SECTION },
);

/** 00438: a line ScontoMaggiorazione (2.2.1.10) with neither Percentuale nor Importo. */
export const scontoLinea00438 = bodyCheck(
  function scontoLinea00438(c) {
    let out = NONE;
    for (const sm of each(c, SCONTI)) {
      if (at(sm.el, 'Percentuale') || at(sm.el, 'Importo')) continue;
      if (out === NONE) out = [];
      out.push(
        finding(
          '00438',
          'A discount or markup (ScontoMaggiorazione) gives neither Percentuale nor Importo.',
          'Uno sconto o maggiorazione (ScontoMaggiorazione) non indica né Percentuale né Importo.',
          loc(sm.el, sm.path),
        ),
      );
    }
    return out;
  },
  { codes: ['00438'], section: SECTION },
);

export const DETTAGLIO_LINEE = [aliquotaNatura00400, ritenuta00411, prezzoTotale00423, scontoLinea00438];
