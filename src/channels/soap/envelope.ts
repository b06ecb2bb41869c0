import { randomUUID } from 'node:crypto';
import { parseXml, type XmlElement } from '../../invoice/xml.js';
import {
  fieldsOf,
  NS_SOAP11,
  NS_SOAP12,
  NS_XOP,
  operationOf,
  SERVICES,
  type ServiceName,
} from './services.js';

/**
 * SOAP 1.1 envelopes for the SDICoop operations: built from the services table, and read back
 * whether they come inline (text/xml, base64) or as MTOM/XOP (multipart/related with the binary
 * fields as MIME parts, as Apache CXF sends them). Reading uses the project's XML reader, which
 * never reads a DTD: no external entity, no entity expansion. Pure functions: nothing here
 * throws on hostile input, every problem is an answer with an HTTP status.
 */

export type Fields = Record<string, string | Buffer>;

export interface ParseLimits {
  /** Whole body. */
  maxBytes: number;
  /** MIME parts in an MTOM message. */
  maxParts: number;
}

const DEFAULT_LIMITS: ParseLimits = { maxBytes: 32 * 1024 * 1024, maxParts: 10 };

export type ParsedMessage =
  | {
      ok: true;
      /** Local name of the Body's first child: the message element (e.g. fileSdIAccoglienza). */
      operationElement: string;
      namespace: string;
      fields: Fields;
      raw: Buffer;
    }
  | { ok: false; status: 400 | 413 | 415 | 500; error: string; fault?: { code: string; string: string } };

const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'));

function body(element: string, typesNs: string, fields: Fields, xop: Map<string, Buffer> | null): string {
  const parts: string[] = [];
  for (const f of fieldsOf(element)) {
    const v = fields[f.name];
    if (v === undefined) {
      if (f.optional) continue;
      throw new Error(`${element}: ${f.name} is required`);
    }
    if (f.type === 'base64Binary') {
      const b = Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8');
      if (xop) {
        const cid = `${f.name}-${randomUUID()}@fatturad`;
        xop.set(cid, b);
        parts.push(
          `<${f.name}><xop:Include xmlns:xop="${NS_XOP}" href="cid:${encodeURIComponent(cid)}"/></${f.name}>`,
        );
      } else parts.push(`<${f.name}>${b.toString('base64')}</${f.name}>`);
    } else parts.push(`<${f.name}>${esc(Buffer.isBuffer(v) ? v.toString('utf8') : v)}</${f.name}>`);
  }
  return `<types:${element} xmlns:types="${typesNs}">${parts.join('')}</types:${element}>`;
}

const envelope = (inner: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv="${NS_SOAP11}"><soapenv:Header/><soapenv:Body>${inner}</soapenv:Body></soapenv:Envelope>`;

/** The request of `operation`, binary fields inline in base64. */
export function buildRequest(service: ServiceName, operation: string, fields: Fields): string {
  const op = operationOf(service, operation);
  return envelope(body(op.input.element, SERVICES[service].typesNamespace, fields, null));
}

/** The response of a request-response `operation`. */
export function buildResponse(service: ServiceName, operation: string, fields: Fields): string {
  const op = operationOf(service, operation);
  if (!op.output) throw new Error(`${service}.${operation} is one-way: it has no response`);
  return envelope(body(op.output.element, SERVICES[service].typesNamespace, fields, null));
}

/** A SOAP 1.1 fault. */
export function buildFault(faultcode: 'soap:Client' | 'soap:Server', faultstring: string): string {
  const code = faultcode === 'soap:Client' ? 'soapenv:Client' : 'soapenv:Server';
  return envelope(
    `<soapenv:Fault><faultcode>${code}</faultcode><faultstring>${esc(faultstring)}</faultstring></soapenv:Fault>`,
  );
}

/** The request of `operation` as MTOM/XOP: binary fields travel as MIME parts. */
export function buildMtomRequest(
  service: ServiceName,
  operation: string,
  fields: Fields,
): { contentType: string; body: Buffer } {
  const op = operationOf(service, operation);
  const xop = new Map<string, Buffer>();
  const xml = envelope(body(op.input.element, SERVICES[service].typesNamespace, fields, xop));
  const boundary = `uuid:${randomUUID()}`;
  const root = `root.message@fatturad`;
  const chunks: Buffer[] = [
    Buffer.from(
      `--${boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type="text/xml"\r\n` +
        `Content-Transfer-Encoding: binary\r\nContent-ID: <${root}>\r\n\r\n${xml}\r\n`,
    ),
  ];
  for (const [cid, bytes] of xop) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <${cid}>\r\n\r\n`,
      ),
      bytes,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    contentType: `multipart/related; type="application/xop+xml"; boundary="${boundary}"; start="<${root}>"; start-info="text/xml"`,
    body: Buffer.concat(chunks),
  };
}

