import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildDaticert, buildSdiMessage, type PecProvider } from '../../src/channels/pec/build.js';
import { ensureSimPki } from '../../src/sim/certs.js';
import type { Issued } from './pki.js';

/**
 * PEC messages for the envelope tests: providers with keys made at test time, and envelopes
 * assembled by hand or signed by the openssl command line (what a real provider's MTA would
 * produce), to check the parser against something it did not build itself.
 */

export const SDI = 'sdi03@pec.fatturapa.it';
export const ME = 'fatture@pec.example.it';

/** A provider signing with the simulator's ECDSA P-256 identity (pkijs-made). */
export async function simProvider(dir: string, domain = 'pcert.sogei.it'): Promise<PecProvider> {
  const pki = await ensureSimPki(path.join(dir, 'sim-pki'));
  return {
    domain,
    name: 'Sogei SpA',
    signer: { certPem: fs.readFileSync(pki.sdi.cert, 'utf8'), keyPem: fs.readFileSync(pki.sdi.key, 'utf8') },
  };
}

/** A provider signing with an RSA identity issued by the openssl TestPki. */
export function opensslProvider(issued: Issued, domain = 'pec.aruba.it'): PecProvider {
  return {
    domain,
    name: 'ARUBA PEC S.p.A.',
    signer: { certPem: fs.readFileSync(issued.cert, 'utf8'), keyPem: fs.readFileSync(issued.key, 'utf8') },
  };
}

/** A typical SdI RC notification message (what becomes postacert.eml). */
export function rcInner(xml: Buffer, opts: { date?: Date; messageId?: string } = {}): Buffer {
  return buildSdiMessage({
    from: SDI,
    to: ME,
    subject: 'Ricevuta di consegna 6782414',
    text: 'Il file IT01234567890_00001.xml è stato consegnato al destinatario.',
    attachments: [
      { fileName: 'IT01234567890_00001_RC_001.xml', bytes: xml, transferEncoding: 'quoted-printable' },
    ],
    ...(opts.date ? { date: opts.date } : {}),
    ...(opts.messageId ? { messageId: opts.messageId } : {}),
  });
}

export const RC_XML = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8"?>\r\n' +
    '<ns3:RicevutaConsegna xmlns:ns3="http://www.fatturapa.gov.it/sdi/messaggi/v1.0" versione="1.0">\r\n' +
    '  <IdentificativoSdI>6782414</IdentificativoSdI>\r\n' +
    '  <NomeFile>IT01234567890_00001.xml</NomeFile>\r\n' +
    '  <Destinatario><Codice>ABC1234</Codice><Descrizione>Società Cliente S.r.l.</Descrizione></Destinatario>\r\n' +
    '  <MessageId>7654321</MessageId>\n' +
    '  <Note>riga con spazio finale \t</Note>\n' +
    '</ns3:RicevutaConsegna>',
  'utf8',
);

/**
 * The multipart/mixed entity of a transport envelope written by hand, LF line endings as a file
 * on disk would have them: notice, daticert.xml, postacert.eml (message/rfc822, or
 * application/octet-stream base64 as some providers attach it).
 */
export function handMixedEntity(opts: {
  inner: Buffer;
  mittente: string;
  subject: string;
  postacertAs?: 'rfc822' | 'octet-stream';
}): Buffer {
  const daticert = buildDaticert({
    tipo: 'posta-certificata',
    mittente: opts.mittente,
    destinatari: [ME],
    oggetto: opts.subject,
    gestoreEmittente: 'ARUBA PEC S.p.A.',
    date: new Date('2026-03-15T09:20:30Z'),
    identificativo: 'opec275.20260315102030.12345.01.1.1@pec.aruba.it',
    msgid: '<inner-1@pec.fatturapa.it>',
    ricevuta: 'breve',
  });
  const wrap = (b64: string): string => (b64.match(/.{1,76}/g) ?? []).join('\n');
  const inner = opts.inner.toString('latin1').replace(/\r\n/g, '\n');
  const postacert =
    opts.postacertAs === 'octet-stream'
      ? 'Content-Type: application/octet-stream; name="postacert.eml"\n' +
        'Content-Transfer-Encoding: base64\n' +
        'Content-Disposition: attachment; filename="postacert.eml"\n\n' +
        wrap(opts.inner.toString('base64')) +
        '\n'
      : 'Content-Type: message/rfc822; name="postacert.eml"\n' +
        'Content-Disposition: inline; filename="postacert.eml"\n\n' +
        inner +
        (inner.endsWith('\n') ? '' : '\n');
  const text =
    'Content-Type: multipart/mixed; boundary="MIXED-b0undary"\n\n' +
    '--MIXED-b0undary\n' +
    'Content-Type: text/plain; charset=us-ascii\n\n' +
    'Messaggio di posta certificata\n\n' +
    '--MIXED-b0undary\n' +
    'Content-Type: application/xml; name="daticert.xml"\n' +
    'Content-Transfer-Encoding: base64\n' +
    'Content-Disposition: inline; filename="daticert.xml"\n\n' +
    wrap(daticert.toString('base64')) +
    '\n' +
    '--MIXED-b0undary\n' +
    postacert +
    '--MIXED-b0undary--\n';
  return Buffer.from(text, 'latin1');
}

