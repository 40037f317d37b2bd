import { Injectable, OnModuleInit } from '@nestjs/common';
import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { isDuplicateKeyError, MongoStoreHandle } from '@app/persistence';
import { SignedCheckpoint } from '../../../domain/checkpoint';
import { MerkleNode, NodeKey, nodeId } from '../../../domain/merkle';
import { DUPLICATE_KEY } from '../chain-append';
import { TlogRepository } from '../tlog.repository';

@Schema({ collection: 'tlog_nodes', versionKey: false })
export class TlogNodeDocument {
  @Prop({ type: String, required: true }) origin!: string;
  @Prop({ type: Number, required: true }) level!: number;
  @Prop({ type: Number, required: true }) index!: number;
  @Prop({ type: Buffer, required: true }) hash!: Buffer;
}
export const TlogNodeSchema = SchemaFactory.createForClass(TlogNodeDocument);
TlogNodeSchema.index({ origin: 1, level: 1, index: 1 }, { unique: true });

@Schema({ collection: 'tlog_checkpoints', versionKey: false })
export class TlogCheckpointDocument {
  @Prop({ type: String, required: true }) origin!: string;
  @Prop({ type: Number, required: true }) size!: number;
  @Prop({ type: String, required: true }) rootHash!: string;
  @Prop({ type: Date, required: true }) signedAt!: Date;
  @Prop({ type: String, required: true }) note!: string;
}
export const TlogCheckpointSchema = SchemaFactory.createForClass(TlogCheckpointDocument);
TlogCheckpointSchema.index({ origin: 1, size: 1 }, { unique: true });

/**
 * The latest checkpoint of each of `origins`: sorted as the unique (origin, size) index read
 * backwards, so that the `$group` of `$first`s is a distinct scan of it (one seek per origin,
 * then the document), not a read of every checkpoint of those logs.
 */
export function latestCheckpointsPipeline(origins: string[]) {
  return [
    { $match: { origin: { $in: origins } } },
    { $sort: { origin: -1, size: -1 } },
    {
      $group: {
        _id: '$origin',
        size: { $first: '$size' },
        rootHash: { $first: '$rootHash' },
        signedAt: { $first: '$signedAt' },
        note: { $first: '$note' },
      },
    },
  ] as const;
}

@Injectable()
export class MongoTlogRepository extends TlogRepository implements OnModuleInit {
  private readonly nodes: Model<TlogNodeDocument>;
  private readonly checkpoints: Model<TlogCheckpointDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.nodes = store.connection.model(TlogNodeDocument.name, TlogNodeSchema);
    this.checkpoints = store.connection.model(TlogCheckpointDocument.name, TlogCheckpointSchema);
  }

  async onModuleInit(): Promise<void> {
    await Promise.all([this.nodes.init(), this.checkpoints.init()]);
  }

  async putNodes(origin: string, nodes: MerkleNode[]): Promise<void> {
    if (nodes.length === 0) return;
    try {
      await this.nodes.insertMany(
        nodes.map((n) => ({ origin, level: n.level, index: n.index, hash: n.hash })),
        { ordered: false },
      );
    } catch (error) {
      const writeErrors = (error as { writeErrors?: { code?: number }[] }).writeErrors;
      const onlyDuplicates =
        (error as { code?: number }).code === DUPLICATE_KEY ||
        (writeErrors !== undefined && writeErrors.every((e) => e.code === DUPLICATE_KEY));
      if (!onlyDuplicates) throw error;
    }
  }

  async replaceNodes(origin: string, nodes: MerkleNode[]): Promise<void> {
    if (nodes.length === 0) return;
    await this.nodes.bulkWrite(
      nodes.map((n) => ({
        updateOne: {
          filter: { origin, level: n.level, index: n.index },
          update: { $set: { hash: n.hash } },
          upsert: true,
        },
      })),
      { ordered: false },
    );
  }

  async findNodes(origin: string, keys: NodeKey[]): Promise<Map<string, Buffer>> {
    if (keys.length === 0) return new Map();
    const docs = await this.nodes
      .find({ origin, $or: keys.map((k) => ({ level: k.level, index: k.index })) })
      .lean<TlogNodeDocument[]>();
    return new Map(docs.map((d) => [nodeId(d), toBuffer(d.hash)]));
  }

  async saveCheckpoint(c: SignedCheckpoint): Promise<void> {
    try {
      await this.checkpoints.updateOne(
        { origin: c.origin, size: c.size },
        { $setOnInsert: { ...c } },
        { upsert: true },
      );
    } catch (error) {
      // Another process stored a checkpoint of this size between this upsert's miss and its
      // insert (replicas sealing one batch a phone sent to both; a mongod retries such an
      // upsert itself only since 4.2, the test server never): the same tree, kept.
      if (!isDuplicateKeyError(error)) throw error;
    }
  }

  async latestCheckpoint(
    origin: string,
    belowSize?: number,
  ): Promise<SignedCheckpoint | undefined> {
    const doc = await this.checkpoints
      .findOne(belowSize === undefined ? { origin } : { origin, size: { $lt: belowSize } })
      .sort({ size: -1 })
      .lean<TlogCheckpointDocument>();
    return doc ? toDomain(doc) : undefined;
  }

  async latestCheckpoints(origins: string[]): Promise<Map<string, SignedCheckpoint>> {
    const found = new Map<string, SignedCheckpoint>();
    if (origins.length === 0) return found;
    const docs = await this.checkpoints.aggregate<
      Omit<TlogCheckpointDocument, 'origin'> & { _id: string }
    >([...latestCheckpointsPipeline(origins)]);
    for (const { _id: origin, ...doc } of docs) found.set(origin, toDomain({ origin, ...doc }));
    return found;
  }

  async checkpointAt(origin: string, size: number): Promise<SignedCheckpoint | undefined> {
    const doc = await this.checkpoints.findOne({ origin, size }).lean<TlogCheckpointDocument>();
    return doc ? toDomain(doc) : undefined;
  }

  async listCheckpoints(
    origin: string,
    afterSize: number,
    limit: number,
  ): Promise<SignedCheckpoint[]> {
    const docs = await this.checkpoints
      .find({ origin, size: { $gt: afterSize } })
      .sort({ size: 1 })
      .limit(limit)
      .lean<TlogCheckpointDocument[]>();
    return docs.map(toDomain);
  }

  async origins(): Promise<string[]> {
    const origins: unknown[] = await this.checkpoints.distinct('origin');
    return origins.filter((o): o is string => typeof o === 'string').sort();
  }
}

function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  const binary = value as { buffer?: Uint8Array };
  return Buffer.from(binary.buffer ?? (value as Uint8Array));
}

function toDomain(doc: TlogCheckpointDocument): SignedCheckpoint {
  return {
    origin: doc.origin,
    size: doc.size,
    rootHash: doc.rootHash,
    signedAt: new Date(doc.signedAt),
    note: doc.note,
  };
}
