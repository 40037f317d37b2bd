import { Injectable, OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { ShredReason, VaultFile } from '../../../../domain/vault-file';
import { VaultFileRepository } from '../../vault-file.repository';
import { VaultFileMongoMapper as Mapper } from '../mappers/vault-file.mapper';
import { VaultFileDocument, VaultFileSchema } from '../schemas/vault-file.schema';

@Injectable()
export class MongoVaultFileRepository extends VaultFileRepository implements OnModuleInit {
  private readonly files: Model<VaultFileDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.files = store.connection.model(VaultFileDocument.name, VaultFileSchema);
  }

  async onModuleInit(): Promise<void> {
    await this.files.init();
  }

  async create(file: VaultFile): Promise<void> {
    await this.files.create(Mapper.toPersistence(file));
  }

  async findById(id: string): Promise<VaultFile | undefined> {
    const doc = await this.files.findById(id).lean<VaultFileDocument>();
    return doc ? Mapper.toDomain(doc) : undefined;
  }

  async replaceWrappedKey(
    id: string,
    expectedWrappedKey: string,
    next: { wrappedKey: string; keyVersion: string },
  ): Promise<boolean> {
    const result = await this.files.updateOne(
      { _id: id, wrappedKey: expectedWrappedKey },
      { $set: { wrappedKey: next.wrappedKey, keyVersion: next.keyVersion } },
    );
    return result.modifiedCount === 1;
  }

  async shred(id: string, reason: ShredReason, at: Date): Promise<boolean> {
    const result = await this.files.updateOne(
      { _id: id, wrappedKey: { $ne: null } },
      { $set: { wrappedKey: null, shreddedAt: at, shredReason: reason } },
    );
    return result.modifiedCount === 1;
  }

  async listLiveIdBefore(idBound: string, limit: number): Promise<VaultFile[]> {
    const docs = await this.files
      .find({ wrappedKey: { $ne: null }, _id: { $lt: idBound } })
      .sort({ _id: 1 })
      .limit(limit)
      .lean<VaultFileDocument[]>();
    return docs.map(Mapper.toDomain);
  }

  async listLiveNotWrappedBy(version: string, limit: number): Promise<VaultFile[]> {
    const docs = await this.files
      .find({ wrappedKey: { $ne: null }, keyVersion: { $ne: version } })
      .sort({ _id: 1 })
      .limit(limit)
      .lean<VaultFileDocument[]>();
    return docs.map(Mapper.toDomain);
  }

  async countLiveByKeyVersion(): Promise<Record<string, number>> {
    const rows = await this.files.aggregate<{ _id: string; n: number }>([
      { $match: { wrappedKey: { $ne: null } } },
      { $group: { _id: '$keyVersion', n: { $sum: 1 } } },
      { $sort: { _id: 1 } },
    ]);
    return Object.fromEntries(rows.map((row) => [row._id, row.n]));
  }
}
