import { OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { isDuplicateKeyError, MongoStoreHandle } from '@app/persistence';
import { LedgerCheckpoint } from '../../../../domain/ledger-checkpoint';
import { LedgerCheckpointRepository } from '../../ledger-checkpoint.repository';
import { AttendanceLogMongoMapper as Mapper } from '../mappers/attendance-log.mapper';
import { LedgerCheckpointDocument, LedgerCheckpointSchema } from '../schemas/attendance-log.schema';

export class MongoLedgerCheckpointRepository
  extends LedgerCheckpointRepository
  implements OnModuleInit
{
  private readonly checkpoints: Model<LedgerCheckpointDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.checkpoints = store.connection.model(
      LedgerCheckpointDocument.name,
      LedgerCheckpointSchema,
    );
  }

  async onModuleInit(): Promise<void> {
    await this.checkpoints.init();
  }

  async saveCheckpoint(checkpoint: LedgerCheckpoint): Promise<void> {
    try {
      await this.checkpoints.updateOne(
        { siteId: checkpoint.siteId, seq: checkpoint.seq },
        { $setOnInsert: Mapper.checkpointToPersistence(checkpoint) },
        { upsert: true },
      );
    } catch (error) {
      // a concurrent writer (another replica) saved this seq first: the first one is kept
      if (!isDuplicateKeyError(error)) throw error;
    }
  }

  async listCheckpoints(siteId: string): Promise<LedgerCheckpoint[]> {
    const docs = await this.checkpoints
      .find({ siteId })
      .sort({ seq: 1 })
      .lean<LedgerCheckpointDocument[]>();
    return docs.map(Mapper.checkpointToDomain);
  }
}
