import { Injectable, Logger, OnModuleInit, Optional } from '@nestjs/common';
import type { Model } from 'mongoose';
import {
  isDuplicateKeyError,
  LegacyTaggingState,
  logLegacyTagging,
  mongoLegacyTaggingState,
  MongoStoreHandle,
  tagLegacyRowsOnceMongo,
} from '@app/persistence';
import { KioskDevice, KioskEvent, KioskStatus } from '../../../../domain/kiosk-device';
import {
  KeyInUse,
  KioskDeviceRepository,
  RegisterOutcome,
  StatusChange,
} from '../../kiosk-device.repository';
import { KioskDeviceMongoMapper as Mapper } from '../mappers/kiosk-device.mapper';
import {
  KIOSK_SEAL_COLLECTION,
  KioskDeviceDocument,
  KioskDeviceSchema,
} from '../schemas/kiosk-device.schema';
import { alarmKioskLegacyRefused, KioskRetagOutcome, KioskSeal } from '../../kiosk-seal';

/** Every field but the embedded events: what a device read needs. */
const DEVICE_FIELDS = { events: 0 } as const;

/** A kiosk carrying KioskSeal's tag, and one carrying none (the legacy tagging's). */
const TAGGED = { tag: { $exists: true, $ne: null } };
const UNTAGGED = { tag: { $exists: false } };

/**
 * MongoDB adapter. A device embeds its events, so a change and its event are one
 * single-document write: atomic on a standalone mongod, no transaction needed.
 */
@Injectable()
export class MongoKioskDeviceRepository extends KioskDeviceRepository implements OnModuleInit {
  private readonly devices: Model<KioskDeviceDocument>;
  private readonly logger = new Logger('KioskSeal');

  constructor(
    private readonly store: MongoStoreHandle,
    @Optional() private readonly seal?: KioskSeal,
  ) {
    super();
    this.devices = store.connection.model(KioskDeviceDocument.name, KioskDeviceSchema);
  }

  async onModuleInit(): Promise<void> {
    await this.devices.init();
    if (this.seal) await this.sealLegacy(this.seal);
  }

  /**
   * Documents stored before the tags are tagged once, as legacy, before this server takes
   * requests, under the fraud store's rule and switch (tagLegacyRowsOnceMongo).
   */
  private async sealLegacy(seal: KioskSeal): Promise<void> {
    const result = await tagLegacyRowsOnceMongo(seal, {
      marks: this.marks(),
      anyTagged: async () => (await this.devices.exists(TAGGED)) !== null,
      countUntagged: () => this.devices.countDocuments(UNTAGGED),
      pass: () => this.legacyPass(seal),
    });
    this.legacyRefused = logLegacyTagging(result, this.logger, {
      counted: 'kiosks',
      tagged: 'Kiosks from before the tags tagged as legacy',
      alarm: alarmKioskLegacyRefused,
    });
  }

  private marks() {
    return this.store.connection.collection<{ _id: string; at: Date; count?: number }>(
      KIOSK_SEAL_COLLECTION,
    );
  }

  async legacySeal(): Promise<LegacyTaggingState> {
    const mark = await this.marks().findOne({ _id: 'legacy' });
    const { state, refused } = mongoLegacyTaggingState(mark, this.legacyRefused);
    this.legacyRefused = refused;
    return state;
  }

  private async legacyPass(seal: KioskSeal): Promise<{ tagged: number; missed: number }> {
    let tagged = 0;
    let missed = 0;
    for await (const doc of this.devices
      .find(UNTAGGED, DEVICE_FIELDS)
      .lean<KioskDeviceDocument>()
      .cursor()) {
      // the document as read: a change meanwhile makes the update miss (the next pass reads it)
      const result = await this.devices.updateOne(
        {
          _id: doc._id,
          tag: { $exists: false },
          publicKeyPem: doc.publicKeyPem,
          keyFingerprint: doc.keyFingerprint,
          status: doc.status,
          updatedAt: doc.updatedAt,
        },
        { $set: { tag: seal.tag(Mapper.toDomain(doc), true) } },
      );
      tagged += result.modifiedCount;
      missed += 1 - result.matchedCount;
    }
    return { tagged, missed };
  }

  /** A stored kiosk as the domain reads it: its tag checked when the store tags. */
  private toDomain(doc: KioskDeviceDocument): KioskDevice {
    const device = Mapper.toDomain(doc);
    if (!this.seal) return device;
    // fields of another type than the server writes are no kiosk the server wrote
    const wellFormed =
      typeof doc.publicKeyPem === 'string' &&
      typeof doc.keyFingerprint === 'string' &&
      (doc.status === 'active' || doc.status === 'blocked') &&
      doc.updatedAt instanceof Date;
    return this.seal.checked(device, doc.tag, wellFormed);
  }

  private tagOf(device: KioskDevice): { tag: string } | Record<string, never> {
    return this.seal ? { tag: this.seal.tag(device) } : {};
  }

