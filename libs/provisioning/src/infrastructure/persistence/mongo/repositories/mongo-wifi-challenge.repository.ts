import { mongoSealedField, SealedValueStore } from '@app/vault/keyring/sealed-values';
import { Injectable, OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { WifiChallenge } from '../../../../domain/wifi-challenge';
import { WifiChallengeRepository } from '../../wifi-challenge.repository';
import { WifiChallengeMongoMapper as Mapper } from '../mappers/wifi-challenge.mapper';
import { WifiChallengeDocument, WifiChallengeSchema } from '../schemas/wifi-challenge.schema';

@Injectable()
export class MongoWifiChallengeRepository extends WifiChallengeRepository implements OnModuleInit {
  private readonly sealedValues: SealedValueStore;
  private readonly challenges: Model<WifiChallengeDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.challenges = store.connection.model(WifiChallengeDocument.name, WifiChallengeSchema);
    this.sealedValues = mongoSealedField(this.challenges, '_id', 'wifiPasswordSealed');
  }

  async onModuleInit(): Promise<void> {
    await this.challenges.init();
  }

  async create(challenge: WifiChallenge): Promise<void> {
    await this.challenges.create(Mapper.toPersistence(challenge));
  }

  async findById(id: string): Promise<WifiChallenge | undefined> {
    const doc = await this.challenges.findById(id).lean<WifiChallengeDocument>();
    return doc ? Mapper.toDomain(doc) : undefined;
  }

  async markUsed(id: string, now: Date): Promise<boolean> {
    const result = await this.challenges.updateOne(
      { _id: id, status: 'pending', expiresAt: { $gt: now } },
      { $set: { status: 'used', usedAt: now } },
    );
    return result.modifiedCount === 1;
  }

  async unmarkUsed(id: string, usedAt: Date): Promise<boolean> {
    const result = await this.challenges.updateOne(
      { _id: id, status: 'used', usedAt },
      { $set: { status: 'pending' }, $unset: { usedAt: 1 } },
    );
    return result.modifiedCount === 1;
  }

  async recordWrongAnswer(id: string, maxAttempts: number): Promise<WifiChallenge | undefined> {
    // one atomic update: the pipeline reads the incremented count to decide the lock
    await this.challenges.updateOne({ _id: id, status: 'pending' }, [
      { $set: { wrongAttempts: { $add: ['$wrongAttempts', 1] } } },
      {
        $set: {
          status: { $cond: [{ $gte: ['$wrongAttempts', maxAttempts] }, 'locked', '$status'] },
        },
      },
    ]);
    return this.findById(id);
  }

  async deleteExpired(before: Date): Promise<number> {
    return (await this.challenges.deleteMany({ expiresAt: { $lt: before } })).deletedCount;
  }

  listSealedNotUnder(version: string, afterKey: string, limit: number) {
    return this.sealedValues.listSealedNotUnder(version, afterKey, limit);
  }

  replaceSealed(key: string, expected: string, next: string): Promise<boolean> {
    return this.sealedValues.replaceSealed(key, expected, next);
  }

  countByVersion(): Promise<Record<string, number>> {
    return this.sealedValues.countByVersion();
  }
}
