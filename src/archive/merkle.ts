import crypto from 'node:crypto';

/**
 * RFC 9162 §2.1 (unchanged from RFC 6962 §2.1) Merkle tree hashing, proofs and their
 * verification, with SHA-256:
 *
 *   MTH({})       = SHA-256()
 *   MTH({d0})     = SHA-256(0x00 || d0)                       leaf hash
 *   MTH(D[0:n])   = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))  k = largest power of two < n
 *
 * Everything here works on leaf hashes (32 bytes each), not on entries: hash an entry with
 * `leafHash` first.
 *
 * Cost, for a log of n leaves (one SHA-256 over 65 bytes is about 1 µs):
 * - `rootOf`: n - 1 node hashes, O(log n) memory.
 * - `inclusionProof`, `consistencyProof`: at most n - 1 node hashes each (the sibling subtrees of
 *   the path are disjoint, every one is hashed once, nothing is hashed twice), O(log n) memory.
 *   A log that serves many proofs for large trees should keep interior hashes (C2SP tiles) and
 *   read the O(log n) subtree roots from them instead.
 * - `verifyInclusion`, `verifyConsistency`: O(log n) hashes.
 * - `CompactRange.append`: amortised 1 node hash, `root()`: O(log n) hashes.
 *
 * The verifiers never throw and never take a shortcut: every input is checked (sizes, hash
 * lengths, proof length) and every proof hash goes through the chain that rebuilds the root(s).
 */

export const HASH_SIZE = 32;

/** The outcome of a proof verification; `reason` says what failed, in English, for logs and reports. */
export type VerifyResult = { ok: true } | { ok: false; reason: string };

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);
const EMPTY_ROOT = crypto.createHash('sha256').digest();

/** SHA-256(0x00 || entry): the leaf hash of a log entry. */
export function leafHash(entry: Uint8Array): Buffer {
  return crypto.createHash('sha256').update(LEAF_PREFIX).update(entry).digest();
}

// One 65-byte buffer reused by every 32+32-byte node hash: crypto.hash is synchronous and reads
// its input before returning, and is about twice as fast as createHash().update().digest().
const scratch = Buffer.alloc(1 + 2 * HASH_SIZE);

/** SHA-256(0x01 || left || right): the hash of an interior node. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length === HASH_SIZE && right.length === HASH_SIZE) {
    scratch[0] = 0x01;
    scratch.set(left, 1);
    scratch.set(right, 1 + HASH_SIZE);
    return crypto.hash('sha256', scratch, 'buffer');
  }
  return crypto.createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/** SHA-256 of nothing: the root of the empty tree. */
export function emptyRoot(): Buffer {
  return Buffer.from(EMPTY_ROOT);
}

/** MTH over `leafHashes` (iterative, n - 1 node hashes, O(log n) memory). Throws on a hash that is not 32 bytes. */
export function rootOf(leafHashes: readonly Uint8Array[]): Buffer {
  return subtreeRoot(leafHashes, 0, leafHashes.length);
}

/**
 * The inclusion proof PATH(index, D[0:size]) of RFC 9162 §2.1.3.1: the sibling subtree roots
 * from the leaf up to the root. `size` defaults to the whole list. O(size) hashes.
 * Throws RangeError when index ≥ size, size exceeds the list, or a leaf hash is not 32 bytes.
 */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number, size?: number): Buffer[] {
  const n = size ?? leafHashes.length;
  assertCount('size', n);
  assertCount('index', index);
  if (n > leafHashes.length) throw new RangeError(`size ${n} exceeds the ${leafHashes.length} leaves given`);
  if (index >= n) throw new RangeError(`index ${index} is not below tree size ${n}`);
  // Walk down from the root; the sibling met at each level is one proof element, root side first.
  const topDown: Buffer[] = [];
  let lo = 0;
  let hi = n;
  let m = index;
  while (hi - lo > 1) {
    const k = largestPowerOfTwoBelow(hi - lo);
    if (m < k) {
      topDown.push(subtreeRoot(leafHashes, lo + k, hi));
      hi = lo + k;
    } else {
      topDown.push(subtreeRoot(leafHashes, lo, lo + k));
      lo += k;
      m -= k;
    }
  }
  return topDown.reverse();
}

