import { Injectable, OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { IssuedToken, IssuedTokenRepository, ReopenedWindow } from '../../issued-token.repository';
import {
  IssuedTokenDocument,
  IssuedTokenSchema,
  TokenRecordingDocument,
  TokenRecordingSchema,
  TokenReopeningDocument,
  TokenReopeningSchema,
} from '../schemas/issued-token.schema';

const RECORDING = 'since';
const REOPENED = 'reopened';

/** `offline_tokens` (a TTL index purges them) and the instant recording began. */
@Injectable()
export class MongoIssuedTokenRepository extends IssuedTokenRepository implements OnModuleInit {
  private readonly tokens: Model<IssuedTokenDocument>;
  private readonly recording: Model<TokenRecordingDocument>;
  private readonly reopening: Model<TokenReopeningDocument>;
  private readonly connection: MongoStoreHandle['connection'];

  constructor(store: MongoStoreHandle) {
    super();
    this.connection = store.connection;
    this.tokens = store.connection.model(IssuedTokenDocument.name, IssuedTokenSchema);
    this.recording = store.connection.model(TokenRecordingDocument.name, TokenRecordingSchema);
    this.reopening = store.connection.model(TokenReopeningDocument.name, TokenReopeningSchema);
  }

  async onModuleInit(): Promise<void> {
    await this.tokens.init();
  }

  async record(token: IssuedToken, now: Date, perDevice?: number): Promise<number> {
    // the TTL monitor runs once a minute, on the server's clock: past their window on ours,
    // records go now
    await this.tokens.deleteMany({ keepUntil: { $lte: now } });
    await this.tokens.create(issuedTokenDocument(token, now));
    return perDevice === undefined ? 0 : this.bound(token, perDevice);
  }

  /** Keeps `token`'s device to `perDevice` records: how many went. */
  private async bound(token: IssuedToken, perDevice: number): Promise<number> {
    // the device's records (the bound keeps them few), chosen here: the presented ones last,
    // each kind oldest first, never one issued at or after this one (another issue of the
    // device running at once may have recorded its own token: each keeps the other's). What
    // was read may change before the delete: a sync may note a victim presented (an unpresented
    // victim goes only while still unpresented), another issue may delete one (counted once)
    const records = await this.tokens
      .find({ deviceId: token.deviceId }, { _id: 1, issuedAt: 1, unsynced: 1 })
      .lean<Pick<IssuedTokenDocument, '_id' | 'issuedAt' | 'unsynced'>[]>()
      .exec();
    const surplus = records.length - perDevice;
    if (surplus <= 0) return 0;
    const rank = (r: (typeof records)[number]) => (r.unsynced ? 0 : 1);
    const going = records
      .filter((r) => r._id !== token.tokenId && r.issuedAt.getTime() < token.issuedAt.getTime())
      .sort(
        (a, b) =>
          rank(a) - rank(b) ||
          a.issuedAt.getTime() - b.issuedAt.getTime() ||
          (a._id < b._id ? -1 : a._id > b._id ? 1 : 0),
      )
      .slice(0, surplus);
    const unpresented = going.filter((r) => r.unsynced).map((r) => r._id);
    const presented = going.filter((r) => !r.unsynced).map((r) => r._id);
    let dropped = 0;
    if (unpresented.length > 0) {
      const { deletedCount } = await this.tokens.deleteMany({
        deviceId: token.deviceId,
        _id: { $in: unpresented },
        unsynced: true,
      });
      dropped += deletedCount;
    }
    if (presented.length > 0) {
      const { deletedCount } = await this.tokens.deleteMany({
        deviceId: token.deviceId,
        _id: { $in: presented },
        unsynced: { $exists: false },
      });
      dropped += deletedCount;
    }
    return dropped;
  }

  async isOnRecord(deviceId: string, tokenId: string, digest: string): Promise<boolean> {
    const found = await this.tokens
      .findOne({ deviceId, _id: tokenId, digest }, { _id: 1 })
      .lean()
      .exec();
    return found !== null;
  }

  async presented(deviceId: string, tokenId: string, digest: string): Promise<boolean> {
    const found = await this.tokens
      .findOne({ deviceId, _id: tokenId, digest }, { _id: 1, unsynced: 1 })
      .lean()
      .exec();
    if (found === null) return false;
    if (!found.unsynced) return true;
    // the first sync: noted only while the record is still there (an issue's bound may have
    // dropped it since the read, as an unpresented one: then it is not on record)
    const { matchedCount } = await this.tokens
      .updateOne({ _id: tokenId, deviceId, digest }, { $unset: { unsynced: 1 } })
      .exec();
    return matchedCount === 1;
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

  async reopen(window: ReopenedWindow): Promise<void> {
    await this.reopening.replaceOne(
      { _id: REOPENED },
      { _id: REOPENED, ...window },
      { upsert: true },
    );
  }

  async reopened(): Promise<ReopenedWindow | undefined> {
    const doc = await this.reopening.findById(REOPENED).lean().exec();
    return doc
      ? { since: doc.since, openedAt: doc.openedAt, until: doc.until, keyId: doc.keyId }
      : undefined;
  }

  async adopt(token: IssuedToken, now: Date, perDevice?: number): Promise<boolean> {
    try {
      await this.tokens.create(issuedTokenDocument(token, now, true));
      if (perDevice !== undefined) await this.bound(token, perDevice);
    } catch (error) {
      // recorded first by another sync (of this token, or of another with its jti)
      if ((error as { code?: number }).code !== 11000) throw error;
    }
    return this.isOnRecord(token.deviceId, token.tokenId, token.digest);
  }
}

/** The stored form of one token's record (also written by a registration, before its device). */
export function issuedTokenDocument(
  token: IssuedToken,
  now: Date,
  synced = false,
): IssuedTokenDocument {
  return {
    ...(synced ? {} : { unsynced: true }),
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
