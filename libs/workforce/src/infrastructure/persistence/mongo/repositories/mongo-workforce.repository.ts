import { Inject, Injectable, Logger, OnModuleInit, Optional } from '@nestjs/common';
import type { Model } from 'mongoose';
import {
  isDuplicateKeyError,
  isDuplicateKeyOn,
  LegacyTaggingState,
  logLegacyTagging,
  mongoLegacyTaggingState,
  MongoStoreHandle,
  onlyDuplicateKeysOn,
  retagMongoDocument,
  StoredForms,
  storedFormsCanonical,
  tagLegacyRowsOnceMongo,
} from '@app/persistence';
import {
  EnrollmentCode,
  claimHeldByWorker,
  PhoneTaken,
  phoneClaims,
  Site,
  sameSites,
  statusAction,
  Thekedar,
  Worker,
  WorkerEvent,
  WorkerStatus,
} from '../../../../domain/workforce';
import {
  SealedRecordKind,
  SiteChanges,
  WorkerAudit,
  WorkerChanges,
  WorkerListing,
  phoneEventOf,
  workerEventOf,
  WorkforcePage,
  WorkforceRepository,
} from '../../workforce.repository';
import { WorkforceError, workforceChangeContended } from '../../../../workforce.errors';
import { PhoneNumbers } from '../../../../domain/phone-number';
import { workforceConfig, WorkforceSettings } from '../../../../workforce.config';
import { WorkforceMongoMapper as Mapper } from '../mappers/workforce.mapper';
import { reportThekedarSiteGrants, ThekedarSiteGrant } from '../../thekedar-site-grants';
import { SiteSeal, siteTampered, ThekedarSeal, thekedarTampered } from '../../site-seal';
import { SealedRecordRows } from '../../sealed-record-rows';
import {
  alarmWorkerLegacyRefused,
  WorkerRetagOutcome,
  WorkerSeal,
  workerTampered,
} from '../../worker-seal';
import {
  EnrollmentCodeDocument,
  PHONE_CLAIMS_FORM,
  SiteDocument,
  SITE_SEAL_COLLECTION,
  SiteSchema,
  THEKEDAR_SEAL_COLLECTION,
  ThekedarDocument,
  ThekedarSchema,
  WORKER_SEAL_COLLECTION,
  WorkerDocument,
  WorkerSchema,
} from '../schemas/workforce.schema';

/** Every field but the embedded enrollment codes, claims and events: what a person read needs. */
const PERSON_FIELDS = { enrollment: 0, spentEnrollments: 0, phoneClaims: 0, events: 0 } as const;

/**
 * A worker read: its fields and its events (few: its status, site and phone changes), whose
 * newest WorkerSeal binds its tag to (a `$slice` projection is left out: the test server reads
 * it as an inclusion).
 */
const WORKER_FIELDS = { enrollment: 0, spentEnrollments: 0, phoneClaims: 0 } as const;

/** A worker with its claims: what a change of its phone, sites or status reads first. */
const CLAIM_FIELDS = { enrollment: 0, spentEnrollments: 0 } as const;

/** A worker carrying WorkerSeal's tag, and one carrying none (the legacy tagging's). */
const TAGGED = { tag: { $exists: true, $ne: null } };
const UNTAGGED = { tag: { $exists: false } };

/** A worker that left (WorkerStatus `inactive`); an absent status is `active`. */
const INACTIVE = 'inactive';

/** A change of a worker that found it changed by another write since it was read. */
const CHANGED_MEANWHILE = Symbol('changed meanwhile');

type WithEnrollment = { _id: string; enrollment: EnrollmentCodeDocument };
type WithSpentEnrollments = { _id: string; spentEnrollments?: EnrollmentCodeDocument[] };

/**
 * Concurrent changes a compare-and-set (a worker's, site's or thekedar's change, an enrollment
 * code's replacement) reads again after, at most: then 503 workforce_change_contended, nothing
 * written (retry), never a 500.
 */
const REPLACE_ATTEMPTS = 8;

/**
 * Writes of phone claims refused by the unique index whose holder was gone when read again
 * (it changed its phone in between), tried again at most: then 409 worker_exists.
 */
const CLAIM_ATTEMPTS = 3;

/** Workers stored before claims that get theirs in one read and one bulk write, at boot. */
const CLAIM_PAGE = 500;

/**
 * A worker stored before phones were claimed (and the duplicates left without claims); not an
 * inactive worker, which holds none on purpose.
 */
const UNCLAIMED = { phoneClaims: { $exists: false }, status: { $ne: INACTIVE } };

/** A worker whose claims were keyed as its phone was typed (before they were keyed in E.164). */
const KEYED_AS_TYPED = { phoneClaims: { $exists: true }, phoneClaimsForm: { $exists: false } };

/** What a worker's claims are stored with: the claims and the form of their keys. */
const CLAIMED = (claims: string[]) => ({ phoneClaims: claims, phoneClaimsForm: PHONE_CLAIMS_FORM });

/**
 * MongoDB adapter. A person embeds its enrollment code, so creating both is one
 * single-document insert (atomic on a standalone mongod) and spending a code is one
 * conditional update of that document; a worker's spent codes stay in it after a new code.
 */
