import fs from 'node:fs';
import { factsFromRoot } from '../archive/metadata.js';
import type { Config } from '../config/schema.js';
import type { InvoiceKey } from '../invoice/keys.js';
import { looksLikeP7m, unwrapP7m } from '../invoice/p7m.js';
import { parseXml } from '../invoice/xml.js';
import { finding } from '../rules/finding.js';
import type { Logger } from '../log.js';
import { OFF_THREAD_BYTES } from '../rules/pool.js';
import type { PassiveKey, ReceivedSignature } from '../store/store.js';
import { TSL, TslAnchors } from '../trust/anchors.js';

/**
 * A received invoice for ERPs that cannot read signed files, and for finding it again: a `.p7m`'s
 * signature checked as the validation step checks an outgoing one (validation.trustedCAs, the
 * trusted list as it stood at the signing time) and its content taken out, to be delivered as
 * `.xml` beside the `.p7m`; the numbers, dates and cedente `fatturad show` finds it by.
 */

/** `IT01234567890_00001.xml.p7m` -> `IT01234567890_00001.xml`; `X.p7m` -> `X.xml`. */
export function unwrappedName(name: string): string {
  const base = name.replace(/\.p7m$/i, '');
  return /\.xml$/i.test(base) ? base : `${base}.xml`;
}

/** A received file to unwrap: named .p7m, or a signed envelope whatever its name. */
export function isSigned(name: string, bytes: Buffer): boolean {
  return /\.p7m$/i.test(name) || (bytes[0] !== 0x3c && looksLikeP7m(bytes));
}

export class ReceivedSignatures {
  private trustedCAs: Buffer[] = [];
  private tsl: TslAnchors | null = null;

  constructor(
    private config: Config,
    private readonly log: Logger,
  ) {
    this.load();
  }

  reconfigure(config: Config): void {
    this.config = config;
    this.load();
  }

  private load(): void {
    this.trustedCAs = [];
    this.tsl = this.config.validation.trustedCAs.includes(TSL) ? new TslAnchors(this.config, this.log) : null;
    for (const file of this.config.validation.trustedCAs) {
      if (file === TSL) continue;
      try {
        this.trustedCAs.push(fs.readFileSync(file));
      } catch {
        // Said by the validation step (validation.ca_unreadable); checked without it here.
      }
    }
  }

  /**
   * The signature checked at `at` (when SdI received the file) and the content: null only when
   * nothing can be taken out (not a signed envelope, detached, damaged). Never throws.
   */
  async check(bytes: Buffer, at: Date): Promise<{ content: Buffer | null; signature: ReceivedSignature }> {
    const anchors = this.tsl?.current();
    const checkedAt = new Date().toISOString();
    try {
      const r = await unwrapP7m(bytes, {
        trustedCAs: anchors === null ? [] : this.trustedCAs,
        trustAnchors: anchors ?? [],
        now: at,
      });
      if (!r.ok)
        return {
          content: null,
          signature: {
            status: 'unreadable',
            issuer: 'not-checked',
            signers: [],
            findings: r.findings,
            checkedAt,
          },
        };
      // 00104 (issuer not trusted) is the issuer's verdict; any other finding is the signature's.
      const broken = r.findings.some((f) => f.code !== '00104');
      return {
        content: r.content,
        signature: {
          status: broken ? 'invalid' : 'valid',
          issuer: r.issuerCheck,
          signers: r.signers.map((s) => ({
            subject: s.subject,
            issuer: s.issuer,
            signingTime: s.signingTime?.toISOString() ?? null,
          })),
          findings: [...r.findings, ...r.warnings],
          checkedAt,
        },
      };
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return {
        content: null,
        signature: {
          status: 'unreadable',
          issuer: 'not-checked',
          signers: [],
          findings: [
            finding(
              '00102',
              `The signed file cannot be read: ${why}`,
              `Il file firmato non è leggibile: ${why}`,
            ),
          ],
          checkedAt,
        },
      };
    }
  }
}

/** The first `<CedentePrestatore>…</CedentePrestatore>` within the first 64 KB, read alone. */
function cedenteFromHeader(xml: Buffer): Omit<PassiveKey, 'body' | 'numero' | 'data' | 'tipoDocumento'> {
  const none = { cedentePiva: null, cedenteCf: null, cedenteName: null };
  const head = xml.subarray(0, OFF_THREAD_BYTES).toString('latin1');
  const start = head.search(/<(?:[A-Za-z0-9_.-]+:)?CedentePrestatore[\s>]/);
  const close = head.search(/<\/(?:[A-Za-z0-9_.-]+:)?CedentePrestatore\s*>/);
  if (start < 0 || close < start) return none;
  const closeEnd = head.indexOf('>', close) + 1;
  const fragment = Buffer.from(
    `<FatturaElettronica versione="FPR12"><FatturaElettronicaHeader>${head
      .slice(start, closeEnd)
      .replace(/<(\/?)[A-Za-z0-9_.-]+:/g, '<$1')}</FatturaElettronicaHeader>` +
      `<FatturaElettronicaBody><DatiGenerali><DatiGeneraliDocumento><Numero>-</Numero><Data>2000-01-01</Data>` +
      `</DatiGeneraliDocumento></DatiGenerali></FatturaElettronicaBody></FatturaElettronica>`,
    'latin1',
  );
  const p = parseXml(fragment);
  const ced = p.ok ? factsFromRoot(p.root, false)?.parties[0] : undefined;
  return ced ? cedenteOf(ced) : none;
}

function cedenteOf(p: {
  denominazione?: string;
  nome?: string;
  cognome?: string;
  codiceFiscale?: string;
  partitaIva?: string;
}): Omit<PassiveKey, 'body' | 'numero' | 'data' | 'tipoDocumento'> {
  const name = p.denominazione ?? ([p.nome, p.cognome].filter(Boolean).join(' ') || null);
  return {
    cedentePiva: p.partitaIva?.toUpperCase() ?? null,
    cedenteCf: p.codiceFiscale?.toUpperCase() ?? null,
    cedenteName: name,
  };
}

/**
 * The keys of a received invoice. A small one is read whole here; a large one (read on the
 * validation worker, OFF_THREAD_BYTES) is not parsed again on the main thread: its numbers come
 * from the validation's invoice keys and its cedente from the header alone.
 */
export function receivedKeys(xml: Buffer | null, validated: InvoiceKey[]): PassiveKey[] {
  if (!xml) return [];
  if (xml.length <= OFF_THREAD_BYTES) {
    const p = parseXml(xml);
    const facts = p.ok ? factsFromRoot(p.root, false) : null;
    if (facts) {
      const ced = cedenteOf(facts.parties.find((x) => x.role === 'cedente') ?? {});
      return facts.bodies.map((b, i) => ({
        body: i + 1,
        numero: b.numero,
        data: b.data,
        tipoDocumento: b.tipoDocumento,
        ...ced,
      }));
    }
  }
  const ced = cedenteFromHeader(xml);
  return validated.map((k) => ({
    body: k.body,
    numero: k.numero,
    data: k.data,
    tipoDocumento: k.tipoDocumento,
    ...ced,
  }));
}
