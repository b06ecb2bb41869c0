import Big from 'big.js';

/**
 * Exact decimals for the amount checks, as big.js computes them but without its cost on the
 * amounts invoices carry. A value is m × 10^-s with m an integer held in a JavaScript number
 * while |m| < 2^53 (every operation on such values is then exact in floating point: each result
 * is an integer no larger than that, which IEEE arithmetic returns exactly) and a big.js value
 * beyond (twenty digits, an amount with 8 decimals times a quantity with 8...). Results are the
 * ones big.js gives with its defaults, including the one place it rounds: `div100` keeps at most
 * Big.DP (20) decimals, rounding half up, as `Big.div` does.
 *
 * Parsing a typical amount and the checks' few operations on it cost a few tens of nanoseconds
 * here, against a microsecond with big.js (its values are digit arrays): over a thousandth of a
 * second for a thousand small invoices.
 */
export class Dec {
  /** m and s when exact as numbers (b null); else b. */
  private constructor(
    private readonly m: number,
    private readonly s: number,
    private readonly b: Big | null,
  ) {}

  static ofBig(b: Big): Dec {
    return new Dec(0, 0, b);
  }

  /** `-?[0-9]+(.[0-9]+)?` (anything else: null). */
  static parse(text: string): Dec | null {
    const n = text.length;
    let i = 0;
    let neg = false;
    if (n > 0 && text.charCodeAt(0) === 45 /* - */) {
      neg = true;
      i = 1;
    }
    let m = 0;
    let digits = 0;
    let s = 0;
    let dot = -1;
    // Trailing zeros of the fraction are not digits of the value (big.js drops them too).
    let zeros = 0;
    const start = i;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 46 /* . */) {
        if (dot !== -1 || i === start || i === n - 1) return null;
        dot = i;
        continue;
      }
      const d = c - 48;
      if (d < 0 || d > 9) return null;
      if (dot !== -1) {
        s++;
        if (d === 0) {
          zeros++;
          continue;
        }
      }
      // The zeros of the fraction held back are digits after all: before this one.
      for (; zeros > 0; zeros--) {
        m *= 10;
        if (m !== 0) digits++;
      }
      m = m * 10 + d;
      if (m !== 0) digits++;
    }
    if (i === start) return null;
    s -= zeros;
    if (digits > 15) return new Dec(0, 0, new Big(text));
    // -0 stays -0, as in big.js (a message may show it).
    return new Dec(neg ? -m : m, s, null);
  }

  /** As big.js. */
  big(): Big {
    if (this.b !== null) return this.b;
    const m = this.m === 0 && 1 / this.m < 0 ? '-0' : String(this.m);
    return new Big(this.s === 0 ? m : `${m}e-${this.s}`);
  }

  isZero(): boolean {
    return this.b === null ? this.m === 0 : this.b.eq(0);
  }

  isNegative(): boolean {
    return this.b === null ? this.m < 0 : this.b.lt(0);
  }

  neg(): Dec {
    return this.b === null ? new Dec(-this.m, this.s, null) : new Dec(0, 0, this.b.neg());
  }

  abs(): Dec {
    return this.isNegative() ? this.neg() : this;
  }

  plus(y: Dec): Dec {
    if (this.b === null && y.b === null) {
      if (this.s === y.s) {
        const r = this.m + y.m;
        if (safe(r)) return new Dec(r, this.s, null);
      } else {
        const s = Math.max(this.s, y.s);
        const a = this.m * pow10(s - this.s);
        const c = y.m * pow10(s - y.s);
        const r = a + c;
        if (safe(a) && safe(c) && safe(r)) return new Dec(r, s, null);
      }
    }
    return new Dec(0, 0, this.big().plus(y.big()));
  }

  minus(y: Dec): Dec {
    return this.plus(y.neg());
  }

  times(y: Dec): Dec {
    if (this.b === null && y.b === null) {
      const r = this.m * y.m;
      if (safe(r)) return new Dec(r, this.s + y.s, null);
    }
    return new Dec(0, 0, this.big().times(y.big()));
  }

  /** `Big.div(100)`: exact, then rounded half up to 20 decimals (Big.DP) when longer. */
  div100(): Dec {
    if (this.b === null && this.s + 2 <= 20) return new Dec(this.m, this.s + 2, null);
    return new Dec(0, 0, this.big().div(100));
  }

  /** `Big.round(2, Big.roundHalfUp)`: half away from zero. */
  round2(): Dec {
    if (this.b !== null) return new Dec(0, 0, this.b.round(2, Big.roundHalfUp));
    if (this.s <= 2) return this;
    const unit = pow10(this.s - 2);
    if (!safe(unit)) return new Dec(0, 0, this.big().round(2, Big.roundHalfUp));
    // % is exact on integers; so is the division of a multiple of `unit` by it.
    const r = this.m % unit;
    let q = (this.m - r) / unit;
    if (Math.abs(r) * 2 >= unit) q += this.m < 0 ? -1 : 1;
    return new Dec(q, 2, null);
  }

  /** -1, 0 or 1 as this is below, equal to or above y. */
  cmp(y: Dec): number {
    if (this.b === null && y.b === null) {
      const s = Math.max(this.s, y.s);
      const a = this.m * pow10(s - this.s);
      const c = y.m * pow10(s - y.s);
      if (safe(a) && safe(c)) return a < c ? -1 : a > c ? 1 : 0;
    }
    return this.big().cmp(y.big());
  }

  eq(y: Dec): boolean {
    return this.cmp(y) === 0;
  }

  gt(y: Dec): boolean {
    return this.cmp(y) > 0;
  }

  lt(y: Dec): boolean {
    return this.cmp(y) < 0;
  }

  /** As big.js (rounding half up). */
  toFixed(dp: number): string {
    return this.big().toFixed(dp);
  }

  /** As big.js. */
  toString(): string {
    return this.big().toString();
  }
}

const safe = (x: number): boolean => x <= Number.MAX_SAFE_INTEGER && x >= -Number.MAX_SAFE_INTEGER;

/** 10^k, exact up to 10^22. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);
const pow10 = (k: number): number => (k < POW10.length ? (POW10[k] as number) : Infinity);
