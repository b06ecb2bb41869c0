import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildCertifiedEnvelope,
  buildDaticert,
  buildReceipt,
  buildSdiMessage,
  escapeXml,
  quotedPrintable,
  rfc5322Date,
  type PecProvider,
} from '../../src/channels/pec/build.js';
import {
  firstPartBytes,
  identificativoFromSubject,
  parseDaticert,
  parsePecMessage,
} from '../../src/channels/pec/envelope.js';
import { signCms, verifyCms, verifyCmsNative, verifyCmsPkijs } from '../../src/channels/pec/smime.js';
import { DEFAULT_PEC_LIMITS, type PecMessage, type PecReceiptType } from '../../src/channels/pec/types.js';
import {
  handMixedEntity,
  manyAttachments,
  ME,
  nestedRfc822,
  opensslEnvelope,
  opensslProvider,
  opensslVerifies,
  pseudoRandomBytes,
  RC_XML,
  rcInner,
  SDI,
  simProvider,
} from '../helpers/pec-fixtures.js';
import { TestPki, type Issued } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';

let tmp: { dir: string; cleanup: () => void };
let sim: PecProvider;
let rsaSigner: Issued;
let rsa: PecProvider;

beforeAll(async () => {
  tmp = tempDir('pec-envelope-');
  sim = await simProvider(tmp.dir);
  const pki = new TestPki(path.join(tmp.dir, 'openssl-pki'), 'PEC test CA');
  rsaSigner = pki.issue('posta-certificata@pec.aruba.it');
  rsa = opensslProvider(rsaSigner);
}, 60_000);

afterAll(() => tmp.cleanup());

const DATE = new Date('2026-03-15T09:20:30Z');

function expectKind<K extends PecMessage['kind']>(m: PecMessage, kind: K): Extract<PecMessage, { kind: K }> {
  if (m.kind !== kind) throw new Error(`expected ${kind}, got ${m.kind}: ${JSON.stringify(m)}`);
  return m as Extract<PecMessage, { kind: K }>;
}

/** A binary CAdES-like blob with every byte value, as an invoice .xml.p7m would be. */
const P7M = Buffer.concat([
  Buffer.from([0x30, 0x80, 0x06, 0x09]),
  Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
  pseudoRandomBytes(40_000, 7),
]);
const MT_XML = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8"?>\n<ns2:FileMetadati xmlns:ns2="http://www.fatturapa.gov.it/sdi/messaggi/v1.0">' +
    '<IdentificativoSdI>7339338</IdentificativoSdI><NomeFile>IT09876543210_abcde.xml.p7m</NomeFile></ns2:FileMetadati>',
);
const NS_XML = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8"?><ns3:NotificaScarto xmlns:ns3="http://www.fatturapa.gov.it/sdi/messaggi/v1.0">' +
    '<IdentificativoSdI>123</IdentificativoSdI><ListaErrori><Errore><Codice>00404</Codice></Errore></ListaErrori></ns3:NotificaScarto>',
);

