import { Injectable, OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { IssuedToken, IssuedTokenRepository } from '../../issued-token.repository';
import {
  IssuedTokenDocument,
  IssuedTokenSchema,
  TokenRecordingDocument,
  TokenRecordingSchema,
} from '../schemas/issued-token.schema';

const RECORDING = 'since';

/** `offline_tokens` (a TTL index purges them) and the instant recording began. */
@Injectable()
export class MongoIssuedTokenRepository extends IssuedTokenRepository implements OnModuleInit {
  private readonly tokens: Model<IssuedTokenDocument>;
  private readonly recording: Model<TokenRecordingDocument>;
  private readonly connection: MongoStoreHandle['connection'];

  constructor(store: MongoStoreHandle) {
    super();
    this.connection = store.connection;
    this.tokens = store.connection.model(IssuedTokenDocument.name, IssuedTokenSchema);
    this.recording = store.connection.model(TokenRecordingDocument.name, TokenRecordingSchema);
  }

  async onModuleInit(): Promise<void> {
    await this.tokens.init();
  }

  async record(token: IssuedToken, now: Date): Promise<void> {
    // the TTL monitor runs once a minute, on the server's clock: past their window on ours,
    // records go now
    await this.tokens.deleteMany({ keepUntil: { $lte: now } });
    await this.tokens.create(issuedTokenDocument(token, now));
  }

  async isOnRecord(deviceId: string, tokenId: string, digest: string): Promise<boolean> {
    const found = await this.tokens
      .findOne({ deviceId, _id: tokenId, digest }, { _id: 1 })
      .lean()
      .exec();
    return found !== null;
  }

  async recordingSince(now: Date): Promise<Date> {
    const existing = await this.recording.findById(RECORDING).lean().exec();
    if (existing) return existing.since;
    const devices = await this.connection
      .collection('worker_devices')
      .findOne({}, { projection: { _id: 1 } });
    try {
      await this.recording.updateOne(
        { _id: RECORDING },
        { $setOnInsert: { since: devices ? now : new Date(0) } },
        { upsert: true },
      );
    } catch (error) {
      // another replica's upsert of the same _id won: its instant stands
      if ((error as { code?: number }).code !== 11000) throw error;
    }
    const doc = await this.recording.findById(RECORDING).lean().exec();
    return doc!.since;
  }
}

/** The stored form of one token's record (also written by a registration, before its device). */
export function issuedTokenDocument(token: IssuedToken, now: Date): IssuedTokenDocument {
  return {
    _id: token.tokenId,
    deviceId: token.deviceId,
    keyId: token.keyId,
    issuedAt: token.issuedAt,
    expiresAt: token.expiresAt,
    digest: token.digest,
    keepUntil: token.keepUntil,
    purgeAt: new Date(Date.now() + Math.max(0, token.keepUntil.getTime() - now.getTime())),
  };
}
