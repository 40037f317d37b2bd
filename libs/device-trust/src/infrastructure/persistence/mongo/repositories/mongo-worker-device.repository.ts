import { mongoSealedField, SealedValueStore } from '@app/vault/keyring/sealed-values';
import { Injectable, Logger, OnModuleInit, Optional } from '@nestjs/common';
import type { Model } from 'mongoose';
import {
  canonicalMongoTime,
  logLegacyTagging,
  mongoLegacyTaggingState,
  MongoStoreHandle,
  StoredForms,
  storedFormsCanonical,
  tagLegacyRowsOnceMongo,
} from '@app/persistence';
import {
  WorkerDevice,
  WorkerDeviceEvent,
  WorkerDeviceEventAction,
} from '../../../../domain/worker-device';
import {
  DeviceWriteUncertainError,
  LastWorkerDeviceEvent,
  WorkerDeviceLegacySeal,
  WorkerDevicePage,
  WorkerDeviceRepository,
} from '../../worker-device.repository';
import {
  alarmWorkerDeviceLegacyRefused,
  WorkerDeviceRetagOutcome,
  workerDeviceRetagOutcome,
  WorkerDeviceBound,
  WorkerDeviceSeal,
} from '../../worker-device-seal';
import { WorkerDeviceMongoMapper as Mapper } from '../mappers/worker-device.mapper';
import {
  WORKER_DEVICE_SEAL_COLLECTION,
  WorkerDeviceDocument,
  WorkerDeviceEventDocument,
  WorkerDeviceSchema,
} from '../schemas/worker-device.schema';
import { IssuedTokenDocument, IssuedTokenSchema } from '../schemas/issued-token.schema';
import { IssuedToken } from '../../issued-token.repository';
import { issuedTokenDocument } from './mongo-issued-token.repository';

/**
 * A document whose block state or any event carries WorkerDeviceSeal's tag (as SQLite's rule: a
 * writer who strips the states' tags alone does not make a store from before the tags), and one
 * whose block state does not.
 */
const TAGGED = {
  $or: [
    { blockTag: { $exists: true, $ne: null } },
    { events: { $elemMatch: { tag: { $exists: true, $ne: null } } } },
  ],
};
const UNTAGGED = { blockTag: { $exists: false } } as const;

/**
 * What a device read needs: every field, the embedded events with it (a tagged state must be the
 * one the newest set; a device has a few; a `$slice` projection is left out: the test server
 * reads it as an inclusion).
 */
const DEVICE_FIELDS = {} as const;

/** Devices read per page at the retirement of the form `v1`. */
const V1_RETIREMENT_PAGE = 500;

/**
 * MongoDB adapter. A device embeds its events, so a change and its event are one
 * single-document write: atomic on a standalone mongod, no transaction needed.
 */
@Injectable()
export class MongoWorkerDeviceRepository extends WorkerDeviceRepository implements OnModuleInit {
  private readonly sealedValues: SealedValueStore;
  private readonly devices: Model<WorkerDeviceDocument>;
  private readonly tokens: Model<IssuedTokenDocument>;
  private readonly logger = new Logger('WorkerDeviceSeal');

  constructor(
    private readonly store: MongoStoreHandle,
    @Optional() private readonly seal?: WorkerDeviceSeal,
  ) {
    super();
    this.devices = store.connection.model(WorkerDeviceDocument.name, WorkerDeviceSchema);
    this.tokens = store.connection.model(IssuedTokenDocument.name, IssuedTokenSchema);
    this.sealedValues = mongoSealedField(this.devices, 'deviceId', 'sealedSecret');
  }

  async onModuleInit(): Promise<void> {
    await this.devices.init();
    if (this.seal) {
      await this.sealLegacy(this.seal);
      await this.retireV1(this.seal);
    }
  }

