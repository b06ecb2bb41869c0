import Big from 'big.js';
import { describe, expect, it } from 'vitest';
import { Dec } from '../../../src/rules/sdi/decimal.js';

/**
 * The amount checks' decimals (src/rules/sdi/decimal.ts) against big.js, which they replace: the
 * same values and the same text for every operation the checks make, on amounts of the sizes
 * invoices carry and on values too long to be held as numbers.
 */

/** A deterministic stream of decimal texts: signs, zeros, 1 to 20 integer digits, 0 to 9 decimals. */
function* amounts(n: number, seed = 1): Generator<[string, string]> {
  let s = seed;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
  const one = (): string => {
    const sign = rnd() < 0.3 ? '-' : '';
    const intLen = Math.floor(rnd() * (rnd() < 0.15 ? 20 : 6)) + 1;
    let int = '';
    for (let i = 0; i < intLen; i++) int += Math.floor(rnd() * 10);
    if (rnd() < 0.2) int = '0';
    const fracLen = rnd() < 0.2 ? 0 : Math.floor(rnd() * 9) + 1;
    let frac = '';
    for (let i = 0; i < fracLen; i++) frac += rnd() < 0.3 ? '0' : Math.floor(rnd() * 10);
    return sign + int + (fracLen ? `.${frac}` : '');
  };
  for (let i = 0; i < n; i++) yield [one(), one()];
}

const dec = (s: string): Dec => {
  const d = Dec.parse(s);
  if (!d) throw new Error(`not parsed: ${s}`);
  return d;
};

describe('Dec: the results and texts of big.js', () => {
  it('for every operation the checks use, on 20,000 pairs of amounts', () => {
    const mismatches: string[] = [];
    const same = (what: string, a: string, b: string): void => {
      if (a !== b) mismatches.push(`${what}: ${a} (big.js ${b})`);
    };
    for (const [xs, ys] of amounts(20_000)) {
      const [x, y, bx, by] = [dec(xs), dec(ys), new Big(xs), new Big(ys)];
      same(`${xs}`, x.toString(), bx.toString());
      same(`${xs} toFixed`, x.toFixed(2), bx.toFixed(2));
      same(`${xs} + ${ys}`, x.plus(y).toString(), bx.plus(by).toString());
      same(`${xs} - ${ys}`, x.minus(y).toFixed(8), bx.minus(by).toFixed(8));
      same(`${xs} × ${ys}`, x.times(y).toString(), bx.times(by).toString());
      // Twice: past 20 decimals big.js rounds the quotient (Big.DP).
      same(
        `${xs} × ${ys} / 100 × ${ys} / 100`,
        x.times(y).div100().times(y).div100().toString(),
        bx.times(by).div(100).times(by).div(100).toString(),
      );
      same(
        `round(${xs} × ${ys} / 100)`,
        x.times(y).div100().round2().toFixed(2),
        bx.times(by).div(100).round(2, Big.roundHalfUp).toFixed(2),
      );
      same(`cmp ${xs} ${ys}`, String(x.cmp(y)), String(bx.cmp(by)));
      same(`|${xs}|`, x.abs().toString(), bx.abs().toString());
      same(`${xs} < 0`, String(x.isNegative()), String(bx.lt(0)));
      same(`${xs} = 0`, String(x.isZero()), String(bx.eq(0)));
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
  });

  it('rounds half away from zero, and keeps -0 as big.js does', () => {
    expect(dec('22.00').times(dec('0.25')).div100().round2().toFixed(2)).toBe('0.06');
    expect(dec('-22.00').times(dec('0.25')).div100().round2().toFixed(2)).toBe('-0.06');
    expect(dec('-0.00').toFixed(2)).toBe(new Big('-0.00').toFixed(2));
    expect(dec('-0.00').times(dec('22.00')).toFixed(2)).toBe(new Big('-0.00').times('22.00').toFixed(2));
  });

  it('parses what the checks read as an amount, and nothing else', () => {
    for (const s of ['0', '-0', '12', '12.5', '00012.3400', '-7.00000001', '123456789012345678901.5'])
      expect(dec(s).toString()).toBe(new Big(s).toString());
    for (const s of ['', '-', '.5', '5.', '+1', '1e5', '1.2.3', '1,5', ' 1', '1 ', '--1', '0x10'])
      expect(Dec.parse(s)).toBeNull();
  });
});
