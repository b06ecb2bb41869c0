import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  exportKeyPair,
  formatCheckpointBody,
  generateLogKey,
  importPrivateKey,
  importPublicKey,
  keyId,
  openCheckpoint,
  openNote,
  parseVerifierKey,
  publicKeyFromRaw,
  rawPublicKey,
  signCheckpoint,
  signNote,
  verifierKey,
  type Checkpoint,
  type NoteKey,
} from '../../src/archive/checkpoint.js';
import { emptyRoot, leafHash, rootOf } from '../../src/archive/merkle.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * C2SP checkpoints in C2SP signed notes (Ed25519): round trips, tampering, key handling, a
 * table of malformed notes, the Go reference implementation's published example, and openssl.
 */

const ORIGIN = 'fatturad/0123abcd/archive';
const log = generateLogKey();
const other = generateLogKey();
const known: NoteKey[] = [{ name: ORIGIN, publicKey: log.publicKey }];
const root = rootOf([leafHash(Buffer.from('a')), leafHash(Buffer.from('b')), leafHash(Buffer.from('c'))]);
const cp: Checkpoint = { origin: ORIGIN, size: 3, root };

const tmp = tempDir('fatturad-checkpoint-');
afterAll(() => tmp.cleanup());

/** Replaces the first occurrence of `from` in the note (must be there). */
function tamper(note: string, from: string, to: string): string {
  expect(note.includes(from), `note contains ${from}`).toBe(true);
  return note.replace(from, to);
}

function sigBlob(note: string, line = 0): Buffer {
  const sigs = note.slice(note.lastIndexOf('\n\n') + 2).split('\n');
  return Buffer.from((sigs[line] as string).split(' ')[2] as string, 'base64');
}

