import {
  mongoSealedCount,
  mongoSealedField,
  SealedValueStore,
} from '@app/vault/keyring/sealed-values';
import { Injectable, OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { PairingSession, SessionResult } from '../../../../domain/pairing-session';
import { SessionRepository } from '../../session.repository';
import { PairingSessionMongoMapper as Mapper } from '../mappers/pairing-session.mapper';
import { PairingSessionDocument, PairingSessionSchema } from '../schemas/pairing-session.schema';

@Injectable()
export class MongoSessionRepository extends SessionRepository implements OnModuleInit {
  private readonly sealedValues: SealedValueStore;
  private readonly sessions: Model<PairingSessionDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.sessions = store.connection.model(PairingSessionDocument.name, PairingSessionSchema);
    this.sealedValues = mongoSealedField(this.sessions, '_id', 'platformIdSealed');
  }

  async onModuleInit(): Promise<void> {
    await this.sessions.init();
  }

  async create(session: PairingSession): Promise<void> {
    await this.sessions.create(Mapper.toPersistence(session));
  }

  async findById(id: string): Promise<PairingSession | undefined> {
    const doc = await this.sessions.findById(id).lean<PairingSessionDocument>();
    return doc ? Mapper.toDomain(doc) : undefined;
  }

  async setPlatformId(
    id: string,
    platformIdSealed: string,
    platformAlias: string,
  ): Promise<boolean> {
    // null matches a field absent too
    const { modifiedCount } = await this.sessions.updateOne(
      { _id: id, platformIdSealed: null },
      { $set: { platformIdSealed, platformAlias } },
    );
    return modifiedCount === 1;
  }

  async setDevice(id: string, deviceId: string): Promise<void> {
    await this.sessions.updateOne({ _id: id }, { $set: { deviceId } });
  }

  async spendAppUse(id: string, at: Date): Promise<boolean> {
    const result = await this.sessions.updateOne(
      { _id: id, appUsedAt: null },
      { $set: { appUsedAt: at } },
    );
    return result.modifiedCount === 1;
  }

  async claimSubmission(id: string, now: Date): Promise<boolean> {
    const result = await this.sessions.updateOne(
      { _id: id, status: 'open', expiresAt: { $gt: now } },
      { $set: { status: 'submitting' } },
    );
    return result.modifiedCount === 1;
  }

  async releaseSubmission(id: string): Promise<void> {
    await this.sessions.updateOne({ _id: id, status: 'submitting' }, { $set: { status: 'open' } });
  }

  async completeSubmission(
    id: string,
    result: SessionResult,
    at: Date,
    outcomeSealed?: string,
  ): Promise<void> {
    await this.sessions.updateOne(
      { _id: id, status: 'submitting' },
      {
        $set: {
          status: 'completed',
          result,
          completedAt: at,
          ...(outcomeSealed === undefined ? {} : { outcomeSealed }),
        },
      },
    );
  }

  async takeOutcome(id: string): Promise<boolean> {
    const { modifiedCount } = await this.sessions.updateOne(
      { _id: id, outcomeSealed: { $ne: null } },
      { $unset: { outcomeSealed: 1 } },
    );
    return modifiedCount === 1;
  }

  countKeptOutcomesByVersion(now: Date): Promise<Record<string, number>> {
    return mongoSealedCount(this.sessions, 'outcomeSealed', { expiresAt: { $gt: now } });
  }

  async dropExpiredOutcomes(before: Date): Promise<number> {
    const { modifiedCount } = await this.sessions.updateMany(
      { expiresAt: { $lt: before }, outcomeSealed: { $ne: null } },
      { $unset: { outcomeSealed: 1 } },
    );
    return modifiedCount;
  }

  async attachImage(id: string, fileId: string): Promise<void> {
    await this.sessions.updateOne({ _id: id }, { $set: { imageFileId: fileId } });
  }

  async deleteExpired(before: Date): Promise<number> {
    return (await this.sessions.deleteMany({ expiresAt: { $lt: before } })).deletedCount;
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
