import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CompactRange,
  HASH_SIZE,
  consistencyProof,
  emptyRoot,
  inclusionProof,
  leafHash,
  nodeHash,
  rootOf,
  verifyConsistency,
  verifyInclusion,
  type VerifyResult,
} from '../../src/archive/merkle.js';
import { specPath } from '../helpers/spec.js';

/**
 * RFC 9162 Merkle trees: the transparency-dev/merkle test vectors (oracles, never copied here:
 * read through test/helpers/spec.ts, skipped without them), the reference tree's roots, and seeded
 * property tests of proofs and mutations.
 */

const VECTORS = specPath('preservation', 'merkle-testvectors') ?? '';
/** The reference tree the vectors are built on (transcribed with them; not in a fetched cache). */
const REFERENCE = specPath('preservation', 'merkle-testvectors', 'reference-tree.json') ?? '';

// ---- vectors -------------------------------------------------------------------------------

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[];
  wantErr: boolean;
}
interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[];
  wantErr: boolean;
}

function walk(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : [path.join(dir, d.name)]))
    .filter((f) => f.endsWith('.json'))
    .sort();
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

function readVector(file: string): InclusionVector | ConsistencyVector {
  const v: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!isObject(v)) throw new Error(`${file}: not a vector`);
  // The vectors are Go's JSON: an empty proof is sometimes a nil slice, written as null.
  if (v.proof === null) v.proof = [];
  if (typeof v.wantErr !== 'boolean' || !isStrings(v.proof)) throw new Error(`${file}: not a vector`);
  if (typeof v.leafIdx === 'number' && typeof v.treeSize === 'number' && typeof v.root === 'string')
    if (typeof v.leafHash === 'string') return v as unknown as InclusionVector;
  if (typeof v.size1 === 'number' && typeof v.size2 === 'number' && typeof v.root1 === 'string')
    if (typeof v.root2 === 'string') return v as unknown as ConsistencyVector;
  throw new Error(`${file}: neither an inclusion nor a consistency vector`);
}

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');
const files = (VECTORS ? walk(VECTORS) : []).filter((f) => path.basename(f) !== 'reference-tree.json');
const rel = (f: string): string => path.relative(VECTORS, f);
const vectors = files.map((f) => ({ name: rel(f), v: readVector(f) }));

function runVector(v: InclusionVector | ConsistencyVector): VerifyResult {
  return 'leafIdx' in v
    ? verifyInclusion(v.leafIdx, v.treeSize, b64(v.leafHash), v.proof.map(b64), b64(v.root))
    : verifyConsistency(v.size1, v.size2, v.proof.map(b64), b64(v.root1), b64(v.root2));
}

interface ReferenceTree {
  leafInputsHex: string[];
  rootHashesHexBySize: Record<string, string>;
}
const reference = (
  REFERENCE ? JSON.parse(fs.readFileSync(REFERENCE, 'utf8')) : { leafInputsHex: [], rootHashesHexBySize: {} }
) as ReferenceTree;
const refLeaves = reference.leafInputsHex.map((h) => leafHash(Buffer.from(h, 'hex')));

