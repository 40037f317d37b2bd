import { createHash } from 'node:crypto';
import { sha256, sha256Latin1 } from '@app/common';

/**
 * The RFC 6962 / RFC 9162 §2.1 Merkle tree over a log's entries, built from stored hashes of
 * perfect subtrees ("nodes"): node (level L, index i) covers leaves [i·2^L, (i+1)·2^L).
 * Every hash a proof or a root needs is a fold of O(log n) such nodes, so nothing here walks
 * the whole log.
 */

export const HASH_BYTES = 32;

export interface NodeKey {
  level: number;
  index: number;
}

export interface MerkleNode extends NodeKey {
  hash: Buffer;
}

/** SHA-256 of the empty string: the root of a tree of size 0. */
export const EMPTY_ROOT = createHash('sha256').digest();

export function leafHash(leafInput: Buffer): Buffer {
  return sha256(Buffer.concat([LEAF_PREFIX, leafInput]));
}

export function nodeHash(left: Buffer, right: Buffer): Buffer {
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES) {
    return sha256(Buffer.concat([NODE_PREFIX, left, right]));
  }
  left.copy(NODE_INPUT, 1);
  right.copy(NODE_INPUT, 1 + HASH_BYTES);
  return Buffer.from(sha256Latin1(NODE_INPUT), 'latin1');
}

const LEAF_PREFIX = Buffer.of(0);
const NODE_PREFIX = Buffer.of(1);
/**
 * Scratch inputs for the 33- and 65-byte hashes (filled and hashed synchronously, never held):
 * a Buffer per input and per digest costs more than the SHA-256 itself on inputs this small.
 */
const LEAF_INPUT = Buffer.alloc(1 + HASH_BYTES, 0);
const NODE_INPUT = Buffer.alloc(1 + 2 * HASH_BYTES, 1);

/**
 * A log entry's leaf: the leaf input is the 32 raw bytes of its `recordHash` (which already
 * binds the entry's content and its place in the hash chain).
 */
export function leafOfRecordHash(recordHashHex: string): Buffer {
  return Buffer.from(leafOfRecordHashLatin1(recordHashHex), 'latin1');
}

/**
 * The same hashes as 32-character latin1 strings (one character per byte), for loops over a
 * whole log (`TreeBuilder`): no Buffer is made per hash.
 */
export function leafOfRecordHashLatin1(recordHashHex: string): string {
  if (
    recordHashHex.length !== 2 * HASH_BYTES ||
    LEAF_INPUT.write(recordHashHex, 1, 'hex') !== HASH_BYTES
  ) {
    throw new Error('a recordHash is 64 hex digits');
  }
  return sha256Latin1(LEAF_INPUT);
}

export function nodeHashLatin1(left: string, right: string): string {
  NODE_INPUT.write(left, 1, 'latin1');
  NODE_INPUT.write(right, 1 + HASH_BYTES, 'latin1');
  return sha256Latin1(NODE_INPUT);
}

export function nodeId(key: NodeKey): string {
  return `${key.level}/${key.index}`;
}

/** The largest power of two strictly below n (n ≥ 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The perfect subtrees that make up MTH(D[lo:hi]) of an RFC 6962 tree, left to right (the
 * binary digits of hi − lo, largest first). `lo` must be aligned as RFC 6962 subtrees are.
 */
export function perfectNodes(lo: number, hi: number): NodeKey[] {
  const keys: NodeKey[] = [];
  let at = lo;
  while (at < hi) {
    let size = 1;
    let level = 0;
    while (size * 2 <= hi - at && at % (size * 2) === 0) {
      size *= 2;
      level += 1;
    }
    keys.push({ level, index: at / size });
    at += size;
  }
  return keys;
}

export type Range = [lo: number, hi: number];

/** RFC 9162 §2.1.3.1 PATH(m, D[n]) as the ranges whose MTH form the proof, in proof order. */
export function inclusionRanges(index: number, size: number): Range[] {
  const out: Range[] = [];
  const path = (lo: number, hi: number): void => {
    if (hi - lo <= 1) return;
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      path(lo, lo + k);
      out.push([lo + k, hi]);
    } else {
      path(lo + k, hi);
      out.push([lo, lo + k]);
    }
  };
  path(0, size);
  return out;
}

/** RFC 9162 §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true) as ranges, in proof order. */
export function consistencyRanges(first: number, second: number): Range[] {
  const out: Range[] = [];
  const sub = (m: number, lo: number, hi: number, whole: boolean): void => {
    const n = hi - lo;
    if (m === n) {
      if (!whole) out.push([lo, hi]);
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      sub(m, lo, lo + k, whole);
      out.push([lo + k, hi]);
    } else {
      sub(m - k, lo + k, hi, false);
      out.push([lo, lo + k]);
    }
  };
  if (first > 0 && first < second) sub(first, 0, second, true);
  return out;
}

/** Folds the perfect nodes of a range (from `nodes`) into its MTH. */
export function rangeHash(lo: number, hi: number, nodes: ReadonlyMap<string, Buffer>): Buffer {
  if (hi <= lo) return EMPTY_ROOT;
  // a loop, not `map`: an array from `map` has another shape where the caller runs optimized
  // (V8 then deoptimizes the code that reads it)
  const parts: Buffer[] = [];
  for (const key of perfectNodes(lo, hi)) {
    const hash = nodes.get(nodeId(key));
    if (!hash) throw new Error(`merkle node ${nodeId(key)} is missing`);
    parts.push(hash);
  }
  let acc = parts[parts.length - 1];
  for (let i = parts.length - 2; i >= 0; i--) acc = nodeHash(parts[i], acc);
  return acc;
}

