import { createHash } from 'node:crypto';
import {
  appendLeaves,
  consistencyRanges,
  EMPTY_ROOT,
  inclusionProofsOf,
  inclusionRanges,
  leafOfRecordHash,
  nodeHash,
  nodesFor,
  perfectNodes,
  rangeHash,
  verifyConsistency,
  verifyInclusion,
} from './merkle';
import { TreeBuilder } from './tree-verifier';

/**
 * An independent RFC 9162 §2.1 implementation, written from the RFC's definitions over the
 * full list of leaves (no stored nodes, no shortcuts), to check the library's proofs.
 */
const ref = {
  sha: (...parts: Buffer[]) => {
    const h = createHash('sha256');
    for (const p of parts) h.update(p);
    return h.digest();
  },
  mth(d: Buffer[]): Buffer {
    if (d.length === 0) return ref.sha();
    if (d.length === 1) return ref.sha(Buffer.of(0), d[0]);
    let k = 1;
    while (k << 1 < d.length) k <<= 1;
    return ref.sha(Buffer.of(1), ref.mth(d.slice(0, k)), ref.mth(d.slice(k)));
  },
  path(m: number, d: Buffer[]): Buffer[] {
    if (d.length <= 1) return [];
    let k = 1;
    while (k << 1 < d.length) k <<= 1;
    return m < k
      ? [...ref.path(m, d.slice(0, k)), ref.mth(d.slice(k))]
      : [...ref.path(m - k, d.slice(k)), ref.mth(d.slice(0, k))];
  },
  subproof(m: number, d: Buffer[], b: boolean): Buffer[] {
    const n = d.length;
    if (m === n) return b ? [] : [ref.mth(d)];
    let k = 1;
    while (k << 1 < n) k <<= 1;
    return m <= k
      ? [...ref.subproof(m, d.slice(0, k), b), ref.mth(d.slice(k))]
      : [...ref.subproof(m - k, d.slice(k), false), ref.mth(d.slice(0, k))];
  },
};

const entries = Array.from({ length: 33 }, (_, i) => Buffer.from(`entry ${i}`));
const leaves = entries.map((e) => ref.sha(Buffer.of(0), e));

function built(size: number) {
  // build in three uneven append batches, as the log does
  let compact = new Map<string, Buffer>();
  let nodes = new Map<string, Buffer>();
  for (const [from, to] of [
    [0, Math.floor(size / 3)],
    [Math.floor(size / 3), Math.floor(size / 2)],
    [Math.floor(size / 2), size],
  ]) {
    const before = new Map(
      perfectNodes(0, from).map((k) => [
        `${k.level}/${k.index}`,
        nodes.get(`${k.level}/${k.index}`)!,
      ]),
    );
    compact = before;
    const r = appendLeaves(compact, from, leaves.slice(from, to));
    nodes = new Map([...nodes, ...r.nodes]);
  }
  return nodes;
}

