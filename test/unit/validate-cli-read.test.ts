import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readBounded } from '../../src/rules/validate-cli.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * `fatturad validate` reads each file that fits into one buffer given by the caller (no buffer
 * allocated per file: 10,000 files were 10,000 allocations), and anything else as before: a
 * larger file whole, an oversized one refused from its size.
 */
const t = tempDir('fatturad-read-scratch-');
afterAll(() => t.cleanup());

function file(name: string, bytes: Buffer): string {
  const f = path.join(t.dir, name);
  fs.writeFileSync(f, bytes);
  return f;
}

describe('readBounded with a scratch buffer', () => {
  const scratch = Buffer.alloc(1024 + 1);

  it('reads each file that fits into the scratch buffer, and the others as before', () => {
    const a = Buffer.from('<a>first file</a>');
    const b = Buffer.from('<b>2</b>');
    const ra = readBounded(file('a.xml', a), 5000, scratch);
    expect('bytes' in ra && ra.bytes.equals(a)).toBe(true);
    if (!('bytes' in ra)) return;
    // A view of the caller's buffer, not a new one.
    expect(ra.bytes.buffer).toBe(scratch.buffer);
    expect(ra.bytes.byteOffset).toBe(scratch.byteOffset);
    const rb = readBounded(file('b.xml', b), 5000, scratch);
    expect('bytes' in rb && rb.bytes.equals(b)).toBe(true);
    if ('bytes' in rb) expect(rb.bytes.buffer).toBe(scratch.buffer);
    const empty = readBounded(file('empty.xml', Buffer.alloc(0)), 5000, scratch);
    expect('bytes' in empty && empty.bytes.length).toBe(0);
    // A file larger than the scratch buffer gets its own; one over the limit is refused.
    const big = Buffer.alloc(4000, 0x61);
    const r = readBounded(file('big.xml', big), 5000, scratch);
    expect('bytes' in r && r.bytes.equals(big)).toBe(true);
    if ('bytes' in r) expect(r.bytes.buffer).not.toBe(scratch.buffer);
    const over = readBounded(file('over.xml', Buffer.alloc(900, 0x61)), 800, scratch);
    expect('refused' in over && over.refused.code).toBe('00003');
  });
});
