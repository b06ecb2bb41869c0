import Big from 'big.js';
import { all, at, textAt, type XmlElement } from '../../invoice/xml.js';
import { invoiceKeys, keyIdentity } from '../../invoice/keys.js';
import { finding, type Finding } from '../finding.js';

/**
 * SdI's content checks ("controlli di coerenza", Elenco dei controlli v2.0), each a pure function
 * over one FatturaElettronicaBody (or the header). Amounts are exact decimals (big.js). Every
 * finding carries the SdI code, the path with 1-based indices, line and column, and the message
 * in English and Italian; the field number is filled from the path by the validation pipeline.
 */
export interface ContentContext {
  /** When the file is being sent (for 00403 and date-dependent rules). */
  now: Date;
}

interface Ctx {
  root: XmlElement;
  header: XmlElement | undefined;
  body: XmlElement;
  base: string;
  tipo: string;
  now: Date;
  /** `each` results by relative path: several checks walk the same lines. */
  memo: Map<string, { el: XmlElement; path: string }[]>;
}

type Check = (c: Ctx) => Finding[];

/**
 * Amounts as exact decimals. The same few values come back on every line (the rate, the
 * quantity, often the price), so parsed values are shared: big.js never changes a value in place.
 */
const DECIMALS = new Map<string, Big | null>();
const dec = (s: string | undefined): Big | null => {
  if (s === undefined) return null;
  let v = DECIMALS.get(s);
  if (v === undefined) {
    v = /^-?[0-9]+(\.[0-9]+)?$/.test(s) ? new Big(s) : null;
    if (DECIMALS.size >= 4096) DECIMALS.clear();
    DECIMALS.set(s, v);
  }
  return v;
};

// Constants, parsed once (big.js parses a string or number argument at every comparison).
const ZERO = new Big(0);
const ONE = new Big(1);
const CENT = new Big('0.01');
const FOUR_HUNDRED = new Big(400);

/** A rate as a grouping key ("22.00"), from its text. */
const RATE_KEYS = new Map<string, string | null>();
const rateKey = (s: string | undefined): string | null => {
  if (s === undefined) return null;
  let k = RATE_KEYS.get(s);
  if (k === undefined) {
    k = dec(s)?.toFixed(2) ?? null;
    if (RATE_KEYS.size >= 1024) RATE_KEYS.clear();
    RATE_KEYS.set(s, k);
  }
  return k;
};

const loc = (el: XmlElement | undefined, path: string): Partial<Finding> => ({
  path,
  ...(el ? { line: el.line, column: el.column } : {}),
});

/** Elements at `rel` below the body, each with its indexed path. */
function each(c: Ctx, rel: string): { el: XmlElement; path: string }[] {
  const known = c.memo.get(rel);
  if (known) return known;
  let cur: { el: XmlElement; path: string }[] = [{ el: c.body, path: c.base }];
  for (const seg of rel.split('/')) {
    const next: { el: XmlElement; path: string }[] = [];
    for (const { el, path } of cur) {
      let count = 0;
      for (const k of el.children) if (k.name === seg) count++;
      if (count === 0) continue;
      let n = 0;
      for (const k of el.children) {
        if (k.name !== seg) continue;
        n++;
        next.push({ el: k, path: count > 1 ? `${path}/${seg}[${n}]` : `${path}/${seg}` });
      }
    }
    cur = next;
  }
  c.memo.set(rel, cur);
  return cur;
}

/** The calendar day (YYYY-MM-DD) in Italy at `d`: SdI dates its receipts in Europe/Rome time. */
const ROME_DAY = new Intl.DateTimeFormat('en-US', {
  timeZone: 'Europe/Rome',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
});
let romeMinute = NaN;
let romeDay = '';
function romeDate(d: Date): string {
  // Days change on a minute boundary in every time zone: one formatting per minute is exact
  // (formatToParts cost a few percent of the whole validation of a small invoice).
  const minute = Math.floor(d.getTime() / 60_000);
  if (minute === romeMinute) return romeDay;
  const parts = ROME_DAY.formatToParts(d);
  const part = (t: string): string => parts.find((p) => p.type === t)?.value ?? '';
  romeMinute = minute;
  romeDay = `${part('year')}-${part('month')}-${part('day')}`;
  return romeDay;
}

