import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAcceptedEntryName } from '../../src/watchers/accept.js';
import { DEFAULT_ZIP_LIMITS, extractZip, inspectZip, type ZipLimits } from '../../src/watchers/zip.js';
import { tempDir } from '../helpers/tmp.js';
import { buildZip, type ZipSpec } from '../helpers/zip-writer.js';

const t = tempDir('fatturad-zip-');
afterAll(() => t.cleanup());
let n = 0;
const MB = 1024 * 1024;
const xml = (s: string): Buffer => Buffer.from(`<?xml version="1.0"?><x>${s}</x>`);

function write(data: Buffer): string {
  const p = path.join(t.dir, `z${n++}.zip`);
  fs.writeFileSync(p, data);
  return p;
}

async function codesOf(file: string, limits: ZipLimits = DEFAULT_ZIP_LIMITS): Promise<string[]> {
  const check = await inspectZip(file, limits, isAcceptedEntryName);
  if (!check.ok) return check.problems.map((p) => p.code);
  return (await extractZip(file, check.entries, limits, async () => undefined)).map((p) => p.code);
}

describe('zip intake', () => {
  it('a good zip: entries listed, bytes extracted identical', async () => {
    const specs: ZipSpec[] = [
      { name: 'IT01234567890_00001.xml', data: xml('a'), method: 'deflate' },
      { name: 'sub/IT01234567890_00002.xml', data: xml('b') },
      { name: 'IT01234567890_00003.xml.p7m', data: Buffer.from([0x30, 0x80, 1, 2, 3]) },
      { name: 'folder/', data: Buffer.alloc(0) },
      { name: '__MACOSX/._IT01234567890_00001.xml', data: Buffer.from('junk') },
      { name: '.DS_Store', data: Buffer.from('junk') },
    ];
    const file = write(buildZip(specs));
    const check = await inspectZip(file, DEFAULT_ZIP_LIMITS, isAcceptedEntryName);
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    expect(check.entries.map((e) => e.baseName)).toEqual([
      'IT01234567890_00001.xml',
      'IT01234567890_00002.xml',
      'IT01234567890_00003.xml.p7m',
    ]);
    const got = new Map<string, Buffer>();
    const problems = await extractZip(file, check.entries, DEFAULT_ZIP_LIMITS, async (e, data) => {
      got.set(e.name, data);
    });
    expect(problems).toEqual([]);
    for (const s of specs.slice(0, 3)) expect(got.get(s.name)?.equals(s.data)).toBe(true);
  });

  const small: ZipLimits = {
    maxEntries: 5,
    maxEntryBytes: 1000,
    maxTotalBytes: 2500,
    maxRatio: 10,
    ratioMinBytes: 100,
  };
  const cases: { name: string; specs: ZipSpec[]; limits?: ZipLimits; code: string }[] = [
    {
      name: 'parent traversal',
      specs: [{ name: '../evil.xml', data: xml('e') }],
      code: 'ZIP-PATH-TRAVERSAL',
    },
    {
      name: 'deep traversal',
      specs: [{ name: 'a/../../evil.xml', data: xml('e') }],
      code: 'ZIP-PATH-TRAVERSAL',
    },
    {
      name: 'absolute unix path',
      specs: [{ name: '/etc/evil.xml', data: xml('e') }],
      code: 'ZIP-ABSOLUTE-PATH',
    },
    {
      name: 'absolute windows path',
      specs: [{ name: 'C:/evil.xml', data: xml('e') }],
      code: 'ZIP-ABSOLUTE-PATH',
    },
    { name: 'backslash', specs: [{ name: '..\\evil.xml', data: xml('e') }], code: 'ZIP-INVALID-NAME' },
    { name: 'control character', specs: [{ name: 'a\u0001.xml', data: xml('e') }], code: 'ZIP-INVALID-NAME' },
    {
      name: 'duplicate names',
      specs: [
        { name: 'a.xml', data: xml('1') },
        { name: 'a.xml', data: xml('2') },
      ],
      code: 'ZIP-DUPLICATE-ENTRY',
    },
    {
      name: 'duplicate names differing in case',
      specs: [
        { name: 'a.xml', data: xml('1') },
        { name: 'A.XML', data: xml('2') },
      ],
      code: 'ZIP-DUPLICATE-ENTRY',
    },
    {
      name: 'same base name in two folders',
      specs: [
        { name: 'x/a.xml', data: xml('1') },
        { name: 'y/a.xml', data: xml('2') },
      ],
      code: 'ZIP-DUPLICATE-ENTRY',
    },
    {
      name: 'nested zip by name',
      specs: [{ name: 'inner.zip', data: buildZip([{ name: 'a.xml', data: xml('i') }]) }],
      code: 'ZIP-NESTED-ARCHIVE',
    },
    {
      name: 'nested archive disguised as xml',
      specs: [{ name: 'x.xml', data: buildZip([{ name: 'a.xml', data: xml('i') }]) }],
      code: 'ZIP-NESTED-ARCHIVE',
    },
    {
      name: 'entry over 5 MB (declared)',
      specs: [{ name: 'big.xml', data: Buffer.alloc(5 * MB + 1, 0x20), method: 'deflate' }],
      limits: { ...DEFAULT_ZIP_LIMITS, maxRatio: 1e9 },
      code: '00003',
    },
    {
      name: 'header lies about the size',
      specs: [{ name: 'lie.xml', data: Buffer.alloc(6 * MB, 0x20), method: 'deflate', declaredSize: 100 }],
      limits: { ...DEFAULT_ZIP_LIMITS, maxRatio: 1e9 },
      code: 'ZIP-SIZE-MISMATCH',
    },
    {
      name: 'total over the limit',
      specs: [0, 1, 2].map((i) => ({ name: `${i}.xml`, data: Buffer.alloc(900, 0x41 + i) })),
      limits: { ...small, maxRatio: 1e9 },
      code: 'ZIP-TOO-LARGE',
    },
    {
      name: 'zip bomb (ratio)',
      specs: [{ name: 'bomb.xml', data: Buffer.alloc(4 * MB, 0), method: 'deflate' }],
      code: 'ZIP-BOMB',
    },
    {
      name: 'too many entries',
      specs: Array.from({ length: 6 }, (_, i) => ({ name: `${i}.xml`, data: xml(String(i)) })),
      limits: small,
      code: 'ZIP-TOO-MANY-ENTRIES',
    },
    {
      name: 'encrypted entry',
      specs: [{ name: 'secret.xml', data: xml('s'), method: 'deflate', encrypted: true }],
      code: 'ZIP-ENCRYPTED',
    },
    {
      name: 'not an invoice file',
      specs: [{ name: 'notes.txt', data: Buffer.from('hi') }],
      code: 'ZIP-UNSUPPORTED-ENTRY',
    },
    { name: 'empty zip', specs: [], code: 'ZIP-EMPTY' },
    {
      name: 'only folders and junk',
      specs: [
        { name: 'dir/', data: Buffer.alloc(0) },
        { name: '__MACOSX/._x.xml', data: Buffer.from('j') },
      ],
      code: 'ZIP-EMPTY',
    },
  ];
  it.each(cases)('refuses: $name → $code', async (c) => {
    const codes = await codesOf(write(buildZip(c.specs)), c.limits);
    expect(codes).toContain(c.code);
  });

  it('refuses a truncated zip and random bytes as corrupt, without throwing', async () => {
    const good = buildZip([{ name: 'a.xml', data: xml('a') }]);
    expect(await codesOf(write(good.subarray(0, good.length - 10)))).toEqual(['ZIP-CORRUPT']);
    expect(await codesOf(write(Buffer.from('this is not a zip at all, just text')))).toEqual(['ZIP-CORRUPT']);
    expect(await codesOf(write(Buffer.alloc(0)))).toEqual(['ZIP-CORRUPT']);
  });

  it('every problem has an English and an Italian message', async () => {
    const check = await inspectZip(
      write(buildZip([{ name: '../x.xml', data: xml('x') }])),
      DEFAULT_ZIP_LIMITS,
      isAcceptedEntryName,
    );
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.problems[0]?.message).toMatch(/outside/);
    expect(check.problems[0]?.messageIt).toMatch(/fuori/);
    expect(check.problems[0]?.entry).toBe('../x.xml');
  });
});
