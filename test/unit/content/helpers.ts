import { expect } from 'vitest';
import { parseXml } from '../../../src/invoice/xml.js';
import { checkContent } from '../../../src/rules/sdi/engine.js';
import { validateStructure } from '../../../src/rules/structure.js';
import type { Finding } from '../../../src/rules/finding.js';

/**
 * A small builder for FatturaPA test invoices: `invoice()` with no argument is a minimal, valid
 * FPR12 file (one body, one line of 100.00 at 22 %, its DatiRiepilogo); every part can be
 * overridden. The XML is pretty-printed with one leaf element per line, so a finding's `line`
 * can be checked against `lineOf(xml, '<Imposta>22.02</Imposta>')`.
 */

export const NOW = new Date('2026-03-01T12:00:00Z');

export interface Sconto {
  tipo?: 'SC' | 'MG';
  percentuale?: string;
  importo?: string;
}
export interface Line {
  descrizione?: string;
  /** null: no Quantita element. */
  quantita?: string | null;
  prezzoUnitario?: string;
  sconti?: Sconto[];
  prezzoTotale?: string;
  aliquota?: string;
  ritenuta?: boolean;
  natura?: string;
}
export interface Riepilogo {
  aliquota?: string;
  natura?: string;
  arrotondamento?: string;
  imponibile?: string;
  imposta?: string;
  /** null: no EsigibilitaIVA element. */
  esigibilita?: string | null;
}
export interface Cassa {
  aliquota?: string;
  importo?: string;
  natura?: string;
  ritenuta?: boolean;
}
export interface Body {
  tipo?: string;
  data?: string;
  numero?: string;
  ritenuta?: boolean;
  cassa?: Cassa[];
  sconti?: Sconto[];
  art73?: boolean;
  /** Dates of DatiFattureCollegate blocks (undefined date: the block without Data). */
  collegate?: (string | undefined)[];
  lines?: Line[];
  riepilogo?: Riepilogo[];
}
export interface PartyId {
  paese: string;
  codice: string;
}
export interface Invoice {
  formato?: string;
  pecDestinatario?: string;
  /** The trasmittente's IdCodice (IdPaese IT). */
  trasmittente?: string;
  cedenteCF?: string;
  /** The header's RappresentanteFiscale (1.3): its IdFiscaleIVA and CodiceFiscale. */
  rappresentante?: { id: PartyId; cf?: string };
  /** The root `versione` attribute; defaults to the formato. */
  versione?: string;
  codiceDestinatario?: string;
  cedente?: PartyId;
  regime?: string;
  /** null: no IdFiscaleIVA for the cessionario. */
  cessionario?: PartyId | null;
  /** The cessionario's CodiceFiscale; none by default. */
  cessionarioCF?: string;
  soggettoEmittente?: 'CC' | 'TZ';
  bodies?: Body[];
}

// ---------------------------------------------------------------------------------------------
// A tiny element tree, rendered with indentation.

type Kid = Node | false | undefined | null;
interface Node {
  name: string;
  text?: string;
  kids: Node[];
  attrs?: string;
}
const leaf = (name: string, text: string | undefined): Node | undefined =>
  text === undefined ? undefined : { name, text, kids: [] };
const node = (name: string, ...kids: Kid[]): Node => ({
  name,
  kids: kids.filter((k): k is Node => !!k),
});

function render(n: Node, depth = 0): string {
  const pad = '  '.repeat(depth);
  const open = n.attrs ? `${n.name} ${n.attrs}` : n.name;
  if (n.text !== undefined) return `${pad}<${open}>${n.text}</${n.name}>\n`;
  return `${pad}<${open}>\n${n.kids.map((k) => render(k, depth + 1)).join('')}${pad}</${n.name}>\n`;
}

// ---------------------------------------------------------------------------------------------
// Defaults and parts.

