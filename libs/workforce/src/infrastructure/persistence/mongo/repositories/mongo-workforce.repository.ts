import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { isDuplicateKeyError, MongoStoreHandle } from '@app/persistence';
import {
  EnrollmentCode,
  PhoneTaken,
  phoneClaims,
  Site,
  Thekedar,
  Worker,
} from '../../../../domain/workforce';
import {
  SiteChanges,
  WorkerChanges,
  WorkforcePage,
  WorkforceRepository,
} from '../../workforce.repository';
import { WorkforceMongoMapper as Mapper } from '../mappers/workforce.mapper';
import {
  EnrollmentCodeDocument,
  SiteDocument,
  SiteSchema,
  ThekedarDocument,
  ThekedarSchema,
  WorkerDocument,
  WorkerSchema,
} from '../schemas/workforce.schema';

/** Every field but the embedded enrollment codes and the claims: what a person read needs. */
const PERSON_FIELDS = { enrollment: 0, spentEnrollments: 0, phoneClaims: 0 } as const;

type WithEnrollment = { _id: string; enrollment: EnrollmentCodeDocument };
type WithSpentEnrollments = { _id: string; spentEnrollments?: EnrollmentCodeDocument[] };

/** Concurrent spends or replacements a replacement looks again after, at most. */
const REPLACE_ATTEMPTS = 8;

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

  constructor(store: MongoStoreHandle) {
    super();
    const c = store.connection;
    this.sites = c.model(SiteDocument.name, SiteSchema);
    this.thekedars = c.model(ThekedarDocument.name, ThekedarSchema);
    this.workers = c.model(WorkerDocument.name, WorkerSchema);
  }

  async onModuleInit(): Promise<void> {
    await Promise.all([this.sites.init(), this.thekedars.init(), this.workers.init()]);
    await this.claimOldPhones();
  }

  /**
   * Workers stored before phones were claimed get their claims, oldest first; a claim an older
   * worker holds is left out (its worker keeps its record: timesheets and devices stay), and
   * such workers are named in a warning at every boot. Idempotent; replicas booting together
   * skip what the other set (the filter on a missing field) and retry a claim lost to it.
   */
  private async claimOldPhones(): Promise<void> {
    const unclaimed = { phoneClaims: { $exists: false } };
    const duplicates: string[] = [];
    for await (const doc of this.workers
      .find(unclaimed, { _id: 1, phone: 1, siteIds: 1, sponsor: 1 })
      .sort({ _id: 1 })
      .lean<WorkerDocument[]>()
      .cursor()) {
      const all = phoneClaims(Mapper.workerToDomain(doc));
      for (let attempt = 0; attempt < 3; attempt++) {
        const held = await this.workers
          .find({ phoneClaims: { $in: all }, _id: { $ne: doc._id } }, { phoneClaims: 1 })
          .lean<Pick<WorkerDocument, 'phoneClaims'>[]>();
        const taken = new Set(held.flatMap((h) => h.phoneClaims ?? []));
        const free = all.filter((c) => !taken.has(c));
        if (free.length < all.length) duplicates.push(doc._id);
        if (free.length === 0) break;
        try {
          await this.workers.updateOne(
            { _id: doc._id, ...unclaimed },
            { $set: { phoneClaims: free } },
          );
          break;
        } catch (error) {
          if (!isDuplicateKeyError(error)) throw error;
          duplicates.pop();
        }
      }
    }
    const old = await this.workers
      .find(unclaimed, { _id: 1 })
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

  /** The first of `claims` a worker other than `self` holds. */
  private async takenAmong(claims: string[], self: string): Promise<PhoneTaken | undefined> {
    const holder = await this.workers
      .findOne({ phoneClaims: { $in: claims }, _id: { $ne: self } }, { phoneClaims: 1 })
      .sort({ _id: 1 })
      .lean<Pick<WorkerDocument, '_id' | 'phoneClaims'>>();
    if (!holder) return undefined;
    const claim = claims.find((c) => holder.phoneClaims?.includes(c))!;
    return new PhoneTaken(holder._id, claim);
  }

  async createSite(site: Site): Promise<void> {
    await this.sites.create(Mapper.siteToPersistence(site));
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
    const docs = await this.workers
      .find({ 'sponsor.kind': 'thekedar', 'sponsor.thekedarId': thekedarId }, { _id: 1 })
      .sort({ _id: 1 })
      .lean<Pick<WorkerDocument, '_id'>[]>();
    return docs.map((d) => d._id);
  }

  async findSitesByIds(ids: string[]): Promise<Site[]> {
    if (ids.length === 0) return [];
    const docs = await this.sites.find({ _id: { $in: ids } }).lean<SiteDocument[]>();
    return docs.map(Mapper.siteToDomain);
  }

  async listSites(page: WorkforcePage): Promise<Site[]> {
    const docs = await this.sites
      .find({ _id: { $gt: page.afterId ?? '' } })
      .sort({ _id: 1 })
      .limit(page.limit)
      .lean<SiteDocument[]>();
    return docs.map(Mapper.siteToDomain);
  }

  async listThekedars(page: WorkforcePage): Promise<Thekedar[]> {
    const docs = await this.thekedars
      .find({ _id: { $gt: page.afterId ?? '' } })
      .sort({ _id: 1 })
      .limit(page.limit)
      .lean<ThekedarDocument[]>();
    return docs.map(Mapper.thekedarToDomain);
  }

  async listWorkers(page: WorkforcePage & { siteId?: string }): Promise<Worker[]> {
    const filter: Record<string, unknown> = { _id: { $gt: page.afterId ?? '' } };
    if (page.siteId) filter.siteIds = page.siteId;
    const docs = await this.workers
      .find(filter, PERSON_FIELDS)
      .sort({ _id: 1 })
      .limit(page.limit)
      .lean<WorkerDocument[]>();
    return docs.map(Mapper.workerToDomain);
  }

  async createThekedar(thekedar: Thekedar, enrollment: EnrollmentCode): Promise<void> {
    await this.thekedars.create(Mapper.thekedarToPersistence(thekedar, enrollment));
  }

  async createWorker(worker: Worker, enrollment: EnrollmentCode): Promise<PhoneTaken | undefined> {
    const doc = Mapper.workerToPersistence(worker, enrollment);
    // the unique index decides; asking first answers the common case without a failed write
    const before = await this.takenAmong(doc.phoneClaims!, worker.id);
    if (before) return before;
    try {
      await this.workers.create(doc);
      return undefined;
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      const taken = await this.takenAmong(doc.phoneClaims!, worker.id);
      if (taken) return taken;
      throw error;
    }
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
    const doc = await this.workers.findById(id, PERSON_FIELDS).lean<WorkerDocument>();
    return doc ? Mapper.workerToDomain(doc) : undefined;
  }

  async findWorkersByIds(ids: string[]): Promise<Worker[]> {
    if (ids.length === 0) return [];
    const docs = await this.workers
      .find({ _id: { $in: ids } }, PERSON_FIELDS)
      .lean<WorkerDocument[]>();
    return docs.map(Mapper.workerToDomain);
  }

  async updateWorker(id: string, changes: WorkerChanges): Promise<Worker | PhoneTaken | undefined> {
    const set: Partial<WorkerDocument> = {};
    if (changes.name !== undefined) set.name = changes.name;
    if (changes.phone !== undefined) {
      const current = await this.workers.findById(id, PERSON_FIELDS).lean<WorkerDocument>();
      if (!current) return undefined;
      set.phone = changes.phone;
      // the claims follow the phone in the same single-document write (sites and sponsor
      // never change); the unique index refuses a claim another worker holds
      set.phoneClaims = phoneClaims({ ...Mapper.workerToDomain(current), phone: changes.phone });
      const taken = await this.takenAmong(set.phoneClaims, id);
      if (taken) return taken;
    }
    try {
      const doc = await this.workers
        .findOneAndUpdate({ _id: id }, { $set: set }, { new: true, projection: PERSON_FIELDS })
        .lean<WorkerDocument>();
      return doc ? Mapper.workerToDomain(doc) : undefined;
    } catch (error) {
      if (!isDuplicateKeyError(error) || !set.phoneClaims) throw error;
      const taken = await this.takenAmong(set.phoneClaims, id);
      if (taken) return taken;
      throw error;
    }
  }

  async updateSite(id: string, changes: SiteChanges): Promise<Site | undefined> {
    const set: Partial<SiteDocument> = {};
    if (changes.name !== undefined) set.name = changes.name;
    if (changes.geo !== undefined) set.geo = { lat: changes.geo.lat, lng: changes.geo.lng };
    if (changes.radiusM !== undefined) set.radiusM = changes.radiusM;
    const doc = await this.sites
      .findOneAndUpdate({ _id: id }, { $set: set }, { new: true })
      .lean<SiteDocument>();
    return doc ? Mapper.siteToDomain(doc) : undefined;
  }

  async replaceWorkerEnrollment(enrollment: EnrollmentCode): Promise<boolean> {
    // A worker embeds its current code: the new one takes its place in one single-document
    // write, so an unused code before it stops matching; a spent one moves to spentEnrollments
    // in that write (which device it registered stays, as on SQLite). The write is conditional
    // on the code read, so a code spent or replaced in between is read again, never lost.
    const next = Mapper.enrollmentToPersistence(enrollment);
    for (let attempt = 0; attempt < REPLACE_ATTEMPTS; attempt++) {
      const current = await this.workers
        .findById(enrollment.personId, { enrollment: 1 })
        .lean<WithEnrollment>();
      if (!current) return false;
      const old = current.enrollment;
      const { matchedCount } = old.usedAt
        ? await this.workers.updateOne(
            { _id: current._id, 'enrollment.codeHash': old.codeHash },
            { $set: { enrollment: next }, $push: { spentEnrollments: old } },
          )
        : await this.workers.updateOne(
            {
              _id: current._id,
              'enrollment.codeHash': old.codeHash,
              'enrollment.usedAt': { $exists: false },
            },
            { $set: { enrollment: next } },
          );
      if (matchedCount === 1) return true;
    }
    throw new Error(`the enrollment code changed ${REPLACE_ATTEMPTS} times while being replaced`);
  }

  async findThekedarById(id: string): Promise<Thekedar | undefined> {
    const doc = await this.thekedars.findById(id, PERSON_FIELDS).lean<ThekedarDocument>();
    return doc ? Mapper.thekedarToDomain(doc) : undefined;
  }

  async findEnrollment(codeHash: string): Promise<EnrollmentCode | undefined> {
    const filter = { 'enrollment.codeHash': codeHash };
    const worker = await this.workers.findOne(filter, { enrollment: 1 }).lean<WithEnrollment>();
    if (worker) return Mapper.enrollmentToDomain(worker.enrollment, 'worker', worker._id);
    const thekedar = await this.thekedars.findOne(filter, { enrollment: 1 }).lean<WithEnrollment>();
    if (thekedar) return Mapper.enrollmentToDomain(thekedar.enrollment, 'thekedar', thekedar._id);
    const spent = await this.workers
      .findOne({ 'spentEnrollments.codeHash': codeHash }, { spentEnrollments: 1 })
      .lean<WithSpentEnrollments>();
    const kept = spent?.spentEnrollments?.find((e) => e.codeHash === codeHash);
    return kept && spent ? Mapper.enrollmentToDomain(kept, 'worker', spent._id) : undefined;
  }

  async markEnrollmentUsed(codeHash: string, deviceId: string, at: Date): Promise<boolean> {
    const filter = {
      'enrollment.codeHash': codeHash,
      'enrollment.usedAt': { $exists: false },
      'enrollment.expiresAt': { $gt: at },
    };
    const update = { $set: { 'enrollment.usedAt': at, 'enrollment.usedByDeviceId': deviceId } };
    if ((await this.workers.updateOne(filter, update)).modifiedCount === 1) return true;
    return (await this.thekedars.updateOne(filter, update)).modifiedCount === 1;
  }
}