describe('round trip', () => {
  it('signs and opens a checkpoint', () => {
    const note = signCheckpoint(cp, ORIGIN, log.privateKey);
    const lines = note.split('\n');
    expect(lines.slice(0, 4)).toEqual([ORIGIN, '3', root.toString('base64'), '']);
    expect(lines[4]).toMatch(new RegExp(`^\u2014 ${ORIGIN} [A-Za-z0-9+/]{91}=$`));
    expect(lines[5]).toBe('');
    expect(lines).toHaveLength(6);
    expect(sigBlob(note).subarray(0, 4)).toEqual(keyId(ORIGIN, log.publicKey));

    const opened = openCheckpoint(note, known);
    expect(opened).toEqual({ ok: true, checkpoint: { origin: ORIGIN, size: 3, root }, signedBy: [ORIGIN] });
    if (opened.ok) expect(Buffer.isBuffer(opened.checkpoint.root)).toBe(true);
  });

  it('formats the body exactly, extension lines included', () => {
    expect(formatCheckpointBody(cp)).toBe(`${ORIGIN}\n3\n${root.toString('base64')}\n`);
    const withExt = { ...cp, extensions: ['x-fatturad pda 2025/17', 'second'] };
    const body = formatCheckpointBody(withExt);
    expect(body).toBe(`${ORIGIN}\n3\n${root.toString('base64')}\nx-fatturad pda 2025/17\nsecond\n`);
    const opened = openCheckpoint(signCheckpoint(withExt, ORIGIN, log.privateKey), known);
    expect(opened).toMatchObject({ ok: true, checkpoint: withExt });
  });

  it('an empty log has size 0 and the empty-tree root', () => {
    const empty = { origin: ORIGIN, size: 0, root: emptyRoot() };
    expect(openCheckpoint(signCheckpoint(empty, ORIGIN, log.privateKey), known)).toMatchObject({
      ok: true,
      checkpoint: empty,
    });
    expect(() => formatCheckpointBody({ origin: ORIGIN, size: 0, root })).toThrow(/empty-tree root/);
  });

  it('accepts the note as bytes (read from a file)', () => {
    const note = signCheckpoint(cp, ORIGIN, log.privateKey);
    expect(openCheckpoint(Buffer.from(note, 'utf8'), known).ok).toBe(true);
    expect(openCheckpoint(new Uint8Array(Buffer.from(note, 'utf8')), known).ok).toBe(true);
  });

  it('handles a non-ASCII origin and key name (signed as UTF-8)', () => {
    const name = 'archivio.example/conservazione-è';
    const c = { origin: 'Conservazione à norma', size: 1, root };
    const note = signCheckpoint(c, name, log.privateKey);
    expect(openCheckpoint(note, [{ name, publicKey: log.publicKey }])).toMatchObject({
      ok: true,
      checkpoint: c,
    });
  });

  it('checks the origin when asked', () => {
    const note = signCheckpoint(cp, ORIGIN, log.privateKey);
    expect(openCheckpoint(note, known, { origin: ORIGIN }).ok).toBe(true);
    expect(openCheckpoint(note, known, { origin: 'fatturad/other' })).toMatchObject({
      ok: false,
      reason: /origin "fatturad\/0123abcd\/archive", want "fatturad\/other"/,
    });
  });

  it('refuses to format or sign what is not a checkpoint', () => {
    const bad: [string, Checkpoint][] = [
      ['empty origin', { ...cp, origin: '' }],
      ['newline in origin', { ...cp, origin: 'a\nb' }],
      ['negative size', { ...cp, size: -1 }],
      ['fractional size', { ...cp, size: 1.5 }],
      ['31-byte root', { ...cp, root: root.subarray(0, 31) }],
      ['empty extension', { ...cp, extensions: [''] }],
      ['extension with a newline', { ...cp, extensions: ['a\n'] }],
    ];
    for (const [what, c] of bad) expect(() => formatCheckpointBody(c), what).toThrow(RangeError);
    expect(() => signCheckpoint(cp, 'bad name', log.privateKey)).toThrow(/space/);
    expect(() => signCheckpoint(cp, 'a+b', log.privateKey)).toThrow(/"\+"/);
    expect(() => signCheckpoint(cp, '', log.privateKey)).toThrow(/empty/);
    expect(() => signCheckpoint(cp, ORIGIN, log.publicKey)).toThrow(/Ed25519 private/);
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => signCheckpoint(cp, ORIGIN, rsa.privateKey)).toThrow(/Ed25519 private/);
    expect(() => signNote('no newline', [{ name: ORIGIN, privateKey: log.privateKey }])).toThrow(/newline/);
    expect(() => signNote('cr\r\n', [{ name: ORIGIN, privateKey: log.privateKey }])).toThrow(
      /carriage return/,
    );
    expect(() => signNote('text\n', [])).toThrow(/signer/);
  });
});