export const CEDENTE: PartyId = { paese: 'IT', codice: '01234567890' };
export const CESSIONARIO: PartyId = { paese: 'IT', codice: '09876543210' };
export const LINE: Required<Pick<Line, 'quantita' | 'prezzoUnitario' | 'prezzoTotale' | 'aliquota'>> = {
  quantita: '1.00',
  prezzoUnitario: '100.00',
  prezzoTotale: '100.00',
  aliquota: '22.00',
};
export const RIEPILOGO: Required<Pick<Riepilogo, 'aliquota' | 'imponibile' | 'imposta'>> = {
  aliquota: '22.00',
  imponibile: '100.00',
  imposta: '22.00',
};

const sconto = (s: Sconto): Node =>
  node(
    'ScontoMaggiorazione',
    leaf('Tipo', s.tipo ?? 'SC'),
    leaf('Percentuale', s.percentuale),
    leaf('Importo', s.importo),
  );

const idFiscale = (p: PartyId): Node =>
  node('IdFiscaleIVA', leaf('IdPaese', p.paese), leaf('IdCodice', p.codice));

const sede = (): Node =>
  node(
    'Sede',
    leaf('Indirizzo', 'VIA ROMA 1'),
    leaf('CAP', '00100'),
    leaf('Comune', 'ROMA'),
    leaf('Provincia', 'RM'),
    leaf('Nazione', 'IT'),
  );

function lineNode(l: Line, i: number): Node {
  const x = { ...LINE, ...l };
  return node(
    'DettaglioLinee',
    leaf('NumeroLinea', String(i + 1)),
    leaf('Descrizione', x.descrizione ?? `ARTICOLO ${i + 1}`),
    x.quantita === null ? undefined : leaf('Quantita', x.quantita),
    leaf('PrezzoUnitario', x.prezzoUnitario),
    ...(x.sconti ?? []).map(sconto),
    leaf('PrezzoTotale', x.prezzoTotale),
    leaf('AliquotaIVA', x.aliquota),
    x.ritenuta ? leaf('Ritenuta', 'SI') : undefined,
    leaf('Natura', x.natura),
  );
}

function riepilogoNode(r: Riepilogo): Node {
  const x = { ...RIEPILOGO, ...r };
  return node(
    'DatiRiepilogo',
    leaf('AliquotaIVA', x.aliquota),
    leaf('Natura', x.natura),
    leaf('Arrotondamento', x.arrotondamento),
    leaf('ImponibileImporto', x.imponibile),
    leaf('Imposta', x.imposta),
    x.esigibilita === null ? undefined : leaf('EsigibilitaIVA', x.esigibilita ?? 'I'),
  );
}

const cassaNode = (c: Cassa): Node =>
  node(
    'DatiCassaPrevidenziale',
    leaf('TipoCassa', 'TC22'),
    leaf('AlCassa', '4.00'),
    leaf('ImportoContributoCassa', c.importo ?? '4.00'),
    leaf('AliquotaIVA', c.aliquota ?? '22.00'),
    c.ritenuta ? leaf('Ritenuta', 'SI') : undefined,
    leaf('Natura', c.natura),
  );

const ritenutaNode = (): Node =>
  node(
    'DatiRitenuta',
    leaf('TipoRitenuta', 'RT01'),
    leaf('ImportoRitenuta', '20.00'),
    leaf('AliquotaRitenuta', '20.00'),
    leaf('CausalePagamento', 'A'),
  );

function bodyNode(b: Body): Node {
  return node(
    'FatturaElettronicaBody',
    node(
      'DatiGenerali',
      node(
        'DatiGeneraliDocumento',
        leaf('TipoDocumento', b.tipo ?? 'TD01'),
        leaf('Divisa', 'EUR'),
        leaf('Data', b.data ?? '2026-02-15'),
        leaf('Numero', b.numero ?? 'FT-2026/1'),
        b.ritenuta ? ritenutaNode() : undefined,
        ...(b.cassa ?? []).map(cassaNode),
        ...(b.sconti ?? []).map(sconto),
        b.art73 ? leaf('Art73', 'SI') : undefined,
      ),
      ...(b.collegate ?? []).map((d) =>
        node('DatiFattureCollegate', leaf('IdDocumento', 'FT-2025/9'), leaf('Data', d)),
      ),
    ),
    node('DatiBeniServizi', ...(b.lines ?? [{}]).map(lineNode), ...(b.riepilogo ?? [{}]).map(riepilogoNode)),
  );
}

