import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../src/rules/finding.js';
import { isAcceptedEntryName } from '../../src/watchers/accept.js';
import {
  DEFAULT_ZIP_LIMITS,
  extractZip,
  inspectZip,
  type ZipEntryInfo,
  type ZipLimits,
} from '../../src/watchers/zip.js';
import { buildZip, type ZipSpec } from '../helpers/zip-writer.js';

const MB = 1024 * 1024;
let dir = '';
let n = 0;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fatturad-zip-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const xml = (s: string): Buffer => Buffer.from(`<?xml version="1.0"?><x>${s}</x>`);

function write(data: Buffer): string {
  const p = path.join(dir, `z${n++}.zip`);
  fs.writeFileSync(p, data);
  return p;
}

/** Runs both passes as intake does; says which pass refused the zip, and with what. */
async function run(
  file: string,
  limits: ZipLimits = DEFAULT_ZIP_LIMITS,
): Promise<{ pass: 1 | 2; problems: Finding[]; got: Map<string, Buffer> }> {
  const got = new Map<string, Buffer>();
  const check = await inspectZip(file, limits, isAcceptedEntryName);
  if (!check.ok) return { pass: 1, problems: check.problems, got };
  const problems = await extractZip(file, check.entries, limits, async (e, data) => {
    got.set(e.name, data);
  });
  return { pass: 2, problems, got };
}

/** Points the central directory record of entry `which` at the local header of entry 0. */
function overlapEntries(zip: Buffer, which: number): Buffer {
  const out = Buffer.from(zip);
  let seen = 0;
  for (let i = 0; i + 4 <= out.length; i++) {
    if (out.readUInt32LE(i) !== 0x02014b50) continue;
    if (seen++ === which) {
      out.writeUInt32LE(0, i + 42);
      return out;
    }
  }
  throw new Error('entry not found');
}

/** Sets the local header offset of the first central directory record. */
function moveFirstEntry(zip: Buffer, offset: number): Buffer {
  const out = Buffer.from(zip);
  out.writeUInt32LE(offset, out.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 42);
  return out;
}

describe('inspectZip + extractZip: a good zip', () => {
  it('lists the documents, skips folders and junk, and extracts identical bytes', async () => {
    const first = xml('a'.repeat(5000));
    const second = xml('b');
    const specs: ZipSpec[] = [
      { name: 'IT01234567890_00001.xml', data: first, method: 'deflate' },
      { name: 'sub/IT01234567890_00002.xml', data: second },
      { name: 'IT01234567890_00003.xml.p7m', data: Buffer.from([0x30, 0x80, 1, 2, 3]), method: 'deflate' },
      { name: 'folder/', data: Buffer.alloc(0) },
      { name: '__MACOSX/._IT01234567890_00001.xml', data: Buffer.from('junk') },
      { name: '.DS_Store', data: Buffer.from('junk') },
      { name: 'sub/.hidden.xml', data: Buffer.from('junk') },
    ];
    const file = write(buildZip(specs));
    const check = await inspectZip(file, DEFAULT_ZIP_LIMITS, isAcceptedEntryName);
    expect(check).toEqual({
      ok: true,
      entries: [
        {
          index: 0,
          name: 'IT01234567890_00001.xml',
          baseName: 'IT01234567890_00001.xml',
          uncompressedSize: first.length,
          compressedSize: expect.any(Number) as number,
        },
        {
          index: 1,
          name: 'sub/IT01234567890_00002.xml',
          baseName: 'IT01234567890_00002.xml',
          uncompressedSize: second.length,
          compressedSize: second.length,
        },
        {
          index: 2,
          name: 'IT01234567890_00003.xml.p7m',
          baseName: 'IT01234567890_00003.xml.p7m',
          uncompressedSize: 5,
          compressedSize: expect.any(Number) as number,
        },
      ] satisfies ZipEntryInfo[],
    });
    const { pass, problems, got } = await run(file);
    expect([pass, problems]).toEqual([2, []]);
    expect([...got.keys()]).toEqual(specs.slice(0, 3).map((s) => s.name));
    for (const s of specs.slice(0, 3)) expect(got.get(s.name)?.equals(s.data)).toBe(true);
  });

  it('decodes names without the UTF-8 flag as CP437, and UTF-8 names as UTF-8', async () => {
    const file = write(
      buildZip([
        // CP437 0x8a = 'è', 0x85 = 'à'
        { name: '', rawName: Buffer.from([0x66, 0x8a, 0x85, 0x2e, 0x78, 0x6d, 0x6c]), data: xml('1') },
        { name: 'città.xml', data: xml('2') },
      ]),
    );
    const check = await inspectZip(file, DEFAULT_ZIP_LIMITS, isAcceptedEntryName);
    expect(check.ok && check.entries.map((e) => e.name)).toEqual(['fèà.xml', 'città.xml']);
  });

  it('an entry of exactly the limits is taken', async () => {
    const limits: ZipLimits = { ...DEFAULT_ZIP_LIMITS, maxEntryBytes: 1000, maxTotalBytes: 2000 };
    const file = write(
      buildZip([
        { name: 'a.xml', data: crypto.randomBytes(1000) },
        { name: 'b.xml', data: crypto.randomBytes(1000), method: 'deflate' },
      ]),
    );
    const { pass, problems } = await run(file, limits);
    expect([pass, problems]).toEqual([2, []]);
  });
});

