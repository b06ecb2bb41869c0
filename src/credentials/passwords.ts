/**
 * `fatturad credentials check-password`: checks a proposed secret for a new Entratel security
 * environment before it is typed into the "Imposta ambiente" wizard, where a refusal means
 * starting over in the middle of the night.
 *
 * - Protection password ('entratel-password'): 8 to 15 letters and digits, no accented letters,
 *   as the renewal guides for intermediaries state it. Nothing documented requires a mix of
 *   letters and digits, so a password of only digits or only letters passes, with advice.
 * - PIN di revoca ('pin-revoca'): 15 to 20 characters. The Agenzia delle Entrate does not document
 *   its alphabet publicly; to be safe this accepts only what the password accepts: the letters
 *   A–Z and a–z and the digits 0–9 (no accented letters, no spaces, no symbols).
 *
 * Characters are counted as a person sees them (grapheme clusters): 'è' counts once whether it
 * is typed as one code point or as 'e' plus a combining accent. Problems and advice never repeat
 * the proposal or quote any of its characters: they give counts only.
 */

export const SECRETS = ['pin-revoca', 'entratel-password'] as const;
export type Secret = (typeof SECRETS)[number];

export interface PasswordCheck {
  /** True when the proposal can be used. */
  ok: boolean;
  /** Why it cannot (English, never containing the proposal). */
  problems: string[];
  /** Suggestions that do not make it unusable (English, never containing the proposal). */
  advice: string[];
}

/** Whether a string names a kind of secret (for the command line). */
export function isSecret(value: string): value is Secret {
  return (SECRETS as readonly string[]).includes(value);
}

const RULES: Record<Secret, { name: string; min: number; max: number }> = {
  'pin-revoca': { name: 'PIN di revoca', min: 15, max: 20 },
  'entratel-password': { name: 'protection password', min: 8, max: 15 },
};

type CharClass =
  'letter' | 'digit' | 'emoji' | 'non-ascii-letter' | 'other-digit' | 'blank' | 'control' | 'symbol';

const SEGMENTER = new Intl.Segmenter('en', { granularity: 'grapheme' });

function classify(grapheme: string): CharClass {
  if (/^[A-Za-z]$/.test(grapheme)) return 'letter';
  if (/^[0-9]$/.test(grapheme)) return 'digit';
  if (/\p{Extended_Pictographic}|\u20E3/u.test(grapheme)) return 'emoji';
  if (/\p{L}/u.test(grapheme)) return 'non-ascii-letter';
  if (/\p{N}/u.test(grapheme)) return 'other-digit';
  if (/^\s+$/u.test(grapheme)) return 'blank';
  if (/\p{C}/u.test(grapheme)) return 'control';
  return 'symbol';
}

const CLASS_PROBLEMS: [CharClass, (n: number) => string][] = [
  [
    'non-ascii-letter',
    (n) =>
      `Accented letters and letters outside A–Z are not accepted (${n} found): use only A–Z, a–z and 0–9.`,
  ],
  ['other-digit', (n) => `Digits outside 0–9 (full-width or other scripts) are not accepted (${n} found).`],
  ['blank', (n) => `Spaces and other blank characters are not accepted (${n} found).`],
  [
    'control',
    (n) => `Control or invisible characters (such as NUL or zero-width ones) are not accepted (${n} found).`,
  ],
  ['emoji', (n) => `Emoji are not accepted (${n} found): only letters and digits.`],
  ['symbol', (n) => `Symbols and punctuation are not accepted (${n} found): only letters and digits.`],
];

/** Checks a proposed PIN di revoca or protection password against the rules in the module comment. */
export function checkSecret(kind: Secret, proposal: string): PasswordCheck {
  const rule = RULES[kind];
  const problems: string[] = [];
  const advice: string[] = [];
  const counts = new Map<CharClass, number>();
  let length = 0;
  for (const { segment } of SEGMENTER.segment(proposal)) {
    length++;
    const c = classify(segment);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }

  if (length === 0) {
    problems.push(`The ${rule.name} is empty: it must be ${rule.min} to ${rule.max} characters long.`);
  } else if (length < rule.min || length > rule.max) {
    problems.push(
      `The ${rule.name} must be ${rule.min} to ${rule.max} characters long; this one has ${length}.`,
    );
  }
  for (const [c, message] of CLASS_PROBLEMS) {
    const n = counts.get(c);
    if (n !== undefined) problems.push(message(n));
  }

  const letters = counts.get('letter') ?? 0;
  const digits = counts.get('digit') ?? 0;
  if (kind === 'entratel-password' && length > 0 && letters + digits === length) {
    if (letters === 0) advice.push('It has digits only: a mix of letters and digits is harder to guess.');
    else if (digits === 0)
      advice.push('It has letters only: a mix of letters and digits is harder to guess.');
  }
  return { ok: problems.length === 0, problems, advice };
}