  async register(device: KioskDevice, event: KioskEvent): Promise<RegisterOutcome> {
    const existing = await this.findByDeviceId(device.deviceId);
    if (existing) return { outcome: 'exists', device: existing };
    const holder = await this.otherWithKey(device.keyFingerprint, device.deviceId);
    if (holder) return { outcome: 'key_in_use', device: holder };
    try {
      await this.devices.create({
        ...Mapper.toPersistence(device, event),
        ...this.tagOf(device),
      });
      return {
        outcome: 'created',
        device: this.seal ? { ...device, integrity: 'verified' } : device,
      };
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
    return doc ? this.toDomain(doc) : undefined;
  }

  async rotateKey(
    deviceId: string,
    key: { publicKeyPem: string; keyFingerprint: string },
    event: KioskEvent,
  ): Promise<KioskDevice | KeyInUse | undefined> {
    const holder = await this.otherWithKey(key.keyFingerprint, deviceId);
    if (holder) return { keyInUseBy: holder.deviceId };
    // a kiosk whose tag does not verify comes out of the rotation blocked: its stored status is
    // nobody's word (an admin's unblock then makes it active)
    const result = await this.change(deviceId, event, (current) => ({
      ...current,
      ...key,
      status: current.integrity === 'tampered' ? 'blocked' : current.status,
      updatedAt: event.at,
    }));
    return result?.device;
  }

  private async otherWithKey(
    keyFingerprint: string,
    deviceId: string,
  ): Promise<KioskDevice | undefined> {
    const doc = await this.devices
      .findOne({ keyFingerprint, deviceId: { $ne: deviceId } }, DEVICE_FIELDS)
      .sort({ deviceId: 1 })
      .lean<KioskDeviceDocument>();
    return doc ? this.toDomain(doc) : undefined;
  }

  async setStatus(
    deviceId: string,
    status: KioskStatus,
    event: KioskEvent,
  ): Promise<StatusChange | undefined> {
    // in that status already: nothing written. A kiosk whose tag does not verify is not changed
    // either (a tag now would vouch for a key nobody checked): a key rotation repairs it
    return this.change(deviceId, event, (current, storedStatus) =>
      storedStatus === status || current.integrity === 'tampered'
        ? undefined
        : { ...current, status, updatedAt: event.at },
    );
  }

  /**
   * A read, then a write conditional on the document as read (a change meanwhile makes it miss:
   * read again, a few times), of `next` (undefined: nothing to write) with its tag and `event`.
   */
  private async change(
    deviceId: string,
    event: KioskEvent,
    next: (current: KioskDevice, storedStatus: unknown) => KioskDevice | undefined,
  ): Promise<StatusChange | undefined> {
    for (let attempt = 0; ; attempt++) {
      const doc = await this.devices
        .findOne({ deviceId }, DEVICE_FIELDS)
        .lean<KioskDeviceDocument>();
      if (!doc) return undefined;
      const current = this.toDomain(doc);
      const target = next({ ...current }, doc.status);
      if (!target) return { device: current, changed: false };
      const updated = await this.devices
        .findOneAndUpdate(
          {
            _id: doc._id,
            publicKeyPem: doc.publicKeyPem,
            keyFingerprint: doc.keyFingerprint,
            status: doc.status,
            updatedAt: doc.updatedAt,
            tag: doc.tag === undefined ? { $exists: false } : doc.tag,
          },
          {
            $set: {
              publicKeyPem: target.publicKeyPem,
              keyFingerprint: target.keyFingerprint,
              status: target.status,
              updatedAt: target.updatedAt,
              ...this.tagOf(target),
            },
            $push: { events: Mapper.eventToPersistence(event) },
          },
          { new: true, runValidators: true, projection: DEVICE_FIELDS },
        )
        .lean<KioskDeviceDocument>();
      if (updated) return { device: this.toDomain(updated), changed: true };
      if (attempt === 4) throw new Error(`Kiosk ${deviceId} changed on every try`);
    }
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
    return docs.map((d) => this.toDomain(d));
  }

  async retagPage(
    afterDeviceId: string,
    limit: number,
    except: readonly string[],
  ): Promise<KioskRetagOutcome[]> {
    const seal = this.seal;
    if (!seal) return [];
    const docs = await this.devices
      .find({ deviceId: { $gt: afterDeviceId } }, DEVICE_FIELDS)
      .sort({ deviceId: 1 })
      .limit(limit)
      .lean<KioskDeviceDocument[]>();
    const out: KioskRetagOutcome[] = [];
    for (const doc of docs) {
      const read = this.toDomain(doc);
      const step =
        read.integrity === 'tampered'
          ? ({ kind: 'tampered' } as const)
          : seal.retag(Mapper.toDomain(doc), doc.tag, read.integrity!, except);
      if (step.kind !== 'retag') {
        out.push({
          deviceId: doc.deviceId,
          result: step.kind,
          ...(step.kind === 'suspect' ? { from: step.from } : {}),
        });
        continue;
      }
      // the document as read: the tag covers every other field, so the same tag means the same
      const result = await this.devices.updateOne(
        { _id: doc._id, tag: doc.tag, updatedAt: doc.updatedAt },
        { $set: { tag: step.tag } },
      );
      out.push({
        deviceId: doc.deviceId,
        result: result.modifiedCount === 1 ? 'retagged' : 'changed',
        from: step.from,
      });
    }
    return out;
  }

  async listEvents(deviceId: string): Promise<KioskEvent[]> {
    const doc = await this.devices
      .findOne({ deviceId }, { events: 1 })
      .lean<Pick<KioskDeviceDocument, 'events'>>();
    return (doc?.events ?? []).map((e) => Mapper.eventToDomain(e, deviceId)).sort(byTimeThenOrder);
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Oldest first; events at the same instant keep the order they were appended in (stable sort). */
function byTimeThenOrder(a: KioskEvent, b: KioskEvent): number {
  return a.at.getTime() - b.at.getTime();
}
