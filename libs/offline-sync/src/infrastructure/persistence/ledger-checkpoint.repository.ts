import { LedgerCheckpoint } from '../../domain/ledger-checkpoint';

export abstract class LedgerCheckpointRepository {
  /** Stores a checkpoint; a second one for the same (siteId, seq) is ignored. */
  abstract saveCheckpoint(checkpoint: LedgerCheckpoint): Promise<void>;
  /** Checkpoints of one chain, by seq. */
  abstract listCheckpoints(siteId: string): Promise<LedgerCheckpoint[]>;
}
