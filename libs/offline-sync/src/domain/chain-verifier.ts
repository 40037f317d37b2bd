import { AttendanceLog, computeRecordHash, GENESIS_HASH } from './attendance-log';

export type ChainBreak = 'seq_gap' | 'prev_hash_mismatch' | 'record_hash_mismatch' | 'wrong_site';

/**
 * Walks one chain in seq order, one link at a time (memory flat in chain length), and
 * remembers the first link that does not follow from the one before it.
 */
export class ChainVerifier {
  private expectedSeq = 1;
  private prevHash = GENESIS_HASH;
  private broken?: { seq: number; reason: ChainBreak };

  constructor(private readonly siteId: string) {}

  get length(): number {
    return this.expectedSeq - 1;
  }

  get headHash(): string {
    return this.prevHash;
  }

  get firstBreak(): { seq: number; reason: ChainBreak } | undefined {
    return this.broken;
  }

  /** Feeds the next link; returns false once the chain is broken. */
  accept(log: AttendanceLog): boolean {
    if (this.broken) return false;
    const reason = this.check(log);
    if (reason) {
      this.broken = { seq: reason === 'seq_gap' ? this.expectedSeq : log.seq, reason };
      return false;
    }
    this.prevHash = log.recordHash;
    this.expectedSeq += 1;
    return true;
  }

  private check(log: AttendanceLog): ChainBreak | undefined {
    if (log.seq !== this.expectedSeq) return 'seq_gap';
    if (log.siteId !== this.siteId) return 'wrong_site';
    if (log.prevHash !== this.prevHash) return 'prev_hash_mismatch';
    if (computeRecordHash(log) !== log.recordHash) return 'record_hash_mismatch';
    return undefined;
  }
}
