import { EMPTY_ROOT, HASH_BYTES, leafOfRecordHashLatin1, nodeHashLatin1 } from './merkle';

/**
 * Recomputes a log's Merkle root leaf by leaf with a compact range (one hash per set bit of
 * the size), so a whole log is checked in memory proportional to log(size). Hashes are held
 * as latin1 strings (`nodeHashLatin1`): a verification pass hashes two or three small inputs
 * per entry, and a Buffer per hash would cost more than the hashing.
 */
export class TreeBuilder {
  /** The perfect subtrees of the leaves so far, largest first: one per set bit of `count`. */
  private readonly stack: string[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  pushRecordHash(recordHashHex: string): void {
    this.pushLatin1(leafOfRecordHashLatin1(recordHashHex));
  }

  push(leaf: Buffer): void {
    if (leaf.length !== HASH_BYTES) throw new Error('a leaf hash is 32 bytes');
    this.pushLatin1(leaf.toString('latin1'));
  }

  root(): Buffer {
    if (this.stack.length === 0) return EMPTY_ROOT;
    let acc = this.stack[this.stack.length - 1];
    for (let i = this.stack.length - 2; i >= 0; i--) acc = nodeHashLatin1(this.stack[i], acc);
    return Buffer.from(acc, 'latin1');
  }

  private pushLatin1(leaf: string): void {
    let node = leaf;
    // each trailing 1 bit of the count is a subtree of the new leaf's size to merge with
    for (let n = this.count; n % 2 === 1; n = (n - 1) / 2) {
      node = nodeHashLatin1(this.stack.pop()!, node);
    }
    this.stack.push(node);
    this.count++;
  }
}
