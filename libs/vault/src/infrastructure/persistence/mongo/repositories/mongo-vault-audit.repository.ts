import { Injectable, OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { appendWithRetry } from '@app/tlog';
import { ChainHead, VaultAuditRecord } from '../../../../domain/vault-audit-record';
import { VaultAuditCriteria, VaultAuditRepository } from '../../vault-audit.repository';
import { VaultAuditMongoMapper as Mapper } from '../mappers/vault-audit.mapper';
import { VaultAuditDocument, VaultAuditSchema } from '../schemas/vault-audit.schema';

/**
 * The audit chain on MongoDB: read the head, insert seq+1; the unique index on `seq` lets only
 * one of two racing appends in, and the loser re-reads the head and links after the winner.
 */
@Injectable()
export class MongoVaultAuditRepository extends VaultAuditRepository implements OnModuleInit {
  private readonly records: Model<VaultAuditDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.records = store.connection.model(VaultAuditDocument.name, VaultAuditSchema);
  }

  async onModuleInit(): Promise<void> {
    await this.records.init();
  }

  async appendToChain(
    link: (head: ChainHead | undefined) => VaultAuditRecord,
  ): Promise<VaultAuditRecord> {
    return appendWithRetry(async () => {
      const head = await this.records
        .findOne({}, { seq: 1, recordHash: 1 })
        .sort({ seq: -1 })
        .lean<Pick<VaultAuditDocument, 'seq' | 'recordHash'>>();
      const record = link(head ? { seq: head.seq, hash: head.recordHash } : undefined);
      await this.records.create(Mapper.toPersistence(record));
      return record;
    }, 'the vault audit chain');
  }

  async readRecordHashes(fromSeq: number, toSeq: number): Promise<string[]> {
    const docs = await this.records
      .find({ seq: { $gte: fromSeq, $lte: toSeq } }, { recordHash: 1 })
      .sort({ seq: 1 })
      .lean<Pick<VaultAuditDocument, 'recordHash'>[]>();
    return docs.map((d) => d.recordHash);
  }

  async listInOrder(criteria: VaultAuditCriteria): Promise<VaultAuditRecord[]> {
    const filter: Record<string, unknown> = { seq: { $gt: criteria.afterSeq ?? 0 } };
    for (const key of ['fileId', 'actor', 'action', 'result'] as const) {
      if (criteria[key] !== undefined) filter[key] = criteria[key];
    }
    const docs = await this.records
      .find(filter)
      .sort({ seq: 1 })
      .limit(criteria.limit)
      .lean<VaultAuditDocument[]>();
    return docs.map(Mapper.toDomain);
  }
}
