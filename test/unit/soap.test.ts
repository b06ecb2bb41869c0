import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildFault,
  buildMtomRequest,
  buildRequest,
  buildResponse,
  parseResponse,
  parseSoapMessage,
} from '../../src/channels/soap/envelope.js';
import { SERVICES, type ServiceName } from '../../src/channels/soap/services.js';
import { wsdlFor } from '../../src/channels/soap/wsdl.js';
import { parseXml, type XmlElement } from '../../src/invoice/xml.js';
import { specPath } from '../helpers/spec.js';

/** The SOAP layer against the official WSDLs and XSDs (oracles, never copied: test/helpers/spec.ts). */
const DIR = specPath('sdi', 'sdicoop') ?? '';
const OFFICIAL: Record<ServiceName, string> = {
  SdIRiceviFile: 'SdIRiceviFile_v1.0.wsdl',
  SdIRiceviNotifica: 'SdIRiceviNotifica_v1.0.wsdl',
  TrasmissioneFatture: 'TrasmissioneFatture_v1.1.wsdl',
  RicezioneFatture: 'RicezioneFatture_v1.0.wsdl',
};

const kids = (el: XmlElement | undefined, name: string): XmlElement[] =>
  (el?.children ?? []).filter((c) => c.name === name);
const local = (q: string | undefined): string => (q ?? '').replace(/^.*:/, '');

/** What must agree: namespaces, messages and parts, operations (one-way or not), SOAP actions, types. */
function shape(xml: Buffer, typesFrom: (schemaLocation: string) => XmlElement | undefined) {
  const p = parseXml(xml);
  if (!p.ok) throw new Error('unreadable WSDL');
  const d = p.root;
  const messages = kids(d, 'message')
    .map(
      (m) =>
        `${m.attrs.name}(${kids(m, 'part')
          .map((x) => `${x.attrs.name}:${local(x.attrs.element)}`)
          .join()})`,
    )
    .sort();
  const portType = kids(d, 'portType')[0];
  const ops = kids(portType, 'operation')
    .map(
      (o) =>
        `${o.attrs.name}<${local(kids(o, 'input')[0]?.attrs.message)}>${local(kids(o, 'output')[0]?.attrs.message)}`,
    )
    .sort();
  const binding = kids(d, 'binding')[0];
  const actions = kids(binding, 'operation')
    .map((o) => `${o.attrs.name}=${kids(o, 'operation')[0]?.attrs.soapAction ?? ''}`)
    .sort();
  const svc = kids(d, 'service')[0];
  // Types: inline schema, or the imported XSD of the official WSDL.
  const schema = kids(kids(d, 'types')[0], 'schema')[0];
  const imp = kids(schema, 'import')[0];
  const types = imp ? typesFrom(imp.attrs.schemaLocation ?? '') : schema;
  const complex = new Map(
    kids(types, 'complexType').map((c) => [
      c.attrs.name,
      kids(kids(c, 'sequence')[0], 'element').map(
        (e) => `${e.attrs.name}:${local(e.attrs.type)}:${e.attrs.minOccurs ?? '1'}`,
      ),
    ]),
  );
  const usedElements = new Set(
    kids(d, 'message').flatMap((m) => kids(m, 'part').map((x) => local(x.attrs.element))),
  );
  const elements = kids(types, 'element')
    .filter((e) => usedElements.has(e.attrs.name ?? ''))
    .map((e) => `${e.attrs.name}=${JSON.stringify(complex.get(local(e.attrs.type)))}`)
    .sort();
  return {
    targetNamespace: d.attrs.targetNamespace,
    typesNamespace: imp ? imp.attrs.namespace : schema?.attrs.targetNamespace,
    messages,
    ops,
    actions,
    portType: portType?.attrs.name,
    binding: `${binding?.attrs.name}:${local(binding?.attrs.type)}`,
    service: `${svc?.attrs.name}/${kids(svc, 'port')[0]?.attrs.name}`,
    elements,
  };
}

