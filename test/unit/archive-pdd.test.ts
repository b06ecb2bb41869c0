import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yauzl from 'yauzl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBag, checkBag, type BagInfo } from '../../src/archive/bagit.js';
import { encodeEntry, type EntryKind } from '../../src/archive/entry.js';
import { inclusionProof, leafHash, rootOf } from '../../src/archive/merkle.js';
import { verifyPdd, writePdd, type PddDocument, type PddInput } from '../../src/archive/pdd.js';
import { buildZip } from '../helpers/zip-writer.js';

// ---------------------------------------------------------------------------------------------
// A small log, a checkpoint signed by hand (C2SP signed note), and a PdD of three documents.

const ORIGIN = 'fatturad/IT01234567890/archive';
const KEY_NAME = 'fatturad-IT01234567890';
const TIME = '2026-11-29T10:00:00.000Z';
const INFO: BagInfo = {
  sourceOrganization: 'Rossi Forniture S.r.l.',
  externalIdentifier: 'pdd-2026-0001',
  baggingDate: '2026-11-30',
  internalSenderIdentifier: 'fatturad',
  extra: { 'Bag-Software-Agent': 'fatturad test' },
};

let dir = '';
let n = 0;
const tmp = (name: string): string => path.join(dir, `${n++}-${name}`);

interface LogKey {
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
  raw: Buffer;
  pem: string;
  vkey: string;
}

function makeKey(name = KEY_NAME): LogKey {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' });
  const raw = Buffer.from(jwk.x as string, 'base64url');
  return {
    privateKey,
    publicKey,
    raw,
    pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    vkey: `${name}+${keyIdOf(name, raw).toString('hex')}+${Buffer.concat([Buffer.from([1]), raw]).toString('base64')}`,
  };
}

/** C2SP signed-note key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4]. */
function keyIdOf(name: string, raw: Buffer): Buffer {
  return crypto
    .createHash('sha256')
    .update(Buffer.concat([Buffer.from(name, 'utf8'), Buffer.from([0x0a, 0x01]), raw]))
    .digest()
    .subarray(0, 4);
}

/** The checkpoint, written out by hand: body, blank line, "— <name> <base64(key ID || signature)>". */
function signedNote(key: LogKey, size: number, root: Buffer, name = KEY_NAME): string {
  const body = `${ORIGIN}\n${size}\n${root.toString('base64')}\n`;
  const sig = crypto.sign(null, Buffer.from(body, 'utf8'), key.privateKey);
  return `${body}\n\u2014 ${name} ${Buffer.concat([keyIdOf(name, key.raw), sig]).toString('base64')}\n`;
}

const sha256 = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

interface Fixture {
  key: LogKey;
  input: PddInput;
  zip: string;
  root: Buffer;
  size: number;
}
let fx: Fixture;

function entryFor(seq: number, kind: EntryKind, bytes: Buffer, ref: string): Buffer {
  return encodeEntry({ seq, kind, sha256: sha256(bytes), size: bytes.length, ref, time: TIME });
}

