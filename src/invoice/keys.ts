import { all, at, textAt } from './lookup.js';
import type { XmlElement } from './xml.js';

/**
 * What identifies an invoice for SdI's uniqueness checks (00404 across files, 00409 inside a
 * lotto): the cedente's IdFiscaleIVA, the invoice Numero and the year of its Data (the full
 * date when Art73 = SI); credit notes (TD04) are compared only with credit notes. When
 * SoggettoEmittente = CC (self-billing by the buyer) the cessionario is the issuer that counts.
 */
export interface InvoiceKey {
  /** 1-based index of the FatturaElettronicaBody. */
  body: number;
  cedente: string;
  numero: string;
  data: string;
  /** Year, or the full date when Art73 = SI. */
  period: string;
  td04: boolean;
  art73: boolean;
  tipoDocumento: string;
  /** Where the Numero is, for messages. */
  line: number;
  column: number;
}

function idIva(el: XmlElement | undefined): string {
  const paese = textAt(el, 'IdPaese') ?? '';
  const codice = textAt(el, 'IdCodice') ?? '';
  return paese || codice ? `${paese}${codice}` : '';
}

export function invoiceKeys(root: XmlElement): InvoiceKey[] {
  const header = at(root, 'FatturaElettronicaHeader');
  const soggetto = textAt(header, 'SoggettoEmittente');
  const issuerBlock =
    soggetto === 'CC' ? 'CessionarioCommittente/DatiAnagrafici' : 'CedentePrestatore/DatiAnagrafici';
  const issuer = at(header, issuerBlock);
  const cedente = idIva(at(issuer, 'IdFiscaleIVA')) || (textAt(issuer, 'CodiceFiscale') ?? '');
  const keys: InvoiceKey[] = [];
  const bodies = all(root, 'FatturaElettronicaBody');
  for (let i = 0; i < bodies.length; i++) {
    const dg = at(bodies[i], 'DatiGenerali/DatiGeneraliDocumento');
    const numeroEl = at(dg, 'Numero');
    const numero = textAt(dg, 'Numero');
    const data = textAt(dg, 'Data');
    if (!numero || !data || !numeroEl) continue;
    const art73 = textAt(dg, 'Art73') === 'SI';
    const tipo = textAt(dg, 'TipoDocumento') ?? '';
    keys.push({
      body: i + 1,
      cedente,
      numero,
      data,
      period: art73 ? data : data.slice(0, 4),
      td04: tipo === 'TD04',
      art73,
      tipoDocumento: tipo,
      line: numeroEl.line,
      column: numeroEl.column,
    });
  }
  return keys;
}

/** The identity two invoices share when SdI would call one a duplicate of the other. */
export function keyIdentity(k: Pick<InvoiceKey, 'cedente' | 'numero' | 'period' | 'td04'>): string {
  return `${k.cedente}|${k.numero}|${k.period}|${k.td04 ? 'TD04' : 'other'}`;
}