/** Parameters of a Content-Type header (lower-case names, unquoted values). */
function contentTypeParams(ct: string): { type: string; params: Record<string, string> } {
  const [type = '', ...rest] = ct.split(';');
  const params: Record<string, string> = {};
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)\s*;?/gy;
  const tail = rest.join(';');
  let m: RegExpExecArray | null;
  while ((m = re.exec(tail)) !== null && m[0] !== '') {
    const v = (m[2] ?? '').trim();
    params[(m[1] ?? '').toLowerCase()] = v.startsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
  }
  return { type: type.trim().toLowerCase(), params };
}

type Parts = { root: Buffer; byId: Map<string, Buffer> } | { error: string; status: 400 | 413 };

/** Splits a multipart/related body into its parts; the root is `start`, or the first part. */
function splitMultipart(
  bodyBytes: Buffer,
  boundary: string,
  start: string | undefined,
  limits: ParseLimits,
): Parts {
  const delim = Buffer.from(`--${boundary}`);
  const parts: { headers: Record<string, string>; body: Buffer }[] = [];
  let pos = bodyBytes.indexOf(delim);
  if (pos === -1) return { error: 'the MIME boundary does not occur in the body', status: 400 };
  for (;;) {
    let p = pos + delim.length;
    if (bodyBytes[p] === 0x2d && bodyBytes[p + 1] === 0x2d) break; // closing delimiter
    // Skip transport padding and the line break after the delimiter.
    while (bodyBytes[p] === 0x20 || bodyBytes[p] === 0x09) p++;
    if (bodyBytes[p] === 0x0d) p++;
    if (bodyBytes[p] !== 0x0a) return { error: 'malformed MIME delimiter line', status: 400 };
    p++;
    const headEnd = bodyBytes.indexOf('\r\n\r\n', p);
    if (headEnd === -1) return { error: 'a MIME part has no end of headers', status: 400 };
    const headers: Record<string, string> = {};
    for (const line of bodyBytes
      .subarray(p, headEnd)
      .toString('latin1')
      .split(/\r\n(?![ \t])/)) {
      const i = line.indexOf(':');
      if (i > 0)
        headers[line.slice(0, i).trim().toLowerCase()] = line
          .slice(i + 1)
          .replace(/\r\n[ \t]+/g, ' ')
          .trim();
    }
    const next = bodyBytes.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headEnd + 4);
    if (next === -1) return { error: 'a MIME part is not terminated by the boundary', status: 400 };
    parts.push({ headers, body: bodyBytes.subarray(headEnd + 4, next) });
    if (parts.length > limits.maxParts)
      return { error: `more than ${limits.maxParts} MIME parts`, status: 413 };
    pos = next + 2;
  }
  if (parts.length === 0) return { error: 'the multipart message has no parts', status: 400 };
  const byId = new Map<string, Buffer>();
  for (const part of parts) {
    const ct = contentTypeParams(part.headers['content-type'] ?? '');
    if (ct.type.startsWith('multipart/'))
      return { error: 'nested multipart parts are not accepted', status: 400 };
    const enc = (part.headers['content-transfer-encoding'] ?? 'binary').toLowerCase();
    let b = part.body;
    if (enc === 'base64') b = Buffer.from(b.toString('latin1'), 'base64');
    else if (!['binary', '8bit', '7bit'].includes(enc))
      return { error: `unsupported Content-Transfer-Encoding ${enc}`, status: 400 };
    const id = (part.headers['content-id'] ?? '').replace(/^<|>$/g, '');
    if (id) {
      if (byId.has(id)) return { error: `duplicate Content-ID ${id}`, status: 400 };
      byId.set(id, b);
    }
  }
  const startId = start?.replace(/^<|>$/g, '');
  const root = startId ? byId.get(startId) : (parts[0] as { body: Buffer }).body;
  if (!root) return { error: `the start part ${start ?? ''} is missing`, status: 400 };
  return { root, byId };
}

/** The text of a SOAP message: plain XML, or the root part of an MTOM message with its attachments. */
function soapXml(
  bodyBytes: Buffer,
  contentType: string | undefined,
  limits: ParseLimits,
): { xml: Buffer; attachments: Map<string, Buffer> } | { error: string; status: 400 | 413 | 415 } {
  if (bodyBytes.length > limits.maxBytes)
    return { error: `body larger than ${limits.maxBytes} bytes`, status: 413 };
  const ct = contentTypeParams(contentType ?? 'text/xml');
  if (ct.type === 'application/soap+xml')
    return { error: 'SOAP 1.2 is not spoken here: SDICoop is SOAP 1.1 (text/xml)', status: 415 };
  if (ct.type === 'text/xml' || ct.type === 'application/xml' || ct.type === '')
    return { xml: bodyBytes, attachments: new Map() };
  if (ct.type === 'multipart/related') {
    const boundary = ct.params.boundary;
    if (!boundary) return { error: 'multipart/related without a boundary', status: 400 };
    const parts = splitMultipart(bodyBytes, boundary, ct.params.start, limits);
    if ('error' in parts) return parts;
    return { xml: parts.root, attachments: parts.byId };
  }
  return {
    error: `content type ${ct.type} is not accepted (text/xml or MTOM multipart/related)`,
    status: 415,
  };
}

