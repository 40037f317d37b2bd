import { Injectable, OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { appendWithRetry } from '@app/tlog';
import {
  ChainHead,
  TaggedVaultAuditRecord,
  VAULT_ACTIONS,
  VAULT_RESULTS,
  VaultAuditRecord,
  VaultAuditTag,
} from '../../../../domain/vault-audit-record';
import { VaultAuditCriteria, VaultAuditRepository } from '../../vault-audit.repository';
import { VaultAuditMongoMapper as Mapper } from '../mappers/vault-audit.mapper';
import {
  SUPERSEDED_VAULT_AUDIT_INDEXES,
  VaultAuditDocument,
  VaultAuditSchema,
} from '../schemas/vault-audit.schema';

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
    await this.dropSupersededIndexes();
  }

  /**
   * Drops the (column, seq) indexes of an older deployment: `init` creates the declared
   * indexes but drops none, and those would cost every append a write for no listing. Another
   * replica dropping one at the same time (index or namespace not found) is the same outcome.
   */
  private async dropSupersededIndexes(): Promise<void> {
    let names: string[];
    try {
      const indexes = (await this.records.collection.listIndexes().toArray()) as {
        name?: string;
      }[];
      names = indexes.map((i) => String(i.name));
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    for (const name of SUPERSEDED_VAULT_AUDIT_INDEXES.filter((n) => names.includes(n))) {
      try {
        await this.records.collection.dropIndex(name);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }

  async appendToChain(
    link: (head: ChainHead | undefined) => VaultAuditRecord,
    tag?: (record: VaultAuditRecord) => VaultAuditTag,
  ): Promise<VaultAuditRecord> {
    return appendWithRetry(async () => {
      const head = await this.records
        .findOne({}, { seq: 1, recordHash: 1 })
        .sort({ seq: -1 })
        .lean<Pick<VaultAuditDocument, 'seq' | 'recordHash'>>();
      const record = link(head ? { seq: head.seq, hash: head.recordHash } : undefined);
      const doc = Mapper.toPersistence(record);
      const tagged = tag?.(record);
      if (tagged) {
        doc.mac = tagged.mac;
        doc.macKid = tagged.kid;
      }
      await this.records.create(doc);
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

  async readTagged(fromSeq: number, toSeq: number): Promise<TaggedVaultAuditRecord[]> {
    const docs = await this.records
      .find({ seq: { $gte: fromSeq, $lte: toSeq } })
      .sort({ seq: 1 })
      .lean<VaultAuditDocument[]>();
    return docs.map((doc) => ({
      record: Mapper.toDomain(doc),
      mac: doc.mac ?? null,
      kid: doc.macKid ?? null,
    }));
  }

  async headSeq(): Promise<number> {
    const head = await this.records
      .findOne({}, { seq: 1 })
      .sort({ seq: -1 })
      .lean<Pick<VaultAuditDocument, 'seq'>>();
    return head?.seq ?? 0;
  }

  async listInOrder(criteria: VaultAuditCriteria): Promise<VaultAuditRecord[]> {
    const filter: Record<string, unknown> = { seq: { $gt: criteria.afterSeq ?? 0 } };
    const { fileId, actor, action, result } = criteria;
    if ([fileId, actor, action, result].some((value) => value !== undefined)) {
      // the index's prefix: the filters given, every value of an action or result not given
      if (fileId !== undefined) filter.fileId = fileId;
      if (actor !== undefined) filter.actor = actor;
      filter.action = action ?? { $in: [...VAULT_ACTIONS] };
      filter.result = result ?? { $in: [...VAULT_RESULTS] };
    }
    const docs = await this.records
      .find(filter)
      .sort({ seq: 1 })
      .limit(criteria.limit)
      .lean<VaultAuditDocument[]>();
    return docs.map(Mapper.toDomain);
  }
}

/** NamespaceNotFound (26) or IndexNotFound (27). */
function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 26 || code === 27;
}