const isZero = (b: Big | null): boolean => b !== null && b.eq(ZERO);

/** 00400/00401 (lines), 00413/00414 (cassa), 00429/00430 (riepilogo): rate 0 needs Natura; not 0 forbids it. */
function naturaRule(
  rel: string,
  codeMissing: string,
  codeForbidden: string,
  what: string,
  whatIt: string,
  /** TD16 (reverse-charge integration) may carry a rate and a Natura: lines and summaries only. */
  td16Exempt: boolean,
): Check {
  return (c) =>
    each(c, rel).flatMap(({ el, path }) => {
      const rate = dec(textAt(el, 'AliquotaIVA'));
      const natura = textAt(el, 'Natura');
      if (rate === null) return [];
      if (rate.eq(ZERO) && !natura) {
        return [
          finding(
            codeMissing,
            `${what} has AliquotaIVA 0.00 but no Natura: a zero rate needs the reason (Natura N1-N7).`,
            `${whatIt} ha AliquotaIVA 0.00 ma non la Natura: un'aliquota zero richiede la natura (N1-N7).`,
            loc(at(el, 'AliquotaIVA') ?? el, `${path}/AliquotaIVA`),
          ),
        ];
      }
      if (!rate.eq(ZERO) && natura && !(td16Exempt && c.tipo === 'TD16')) {
        return [
          finding(
            codeForbidden,
            `${what} has AliquotaIVA ${rate.toFixed(2)} and also Natura ${natura}: Natura is only for a zero rate.`,
            `${whatIt} ha AliquotaIVA ${rate.toFixed(2)} e anche Natura ${natura}: la Natura è ammessa solo con aliquota zero.`,
            loc(at(el, 'Natura'), `${path}/Natura`),
          ),
        ];
      }
      return [];
    });
}

const rateLines = (c: Ctx): { el: XmlElement; path: string }[] => [
  ...each(c, 'DatiBeniServizi/DettaglioLinee'),
  ...each(c, 'DatiGenerali/DatiGeneraliDocumento/DatiCassaPrevidenziale'),
];

