import fsp from 'node:fs/promises';
import type https from 'node:https';
import type { Logger } from '../log.js';
import {
  buildFault,
  buildResponse,
  parseResponse,
  parseSoapMessage,
  buildRequest,
} from '../channels/soap/envelope.js';
import {
  postSoap,
  SoapHttpsServer,
  keepAliveAgent,
  type SoapHttpRequest,
  type SoapHttpResponse,
} from '../channels/soap/http.js';
import { operationOf } from '../channels/soap/services.js';
import { wsdlFor } from '../channels/soap/wsdl.js';
import { scanDeliverFolder } from './deliver-folder.js';
import { SdiEngine, type PlannedMessage, type Scenario } from './engine.js';

/**
 * A simulated SdI on loopback that speaks the real SDICoop protocol: it serves SdIRiceviFile
 * over HTTPS with mutual TLS, decides with the engine, and calls the trasmittente's
 * TrasmissioneFatture endpoint back with the real message XML, retrying until it is taken (as
 * SdI does). Files dropped into `passiveDir` are delivered to the trasmittente's
 * RicezioneFatture endpoint as received invoices, with their MT.
 */
export interface SimulatorOptions {
  tls: { cert: Buffer; key: Buffer; ca: Buffer[] };
  scenario: Scenario;
  delayMs: number;
  /** Received invoices to deliver: files dropped here go to RicezioneFatture. */
  passiveDir?: string;
  log: Logger;
  /** How often an undelivered callback is tried again. */
  retryMs?: number;
  /** How late RiceviFile answers in the slow scenario (default 5 minutes: past any client timeout). */
  slowAnswerMs?: number;
}

export interface TrasmittenteEndpoints {
  trasmissioneFatture: string;
  ricezioneFatture: string;
}

interface Outgoing {
  url: 'trasmissione' | 'ricezione';
  operation: string;
  fields: Record<string, string | Buffer>;
  label: string;
  attempts: number;
  /** Runs once the trasmittente took it (e.g. removes the dropped file it came from). */
  done?: () => Promise<void>;
}

export class SdiSimulator {
  readonly engine: SdiEngine;
  private readonly server: SoapHttpsServer;
  private target: TrasmittenteEndpoints | null = null;
  private readonly queue: Outgoing[] = [];
  private pumping = false;
  private timer: NodeJS.Timeout | null = null;
  private passiveTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private base = '';
  /** Messages delivered to the trasmittente, in order (for tests). */
  readonly delivered: string[] = [];

  constructor(private readonly opts: SimulatorOptions) {
    this.engine = new SdiEngine({ scenario: opts.scenario });
    this.server = new SoapHttpsServer(opts.tls, (req) => this.handle(req));
    this.agent = keepAliveAgent(opts.tls, 4);
  }

  private readonly agent: https.Agent;

  async listen(host: string, port: number): Promise<{ riceviFileUrl: string; port: number }> {
    const a = await this.server.listen(host, port);
    this.base = `https://${host === '::1' ? '[::1]' : host}:${a.port}`;
    this.opts.log.info(
      { event: 'sim.listening', url: `${this.base}/SdIRiceviFile`, scenario: this.opts.scenario },
      `SdI simulator listening on ${this.base} (scenario ${this.opts.scenario})`,
    );
    if (this.opts.passiveDir) {
      await fsp.mkdir(this.opts.passiveDir, { recursive: true });
      const tick = (): void => {
        this.passiveTimer = setTimeout(
          () => void this.scanPassive().finally(() => !this.closed && tick()),
          1000,
        );
        this.passiveTimer.unref();
      };
      tick();
    }
    return { riceviFileUrl: `${this.base}/SdIRiceviFile`, port: a.port };
  }

  /** Where the trasmittente receives SdI's calls. Queued messages start flowing. */
  connect(target: TrasmittenteEndpoints): void {
    this.target = target;
    this.pump();
  }

  private async handle(req: SoapHttpRequest): Promise<SoapHttpResponse> {
    if (req.path !== '/SdIRiceviFile') return { status: 404, contentType: 'text/plain', body: 'not found' };
    if (req.method === 'GET')
      return {
        status: 200,
        contentType: 'text/xml; charset=utf-8',
        body: wsdlFor('SdIRiceviFile', `${this.base}/SdIRiceviFile`),
      };
    const msg = parseSoapMessage(req.body, req.contentType);
    if (!msg.ok)
      return {
        status: msg.status,
        contentType: 'text/xml; charset=utf-8',
        body: buildFault('soap:Client', msg.error),
      };
    const nomeFile = String(msg.fields.NomeFile ?? '');
    const file = msg.fields.File;
    const bytes = Buffer.isBuffer(file) ? file : Buffer.alloc(0);
    const r = await this.engine.receive(nomeFile, bytes);
    const xml = r.ok
      ? buildResponse('SdIRiceviFile', 'RiceviFile', {
          IdentificativoSdI: r.identificativoSdI,
          DataOraRicezione: r.dataOraRicezione,
        })
      : buildResponse('SdIRiceviFile', 'RiceviFile', {
          // The schema makes IdentificativoSdI mandatory even beside an Errore.
          IdentificativoSdI: '0',
          DataOraRicezione: new Date().toISOString(),
          Errore: r.errore,
        });
    this.opts.log.info(
      {
        event: 'sim.received',
        nomeFile,
        peer: req.peer,
        ...(r.ok
          ? { identificativoSdI: r.identificativoSdI, messages: r.messages.map((m) => m.kind) }
          : { errore: r.errore }),
      },
      r.ok
        ? `SdI simulator took ${nomeFile} as ${r.identificativoSdI}`
        : `SdI simulator answered ${r.errore} for ${nomeFile}`,
    );
    if (r.ok) for (const m of r.messages) this.enqueue(m);
    if (r.ok && r.slow)
      await new Promise((resolve) => setTimeout(resolve, this.opts.slowAnswerMs ?? 300_000).unref());
    return { status: 200, contentType: 'text/xml; charset=utf-8', body: xml };
  }