describe.skipIf(!VECTORS)('transparency-dev/merkle test vectors', () => {
  it('finds all 196 vectors (inclusion and consistency)', () => {
    expect(vectors).toHaveLength(196);
    const inclusion = vectors.filter((x) => 'leafIdx' in x.v).length;
    expect(inclusion + vectors.filter((x) => 'size1' in x.v).length).toBe(196);
    expect(vectors.every((x) => x.name.startsWith('leafIdx' in x.v ? 'inclusion' : 'consistency'))).toBe(
      true,
    );
  });

  it.each(vectors)('$name', ({ v }) => {
    const r = runVector(v);
    expect(r.ok, r.ok ? 'verified' : r.reason).toBe(!v.wantErr);
    if (!r.ok) expect(r.reason).toMatch(/\w/);
  });

  it('counts 196/196 passing', () => {
    const passed = vectors.filter(({ v }) => runVector(v).ok === !v.wantErr).length;
    expect(`${passed}/${vectors.length}`).toBe('196/196');
  });

  it.skipIf(!REFERENCE)('the generators reproduce every happy-path proof byte for byte', () => {
    let n = 0;
    for (const { name, v } of vectors) {
      if (!name.endsWith('happy-path.json')) continue;
      const got =
        'leafIdx' in v
          ? inclusionProof(refLeaves, v.leafIdx, v.treeSize)
          : consistencyProof(refLeaves, v.size1, v.size2);
      expect(
        got.map((h) => h.toString('base64')),
        name,
      ).toEqual(v.proof);
      n++;
    }
    expect(n).toBeGreaterThanOrEqual(10);
  });

  it('gives the reasons that matter for the edge cases', () => {
    const reason = (name: string): string => {
      const x = vectors.find((y) => y.name === name);
      if (!x) throw new Error(`no vector ${name}`);
      const r = runVector(x.v);
      return r.ok ? 'ok' : r.reason;
    };
    expect(reason('inclusion/single-entry/empty-root-and-leaf.json')).toMatch(
      /leaf hash is 0 bytes, want 32/,
    );
    expect(reason('consistency/additional/sizes-are-equal-zero-and-proof-is-empty.json')).toMatch(
      /size1 is 0/,
    );
    expect(reason('consistency/additional/size1-is-greater-than-size2.json')).toMatch(/larger than size2/);
    expect(reason('inclusion/additional/0/empty-root.json')).toMatch(/not below tree size/);
  });
});

// ---- reference tree ------------------------------------------------------------------------

