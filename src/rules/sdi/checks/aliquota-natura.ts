import { at, bodyCheck, dec, each, finding, loc, textAt, ZERO, type BodyCheck } from '../check.js';

/**
 * The rule shared by lines (00400/00401), cassa (00413/00414) and summaries (00429/00430): a
 * zero AliquotaIVA needs a Natura (the first code), a non-zero one forbids it (the second).
 * Each section's module declares its own check from this one; both codes in one pass over the
 * blocks, since a 5 MB invoice has tens of thousands of lines.
 */
export function aliquotaNatura(
  name: string,
  o: {
    missing: string;
    forbidden: string;
    rel: string;
    section: string;
    what: string;
    whatIt: string;
    /** TD16 (reverse-charge integration) may carry a rate and a Natura: lines and summaries only. */
    td16Exempt: boolean;
  },
): BodyCheck {
  return bodyCheck(
    (c) =>
      each(c, o.rel).flatMap(({ el, path }) => {
        const rate = dec(textAt(el, 'AliquotaIVA'));
        const natura = textAt(el, 'Natura');
        if (rate === null) return [];
        if (rate.eq(ZERO) && !natura) {
          return [
            finding(
              o.missing,
              `${o.what} has AliquotaIVA 0.00 but no Natura: a zero rate needs the reason (Natura N1-N7).`,
              `${o.whatIt} ha AliquotaIVA 0.00 ma non la Natura: un'aliquota zero richiede la natura (N1-N7).`,
              loc(at(el, 'AliquotaIVA') ?? el, `${path}/AliquotaIVA`),
            ),
          ];
        }
        if (!rate.eq(ZERO) && natura && !(o.td16Exempt && c.tipo === 'TD16')) {
          return [
            finding(
              o.forbidden,
              `${o.what} has AliquotaIVA ${rate.toFixed(2)} and also Natura ${natura}: Natura is only for a zero rate.`,
              `${o.whatIt} ha AliquotaIVA ${rate.toFixed(2)} e anche Natura ${natura}: la Natura è ammessa solo con aliquota zero.`,
              loc(at(el, 'Natura'), `${path}/Natura`),
            ),
          ];
        }
        return [];
      }),
    { name, codes: [o.missing, o.forbidden], section: o.section },
  );
}
