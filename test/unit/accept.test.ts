import { describe, expect, it } from 'vitest';
import { checkInput, isAcceptedEntryName, isIgnoredName, kindOf } from '../../src/watchers/accept.js';

describe('intake acceptance rules', () => {
  it.each([
    ['.hidden.xml', true],
    ['~lock.xml', true],
    ['IT01234567890_00001.xml.tmp', true],
    ['x.part', true],
    ['x.PART', true],
    ['x.crdownload', true],
    ['IT01234567890_00001.xml', false],
    ['a.zip', false],
    ['notes.txt', false],
  ])('ignored name %s → %s', (name, ignored) => expect(isIgnoredName(name)).toBe(ignored));

  it.each([
    ['IT01234567890_00001.xml', 'xml'],
    ['IT01234567890_00001.XML', 'xml'],
    ['IT01234567890_00001.xml.p7m', 'p7m'],
    ['IT01234567890_00001.P7M', 'p7m'],
    ['lotto.zip', 'zip'],
    ['notes.txt', null],
    ['xml', null],
  ])('kind of %s → %s', (name, kind) => expect(kindOf(name)).toBe(kind));

  it('zip entries: documents only, no nested zip', () => {
    expect(isAcceptedEntryName('a.xml')).toBe(true);
    expect(isAcceptedEntryName('a.xml.p7m')).toBe(true);
    expect(isAcceptedEntryName('a.zip')).toBe(false);
  });

  const MB5 = 5 * 1024 * 1024;
  it.each([
    ['a.xml', 100, []],
    ['a.xml', MB5, []],
    ['a.xml', MB5 + 1, ['00003']],
    ['a.xml.p7m', MB5 + 1, ['00003']],
    ['a.zip', MB5 * 10, []],
    ['a.txt', 10, ['00001']],
    ['a.txt', MB5 + 1, ['00001', '00003']],
    ['a.xml', 0, ['EMPTY-FILE']],
  ])('%s of %i bytes → %j', (name, size, codes) => {
    const found = checkInput(name, size, MB5);
    expect(found.map((f) => f.code)).toEqual(codes);
    for (const f of found) {
      expect(f.message.length).toBeGreaterThan(10);
      expect(f.messageIt.length).toBeGreaterThan(10);
    }
  });
});