/** MTH exactly as RFC 9162 §2.1.1 writes it, recursively: the oracle for rootOf. */
function mth(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return crypto.createHash('sha256').digest();
  if (leaves.length === 1) return leaves[0] as Buffer;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

describe('hashes and roots', () => {
  it('leaf, node and empty hashes follow RFC 6962 prefixes', () => {
    const sha = (...parts: Buffer[]): Buffer =>
      crypto.createHash('sha256').update(Buffer.concat(parts)).digest();
    const a = Buffer.from('hello');
    expect(leafHash(a)).toEqual(sha(Buffer.from([0]), a));
    const l = crypto.randomBytes(32);
    const r = crypto.randomBytes(32);
    expect(nodeHash(l, r)).toEqual(sha(Buffer.from([1]), l, r));
    // Other lengths take the general path.
    expect(nodeHash(l.subarray(0, 5), r)).toEqual(sha(Buffer.from([1]), l.subarray(0, 5), r));
    expect(emptyRoot().toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(HASH_SIZE).toBe(32);
  });

  it.skipIf(!REFERENCE)('reference tree roots for sizes 0..8 (rootOf and CompactRange)', () => {
    const range = new CompactRange();
    expect(range.root().toString('hex')).toBe(reference.rootHashesHexBySize['0']);
    for (let n = 0; n <= 8; n++) {
      const want = reference.rootHashesHexBySize[String(n)];
      expect(rootOf(refLeaves.slice(0, n)).toString('hex'), `size ${n}`).toBe(want);
      if (n > 0) {
        range.append(refLeaves[n - 1] as Buffer);
        expect(range.root().toString('hex'), `compact range size ${n}`).toBe(want);
      }
    }
  });

  it('rootOf equals the recursive definition for sizes 0..300', () => {
    const rng = prng(7);
    const leaves = Array.from({ length: 300 }, () => randomHash(rng));
    for (let n = 0; n <= 300; n++)
      expect(rootOf(leaves.slice(0, n)).equals(mth(leaves.slice(0, n))), `n=${n}`).toBe(true);
  });

  it('does not hand out its own buffers or alias the caller’s', () => {
    const leaf = randomHash(prng(1));
    const root = rootOf([leaf]);
    expect(root.equals(leaf)).toBe(true);
    root[0] = (root[0] as number) ^ 0xff;
    expect(root.equals(leaf)).toBe(false);
    const e1 = emptyRoot();
    e1.fill(0);
    expect(emptyRoot().equals(e1)).toBe(false);
  });

  it('generators reject bad input with RangeError', () => {
    const leaves = [randomHash(prng(2)), randomHash(prng(3))];
    expect(() => rootOf([Buffer.alloc(31)])).toThrow(RangeError);
    expect(() => inclusionProof(leaves, 2)).toThrow(/not below tree size/);
    expect(() => inclusionProof(leaves, 0, 3)).toThrow(/exceeds/);
    expect(() => inclusionProof(leaves, -1)).toThrow(RangeError);
    expect(() => inclusionProof(leaves, 0.5)).toThrow(RangeError);
    expect(() => consistencyProof(leaves, 0, 2)).toThrow(/size1 is 0/);
    expect(() => consistencyProof(leaves, 2, 1)).toThrow(/larger/);
    expect(() => consistencyProof(leaves, 1, 3)).toThrow(/exceeds/);
    expect(consistencyProof(leaves, 2, 2)).toEqual([]);
    expect(inclusionProof(leaves.slice(0, 1), 0)).toEqual([]);
  });
});

// ---- property tests ------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so every run checks the same cases. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const randInt = (rng: () => number, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
function randomHash(rng: () => number): Buffer {
  const b = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) b[i] = randInt(rng, 0, 255);
  return b;
}
function flipBit(b: Uint8Array, bit: number): Buffer {
  const c = Buffer.from(b);
  c[bit >> 3] = (c[bit >> 3] as number) ^ (1 << (bit & 7));
  return c;
}

/** Every way to damage a proof by one step: flip a bit in any element, drop, add or swap elements. */
function damagedProofs(proof: readonly Buffer[], rng: () => number): { what: string; proof: Buffer[] }[] {
  const out: { what: string; proof: Buffer[] }[] = [];
  proof.forEach((_, i) => {
    const p = proof.slice();
    p[i] = flipBit(proof[i] as Buffer, randInt(rng, 0, 255));
    out.push({ what: `bit flipped in proof[${i}]`, proof: p });
  });
  if (proof.length > 0) {
    out.push({ what: 'first element dropped', proof: proof.slice(1) });
    out.push({ what: 'last element dropped', proof: proof.slice(0, -1) });
  }
  out.push({ what: 'element appended', proof: [...proof, randomHash(rng)] });
  out.push({ what: 'element prepended', proof: [randomHash(rng), ...proof] });
  if (proof.length > 0)
    out.push({ what: 'last element duplicated', proof: [...proof, proof.at(-1) as Buffer] });
  if (proof.length > 1)
    out.push({ what: 'first two swapped', proof: [proof[1], proof[0], ...proof.slice(2)] as Buffer[] });
  out.push({
    what: 'a 31-byte element',
    proof: proof.length ? [(proof[0] as Buffer).subarray(0, 31), ...proof.slice(1)] : [Buffer.alloc(31)],
  });
  return out;
}

const EDGE_SIZES = [
  1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 300,
];

describe('property tests (seeded)', () => {
  const rng = prng(20_250_101);
  const MAX = 301;
  const leaves = Array.from({ length: MAX }, () => randomHash(rng));
  const roots = Array.from({ length: MAX + 1 }, (_, n) => rootOf(leaves.slice(0, n)));
  const sizes = [...EDGE_SIZES, ...Array.from({ length: 8 }, () => randInt(rng, 1, 300))];

  it('every inclusion proof verifies, for every index of every size', () => {
    let checked = 0;
    for (const size of sizes)
      for (let i = 0; i < size; i++) {
        const proof = inclusionProof(leaves, i, size);
        const r = verifyInclusion(i, size, leaves[i] as Buffer, proof, roots[size] as Buffer);
        expect(r, `index ${i} size ${size}`).toEqual({ ok: true });
        checked++;
      }
    expect(checked).toBeGreaterThan(3000);
  });

  it('damaged inclusion proofs, wrong leaves, indexes, sizes and roots fail', () => {
    const mrng = prng(99);
    for (const size of sizes) {
      // All indexes for the small sizes, a sample for the others.
      const idxs =
        size <= 65
          ? Array.from({ length: size }, (_, i) => i)
          : Array.from({ length: 12 }, () => randInt(mrng, 0, size - 1));
      for (const i of idxs) {
        const proof = inclusionProof(leaves, i, size);
        const root = roots[size] as Buffer;
        const leaf = leaves[i] as Buffer;
        const no = (r: VerifyResult, what: string): void => {
          expect(r.ok, `${what}: index ${i} size ${size}`).toBe(false);
        };
        for (const d of damagedProofs(proof, mrng)) no(verifyInclusion(i, size, leaf, d.proof, root), d.what);
        no(verifyInclusion(i, size, flipBit(leaf, randInt(mrng, 0, 255)), proof, root), 'leaf bit flipped');
        no(verifyInclusion(i, size, leaf, proof, flipBit(root, randInt(mrng, 0, 255))), 'root bit flipped');
        if (size > 1)
          no(verifyInclusion(i, size, leaves[(i + 1) % size] as Buffer, proof, root), 'another leaf');
        if (i + 1 < size) no(verifyInclusion(i + 1, size, leaf, proof, root), 'index + 1');
        if (i > 0) no(verifyInclusion(i - 1, size, leaf, proof, root), 'index - 1');
        no(verifyInclusion(size, size, leaf, proof, root), 'index = size');
        // A wrong size with that size's root (a checkpoint binds the two together).
        if (size + 1 <= MAX)
          no(verifyInclusion(i, size + 1, leaf, proof, roots[size + 1] as Buffer), 'size + 1');
        if (size > i + 1)
          no(verifyInclusion(i, size - 1, leaf, proof, roots[size - 1] as Buffer), 'size - 1');
        if (size * 2 <= MAX)
          no(verifyInclusion(i, size * 2, leaf, proof, roots[size * 2] as Buffer), 'size * 2');
        const short = proof.map((p) => p.subarray(0, 31));
        if (short.length > 0) no(verifyInclusion(i, size, leaf, short, root), 'short hashes');
      }
    }
  });

  it('the size is bound by the root, not by the proof: a proof for size 3 also fits (size 4, root of size 3)', () => {
    // Documented behaviour, as in RFC 9162: take size and root from one signed checkpoint.
    const proof = inclusionProof(leaves, 0, 3);
    expect(verifyInclusion(0, 4, leaves[0] as Buffer, proof, roots[3] as Buffer).ok).toBe(true);
    expect(verifyInclusion(0, 4, leaves[0] as Buffer, proof, roots[4] as Buffer).ok).toBe(false);
  });

  it('every consistency proof verifies, for random and edge size1 ≤ size2', () => {
    const crng = prng(5);
    let checked = 0;
    for (const size2 of sizes) {
      const firsts =
        size2 <= 65
          ? Array.from({ length: size2 }, (_, i) => i + 1)
          : Array.from({ length: 25 }, () => randInt(crng, 1, size2));
      for (const size1 of firsts) {
        const proof = consistencyProof(leaves, size1, size2);
        const r = verifyConsistency(size1, size2, proof, roots[size1] as Buffer, roots[size2] as Buffer);
        expect(r, `${size1} -> ${size2}`).toEqual({ ok: true });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(500);
  });

  it('damaged consistency proofs, wrong sizes and roots fail', () => {
    const mrng = prng(11);
    for (const size2 of sizes) {
      for (let t = 0; t < 12; t++) {
        const size1 = randInt(mrng, 1, size2);
        const proof = consistencyProof(leaves, size1, size2);
        const r1 = roots[size1] as Buffer;
        const r2 = roots[size2] as Buffer;
        const no = (r: VerifyResult, what: string): void => {
          expect(r.ok, `${what}: ${size1} -> ${size2}`).toBe(false);
        };
        for (const d of damagedProofs(proof, mrng)) {
          // Dropping from an empty proof or adding to size1 = size2 are covered by the other cases.
          no(verifyConsistency(size1, size2, d.proof, r1, r2), d.what);
        }
        no(
          verifyConsistency(size1, size2, proof, flipBit(r1, randInt(mrng, 0, 255)), r2),
          'root1 bit flipped',
        );
        no(
          verifyConsistency(size1, size2, proof, r1, flipBit(r2, randInt(mrng, 0, 255))),
          'root2 bit flipped',
        );
        if (size1 !== size2) no(verifyConsistency(size1, size2, proof, r2, r1), 'roots swapped');
        if (size1 > 1)
          no(verifyConsistency(size1 - 1, size2, proof, roots[size1 - 1] as Buffer, r2), 'size1 - 1');
        if (size1 < size2)
          no(verifyConsistency(size1 + 1, size2, proof, roots[size1 + 1] as Buffer, r2), 'size1 + 1');
        if (size2 < MAX)
          no(verifyConsistency(size1, size2 + 1, proof, r1, roots[size2 + 1] as Buffer), 'size2 + 1');
        if (size2 > size1)
          no(verifyConsistency(size1, size2 - 1, proof, r1, roots[size2 - 1] as Buffer), 'size2 - 1');
        no(verifyConsistency(size2 + 1, size2, proof, r1, r2), 'size1 > size2');
        no(verifyConsistency(0, size2, proof, emptyRoot(), r2), 'size1 = 0');
        // A tree that is not an extension: same size2, one leaf changed below size1.
        const forked = leaves.slice(0, size2);
        const j = randInt(mrng, 0, size1 - 1);
        forked[j] = flipBit(forked[j] as Buffer, 0);
        no(verifyConsistency(size1, size2, proof, r1, rootOf(forked)), 'rewritten history');
        no(
          verifyConsistency(size1, size2, consistencyProof(forked, size1, size2), r1, rootOf(forked)),
          'forked log',
        );
      }
    }
  });

  it('size1 = size2: empty proof and equal roots only; size1 = 0 never', () => {
    const r = roots[5] as Buffer;
    expect(verifyConsistency(5, 5, [], r, r)).toEqual({ ok: true });
    expect(verifyConsistency(5, 5, [r], r, r).ok).toBe(false);
    expect(verifyConsistency(5, 5, [], r, roots[4] as Buffer).ok).toBe(false);
    expect(verifyConsistency(0, 0, [], emptyRoot(), emptyRoot())).toMatchObject({
      ok: false,
      reason: /size1 is 0/,
    });
  });

  it('large trees: proofs across the 2^14 boundary verify', () => {
    const n = (1 << 14) + 3;
    const big = Array.from({ length: n }, (_, i) => leafHash(Buffer.from(String(i))));
    // Prefix roots for the consistency checks, in one pass.
    const firsts = [1, 1000, (1 << 13) + 1, (1 << 14) - 1, 1 << 14, n - 1];
    const prefixRoots = new Map<number, Buffer>();
    const range = new CompactRange();
    for (const h of big) {
      range.append(h);
      if (firsts.includes(range.size)) prefixRoots.set(range.size, range.root());
    }
    const root = rootOf(big);
    expect(range.root().equals(root)).toBe(true);
    // Left of the split: 14 levels of the perfect 2^14 subtree + the right part; right of it: a tree of 3.
    const lengths = new Map([
      [0, 15],
      [(1 << 14) - 1, 15],
      [1 << 14, 3],
      [n - 1, 2],
    ]);
    for (const [i, len] of lengths) {
      const proof = inclusionProof(big, i);
      expect(proof).toHaveLength(len);
      expect(verifyInclusion(i, n, big[i] as Buffer, proof, root)).toEqual({ ok: true });
    }
    for (const size1 of firsts) {
      const proof = consistencyProof(big, size1, n);
      const r1 = prefixRoots.get(size1) as Buffer;
      expect(verifyConsistency(size1, n, proof, r1, root), `size1 ${size1}`).toEqual({ ok: true });
    }
  });
});

// ---- verifiers never throw -----------------------------------------------------------------

describe('hostile input', () => {
  const h = Buffer.alloc(32, 1);
  const cases: [string, () => VerifyResult][] = [
    ['negative index', () => verifyInclusion(-1, 2, h, [h], h)],
    ['fractional size', () => verifyInclusion(0, 1.5, h, [], h)],
    ['NaN size', () => verifyInclusion(0, NaN, h, [], h)],
    ['unsafe size', () => verifyInclusion(0, 2 ** 60, h, [], h)],
    ['size 0', () => verifyInclusion(0, 0, h, [], h)],
    ['leaf not bytes', () => verifyInclusion(0, 1, 'x' as unknown as Uint8Array, [], h)],
    ['proof not an array', () => verifyInclusion(0, 2, h, null as unknown as Uint8Array[], h)],
    ['proof element null', () => verifyInclusion(0, 2, h, [null as unknown as Uint8Array], h)],
    ['root 33 bytes', () => verifyInclusion(0, 1, h, [], Buffer.alloc(33))],
    ['consistency root not bytes', () => verifyConsistency(1, 2, [h], {} as Uint8Array, h)],
    ['consistency unsafe size', () => verifyConsistency(1, 2 ** 64, [h], h, h)],
    ['consistency proof of strings', () => verifyConsistency(1, 2, ['aa'] as unknown as Uint8Array[], h, h)],
    ['consistency root1 of 31 bytes', () => verifyConsistency(1, 2, [h], Buffer.alloc(31), h)],
  ];
  it.each(cases)('%s → ok:false with a reason', (_, f) => {
    let r: VerifyResult | undefined;
    expect(() => (r = f())).not.toThrow();
    expect(r?.ok).toBe(false);
    expect(r?.ok === false && r.reason.length > 0).toBe(true);
  });

  it('accepts hashes in any Uint8Array view', () => {
    const leaves = Array.from({ length: 5 }, (_, i) => leafHash(Buffer.from([i])));
    const proof = inclusionProof(leaves, 3).map((p) => new Uint8Array(p));
    const backing = new Uint8Array(40);
    backing.set(leaves[3] as Buffer, 8);
    expect(verifyInclusion(3, 5, backing.subarray(8, 40), proof, new Uint8Array(rootOf(leaves)))).toEqual({
      ok: true,
    });
  });
});

// ---- compact range -------------------------------------------------------------------------

describe('CompactRange', () => {
  it('root equals rootOf after every append up to 1,000, and survives toJSON/fromJSON', () => {
    const rng = prng(42);
    const leaves: Buffer[] = [];
    let range = new CompactRange();
    expect(range.size).toBe(0);
    expect(range.root().equals(emptyRoot())).toBe(true);
    for (let n = 1; n <= 1000; n++) {
      const h = randomHash(rng);
      leaves.push(h);
      range.append(h);
      const want = rootOf(leaves);
      expect(range.size).toBe(n);
      expect(range.root().equals(want), `size ${n}`).toBe(true);
      const json = range.toJSON();
      expect(json.hashes).toHaveLength(
        n
          .toString(2)
          .split('')
          .filter((c) => c === '1').length,
      );
      // Through real JSON text, as it would be persisted; keep appending to the restored one.
      range = CompactRange.fromJSON(JSON.parse(JSON.stringify(range)) as unknown);
      expect(range.size).toBe(n);
      expect(range.root().equals(want), `restored size ${n}`).toBe(true);
    }
  });

  it('fromJSON rejects what toJSON never writes', () => {
    const good = (() => {
      const r = new CompactRange();
      for (let i = 0; i < 5; i++) r.append(Buffer.alloc(32, i));
      return r.toJSON();
    })();
    expect(CompactRange.fromJSON(good).size).toBe(5);
    const bad: unknown[] = [
      null,
      'x',
      { size: -1, hashes: [] },
      { size: 1.5, hashes: [] },
      { size: 5, hashes: good.hashes.slice(0, 1) },
      { size: 4, hashes: good.hashes },
      { size: 5, hashes: [good.hashes[0], 'zz'] },
      { size: 5, hashes: [good.hashes[0], 'AB'.repeat(32)] },
      { size: 5, hashes: 'abc' },
      { hashes: [] },
    ];
    for (const b of bad) expect(() => CompactRange.fromJSON(b), JSON.stringify(b)).toThrow();
  });

  it('append rejects a hash that is not 32 bytes', () => {
    const r = new CompactRange();
    expect(() => r.append(Buffer.alloc(31))).toThrow(RangeError);
    expect(r.size).toBe(0);
  });
});