/** The XML text of an ordinary invoice (FPR12 unless `formato` says otherwise). */
export function invoice(inv: Invoice = {}): string {
  const formato = inv.formato ?? 'FPR12';
  const ces = inv.cessionario === undefined ? CESSIONARIO : inv.cessionario;
  const root = node(
    'p:FatturaElettronica',
    node(
      'FatturaElettronicaHeader',
      node(
        'DatiTrasmissione',
        node('IdTrasmittente', leaf('IdPaese', 'IT'), leaf('IdCodice', inv.trasmittente ?? '01234567890')),
        leaf('ProgressivoInvio', '00001'),
        leaf('FormatoTrasmissione', formato),
        leaf('CodiceDestinatario', inv.codiceDestinatario ?? (formato === 'FPA12' ? 'UFABCD' : 'ABC1234')),
        leaf('PECDestinatario', inv.pecDestinatario),
      ),
      node(
        'CedentePrestatore',
        node(
          'DatiAnagrafici',
          idFiscale(inv.cedente ?? CEDENTE),
          leaf('CodiceFiscale', inv.cedenteCF),
          node('Anagrafica', leaf('Denominazione', 'ALFA SRL')),
          leaf('RegimeFiscale', inv.regime ?? 'RF01'),
        ),
        sede(),
      ),
      inv.rappresentante
        ? node(
            'RappresentanteFiscale',
            node(
              'DatiAnagrafici',
              idFiscale(inv.rappresentante.id),
              leaf('CodiceFiscale', inv.rappresentante.cf),
              node('Anagrafica', leaf('Denominazione', 'GAMMA SRL')),
            ),
          )
        : undefined,
      node(
        'CessionarioCommittente',
        node(
          'DatiAnagrafici',
          ces ? idFiscale(ces) : undefined,
          leaf('CodiceFiscale', inv.cessionarioCF),
          node('Anagrafica', leaf('Denominazione', 'BETA SRL')),
        ),
        sede(),
      ),
      leaf('SoggettoEmittente', inv.soggettoEmittente),
    ),
    ...(inv.bodies ?? [{}]).map(bodyNode),
  );
  root.attrs =
    `versione="${inv.versione ?? formato}" ` +
    'xmlns:p="http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2"';
  return `<?xml version="1.0" encoding="UTF-8"?>\n${render(root)}`;
}

export interface SemplificataLine {
  importo: string;
  aliquota?: string;
}
export interface Semplificata {
  codiceDestinatario?: string;
  pecDestinatario?: string;
  /** The trasmittente's IdCodice (IdPaese IT). */
  trasmittente?: string;
  cedente?: PartyId;
  cedenteCF?: string;
  /** The cedente's RappresentanteFiscale IdFiscaleIVA. */
  rappresentante?: PartyId;
  /** null: no IdFiscaleIVA for the cessionario. */
  cessionario?: PartyId | null;
  cessionarioCF?: string;
  regime?: string;
  /** One array of DatiBeniServizi per body. */
  bodies?: SemplificataLine[][];
}