const ENVELOPE_HEADERS = (mittente: string, subject: string): string =>
  'Return-Path: <posta-certificata@pec.aruba.it>\n' +
  'Received: from smtp.pec.aruba.it (localhost [127.0.0.1])\n\tby mx.pec.example.it; Sun, 15 Mar 2026 10:20:31 +0100\n' +
  'Date: Sun, 15 Mar 2026 10:20:30 +0100\n' +
  'Message-ID: <opec275.20260315102030.12345.01.1.1@pec.aruba.it>\n' +
  `From: "Per conto di: ${mittente}" <posta-certificata@pec.aruba.it>\n` +
  `Reply-To: ${mittente}\n` +
  `To: ${ME}\n` +
  `Subject: POSTA CERTIFICATA: ${subject}\n` +
  'X-Riferimento-Message-ID: <inner-1@pec.fatturapa.it>\n' +
  'X-Trasporto: posta-certificata\n' +
  'X-TipoRicevuta: breve\n';

/**
 * A transport envelope signed by `openssl smime -sign` (detached, or opaque with `-nodetach`),
 * with the PEC headers prepended. `lineEndings: 'crlf'` normalises every line to CRLF, as the
 * message would arrive over IMAP; 'as-written' keeps openssl's mix of LF and CRLF.
 */
export function opensslEnvelope(opts: {
  signer: Issued;
  dir: string;
  entity: Buffer;
  mittente: string;
  subject: string;
  opaque?: boolean;
  lineEndings?: 'crlf' | 'as-written';
}): Buffer {
  const input = path.join(opts.dir, `mixed-${process.hrtime.bigint()}.mime`);
  fs.writeFileSync(input, opts.entity);
  const signed = execFileSync(
    'openssl',
    [
      'smime',
      '-sign',
      '-md',
      'sha256',
      ...(opts.opaque ? ['-nodetach'] : []),
      '-in',
      input,
      '-signer',
      opts.signer.cert,
      '-inkey',
      opts.signer.key,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const whole = Buffer.concat([Buffer.from(ENVELOPE_HEADERS(opts.mittente, opts.subject), 'latin1'), signed]);
  if (opts.lineEndings === 'as-written') return whole;
  return Buffer.from(whole.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

/** `openssl <verb> -verify -noverify` on a message: true when openssl accepts the signature. */
export function opensslVerifies(verb: 'smime' | 'cms', message: Buffer, dir: string): boolean {
  const file = path.join(dir, `verify-${process.hrtime.bigint()}.eml`);
  fs.writeFileSync(file, message);
  try {
    execFileSync(
      'openssl',
      [verb, '-verify', '-noverify', '-in', file, '-out', path.join(dir, 'verified.out')],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    return true;
  } catch {
    return false;
  }
}

/** A deterministic stream of pseudo-random bytes (xorshift32), so hostile inputs are reproducible. */
export function pseudoRandomBytes(length: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** `depth` messages each wrapping the next as a message/rfc822 attachment. */
export function nestedRfc822(depth: number, headers = ''): Buffer {
  let msg = 'From: a@example.it\r\nTo: b@example.it\r\nSubject: innermost\r\n\r\nciao\r\n';
  for (let i = 0; i < depth; i++) {
    const b = `nest-${i}`;
    msg =
      `From: a@example.it\r\nTo: b@example.it\r\nSubject: level ${depth - i}\r\n` +
      (i === depth - 1 ? headers : '') +
      `MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="${b}"\r\n\r\n` +
      `--${b}\r\nContent-Type: text/plain\r\n\r\nlevel\r\n` +
      `--${b}\r\nContent-Type: message/rfc822; name="m${i}.eml"\r\nContent-Disposition: inline; filename="m${i}.eml"\r\n\r\n` +
      msg +
      `\r\n--${b}--\r\n`;
  }
  return Buffer.from(msg, 'latin1');
}

/** A plain multipart/mixed message with `count` small attachments. */
export function manyAttachments(count: number, headers = ''): Buffer {
  let msg =
    `From: a@example.it\r\nTo: b@example.it\r\nSubject: many\r\n${headers}` +
    'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="many"\r\n\r\n';
  for (let i = 0; i < count; i++) {
    msg += `--many\r\nContent-Type: application/octet-stream; name="f${i}.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n`;
  }
  return Buffer.from(msg + '--many--\r\n', 'latin1');
}
