import { EX, exampleText } from './spec.js';

/**
 * Large invoices made from the project's B2B example: its first DettaglioLinee (8 × 65.00 =
 * 520.00 at 22 %) repeated to about `bytes`, with a summary and totals that match, so that the
 * result is a valid invoice. `oneLine`: no line break or indentation anywhere (as some ERPs write
 * them). `xmlnsXml`: the root also declares the `xml` prefix (legal, and rare).
 */
export function bigInvoice(
  bytes: number,
  o: { oneLine?: boolean; numero?: string; xmlnsXml?: boolean } = {},
): string {
  let sample = exampleText(EX.b2b);
  if (o.oneLine) sample = sample.replace(/>\s+</g, '><').replace(/\s+$/, '');
  const line = /<DettaglioLinee>[\s\S]*?<\/DettaglioLinee>/.exec(sample)?.[0] ?? '';
  const reps = Math.max(1, Math.round((bytes - sample.length) / line.length) + 1);
  // Cents, in integers: 520.00 and its 22 % (114.40) per line.
  const euros = (cents: number): string =>
    `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
  const imponibile = reps * 52_000;
  const imposta = reps * 11_440;
  const sep = o.oneLine ? '' : '\n      ';
  let text = sample
    .replace(/<DettaglioLinee>[\s\S]*<\/DettaglioLinee>/, line.repeat(reps))
    .replace(
      /<DatiRiepilogo>[\s\S]*<\/DatiRiepilogo>/,
      `<DatiRiepilogo>${sep}<AliquotaIVA>22.00</AliquotaIVA><ImponibileImporto>${euros(imponibile)}</ImponibileImporto>` +
        `<Imposta>${euros(imposta)}</Imposta><EsigibilitaIVA>I</EsigibilitaIVA></DatiRiepilogo>`,
    )
    .replace(/<ImportoTotaleDocumento>[^<]*</, `<ImportoTotaleDocumento>${euros(imponibile + imposta)}<`)
    .replace(/<ImportoPagamento>[^<]*</, `<ImportoPagamento>${euros(imponibile + imposta)}<`);
  if (o.numero !== undefined) text = text.replace(/<Numero>[^<]*<\/Numero>/, `<Numero>${o.numero}</Numero>`);
  if (o.xmlnsXml)
    text = text.replace(
      '<p:FatturaElettronica ',
      '<p:FatturaElettronica xmlns:xml="http://www.w3.org/XML/1998/namespace" ',
    );
  return text;
}
