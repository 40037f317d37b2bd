import { OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { EnrollmentCode, Site, Thekedar, Worker } from '../../../../domain/workforce';
import { WorkforcePage, WorkforceRepository } from '../../workforce.repository';
import { WorkforceMongoMapper as Mapper } from '../mappers/workforce.mapper';
import {
  EnrollmentCodeDocument,
  EnrollmentCodeSchema,
  SiteDocument,
  SiteSchema,
  ThekedarDocument,
  ThekedarSchema,
  WorkerDocument,
  WorkerSchema,
} from '../schemas/workforce.schema';

/**
 * MongoDB adapter. A person and its enrollment code are two writes; the code goes last, so a
 * code never names a person that does not exist.
 */
export class MongoWorkforceRepository extends WorkforceRepository implements OnModuleInit {
  private readonly sites: Model<SiteDocument>;
  private readonly thekedars: Model<ThekedarDocument>;
  private readonly workers: Model<WorkerDocument>;
  private readonly enrollments: Model<EnrollmentCodeDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    const c = store.connection;
    this.sites = c.model(SiteDocument.name, SiteSchema);
    this.thekedars = c.model(ThekedarDocument.name, ThekedarSchema);
    this.workers = c.model(WorkerDocument.name, WorkerSchema);
    this.enrollments = c.model(EnrollmentCodeDocument.name, EnrollmentCodeSchema);
  }

  async onModuleInit(): Promise<void> {
    await Promise.all([
      this.sites.init(),
      this.thekedars.init(),
      this.workers.init(),
      this.enrollments.init(),
    ]);
  }

  async createSite(site: Site): Promise<void> {
    await this.sites.create(Mapper.siteToPersistence(site));
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
      .find(filter)
      .sort({ _id: 1 })
      .limit(page.limit)
      .lean<WorkerDocument[]>();
    return docs.map(Mapper.workerToDomain);
  }

  async createThekedar(thekedar: Thekedar, enrollment: EnrollmentCode): Promise<void> {
    await this.thekedars.create(Mapper.thekedarToPersistence(thekedar));
    await this.enrollments.create(Mapper.enrollmentToPersistence(enrollment));
  }

  async createWorker(worker: Worker, enrollment: EnrollmentCode): Promise<void> {
    await this.workers.create(Mapper.workerToPersistence(worker));
    await this.enrollments.create(Mapper.enrollmentToPersistence(enrollment));
  }

  async findWorkerById(id: string): Promise<Worker | undefined> {
    const doc = await this.workers.findById(id).lean<WorkerDocument>();
    return doc ? Mapper.workerToDomain(doc) : undefined;
  }

  async findThekedarById(id: string): Promise<Thekedar | undefined> {
    const doc = await this.thekedars.findById(id).lean<ThekedarDocument>();
    return doc ? Mapper.thekedarToDomain(doc) : undefined;
  }

  async findEnrollment(codeHash: string): Promise<EnrollmentCode | undefined> {
    const doc = await this.enrollments.findById(codeHash).lean<EnrollmentCodeDocument>();
    return doc ? Mapper.enrollmentToDomain(doc) : undefined;
  }

  async markEnrollmentUsed(codeHash: string, deviceId: string, at: Date): Promise<boolean> {
    const result = await this.enrollments.updateOne(
      { _id: codeHash, usedAt: { $exists: false }, expiresAt: { $gt: at } },
      { $set: { usedAt: at, usedByDeviceId: deviceId } },
    );
    return result.modifiedCount === 1;
  }
}