@Injectable()
export class MongoWorkforceRepository extends WorkforceRepository implements OnModuleInit {
  private readonly sites: Model<SiteDocument>;
  private readonly thekedars: Model<ThekedarDocument>;
  private readonly workers: Model<WorkerDocument>;
  private readonly logger = new Logger(MongoWorkforceRepository.name);
  private readonly phones: PhoneNumbers;
  /** Sites and thekedars as read and tagged (SiteSeal, ThekedarSeal). */
  private readonly records: SealedRecordRows<SiteDocument, ThekedarDocument>;

  constructor(
    private readonly store: MongoStoreHandle,
    @Optional() @Inject(workforceConfig.KEY) settings?: WorkforceSettings,
    @Optional() private readonly seal?: WorkerSeal,
    @Optional() siteSeal?: SiteSeal,
    @Optional() thekedarSeal?: ThekedarSeal,
  ) {
    super();
    this.phones = new PhoneNumbers(settings?.phoneDefaultCountry);
    const c = store.connection;
    this.sites = c.model(SiteDocument.name, SiteSchema);
    this.thekedars = c.model(ThekedarDocument.name, ThekedarSchema);
    this.workers = c.model(WorkerDocument.name, WorkerSchema);
    this.records = new SealedRecordRows(Mapper, this.logger, siteSeal, thekedarSeal);
  }

  async onModuleInit(): Promise<void> {
    await Promise.all([this.sites.init(), this.thekedars.init(), this.workers.init()]);
    await this.keyOldClaims();
    await this.claimOldPhones();
    await this.grantOldThekedarSites();
    if (this.seal) await this.sealLegacy(this.seal);
    // after grantOldThekedarSites: the sites it gives are tagged with the rest
    if (this.records.seal('site')) await this.sealRecordsLegacy('site');
    if (this.records.seal('thekedar')) await this.sealRecordsLegacy('thekedar');
  }

  /** The model and marker collection of sites or thekedars. */
  private recordStore(kind: SealedRecordKind) {
    const model = (kind === 'site' ? this.sites : this.thekedars) as unknown as Model<
      SiteDocument & ThekedarDocument
    >;
    const marks = this.store.connection.collection<{ _id: string; at: Date; count?: number }>(
      kind === 'site' ? SITE_SEAL_COLLECTION : THEKEDAR_SEAL_COLLECTION,
    );
    return { model, marks };
  }

  /**
   * Sites and thekedars stored before their tags are tagged once, as legacy, before this server
   * takes requests (the workers' rule and switch; markers `site_seal`, `thekedar_seal`).
   */
  private async sealRecordsLegacy(kind: SealedRecordKind): Promise<void> {
    const { model, marks } = this.recordStore(kind);
    const result = await tagLegacyRowsOnceMongo(this.records.seal(kind)!, {
      marks,
      anyTagged: async () => (await model.exists(TAGGED)) !== null,
      countUntagged: () => model.countDocuments(UNTAGGED),
      pass: async () => {
        let tagged = 0;
        let missed = 0;
        const docs = await model
          .find(UNTAGGED, PERSON_FIELDS)
          .lean<(SiteDocument & ThekedarDocument)[]>();
        for (const doc of docs) {
          // a document the mapper cannot read stays untagged (it reads tampered)
          const legacyTag = this.records.legacyTag(kind, doc);
          if (legacyTag === undefined) continue;
          // the document as read: a change meanwhile makes the update miss (the next pass)
          const result = await model.updateOne(
            { ...recordAsRead(doc), tag: { $exists: false } },
            { $set: { tag: legacyTag } },
          );
          tagged += result.modifiedCount;
          missed += 1 - result.matchedCount;
        }
        return { tagged, missed };
      },
    });
    this.recordsLegacyRefused[kind] = this.records.legacyTagged(kind, result);
  }

  async recordsLegacySeal(kind: SealedRecordKind): Promise<LegacyTaggingState> {
    const mark = await this.recordStore(kind).marks.findOne({ _id: 'legacy' });
    const { state, refused } = mongoLegacyTaggingState(mark, this.recordsLegacyRefused[kind]);
    this.recordsLegacyRefused[kind] = refused;
    return state;
  }

  protected async retagRecordIds(kind: SealedRecordKind, afterId: string, limit: number) {
    if (!this.records.seal(kind)) return [];
    const ids = await this.recordStore(kind)
      .model.find({ _id: { $gt: afterId } }, { _id: 1 })
      .sort({ _id: 1 })
      .limit(limit)
      .lean<{ _id: string }[]>();
    return ids.map((d) => d._id);
  }

  protected async retagRecord(kind: SealedRecordKind, id: string, except: readonly string[]) {
    const { model } = this.recordStore(kind);
    return retagMongoDocument({
      read: () => model.findById(id, PERSON_FIELDS).lean<SiteDocument & ThekedarDocument>(),
      retag: (doc) => {
        const { plan, outcome } = this.records.retag(kind, doc, except);
        return { outcome, tag: plan.tag };
      },
      setTag: async (doc, tag) => {
        const as = { ...recordAsRead(doc), tag: doc.tag };
        return (await model.updateOne(as, { $set: { tag } })).matchedCount === 1;
      },
      changed: { id, result: 'changed' },
    });
  }