/**
 * The consistency proof PROOF(size1, D[0:size2]) of RFC 9162 §2.1.4.1, leaf side first.
 * Empty when size1 = size2. O(size2) hashes. Throws RangeError unless 0 < size1 ≤ size2 ≤ the
 * list's length (a proof from the empty tree proves nothing and verifiers reject it).
 */
export function consistencyProof(leafHashes: readonly Uint8Array[], size1: number, size2: number): Buffer[] {
  assertCount('size1', size1);
  assertCount('size2', size2);
  if (size1 === 0) throw new RangeError('size1 is 0: a consistency proof from the empty tree proves nothing');
  if (size1 > size2) throw new RangeError(`size1 ${size1} is larger than size2 ${size2}`);
  if (size2 > leafHashes.length)
    throw new RangeError(`size2 ${size2} exceeds the ${leafHashes.length} leaves given`);
  // SUBPROOF(m, D[lo:hi], b), unrolled: every step adds one sibling subtree root, root side first.
  const topDown: Buffer[] = [];
  let lo = 0;
  let hi = size2;
  let m = size1;
  let whole = true; // b: D[0:size1] is a complete subtree already known to the verifier
  for (;;) {
    const n = hi - lo;
    if (m === n) {
      if (!whole) topDown.push(subtreeRoot(leafHashes, lo, hi));
      break;
    }
    const k = largestPowerOfTwoBelow(n);
    if (m <= k) {
      topDown.push(subtreeRoot(leafHashes, lo + k, hi));
      hi = lo + k;
    } else {
      topDown.push(subtreeRoot(leafHashes, lo, lo + k));
      lo += k;
      m -= k;
      whole = false;
    }
  }
  return topDown.reverse();
}