describe('round trip: SdI messages in a transport envelope', () => {
  const cases: {
    name: string;
    subject: string;
    id: string | null;
    files: {
      fileName: string;
      bytes: Buffer;
      transferEncoding?: 'base64' | 'quoted-printable';
      contentType?: string;
    }[];
    smime?: 'detached' | 'opaque';
  }[] = [
    {
      name: 'RC, notification quoted-printable',
      subject: 'Ricevuta di consegna 6782414',
      id: '6782414',
      files: [
        { fileName: 'IT01234567890_00001_RC_001.xml', bytes: RC_XML, transferEncoding: 'quoted-printable' },
      ],
    },
    {
      name: 'NS in simulation',
      subject: 'Notifica di scarto 123 (SIMULAZIONE)',
      id: '123',
      files: [{ fileName: 'IT01234567890_00002_NS_001.xml', bytes: NS_XML }],
    },
    {
      name: 'passive invoice: .xml.p7m and its MT',
      subject: 'Invio File 7339338',
      id: '7339338',
      files: [
        { fileName: 'IT09876543210_abcde.xml.p7m', bytes: P7M },
        { fileName: 'IT09876543210_abcde_MT_001.xml', bytes: MT_XML, transferEncoding: 'quoted-printable' },
      ],
    },
    {
      name: 'MC, opaque S/MIME',
      subject: 'Notifica di mancata consegna 141107829',
      id: '141107829',
      files: [{ fileName: 'IT01234567890_00003_MC_001.xml', bytes: RC_XML, contentType: 'text/xml' }],
      smime: 'opaque',
    },
  ];

  it.each(cases)('$name', async ({ subject, id, files, smime }) => {
    const inner = buildSdiMessage({
      from: SDI,
      to: ME,
      subject,
      text: 'Messaggio SdI.',
      attachments: files,
      date: DATE,
    });
    const provider = smime ? { ...sim, smime } : sim;
    const raw = await buildCertifiedEnvelope({
      inner,
      mittente: SDI,
      destinatari: [ME],
      subject,
      provider,
      date: DATE,
      identificativo: 'opec275.20260315102030.12345.01.1.1@pcert.sogei.it',
    });
    const m = expectKind(await parsePecMessage(raw), 'sdi');
    expect(m.sender).toBe(SDI);
    expect(m.subject).toBe(subject);
    expect(m.identificativoSdI).toBe(id);
    expect(m.signature).toEqual({ status: 'valid', signer: 'O=fatturad, CN=SdI simulator' });
    expect(m.attachments.map((a) => [a.fileName, a.contentType])).toEqual(
      files.map((f) => [f.fileName, f.contentType ?? 'application/octet-stream']),
    );
    files.forEach((f, i) => expect(m.attachments[i]?.bytes.equals(f.bytes)).toBe(true));
    expect(m.daticert).toMatchObject({
      tipo: 'posta-certificata',
      errore: 'nessuno',
      mittente: SDI,
      destinatari: [ME],
      risposte: SDI,
      oggetto: subject,
      gestoreEmittente: 'Sogei SpA',
      data: DATE.toISOString(),
      identificativo: 'opec275.20260315102030.12345.01.1.1@pcert.sogei.it',
      ricevuta: 'breve',
    });
    expect(m.daticert?.msgid).toMatch(/^<[^<>]+@pec\.fatturapa\.it>$/);
  });

  it('writes the headers a provider writes, CRLF only', async () => {
    const inner = rcInner(RC_XML, { date: DATE, messageId: 'abc.1@pec.fatturapa.it' });
    const raw = await buildCertifiedEnvelope({
      inner,
      mittente: SDI,
      destinatari: [ME],
      subject: 'Ricevuta di consegna 6782414',
      provider: sim,
      date: DATE,
      identificativo: 'opec1.2@pcert.sogei.it',
    });
    const text = raw.toString('latin1');
    expect(text).not.toMatch(/[^\r]\n/);
    const head = text.slice(0, text.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
    expect(head).toContain('Date: Sun, 15 Mar 2026 10:20:30 +0100');
    expect(head).toContain('Message-ID: <opec1.2@pcert.sogei.it>');
    expect(head).toContain(`From: "Per conto di: ${SDI}" <posta-certificata@pcert.sogei.it>`);
    expect(head).toContain(`Reply-To: ${SDI}`);
    expect(head).toContain(`To: ${ME}`);
    expect(head).toContain('Subject: POSTA CERTIFICATA: Ricevuta di consegna 6782414');
    expect(head).toContain('X-Riferimento-Message-ID: <abc.1@pec.fatturapa.it>');
    expect(head).toContain('X-Trasporto: posta-certificata');
    expect(head).toContain('X-TipoRicevuta: breve');
    expect(head).toMatch(
      /Content-Type: multipart\/signed; protocol="application\/pkcs7-signature"; micalg=sha-256; boundary="[^"]+"/,
    );
    expect(text).toContain('Content-Type: application/pkcs7-signature; name="smime.p7s"');
    expect(text).toContain('Content-Type: message/rfc822; name=postacert.eml');
    expect(text).toContain('Content-Type: application/xml; name=daticert.xml');
  });

  it('reads postacert.eml attached as application/octet-stream, unsigned', async () => {
    const inner = rcInner(RC_XML);
    const entity = handMixedEntity({ inner, mittente: SDI, subject: 'x', postacertAs: 'octet-stream' });
    const raw = Buffer.concat([
      Buffer.from(
        `From: "Per conto di: ${SDI}" <posta-certificata@pec.aruba.it>\r\nTo: ${ME}\r\n` +
          'Subject: POSTA CERTIFICATA: Ricevuta di consegna 6782414\r\nX-Trasporto: posta-certificata\r\nMIME-Version: 1.0\r\n',
      ),
      Buffer.from(entity.toString('latin1').replace(/\n/g, '\r\n'), 'latin1'),
    ]);
    const m = expectKind(await parsePecMessage(raw), 'sdi');
    expect(m.signature).toEqual({ status: 'unsigned' });
    expect(m.subject).toBe('Ricevuta di consegna 6782414');
    expect(m.attachments[0]?.bytes.equals(RC_XML)).toBe(true);
  });

  it('finds SdI from "Per conto di" or Reply-To when there is no daticert.xml', async () => {
    const inner = rcInner(RC_XML).toString('latin1');
    const body =
      'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nciao\r\n' +
      '--b\r\nContent-Type: message/rfc822\r\n\r\n' +
      inner +
      '\r\n--b--\r\n';
    for (const from of [
      `"Per conto di: SDI07@PEC.FATTURAPA.IT" <posta-certificata@pec.aruba.it>`,
      'posta-certificata@pec.aruba.it\r\nReply-To: sdi07@pec.fatturapa.it',
    ]) {
      const raw = Buffer.from(
        `From: ${from}\r\nSubject: POSTA CERTIFICATA: x\r\nX-Trasporto: posta-certificata\r\n${body}`,
        'latin1',
      );
      const m = expectKind(await parsePecMessage(raw), 'sdi');
      expect(m.sender).toBe('sdi07@pec.fatturapa.it');
      expect(m.daticert).toBeNull();
      expect(m.attachments).toHaveLength(1);
    }
  });
});

