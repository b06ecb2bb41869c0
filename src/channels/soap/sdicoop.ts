import type { Logger } from '../../log.js';
import type { Channel, ChannelHealth, InboundSink, OutgoingFile, SendResult } from '../channel.js';
import {
  buildFault,
  buildMtomRequest,
  buildRequest,
  buildResponse,
  parseResponse,
  parseSoapMessage,
} from './envelope.js';
import {
  keepAliveAgent,
  postSoap,
  SoapCallError,
  SoapHttpsServer,
  type SoapHttpRequest,
  type SoapHttpResponse,
  type TlsClientOptions,
  type TlsServerOptions,
} from './http.js';
import { wsdlFor } from './wsdl.js';

/**
 * SDICoop: SdI's SOAP web services over HTTPS with mutual TLS (digest section 7.2).
 * - Out: SdIRiceviFile.RiceviFile. IdentificativoSdI -> accepted; EI01 (empty file) and EI03
 *   (user not enabled) -> refused; EI02 (service unavailable), HTTP errors, timeouts and network
 *   errors -> retry; an answer with neither IdentificativoSdI nor Errore is a failure (retry).
 * - In: TrasmissioneFatture (RC, NS, MC, NE, DT, AT; one-way) and RicezioneFatture
 *   (RiceviFatture answered ER01 once the invoice is stored; NotificaDecorrenzaTermini). A
 *   message is acknowledged only after the sink stored it; otherwise SdI gets a SOAP fault and
 *   sends it again. Inline base64 and MTOM/XOP are both accepted.
 */
export interface SdiCoopOptions {
  /** SdI's RiceviFile URL. */
  endpoint: string;
  client: TlsClientOptions;
  server: TlsServerOptions;
  listen: { host: string; port: number };
  mtom: boolean;
  log: Logger;
  /** The client certificate's notAfter: past it, the channel is not used. */
  clientNotAfter?: Date;
  clientSubject?: string;
}

const XML = 'text/xml; charset=utf-8';
const TRASMISSIONE_PATH = '/TrasmissioneFatture';
const RICEZIONE_PATH = '/RicezioneFatture';

export class SdiCoopChannel implements Channel {
  readonly name = 'sdicoop';
  private server: SoapHttpsServer | null = null;
  private sink: InboundSink | null = null;
  private base = '';
  private lastSend: { ok: boolean; at: string; detail: string } | null = null;

  private readonly client: TlsClientOptions;

  constructor(private readonly opts: SdiCoopOptions) {
    this.client = { ...opts.client, agent: keepAliveAgent(opts.client, 16) };
  }

  /** fatturad's endpoints, to give SdI (or the simulator). */
  get endpoints(): { trasmissioneFatture: string; ricezioneFatture: string } {
    return {
      trasmissioneFatture: `${this.base}${TRASMISSIONE_PATH}`,
      ricezioneFatture: `${this.base}${RICEZIONE_PATH}`,
    };
  }

  async start(sink: InboundSink): Promise<void> {
    this.sink = sink;
    this.server = new SoapHttpsServer(this.opts.server, (req) => this.handle(req));
    const a = await this.server.listen(this.opts.listen.host, this.opts.listen.port);
    const host =
      this.opts.listen.host === '0.0.0.0' || this.opts.listen.host === '::'
        ? '127.0.0.1'
        : this.opts.listen.host;
    this.base = `https://${host.includes(':') ? `[${host}]` : host}:${a.port}`;
    this.opts.log.info(
      { event: 'sdicoop.listening', ...this.endpoints, endpoint: this.opts.endpoint },
      `SDICoop endpoints listening on ${this.base} (TrasmissioneFatture, RicezioneFatture); sending to ${this.opts.endpoint}`,
    );
  }

  private async handle(req: SoapHttpRequest): Promise<SoapHttpResponse> {
    const service =
      req.path === TRASMISSIONE_PATH
        ? 'TrasmissioneFatture'
        : req.path === RICEZIONE_PATH
          ? 'RicezioneFatture'
          : null;
    if (!service) return { status: 404, contentType: 'text/plain', body: 'not found' };
    if (req.method === 'GET')
      return { status: 200, contentType: XML, body: wsdlFor(service, `${this.base}${req.path}`) };
    if (req.method !== 'POST') return { status: 405, contentType: 'text/plain', body: 'POST only' };
    const msg = parseSoapMessage(req.body, req.contentType);
    if (!msg.ok) {
      this.opts.log.warn(
        {
          event: 'sdicoop.bad_request',
          path: req.path,
          peer: req.peer,
          status: msg.status,
          error: msg.error,
        },
        `refused a SOAP request on ${req.path}: ${msg.error}`,
      );
      return { status: msg.status, contentType: XML, body: buildFault('soap:Client', msg.error) };
    }
    const f = msg.fields;
    const str = (k: string): string => (typeof f[k] === 'string' ? f[k] : '');
    const bin = (k: string): Buffer | null => (Buffer.isBuffer(f[k]) ? f[k] : null);
    const sink = this.sink;
    if (!sink) return { status: 503, contentType: XML, body: buildFault('soap:Server', 'not ready') };
    try {
      if (service === 'RicezioneFatture' && msg.operationElement === 'fileSdIConMetadati') {
        const file = bin('File');
        const meta = bin('Metadati');
        if (!file || !meta)
          return {
            status: 400,
            contentType: XML,
            body: buildFault('soap:Client', 'File and Metadati are required'),
          };
        await sink({
          type: 'invoice',
          channel: this.name,
          identificativoSdI: str('IdentificativoSdI'),
          fileName: str('NomeFile'),
          bytes: file,
          metadataName: str('NomeFileMetadati'),
          metadata: meta,
        });
        return {
          status: 200,
          contentType: XML,
          body: buildResponse('RicezioneFatture', 'RiceviFatture', { Esito: 'ER01' }),
        };
      }
      const file = bin('File');
      if (!file)
        return { status: 400, contentType: XML, body: buildFault('soap:Client', 'File is required') };
      await sink({
        type: 'notification',
        channel: this.name,
        fileName: str('NomeFile'),
        bytes: file,
        ...(str('IdentificativoSdI') ? { identificativoSdI: str('IdentificativoSdI') } : {}),
      });
      // One-way operations: no SOAP response, HTTP 202 (as WS-I and Apache CXF do).
      return { status: 202 };
    } catch (err) {
      this.opts.log.error(
        { event: 'sdicoop.store_failed', path: req.path, err },
        'a message from SdI could not be stored; SdI gets a fault and will send it again',
      );
      return {
        status: 500,
        contentType: XML,
        body: buildFault('soap:Server', 'temporarily unable to store the message'),
      };
    }
  }