interface Case {
  name: string;
  zip: () => Buffer;
  limits?: ZipLimits;
  /** The pass expected to catch it: 1 = central directory only, 2 = real bytes. */
  pass: 1 | 2;
  codes: string[];
}

/** Small limits for the size rules, so that the tests stay fast. */
const small: ZipLimits = {
  maxEntries: 5,
  maxEntryBytes: 1000,
  maxTotalBytes: 2500,
  maxRatio: 10,
  ratioMinBytes: 100,
};
const one = (name: string, data: Buffer = xml('e'), more: Partial<ZipSpec> = {}): (() => Buffer) => {
  return () => buildZip([{ name, data, ...more }]);
};
const innerZip = (): Buffer => buildZip([{ name: 'a.xml', data: xml('inner') }]);

const cases: Case[] = [
  // Names
  { name: 'parent traversal', zip: one('../evil.xml'), pass: 1, codes: ['ZIP-PATH-TRAVERSAL'] },
  { name: 'deep traversal', zip: one('a/../../evil.xml'), pass: 1, codes: ['ZIP-PATH-TRAVERSAL'] },
  { name: 'traversal with backslashes', zip: one('..\\evil.xml'), pass: 1, codes: ['ZIP-PATH-TRAVERSAL'] },
  { name: 'absolute unix path', zip: one('/etc/evil.xml'), pass: 1, codes: ['ZIP-ABSOLUTE-PATH'] },
  { name: 'absolute windows path', zip: one('C:/evil.xml'), pass: 1, codes: ['ZIP-ABSOLUTE-PATH'] },
  { name: 'drive-relative windows path', zip: one('c:evil.xml'), pass: 1, codes: ['ZIP-ABSOLUTE-PATH'] },
  { name: 'UNC path', zip: one('\\\\server\\share\\evil.xml'), pass: 1, codes: ['ZIP-ABSOLUTE-PATH'] },
  { name: 'backslash', zip: one('dir\\evil.xml'), pass: 1, codes: ['ZIP-INVALID-NAME'] },
  { name: 'NUL in the name', zip: one('evil.xml\u0000.txt'), pass: 1, codes: ['ZIP-INVALID-NAME'] },
  { name: 'control character', zip: one('a\u0001.xml'), pass: 1, codes: ['ZIP-INVALID-NAME'] },
  {
    name: 'control byte in a CP437 name (which decodes it to a glyph)',
    zip: one('', xml('e'), { rawName: Buffer.from('a\u0001.xml', 'latin1') }),
    pass: 1,
    codes: ['ZIP-INVALID-NAME'],
  },
  {
    name: 'invalid UTF-8 with the UTF-8 flag',
    zip: one('', xml('e'), { rawName: Buffer.from([0x61, 0xff, 0xfe, 0x2e, 0x78, 0x6d, 0x6c]), utf8: true }),
    pass: 1,
    codes: ['ZIP-INVALID-NAME'],
  },
  {
    name: 'duplicate names',
    zip: () =>
      buildZip([
        { name: 'a.xml', data: xml('1') },
        { name: 'a.xml', data: xml('2') },
      ]),
    pass: 1,
    codes: ['ZIP-DUPLICATE-ENTRY'],
  },
  {
    name: 'duplicate names differing in case',
    zip: () =>
      buildZip([
        { name: 'a.xml', data: xml('1') },
        { name: 'A.XML', data: xml('2') },
      ]),
    pass: 1,
    codes: ['ZIP-DUPLICATE-ENTRY'],
  },
  {
    name: 'duplicate names differing in Unicode normalisation',
    zip: () =>
      buildZip([
        { name: 'citt\u00e0.xml', data: xml('1') },
        { name: 'citta\u0300.xml', data: xml('2') },
      ]),
    pass: 1,
    codes: ['ZIP-DUPLICATE-ENTRY'],
  },
  {
    name: 'same base name in two folders',
    zip: () =>
      buildZip([
        { name: 'x/a.xml', data: xml('1') },
        { name: 'y/A.xml', data: xml('2') },
      ]),
    pass: 1,
    codes: ['ZIP-DUPLICATE-ENTRY'],
  },
  // Nested archives
  { name: 'nested zip by name', zip: one('inner.zip', innerZip()), pass: 1, codes: ['ZIP-NESTED-ARCHIVE'] },
  { name: 'nested tar.gz by name', zip: one('x/INNER.TAR.GZ'), pass: 1, codes: ['ZIP-NESTED-ARCHIVE'] },
  {
    name: 'zip disguised as .xml (magic bytes)',
    zip: one('x.xml', innerZip(), { method: 'deflate' }),
    pass: 2,
    codes: ['ZIP-NESTED-ARCHIVE'],
  },
  {
    name: 'gzip disguised as .xml.p7m (magic bytes)',
    zip: one('x.xml.p7m', Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), crypto.randomBytes(50)])),
    pass: 2,
    codes: ['ZIP-NESTED-ARCHIVE'],
  },
  {
    name: 'rar disguised as .p7m (magic bytes)',
    zip: one('x.p7m', Buffer.from('Rar!\u001a\u0007\u0001\u0000rest', 'latin1')),
    pass: 2,
    codes: ['ZIP-NESTED-ARCHIVE'],
  },
  // Sizes
  {
    name: 'entry over 5 MiB (real bytes, headers telling the truth)',
    zip: one('big.xml', crypto.randomBytes(5 * MB + 1)),
    pass: 1,
    codes: ['00003'],
  },
  {
    name: 'entry over 5 MiB (declared only: pass 1 never decompresses)',
    // The ratio is absurd too: the size rule comes first, since it names SdI's own limit.
    zip: one('big.xml', xml('small'), { method: 'deflate', declaredSize: 5 * MB + 1 }),
    pass: 1,
    codes: ['00003'],
  },
  {
    name: 'header lies: declared 100 bytes, really 6 MiB',
    zip: one('lie.xml', Buffer.alloc(6 * MB, 0x20), { method: 'deflate', declaredSize: 100 }),
    pass: 2,
    codes: ['ZIP-SIZE-MISMATCH'],
  },
  {
    name: 'header lies: declared more than the real bytes',
    zip: one('lie.xml', xml('short'), { method: 'deflate', declaredSize: 5000 }),
    pass: 2,
    codes: ['ZIP-SIZE-MISMATCH'],
  },
  {
    name: 'header lies about a stored entry (sizes disagree in the central directory)',
    zip: one('lie.xml', xml('stored'), { declaredSize: 3 }),
    pass: 1,
    codes: ['ZIP-SIZE-MISMATCH'],
  },
  {
    name: 'total over the limit (small limits)',
    zip: () => buildZip([0, 1, 2].map((i) => ({ name: `${i}.xml`, data: crypto.randomBytes(900) }))),
    limits: small,
    pass: 1,
    codes: ['ZIP-TOO-LARGE'],
  },
  {
    name: 'zip bomb: 20 MiB of zeros deflated, entry size limit raised so that the ratio rule fires',
    zip: one('bomb.xml', Buffer.alloc(20 * MB), { method: 'deflate' }),
    limits: { ...DEFAULT_ZIP_LIMITS, maxEntryBytes: 64 * MB },
    pass: 1,
    codes: ['ZIP-BOMB'],
  },
  {
    name: 'zip bomb: 4 MiB of zeros deflated, default limits',
    zip: one('bomb.xml', Buffer.alloc(4 * MB), { method: 'deflate' }),
    pass: 1,
    codes: ['ZIP-BOMB'],
  },
  {
    name: 'zip bomb: overlapping entries reuse the same compressed bytes',
    zip: () =>
      overlapEntries(
        buildZip([
          { name: 'a.xml', data: xml('1') },
          { name: 'b.xml', data: xml('1') },
        ]),
        1,
      ),
    pass: 1,
    codes: ['ZIP-BOMB'],
  },
  {
    name: 'too many entries (small limits)',
    zip: () => buildZip(Array.from({ length: 6 }, (_, i) => ({ name: `${i}.xml`, data: xml(String(i)) }))),
    limits: small,
    pass: 1,
    codes: ['ZIP-TOO-MANY-ENTRIES'],
  },
  // Other refusals
  {
    name: 'encrypted entry',
    zip: one('secret.xml', xml('s'), { method: 'deflate', encrypted: true }),
    pass: 1,
    codes: ['ZIP-ENCRYPTED'],
  },
  {
    name: 'strong encryption (flag bit 6, which yauzl refuses for the whole file)',
    zip: () => {
      const z = buildZip([{ name: 'secret.xml', data: xml('s'), encrypted: true }]);
      const cd = z.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
      z.writeUInt16LE(z.readUInt16LE(cd + 8) | 0x40, cd + 8);
      return z;
    },
    pass: 1,
    codes: ['ZIP-ENCRYPTED'],
  },
  {
    name: 'unsupported compression method (LZMA)',
    zip: one('a.xml', xml('s'), { method: 14 }),
    pass: 1,
    codes: ['ZIP-UNSUPPORTED-METHOD'],
  },
  {
    name: 'not an invoice file',
    zip: one('notes.txt', Buffer.from('hi')),
    pass: 1,
    codes: ['ZIP-UNSUPPORTED-ENTRY'],
  },
  { name: 'empty zip', zip: () => buildZip([]), pass: 1, codes: ['ZIP-EMPTY'] },
  {
    name: 'only a folder, macOS junk and a hidden file',
    zip: () =>
      buildZip([
        { name: 'dir/', data: Buffer.alloc(0) },
        { name: '__MACOSX/._x.xml', data: Buffer.from('j') },
        { name: 'dir/.x.xml', data: Buffer.from('j') },
      ]),
    pass: 1,
    codes: ['ZIP-EMPTY'],
  },
  // Damage
  {
    name: 'truncated zip',
    zip: () => {
      const good = buildZip([{ name: 'a.xml', data: xml('a') }]);
      return good.subarray(0, good.length - 10);
    },
    pass: 1,
    codes: ['ZIP-CORRUPT'],
  },
  { name: 'random garbage', zip: () => crypto.randomBytes(3000), pass: 1, codes: ['ZIP-CORRUPT'] },
  { name: 'text, not a zip', zip: () => Buffer.from('this is not a zip'), pass: 1, codes: ['ZIP-CORRUPT'] },
  { name: 'empty file', zip: () => Buffer.alloc(0), pass: 1, codes: ['ZIP-CORRUPT'] },
  {
    name: 'central directory cut short',
    zip: () => {
      const good = buildZip([{ name: 'a.xml', data: xml('a') }]);
      const cdStart = good.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
      return Buffer.concat([good.subarray(0, cdStart + 20), good.subarray(good.length - 22)]);
    },
    pass: 1,
    codes: ['ZIP-CORRUPT'],
  },
  {
    name: 'ZIP64 locator pointing past 2^53 (makes yauzl.open throw an uncaught exception)',
    zip: () => {
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(0x07064b50, 0);
      locator.writeBigUInt64LE(2n ** 60n, 8);
      const end = Buffer.alloc(22);
      end.writeUInt32LE(0x06054b50, 0);
      return Buffer.concat([locator, end]);
    },
    pass: 1,
    codes: ['ZIP-CORRUPT'],
  },
  {
    name: 'local header offset past the end of the file',
    zip: () => moveFirstEntry(buildZip([{ name: 'a.xml', data: xml('a') }]), 0x7fffffff),
    pass: 1,
    codes: ['ZIP-CORRUPT'],
  },
  {
    name: 'damaged stored data (CRC-32 mismatch)',
    zip: () => {
      const z = buildZip([{ name: 'a.xml', data: xml('hello') }]);
      const at = z.indexOf('hello');
      z[at] = 0x48; // 'H'
      return z;
    },
    pass: 2,
    codes: ['ZIP-CORRUPT'],
  },
  {
    name: 'damaged deflate stream',
    zip: () => {
      const z = buildZip([{ name: 'a.xml', data: crypto.randomBytes(2000), method: 'deflate' }]);
      z.fill(0xff, 30 + 'a.xml'.length, 30 + 'a.xml'.length + 40);
      return z;
    },
    pass: 2,
    codes: ['ZIP-CORRUPT'],
  },
];