describe('tampering and keys', () => {
  const note = signCheckpoint(cp, ORIGIN, log.privateKey);

  it.each([
    ['size', () => tamper(note, '\n3\n', '\n4\n')],
    ['root', () => tamper(note, root.toString('base64'), leafHash(root).toString('base64'))],
    ['origin', () => tamper(note, `${ORIGIN}\n`, 'fatturad/0123abce/archive\n')],
    ['an added extension line', () => tamper(note, '=\n\n', '=\nextra\n\n')],
  ])('a tampered %s fails the signature', (_, make) => {
    expect(openCheckpoint(make(), known)).toMatchObject({
      ok: false,
      reason: /signature by trusted key .* does not verify/,
    });
  });

  it('a tampered signature fails', () => {
    const blob = sigBlob(note);
    blob[10] = (blob[10] as number) ^ 0x01;
    const bad = tamper(note, sigBlob(note).toString('base64'), blob.toString('base64'));
    expect(openCheckpoint(bad, known)).toMatchObject({ ok: false, reason: /does not verify/ });
  });

  it('a tampered key ID makes the signature unknown', () => {
    const blob = sigBlob(note);
    blob[0] = (blob[0] as number) ^ 0x01;
    const bad = tamper(note, sigBlob(note).toString('base64'), blob.toString('base64'));
    expect(openCheckpoint(bad, known)).toMatchObject({ ok: false, reason: /no signature by a trusted key/ });
  });

  it('a note signed by another key under the same name is not trusted', () => {
    const forged = signCheckpoint(cp, ORIGIN, other.privateKey);
    const r = openCheckpoint(forged, known);
    expect(r).toMatchObject({
      ok: false,
      reason: /no signature by a trusted key \(signed only by unknown keys/,
    });
  });

  it('only unknown keys: rejected, naming them', () => {
    const r = openCheckpoint(signCheckpoint(cp, 'witness.example/w1', other.privateKey), known);
    const id = keyId('witness.example/w1', other.publicKey).toString('hex');
    expect(r).toEqual({
      ok: false,
      reason: `note: no signature by a trusted key (signed only by unknown keys witness.example/w1+${id})`,
    });
    expect(openCheckpoint(note, [])).toMatchObject({ ok: false, reason: /no signature by a trusted key/ });
  });

  it('two signatures, one by an unknown key: accepted in either order', () => {
    const body = formatCheckpointBody(cp);
    const a = signNote(body, [
      { name: ORIGIN, privateKey: log.privateKey },
      { name: 'witness.example/w1', privateKey: other.privateKey },
    ]);
    const b = signNote(body, [
      { name: 'witness.example/w1', privateKey: other.privateKey },
      { name: ORIGIN, privateKey: log.privateKey },
    ]);
    expect(a.split('\n').filter((l) => l.startsWith('\u2014 '))).toHaveLength(2);
    for (const n of [a, b]) expect(openCheckpoint(n, known)).toMatchObject({ ok: true, signedBy: [ORIGIN] });
    // Both trusted (key rotation, or a witness): both reported.
    const both: NoteKey[] = [...known, { name: 'witness.example/w1', publicKey: other.publicKey }];
    expect(openCheckpoint(a, both)).toMatchObject({ ok: true, signedBy: [ORIGIN, 'witness.example/w1'] });
  });

  it('a bad signature by a trusted key rejects the note even beside a good one', () => {
    const body = formatCheckpointBody(cp);
    const good = signNote(body, [{ name: ORIGIN, privateKey: log.privateKey }]);
    const otherBody = formatCheckpointBody({ ...cp, size: 4 });
    const wrongLine = signNote(otherBody, [
      { name: 'witness.example/w1', privateKey: other.privateKey },
    ]).split('\n\n')[1] as string;
    const both: NoteKey[] = [...known, { name: 'witness.example/w1', publicKey: other.publicKey }];
    expect(openCheckpoint(good + wrongLine, both)).toMatchObject({
      ok: false,
      reason:
        /signature line 2: the signature by trusted key witness.example\/w1\+[0-9a-f]{8} does not verify/,
    });
    // The same line is ignored when its key is not trusted.
    expect(openCheckpoint(good + wrongLine, known).ok).toBe(true);
  });

  it('a repeated signature line by the trusted key is counted once', () => {
    const sigLine = note.slice(note.lastIndexOf('\n\n') + 2);
    expect(openCheckpoint(note + sigLine, known)).toMatchObject({ ok: true, signedBy: [ORIGIN] });
  });

  it('the same trusted key listed twice is not ambiguous', () => {
    const dup: NoteKey[] = [
      ...known,
      { name: ORIGIN, publicKey: importPublicKey(exportKeyPair(log).publicKeyPem) },
    ];
    expect(openCheckpoint(note, dup).ok).toBe(true); // the same key twice is not ambiguous
  });

  it('unusable trusted keys are reported, not thrown', () => {
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(openCheckpoint(note, [{ name: ORIGIN, publicKey: rsa.publicKey }])).toMatchObject({
      ok: false,
      reason: /trusted key 1 is unusable: not an Ed25519 public key/,
    });
    expect(openCheckpoint(note, [{ name: 'has space', publicKey: log.publicKey }])).toMatchObject({
      ok: false,
      reason: /trusted key 1 is unusable/,
    });
    expect(openCheckpoint(note, [{ name: ORIGIN, publicKey: null as unknown as crypto.KeyObject }]).ok).toBe(
      false,
    );
  });
});

describe('malformed notes', () => {
  const note = signCheckpoint(cp, ORIGIN, log.privateKey);
  const sigLine = note.slice(note.lastIndexOf('\n\n') + 2);
  const signed = (body: string): string => signNote(body, [{ name: ORIGIN, privateKey: log.privateKey }]);
  const r64 = root.toString('base64');

  // [what, note, expected reason]
  const table: [string, string | Uint8Array, RegExp][] = [
    ['missing blank line', note.replace('\n\n', '\n'), /no blank line between the text and the signatures/],
    ['no signature lines', formatCheckpointBody(cp) + '\n', /no signature lines/],
    ['missing final newline', note.slice(0, -1), /does not end with a newline/],
    ['trailing junk after the signature', `${note}junk\n`, /signature line 2 does not start with "\u2014 "/],
    ['trailing junk without newline', `${note}junk`, /does not end with a newline/],
    ['trailing blank line', `${note}\n`, /no signature lines/],
    [
      'hyphen instead of em dash',
      note.replace('\u2014', '-'),
      /signature line 1 does not start with "\u2014 "/,
    ],
    ['en dash instead of em dash', note.replace('\u2014', '\u2013'), /does not start with/],
    ['CRLF line ends', note.replace(/\n/g, '\r\n'), /carriage return/],
    ['tab in the text', note.replace(`${ORIGIN}\n`, `${ORIGIN}\t\n`), /control character U\+0009/],
    ['NUL in the text', note.replace(`${ORIGIN}\n`, `${ORIGIN}\0\n`), /control character U\+0000/],
    ['lone surrogate', note.replace(ORIGIN, `${ORIGIN}\uD800`), /not valid UTF-8/],
    ['invalid UTF-8 bytes', Buffer.concat([Buffer.from([0xff]), Buffer.from(note)]), /not valid UTF-8/],
    [
      'bad base64 in the signature',
      tamper(note, sigLine, sigLine.replace(/ (\S+)\n$/, ' !!notbase64!!\n')),
      /not canonical base64/,
    ],
    ['unpadded base64', tamper(note, sigLine, sigLine.replace(/=\n$/, '\n')), /not canonical base64/],
    ['base64 with a line break', tamper(note, sigLine, sigLine.replace(/(.{40})/, '$1\n')), /signature line/],
    [
      'no space before the signature',
      tamper(note, sigLine, sigLine.replace(/ (\S+)\n$/, '$1\n')),
      /no space/,
    ],
    [
      'two spaces before the signature',
      tamper(note, sigLine, sigLine.replace(/ (\S+)\n$/, '  $1\n')),
      /canonical base64/,
    ],
    [
      'key name with "+"',
      tamper(note, sigLine, sigLine.replace(ORIGIN, `${ORIGIN}+x`)),
      /contains a space or "\+"/,
    ],
    ['empty key name', tamper(note, sigLine, sigLine.replace(`${ORIGIN} `, ' ')), /key name is empty/],
    ['signature too short', tamper(note, sigLine, `\u2014 ${ORIGIN} AAAA\n`), /too short/],
    [
      'known key, truncated signature',
      tamper(note, sigLine, `\u2014 ${ORIGIN} ${sigBlob(note).subarray(0, 67).toString('base64')}\n`),
      /is 63 bytes, an Ed25519 signature is 64/,
    ],
    [
      'size "007"',
      signed(`${ORIGIN}\n007\n${r64}\n`),
      /tree size "007" is not a decimal number without leading zeros/,
    ],
    ['size "-1"', signed(`${ORIGIN}\n-1\n${r64}\n`), /tree size "-1"/],
    ['size "+3"', signed(`${ORIGIN}\n+3\n${r64}\n`), /tree size "\+3"/],
    ['size " 3"', signed(`${ORIGIN}\n 3\n${r64}\n`), /tree size " 3"/],
    ['size "3.0"', signed(`${ORIGIN}\n3.0\n${r64}\n`), /tree size "3.0"/],
    ['size "0x3"', signed(`${ORIGIN}\n0x3\n${r64}\n`), /tree size "0x3"/],
    ['size beyond 2^53', signed(`${ORIGIN}\n18446744073709551615\n${r64}\n`), /too large/],
    [
      'root of 31 bytes',
      signed(`${ORIGIN}\n3\n${root.subarray(0, 31).toString('base64')}\n`),
      /root hash is 31 bytes, want 32/,
    ],
    [
      'root of 33 bytes',
      signed(`${ORIGIN}\n3\n${Buffer.concat([root, root.subarray(0, 1)]).toString('base64')}\n`),
      /33 bytes/,
    ],
    ['root in hex', signed(`${ORIGIN}\n3\n${root.toString('hex')}\n`), /root hash is 48 bytes/],
    ['root in base64url', signed(`${ORIGIN}\n3\n${root.toString('base64url')}\n`), /not canonical base64/],
    [
      'root with non-zero padding bits',
      signed(`${ORIGIN}\n3\n${r64.slice(0, 42)}${nextB64(r64[42] as string)}=\n`),
      /not canonical/,
    ],
    [
      'size 0 with another root',
      signed(`${ORIGIN}\n0\n${r64}\n`),
      /tree size 0 with a root that is not the empty-tree hash/,
    ],
    ['empty origin', signed(`\n3\n${r64}\n`), /origin line is empty/],
    ['only two lines', signed(`${ORIGIN}\n3\n`), /2 line\(s\)/],
    [
      'empty extension line',
      signed(`${ORIGIN}\n3\n${r64}\n\nextension\n`),
      /extension line 1 \(line 4\) is empty/,
    ],
  ];

  it.each(table)('%s', (_, n, reason) => {
    const r = openCheckpoint(n, known);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('a note with more than 100 signature lines is refused before any verification', () => {
    const many = note + sigLine.repeat(100);
    expect(openCheckpoint(many, known)).toMatchObject({ ok: false, reason: /more than 100 signatures/ });
    // 16 signatures (the C2SP minimum) are fine.
    expect(openCheckpoint(note + sigLine.repeat(15), known).ok).toBe(true);
  });

  it('never throws on garbage', () => {
    const junk: unknown[] = [null, undefined, 42, {}, [], '', '\n', '\n\n', '\u2014', '\n\n\u2014 \n'];
    for (const j of junk) {
      let r: ReturnType<typeof openCheckpoint> | undefined;
      expect(() => (r = openCheckpoint(j as string, known))).not.toThrow();
      expect(r?.ok).toBe(false);
    }
    expect(openNote(note, null as unknown as NoteKey[]).ok).toBe(false);
  });
});

/** The next base64 digit: changes the padding bits of a final character without changing the bytes' meaning to a lenient decoder. */
function nextB64(c: string): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  return abc[(abc.indexOf(c) + 1) % 64] as string;
}

describe('verifier keys', () => {
  it('round trip', () => {
    const vkey = verifierKey(ORIGIN, log.publicKey);
    expect(vkey).toMatch(new RegExp(`^${ORIGIN}\\+[0-9a-f]{8}\\+[A-Za-z0-9+/]{44}$`));
    expect(vkey.split('+')[1]).toBe(keyId(ORIGIN, log.publicKey).toString('hex'));
    const parsed = parseVerifierKey(vkey);
    expect(parsed?.name).toBe(ORIGIN);
    expect(rawPublicKey(parsed?.publicKey as crypto.KeyObject)).toEqual(rawPublicKey(log.publicKey));
    const note = signCheckpoint(cp, ORIGIN, log.privateKey);
    expect(openCheckpoint(note, [parsed as NoteKey]).ok).toBe(true);
  });

  it('rejects every mangling', () => {
    const vkey = verifierKey(ORIGIN, log.publicKey);
    expect(
      parseVerifierKey(vkey.replace(/\+([0-9a-f]{8})\+/, (_, h: string) => `+${h.toUpperCase()}+`)),
    ).not.toBeNull();
    const bad: string[] = [
      '',
      ORIGIN,
      `${ORIGIN}+`,
      vkey.slice(0, -1),
      vkey + 'A',
      vkey.replace(/\+[0-9a-f]{8}\+/, '+00000000+'),
      vkey.replace(ORIGIN, 'fatturad/0123abcd/archivf'),
      `${ORIGIN}+${keyId(ORIGIN, log.publicKey).toString('hex')}+${Buffer.concat([Buffer.from([2]), rawPublicKey(log.publicKey)]).toString('base64')}`, // type byte 0x02
      `${ORIGIN}+${keyId(ORIGIN, log.publicKey).toString('hex')}+${rawPublicKey(log.publicKey).toString('base64')}`, // no type byte
      `bad name+${vkey.split('+').slice(1).join('+')}`,
    ];
    for (const b of bad) expect(parseVerifierKey(b), b).toBeNull();
    // Every single-character change.
    for (let i = 0; i < vkey.length; i++) {
      const c = vkey.charCodeAt(i);
      const m = vkey.slice(0, i) + String.fromCharCode(c === 0x7a ? 0x41 : c + 1) + vkey.slice(i + 1);
      expect(parseVerifierKey(m), m).toBeNull();
    }
    expect(parseVerifierKey(null as unknown as string)).toBeNull();
  });

  it('keys export and import as PKCS#8 and SPKI PEM', () => {
    const { privateKeyPem, publicKeyPem } = exportKeyPair(log);
    expect(privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const priv = importPrivateKey(privateKeyPem);
    const pub = importPublicKey(publicKeyPem);
    expect(rawPublicKey(pub)).toEqual(rawPublicKey(log.publicKey));
    expect(openCheckpoint(signCheckpoint(cp, ORIGIN, priv), [{ name: ORIGIN, publicKey: pub }]).ok).toBe(
      true,
    );
    expect(exportKeyPair({ privateKey: log.privateKey }).publicKeyPem).toBe(publicKeyPem);
    expect(rawPublicKey(publicKeyFromRaw(rawPublicKey(pub)))).toEqual(rawPublicKey(pub));
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => importPrivateKey(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }))).toThrow(
      /Ed25519/,
    );
    expect(() => importPublicKey(rsa.publicKey.export({ type: 'spki', format: 'pem' }))).toThrow(/Ed25519/);
    expect(() => keyId(ORIGIN, rsa.publicKey)).toThrow(/Ed25519/);
    expect(() => publicKeyFromRaw(Buffer.alloc(31))).toThrow(/32 bytes/);
  });
});

