import {
  at,
  bodyCheck,
  CENT,
  dec,
  each,
  finding,
  loc,
  NONE,
  ONE,
  rateKey,
  RIEPILOGO,
  LINES,
  CASSA,
  textAt,
  ZERO,
  type BodyContext,
  type Dec,
  type Located,
  type XmlElement,
} from '../check.js';
import { aliquotaNatura } from './aliquota-natura.js';

/**
 * Checks on 2.2.2 DatiRiepilogo and on the rates and Natura of lines and cassa that it sums up
 * (check list v2.0 §4.2): 00419, 00420, 00421, 00422, 00424, 00429, 00430, 00443, 00444, 00445.
 */

const SECTION = 'DatiRiepilogo';

/** 00429 / 00430: a summary with AliquotaIVA 0 needs Natura; with another rate it must not have one (TD16 may). */
export const aliquotaNatura00429 = aliquotaNatura('aliquotaNatura00429', {
  missing: '00429',
  forbidden: '00430',
  rel: RIEPILOGO,
  section: SECTION,
  what: 'A DatiRiepilogo block',
  whatIt: 'Un blocco DatiRiepilogo',
  td16Exempt: true,
});

/** 00419: fewer DatiRiepilogo blocks than distinct rates in lines and cassa. */
export const riepiloghi00419 = bodyCheck(
  function riepiloghi00419(c) {
    const riepiloghi = each(c, RIEPILOGO);
    const rates = new Set<string>();
    forRateLines(c, (el) => {
      const r = rateKey(textAt(el, 'AliquotaIVA'));
      if (r) rates.add(r);
    });
    if (riepiloghi.length >= rates.size) return NONE;
    return [
      finding(
        '00419',
        `There are ${rates.size} different VAT rates in the lines but only ${riepiloghi.length} DatiRiepilogo blocks: one is needed per rate.`,
        `Ci sono ${rates.size} aliquote IVA diverse nelle linee ma solo ${riepiloghi.length} blocchi DatiRiepilogo: ne serve uno per aliquota.`,
        loc(at(c.body, 'DatiBeniServizi'), `${c.base}/DatiBeniServizi`),
      ),
    ];
  },
  { codes: ['00419'], section: SECTION },
);

/** 00420: split payment (EsigibilitaIVA S) with Natura N6 or N6.x. */
export const scissione00420 = bodyCheck(
  function scissione00420(c) {
    let out = NONE;
    for (const b of each(c, RIEPILOGO)) {
      const el = b.el;
      if (textAt(el, 'EsigibilitaIVA') !== 'S' || !/^N6/.test(textAt(el, 'Natura') ?? '')) continue;
      if (out === NONE) out = [];
      out.push(
        finding(
          '00420',
          'Split payment (EsigibilitaIVA S) cannot be used with reverse charge (Natura N6).',
          "La scissione dei pagamenti (EsigibilitaIVA S) non è ammessa con l'inversione contabile (Natura N6).",
          loc(at(el, 'EsigibilitaIVA'), `${b.path}/EsigibilitaIVA`),
        ),
      );
    }
    return out;
  },
  { codes: ['00420'], section: SECTION },
);

/** 00421: Imposta = AliquotaIVA × ImponibileImporto / 100, rounded half up to 2 decimals, ±0.01. */
export const imposta00421 = bodyCheck(
  function imposta00421(c) {
    let out = NONE;
    for (const b of each(c, RIEPILOGO)) {
      const el = b.el;
      const rate = dec(textAt(el, 'AliquotaIVA'));
      const base = dec(textAt(el, 'ImponibileImporto'));
      const tax = dec(textAt(el, 'Imposta'));
      if (!rate || !base || !tax) continue;
      const expected = rate.times(base).div100().round2();
      const diff = tax.minus(expected).abs();
      if (!diff.gt(CENT)) continue;
      if (out === NONE) out = [];
      out.push(
        finding(
          '00421',
          `Imposta ${tax.toFixed(2)} should be ${rate.toFixed(2)}% of ${base.toFixed(2)} = ${expected.toFixed(2)} (difference ${diff.toFixed(2)}, tolerance 0.01).`,
          `L'Imposta ${tax.toFixed(2)} dovrebbe essere il ${rate.toFixed(2)}% di ${base.toFixed(2)} = ${expected.toFixed(2)} (differenza ${diff.toFixed(2)}, tolleranza 0,01).`,
          loc(at(el, 'Imposta'), `${b.path}/Imposta`),
        ),
      );
    }
    return out;
  },
  { codes: ['00421'], section: SECTION },
);

