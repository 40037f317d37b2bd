import { mongoSealedField, SealedValueStore } from '@app/vault/keyring/sealed-values';
import { OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { WorkerDevice, WorkerDeviceEvent } from '../../../../domain/worker-device';
import { WorkerDeviceRepository } from '../../worker-device.repository';
import { WorkerDeviceMongoMapper as Mapper } from '../mappers/worker-device.mapper';
import {
  WorkerDeviceDocument,
  WorkerDeviceEventDocument,
  WorkerDeviceEventSchema,
  WorkerDeviceSchema,
} from '../schemas/worker-device.schema';

/** MongoDB adapter; a change goes first and its event second (no multi-document transactions). */
export class MongoWorkerDeviceRepository extends WorkerDeviceRepository implements OnModuleInit {
  private readonly sealedValues: SealedValueStore;
  private readonly devices: Model<WorkerDeviceDocument>;
  private readonly events: Model<WorkerDeviceEventDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.devices = store.connection.model(WorkerDeviceDocument.name, WorkerDeviceSchema);
    this.events = store.connection.model(WorkerDeviceEventDocument.name, WorkerDeviceEventSchema);
    this.sealedValues = mongoSealedField(this.devices, 'deviceId', 'sealedSecret');
  }

  async onModuleInit(): Promise<void> {
    await Promise.all([this.devices.init(), this.events.init()]);
  }

  async register(device: WorkerDevice, event: WorkerDeviceEvent): Promise<void> {
    await this.devices.create(Mapper.toPersistence(device));
    await this.events.create(Mapper.eventToPersistence(event));
  }

  async findByDeviceId(deviceId: string): Promise<WorkerDevice | undefined> {
    const doc = await this.devices.findOne({ deviceId }).lean<WorkerDeviceDocument>();
    return doc ? Mapper.toDomain(doc) : undefined;
  }

  async list(options: { limit: number; afterDeviceId?: string }): Promise<WorkerDevice[]> {
    const docs = await this.devices
      .find({ deviceId: { $gt: options.afterDeviceId ?? '' } })
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
      .findOneAndUpdate({ deviceId }, { $set: { isBlocked: blocked } }, { new: true })
      .lean<WorkerDeviceDocument>();
    if (!doc) return undefined;
    await this.events.create(Mapper.eventToPersistence(event));
    return Mapper.toDomain(doc);
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

  async listEvents(deviceId: string): Promise<WorkerDeviceEvent[]> {
    const docs = await this.events
      .find({ deviceId })
      .sort({ at: 1, _id: 1 })
      .lean<WorkerDeviceEventDocument[]>();
    return docs.map(Mapper.eventToDomain);
  }

  listSealedNotUnder(version: string, afterKey: string, limit: number) {
    return this.sealedValues.listSealedNotUnder(version, afterKey, limit);
  }

  replaceSealed(key: string, expected: string, next: string): Promise<boolean> {
    return this.sealedValues.replaceSealed(key, expected, next);
  }
}
