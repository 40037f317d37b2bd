import { OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { KioskDevice, KioskEvent, KioskStatus } from '../../../../domain/kiosk-device';
import { KioskDeviceRepository, RegisterOutcome } from '../../kiosk-device.repository';
import { KioskDeviceMongoMapper as Mapper } from '../mappers/kiosk-device.mapper';
import {
  KioskDeviceDocument,
  KioskDeviceSchema,
  KioskEventDocument,
  KioskEventSchema,
} from '../schemas/kiosk-device.schema';

/**
 * MongoDB adapter. A change and its event are two writes (a standalone MongoDB has no
 * multi-document transactions); the change goes first so an event never describes a change
 * that did not happen.
 */
export class MongoKioskDeviceRepository extends KioskDeviceRepository implements OnModuleInit {
  private readonly devices: Model<KioskDeviceDocument>;
  private readonly events: Model<KioskEventDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.devices = store.connection.model(KioskDeviceDocument.name, KioskDeviceSchema);
    this.events = store.connection.model(KioskEventDocument.name, KioskEventSchema);
  }

  async onModuleInit(): Promise<void> {
    await Promise.all([this.devices.init(), this.events.init()]);
  }

  async register(device: KioskDevice, event: KioskEvent): Promise<RegisterOutcome> {
    const result = await this.devices.updateOne(
      { deviceId: device.deviceId },
      { $setOnInsert: Mapper.toPersistence(device) },
      { upsert: true },
    );
    if (result.upsertedCount === 1) {
      await this.events.create(Mapper.eventToPersistence(event));
      return { outcome: 'created', device };
    }
    const existing = await this.devices
      .findOne({ deviceId: device.deviceId })
      .lean<KioskDeviceDocument>();
    return { outcome: 'exists', device: Mapper.toDomain(existing!) };
  }

  async findByDeviceId(deviceId: string): Promise<KioskDevice | undefined> {
    const doc = await this.devices.findOne({ deviceId }).lean<KioskDeviceDocument>();
    return doc ? Mapper.toDomain(doc) : undefined;
  }

  async rotateKey(
    deviceId: string,
    key: { publicKeyPem: string; keyFingerprint: string },
    event: KioskEvent,
  ): Promise<KioskDevice | undefined> {
    return this.update(deviceId, { ...key, updatedAt: event.at }, event);
  }

  async setStatus(
    deviceId: string,
    status: KioskStatus,
    event: KioskEvent,
  ): Promise<KioskDevice | undefined> {
    return this.update(deviceId, { status, updatedAt: event.at }, event);
  }

  async list(options: {
    limit: number;
    afterDeviceId?: string;
    prefix?: string;
  }): Promise<KioskDevice[]> {
    const deviceId: Record<string, unknown> = { $gt: options.afterDeviceId ?? '' };
    if (options.prefix) deviceId.$regex = new RegExp(`^${escapeRegExp(options.prefix)}`);
    const docs = await this.devices
      .find({ deviceId })
      .sort({ deviceId: 1 })
      .limit(options.limit)
      .lean<KioskDeviceDocument[]>();
    return docs.map(Mapper.toDomain);
  }

  async listEvents(deviceId: string): Promise<KioskEvent[]> {
    const docs = await this.events
      .find({ deviceId })
      .sort({ at: 1, _id: 1 })
      .lean<KioskEventDocument[]>();
    return docs.map(Mapper.eventToDomain);
  }

  private async update(
    deviceId: string,
    set: Partial<KioskDeviceDocument>,
    event: KioskEvent,
  ): Promise<KioskDevice | undefined> {
    const doc = await this.devices
      .findOneAndUpdate({ deviceId }, { $set: set }, { new: true })
      .lean<KioskDeviceDocument>();
    if (!doc) return undefined;
    await this.events.create(Mapper.eventToPersistence(event));
    return Mapper.toDomain(doc);
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
