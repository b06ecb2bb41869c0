import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildNotification } from '../../src/notifications/build.js';
import { checkNotificationSignature } from '../../src/notifications/signature.js';
import { specPath } from '../helpers/spec.js';

/**
 * SdI's XAdES signature on notifications, checked best effort on the official (signed) samples
 * (oracles, when the spec files are there: test/helpers/spec.ts).
 */
const DIR = specPath('sdi', 'messaggi', 'samples') ?? '';
const sample = (kind: string): Buffer =>
  fs.readFileSync(path.join(DIR, `IT01234567890_11111_${kind}_001.xml`));

describe.skipIf(!DIR)('notification signatures', () => {
  it.each(['RC', 'NS', 'MC', 'NE', 'DT', 'AT', 'SE'])('the official %s sample verifies', (kind) => {
    expect(checkNotificationSignature(sample(kind))).toEqual({
      status: 'valid',
      signer: 'Sistema Interscambio Fattura PA',
    });
  });

  it.each(['MT', 'EC'])('the official %s sample has no signature', (kind) => {
    expect(checkNotificationSignature(sample(kind)).status).toBe('absent');
  });

  it('a changed field breaks the digest', () => {
    const tampered = Buffer.from(
      sample('RC').toString('utf8').replace('<IdentificativoSdI>111<', '<IdentificativoSdI>112<'),
    );
    expect(checkNotificationSignature(tampered)).toEqual({
      status: 'invalid',
      reason: 'the document does not match its signed digest',
    });
  });

  it('a changed SignatureValue does not verify', () => {
    const text = sample('NS').toString('utf8');
    const tampered = Buffer.from(
      text.replace(
        /(<ds:SignatureValue[^>]*>)(.)/,
        (_m, a: string, c: string) => `${a}${c === 'A' ? 'B' : 'A'}`,
      ),
    );
    expect(checkNotificationSignature(tampered).status).toBe('invalid');
  });

  it('a signature without its certificate is "unchecked"', () => {
    const noCert = Buffer.from(
      sample('RC')
        .toString('utf8')
        .replace(/<ds:X509Certificate>[^<]*<\/ds:X509Certificate>/, ''),
    );
    expect(checkNotificationSignature(noCert).status).toBe('unchecked');
  });
});

describe('notification signatures: unsigned and unreadable', () => {
  it('the simulator unsigned messages are "absent"; garbage is "unchecked", never a throw', () => {
    const rc = buildNotification({
      kind: 'RC',
      family: 'b2b',
      identificativoSdI: '1',
      nomeFile: 'IT01234567890_00001.xml',
      destinatario: { codice: 'ABC1234' },
      hash: 'a'.repeat(64),
    });
    expect(checkNotificationSignature(rc).status).toBe('absent');
    expect(checkNotificationSignature(Buffer.from('not xml')).status).toBe('unchecked');
  });
});
