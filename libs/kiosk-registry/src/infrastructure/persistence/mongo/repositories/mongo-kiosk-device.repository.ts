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
  KioskEventDocument,
} from '../schemas/kiosk-device.schema';
import {
  alarmKioskLegacyRefused,
  KioskRetagOutcome,
  kioskRetagOutcome,
  kioskRetagWrites,
  KioskSeal,
  KioskStoredEvent,
} from '../../kiosk-seal';

/**
 * What a device read needs: its fields and its newest event only (a tagged state must be the one
 * its newest numbered event set; every event the server appends is numbered, so the last one is
 * that event, and an unnumbered last one means none). `$slice: -1` beside fields named one by
 * one: the test server reads a `$slice` alone as an inclusion, MongoDB reads both forms alike.
 */
const DEVICE_FIELDS = {
  _id: 1,
  deviceId: 1,
  publicKeyPem: 1,
  keyFingerprint: 1,
  status: 1,
  createdAt: 1,
  updatedAt: 1,
  tag: 1,
  eventId: 1,
  eventSeq: 1,
  events: { $slice: -1 },
} as const;

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
    const stored = { tag: doc.tag, eventId: doc.eventId, eventSeq: doc.eventSeq };
    return this.seal.checked(device, stored, newestNumbered(doc), undefined, wellFormed);
  }

  /**
   * `event` numbered after the kiosk's newest (`doc`: its document as read; none: a new one), and
   * the fields binding `state` to it. Without the tags: the event alone.
   */
  private record(
    state: KioskDevice,
    event: KioskEvent,
    doc?: KioskDeviceDocument,
  ): {
    event: KioskEventDocument;
    state: { tag?: string; eventId?: string; eventSeq?: number };
  } {
    if (!this.seal) return { event: Mapper.eventToPersistence(event), state: {} };
    const seq = (newestNumbered(doc)?.seq ?? 0) + 1;
    return {
      event: Mapper.numberedEvent(event, seq, this.seal.eventTag(event, seq)),
      state: {
        tag: this.seal.stateTag(state, { eventId: event.id, seq }),
        eventId: event.id,
        eventSeq: seq,
      },
    };
  }

  async register(device: KioskDevice, event: KioskEvent): Promise<RegisterOutcome> {
    const existing = await this.findByDeviceId(device.deviceId);
    if (existing) return { outcome: 'exists', device: existing };
    const holder = await this.otherWithKey(device.keyFingerprint, device.deviceId);
    if (holder) return { outcome: 'key_in_use', device: holder };
    try {
      const bound = this.record(device, event);
      await this.devices.create({ ...Mapper.toPersistence(device, bound.event), ...bound.state });
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
      const bound = this.record(target, event, doc);
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
              ...bound.state,
            },
            $push: { events: bound.event },
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

  /** MongoDB numbers each kiosk's events in its document: no store-wide mark. */
  async retagMark(): Promise<undefined> {
    return undefined;
  }

  async retagPage(
    afterDeviceId: string,
    limit: number,
    except: readonly string[],
  ): Promise<KioskRetagOutcome[]> {
    const seal = this.seal;
    if (!seal) return [];
    const ids = await this.devices
      .find({ deviceId: { $gt: afterDeviceId } }, { deviceId: 1 })
      .sort({ deviceId: 1 })
      .limit(limit)
      .lean<Pick<KioskDeviceDocument, 'deviceId'>[]>();
    const out: KioskRetagOutcome[] = [];
    for (const { deviceId } of ids) {
      // compare-and-set over the document as read: a change meanwhile misses, read again (three
      // tries, as the worker devices': one changed on each is left, `changed`)
      for (let attempt = 0; attempt < 3; attempt++) {
        const doc = await this.devices.findOne({ deviceId }).lean<KioskDeviceDocument>();
        if (!doc) break;
        const stored = doc.events ?? [];
        const numbered = stored.flatMap((e, at) => (isNumbered(e) ? [{ e, at }] : []));
        const plan = seal.retagPlan(
          {
            kiosk: Mapper.toDomain(doc),
            tag: doc.tag,
            eventId: doc.eventId,
            eventSeq: doc.eventSeq,
          },
          this.toDomain(doc).integrity!,
          numbered.map(({ e }) => storedEvent(e, deviceId)),
          except,
        );
        if (!kioskRetagWrites(plan)) {
          out.push(kioskRetagOutcome(deviceId, plan));
          break;
        }
        const events = [...stored];
        numbered.forEach(({ at }, i) => {
          const tag = plan.eventTags[i];
          if (tag !== undefined) events[at] = { ...stored[at], tag };
        });
        const { matchedCount } = await this.devices.updateOne(
          {
            _id: doc._id,
            tag: doc.tag ?? { $exists: false },
            updatedAt: doc.updatedAt,
            // absent matches only absent (`[]` would never match: `changed` on every run)
            events: doc.events ?? { $exists: false },
          },
          { $set: { ...(plan.stateTag !== undefined ? { tag: plan.stateTag } : {}), events } },
        );
        if (matchedCount === 1) out.push(kioskRetagOutcome(deviceId, plan));
        else if (attempt === 2) out.push(kioskRetagOutcome(deviceId, plan, true));
        else continue;
        break;
      }
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

function isNumbered(e: KioskEventDocument): e is KioskEventDocument & { seq: number } {
  return typeof e.seq === 'number';
}

function storedEvent(e: KioskEventDocument & { seq: number }, deviceId: string): KioskStoredEvent {
  return { event: Mapper.eventToDomain(e, deviceId), seq: e.seq, tag: e.tag };
}

/**
 * A kiosk's newest numbered event: the last one appended (a `$push` appends), when numbered
 * (the server numbers every event it appends: an unnumbered last one is from before the tags,
 * and then none is numbered). `doc` as DEVICE_FIELDS reads it: its last event only.
 */
function newestNumbered(doc?: KioskDeviceDocument): KioskStoredEvent | undefined {
  const last = doc?.events?.at(-1);
  return last && isNumbered(last) ? storedEvent(last, doc!.deviceId) : undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Oldest first; events at the same instant keep the order they were appended in (stable sort). */
function byTimeThenOrder(a: KioskEvent, b: KioskEvent): number {
  return a.at.getTime() - b.at.getTime();
}