/**
 * RFC 9162 §2.1.3.2: does `proof` show that `leaf` (a leaf hash) is entry `index` of the tree of
 * `size` leaves whose root is `root`? Rejects index ≥ size, hashes that are not 32 bytes, and a
 * proof of the wrong length before hashing anything. Never throws.
 *
 * The proof binds the leaf to `root` only: the tree size is authenticated by whoever signed the
 * (size, root) pair (the checkpoint), so always take both from one verified checkpoint.
 */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): VerifyResult {
  try {
    const bad =
      countProblem('index', index) ??
      countProblem('size', size) ??
      (index >= size ? `index ${index} is not below tree size ${size}` : null) ??
      hashProblem('leaf hash', leaf) ??
      hashProblem('root', root);
    if (bad) return fail(bad);
    const want = inclusionProofSize(BigInt(index), BigInt(size));
    const badProof = proofProblem(proof, want, `for index ${index} in a tree of size ${size}`);
    if (badProof) return fail(badProof);

    let fn = BigInt(index);
    let sn = BigInt(size - 1);
    let r: Buffer = Buffer.from(leaf);
    for (const p of proof) {
      if (sn === 0n) return fail('proof is longer than the path from the leaf to the root');
      if ((fn & 1n) === 1n || fn === sn) {
        r = nodeHash(p, r);
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        r = nodeHash(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) return fail('proof is shorter than the path from the leaf to the root');
    if (!r.equals(root)) return fail('the proof leads to a different root: the leaf is not in this tree');
    return { ok: true };
  } catch (err) {
    return fail(`cannot verify: ${errorText(err)}`);
  }
}

/**
 * RFC 9162 §2.1.4.2: does `proof` show that the tree of `size1` leaves with root `root1` is a
 * prefix of the tree of `size2` leaves with root `root2` (the log only appended)? Rejects
 * size1 = 0 (also when size2 = 0: the empty tree is a prefix of anything, so the proof proves
 * nothing), size1 > size2, proof hashes that are not 32 bytes and a proof of the wrong length.
 * When size1 = size2 the proof must be empty and the roots byte-identical; their length is not
 * checked in that one case, as in transparency-dev/merkle (its vector
 * `sizes-are-equal-one-and-proof-is-empty` accepts two equal 12-byte roots). Otherwise both roots
 * must be 32 bytes and both are rebuilt from the proof. Never throws.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): VerifyResult {
  try {
    const bad =
      countProblem('size1', size1) ??
      countProblem('size2', size2) ??
      (size1 > size2 ? `size1 ${size1} is larger than size2 ${size2}: a log cannot shrink` : null) ??
      (size1 === 0 ? 'size1 is 0: a consistency proof from the empty tree proves nothing' : null) ??
      bytesProblem('root1', root1) ??
      bytesProblem('root2', root2) ??
      (Array.isArray(proof) ? null : 'proof is not an array');
    if (bad) return fail(bad);
    if (size1 === size2) {
      if (proof.length !== 0) return fail(`sizes are equal (${size1}) but the proof is not empty`);
      if (!Buffer.from(root1).equals(root2)) return fail(`sizes are equal (${size1}) but the roots differ`);
      return { ok: true };
    }
    const badRoot = hashProblem('root1', root1) ?? hashProblem('root2', root2);
    if (badRoot) return fail(badRoot);
    const want = consistencyProofSize(BigInt(size1), BigInt(size2));
    const badProof = proofProblem(proof, want, `from size ${size1} to size ${size2}`);
    if (badProof) return fail(badProof);

    // When size1 is a power of two the old tree is itself a subtree of the new one: its root is
    // the first node of the path, and the verifier supplies it.
    const path: readonly Uint8Array[] = isPowerOfTwo(BigInt(size1)) ? [root1, ...proof] : proof;
    let fn = BigInt(size1 - 1);
    let sn = BigInt(size2 - 1);
    while ((fn & 1n) === 1n) {
      fn >>= 1n;
      sn >>= 1n;
    }
    const first = path[0] as Uint8Array; // length checked above: ≥ 1
    let fr: Buffer = Buffer.from(first);
    let sr: Buffer = Buffer.from(first);
    for (let i = 1; i < path.length; i++) {
      const c = path[i] as Uint8Array;
      if (sn === 0n) return fail('proof is longer than the path to the new root');
      if ((fn & 1n) === 1n || fn === sn) {
        fr = nodeHash(c, fr);
        sr = nodeHash(c, sr);
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        sr = nodeHash(sr, c);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) return fail('proof is shorter than the path to the new root');
    if (!fr.equals(root1))
      return fail(`the proof does not rebuild the root of size ${size1}: root1 is wrong`);
    if (!sr.equals(root2))
      return fail(
        `the proof does not rebuild the root of size ${size2}: the tree of size ${size1} is not its prefix`,
      );
    return { ok: true };
  } catch (err) {
    return fail(`cannot verify: ${errorText(err)}`);
  }
}

/**
 * Incremental root of an append-only log: keeps the roots of the perfect subtrees that the
 * leaves so far decompose into (one per set bit of `size`, largest first), so `append` costs
 * one node hash amortised and `root()` O(log n). The frontier is what a log must persist to
 * resume without rereading every leaf.
 */
export class CompactRange {
  #size = 0;
  readonly #hashes: Buffer[] = [];

  append(leafHash: Uint8Array): void {
    if (!(leafHash instanceof Uint8Array) || leafHash.length !== HASH_SIZE)
      throw new RangeError(`a leaf hash must be ${HASH_SIZE} bytes`);
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new RangeError('the log is full');
    let h: Buffer = Buffer.from(leafHash);
    this.#size++;
    // Each trailing zero bit of the new size is one merge of two equal perfect subtrees.
    for (let s = this.#size; s % 2 === 0; s /= 2) h = nodeHash(this.#hashes.pop() as Buffer, h);
    this.#hashes.push(h);
  }

  get size(): number {
    return this.#size;
  }

  /** MTH of the leaves appended so far. */
  root(): Buffer {
    return foldRight(this.#hashes);
  }

  /** The frontier (sizes largest first) as lower-case hex, for persistence. */
  toJSON(): { size: number; hashes: string[] } {
    return { size: this.#size, hashes: this.#hashes.map((h) => h.toString('hex')) };
  }

  /** Restores a frontier written by `toJSON`; throws on anything that is not one. */
  static fromJSON(value: unknown): CompactRange {
    if (typeof value !== 'object' || value === null) throw new TypeError('compact range: not an object');
    const { size, hashes } = value as { size?: unknown; hashes?: unknown };
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      throw new TypeError('compact range: size must be a non-negative safe integer');
    if (!Array.isArray(hashes)) throw new TypeError('compact range: hashes must be an array');
    const want = popCount(size);
    if (hashes.length !== want)
      throw new RangeError(`compact range: a size of ${size} needs ${want} hashes, not ${hashes.length}`);
    const range = new CompactRange();
    for (const h of hashes as unknown[]) {
      if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h))
        throw new TypeError('compact range: every hash must be 64 lower-case hex digits');
      range.#hashes.push(Buffer.from(h, 'hex'));
    }
    range.#size = size;
    return range;
  }
}

// ---- internals -----------------------------------------------------------------------------

function fail(reason: string): VerifyResult {
  return { ok: false, reason };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** MTH(D[lo:hi]) with a stack of perfect subtree roots: hi - lo - 1 node hashes, O(log) memory. */
function subtreeRoot(leafHashes: readonly Uint8Array[], lo: number, hi: number): Buffer {
  const stack: Buffer[] = [];
  for (let i = lo; i < hi; i++) {
    const leaf = leafHashes[i];
    if (!(leaf instanceof Uint8Array) || leaf.length !== HASH_SIZE)
      throw new RangeError(`leaf hash ${i} is not ${HASH_SIZE} bytes`);
    let h = Buffer.from(leaf.buffer, leaf.byteOffset, leaf.byteLength);
    for (let c = i - lo + 1; c % 2 === 0; c /= 2) h = nodeHash(stack.pop() as Buffer, h);
    stack.push(h);
  }
  return foldRight(stack);
}

/** Root over perfect subtree roots listed largest first (the right spine of the tree). */
function foldRight(hashes: readonly Buffer[]): Buffer {
  if (hashes.length === 0) return emptyRoot();
  let r = hashes[hashes.length - 1] as Buffer;
  for (let i = hashes.length - 2; i >= 0; i--) r = nodeHash(hashes[i] as Buffer, r);
  return Buffer.from(r);
}

/** For n ≥ 2: the largest power of two strictly below n (the RFC's split point k). */
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function assertCount(name: string, v: number): void {
  const bad = countProblem(name, v);
  if (bad) throw new RangeError(bad);
}

function countProblem(name: string, v: unknown): string | null {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    return `${name} must be a non-negative safe integer, got ${String(v)}`;
  return null;
}

function bytesProblem(name: string, h: unknown): string | null {
  return h instanceof Uint8Array ? null : `${name} is not a byte array`;
}

function hashProblem(name: string, h: unknown): string | null {
  if (!(h instanceof Uint8Array)) return `${name} is not a byte array`;
  if (h.length !== HASH_SIZE) return `${name} is ${h.length} bytes, want ${HASH_SIZE}`;
  return null;
}

/** The length first (a hostile proof may be huge), then every element. */
function proofProblem(proof: unknown, want: number, context: string): string | null {
  if (!Array.isArray(proof)) return 'proof is not an array';
  if (proof.length !== want) return `proof has ${proof.length} hashes, want ${want} ${context}`;
  for (let i = 0; i < proof.length; i++) {
    const bad = hashProblem(`proof[${i}]`, proof[i]);
    if (bad) return bad;
  }
  return null;
}

function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

function popCount(x: number | bigint): number {
  let n = 0;
  for (const c of BigInt(x).toString(2)) if (c === '1') n++;
  return n;
}

function isPowerOfTwo(x: bigint): boolean {
  return x > 0n && (x & (x - 1n)) === 0n;
}

/** Hashes in an inclusion proof: below the point where the paths to index and size-1 meet, plus above it. */
function inclusionProofSize(index: bigint, size: bigint): number {
  const inner = bitLength(index ^ (size - 1n));
  return inner + popCount(index >> BigInt(inner));
}

/** Hashes in a consistency proof, 0 < size1 < size2 (transparency-dev/merkle's decomposition). */
function consistencyProofSize(size1: bigint, size2: bigint): number {
  const last = size1 - 1n;
  const inner = bitLength(last ^ (size2 - 1n));
  const border = popCount(last >> BigInt(inner));
  let shift = 0;
  while (((size1 >> BigInt(shift)) & 1n) === 0n) shift++;
  return (isPowerOfTwo(size1) ? 0 : 1) + inner - shift + border;
}