describe('Merkle tree (RFC 9162 §2.1)', () => {
  it('should compute the root of every size as the RFC MTH does', () => {
    const nodes = built(33);
    expect(rangeHash(0, 0, nodes)).toEqual(EMPTY_ROOT);
    for (let n = 1; n <= 33; n++) {
      expect(rangeHash(0, n, nodes).toString('hex')).toBe(
        ref.mth(entries.slice(0, n)).toString('hex'),
      );
    }
  });

  it('should produce the RFC inclusion proof for every leaf of every size up to 33, and verify it', () => {
    const nodes = built(33);
    for (let n = 1; n <= 33; n++) {
      const root = ref.mth(entries.slice(0, n));
      for (let m = 0; m < n; m++) {
        const proof = inclusionRanges(m, n).map(([lo, hi]) => rangeHash(lo, hi, nodes));
        expect(proof).toEqual(ref.path(m, entries.slice(0, n)));
        expect(verifyInclusion(m, n, leaves[m], proof, root)).toBe(true);
        expect(verifyInclusion(m, n, leaves[(m + 1) % n], proof, root)).toBe(
          n === 1 ? true : false,
        );
      }
    }
  });

  it('should produce the RFC consistency proof for every pair of sizes up to 33, and verify it', () => {
    const nodes = built(33);
    for (let n = 1; n <= 33; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = consistencyRanges(m, n).map(([lo, hi]) => rangeHash(lo, hi, nodes));
        expect(proof).toEqual(m === n ? [] : ref.subproof(m, entries.slice(0, n), true));
        const first = ref.mth(entries.slice(0, m));
        const second = ref.mth(entries.slice(0, n));
        expect(verifyConsistency(m, n, first, second, proof)).toBe(true);
        if (m < n) {
          const forged = ref.mth([...entries.slice(0, m - 1), Buffer.from('forged')]);
          expect(verifyConsistency(m, n, forged, second, proof)).toBe(false);
        }
      }
    }
  });

  it('should give, in one pass, the RFC inclusion proof of every leaf of every size up to 33', () => {
    const nodes = built(33);
    for (let n = 1; n <= 33; n++) {
      const all = Array.from({ length: n }, (_, m) => m);
      const proofs = inclusionProofsOf(all, n, nodes, (h) => h);
      all.forEach((m) => expect(proofs[m]).toEqual(ref.path(m, entries.slice(0, n))));
    }
  });

  it('should give, in one pass, the per-leaf proofs for any leaves of many tree sizes', () => {
    // sizes around powers of two, and the last batch of appended leaves as the seal asks
    const sizes = [
      ...Array.from({ length: 300 }, (_, i) => i + 1),
      511,
      512,
      513,
      1000,
      1023,
      1024,
      1025,
      1500,
      2047,
      2048,
      2049,
      3000,
      4095,
      4096,
      4097,
      5001,
    ];
    const hashes = Array.from({ length: 5001 }, (_, i) => ref.sha(Buffer.from(`leaf ${i}`)));
    const tree = appendLeaves(new Map(), 0, hashes).nodes;
    const perLeaf = (m: number, n: number) =>
      inclusionRanges(m, n).map(([lo, hi]) => rangeHash(lo, hi, tree).toString('base64'));
    let seed = 7;
    const random = (below: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % below;
    };
    for (const n of sizes) {
      const batches = [
        Array.from({ length: Math.min(n, 500) }, (_, i) => n - Math.min(n, 500) + i),
        Array.from({ length: 40 }, () => random(n)), // unsorted, with repeats
        [0, n - 1],
      ];
      for (const indexes of batches) {
        const proofs = inclusionProofsOf(indexes, n, tree, (h) => h.toString('base64'));
        expect(proofs).toEqual(indexes.map((m) => perLeaf(m, n)));
      }
    }
  });

  it('should refuse a one-pass proof of a leaf outside the tree or a missing node', () => {
    const nodes = built(33);
    expect(() => inclusionProofsOf([33], 33, nodes, (h) => h)).toThrow('not in a tree of 33');
    expect(() => inclusionProofsOf([-1], 33, nodes, (h) => h)).toThrow('not in a tree of 33');
    expect(() => inclusionProofsOf([0], 33, new Map(), (h) => h)).toThrow('is missing');
    expect(inclusionProofsOf([], 33, nodes, (h) => h)).toEqual([]);
  });

  it('should refuse a tampered inclusion proof or wrong sizes', () => {
    const nodes = built(33);
    const root = ref.mth(entries.slice(0, 33));
    const proof = inclusionRanges(5, 33).map(([lo, hi]) => rangeHash(lo, hi, nodes));
    const bad = proof.map((p, i) => (i === 2 ? ref.sha(p) : p));
    expect(verifyInclusion(5, 33, leaves[5], bad, root)).toBe(false);
    expect(verifyInclusion(5, 6, leaves[5], proof, root)).toBe(false);
    expect(verifyInclusion(33, 33, leaves[5], proof, root)).toBe(false);
  });

  it('should need only O(log n) stored nodes for a proof', () => {
    expect(nodesFor(inclusionRanges(123_456, 1_000_000)).length).toBeLessThanOrEqual(40);
  });

  it('should give the same root incrementally as the TreeBuilder compact range', () => {
    const tree = new TreeBuilder();
    for (let i = 0; i < 33; i++) {
      tree.push(leaves[i]);
      expect(tree.root()).toEqual(ref.mth(entries.slice(0, i + 1)));
    }
  });

  it('should hash record-hash leaves and nodes as the reference does, each result its own bytes', () => {
    const recordHashes = entries.map((e) => ref.sha(e).toString('hex'));
    const tree = new TreeBuilder();
    const seen: Buffer[] = [];
    recordHashes.forEach((hex, i) => {
      const raw = Buffer.from(hex, 'hex');
      expect(leafOfRecordHash(hex)).toEqual(ref.sha(Buffer.of(0), raw));
      expect(leafOfRecordHash(hex.toUpperCase())).toEqual(ref.sha(Buffer.of(0), raw));
      tree.pushRecordHash(hex);
      seen.push(tree.root());
      expect(seen[i]).toEqual(
        ref.mth(recordHashes.slice(0, i + 1).map((h) => Buffer.from(h, 'hex'))),
      );
    });
    // no result shares the scratch input: earlier roots are unchanged by later hashing
    expect(seen[0]).toEqual(ref.sha(Buffer.of(0), Buffer.from(recordHashes[0], 'hex')));
    const [a, b] = [nodeHash(leaves[0], leaves[1]), nodeHash(leaves[2], leaves[3])];
    expect(a).toEqual(ref.sha(Buffer.of(1), leaves[0], leaves[1]));
    expect(b).toEqual(ref.sha(Buffer.of(1), leaves[2], leaves[3]));
    // inputs of other lengths (a proof from outside) still hash as given
    expect(nodeHash(leaves[0], Buffer.of(7))).toEqual(
      ref.sha(Buffer.of(1), leaves[0], Buffer.of(7)),
    );
    expect(() => leafOfRecordHash('zz'.repeat(32))).toThrow('64 hex digits');
    expect(() => leafOfRecordHash('ab')).toThrow('64 hex digits');
    expect(() => tree.push(Buffer.of(1, 2))).toThrow('32 bytes');
  });
});