describe.skipIf(!DIR)('WSDLs written from the specification', () => {
  it.each(Object.keys(OFFICIAL) as ServiceName[])('%s agrees with the official WSDL', (service) => {
    const official = shape(fs.readFileSync(path.join(DIR, OFFICIAL[service])), (loc) => {
      const p = parseXml(fs.readFileSync(path.join(DIR, loc)));
      return p.ok ? p.root : undefined;
    });
    const ours = shape(Buffer.from(wsdlFor(service, 'https://127.0.0.1:1/x')), () => undefined);
    expect(ours).toEqual(official);
  });
});

describe('envelopes', () => {
  const every = (Object.keys(SERVICES) as ServiceName[]).flatMap((s) =>
    SERVICES[s].operations.map((o) => [s, o.name] as const),
  );
  const binary = Buffer.from(Array.from({ length: 1024 * 1024 }, (_, i) => i % 256));
  const fieldsFor = (element: string): Record<string, string | Buffer> =>
    element === 'fileSdIConMetadati'
      ? {
          IdentificativoSdI: '123',
          NomeFile: 'IT01234567890_00001.xml',
          File: binary,
          NomeFileMetadati: 'IT01234567890_00001_MT_001.xml',
          Metadati: Buffer.from('<m/>'),
        }
      : element === 'fileSdIAccoglienza'
        ? { NomeFile: 'IT01234567890_00001.xml', File: binary }
        : { IdentificativoSdI: '123', NomeFile: 'IT01234567890_00001_RC_001.xml', File: binary };

  it.each(every)('%s.%s: request round trip, inline and MTOM', (service, operation) => {
    const op = SERVICES[service].operations.find((o) => o.name === operation);
    const fields = fieldsFor(op?.input.element ?? '');
    const inline = parseSoapMessage(
      Buffer.from(buildRequest(service, operation, fields)),
      'text/xml; charset=utf-8',
    );
    const m = buildMtomRequest(service, operation, fields);
    const mtom = parseSoapMessage(m.body, m.contentType);
    for (const r of [inline, mtom]) {
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      expect(r.operationElement).toBe(op?.input.element);
      expect(r.namespace).toBe(SERVICES[service].typesNamespace);
      expect(r.fields).toEqual(fields);
    }
    // The MTOM body carries the file as raw bytes, not base64.
    expect(m.body.length).toBeLessThan(binary.length * 1.1 + 10_000);
  });

  it('responses and faults', () => {
    const ok = parseResponse(
      'SdIRiceviFile',
      'RiceviFile',
      Buffer.from(
        buildResponse('SdIRiceviFile', 'RiceviFile', {
          IdentificativoSdI: '42',
          DataOraRicezione: '2026-01-01T10:00:00+01:00',
        }),
      ),
    );
    expect(ok).toEqual({
      ok: true,
      fields: { IdentificativoSdI: '42', DataOraRicezione: '2026-01-01T10:00:00+01:00' },
    });
    const fault = parseResponse(
      'SdIRiceviFile',
      'RiceviFile',
      Buffer.from(buildFault('soap:Server', 'down & out')),
    );
    expect(fault.ok).toBe(false);
    expect(!fault.ok && fault.error).toMatch(/Server: down & out/);
    expect(() => buildResponse('TrasmissioneFatture', 'RicevutaConsegna', {})).toThrow(/one-way/);
  });

  it('reads a MIME message as Apache CXF writes it', () => {
    const xml =
      '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ns2:ricevutaConsegna xmlns:ns2="http://www.fatturapa.gov.it/sdi/ws/trasmissione/v1.0/types"><IdentificativoSdI>111</IdentificativoSdI><NomeFile>IT01234567890_00001_RC_001.xml</NomeFile><File><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:9b1c0f3a-1111-2222-3333-444455556666-1@cxf.apache.org"/></File></ns2:ricevutaConsegna></soap:Body></soap:Envelope>';
    const b = 'uuid:6f8e9c2a-0000-1111-2222-333344445555';
    const body = Buffer.concat([
      Buffer.from(
        `--${b}\r\nContent-Type: application/xop+xml; charset=UTF-8; type="text/xml"\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <root.message@cxf.apache.org>\r\n\r\n${xml}\r\n` +
          `--${b}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <9b1c0f3a-1111-2222-3333-444455556666-1@cxf.apache.org>\r\n\r\n`,
      ),
      Buffer.from('<RC/>\r\n--not-the-boundary'),
      Buffer.from(`\r\n--${b}--`),
    ]);
    const r = parseSoapMessage(
      body,
      `multipart/related; type="application/xop+xml"; boundary="${b}"; start="<root.message@cxf.apache.org>"; start-info="text/xml"`,
    );
    expect(r.ok && r.fields.File?.toString()).toBe('<RC/>\r\n--not-the-boundary');
  });

  const env = (inner: string): string =>
    `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>${inner}</soap:Body></soap:Envelope>`;
  const rc = (file: string): string =>
    env(
      `<t:ricevutaConsegna xmlns:t="http://www.fatturapa.gov.it/sdi/ws/trasmissione/v1.0/types"><IdentificativoSdI>1</IdentificativoSdI><NomeFile>IT01234567890_00001_RC_001.xml</NomeFile><File>${file}</File></t:ricevutaConsegna>`,
    );

  it.each<[string, string | Buffer, string | undefined, number, RegExp]>([
    ['not XML', 'hello', 'text/xml', 400, /well-formed/],
    [
      'entity bomb',
      `<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>${rc('&b;')}`,
      'text/xml',
      400,
      /DOCTYPE/,
    ],
    ['XXE', `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${rc('&e;')}`, 'text/xml', 400, /DOCTYPE/],
    ['not an envelope', '<a/>', 'text/xml', 400, /not a SOAP Envelope/],
    [
      'SOAP 1.2 envelope',
      '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>',
      'text/xml',
      415,
      /SOAP 1\.2/,
    ],
    ['SOAP 1.2 content type', rc('AA=='), 'application/soap+xml', 415, /SOAP 1\.2/],
    ['other content type', rc('AA=='), 'application/json', 415, /not accepted/],
    ['empty body', env(''), 'text/xml', 400, /empty/],
    ['unknown element', env('<x:foo xmlns:x="urn:x"/>'), 'text/xml', 400, /unknown namespace/],
    [
      'missing field',
      env('<t:ricevutaConsegna xmlns:t="http://www.fatturapa.gov.it/sdi/ws/trasmissione/v1.0/types"/>'),
      'text/xml',
      400,
      /missing/,
    ],
    ['bad base64', rc('!!!'), 'text/xml', 400, /base64/],
    [
      'multipart without boundary',
      rc('AA=='),
      'multipart/related; type="application/xop+xml"',
      400,
      /boundary/,
    ],
    ['boundary absent from body', rc('AA=='), 'multipart/related; boundary="zzz"', 400, /does not occur/],
    [
      'unterminated part',
      '--zzz\r\nContent-ID: <a>\r\n\r\nabc',
      'multipart/related; boundary="zzz"',
      400,
      /not terminated/,
    ],
    [
      'cid not found',
      `--zzz\r\nContent-ID: <r>\r\n\r\n${rc('<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:nope"/>')}\r\n--zzz--`,
      'multipart/related; boundary="zzz"; start="<r>"',
      400,
      /missing/,
    ],
    [
      'duplicate Content-ID',
      '--zzz\r\nContent-ID: <a>\r\n\r\nx\r\n--zzz\r\nContent-ID: <a>\r\n\r\ny\r\n--zzz--',
      'multipart/related; boundary="zzz"',
      400,
      /duplicate/,
    ],
    [
      'nested multipart',
      '--zzz\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\nx\r\n--zzz--',
      'multipart/related; boundary="zzz"',
      400,
      /nested/,
    ],
    [
      'too many parts',
      Array.from({ length: 12 }, (_, i) => `--zzz\r\nContent-ID: <${i}>\r\n\r\nx\r\n`).join('') + '--zzz--',
      'multipart/related; boundary="zzz"',
      413,
      /MIME parts/,
    ],
  ])('refuses %s', (_name, input, ct, status, message) => {
    const r = parseSoapMessage(Buffer.isBuffer(input) ? input : Buffer.from(input), ct);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.status).toBe(status);
    expect(r.error).toMatch(message);
  });

  it('refuses a body over the size limit', () => {
    const r = parseSoapMessage(Buffer.alloc(2000, 0x20), 'text/xml', { maxBytes: 1000 });
    expect(!r.ok && r.status).toBe(413);
  });
});
