import { unwrapP7m, looksLikeP7m } from '../invoice/p7m.js';
import { parseXml, textAt } from '../invoice/xml.js';
import { buildNotification } from '../notifications/build.js';
import { notificationName } from '../notifications/names.js';
import type { MessageFamily, NotificationKind, SdiError } from '../notifications/types.js';
import { validateFile } from '../rules/validate.js';

/**
 * What the simulated SdI decides when a file arrives: its IdentificativoSdI (or an EI error),
 * and the messages it will send back, in order. Transport-free, so the same engine serves
 * SDICoop today and PEC or SDIFTP later.
 *
 * Scenarios (per run, or per file with the text `fatturad-sim:<scenario>` anywhere in the
 * invoice, e.g. in a Causale; `fatturad-sim:reject:00311` forces an NS with that code):
 * - deliver: RC
 * - mc-rc: MC, then RC (B2B: MC only, it is final)
 * - mc-at: MC, then AT (PA; B2B: MC only)
 * - accept / refuse / expire: RC, then NE EC01 / NE EC02 / DT (PA; B2B: RC only)
 * - reject: NS with the given code (default 00200)
 * - unavailable: the first RiceviFile of each file name answers EI02, the next ones deliver
 * - slow: takes the file and delivers it, but answers RiceviFile late (the transport decides how late)
 * Files are validated with fatturad's own validation, as SdI would: an invalid file gets an NS
 * with the error list; a file name already received gets an NS 00002.
 */
export { SCENARIOS, type Scenario } from './scenarios.js';
import { SCENARIOS, type Scenario } from './scenarios.js';

/** A message the simulated SdI sends to the trasmittente: the SDICoop operation, the file. */
export interface PlannedMessage {
  kind: NotificationKind;
  /** TrasmissioneFatture operation that carries it. */
  operation:
    | 'RicevutaConsegna'
    | 'NotificaMancataConsegna'
    | 'NotificaScarto'
    | 'NotificaEsito'
    | 'NotificaDecorrenzaTermini'
    | 'AttestazioneTrasmissioneFattura';
  identificativoSdI: string;
  fileName: string;
  bytes: Buffer;
}

export type Reception =
  | {
      ok: true;
      identificativoSdI: string;
      dataOraRicezione: string;
      messages: PlannedMessage[];
      /** The answer to RiceviFile should come late (scenario slow). */
      slow?: boolean;
    }
  | { ok: false; errore: 'EI01' | 'EI02' | 'EI03'; descrizione: string };

const OPERATION: Record<string, PlannedMessage['operation']> = {
  RC: 'RicevutaConsegna',
  MC: 'NotificaMancataConsegna',
  NS: 'NotificaScarto',
  NE: 'NotificaEsito',
  DT: 'NotificaDecorrenzaTermini',
  AT: 'AttestazioneTrasmissioneFattura',
};

export interface EngineOptions {
  scenario: Scenario;
  /** First IdentificativoSdI handed out. */
  firstId?: number;
  now?: () => Date;
}

/** Reads what the simulator needs from the invoice: flow, CodiceDestinatario, scenario hint. */
async function facts(
  name: string,
  bytes: Buffer,
): Promise<{ family: MessageFamily; codiceDestinatario: string; hint: string | null }> {
  let xml = bytes;
  if (/\.p7m$/i.test(name) || looksLikeP7m(bytes)) {
    const u = await unwrapP7m(bytes);
    if (u.ok) xml = u.content;
  }
  const text = xml.toString('latin1');
  const hint = /fatturad-sim:([a-z-]+(?::[0-9]{5})?)/.exec(text)?.[1] ?? null;
  const p = parseXml(xml);
  if (!p.ok) return { family: 'b2b', codiceDestinatario: '0000000', hint };
  return {
    family: p.root.attrs.versione === 'FPA12' ? 'pa' : 'b2b',
    codiceDestinatario:
      textAt(p.root, 'FatturaElettronicaHeader/DatiTrasmissione/CodiceDestinatario') ?? '0000000',
    hint,
  };
}

export class SdiEngine {
  private nextId: number;
  /** RiceviFile calls per file name (tests count them: nothing may be sent twice). */
  readonly calls = new Map<string, number>();
  private readonly accepted = new Set<string>();
  private readonly progr = new Map<string, number>();
  private readonly now: () => Date;

  constructor(private readonly opts: EngineOptions) {
    this.nextId = opts.firstId ?? 100_000 + Math.floor(Math.random() * 800_000);
    this.now = opts.now ?? (() => new Date());
  }

  private message(
    kind: NotificationKind,
    family: MessageFamily,
    id: string,
    nomeFile: string,
    extra: Parameters<typeof buildNotification>[0] extends infer B ? Partial<B> : never,
  ): PlannedMessage {
    const n = (this.progr.get(nomeFile) ?? 0) + 1;
    this.progr.set(nomeFile, n);
    const operation = OPERATION[kind];
    if (!operation) throw new Error(`no TrasmissioneFatture operation for ${kind}`);
    return {
      kind,
      operation,
      identificativoSdI: id,
      fileName: notificationName(nomeFile, kind, n),
      bytes: buildNotification({ kind, family, identificativoSdI: id, nomeFile, now: this.now(), ...extra }),
    };
  }