describe('interoperability', () => {
  // The example key pair and note published in the documentation and tests of
  // golang.org/x/mod/sumdb/note, the reference signed-note implementation. Ed25519 is
  // deterministic, so the same key and text must give the same note byte for byte.
  const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
  const GO_SEED = 'AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz'; // base64(0x01 || seed)
  const GO_TEXT =
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
  const GO_NOTE = `${GO_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

  it('matches the Go reference implementation byte for byte', () => {
    const seed = Buffer.from(GO_SEED, 'base64').subarray(1);
    const privateKey = crypto.createPrivateKey({
      key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
      format: 'der',
      type: 'pkcs8',
    });
    const publicKey = crypto.createPublicKey(privateKey);
    expect(verifierKey('PeterNeumann', publicKey)).toBe(GO_VKEY);
    expect(keyId('PeterNeumann', publicKey).toString('hex')).toBe('c74f20a3');
    expect(signNote(GO_TEXT, [{ name: 'PeterNeumann', privateKey }])).toBe(GO_NOTE);
    const key = parseVerifierKey(GO_VKEY) as NoteKey;
    expect(openNote(GO_NOTE, [key])).toEqual({ ok: true, text: GO_TEXT, signedBy: ['PeterNeumann'] });
    expect(openNote(GO_NOTE.replace('cryptography', 'cryptographY'), [key]).ok).toBe(false);
    // Not a checkpoint: the signature is fine, the body is not.
    expect(openCheckpoint(GO_NOTE, [key])).toMatchObject({ ok: false, reason: /^checkpoint: tree size/ });
  });

  const rawin = (() => {
    const r = spawnSync('openssl', ['pkeyutl', '-help'], { encoding: 'utf8' });
    return !r.error && `${r.stdout}${r.stderr}`.includes('-rawin');
  })();

  it.skipIf(!rawin)('openssl verifies our signature, and we verify openssl’s', () => {
    const dir = fs.mkdtempSync(path.join(tmp.dir, 'openssl-'));
    const file = (n: string): string => path.join(dir, n);
    const { privateKeyPem, publicKeyPem } = exportKeyPair(log);
    fs.writeFileSync(file('pub.pem'), publicKeyPem);
    fs.writeFileSync(file('key.pem'), privateKeyPem, { mode: 0o600 });
    const openssl = (...args: string[]): { status: number | null; out: string } => {
      const r = spawnSync('openssl', args, { encoding: 'utf8' });
      return { status: r.status, out: `${r.stdout}${r.stderr}` };
    };

    // Ours → openssl: the signed message is the note text (the checkpoint body), the signature
    // the 64 bytes after the 4-byte key ID.
    const note = signCheckpoint(cp, ORIGIN, log.privateKey);
    const body = formatCheckpointBody(cp);
    fs.writeFileSync(file('body'), body);
    fs.writeFileSync(file('sig'), sigBlob(note).subarray(4));
    const verify = (): { status: number | null; out: string } =>
      openssl(
        'pkeyutl',
        '-verify',
        '-pubin',
        '-inkey',
        file('pub.pem'),
        '-rawin',
        '-in',
        file('body'),
        '-sigfile',
        file('sig'),
      );
    const ok = verify();
    expect(ok.out).toContain('Signature Verified Successfully');
    expect(ok.status).toBe(0);
    fs.writeFileSync(file('body'), body.replace('\n3\n', '\n4\n'));
    expect(verify().status).not.toBe(0);

    // openssl → ours: sign a body with openssl, assemble the note, open it.
    const body2 = formatCheckpointBody({ origin: ORIGIN, size: 7, root: leafHash(root) });
    fs.writeFileSync(file('body2'), body2);
    const signed = openssl(
      'pkeyutl',
      '-sign',
      '-inkey',
      file('key.pem'),
      '-rawin',
      '-in',
      file('body2'),
      '-out',
      file('sig2'),
    );
    expect(signed.status, signed.out).toBe(0);
    const sig = fs.readFileSync(file('sig2'));
    expect(sig).toHaveLength(64);
    const assembled = `${body2}\n\u2014 ${ORIGIN} ${Buffer.concat([keyId(ORIGIN, log.publicKey), sig]).toString('base64')}\n`;
    expect(assembled).toBe(
      signCheckpoint({ origin: ORIGIN, size: 7, root: leafHash(root) }, ORIGIN, log.privateKey),
    );
    expect(openCheckpoint(assembled, known)).toMatchObject({ ok: true, checkpoint: { size: 7 } });

    // The key ID with plain sha256: SHA-256(name || 0x0A || 0x01 || raw public key)[:4].
    fs.writeFileSync(
      file('kid'),
      Buffer.concat([Buffer.from(`${ORIGIN}\n`), Buffer.from([1]), rawPublicKey(log.publicKey)]),
    );
    const dgst = openssl('dgst', '-sha256', '-r', file('kid'));
    expect(dgst.out.slice(0, 8)).toBe(keyId(ORIGIN, log.publicKey).toString('hex'));
  });
});
