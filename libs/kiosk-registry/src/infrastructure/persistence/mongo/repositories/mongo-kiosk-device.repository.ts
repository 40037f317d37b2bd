import { Injectable, OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { isDuplicateKeyError, MongoStoreHandle } from '@app/persistence';
import { KioskDevice, KioskEvent, KioskStatus } from '../../../../domain/kiosk-device';
import {
  KeyInUse,
  KioskDeviceRepository,
  RegisterOutcome,
  StatusChange,
} from '../../kiosk-device.repository';
import { KioskDeviceMongoMapper as Mapper } from '../mappers/kiosk-device.mapper';
import { KioskDeviceDocument, KioskDeviceSchema } from '../schemas/kiosk-device.schema';

/** Every field but the embedded events: what a device read needs. */
const DEVICE_FIELDS = { events: 0 } as const;

/**
 * MongoDB adapter. A device embeds its events, so a change and its event are one
 * single-document write: atomic on a standalone mongod, no transaction needed.
 */
@Injectable()
export class MongoKioskDeviceRepository extends KioskDeviceRepository implements OnModuleInit {
  private readonly devices: Model<KioskDeviceDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.devices = store.connection.model(KioskDeviceDocument.name, KioskDeviceSchema);
  }

  async onModuleInit(): Promise<void> {
    await this.devices.init();
  }

  async register(device: KioskDevice, event: KioskEvent): Promise<RegisterOutcome> {
    const existing = await this.findByDeviceId(device.deviceId);
    if (existing) return { outcome: 'exists', device: existing };
    const holder = await this.otherWithKey(device.keyFingerprint, device.deviceId);
    if (holder) return { outcome: 'key_in_use', device: holder };
    try {
      await this.devices.create(Mapper.toPersistence(device, event));
      return { outcome: 'created', device };
    } catch (error) {
      // the unique deviceId index decides a race: the loser reads the winner's device
      if (!isDuplicateKeyError(error)) throw error;
      const existing = await this.findByDeviceId(device.deviceId);
      if (!existing) throw error;
      return { outcome: 'exists', device: existing };
    }
  }

  async findByDeviceId(deviceId: string): Promise<KioskDevice | undefined> {
    const doc = await this.devices.findOne({ deviceId }, DEVICE_FIELDS).lean<KioskDeviceDocument>();
    return doc ? Mapper.toDomain(doc) : undefined;
  }

  async rotateKey(
    deviceId: string,
    key: { publicKeyPem: string; keyFingerprint: string },
    event: KioskEvent,
  ): Promise<KioskDevice | KeyInUse | undefined> {
    const holder = await this.otherWithKey(key.keyFingerprint, deviceId);
    if (holder) return { keyInUseBy: holder.deviceId };
    return this.update(deviceId, { ...key, updatedAt: event.at }, event);
  }

  private async otherWithKey(
    keyFingerprint: string,
    deviceId: string,
  ): Promise<KioskDevice | undefined> {
    const doc = await this.devices
      .findOne({ keyFingerprint, deviceId: { $ne: deviceId } }, DEVICE_FIELDS)
      .sort({ deviceId: 1 })
      .lean<KioskDeviceDocument>();
    return doc ? Mapper.toDomain(doc) : undefined;
  }

  async setStatus(
    deviceId: string,
    status: KioskStatus,
    event: KioskEvent,
  ): Promise<StatusChange | undefined> {
    const doc = await this.devices
      .findOneAndUpdate(
        { deviceId, status: { $ne: status } },
        {
          $set: { status, updatedAt: event.at },
          $push: { events: Mapper.eventToPersistence(event) },
        },
        { new: true, runValidators: true, projection: DEVICE_FIELDS },
      )
      .lean<KioskDeviceDocument>();
    if (doc) return { device: Mapper.toDomain(doc), changed: true };
    // unknown, or in that status already: nothing written
    const device = await this.findByDeviceId(deviceId);
    return device ? { device, changed: false } : undefined;
  }

  async list(options: {
    limit: number;
    afterDeviceId?: string;
    prefix?: string;
  }): Promise<KioskDevice[]> {
    const deviceId: Record<string, unknown> = { $gt: options.afterDeviceId ?? '' };
    if (options.prefix) deviceId.$regex = new RegExp(`^${escapeRegExp(options.prefix)}`);
    const docs = await this.devices
      .find({ deviceId }, DEVICE_FIELDS)
      .sort({ deviceId: 1 })
      .limit(options.limit)
      .lean<KioskDeviceDocument[]>();
    return docs.map(Mapper.toDomain);
  }

  async listEvents(deviceId: string): Promise<KioskEvent[]> {
    const doc = await this.devices
      .findOne({ deviceId }, { events: 1 })
      .lean<Pick<KioskDeviceDocument, 'events'>>();
    return (doc?.events ?? []).map((e) => Mapper.eventToDomain(e, deviceId)).sort(byTimeThenOrder);
  }

  private async update(
    deviceId: string,
    set: Partial<KioskDeviceDocument>,
    event: KioskEvent,
  ): Promise<KioskDevice | undefined> {
    const doc = await this.devices
      .findOneAndUpdate(
        { deviceId },
        { $set: set, $push: { events: Mapper.eventToPersistence(event) } },
        { new: true, runValidators: true, projection: DEVICE_FIELDS },
      )
      .lean<KioskDeviceDocument>();
    return doc ? Mapper.toDomain(doc) : undefined;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Oldest first; events at the same instant keep the order they were appended in (stable sort). */
function byTimeThenOrder(a: KioskEvent, b: KioskEvent): number {
  return a.at.getTime() - b.at.getTime();
}
