/** The prevHash of a chain's first link. */
export const GENESIS_HASH = '0'.repeat(64);

/** What every hash-chained log entry has, whatever else it holds. */
export interface ChainLink {
  seq: number;
  prevHash: string;
  recordHash: string;
}

export interface ChainHead {
  seq: number;
  recordHash: string;
}

export const EMPTY_HEAD: ChainHead = { seq: 0, recordHash: GENESIS_HASH };

export type ChainBreakReason =
  'seq_gap' | 'prev_hash_mismatch' | 'record_hash_mismatch' | 'wrong_log';

export interface ChainBreak {
  seq: number;
  reason: ChainBreakReason;
}

/**
 * Walks one chain in seq order, one link at a time (memory flat in chain length), and
 * remembers the first link that does not follow from the one before it. `recompute` is the
 * log's own recordHash formula; `belongs` rejects a link of another chain (e.g. another site).
 */
export class ChainVerifier<T extends ChainLink> {
  private expectedSeq = 1;
  private prevHash = GENESIS_HASH;
  private broken?: ChainBreak;

  constructor(
    private readonly recompute: (link: T) => string,
    private readonly belongs: (link: T) => boolean = () => true,
  ) {}

  get length(): number {
    return this.expectedSeq - 1;
  }

  get headHash(): string {
    return this.prevHash;
  }

  get firstBreak(): ChainBreak | undefined {
    return this.broken;
  }

  /** Feeds the next link; returns false once the chain is broken. */
  accept(link: T): boolean {
    if (this.broken) return false;
    const reason = this.check(link);
    if (reason) {
      this.broken = { seq: reason === 'seq_gap' ? this.expectedSeq : link.seq, reason };
      return false;
    }
    this.prevHash = link.recordHash;
    this.expectedSeq += 1;
    return true;
  }

  private check(link: T): ChainBreakReason | undefined {
    if (link.seq !== this.expectedSeq) return 'seq_gap';
    if (!this.belongs(link)) return 'wrong_log';
    if (link.prevHash !== this.prevHash) return 'prev_hash_mismatch';
    if (this.recompute(link) !== link.recordHash) return 'record_hash_mismatch';
    return undefined;
  }
}