/** 00422: per rate, Σ ImponibileImporto = Σ PrezzoTotale + Σ ImportoContributoCassa + Σ Arrotondamento, ±1.00. */
export const imponibile00422 = bodyCheck(
  function imponibile00422(c) {
    const sums = new Map<string, { lines: Dec; riepilogo: Dec; el?: XmlElement; at?: Located }>();
    const get = (r: string) => {
      let s = sums.get(r);
      if (!s) sums.set(r, (s = { lines: ZERO, riepilogo: ZERO }));
      return s;
    };
    for (const { el } of each(c, LINES)) {
      const r = rateKey(textAt(el, 'AliquotaIVA'));
      const v = dec(textAt(el, 'PrezzoTotale'));
      if (r && v) {
        const s = get(r);
        s.lines = s.lines.plus(v);
      }
    }
    for (const { el } of each(c, CASSA)) {
      const r = rateKey(textAt(el, 'AliquotaIVA'));
      const v = dec(textAt(el, 'ImportoContributoCassa'));
      if (r && v) {
        const s = get(r);
        s.lines = s.lines.plus(v);
      }
    }
    for (const b of each(c, RIEPILOGO)) {
      const el = b.el;
      // The rate's key: its value to 2 decimals, as for the lines.
      const r = rateKey(textAt(el, 'AliquotaIVA'));
      const v = dec(textAt(el, 'ImponibileImporto'));
      const a = dec(textAt(el, 'Arrotondamento')) ?? ZERO;
      if (!r || !v) continue;
      const s = get(r);
      s.riepilogo = s.riepilogo.plus(v);
      s.lines = s.lines.plus(a);
      s.el ??= at(el, 'ImponibileImporto');
      s.at ??= b;
    }
    let out = NONE;
    for (const [rate, s] of sums) {
      if (!s.at) continue;
      const diff = s.riepilogo.minus(s.lines).abs();
      if (diff.gt(ONE)) {
        if (out === NONE) out = [];
        out.push(
          finding(
            '00422',
            `For VAT rate ${rate}%, the ImponibileImporto in DatiRiepilogo (${s.riepilogo.toFixed(2)}) differs from the lines' PrezzoTotale plus cassa and rounding (${s.lines.toFixed(2)}) by ${diff.toFixed(2)} (tolerance 1.00).`,
            `Per l'aliquota ${rate}%, l'ImponibileImporto in DatiRiepilogo (${s.riepilogo.toFixed(2)}) differisce dalla somma dei PrezzoTotale delle linee con cassa e arrotondamenti (${s.lines.toFixed(2)}) di ${diff.toFixed(2)} (tolleranza 1,00).`,
            loc(s.el, `${s.at.path}/ImponibileImporto`),
          ),
        );
      }
    }
    return out;
  },
  { codes: ['00422'], section: SECTION },
);

