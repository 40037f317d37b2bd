import { mongoSealedField, SealedValueStore } from '@app/vault/keyring/sealed-values';
import { Injectable, OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import {
  WorkerDevice,
  WorkerDeviceEvent,
  WorkerDeviceEventAction,
} from '../../../../domain/worker-device';
import {
  DeviceWriteUncertainError,
  WorkerDevicePage,
  WorkerDeviceRepository,
} from '../../worker-device.repository';
import { WorkerDeviceMongoMapper as Mapper } from '../mappers/worker-device.mapper';
import { WorkerDeviceDocument, WorkerDeviceSchema } from '../schemas/worker-device.schema';
import { IssuedTokenDocument, IssuedTokenSchema } from '../schemas/issued-token.schema';
import { IssuedToken } from '../../issued-token.repository';
import { issuedTokenDocument } from './mongo-issued-token.repository';

/** Every field but the embedded events: what a device read needs. */
const DEVICE_FIELDS = { events: 0 } as const;

/**
 * MongoDB adapter. A device embeds its events, so a change and its event are one
 * single-document write: atomic on a standalone mongod, no transaction needed.
 */
@Injectable()
export class MongoWorkerDeviceRepository extends WorkerDeviceRepository implements OnModuleInit {
  private readonly sealedValues: SealedValueStore;
  private readonly devices: Model<WorkerDeviceDocument>;
  private readonly tokens: Model<IssuedTokenDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.devices = store.connection.model(WorkerDeviceDocument.name, WorkerDeviceSchema);
    this.tokens = store.connection.model(IssuedTokenDocument.name, IssuedTokenSchema);
    this.sealedValues = mongoSealedField(this.devices, 'deviceId', 'sealedSecret');
  }

  async onModuleInit(): Promise<void> {
    await this.devices.init();
  }

  /**
   * Two documents and no transaction (a standalone mongod has none): the token's record first,
   * then the device. A record that fails leaves nothing. A device write that fails is looked up
   * by its deviceId first: a network error can come back though the insert applied (or the
   * driver's retry of an applied insert answers E11000), and then the registration stands, its
   * record kept. A device not stored after an answer of the server (a refusal) leaves a record
   * of a token never handed out, which is removed here (and purged with its window if even that
   * fails): it can carry no sync. After a network error, or when the lookup fails, the device
   * may still land: the record stays and `DeviceWriteUncertainError` says so (the code is kept).
   */
  async register(
    device: WorkerDevice,
    event: WorkerDeviceEvent,
    firstToken?: IssuedToken,
  ): Promise<void> {
    if (firstToken) await this.tokens.create(issuedTokenDocument(firstToken, device.createdAt));
    try {
      await this.devices.create(Mapper.toPersistence(device, event));
    } catch (error) {
      const stored = await this.devices
        .findOne({ deviceId: device.deviceId }, { _id: 1 })
        .lean<{ _id: unknown }>()
        .then(
          (doc) => (doc === null ? 'absent' : String(doc._id) === device.id ? 'this' : 'another'),
          () => 'unknown' as const,
        );
      // this very device (its own insert): registered, its token's record with it
      if (stored === 'this') return;
      if (stored === 'unknown' || (stored === 'absent' && writeMayHaveApplied(error)))
        throw new DeviceWriteUncertainError(error);
      if (firstToken) await this.tokens.deleteOne({ _id: firstToken.tokenId }).catch(() => {});
      throw error;
    }
  }

  async findByDeviceId(deviceId: string): Promise<WorkerDevice | undefined> {
    const doc = await this.devices
      .findOne({ deviceId }, DEVICE_FIELDS)
      .lean<WorkerDeviceDocument>();
    return doc ? Mapper.toDomain(doc) : undefined;
  }

  async list(options: WorkerDevicePage): Promise<WorkerDevice[]> {
    const filter: Record<string, unknown> = { deviceId: { $gt: options.afterDeviceId ?? '' } };
    if (options.workerId)
      Object.assign(filter, { 'user.id': options.workerId, 'user.kind': 'worker' });
    const docs = await this.devices
      .find(filter, DEVICE_FIELDS)
      .sort({ deviceId: 1 })
      .limit(options.limit)
      .lean<WorkerDeviceDocument[]>();
    return docs.map(Mapper.toDomain);
  }

  async setBlocked(
    deviceId: string,
    blocked: boolean,
    event: WorkerDeviceEvent,
  ): Promise<WorkerDevice | undefined> {
    const doc = await this.devices
      .findOneAndUpdate(
        { deviceId },
        { $set: { isBlocked: blocked }, $push: { events: Mapper.eventToPersistence(event) } },
        { new: true, runValidators: true, projection: DEVICE_FIELDS },
      )
      .lean<WorkerDeviceDocument>();
    return doc ? Mapper.toDomain(doc) : undefined;
  }

  async blockIfUnblocked(deviceId: string, event: WorkerDeviceEvent): Promise<boolean | undefined> {
    const { matchedCount } = await this.devices.updateOne(
      { deviceId, isBlocked: false },
      { $set: { isBlocked: true }, $push: { events: Mapper.eventToPersistence(event) } },
      { runValidators: true },
    );
    if (matchedCount === 1) return true;
    return (await this.devices.exists({ deviceId })) ? false : undefined;
  }

  async touchLastSeen(deviceId: string, at: Date, ip?: string): Promise<void> {
    await this.devices.updateOne(
      { deviceId, $or: [{ lastSeen: { $exists: false } }, { lastSeen: { $lte: at } }] },
      { $set: ip ? { lastSeen: at, lastIp: ip } : { lastSeen: at } },
    );
  }

  async listDeviceIdsBySimHash(simHash: string): Promise<string[]> {
    const docs = await this.devices
      .find({ 'fingerprint.simHash': simHash }, { deviceId: 1 })
      .sort({ deviceId: 1 })
      .lean<Pick<WorkerDeviceDocument, 'deviceId'>[]>();
    return docs.map((d) => d.deviceId);
  }

  /**
   * The device's events are embedded: one read by the unique deviceId index, the latest time
   * picked in the server (only that date comes back, not the trail).
   */
  async lastEventAt(deviceId: string, action: WorkerDeviceEventAction): Promise<Date | undefined> {
    const [doc] = await this.devices.aggregate<{ at: Date | null }>([
      { $match: { deviceId } },
      {
        $project: {
          _id: 0,
          of: { $filter: { input: '$events', as: 'e', cond: { $eq: ['$$e.action', action] } } },
        },
      },
      { $project: { at: { $max: '$of.at' } } },
    ]);
    return doc?.at ? new Date(doc.at) : undefined;
  }

  async listEvents(deviceId: string): Promise<WorkerDeviceEvent[]> {
    const doc = await this.devices
      .findOne({ deviceId }, { events: 1 })
      .lean<Pick<WorkerDeviceDocument, 'events'>>();
    // oldest first; events of one instant keep their append order (a stable sort)
    return (doc?.events ?? [])
      .map((e) => Mapper.eventToDomain(e, deviceId))
      .sort((a, b) => a.at.getTime() - b.at.getTime());
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

/**
 * The driver's errors after which a write may have been applied, or be applied still: the
 * connection failed or timed out after the command was sent, or the server applied it without
 * the write concern's acknowledgement. Matched by name (and label), as `storeUnavailableOf`.
 */
const MAY_HAVE_APPLIED = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoPoolClearedError',
  'MongoServerClosedError',
  'MongoTopologyClosedError',
  'MongoWriteConcernError',
]);

function writeMayHaveApplied(error: unknown): boolean {
  const e = error as { name?: unknown; errorLabels?: unknown; writeConcernError?: unknown };
  if (typeof e?.name === 'string' && MAY_HAVE_APPLIED.has(e.name)) return true;
  if (e?.writeConcernError !== undefined) return true;
  return Array.isArray(e?.errorLabels) && e.errorLabels.includes('RetryableWriteError');
}