  /**
   * Before this server takes requests, every state whose tag verifies in the form `v1` (which
   * left the owner, sites, fingerprint, score and creation time uncovered) is re-tagged as `v2`
   * legacy over its fields as stored (WorkerDeviceSeal.v1RetirementTag), in pages, each
   * document only as read (a change meanwhile: read again), then the marker
   * `{ _id: 'v1-retired' }` is written; from then on a `v1` tag reads as tampered. Replicas
   * starting together write the same tags; one stopped half-way leaves no marker (the next start
   * goes on).
   */
  private async retireV1(seal: WorkerDeviceSeal): Promise<void> {
    const marks = this.marks();
    if ((await marks.findOne({ _id: 'v1-retired' })) == null) {
      let count = 0;
      let after = '';
      for (;;) {
        const page = await this.devices
          .find({ deviceId: { $gt: after } }, DEVICE_FIELDS)
          .sort({ deviceId: 1 })
          .limit(V1_RETIREMENT_PAGE)
          .lean<WorkerDeviceDocument[]>();
        for (const first of page) {
          let doc: WorkerDeviceDocument | null = first;
          for (let attempt = 0; attempt < 3 && doc; attempt++) {
            const tag = this.v1RetirementTag(seal, doc);
            if (tag === undefined) break;
            const { matchedCount } = await this.devices.updateOne(
              {
                _id: doc._id,
                blockTag: doc.blockTag,
                events: { $size: (doc.events ?? []).length },
              },
              { $set: { blockTag: tag } },
            );
            if (matchedCount === 1) {
              count++;
              break;
            }
            doc = await this.devices
              .findOne({ _id: doc._id }, DEVICE_FIELDS)
              .lean<WorkerDeviceDocument>();
          }
        }
        if (page.length < V1_RETIREMENT_PAGE) break;
        after = page[page.length - 1].deviceId;
      }
      try {
        await marks.insertOne({ _id: 'v1-retired', at: new Date(), count });
      } catch {
        // another replica's marker: it re-tagged the same documents with the same tags
      }
      if (count > 0)
        this.logger.log(
          { devices: count },
          'Worker device states of the form v1 re-tagged as v2 legacy',
        );
    }
    seal.retireV1();
  }

  private v1RetirementTag(seal: WorkerDeviceSeal, doc: WorkerDeviceDocument): string | undefined {
    if (typeof doc.isBlocked !== 'boolean') return undefined;
    return seal.v1RetirementTag({
      device: Mapper.toDomain(doc),
      blocked: doc.isBlocked,
      eventId: doc.blockEventId,
      tag: doc.blockTag,
      integrity: this.toDomain(doc).blockIntegrity!,
    });
  }

  /**
   * Documents stored before the tags are tagged once, as legacy, before this server takes
   * requests, as the fraud store does (MongoFraudEventRepository's sealLegacy): the block state
   * and every embedded event, each document only while untagged and unchanged, then the
   * `worker_device_seal` marker. Refused (loudly; untagged devices then read as tampered, so
   * blocked) when tagged documents exist with no marker (unless another replica is tagging now),
   * and with neither marker nor tagged document unless FRAUD_LEGACY_TAGGING is on;
   * FRAUD_LEGACY_TAGGING=1 set explicitly tags the untagged documents whatever else is tagged.
   */
  private async sealLegacy(seal: WorkerDeviceSeal): Promise<void> {
    const result = await tagLegacyRowsOnceMongo(seal, {
      marks: this.marks(),
      anyTagged: async () => (await this.devices.exists(TAGGED)) !== null,
      countUntagged: () => this.devices.countDocuments(UNTAGGED),
      pass: () => this.legacyPass(seal),
    });
    this.legacyRefused = logLegacyTagging(result, this.logger, {
      counted: 'devices',
      tagged: 'Worker devices from before the tags tagged as legacy',
      alarm: alarmWorkerDeviceLegacyRefused,
    });
  }

