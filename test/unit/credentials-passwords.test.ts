import { describe, expect, it } from 'vitest';
import { checkSecret, isSecret, type Secret } from '../../src/credentials/passwords.js';

/**
 * The secrets asked by Entratel's "Imposta ambiente": the protection password (8 to 15 letters
 * and digits, no accented letters) and the PIN di revoca (15 to 20 characters; letters and digits
 * only, to be safe).
 */

const LENGTH = /characters long/;
const ACCENTED = /Accented letters and letters outside A–Z/;
const BLANK = /Spaces and other blank characters/;
const CONTROL = /Control or invisible characters/;
const EMOJI = /Emoji are not accepted/;
const SYMBOL = /Symbols and punctuation/;
const OTHER_DIGIT = /Digits outside 0–9/;

type Row = [label: string, kind: Secret, proposal: string, expected: RegExp[]];

const rows: Row[] = [
  // protection password: length
  ['password, 7 characters', 'entratel-password', 'abc1234', [LENGTH]],
  ['password, 8 characters', 'entratel-password', 'abcd1234', []],
  ['password, 15 characters', 'entratel-password', 'Abcdefg12345678', []],
  ['password, 16 characters', 'entratel-password', 'Abcdefg123456789', [LENGTH]],
  ['password, empty', 'entratel-password', '', [/is empty/]],
  // protection password: alphabet
  ['password with à', 'entratel-password', 'password1à', [ACCENTED]],
  ['password with è', 'entratel-password', 'passwordè9', [ACCENTED]],
  ['password with è decomposed (e + U+0300)', 'entratel-password', 'passworde\u03009', [ACCENTED]],
  ['password with ß', 'entratel-password', 'straße123', [ACCENTED]],
  ['password with a Cyrillic а', 'entratel-password', 'p\u0430ssword1', [ACCENTED]],
  ['password with a space', 'entratel-password', 'pass word1', [BLANK]],
  ['password with a tab', 'entratel-password', 'pass\tword1', [BLANK]],
  ['password with a no-break space', 'entratel-password', 'pass\u00a0word1', [BLANK]],
  ['password with NUL', 'entratel-password', 'password\u00001', [CONTROL]],
  ['password with a zero-width space', 'entratel-password', 'pass\u200bword1', [CONTROL]],
  ['password with an emoji', 'entratel-password', 'password1😀', [EMOJI]],
  ['password with a ZWJ emoji sequence', 'entratel-password', 'password1👩‍💻', [EMOJI]],
  ['password with a keycap emoji', 'entratel-password', 'password1️⃣', [EMOJI]],
  ['password with punctuation', 'entratel-password', 'password1!', [SYMBOL]],
  ['password with a full-width digit', 'entratel-password', 'password１', [OTHER_DIGIT]],
  ['password, too long and accented', 'entratel-password', 'àèìòùàèìòùàèìòùà', [LENGTH, ACCENTED]],
  // PIN di revoca
  ['PIN, 14 characters', 'pin-revoca', 'ABCDEFG1234567', [LENGTH]],
  ['PIN, 15 characters', 'pin-revoca', 'ABCDEFG12345678', []],
  ['PIN, 20 characters', 'pin-revoca', 'ABCDEFGHIJ1234567890', []],
  ['PIN, 21 characters', 'pin-revoca', 'ABCDEFGHIJ12345678901', [LENGTH]],
  ['PIN, digits only', 'pin-revoca', '123456789012345', []],
  ['PIN with à', 'pin-revoca', 'ABCDEFG1234567à', [ACCENTED]],
  ['PIN with è', 'pin-revoca', 'ABCDEFGè1234567', [ACCENTED]],
  ['PIN with a space', 'pin-revoca', 'ABCDEFG 12345678', [BLANK]],
  ['PIN with an emoji', 'pin-revoca', 'ABCDEFG1234567🔑', [EMOJI]],
  ['PIN with NUL', 'pin-revoca', 'ABCDEFG1234567\u0000', [CONTROL]],
  ['PIN with a hyphen', 'pin-revoca', 'ABCDEFG-12345678', [SYMBOL]],
];

describe('checkSecret', () => {
  it.each(rows)('%s', (_label, kind, proposal, expected) => {
    const r = checkSecret(kind, proposal);
    expect(r.ok).toBe(expected.length === 0);
    expect(r.problems).toHaveLength(expected.length);
    expected.forEach((pattern, i) => expect(r.problems[i]).toMatch(pattern));
  });

  it.each(rows.filter((r) => r[2].length >= 4))(
    'never repeats the proposal: %s',
    (_label, kind, proposal) => {
      const r = checkSecret(kind, proposal);
      for (const text of [...r.problems, ...r.advice]) {
        expect(text).not.toContain(proposal);
        // nor any non-ASCII character of it (accented letters, emoji, invisible characters)
        for (const ch of proposal) if ((ch.codePointAt(0) ?? 0) > 0x7e) expect(text).not.toContain(ch);
      }
    },
  );

  it('counts characters as a person sees them', () => {
    // 'è' typed as e + U+0300 is one character: 15 of them is the right length, still refused
    const r = checkSecret('pin-revoca', 'e\u0300'.repeat(15));
    expect(r.problems).toEqual([
      'Accented letters and letters outside A–Z are not accepted (15 found): use only A–Z, a–z and 0–9.',
    ]);
  });

  it('states the rule and the length found', () => {
    expect(checkSecret('entratel-password', 'abc1234').problems).toEqual([
      'The protection password must be 8 to 15 characters long; this one has 7.',
    ]);
    expect(checkSecret('pin-revoca', 'ABCDEFGHIJ12345678901').problems).toEqual([
      'The PIN di revoca must be 15 to 20 characters long; this one has 21.',
    ]);
  });

  it('advises, without refusing, a password of only digits or only letters', () => {
    expect(checkSecret('entratel-password', '12345678')).toEqual({
      ok: true,
      problems: [],
      advice: ['It has digits only: a mix of letters and digits is harder to guess.'],
    });
    expect(checkSecret('entratel-password', 'abcdefgh')).toEqual({
      ok: true,
      problems: [],
      advice: ['It has letters only: a mix of letters and digits is harder to guess.'],
    });
    expect(checkSecret('entratel-password', 'abcd1234').advice).toEqual([]);
  });

  it('recognises the kinds of secret', () => {
    expect(isSecret('pin-revoca')).toBe(true);
    expect(isSecret('entratel-password')).toBe(true);
    expect(isSecret('password')).toBe(false);
  });
});
