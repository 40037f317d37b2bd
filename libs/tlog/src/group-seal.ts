import { SignedCheckpoint } from './domain/checkpoint';
import { LeafSource, Receipt, TransparencyLogService } from './transparency-log.service';

/** An entry's own receipt, under the signed checkpoint of the seal that covered it. */
export interface GroupSealed {
  checkpoint: SignedCheckpoint;
  receipt: Receipt;
}

interface Waiting {
  seq: number;
  recordHash: string;
  resolve: (sealed: GroupSealed) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit of one log's seals. An entry committed while no seal of this log is in flight
 * (in this process) is sealed at once; entries committed while one is in flight wait for it and
 * are sealed together by the next: one tree append, one signature, one checkpoint for the
 * group, and each entry its own inclusion proof under that checkpoint. Nobody's promise settles
 * before a checkpoint covering their entry is stored (or the seal failed: all of the group
 * reject, and `TransparencyLogService` seals the entries again in the background).
 *
 * A seal under load thus costs one checkpoint per seal time, not one per entry, and a burst of
 * entries (a flood of refused requests) waits for at most two seals instead of queueing one
 * seal per entry ahead of everyone else's.
 */
export class GroupSeal {
  private waiting: Waiting[] = [];
  private sealing = false;
  private groups = 0;

  /**
   * `stored`: the owner's read of its entries, for those this process did not hand over. It is
   * where the owner refuses an entry it did not write (`UnauthenticatedEntryError`: the vault
   * audit checks each record's store MAC there), so no checkpoint is signed over one.
   */
  constructor(
    private readonly tlog: TransparencyLogService,
    readonly origin: string,
    private readonly stored: LeafSource,
  ) {}

  /** Seals of this log this process has started (each one checkpoint, or a failure). */
  get sealsStarted(): number {
    return this.groups;
  }

  /** Seals the committed entry `seq` (with its recordHash) in the next group. */
  seal(seq: number, recordHash: string): Promise<GroupSealed> {
    return new Promise<GroupSealed>((resolve, reject) => {
      this.waiting.push({ seq, recordHash, resolve, reject });
      if (!this.sealing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.sealing = true;
    try {
      while (this.waiting.length > 0) {
        const group = this.waiting;
        this.waiting = [];
        this.groups++;
        await this.sealGroup(group);
      }
    } finally {
      this.sealing = false;
    }
  }

  private async sealGroup(group: Waiting[]): Promise<void> {
    const inHand = new Map(group.map((w) => [w.seq, w.recordHash]));
    // the tree up to the group's last entry: entries of other processes in between (replicas
    // appending to one store) are read from the store and covered too
    let size = 0;
    for (const w of group) size = Math.max(size, w.seq);
    const leaves: LeafSource = (from, to) => {
      const hashes: string[] = [];
      for (let seq = from; seq <= to; seq++) {
        const hash = inHand.get(seq);
        if (hash === undefined) return this.stored(from, to);
        hashes.push(hash);
      }
      return Promise.resolve(hashes);
    };
    try {
      const sealed = await this.tlog.seal(this.origin, size, leaves, [...inHand.keys()]);
      for (const w of group) {
        w.resolve({ checkpoint: sealed.checkpoint, receipt: sealed.receipts.get(w.seq)! });
      }
    } catch (error) {
      for (const w of group) w.reject(error);
    }
  }
}