  /**
   * Workers stored before the tags are tagged once, as legacy, before this server takes
   * requests, under the fraud store's rule and switch (tagLegacyRowsOnceMongo).
   */
  private async sealLegacy(seal: WorkerSeal): Promise<void> {
    const result = await tagLegacyRowsOnceMongo(seal, {
      marks: this.marks(),
      anyTagged: async () => (await this.workers.exists(TAGGED)) !== null,
      countUntagged: () => this.workers.countDocuments(UNTAGGED),
      pass: () => this.legacyPass(seal),
    });
    this.legacyRefused = logLegacyTagging(result, this.logger, {
      counted: 'workers',
      tagged: 'Workers from before the tags tagged as legacy',
      alarm: alarmWorkerLegacyRefused,
    });
  }

  private marks() {
    return this.store.connection.collection<{ _id: string; at: Date; count?: number }>(
      WORKER_SEAL_COLLECTION,
    );
  }

  async legacySeal(): Promise<LegacyTaggingState> {
    const mark = await this.marks().findOne({ _id: 'legacy' });
    const { state, refused } = mongoLegacyTaggingState(mark, this.legacyRefused);
    this.legacyRefused = refused;
    return state;
  }

  private async legacyPass(seal: WorkerSeal): Promise<{ tagged: number; missed: number }> {
    let tagged = 0;
    let missed = 0;
    for await (const doc of this.workers
      .find(UNTAGGED, WORKER_FIELDS)
      .lean<WorkerDocument>()
      .cursor()) {
      const eventId = doc.events?.at(-1)?.id;
      // the document as read: a change meanwhile makes the update miss (the next pass reads it)
      const result = await this.workers.updateOne(
        { ...asRead(doc), tag: { $exists: false } },
        {
          $set: {
            tag: seal.tag(Mapper.workerToDomain(doc), eventId ?? null, true),
            ...(eventId !== undefined ? { eventId } : {}),
          },
        },
      );
      tagged += result.modifiedCount;
      missed += 1 - result.matchedCount;
    }
    return { tagged, missed };
  }

  /** A stored worker as the domain reads it: its tag checked when the store tags. */
  private toDomain(doc: WorkerDocument): Worker {
    const worker = Mapper.workerToDomain(doc);
    if (!this.seal) return worker;
    const stored = { tag: doc.tag, eventId: doc.eventId };
    const checked = this.seal.checked(worker, stored, doc.events?.at(-1)?.id);
    // stored text is canonical: a time that is not a BSON date verifies (the tag covers the
    // instant) but escapes the date filters
    return storedFormsCanonical(doc, MONGO_WORKER_FORMS)
      ? checked
      : { ...checked, integrity: 'tampered' };
  }

  async retagPage(
    afterId: string,
    limit: number,
    except: readonly string[],
  ): Promise<WorkerRetagOutcome[]> {
    const seal = this.seal;
    if (!seal) return [];
    const ids = await this.workers
      .find({ _id: { $gt: afterId } }, { _id: 1 })
      .sort({ _id: 1 })
      .limit(limit)
      .lean<Pick<WorkerDocument, '_id'>[]>();
    const out: WorkerRetagOutcome[] = [];
    for (const { _id: id } of ids) {
      // three tries, as the kiosks': one changed on each is left, `changed`
      const outcome = await retagMongoDocument({
        read: () => this.workers.findById(id, WORKER_FIELDS).lean<WorkerDocument>(),
        retag: (doc) => {
          const stored = { tag: doc.tag, eventId: doc.eventId };
          const newest = doc.events?.at(-1)?.id;
          const { plan, outcome } = seal.retag(Mapper.workerToDomain(doc), stored, newest, except);
          return { outcome, tag: plan.tag };
        },
        setTag: async (doc, tag) => {
          const as = { ...asRead(doc), tag: doc.tag, eventId: doc.eventId ?? { $exists: false } };
          return (await this.workers.updateOne(as, { $set: { tag } })).matchedCount === 1;
        },
        changed: { workerId: id, result: 'changed' },
      });
      if (outcome) out.push(outcome);
    }
    return out;
  }

  /**
   * Thekedars stored before thekedar sites (no `siteIds`) get the sites of the workers they
   * onboarded (those that exist), as SQLite's migration 8 gives them; logged for an admin to
   * review. Once: a thekedar that has `siteIds` is left alone, whatever an admin set since; of
   * replicas booting together, the one whose write lands names it.
   */
  private async grantOldThekedarSites(): Promise<void> {
    const olds = await this.thekedars
      .find({ siteIds: { $exists: false } }, { _id: 1 })
      .sort({ _id: 1 })
      .lean<Pick<ThekedarDocument, '_id'>[]>();
    if (olds.length === 0) return;
    const grants: ThekedarSiteGrant[] = [];
    for (const { _id } of olds) {
      const crew = await this.workers
        .find({ 'sponsor.kind': 'thekedar', 'sponsor.thekedarId': _id }, { siteIds: 1 })
        .lean<Pick<WorkerDocument, 'siteIds'>[]>();
      const named = [...new Set(crew.flatMap((w) => w.siteIds))];
      const existing = await this.sites
        .find({ _id: { $in: named } }, { _id: 1 })
        .lean<Pick<SiteDocument, '_id'>[]>();
      const siteIds = existing.map((site) => site._id).sort();
      const { modifiedCount } = await this.thekedars.updateOne(
        { _id, siteIds: { $exists: false } },
        { $set: { siteIds } },
      );
      if (modifiedCount === 1) grants.push({ thekedarId: _id, siteIds });
    }
    reportThekedarSiteGrants(this.logger, grants);
  }

