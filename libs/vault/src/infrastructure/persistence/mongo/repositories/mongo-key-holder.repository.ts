import { Injectable } from '@nestjs/common';
import type { Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { KeyHolder, KeyHolderRepository } from '../../key-holder.repository';
import { KeyHolderDocument, KeyHolderSchema } from '../schemas/key-holder.schema';

@Injectable()
export class MongoKeyHolderRepository extends KeyHolderRepository {
  private readonly holders: Model<KeyHolderDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.holders = store.connection.model(KeyHolderDocument.name, KeyHolderSchema);
  }

  async record(holder: KeyHolder): Promise<void> {
    await this.holders.updateOne(
      { _id: holder.instanceId },
      holder.active === undefined
        ? { $set: { versions: holder.versions, seenAt: holder.seenAt }, $unset: { active: 1 } }
        : { $set: { versions: holder.versions, active: holder.active, seenAt: holder.seenAt } },
      { upsert: true },
    );
  }

  async listSeenSince(since: Date): Promise<KeyHolder[]> {
    const docs = await this.holders
      .find({ seenAt: { $gte: since } })
      .sort({ _id: 1 })
      .lean<KeyHolderDocument[]>();
    return docs.map((d) => ({
      instanceId: d._id,
      versions: d.versions,
      ...(d.active ? { active: d.active } : {}),
      seenAt: d.seenAt,
    }));
  }

  async remove(instanceId: string): Promise<void> {
    await this.holders.deleteOne({ _id: instanceId });
  }
}