  /** Sends a message of SdI's to the trasmittente (e.g. a notification about a file it never sent). */
  notify(m: PlannedMessage): void {
    this.enqueue(m);
  }

  private enqueue(m: PlannedMessage): void {
    this.queue.push({
      url: 'trasmissione',
      operation: m.operation,
      fields: { IdentificativoSdI: m.identificativoSdI, NomeFile: m.fileName, File: m.bytes },
      label: `${m.kind} ${m.fileName}`,
      attempts: 0,
    });
    this.schedule(this.opts.delayMs);
  }

  private schedule(ms: number): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, ms);
    this.timer.unref();
  }

  /** Sends queued messages one by one, in order; a failure waits and tries the same one again. */
  private pump(): void {
    if (this.pumping || this.closed || !this.target || this.queue.length === 0) return;
    this.pumping = true;
    void (async (): Promise<void> => {
      try {
        while (!this.closed && this.target && this.queue.length > 0) {
          const o = this.queue[0] as Outgoing;
          o.attempts++;
          const ok = await this.call(o);
          if (!ok) {
            this.schedule(this.opts.retryMs ?? 1000);
            return;
          }
          this.queue.shift();
          this.delivered.push(o.label);
          await o.done?.().catch(() => undefined);
          if (this.queue.length > 0 && this.opts.delayMs > 0) {
            this.schedule(this.opts.delayMs);
            return;
          }
        }
      } finally {
        this.pumping = false;
      }
    })();
  }

  private async call(o: Outgoing): Promise<boolean> {
    const target = this.target;
    if (!target) return false;
    const service = o.url === 'trasmissione' ? 'TrasmissioneFatture' : 'RicezioneFatture';
    const url = o.url === 'trasmissione' ? target.trasmissioneFatture : target.ricezioneFatture;
    try {
      const res = await postSoap(
        url,
        buildRequest(service, o.operation, o.fields),
        {
          'content-type': 'text/xml; charset=utf-8',
          soapaction: `"${operationOf(service, o.operation).soapAction}"`,
        },
        { ...this.opts.tls, timeoutMs: 30_000, agent: this.agent },
      );
      if (res.status >= 200 && res.status < 300) {
        if (o.operation === 'RiceviFatture') {
          const r = parseResponse(service, o.operation, res.body, res.contentType);
          if (!r.ok || r.fields.Esito !== 'ER01') return false;
        }
        this.opts.log.info(
          { event: 'sim.delivered', message: o.label, attempts: o.attempts },
          `SdI simulator delivered ${o.label}`,
        );
        return true;
      }
      this.opts.log.warn(
        { event: 'sim.delivery_failed', message: o.label, status: res.status, attempts: o.attempts },
        `the trasmittente answered ${res.status} to ${o.label}; trying again`,
      );
    } catch (err) {
      this.opts.log.warn(
        {
          event: 'sim.delivery_failed',
          message: o.label,
          error: (err as Error).message,
          attempts: o.attempts,
        },
        `cannot deliver ${o.label}: ${(err as Error).message}; trying again`,
      );
    }
    return false;
  }

  /** Delivers a received invoice to the trasmittente's RicezioneFatture, with its MT. */
  async deliverPassive(nomeFile: string, bytes: Buffer, done?: () => Promise<void>): Promise<string> {
    const p = await this.engine.passive(nomeFile, bytes);
    this.queue.push({
      url: 'ricezione',
      operation: 'RiceviFatture',
      fields: {
        IdentificativoSdI: p.identificativoSdI,
        NomeFile: nomeFile,
        File: bytes,
        NomeFileMetadati: p.metadataName,
        Metadati: p.metadata,
      },
      label: `invoice ${nomeFile} with ${p.metadataName}`,
      attempts: 0,
      ...(done ? { done } : {}),
    });
    this.pump();
    return p.identificativoSdI;
  }

  private async scanPassive(): Promise<void> {
    const dir = this.opts.passiveDir;
    if (!dir) return;
    const first = !this.requeued;
    this.requeued = true;
    await scanDeliverFolder(dir, first, (n, bytes, done) => this.deliverPassive(n, bytes, done));
  }

  private requeued = false;

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.passiveTimer) clearTimeout(this.passiveTimer);
    this.agent.destroy();
    await this.server.close();
  }
}
