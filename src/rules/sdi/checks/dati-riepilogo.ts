import {
  at,
  Big,
  bodyCheck,
  CENT,
  dec,
  each,
  finding,
  loc,
  ONE,
  rateKey,
  rateLines,
  RIEPILOGO,
  LINES,
  CASSA,
  textAt,
  ZERO,
  type Finding,
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
    const rates = new Set(
      rateLines(c)
        .map(({ el }) => rateKey(textAt(el, 'AliquotaIVA')))
        .filter(Boolean),
    );
    const riepiloghi = each(c, RIEPILOGO);
    if (riepiloghi.length >= rates.size) return [];
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
    return each(c, RIEPILOGO).flatMap(({ el, path }) =>
      textAt(el, 'EsigibilitaIVA') === 'S' && /^N6/.test(textAt(el, 'Natura') ?? '')
        ? [
            finding(
              '00420',
              'Split payment (EsigibilitaIVA S) cannot be used with reverse charge (Natura N6).',
              "La scissione dei pagamenti (EsigibilitaIVA S) non è ammessa con l'inversione contabile (Natura N6).",
              loc(at(el, 'EsigibilitaIVA'), `${path}/EsigibilitaIVA`),
            ),
          ]
        : [],
    );
  },
  { codes: ['00420'], section: SECTION },
);

/** 00421: Imposta = AliquotaIVA × ImponibileImporto / 100, rounded half up to 2 decimals, ±0.01. */
export const imposta00421 = bodyCheck(
  function imposta00421(c) {
    return each(c, RIEPILOGO).flatMap(({ el, path }) => {
      const rate = dec(textAt(el, 'AliquotaIVA'));
      const base = dec(textAt(el, 'ImponibileImporto'));
      const tax = dec(textAt(el, 'Imposta'));
      if (!rate || !base || !tax) return [];
      const expected = rate.times(base).div(100).round(2, Big.roundHalfUp);
      const diff = tax.minus(expected).abs();
      return diff.gt(CENT)
        ? [
            finding(
              '00421',
              `Imposta ${tax.toFixed(2)} should be ${rate.toFixed(2)}% of ${base.toFixed(2)} = ${expected.toFixed(2)} (difference ${diff.toFixed(2)}, tolerance 0.01).`,
              `L'Imposta ${tax.toFixed(2)} dovrebbe essere il ${rate.toFixed(2)}% di ${base.toFixed(2)} = ${expected.toFixed(2)} (differenza ${diff.toFixed(2)}, tolleranza 0,01).`,
              loc(at(el, 'Imposta'), `${path}/Imposta`),
            ),
          ]
        : [];
    });
  },
  { codes: ['00421'], section: SECTION },
);

/** 00422: per rate, Σ ImponibileImporto = Σ PrezzoTotale + Σ ImportoContributoCassa + Σ Arrotondamento, ±1.00. */
export const imponibile00422 = bodyCheck(
  function imponibile00422(c) {
    const sums = new Map<string, { lines: Big; riepilogo: Big; el?: XmlElement; path?: string }>();
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
    for (const { el, path } of each(c, RIEPILOGO)) {
      const r = dec(textAt(el, 'AliquotaIVA'));
      const v = dec(textAt(el, 'ImponibileImporto'));
      const a = dec(textAt(el, 'Arrotondamento')) ?? ZERO;
      if (!r || !v) continue;
      const s = get(r.toFixed(2));
      s.riepilogo = s.riepilogo.plus(v);
      s.lines = s.lines.plus(a);
      s.el ??= at(el, 'ImponibileImporto');
      s.path ??= `${path}/ImponibileImporto`;
    }
    const out: Finding[] = [];
    for (const [rate, s] of sums) {
      if (!s.path) continue;
      const diff = s.riepilogo.minus(s.lines).abs();
      if (diff.gt(ONE)) {
        out.push(
          finding(
            '00422',
            `For VAT rate ${rate}%, the ImponibileImporto in DatiRiepilogo (${s.riepilogo.toFixed(2)}) differs from the lines' PrezzoTotale plus cassa and rounding (${s.lines.toFixed(2)}) by ${diff.toFixed(2)} (tolerance 1.00).`,
            `Per l'aliquota ${rate}%, l'ImponibileImporto in DatiRiepilogo (${s.riepilogo.toFixed(2)}) differisce dalla somma dei PrezzoTotale delle linee con cassa e arrotondamenti (${s.lines.toFixed(2)}) di ${diff.toFixed(2)} (tolleranza 1,00).`,
            loc(s.el, s.path),
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
    return [...rateLines(c), ...each(c, RIEPILOGO)].flatMap(({ el, path }) => {
      const r = dec(textAt(el, 'AliquotaIVA'));
      return r && r.gt(ZERO) && r.lt(ONE)
        ? [
            finding(
              '00424',
              `AliquotaIVA ${r.toString()} looks like a fraction: write the percentage (e.g. 22.00, not 0.22).`,
              `L'AliquotaIVA ${r.toString()} sembra una frazione: indicare la percentuale (es. 22.00, non 0.22).`,
              loc(at(el, 'AliquotaIVA'), `${path}/AliquotaIVA`),
            ),
          ]
        : [];
    });
  },
  { codes: ['00424'], section: SECTION },
);

/** 00443 / 00444: every rate and Natura of lines and cassa must appear in DatiRiepilogo. */
export const riepilogoCoerente00443 = bodyCheck(
  function riepilogoCoerente00443(c) {
    const riep = each(c, RIEPILOGO);
    const rates = new Set(riep.map(({ el }) => rateKey(textAt(el, 'AliquotaIVA')) ?? undefined));
    const nature = new Set(riep.map(({ el }) => textAt(el, 'Natura')).filter(Boolean));
    const out: Finding[] = [];
    for (const { el, path } of rateLines(c)) {
      const r = rateKey(textAt(el, 'AliquotaIVA')) ?? undefined;
      if (r && !rates.has(r)) {
        out.push(
          finding(
            '00443',
            `VAT rate ${r}% is used in a line but has no DatiRiepilogo block.`,
            `L'aliquota IVA ${r}% è usata in una linea ma manca il blocco DatiRiepilogo.`,
            loc(at(el, 'AliquotaIVA'), `${path}/AliquotaIVA`),
          ),
        );
      }
      const n = textAt(el, 'Natura');
      if (n && !nature.has(n)) {
        out.push(
          finding(
            '00444',
            `Natura ${n} is used in a line but has no DatiRiepilogo block.`,
            `La Natura ${n} è usata in una linea ma manca il blocco DatiRiepilogo.`,
            loc(at(el, 'Natura'), `${path}/Natura`),
          ),
        );
      }
    }
    return out;
  },
  { codes: ['00443', '00444'], section: SECTION },
);

/** 00445: generic N2, N3, N6 in lines, cassa or summaries (refused from 2021-01-01). */
export const naturaGenerica00445 = bodyCheck(
  function naturaGenerica00445(c) {
    return [...rateLines(c), ...each(c, RIEPILOGO)].flatMap(({ el, path }) => {
      const n = textAt(el, 'Natura');
      return n === 'N2' || n === 'N3' || n === 'N6'
        ? [
            finding(
              '00445',
              `Natura ${n} is no longer allowed: use a sub-code (${n}.1, ${n}.2, ...).`,
              `La Natura ${n} non è più ammessa: usare un sottocodice (${n}.1, ${n}.2, ...).`,
              loc(at(el, 'Natura'), `${path}/Natura`),
            ),
          ]
        : [];
    });
  },
  { codes: ['00445'], section: SECTION },
);

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