describe('round trip: PEC receipts', () => {
  const types: {
    tipo: PecReceiptType;
    subject: string;
    reason: string | null;
    errore?: string;
    esteso?: string;
  }[] = [
    { tipo: 'accettazione', subject: 'ACCETTAZIONE: ', reason: null },
    {
      tipo: 'non-accettazione',
      subject: 'AVVISO DI NON ACCETTAZIONE: ',
      reason: 'altro: Destinatario non PEC',
      esteso: 'Destinatario non PEC',
    },
    { tipo: 'presa-in-carico', subject: 'PRESA IN CARICO: ', reason: null },
    { tipo: 'avvenuta-consegna', subject: 'CONSEGNA: ', reason: null },
    {
      tipo: 'errore-consegna',
      subject: 'AVVISO DI MANCATA CONSEGNA: ',
      reason: 'no-dest: 5.1.1 - Utente non esistente',
      esteso: '5.1.1 - Utente non esistente',
    },
    {
      tipo: 'preavviso-errore-consegna',
      subject: 'AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: ',
      reason: 'altro: 5.4.1 - Timeout',
      esteso: '5.4.1 - Timeout',
    },
    { tipo: 'rilevazione-virus', subject: 'AVVISO DI RILEVAZIONE VIRUS: ', reason: 'virus', errore: 'virus' },
  ];
  const forms: ('detached' | 'opaque')[] = ['detached', 'opaque'];
  const table = types.flatMap((t) => forms.map((smime) => ({ ...t, smime })));

  it.each(table)('$tipo ($smime)', async ({ tipo, subject, reason, esteso, smime }) => {
    const original = tipo === 'avvenuta-consegna' ? rcInner(RC_XML) : undefined;
    const raw = await buildReceipt({
      tipo,
      ref: '<20260315.abc@fatturad.example.it>',
      mittente: ME,
      destinatari: ['sdi01@pec.fatturapa.it'],
      subject: 'IT01234567890_00001.xml',
      ...(esteso ? { erroreEsteso: esteso } : {}),
      ...(original ? { original } : {}),
      provider: { ...rsa, smime },
      date: DATE,
      identificativo: 'opec9.1@pec.aruba.it',
    });
    const m = expectKind(await parsePecMessage(raw), 'receipt');
    expect(m.receipt).toBe(tipo);
    expect(m.ref).toBe('20260315.abc@fatturad.example.it');
    expect(m.subject).toBe(`${subject}IT01234567890_00001.xml`);
    expect(m.reason).toBe(reason);
    expect(m.signature).toEqual({
      status: 'valid',
      signer: 'C=IT, CN=posta-certificata@pec.aruba.it, serialNumber=TINIT-RSSMRA80A01H501U',
    });
    expect(m.daticert).toMatchObject({
      tipo,
      mittente: ME,
      destinatari: ['sdi01@pec.fatturapa.it'],
      oggetto: 'IT01234567890_00001.xml',
      gestoreEmittente: 'ARUBA PEC S.p.A.',
      identificativo: 'opec9.1@pec.aruba.it',
      msgid: '<20260315.abc@fatturad.example.it>',
      data: DATE.toISOString(),
    });
    if (
      ['avvenuta-consegna', 'errore-consegna', 'preavviso-errore-consegna', 'presa-in-carico'].includes(tipo)
    ) {
      expect(m.daticert?.consegna).toBe('sdi01@pec.fatturapa.it');
    }
    const head = raw.toString('latin1').split('\r\n\r\n')[0] ?? '';
    expect(head).toContain(`X-Ricevuta: ${tipo}`);
    expect(head).toContain('X-Riferimento-Message-ID: <20260315.abc@fatturad.example.it>');
    expect(head).toContain('From: posta-certificata@pec.aruba.it');
  });

  it('prefers daticert.xml over the headers', async () => {
    const raw = await buildReceipt({
      tipo: 'avvenuta-consegna',
      ref: 'from-daticert@x',
      mittente: ME,
      destinatari: [SDI],
      subject: 's',
      provider: sim,
    });
    const tampered = Buffer.from(
      raw
        .toString('latin1')
        .replace('X-Ricevuta: avvenuta-consegna', 'X-Ricevuta: accettazione')
        .replace('X-Riferimento-Message-ID: <from-daticert@x>', 'X-Riferimento-Message-ID: <from-header@x>'),
      'latin1',
    );
    const m = expectKind(await parsePecMessage(tampered), 'receipt');
    expect(m.receipt).toBe('avvenuta-consegna');
    expect(m.ref).toBe('from-daticert@x');
    // The headers are outside the signed part: the signature still holds.
    expect(m.signature.status).toBe('valid');
  });

  it('reads a receipt by its headers alone', async () => {
    const raw = Buffer.from(
      'From: posta-certificata@pec.aruba.it\r\nSubject: ACCETTAZIONE: x\r\nX-Ricevuta: accettazione\r\n' +
        'X-Riferimento-Message-ID:  <only-header@x> \r\n\r\nRicevuta di accettazione\r\n',
    );
    const m = expectKind(await parsePecMessage(raw), 'receipt');
    expect(m).toMatchObject({ receipt: 'accettazione', ref: 'only-header@x', daticert: null, reason: null });
    expect(m.signature).toEqual({ status: 'unsigned' });
  });
});

