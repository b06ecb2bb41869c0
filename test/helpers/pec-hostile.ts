import crypto from 'node:crypto';
import {
  buildCertifiedEnvelope,
  buildReceipt,
  buildSdiMessage,
  type PecProvider,
} from '../../src/channels/pec/build.js';
import { prng } from './daemon.js';

/**
 * A mailbox's worth of messages that are not SdI's answers to fatturad: everyday mail, PEC receipts
 * of mail that people sent from the same mailbox, certified mail from other senders, and broken or
 * hostile messages (bad MIME, deep nesting, huge attachments, XML bombs, forged SdI senders).
 * `count` messages, deterministic for a seed.
 */
const CRLF = '\r\n';

function mail(headers: Record<string, string>, body: string): Buffer {
  return Buffer.from(
    Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join(CRLF) +
      CRLF +
      CRLF +
      body.replace(/\r?\n/g, CRLF),
    'latin1',
  );
}

const BOMB =
  '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
  '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>' +
  '<ns3:RicevutaConsegna xmlns:ns3="http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.0"><IdentificativoSdI>&lol4;</IdentificativoSdI></ns3:RicevutaConsegna>';

function nested(depth: number): Buffer {
  let inner = `From: a@b.it${CRLF}Subject: level ${depth}${CRLF}${CRLF}bottom${CRLF}`;
  for (let i = depth - 1; i >= 0; i--) {
    const b = `b${i}`;
    inner =
      `From: a@b.it${CRLF}Subject: level ${i}${CRLF}MIME-Version: 1.0${CRLF}Content-Type: multipart/mixed; boundary="${b}"${CRLF}${CRLF}` +
      `--${b}${CRLF}Content-Type: message/rfc822${CRLF}Content-Disposition: attachment; filename="postacert.eml"${CRLF}${CRLF}${inner}${CRLF}--${b}--${CRLF}`;
  }
  return Buffer.from(inner);
}

function withAttachment(from: string, subject: string, name: string, content: Buffer, extra = ''): Buffer {
  const b = `----=_b${crypto.randomBytes(6).toString('hex')}`;
  return Buffer.from(
    `From: ${from}${CRLF}To: fatture@pec.example.it${CRLF}Subject: ${subject}${CRLF}${extra}MIME-Version: 1.0${CRLF}` +
      `Content-Type: multipart/mixed; boundary="${b}"${CRLF}${CRLF}--${b}${CRLF}Content-Type: text/plain${CRLF}${CRLF}see attachment${CRLF}` +
      `--${b}${CRLF}Content-Type: application/octet-stream; name="${name}"${CRLF}Content-Transfer-Encoding: base64${CRLF}` +
      `Content-Disposition: attachment; filename="${name}"${CRLF}${CRLF}${content.toString('base64').replace(/.{76}/g, `$&${CRLF}`)}${CRLF}--${b}--${CRLF}`,
  );
}

export async function hostileMailbox(count: number, seed = 7, provider?: PecProvider): Promise<Buffer[]> {
  const rnd = prng(seed);
  const out: Buffer[] = [];
  const other: PecProvider = provider ?? (await selfSignedProvider());
  const kinds = [
    // everyday mail
    () =>
      mail(
        {
          From: 'news@shop.example.com',
          Subject: `Offerte ${out.length}`,
          'Message-ID': `<n${out.length}@shop>`,
        },
        'Buongiorno!\n',
      ),
    // broken MIME: boundary never closed, garbage headers
    () =>
      Buffer.from(
        `From: x@y.it${CRLF}Subject: broken${CRLF}Content-Type: multipart/mixed; boundary="zz"${CRLF}${CRLF}--zz${CRLF}Content-Type: text/plain${CRLF}${CRLF}open${CRLF}--zz${CRLF}Content-Type: application/octet-stream; name="IT01234567890_00001_RC_001.xml"${CRLF}Content-Transfer-Encoding: base64${CRLF}${CRLF}!!!not base64!!!`,
      ),
    // headers only, no body, bytes outside ASCII
    () =>
      Buffer.concat([
        Buffer.from(`From: \xff\xfe@??${CRLF}Subject: \x00\x01${CRLF}`, 'latin1'),
        crypto.randomBytes(200),
      ]),
    // 20-deep nested envelopes
    () => nested(20),
    // non-SdI XML in an ordinary mail
    () =>
      withAttachment(
        'fornitore@example.it',
        'ordine',
        'ordine.xml',
        Buffer.from('<ordine><n>1</n></ordine>'),
      ),
    // an XML bomb, forged as coming from SdI, outside any PEC envelope
    () =>
      withAttachment(
        'sdi01@pec.fatturapa.it',
        'Ricevuta di consegna 12345',
        'IT01234567890_00001_RC_001.xml',
        Buffer.from(BOMB),
        `Reply-To: sdi01@pec.fatturapa.it${CRLF}`,
      ),
    // a PEC receipt of mail a person sent from this mailbox
    async () =>
      buildReceipt({
        tipo: rnd() < 0.5 ? 'accettazione' : 'avvenuta-consegna',
        ref: `human-${out.length}@pec.example.it`,
        mittente: 'fatture@pec.example.it',
        destinatari: ['cliente@pec.cliente.it'],
        subject: 'Sollecito pagamento',
        consegna: 'cliente@pec.cliente.it',
        provider: other,
      }),
    // certified mail from someone who is not SdI
    async () =>
      buildCertifiedEnvelope({
        inner: buildSdiMessage({
          from: 'cliente@pec.cliente.it',
          to: 'fatture@pec.example.it',
          subject: 'Invio File 999',
          attachments: [{ fileName: 'IT01234567890_00009.xml', bytes: Buffer.from('<x/>') }],
        }),
        mittente: 'cliente@pec.cliente.it',
        destinatari: ['fatture@pec.example.it'],
        subject: 'Invio File 999',
        provider: other,
      }),
  ];
  // The large ones, few: over the attachment bound, and over the message bound.
  out.push(withAttachment('big@example.it', 'big attachment', 'big.xml', crypto.randomBytes(5_000_000)));
  out.push(withAttachment('bigger@example.it', 'huge message', 'huge.zip', crypto.randomBytes(7_000_000)));
  while (out.length < count) {
    const k = kinds[Math.floor(rnd() * kinds.length)] as () => Buffer | Promise<Buffer>;
    out.push(await k());
  }
  return out;
}

/** A PEC provider for other people's mail, with a throw-away certificate. */
async function selfSignedProvider(): Promise<PecProvider> {
  const { ensureSimPki } = await import('../../src/sim/certs.js');
  const os = await import('node:os');
  const path = await import('node:path');
  const fs = await import('node:fs');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fatturad-pec-other-'));
  try {
    const pki = await ensureSimPki(dir);
    return {
      domain: 'pec.altro-gestore.it',
      signer: {
        certPem: fs.readFileSync(pki.sdi.cert, 'utf8'),
        keyPem: fs.readFileSync(pki.sdi.key, 'utf8'),
      },
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