describe('inspectZip + extractZip: hostile and broken zips', () => {
  it.each(cases)('$name → $codes (pass $pass)', async (c) => {
    const { pass, problems, got } = await run(write(c.zip()), c.limits);
    expect({ pass, codes: problems.map((p) => p.code) }).toEqual({ pass: c.pass, codes: c.codes });
    expect(got.size).toBe(0);
    for (const p of problems) {
      expect(p.message.length).toBeGreaterThan(10);
      expect(p.messageIt.length).toBeGreaterThan(10);
      expect(p.messageIt).not.toBe(p.message);
    }
  });

  it('collects every problem of the central directory, in order, with the entry names', async () => {
    const file = write(
      buildZip([
        { name: '../a.xml', data: xml('1') },
        { name: 'ok.xml', data: xml('2') },
        { name: 'notes.txt', data: Buffer.from('x') },
        { name: 'sub/OK.xml', data: xml('3') },
        { name: 'inner.zip', data: innerZip() },
      ]),
    );
    const check = await inspectZip(file, DEFAULT_ZIP_LIMITS, isAcceptedEntryName);
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.problems.map((p) => [p.code, p.entry])).toEqual([
      ['ZIP-PATH-TRAVERSAL', '../a.xml'],
      ['ZIP-UNSUPPORTED-ENTRY', 'notes.txt'],
      ['ZIP-DUPLICATE-ENTRY', 'sub/OK.xml'],
      ['ZIP-NESTED-ARCHIVE', 'inner.zip'],
    ]);
    expect(check.problems[0]?.message).toMatch(/outside/);
    expect(check.problems[0]?.messageIt).toMatch(/fuori/);
  });

  it('the size finding names the entry size and the limit', async () => {
    const check = await inspectZip(
      write(buildZip([{ name: 'big.xml', data: xml('x'), method: 'deflate', declaredSize: 6 * MB }])),
      DEFAULT_ZIP_LIMITS,
      isAcceptedEntryName,
    );
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.problems).toEqual([
      {
        code: '00003',
        entry: 'big.xml',
        message: expect.stringMatching(/6\.00 MB \(6291456 bytes\).*5\.00 MB \(5242880 bytes\)/) as string,
        messageIt: expect.stringMatching(/6,00 MB \(6291456 byte\).*5,00 MB \(5242880 byte\)/) as string,
      },
    ]);
  });

  it('stops at the first problem in pass 2, after handing the earlier entries to the sink', async () => {
    const file = write(
      buildZip([
        { name: 'a.xml', data: xml('a') },
        { name: 'b.xml', data: innerZip() },
        { name: 'c.xml', data: xml('c') },
      ]),
    );
    const { pass, problems, got } = await run(file);
    expect(pass).toBe(2);
    expect(problems.map((p) => [p.code, p.entry])).toEqual([['ZIP-NESTED-ARCHIVE', 'b.xml']]);
    expect([...got.keys()]).toEqual(['a.xml']);
  });

  it('an error thrown by the sink propagates: it is not a problem with the zip', async () => {
    const file = write(buildZip([{ name: 'a.xml', data: xml('a') }]));
    const check = await inspectZip(file, DEFAULT_ZIP_LIMITS, isAcceptedEntryName);
    if (!check.ok) throw new Error('expected ok');
    await expect(
      extractZip(file, check.entries, DEFAULT_ZIP_LIMITS, async () => {
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
  });

  it('a missing file is an I/O error, thrown, not a verdict on the zip', async () => {
    await expect(
      inspectZip(path.join(dir, 'does-not-exist.zip'), DEFAULT_ZIP_LIMITS, isAcceptedEntryName),
    ).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.skipIf(!fs.existsSync('/proc/self/fd'))('leaves no file descriptor open, whatever happens', async () => {
    const openFds = (): number => fs.readdirSync('/proc/self/fd').length;
    const files = cases.map((c) => ({ file: write(c.zip()), limits: c.limits }));
    // Once first, so that lazily opened descriptors (e.g. the thread pool's) are already there.
    for (const f of files) await run(f.file, f.limits);
    await new Promise((r) => setTimeout(r, 50));
    const before = openFds();
    for (let round = 0; round < 3; round++) {
      for (const f of files) await run(f.file, f.limits);
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(openFds()).toBe(before);
  });
});