  /**
   * Workers whose claims were keyed as their phone was typed (spaces and dashes aside) give
   * them up, to claim again in E.164 with the workers stored before claims (`claimOldPhones`):
   * oldest first, so of two old workers whose numbers turn out to be one at a site or of a
   * thekedar the older keeps the claim, and the later keeps its record without it (named at
   * every boot). Once: claims written since carry `phoneClaimsForm`. A replica booting at the
   * same time gives up only claims not keyed again yet.
   */
  private async keyOldClaims(): Promise<void> {
    const { modifiedCount } = await this.workers.updateMany(KEYED_AS_TYPED, {
      $unset: { phoneClaims: 1 },
    });
    if (modifiedCount > 0)
      this.logger.log({ workers: modifiedCount }, "Workers' phone claims to be keyed in E.164");
  }

  /**
   * Workers stored before phones were claimed get their claims, oldest first; a claim an older
   * worker holds is left out (its worker keeps its record: timesheets and devices stay), and
   * such workers are named in a warning at every boot. Idempotent; replicas booting together
   * skip what the other set (the filter on a missing field) and retry a claim lost to it.
   * A page of workers costs a read of its claims' holders and one bulk write.
   */
  private async claimOldPhones(): Promise<void> {
    const duplicates: string[] = [];
    const unparsed: string[] = [];
    let page: WorkerDocument[] = [];
    let seen = 0;
    for await (const doc of this.workers
      .find(UNCLAIMED, { _id: 1, phone: 1, siteIds: 1, sponsor: 1 })
      .sort({ _id: 1 })
      .lean<WorkerDocument[]>()
      .cursor()) {
      seen += 1;
      page.push(doc);
      if (page.length === CLAIM_PAGE) {
        await this.claimPage(page, duplicates, unparsed);
        page = [];
      }
    }
    // nothing unclaimed (every boot after the first): no second read
    if (seen === 0) return;
    if (page.length > 0) await this.claimPage(page, duplicates, unparsed);
    if (unparsed.length > 0) {
      this.logger.warn(
        { workerIds: unparsed.slice(0, 100), more: unparsed.length > 100 },
        'Workers stored before phones were checked hold a number that is not a possible one: claimed as typed (spaces and dashes aside) until their phone is changed',
      );
    }
    const old = await this.workers
      .find(UNCLAIMED, { _id: 1 })
      .sort({ _id: 1 })
      .limit(101)
      .lean<Pick<WorkerDocument, '_id'>[]>();
    const named = [...new Set([...duplicates, ...old.map((d) => d._id)])].sort();
    if (named.length === 0) return;
    this.logger.warn(
      { workerIds: named.slice(0, 100), more: named.length > 100 },
      'Workers share a phone with an older worker at a site or of a thekedar (created before duplicates were refused; kept)',
    );
  }

  /**
   * `docs` (in id order) claim what is free, the older first, keyed in E.164 (as typed when the
   * number does not parse: named in `unparsed`); names the duplicates.
   */
  private async claimPage(
    docs: WorkerDocument[],
    duplicates: string[],
    unparsed: string[],
  ): Promise<void> {
    const claims = docs.map((doc) => {
      if (this.phones.e164(doc.phone) === undefined) unparsed.push(doc._id);
      return phoneClaims(Mapper.workerToDomain(doc), this.phones.claimKey(doc.phone));
    });
    const held = await this.workers
      .find({ phoneClaims: { $in: claims.flat() } }, { phoneClaims: 1 })
      .lean<Pick<WorkerDocument, 'phoneClaims'>[]>();
    const taken = new Set(held.flatMap((h) => h.phoneClaims ?? []));
    const named: string[] = [];
    const writes = docs.flatMap((doc, i) => {
      const free = claims[i].filter((c) => !taken.has(c));
      for (const claim of free) taken.add(claim);
      if (free.length < claims[i].length) named.push(doc._id);
      // none free: the worker stays unclaimed (named at every boot)
      if (free.length === 0) return [];
      const filter = { _id: doc._id, ...UNCLAIMED };
      return [{ updateOne: { filter, update: { $set: CLAIMED(free) } } }];
    });
    try {
      if (writes.length > 0) await this.workers.bulkWrite(writes, { ordered: false });
      duplicates.push(...named);
    } catch (error) {
      if (!onlyDuplicateKeysOn(error, 'phoneClaims_1') && !isDuplicateKeyError(error)) throw error;
      // another replica booting claimed some in between: the page again, one worker at a time
      for (const [i, doc] of docs.entries()) await this.claimOne(doc, claims[i], duplicates);
    }
  }