  private async legacyPass(seal: WorkerDeviceSeal): Promise<{ tagged: number; missed: number }> {
    let tagged = 0;
    let missed = 0;
    let batch: Parameters<Model<WorkerDeviceDocument>['bulkWrite']>[0] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const result = await this.devices.bulkWrite(batch, { ordered: false });
      tagged += result.modifiedCount;
      missed += batch.length - result.matchedCount;
      batch = [];
    };
    for await (const doc of this.devices.find(UNTAGGED).lean<WorkerDeviceDocument>().cursor()) {
      const events = (doc.events ?? []).map((e) => ({
        ...e,
        tag: e.tag ?? seal.eventTag(Mapper.eventToDomain(e, doc.deviceId), true),
      }));
      batch.push({
        updateOne: {
          // the document as read: a change meanwhile makes the update miss (the next pass reads
          // it again)
          filter: {
            _id: doc._id,
            blockTag: { $exists: false },
            isBlocked: doc.isBlocked,
            events: { $size: (doc.events ?? []).length },
          },
          update: {
            $set: {
              blockTag: seal.stateTag(
                Mapper.toDomain(doc),
                doc.isBlocked,
                doc.blockEventId ?? null,
                true,
              ),
              events,
            },
          },
        },
      });
      if (batch.length === 1000) await flush();
    }
    await flush();
    return { tagged, missed };
  }

  private marks() {
    return this.store.connection.collection<{ _id: string; at: Date; count?: number }>(
      WORKER_DEVICE_SEAL_COLLECTION,
    );
  }

  async legacySeal(): Promise<WorkerDeviceLegacySeal> {
    const mark = await this.marks().findOne({ _id: 'legacy' });
    const { state, refused } = mongoLegacyTaggingState(mark, this.legacyRefused);
    this.legacyRefused = refused;
    return state;
  }

  /** A stored device as the domain reads it: its block state checked when the store tags. */
  private toDomain(doc: WorkerDeviceDocument): WorkerDevice {
    const device = Mapper.toDomain(doc);
    if (!this.seal) return device;
    // a block state that is not a boolean, a creation time that is not a date (stored text is
    // canonical: `@app/persistence`), is no state the server wrote
    if (!storedFormsCanonical(doc, MONGO_DEVICE_FORMS)) {
      device.isBlocked = true;
      device.blockIntegrity = 'tampered';
      return device;
    }
    return this.seal.checked(device, doc.blockEventId, doc.blockTag, this.newestEvent(doc));
  }

  /** The device's newest event: the last written (a `$push` appends). */
  private newestEvent(doc: WorkerDeviceDocument): WorkerDeviceEvent | undefined {
    const newest = doc.events?.at(-1);
    return newest ? this.eventToDomain(newest, doc.deviceId) : undefined;
  }

  private eventToDomain(doc: WorkerDeviceEventDocument, deviceId: string): WorkerDeviceEvent {
    const event = Mapper.eventToDomain(doc, deviceId);
    if (this.seal) {
      event.integrity = canonicalMongoTime(doc.at)
        ? this.seal.eventIntegrity(event, doc.tag)
        : 'tampered';
    }
    return event;
  }

  private eventDoc(event: WorkerDeviceEvent): WorkerDeviceEventDocument {
    return Mapper.eventToPersistence(event, this.seal?.eventTag(event));
  }

  /**
   * The block state's fields as written with its change (no tag when the store tags none), the
   * tag over the device's other fields as `device` read them: a field changed outside the server
   * between that read and the write makes the new state read tampered (blocked), never tagged.
   */
  private blockState(device: WorkerDeviceBound, blocked: boolean, eventId: string) {
    return this.seal
      ? {
          isBlocked: blocked,
          blockTag: this.seal.stateTag(device, blocked, eventId),
          blockEventId: eventId,
        }
      : { isBlocked: blocked };
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
      await this.devices.create(
        Mapper.toPersistence(device, event, {
          block: this.seal?.stateTag(device, device.isBlocked, event.id),
          event: this.seal?.eventTag(event),
        }),
      );
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
    return doc ? this.toDomain(doc) : undefined;
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
    return docs.map((doc) => this.toDomain(doc));
  }

  async setBlocked(
    deviceId: string,
    blocked: boolean,
    event: WorkerDeviceEvent,
  ): Promise<WorkerDevice | undefined> {
    const stored = await this.storedBound(deviceId);
    if (!stored) return undefined;
    const doc = await this.devices
      .findOneAndUpdate(
        { deviceId },
        {
          // the admin vouches for the device as the console shows it: its creation time
          // written again as a date (the server's form), as tagged
          $set: { ...this.blockState(stored, blocked, event.id), createdAt: stored.createdAt },
          $push: { events: this.eventDoc(event) },
        },
        { new: true, runValidators: true, projection: DEVICE_FIELDS },
      )
      .lean<WorkerDeviceDocument>();
    return doc ? this.toDomain(doc) : undefined;
  }

  async blockIfUnblocked(deviceId: string, event: WorkerDeviceEvent): Promise<boolean | undefined> {
    // over the state as read, its tag unchanged: a state changed meanwhile is read again
    for (let attempt = 0; attempt < 3; attempt++) {
      const doc = await this.devices
        .findOne({ deviceId }, DEVICE_FIELDS)
        .lean<WorkerDeviceDocument>();
      if (!doc) return undefined;
      // a state that does not verify reads blocked already: tagging it would launder the
      // document as stored (an owner moved in the database), so it is left tampered
      if (doc.isBlocked !== false || this.toDomain(doc).blockIntegrity === 'tampered') return false;
      const { matchedCount } = await this.devices.updateOne(
        { deviceId, isBlocked: false, ...(this.seal ? { blockTag: doc.blockTag } : {}) },
        {
          $set: this.blockState(Mapper.toDomain(doc), true, event.id),
          $push: { events: this.eventDoc(event) },
        },
        { runValidators: true },
      );
      if (matchedCount === 1) return true;
    }
    return (await this.devices.exists({ deviceId })) ? false : undefined;
  }

  /** The fields a state tag covers, as stored: undefined when the device is gone. */
  private async storedBound(deviceId: string): Promise<WorkerDeviceBound | undefined> {
    const doc = await this.devices
      .findOne({ deviceId }, DEVICE_FIELDS)
      .lean<WorkerDeviceDocument>();
    return doc ? Mapper.toDomain(doc) : undefined;
  }

  async retagPage(
    afterDeviceId: string,
    limit: number,
    except: readonly string[] = [],
  ): Promise<WorkerDeviceRetagOutcome[]> {
    const seal = this.seal;
    if (!seal) throw new Error('retagPage needs the store tags (WorkerDeviceSeal)');
    const ids = await this.devices
      .find({ deviceId: { $gt: afterDeviceId } }, { deviceId: 1 })
      .sort({ deviceId: 1 })
      .limit(limit)
      .lean<Pick<WorkerDeviceDocument, 'deviceId'>[]>();
    const outcomes: WorkerDeviceRetagOutcome[] = [];
    for (const { deviceId } of ids) {
      let outcome: WorkerDeviceRetagOutcome | undefined;
      // compare-and-set over the document as read: a change meanwhile misses, read again
      for (let attempt = 0; attempt < 3 && !outcome; attempt++) {
        const doc = await this.devices.findOne({ deviceId }).lean<WorkerDeviceDocument>();
        if (!doc) {
          outcome = workerDeviceRetagOutcome(deviceId, undefined);
          break;
        }
        const stored = doc.events ?? [];
        const plan = seal.retagPlan(
          {
            device: Mapper.toDomain(doc),
            blocked: doc.isBlocked,
            eventId: doc.blockEventId,
            tag: doc.blockTag,
            integrity: this.toDomain(doc).blockIntegrity!,
          },
          stored.map((e) => ({ event: this.eventToDomain(e, deviceId), tag: e.tag })),
          except,
        );
        if (plan.from.length === 0) {
          outcome = workerDeviceRetagOutcome(deviceId, plan);
          break;
        }
        const set: Record<string, unknown> = {};
        if (plan.stateTag !== undefined) set.blockTag = plan.stateTag;
        set.events = stored.map((e, i) => {
          const tag = plan.eventTags[i];
          return tag === undefined ? e : { ...e, tag };
        });
        const { matchedCount } = await this.devices.updateOne(
          {
            _id: doc._id,
            isBlocked: doc.isBlocked,
            blockTag: doc.blockTag ?? { $exists: false },
            blockEventId: doc.blockEventId ?? { $exists: false },
            events: doc.events ?? [],
          },
          { $set: set },
        );
        if (matchedCount === 1) outcome = workerDeviceRetagOutcome(deviceId, plan);
        else if (attempt === 2) outcome = workerDeviceRetagOutcome(deviceId, plan, true);
      }
      outcomes.push(outcome!);
    }
    return outcomes;
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
   * The device's events are embedded: one read by the unique deviceId index, the events of
   * `action` picked in the server (only those come back, not the trail), checked newest first.
   */
  async lastEventAt(
    deviceId: string,
    action: WorkerDeviceEventAction,
    notAfter?: Date,
  ): Promise<LastWorkerDeviceEvent> {
    const [doc] = await this.devices.aggregate<{ of: WorkerDeviceEventDocument[] }>([
      { $match: { deviceId } },
      {
        $project: {
          _id: 0,
          of: { $filter: { input: '$events', as: 'e', cond: { $eq: ['$$e.action', action] } } },
        },
      },
    ]);
    const newestFirst = (doc?.of ?? [])
      .map((e) => this.eventToDomain(e, deviceId))
      .sort((a, b) => b.at.getTime() - a.at.getTime());
    const ignored: WorkerDeviceEvent[] = [];
    for (const event of newestFirst) {
      if (event.integrity === 'tampered' || (notAfter && event.at > notAfter)) {
        ignored.push(event);
        continue;
      }
      return { at: event.at, ignored };
    }
    return { ignored };
  }

  async listEvents(deviceId: string): Promise<WorkerDeviceEvent[]> {
    const doc = await this.devices
      .findOne({ deviceId }, { events: 1 })
      .lean<Pick<WorkerDeviceDocument, 'events'>>();
    // oldest first; events of one instant keep their append order (a stable sort)
    return (doc?.events ?? [])
      .map((e) => this.eventToDomain(e, deviceId))
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

/** The stored forms a device's read holds to (stored text is canonical: `@app/persistence`). */
const MONGO_DEVICE_FORMS: StoredForms<WorkerDeviceDocument> = {
  isBlocked: 'mongoFlag',
  createdAt: 'mongoTime',
};
