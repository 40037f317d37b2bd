import { SignedCheckpoint } from '../../domain/checkpoint';
import { MerkleNode, NodeKey } from '../../domain/merkle';

/**
 * What a transparency log keeps beside its entries: the hashes of the perfect subtrees of its
 * Merkle tree and its signed checkpoints, per log (origin).
 */
export abstract class TlogRepository {
  /** Stores nodes; a node already stored (same origin, level, index) is left as it is. */
  abstract putNodes(origin: string, nodes: MerkleNode[]): Promise<void>;
  /**
   * Stores nodes, a node already stored replaced by the one given: the repair of nodes deleted
   * or rewritten outside the server, once the log's entries proved them against its signed root.
   */
  abstract replaceNodes(origin: string, nodes: MerkleNode[]): Promise<void>;
  /** The stored hashes of these nodes, by `nodeId` (missing ones are absent). */
  abstract findNodes(origin: string, keys: NodeKey[]): Promise<Map<string, Buffer>>;
  /** Stores a checkpoint; a second one for the same (origin, size) is ignored. */
  abstract saveCheckpoint(checkpoint: SignedCheckpoint): Promise<void>;
  /** The checkpoint of the largest tree of this log (smaller than `belowSize` when given). */
  abstract latestCheckpoint(
    origin: string,
    belowSize?: number,
  ): Promise<SignedCheckpoint | undefined>;
  /**
   * The checkpoint of the largest tree of each of these logs (a log with none is absent), in
   * one read whatever their number: what a sweep over every site's log asks per page of sites,
   * where `latestCheckpoint` each would be a read per site.
   */
  abstract latestCheckpoints(origins: string[]): Promise<Map<string, SignedCheckpoint>>;
  /** The checkpoint of exactly this tree size, if one was signed. */
  abstract checkpointAt(origin: string, size: number): Promise<SignedCheckpoint | undefined>;
  /** Every log with a checkpoint (its origin), for the start-up check of their nodes. */
  abstract origins(): Promise<string[]>;
  /** Up to `limit` checkpoints with size > afterSize, by size. */
  abstract listCheckpoints(
    origin: string,
    afterSize: number,
    limit: number,
  ): Promise<SignedCheckpoint[]>;
}