  /** `doc` claims what no other worker holds, read again after a claim lost to a race. */
  private async claimOne(doc: WorkerDocument, all: string[], duplicates: string[]): Promise<void> {
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const held = await this.workers
        .find({ phoneClaims: { $in: all }, _id: { $ne: doc._id } }, { phoneClaims: 1 })
        .lean<Pick<WorkerDocument, 'phoneClaims'>[]>();
      const taken = new Set(held.flatMap((h) => h.phoneClaims ?? []));
      const free = all.filter((c) => !taken.has(c));
      try {
        if (free.length > 0) {
          await this.workers.updateOne({ _id: doc._id, ...UNCLAIMED }, { $set: CLAIMED(free) });
        }
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
        continue;
      }
      // named only for the attempt that stored (not for one a race undid)
      if (free.length < all.length) duplicates.push(doc._id);
      return;
    }
  }

  /**
   * The first of `claims` a worker other than `self` holds: by its `phoneClaims`, or by its own
   * (tagged) fields with the number `phone` (claims unset in the database free nothing).
   */
  private async takenAmong(
    claims: string[],
    self: string,
    phone: string,
  ): Promise<PhoneTaken | undefined> {
    const holder = await this.workers
      .findOne({ phoneClaims: { $in: claims }, _id: { $ne: self } }, { phoneClaims: 1 })
      .sort({ _id: 1 })
      .lean<Pick<WorkerDocument, '_id' | 'phoneClaims'>>();
    if (holder) {
      const claim = claims.find((c) => holder.phoneClaims?.includes(c))!;
      return new PhoneTaken(holder._id, claim);
    }
    if (claims.length === 0) return undefined;
    const others = await this.workers
      .find({ phone, _id: { $ne: self } }, WORKER_FIELDS)
      .sort({ _id: 1 })
      .lean<WorkerDocument[]>();
    for (const doc of others) {
      const other = this.toDomain(doc);
      const claim = claimHeldByWorker(other, this.phones.claimKey(other.phone), claims);
      if (claim !== undefined) return new PhoneTaken(other.id, claim);
    }
    return undefined;
  }

  async createSite(site: Site): Promise<void> {
    const doc = Mapper.siteToPersistence(site);
    await this.sites.create({ ...doc, ...tagged(this.records.siteTag(doc)) });
  }

  async listSiteIds(afterId: string, limit: number): Promise<string[]> {
    const docs = await this.sites
      .find({ _id: { $gt: afterId } }, { _id: 1 })
      .sort({ _id: 1 })
      .limit(limit)
      .lean<Pick<SiteDocument, '_id'>[]>();
    return docs.map((d) => d._id);
  }

  async listWorkerIdsOfThekedar(thekedarId: string): Promise<string[]> {
    // each document checked: a worker whose sponsor was rewritten in the database is no one's crew
    const projection = this.seal ? WORKER_FIELDS : { _id: 1 };
    const docs = await this.workers
      .find({ 'sponsor.kind': 'thekedar', 'sponsor.thekedarId': thekedarId }, projection)
      .sort({ _id: 1 })
      .lean<WorkerDocument[]>();
    if (!this.seal) return docs.map((d) => d._id);
    return docs
      .map((d) => this.toDomain(d))
      .filter((w) => w.integrity !== 'tampered')
      .map((w) => w.id);
  }

  async findSitesByIds(ids: string[]): Promise<Site[]> {
    if (ids.length === 0) return [];
    const docs = await this.sites.find({ _id: { $in: ids } }).lean<SiteDocument[]>();
    return docs.map((d) => this.records.site(d));
  }

  async listSites(page: WorkforcePage): Promise<Site[]> {
    const docs = await this.sites
      .find({ _id: { $gt: page.afterId ?? '' } })
      .sort({ _id: 1 })
      .limit(page.limit)
      .lean<SiteDocument[]>();
    return docs.map((d) => this.records.site(d));
  }

  async listThekedars(page: WorkforcePage): Promise<Thekedar[]> {
    const docs = await this.thekedars
      .find({ _id: { $gt: page.afterId ?? '' } })
      .sort({ _id: 1 })
      .limit(page.limit)
      .lean<ThekedarDocument[]>();
    return docs.map((d) => this.records.thekedar(d));
  }

  async listWorkers(page: WorkerListing): Promise<Worker[]> {
    const filter: Record<string, unknown> = { _id: { $gt: page.afterId ?? '' } };
    if (page.siteId) filter.siteIds = page.siteId;
    if (page.status) filter.status = page.status === INACTIVE ? INACTIVE : { $ne: INACTIVE };
    const docs = await this.workers
      .find(filter, WORKER_FIELDS)
      .sort({ _id: 1 })
      .limit(page.limit)
      .lean<WorkerDocument[]>();
    return docs.map((d) => this.toDomain(d));
  }

  async createThekedar(thekedar: Thekedar, enrollment: EnrollmentCode): Promise<void> {
    const tag = tagged(this.records.thekedarTag(thekedar));
    await this.thekedars.create({ ...Mapper.thekedarToPersistence(thekedar, enrollment), ...tag });
  }

  async createWorker(worker: Worker, enrollment: EnrollmentCode): Promise<PhoneTaken | undefined> {
    const doc = Mapper.workerToPersistence(worker, enrollment, this.phones.claimKey(worker.phone));
    if (this.seal) doc.tag = this.seal.tag(worker, null);
    const claims = doc.phoneClaims!;
    return this.claiming(claims, worker.id, worker.phone, async () => {
      await this.workers.create(doc);
      return undefined;
    });
  }

  /**
   * `write` (which stores `claims` for `self`) unless another worker holds one of them. The
   * unique index decides; asking first answers the common case without a failed write. A write
   * the index refuses whose holder is gone when read again (it changed its phone in between) is
   * tried again, `CLAIM_ATTEMPTS` at most; then it is a conflict. The index's error is never
   * passed on: its message holds the claim, a phone number.
   */
  private async claiming<T>(
    claims: string[],
    self: string,
    phone: string,
    write: () => Promise<T>,
  ): Promise<T | PhoneTaken> {
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const taken = await this.takenAmong(claims, self, phone);
      if (taken) return taken;
      try {
        return await write();
      } catch (error) {
        if (!isPhoneClaimConflict(error)) throw error;
      }
    }
    this.logger.warn(
      { workerId: self, attempts: CLAIM_ATTEMPTS },
      "A worker's phone claims were refused, their holders gone each time read again",
    );
    throw new WorkforceError(
      'worker_exists',
      'A worker with this phone was being stored or changed at the same time: try again',
      [{ field: 'phone', message: 'claimed by another worker while this was stored' }],
    );
  }

  async hasSpentEnrollment(workerId: string): Promise<boolean> {
    // a spent code is the current one, or one a later code replaced (kept in spentEnrollments)
    const spent = await this.workers
      .exists({
        _id: workerId,
        $or: [{ 'enrollment.usedAt': { $exists: true } }, { spentEnrollments: { $exists: true } }],
      })
      .lean();
    return spent !== null;
  }

  async findWorkerById(id: string): Promise<Worker | undefined> {
    const doc = await this.workers.findById(id, WORKER_FIELDS).lean<WorkerDocument>();
    return doc ? this.toDomain(doc) : undefined;
  }

  async findWorkersByIds(ids: string[]): Promise<Worker[]> {
    if (ids.length === 0) return [];
    const docs = await this.workers
      .find({ _id: { $in: ids } }, WORKER_FIELDS)
      .lean<WorkerDocument[]>();
    return docs.map((d) => this.toDomain(d));
  }

  async updateWorker(
    id: string,
    changes: WorkerChanges,
    audit: WorkerAudit,
  ): Promise<Worker | PhoneTaken | undefined> {
    return this.changeWorker(id, (before) => {
      const after: Worker = { ...before, ...changes };
      const set: Record<string, unknown> = {};
      if (changes.name !== undefined) set.name = changes.name;
      if (changes.phone !== undefined) set.phone = changes.phone;
      if (changes.siteIds !== undefined) set.siteIds = [...changes.siteIds];
      const moved = changes.siteIds !== undefined && !sameSites(before.siteIds, changes.siteIds);
      const events: WorkerEvent[] = [];
      if (moved) {
        events.push(
          workerEventOf(audit, id, 'sites_changed', {
            after: changes.siteIds!,
            before: before.siteIds,
          }),
        );
      }
      const phoneEvent = phoneEventOf(audit, id, before.phone, changes.phone);
      if (phoneEvent) events.push(phoneEvent);
      return { after, set, events };
    });
  }

  async setWorkerStatus(
    id: string,
    status: WorkerStatus,
    audit: WorkerAudit,
  ): Promise<Worker | PhoneTaken | undefined> {
    return this.changeWorker(id, (before) => {
      if (before.status === status) return undefined;
      return {
        after: { ...before, status, statusChangedAt: audit.at },
        set: { status, statusChangedAt: audit.at },
        events: [workerEventOf(audit, id, statusAction(status))],
      };
    });
  }

  async listWorkerEvents(workerId: string): Promise<WorkerEvent[]> {
    const doc = await this.workers
      .findById(workerId, { events: 1 })
      .lean<Pick<WorkerDocument, '_id' | 'events'>>();
    return (doc?.events ?? []).map((e) => Mapper.workerEventToDomain(e, workerId));
  }

  /**
   * A change of a worker as one single-document write, conditional on the phone, sites and
   * status `plan` was given (another change in between: read again and planned again). `plan`
   * says what the worker becomes (`after`), the fields to set and the event to record, or
   * undefined for nothing to change. The claims follow (as SQLite's `moveClaims`): a new phone
   * takes all of the new number's; otherwise what differs moves (a site added or a
   * reactivation claims, a site removed or a deactivation releases) and what the worker holds
   * stays, so a worker stored before claims keeps the ones it has. The unique index refuses a
   * claim another worker holds: PhoneTaken, nothing changed.
   */
  private async changeWorker(
    id: string,
    plan: (
      before: Worker,
    ) => { after: Worker; set: Record<string, unknown>; events: WorkerEvent[] } | undefined,
  ): Promise<Worker | PhoneTaken | undefined> {
    for (let attempt = 0; attempt < REPLACE_ATTEMPTS; attempt++) {
      const current = await this.workers.findById(id, CLAIM_FIELDS).lean<WorkerDocument>();
      if (!current) return undefined;
      const before = this.toDomain(current);
      if (before.integrity === 'tampered') throw workerTampered();
      const change = plan(before);
      if (!change) return before;
      const { after, events } = change;
      const target = phoneClaims(after, this.phones.claimKey(after.phone));
      let claims: string[];
      if (after.phone !== before.phone) claims = target;
      else {
        const full = new Set(phoneClaims(before, this.phones.claimKey(before.phone)));
        const kept = new Set(target);
        claims = [
          ...(current.phoneClaims ?? []).filter((c) => !full.has(c) || kept.has(c)),
          ...target.filter((c) => !full.has(c)),
        ];
      }
      const update: Record<string, unknown> = { $set: { ...change.set } };
      if (!sameSites(claims, current.phoneClaims ?? [])) {
        if (claims.length > 0) {
          Object.assign(update.$set as object, CLAIMED(claims));
        } else update.$unset = { phoneClaims: 1, phoneClaimsForm: 1 };
      }
      if (events.length > 0) {
        update.$push = { events: { $each: events.map((e) => Mapper.workerEventToPersistence(e)) } };
      }
      if (this.seal) {
        // the worker as this write leaves it, bound to its newest event then
        const eventId = events.at(-1)?.id ?? current.events?.at(-1)?.id;
        Object.assign(update.$set as object, {
          tag: this.seal.tag(after, eventId ?? null),
          ...(eventId !== undefined ? { eventId } : {}),
        });
      }
      const filter = { ...asRead(current), tag: current.tag ?? { $exists: false } };
      const write = async (): Promise<Worker | typeof CHANGED_MEANWHILE> => {
        const doc = await this.workers
          .findOneAndUpdate(filter, update, { new: true, projection: WORKER_FIELDS })
          .lean<WorkerDocument>();
        return doc ? this.toDomain(doc) : CHANGED_MEANWHILE;
      };
      const held = new Set(current.phoneClaims ?? []);
      const taking = claims.filter((c) => !held.has(c));
      const result =
        taking.length > 0 ? await this.claiming(taking, id, after.phone, write) : await write();
      if (result !== CHANGED_MEANWHILE) return result;
    }
    throw workforceChangeContended('worker');
  }

  async updateSite(id: string, changes: SiteChanges): Promise<Site | undefined> {
    const set: Partial<SiteDocument> = {};
    if (changes.name !== undefined) set.name = changes.name;
    if (changes.geo !== undefined) set.geo = { lat: changes.geo.lat, lng: changes.geo.lng };
    if (changes.radiusM !== undefined) set.radiusM = changes.radiusM;
    // compare-and-set over the site as read (checked first: a change would vouch for the fields
    // nobody checked), tagged as it is after the change in the same write
    for (let attempt = 0; attempt < REPLACE_ATTEMPTS; attempt++) {
      const doc = await this.sites.findById(id).lean<SiteDocument>();
      if (!doc) return undefined;
      if (this.records.site(doc).integrity === 'tampered') throw siteTampered([id]);
      const after = Mapper.siteToDomain({ ...doc, ...set });
      const tag = this.records.siteTag({ ...doc, ...set });
      const filter = { ...recordAsRead(doc), tag: doc.tag ?? { $exists: false } };
      const { matchedCount } = await this.sites.updateOne(filter, {
        $set: { ...set, ...tagged(tag) },
      });
      if (matchedCount === 1)
        return tag !== undefined ? { ...after, integrity: 'verified' } : after;
    }
    throw workforceChangeContended('site');
  }

  async replaceEnrollment(enrollment: EnrollmentCode): Promise<boolean> {
    // A person embeds its current code: the new one takes its place in one single-document
    // write, so an unused code before it stops matching; a spent one moves to spentEnrollments
    // in that write (which device it registered stays, as on SQLite). The write is conditional
    // on the code read, so a code spent or replaced in between is read again, never lost.
    const next = Mapper.enrollmentToPersistence(enrollment);
    // one model or the other: the two are not one type mongoose's overloads accept as a union
    const people = (enrollment.personKind === 'worker'
      ? this.workers
      : this.thekedars) as unknown as Model<WorkerDocument>;
    for (let attempt = 0; attempt < REPLACE_ATTEMPTS; attempt++) {
      const current = await people
        .findById(enrollment.personId, { enrollment: 1 })
        .lean<WithEnrollment>();
      if (!current) return false;
      const old = current.enrollment;
      const { matchedCount } = old.usedAt
        ? await people.updateOne(
            { _id: current._id, 'enrollment.codeHash': old.codeHash },
            { $set: { enrollment: next }, $push: { spentEnrollments: old } },
          )
        : await people.updateOne(
            {
              _id: current._id,
              'enrollment.codeHash': old.codeHash,
              'enrollment.usedAt': { $exists: false },
            },
            { $set: { enrollment: next } },
          );
      if (matchedCount === 1) return true;
    }
    throw workforceChangeContended('enrollment code');
  }

  async findThekedarById(id: string): Promise<Thekedar | undefined> {
    const doc = await this.thekedars.findById(id, PERSON_FIELDS).lean<ThekedarDocument>();
    return doc ? this.records.thekedar(doc) : undefined;
  }

  async updateThekedarSites(id: string, siteIds: string[]): Promise<Thekedar | undefined> {
    // compare-and-set over the thekedar as read (checked first), tagged in the same write
    for (let attempt = 0; attempt < REPLACE_ATTEMPTS; attempt++) {
      const doc = await this.thekedars.findById(id, PERSON_FIELDS).lean<ThekedarDocument>();
      if (!doc) return undefined;
      if (this.records.thekedar(doc).integrity === 'tampered') throw thekedarTampered();
      const after = { ...Mapper.thekedarToDomain(doc), siteIds: [...siteIds] };
      const tag = this.records.thekedarTag(after);
      const filter = { ...recordAsRead(doc), tag: doc.tag ?? { $exists: false } };
      const { matchedCount } = await this.thekedars.updateOne(filter, {
        $set: { siteIds: [...siteIds], ...tagged(tag) },
      });
      if (matchedCount === 1)
        return tag !== undefined ? { ...after, integrity: 'verified' } : after;
    }
    throw workforceChangeContended('thekedar');
  }

  async findEnrollment(codeHash: string): Promise<EnrollmentCode | undefined> {
    const filter = { 'enrollment.codeHash': codeHash };
    const worker = await this.workers.findOne(filter, { enrollment: 1 }).lean<WithEnrollment>();
    if (worker) return Mapper.enrollmentToDomain(worker.enrollment, 'worker', worker._id);
    const thekedar = await this.thekedars.findOne(filter, { enrollment: 1 }).lean<WithEnrollment>();
    if (thekedar) return Mapper.enrollmentToDomain(thekedar.enrollment, 'thekedar', thekedar._id);
    const spentFilter = { 'spentEnrollments.codeHash': codeHash };
    const spentProjection = { spentEnrollments: 1 };
    const spentWorker = await this.workers
      .findOne(spentFilter, spentProjection)
      .lean<WithSpentEnrollments>();
    const spent = spentWorker
      ? { kind: 'worker' as const, doc: spentWorker }
      : await this.thekedars
          .findOne(spentFilter, spentProjection)
          .lean<WithSpentEnrollments>()
          .then((doc) => (doc ? { kind: 'thekedar' as const, doc } : undefined));
    const kept = spent?.doc.spentEnrollments?.find((e) => e.codeHash === codeHash);
    return kept && spent ? Mapper.enrollmentToDomain(kept, spent.kind, spent.doc._id) : undefined;
  }

  async markEnrollmentUsed(
    codeHash: string,
    deviceId: string,
    at: Date,
    tag: string,
  ): Promise<boolean> {
    const filter = {
      'enrollment.codeHash': codeHash,
      'enrollment.usedAt': { $exists: false },
      'enrollment.expiresAt': { $gt: at },
    };
    const update = {
      $set: {
        'enrollment.usedAt': at,
        'enrollment.usedByDeviceId': deviceId,
        'enrollment.tag': tag,
      },
    };
    if ((await this.workers.updateOne(filter, update)).modifiedCount === 1) return true;
    return (await this.thekedars.updateOne(filter, update)).modifiedCount === 1;
  }

  async releaseEnrollment(codeHash: string, deviceId: string, tag: string): Promise<boolean> {
    // the person's current code only: one a later code replaced is in spentEnrollments
    const filter = {
      'enrollment.codeHash': codeHash,
      'enrollment.usedByDeviceId': deviceId,
    };
    const update = {
      $unset: { 'enrollment.usedAt': 1, 'enrollment.usedByDeviceId': 1 },
      $set: { 'enrollment.tag': tag },
    };
    if ((await this.workers.updateOne(filter, update)).modifiedCount === 1) return true;
    return (await this.thekedars.updateOne(filter, update)).modifiedCount === 1;
  }
}

