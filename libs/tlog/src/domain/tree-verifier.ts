import { EMPTY_ROOT, leafOfRecordHash, nodeHash } from './merkle';

/**
 * Recomputes a log's Merkle root leaf by leaf with a compact range (one hash per set bit of
 * the size), so a whole log is checked in memory proportional to log(size).
 */
export class TreeBuilder {
  private readonly stack: { size: number; hash: Buffer }[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  pushRecordHash(recordHashHex: string): void {
    this.push(leafOfRecordHash(recordHashHex));
  }

  push(leaf: Buffer): void {
    let node = { size: 1, hash: leaf };
    while (this.stack.length > 0 && this.stack[this.stack.length - 1].size === node.size) {
      const left = this.stack.pop()!;
      node = { size: node.size * 2, hash: nodeHash(left.hash, node.hash) };
    }
    this.stack.push(node);
    this.count++;
  }

  root(): Buffer {
    if (this.stack.length === 0) return EMPTY_ROOT;
    let acc = this.stack[this.stack.length - 1].hash;
    for (let i = this.stack.length - 2; i >= 0; i--) acc = nodeHash(this.stack[i].hash, acc);
    return acc;
  }
}