/** Every perfect node the given ranges need. */
export function nodesFor(ranges: Range[]): NodeKey[] {
  const seen = new Map<string, NodeKey>();
  for (const [lo, hi] of ranges) {
    for (const key of perfectNodes(lo, hi)) seen.set(nodeId(key), key);
  }
  return [...seen.values()];
}

/**
 * Appends leaves at indexes [from, from + leaves.length) to a tree whose first `from` leaves
 * are summarized by `compact` (the perfect nodes of [0, from), see `perfectNodes(0, from)`).
 * Returns every perfect node that exists once the leaves are in (new ones in `created`), so
 * roots and proofs about the new leaves need no store reads.
 */
export function appendLeaves(
  compact: ReadonlyMap<string, Buffer>,
  from: number,
  leaves: Buffer[],
): { created: MerkleNode[]; nodes: Map<string, Buffer> } {
  const nodes = new Map(compact);
  const created: MerkleNode[] = [];
  for (let offset = 0; offset < leaves.length; offset++) {
    let level = 0;
    let index = from + offset;
    let current = leaves[offset];
    for (;;) {
      nodes.set(`${level}/${index}`, current);
      created.push({ level, index, hash: current });
      if (index % 2 === 0) break;
      const left = nodes.get(`${level}/${index - 1}`);
      if (!left) throw new Error(`merkle node ${level}/${index - 1} is missing`);
      current = nodeHash(left, current);
      level += 1;
      index = (index - 1) / 2;
    }
  }
  return { created, nodes };
}

/**
 * The inclusion proofs of the leaves at `indexes` in the tree of `size`, in one pass over the
 * tree's levels: each proof is what `inclusionRanges(index, size)` folded by `rangeHash`
 * gives (RFC 9162 §2.1.3.1), with each distinct hash looked up and `encode`d once.
 *
 * Level by level from the leaves up, a leaf's path node at level L is node (L, ⌊index/2^L⌋);
 * its sibling is in the proof unless it lies wholly past the tree's end (the node was
 * promoted unchanged, as RFC 6962 does with a last odd subtree). A sibling that is cut by the
 * end is the one incomplete subtree of that level: [start, size), folded once per level.
 * Neighbouring leaves share their upper siblings, so a batch of n leaves costs about
 * 2n + log(size) lookups, not n·log(size) folds.
 */
export function inclusionProofsOf<T>(
  indexes: readonly number[],
  size: number,
  nodes: ReadonlyMap<string, Buffer>,
  encode: (hash: Buffer) => T,
): T[][] {
  // the leaves copied and the proofs built by pushes, so the loops below always see arrays of
  // one shape whatever array the caller passed (e.g. `map`'s result or a literal): a new shape
  // made the optimized code deoptimize (V8: "wrong map") and be compiled again, batch after batch
  const leaves: number[] = [];
  const proofs: T[][] = [];
  for (let i = 0; i < indexes.length; i++) {
    const index = indexes[i];
    if (!Number.isInteger(index) || index < 0 || index >= size) {
      throw new Error(`leaf ${index} is not in a tree of ${size}`);
    }
    leaves.push(index);
    proofs.push([]);
  }
  for (let level = 0, width = 1; width < size; level++, width *= 2) {
    // the incomplete subtree at this level (if any) starts at the last multiple of width
    const edgeStart = Math.floor(size / width) * width;
    let edge: T | undefined;
    let lastSibling = -1;
    let lastHash: T | undefined;
    for (let i = 0; i < leaves.length; i++) {
      const node = Math.floor(leaves[i] / width);
      const sibling = node % 2 === 0 ? node + 1 : node - 1;
      const start = sibling * width;
      if (start >= size) continue; // no sibling: the node is promoted to the next level
      if (sibling !== lastSibling) {
        if (start + width <= size) {
          const hash = nodes.get(`${level}/${sibling}`);
          if (!hash) throw new Error(`merkle node ${level}/${sibling} is missing`);
          lastHash = encode(hash);
        } else {
          // start === edgeStart: the one range of this level that is not a perfect node
          lastHash = edge ??= encode(rangeHash(edgeStart, size, nodes));
        }
        lastSibling = sibling;
      }
      proofs[i].push(lastHash!);
    }
  }
  return proofs;
}

/** RFC 9162 §2.1.3.2: does `proof` show the leaf at `index` is in the tree of `size` with `root`? */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Buffer,
  proof: Buffer[],
  root: Buffer,
): boolean {
  if (index >= size || index < 0) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 §2.1.4.2: is the tree (second, secondRoot) an append-only extension of (first, firstRoot)? */
export function verifyConsistency(
  first: number,
  second: number,
  firstRoot: Buffer,
  secondRoot: Buffer,
  proof: Buffer[],
): boolean {
  if (first > second || first < 0) return false;
  if (first === second) return proof.length === 0 && firstRoot.equals(secondRoot);
  if (first === 0) return proof.length === 0;
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  if (path.length === 0) return false;
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(firstRoot) && sr.equals(secondRoot);
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}