function opensslPackages(): { path: string; bytes: Buffer }[] {
  const d = fs.mkdtempSync(path.join(dir, 'cms-'));
  const run = (args: string[]): void => {
    const r = spawnSync('openssl', args, { cwd: d, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  fs.writeFileSync(path.join(d, 'PIndex.xml'), '<?xml version="1.0"?><PIndex>test</PIndex>\n');
  run(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'k.pem',
    ].concat(['-out', 'ca.pem', '-subj', '/CN=Test signer', '-days', '2']),
  );
  run(
    [
      'cms',
      '-sign',
      '-binary',
      '-nodetach',
      '-outform',
      'DER',
      '-in',
      'PIndex.xml',
      '-signer',
      'ca.pem',
    ].concat(['-inkey', 'k.pem', '-out', 'PIndex.xml.p7m']),
  );
  return [
    { path: 'pda-2026-1/PIndex.xml', bytes: fs.readFileSync(path.join(d, 'PIndex.xml')) },
    { path: 'pda-2026-1/PIndex.xml.p7m', bytes: fs.readFileSync(path.join(d, 'PIndex.xml.p7m')) },
    { path: 'certs/ca.pem', bytes: fs.readFileSync(path.join(d, 'ca.pem')) },
  ];
}

function makeFixture(): Omit<Fixture, 'zip'> {
  // A key whose base64 holds a '+', the verifier key's separator: VERIFY.txt must not split on it.
  let key = makeKey();
  while (!key.vkey.split('+').slice(2).join('+').includes('+')) key = makeKey();
  const invoice = Buffer.from('<?xml version="1.0"?><p:FatturaElettronica>A</p:FatturaElettronica>\n');
  const receipt = Buffer.from('<?xml version="1.0"?><ns2:RicevutaConsegna>RC</ns2:RicevutaConsegna>\n');
  const passive = Buffer.concat([Buffer.from([0x30, 0x82, 0x01, 0x00]), crypto.randomBytes(256)]);
  const docs = [
    { seq: 1, kind: 'invoice' as const, name: 'IT01234567890_00001.xml', bytes: invoice },
    { seq: 2, kind: 'notification' as const, name: 'IT01234567890_00001_RC_001.xml', bytes: receipt },
    { seq: 5, kind: 'invoice' as const, name: 'IT09876543210_0000A.xml.p7m', bytes: passive },
  ];
  // Seven entries (not a power of two): the documents and some others around them.
  const entries: Buffer[] = [];
  for (let seq = 0; seq < 7; seq++) {
    const d = docs.find((x) => x.seq === seq);
    entries.push(
      d
        ? entryFor(seq, d.kind, d.bytes, d.name)
        : entryFor(seq, 'document-metadata', Buffer.from(`{"n":${seq}}`), `m${seq}`),
    );
  }
  const leaves = entries.map((e) => leafHash(e));
  const size = entries.length;
  const root = rootOf(leaves);
  const documents: PddDocument[] = docs.map((d) => ({
    name: d.name,
    bytes: d.bytes,
    sha256: sha256(d.bytes),
    metadata: { kind: d.kind, identificativoSdI: '123456789', flow: d.seq === 5 ? 'passive' : 'active' },
    leafIndex: d.seq,
    entry: entries[d.seq] as Buffer,
    proof: inclusionProof(leaves, d.seq, size),
  }));
  const input: PddInput = {
    id: 'pdd-2026-0001',
    documents,
    checkpointNote: signedNote(key, size, root),
    treeSize: size,
    rootHex: root.toString('hex'),
    logPublicKeyPem: key.pem,
    verifierKey: key.vkey,
    origin: ORIGIN,
    packages: opensslPackages(),
    info: INFO,
  };
  return { key, input, root, size };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fatturad-pdd-'));
  const f = makeFixture();
  const zip = path.join(dir, 'exports', 'pdd-2026-0001.zip');
  await writePdd(f.input, zip);
  fx = { ...f, zip };
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Zip helpers: read a PdD into a map, write a map back (as a tamperer would)

async function readZip(file: string): Promise<Map<string, Buffer>> {
  const zip = await yauzl.fromBufferPromise(fs.readFileSync(file), { lazyEntries: true });
  const files = new Map<string, Buffer>();
  for await (const e of zip.eachEntry()) {
    const chunks: Buffer[] = [];
    for await (const c of (await zip.openReadStreamPromise(e)) as AsyncIterable<Buffer>) chunks.push(c);
    files.set(e.fileName, Buffer.concat(chunks));
  }
  zip.close();
  return files;
}

function writeZip(files: Map<string, Buffer>): string {
  const file = tmp('pdd.zip');
  fs.writeFileSync(
    file,
    buildZip([...files].map(([name, data]) => ({ name, data, method: 'deflate' as const }))),
  );
  return file;
}

/** Recomputes manifests, tag manifests and Payload-Oxum, as a tamperer who knows BagIt would. */
function rebag(files: Map<string, Buffer>): Map<string, Buffer> {
  const payload = [...files]
    .filter(([p]) => p.startsWith('data/'))
    .map(([p, bytes]) => ({ path: p.slice('data/'.length), bytes }));
  const tags = [{ path: 'VERIFY.txt', bytes: files.get('VERIFY.txt') as Buffer }];
  return new Map(buildBag(payload, INFO, tags).map((f) => [f.path, f.bytes]));
}

async function tampered(
  change: (files: Map<string, Buffer>) => void,
  opts: { rebag?: boolean } = {},
): Promise<string> {
  const files = await readZip(fx.zip);
  change(files);
  return writeZip(opts.rebag ? rebag(files) : files);
}

function flipByte(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c[at] = (c[at] as number) ^ 0x01;
  return c;
}

const codes = (r: { findings: { code: string }[] }): string[] =>
  [...new Set(r.findings.map((f) => f.code))].sort();

const DOC = 'data/documents/IT01234567890_00001.xml';

// ---------------------------------------------------------------------------------------------

describe('writePdd', () => {
  it('writes a BagIt bag with the documented layout, in a stable order', async () => {
    const files = await readZip(fx.zip);
    const names = [...files.keys()];
    expect(names.slice(0, 3)).toEqual(['bagit.txt', 'bag-info.txt', 'VERIFY.txt']);
    expect(names).toEqual(
      expect.arrayContaining([
        'manifest-sha256.txt',
        'manifest-sha512.txt',
        'tagmanifest-sha256.txt',
        'tagmanifest-sha512.txt',
        'data/pdd.json',
        DOC,
        `${DOC}.metadata.json`,
        'data/proofs/checkpoint.note',
        'data/proofs/log-key.pub',
        'data/proofs/log-key.vkey',
        'data/proofs/inclusion/1.json',
        'data/proofs/inclusion/2.json',
        'data/proofs/inclusion/5.json',
        'data/packages/pda-2026-1/PIndex.xml.p7m',
      ]),
    );
    expect(files.get('bagit.txt')?.toString()).toBe(
      'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n',
    );
    const info = files.get('bag-info.txt')?.toString() ?? '';
    const payload = names.filter((p) => p.startsWith('data/'));
    const octets = payload.reduce((s, p) => s + (files.get(p)?.length ?? 0), 0);
    expect(info).toContain(`Payload-Oxum: ${octets}.${payload.length}\n`);
    expect(info).toContain('Source-Organization: Rossi Forniture S.r.l.\n');
    expect(info).toContain('Bagging-Date: 2026-11-30\n');
    // Two spaces between hash and path, as sha256sum writes them.
    expect(files.get('manifest-sha256.txt')?.toString()).toContain(
      `${sha256(fx.input.documents[0]?.bytes as Buffer)}  ${DOC}\n`,
    );
    const proof = JSON.parse(files.get('data/proofs/inclusion/5.json')?.toString() ?? '') as Record<
      string,
      unknown
    >;
    expect(proof).toEqual({
      leafIndex: 5,
      treeSize: 7,
      entry: fx.input.documents[2]?.entry.toString('base64'),
      leafHash: leafHash(fx.input.documents[2]?.entry as Buffer).toString('hex'),
      hashes: fx.input.documents[2]?.proof.map((h) => h.toString('hex')),
    });
    expect(checkBag(files)).toMatchObject({ complete: true, valid: true, problems: [] });
  });

  it('writes the same bytes for the same input, and leaves no temporary file', async () => {
    const again = path.join(dir, 'exports', 'again.zip');
    const r = await writePdd(fx.input, again);
    expect(fs.readFileSync(again).equals(fs.readFileSync(fx.zip))).toBe(true);
    expect(r.bytes).toBe(fs.statSync(again).size);
    expect(r.files).toBe((await readZip(again)).size);
    expect(fs.readdirSync(path.dirname(again)).sort()).toEqual(['again.zip', 'pdd-2026-0001.zip']);
  });

  it('refuses to write a PdD that would not verify', async () => {
    const out = tmp('bad.zip');
    const wrongProof = {
      ...fx.input,
      documents: fx.input.documents.map((d, i) => (i === 0 ? { ...d, leafIndex: 3 } : d)),
    };
    await expect(writePdd(wrongProof, out)).rejects.toThrow(/PDD-INCLUSION|PDD-ENTRY-MISMATCH/);
    const otherKey = makeKey();
    await expect(writePdd({ ...fx.input, logPublicKeyPem: otherKey.pem }, out)).rejects.toThrow(
      /PDD-KEY-MISMATCH/,
    );
    await expect(
      writePdd(
        { ...fx.input, documents: [{ ...(fx.input.documents[0] as PddDocument), name: '../x.xml' }] },
        out,
      ),
    ).rejects.toThrow(/plain file name/);
    await expect(
      writePdd(
        { ...fx.input, documents: [{ ...(fx.input.documents[0] as PddDocument), sha256: '0'.repeat(64) }] },
        out,
      ),
    ).rejects.toThrow(/do not hash/);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('verifyPdd', () => {
  it('accepts the PdD as written', async () => {
    const r = await verifyPdd(fx.zip);
    expect(r.findings).toEqual([]);
    expect(r).toMatchObject({ ok: true, documents: 3, treeSize: 7 });
    expect(r.logKeyFingerprint).toBe(sha256(fx.key.publicKey.export({ type: 'spki', format: 'der' })));
    expect((await verifyPdd(fx.zip, { trustedKeys: [fx.key.vkey] })).ok).toBe(true);
  });

  const otherKey = (): LogKey => makeKey();

  const cases: {
    name: string;
    change: (files: Map<string, Buffer>) => void;
    rebag?: boolean;
    expected: string[];
  }[] = [
    {
      name: 'a byte of a document changed',
      change: (f) => f.set(DOC, flipByte(f.get(DOC) as Buffer, 40)),
      expected: ['BAG-CHANGED', 'PDD-DOCUMENT-HASH', 'PDD-ENTRY-MISMATCH'],
    },
    {
      name: 'a byte of a document changed, manifests and index recomputed',
      change: (f) => {
        const doc = flipByte(f.get(DOC) as Buffer, 40);
        f.set(DOC, doc);
        const index = f.get('data/pdd.json')?.toString() ?? '';
        f.set(
          'data/pdd.json',
          Buffer.from(index.replace(sha256(fx.input.documents[0]?.bytes as Buffer), sha256(doc))),
        );
      },
      rebag: true,
      expected: ['PDD-ENTRY-MISMATCH'],
    },
    {
      name: 'a document removed',
      change: (f) => f.delete(DOC),
      expected: ['BAG-MISSING', 'BAG-OXUM', 'PDD-DOCUMENT-MISSING'],
    },
    {
      name: 'a document removed, manifests recomputed',
      change: (f) => f.delete(DOC),
      rebag: true,
      expected: ['PDD-DOCUMENT-MISSING'],
    },
    {
      name: 'an extra payload file added',
      change: (f) => f.set('data/documents/IT01234567890_00099.xml', Buffer.from('<x/>')),
      expected: ['BAG-EXTRA', 'BAG-OXUM', 'PDD-UNINDEXED'],
    },
    {
      name: 'an extra tag file added',
      change: (f) => f.set('NOTES.txt', Buffer.from('nothing to see\n')),
      expected: ['BAG-UNTRACKED'],
    },
    {
      name: 'a manifest line edited',
      change: (f) => {
        const m = f.get('manifest-sha256.txt')?.toString() ?? '';
        const h = sha256(fx.input.documents[0]?.bytes as Buffer);
        f.set('manifest-sha256.txt', Buffer.from(m.replace(h, sha256(Buffer.from('other')))));
      },
      expected: ['BAG-CHANGED'],
    },
    {
      name: 'a proof hash flipped',
      change: (f) => {
        const p = 'data/proofs/inclusion/2.json';
        const j = JSON.parse(f.get(p)?.toString() ?? '') as { hashes: string[] };
        const h = j.hashes[1] as string;
        j.hashes[1] = `${h[0] === '0' ? '1' : '0'}${h.slice(1)}`;
        f.set(p, Buffer.from(JSON.stringify(j)));
      },
      expected: ['BAG-CHANGED', 'BAG-OXUM', 'PDD-INCLUSION', 'PDD-NOT-PROVEN'],
    },
    {
      name: 'a proof hash flipped, manifests recomputed',
      change: (f) => {
        const p = 'data/proofs/inclusion/5.json';
        f.set(
          p,
          Buffer.from(
            (f.get(p)?.toString() ?? '').replace(
              /"hashes": \[\n {4}"(.)/,
              (_m, c: string) => `"hashes": [\n    "${c === 'a' ? 'b' : 'a'}`,
            ),
          ),
        );
      },
      rebag: true,
      expected: ['PDD-INCLUSION', 'PDD-NOT-PROVEN'],
    },
    {
      name: 'the checkpoint note edited',
      change: (f) => {
        const p = 'data/proofs/checkpoint.note';
        f.set(p, Buffer.from((f.get(p)?.toString() ?? '').replace(`\n7\n`, `\n8\n`)));
      },
      expected: ['BAG-CHANGED', 'PDD-CHECKPOINT'],
    },
    {
      name: 'the checkpoint note edited, manifests recomputed',
      change: (f) => {
        const p = 'data/proofs/checkpoint.note';
        f.set(p, Buffer.from((f.get(p)?.toString() ?? '').replace(ORIGIN, `${ORIGIN}2`)));
      },
      rebag: true,
      expected: ['PDD-CHECKPOINT'],
    },
    {
      name: 'a different key in the bag (both key files, index too, manifests recomputed)',
      change: (f) => {
        const k = otherKey();
        f.set('data/proofs/log-key.pub', Buffer.from(k.pem));
        f.set('data/proofs/log-key.vkey', Buffer.from(`${k.vkey}\n`));
        const index = f.get('data/pdd.json')?.toString() ?? '';
        f.set('data/pdd.json', Buffer.from(index.replace(fx.key.vkey, k.vkey)));
      },
      rebag: true,
      expected: ['PDD-CHECKPOINT'],
    },
    {
      name: 'a different PEM key beside the verifier key',
      change: (f) => f.set('data/proofs/log-key.pub', Buffer.from(otherKey().pem)),
      rebag: true,
      expected: ['PDD-KEY-MISMATCH'],
    },
    {
      name: 'bagit.txt removed',
      change: (f) => f.delete('bagit.txt'),
      expected: ['BAG-BAGIT-TXT', 'BAG-MISSING', 'PDD-MISSING-FILE'],
    },
  ];

  for (const c of cases) {
    it(`names the tamper: ${c.name}`, async () => {
      const file = await tampered(c.change, { rebag: c.rebag ?? false });
      const r = await verifyPdd(file);
      expect(r.ok).toBe(false);
      expect(codes(r)).toEqual(c.expected);
      for (const f of r.findings) expect(f.message.length).toBeGreaterThan(10);
    });
  }

  it('says where: the changed document and the expected/actual hashes', async () => {
    const r = await verifyPdd(await tampered((f) => f.set(DOC, flipByte(f.get(DOC) as Buffer, 3))));
    const changed = r.findings.filter((f) => f.code === 'BAG-CHANGED');
    expect(changed.map((f) => f.path)).toEqual([DOC, DOC]);
    expect(changed[0]?.message).toMatch(/sha256 expected [0-9a-f]{64}, actual [0-9a-f]{64}/);
  });

  it('a bag re-signed with another key verifies by itself: only the trusted key list catches it', async () => {
    const k = makeKey();
    const file = await tampered(
      (f) => {
        f.set('data/proofs/log-key.pub', Buffer.from(k.pem));
        f.set('data/proofs/log-key.vkey', Buffer.from(`${k.vkey}\n`));
        f.set('data/proofs/checkpoint.note', Buffer.from(signedNote(k, fx.size, fx.root)));
        const index = f.get('data/pdd.json')?.toString() ?? '';
        f.set('data/pdd.json', Buffer.from(index.replace(fx.key.vkey, k.vkey)));
      },
      { rebag: true },
    );
    expect((await verifyPdd(file)).ok).toBe(true);
    const r = await verifyPdd(file, { trustedKeys: [fx.key.vkey] });
    expect(codes(r)).toEqual(['PDD-KEY-UNTRUSTED']);
    expect(r.logKeyFingerprint).not.toBe((await verifyPdd(fx.zip)).logKeyFingerprint);
  });

  it('refuses unsafe zip entries without unpacking them', async () => {
    const files = await readZip(fx.zip);
    const specs = [...files].map(([name, data]) => ({ name, data, method: 'deflate' as const }));
    const file = tmp('evil.zip');
    fs.writeFileSync(
      file,
      buildZip([
        ...specs,
        { name: '../outside.txt', data: Buffer.from('x') },
        { name: '/etc/passwd', data: Buffer.from('x') },
        { name: DOC, data: Buffer.from('second copy') },
      ]),
    );
    const r = await verifyPdd(file);
    expect(codes(r)).toEqual(['ZIP-ABSOLUTE-PATH', 'ZIP-DUPLICATE-ENTRY', 'ZIP-PATH-TRAVERSAL']);
    const big = await verifyPdd(fx.zip, { limits: { maxEntryBytes: 100 } });
    expect(codes(big)).toContain('ZIP-TOO-LARGE');
    const notZip = tmp('not.zip');
    fs.writeFileSync(notZip, 'PK\u0003\u0004 not really');
    expect(codes(await verifyPdd(notZip))).toContain('ZIP-CORRUPT');
  });

  it('turns hostile zip structures into findings, never into exceptions', async () => {
    const hostile = (bytes: Buffer): string => {
      const f = tmp('hostile.zip');
      fs.writeFileSync(f, bytes);
      return f;
    };
    // A ZIP64 locator pointing past 2^53.
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(2n ** 60n, 8);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    expect(codes(await verifyPdd(hostile(Buffer.concat([locator, end]))))).toContain('ZIP-CORRUPT');
    // A local header offset past the end of the file.
    const moved = buildZip([{ name: 'bagit.txt', data: Buffer.from('x') }]);
    moved.writeUInt32LE(0x7fffffff, moved.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 42);
    expect(codes(await verifyPdd(hostile(moved)))).toContain('ZIP-CORRUPT');
    // Damaged stored data: the CRC-32 no longer matches.
    const damaged = buildZip([{ name: 'bagit.txt', data: Buffer.from('hello') }]);
    damaged[damaged.indexOf('hello')] = 0x48;
    const r = await verifyPdd(hostile(damaged));
    expect(r.findings).toContainEqual(expect.objectContaining({ code: 'ZIP-CORRUPT', path: 'bagit.txt' }));
  });
});

// ---------------------------------------------------------------------------------------------
// Only the documented commands: unzip, sha256sum, openssl and python3, run as VERIFY.txt says.

function has(cmd: string): boolean {
  return spawnSync('bash', ['-c', `command -v ${cmd}`]).status === 0;
}
const tools = ['unzip', 'sha256sum', 'sha512sum', 'openssl', 'python3'].every(has);

/** The fenced blocks of VERIFY.txt: ```<lang> id=<id> ... ``` */
function blocks(verifyTxt: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of verifyTxt.matchAll(/^```(sh|python) id=([a-z-]+)\n([\s\S]*?)\n```$/gm)) {
    out.set(m[2] as string, `${m[3] as string}\n`);
  }
  return out;
}

describe.skipIf(!tools)('VERIFY.txt, with unzip, sha256sum, openssl and python3 only', () => {
  let bag = '';
  let scripts = new Map<string, string>();

  const run = (cmd: string, args: string[]): { status: number | null; out: string } => {
    const r = spawnSync(cmd, args, {
      cwd: bag,
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C.UTF-8', TMPDIR: dir },
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };
  const block = (id: string): { status: number | null; out: string } => {
    const file = path.join(dir, `block-${id}.${id === 'inclusion' ? 'py' : 'sh'}`);
    fs.writeFileSync(file, scripts.get(id) ?? 'exit 99\n');
    return id === 'inclusion' ? run('python3', [file]) : run('bash', ['-e', '-o', 'pipefail', file]);
  };

  beforeAll(() => {
    bag = path.join(dir, 'unzipped');
    const r = spawnSync('unzip', ['-q', fx.zip, '-d', bag], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    scripts = blocks(fs.readFileSync(path.join(bag, 'VERIFY.txt'), 'utf8'));
  });

  it('has the blocks it announces', () => {
    expect([...scripts.keys()].sort()).toEqual(['bag', 'checkpoint', 'inclusion', 'packages']);
    expect(scripts.get('checkpoint')).toContain(
      'openssl pkeyutl -verify -pubin -inkey data/proofs/log-key.pub -rawin -in "$T/body.txt" -sigfile "$T/sig.bin"',
    );
    expect(scripts.get('checkpoint')).toContain('tail -c +5');
  });

  it('passes on the PdD as written', () => {
    expect(run('sha256sum', ['-c', 'manifest-sha256.txt']).status).toBe(0);
    const b = block('bag');
    expect(b.out).toContain('bag: complete and valid');
    expect(b.status).toBe(0);
    const c = block('checkpoint');
    expect(c.out).toContain('Signature Verified Successfully');
    expect(c.status).toBe(0);
    const p = block('inclusion');
    expect(p.out).toContain('all inclusion proofs and documents check out');
    expect(p.out.match(/^OK/gm)).toHaveLength(6);
    expect(p.status).toBe(0);
    const k = block('packages');
    expect(k.out).toContain('CMS Verification successful');
    expect(k.status).toBe(0);
  });

  it('fails on a changed document (sha256sum, the bag block and the Python script)', () => {
    const doc = path.join(bag, DOC);
    const original = fs.readFileSync(doc);
    try {
      fs.writeFileSync(doc, flipByte(original, 10));
      const s = run('sha256sum', ['-c', 'manifest-sha256.txt']);
      expect(s.status).not.toBe(0);
      expect(s.out).toContain(`${DOC}: FAILED`);
      expect(block('bag').status).not.toBe(0);
      const p = block('inclusion');
      expect(p.status).toBe(1);
      expect(p.out).toContain(
        `FAIL documents/IT01234567890_00001.xml is not the file that log entry 1 names`,
      );
    } finally {
      fs.writeFileSync(doc, original);
    }
  });

  it('fails on an extra payload file (the bag block)', () => {
    const extra = path.join(bag, 'data', 'documents', 'extra.xml');
    fs.writeFileSync(extra, '<x/>');
    try {
      const b = block('bag');
      expect(b.status).not.toBe(0);
      expect(b.out).toContain('> data/documents/extra.xml');
    } finally {
      fs.rmSync(extra);
    }
  });

  it('fails on an edited checkpoint note (openssl) and a flipped proof hash (Python)', () => {
    const note = path.join(bag, 'data', 'proofs', 'checkpoint.note');
    const original = fs.readFileSync(note, 'utf8');
    try {
      fs.writeFileSync(note, original.replace('\n7\n', '\n8\n'));
      const c = block('checkpoint');
      expect(c.status).not.toBe(0);
      expect(c.out).not.toContain('Signature Verified Successfully');
      expect(c.out).toContain('Signature Verification Failure');
    } finally {
      fs.writeFileSync(note, original);
    }
    const proof = path.join(bag, 'data', 'proofs', 'inclusion', '2.json');
    const p0 = fs.readFileSync(proof, 'utf8');
    try {
      const j = JSON.parse(p0) as { hashes: string[] };
      j.hashes[0] = (j.hashes[0] as string).replace(/^./, (c) => (c === 'f' ? 'e' : 'f'));
      fs.writeFileSync(proof, JSON.stringify(j));
      const p = block('inclusion');
      expect(p.status).toBe(1);
      expect(p.out).toContain("FAIL 2.json: the inclusion proof does not lead to the checkpoint's root");
    } finally {
      fs.writeFileSync(proof, p0);
    }
    expect(block('checkpoint').status).toBe(0);
    expect(block('inclusion').status).toBe(0);
  });

  it('fails when the key files disagree (openssl step)', () => {
    const pub = path.join(bag, 'data', 'proofs', 'log-key.pub');
    const original = fs.readFileSync(pub);
    try {
      fs.writeFileSync(pub, makeKey().pem);
      expect(block('checkpoint').status).not.toBe(0);
    } finally {
      fs.writeFileSync(pub, original);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('checkBag', () => {
  const payload = [
    { path: 'plain.txt', bytes: Buffer.from('plain\n') },
    { path: 'with space/a b.txt', bytes: Buffer.from('spaces\n') },
    { path: '100%.txt', bytes: Buffer.from('percent\n') },
    { path: 'line\nbreak.txt', bytes: Buffer.from('newline\n') },
    { path: 'carriage\rreturn.txt', bytes: Buffer.from('cr\n') },
    { path: 'already%0Aencoded.txt', bytes: Buffer.from('literal\n') },
  ];
  const bag = (): Map<string, Buffer> =>
    new Map(
      buildBag(payload, INFO, [{ path: 'VERIFY.txt', bytes: Buffer.from('v\n') }]).map((f) => [
        f.path,
        f.bytes,
      ]),
    );
  const edit = (f: Map<string, Buffer>, p: string, from: string | RegExp, to: string): void => {
    f.set(p, Buffer.from((f.get(p)?.toString() ?? '').replace(from, to)));
  };

  it('percent-encodes CR, LF and % in manifest paths, and reads them back', () => {
    const f = bag();
    const m = f.get('manifest-sha256.txt')?.toString() ?? '';
    expect(m).toContain('  data/100%25.txt\n');
    expect(m).toContain('  data/line%0Abreak.txt\n');
    expect(m).toContain('  data/carriage%0Dreturn.txt\n');
    expect(m).toContain('  data/already%250Aencoded.txt\n');
    expect(m).toContain('  data/with space/a b.txt\n');
    expect(m.split('\n')).toHaveLength(payload.length + 1);
    expect(checkBag(f)).toEqual({ complete: true, valid: true, problems: [], details: [] });
    // Lower-case escapes are read too.
    edit(f, 'manifest-sha512.txt', 'line%0Abreak', 'line%0abreak');
    expect(checkBag(f).problems.filter((p) => !p.includes('manifest-sha512.txt'))).toEqual([]);
  });

  const table: {
    name: string;
    change: (f: Map<string, Buffer>) => void;
    complete: boolean;
    problem: RegExp;
  }[] = [
    {
      name: 'Payload-Oxum mismatch',
      change: (f) => edit(f, 'bag-info.txt', /Payload-Oxum: (\d+)\./, 'Payload-Oxum: 1.'),
      complete: false,
      problem: /^Payload-Oxum mismatch: bag-info.txt says 1\.6 \(octets\.files\), the payload is \d+\.6$/,
    },
    {
      name: 'missing bagit.txt',
      change: (f) => f.delete('bagit.txt'),
      complete: false,
      problem: /^bagit.txt is missing$/,
    },
    {
      name: 'bad bagit.txt',
      change: (f) =>
        f.set('bagit.txt', Buffer.from('BagIt-Version: 2.0\nTag-File-Character-Encoding: UTF-8\n')),
      complete: false,
      problem: /unsupported BagIt-Version 2\.0/,
    },
    {
      name: 'a payload file missing',
      change: (f) => f.delete('data/line\nbreak.txt'),
      complete: false,
      problem: /^missing: data\/line\nbreak\.txt \(listed in manifest-sha256\.txt\)$/,
    },
    {
      name: 'an extra payload file',
      change: (f) => f.set('data/new.txt', Buffer.from('')),
      complete: false,
      problem: /^extra: data\/new\.txt \(not listed in manifest-sha256\.txt\)$/,
    },
    {
      name: 'a changed payload file',
      change: (f) => f.set('data/100%.txt', Buffer.from('PERCENT\n')),
      complete: true,
      problem:
        /^changed: data\/100%\.txt \(sha256 expected [0-9a-f]{64}, actual [0-9a-f]{64}, per manifest-sha256\.txt\)$/,
    },
    {
      name: 'a changed tag file',
      change: (f) => f.set('VERIFY.txt', Buffer.from('w\n')),
      complete: true,
      problem: /^changed: VERIFY\.txt \(sha256 expected/,
    },
    {
      name: 'a manifest path outside data/',
      change: (f) => edit(f, 'manifest-sha256.txt', 'data/plain.txt', 'data/../plain.txt'),
      complete: false,
      problem: /has a "\." or "\.\." segment/,
    },
    {
      name: 'a garbled manifest line',
      change: (f) => edit(f, 'manifest-sha512.txt', /^[0-9a-f]{10}/, 'zz'),
      complete: false,
      problem: /^manifest-sha512\.txt line 1 is not "<sha512 hex> <path>"/,
    },
    {
      name: 'a manifest of an unknown algorithm',
      change: (f) => f.set('manifest-md5.txt', Buffer.from('')),
      complete: true,
      problem: /algorithm md5 is not supported/,
    },
    {
      name: 'no payload manifest',
      change: (f) => {
        f.delete('manifest-sha256.txt');
        f.delete('manifest-sha512.txt');
      },
      complete: false,
      problem: /no payload manifest/,
    },
    {
      name: 'fetch.txt',
      change: (f) => f.set('fetch.txt', Buffer.from('http://example.org/x - data/x\n')),
      complete: false,
      problem: /fetch\.txt is present/,
    },
  ];

  for (const t of table) {
    it(`reports ${t.name}`, () => {
      const f = bag();
      t.change(f);
      const r = checkBag(f);
      expect(r.valid).toBe(false);
      expect(r.complete).toBe(t.complete);
      expect(r.problems.some((p) => t.problem.test(p))).toBe(true);
    });
  }

  it('buildBag refuses unsafe and colliding paths and multi-line bag-info values', () => {
    const one = (p: string): void => {
      buildBag([{ path: p, bytes: Buffer.from('') }], INFO);
    };
    expect(() => one('../x')).toThrow(/segment/);
    expect(() => one('/x')).toThrow(/absolute/);
    expect(() => one('a\\b')).toThrow(/backslash/);
    expect(() =>
      buildBag(
        [
          { path: 'A.xml', bytes: Buffer.from('') },
          { path: 'a.xml', bytes: Buffer.from('') },
        ],
        INFO,
      ),
    ).toThrow(/collide/);
    expect(() => buildBag([], { ...INFO, sourceOrganization: 'a\nb' })).toThrow(/line breaks/);
    expect(() => buildBag([], { ...INFO, baggingDate: '30/11/2026' })).toThrow(/YYYY-MM-DD/);
    expect(() => buildBag([], INFO, [{ path: 'manifest-sha256.txt', bytes: Buffer.from('') }])).toThrow(
      /reserved/,
    );
    expect(checkBag(new Map(buildBag([], INFO).map((f) => [f.path, f.bytes])))).toMatchObject({
      valid: true,
    });
  });
});
