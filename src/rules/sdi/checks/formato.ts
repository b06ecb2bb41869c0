import { FORMAT_VERSIONS } from '../catalogue.js';
import { fileCheck, finding, type Finding, type XmlElement } from '../check.js';
import { dayBefore } from '../days.js';

/**
 * The format version in force on the day (check list §4.1, code 00200). fatturad's structural
 * check is the XSD 1.2.3; a file judged on a day before a version came into force is judged by
 * the values of the version then in force: the values each version added (digest §1, "version-
 * relevant XSD differences") are refused before its first day. Values a version removed, and the
 * changes of element structure between versions, are not modelled: only the code lists below.
 */

interface Added {
  /** Path below the root, with `*` for FatturaElettronicaBody (every body). */
  path: string;
  values: readonly string[];
  version: string;
}

const ADDED: readonly Added[] = [
  {
    path: '*/DatiGenerali/DatiGeneraliDocumento/TipoDocumento',
    values: ['TD16', 'TD17', 'TD18', 'TD19', 'TD21', 'TD22', 'TD23', 'TD24', 'TD25', 'TD26', 'TD27'],
    version: '1.2.1',
  },
  { path: '*/DatiGenerali/DatiGeneraliDocumento/TipoDocumento', values: ['TD28'], version: '1.2.2' },
  { path: '*/DatiGenerali/DatiGeneraliDocumento/TipoDocumento', values: ['TD29'], version: '1.2.3' },
  {
    path: 'FatturaElettronicaHeader/CedentePrestatore/DatiAnagrafici/RegimeFiscale',
    values: ['RF20'],
    version: '1.2.3',
  },
  ...[
    '*/DatiBeniServizi/DettaglioLinee/Natura',
    '*/DatiBeniServizi/DatiRiepilogo/Natura',
    '*/DatiGenerali/DatiGeneraliDocumento/DatiCassaPrevidenziale/Natura',
  ].map((path) => ({
    path,
    values: [
      'N2.1',
      'N2.2',
      'N3.1',
      'N3.2',
      'N3.3',
      'N3.4',
      'N3.5',
      'N3.6',
      'N6.1',
      'N6.2',
      'N6.3',
      'N6.4',
      'N6.5',
      'N6.6',
      'N6.7',
      'N6.8',
      'N6.9',
    ],
    version: '1.2.1',
  })),
  {
    path: '*/DatiGenerali/DatiGeneraliDocumento/DatiRitenuta/TipoRitenuta',
    values: ['RT03', 'RT04', 'RT05', 'RT06'],
    version: '1.2.1',
  },
  { path: '*/DatiPagamento/DettaglioPagamento/ModalitaPagamento', values: ['MP23'], version: '1.2.1' },
];

const FROM = new Map(FORMAT_VERSIONS.map((v) => [v.version, v.inForce.from ?? '']));
/** The last day any value above is refused: the day before the latest version. */
const LAST = FORMAT_VERSIONS.reduce(
  (d, v) => (v.inForce.from && v.inForce.from > d ? v.inForce.from : d),
  '',
);

/** Elements at `path` below the root, with their indexed paths (bodies numbered in a lotto). */
function located(root: XmlElement, rootPath: string, path: string): { el: XmlElement; path: string }[] {
  const segs = path.split('/');
  let cur: { el: XmlElement; path: string }[] = [{ el: root, path: rootPath }];
  for (const seg0 of segs) {
    const seg = seg0 === '*' ? 'FatturaElettronicaBody' : seg0;
    cur = cur.flatMap(({ el, path: p }) => {
      const kids = el.children.filter((k) => k.name === seg);
      return kids.map((k, i) => ({ el: k, path: kids.length > 1 ? `${p}/${seg}[${i + 1}]` : `${p}/${seg}` }));
    });
  }
  return cur;
}

/** 00200: a code-list value that the format version in force on the day does not have yet. */
export const valoriVersione00200 = fileCheck(
  function valoriVersione00200(c) {
    const out: Finding[] = [];
    for (const a of ADDED) {
      const from = FROM.get(a.version) ?? '';
      if (c.day >= from) continue;
      const inForce = FORMAT_VERSIONS.find(
        (v) => (v.inForce.from ?? '') <= c.day && (v.inForce.to ?? '9') >= c.day,
      );
      const then = inForce ? `${inForce.version}` : 'before 1.2.1';
      const thenIt = inForce ? `${inForce.version}` : 'precedente alla 1.2.1';
      for (const { el, path } of located(c.root, c.rootPath, a.path)) {
        const v = el.text.trim();
        if (!a.values.includes(v)) continue;
        const name = path.slice(path.lastIndexOf('/') + 1).replace(/\[\d+\]$/, '');
        out.push(
          finding(
            '00200',
            `${name} ${v} is not in the FatturaPA format in force on ${c.day} (version ${then}): it was added by version ${a.version}, in force from ${from}.`,
            `${name} ${v} non è previsto dal formato FatturaPA in vigore il ${c.day} (versione ${thenIt}): è stato introdotto dalla versione ${a.version}, in vigore dal ${from}.`,
            { path, line: el.line, column: el.column },
          ),
        );
      }
    }
    return out;
  },
  { codes: ['00200'], section: 'Formato', version: { to: dayBefore(LAST) } },
);

export const FORMATO = [valoriVersione00200];