/** E11000 on the phone claims' unique index (not on another: an id or a code's hash). */
function isPhoneClaimConflict(error: unknown): boolean {
  return isDuplicateKeyOn(error, 'phoneClaims');
}

/**
 * A compare-and-set filter over a worker as read: the fields its changes and its tag cover (a
 * change by another write in between misses).
 */
function asRead(doc: WorkerDocument): Record<string, unknown> {
  return {
    _id: doc._id,
    name: doc.name,
    phone: doc.phone,
    siteIds: doc.siteIds,
    status: doc.status ?? { $exists: false },
    trustScore: doc.trustScore,
  };
}

/**
 * A site's or thekedar's document as read, as a filter: every field its tag covers (a change
 * meanwhile makes a compare-and-set miss). An absent field must stay absent.
 */
function recordAsRead(doc: Partial<SiteDocument & ThekedarDocument> & { _id: string }) {
  const field = (v: unknown) => (v === undefined ? { $exists: false } : v);
  return {
    _id: doc._id,
    name: doc.name,
    ...('phone' in doc
      ? { phone: doc.phone, trustScore: doc.trustScore, siteIds: field(doc.siteIds) }
      : {
          'geo.lat': doc.geo?.lat,
          'geo.lng': doc.geo?.lng,
          radiusM: doc.radiusM,
          timeZone: field(doc.timeZone),
        }),
  };
}

/** The stored forms a worker's read holds to (stored text is canonical: `@app/persistence`). */
const MONGO_WORKER_FORMS: StoredForms<WorkerDocument> = {
  createdAt: 'mongoTime',
  statusChangedAt: 'mongoTime?',
  trustInheritedUntil: 'mongoTime?',
};

/** A document's `tag` field to write: none when the store does not tag it. */
function tagged(tag: string | undefined): { tag?: string } {
  return tag === undefined ? {} : { tag };
}
