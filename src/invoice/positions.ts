/**
 * Counts the work a parse does (see ParseOptions.work in xml.ts), for tests that check it grows
 * linearly with the input.
 */
export interface WorkCounter {
  steps: number;
}

/**
 * Line and column (1-based, in characters: a surrogate pair counts once) of positions in `text`,
 * asked for in increasing order. Every character is examined at most twice over a whole parse
 * (once to find the line ends, once to count the columns when the text holds surrogates).
 */
export class Positions {
  line = 1;
  column = 1;
  private lineStart = 0;
  /** The next line end at or after lineStart (-1: none), and the length of that line end. */
  private nextBreak: number;
  private breakLength = 1;
  /** The next LF and the next CR at or after lineStart (-1: none left, -2: not searched yet). */
  private nextLf = -2;
  private nextCr = -2;
  /** Counted up to here on the current line (only when the text holds surrogate pairs). */
  private counted = 0;
  private readonly surrogates: boolean;

  constructor(
    private readonly text: string,
    private readonly work: WorkCounter,
  ) {
    this.surrogates = /[\ud800-\udfff]/.test(text);
    work.steps += text.length;
    this.nextBreak = this.findBreak(0);
  }

  private findBreak(from: number): number {
    const t = this.text;
    // Each search goes on from its previous hit, never back over the text: linear overall.
    if (this.nextLf !== -1 && this.nextLf < from) {
      const lf = t.indexOf('\n', from);
      this.work.steps += (lf === -1 ? t.length : lf) - from;
      this.nextLf = lf;
    }
    if (this.nextCr !== -1 && this.nextCr < from) {
      const cr = t.indexOf('\r', from);
      this.work.steps += (cr === -1 ? t.length : cr) - from;
      this.nextCr = cr;
    }
    const { nextLf: lf, nextCr: cr } = this;
    const next = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
    this.breakLength = next !== -1 && next === cr && t.charCodeAt(cr + 1) === 10 ? 2 : 1;
    return next;
  }

  /** Moves to position `p` (not before the previous one). */
  moveTo(p: number): void {
    while (this.nextBreak !== -1 && this.nextBreak < p) {
      this.line++;
      this.lineStart = this.nextBreak + this.breakLength;
      this.counted = this.lineStart;
      this.column = 1;
      this.nextBreak = this.findBreak(this.lineStart);
    }
    if (!this.surrogates) {
      this.column = p - this.lineStart + 1;
      return;
    }
    const t = this.text;
    let col = this.column;
    for (let i = this.counted; i < p; i++) {
      const c = t.charCodeAt(i);
      // The low half of a pair was counted with its high half.
      if (!(c >= 0xdc00 && c <= 0xdfff && i > 0 && (t.charCodeAt(i - 1) & 0xfc00) === 0xd800)) col++;
    }
    this.work.steps += p - this.counted;
    this.counted = p;
    this.column = col;
  }
}