/** The XML text of a simplified invoice (FSM10). */
export function semplificata(s: Semplificata = {}): string {
  const root = node(
    'p:FatturaElettronicaSemplificata',
    node(
      'FatturaElettronicaHeader',
      node(
        'DatiTrasmissione',
        node('IdTrasmittente', leaf('IdPaese', 'IT'), leaf('IdCodice', s.trasmittente ?? '01234567890')),
        leaf('ProgressivoInvio', '00001'),
        leaf('FormatoTrasmissione', 'FSM10'),
        leaf('CodiceDestinatario', s.codiceDestinatario ?? 'ABC1234'),
        leaf('PECDestinatario', s.pecDestinatario),
      ),
      node(
        'CedentePrestatore',
        idFiscale(s.cedente ?? CEDENTE),
        leaf('CodiceFiscale', s.cedenteCF),
        leaf('Denominazione', 'ALFA SRL'),
        sede(),
        s.rappresentante
          ? node('RappresentanteFiscale', idFiscale(s.rappresentante), leaf('Denominazione', 'GAMMA SRL'))
          : undefined,
        leaf('RegimeFiscale', s.regime ?? 'RF01'),
      ),
      node(
        'CessionarioCommittente',
        node(
          'IdentificativiFiscali',
          s.cessionario === null ? undefined : idFiscale(s.cessionario ?? CESSIONARIO),
          leaf('CodiceFiscale', s.cessionarioCF),
        ),
      ),
    ),
    ...(s.bodies ?? [[{ importo: '122.00' }]]).map((lines, i) =>
      node(
        'FatturaElettronicaBody',
        node(
          'DatiGenerali',
          node(
            'DatiGeneraliDocumento',
            leaf('TipoDocumento', 'TD07'),
            leaf('Divisa', 'EUR'),
            leaf('Data', '2026-02-15'),
            leaf('Numero', `S-${i + 1}`),
          ),
        ),
        ...lines.map((l) =>
          node(
            'DatiBeniServizi',
            leaf('Descrizione', 'SERVIZIO'),
            leaf('Importo', l.importo),
            node('DatiIVA', leaf('Aliquota', l.aliquota ?? '22.00')),
          ),
        ),
      ),
    ),
  );
  root.attrs = 'versione="FSM10" xmlns:p="http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.0"';
  return `<?xml version="1.0" encoding="UTF-8"?>\n${render(root)}`;
}

// ---------------------------------------------------------------------------------------------
// Running the checks.

function parse(xml: string) {
  const p = parseXml(Buffer.from(xml, 'utf8'));
  if (!p.ok) throw new Error(`test invoice does not parse: ${JSON.stringify(p.errors)}`);
  return p.root;
}

/** The content findings for an XML text. */
export function content(xml: string, now: Date = NOW): Finding[] {
  return checkContent(parse(xml), { now });
}

/** The schema findings for an XML text (the fixtures should be schema-valid). */
export function structure(xml: string): Finding[] {
  return validateStructure(parse(xml));
}

/** 1-based line of the `nth` (1-based) line of `xml` that contains `needle`. */
export function lineOf(xml: string, needle: string, nth = 1): number {
  let seen = 0;
  const lines = xml.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if ((lines[i] as string).includes(needle) && ++seen === nth) return i + 1;
  }
  throw new Error(`"${needle}" (occurrence ${nth}) is not in the test invoice`);
}

/** Where a failing case expects its finding: the exact path and the text on the reported line. */
export interface Where {
  path: string;
  /** A substring of the reported line (and which occurrence of it). */
  at: string;
  nth?: number;
}

export type Case = [label: string, xml: string, fails: Where | null];

/**
 * Checks one table row: the code is absent for a passing case; for a failing case it is present,
 * once, with the expected path, the line of `at`, a column and messages in both languages.
 */
export function expectCase(
  code: string,
  xml: string,
  fails: Where | null,
  opts: { now?: Date; schemaValid?: boolean } = {},
): void {
  // The fixtures stay schema-valid, so each case isolates a content rule, not a format error.
  if (opts.schemaValid !== false) expect(structure(xml), 'schema-valid fixture').toEqual([]);
  const found = content(xml, opts.now ?? NOW).filter((f) => f.code === code);
  if (!fails) {
    expect(found, `no ${code} expected`).toEqual([]);
    return;
  }
  expect(found, `one ${code} expected`).toHaveLength(1);
  const f = found[0] as Finding;
  expect(f.path).toBe(fails.path);
  expect(f.line).toBe(lineOf(xml, fails.at, fails.nth));
  expect(f.column).toBeGreaterThan(0);
  expect(f.message.length).toBeGreaterThan(10);
  expect(f.messageIt.length).toBeGreaterThan(10);
}

export const B = '/FatturaElettronica/FatturaElettronicaBody';
export const H = '/FatturaElettronica/FatturaElettronicaHeader';
export const DGD = `${B}/DatiGenerali/DatiGeneraliDocumento`;
export const DBS = `${B}/DatiBeniServizi`;

/** Shorthand for a body-only invoice. */
export const one = (b: Body, extra: Invoice = {}): string => invoice({ ...extra, bodies: [b] });