/** The Body's element of a SOAP 1.1 envelope, or why there is none. */
function bodyElement(xml: Buffer): { el: XmlElement } | { error: string; status: 400 | 415 } {
  const p = parseXml(xml, { maxDepth: 16 });
  if (!p.ok) return { error: `not well-formed XML: ${p.errors[0]?.message ?? 'unknown error'}`, status: 400 };
  const env = p.root;
  if (env.name !== 'Envelope')
    return { error: `the root element is ${env.name}, not a SOAP Envelope`, status: 400 };
  if (env.ns === NS_SOAP12) return { error: 'SOAP 1.2 envelope: SDICoop is SOAP 1.1', status: 415 };
  if (env.ns !== NS_SOAP11) return { error: `unknown SOAP envelope namespace "${env.ns}"`, status: 400 };
  const b = env.children.find((c) => c.name === 'Body' && c.ns === NS_SOAP11);
  const el = b?.children[0];
  if (!el) return { error: 'the SOAP Body is empty', status: 400 };
  return { el };
}

function readFields(
  el: XmlElement,
  attachments: Map<string, Buffer>,
): { fields: Fields } | { error: string } {
  let defs;
  try {
    defs = fieldsOf(el.name);
  } catch {
    return { error: `unknown message element ${el.name}` };
  }
  const fields: Fields = {};
  for (const f of defs) {
    const c = el.children.find((k) => k.name === f.name);
    if (!c) {
      if (f.optional) continue;
      return { error: `${el.name}: ${f.name} is missing` };
    }
    if (f.type === 'base64Binary') {
      const inc = c.children.find((k) => k.name === 'Include' && k.ns === NS_XOP);
      if (inc) {
        const href = inc.attrs.href ?? '';
        if (!href.startsWith('cid:')) return { error: `${f.name}: xop:Include without a cid: reference` };
        let cid: string;
        try {
          cid = decodeURIComponent(href.slice(4));
        } catch {
          return { error: `${f.name}: malformed cid reference` };
        }
        const part = attachments.get(cid);
        if (!part) return { error: `${f.name}: the MIME part ${cid} is missing` };
        fields[f.name] = part;
      } else {
        const text = c.text.replace(/\s+/g, '');
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1)
          return { error: `${f.name} is not valid base64` };
        fields[f.name] = Buffer.from(text, 'base64');
      }
    } else fields[f.name] = c.text.trim();
  }
  return { fields };
}

/** Reads a SOAP request (inline or MTOM) addressed to one of the SDICoop services. */
export function parseSoapMessage(
  bodyBytes: Buffer,
  contentType: string | undefined,
  limits: Partial<ParseLimits> = {},
): ParsedMessage {
  const l = { ...DEFAULT_LIMITS, ...limits };
  const x = soapXml(bodyBytes, contentType, l);
  if ('error' in x) return { ok: false, status: x.status, error: x.error };
  const b = bodyElement(x.xml);
  if ('error' in b) return { ok: false, status: b.status, error: b.error };
  if (b.el.name === 'Fault' && b.el.ns === NS_SOAP11) {
    const code = b.el.children.find((c) => c.name === 'faultcode')?.text.trim() ?? '';
    const string = b.el.children.find((c) => c.name === 'faultstring')?.text.trim() ?? '';
    return { ok: false, status: 500, error: `SOAP fault ${code}: ${string}`, fault: { code, string } };
  }
  const known = Object.values(SERVICES).some((s) => s.typesNamespace === b.el.ns);
  if (!known)
    return { ok: false, status: 400, error: `element ${b.el.name} in unknown namespace "${b.el.ns}"` };
  const f = readFields(b.el, x.attachments);
  if ('error' in f) return { ok: false, status: 400, error: f.error };
  return { ok: true, operationElement: b.el.name, namespace: b.el.ns, fields: f.fields, raw: bodyBytes };
}

/** Reads the response to `operation` (the client side), or the fault or error in its place. */
export function parseResponse(
  service: ServiceName,
  operation: string,
  bodyBytes: Buffer,
  contentType?: string,
): { ok: true; fields: Fields } | { ok: false; error: string } {
  const op = operationOf(service, operation);
  const m = parseSoapMessage(bodyBytes, contentType ?? 'text/xml');
  if (!m.ok) return { ok: false, error: m.error };
  if (!op.output || m.operationElement !== op.output.element)
    return { ok: false, error: `expected ${op.output?.element ?? 'no response'}, got ${m.operationElement}` };
  return { ok: true, fields: m.fields };
}