const CHECKS: Check[] = [
  naturaRule(
    'DatiBeniServizi/DettaglioLinee',
    '00400',
    '00401',
    'A line (DettaglioLinee)',
    'Una linea (DettaglioLinee)',
    true,
  ),
  naturaRule(
    'DatiGenerali/DatiGeneraliDocumento/DatiCassaPrevidenziale',
    '00413',
    '00414',
    'DatiCassaPrevidenziale',
    'DatiCassaPrevidenziale',
    false,
  ),
  naturaRule(
    'DatiBeniServizi/DatiRiepilogo',
    '00429',
    '00430',
    'A DatiRiepilogo block',
    'Un blocco DatiRiepilogo',
    true,
  ),

  // 00403: the invoice date is after the day SdI receives the file.
  (c) => {
    const d = each(c, 'DatiGenerali/DatiGeneraliDocumento/Data')[0];
    if (!d) return [];
    const today = romeDate(c.now);
    const v = d.el.text.trim();
    return v > today
      ? [
          finding(
            '00403',
            `The invoice date ${v} is after today (${today}).`,
            `La data della fattura ${v} è successiva a oggi (${today}).`,
            loc(d.el, d.path),
          ),
        ]
      : [];
  },

  // 00411: a line with Ritenuta SI and no DatiRitenuta. 00415: same for the cassa.
  (c) => {
    const hasRitenuta = each(c, 'DatiGenerali/DatiGeneraliDocumento/DatiRitenuta').length > 0;
    if (hasRitenuta) return [];
    const out: Finding[] = [];
    for (const [rel, code] of [
      ['DatiBeniServizi/DettaglioLinee', '00411'],
      ['DatiGenerali/DatiGeneraliDocumento/DatiCassaPrevidenziale', '00415'],
    ] as const) {
      const hit = each(c, rel).find(({ el }) => textAt(el, 'Ritenuta') === 'SI');
      if (hit) {
        out.push(
          finding(
            code,
            'A withholding (Ritenuta = SI) is declared but the document has no DatiRitenuta block.',
            'È indicata una ritenuta (Ritenuta = SI) ma il documento non ha il blocco DatiRitenuta.',
            loc(at(hit.el, 'Ritenuta'), `${hit.path}/Ritenuta`),
          ),
        );
      }
    }
    return out;
  },

  // 00417: the cessionario has neither IdFiscaleIVA nor CodiceFiscale.
  (c) => {
    const da = at(c.header, 'CessionarioCommittente/DatiAnagrafici');
    if (!da || at(da, 'IdFiscaleIVA') || at(da, 'CodiceFiscale')) return [];
    return [
      finding(
        '00417',
        'The cessionario/committente has neither IdFiscaleIVA nor CodiceFiscale: give at least one.',
        'Il cessionario/committente non ha né IdFiscaleIVA né CodiceFiscale: indicarne almeno uno.',
        loc(da, '/FatturaElettronica/FatturaElettronicaHeader/CessionarioCommittente/DatiAnagrafici'),
      ),
    ];
  },

  // 00418: a credit note (TD04) dated before the invoice it refers to.
  (c) => {
    if (c.tipo !== 'TD04') return [];
    const data = textAt(c.body, 'DatiGenerali/DatiGeneraliDocumento/Data');
    if (!data) return [];
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

  // 00419: fewer DatiRiepilogo blocks than distinct rates in lines and cassa.
  (c) => {
    const rates = new Set(
      rateLines(c)
        .map(({ el }) => rateKey(textAt(el, 'AliquotaIVA')))
        .filter(Boolean),
    );
    const riepiloghi = each(c, 'DatiBeniServizi/DatiRiepilogo');
    return riepiloghi.length < rates.size
      ? [
          finding(
            '00419',
            `There are ${rates.size} different VAT rates in the lines but only ${riepiloghi.length} DatiRiepilogo blocks: one is needed per rate.`,
            `Ci sono ${rates.size} aliquote IVA diverse nelle linee ma solo ${riepiloghi.length} blocchi DatiRiepilogo: ne serve uno per aliquota.`,
            loc(at(c.body, 'DatiBeniServizi'), `${c.base}/DatiBeniServizi`),
          ),
        ]
      : [];
  },

  // 00420: split payment (EsigibilitaIVA S) with Natura N6.x.
  (c) =>
    each(c, 'DatiBeniServizi/DatiRiepilogo').flatMap(({ el, path }) =>
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
    ),

  // 00421: Imposta = AliquotaIVA × ImponibileImporto / 100, rounded half up to 2 decimals, ±0.01.
  (c) =>
    each(c, 'DatiBeniServizi/DatiRiepilogo').flatMap(({ el, path }) => {
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
    }),

  // 00422: per rate, Σ ImponibileImporto = Σ PrezzoTotale + Σ ImportoContributoCassa + Σ Arrotondamento, ±1.00.
  (c) => {
    const sums = new Map<string, { lines: Big; riepilogo: Big; el?: XmlElement; path?: string }>();
    const get = (r: string) => {
      let s = sums.get(r);
      if (!s) sums.set(r, (s = { lines: new Big(0), riepilogo: new Big(0) }));
      return s;
    };
    for (const { el } of each(c, 'DatiBeniServizi/DettaglioLinee')) {
      const r = rateKey(textAt(el, 'AliquotaIVA'));
      const v = dec(textAt(el, 'PrezzoTotale'));
      if (r && v) {
        const s = get(r);
        s.lines = s.lines.plus(v);
      }
    }
    for (const { el } of each(c, 'DatiGenerali/DatiGeneraliDocumento/DatiCassaPrevidenziale')) {
      const r = rateKey(textAt(el, 'AliquotaIVA'));
      const v = dec(textAt(el, 'ImportoContributoCassa'));
      if (r && v) {
        const s = get(r);
        s.lines = s.lines.plus(v);
      }
    }
    for (const { el, path } of each(c, 'DatiBeniServizi/DatiRiepilogo')) {
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

  // 00423: PrezzoTotale = (PrezzoUnitario with discounts/markups in cascade) × Quantita, ±0.01.
  (c) =>
    each(c, 'DatiBeniServizi/DettaglioLinee').flatMap(({ el, path }) => {
      const unit = dec(textAt(el, 'PrezzoUnitario'));
      const total = dec(textAt(el, 'PrezzoTotale'));
      if (!unit || !total) return [];
      const qty = dec(textAt(el, 'Quantita')) ?? ONE;
      let price = unit;
      for (const sm of el.children) {
        if (sm.name !== 'ScontoMaggiorazione') continue;
        const sign = textAt(sm, 'Tipo') === 'MG' ? 1 : -1;
        const perc = dec(textAt(sm, 'Percentuale'));
        const imp = dec(textAt(sm, 'Importo'));
        if (perc) price = price.plus(price.times(perc).div(100).times(sign));
        else if (imp) price = price.plus(imp.times(sign));
      }
      const expected = price.times(qty);
      const diff = total.minus(expected).abs();
      return diff.gt(CENT)
        ? [
            finding(
              '00423',
              `PrezzoTotale ${total.toString()} should be PrezzoUnitario × Quantita with discounts = ${expected.round(8).toString()} (difference ${diff.round(8).toString()}, tolerance 0.01).`,
              `Il PrezzoTotale ${total.toString()} dovrebbe essere PrezzoUnitario × Quantita con sconti = ${expected.round(8).toString()} (differenza ${diff.round(8).toString()}, tolleranza 0,01).`,
              loc(at(el, 'PrezzoTotale'), `${path}/PrezzoTotale`),
            ),
          ]
        : [];
    }),

  // 00424: a rate written as a fraction (0 < rate < 1, e.g. 0.22 for 22%).
  (c) =>
    [...rateLines(c), ...each(c, 'DatiBeniServizi/DatiRiepilogo')].flatMap(({ el, path }) => {
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
    }),

  // 00425: the invoice Numero contains no digit.
  (c) =>
    each(c, 'DatiGenerali/DatiGeneraliDocumento/Numero').flatMap(({ el, path }) =>
      /[0-9]/.test(el.text)
        ? []
        : [
            finding(
              '00425',
              `The invoice number "${el.text.trim()}" contains no digit.`,
              `Il numero della fattura "${el.text.trim()}" non contiene cifre.`,
              loc(el, path),
            ),
          ],
    ),

  // 00437 / 00438: ScontoMaggiorazione with neither Percentuale nor Importo.
  (c) =>
    [
      ...each(c, 'DatiGenerali/DatiGeneraliDocumento/ScontoMaggiorazione').map((x) => ({
        ...x,
        code: '00437',
      })),
      ...each(c, 'DatiBeniServizi/DettaglioLinee/ScontoMaggiorazione').map((x) => ({ ...x, code: '00438' })),
    ].flatMap(({ el, path, code }) =>
      at(el, 'Percentuale') || at(el, 'Importo')
        ? []
        : [
            finding(
              code,
              'A discount or markup (ScontoMaggiorazione) gives neither Percentuale nor Importo.',
              'Uno sconto o maggiorazione (ScontoMaggiorazione) non indica né Percentuale né Importo.',
              loc(el, path),
            ),
          ],
    ),

  // 00443 / 00444: every rate and Natura of lines and cassa must appear in DatiRiepilogo.
  (c) => {
    const riep = each(c, 'DatiBeniServizi/DatiRiepilogo');
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

  // 00445: generic N2, N3, N6 (no longer allowed since 2021-01-01).
  (c) =>
    [...rateLines(c), ...each(c, 'DatiBeniServizi/DatiRiepilogo')].flatMap(({ el, path }) => {
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
    }),
];

/** Checks on the header and the file as a whole. */
function headerChecks(
  root: XmlElement,
  header: XmlElement | undefined,
  tipoOf: (b: XmlElement) => string,
): Finding[] {
  const out: Finding[] = [];
  const H = '/FatturaElettronica/FatturaElettronicaHeader';
  const formatoEl = at(header, 'DatiTrasmissione/FormatoTrasmissione');
  const formato = formatoEl?.text.trim();
  const versione = root.attrs.versione;
  if (formato && versione && formato !== versione) {
    out.push(
      finding(
        '00428',
        `FormatoTrasmissione ${formato} differs from the versione attribute ${versione} of the root element.`,
        `Il FormatoTrasmissione ${formato} è diverso dall'attributo versione ${versione} dell'elemento radice.`,
        loc(formatoEl, `${H}/DatiTrasmissione/FormatoTrasmissione`),
      ),
    );
  }
  const cdEl = at(header, 'DatiTrasmissione/CodiceDestinatario');
  const cd = cdEl?.text.trim();
  if (cd && ((formato === 'FPA12' && cd.length === 7) || (formato === 'FPR12' && cd.length === 6))) {
    out.push(
      finding(
        '00427',
        `CodiceDestinatario ${cd} has ${cd.length} characters: FPA12 needs 6 (IPA office code), FPR12 needs 7.`,
        `Il CodiceDestinatario ${cd} ha ${cd.length} caratteri: FPA12 ne richiede 6 (codice ufficio IPA), FPR12 ne richiede 7.`,
        loc(cdEl, `${H}/DatiTrasmissione/CodiceDestinatario`),
      ),
    );
  }
  const ced = at(header, 'CedentePrestatore/DatiAnagrafici/IdFiscaleIVA');
  const ces = at(header, 'CessionarioCommittente/DatiAnagrafici/IdFiscaleIVA');
  const id = (e: XmlElement | undefined) =>
    e ? `${textAt(e, 'IdPaese') ?? ''}${textAt(e, 'IdCodice') ?? ''}` : '';
  const cedPaese = textAt(ced, 'IdPaese');
  const cesPaese = textAt(ces, 'IdPaese');
  const bodies = all(root, 'FatturaElettronicaBody');
  bodies.forEach((body, i) => {
    const tipo = tipoOf(body);
    const tipoEl = at(body, 'DatiGenerali/DatiGeneraliDocumento/TipoDocumento');
    const p = loc(
      tipoEl,
      `/FatturaElettronica/FatturaElettronicaBody${bodies.length > 1 ? `[${i + 1}]` : ''}/DatiGenerali/DatiGeneraliDocumento/TipoDocumento`,
    );
    if (
      ['TD16', 'TD17', 'TD18', 'TD19', 'TD20', 'TD29'].includes(tipo) &&
      ced &&
      ces &&
      id(ced) === id(ces)
    ) {
      out.push(
        finding(
          '00471',
          `With TipoDocumento ${tipo} the cedente and the cessionario must be different subjects.`,
          `Con TipoDocumento ${tipo} cedente e cessionario devono essere soggetti diversi.`,
          p,
        ),
      );
    }
    if (tipo === 'TD21' && ced && ces && id(ced) !== id(ces)) {
      out.push(
        finding(
          '00472',
          'With TipoDocumento TD21 (self-invoicing for splafonamento) cedente and cessionario must be the same subject.',
          'Con TipoDocumento TD21 (autofattura per splafonamento) cedente e cessionario devono coincidere.',
          p,
        ),
      );
    }
    if (
      (['TD17', 'TD18', 'TD19', 'TD28'].includes(tipo) && cedPaese === 'IT') ||
      (tipo === 'TD29' && cedPaese && cedPaese !== 'IT')
    ) {
      out.push(
        finding(
          '00473',
          `TipoDocumento ${tipo} does not fit a cedente with IdPaese ${cedPaese}.`,
          `Il TipoDocumento ${tipo} non è coerente con un cedente con IdPaese ${cedPaese}.`,
          p,
        ),
      );
    }
    if (
      tipo === 'TD21' &&
      all(body, 'DatiBeniServizi/DettaglioLinee').some((l) => isZero(dec(textAt(l, 'AliquotaIVA'))))
    ) {
      out.push(
        finding(
          '00474',
          'TipoDocumento TD21 cannot have lines with AliquotaIVA 0.00.',
          'Il TipoDocumento TD21 non ammette linee con AliquotaIVA 0.00.',
          p,
        ),
      );
    }
    if (['TD16', 'TD17', 'TD18', 'TD19', 'TD20', 'TD22', 'TD23', 'TD28', 'TD29'].includes(tipo) && !ces) {
      out.push(
        finding(
          '00475',
          `With TipoDocumento ${tipo} the cessionario's IdFiscaleIVA is required.`,
          `Con TipoDocumento ${tipo} è obbligatorio l'IdFiscaleIVA del cessionario.`,
          p,
        ),
      );
    }
  });
  if (cedPaese && cesPaese && cedPaese !== 'IT' && cesPaese !== 'IT') {
    out.push(
      finding(
        '00476',
        `Neither the cedente (${cedPaese}) nor the cessionario (${cesPaese}) is Italian: at least one must be.`,
        `Né il cedente (${cedPaese}) né il cessionario (${cesPaese}) sono italiani: almeno uno deve esserlo.`,
        loc(ced, `${H}/CedentePrestatore/DatiAnagrafici/IdFiscaleIVA/IdPaese`),
      ),
    );
  }
  // 00409: the same invoice twice in one lotto.
  const seen = new Map<string, number>();
  for (const k of invoiceKeys(root)) {
    const id0 = keyIdentity(k);
    const first = seen.get(id0);
    if (first !== undefined) {
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
    } else seen.set(id0, k.body);
  }
  return out;
}

/** 00460: a simplified invoice over the EUR 400 limit (not for RF20 / forfettari). */
function semplificata(root: XmlElement): Finding[] {
  const regime = textAt(root, 'FatturaElettronicaHeader/CedentePrestatore/RegimeFiscale');
  if (regime === 'RF19' || regime === 'RF20') return [];
  const out: Finding[] = [];
  all(root, 'FatturaElettronicaBody').forEach((body, i) => {
    let total = new Big(0);
    for (const l of all(body, 'DatiBeniServizi')) {
      const v = dec(textAt(l, 'Importo'));
      if (v) total = total.plus(v);
    }
    if (total.gt(FOUR_HUNDRED)) {
      out.push(
        finding(
          '00460',
          `A simplified invoice cannot exceed EUR 400: this one totals ${total.toFixed(2)}.`,
          `Una fattura semplificata non può superare 400 euro: questa totalizza ${total.toFixed(2)}.`,
          loc(body, `/FatturaElettronicaSemplificata/FatturaElettronicaBody[${i + 1}]`),
        ),
      );
    }
  });
  return out;
}

export function checkContent(root: XmlElement, ctx: ContentContext): Finding[] {
  try {
    if (root.name === 'FatturaElettronicaSemplificata') return semplificata(root);
    if (root.name !== 'FatturaElettronica') return [];
    const header = at(root, 'FatturaElettronicaHeader');
    const bodies = all(root, 'FatturaElettronicaBody');
    const tipoOf = (b: XmlElement): string =>
      textAt(b, 'DatiGenerali/DatiGeneraliDocumento/TipoDocumento') ?? '';
    const out = headerChecks(root, header, tipoOf);
    bodies.forEach((body, i) => {
      const c: Ctx = {
        root,
        header,
        body,
        base: `/FatturaElettronica/FatturaElettronicaBody${bodies.length > 1 ? `[${i + 1}]` : ''}`,
        tipo: tipoOf(body),
        now: ctx.now,
        memo: new Map(),
      };
      for (const check of CHECKS) out.push(...check(c));
    });
    return out;
  } catch {
    return [];
  }
}