/** 00424: a rate written as a fraction (0 < rate < 1, e.g. 0.22 for 22 %), in lines, cassa or summaries. */
export const aliquotaFrazione00424 = bodyCheck(
  function aliquotaFrazione00424(c) {
    let out = NONE;
    forRateBlocks(c, (b) => {
      const r = dec(textAt(b.el, 'AliquotaIVA'));
      if (!(r && r.gt(ZERO) && r.lt(ONE))) return;
      if (out === NONE) out = [];
      out.push(
        finding(
          '00424',
          `AliquotaIVA ${r.toString()} looks like a fraction: write the percentage (e.g. 22.00, not 0.22).`,
          `L'AliquotaIVA ${r.toString()} sembra una frazione: indicare la percentuale (es. 22.00, non 0.22).`,
          loc(at(b.el, 'AliquotaIVA'), `${b.path}/AliquotaIVA`),
        ),
      );
    });
    return out;
  },
  { codes: ['00424'], section: SECTION },
);

/** 00443 / 00444: every rate and Natura of lines and cassa must appear in DatiRiepilogo. */
export const riepilogoCoerente00443 = bodyCheck(
  function riepilogoCoerente00443(c) {
    const rates = new Set<string | undefined>();
    const nature = new Set<string>();
    for (const { el } of each(c, RIEPILOGO)) {
      rates.add(rateKey(textAt(el, 'AliquotaIVA')) ?? undefined);
      const n = textAt(el, 'Natura');
      if (n) nature.add(n);
    }
    let out = NONE;
    forRateLines(c, (el, b) => {
      const r = rateKey(textAt(el, 'AliquotaIVA')) ?? undefined;
      if (r && !rates.has(r)) {
        if (out === NONE) out = [];
        out.push(
          finding(
            '00443',
            `VAT rate ${r}% is used in a line but has no DatiRiepilogo block.`,
            `L'aliquota IVA ${r}% è usata in una linea ma manca il blocco DatiRiepilogo.`,
            loc(at(el, 'AliquotaIVA'), `${b.path}/AliquotaIVA`),
          ),
        );
      }
      const n = textAt(el, 'Natura');
      if (n && !nature.has(n)) {
        if (out === NONE) out = [];
        out.push(
          finding(
            '00444',
            `Natura ${n} is used in a line but has no DatiRiepilogo block.`,
            `La Natura ${n} è usata in una linea ma manca il blocco DatiRiepilogo.`,
            loc(at(el, 'Natura'), `${b.path}/Natura`),
          ),
        );
      }
    });
    return out;
  },
  { codes: ['00443', '00444'], section: SECTION },
);

/** 00445: generic N2, N3, N6 in lines, cassa or summaries (refused from 2021-01-01). */
export const naturaGenerica00445 = bodyCheck(
  function naturaGenerica00445(c) {
    let out = NONE;
    forRateBlocks(c, (b) => {
      const n = textAt(b.el, 'Natura');
      if (n !== 'N2' && n !== 'N3' && n !== 'N6') return;
      if (out === NONE) out = [];
      out.push(
        finding(
          '00445',
          `Natura ${n} is no longer allowed: use a sub-code (${n}.1, ${n}.2, ...).`,
          `La Natura ${n} non è più ammessa: usare un sottocodice (${n}.1, ${n}.2, ...).`,
          loc(at(b.el, 'Natura'), `${b.path}/Natura`),
        ),
      );
    });
    return out;
  },
  { codes: ['00445'], section: SECTION },
);

/** Lines, then cassa: the blocks that carry a rate into DatiRiepilogo (in that order). */
function forRateLines(c: BodyContext, f: (el: XmlElement, b: Located) => void): void {
  for (const b of each(c, LINES)) f(b.el, b);
  for (const b of each(c, CASSA)) f(b.el, b);
}

/** Lines, cassa, then the summaries: every block with a rate and a Natura. */
function forRateBlocks(c: BodyContext, f: (b: Located) => void): void {
  for (const b of each(c, LINES)) f(b);
  for (const b of each(c, CASSA)) f(b);
  for (const b of each(c, RIEPILOGO)) f(b);
}

export const DATI_RIEPILOGO = [
  aliquotaNatura00429,
  riepiloghi00419,
  scissione00420,
  imposta00421,
  imponibile00422,
  aliquotaFrazione00424,
  riepilogoCoerente00443,
  naturaGenerica00445,
];