  /** SdIRiceviFile.RiceviFile: takes a file, or answers with an EI error. */
  async receive(nomeFile: string, bytes: Buffer): Promise<Reception> {
    const calls = (this.calls.get(nomeFile) ?? 0) + 1;
    this.calls.set(nomeFile, calls);
    if (bytes.length === 0) return { ok: false, errore: 'EI01', descrizione: 'File vuoto' };
    const f = await facts(nomeFile, bytes);
    const [hintScenario, hintCode] = (f.hint ?? '').split(':');
    const scenario: Scenario = (SCENARIOS as readonly string[]).includes(hintScenario ?? '')
      ? (hintScenario as Scenario)
      : this.opts.scenario;
    if (scenario === 'unavailable' && calls === 1)
      return { ok: false, errore: 'EI02', descrizione: 'Servizio non disponibile' };

    const id = String(this.nextId++);
    const dataOraRicezione = this.now().toISOString();
    const family = f.family;
    const destinatario = { codice: f.codiceDestinatario, descrizione: 'Destinatario simulato' };
    const invoiceBytes = bytes;
    const ns = (errors: SdiError[]): Reception => ({
      ok: true,
      identificativoSdI: id,
      dataOraRicezione,
      messages: [this.message('NS', family, id, nomeFile, { errors: errors.slice(0, 200), invoiceBytes })],
    });

    if (this.accepted.has(nomeFile.toLowerCase()))
      return ns([
        {
          codice: '00002',
          descrizione: 'Nome file duplicato',
          suggerimento: 'Inviare il file con un nome diverso',
        },
      ]);
    this.accepted.add(nomeFile.toLowerCase());

    const verdict = await validateFile(nomeFile, bytes, { fileName: 'error', now: this.now() });
    if (!verdict.valid)
      return ns(
        verdict.errors.map((e) => ({
          codice: e.code.slice(0, 5),
          descrizione: `${e.field ? `${e.field}: ` : ''}${e.messageIt}`.slice(0, 255),
          suggerimento: e.message.slice(0, 2000),
        })),
      );
    if (scenario === 'reject')
      return ns([
        {
          codice: hintCode ?? '00200',
          descrizione: 'Scarto simulato',
          suggerimento: 'Scarto richiesto allo scenario del simulatore',
        },
      ]);

    const rc = (): PlannedMessage => this.message('RC', family, id, nomeFile, { destinatario, invoiceBytes });
    const mc = (): PlannedMessage =>
      this.message('MC', family, id, nomeFile, { descrizione: 'Recapito non riuscito', invoiceBytes });
    const messages: PlannedMessage[] = [];
    const pa = family === 'pa';
    switch (scenario) {
      case 'mc-rc':
        messages.push(mc());
        if (pa) messages.push(rc());
        break;
      case 'mc-at':
        messages.push(mc());
        if (pa) messages.push(this.message('AT', family, id, nomeFile, { destinatario, invoiceBytes }));
        break;
      case 'accept':
      case 'refuse':
        messages.push(rc());
        if (pa)
          messages.push(
            this.message('NE', family, id, nomeFile, {
              esito: scenario === 'accept' ? 'EC01' : 'EC02',
              descrizione: scenario === 'accept' ? 'Fattura accettata' : 'Fattura rifiutata',
              messageIdCommittente: String(this.nextId),
            }),
          );
        break;
      case 'expire':
        messages.push(rc());
        if (pa)
          messages.push(
            this.message('DT', family, id, nomeFile, {
              descrizione: 'Decorrenza termini per esito committente',
            }),
          );
        break;
      default:
        messages.push(rc());
    }
    return {
      ok: true,
      identificativoSdI: id,
      dataOraRicezione,
      messages,
      ...(scenario === 'slow' ? { slow: true } : {}),
    };
  }

  /** A received (passive) invoice and its metadata file (MT), as SdI delivers them to a recipient. */
  async passive(
    nomeFile: string,
    bytes: Buffer,
  ): Promise<{ identificativoSdI: string; metadataName: string; metadata: Buffer }> {
    const f = await facts(nomeFile, bytes);
    const id = String(this.nextId++);
    const n = (this.progr.get(nomeFile) ?? 0) + 1;
    this.progr.set(nomeFile, n);
    return {
      identificativoSdI: id,
      metadataName: notificationName(nomeFile, 'MT', n),
      metadata: buildNotification({
        kind: 'MT',
        family: f.family,
        identificativoSdI: id,
        nomeFile,
        codiceDestinatario: f.codiceDestinatario,
        invoiceBytes: bytes,
        now: this.now(),
      }),
    };
  }
}
