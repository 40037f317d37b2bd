import { Injectable, OnModuleInit } from '@nestjs/common';
import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import type { Connection, Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { Replica, ReplicaRegistryRepository } from './replica-registry.repository';

@Schema({ collection: 'replicas', versionKey: false })
export class ReplicaDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ type: String, required: true }) host!: string;
  @Prop({ required: true }) startedAt!: Date;
  @Prop({ required: true }) seenAt!: Date;
  @Prop({ type: Number, required: true }) heartbeatMs!: number;
  @Prop({ type: String }) storeMacKid?: string;
  @Prop({ type: [String], default: undefined }) vaultKeyVersions?: string[];
  @Prop({ type: String }) vaultActiveKey?: string;
}
export const ReplicaSchema = SchemaFactory.createForClass(ReplicaDocument);

/** A row of the collections the registry replaced (the release before), as stored. */
interface OldStoreMacReplica {
  _id: string;
  host: string;
  kid: string;
  startedAt: Date;
  seenAt: Date;
  heartbeatMs: number;
}
interface OldKeyHolder {
  _id: string;
  versions: string[];
  active?: string;
  seenAt: Date;
}

@Injectable()
export class MongoReplicaRegistryRepository
  extends ReplicaRegistryRepository
  implements OnModuleInit
{
  private readonly connection: Connection;
  private readonly replicas: Model<ReplicaDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.connection = store.connection;
    this.replicas = store.connection.model(ReplicaDocument.name, ReplicaSchema);
  }

  /**
   * A store from the release before holds `store_mac_replicas` and `vault_key_holders`: their
   * rows are moved into `replicas` (a row already there is kept) and the collections dropped,
   * at every start (once they are gone, nothing to do; two servers starting at once move the
   * same rows twice, to the same result).
   */
  async onModuleInit(): Promise<void> {
    const macs = await this.takeOld<OldStoreMacReplica>('store_mac_replicas');
    const holders = await this.takeOld<OldKeyHolder>('vault_key_holders');
    const moved: Array<Omit<ReplicaDocument, '_id'> & { _id: string }> = [
      ...macs.map((d) => ({
        _id: d._id,
        host: d.host,
        startedAt: d.startedAt,
        seenAt: d.seenAt,
        heartbeatMs: d.heartbeatMs,
        storeMacKid: d.kid,
      })),
      ...holders.map((d) => ({
        _id: d._id,
        host: d._id.split(':')[0],
        startedAt: d.seenAt,
        seenAt: d.seenAt,
        heartbeatMs: 60_000,
        vaultKeyVersions: d.versions,
        ...(d.active ? { vaultActiveKey: d.active } : {}),
      })),
    ];
    for (const doc of moved) {
      const { _id, ...rest } = doc;
      await this.replicas.updateOne({ _id }, { $setOnInsert: rest }, { upsert: true });
    }
    for (const name of ['store_mac_replicas', 'vault_key_holders']) {
      if (await this.exists(name)) await this.connection.db!.dropCollection(name);
    }
  }

  private async exists(name: string): Promise<boolean> {
    const found = await this.connection.db!.listCollections({ name }, { nameOnly: true }).toArray();
    return found.length > 0;
  }

  private async takeOld<T>(name: string): Promise<T[]> {
    if (!(await this.exists(name))) return [];
    return (await this.connection.db!.collection(name).find({}).toArray()) as unknown as T[];
  }

  async record(r: Replica): Promise<void> {
    const { storeMacKid, vaultKeyVersions, vaultActiveKey } = r.holds;
    const unset: Record<string, 1> = {};
    if (storeMacKid === undefined) unset.storeMacKid = 1;
    if (vaultKeyVersions === undefined) unset.vaultKeyVersions = 1;
    if (vaultActiveKey === undefined) unset.vaultActiveKey = 1;
    await this.replicas.updateOne(
      { _id: r.replicaId },
      {
        $set: {
          host: r.host,
          startedAt: r.startedAt,
          seenAt: r.seenAt,
          heartbeatMs: r.heartbeatMs,
          ...(storeMacKid === undefined ? {} : { storeMacKid }),
          ...(vaultKeyVersions === undefined ? {} : { vaultKeyVersions }),
          ...(vaultActiveKey === undefined ? {} : { vaultActiveKey }),
        },
        ...(Object.keys(unset).length > 0 ? { $unset: unset } : {}),
      },
      { upsert: true },
    );
  }

  async list(): Promise<Replica[]> {
    const docs = await this.replicas.find({}).sort({ _id: 1 }).lean<ReplicaDocument[]>();
    return docs.map((d) => ({
      replicaId: d._id,
      host: d.host,
      holds: {
        ...(d.storeMacKid ? { storeMacKid: d.storeMacKid } : {}),
        ...(d.vaultKeyVersions ? { vaultKeyVersions: d.vaultKeyVersions } : {}),
        ...(d.vaultActiveKey ? { vaultActiveKey: d.vaultActiveKey } : {}),
      },
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