describe('interoperability with openssl', () => {
  const subject = 'Ricevuta di consegna 6782414';

  it.each(['crlf', 'as-written'] as const)(
    'an envelope signed by openssl smime (%s line endings) verifies',
    async (lineEndings) => {
      const entity = handMixedEntity({ inner: rcInner(RC_XML), mittente: SDI, subject });
      const raw = opensslEnvelope({
        signer: rsaSigner,
        dir: tmp.dir,
        entity,
        mittente: SDI,
        subject,
        lineEndings,
      });
      const m = expectKind(await parsePecMessage(raw), 'sdi');
      expect(m.signature.status).toBe('valid');
      expect(m.sender).toBe(SDI);
      expect(m.identificativoSdI).toBe('6782414');
      expect(m.attachments[0]?.bytes.equals(RC_XML)).toBe(true);
      expect(m.daticert?.gestoreEmittente).toBe('ARUBA PEC S.p.A.');
    },
  );

  it('an opaque envelope signed by openssl smime -nodetach verifies', async () => {
    const entity = handMixedEntity({ inner: rcInner(RC_XML), mittente: SDI, subject });
    const raw = opensslEnvelope({
      signer: rsaSigner,
      dir: tmp.dir,
      entity,
      mittente: SDI,
      subject,
      opaque: true,
    });
    expect(raw.toString('latin1')).toMatch(/Content-Type: application\/x-pkcs7-mime/);
    const m = expectKind(await parsePecMessage(raw), 'sdi');
    expect(m.signature.status).toBe('valid');
    expect(m.attachments[0]?.bytes.equals(RC_XML)).toBe(true);
  });

  it.each([
    ['ECDSA P-256', 'detached'],
    ['ECDSA P-256', 'opaque'],
    ['RSA 2048', 'detached'],
    ['RSA 2048', 'opaque'],
  ] as const)('our %s %s envelope verifies with openssl smime and cms', async (key, smime) => {
    const base = key === 'RSA 2048' ? rsa : sim;
    const raw = await buildCertifiedEnvelope({
      inner: rcInner(RC_XML),
      mittente: SDI,
      destinatari: [ME],
      subject,
      provider: { ...base, smime },
    });
    expect(opensslVerifies('smime', raw, tmp.dir)).toBe(true);
    expect(opensslVerifies('cms', raw, tmp.dir)).toBe(true);
  });

  it('a tampered byte in the signed part: invalid, still classified', async () => {
    const raw = await buildCertifiedEnvelope({
      inner: rcInner(RC_XML),
      mittente: SDI,
      destinatari: [ME],
      subject,
      provider: sim,
    });
    const text = raw.toString('latin1');
    const at = text.indexOf('Messaggio di posta certificata');
    expect(at).toBeGreaterThan(0);
    const tampered = Buffer.from(raw);
    tampered[at] = 'm'.charCodeAt(0);
    expect(opensslVerifies('smime', tampered, tmp.dir)).toBe(false);
    const m = expectKind(await parsePecMessage(tampered), 'sdi');
    expect(m.signature.status).toBe('invalid');
    expect(m.attachments[0]?.bytes.equals(RC_XML)).toBe(true);
  });

  it('a tampered opaque content: invalid, still classified', async () => {
    const raw = await buildReceipt({
      tipo: 'accettazione',
      ref: 'r@x',
      mittente: ME,
      destinatari: [SDI],
      subject,
      provider: { ...sim, smime: 'opaque' },
    });
    const text = raw.toString('latin1');
    const bodyAt = text.indexOf('\r\n\r\n') + 4;
    const cms = Buffer.from(text.slice(bodyAt).replace(/\s+/g, ''), 'base64');
    const at = cms.indexOf('Ricevuta di accettazione');
    expect(at).toBeGreaterThan(0);
    cms[at] = 'r'.charCodeAt(0);
    const b64 = (cms.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
    const m = expectKind(
      await parsePecMessage(Buffer.from(text.slice(0, bodyAt) + b64 + '\r\n', 'latin1')),
      'receipt',
    );
    expect(m.receipt).toBe('accettazione');
    expect(m.signature.status).toBe('invalid');
  });

  it('a signature by another key over the same bytes is invalid', async () => {
    const a = await buildCertifiedEnvelope({
      inner: rcInner(RC_XML),
      mittente: SDI,
      destinatari: [ME],
      subject,
      provider: sim,
    });
    const b = await buildCertifiedEnvelope({
      inner: rcInner(RC_XML),
      mittente: SDI,
      destinatari: [ME],
      subject,
      provider: rsa,
    });
    const p7s = (m: Buffer): string => {
      const t = m.toString('latin1');
      const i =
        t.indexOf('filename=smime.p7s') >= 0
          ? t.indexOf('filename=smime.p7s')
          : t.indexOf('filename="smime.p7s"');
      const start = t.indexOf('\r\n\r\n', i) + 4;
      return t.slice(start, t.indexOf('\r\n--', start));
    };
    const swapped = Buffer.from(a.toString('latin1').replace(p7s(a), p7s(b)), 'latin1');
    const m = expectKind(await parsePecMessage(swapped), 'sdi');
    expect(m.signature.status).toBe('invalid');
  });
});

describe('the native signature check agrees with pkijs', () => {
  const content = Buffer.concat([
    Buffer.from('Content-Type: text/plain\r\n\r\n'),
    pseudoRandomBytes(5000, 3),
  ]);

  /** A CMS made by `openssl cms -sign` (DER, or BER with indefinite lengths when streamed). */
  function opensslCms(signer: Issued, flags: string[]): Buffer {
    const input = path.join(tmp.dir, `cms-in-${process.hrtime.bigint()}.bin`);
    fs.writeFileSync(input, content);
    return execFileSync(
      'openssl',
      [
        'cms',
        '-sign',
        '-binary',
        '-md',
        'sha256',
        '-in',
        input,
        '-signer',
        signer.cert,
        '-inkey',
        signer.key,
      ].concat(['-outform', 'DER'], flags),
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
  }

  const cases: { name: string; cms: () => Promise<Buffer>; detached: boolean }[] = [
    { name: 'openssl RSA, detached', cms: async () => opensslCms(rsaSigner, []), detached: true },
    { name: 'openssl RSA, opaque', cms: async () => opensslCms(rsaSigner, ['-nodetach']), detached: false },
    {
      name: 'openssl RSA, opaque, streamed (indefinite lengths)',
      cms: async () => opensslCms(rsaSigner, ['-nodetach', '-stream']),
      detached: false,
    },
    {
      name: 'openssl RSA, signer by key id',
      cms: async () => opensslCms(rsaSigner, ['-keyid']),
      detached: true,
    },
    {
      name: 'ours ECDSA P-256, detached',
      cms: () => signCms(content, sim.signer, { detached: true }),
      detached: true,
    },
    {
      name: 'ours ECDSA P-256, opaque',
      cms: () => signCms(content, sim.signer, { detached: false }),
      detached: false,
    },
    {
      name: 'ours RSA, opaque',
      cms: () => signCms(content, rsa.signer, { detached: false }),
      detached: false,
    },
  ];

  it.each(cases)('$name: valid natively, with the signer and content pkijs finds', async (c) => {
    const cms = await c.cms();
    const data = c.detached ? content : undefined;
    const reference = await verifyCmsPkijs(cms, data);
    expect(reference.signature.status).toBe('valid');
    const native = verifyCmsNative(cms, data);
    expect(native).toEqual(reference);
    expect(native?.content ? native.content.equals(content) : c.detached).toBe(true);
  });

  it.each(cases)('$name: a changed byte is left to pkijs, which finds it invalid', async (c) => {
    const cms = await c.cms();
    let tampered: Buffer;
    let data: Buffer | undefined;
    if (c.detached) {
      tampered = cms;
      data = Buffer.from(content);
      data[100] = (data[100] ?? 0) ^ 1;
    } else {
      tampered = Buffer.from(cms);
      const at = tampered.indexOf(content.subarray(200, 232));
      expect(at).toBeGreaterThan(0);
      tampered[at] = (tampered[at] ?? 0) ^ 1;
    }
    expect(verifyCmsNative(tampered, data)).toBeNull();
    expect((await verifyCms(tampered, data)).signature.status).toBe('invalid');
  });

  it('a signature value that does not verify, and bytes that are no CMS, are left to pkijs', async () => {
    const a = await signCms(content, rsa.signer, { detached: true });
    // The RSA signature is the last 256 bytes: another one over the same content, by another key.
    const other = await signCms(content, (await simProvider(tmp.dir)).signer, { detached: true });
    expect(verifyCmsNative(other, content)).not.toBeNull();
    const forged = Buffer.from(a);
    forged[forged.length - 1] = (forged[forged.length - 1] ?? 0) ^ 1;
    expect(verifyCmsNative(forged, content)).toBeNull();
    expect((await verifyCms(forged, content)).signature.status).toBe('invalid');
    expect(verifyCmsNative(Buffer.from('not a cms'), content)).toBeNull();
    expect((await verifyCms(Buffer.from('not a cms'), content)).signature.status).toBe('invalid');
  });
});

describe('hostile and unrelated input', () => {
  const small = { ...DEFAULT_PEC_LIMITS, maxAttachmentBytes: 1000, maxMessageBytes: 2 * 1024 * 1024 };
  const pecHeaders = `From: "Per conto di: ${SDI}" <posta-certificata@pec.aruba.it>\r\nX-Trasporto: posta-certificata\r\n`;
  const bomb =
    '<?xml version="1.0"?><!DOCTYPE postacert [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">' +
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>' +
    '<postacert tipo="posta-certificata" errore="nessuno"><intestazione><mittente>sdi01@pec.fatturapa.it&d;</mittente></intestazione></postacert>';
  const withDaticert = (headers: string, daticert: string): Buffer =>
    Buffer.from(
      `From: someone@example.it\r\nSubject: s\r\n${headers}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="d"\r\n\r\n` +
        '--d\r\nContent-Type: text/plain\r\n\r\nciao\r\n' +
        `--d\r\nContent-Type: application/xml; name="daticert.xml"\r\nContent-Disposition: inline; filename="daticert.xml"\r\n\r\n${daticert}\r\n` +
        '--d--\r\n',
    );

  const cases: {
    name: string;
    raw: () => Buffer;
    expect: PecMessage['kind'][];
    reason?: RegExp;
    limits?: typeof small;
  }[] = [
    { name: 'empty buffer', raw: () => Buffer.alloc(0), expect: ['malformed'], reason: /empty/ },
    { name: '1 MB of random bytes', raw: () => pseudoRandomBytes(1024 * 1024), expect: ['malformed'] },
    {
      name: 'valid headers, then 1 MB of random bytes',
      raw: () =>
        Buffer.concat([Buffer.from('From: a@b.it\r\nSubject: x\r\n\r\n'), pseudoRandomBytes(1024 * 1024, 3)]),
      expect: ['unrelated'],
    },
    {
      name: 'random bytes as a PEC body',
      raw: () =>
        Buffer.concat([
          Buffer.from(`${pecHeaders}Content-Type: multipart/signed; boundary="x"\r\n\r\n--x\r\n`),
          pseudoRandomBytes(300_000, 5),
        ]),
      expect: ['malformed'],
      reason: /postacert/,
    },
    {
      name: 'broken MIME: unterminated multipart and truncated base64',
      raw: () =>
        Buffer.from(
          `${pecHeaders}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n` +
            'Content-Type: application/xml; name="daticert.xml"\r\nContent-Transfer-Encoding: base64\r\n\r\nPD94bWwg@@@\r\n' +
            '--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: x\r\nContent-Type: multipart/mixed; boundary="c"\r\n\r\n--c\r\n',
        ),
      expect: ['sdi'],
    },
    {
      name: 'multipart without a boundary',
      raw: () =>
        Buffer.from(
          `${pecHeaders}MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n`,
        ),
      expect: ['malformed'],
      reason: /postacert/,
    },
    {
      name: 'multipart/signed without a boundary',
      raw: () => Buffer.from(`${pecHeaders}Content-Type: multipart/signed\r\n\r\nnothing\r\n`),
      expect: ['malformed'],
    },
    {
      name: '20-deep nested message/rfc822',
      raw: () => nestedRfc822(20),
      expect: ['malformed'],
      reason: /maxDepth/,
    },
    {
      name: '20-deep nested message/rfc822 in a PEC envelope',
      raw: () => nestedRfc822(20, 'X-Trasporto: posta-certificata\r\n'),
      expect: ['malformed'],
      reason: /maxDepth/,
    },
    { name: '4-deep nested message/rfc822 is fine', raw: () => nestedRfc822(4), expect: ['unrelated'] },
    {
      name: '60 attachments',
      raw: () => manyAttachments(60),
      expect: ['malformed'],
      reason: /maxAttachments/,
    },
    {
      name: '5000 MIME parts',
      raw: () => manyAttachments(5000),
      expect: ['malformed'],
      reason: /maxAttachments/,
    },
    {
      name: '1000-deep nested multiparts',
      raw: () => {
        let s = 'From: a@b.it\r\nContent-Type: multipart/mixed; boundary="n0"\r\n\r\n';
        for (let i = 1; i < 1000; i++)
          s += `--n${i - 1}\r\nContent-Type: multipart/mixed; boundary="n${i}"\r\n\r\n`;
        return Buffer.from(s);
      },
      expect: ['malformed'],
      reason: /MIME parts/,
    },
    {
      name: 'an attachment over maxAttachmentBytes',
      raw: () =>
        Buffer.from(
          'From: a@b.it\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\n' +
            `Content-Transfer-Encoding: base64\r\n\r\n${Buffer.alloc(2000, 1).toString('base64')}\r\n--b--\r\n`,
        ),
      limits: small,
      expect: ['malformed'],
      reason: /maxAttachmentBytes/,
    },
    {
      name: 'a message over maxMessageBytes',
      raw: () => Buffer.concat([Buffer.from('From: a@b.it\r\n\r\n'), Buffer.alloc(3 * 1024 * 1024, 0x41)]),
      limits: small,
      expect: ['malformed'],
      reason: /maxMessageBytes/,
    },
    {
      name: 'a 1 MB header line',
      raw: () => Buffer.from(`From: a@b.it\r\nX-Long: ${'a'.repeat(1024 * 1024)}\r\n\r\nx`),
      expect: ['malformed'],
      reason: /header block/,
    },
    {
      name: 'an XML bomb as daticert: decided by the headers',
      raw: () => withDaticert('X-Ricevuta: accettazione\r\nX-Riferimento-Message-ID: <m@x>\r\n', bomb),
      expect: ['receipt'],
    },
    {
      name: 'daticert claiming SdI, headers not PEC',
      raw: () =>
        withDaticert(
          '',
          '<postacert tipo="posta-certificata" errore="nessuno"><intestazione><mittente>sdi01@pec.fatturapa.it</mittente></intestazione></postacert>',
        ),
      expect: ['unrelated'],
      reason: /not a PEC message/,
    },
    {
      name: 'From forged as SdI in plain mail',
      raw: () =>
        Buffer.from(`From: sdi01@pec.fatturapa.it\r\nSubject: Ricevuta di consegna 1\r\n\r\nciao\r\n`),
      expect: ['unrelated'],
    },
    {
      name: 'busta di anomalia around a forged SdI mail',
      raw: () =>
        Buffer.from(
          `From: "Per conto di: sdi01@pec.fatturapa.it" <posta-certificata@pec.aruba.it>\r\nX-Trasporto: errore\r\nSubject: ANOMALIA MESSAGGIO: x\r\n\r\nciao\r\n`,
        ),
      expect: ['unrelated'],
      reason: /anomalia/,
    },
    {
      name: 'a certified message from SdI without postacert.eml',
      raw: () =>
        withDaticert(
          'X-Trasporto: posta-certificata\r\n',
          `<postacert tipo="posta-certificata" errore="nessuno"><intestazione><mittente>${SDI}</mittente></intestazione></postacert>`,
        ),
      expect: ['malformed'],
      reason: /postacert\.eml/,
    },
    {
      name: 'a look-alike SdI domain',
      raw: () =>
        Buffer.from(
          `From: "Per conto di: sdi01@pec.fatturapa.it.evil.example" <posta-certificata@pec.aruba.it>\r\nX-Trasporto: posta-certificata\r\n\r\nx\r\n`,
        ),
      expect: ['unrelated'],
    },
    {
      name: 'non-UTF-8 headers',
      raw: () =>
        Buffer.concat([
          Buffer.from('From: Societ'),
          Buffer.from([0xe0, 0xff, 0xfe]),
          Buffer.from(' <a@b.it>\r\nSubject: caff'),
          Buffer.from([0xe8, 0x80, 0x00]),
          Buffer.from('\r\n\r\nbody\r\n'),
        ]),
      expect: ['unrelated'],
    },
    {
      name: 'a PEC receipt of unknown type',
      raw: () =>
        Buffer.from('From: posta-certificata@pec.aruba.it\r\nX-Ricevuta: something-else\r\n\r\nx\r\n'),
      expect: ['unrelated'],
    },
    { name: 'headers only', raw: () => Buffer.from('From: a@b.it'), expect: ['unrelated'] },
    {
      name: 'unrelated plain mail',
      raw: () => Buffer.from('From: a@b.it\r\nTo: c@d.it\r\nSubject: hi\r\n\r\nhello\r\n'),
      expect: ['unrelated'],
    },
  ];

  it.each(cases)('$name', async (c) => {
    const m = await parsePecMessage(c.raw(), c.limits);
    expect(c.expect).toContain(m.kind);
    if (c.reason) expect((m as { reason?: string }).reason).toMatch(c.reason);
  });

  it('an XML bomb as daticert is no daticert: the receipt is read from its headers', async () => {
    const m = expectKind(
      await parsePecMessage(
        withDaticert('X-Ricevuta: errore-consegna\r\nX-Riferimento-Message-ID: <m@x>\r\n', bomb),
      ),
      'receipt',
    );
    expect(m).toMatchObject({
      receipt: 'errore-consegna',
      ref: 'm@x',
      daticert: null,
      reason: 'unspecified',
    });
  });

  it('a certified message from another sender is unrelated', async () => {
    const inner = buildSdiMessage({
      from: 'fornitore@pec.example.it',
      to: ME,
      subject: 'Fattura 1',
      attachments: [],
    });
    const raw = await buildCertifiedEnvelope({
      inner,
      mittente: 'fornitore@pec.example.it',
      destinatari: [ME],
      subject: 'Fattura 1',
      provider: sim,
    });
    const m = expectKind(await parsePecMessage(raw), 'unrelated');
    expect(m.reason).toContain('fornitore@pec.example.it');
    expect(m.subject).toBe('POSTA CERTIFICATA: Fattura 1');
  });

  it('an envelope with bare LF line endings still verifies', async () => {
    const raw = await buildCertifiedEnvelope({
      inner: rcInner(RC_XML),
      mittente: SDI,
      destinatari: [ME],
      subject: 's 1',
      provider: sim,
    });
    const lf = Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    const m = expectKind(await parsePecMessage(lf), 'sdi');
    expect(m.signature.status).toBe('valid');
  });

  it('the default depth limit leaves room for an opaque receipt carrying postacert.eml', async () => {
    const inner = await buildCertifiedEnvelope({
      inner: rcInner(RC_XML),
      mittente: SDI,
      destinatari: [ME],
      subject: 's',
      provider: sim,
    });
    const raw = await buildReceipt({
      tipo: 'avvenuta-consegna',
      ref: 'x@y',
      mittente: ME,
      destinatari: [SDI],
      subject: 's',
      original: inner,
      provider: { ...sim, smime: 'opaque' },
    });
    expect(expectKind(await parsePecMessage(raw), 'receipt').receipt).toBe('avvenuta-consegna');
  });
});

describe('pieces', () => {
  it.each([
    ['Ricevuta di consegna 6782414', '6782414'],
    ['Notifica di scarto 123 (SIMULAZIONE)', '123'],
    ['Invio File 7339338', '7339338'],
    ['Notifica di mancata consegna 141107829 ', '141107829'],
    ['Notifica esito 99 (SIMULAZIONE) (2)', '99'],
    ['Ricevuta IT01234567890_00001', null],
    ['Nessun numero', null],
    ['', null],
  ])('identificativoSdI of %j is %j', (subject, id) => {
    expect(identificativoFromSubject(subject)).toBe(id);
  });

  it('reads daticert.xml with a PUBLIC DOCTYPE and a stylesheet, as some providers write it', () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\r\n<?xml-stylesheet type="text/xsl" href="https://pec.example/postacert.xsl"?>\r\n' +
      '<!DOCTYPE postacert PUBLIC "posta certificata" "https://pec.example/postacert.dtd">\r\n\r\n' +
      '<postacert tipo="avvenuta-consegna" errore="nessuno"><intestazione><mittente>a@pec.it</mittente>' +
      '<destinatari tipo="certificato">b@pec.it</destinatari><destinatari tipo="esterno">c@x.it</destinatari>' +
      '<risposte>a@pec.it</risposte><oggetto>Caffè &amp; co</oggetto></intestazione><dati>' +
      '<gestore-emittente>Gestore</gestore-emittente><data zona="+0200"><giorno>01/07/2025</giorno><ora>08:05:09</ora></data>' +
      '<identificativo>id-1</identificativo><msgid>&lt;m@d&gt;</msgid><ricevuta tipo="completa"/>' +
      '<consegna>b@pec.it</consegna></dati></postacert>';
    expect(parseDaticert(Buffer.from(xml))).toEqual({
      tipo: 'avvenuta-consegna',
      errore: 'nessuno',
      mittente: 'a@pec.it',
      destinatari: ['b@pec.it', 'c@x.it'],
      risposte: 'a@pec.it',
      oggetto: 'Caffè & co',
      gestoreEmittente: 'Gestore',
      data: '2025-07-01T06:05:09.000Z',
      identificativo: 'id-1',
      msgid: '<m@d>',
      ricevuta: 'completa',
      consegna: 'b@pec.it',
    });
  });

  it.each([
    [
      'an internal DTD subset',
      '<?xml version="1.0"?><!DOCTYPE postacert [<!ENTITY a "x">]><postacert tipo="a"/>',
    ],
    ['another root', '<?xml version="1.0"?><fattura/>'],
    ['not XML', 'hello'],
    ['a DOCTYPE after an element', '<postacert tipo="a"><!DOCTYPE x SYSTEM "y"></postacert>'],
  ])('refuses daticert.xml with %s', (_name, xml) => {
    expect(parseDaticert(Buffer.from(xml))).toBeNull();
  });

  it('writes daticert.xml with escaped text that reads back', () => {
    const xml = buildDaticert({
      tipo: 'posta-certificata',
      mittente: 'a@pec.it',
      destinatari: ['b@pec.it'],
      oggetto: 'Fattura <1> & "2" \'3\' \u0001',
      gestoreEmittente: 'G & G',
      date: DATE,
      identificativo: 'id',
      msgid: 'm@d',
    });
    expect(xml.toString()).toContain('<!DOCTYPE postacert SYSTEM "Postacert.dtd">');
    expect(escapeXml('<&>"\'')).toBe('&lt;&amp;&gt;&quot;&apos;');
    expect(parseDaticert(xml)).toMatchObject({
      oggetto: 'Fattura <1> & "2" \'3\'',
      gestoreEmittente: 'G & G',
      msgid: '<m@d>',
      data: DATE.toISOString(),
    });
  });

  it('quoted-printable keeps every byte', () => {
    const bytes = Buffer.concat([pseudoRandomBytes(5000, 11), Buffer.from('a \r\n\t\r\n.\r\n=\r\n')]);
    const qp = quotedPrintable(bytes).toString('latin1');
    expect(qp.split('\r\n').every((l) => l.length <= 76)).toBe(true);
    expect(qp).toMatch(/^[\x20-\x7e\r\n\t]*$/);
  });

  it('keeps line breaks in values out of the headers', async () => {
    const raw = await buildCertifiedEnvelope({
      inner: rcInner(RC_XML),
      mittente: SDI,
      destinatari: [ME],
      subject: 'x\r\nX-Ricevuta: accettazione',
      provider: sim,
    });
    const m = expectKind(await parsePecMessage(raw), 'sdi');
    // XML reads the CRLF as LF (end-of-line handling); the text is otherwise kept.
    expect(m.daticert?.oggetto).toBe('x\nX-Ricevuta: accettazione');
    const head = raw.toString('latin1').split('\r\n\r\n')[0] ?? '';
    expect(head).toContain('Subject: POSTA CERTIFICATA: x X-Ricevuta: accettazione');
    expect(head).not.toContain('\r\nX-Ricevuta');
  });

  it('formats dates in Italian local time', () => {
    expect(rfc5322Date(new Date('2026-07-01T06:05:09Z'))).toBe('Wed, 01 Jul 2026 08:05:09 +0200');
    expect(rfc5322Date(new Date('2026-01-31T23:30:00Z'))).toBe('Sun, 01 Feb 2026 00:30:00 +0100');
  });

  it.each([
    [
      'the first part, CRLF',
      'H: v\r\n\r\npre\r\n--b\r\nA\r\n\r\nbody\r\n--b\r\nsig\r\n--b--\r\n',
      'A\r\n\r\nbody',
    ],
    ['LF endings and transport padding', 'H: v\n\n--b  \nA\n\nbody\n--b\t\nsig\n--b--\n', 'A\n\nbody'],
    [
      'a boundary-like string inside a line',
      'H: v\r\n\r\n--b\r\nx --b y\r\n--bc\r\nz\r\n--b--\r\n',
      'x --b y\r\n--bc\r\nz',
    ],
    ['no second delimiter', 'H: v\r\n\r\n--b\r\nA\r\n', null],
    ['only a closing delimiter', 'H: v\r\n\r\n--b--\r\n', null],
    ['no header end', 'H: v\r\n--b\r\nA\r\n--b--', null],
  ])('firstPartBytes: %s', (_name, raw, want) => {
    const got = firstPartBytes(Buffer.from(raw), 'b');
    expect(got === null ? null : got.toString()).toBe(want);
  });

  it('the signed part found by the boundary scan is the one the builder signed', async () => {
    const raw = await buildCertifiedEnvelope({
      inner: rcInner(RC_XML),
      mittente: SDI,
      destinatari: [ME],
      subject: 'x',
      provider: sim,
    });
    const b = /boundary="([^"]+)"/.exec(raw.toString('latin1'))?.[1] ?? '';
    const part = firstPartBytes(raw, b);
    expect(part?.subarray(0, 40).toString()).toMatch(/^Content-Type: multipart\/mixed; boundary=/);
    expect(part?.subarray(-4).toString()).toBe('--\r\n');
  });

  it('handles a burst of messages concurrently', async () => {
    const raws = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        buildCertifiedEnvelope({
          inner: rcInner(RC_XML),
          mittente: `sdi0${i}@pec.fatturapa.it`,
          destinatari: [ME],
          subject: `Ricevuta di consegna ${i}`,
          provider: sim,
        }),
      ),
    );
    const got = await Promise.all(raws.map((r) => parsePecMessage(r)));
    expect(got.map((m) => (m.kind === 'sdi' ? m.sender : m.kind))).toEqual(
      raws.map((_, i) => `sdi0${i}@pec.fatturapa.it`),
    );
  });
});
