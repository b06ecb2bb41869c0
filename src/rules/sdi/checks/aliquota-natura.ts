import {
  at,
  bodyCheck,
  dec,
  each,
  finding,
  loc,
  NONE,
  textAt,
  type BodyCheck,
  type Located,
} from '../check.js';

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
    (c) => {
      let out = NONE;
      const blocks = each(c, o.rel);
      for (let i = 0; i < blocks.length; i++) {
        const b = blocks[i] as Located;
        const el = b.el;
        const rate = dec(textAt(el, 'AliquotaIVA'));
        if (rate === null) continue;
        const natura = textAt(el, 'Natura');
        if (rate.isZero() && !natura) {
          if (out === NONE) out = [];
          out.push(
            finding(
              o.missing,
              `${o.what} has AliquotaIVA 0.00 but no Natura: a zero rate needs the reason (Natura N1-N7).`,
              `${o.whatIt} ha AliquotaIVA 0.00 ma non la Natura: un'aliquota zero richiede la natura (N1-N7).`,
              loc(at(el, 'AliquotaIVA') ?? el, `${b.path}/AliquotaIVA`),
            ),
          );
        } else if (!rate.isZero() && natura && !(o.td16Exempt && c.tipo === 'TD16')) {
          if (out === NONE) out = [];
          out.push(
            finding(
              o.forbidden,
              `${o.what} has AliquotaIVA ${rate.toFixed(2)} and also Natura ${natura}: Natura is only for a zero rate.`,
              `${o.whatIt} ha AliquotaIVA ${rate.toFixed(2)} e anche Natura ${natura}: la Natura è ammessa solo con aliquota zero.`,
              loc(at(el, 'Natura'), `${b.path}/Natura`),
            ),
          );
        }
      }
      return out;
    },
    { name, codes: [o.missing, o.forbidden], section: o.section },
  );
}
