import { Injectable } from '@nestjs/common';
import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { StoreMacReplica, StoreMacReplicaRepository } from './store-mac-replica.repository';

@Schema({ collection: 'store_mac_replicas', versionKey: false })
export class StoreMacReplicaDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ type: String, required: true }) host!: string;
  @Prop({ type: String, required: true }) kid!: string;
  @Prop({ required: true }) startedAt!: Date;
  @Prop({ required: true }) seenAt!: Date;
  @Prop({ type: Number, required: true }) heartbeatMs!: number;
}
export const StoreMacReplicaSchema = SchemaFactory.createForClass(StoreMacReplicaDocument);

@Injectable()
export class MongoStoreMacReplicaRepository extends StoreMacReplicaRepository {
  private readonly replicas: Model<StoreMacReplicaDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.replicas = store.connection.model(StoreMacReplicaDocument.name, StoreMacReplicaSchema);
  }

  async record(r: StoreMacReplica): Promise<void> {
    await this.replicas.updateOne(
      { _id: r.replicaId },
      {
        $set: {
          host: r.host,
          kid: r.kid,
          startedAt: r.startedAt,
          seenAt: r.seenAt,
          heartbeatMs: r.heartbeatMs,
        },
      },
      { upsert: true },
    );
  }

  async list(): Promise<StoreMacReplica[]> {
    const docs = await this.replicas.find({}).sort({ _id: 1 }).lean<StoreMacReplicaDocument[]>();
    return docs.map((d) => ({
      replicaId: d._id,
      host: d.host,
      kid: d.kid,
      startedAt: d.startedAt,
      seenAt: d.seenAt,
      heartbeatMs: d.heartbeatMs,
    }));
  }

  async remove(replicaId: string): Promise<void> {
    await this.replicas.deleteOne({ _id: replicaId });
  }

  async removeSeenBefore(before: Date): Promise<number> {
    return (await this.replicas.deleteMany({ seenAt: { $lt: before } })).deletedCount;
  }
}