  async send(file: OutgoingFile): Promise<SendResult> {
    const fields = { NomeFile: file.sdiName, File: file.bytes };
    const soapaction = '"http://www.fatturapa.it/SdIRiceviFile/RiceviFile"';
    let res;
    try {
      if (this.opts.mtom) {
        const m = buildMtomRequest('SdIRiceviFile', 'RiceviFile', fields);
        res = await postSoap(
          this.opts.endpoint,
          m.body,
          { 'content-type': m.contentType, soapaction },
          this.client,
        );
      } else {
        res = await postSoap(
          this.opts.endpoint,
          buildRequest('SdIRiceviFile', 'RiceviFile', fields),
          { 'content-type': XML, soapaction },
          this.client,
        );
      }
    } catch (err) {
      if (err instanceof SoapCallError && err.inDoubt)
        // SdI may have taken the file. Sending it again under the same name is safe: SdI refuses
        // a second file with a name it already has (NS 00002), and that NS about the extra copy
        // does not touch the invoice (pipeline/inbound.ts); the first copy's answers stand.
        return this.note({
          kind: 'retry',
          reason: `no answer after the file was sent (${err.message}); SdI may have it: sent again under the same name`,
        });
      return this.note({ kind: 'retry', reason: `cannot reach SdI: ${(err as Error).message}` });
    }
    const r = parseResponse('SdIRiceviFile', 'RiceviFile', res.body, res.contentType);
    if (!r.ok) return this.note({ kind: 'retry', reason: `SdI answered HTTP ${res.status}: ${r.error}` });
    const id = typeof r.fields.IdentificativoSdI === 'string' ? r.fields.IdentificativoSdI.trim() : '';
    const errore = typeof r.fields.Errore === 'string' ? r.fields.Errore.trim() : '';
    const when = typeof r.fields.DataOraRicezione === 'string' ? r.fields.DataOraRicezione : undefined;
    if (!errore && id && /^[0-9]{1,12}$/.test(id) && !/^0+$/.test(id))
      return this.note({
        kind: 'accepted',
        identificativoSdI: id,
        ...(when ? { dataOraRicezione: when } : {}),
        raw: res.body,
      });
    if (errore === 'EI01')
      return this.note({
        kind: 'refused',
        code: 'EI01',
        reason: 'SdI: empty file (file vuoto)',
        raw: res.body,
      });
    if (errore === 'EI03')
      return this.note({
        kind: 'refused',
        code: 'EI03',
        reason: 'SdI: user not enabled (utente non abilitato)',
        raw: res.body,
      });
    if (errore === 'EI02')
      return this.note({
        kind: 'retry',
        code: 'EI02',
        reason: 'SdI: service unavailable (servizio non disponibile)',
      });
    return this.note({
      kind: 'retry',
      reason: errore
        ? `SdI answered an unknown Errore "${errore}"`
        : 'SdI answered with neither IdentificativoSdI nor Errore: not taken as a success',
    });
  }

  private note(r: SendResult): SendResult {
    this.lastSend = {
      ok: r.kind === 'accepted' || r.kind === 'refused',
      at: new Date().toISOString(),
      detail: r.kind === 'accepted' ? 'last file taken' : 'reason' in r ? r.reason : r.kind,
    };
    return r;
  }

  blocked(now: Date): string | null {
    const until = this.opts.clientNotAfter;
    if (!until || until.getTime() > now.getTime()) return null;
    return `the SDICoop client certificate${this.opts.clientSubject ? ` ${this.opts.clientSubject}` : ''} expired on ${until.toISOString()}: SdI would refuse every call. Install the renewed certificate and restart ("fatturad credentials" shows the steps)`;
  }

  health(): ChannelHealth {
    if (!this.server) return { ok: false, detail: 'not started' };
    const blocked = this.blocked(new Date());
    if (blocked) return { ok: false, detail: blocked };
    if (this.lastSend && !this.lastSend.ok)
      return { ok: false, detail: `${this.lastSend.at}: ${this.lastSend.detail}` };
    return { ok: true, detail: this.lastSend ? `${this.lastSend.at}: ${this.lastSend.detail}` : 'listening' };
  }

  async stop(): Promise<void> {
    this.client.agent?.destroy();
    await this.server?.close();
    this.server = null;
  }
}
